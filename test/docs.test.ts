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
  execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter((f) => f && existsSync(f));

test('every package imported from src/, examples/ and bench/ is declared in package.json', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
  const runtime = new Set(Object.keys(pkg.dependencies ?? {}));
  const undeclared: string[] = [];
  for (const file of trackedFiles().filter((f) => /^(src|examples|bench)\/.*\.ts$/.test(f))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*import\s[^'"]*?from\s+['"]([^'"./][^'"]*)['"]/gm)) {
      if (m[1].startsWith('node:')) continue;
      const name = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
      // src/ runs in production: its imports must be runtime dependencies, not dev ones
      const ok = file.startsWith('src/') ? runtime.has(name) : declared.has(name);
      if (!ok) undeclared.push(`${file}: ${name}`);
    }
  }
  assert.deepEqual(undeclared, []);
});

test('the project carries its licence: LICENSE (MIT) and the package.json license field', () => {
  assert.match(readFileSync('LICENSE', 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} esoz-core contributors\n/);
  assert.equal(JSON.parse(readFileSync('package.json', 'utf8')).license, 'MIT');
});
