/**
 * The public async job: the status endpoint (seed 000), retention and stuck jobs, the finished-job
 * cache, metrics and the ETA model, retries, and the start-up check of the job kinds.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, waitFor, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, pollJob, createComposition, createDone, withSlowJobs, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { compositionsOf } from '../src/compositions/capability.ts';
import { QUEUE_MAINTENANCE, JOB_KINDS } from '../src/compositions/model.ts';
import { ensureJobKinds } from '../src/compositions/job-store.ts';

let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca' } });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(async () => server?.close());

describe('job status endpoint (seed 000)', () => {
  test('malformed id → 400 Invalid request format', async () => {
    for (const path of ['/api/patients/composition/job/not-a-uuid', '/patients/composition/job/123']) {
      const r = await mis.call('GET', path);
      assert.equal(r.status, 400);
      assert.deepEqual(r.body.error, { type: 'bad_request', message: 'Invalid request format' });
    }
  });
  test('unknown id → 404 Task not found; another client’s job → 404', async () => {
    const r = await mis.call('GET', `/api/patients/composition/job/${crypto.randomUUID()}`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.body.error, { type: 'not_found', message: 'Task not found' });
    const { created } = await createComposition(mis, createBody(w, { category: 'COVID19' }));
    const stranger = await server.mis({ legalEntityId: w.otherLegalEntityId });
    const other = await stranger.call('GET', `/api/patients/composition/job/${created.body.data.id}`);
    assert.equal(other.status, 404);
    assert.equal(other.body.error.message, 'Task not found');
    const sameLe = await server.mis({ legalEntityId: w.legalEntityId });
    assert.equal(
      (await sameLe.call('GET', `/api/patients/composition/job/${created.body.data.id}`)).status,
      404,
      'jobs belong to the client',
    );
  });
  test('scope composition:read required', async () => {
    const creator = await server.mis({ legalEntityId: w.legalEntityId, scopes: ['composition:create'] });
    const r = await creator.call('GET', `/api/patients/composition/job/${crypto.randomUUID()}`);
    assert.equal(r.status, 403);
  });
  test('a PENDING poll costs one query, a finished job none; eta is fresh and in the future', async () => {
    const db = server.runtime.platform.db as any;
    const original = db.query;
    let count = 0;
    await mis.call('GET', `/api/patients/composition/job/${crypto.randomUUID()}`); // warm the token cache
    await withSlowJobs(1500, async () => {
      const created = await mis.call('POST', '/api/patients/composition', { body: createBody(w, { category: 'TEMP_TRANSFER' }) });
      const id = created.body.data.id;
      // let the in-process worker claim it first (its own queries are not the poll's)
      await waitFor(
        async () => (await original.call(db, 'SELECT started_at FROM composition_jobs WHERE id = $1', [id])).rows[0]?.started_at,
      );
      db.query = function (...args: unknown[]) {
        count++;
        return original.apply(this, args);
      };
      try {
        const asked = Date.now();
        const p = await mis.call('GET', `/api/patients/composition/job/${id}`);
        assert.equal(p.body.data.status, 'PENDING');
        assert.equal(count, 1, 'one query for a PENDING job');
        assert.ok(Date.parse(p.body.data.eta) > asked, 'eta in the future');
        assert.match(p.headers.get('retry-after') ?? '', /^\d+$/);
        assert.deepEqual(p.body.data.links, [{ entity: 'job', href: `/api/patients/composition/job/${id}` }]);
      } finally {
        db.query = original;
      }
      const done = await pollJob(mis, id);
      assert.equal(done.body.data.status, 'DONE');
      count = 0;
      db.query = function (...args: unknown[]) {
        count++;
        return original.apply(this, args);
      };
      try {
        const again = await mis.call('GET', `/api/patients/composition/job/${id}`);
        assert.deepEqual(again.body.data, done.body.data);
        assert.equal(count, 0, 'finished jobs come from memory');
      } finally {
        db.query = original;
      }
    });
  });
});

describe('retention and stuck jobs', () => {
  test('finished jobs older than JOB_RETENTION_DAYS are deleted; PENDING older than JOB_MAX_PENDING_SECONDS fail', async () => {
    const db = server.runtime.platform.db;
    const { created } = await createComposition(
      mis,
      createBody(w, { category: 'COVID19', start: '2026-10-01T00:00:01Z', end: '2026-10-02T20:59:59Z' }),
    );
    const oldId = created.body.data.id;
    await db.query(`UPDATE composition_jobs SET finished_at = now() - interval '8 days' WHERE id = $1`, [oldId]);
    const stuckId = crypto.randomUUID();
    await db.query(
      `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, request_hash, request, first_eta, inserted_at)
       VALUES ($1, 'CREATE', $2, $3, 'stuck', '{}', now() - interval '2 hours', now() - interval '2 hours')`,
      [stuckId, mis.clientId, w.legalEntityId],
    );
    const freshId = crypto.randomUUID();
    await db.query(
      `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, request_hash, request, first_eta)
       VALUES ($1, 'CREATE', $2, $3, 'fresh', '{}', now())`,
      [freshId, mis.clientId, w.legalEntityId],
    );
    compositionsOf(server.runtime.platform).store.clearCache();
    const r = await compositionsOf(server.runtime.platform).sweep();
    assert.ok(r.deleted >= 1);
    assert.deepEqual(r.expired, [stuckId]);
    assert.equal((await mis.call('GET', `/api/patients/composition/job/${oldId}`)).status, 404);
    const stuck = await mis.call('GET', `/api/patients/composition/job/${stuckId}`);
    assert.equal(stuck.body.data.status, 'FAILED');
    assert.equal(stuck.body.data.error.type, 'JOB_TIMEOUT');
    assert.match(stuck.body.data.error.message, /not processed within 3600 seconds/);
    const fresh = await mis.call('GET', `/api/patients/composition/job/${freshId}`);
    assert.equal(fresh.body.data.status, 'PENDING');
    await db.query(`DELETE FROM composition_jobs WHERE id = $1`, [freshId]);
    const schedules = await server.runtime.platform.queue.boss.getSchedules(QUEUE_MAINTENANCE);
    assert.equal(schedules.length, 1);
    assert.equal(schedules[0].cron, '* * * * *');
  });
});

describe('finished-job cache and retention', () => {
  test('a finished job is served from memory only until its retention ends, then as the database has it', async () => {
    const db = server.runtime.platform.db;
    const { created, job } = await createComposition(
      mis,
      createBody(w, { category: 'COVID19', start: '2026-09-01T00:00:01Z', end: '2026-09-02T20:59:59Z' }),
    );
    assert.equal(job.body.data.status, 'DONE');
    const id = created.body.data.id;
    // retention (7 days) ends 1.5 s from now
    await db.query(`UPDATE composition_jobs SET finished_at = now() - interval '7 days' + interval '1.5 seconds' WHERE id = $1`, [id]);
    const { store } = compositionsOf(server.runtime.platform);
    store.clearCache();
    assert.equal((await mis.call('GET', `/api/patients/composition/job/${id}`)).body.data.status, 'DONE'); // now cached
    await new Promise((r) => setTimeout(r, 1600));
    await db.query(`DELETE FROM composition_jobs WHERE id = $1`, [id]); // what the sweep does past retention
    const gone = await mis.call('GET', `/api/patients/composition/job/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, 'Task not found');
  });
});

describe('metrics', () => {
  before(async () => {
    // a DONE create, a DONE sign and a FAILED create of this server's own
    const done = await createDone(mis, createBody(w, { category: 'SICKNESS', start: '2026-08-01T00:00:01Z', end: '2026-08-02T20:59:59Z' }));
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const s = await mis.call('PATCH', `/api/patients/composition/${done.id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(done.document)) },
    });
    assert.equal((await pollJob(mis, s.body.data.id)).body.data.status, 'DONE');
    const failed = await createComposition(mis, createBody(w, { category: 'LIVE_BIRTH' }));
    assert.equal(failed.job.body.data.status, 'FAILED');
  });
  test('job counts by status and eta accuracy', async () => {
    const r = await server.call('GET', '/metrics');
    assert.match(r.text, /esoz_composition_jobs\{status="DONE"\} [1-9]/);
    assert.match(r.text, /esoz_composition_jobs\{status="FAILED"\} [1-9]/);
    assert.match(r.text, /esoz_composition_jobs_eta\{result="before_eta"\} \d+/);
    assert.match(r.text, /esoz_composition_job_finished_total\{kind="CREATE",status="DONE",eta="(before|after)_eta"\} [1-9]/);
  });
  test('the eta model learns from measured service times', async () => {
    const stats = await server.runtime.platform.db.query<{ kind: string; service_ms: number; drain_ms: number; samples: number }>(
      `SELECT kind, service_ms, drain_ms, samples FROM composition_job_stats WHERE kind IN ('CREATE', 'SIGN') ORDER BY kind`,
    );
    for (const s of stats.rows) {
      assert.ok(Number(s.samples) > 0, `${s.kind} measured`);
      assert.notEqual(s.service_ms, 500, `${s.kind} moved off the prior`);
      assert.ok(s.drain_ms > 0 && s.drain_ms <= Math.max(s.service_ms, 500) * 2);
    }
  });
});

describe('retries', () => {
  test('a transient error is retried with backoff and the job still ends DONE once', async () => {
    const db = server.runtime.platform.db as any;
    const original = db.transaction;
    let failures = 0;
    db.transaction = function (fn: any) {
      // fail the worker's first finishing transaction (the accept transaction has already run)
      if (failures === 0 && new Error().stack?.includes('runCreates')) {
        failures++;
        return Promise.reject(new Error('connection reset (simulated)'));
      }
      return original.call(this, fn);
    };
    try {
      const { job } = await createComposition(
        mis,
        createBody(w, {
          category: 'CHILD_CARE',
          focus: { type: 'person', id: w.motherId },
          start: '2026-12-01T00:00:01Z',
          end: '2026-12-02T20:59:59Z',
        }),
      );
      assert.equal(job.body.data.status, 'DONE', job.text);
      assert.equal(failures, 1);
      const row = await server.runtime.platform.db.query<{ attempts: number }>('SELECT attempts FROM composition_jobs WHERE id = $1', [
        job.body.data.id,
      ]);
      assert.equal(row.rows[0].attempts, 2);
      const n = await server.runtime.platform.db.query<{ n: number }>('SELECT count(*) AS n FROM compositions WHERE job_id = $1', [
        job.body.data.id,
      ]);
      assert.equal(Number(n.rows[0].n), 1);
    } finally {
      db.transaction = original;
    }
  });

  test('the last retry fails the job with INTERNAL_ERROR instead of leaving it PENDING', async () => {
    const platform = server.runtime.platform;
    const { worker, retryLimit } = compositionsOf(platform);
    const jobId = crypto.randomUUID();
    await platform.db.query(
      `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, request_hash, request, first_eta)
       VALUES ($1, 'CREATE', $2, $3, 'last-retry', $4, now())`,
      [jobId, mis.clientId, w.legalEntityId, JSON.stringify(createBody(w))],
    );
    const db = platform.db as any;
    const original = db.transaction;
    db.transaction = () => Promise.reject(new Error('database unavailable (simulated)'));
    try {
      // as the queue runs it: a fetch goes to handleBatch, and an Error result is a job pg-boss retries
      const fetched = (retryCount: number) => [{ id: jobId, name: 'x', data: { jobId }, retryCount } as any];
      const [retried] = await worker.handleBatch(fetched(retryLimit - 1));
      assert.ok(retried instanceof Error, `an Error to retry, got ${JSON.stringify(retried)}`);
      assert.match(retried.message, /simulated/);
      const [last] = await worker.handleBatch(fetched(retryLimit));
      assert.deepEqual(last, { status: 'FAILED', error: 'INTERNAL_ERROR' });
    } finally {
      db.transaction = original;
    }
    const state = await mis.call('GET', `/api/patients/composition/job/${jobId}`);
    assert.equal(state.body.data.status, 'FAILED');
    assert.equal(state.body.data.error.code, 500);
    assert.match(state.body.data.error.message, /after \d+ attempts/);
  });
});

describe('job kinds: one list in the code, the database follows it', () => {
  test('a missing composition_job_stats row is added at start-up (and by the check itself)', async () => {
    const db = server.runtime.platform.db;
    const kinds = await db.query<{ kind: string }>('SELECT kind FROM composition_job_stats ORDER BY kind');
    assert.deepEqual(
      kinds.rows.map((r) => r.kind),
      [...JOB_KINDS].sort(),
    );
    await db.query(`DELETE FROM composition_job_stats WHERE kind = 'CANCEL'`);
    await ensureJobKinds(db);
    const back = await db.query<{ kind: string; service_ms: number; drain_ms: number }>(
      `SELECT kind, service_ms, drain_ms FROM composition_job_stats WHERE kind = 'CANCEL'`,
    );
    assert.deepEqual(
      back.rows.map((r) => [r.kind, Number(r.service_ms), Number(r.drain_ms)]),
      [['CANCEL', 500, 500]],
    );
  });
  test('a kind the CHECK constraint does not allow (or the other way round) stops the start with both lists named', async () => {
    const db = server.runtime.platform.db;
    await assert.rejects(ensureJobKinds(db, [...JOB_KINDS, 'SOME_NEW_KIND']), (err: Error) => {
      assert.ok(
        err.message.includes(`JOB_KINDS (src/compositions/model.ts) is ${[...JOB_KINDS, 'SOME_NEW_KIND'].join(', ')}`),
        err.message,
      );
      assert.ok(err.message.includes(`CHECK constraint allows ${JOB_KINDS.join(', ')}`), err.message);
      assert.match(err.message, /not allowed by the constraint: SOME_NEW_KIND/);
      return true;
    });
    await assert.rejects(
      ensureJobKinds(
        db,
        JOB_KINDS.filter((k) => k !== 'CANCEL'),
      ),
      /allowed by the constraint but not in JOB_KINDS: CANCEL/,
    );
    const stray = await db.query(`SELECT 1 FROM composition_job_stats WHERE kind = 'SOME_NEW_KIND'`);
    assert.equal(stray.rowCount, 0, 'nothing written when the kinds differ');
  });
});
