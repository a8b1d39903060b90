/**
 * PostgreSQL connections terminated under the processes (pg_terminate_backend: what failover,
 * idle_in_transaction_session_timeout or an operator's kill do): the request that held the
 * connection gets a 503 in the ESOZ envelope, the API and worker processes live on, the next
 * requests succeed and every accepted job still ends DONE. PostgreSQL only: PGlite runs inside the
 * process, so it has no server-side connection to terminate.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { startTestServer, waitFor, call, backend, type TestServer, type Mis, type CallResult } from './support/harness.ts';
import { seedWorld, createBody, misOf, type World } from './support/compositions.ts';
import { isConnectionLoss, openDb } from '../src/platform/db.ts';
import { freePort } from './support/processes.ts';

const skip = backend !== 'postgres' ? 'needs PostgreSQL (TEST_DATABASE_URL): PGlite has no server connection to terminate' : false;

let server: TestServer;
let w: World;
let mis: Mis;
let admin: pg.Client;
let apiUrl = '';
const children: { name: string; child: ChildProcess; stderr: string; stdout: string }[] = [];

function spawnChild(name: string, script: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      DATABASE_URL: server.databaseUrl,
      JOB_LEASE_SECONDS: '5',
      LOG_LEVEL: 'silent',
      SIGNATURE_TRUST: 'any-test-ca',
      DEMO_DATA: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { name, child, stderr: '', stdout: '' };
  child.stderr!.on('data', (c) => (entry.stderr += c.toString()));
  child.stdout!.on('data', (c) => (entry.stdout += c.toString()));
  children.push(entry);
  return entry;
}

function assertAlive() {
  for (const c of children) {
    assert.equal(c.child.exitCode, null, `${c.name} exited with ${c.child.exitCode}: ${c.stderr.slice(-2000)}`);
    assert.equal(c.child.signalCode, null, `${c.name} died of ${c.child.signalCode}`);
  }
}

/** Terminate every backend of the test database but the admin connection; returns how many. */
async function terminateAll(where = 'true'): Promise<number> {
  const r = await admin.query(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND (${where})`,
  );
  return r.rows[0].n;
}

const misCall = (method: string, path: string, body?: unknown) =>
  call(apiUrl, method, path, { token: mis.token, apiKey: mis.secret, body });

let seq = 0;
/** A composition body no other request of this file dedupes with. */
function uniqueBody() {
  seq++;
  const day = String(1 + (seq % 28)).padStart(2, '0');
  const sec = String(seq % 60).padStart(2, '0');
  const min = String(Math.floor(seq / 60) % 60).padStart(2, '0');
  return createBody(w, { start: `2026-10-${day}T00:${min}:${sec}Z`, end: `2026-10-${day}T20:59:59Z` });
}

function assertEnvelope503(r: CallResult) {
  assert.equal(r.status, 503, r.text);
  assert.equal(r.body.meta.code, 503);
  assert.equal(r.body.error.type, 'service_unavailable');
  assert.equal(r.body.error.message, 'Database is not reachable, retry the request');
}

describe('PostgreSQL connections terminated under the API and the worker', { skip }, () => {
  before(async () => {
    server = await startTestServer({ env: { WORKERS: 'off', JOB_LEASE_SECONDS: '5', SIGNATURE_TRUST: 'any-test-ca' } });
    w = await seedWorld(server);
    mis = await misOf(server, w);
    admin = new pg.Client({ connectionString: server.databaseUrl });
    await admin.connect();
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    spawnChild('api', 'src/main.ts', { PORT: String(port), HOST: '127.0.0.1', WORKERS: 'off', ADMIN_KEY: 'k', LOG_LEVEL: 'warn' });
    // each job batch stays a moment in its finishing transaction, so the kills find the worker mid-job
    spawnChild('worker', 'src/worker.ts', {
      ESOZ_TEST_COMPOSITION_JOB_DELAY_MS: '400',
      ESOZ_TEST_COMPOSITION_JOB_DELAY_PHASE: 'in-transaction',
    });
    await waitFor(
      async () => {
        assertAlive();
        return (await call(apiUrl, 'GET', '/health/ready').catch(() => ({ status: 0 }))).status === 200;
      },
      60_000,
      200,
    );
  });
  after(async () => {
    for (const c of children) {
      if (c.child.exitCode !== null || c.child.signalCode !== null) continue;
      const exited = new Promise((r) => c.child.once('exit', r));
      c.child.kill('SIGKILL');
      await exited;
    }
    await admin?.end();
    await server?.close();
  });

  test(
    'a composition create waiting on a lock whose backend is terminated: 503 in the envelope, the API answers on',
    { timeout: 60_000 },
    async () => {
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE composition_jobs IN ACCESS EXCLUSIVE MODE');
      const pending = misCall('POST', '/api/patients/composition', uniqueBody());
      const waiting = await waitFor(
        async () => {
          const r = await admin.query(
            `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
          );
          return r.rows.length ? r.rows.map((x) => x.pid as number) : undefined;
        },
        20_000,
        50,
      );
      for (const pid of waiting) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const r = await pending;
      await admin.query('COMMIT');
      assertEnvelope503(r);
      assert.equal(r.headers.get('retry-after'), '1');
      await new Promise((res) => setTimeout(res, 300));
      assertAlive();
      const api = children.find((c) => c.name === 'api')!;
      assert.match(api.stdout, /database connection lost; the pool opens a new one/, 'the lost connection is logged');
      assert.equal((await call(apiUrl, 'GET', '/health/ready')).status, 200);
      const next = await misCall('POST', '/api/patients/composition', uniqueBody());
      assert.equal(next.status, 202, next.text);
      await waitFor(
        async () => {
          const j = await misCall('GET', `/api/patients/composition/job/${next.body.data.id}`);
          return j.status === 200 && j.body.data.status === 'DONE';
        },
        30_000,
        200,
      );
    },
  );

  test(
    'every backend terminated again and again under load: each request 2xx or a 503 envelope, both processes live on, every accepted job ends DONE',
    { timeout: 120_000 },
    async () => {
      const accepted: string[] = [];
      const statuses = new Map<number, number>();
      let stop = false;
      const client = async () => {
        while (!stop) {
          const r = await misCall('POST', '/api/patients/composition', uniqueBody());
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 202) accepted.push(r.body.data.id);
          else assertEnvelope503(r);
          const id = accepted[accepted.length - 1];
          if (id) {
            const g = await misCall('GET', `/api/patients/composition/job/${id}`);
            statuses.set(g.status, (statuses.get(g.status) ?? 0) + 1);
            if (g.status !== 200) assertEnvelope503(g);
          }
        }
      };
      const load = Promise.all(Array.from({ length: 6 }, client));
      let terminated = 0;
      try {
        for (let round = 0; round < 12; round++) {
          await new Promise((res) => setTimeout(res, 250));
          terminated += await terminateAll();
        }
      } finally {
        stop = true;
        await load;
      }
      assert.ok(terminated >= 12, `terminated ${terminated} backends`);
      assert.ok((statuses.get(503) ?? 0) > 0, `some request hit a terminated connection: ${JSON.stringify([...statuses])}`);
      assert.ok(accepted.length > 0);
      await new Promise((res) => setTimeout(res, 500));
      assertAlive();

      // after the kills: the API serves again and nothing was lost
      assert.equal((await call(apiUrl, 'GET', '/health/ready')).status, 200);
      const after = await misCall('POST', '/api/patients/composition', uniqueBody());
      assert.equal(after.status, 202, after.text);
      accepted.push(after.body.data.id);
      await waitFor(
        async () => {
          const r = await admin.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM composition_jobs WHERE id = ANY($1::uuid[]) AND status = 'PENDING'`,
            [accepted],
          );
          return r.rows[0].n === 0;
        },
        60_000,
        250,
      );
      const done = await admin.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM composition_jobs WHERE id = ANY($1::uuid[]) GROUP BY status',
        [accepted],
      );
      assert.deepEqual(done.rows, [{ status: 'DONE', n: new Set(accepted).size }]);
      assertAlive();
    },
  );

  test(
    "the worker's connections (pg-boss, its LISTEN, job transactions) terminated while it works: it lives on and finishes the jobs",
    { timeout: 90_000 },
    async () => {
      const worker = children.find((c) => c.name === 'worker')!;
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await misCall('POST', '/api/patients/composition', uniqueBody());
        assert.equal(r.status, 202, r.text);
        ids.push(r.body.data.id);
      }
      let midJob = 0;
      for (let round = 0; round < 6; round++) {
        // the worker inside a job's finishing transaction: kill it there, and every other connection with it
        const holding = await waitFor(
          async () => {
            const r = await admin.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
            );
            return r.rows[0].n > 0 ? r.rows[0].n : undefined;
          },
          10_000,
          20,
        ).catch(() => 0);
        if (holding) midJob++;
        await terminateAll();
      }
      assert.ok(midJob > 0, 'the worker was killed mid-job at least once');
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(worker.child.exitCode, null, worker.stderr.slice(-2000));
      assertAlive();
      await waitFor(
        async () => {
          const r = await admin.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM composition_jobs WHERE id = ANY($1::uuid[]) AND status = 'DONE'`,
            [ids],
          );
          return r.rows[0].n === ids.length;
        },
        60_000,
        250,
      );
      assertAlive();
    },
  );
});

test('connection loss is told apart from a failed statement (both engines)', async () => {
  // a server that is not there: the pool's connect error
  const port = await freePort();
  const { db: gone } = await openDb({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/x`, dataDir: '', poolMax: 1 });
  const refused = await gone.query('SELECT 1').then(
    () => undefined,
    (e: unknown) => e,
  );
  await gone.close();
  assert.ok(isConnectionLoss(refused), String(refused));
  // a statement the database refused is not a lost connection, on either engine
  const s = await startTestServer();
  try {
    const bad = await s.runtime.platform.db.query('SELECT 1/0').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(bad);
    assert.equal(isConnectionLoss(bad), false);
  } finally {
    await s.close();
  }
  assert.ok(isConnectionLoss(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })));
  assert.ok(isConnectionLoss(new Error('Connection terminated unexpectedly')));
});
