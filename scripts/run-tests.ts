/**
 * `npm test`: every test file on in-memory PGlite; when TEST_DATABASE_URL is set, the same files on
 * PostgreSQL too (each test server gets its own fresh database there). The two runs go side by side,
 * each line prefixed with its engine: most of a run's time is waiting (timers, polls, other processes),
 * so they share two cores well and CI stays within its time. TEST_ENGINES_IN_TURN=1 runs them one after
 * the other (clean output, twice the time).
 * Extra arguments select files: `npm test -- test/platform.test.ts`.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

const chosen = process.argv.slice(2).filter((a) => a.endsWith('.ts'));
const files = chosen.length
  ? chosen
  : readdirSync('test')
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `test/${f}`);
const pgUrl = process.env.TEST_DATABASE_URL;

const runs: { name: string; tag: string; env: NodeJS.ProcessEnv }[] = [
  { name: 'PGlite (in-memory)', tag: 'pglite', env: { ...process.env, TEST_DATABASE_URL: '' } },
];
if (pgUrl) runs.push({ name: `PostgreSQL (${new URL(pgUrl).host})`, tag: 'postgres', env: { ...process.env } });
const prefixed = runs.length > 1 && process.env.TEST_ENGINES_IN_TURN !== '1';

function run(r: (typeof runs)[number]): Promise<{ name: string; ok: boolean; seconds: number; summary: string[] }> {
  const started = Date.now();
  process.stdout.write(`\n=== esoz-core tests on ${r.name}: ${files.length} files ===\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
    stdio: ['ignore', prefixed ? 'pipe' : 'inherit', prefixed ? 'pipe' : 'inherit'],
    env: r.env,
  });
  const summary: string[] = [];
  if (prefixed) {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (/^ℹ (tests|pass|fail|skipped|cancelled) /.test(line)) summary.push(line);
        process.stdout.write(`[${r.tag}] ${line}\n`);
      });
    }
  }
  return new Promise((resolve) =>
    child.once('close', (code) => resolve({ name: r.name, ok: code === 0, seconds: Math.round((Date.now() - started) / 1000), summary })),
  );
}

const results = prefixed ? await Promise.all(runs.map(run)) : [];
if (!prefixed) for (const r of runs) results.push(await run(r));
process.stdout.write('\n');
for (const r of results) {
  process.stdout.write(
    `=== ${r.name}: ${r.ok ? 'passed' : 'FAILED'} in ${r.seconds} s${r.summary.length ? ` (${r.summary.join(', ')})` : ''}\n`,
  );
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
