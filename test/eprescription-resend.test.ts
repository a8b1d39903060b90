/**
 * PATCH /api/medication_requests/{id}/actions/resend and GET /api/medication_requests/{id}:
 * every check of seed 003 with its exact code, type and message, the order of the checks, the
 * response view, the SMS that gets queued, and access by legal entity.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, waitFor, type TestServer, type Mis } from './support/harness.ts';
import { seedRegistry, addMr, R, PHONES, PROGRAM_TEMPLATE, resendPath } from './eprescription-helpers.ts';
import { REQUEST_NUMBER_RE } from '../src/eprescription/request-number.ts';
import { checkSmsTimeout, windowFullError } from '../src/platform/sms/sms-timeout.ts';
import { medicationRequestReaderOf } from '../src/eprescription/read.ts';
import { recordAttemptAndEnqueueSms } from '../src/platform/sms/outbox.ts';
import type { EsozError } from '../src/platform/errors.ts';

let server: TestServer;
let mis: Mis;

const SCOPE_MSG = 'Your scope does not allow to access this resource. Missing allowances: medication_request:resend';

function assertError(r: { status: number; body: any }, status: number, type: string, message: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.meta.code, status);
  assert.equal(r.body.error.type, type);
  assert.equal(r.body.error.message, message);
  assert.equal(r.body.data, undefined);
}

async function outbox(entityId: string) {
  return (
    await server.runtime.platform.db.query<{ phone_number: string; body: string; status: string }>(
      `SELECT phone_number, body, status FROM sms_outbox WHERE entity_name = 'medication_request' AND entity_id = $1 ORDER BY inserted_at`,
      [entityId],
    )
  ).rows;
}
async function attempts(entityId: string) {
  return (
    await server.runtime.platform.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sms_attempts WHERE entity_name = 'medication_request' AND entity_id = $1`,
      [entityId],
    )
  ).rows[0].n;
}
/** The MR's SMS timeout window as the resend reads it in check 3: without the lock (src/eprescription/read.ts). */
async function lockFreeWindow(mrId: string, limit: { entityName: string; sendTimeoutSeconds: number }) {
  const read = await medicationRequestReaderOf(server.runtime.platform).read(mrId, R.legalEntityId, limit);
  assert.ok(read, 'the MR is visible to its legal entity');
  return read.window;
}

before(async () => {
  server = await startTestServer();
  await seedRegistry(server.runtime.platform.db);
  mis = await server.mis({ legalEntityId: R.legalEntityId });
});
after(async () => {
  await server?.close();
});

describe('check 1: token', () => {
  test('unknown token → 401 Invalid access token', async () => {
    const mr = await addMr(server);
    const r = await server.call('PATCH', resendPath(mr.id), { token: 'not-a-token', apiKey: mis.secret });
    assertError(r, 401, 'access_denied', 'Invalid access token');
    assert.equal(await attempts(mr.id), 0);
  });
  test('no Authorization header → 401 Invalid access token', async () => {
    const mr = await addMr(server);
    assertError(await server.call('PATCH', resendPath(mr.id)), 401, 'access_denied', 'Invalid access token');
  });
  test('expired token → 401 Invalid access token', async () => {
    const mr = await addMr(server);
    const expired = await server.mis({ legalEntityId: R.legalEntityId, expiresIn: -60 });
    assertError(await expired.call('PATCH', resendPath(mr.id)), 401, 'access_denied', 'Invalid access token');
  });
  test('token is checked before scope (bad token without the scope → 401)', async () => {
    const noScope = await server.mis({ legalEntityId: R.legalEntityId, scopes: ['medication_request:details'] });
    const r = await server.call('PATCH', resendPath(R.medicationId), { token: 'x' + noScope.token, apiKey: noScope.secret });
    assertError(r, 401, 'access_denied', 'Invalid access token');
  });
});

describe('check 2: scope', () => {
  test('token without medication_request:resend → 403 with the missing allowance', async () => {
    const mr = await addMr(server);
    const c = await server.mis({ legalEntityId: R.legalEntityId, scopes: ['medication_request:details'] });
    assertError(await c.call('PATCH', resendPath(mr.id)), 403, 'forbidden', SCOPE_MSG);
    assert.equal(await attempts(mr.id), 0);
  });
  test('scope is checked before the MR lookup (unknown MR without the scope → 403, not 404)', async () => {
    const c = await server.mis({ legalEntityId: R.legalEntityId, scopes: [] });
    assertError(await c.call('PATCH', resendPath('00000000-0000-4000-8000-000000000000')), 403, 'forbidden', SCOPE_MSG);
  });
  test('GET details needs medication_request:details', async () => {
    const mr = await addMr(server);
    const c = await server.mis({ legalEntityId: R.legalEntityId, scopes: ['medication_request:resend'] });
    assertError(
      await c.call('GET', `/api/medication_requests/${mr.id}`),
      403,
      'forbidden',
      'Your scope does not allow to access this resource. Missing allowances: medication_request:details',
    );
  });
});

describe("check 3: MR exists (and is the caller's)", () => {
  test('unknown UUID → 404 Not found', async () => {
    assertError(await mis.call('PATCH', resendPath('9b3c1a52-0000-4000-8000-000000000000')), 404, 'not_found', 'Not found');
  });
  test('id that is neither a UUID nor a request number → 404 Not found', async () => {
    for (const bad of ['abc', '123', '0000-0000-0000-000Z', "1'; DROP TABLE medication_requests; --"]) {
      assertError(await mis.call('PATCH', resendPath(encodeURIComponent(bad))), 404, 'not_found', 'Not found');
    }
  });
  test('unknown request number → 404 Not found', async () => {
    assertError(await mis.call('PATCH', resendPath('0000-0000-0000-0000')), 404, 'not_found', 'Not found');
  });
  test('MR of another legal entity → 404 Not found, nothing recorded', async () => {
    const mr = await addMr(server, {
      legal_entity_id: R.otherLegalEntityId,
      division_id: R.otherDivisionId,
      employee_id: R.otherEmployeeId,
    });
    assertError(await mis.call('PATCH', resendPath(mr.id)), 404, 'not_found', 'Not found');
    assertError(await mis.call('GET', `/api/medication_requests/${mr.id}`), 404, 'not_found', 'Not found');
    assert.equal(await attempts(mr.id), 0);
    const other = await server.mis({ legalEntityId: R.otherLegalEntityId });
    assert.equal((await other.call('PATCH', resendPath(mr.id))).status, 200);
  });
  test("visibility is checked before intent (another legal entity's plan MR → 404)", async () => {
    const mr = await addMr(server, {
      legal_entity_id: R.otherLegalEntityId,
      division_id: R.otherDivisionId,
      employee_id: R.otherEmployeeId,
      intent: 'plan',
      status: 'REJECTED',
    });
    assertError(await mis.call('PATCH', resendPath(mr.id)), 404, 'not_found', 'Not found');
  });
  test('client without a legal entity sees no MR → 404', async () => {
    const mr = await addMr(server);
    const c = await server.mis({ legalEntityId: null });
    assertError(await c.call('PATCH', resendPath(mr.id)), 404, 'not_found', 'Not found');
  });
  test('a pharmacy client sees MRs of every legal entity (2019 rule)', async () => {
    const mr = await addMr(server);
    const c = await server.mis({ legalEntityId: R.pharmacyLegalEntityId });
    assert.equal((await c.call('GET', `/api/medication_requests/${mr.id}`)).status, 200);
  });
  test('found by request number too', async () => {
    const mr = await addMr(server);
    const r = await mis.call('PATCH', resendPath(mr.request_number));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.id, mr.id);
    const g = await mis.call('GET', `/api/medication_requests/${mr.request_number}`);
    assert.equal(g.body.data.id, mr.id);
  });
});

describe('check 4: intent', () => {
  test('plan → 409 For medication request plan information cannot be resent', async () => {
    const mr = await addMr(server, { intent: 'plan', dispense_valid_from: null, dispense_valid_to: null });
    assertError(
      await mis.call('PATCH', resendPath(mr.id)),
      409,
      'request_conflict',
      'For medication request plan information cannot be resent',
    );
    assert.equal(await attempts(mr.id), 0);
  });
  test('intent is checked before status (REJECTED plan → the intent message)', async () => {
    const mr = await addMr(server, {
      intent: 'plan',
      status: 'REJECTED',
      medical_program_id: R.programNoSmsId,
      verification_code: null,
      person_id: R.personOfflineId,
    });
    assertError(
      await mis.call('PATCH', resendPath(mr.id)),
      409,
      'request_conflict',
      'For medication request plan information cannot be resent',
    );
  });
});

describe('check 5: status', () => {
  for (const status of ['REJECTED', 'COMPLETED', 'EXPIRED']) {
    test(`${status} → 409 Invalid status Medication request for resend action!`, async () => {
      const mr = await addMr(server, { status });
      assertError(
        await mis.call('PATCH', resendPath(mr.id)),
        409,
        'request_conflict',
        'Invalid status Medication request for resend action!',
      );
      assert.equal(await attempts(mr.id), 0);
    });
  }
  test('status is checked before the program (REJECTED in a no-SMS program → the status message)', async () => {
    const mr = await addMr(server, { status: 'REJECTED', medical_program_id: R.programNoSmsId, verification_code: null });
    assertError(
      await mis.call('PATCH', resendPath(mr.id)),
      409,
      'request_conflict',
      'Invalid status Medication request for resend action!',
    );
  });
});

describe('check 6: medical program notifications', () => {
  test('medication_request_notification_disabled = true → 409 Notifications are not allowed for the medical program!', async () => {
    const mr = await addMr(server, { medical_program_id: R.programNoSmsId });
    assertError(
      await mis.call('PATCH', resendPath(mr.id)),
      409,
      'request_conflict',
      'Notifications are not allowed for the medical program!',
    );
    assert.equal(await attempts(mr.id), 0);
  });
  test('the newer name request_notification_disabled = true → the same 409', async () => {
    const mr = await addMr(server, { medical_program_id: R.programNoSmsNewNameId });
    assertError(
      await mis.call('PATCH', resendPath(mr.id)),
      409,
      'request_conflict',
      'Notifications are not allowed for the medical program!',
    );
  });
  test('program is checked before the verification code', async () => {
    const mr = await addMr(server, { medical_program_id: R.programNoSmsId, verification_code: null, person_id: R.personOfflineId });
    assertError(
      await mis.call('PATCH', resendPath(mr.id)),
      409,
      'request_conflict',
      'Notifications are not allowed for the medical program!',
    );
  });
  test('an MR without a program passes the check', async () => {
    const mr = await addMr(server, { medical_program_id: null });
    const r = await mis.call('PATCH', resendPath(mr.id));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.medical_program, undefined);
  });
});

describe('check 7: verification code', () => {
  test("null → 403 Can't resend Medication request without verification code!", async () => {
    const mr = await addMr(server, { verification_code: null });
    assertError(await mis.call('PATCH', resendPath(mr.id)), 403, 'forbidden', "Can't resend Medication request without verification code!");
    assert.equal(await attempts(mr.id), 0);
  });
  test('empty string → the same 403', async () => {
    const mr = await addMr(server, { verification_code: '' });
    assertError(await mis.call('PATCH', resendPath(mr.id)), 403, 'forbidden', "Can't resend Medication request without verification code!");
  });
  test('the code is checked before the person (no code, OFFLINE person → 403)', async () => {
    const mr = await addMr(server, { verification_code: null, person_id: R.personOfflineId });
    assertError(await mis.call('PATCH', resendPath(mr.id)), 403, 'forbidden', "Can't resend Medication request without verification code!");
  });
});

describe('check 8: person auth method', () => {
  for (const [label, personId] of [
    ['OFFLINE person', R.personOfflineId],
    ['THIRD_PERSON whose confidant is OFFLINE', R.personThirdOfflineId],
    ['person without methods', R.personNoMethodsId],
  ] as const) {
    test(`${label} → 409 Person or third person has no OTP auth method`, async () => {
      const mr = await addMr(server, { person_id: personId });
      assertError(await mis.call('PATCH', resendPath(mr.id)), 409, 'request_conflict', 'Person or third person has no OTP auth method');
      assert.equal(await attempts(mr.id), 0);
      assert.equal((await outbox(mr.id)).length, 0);
    });
  }
  test('the person is checked before the SMS timeout (window full, OFFLINE person → 409, not 429)', async () => {
    const mr = await addMr(server, { person_id: R.personOfflineId });
    for (let i = 0; i < 5; i++) {
      await server.runtime.platform.db.query(`INSERT INTO sms_attempts(entity_name, entity_id) VALUES ('medication_request', $1)`, [mr.id]);
    }
    assertError(await mis.call('PATCH', resendPath(mr.id)), 409, 'request_conflict', 'Person or third person has no OTP auth method');
  });
});

describe('check 9: SMS timeout procedure', () => {
  test('MR_MAX_ATTEMPTS_COUNT (3) resends pass, the 4th → 429 with the next time and Retry-After; nothing recorded', async () => {
    const mr = await addMr(server);
    for (let i = 0; i < 3; i++) assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 200);
    const { rows } = await server.runtime.platform.db.query<{ oldest: Date }>(
      `SELECT min(attempted_at) AS oldest FROM sms_attempts WHERE entity_name = 'medication_request' AND entity_id = $1`,
      [mr.id],
    );
    const r = await mis.call('PATCH', resendPath(mr.id));
    assert.equal(r.status, 429);
    assert.equal(r.body.error.type, 'sms_timeout');
    const m = /^Sending SMS timeout\. Try later\. Next attempt will be available at (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$/.exec(
      r.body.error.message,
    );
    assert.ok(m, r.body.error.message);
    const expected = Math.ceil((new Date(rows[0].oldest).getTime() + 300_000) / 1000) * 1000;
    assert.equal(Date.parse(m[1]), expected);
    const retryAfter = Number(r.headers.get('retry-after'));
    assert.ok(retryAfter > 290 && retryAfter <= 301, `Retry-After ${retryAfter}`);
    assert.equal(await attempts(mr.id), 3);
    assert.equal((await outbox(mr.id)).length, 3);
  });
  test('the window slides: when the oldest attempt is older than MR_SEND_TIMEOUT, a resend passes again', async () => {
    const mr = await addMr(server);
    for (let i = 0; i < 3; i++) assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 200);
    assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 429);
    await server.runtime.platform.db.query(
      `UPDATE sms_attempts SET attempted_at = attempted_at - interval '301 seconds'
        WHERE id = (SELECT id FROM sms_attempts WHERE entity_name = 'medication_request' AND entity_id = $1 ORDER BY attempted_at LIMIT 1)`,
      [mr.id],
    );
    assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 200);
    assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 429);
    assert.equal((await outbox(mr.id)).length, 4);
  });
  test('the lock-free pre-check answers the same 429 (message, Retry-After) as the locked procedure, and records nothing', async () => {
    const mr = await addMr(server);
    for (let i = 0; i < 3; i++) assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 200);
    const { db } = server.runtime.platform;
    const limit = { entityName: 'medication_request', entityId: mr.id, maxAttempts: 3, sendTimeoutSeconds: 300 };
    // the route: the window read by the loader is already full → 429 without taking the lock
    const viaRoute = await mis.call('PATCH', resendPath(mr.id));
    assert.equal(viaRoute.status, 429);
    // the locked one-statement procedure (what the route runs when the lock-free read had room)
    const locked = await recordAttemptAndEnqueueSms(db, limit, { phoneNumber: PHONES.personOtp, body: 'x' }).then(
      () => assert.fail('the locked procedure admitted a 4th attempt'),
      (e: EsozError) => e,
    );
    // the composable API in a caller's transaction
    const inTx = await db
      .transaction((tx) => checkSmsTimeout(tx, limit))
      .then(
        () => assert.fail('checkSmsTimeout admitted a 4th attempt'),
        (e: EsozError) => e,
      );
    // and the lock-free read itself
    const peeked = windowFullError(await lockFreeWindow(mr.id, limit), 300);
    for (const e of [locked, inTx, peeked]) {
      assert.equal(e.status, 429);
      assert.equal(e.type, viaRoute.body.error.type);
      assert.equal(e.message, viaRoute.body.error.message);
      const ra = Number(e.headers?.['retry-after']);
      assert.ok(
        Math.abs(ra - Number(viaRoute.headers.get('retry-after'))) <= 1,
        `Retry-After ${ra} vs ${viaRoute.headers.get('retry-after')}`,
      );
    }
    assert.equal(await attempts(mr.id), 3);
    assert.equal((await outbox(mr.id)).length, 3);
  });
  test('a window with room in the lock-free read is re-checked under the lock (attempt recorded concurrently)', async () => {
    const mr = await addMr(server);
    const { db } = server.runtime.platform;
    const limit = { entityName: 'medication_request', entityId: mr.id, maxAttempts: 1, sendTimeoutSeconds: 300 };
    const before = await lockFreeWindow(mr.id, limit);
    assert.equal(before.live, 0);
    // another caller's attempt commits between the lock-free read and the locked statement
    await recordAttemptAndEnqueueSms(db, limit, { phoneNumber: PHONES.personOtp, body: 'first' });
    await assert.rejects(
      recordAttemptAndEnqueueSms(db, limit, { phoneNumber: PHONES.personOtp, body: 'second' }),
      (e: EsozError) => e.status === 429,
    );
    assert.equal(await attempts(mr.id), 1);
    assert.deepEqual(
      (await outbox(mr.id)).map((o) => o.body),
      ['first'],
    );
  });
  test('each MR has its own window', async () => {
    const a = await addMr(server);
    const b = await addMr(server);
    for (let i = 0; i < 3; i++) await mis.call('PATCH', resendPath(a.id));
    assert.equal((await mis.call('PATCH', resendPath(a.id))).status, 429);
    assert.equal((await mis.call('PATCH', resendPath(b.id))).status, 200);
  });
});

describe('checks 10–11: SMS text, recipient, response', () => {
  test("OTP person: SMS from the default template to the person's phone; 200 with the MR view", async () => {
    const mr = await addMr(server);
    const r = await mis.call('PATCH', resendPath(mr.id));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.meta.code, 200);
    assert.equal(r.body.meta.type, 'object');
    const sms = await outbox(mr.id);
    assert.equal(sms.length, 1);
    assert.equal(sms[0].phone_number, PHONES.personOtp);
    assert.equal(sms[0].body, `Ваш рецепт: ${mr.request_number}. Код підтвердження: 1234`);
    // the log provider delivers it (SMS_PROVIDER=log): SENT, visible in the outbox
    await waitFor(async () => (await outbox(mr.id))[0].status === 'SENT');
  });
  test("THIRD_PERSON with an OTP confidant: SMS to the confidant's phone", async () => {
    const mr = await addMr(server, { person_id: R.personThirdId, verification_code: '9876' });
    assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 200);
    const sms = await outbox(mr.id);
    assert.equal(sms[0].phone_number, PHONES.confidantOtp);
    assert.equal(sms[0].body, `Ваш рецепт: ${mr.request_number}. Код підтвердження: 9876`);
  });
  test("a program's sign_template_sms overrides the global template; placeholders filled from the MR", async () => {
    const mr = await addMr(server, { medical_program_id: R.programTemplateId, verification_code: '4321' });
    assert.equal((await mis.call('PATCH', resendPath(mr.id))).status, 200);
    const expected = PROGRAM_TEMPLATE.replace('<request_number>', mr.request_number)
      .replace('<medication_name>', 'Аміодарон 200мг таблетки')
      .replace('<created_at>', '2026-01-10')
      .replace('<verification_code>', '4321');
    assert.equal((await outbox(mr.id))[0].body, expected);
  });
  test('the view: seed 003 fields in order, references expanded, never verification_code', async () => {
    const mr = await addMr(server, {
      priority: 'routine',
      based_on: [
        {
          identifier: {
            type: { coding: [{ system: 'eHealth/resources', code: 'care_plan' }] },
            value: '9183a36b-4d45-4244-9339-63d81cd08d9c',
          },
        },
      ],
      container_dosage: { system: 'MEDICATION_UNIT', code: 'ML', value: 4 },
    });
    const r = await mis.call('PATCH', resendPath(mr.id));
    const d = r.body.data;
    assert.equal(r.text.includes('verification_code'), false);
    assert.equal(r.text.includes('1234'), false);
    assert.deepEqual(Object.keys(d), [
      'id',
      'status',
      'request_number',
      'created_at',
      'started_at',
      'ended_at',
      'dispense_valid_from',
      'dispense_valid_to',
      'legal_entity',
      'division',
      'employee',
      'person',
      'medication_info',
      'medical_program',
      'intent',
      'category',
      'based_on',
      'context',
      'dosage_instruction',
      'is_blocked',
      'priority',
      'container_dosage',
    ]);
    assert.equal(d.id, mr.id);
    assert.equal(d.status, 'ACTIVE');
    assert.match(d.request_number, REQUEST_NUMBER_RE);
    assert.equal(d.created_at, '2026-01-10');
    assert.equal(d.dispense_valid_from, '2026-01-10');
    assert.equal(d.dispense_valid_to, '2026-02-09');
    assert.deepEqual(d.legal_entity, {
      id: R.legalEntityId,
      name: 'Клініка Ноунейм',
      short_name: 'Клініка Ноунейм',
      public_name: 'Клініка Ноунейм',
      type: 'MSP',
      edrpou: '38782323',
      status: 'ACTIVE',
    });
    assert.deepEqual(Object.keys(d.division), [
      'id',
      'legal_entity_id',
      'name',
      'addresses',
      'phones',
      'email',
      'working_hours',
      'type',
      'external_id',
      'location',
      'dls_id',
      'dls_verified',
    ]);
    assert.equal(d.division.addresses[0].settlement, 'Бориспіль');
    assert.deepEqual(d.employee, {
      id: R.employeeId,
      position: 'P6',
      party: {
        id: R.partyId,
        no_tax_id: false,
        first_name: 'Петро',
        last_name: 'Іванов',
        second_name: 'Миколайович',
        email: 'doc@example.com',
        phones: [{ type: 'MOBILE', number: '+380503410870' }],
      },
    });
    assert.deepEqual(d.person, { id: R.personOtpId, short_name: 'Шевченко П. М.', age: 35 });
    assert.deepEqual(d.medication_info, {
      medication_id: R.medicationId,
      medication_name: 'Аміодарон 200мг таблетки',
      form: 'PILL',
      dosage: { numerator_unit: 'MG', numerator_value: 200, denumerator_unit: 'PILL', denumerator_value: 1 },
      ingredients: [
        {
          id: '1349a693-4db1-4a3f-9ac6-8c2f9e541982',
          name: 'Аміодарон',
          name_original: 'Amiodarone',
          sctid: '52574003',
          dosage: { numerator_unit: 'MG', numerator_value: 200, denumerator_unit: 'PILL', denumerator_value: 1 },
          is_primary: true,
        },
      ],
      medication_qty: 10.34,
    });
    assert.equal(d.medical_program.id, R.programId);
    assert.equal(d.medical_program.name, 'Доступні ліки');
    assert.deepEqual(d.medical_program.medical_program_settings, {
      care_plan_required: false,
      medication_request_notification_disabled: false,
    });
    assert.equal(d.medical_program.inserted_at, '2017-04-20T19:14:13Z');
    assert.equal(d.medical_program.funding_source, 'NHS');
    // seed 003's order, with the blueprint's mr_blank_type after funding_source (Medical_Program_Response)
    assert.deepEqual(Object.keys(d.medical_program), [
      'id',
      'name',
      'medical_program_settings',
      'medical_program_settings_text',
      'is_active',
      'medication_dispense_allowed',
      'medication_dispense_allowed_text',
      'medication_request_allowed',
      'medication_request_allowed_text',
      'type',
      'funding_source',
      'mr_blank_type',
      'inserted_at',
      'inserted_by',
      'updated_at',
      'updated_by',
    ]);
    assert.equal(d.medical_program.mr_blank_type, 'F-1', 'a row stored without it has the default');
    assert.equal(d.intent, 'order');
    assert.equal(d.category, 'community');
    assert.equal(d.context.identifier.type.coding[0].code, 'encounter');
    assert.equal(d.dosage_instruction[0].sequence, 1);
    assert.equal(d.is_blocked, false);
    assert.deepEqual(d.container_dosage, { system: 'MEDICATION_UNIT', code: 'ML', value: 4 });
  });
  test('short_name of a hyphenated first name; age counted at the MR date', async () => {
    const mr = await addMr(server, { person_id: R.personThirdId, created_at: '2026-05-31' });
    const r = await mis.call('GET', `/api/medication_requests/${mr.id}`);
    assert.deepEqual(r.body.data.person, { id: R.personThirdId, short_name: 'Іваненко А.-М. П.', age: 7 });
  });
  test('a rejected MR shows its reject fields (GET)', async () => {
    const mr = await addMr(server, {
      status: 'REJECTED',
      rejected_at: '2026-01-12',
      rejected_by: R.partyId,
      reject_reason: 'Incompatible drugs',
      reject_reason_code: 'PATIENT_REJECT',
    });
    const d = (await mis.call('GET', `/api/medication_requests/${mr.id}`)).body.data;
    assert.equal(d.rejected_at, '2026-01-12');
    assert.equal(d.reject_reason_code, 'PATIENT_REJECT');
  });
  test('GET returns the same view as the resend', async () => {
    const mr = await addMr(server);
    const g = await mis.call('GET', `/api/medication_requests/${mr.id}`);
    const p = await mis.call('PATCH', resendPath(mr.id));
    assert.deepEqual(g.body.data, p.body.data);
    assert.equal(g.text.includes('verification_code'), false);
  });
  test('a body on the resend is ignored; request_id echoed', async () => {
    const mr = await addMr(server);
    const r = await mis.call('PATCH', resendPath(mr.id), { body: {}, headers: { 'x-request-id': 'req-resend-1' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.meta.request_id, 'req-resend-1');
  });
  test('missing registry reference → 500 Could not load remote reference…', async () => {
    const mr = await addMr(server);
    await server.runtime.platform.db.query(`UPDATE medication_requests SET medication_id = $2 WHERE id = $1`, [
      mr.id,
      '11111111-0000-4000-8000-000000000000',
    ]);
    assertError(
      await mis.call('PATCH', resendPath(mr.id)),
      500,
      'internal_error',
      `Could not load remote reference for medication_request ${mr.id}`,
    );
  });
});

describe('fixtures: medication_requests kind', () => {
  test('POST /admin/fixtures creates an MR with a generated ESOZ request number; duplicates rejected', async () => {
    let res: Record<string, string[]>;
    try {
      res = await server.fixtures({
        medication_requests: [
          {
            legal_entity_id: R.legalEntityId,
            division_id: R.divisionId,
            employee_id: R.employeeId,
            person_id: R.personOtpId,
            medication_id: R.medicationId,
          },
        ],
      });
    } catch (err) {
      if (/fixtures failed: 404/.test(String(err))) return; // endpoint not present in this build
      throw err;
    }
    const mrId = res.medication_requests[0];
    const row = (
      await server.runtime.platform.db.query<any>(
        'SELECT request_number, verification_code, status, intent FROM medication_requests WHERE id = $1',
        [mrId],
      )
    ).rows[0];
    assert.match(row.request_number, REQUEST_NUMBER_RE);
    assert.match(row.verification_code, /^[1-9]{4}$/);
    assert.equal(row.status, 'ACTIVE');
    assert.equal(row.intent, 'order');
    assert.equal((await mis.call('PATCH', resendPath(mrId))).status, 200);
    const dup = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: {
        medication_requests: [
          {
            request_number: row.request_number,
            legal_entity_id: R.legalEntityId,
            division_id: R.divisionId,
            employee_id: R.employeeId,
            person_id: R.personOtpId,
            medication_id: R.medicationId,
          },
        ],
      },
    });
    assert.equal(dup.status, 422);
    const bad = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { medication_requests: [{ person_id: R.personOtpId }] },
    });
    assert.equal(bad.status, 422);
    assert.ok(bad.body.error.invalid.some((e: any) => e.entry === '$.medication_requests[0].legal_entity_id'));
  });
  test('medication_requests kind: new-row defaults follow the item; audit fields refused; an id alone changes nothing', async () => {
    const q = async (id: string) =>
      (
        await server.runtime.platform.db.query<any>(
          `SELECT started_at::text AS started, ended_at::text AS ended, dispense_valid_from, dispense_valid_to, priority,
                  updated_at::text AS updated
             FROM medication_requests WHERE id = $1`,
          [id],
        )
      ).rows[0];
    const refs = {
      legal_entity_id: R.legalEntityId,
      division_id: R.divisionId,
      employee_id: R.employeeId,
      person_id: R.personOtpId,
      medication_id: R.medicationId,
    };
    const [id] = (await server.fixtures({ medication_requests: [{ ...refs, created_at: '2026-01-10', intent: 'plan' }] }))
      .medication_requests;
    const created = await q(id);
    assert.equal(created.started, '2026-01-10', 'started_at defaults to created_at');
    assert.equal(created.ended, '2026-02-08', 'ended_at = started_at + 29 days');
    assert.equal(created.dispense_valid_from, null, 'a plan has no dispense period');
    assert.equal(created.dispense_valid_to, null);
    assert.equal(created.priority, 'routine');

    await server.fixtures({ medication_requests: [{ id }] });
    assert.equal((await q(id)).updated, created.updated, 'an item with only its id leaves the MR untouched');
    await server.fixtures({ medication_requests: [{ id, priority: 'urgent' }] });
    const changed = await q(id);
    assert.equal(changed.priority, 'urgent');
    assert.notEqual(changed.updated, created.updated, 'a changed field sets updated_at');

    const audit = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { medication_requests: [{ id, inserted_at: '2026-01-01T00:00:00Z' }] },
    });
    assert.equal(audit.status, 422, audit.text);
    assert.ok(
      audit.body.error.invalid.some((e: any) => String(e.entry).includes('inserted_at')),
      'registry audit fields are not fields of a medication request',
    );
  });
});
