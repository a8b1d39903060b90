/**
 * The SMS timeout procedure is atomic: 200 concurrent resends of one MR with MR_MAX_ATTEMPTS_COUNT=3
 * give exactly 3 × 200 (3 queued SMS, 3 attempts) and 197 × 429.
 * PGlite: one server. PostgreSQL: TWO API runtimes on the same database, requests split between them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, backend, waitFor, type TestServer, type Mis } from './support/harness.ts';
import { seedRegistry, addMr, R, resendPath } from './eprescription-helpers.ts';

let a: TestServer;
let b: TestServer | undefined;

before(async () => {
  a = await startTestServer({ env: { MR_MAX_ATTEMPTS_COUNT: '3' } });
  await seedRegistry(a.runtime.platform.db);
  if (backend === 'postgres') b = await startTestServer({ env: { MR_MAX_ATTEMPTS_COUNT: '3' }, databaseUrl: a.databaseUrl });
});
after(async () => {
  await b?.close(); // the second server does not own the database
  await a?.close();
});

async function burst(clients: Mis[], mrId: string, n: number) {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => clients[i % clients.length].call('PATCH', resendPath(mrId))));
  const byStatus = new Map<number, number>();
  for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  return { results, byStatus };
}

test(`200 concurrent resends of one MR → exactly 3 SMS and 197 × 429 (${backend}${backend === 'postgres' ? ', two API processes' : ''})`, async () => {
  const mr = await addMr(a);
  const ca = await a.mis({ legalEntityId: R.legalEntityId });
  const clients = [ca];
  if (b) {
    // the second runtime authenticates the same client from the shared database
    clients.push({ ...ca, call: (method, path, o = {}) => b!.call(method, path, { token: ca.token, apiKey: ca.secret, ...o }) });
  }
  const { results, byStatus } = await burst(clients, mr.id, 200);
  assert.deepEqual(Object.fromEntries(byStatus), { 200: 3, 429: 197 }, JSON.stringify(results.find((r) => r.status >= 500)?.body));
  for (const r of results.filter((x) => x.status === 429)) {
    assert.equal(r.body.error.type, 'sms_timeout');
    assert.match(
      r.body.error.message,
      /^Sending SMS timeout\. Try later\. Next attempt will be available at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/,
    );
  }
  const db = a.runtime.platform.db;
  const outbox = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_outbox WHERE entity_id = $1`, [mr.id])).rows[0].n;
  const attempts = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_attempts WHERE entity_id = $1`, [mr.id])).rows[0].n;
  assert.equal(outbox, 3);
  assert.equal(attempts, 3);
  // the relay puts each of the 3 rows into exactly one delivery job (rows are batched: ≤ 3 jobs)
  const jobbed = await waitFor(async () => {
    const r = await db.query<{ id: string }>(
      `SELECT x.id FROM pgboss.job j, jsonb_array_elements_text(j.data->'outbox_ids') x(id)
        WHERE j.name = 'sms-delivery' AND x.id IN (SELECT id::text FROM sms_outbox WHERE entity_id = $1)`,
      [mr.id],
    );
    return r.rows.length >= 3 && r.rows;
  });
  assert.equal(jobbed.length, 3);
  assert.equal(new Set(jobbed.map((r) => r.id)).size, 3);
  // every 429 names the same next time: oldest live attempt + MR_SEND_TIMEOUT
  assert.equal(new Set(results.filter((x) => x.status === 429).map((r) => r.body.error.message)).size, 1);
});

test("concurrent resends of different MRs do not block each other's windows", async () => {
  const ca = await a.mis({ legalEntityId: R.legalEntityId });
  const mrs = await Promise.all(Array.from({ length: 5 }, () => addMr(a)));
  const results = await Promise.all(mrs.flatMap((mr) => Array.from({ length: 10 }, () => ca.call('PATCH', resendPath(mr.id)))));
  assert.equal(results.filter((r) => r.status === 200).length, 15);
  assert.equal(results.filter((r) => r.status === 429).length, 35);
});
