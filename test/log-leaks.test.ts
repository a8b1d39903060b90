/**
 * Log leak paths, on a real server whose log lines are captured: a failed statement's error (PGlite
 * attaches the bind parameters to it; PostgreSQL puts the row in `detail`) and secrets sent as query
 * parameters (`api_key`, …) never reach the log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startTestServer, type TestServer } from './support/harness.ts';
import { seedRegistry, addMr, R, PHONES, resendPath } from './eprescription-helpers.ts';
import { errSerializer, maskUrl } from '../src/platform/logging.ts';

let server: TestServer;
let out = '';
const lines = () =>
  out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

before(async () => {
  const logStream = new Writable({
    write(chunk, _e, cb) {
      out += chunk.toString();
      cb();
    },
  });
  server = await startTestServer({ env: { LOG_LEVEL: 'info' }, logStream });
  await seedRegistry(server.runtime.platform.db);
});
after(async () => {
  await server?.close();
});

test('a failed statement carrying a phone number and the SMS text: the error is logged without them', async () => {
  const { db } = server.runtime.platform;
  const mr = await addMr(server, { verification_code: '8642' });
  const mis = await server.mis({ legalEntityId: R.legalEntityId });
  // every SMS row is refused by the database: the resend statement (phone and SMS text among its parameters) fails
  await db.query('ALTER TABLE sms_outbox ADD CONSTRAINT test_no_sms CHECK (false) NOT VALID');
  let r;
  try {
    out = '';
    r = await mis.call('PATCH', resendPath(mr.id));
  } finally {
    await db.query('ALTER TABLE sms_outbox DROP CONSTRAINT test_no_sms');
  }
  assert.equal(r.status, 500, r.text);
  const failed = lines().find((l) => l.msg === 'request failed');
  assert.ok(failed, `the failure is logged: ${out}`);
  assert.match(failed.err.message, /test_no_sms/, 'the error itself is still logged');
  assert.equal(failed.err.params, undefined);
  for (const secret of [
    PHONES.personOtp,
    PHONES.personOtp.slice(1),
    'код 8642',
    'Код підтвердження: 8642',
    mr.request_number,
    mis.token,
    mis.secret,
  ]) {
    assert.equal(out.includes(secret), false, `log contains ${secret}: ${out}`);
  }
});

test('a data exception quoting the offending value: message, stack and detail are masked; params are dropped', async () => {
  const { db } = server.runtime.platform;
  const err = await db.query('SELECT $1::int', [PHONES.personOtp]).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err, 'the statement failed');
  const s = errSerializer(err) as Record<string, any>;
  const text = JSON.stringify(s);
  assert.equal(text.includes(PHONES.personOtp), false, text);
  assert.equal(s.params, undefined);
  assert.match(String(s.code), /^22/);
  const wrapped = errSerializer(
    new Error('wrapped', {
      cause: Object.assign(new Error('inner'), { detail: `Key (phone)=(${PHONES.personOtp})`, params: [PHONES.personOtp] }),
    }),
  );
  assert.equal(JSON.stringify(wrapped).includes(PHONES.personOtp), false);
});

test('api_key and other secrets in the query string are masked in the request log', async () => {
  out = '';
  const key = 'QueryApiKeySecret0123456789';
  const r = await server.call(
    'GET',
    `/api/medication_requests/${R.personOtpId}?api_key=${key}&access_token=TokenSecret987&phone_number=%2B380501112233&x=1`,
  );
  assert.ok(r.status >= 400);
  const incoming = lines().filter((l) => l.msg === 'incoming request');
  assert.ok(incoming.length > 0, `request logged: ${out}`);
  assert.match(incoming[0].req.url, /api_key=\[Redacted\]&access_token=\[Redacted\]&phone_number=\[Redacted\]&x=1$/);
  for (const secret of [key, 'TokenSecret987', '380501112233']) assert.equal(out.includes(secret), false, `log contains ${secret}`);
  assert.equal(maskUrl('/a?API-KEY=s&apikey=t#f'), '/a?API-KEY=[Redacted]&apikey=[Redacted]#f');
});

test('a line written by domain code during a request carries that request id (the request context logger)', async () => {
  const mr = await addMr(server);
  await server.runtime.platform.db.query(`UPDATE medication_requests SET medication_id = $2 WHERE id = $1`, [
    mr.id,
    '11111111-0000-4000-8000-00000000000d',
  ]);
  const mis = await server.mis({ legalEntityId: R.legalEntityId });
  out = '';
  const r = await mis.call('GET', `/api/medication_requests/${mr.id}`, { headers: { 'x-request-id': 'req-domain-log-1' } });
  assert.equal(r.status, 500, r.text);
  const line = lines().find((l) => l.msg === 'medication request references missing registry rows');
  assert.ok(line, `the domain line is logged: ${out}`);
  assert.equal(line.request_id, 'req-domain-log-1');
  assert.equal(line.medication_request_id, mr.id);
});
