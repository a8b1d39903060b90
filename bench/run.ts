/**
 * `npm run bench`: runs the server in a child process (so the load generator and the server are
 * separate processes on the same 2 cores), on PGlite and on PostgreSQL, and measures each route
 * against baselines in the same run: a bare Fastify route, a plain route doing one indexed SELECT on
 * the same backend, and — for the routes that write — a plain route committing one INSERT. Prints
 * markdown tables (paste into docs/benchmarks.md).
 *
 * Throughput on a shared virtual machine drifts by tens of percent within minutes, so a ratio is
 * never taken between measurements minutes apart: each throughput scenario runs in BENCH_ROUNDS
 * rounds interleaved with rounds of its baseline (B S B S … B), each round's ratio is its req/s over
 * the mean of the baseline rounds on either side, and the table shows the median round. A writing
 * scenario's rounds sit between a one-SELECT and a one-INSERT round each (B I S B I S … B I).
 *
 * Env: BENCH_DURATION (s per round, default 5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (10), BENCH_ONLY
 * (eprescription | compositions | erln | startup | growth; also as the first argument: `npm run bench -- growth`;
 * growth's own variables are in bench/growth.ts),
 * BENCH_BACKENDS (pglite,postgres), BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/test: a
 * database is created next to it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createScratchDatabase } from '../src/platform/db.ts';
import os from 'node:os';
import pg from 'pg';
import autocannon from 'autocannon';
import { compositionScenarios } from './compositions.ts';
import { erlnScenarios } from './erln.ts';
import { benchStartup, startupTable } from './startup.ts';
import { benchGrowth, growthRounds, growthTable, type GrowthRow } from './growth.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'pglite,postgres').split(',');
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** BENCH_ONLY=eprescription, compositions or erln: one capability's scenarios (with the baselines); startup or growth: those rows alone */
const ONLY = process.argv[2] ?? process.env.BENCH_ONLY ?? '';

export interface Ready {
  url: string;
  bareUrl: string;
  token: string;
  apiKey: string;
  adminKey: string;
  engine: string;
  mrIds: string[];
  demo: Record<string, string>;
  /** compositions of the demo legal entity (BENCH_COMPOSITIONS), for the sign accept */
  compositionIds: string[];
}

export interface Row {
  backend: string;
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  note?: string;
  /** median over the interleaved rounds of (req/s ÷ the one-SELECT baseline around it) */
  ratio?: number;
  /** the baseline's req/s in the round that gave the median ratio */
  baseRps?: number;
  /** every round's ratio, in order */
  ratios?: number[];
  /** for a writing scenario: the same against the one-INSERT baseline (its median ratio, its req/s around that round, every round's) */
  insertRatio?: number;
  insertRps?: number;
  insertRatios?: number[];
}

export type LoadOptions = Parameters<typeof load>[0];
export type Measured = Awaited<ReturnType<typeof load>>;

export type Interleaved = Measured & {
  ratio: number;
  baseRps: number;
  ratios: number[];
  insertRatio?: number;
  insertRps?: number;
  insertRatios?: number[];
};

/**
 * `scenario` in ROUNDS rounds between rounds of `baseline` (B S B S … B), and of `writeBaseline` too
 * when given (B I S B I S … B I). Returns the scenario's median round by its ratio to `baseline` (its
 * req/s and latency), with the median ratio and every round's ratio to each baseline.
 */
export async function interleaved(baseline: LoadOptions, scenario: LoadOptions, writeBaseline?: LoadOptions): Promise<Interleaved> {
  const bases = [await load(baseline)];
  const writes = writeBaseline ? [await load(writeBaseline)] : [];
  const rounds: { r: Measured; ratio: number; base: number; insertRatio?: number; insert?: number }[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const r = await load(scenario);
    bases.push(await load(baseline));
    const base = (bases[k].rps + bases[k + 1].rps) / 2;
    if (writeBaseline) {
      writes.push(await load(writeBaseline));
      const insert = (writes[k].rps + writes[k + 1].rps) / 2;
      rounds.push({ r, ratio: r.rps / base, base, insertRatio: r.rps / insert, insert });
    } else rounds.push({ r, ratio: r.rps / base, base });
  }
  const median = <T>(xs: T[], by: (x: T) => number) => [...xs].sort((a, b) => by(a) - by(b))[Math.floor((xs.length - 1) / 2)];
  const mid = median(rounds, (x) => x.ratio);
  const out: Interleaved = { ...mid.r, ratio: mid.ratio, baseRps: mid.base, ratios: rounds.map((x) => x.ratio) };
  if (writeBaseline) {
    const w = median(rounds, (x) => x.insertRatio!);
    Object.assign(out, { insertRatio: w.insertRatio, insertRps: w.insert, insertRatios: rounds.map((x) => x.insertRatio!) });
  }
  return out;
}

export async function load(opts: {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  path?: (i: number) => string;
  body?: string;
  /** a body per request (the i-th), with content-type json */
  bodyFor?: (i: number) => string;
  duration?: number;
  connections?: number;
}) {
  let i = 0;
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections ?? CONNECTIONS,
    duration: opts.duration ?? DURATION,
    headers: opts.bodyFor ? { ...opts.headers, 'content-type': 'application/json' } : opts.headers,
    requests: [
      {
        method: (opts.method ?? 'GET') as any,
        body: opts.body,
        setupRequest: (req: any) => {
          const n = i++;
          if (opts.path) req.path = opts.path(n);
          if (opts.bodyFor) req.body = opts.bodyFor(n);
          return req;
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    statusCodes: result.statusCodeStats,
  };
}

async function startServer(env: Record<string, string>): Promise<{ ready: Ready; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rl = createInterface({ input: child.stdout! });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    rl.on('line', (line) => {
      if (line.startsWith('READY ')) resolve(JSON.parse(line.slice(6)));
    });
  });
  return { ready, child };
}

async function stopServer(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

const createDatabase = () => createScratchDatabase(PG_URL, 'esoz_bench');

async function benchBackend(backend: string): Promise<Row[]> {
  const rows: Row[] = [];
  const db = backend === 'postgres' ? await createDatabase() : { url: 'memory://', drop: async () => undefined };
  const { ready, child } = await startServer({ DATABASE_URL: db.url, PG_POOL_MAX: '10' });
  const auth = { authorization: `Bearer ${ready.token}`, 'api-key': ready.apiKey };
  const add = (scenario: string, r: Measured & Partial<Interleaved>, note?: string) => {
    rows.push({
      backend,
      scenario,
      rps: r.rps,
      p50: r.p50,
      p99: r.p99,
      non2xx: r.non2xx,
      note,
      ratio: r.ratio,
      baseRps: r.baseRps,
      ratios: r.ratios,
      insertRatio: r.insertRatio,
      insertRps: r.insertRps,
      insertRatios: r.insertRatios,
    });
    process.stderr.write(
      `[${backend}] ${scenario}: ${r.rps.toFixed(0)} req/s p50 ${r.p50} ms p99 ${r.p99} ms non-2xx ${r.non2xx}` +
        `${r.ratios ? ` ratio ${r.ratio!.toFixed(2)} (rounds ${r.ratios.map((x) => x.toFixed(2)).join(' ')})` : ''}` +
        `${r.insertRatios ? ` × one-INSERT ${r.insertRatio!.toFixed(2)} (rounds ${r.insertRatios.map((x) => x.toFixed(2)).join(' ')})` : ''}\n`,
    );
  };
  const select: LoadOptions = { url: `${ready.url}/bench/select` };
  const insert: LoadOptions = { url: `${ready.url}/bench/insert`, method: 'POST' };
  try {
    // warm up JIT and caches on every route first
    await load({ url: `${ready.bareUrl}/bare`, duration: 2 });
    await load({ url: `${ready.url}/bench/select`, duration: 2 });
    await load({ ...insert, duration: 2 });
    // the bare route's ratio is to the one-SELECT route too: it shows what the HTTP layer alone costs
    const bare = await interleaved(select, { url: `${ready.bareUrl}/bare` });
    add('one-SELECT route (baseline)', { ...(await load(select)), ratio: 1 });
    add('bare Fastify route', bare);
    // the write baseline against the read one: what a durable commit costs on this backend
    const oneInsert = await interleaved(select, insert);
    add(
      'one-INSERT commit route (write baseline)',
      { ...oneInsert, insertRatio: 1 },
      'POST /bench/insert: one row into bench_writes, committed',
    );

    if (ONLY !== 'compositions' && ONLY !== 'erln') {
      // resend over distinct MRs: every check, the limiter and the outbox are in the path
      let next = 0;
      const mrPath = () => `/api/medication_requests/${ready.mrIds[next++ % ready.mrIds.length]}/actions/resend`;
      await load({ url: ready.url, method: 'PATCH', headers: auth, path: mrPath, duration: 2 });
      add(
        'resend, distinct MRs (200)',
        await interleaved(select, { url: ready.url, method: 'PATCH', headers: auth, path: mrPath }, insert),
        `${ready.mrIds.length} MRs, each resent at most MR_MAX_ATTEMPTS_COUNT times`,
      );

      // the 429 path: one MR whose attempts are used up
      const hot = `/api/medication_requests/${ready.demo.mrOtpId}/actions/resend`;
      for (let k = 0; k < 5; k++) await fetch(ready.url + hot, { method: 'PATCH', headers: auth });
      add('resend, SMS timeout (429)', await interleaved(select, { url: ready.url + hot, method: 'PATCH', headers: auth }));

      add(
        'GET medication request',
        await interleaved(select, { url: `${ready.url}/api/medication_requests/${ready.demo.mrThirdPersonId}`, headers: auth }),
      );

      const pickup = (await (await fetch(`${ready.url}/bench/pickup?n=200`)).json()).data;
      rows.push({
        backend,
        scenario: 'queue job pickup latency (idle)',
        rps: 0,
        p50: pickup.p50,
        p99: pickup.p99,
        non2xx: 0,
        note: `${pickup.n} jobs sent one at a time; send → handler start`,
      });
      process.stderr.write(`[${backend}] pickup p50 ${pickup.p50} ms p99 ${pickup.p99} ms\n`);
    }
    if (ONLY === 'eprescription') return rows;
    if (ONLY === '' || ONLY === 'erln') for (const x of await erlnScenarios(ready, backend)) rows.push({ backend, ...x });
    if (ONLY === 'erln') return rows;

    // a second server on the same backend with workers off, so a composition job stays PENDING
    const idleDb = backend === 'postgres' ? await createDatabase() : { url: 'memory://', drop: async () => undefined };
    const idle = await startServer({
      DATABASE_URL: idleDb.url,
      PG_POOL_MAX: '10',
      WORKERS: 'off',
      BENCH_MR_COUNT: '1',
      BENCH_COMPOSITIONS: '1000',
    });
    try {
      await load({ url: `${idle.ready.url}/bench/select`, duration: 2 });
      const base = await load({ url: `${idle.ready.url}/bench/select` });
      rows.push({
        backend,
        scenario: 'one-SELECT route, WORKERS=off server',
        rps: base.rps,
        p50: base.p50,
        p99: base.p99,
        non2xx: base.non2xx,
        ratio: 1,
      });
      for (const s of compositionScenarios) {
        const r = await s.run({ ready, backend, auth, load, interleaved, idleWorkers: idle.ready });
        for (const x of r) rows.push({ backend, ...x });
      }
    } finally {
      await stopServer(idle.child);
      await idleDb.drop().catch(() => undefined);
    }
  } finally {
    await stopServer(child);
    await db.drop().catch(() => undefined);
  }
  return rows;
}

function table(rows: Row[]): string {
  const out = [
    '| backend | scenario | req/s | one-SELECT req/s | × one-SELECT (median) | rounds | one-INSERT req/s | × one-INSERT (median) | rounds | p50 ms | p99 ms | non-2xx | note |',
    '|---|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---|',
  ];
  const rounds = (xs?: number[]) => (xs ? xs.map((x) => x.toFixed(2)).join(' ') : '');
  for (const r of rows) {
    const ratio = r.ratio !== undefined ? `**${r.ratio.toFixed(2)}**` : '';
    const insertRatio = r.insertRatio !== undefined ? `**${r.insertRatio.toFixed(2)}**` : '';
    out.push(
      `| ${r.backend} | ${r.scenario} | ${r.rps ? r.rps.toFixed(0) : ''} | ${r.baseRps ? r.baseRps.toFixed(0) : ''} | ${ratio} | ${rounds(r.ratios)} | ` +
        `${r.insertRps ? r.insertRps.toFixed(0) : ''} | ${insertRatio} | ${rounds(r.insertRatios)} | ${r.p50 ?? ''} | ${r.p99 ?? ''} | ${r.non2xx ?? ''} | ${r.note ?? ''} |`,
    );
  }
  return out.join('\n');
}

const machine = () =>
  `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
// start-up first, on an idle machine: the throughput scenarios leave the page cache and CPU warm
const startup = ONLY === '' || ONLY === 'startup' ? await benchStartup() : [];
if (ONLY === 'startup') {
  process.stdout.write(`\n${new Date().toISOString()} — ${machine()}\n\n${startupTable(startup)}\n`);
  process.exit(0);
}

const all: Row[] = [];
const growth: GrowthRow[] = [];
for (const b of BACKENDS) {
  if (b === 'postgres') {
    const probe = new pg.Client({ connectionString: PG_URL });
    const ok = await probe.connect().then(
      () => probe.end().then(() => true),
      () => false,
    );
    if (!ok) {
      process.stderr.write(`PostgreSQL at ${PG_URL} is not reachable: skipping the postgres backend\n`);
      continue;
    }
  }
  if (ONLY !== 'growth') all.push(...(await benchBackend(b)));
  if (ONLY === '' || ONLY === 'growth') growth.push(...(await benchGrowth({ backend: b, startServer, stopServer, createDatabase })));
}
process.stdout.write(
  `\n${new Date().toISOString()} — ${machine()}; ${CONNECTIONS} connections` +
    (all.length ? `, ${ROUNDS} rounds of ${DURATION} s per scenario, interleaved with its baseline` : '') +
    (growth.length ? `; growth: ${growthRounds()}` : '') +
    '\n' +
    (all.length ? `\n${table(all)}\n` : '') +
    (growth.length ? `\n${growthTable(growth)}\n` : '') +
    (startup.length ? `\n${startupTable(startup)}\n` : ''),
);
process.exit(0);
