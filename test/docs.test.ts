import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ConfigSchema } from '../src/platform/config.ts';

const readme = readFileSync('README.md', 'utf8');

test('README documents every configuration variable', () => {
  const missing = Object.keys(ConfigSchema.properties).filter((k) => !readme.includes(`\`${k}\``));
  assert.deepEqual(missing, []);
});

test('README shows the two set-up commands', () => {
  assert.match(readme, /```sh\nnpm ci && npm start\n```/);
  assert.match(readme, /```sh\nnpm test\n```/);
});

/** Every file the repository tracks, for the checks below. */
const trackedFiles = () =>
  execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(f));

test('every package imported from src/, scripts/, examples/ and bench/ is declared in package.json', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
  const runtime = new Set(Object.keys(pkg.dependencies ?? {}));
  const undeclared: string[] = [];
  for (const file of trackedFiles().filter((f) => /^(src|examples|bench|scripts)\/.*\.(ts|mjs)$/.test(f))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*import\s[^'"]*?from\s+['"]([^'"./][^'"]*)['"]/gm)) {
      if (m[1].startsWith('node:')) continue;
      const name = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
      // src/ runs in production: its imports must be runtime dependencies, not dev ones
      const ok = file.startsWith('src/') || file === 'scripts/start.mjs' ? runtime.has(name) : declared.has(name);
      if (!ok) undeclared.push(`${file}: ${name}`);
    }
  }
  assert.deepEqual(undeclared, []);
});

test('the project carries its licence: LICENSE (MIT) and the package.json license field', () => {
  assert.match(readFileSync('LICENSE', 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} esoz-core contributors\n/);
  assert.equal(JSON.parse(readFileSync('package.json', 'utf8')).license, 'MIT');
});

test('nothing in the repository points outside it (../shared is not in a clone); the contract summary is in docs/contract.md', () => {
  const outside = trackedFiles()
    .filter((f) => f !== 'test/docs.test.ts' && /\.(md|ts|json|sql|sh|txt)$/.test(f))
    .filter((f) => /\.\.\/shared|\/work\/shared/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(outside, []);
  assert.match(readme, /\[docs\/contract\.md\]\(docs\/contract\.md\)/);
  const contract = readFileSync('docs/contract.md', 'utf8');
  // the byte-exact messages an MIS compares against are spelled out there
  for (const message of [
    'Invalid access token',
    'Your scope does not allow to access this resource. Missing allowances: <scope>',
    'For medication request plan information cannot be resent',
    'Invalid status Medication request for resend action!',
    'Notifications are not allowed for the medical program!',
    "Can't resend Medication request without verification code!",
    'Person or third person has no OTP auth method',
    'Sending SMS timeout. Try later. Next attempt will be available at <time>',
    'Invalid request format',
    'Task not found',
  ])
    assert.ok(contract.includes(message), message);
});

test('one base-URL variable: README, banner and example all use BASE_URL', () => {
  assert.doesNotMatch(readme, /\$BASE\b|\bBASE=/);
  assert.match(readme, /export BASE_URL=http:\/\/localhost:4000 TOKEN=/);
  assert.match(readFileSync('examples/mis-flow.ts', 'utf8'), /process\.env\.BASE_URL/);
  assert.match(readFileSync('src/sandbox/banner.ts', 'utf8'), /export BASE_URL=/);
});
