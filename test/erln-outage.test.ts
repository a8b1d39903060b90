/**
 * ERLN down while МВТН are signed: ERLN_OUTAGE_COMPOSITIONS (100) conclusions are signed during an
 * outage of ERLN_OUTAGE_SECONDS (60); after it every task ends SUCCESS, ERLN holds exactly one record per
 * conclusion, and no conclusion was accepted twice. The in-process simulator (its state in the database),
 * on PGlite: the PostgreSQL run makes the same outage through the `http` adapter against `npm run erln-sim`,
 * with a worker killed mid-call (erln-outage-http.test.ts), so each engine pays for one 60-second outage.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { backend, startTestServer, waitFor, type Mis, type TestServer } from './support/harness.ts';
import { createBody, createDone, misOf, pollJob, seedWorld, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';

const COUNT = Number(process.env.ERLN_OUTAGE_COMPOSITIONS ?? 100);
const OUTAGE_SECONDS = Number(process.env.ERLN_OUTAGE_SECONDS ?? 60);

const skip = backend === 'postgres' ? 'PostgreSQL runs the outage through the http adapter (erln-outage-http.test.ts)' : false;

let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  if (skip) return;
  server = await startTestServer({
    env: {
      SIGNATURE_TRUST: 'any-test-ca',
      ERLN_RETRY_DELAY_SECONDS: '1',
      ERLN_RETRY_DELAY_MAX_SECONDS: '5',
      ERLN_MAX_TRIES: '100',
    },
  });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(() => server?.close());

/** `fn` over `items`, `width` at a time */
async function inBatches<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

test(
  `ERLN down for ${OUTAGE_SECONDS} s while ${COUNT} МВТН are signed: afterwards exactly ${COUNT} SL records, every task SUCCESS, none sent twice`,
  { skip },
  async () => {
    const admin = (body: unknown) => server.call('PUT', '/admin/erln', { admin: true, body });
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

    assert.equal((await admin({ mode: 'down' })).status, 200);
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
    // the outage lasts its time; every task is still PENDING (retrying), none gave up
    await new Promise((r) => setTimeout(r, Math.max(0, downSince + OUTAGE_SECONDS * 1000 - Date.now())));
    assert.equal(await count(`task_status = 'PENDING'`), COUNT);
    const unanswered = (await server.call('GET', '/admin/erln', { admin: true })).body.data.calls as { outcome: string }[];
    assert.ok(
      unanswered.some((c) => c.outcome === 'unavailable'),
      'the tasks called ERLN during the outage',
    );

    assert.equal((await admin({ mode: 'ok' })).status, 200);
    await waitFor(async () => (await count(`task_status <> 'PENDING'`)) === COUNT || undefined, 120_000, 250);
    assert.equal(await count(`task_status = 'DONE' AND integration_status = 'SUCCESS'`), COUNT);

    const records = await db.query<{ composition_id: string; n: number }>(
      `SELECT composition_id, count(*)::int AS n FROM erln_sim_records WHERE composition_id = ANY($1::uuid[]) GROUP BY composition_id`,
      [signed],
    );
    assert.equal(records.rows.length, COUNT, 'one SL record per conclusion');
    assert.ok(
      records.rows.every((r) => r.n === 1),
      'none twice',
    );
    const sl = await db.query<{ n: number }>(
      `SELECT count(DISTINCT details->>'SL_NUM')::int AS n FROM composition_integration_tasks WHERE composition_id = ANY($1::uuid[])`,
      [signed],
    );
    assert.equal(sl.rows[0]?.n, COUNT, 'every task holds its own SL number');
  },
);
