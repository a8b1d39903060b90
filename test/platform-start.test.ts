import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir, networkInterfaces } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { initPgliteDataDir, templateDirFor } from '../src/platform/pglite-init.ts';
import { freePort } from './support/processes.ts';

/** `npm start` as package.json spells it, without npm in between (so signals reach the server itself). */
const startArgv = (): string[] => {
  const [node, ...args] = (JSON.parse(readFileSync('package.json', 'utf8')).scripts.start as string).split(/\s+/);
  assert.equal(node, 'node');
  return args;
};

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, startArgv(), {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    out += d;
    err += d;
  });
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
  return { child, ready, exited, output: () => out, stderr: () => err };
}

/** Runs a command to its end: exit code, stdout and stderr apart. */
function run(cmd: string, args: string[], env: Record<string, string>) {
  const child = spawn(cmd, args, { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // 'close': the process has exited and its output has been read to the end
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

/** The lines of `text` that say something (a trailing newline is not a line). */
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

const embeddedOnly = { skip: process.env.TEST_DATABASE_URL ? 'embedded-database start; covered in the PGlite run' : false };

test(
  'npm start on a fresh DATA_DIR: banner with demo credentials that work; same credentials after a restart; SIGTERM stops cleanly',
  embeddedOnly,
  async () => {
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
      // the README's walk-through and `npm run example:composition` read these variables: the banner fills them in
      assert.ok(
        banner.includes(
          `  export BASE_URL=http://localhost:${port} TOKEN=${token} API_KEY=${apiKey} ADMIN_KEY=${adminKey}\n  npm run example:composition\n`,
        ),
        banner,
      );
      // a line per start-up phase, before the banner
      for (const phase of [
        /opening the embedded database in /,
        /database open \(\d+\.\d s\)/,
        /migrations: \d+ applied/,
        /demo data loaded/,
        /HTTP routes ready/,
      ]) {
        assert.match(banner.slice(0, banner.indexOf('is listening on')), phase);
      }

      // the data directory was copied from the template cluster, which stays for the next fresh start
      assert.ok(existsSync(path.join(templateDirFor([...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB']), 'PG_VERSION')));

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
  },
);

/** Writes a row into a new table of the cluster in `dataDir`, closes it, opens it again and reads the row back. */
async function writeAndReadBack(dataDir: string, startParams: string[]) {
  const first = await PGlite.create({ dataDir, startParams });
  await first.exec(`CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')`);
  await first.close();
  const again = await PGlite.create({ dataDir, startParams });
  try {
    assert.deepEqual((await again.query('SELECT v FROM kept')).rows, [{ v: 'survives' }]);
  } finally {
    await again.close();
  }
}

test('a new PGlite data directory is a copy of the template cluster, which is made once and remade when broken', embeddedOnly, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'esoz-template-'));
  const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];
  const template = path.join(root, 'template');
  try {
    const a = path.join(root, 'a');
    mkdirSync(a);
    writeFileSync(path.join(a, 'esoz-core.lock'), '1');
    await initPgliteDataDir(a, startParams, template);
    assert.ok(existsSync(path.join(template, 'PG_VERSION')));
    assert.deepEqual(readdirSync(root).sort(), ['a', 'template'], 'no private initdb directory is left behind');
    assert.equal(readFileSync(path.join(a, 'esoz-core.lock'), 'utf8'), '1', 'the files already in DATA_DIR stay');
    await writeAndReadBack(a, startParams);
    // the template holds none of the data written into a copy
    const b = path.join(root, 'b');
    await initPgliteDataDir(b, startParams, template);
    const fresh = await PGlite.create({ dataDir: b, startParams });
    try {
      assert.equal((await fresh.query(`SELECT to_regclass('kept') AS t`)).rows[0]?.['t' as never], null);
    } finally {
      await fresh.close();
    }

    // a template directory without a cluster in it is remade
    rmSync(template, { recursive: true });
    mkdirSync(template);
    writeFileSync(path.join(template, 'garbage'), 'x');
    const c = path.join(root, 'c');
    await initPgliteDataDir(c, startParams, template);
    assert.ok(existsSync(path.join(template, 'PG_VERSION')));
    assert.ok(!existsSync(path.join(c, 'garbage')));
    await writeAndReadBack(c, startParams);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('without a usable template cache the data directory gets its own initdb', embeddedOnly, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'esoz-template-'));
  const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];
  try {
    // the cache directory cannot be made: a file stands where it would be
    writeFileSync(path.join(root, 'not-a-directory'), '');
    const dataDir = path.join(root, 'data');
    mkdirSync(dataDir);
    await initPgliteDataDir(dataDir, startParams, path.join(root, 'not-a-directory', 'template'));
    await writeAndReadBack(dataDir, startParams);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  'two npm start on one DATA_DIR: the second is refused with one line and exit 75; a lock left by a killed process is taken over',
  embeddedOnly,
  async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'esoz-lock-'));
    try {
      const first = start({ DATA_DIR: dataDir, PORT: String(await freePort()), DATABASE_URL: '' });
      await first.ready;
      const token = /demo token:\s+(\S+)/.exec(first.output())?.[1];
      assert.ok(token);

      const second = await run(process.execPath, startArgv(), { DATA_DIR: dataDir, PORT: String(await freePort()), DATABASE_URL: '' });
      assert.equal(second.code, 75);
      assert.deepEqual(lines(second.stderr), [
        `esoz-core: DATA_DIR ${dataDir} is in use by another esoz-core process (pid ${first.child.pid}): stop that one, or start this one with another DATA_DIR (if no such process runs, delete ${path.join(dataDir, 'esoz-core.lock')})`,
      ]);
      assert.doesNotMatch(second.stdout, /is listening on/);

      // SIGKILL leaves the lock file behind with a pid that no longer runs: the next start takes it over
      first.child.kill('SIGKILL');
      await first.exited;
      assert.ok(existsSync(path.join(dataDir, 'esoz-core.lock')));
      const port = await freePort();
      const third = start({ DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '' });
      await third.ready;
      assert.equal(/demo token:\s+(\S+)/.exec(third.output())?.[1], token);
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      assert.equal(ready.status, 200);
      third.child.kill('SIGTERM');
      assert.equal(await third.exited, 0);
      // a clean stop removes the lock
      assert.equal(existsSync(path.join(dataDir, 'esoz-core.lock')), false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

test('a lock file naming a pid that does not run (or garbage) does not stop the start', embeddedOnly, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'esoz-lock-'));
  try {
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    writeFileSync(path.join(dataDir, 'esoz-core.lock'), `${gone.pid}\n`);
    const port = await freePort();
    const s = start({ DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '', DEMO_DATA: 'off' });
    await s.ready;
    assert.equal((await fetch(`http://127.0.0.1:${port}/health/ready`)).status, 200);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** An IPv4 address of this machine other than loopback, if it has one. */
const externalAddress = () =>
  Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const connects = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

test(
  'embedded npm start binds 127.0.0.1 and says so; HOST=0.0.0.0 opens it to other machines',
  {
    ...embeddedOnly,
    skip: embeddedOnly.skip || (externalAddress() ? false : 'no non-loopback IPv4 address on this machine'),
  },
  async () => {
    const external = externalAddress()!;
    const port = await freePort();
    const local = start({ DATABASE_URL: 'memory://', PORT: String(port) });
    await local.ready;
    assert.match(local.output(), /bound to 127\.0\.0\.1: this machine only \(HOST=0\.0\.0\.0 to accept other machines\)/);
    assert.equal(await connects('127.0.0.1', port), true);
    assert.equal(await connects(external, port), false);
    local.child.kill('SIGTERM');
    assert.equal(await local.exited, 0);

    const open = start({ DATABASE_URL: 'memory://', PORT: String(port), HOST: '0.0.0.0' });
    await open.ready;
    assert.match(open.output(), /bound to 0\.0\.0\.0: reachable from other machines/);
    assert.equal(await connects(external, port), true);
    open.child.kill('SIGTERM');
    assert.equal(await open.exited, 0);
  },
);

test('npm start on a port in use: one line on stderr saying what to do, exit 75, no stack trace', embeddedOnly, async () => {
  const busy = createServer();
  const port = await new Promise<number>((resolve) =>
    busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)),
  );
  try {
    const r = await run('npm', ['start'], { PORT: String(port), DATABASE_URL: 'memory://' });
    assert.equal(r.code, 75);
    assert.deepEqual(lines(r.stderr), [
      `esoz-core: port ${port} on 127.0.0.1 is already in use (another esoz-core?): stop what uses it, or start with PORT=<a free port>`,
    ]);
  } finally {
    busy.close();
  }
});

test('the composition example against a server that is not running: one line saying what to do, exit 1', async () => {
  const port = await freePort();
  const r = await run('npm', ['run', 'example:composition'], { BASE_URL: `http://localhost:${port}`, TOKEN: 't', API_KEY: 'k' });
  assert.equal(r.code, 1);
  assert.deepEqual(lines(r.stderr), [
    `Cannot reach esoz-core at http://localhost:${port} (ECONNREFUSED): start it with \`npm start\` in another terminal, or set BASE_URL to where it runs`,
  ]);
});
