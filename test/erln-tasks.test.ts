/**
 * The ERLN worker on a running server (PGlite or PostgreSQL): integration tasks are written with
 * the domain write, a queue worker calls the in-process simulator, and the answer (or its absence)
 * ends in the task as integrationData shows it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, waitFor, type TestServer } from './support/harness.ts';
import { createBody, createDone, misOf, seedWorld, type World } from './support/compositions.ts';
import { enqueueErlnTask, taskById, type IntegrationTask, type TaskType } from '../src/erln/task-store.ts';
import { erlnGatewayKey } from '../src/erln/capability.ts';
import { ErlnSimulator } from '../src/erln/simulator.ts';
import { NO_PERSON_MESSAGE, unreachableMessage } from '../src/erln/tasks.ts';

let server: TestServer;
let w: World;
let sim: ErlnSimulator;

before(async () => {
  server = await startTestServer({ env: { ERLN_MAX_TRIES: '3', ERLN_RETRY_DELAY_SECONDS: '1' }, superviseIntervalSeconds: 1 });
  w = await seedWorld(server);
  const gateway = server.runtime.platform.services.get(erlnGatewayKey);
  assert.ok(gateway instanceof ErlnSimulator, 'the embedded default is the simulator');
  sim = gateway;
});
after(() => server.close());

/** A FINAL МВТН (signing is the Compositions tests' business: the status is set directly). */
async function finalComposition(o: Parameters<typeof createBody>[1] = {}) {
  const mis = await misOf(server, w);
  const { id } = await createDone(mis, createBody(w, o));
  await server.runtime.platform.db.query(`UPDATE compositions SET status = 'FINAL', signed_at = now() WHERE id = $1`, [id]);
  return id;
}

async function enqueue(compositionId: string, type: TaskType) {
  const { db, queue } = server.runtime.platform;
  return db.transaction((tx) => enqueueErlnTask(tx, queue, compositionId, type));
}

const settled = (id: string, timeoutMs = 30_000) =>
  waitFor(
    async () => {
      const t = await taskById(server.runtime.platform.db, id);
      return t && t.task_status !== 'PENDING' ? t : undefined;
    },
    timeoutMs,
    50,
  );

const brief = (t: IntegrationTask) => ({
  type: t.type,
  task_status: t.task_status,
  integration_status: t.integration_status,
  status_code: t.status_code,
  status_message: t.status_message,
});

describe('ERLN integration tasks', () => {
  test('CREATE_ERLN_RECORD: ERLN creates one record; the task is DONE / SUCCESS with RESULT 1101 and the SL number', async () => {
    await sim.store.reset();
    const id = await finalComposition();
    const task = await settled(await enqueue(id, 'CREATE_ERLN_RECORD'));
    assert.deepEqual(brief(task), {
      type: 'CREATE_ERLN_RECORD',
      task_status: 'DONE',
      integration_status: 'SUCCESS',
      status_code: 1101,
      status_message: 'ЕЛН створено успішно',
    });
    const records = await sim.store.records();
    assert.equal(records.length, 1);
    assert.equal(task.details.SL_NUM, records[0]?.sl_num);
    assert.equal(records[0]?.composition_id, id);
    assert.equal(records[0]?.person_id, w.personId);
    assert.deepEqual([records[0]?.period_start, records[0]?.period_end], ['2026-09-01', '2026-09-05'], 'Kyiv calendar days');
  });

  test('a business rejection: DONE / ERROR with ERLN code and message, one call only', async () => {
    await sim.store.reset();
    await sim.store.setSettings({
      ...(await sim.store.settings()),
      mode: 'reject',
      reject_code: 1000,
      reject_message: 'Неочікувана помилка при створенні',
    });
    const id = await finalComposition({ encounterId: undefined, category: 'CHILD_CARE', focus: { type: 'person', id: w.motherId } });
    const task = await settled(await enqueue(id, 'CREATE_ERLN_RECORD'));
    assert.deepEqual(brief(task), {
      type: 'CREATE_ERLN_RECORD',
      task_status: 'DONE',
      integration_status: 'ERROR',
      status_code: 1000,
      status_message: 'Неочікувана помилка при створенні',
    });
    assert.equal(task.attempts, 1);
    assert.deepEqual(await sim.store.records(), []);
    await sim.store.setSettings({ ...(await sim.store.settings()), mode: 'ok' });
  });

  test('ERLN down: retried with backoff, then FAILED / ERROR "ERLN was unreachable…" after ERLN_MAX_TRIES calls', async () => {
    await sim.store.reset();
    await sim.store.setSettings({ ...(await sim.store.settings()), mode: 'down' });
    const id = await finalComposition({ category: 'FAMILY_CARE', focus: { type: 'person', id: w.motherId } });
    const task = await settled(await enqueue(id, 'CREATE_ERLN_RECORD'), 60_000);
    assert.deepEqual(brief(task), {
      type: 'CREATE_ERLN_RECORD',
      task_status: 'FAILED',
      integration_status: 'ERROR',
      status_code: null,
      status_message: unreachableMessage(3, 'ERLN is unavailable'),
    });
    assert.equal(task.attempts, 3);
    const calls = await sim.store.calls();
    assert.equal(calls.filter((c) => c.composition_id === id && c.outcome === 'unavailable').length, 3);
    await sim.store.setSettings({ ...(await sim.store.settings()), mode: 'ok' });
  });

  test('fail_next: the calls that got no answer are retried and the record is made once', async () => {
    await sim.store.reset();
    await sim.store.setSettings({ ...(await sim.store.settings()), fail_next: 2 });
    const id = await finalComposition({ category: 'QUARANTINE' });
    const task = await settled(await enqueue(id, 'CREATE_ERLN_RECORD'), 60_000);
    assert.equal(task.integration_status, 'SUCCESS');
    assert.equal(task.attempts, 3);
    assert.equal((await sim.store.records()).length, 1);
  });

  test('CANCEL_ERLN_RECORD cancels the record ERLN made, with the cancellation reason', async () => {
    await sim.store.reset();
    const id = await finalComposition({ category: 'COVID19' });
    await settled(await enqueue(id, 'CREATE_ERLN_RECORD'));
    await server.runtime.platform.db.query(`UPDATE compositions SET status = 'ENTERED_IN_ERROR', cancel_reason = $2 WHERE id = $1`, [
      id,
      JSON.stringify({
        coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_CATEGORY' }],
        text: 'Не та категорія',
      }),
    ]);
    const task = await settled(await enqueue(id, 'CANCEL_ERLN_RECORD'));
    assert.deepEqual(brief(task), {
      type: 'CANCEL_ERLN_RECORD',
      task_status: 'DONE',
      integration_status: 'SUCCESS',
      status_code: null,
      status_message: 'ЕЛН скасовано',
    });
    const [record] = await sim.store.records();
    assert.equal(record?.status, 'cancelled');
    assert.equal(record?.cancel_reason, 'INCORRECT_CATEGORY');
  });

  test('a preperson focus: no call to ERLN, the task says why', async () => {
    await sim.store.reset();
    const id = await finalComposition({
      subject: { type: 'preperson', id: w.prepersonId },
      encounterId: w.prepersonEncounterId,
    });
    const task = await settled(await enqueue(id, 'CREATE_ERLN_RECORD'));
    assert.equal(task.integration_status, 'ERROR');
    assert.equal(task.status_message, NO_PERSON_MESSAGE);
    assert.deepEqual(await sim.store.calls(), []);
  });
});
