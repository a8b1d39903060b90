/**
 * src/registry/mpi.ts over real rows: the default-method precedence of esoz-docs §4.4 and where an
 * OTP SMS goes, over the methods production reads: the MR read (esoz_medication_request_read_many,
 * src/eprescription/sql/) of a medication request of the person.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from './support/harness.ts';
import { defaultAuthMethodOf, otpRecipientOf, type AuthMethodRow } from '../src/registry/mpi.ts';
import { jsonValue } from '../src/platform/json.ts';
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

interface M {
  type: 'OTP' | 'OFFLINE' | 'THIRD_PERSON' | 'NA';
  phone?: string;
  value?: string;
  active?: boolean;
  endedAt?: string;
}

/** A person with `methods` added in array order (inserted_at grows by one second each). */
async function person(methods: M[], opts: { active?: boolean } = {}): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO persons(id, first_name, last_name, birth_date, is_active) VALUES ($1, 'Тест', 'Тестенко', '1980-01-01', $2)`,
    [id, opts.active ?? true],
  );
  for (const [i, m] of methods.entries()) {
    await db.query(
      `INSERT INTO person_authentication_methods(person_id, type, phone_number, value, alias, is_active, ended_at, inserted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() - interval '1 day' + $8 * interval '1 second')`,
      [id, m.type, m.phone ?? null, m.value ?? null, m.type === 'THIRD_PERSON' ? 'alias' : null, m.active ?? true, m.endedAt ?? null, i],
    );
  }
  return id;
}

/** The person's active methods as the resend and GET read them: the MR read of a new MR of the person. */
async function methodsOf(personId: string): Promise<AuthMethodRow[]> {
  const mr = randomUUID();
  const le = randomUUID();
  await db.query(
    `INSERT INTO medication_requests(id, request_number, created_at, started_at, ended_at, legal_entity_id, division_id, employee_id,
                                     person_id, medication_id, medication_qty)
     VALUES ($1, $2, current_date, current_date, current_date, $3, $3, $3, $4, $3, 1)`,
    [mr, `MPI-${mr}`, le, personId],
  );
  const { rows } = await db.query<{ r: unknown }>('SELECT esoz_medication_request_read_many($1::json) AS r', [
    JSON.stringify([{ id: mr, le, types: [] }]),
  ]);
  const [read] = jsonValue<{ methods: AuthMethodRow[] }[]>(rows[0]!.r);
  return read!.methods;
}
const defaultAuthMethod = async (_: Db, personId: string) => defaultAuthMethodOf(await methodsOf(personId));
const findOtpRecipient = async (_: Db, personId: string) => otpRecipientOf(await methodsOf(personId));

test('1. active OTP wins over OFFLINE and THIRD_PERSON, whatever the order they were added in', async () => {
  const confidant = await person([{ type: 'OTP', phone: '+380500000001' }]);
  const p = await person([{ type: 'THIRD_PERSON', value: confidant }, { type: 'OFFLINE' }, { type: 'OTP', phone: '+380500000002' }]);
  assert.deepEqual(await findOtpRecipient(db, p), { phone_number: '+380500000002', via: 'OTP' });
  assert.equal((await defaultAuthMethod(db, p))?.type, 'OTP');
});

test('2. active OFFLINE wins over THIRD_PERSON with an OTP confidant → no OTP recipient', async () => {
  const confidant = await person([{ type: 'OTP', phone: '+380500000003' }]);
  const p = await person([{ type: 'THIRD_PERSON', value: confidant }, { type: 'OFFLINE' }]);
  assert.equal((await defaultAuthMethod(db, p))?.type, 'OFFLINE');
  assert.equal(await findOtpRecipient(db, p), null);
});

test("3. THIRD_PERSON whose third person uses OTP → the confidant's phone", async () => {
  const confidant = await person([{ type: 'OTP', phone: '+380500000004' }]);
  const p = await person([{ type: 'THIRD_PERSON', value: confidant }]);
  assert.deepEqual(await findOtpRecipient(db, p), { phone_number: '+380500000004', via: 'THIRD_PERSON', confidant_person_id: confidant });
});

test('3. the first-added THIRD_PERSON with an OTP confidant is chosen among several', async () => {
  const c1 = await person([{ type: 'OTP', phone: '+380500000005' }]);
  const c2 = await person([{ type: 'OTP', phone: '+380500000006' }]);
  const p = await person([
    { type: 'THIRD_PERSON', value: c1 },
    { type: 'THIRD_PERSON', value: c2 },
  ]);
  assert.equal((await findOtpRecipient(db, p))?.phone_number, '+380500000005');
});

test('3 before 4. an earlier THIRD_PERSON with an OFFLINE confidant loses to a later one with an OTP confidant', async () => {
  const offline = await person([{ type: 'OFFLINE' }]);
  const otp = await person([{ type: 'OTP', phone: '+380500000007' }]);
  const p = await person([
    { type: 'THIRD_PERSON', value: offline },
    { type: 'THIRD_PERSON', value: otp },
  ]);
  assert.deepEqual(await findOtpRecipient(db, p), { phone_number: '+380500000007', via: 'THIRD_PERSON', confidant_person_id: otp });
});

test('4. only THIRD_PERSON with an OFFLINE confidant → default THIRD_PERSON/OFFLINE, no OTP recipient', async () => {
  const offline = await person([{ type: 'OFFLINE' }]);
  const p = await person([{ type: 'THIRD_PERSON', value: offline }]);
  assert.deepEqual(await defaultAuthMethod(db, p), {
    type: 'THIRD_PERSON',
    method_id: (await defaultAuthMethod(db, p))!.method_id,
    confidant_person_id: offline,
    confidant_type: 'OFFLINE',
  });
  assert.equal(await findOtpRecipient(db, p), null);
});

test('a confidant with both OTP and OFFLINE uses OTP', async () => {
  const confidant = await person([{ type: 'OFFLINE' }, { type: 'OTP', phone: '+380500000008' }]);
  const p = await person([{ type: 'THIRD_PERSON', value: confidant }]);
  assert.equal((await findOtpRecipient(db, p))?.phone_number, '+380500000008');
});

test('5. nothing, or only NA → none', async () => {
  assert.equal(await defaultAuthMethod(db, await person([])), null);
  assert.equal(await findOtpRecipient(db, await person([{ type: 'NA' }])), null);
  assert.equal(await findOtpRecipient(db, randomUUID()), null);
});

test('inactive and ended methods do not count', async () => {
  const confidant = await person([{ type: 'OTP', phone: '+380500000009' }]);
  const p = await person([
    { type: 'OTP', phone: '+380500000010', active: false },
    { type: 'OFFLINE', endedAt: '2020-01-01T00:00:00Z' },
    { type: 'THIRD_PERSON', value: confidant },
  ]);
  assert.deepEqual(await findOtpRecipient(db, p), { phone_number: '+380500000009', via: 'THIRD_PERSON', confidant_person_id: confidant });
  const future = await person([{ type: 'OTP', phone: '+380500000011', endedAt: '2999-01-01T00:00:00Z' }]);
  assert.equal((await findOtpRecipient(db, future))?.phone_number, '+380500000011');
});

test('a confidant who is inactive in MPI, or whose OTP is inactive, is not used', async () => {
  const inactive = await person([{ type: 'OTP', phone: '+380500000012' }], { active: false });
  const p1 = await person([{ type: 'THIRD_PERSON', value: inactive }]);
  assert.equal(await findOtpRecipient(db, p1), null);
  const noOtp = await person([{ type: 'OTP', phone: '+380500000013', active: false }]);
  const p2 = await person([{ type: 'THIRD_PERSON', value: noOtp }]);
  assert.equal(await findOtpRecipient(db, p2), null);
  assert.equal(await defaultAuthMethod(db, p2), null);
});

test("the third person's own THIRD_PERSON method is not followed (one level only)", async () => {
  const deep = await person([{ type: 'OTP', phone: '+380500000014' }]);
  const middle = await person([{ type: 'THIRD_PERSON', value: deep }]);
  const p = await person([{ type: 'THIRD_PERSON', value: middle }]);
  assert.equal(await findOtpRecipient(db, p), null);
});
