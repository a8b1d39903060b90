/**
 * `npm test`: every test file on in-memory PGlite; when TEST_DATABASE_URL is set, the same files
 * again on PostgreSQL (each test server gets its own fresh database there).
 * Extra arguments select files: `npm test -- test/platform.test.ts`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const chosen = process.argv.slice(2).filter((a) => a.endsWith('.ts'));
const files = chosen.length
  ? chosen
  : readdirSync('test')
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `test/${f}`);
const pgUrl = process.env.TEST_DATABASE_URL;

const runs: { name: string; env: NodeJS.ProcessEnv }[] = [{ name: 'PGlite (in-memory)', env: { ...process.env, TEST_DATABASE_URL: '' } }];
if (pgUrl) runs.push({ name: `PostgreSQL (${new URL(pgUrl).host})`, env: { ...process.env } });

let failed = false;
for (const run of runs) {
  process.stdout.write(`\n=== esoz-core tests on ${run.name}: ${files.length} files ===\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
    stdio: 'inherit',
    env: run.env,
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
