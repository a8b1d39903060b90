/**
 * A worker process is SIGKILLed in the middle of an SMS delivery job (8 messages in flight at a slow
 * gateway, 12 more of the job not yet started); another worker delivers every message within the
 * lease (JOB_LEASE_SECONDS) and a few seconds of the kill, and a gateway that honours Idempotency-Key
 * delivers none twice. PostgreSQL only: the embedded database lives inside one process, so there
 * is no second worker process to kill.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestServer, waitFor, backend, type TestServer } from './support/harness.ts';
import { nudgeSmsRelay } from '../src/platform/sms/outbox.ts';
import { WorkerProcesses, killProcess } from './support/processes.ts';

const skip = backend !== 'postgres' ? 'needs PostgreSQL (TEST_DATABASE_URL): worker processes share the database' : false;

const LEASE = 10;

/** An SMS gateway that delivers each Idempotency-Key once (a repeat is answered 200 and not delivered again). */
class DedupingGateway {
  server!: http.Server;
  url = '';
  /** answer after this long (the message is accepted on arrival, as a real gateway queues it) */
  delayMs = 0;
  requests = new Map<string, number>();
  delivered = new Map<string, number>();
  async start() {
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on(
        'end',
        () =>
          void (async () => {
            const key = String(req.headers['idempotency-key'] ?? '');
            this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
            if (key && !this.delivered.has(key)) this.delivered.set(key, 1);
            if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs).unref());
            if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `gw-${key}` }));
          })(),
      );
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/sms`;
  }
  get requestCount() {
    return [...this.requests.values()].reduce((a, b) => a + b, 0);
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

const gw = new DedupingGateway();
let server: TestServer;
const workers = new WorkerProcesses();
let env: Record<string, string>;

const spawnWorker = () => workers.spawn({ ...env, DATABASE_URL: server.databaseUrl });

describe('SMS worker crash', { skip }, () => {
  before(async () => {
    await gw.start();
    env = {
      WORKERS: 'off',
      SMS_PROVIDER: 'http',
      SMS_GATEWAY_URL: gw.url,
      SMS_GATEWAY_TIMEOUT_MS: '5000',
      SMS_RETRY_DELAY_SECONDS: '1',
      JOB_LEASE_SECONDS: String(LEASE),
      SIGNATURE_TRUST: 'any-test-ca',
    };
    server = await startTestServer({ env, superviseIntervalSeconds: 1 });
  });
  after(async () => {
    await workers.killAll();
    await server?.close();
    await gw.stop();
  });

  test('SIGKILL mid-delivery → every SMS delivered within the lease and a few seconds, none twice', { timeout: 120_000 }, async (t) => {
    const db = server.runtime.platform.db;
    gw.delayMs = 60_000; // the doomed worker's requests never get an answer
    const ids = (
      await db.query<{ id: string }>(
        `INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id)
       SELECT '+380671234567', 'crash ' || i, 'composition', 'crash' FROM generate_series(1, 20) i RETURNING id`,
      )
    ).rows.map((r) => r.id);
    await nudgeSmsRelay(server.runtime.platform.queue);
    const jobs = await db.query(`SELECT id FROM pgboss.job WHERE name = 'sms-delivery'`);
    assert.equal(jobs.rowCount, 1, 'one delivery job holds all 20');

    const doomed = spawnWorker();
    await waitFor(async () => gw.requestCount >= 8, 60_000, 50);
    await new Promise((r) => setTimeout(r, 200));
    const inFlight = new Set(gw.requests.keys());
    assert.equal(inFlight.size, 8, 'the job had 8 SMS in flight and 12 waiting');
    await killProcess(doomed, 'SIGKILL');
    const killedAt = Date.now();
    gw.delayMs = 0;

    const rescuer = spawnWorker();
    const sent = async () =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_outbox WHERE id = ANY($1::uuid[]) AND status = 'SENT'`, [ids]))
        .rows[0].n;
    await waitFor(async () => (await sent()) === ids.length, 60_000, 100);
    const seconds = (Date.now() - killedAt) / 1000;
    await killProcess(rescuer, 'SIGTERM');
    t.diagnostic(`all delivered ${seconds.toFixed(1)} s after the kill`);

    // the lease, one supervise pass, one retry backoff and the rescuer's start-up
    assert.ok(seconds <= LEASE + 12, `all delivered ${seconds.toFixed(1)} s after the kill (lease ${LEASE} s)`);
    for (const id of ids) {
      assert.equal(gw.delivered.get(id), 1, `outbox ${id} delivered ${gw.delivered.get(id)} times`);
      // an SMS that was not in flight is requested once; one in flight at most once more (same key)
      assert.ok((gw.requests.get(id) ?? 0) <= (inFlight.has(id) ? 2 : 1), `outbox ${id}: ${gw.requests.get(id)} requests`);
    }
    const rows = await db.query<{ status: string; provider_id: string; id: string }>(
      'SELECT id, status, provider_id FROM sms_outbox WHERE id = ANY($1::uuid[])',
      [ids],
    );
    for (const r of rows.rows) assert.equal(r.provider_id, `gw-${r.id}`);
  });
});
