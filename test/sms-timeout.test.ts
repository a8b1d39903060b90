/**
 * The SMS timeout procedure (src/platform/sms/sms-timeout.ts) on a real database: the sliding window,
 * the 429 it raises (message, type, Retry-After), nothing recorded on refusal, generic entity names,
 * and an attempt given back when the caller's transaction rolls back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from './support/harness.ts';
import {
  checkSmsTimeout,
  pruneSmsAttempts,
  formatNextAttempt,
  smsTimeoutMessage,
  type SmsTimeoutParams,
} from '../src/platform/sms/sms-timeout.ts';
import { EsozError } from '../src/platform/errors.ts';
import type { Db } from '../src/platform/db.ts';

let server: TestServer;
let db: Db;

before(async () => {
  server = await startTestServer();
  db = server.runtime.platform.db;
});
after(async () => {
  await server?.close();
});

const params = (over: Partial<SmsTimeoutParams> = {}): SmsTimeoutParams => ({
  entityName: 'medication_request',
  entityId: randomUUID(),
  maxAttempts: 3,
  sendTimeoutSeconds: 300,
  ...over,
});
const check = (p: SmsTimeoutParams) => db.transaction((tx) => checkSmsTimeout(tx, p));
const count = async (p: SmsTimeoutParams) =>
  (
    await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sms_attempts WHERE entity_name = $1 AND entity_id = $2', [
      p.entityName,
      p.entityId,
    ])
  ).rows[0].n;

test('MAX attempts pass (returning the live count), the next one is refused with the 429 and records nothing', async () => {
  const p = params();
  assert.equal(await check(p), 1);
  assert.equal(await check(p), 2);
  assert.equal(await check(p), 3);
  const oldest = (await db.query<{ t: Date }>('SELECT min(attempted_at) AS t FROM sms_attempts WHERE entity_id = $1', [p.entityId])).rows[0]
    .t;
  const err = await check(p).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(err instanceof EsozError);
  assert.equal(err.status, 429);
  assert.equal(err.type, 'sms_timeout');
  const next = formatNextAttempt(new Date(new Date(oldest).getTime() + 300_000));
  assert.equal(err.message, `Sending SMS timeout. Try later. Next attempt will be available at ${next}`);
  assert.match(next, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  const retryAfter = Number(err.headers['retry-after']);
  assert.ok(retryAfter >= 299 && retryAfter <= 301, String(retryAfter));
  assert.equal(await count(p), 3);
});

test('the window slides: attempts older than SEND_TIMEOUT stop counting and are pruned', async () => {
  const p = params({ maxAttempts: 2, sendTimeoutSeconds: 60 });
  await check(p);
  await check(p);
  await assert.rejects(check(p), (e: EsozError) => e.status === 429);
  await db.query(
    `UPDATE sms_attempts SET attempted_at = attempted_at - interval '61 seconds'
                   WHERE id = (SELECT min(id) FROM sms_attempts WHERE entity_id = $1)`,
    [p.entityId],
  );
  assert.equal(await check(p), 2);
  assert.equal(await count(p), 2); // the expired one was deleted
  await assert.rejects(check(p), (e: EsozError) => e.status === 429);
});

test('a real (short) window expires by itself', async () => {
  const p = params({ maxAttempts: 1, sendTimeoutSeconds: 1 });
  await check(p);
  await assert.rejects(check(p), (e: EsozError) => e.status === 429 && [1, 2].includes(Number(e.headers['retry-after'])));
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await check(p), 1);
});

test('the next-attempt time is the oldest LIVE attempt + SEND_TIMEOUT', async () => {
  const p = params({ maxAttempts: 2, sendTimeoutSeconds: 100 });
  await db.query(
    `INSERT INTO sms_attempts(entity_name, entity_id, attempted_at) VALUES
    ($1, $2, now() - interval '500 seconds'), ($1, $2, now() - interval '40 seconds'), ($1, $2, now() - interval '10 seconds')`,
    [p.entityName, p.entityId],
  );
  const err: EsozError = await check(p).then(
    () => assert.fail('expected 429'),
    (e) => e,
  );
  const at = Date.parse(err.message.replace(/^.* available at /, ''));
  const expected = Date.now() - 40_000 + 100_000;
  assert.ok(Math.abs(at - expected) < 3000, `${new Date(at).toISOString()} vs ${new Date(expected).toISOString()}`);
  assert.ok(Number(err.headers['retry-after']) >= 58 && Number(err.headers['retry-after']) <= 61);
});

test('entities are independent; the API is generic (composition, device_request)', async () => {
  const id = randomUUID();
  const mr = params({ entityId: id, maxAttempts: 1 });
  const comp = params({ entityName: 'composition', entityId: id, maxAttempts: 1 });
  const dr = params({ entityName: 'device_request', entityId: id, maxAttempts: 2 });
  await check(mr);
  await assert.rejects(check(mr), (e: EsozError) => e.status === 429);
  assert.equal(await check(comp), 1);
  assert.equal(await check(dr), 1);
  assert.equal(await check(dr), 2);
  await assert.rejects(check(dr), (e: EsozError) => e.status === 429);
});

test('a rolled-back caller gives its attempt back (the SMS it wanted was never queued)', async () => {
  const p = params({ maxAttempts: 1 });
  await assert.rejects(
    db.transaction(async (tx) => {
      await checkSmsTimeout(tx, p);
      throw new Error('enqueue failed');
    }),
    /enqueue failed/,
  );
  assert.equal(await count(p), 0);
  assert.equal(await check(p), 1);
});

test('must run inside a transaction', async () => {
  await assert.rejects(checkSmsTimeout(db, params()), /inside a transaction/);
});

test('formatNextAttempt rounds up to whole seconds (never earlier than the real time)', () => {
  assert.equal(formatNextAttempt(new Date('2026-01-01T10:00:00.000Z')), '2026-01-01T10:00:00Z');
  assert.equal(formatNextAttempt(new Date('2026-01-01T10:00:00.001Z')), '2026-01-01T10:00:01Z');
  assert.equal(smsTimeoutMessage('X'), 'Sending SMS timeout. Try later. Next attempt will be available at X');
});

test('concurrent checks of one entity never exceed MAX', async () => {
  const p = params({ maxAttempts: 5 });
  const results = await Promise.allSettled(Array.from({ length: 60 }, () => check(p)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
  assert.equal(await count(p), 5);
});

test('pruneSmsAttempts deletes only attempts older than the horizon, for every entity', async () => {
  const old = params();
  const live = params();
  await db.query(
    `INSERT INTO sms_attempts(entity_name, entity_id, attempted_at) VALUES ($1, $2, now() - interval '2 days'), ($1, $3, now() - interval '10 seconds')`,
    ['medication_request', old.entityId, live.entityId],
  );
  assert.ok((await pruneSmsAttempts(db, 86400)) >= 1);
  assert.equal(await count(old), 0);
  assert.equal(await count(live), 1);
});
