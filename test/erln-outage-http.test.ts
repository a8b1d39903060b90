/**
 * ERLN down while МВТН are signed, through the `http` adapter against `npm run erln-sim` (its command in
 * package.json, a process of its own), with the worker SIGKILLed while its calls are inside ERLN:
 * ERLN_OUTAGE_COMPOSITIONS (100) conclusions are signed during an outage of ERLN_OUTAGE_SECONDS (60);
 * then ERLN answers slowly, the worker is killed while it waits for two answers that ERLN goes on to
 * accept, and a second worker finishes the work. Afterwards: exactly one SL record per conclusion,
 * every task SUCCESS with its record's number, and the killed calls were answered again from ERLN's
 * idempotency keys, not created twice. PostgreSQL only: the worker processes share the database (the
 * in-process simulator's outage on PGlite is erln-outage.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { backend, call, startTestServer, waitFor, type Mis, type TestServer } from './support/harness.ts';
import { createBody, createDone, misOf, pollJob, seedWorld, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { WorkerProcesses, freePort, killProcess } from './support/processes.ts';
import type { SimCall, SimRecord } from '../src/erln/simulator.ts';

const COUNT = Number(process.env.ERLN_OUTAGE_COMPOSITIONS ?? 100);
const OUTAGE_SECONDS = Number(process.env.ERLN_OUTAGE_SECONDS ?? 60);
/** how long ERLN holds each answer after the outage: the worker is killed while two calls wait */
const SLOW_MS = 10_000;
const ERLN_TIMEOUT_MS = 15_000;
const RETRY_DELAY_MAX_SECONDS = 5;

const skip = backend !== 'postgres' ? 'needs PostgreSQL (TEST_DATABASE_URL): the worker processes share the database' : false;

let erlnSim: ChildProcess | undefined;
let erlnUrl = '';
const workers = new WorkerProcesses();
let server: TestServer;
let w: World;
let mis: Mis;

/** `npm run erln-sim` as package.json spells it, run with this Node (npm would leave its child behind when killed) */
async function startErlnSim(): Promise<string> {
  const port = await freePort();
  const script: string = JSON.parse(readFileSync('package.json', 'utf8')).scripts['erln-sim'];
  const [cmd, ...args] = script.split(/\s+/);
  assert.equal(cmd, 'node');
  erlnSim = spawn(process.execPath, args, { env: { ...process.env, ERLN_SIM_PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const child = erlnSim;
  await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`erln-sim exited with ${code}`)));
  });
  return `http://127.0.0.1:${port}`;
}

const sim = {
  put: (body: Record<string, unknown>) => call(erlnUrl, 'PUT', '/admin/erln', { body }),
  view: async () => (await call<{ records: SimRecord[]; calls: SimCall[] }>(erlnUrl, 'GET', '/admin/erln')).body,
};

before(async () => {
  if (skip) return;
  erlnUrl = await startErlnSim();
  server = await startTestServer({
    env: { WORKERS: 'off', SIGNATURE_TRUST: 'any-test-ca', ERLN_ADAPTER: 'http', ERLN_URL: erlnUrl },
    superviseIntervalSeconds: 1,
  });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(async () => {
  await workers.killAll();
  await server?.close();
  if (erlnSim) await killProcess(erlnSim, 'SIGTERM');
});

/** `fn` over `items`, `width` at a time */
async function inBatches<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

test(
  `http adapter + npm run erln-sim: ERLN down for ${OUTAGE_SECONDS} s while ${COUNT} МВТН are signed, the worker SIGKILLed mid-call: exactly ${COUNT} SL records, every task SUCCESS, none created twice`,
  { skip },
  async () => {
    const workerEnv = {
      DATABASE_URL: server.databaseUrl,
      WORKERS: 'on',
      JOB_LEASE_SECONDS: '5',
      SIGNATURE_TRUST: 'any-test-ca',
      ERLN_ADAPTER: 'http',
      ERLN_URL: erlnUrl,
      ERLN_TIMEOUT_MS: String(ERLN_TIMEOUT_MS),
      ERLN_MAX_TRIES: '100',
      ERLN_RETRY_DELAY_SECONDS: '1',
      ERLN_RETRY_DELAY_MAX_SECONDS: String(RETRY_DELAY_MAX_SECONDS),
    };
    const doomed = workers.spawn(workerEnv);

    const encounters = Array.from({ length: COUNT }, () => randomUUID());
    await server.fixtures({
      encounters: encounters.map((id) => ({
        id,
        person_id: w.personId,
        episode_id: w.episodeId,
        legal_entity_id: w.legalEntityId,
        employee_id: w.authorId,
      })),
    });
    const drafts = await inBatches(encounters, 25, (encounterId) => createDone(mis, createBody(w, { encounterId })));
    const signer = await makeSigner({ taxId: w.authorTaxId });

    // 1. ERLN down; every conclusion is signed meanwhile (signing never waits for ERLN)
    assert.equal((await sim.put({ mode: 'down' })).status, 200);
    const downSince = Date.now();
    const signed = await inBatches(drafts, 25, async (d) => {
      const r = await mis.call('PATCH', `/api/patients/composition/${d.id}/sign`, {
        body: { data: await signCms(signer, JSON.stringify(d.document)) },
      });
      assert.equal(r.status, 202, r.text);
      const job = await pollJob(mis, r.body.data.id, { timeoutMs: 60_000 });
      assert.equal(job.body.data.status, 'DONE', job.text);
      return d.id;
    });
    const db = server.runtime.platform.db;
    const count = async (where: string) =>
      Number(
        (
          await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM composition_integration_tasks WHERE composition_id = ANY($1::uuid[]) AND ${where}`,
            [signed],
          )
        ).rows[0]?.n,
      );
    await new Promise((r) => setTimeout(r, Math.max(0, downSince + OUTAGE_SECONDS * 1000 - Date.now())));
    assert.equal(await count(`task_status = 'PENDING'`), COUNT, 'every task still retrying after the outage, none gave up');
    assert.ok(
      (await sim.view()).calls.some((c) => c.outcome === 'unavailable'),
      'the tasks called ERLN during the outage',
    );
    assert.equal((await sim.view()).records.length, 0);

    // 2. ERLN back but slow: within one longest retry delay the worker's two calls (its concurrency) are
    //    inside ERLN, which holds each answer SLOW_MS; the worker dies there, ERLN then accepts them
    assert.equal((await sim.put({ mode: 'slow', delay_ms: SLOW_MS })).status, 200);
    await new Promise((r) => setTimeout(r, (RETRY_DELAY_MAX_SECONDS + 1) * 1000));
    assert.equal((await sim.view()).records.length, 0, 'no answer given yet: the calls are still held');
    await killProcess(doomed, 'SIGKILL');
    assert.equal((await sim.put({ mode: 'ok' })).status, 200);
    await waitFor(async () => (await sim.view()).records.length > 0 || undefined, SLOW_MS * 2, 200);
    const acceptedAfterKill = (await sim.view()).records.map((r) => r.composition_id);
    assert.ok(acceptedAfterKill.length >= 1, 'ERLN accepted calls of the killed worker');

    // 3. another worker finishes: the killed tasks come back after their lease and are answered from the idempotency key
    const rescuer = workers.spawn(workerEnv);
    await waitFor(async () => (await count(`task_status <> 'PENDING'`)) === COUNT || undefined, 180_000, 500);
    assert.equal(await count(`task_status = 'DONE' AND integration_status = 'SUCCESS'`), COUNT);

    const { records, calls } = await sim.view();
    const perComposition = new Map<string, number>();
    for (const r of records) perComposition.set(r.composition_id, (perComposition.get(r.composition_id) ?? 0) + 1);
    assert.equal(records.length, COUNT, 'exactly one SL record per conclusion');
    assert.deepEqual(
      signed.filter((id) => perComposition.get(id) !== 1),
      [],
      'every conclusion has one record',
    );
    const replayed = calls.filter((c) => c.outcome === 'replayed').map((c) => c.composition_id);
    assert.deepEqual(
      acceptedAfterKill.filter((id) => !replayed.includes(id)),
      [],
      'each record accepted after the kill was answered again from its idempotency key',
    );
    const tasks = await db.query<{ composition_id: string; sl: string }>(
      `SELECT composition_id, details->>'SL_NUM' AS sl FROM composition_integration_tasks WHERE composition_id = ANY($1::uuid[])`,
      [signed],
    );
    const slOf = new Map(records.map((r) => [r.composition_id, r.sl_num]));
    assert.deepEqual(
      tasks.rows.filter((t) => t.sl !== slOf.get(t.composition_id)),
      [],
      'every task holds the SL number ERLN gave its conclusion',
    );
    await killProcess(rescuer, 'SIGTERM');
  },
);
