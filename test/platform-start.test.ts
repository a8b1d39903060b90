import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/Try:/.test(out) || /is listening on/.test(out)) {
        clearInterval(timer);
        setTimeout(resolve, 200);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`exited early with ${code}: ${out}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited, output: () => out };
}

const embeddedOnly = { skip: process.env.TEST_DATABASE_URL ? 'embedded-database start; covered in the PGlite run' : false };

test('npm start on a fresh DATA_DIR: banner with demo credentials that work; same credentials after a restart; SIGTERM stops cleanly', embeddedOnly, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'esoz-start-'));
  try {
    const port = await freePort();
    const first = start({ DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '' });
    await first.ready;
    const banner = first.output();
    assert.match(banner, new RegExp(`esoz-core is listening on http://localhost:${port}`));
    assert.match(banner, /API docs: http:\/\/localhost:\d+\/docs/);
    const token = /demo token:\s+(\S+)/.exec(banner)?.[1];
    const apiKey = /demo api-key:\s+(\S+)/.exec(banner)?.[1];
    const adminKey = /admin key \(x-admin-key\): (\S+)/.exec(banner)?.[1];
    assert.ok(token && apiKey && adminKey, banner);
    assert.match(banner, /curl -s -X PATCH http:\/\/localhost:\d+\/api\/medication_requests\/\S+\/actions\/resend/);

    const mr = await fetch(`http://127.0.0.1:${port}/api/medication_requests/6f1d0c2a-0000-4000-8000-000000000100`, {
      headers: { authorization: `Bearer ${token}`, 'api-key': apiKey! },
    });
    assert.equal(mr.status, 200);
    const admin = await fetch(`http://127.0.0.1:${port}/admin/sms`, { headers: { 'x-admin-key': adminKey! } });
    assert.equal(admin.status, 200);

    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);

    // the same DATA_DIR keeps its data and its demo credentials
    const second = start({ DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '' });
    await second.ready;
    assert.equal(/demo token:\s+(\S+)/.exec(second.output())?.[1], token);
    const again = await fetch(`http://127.0.0.1:${port}/api/medication_requests/6f1d0c2a-0000-4000-8000-000000000100`, {
      headers: { authorization: `Bearer ${token}`, 'api-key': apiKey! },
    });
    assert.equal(again.status, 200);
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
