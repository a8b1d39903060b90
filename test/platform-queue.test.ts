import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, waitFor, type TestServer } from './support/harness.ts';
import { testCapability, type TestCapabilityState } from './support/test-capability.ts';

let server: TestServer;
const state: TestCapabilityState = { handled: [], failFirst: new Map() };

before(async () => {
  // workers off: the lease test claims a job as a "dead" consumer before any worker runs
  server = await startTestServer({ env: { WORKERS: 'off' }, superviseIntervalSeconds: 1, extraCapabilities: [testCapability(state)] });
});
after(() => server.close());

const countJobs = async (key: string) => {
  const r = await server.runtime.platform.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'platform-test' AND data->>'key' = $1`, [key]);
  return r.rows[0].n;
};

test('a crashed consumer loses its lease: the job is delivered again to a live worker', async () => {
  const { queue } = server.runtime.platform;
  await queue.send('platform-test', { key: 'lease' });
  // a consumer claims the job and dies without completing it
  const claimed = await queue.boss.fetch('platform-test');
  assert.equal(claimed?.length, 1);
  assert.equal((claimed![0].data as any).key, 'lease');
  await queue.work();
  const delivered = await waitFor(async () => state.handled.find((h) => h.data.key === 'lease'), 20_000);
  assert.equal(delivered.id, claimed![0].id);
  assert.ok(delivered.retryCount >= 1, 'the second delivery is a retry of the same job');
});

test('enqueue inside a transaction: rolled back → no job; committed → delivered once', async () => {
  const { db, queue } = server.runtime.platform;
  await db.exec('CREATE TABLE IF NOT EXISTS platform_test_rows (key text PRIMARY KEY)');
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query('INSERT INTO platform_test_rows(key) VALUES ($1)', ['rolled-back']);
      await queue.send('platform-test', { key: 'rolled-back' }, { tx });
      throw new Error('domain failure after enqueue');
    }),
    /domain failure/,
  );
  assert.equal(await countJobs('rolled-back'), 0);
  assert.equal((await db.query('SELECT 1 FROM platform_test_rows WHERE key = $1', ['rolled-back'])).rowCount, 0);

  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO platform_test_rows(key) VALUES ($1)', ['committed']);
    await queue.send('platform-test', { key: 'committed' }, { tx });
  });
  assert.equal(await countJobs('committed'), 1);
  await waitFor(async () => state.handled.some((h) => h.data.key === 'committed'));
  // give a duplicate delivery a chance to show up
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(state.handled.filter((h) => h.data.key === 'committed').length, 1);
  assert.equal(state.handled.some((h) => h.data.key === 'rolled-back'), false);
});

test('a failing job is retried until it succeeds', async () => {
  state.failFirst.set('flaky', 2);
  await server.runtime.platform.queue.send('platform-test', { key: 'flaky' });
  const done = await waitFor(async () => state.handled.find((h) => h.data.key === 'flaky'), 20_000);
  assert.equal(done.retryCount, 2);
});
