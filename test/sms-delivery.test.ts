/**
 * SMS delivery through the outbox and the `http` provider against a local fake gateway that fails,
 * times out and recovers: every message is delivered exactly once after recovery, a SENT row is
 * never sent again, FAILED after SMS_MAX_TRIES, and the logs carry no phone, body or code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestServer, waitFor, type TestServer } from './support/harness.ts';
import { seedRegistry, addMr, R, PHONES, resendPath } from './eprescription-helpers.ts';
import { deliverSms, deliverSmsBatch, relaySmsOutbox, sweepStuckSms, RetryLater, type DeliveryDeps } from '../src/platform/sms/delivery.ts';
import { httpProvider, logProvider, withFaults, type SmsProvider } from '../src/platform/sms/providers.ts';
import { Faults } from '../src/platform/faults.ts';
import { SMS_QUEUE, enqueueSms, nudgeSmsRelay } from '../src/platform/sms/outbox.ts';
import type { Db } from '../src/platform/db.ts';

type Mode = 'up' | 'down' | 'hang';

class FakeGateway {
  server!: http.Server;
  url = '';
  mode: Mode | ((n: number) => Mode) = 'up';
  requests: { key: string | undefined; body: any; answered: number }[] = [];
  accepted = new Map<string, number>();
  delayMs = 0;
  /** idempotency keys whose next request is answered 503 */
  refuseOnce = new Set<string>();

  async start() {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on(
        'end',
        () =>
          void (async () => {
            const n = this.requests.length;
            const mode = typeof this.mode === 'function' ? this.mode(n) : this.mode;
            const key = req.headers['idempotency-key'] as string | undefined;
            const entry = { key, body: JSON.parse(raw), answered: 0 };
            this.requests.push(entry);
            if (key && this.refuseOnce.delete(key)) {
              entry.answered = 503;
              res.writeHead(503).end();
              return;
            }
            if (mode === 'hang') {
              await new Promise((r) => setTimeout(r, 1500));
              entry.answered = 503;
              res.writeHead(503).end();
              return;
            }
            if (mode === 'down') {
              entry.answered = 503;
              res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"maintenance"}');
              return;
            }
            if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
            entry.answered = 200;
            this.accepted.set(key!, (this.accepted.get(key!) ?? 0) + 1);
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `gw-${key}` }));
          })(),
      );
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${a.port}/sms`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

const gw = new FakeGateway();
let server: TestServer;
let db: Db;

before(async () => {
  await gw.start();
  server = await startTestServer({
    env: {
      SMS_PROVIDER: 'http',
      SMS_GATEWAY_URL: gw.url,
      SMS_GATEWAY_TIMEOUT_MS: '300',
      SMS_MAX_TRIES: '10',
      SMS_RETRY_DELAY_SECONDS: '1',
    },
  });
  db = server.runtime.platform.db;
  await seedRegistry(db);
});
after(async () => {
  await server?.close();
  await gw.stop();
});

const rows = async (ids: string[]) =>
  (
    await db.query<any>(
      'SELECT id, status, tries, last_error, provider_id, sent_at FROM sms_outbox WHERE id = ANY($1::uuid[]) ORDER BY id',
      [ids],
    )
  ).rows;

test('gateway down, then hanging, then back: every SMS delivered exactly once, with the documented body and idempotency key', async () => {
  const started = Date.now();
  // 503 for 2 s, then no answer within the timeout for 1.5 s, then up
  gw.mode = () => (Date.now() - started < 2000 ? 'down' : Date.now() - started < 3500 ? 'hang' : 'up');
  const mis = await server.mis({ legalEntityId: R.legalEntityId });
  const mrs = await Promise.all(Array.from({ length: 5 }, () => addMr(server)));
  for (const mr of mrs) assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 200);
  const outbox = (
    await db.query<{ id: string; entity_id: string; body: string }>(
      `SELECT id, entity_id, body FROM sms_outbox WHERE entity_id = ANY($1::text[])`,
      [mrs.map((m) => m.id)],
    )
  ).rows;
  assert.equal(outbox.length, 5);
  const ids = outbox.map((o) => o.id);

  await waitFor(async () => (await rows(ids)).every((r) => r.status === 'SENT'), 60_000, 200);
  for (const id of ids) assert.equal(gw.accepted.get(id), 1, `outbox ${id} accepted ${gw.accepted.get(id)} times`);
  assert.ok(
    gw.requests.some((r) => r.answered === 503),
    'the gateway did fail some tries',
  );
  const final = await rows(ids);
  for (const r of final) {
    assert.equal(r.last_error, null);
    assert.equal(r.provider_id, `gw-${r.id}`);
    assert.ok(r.sent_at);
    assert.ok(r.tries >= 1);
  }
  assert.ok(
    final.some((r) => r.tries > 1),
    'some messages needed retries',
  );
  // the documented request: Idempotency-Key = outbox id, JSON {id, phone_number, body, entity_name, entity_id}
  const one = outbox[0];
  const req = gw.requests.find((r) => r.key === one.id)!;
  assert.deepEqual(req.body, {
    id: one.id,
    phone_number: PHONES.personOtp,
    body: one.body,
    entity_name: 'medication_request',
    entity_id: one.entity_id,
  });
  assert.ok(gw.requests.every((r) => r.key === r.body.id));

  // a SENT row is never sent again: duplicate jobs and direct calls do nothing
  const before = gw.requests.length;
  for (const id of ids) await server.runtime.platform.queue.send(SMS_QUEUE, { outbox_ids: [id] });
  await new Promise((r) => setTimeout(r, 1500));
  const deps: DeliveryDeps = { db, log: pino({ level: 'silent' }), provider: httpProvider(gw.url, 300), maxTries: 10, leaseSeconds: 30 };
  assert.equal(await deliverSms(deps, ids[0]), 'ALREADY_DONE');
  assert.equal(gw.requests.length, before);
});

async function newOutboxRow(): Promise<string> {
  return db.transaction((tx) => enqueueSmsRowOnly(tx));
}
/** A row the relay leaves alone (enqueued_at set, as if its job existed): the tests below drive delivery themselves. */
async function enqueueSmsRowOnly(tx: Db): Promise<string> {
  const r = await tx.query<{ id: string }>(
    `INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id, enqueued_at) VALUES ($1, $2, 'medication_request', 'test', now()) RETURNING id`,
    ['+380671234567', 'Ваш рецепт: 0000-AAAA-BBBB-CCCC. Код підтвердження: 8642'],
  );
  return r.rows[0].id;
}

test('after SMS_MAX_TRIES failed tries the row is FAILED and never tried again', async () => {
  gw.mode = 'down';
  const id = await newOutboxRow();
  const deps: DeliveryDeps = { db, log: pino({ level: 'silent' }), provider: httpProvider(gw.url, 300), maxTries: 3, leaseSeconds: 30 };
  await assert.rejects(deliverSms(deps, id), RetryLater);
  await assert.rejects(deliverSms(deps, id), RetryLater);
  assert.equal(await deliverSms(deps, id), 'FAILED');
  const [row] = await rows([id]);
  assert.equal(row.status, 'FAILED');
  assert.equal(row.tries, 3);
  assert.equal(row.last_error, 'gateway answered HTTP 503');
  const n = gw.requests.length;
  gw.mode = 'up';
  assert.equal(await deliverSms(deps, id), 'ALREADY_DONE');
  assert.equal(gw.requests.length, n);
});

test('a timeout is a failed try with a safe error text', async () => {
  gw.mode = 'hang';
  const id = await newOutboxRow();
  const deps: DeliveryDeps = { db, log: pino({ level: 'silent' }), provider: httpProvider(gw.url, 200), maxTries: 5, leaseSeconds: 30 };
  await assert.rejects(deliverSms(deps, id), RetryLater);
  const [row] = await rows([id]);
  assert.equal(row.status, 'NEW');
  assert.equal(row.last_error, 'gateway timeout after 200 ms');
  gw.mode = 'up';
  assert.equal(await deliverSms(deps, id), 'SENT');
});

test('two workers on one row at once: one sends, the other backs off; the gateway sees one request', async () => {
  gw.mode = 'up';
  gw.delayMs = 300;
  try {
    const id = await newOutboxRow();
    const n = gw.requests.length;
    const deps: DeliveryDeps = { db, log: pino({ level: 'silent' }), provider: httpProvider(gw.url, 2000), maxTries: 5, leaseSeconds: 30 };
    const [a, b] = await Promise.allSettled([deliverSms(deps, id), deliverSms(deps, id)]);
    const outcomes = [a, b].map((x) => (x.status === 'fulfilled' ? x.value : (x.reason as Error).constructor.name)).sort();
    assert.deepEqual(outcomes, ['RetryLater', 'SENT']);
    assert.equal(gw.requests.length, n + 1);
    assert.equal(gw.accepted.get(id), 1);
  } finally {
    gw.delayMs = 0;
  }
});

test('an expired lease (worker died mid-send) lets another worker take the row', async () => {
  gw.mode = 'up';
  const id = await newOutboxRow();
  await db.query(`UPDATE sms_outbox SET tries = 1, locked_until = clock_timestamp() - interval '1 second' WHERE id = $1`, [id]);
  const deps: DeliveryDeps = { db, log: pino({ level: 'silent' }), provider: httpProvider(gw.url, 2000), maxTries: 5, leaseSeconds: 30 };
  assert.equal(await deliverSms(deps, id), 'SENT');
  assert.equal((await rows([id]))[0].tries, 2);
});

test('logs never contain phone numbers, SMS bodies or verification codes', async () => {
  let out = '';
  const sink = new Writable({
    write(chunk, _e, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const log = pino({ level: 'trace' }, sink);
  const deps: DeliveryDeps = { db, log, provider: httpProvider(gw.url, 200), maxTries: 3, leaseSeconds: 30 };
  const id = await newOutboxRow();
  gw.mode = 'down';
  await assert.rejects(deliverSms(deps, id), RetryLater);
  gw.mode = 'hang';
  await assert.rejects(deliverSms(deps, id), RetryLater);
  gw.mode = 'up';
  assert.equal(await deliverSms(deps, id), 'SENT');
  await deliverSms(deps, id);
  assert.ok(out.includes(id), 'the outbox id is logged');
  for (const secret of ['+380671234567', '380671234567', '8642', 'Ваш рецепт', '0000-AAAA-BBBB-CCCC', gw.url]) {
    assert.equal(out.includes(secret), false, `log contains ${secret}`);
  }
});

test('the queue path ends FAILED after SMS_MAX_TRIES (real worker, backoff)', async () => {
  const failing = new FakeGateway();
  await failing.start();
  failing.mode = 'down';
  const s2 = await startTestServer({
    env: {
      SMS_PROVIDER: 'http',
      SMS_GATEWAY_URL: failing.url,
      SMS_GATEWAY_TIMEOUT_MS: '300',
      SMS_MAX_TRIES: '2',
      SMS_RETRY_DELAY_SECONDS: '1',
    },
  });
  try {
    const id = await s2.runtime.platform.db.transaction((tx) =>
      enqueueSms(tx, { phoneNumber: '+380671234567', body: 'x', entityName: 'composition', entityId: 'c1' }),
    );
    await nudgeSmsRelay(s2.runtime.platform.queue);
    await waitFor(
      async () =>
        (await s2.runtime.platform.db.query<any>('SELECT status FROM sms_outbox WHERE id = $1', [id])).rows[0].status === 'FAILED',
      30_000,
      200,
    );
    const row = (await s2.runtime.platform.db.query<any>('SELECT tries, last_error FROM sms_outbox WHERE id = $1', [id])).rows[0];
    assert.equal(row.tries, 2);
    assert.equal(row.last_error, 'gateway answered HTTP 503');
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(failing.requests.length, 2);
  } finally {
    await s2.close();
    await failing.stop();
  }
});

test('a NEW row whose job was lost is re-enqueued by the sweep and delivered once', async () => {
  gw.mode = 'up';
  const id = await newOutboxRow(); // a row without a job
  await db.query(`UPDATE sms_outbox SET updated_at = now() - interval '30 minutes' WHERE id = $1`, [id]);
  const fresh = await newOutboxRow(); // recent rows are left to their own jobs
  const swept = await sweepStuckSms(server.runtime.platform, 600);
  assert.ok(swept.includes(id));
  assert.ok(!swept.includes(fresh));
  await waitFor(async () => (await rows([id]))[0].status === 'SENT', 20_000, 100);
  assert.equal(gw.accepted.get(id), 1);
  assert.deepEqual(await sweepStuckSms(server.runtime.platform, 600), []);
});

test('the relay batches the outbox: 600 SMS → 2 delivery jobs, every row in exactly one job, every SMS sent once', async () => {
  gw.mode = 'up';
  // its own server: a gateway timeout that 16 concurrent requests on a busy test machine do not hit
  const s3 = await startTestServer({
    env: { SMS_PROVIDER: 'http', SMS_GATEWAY_URL: gw.url, SMS_GATEWAY_TIMEOUT_MS: '10000', SMS_RETRY_DELAY_SECONDS: '1' },
  });
  try {
    const db3 = s3.runtime.platform.db;
    // rows as enqueueSms writes them (no job yet), committed together
    const ids = (
      await db3.query<{ id: string }>(
        `INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id)
       SELECT '+380671234567', 'relay ' || i, 'composition', 'relay' FROM generate_series(1, 600) i RETURNING id`,
      )
    ).rows.map((r) => r.id);
    await nudgeSmsRelay(s3.runtime.platform.queue);
    const jobs = (
      await db3.query<{ id: string; ids: string[] }>(
        `SELECT j.id, j.data->'outbox_ids' AS ids FROM pgboss.job j WHERE j.name = 'sms-delivery'`,
      )
    ).rows;
    assert.deepEqual(
      jobs.map((j) => j.ids.length).sort((a, b) => a - b),
      [100, 500],
    );
    const inJobs = jobs.flatMap((j) => j.ids);
    assert.deepEqual([...inJobs].sort(), [...ids].sort());
    const unstamped = await db3.query(`SELECT 1 FROM sms_outbox WHERE enqueued_at IS NULL`);
    assert.equal(unstamped.rowCount, 0);
    // a second relay run finds nothing to move
    assert.equal(await relaySmsOutbox(s3.runtime.platform), 0);
    await waitFor(
      async () => (await db3.query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_outbox WHERE status = 'SENT'`)).rows[0].n === 600,
      60_000,
      200,
    );
    for (const id of ids) assert.equal(gw.accepted.get(id), 1, `outbox ${id} accepted ${gw.accepted.get(id)} times`);
    const tries = (await db3.query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_outbox WHERE tries <> 1`)).rows[0].n;
    assert.equal(tries, 0, 'one try per SMS');
  } finally {
    await s3.close();
  }
});

test('a batch job with one failing row: the others are sent once, the job is retried and the row sent on the retry', async () => {
  const entity = `retry-${Date.now()}`;
  const ids = (
    await db.query<{ id: string }>(
      `INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id)
     SELECT '+380671234567', 'retry ' || i, 'composition', $1 FROM generate_series(1, 5) i RETURNING id`,
      [entity],
    )
  ).rows.map((r) => r.id);
  const victim = ids[2];
  gw.mode = 'up';
  gw.refuseOnce.add(victim); // the gateway refuses the victim's first request only
  await nudgeSmsRelay(server.runtime.platform.queue);
  await waitFor(async () => (await rows(ids)).every((r) => r.status === 'SENT'), 30_000, 100);
  assert.equal(gw.refuseOnce.size, 0);
  for (const id of ids) assert.equal(gw.accepted.get(id), 1);
  const final = await rows(ids);
  assert.equal(final.find((r) => r.id === victim).tries, 2);
  for (const r of final.filter((x) => x.id !== victim)) assert.equal(r.tries, 1);
});

test('a job lost after the relay (job row gone): the sweep hands the row back to the relay and it is sent once', async () => {
  gw.mode = 'up';
  const { queue } = server.runtime.platform;
  const id = await newOutboxRow(); // stamped enqueued_at, but no job exists: the job was lost
  await db.query(`UPDATE sms_outbox SET updated_at = now() - interval '30 minutes' WHERE id = $1`, [id]);
  assert.deepEqual(await sweepStuckSms({ ...server.runtime.platform, queue }, 600), [id]);
  await waitFor(async () => (await rows([id]))[0].status === 'SENT', 20_000, 100);
  assert.equal(gw.accepted.get(id), 1);
  const jobs = await db.query(`SELECT 1 FROM pgboss.job WHERE name = 'sms-delivery' AND data->'outbox_ids' ? $1`, [id]);
  assert.equal(jobs.rowCount, 1, 'the relay made exactly one new job for the row');
  const stamped = await db.query<{ enqueued_at: Date | null }>('SELECT enqueued_at FROM sms_outbox WHERE id = $1', [id]);
  assert.ok(stamped.rows[0].enqueued_at);
});

test('the log provider delivers a batch in one statement while no SMS fault is set; a fault sends each message through it', async () => {
  const sent: string[] = [];
  // the sandbox's provider: the log provider behind the faults, with its sends counted
  const counted: SmsProvider = { ...logProvider, send: async (msg) => (sent.push(msg.id), logProvider.send(msg)) };
  const faults = new Faults(db);
  const deps: DeliveryDeps = { db, log: pino({ level: 'silent' }), provider: withFaults(counted, faults), maxTries: 3, leaseSeconds: 30 };
  try {
    const quiet = await Promise.all([1, 2, 3].map(() => newOutboxRow()));
    assert.deepEqual(await deliverSmsBatch(deps, quiet), { SENT: 3, FAILED: 0, ALREADY_DONE: 0 });
    assert.deepEqual(sent, [], 'no message went through send(): the batch statement marked them');
    for (const r of await rows(quiet)) assert.deepEqual([r.status, r.tries, r.provider_id], ['SENT', 1, `log:${r.id}`]);

    await faults.set({ sms: { fail_next: 1 } });
    const faulty = await Promise.all([1, 2, 3].map(() => newOutboxRow()));
    await assert.rejects(deliverSmsBatch(deps, faulty), RetryLater);
    assert.equal(sent.length, 2, 'each message through send(): one failed by the fault, two sent');
    const after = await rows(faulty);
    assert.deepEqual(after.map((r) => r.status).sort(), ['NEW', 'SENT', 'SENT']);
    assert.ok(after.every((r) => r.tries === 1));
  } finally {
    await faults.clear();
  }
});

test('delivery tries are counted in /metrics', async () => {
  const m = await server.call('GET', '/metrics');
  assert.match(m.text, /esoz_sms_delivery_tries_total\{provider="http",result="sent"\} [1-9]/);
  assert.match(m.text, /esoz_sms_delivery_tries_total\{provider="http",result="retry"\} [1-9]/);
});
