/**
 * scripts/start.mjs (what `npm start` and `npm run worker` run): the bundle is rebuilt when a source it
 * was built from is newer than it, and reused as it is otherwise (a restart does not load esbuild).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const bundle = path.join(root, 'node_modules', '.cache', 'esoz-core', 'start-probe.mjs');
const run = () => execFileSync(process.execPath, ['scripts/start.mjs', 'test/support/start-probe.ts'], { cwd: root, encoding: 'utf8' });

test('the start bundle is built once, reused while its sources are older, rebuilt when one is newer', () => {
  rmSync(bundle, { force: true });
  rmSync(`${bundle}.inputs.json`, { force: true });
  assert.equal(run(), 'probe-ran\n');
  const built = statSync(bundle).mtimeMs;

  // sources older than the bundle: the bundle is not written again
  const past = new Date(built - 60_000);
  utimesSync(path.join(root, 'test/support/start-probe-dep.ts'), past, past);
  assert.equal(run(), 'probe-ran\n');
  assert.equal(statSync(bundle).mtimeMs, built);

  // an imported source edited after the build: rebuilt
  const future = new Date(built + 60_000);
  utimesSync(path.join(root, 'test/support/start-probe-dep.ts'), future, future);
  assert.equal(run(), 'probe-ran\n');
  assert.ok(statSync(bundle).mtimeMs > built, 'the bundle was rebuilt');

  // a missing inputs list (an older cache) is a rebuild, never a stale run
  rmSync(`${bundle}.inputs.json`);
  const before = statSync(bundle).mtimeMs;
  assert.equal(run(), 'probe-ran\n');
  assert.ok(statSync(`${bundle}.inputs.json`).mtimeMs >= before);
});
