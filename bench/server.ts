/**
 * The benchmark's server process: esoz-core with demo data plus three baselines —
 * a bare Fastify app (no hooks, no database), `/bench/select`, a plain route doing one indexed
 * SELECT on the same database, and `/bench/insert`, a plain route committing one INSERT (the durable
 * write every recording request pays for). Prints one `READY {json}` line on stdout when it listens.
 *
 * BENCH_GROWTH_ROWS=n (the growth scenario, bench/growth.ts): n rows in each of the tables that grow
 * with use (bench/growth-fill.ts) instead of the resend scenario's MR copies.
 */
import Fastify from 'fastify';
import pg from 'pg';
import inspector from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { startRuntime } from '../src/runtime.ts';
import { loadConfig } from '../src/platform/config.ts';
import { capabilities } from '../src/capabilities.ts';
import { sendData } from '../src/platform/http/envelope.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';
import type { Capability } from '../src/platform/platform.ts';
import { fillCompositions, fillGrowth, type GrowthData } from './growth-fill.ts';
import { randomUUID } from 'node:crypto';
import type { Db } from '../src/platform/db.ts';
import { upsertCompositionFixture } from '../src/compositions/fixtures.ts';
import { enqueueErlnTask } from '../src/erln/task-store.ts';

const MR_COUNT = Number(process.env.BENCH_MR_COUNT ?? 30000);
const GROWTH_ROWS = Number(process.env.BENCH_GROWTH_ROWS ?? 0);
const GROWTH_SAMPLE = Number(process.env.BENCH_GROWTH_SAMPLE ?? 10000);
/** compositions of the demo legal entity for the sign accept scenario (bench/compositions.ts) */
const COMPOSITIONS = Number(process.env.BENCH_COMPOSITIONS ?? 0);

const pickupDelays: number[] = [];
let profiler: inspector.Session | undefined;

const benchCapability: Capability = {
  name: 'bench',
  jobs(platform) {
    platform.queue.defineQueue<{ sentAt: number }>({
      name: 'bench-pickup',
      retryLimit: 0,
      async handler(job) {
        pickupDelays.push(Date.now() - job.data.sentAt);
      },
    });
  },
  routes(app, platform) {
    // Job pickup latency: send `n` jobs one at a time (idle queue), measure send → handler start.
    app.get<{ Querystring: { n?: string } }>('/bench/pickup', async (req, reply) => {
      const n = Number(req.query.n ?? 100);
      pickupDelays.length = 0;
      for (let i = 0; i < n; i++) {
        await platform.queue.send('bench-pickup', { sentAt: Date.now() });
        const until = Date.now() + 5000;
        while (pickupDelays.length <= i && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
      }
      const sorted = [...pickupDelays].sort((a, b) => a - b);
      const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
      return sendData(req, reply, { n: sorted.length, p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1] });
    });
    // CPU profile of a load window only (bench/profile.ts): start before the load, stop after it.
    app.post('/bench/profile/start', async (req, reply) => {
      profiler ??= new inspector.Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
      return sendData(req, reply, { profiling: true });
    });
    app.post<{ Querystring: { file: string } }>('/bench/profile/stop', async (req, reply) => {
      const { profile } = await profiler!.post('Profiler.stop');
      profiler!.disconnect();
      writeFileSync(req.query.file, JSON.stringify(profile));
      return sendData(req, reply, { file: req.query.file });
    });
    app.get('/bench/sqlstats', async (req, reply) => {
      const rows = [...sqlStats].map(([sql, v]) => ({ sql, ...v })).sort((a, b) => b.ms - a.ms);
      sqlStats.clear();
      return sendData(req, reply, rows);
    });
    // the sustained scenario's completion check: composition jobs still PENDING (one count)
    app.get('/bench/pending', async (req, reply) => {
      const r = await platform.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM composition_jobs WHERE status = 'PENDING'`);
      return sendData(req, reply, { pending: r.rows[0].n });
    });
    // ERLN hand-off (bench/erln.ts): `n` FINAL МВТН of the demo patient, each on an encounter of its own,
    // with their CREATE_ERLN_RECORD tasks written as sign writes them; `sequential`: one at a time, the
    // time from the commit to the task's SUCCESS; otherwise all in one transaction, and the tasks per
    // second from that commit until the last one ended.
    app.post<{ Querystring: { n?: string; sequential?: string } }>('/bench/erln', async (req, reply) => {
      const n = Number(req.query.n ?? 100);
      const make = async (tx: Db) => {
        const encounter = randomUUID();
        await tx.query(`INSERT INTO encounters (id, person_id, episode_id, legal_entity_id, employee_id) VALUES ($1, $2, $3, $4, $5)`, [
          encounter,
          DEMO.personOtpId,
          DEMO.episodeId,
          DEMO.legalEntityId,
          DEMO.doctorEmployeeId,
        ]);
        const id = await upsertCompositionFixture(tx, {
          status: 'FINAL',
          type: 'TEMP_DISABILITY',
          category: 'SICKNESS',
          subject_id: DEMO.personOtpId,
          encounter_id: encounter,
          author_id: DEMO.doctorEmployeeId,
          legal_entity_id: DEMO.legalEntityId,
        });
        return enqueueErlnTask(tx, platform.queue, id, 'CREATE_ERLN_RECORD');
      };
      const ended = async (ids: string[]) => {
        for (;;) {
          const r = await platform.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM composition_integration_tasks WHERE id = ANY($1::uuid[]) AND task_status = 'PENDING'`,
            [ids],
          );
          if (r.rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 2));
        }
        const ok = await platform.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM composition_integration_tasks WHERE id = ANY($1::uuid[]) AND integration_status = 'SUCCESS'`,
          [ids],
        );
        return ok.rows[0].n;
      };
      if (req.query.sequential) {
        const ms: number[] = [];
        let success = 0;
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const id = await platform.db.transaction(make);
          success += await ended([id]);
          ms.push(performance.now() - t0);
        }
        ms.sort((a, b) => a - b);
        const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
        return sendData(req, reply, { n, success, p50: q(0.5), p99: q(0.99) });
      }
      const ids = await platform.db.transaction(async (tx) => {
        const out: string[] = [];
        for (let i = 0; i < n; i++) out.push(await make(tx));
        return out;
      });
      const t0 = performance.now();
      const success = await ended(ids);
      const seconds = (performance.now() - t0) / 1000;
      return sendData(req, reply, { n, success, seconds, perSecond: n / seconds });
    });
    app.get('/bench/select', async (req, reply) => {
      const r = await platform.db.query('SELECT id, birth_date FROM persons WHERE id = $1', [DEMO.personOtpId]);
      return sendData(req, reply, r.rows[0]);
    });
    // one INSERT in its own (implicit) transaction: on PostgreSQL the commit waits for its WAL flush
    app.post('/bench/insert', async (req, reply) => {
      const r = await platform.db.query<{ id: number }>('INSERT INTO bench_writes (request_id) VALUES ($1) RETURNING id', [req.id]);
      return sendData(req, reply, r.rows[0]);
    });
  },
};

/**
 * BENCH_SQL_STATS=1 (PGlite only, bench/profile.ts): time spent in the engine per SQL text (every
 * protocol call is attributed to the statement whose Parse/Query message came last; PGlite runs them
 * one at a time, so the attribution is exact). GET /bench/sqlstats returns and resets the table.
 */
const sqlStats = new Map<string, { calls: number; ms: number }>();
function instrumentPglite(pglite: any) {
  const original = pglite.execProtocolStream.bind(pglite);
  let current = '(none)';
  const text = (m: Uint8Array, from: number) => {
    let end = from;
    while (end < m.length && m[end] !== 0) end++;
    return Buffer.from(m.subarray(from, end)).toString('utf8').replace(/\s+/g, ' ').slice(0, 140);
  };
  pglite.execProtocolStream = async (m: Uint8Array, o: unknown) => {
    if (m[0] === 0x51) current = text(m, 5);
    if (m[0] === 0x50) {
      let p = 5;
      while (m[p] !== 0) p++; // statement name
      current = text(m, p + 1);
    }
    const t0 = performance.now();
    try {
      return await original(m, o);
    } finally {
      const s = sqlStats.get(current) ?? { calls: 0, ms: 0 };
      if (m[0] === 0x50 || m[0] === 0x51) s.calls++;
      s.ms += performance.now() - t0;
      sqlStats.set(current, s);
    }
  };
}

/** The same for PostgreSQL: calls and client-side time (send → result) per SQL text, every pool of the process. */
function instrumentPg() {
  const proto = pg.Client.prototype as any;
  const original = proto.query;
  proto.query = function (config: any, values: any, cb: any) {
    const text = String(typeof config === 'string' ? config : (config?.text ?? ''))
      .replace(/\s+/g, ' ')
      .slice(0, 140);
    const t0 = performance.now();
    const done = () => {
      const s = sqlStats.get(text) ?? { calls: 0, ms: 0 };
      s.calls++;
      s.ms += performance.now() - t0;
      sqlStats.set(text, s);
    };
    // pg-pool passes a callback (no promise then): time until the callback runs
    if (typeof values === 'function') {
      const v = values;
      values = (...a: unknown[]) => (done(), v(...a));
    } else if (typeof cb === 'function') {
      const c = cb;
      cb = (...a: unknown[]) => (done(), c(...a));
    }
    const r = original.call(this, config, values, cb);
    if (r && typeof r.then === 'function') r.then(done, done);
    else if (typeof values !== 'function' && typeof cb !== 'function') done();
    return r;
  };
}

if (process.env.BENCH_SQL_STATS === '1' && (process.env.DATABASE_URL ?? '').startsWith('postgres')) instrumentPg();
const config = loadConfig({ ...process.env, PORT: '0', DEMO_DATA: 'on', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
const runtime = await startRuntime({ config, capabilities: [...capabilities, benchCapability] });
const { db } = runtime.platform;
if (process.env.BENCH_SQL_STATS === '1' && db.engine === 'pglite') instrumentPglite((db as any).pglite);
// the write baseline's table: bench-only, so it is made here and not by a migration
await db.query(
  `CREATE TABLE IF NOT EXISTS bench_writes (id bigserial PRIMARY KEY, request_id text NOT NULL, written_at timestamptz NOT NULL DEFAULT now())`,
);
const growth: GrowthData | undefined = GROWTH_ROWS > 0 ? await fillGrowth(db, GROWTH_ROWS, GROWTH_SAMPLE) : undefined;
const compositionIds = COMPOSITIONS > 0 ? await fillCompositions(db, COMPOSITIONS) : [];

// Distinct medication requests for the resend benchmark: copies of the demo OTP MR with new ids and numbers
// (expanded in a LATERAL join: `(jsonb_populate_record(…)).*` would call the function once per column).
await db.query(
  `INSERT INTO medication_requests
   SELECT r.*
     FROM medication_requests m, generate_series(1, $2::int) i,
          LATERAL jsonb_populate_record(NULL::medication_requests, to_jsonb(m) || jsonb_build_object(
            'id', gen_random_uuid(),
            'request_number', '9999-' || lpad((i / 100000000)::text, 4, '0') || '-' || lpad(((i / 10000) % 10000)::text, 4, '0') || '-' || lpad((i % 10000)::text, 4, '0'))) r
    WHERE m.id = $1`,
  [DEMO.mrOtpId, MR_COUNT],
);
const mrIds = (
  await db.query<{ id: string }>(`SELECT id FROM medication_requests WHERE request_number LIKE '9999-%' ORDER BY request_number`)
).rows.map((r) => r.id);

await runtime.app!.listen({ port: 0, host: '127.0.0.1' });
const bare = Fastify({ logger: false });
bare.get('/bare', async () => ({ ok: true }));
await bare.listen({ port: 0, host: '127.0.0.1' });

const port = (s: { server: import('node:net').Server }) => (s.server.address() as import('node:net').AddressInfo).port;
process.stdout.write(
  'READY ' +
    JSON.stringify({
      url: `http://127.0.0.1:${port(runtime.app!)}`,
      bareUrl: `http://127.0.0.1:${port(bare)}`,
      token: runtime.sandbox!.demo!.token,
      apiKey: runtime.sandbox!.demo!.secret,
      adminKey: runtime.sandbox!.adminKey,
      engine: db.engine,
      mrIds,
      demo: DEMO,
      growth,
      compositionIds,
    }) +
    '\n',
);
process.once(
  'SIGTERM',
  () =>
    void (async () => {
      await bare.close();
      await runtime.close();
      process.exit(0);
    })(),
);
