import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, waitFor, type TestServer } from './support/harness.ts';
import { testCapability, type TestCapabilityState } from './support/test-capability.ts';
import { queueSettingChanges } from '../src/platform/queue.ts';

let server: TestServer;
const state: TestCapabilityState = { handled: [], failFirst: new Map() };

before(async () => {
  // workers off: the lease test claims a job as a "dead" consumer before any worker runs
  server = await startTestServer({ env: { WORKERS: 'off' }, superviseIntervalSeconds: 1, extraCapabilities: [testCapability(state)] });
});
after(() => server.close());

const countJobs = async (key: string) => {
  const r = await server.runtime.platform.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'platform-test' AND data->>'key' = $1`,
    [key],
  );
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
  assert.equal(
    state.handled.some((h) => h.data.key === 'rolled-back'),
    false,
  );
});

test('a failing job is retried until it succeeds', async () => {
  state.failFirst.set('flaky', 2);
  await server.runtime.platform.queue.send('platform-test', { key: 'flaky' });
  const done = await waitFor(async () => state.handled.find((h) => h.data.key === 'flaky'), 20_000);
  assert.equal(done.retryCount, 2);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('relay: runs on its interval after start, also with WORKERS=off', async () => {
  const { queue } = server.runtime.platform;
  let runs = 0;
  queue.defineRelay(
    'test-interval',
    async () => {
      runs++;
      return 0;
    },
    50,
  );
  await waitFor(async () => runs >= 4, 5_000);
});

test('relay: nudge runs it at once; runs never overlap; a nudge during a run makes exactly one more run', async () => {
  const { queue } = server.runtime.platform;
  let runs = 0;
  let active = 0;
  let maxActive = 0;
  let release: (() => void) | undefined;
  queue.defineRelay(
    'test-nudge',
    async () => {
      runs++;
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((r) => (release = r));
      active--;
      return 1;
    },
    3_600_000,
  );
  // defining it on a started queue runs it once at once (work left from before)
  await waitFor(async () => runs === 1);
  release!();
  await waitFor(async () => active === 0);
  const first = queue.nudge('test-nudge');
  await waitFor(async () => runs === 2);
  // five nudges during the run: they all wait for the same follow-up run
  const more = [1, 2, 3, 4, 5].map(() => queue.nudge('test-nudge'));
  await sleep(50);
  assert.equal(runs, 2, 'no run starts while one is running');
  release!();
  await waitFor(async () => runs === 3);
  release!();
  await Promise.all([first, ...more]);
  assert.equal(runs, 3);
  assert.equal(maxActive, 1);
  await sleep(50);
  assert.equal(runs, 3);
  assert.throws(() => queue.nudge('no-such-relay'), /unknown relay/);
});

test('relay: a failing run is logged, not thrown, and the relay keeps running', async () => {
  const { queue } = server.runtime.platform;
  let runs = 0;
  queue.defineRelay(
    'test-failing',
    async () => {
      runs++;
      if (runs === 2) throw new Error('relay failure (test)');
      return 0;
    },
    3_600_000,
  );
  await waitFor(async () => runs === 1);
  await queue.nudge('test-failing');
  assert.equal(runs, 2);
  await queue.nudge('test-failing');
  assert.equal(runs, 3);
});

test('relay: stop() stops the timers and waits for a running relay; nudges after stop do nothing', async () => {
  const s = await startTestServer({ env: { WORKERS: 'off' } });
  const { queue } = s.runtime.platform;
  let runs = 0;
  let finished = 0;
  queue.defineRelay(
    'test-stop',
    async () => {
      runs++;
      await sleep(300);
      finished++;
      return 0;
    },
    20,
  );
  await waitFor(async () => runs >= 1);
  await s.close();
  assert.equal(finished, runs, 'the running relay finished before stop() resolved');
  const after = runs;
  await queue.nudge('test-stop');
  await sleep(100);
  assert.equal(runs, after);
});

test("relay: minGapMs — an idle relay runs at once when nudged; nudges within the gap share one run at the gap's end", async () => {
  const { queue } = server.runtime.platform;
  const starts: number[] = [];
  queue.defineRelay(
    'test-gap',
    async () => {
      starts.push(Date.now());
      return 0;
    },
    3_600_000,
    { minGapMs: 300 },
  );
  await waitFor(async () => starts.length === 1); // the run at definition
  const t0 = starts[0];
  const nudges = [1, 2, 3, 4].map(() => queue.nudge('test-gap'));
  await sleep(100);
  assert.equal(starts.length, 1, 'no run within the gap');
  await Promise.all(nudges);
  assert.equal(starts.length, 2, 'the nudges within the gap shared one run');
  assert.ok(starts[1] - t0 >= 290, `second run ${starts[1] - t0} ms after the first`);
  await sleep(350);
  const before = Date.now();
  await queue.nudge('test-gap');
  assert.equal(starts.length, 3);
  assert.ok(starts[2] - before < 100, 'an idle relay runs at once');
});

test('settings that differ from the queue stored in the database are named (start warns with them)', async () => {
  // what start() gave the test queue (test-capability.ts), as pg-boss reports it back
  const stored = (await server.runtime.platform.queue.boss.getQueue('platform-test')) as unknown as Record<string, unknown>;
  const same = { notify: true, retryLimit: 5, retryDelay: 1, retryBackoff: false, expireInSeconds: 2, deleteAfterSeconds: 86400 };
  assert.deepEqual(queueSettingChanges(stored, same), []);
  assert.deepEqual(queueSettingChanges(stored, { ...same, expireInSeconds: 60, retryLimit: 3 }), [
    'retryLimit 5 → 3',
    'expireInSeconds 2 → 60',
  ]);
});
