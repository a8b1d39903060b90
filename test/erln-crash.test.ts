/**
 * Exactly once toward ERLN: a worker process is SIGKILLed after ERLN accepted a record but before the
 * answer was stored; the task runs again in another worker, ERLN recognises the idempotency key and
 * answers with the first SL number. ERLN here is the simulator behind the `http` adapter, with a gate
 * that holds its answer until the test has killed the worker. PostgreSQL only: the worker processes
 * share the database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { backend, startTestServer, waitFor, type Mis, type TestServer } from './support/harness.ts';
import { misOf, seedWorld, type World } from './support/compositions.ts';
import { WorkerProcesses, killProcess } from './support/processes.ts';
import { signedComposition } from './support/erln.ts';
import { ErlnSimulator, MemoryErlnSimStore } from '../src/erln/simulator.ts';
import { ErlnCreateRequest } from '../src/erln/contract.ts';
import { taskById } from '../src/erln/task-store.ts';

const skip = backend !== 'postgres' ? 'needs PostgreSQL (TEST_DATABASE_URL): worker processes share the database' : false;

describe('ERLN: a worker killed after ERLN accepted', { skip }, () => {
  const sim = new ErlnSimulator(new MemoryErlnSimStore());
  const erln = Fastify();
  let erlnUrl = '';
  /** while set, an accepted create is answered only when the gate opens */
  let gate: { reached: () => void; open: Promise<void> } | undefined;
  const workers = new WorkerProcesses();
  let server: TestServer;
  let w: World;
  let mis: Mis;

  before(async () => {
    erln.post<{ Body: ErlnCreateRequest }>('/records', { schema: { body: ErlnCreateRequest } }, async (request) => {
      const reply = await sim.createRecord(request.body, String(request.headers['idempotency-key']));
      if (gate) {
        gate.reached();
        await gate.open;
      }
      return reply;
    });
    erlnUrl = await erln.listen({ port: 0, host: '127.0.0.1' });
    const env = {
      WORKERS: 'off',
      JOB_LEASE_SECONDS: '5',
      SIGNATURE_TRUST: 'any-test-ca',
      ERLN_ADAPTER: 'http',
      ERLN_URL: erlnUrl,
      ERLN_TIMEOUT_MS: '3000',
      ERLN_RETRY_DELAY_SECONDS: '1',
    };
    server = await startTestServer({ env, superviseIntervalSeconds: 1 });
    w = await seedWorld(server);
    mis = await misOf(server, w);
  });
  after(async () => {
    await workers.killAll();
    await server?.close();
    await erln.close();
  });

  test('the retry in another worker gets the first answer: one SL record, the task DONE with it', async () => {
    const workerEnv = {
      DATABASE_URL: server.databaseUrl,
      WORKERS: 'on',
      JOB_LEASE_SECONDS: '5',
      SIGNATURE_TRUST: 'any-test-ca',
      ERLN_ADAPTER: 'http',
      ERLN_URL: erlnUrl,
      // the worker is killed while it waits for the held answer, well within the call's timeout
      ERLN_TIMEOUT_MS: '3000',
      ERLN_RETRY_DELAY_SECONDS: '1',
    };
    let reached!: () => void;
    const atErln = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    gate = { reached, open: new Promise<void>((r) => (open = r)) };
    const doomed = workers.spawn(workerEnv);
    const c = await signedComposition(server, mis, w);
    await atErln;
    assert.equal((await sim.store.records()).length, 1, 'ERLN accepted the record');
    await killProcess(doomed, 'SIGKILL');
    gate = undefined;
    open();
    const rescuer = workers.spawn(workerEnv);
    const db = server.runtime.platform.db;
    const taskId = (await db.query<{ id: string }>('SELECT id FROM composition_integration_tasks WHERE composition_id = $1', [c.id]))
      .rows[0]!.id;
    const task = await waitFor(
      async () => {
        const t = await taskById(db, taskId);
        return t && t.task_status !== 'PENDING' ? t : undefined;
      },
      90_000,
      200,
    );
    const records = await sim.store.records();
    assert.equal(records.length, 1, 'no second SL record');
    assert.deepEqual([task.task_status, task.integration_status, task.details.SL_NUM], ['DONE', 'SUCCESS', records[0]?.sl_num]);
    assert.equal(task.attempts, 2, 'called twice: once by the killed worker, once by the rescuer');
    assert.deepEqual(
      (await sim.store.calls()).map((x) => [x.outcome, x.idempotency_key]),
      [
        ['replayed', taskId],
        ['accepted', taskId],
      ],
    );
    await killProcess(rescuer, 'SIGTERM');
  });
});
