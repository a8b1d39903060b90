/**
 * Compositions scenarios: job-status GET of a PENDING job and of a finished job (as ratios to the
 * one-SELECT baseline), the create's and the sign's accept (202) as ratios to the one-SELECT and the
 * one-INSERT baselines, create→DONE latency when idle, sustained compositions/s, and the share of jobs finished
 * by the eta of their 202.
 */
import autocannon from 'autocannon';
import type { Ready, Row } from './run.ts';

export interface ScenarioContext {
  ready: Ready;
  backend: string;
  auth: Record<string, string>;
  load: typeof import('./run.ts').load;
  interleaved: typeof import('./run.ts').interleaved;
  /** a second server of the same backend with WORKERS=off (jobs stay PENDING there) */
  idleWorkers?: Ready;
}

/** PENDING jobs the job-status scenario polls (each poll's eta counts the jobs queued before it). */
const PENDING_JOBS = 100;

const ref = (code: string, value: string) => ({ type: { coding: [{ system: 'eHealth/resources', code }] }, value });

export function createBody(demo: Record<string, string>, i: number) {
  const day = new Date(Date.UTC(2026, 0, 1) + (i % 3000) * 86400_000);
  const end = new Date(day.getTime() + (1 + (Math.floor(i / 3000) % 20)) * 86400_000);
  const d = (x: Date) => x.toISOString().slice(0, 10);
  return {
    type: { coding: [{ system: 'COMPOSITION_TYPES', code: 'TEMP_DISABILITY' }] },
    category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: 'SICKNESS' }] },
    event: [
      {
        code: { coding: [{ system: 'COMPOSITION_EVENTS', code: 'COMPOSITION_VALIDITY_PERIOD' }] },
        period: { start: `${d(day)}T00:00:01Z`, end: `${d(end)}T20:59:59Z` },
      },
    ],
    subject: ref('person', demo.personOtpId),
    encounter: ref('encounter', demo.encounterId),
    author: ref('employee', demo.doctorEmployeeId),
    section: { focus: ref('person', demo.personOtpId) },
  };
}

async function post(ready: Ready, auth: Record<string, string>, body: unknown) {
  const r = await fetch(`${ready.url}/api/patients/composition`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json: any = await r.json();
  if (r.status !== 202) throw new Error(`create: ${r.status} ${JSON.stringify(json)}`);
  return json.data as { id: string; eta: string; status: string };
}

async function jobState(ready: Ready, auth: Record<string, string>, id: string) {
  const r = await fetch(`${ready.url}/api/patients/composition/job/${id}`, { headers: auth });
  return ((await r.json()) as any).data as { status: string; eta: string };
}

async function untilFinished(ready: Ready, auth: Record<string, string>, id: string, everyMs = 2) {
  for (;;) {
    const s = await jobState(ready, auth, id);
    if (s.status !== 'PENDING') return s;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

/**
 * Sustained creates: `connections` MIS clients (autocannon, so the load generator stays light on the
 * shared cores) create compositions for `seconds`; then the bench waits until the server has no
 * PENDING job left (GET /bench/pending, one count) and reads every job once through the job-status
 * API, checking it is DONE. Compositions per second = DONE jobs / (first POST → last read).
 */
export async function sustained(ready: Ready, auth: Record<string, string>, seconds: number, connections: number) {
  const ids: string[] = [];
  let n = 1000;
  const t0 = performance.now();
  const post = await autocannon({
    url: ready.url,
    connections,
    duration: seconds,
    headers: { ...auth, 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        path: '/api/patients/composition',
        setupRequest: (req: any) => ({ ...req, body: JSON.stringify(createBody(ready.demo, n++)) }),
        onResponse: (status: number, body: string) => {
          if (status === 202) ids.push(JSON.parse(body).data.id);
        },
      },
    ],
  });
  const posting = (performance.now() - t0) / 1000;
  for (;;) {
    const pending = ((await (await fetch(`${ready.url}/bench/pending`)).json()) as any).data.pending;
    if (pending === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const unique = [...new Set(ids)];
  let done = 0;
  let k = 0;
  await autocannon({
    url: ready.url,
    connections: 10,
    amount: unique.length,
    headers: auth,
    requests: [
      {
        method: 'GET',
        setupRequest: (req: any) => ({ ...req, path: `/api/patients/composition/job/${unique[k++]}` }),
        onResponse: (status: number, body: string) => {
          if (status === 200 && JSON.parse(body).data.status === 'DONE') done++;
        },
      },
    ],
  });
  const total = (performance.now() - t0) / 1000;
  return {
    created: unique.length,
    done,
    notDone: unique.length - done,
    posting,
    seconds: total,
    perSecond: done / total,
    postRate: unique.length / posting,
    postP50: post.latency.p50,
    postP99: post.latency.p99,
  };
}

export const compositionScenarios: { name: string; run(ctx: ScenarioContext): Promise<Omit<Row, 'backend'>[]> }[] = [
  {
    name: 'compositions',
    async run({ ready, auth, load, interleaved, idleWorkers, backend }) {
      const rows: Omit<Row, 'backend'>[] = [];
      const log = (s: string) => process.stderr.write(`[${backend}] ${s}\n`);

      if (idleWorkers) {
        // PENDING_JOBS distinct jobs waiting in the queue (no worker runs on this server), polled round-robin
        const idleAuth = { authorization: `Bearer ${idleWorkers.token}`, 'api-key': idleWorkers.apiKey };
        const pending: string[] = [];
        for (let i = 0; i < PENDING_JOBS; i++)
          pending.push((await post(idleWorkers, idleAuth, createBody(idleWorkers.demo, 900_000 + i))).id);
        let k = 0;
        const poll = {
          url: idleWorkers.url,
          headers: idleAuth,
          path: () => `/api/patients/composition/job/${pending[k++ % pending.length]}`,
        };
        await load({ ...poll, duration: 2 });
        const r = await interleaved({ url: `${idleWorkers.url}/bench/select` }, poll);
        rows.push({
          scenario: 'job status GET, PENDING job',
          ...r,
          baseRps: r.baseRps,
          note: `${PENDING_JOBS} distinct PENDING jobs polled round-robin, on a WORKERS=off server (jobs stay PENDING), against its one-SELECT route`,
        });
        log(`job status PENDING: ${r.rps.toFixed(0)} req/s ratio ${r.ratio.toFixed(2)} (${r.ratios.map((x) => x.toFixed(2)).join(' ')})`);

        // the accept alone: distinct bodies (no dedupe), no worker takes the jobs; last on this server,
        // since it leaves thousands of PENDING jobs behind
        let n = 1000; // past the PENDING jobs' bodies above (createBody repeats every 60 000)
        const create = {
          url: `${idleWorkers.url}/api/patients/composition`,
          method: 'POST',
          headers: idleAuth,
          bodyFor: () => JSON.stringify(createBody(idleWorkers.demo, n++)),
        };
        await load({ ...create, duration: 2 });
        const c = await interleaved({ url: `${idleWorkers.url}/bench/select` }, create, {
          url: `${idleWorkers.url}/bench/insert`,
          method: 'POST',
        });
        rows.push({
          scenario: 'create (202 accept), WORKERS=off server',
          ...c,
          note: 'distinct bodies; the accept only (job row + queue job, one commit per batch), against that server’s baselines',
        });
        log(
          `create accept: ${c.rps.toFixed(0)} req/s ratio ${c.ratio.toFixed(2)} (${c.ratios.map((x) => x.toFixed(2)).join(' ')}), ` +
            `× one-INSERT ${c.insertRatio!.toFixed(2)} (${c.insertRatios!.map((x) => x.toFixed(2)).join(' ')})`,
        );

        // the sign's accept: distinct CMS-sized bodies (the signature is verified by the job, not here)
        // over compositions of the caller's legal entity made by the bench server
        let m = 0;
        const ids = idleWorkers.compositionIds;
        const pad = 'x'.repeat(3000);
        const sign = {
          url: idleWorkers.url,
          method: 'PATCH',
          headers: idleAuth,
          path: (i: number) => `/api/patients/composition/${ids[i % ids.length]}/sign`,
          bodyFor: () => JSON.stringify({ data: Buffer.from(JSON.stringify({ n: m++, pad })).toString('base64') }),
        };
        await load({ ...sign, duration: 2 });
        const g = await interleaved({ url: `${idleWorkers.url}/bench/select` }, sign, {
          url: `${idleWorkers.url}/bench/insert`,
          method: 'POST',
        });
        rows.push({
          scenario: 'sign (202 accept), WORKERS=off server',
          ...g,
          note: `distinct 4 KB bodies over ${ids.length} compositions; the accept only (custodian read, job row + queue job)`,
        });
        log(
          `sign accept: ${g.rps.toFixed(0)} req/s ratio ${g.ratio.toFixed(2)} (${g.ratios.map((x) => x.toFixed(2)).join(' ')}), ` +
            `× one-INSERT ${g.insertRatio!.toFixed(2)} (${g.insertRatios!.map((x) => x.toFixed(2)).join(' ')})`,
        );
      }

      // create → DONE when idle, one at a time, polling every 2 ms
      const latencies: number[] = [];
      let lastDone = '';
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        const job = await post(ready, auth, createBody(ready.demo, i));
        const s = await untilFinished(ready, auth, job.id);
        latencies.push(performance.now() - t0);
        if (s.status === 'DONE') lastDone = job.id;
      }
      rows.push({
        scenario: 'create → DONE, idle (100 sequential)',
        rps: 0,
        p50: Math.round(pct(latencies, 0.5)),
        p99: Math.round(pct(latencies, 0.99)),
        non2xx: 0,
        note: 'client-side, POST to DONE seen by 2 ms polling',
      });
      log(`create→DONE p50 ${pct(latencies, 0.5).toFixed(1)} ms p99 ${pct(latencies, 0.99).toFixed(1)} ms`);

      await load({ url: `${ready.url}/api/patients/composition/job/${lastDone}`, headers: auth, duration: 2 });
      const done = await interleaved(
        { url: `${ready.url}/bench/select` },
        { url: `${ready.url}/api/patients/composition/job/${lastDone}`, headers: auth },
      );
      rows.push({ scenario: 'job status GET, DONE job', ...done });
      log(
        `job status DONE: ${done.rps.toFixed(0)} req/s ratio ${done.ratio.toFixed(2)} (${done.ratios.map((x) => x.toFixed(2)).join(' ')})`,
      );

      // sustained: 20 concurrent MIS clients creating for 10 s, then until every job is finished
      const sus = await sustained(ready, auth, 10, 20);
      rows.push({
        scenario: 'sustained create → DONE',
        rps: sus.perSecond,
        p50: sus.postP50,
        p99: sus.postP99,
        non2xx: sus.notDone,
        note:
          `${sus.done} compositions created, processed and read back DONE in ${sus.seconds.toFixed(1)} s ` +
          `(20 clients creating for ${sus.posting.toFixed(1)} s at ${sus.postRate.toFixed(0)}/s, then until drained); p50/p99: the POST`,
      });
      log(
        `sustained: ${sus.perSecond.toFixed(0)} compositions/s (${sus.created} created in ${sus.posting.toFixed(1)} s, all finished after ${sus.seconds.toFixed(1)} s)`,
      );

      const metrics = await (await fetch(`${ready.url}/metrics`)).text();
      await new Promise((r) => setTimeout(r, 11_000)); // the eta gauge is refreshed every 10 s
      const fresh = await (await fetch(`${ready.url}/metrics`)).text();
      const g = (text: string, result: string) =>
        Number(new RegExp(`esoz_composition_jobs_eta\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      const before = g(fresh || metrics, 'before_eta');
      const after = g(fresh || metrics, 'after_eta');
      rows.push({
        scenario: 'jobs finished by their first eta',
        rps: 0,
        p50: 0,
        p99: 0,
        non2xx: 0,
        note: `${before} of ${before + after} = ${((100 * before) / Math.max(1, before + after)).toFixed(1)}% (all jobs of this run)`,
      });
      log(`finished by first eta: ${before}/${before + after}`);
      return rows;
    },
  },
];
