/**
 * `npm run bench:profile -- <scenario>`: where the time of one benchmark scenario goes. Starts the
 * benchmark server (bench/server.ts), warms the route up, then loads it for BENCH_DURATION seconds
 * with the server's CPU profiler on (the load window only) and prints the profile summarised by self
 * time: per package / file group and the top functions. Scenarios: select, bare, resend, resend429, mr, jobPending, jobDone, create.
 *
 * PROF=0: no profiler (the req/s and ratio are then the benchmark's), only the per-statement table.
 * Env: BENCH_BACKENDS (one backend: pglite or postgres), BENCH_DURATION (s, default 6),
 * BENCH_CONNECTIONS (10), BENCH_PG_URL.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createScratchDatabase } from '../src/platform/db.ts';
import { createBody } from './compositions.ts';
import type { Ready } from './run.ts';

const scenario = process.argv[2] ?? 'select';

/** Seconds of CPU (user + system) used so far by all processes, summed by command name (Linux /proc). */
function cpuByCommand(): Map<string, number> {
  const hz = 100;
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const t = (Number(f[11]) + Number(f[12])) / hz;
      out.set(comm, (out.get(comm) ?? 0) + t);
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}
const backend = (process.env.BENCH_BACKENDS ?? 'pglite').split(',')[0];
const DURATION = Number(process.env.BENCH_DURATION ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const dir = mkdtempSync(join(tmpdir(), 'esoz-prof-'));
const db = backend === 'postgres' ? await createScratchDatabase(PG_URL, 'esoz_prof') : { url: 'memory://', drop: async () => undefined };
const idle = scenario === 'jobPending';
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], {
  env: {
    ...process.env,
    BENCH_SQL_STATS: '1',
    DATABASE_URL: db.url,
    PG_POOL_MAX: '10',
    ...(idle ? { WORKERS: 'off', BENCH_MR_COUNT: '1' } : {}),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const ready = await new Promise<Ready>((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  createInterface({ input: child.stdout! }).on('line', (l) => l.startsWith('READY ') && resolve(JSON.parse(l.slice(6))));
});
const auth = { authorization: `Bearer ${ready.token}`, 'api-key': ready.apiKey };

let url = `${ready.url}/bench/select`;
let method = 'GET';
let headers: Record<string, string> = {};
let path: ((i: number) => string) | undefined;
let nextBody: (() => string) | undefined;
if (scenario === 'bare') url = `${ready.bareUrl}/bare`;
if (scenario === 'resend') {
  url = ready.url;
  method = 'PATCH';
  headers = auth;
  path = (i) => `/api/medication_requests/${ready.mrIds[i % ready.mrIds.length]}/actions/resend`;
}
if (scenario === 'resend429') {
  url = `${ready.url}/api/medication_requests/${ready.demo.mrOtpId}/actions/resend`;
  for (let k = 0; k < 5; k++) await fetch(url, { method: 'PATCH', headers: auth });
  method = 'PATCH';
  headers = auth;
}
if (scenario === 'mr') {
  url = `${ready.url}/api/medication_requests/${ready.demo.mrThirdPersonId}`;
  headers = auth;
}
if (scenario === 'jobPending') {
  const ids: string[] = [];
  for (let n = 0; n < 100; n++) {
    const r = await fetch(`${ready.url}/api/patients/composition`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(createBody(ready.demo, 500 + n)),
    });
    ids.push(((await r.json()) as any).data.id);
  }
  url = ready.url;
  headers = auth;
  path = (i) => `/api/patients/composition/job/${ids[i % ids.length]}`;
}
if (scenario === 'jobDone') {
  const r = await fetch(`${ready.url}/api/patients/composition`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(createBody(ready.demo, 7)),
  });
  const id = ((await r.json()) as any).data.id;
  if (scenario === 'jobDone') await new Promise((r) => setTimeout(r, 500));
  url = `${ready.url}/api/patients/composition/job/${id}`;
  headers = auth;
}
if (scenario === 'create') {
  url = `${ready.url}/api/patients/composition`;
  method = 'POST';
  headers = { ...auth, 'content-type': 'application/json' };
  let n = 0;
  // a different body per request (identical pending requests are deduplicated)
  nextBody = () => JSON.stringify(createBody(ready.demo, 10_000 + n++));
}

let i = 0;
const run = (duration: number) =>
  autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    headers,
    requests: [
      {
        method: method as any,
        setupRequest: (req: any) => {
          if (path) req.path = path(i++);
          if (nextBody) req.body = nextBody();
          return req;
        },
      },
    ],
  });
// the one-SELECT baseline of the same server, before and after the scenario (its ratio is printed)
const baseline = async () =>
  (await autocannon({ url: `${ready.url}/bench/select`, connections: CONNECTIONS, duration: Math.min(DURATION, 4) })).requests.average;
await run(2);
const before = await baseline();
const profileFile = join(dir, 'load.cpuprofile');
await fetch(`${ready.url}/bench/sqlstats`);
const PROFILE = process.env.PROF !== '0';
const cpuBefore = cpuByCommand();
if (PROFILE) await fetch(`${ready.url}/bench/profile/start`, { method: 'POST' });
const result = await run(DURATION);
const cpuAfter = cpuByCommand();
if (PROFILE) await fetch(`${ready.url}/bench/profile/stop?file=${encodeURIComponent(profileFile)}`, { method: 'POST' });
const sqlStats = ((await (await fetch(`${ready.url}/bench/sqlstats`)).json()) as any).data as { sql: string; calls: number; ms: number }[];
const after = await baseline();
process.stderr.write(
  `${scenario} on ${backend}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, non-2xx ${result.non2xx}; ` +
    `one-SELECT ${before.toFixed(0)} → ${after.toFixed(0)} req/s; ratio ${(result.requests.average / ((before + after) / 2)).toFixed(2)} ${PROFILE ? '(profiler on)' : ''}\n`,
);

{
  // CPU time of the load window per command (server and load generator are both `node`; PostgreSQL
  // backends are `postgres`): what one request costs the machine, wherever it is spent
  const line = [...cpuAfter]
    .map(([cmd, t]) => [cmd, t - (cpuBefore.get(cmd) ?? 0)] as const)
    .filter(([, t]) => t > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([cmd, t]) => `${cmd} ${((t * 1000) / result.requests.total).toFixed(3)}`)
    .join(', ');
  process.stderr.write(`CPU ms per request: ${line}\n`);
}

const exited = new Promise((r) => child.once('exit', r));
child.kill('SIGTERM');
await exited;
await db.drop().catch(() => undefined);

if (!PROFILE) {
  for (const q of sqlStats.slice(0, 12))
    process.stdout.write(
      `${(q.calls / result.requests.total).toFixed(2).padStart(5)}  ${(q.ms / result.requests.total).toFixed(3).padStart(6)} ms  ${q.sql}\n`,
    );
  process.exit(0);
}
// ---- summarise the profile by self time ----
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const prof = JSON.parse(readFileSync(profileFile, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
prof.samples.forEach((id, k) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[k] ?? 0)));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const group = (u: string) => {
  if (!u) return '(native/vm)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1];
  if (u.startsWith('node:')) return u.split('/')[0];
  const s = /\/(src|bench)\/(.*)$/.exec(u);
  return s ? `${s[1]}/${s[2]}` : u;
};
const groups = new Map<string, number>();
const funcs = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const g = n.callFrame.url ? group(n.callFrame.url) : n.callFrame.functionName || '(anonymous)';
  groups.set(g, (groups.get(g) ?? 0) + t);
  const f = `${n.callFrame.functionName || '(anon)'} ${group(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  funcs.set(f, (funcs.get(f) ?? 0) + t);
}
const pct = (t: number) => ((100 * t) / total).toFixed(1).padStart(5) + '%';
process.stdout.write(`\nself time by group (${(total / 1e6).toFixed(1)} s sampled, ${result.requests.total} requests)\n`);
for (const [g, t] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`${pct(t)}  ${g}\n`);
process.stdout.write('\ntop functions by self time\n');
for (const [f, t] of [...funcs].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROF_TOP ?? 40)))
  process.stdout.write(`${pct(t)}  ${f}\n`);
if (sqlStats.length) {
  process.stdout.write(`\nengine time per statement (per request: calls, ms)\n`);
  for (const q of sqlStats.slice(0, 25)) {
    process.stdout.write(
      `${(q.ms / 1000).toFixed(2).padStart(6)} s  ${(q.calls / result.requests.total).toFixed(2).padStart(5)}  ${(q.ms / result.requests.total).toFixed(3).padStart(6)} ms  ${q.sql}\n`,
    );
  }
}
process.exit(0);
