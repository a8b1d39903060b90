/**
 * A worker process is SIGKILLed while it holds composition jobs (after the claim, and in the middle
 * of the finishing transaction); another worker takes them over after the lease. Every job ends
 * DONE, exactly one composition per job, none stuck PENDING. PostgreSQL only: the embedded
 * database lives inside one process, so there is no second worker process to kill.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, waitFor, backend, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, type World } from './support/compositions.ts';
import { WorkerProcesses, killProcess } from './support/processes.ts';

const skip = backend !== 'postgres' ? 'needs PostgreSQL (TEST_DATABASE_URL): worker processes share the database' : false;

let server: TestServer;
let w: World;
let mis: Mis;
const workers = new WorkerProcesses();

const spawnWorker = (extraEnv: Record<string, string>) =>
  workers.spawn({ DATABASE_URL: server.databaseUrl, WORKERS: 'on', JOB_LEASE_SECONDS: '5', SIGNATURE_TRUST: 'any-test-ca', ...extraEnv });

describe('worker crash', { skip }, () => {
  before(async () => {
    server = await startTestServer({ env: { WORKERS: 'off', JOB_LEASE_SECONDS: '5', SIGNATURE_TRUST: 'any-test-ca' } });
    w = await seedWorld(server);
    mis = await misOf(server, w);
  });
  after(async () => {
    await workers.killAll();
    await server?.close();
  });

  test('dedupe holds across API processes: concurrent identical requests on two servers share one job', async () => {
    // same lease as every other process: queue settings live in the database and the last process to start sets them
    const second = await startTestServer({
      databaseUrl: server.databaseUrl,
      env: { WORKERS: 'off', JOB_LEASE_SECONDS: '5', SIGNATURE_TRUST: 'any-test-ca' },
    });
    try {
      const body = createBody(w, { category: 'CHILD_CARE', focus: { type: 'person', id: w.motherId } });
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          fetch(`${i % 2 ? second.url : server.url}/api/patients/composition`, {
            method: 'POST',
            headers: { authorization: `Bearer ${mis.token}`, 'api-key': mis.secret, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }).then(async (r) => ({ status: r.status, body: await r.json() })),
        ),
      );
      assert.ok(
        responses.every((r) => r.status === 202),
        JSON.stringify(responses.map((r) => r.status)),
      );
      const ids = new Set(responses.map((r) => r.body.data.id));
      assert.equal(ids.size, 1, 'one job');
      const rows = await server.runtime.platform.db.query<{ n: number }>(
        `SELECT count(*) AS n FROM composition_jobs WHERE client_id = $1 AND status = 'PENDING' AND request::jsonb -> 'category' -> 'coding' -> 0 ->> 'code' = 'CHILD_CARE'`,
        [mis.clientId],
      );
      assert.equal(Number(rows.rows[0].n), 1);
      await server.runtime.platform.db.query('DELETE FROM composition_jobs WHERE id = $1', [[...ids][0]]);
    } finally {
      await second.close();
    }
  });

  for (const phase of ['claimed', 'in-transaction'] as const) {
    test(`SIGKILL while holding jobs (${phase}) → another worker finishes them, no duplicates`, { timeout: 90_000 }, async () => {
      const db = server.runtime.platform.db;
      const categories =
        phase === 'claimed' ? ['SICKNESS', 'QUARANTINE', 'COVID19', 'PREGNANCY'] : ['TEMP_TRANSFER', 'PROSTHETIC', 'RESTORATION'];
      const ids: string[] = [];
      for (const category of categories) {
        const r = await mis.call('POST', '/api/patients/composition', { body: createBody(w, { category }) });
        assert.equal(r.status, 202, r.text);
        ids.push(r.body.data.id);
      }
      const doomed = spawnWorker({ ESOZ_TEST_COMPOSITION_JOB_DELAY_MS: '120000', ESOZ_TEST_COMPOSITION_JOB_DELAY_PHASE: phase });
      // the doomed worker holds every job (claimed, and for in-transaction: composition inserted, not committed)
      await waitFor(
        async () => {
          const r = await db.query<{ n: number }>(
            'SELECT count(*) AS n FROM composition_jobs WHERE id = ANY($1::uuid[]) AND started_at IS NOT NULL',
            [ids],
          );
          return Number(r.rows[0].n) === ids.length;
        },
        30_000,
        100,
      );
      if (phase === 'in-transaction') {
        // every job row locked by the doomed worker's open finishing transaction(s): the compositions are
        // inserted, not committed (a probe that skips locked rows sees none of them)
        await waitFor(
          async () => {
            const open = await db.query<{ n: number }>(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
            );
            if (Number(open.rows[0].n) < 1) return false;
            const free = await db.query('SELECT id FROM composition_jobs WHERE id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED', [ids]);
            return free.rows.length === 0;
          },
          30_000,
          100,
        );
      }
      await killProcess(doomed, 'SIGKILL');
      const pending = await db.query<{ n: number }>(
        `SELECT count(*) AS n FROM composition_jobs WHERE id = ANY($1::uuid[]) AND status = 'PENDING'`,
        [ids],
      );
      assert.equal(Number(pending.rows[0].n), ids.length, 'nothing finished by the killed worker');

      const rescuer = spawnWorker({});
      await waitFor(
        async () => {
          const r = await db.query<{ n: number }>(
            `SELECT count(*) AS n FROM composition_jobs WHERE id = ANY($1::uuid[]) AND status <> 'PENDING'`,
            [ids],
          );
          return Number(r.rows[0].n) === ids.length;
        },
        75_000,
        200,
      );
      await killProcess(rescuer, 'SIGTERM');

      const jobs = await db.query<{ id: string; status: string; attempts: number; composition_id: string }>(
        'SELECT id, status, attempts, composition_id FROM composition_jobs WHERE id = ANY($1::uuid[])',
        [ids],
      );
      for (const j of jobs.rows) {
        assert.equal(j.status, 'DONE', `job ${j.id}`);
        assert.ok(j.attempts >= 2, `job ${j.id} was claimed again (attempts ${j.attempts})`);
      }
      const comps = await db.query<{ job_id: string; n: number }>(
        'SELECT job_id, count(*) AS n FROM compositions WHERE job_id = ANY($1::uuid[]) GROUP BY job_id',
        [ids],
      );
      assert.equal(comps.rows.length, ids.length, 'one composition per job');
      assert.ok(comps.rows.every((c) => Number(c.n) === 1));
      for (const id of ids) {
        const r = await mis.call('GET', `/api/patients/composition/job/${id}`);
        assert.equal(r.body.data.status, 'DONE');
        assert.equal(r.body.data.links[0].entity, 'composition');
      }
    });
  }
});
