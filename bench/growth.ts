/**
 * Growth: does a request get slower as the tables fill up? Two bench servers of the same backend run
 * side by side, one with BENCH_GROWTH_SMALL rows in each growing table (medication requests,
 * compositions with their jobs, SMS attempts and outbox rows; bench/growth-fill.ts) and one with
 * BENCH_GROWTH_LARGE. Each scenario runs in BENCH_GROWTH_ROUNDS rounds on both, alternating which goes first
 * (S L, L S, …) so that the machine's drift falls on both sides; a round's figure is the large
 * server's p50 latency over the small one's, and the table shows the median round. Target ≤ 1.2×.
 *
 * Latency is measured here, not by autocannon: its histogram keeps whole milliseconds, and a 1.2×
 * target on a 2 ms p50 needs the fractions. The client is a closed loop of BENCH_CONNECTIONS
 * keep-alive connections (node:http), each sending its next request when the last one answered.
 *
 * Both servers run with WORKERS=off (a PENDING job stays PENDING, so its status is the database path)
 * and MR_MAX_ATTEMPTS_COUNT=1000 (every resend is the 200 path, however many rounds ran: a sample id is
 * resent a few times per run, the same on both sides).
 *
 * Env: BENCH_GROWTH_SMALL (10000), BENCH_GROWTH_LARGE (1000000 on PostgreSQL, 200000 on PGlite),
 * BENCH_GROWTH_SAMPLE (10000 MR ids spread over the table, half resent, half read),
 * BENCH_GROWTH_ROUNDS (5: short rounds, and a latency ratio is noisier than a throughput one),
 * BENCH_GROWTH_DURATION (s per round, 3).
 */
import http from 'node:http';
import { createBody } from './compositions.ts';
import type { Ready } from './run.ts';

const ROUNDS = Number(process.env.BENCH_GROWTH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const DURATION = Number(process.env.BENCH_GROWTH_DURATION ?? 3);
const PENDING_JOBS = 100;
export const TARGET = 1.2;

export const growthRounds = () => `${ROUNDS} rounds of ${DURATION} s on each side, alternating`;

export function growthSizes(backend: string): { small: number; large: number } {
  return {
    small: Number(process.env.BENCH_GROWTH_SMALL ?? 10_000),
    large: Number(process.env.BENCH_GROWTH_LARGE ?? (backend === 'postgres' ? 1_000_000 : 200_000)),
  };
}

export interface GrowthReady extends Ready {
  growth: { rows: number; resendIds: string[]; getIds: string[] };
}

export interface GrowthRow {
  backend: string;
  scenario: string;
  small: number;
  large: number;
  smallP50: number;
  largeP50: number;
  /** median over the rounds of large p50 ÷ small p50 */
  ratio: number;
  ratios: number[];
  smallRps: number;
  largeRps: number;
  non2xx: number;
  note?: string;
}

interface Timed {
  p50: number;
  p99: number;
  rps: number;
  non2xx: number;
}

const quantile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** A closed loop of `connections` keep-alive clients for `seconds`; latency per request in fractional ms. */
async function timedLoad(
  base: string,
  req: { method?: string; headers?: Record<string, string>; path: () => string; body?: () => string },
  seconds: number,
  connections = CONNECTIONS,
): Promise<Timed> {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let non2xx = 0;
  const until = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const body = req.body?.();
      const t0 = performance.now();
      const r = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: req.method ?? 'GET',
          path: req.path(),
          agent,
          headers: { ...req.headers, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            if (res.statusCode! < 200 || res.statusCode! > 299) non2xx++;
            resolve();
          });
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), rps: latencies.length / elapsed, non2xx };
}

export interface GrowthContext {
  backend: string;
  startServer(env: Record<string, string>): Promise<{ ready: Ready; child: import('node:child_process').ChildProcess }>;
  stopServer(child: import('node:child_process').ChildProcess): Promise<void>;
  createDatabase(): Promise<{ url: string; drop(): Promise<void> }>;
}

export async function benchGrowth({ backend, startServer, stopServer, createDatabase }: GrowthContext): Promise<GrowthRow[]> {
  const { small, large } = growthSizes(backend);
  const log = (s: string) => process.stderr.write(`[${backend}] growth: ${s}\n`);
  const memory = { url: 'memory://', drop: async () => undefined };
  const dbs = backend === 'postgres' ? [await createDatabase(), await createDatabase()] : [memory, memory];
  const env = (rows: number, url: string) => ({
    DATABASE_URL: url,
    PG_POOL_MAX: '10',
    WORKERS: 'off',
    MR_MAX_ATTEMPTS_COUNT: '1000',
    BENCH_MR_COUNT: '0',
    BENCH_GROWTH_ROWS: String(rows),
  });
  const servers: { ready: GrowthReady; child: import('node:child_process').ChildProcess }[] = [];
  const rows: GrowthRow[] = [];
  try {
    // one after the other: filling is the heaviest part, and two fills at once would only slow both
    for (const [i, n] of [small, large].entries()) {
      log(`filling ${n} rows per table`);
      const s = await startServer(env(n, dbs[i].url));
      servers.push({ ready: s.ready as GrowthReady, child: s.child });
    }
    const sides = servers.map(({ ready }) => {
      const auth = { authorization: `Bearer ${ready.token}`, 'api-key': ready.apiKey };
      return { ready, auth, next: { resend: 0, get: 0, job: 0 }, pending: [] as string[] };
    });
    for (const side of sides) {
      for (let i = 0; i < PENDING_JOBS; i++) {
        const r = await fetch(`${side.ready.url}/api/patients/composition`, {
          method: 'POST',
          headers: { ...side.auth, 'content-type': 'application/json' },
          body: JSON.stringify(createBody(side.ready.demo, 900_000 + i)),
        });
        const json: any = await r.json();
        if (r.status !== 202) throw new Error(`create: ${r.status} ${JSON.stringify(json)}`);
        side.pending.push(json.data.id);
      }
    }
    type Side = (typeof sides)[number];
    const scenarios: { name: string; note: string; request(side: Side): Parameters<typeof timedLoad>[1] }[] = [
      {
        name: 'resend, distinct MRs (200)',
        note: 'filler MRs spread over the table, each resent a few times',
        request: (side) => ({
          method: 'PATCH',
          headers: side.auth,
          path: () =>
            `/api/medication_requests/${side.ready.growth.resendIds[side.next.resend++ % side.ready.growth.resendIds.length]}/actions/resend`,
        }),
      },
      {
        name: 'GET medication request, distinct MRs',
        note: 'filler MRs spread over the table, read round-robin',
        request: (side) => ({
          headers: side.auth,
          path: () => `/api/medication_requests/${side.ready.growth.getIds[side.next.get++ % side.ready.growth.getIds.length]}`,
        }),
      },
      {
        name: 'job status GET, PENDING job',
        note: `${PENDING_JOBS} PENDING jobs polled round-robin among the DONE ones of the fill`,
        request: (side) => ({
          headers: side.auth,
          path: () => `/api/patients/composition/job/${side.pending[side.next.job++ % side.pending.length]}`,
        }),
      },
    ];
    for (const s of scenarios) {
      for (const side of sides) await timedLoad(side.ready.url, s.request(side), 1); // warm-up
      const rounds: { small: Timed; large: Timed; ratio: number }[] = [];
      for (let k = 0; k < ROUNDS; k++) {
        const order = k % 2 === 0 ? [0, 1] : [1, 0];
        const got: Timed[] = [];
        for (const i of order) got[i] = await timedLoad(sides[i].ready.url, s.request(sides[i]), DURATION);
        rounds.push({ small: got[0], large: got[1], ratio: got[1].p50 / got[0].p50 });
      }
      const mid = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)];
      const row: GrowthRow = {
        backend,
        scenario: s.name,
        small,
        large,
        smallP50: mid.small.p50,
        largeP50: mid.large.p50,
        ratio: mid.ratio,
        ratios: rounds.map((r) => r.ratio),
        smallRps: mid.small.rps,
        largeRps: mid.large.rps,
        non2xx: rounds.reduce((n, r) => n + r.small.non2xx + r.large.non2xx, 0),
        note: s.note,
      };
      rows.push(row);
      log(
        `${s.name}: p50 ${row.smallP50.toFixed(2)} → ${row.largeP50.toFixed(2)} ms, ${row.ratio.toFixed(2)}× ` +
          `(rounds ${row.ratios.map((x) => x.toFixed(2)).join(' ')}), non-2xx ${row.non2xx}`,
      );
    }
  } finally {
    for (const s of servers) await stopServer(s.child);
    for (const db of dbs) await db.drop().catch(() => undefined);
  }
  return rows;
}

export function growthTable(rows: GrowthRow[]): string {
  const out = [
    `| backend | growth scenario | rows per table, small → large | small p50 ms | large p50 ms | large ÷ small p50 (median) | rounds | ≤ ${TARGET}× | req/s small / large | non-2xx | note |`,
    '|---|---|---|---:|---:|---:|---|---|---|---:|---|',
  ];
  for (const r of rows)
    out.push(
      `| ${r.backend} | ${r.scenario} | ${r.small} → ${r.large} | ${r.smallP50.toFixed(2)} | ${r.largeP50.toFixed(2)} | **${r.ratio.toFixed(2)}** | ` +
        `${r.ratios.map((x) => x.toFixed(2)).join(' ')} | ${r.ratio <= TARGET ? 'yes' : '**no**'} | ${r.smallRps.toFixed(0)} / ${r.largeRps.toFixed(0)} | ${r.non2xx} | ${r.note ?? ''} |`,
    );
  return out.join('\n');
}
