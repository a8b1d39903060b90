/**
 * `npm run example:composition` (examples/mis-flow.ts) against a server started as a user starts it
 * (`npm start`'s command, embedded database, demo data), with the variables its banner exports: the
 * create → sign flow, then an extension (RC_5), a cancel + replacement (RC_7) and a refinement (RC_6),
 * twice in a row (the example must run again on the same sandbox). Embedded only: on PostgreSQL the
 * start prints no demo credentials; the same flows are tested there in compositions-chains.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, killProcess } from './support/processes.ts';

const skip = process.env.TEST_DATABASE_URL ? 'embedded-database start; covered in the PGlite run' : false;

/** A package.json script as its argv, run with this Node (npm would leave its child running when killed). */
const scriptArgv = (name: string): string[] => {
  const [node, ...args] = (JSON.parse(readFileSync('package.json', 'utf8')).scripts[name] as string).split(/\s+/);
  assert.equal(node, 'node');
  return args;
};

let server: ChildProcess | undefined;
let dataDir = '';
const env: Record<string, string> = {};

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(path.join(tmpdir(), 'esoz-example-'));
  const port = await freePort();
  server = spawn(process.execPath, scriptArgv('start'), {
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const child = server;
  let out = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^\s*export (BASE_URL=.*)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${out}`)));
  });
  for (const pair of line.trim().split(/\s+/)) {
    const [k, v] = pair.split('=');
    env[k] = v;
  }
  assert.deepEqual(Object.keys(env).sort(), ['ADMIN_KEY', 'API_KEY', 'BASE_URL', 'TOKEN']);
});

after(async () => {
  if (server) await killProcess(server, 'SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function runExample(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, scriptArgv('example:composition'), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

test('the example runs the MIS flow and the three chains against a started sandbox, and runs again', { skip }, async () => {
  for (const round of [1, 2]) {
    const r = await runExample();
    assert.equal(r.code, 0, `round ${round}: ${r.stderr}\n${r.stdout.slice(-2000)}`);
    for (const expected of [
      /Done: conclusion \S+ is FINAL\./,
      /extension: FINAL \(relatesTo appends [0-9a-f-]{36}\)/,
      /the extended one: AMENDED/,
      /cancelled: ENTERED_IN_ERROR/,
      /replacement: FINAL \(relatesTo replaces [0-9a-f-]{36}\)/,
      /the replaced one: AMENDED/,
      /refinement: FINAL \(relatesTo replaces [0-9a-f-]{36}\)/,
      /the preperson’s one: AMENDED/,
      /extension: SL\d+, REQUEST_TYPE 2, continues SL\d+/,
      /replacement: SL\d+, REQUEST_TYPE 1\n/,
      /refinement: SL\d+, REQUEST_TYPE 1\n/,
    ]) {
      assert.match(r.stdout, expected, `round ${round}`);
    }
  }
});
