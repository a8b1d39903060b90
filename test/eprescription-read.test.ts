/**
 * The hot read's per-process copies (src/eprescription/read.ts, src/registry/reference-cache.ts) are
 * exact: after any write, the very next GET or resend shows it — reference rows, the MR itself, the
 * person's authentication methods — and a method whose end date passes stops counting without any
 * write. On PostgreSQL the write goes through one API process and the read through another.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, backend, type TestServer, type Mis } from './support/harness.ts';
import { seedRegistry, addMr, R, PHONES, resendPath } from './eprescription-helpers.ts';
import { medicationRequestReaderOf } from '../src/eprescription/read.ts';

let writer: TestServer;
/** the process that reads: a second API process on PostgreSQL, the same one on PGlite */
let reader: TestServer;
let mis: Mis;
let readerMis: Mis;

before(async () => {
  writer = await startTestServer();
  await seedRegistry(writer.runtime.platform.db);
  reader = backend === 'postgres' ? await startTestServer({ databaseUrl: writer.databaseUrl }) : writer;
  mis = await writer.mis({ legalEntityId: R.legalEntityId });
  readerMis =
    reader === writer
      ? mis
      : { ...mis, call: (method, path, o = {}) => reader.call(method, path, { token: mis.token, apiKey: mis.secret, ...o }) };
});
after(async () => {
  if (reader !== writer) await reader?.close(); // the second server does not own the database
  await writer?.close();
});

const get = (id: string) => readerMis.call('GET', `/api/medication_requests/${id}`);
const sql = (text: string, params: unknown[] = []) => writer.runtime.platform.db.query(text, params);

async function lastSmsPhone(mrId: string) {
  const r = await sql(`SELECT phone_number FROM sms_outbox WHERE entity_id = $1 ORDER BY inserted_at DESC LIMIT 1`, [mrId]);
  return r.rows[0]?.phone_number;
}

test(`a reference row changed after it was read shows in the next GET (${backend}${backend === 'postgres' ? ', read by another process' : ''})`, async () => {
  const mr = await addMr(writer);
  assert.equal((await get(mr.id)).body.data.medication_info.medication_name, 'Аміодарон 200мг таблетки');
  await sql(`UPDATE medications SET name = 'Аміодарон 100мг таблетки' WHERE id = $1`, [R.medicationId]);
  assert.equal((await get(mr.id)).body.data.medication_info.medication_name, 'Аміодарон 100мг таблетки');
  // through the sandbox admin API too (legal entity name)
  await writer.fixtures({ legal_entities: [{ id: R.legalEntityId, name: 'Клініка Перейменована' }] });
  assert.equal((await get(mr.id)).body.data.legal_entity.name, 'Клініка Перейменована');
  await sql(`UPDATE medications SET name = 'Аміодарон 200мг таблетки' WHERE id = $1`, [R.medicationId]);
});

test('a reference row known not to exist stays missing when it comes from the copy (500 both times)', async () => {
  const mr = await addMr(writer);
  await sql(`UPDATE medication_requests SET medication_id = $2 WHERE id = $1`, [mr.id, '11111111-0000-4000-8000-000000000001']);
  for (let i = 0; i < 2; i++) {
    const r = await readerMis.call('PATCH', resendPath(mr.id));
    assert.equal(r.status, 500, r.text);
    assert.equal(r.body.error.message, `Could not load remote reference for medication_request ${mr.id}`);
  }
});

test('a medication request changed after it was read answers by its new state (status → 409 on resend)', async () => {
  const mr = await addMr(writer);
  assert.equal((await get(mr.id)).body.data.status, 'ACTIVE');
  await sql(`UPDATE medication_requests SET status = 'REJECTED' WHERE id = $1`, [mr.id]);
  assert.equal((await get(mr.id)).body.data.status, 'REJECTED');
  const r = await readerMis.call('PATCH', resendPath(mr.id));
  assert.equal(r.status, 409);
  assert.equal(r.body.error.message, 'Invalid status Medication request for resend action!');
});

test('a medication request that moved to another legal entity is no longer visible (404), copy or not', async () => {
  const mr = await addMr(writer);
  assert.equal((await get(mr.id)).status, 200);
  await sql(`UPDATE medication_requests SET legal_entity_id = $2 WHERE id = $1`, [mr.id, R.otherLegalEntityId]);
  assert.equal((await get(mr.id)).status, 404);
});

test("the person's OTP phone changed after a resend: the next resend goes to the new phone", async () => {
  const mr = await addMr(writer);
  assert.equal((await readerMis.call('PATCH', resendPath(mr.id))).status, 200);
  assert.equal(await lastSmsPhone(mr.id), PHONES.personOtp);
  await sql(`UPDATE person_authentication_methods SET phone_number = '+380509998877' WHERE person_id = $1 AND type = 'OTP'`, [
    R.personOtpId,
  ]);
  try {
    assert.equal((await readerMis.call('PATCH', resendPath(mr.id))).status, 200);
    assert.equal(await lastSmsPhone(mr.id), '+380509998877');
  } finally {
    await sql(`UPDATE person_authentication_methods SET phone_number = $2 WHERE person_id = $1 AND type = 'OTP'`, [
      R.personOtpId,
      PHONES.personOtp,
    ]);
  }
});

test('an OTP method whose end date passes stops counting without any write (next resend → 409)', async () => {
  // a person of their own, so the other tests' MRs are unaffected
  const personId = '7e2a0000-0000-4000-8000-0000000000e1';
  await sql(
    `INSERT INTO persons(id, first_name, last_name, second_name, birth_date) VALUES ($1, 'Ірина', 'Кравченко', 'Петрівна', '1980-02-02')`,
    [personId],
  );
  await sql(
    `INSERT INTO person_authentication_methods(person_id, type, phone_number, ended_at) VALUES ($1, 'OTP', '+380501230000', now() + interval '1.5 seconds')`,
    [personId],
  );
  const mr = await addMr(writer, { person_id: personId });
  assert.equal((await readerMis.call('PATCH', resendPath(mr.id))).status, 200);
  await new Promise((r) => setTimeout(r, 1800));
  const r = await readerMis.call('PATCH', resendPath(mr.id));
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.body.error.message, 'Person or third person has no OTP auth method');
});

test("a confidant's OTP method whose end date passes stops counting for the THIRD_PERSON too", async () => {
  const child = '7e2a0000-0000-4000-8000-0000000000e2';
  const confidant = '7e2a0000-0000-4000-8000-0000000000e3';
  await sql(
    `INSERT INTO persons(id, first_name, last_name, second_name, birth_date) VALUES ($1, 'Марко', 'Кравченко', 'Іванович', '2020-02-02'), ($2, 'Іван', 'Кравченко', 'Петрович', '1980-02-02')`,
    [child, confidant],
  );
  await sql(`INSERT INTO person_authentication_methods(person_id, type, value) VALUES ($1, 'THIRD_PERSON', $2)`, [child, confidant]);
  await sql(
    `INSERT INTO person_authentication_methods(person_id, type, phone_number, ended_at) VALUES ($1, 'OTP', '+380501230001', now() + interval '1.5 seconds')`,
    [confidant],
  );
  const mr = await addMr(writer, { person_id: child });
  assert.equal((await readerMis.call('PATCH', resendPath(mr.id))).status, 200);
  assert.equal(await lastSmsPhone(mr.id), '+380501230001');
  await new Promise((r) => setTimeout(r, 1800));
  const r = await readerMis.call('PATCH', resendPath(mr.id));
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.body.error.message, 'Person or third person has no OTP auth method');
});

test('the copies are shared by requests and frozen: a renderer cannot change them by accident', async () => {
  const mr = await addMr(writer);
  const reader = medicationRequestReaderOf(writer.runtime.platform);
  const a = (await reader.read(mr.id, R.legalEntityId))!.mr;
  const b = (await reader.read(mr.id, R.legalEntityId))!.mr;
  assert.equal(b.medication, a.medication); // the same copy, not re-read
  assert.ok(Object.isFrozen(a.medication) && Object.isFrozen(a.medication!.ingredients) && Object.isFrozen(a.dosage_instruction));
  assert.throws(() => {
    (a.medication as any).name = 'changed';
  }, TypeError);
});
