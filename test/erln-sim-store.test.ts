/**
 * The simulator's rules on both of its stores: memory (`npm run erln-sim`) and the database (the
 * embedded sandbox, on PGlite and on PostgreSQL).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/harness.ts';
import { DbErlnSimStore } from '../src/erln/sim-store-db.ts';
import {
  ErlnSimulator,
  MemoryErlnSimStore,
  SL_ALREADY_CANCELLED_MESSAGE,
  SL_NOT_FOUND_MESSAGE,
  type ErlnSimStore,
} from '../src/erln/simulator.ts';
import { ErlnUnreachableError } from '../src/erln/gateway.ts';
import { RESULT_CREATED } from '../src/erln/contract.ts';
import { sampleCreateRequest } from './support/erln.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

const stores: [string, () => ErlnSimStore][] = [
  ['memory', () => new MemoryErlnSimStore()],
  ['database', () => new DbErlnSimStore(server.runtime.platform.db)],
];

for (const [name, makeStore] of stores) {
  describe(`ERLN simulator on the ${name} store`, () => {
    let sim: ErlnSimulator;
    before(async () => {
      sim = new ErlnSimulator(makeStore());
      await sim.store.reset();
    });

    test('a continuation (REQUEST_TYPE 2) gets its own SL number and keeps the one it continues', async () => {
      await sim.store.reset();
      const first = await sim.createRecord(sampleCreateRequest(), 'first');
      const next = await sim.createRecord({ ...sampleCreateRequest(), REQUEST_TYPE: 2, PREVIOUS_SL_NUM: first.SL_NUM }, 'next');
      assert.notEqual(next.SL_NUM, first.SL_NUM);
      const record = (await sim.store.records()).find((r) => r.sl_num === next.SL_NUM);
      assert.deepEqual([record?.request_type, record?.previous_sl_num], [2, first.SL_NUM]);
    });

    test('one record per idempotency key, also when the calls run at once', async () => {
      await sim.store.reset();
      const req = sampleCreateRequest();
      const replies = await Promise.all(Array.from({ length: 10 }, () => sim.createRecord(req, 'same-key')));
      assert.equal(new Set(replies.map((r) => r.SL_NUM)).size, 1);
      assert.equal(replies[0]?.RESULT, RESULT_CREATED);
      // east of UTC (UTC+14 here) a `date` read as local midnight and printed by toISOString would be the day before
      const tz = process.env.TZ;
      process.env.TZ = 'Pacific/Kiritimati';
      const records = await sim.store.records().finally(() => (tz === undefined ? delete process.env.TZ : (process.env.TZ = tz)));
      assert.equal(records.length, 1);
      assert.deepEqual(
        { ...records[0], created_at: typeof records[0]?.created_at },
        {
          sl_num: replies[0]?.SL_NUM,
          composition_id: req.COMPOSITION_ID,
          request_type: 1,
          previous_sl_num: null,
          category: 'SICKNESS',
          period_start: '2026-12-01',
          period_end: '2026-12-07',
          person_id: req.PATIENT.PERSON_ID,
          status: 'created',
          created_at: 'string',
          cancelled_at: null,
          cancel_reason: null,
        },
      );
      const calls = await sim.store.calls();
      assert.equal(calls.length, 10);
      assert.equal(calls.filter((c) => c.outcome === 'accepted').length, 1);
      assert.equal(calls.filter((c) => c.outcome === 'replayed').length, 9);
    });

    test('faults: down, fail_next, reject; settings survive until changed; reset clears everything', async () => {
      await sim.store.reset();
      await sim.store.setSettings({ ...(await sim.store.settings()), mode: 'down' });
      await assert.rejects(sim.createRecord(sampleCreateRequest(), 'k1'), ErlnUnreachableError);
      await sim.store.setSettings({ ...(await sim.store.settings()), mode: 'ok', fail_next: 1 });
      await assert.rejects(sim.createRecord(sampleCreateRequest(), 'k1'), ErlnUnreachableError);
      assert.equal((await sim.store.settings()).fail_next, 0);
      assert.equal((await sim.createRecord(sampleCreateRequest(), 'k1')).ACCEPTED, true);
      await sim.store.setSettings({ ...(await sim.store.settings()), mode: 'reject', reject_code: null, reject_message: 'Відмова' });
      assert.deepEqual(await sim.createRecord(sampleCreateRequest(), 'k2'), {
        ACCEPTED: false,
        RESULT: null,
        MESSAGE: 'Відмова',
        SL_NUM: null,
      });
      assert.equal((await sim.createRecord(sampleCreateRequest(), 'k1')).ACCEPTED, true, 'an accepted key replays even in reject mode');
      await sim.store.reset();
      assert.deepEqual(await sim.store.records(), []);
      assert.deepEqual(await sim.store.calls(), []);
      assert.equal((await sim.store.settings()).mode, 'ok');
      assert.equal((await sim.createRecord(sampleCreateRequest(), 'k1')).SL_NUM, 'SL0000000001', 'numbering starts again');
    });

    test('cancel: once; unknown SL and a second cancel are rejections that change nothing', async () => {
      await sim.store.reset();
      const req = sampleCreateRequest();
      const { SL_NUM } = await sim.createRecord(req, 'c1');
      const cancel = { COMPOSITION_ID: req.COMPOSITION_ID, SL_NUM: SL_NUM ?? '', CANCEL_REASON: 'INCORRECT_CATEGORY', CANCEL_TEXT: 'x' };
      assert.equal((await sim.cancelRecord({ ...cancel, SL_NUM: 'SL9999999999' }, 'c2')).MESSAGE, SL_NOT_FOUND_MESSAGE);
      const ok = await sim.cancelRecord(cancel, 'c2');
      assert.equal(ok.ACCEPTED, true, 'the key of a rejected call is free for a later call');
      assert.deepEqual(await sim.cancelRecord(cancel, 'c2'), ok);
      assert.equal((await sim.cancelRecord(cancel, 'c3')).MESSAGE, SL_ALREADY_CANCELLED_MESSAGE);
      const [record] = await sim.store.records();
      assert.equal(record?.status, 'cancelled');
      assert.equal(record?.cancel_reason, 'INCORRECT_CATEGORY');
    });
  });
}
