/**
 * Coalescing of hot statements (src/platform/batch.ts) and the batched SMS timeout statement
 * (esoz_sms_attempt_many): batches form while one is running, every call gets its own result in
 * order, errors stay with their item, and a batch counts attempts exactly as separate calls would.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statementBatcher } from '../src/platform/batch.ts';
import { startTestServer, backend, type TestServer } from './support/harness.ts';

test('an idle call goes out at once, alone; calls made while a batch runs leave together as the next batch', async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = statementBatcher<number, number>(
    async (items) => {
      batches.push([...items]);
      if (batches.length === 1) await gate;
      return items.map((x) => x * 10);
    },
    { maxInFlight: 1 },
  );
  const first = b.run(1);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(batches, [[1]], 'the first call left without waiting for company');
  const rest = [b.run(2), b.run(3), b.run(4)];
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(batches.length, 1, 'nothing else leaves while the only slot is taken');
  release();
  assert.deepEqual(await Promise.all([first, ...rest]), [10, 20, 30, 40]);
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
});

test('an Error result fails only its own call; a failing batch fails its calls and not the next batch', async () => {
  let n = 0;
  const b = statementBatcher<number, number>(
    async (items) => {
      if (++n === 2) throw new Error('database gone');
      return items.map((x) => (x === 13 ? new Error('unlucky') : x));
    },
    { maxInFlight: 1 },
  );
  const r1 = await Promise.allSettled([b.run(12), b.run(13), b.run(14)]);
  assert.deepEqual(
    r1.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  await assert.rejects(b.run(1), /database gone/);
  assert.equal(await b.run(2), 2);
});

test('with maxInFlight 2, two batches run at once and the third waits for one of them', async () => {
  let running = 0;
  let peak = 0;
  const b = statementBatcher<number, number>(
    async (items) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 15));
      running--;
      return items;
    },
    { maxInFlight: 2 },
  );
  const calls: Promise<number>[] = [];
  for (let i = 0; i < 30; i++) {
    calls.push(b.run(i));
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.deepEqual(
    await Promise.all(calls),
    Array.from({ length: 30 }, (_, i) => i),
  );
  assert.equal(peak, 2);
});

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

test(`esoz_sms_attempt_many: items of one entity count each other in arrival order, results in item order (${backend})`, async () => {
  const db = server.runtime.platform.db;
  const item = (entity: string, body: string) => ({
    entity_name: 'test',
    entity_id: entity,
    max: 3,
    timeout: 300,
    phone: '+380501112233',
    body,
  });
  const items = [item('A', 'a1'), item('B', 'b1'), item('A', 'a2'), item('A', 'a3'), item('A', 'a4'), item('C', 'c1')];
  const { rows } = await db.query<{ r: any }>('SELECT esoz_sms_attempt_many($1::json) AS r', [JSON.stringify(items)]);
  const r = typeof rows[0].r === 'string' ? JSON.parse(rows[0].r) : rows[0].r;
  assert.deepEqual(
    r.map((x: any) => x.admitted),
    [true, true, true, true, false, true],
  );
  assert.deepEqual(
    r.map((x: any) => x.live),
    [1, 1, 2, 3, 3, 1],
  );
  const outbox = await db.query<{ body: string }>(`SELECT body FROM sms_outbox WHERE entity_name = 'test' ORDER BY body`);
  assert.deepEqual(
    outbox.rows.map((x) => x.body),
    ['a1', 'a2', 'a3', 'b1', 'c1'],
  );
  // the refused one's next time: oldest live attempt of A + timeout
  assert.equal(Date.parse(r[4].oldest), Date.parse(r[0].at));
});
