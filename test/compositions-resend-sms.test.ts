/**
 * Resend SMS on Composition over real HTTP (PATCH /api/patients/{patient_id}/compositions/{id}/actions/resend):
 * each of the ten checks with its code and text, each answering before its neighbour, the SMS in the
 * outbox (text, phone, THIRD_PERSON's confidant), the 429 after COMPOSITION_MAX_ATTEMPTS_COUNT, nothing
 * for a preperson; the first SMS when sign makes a composition FINAL (and none for a bad method); no
 * phone number in the log.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, pollJob, createDone, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { recordSmsAttempt } from '../src/platform/sms/sms-timeout.ts';

let server: TestServer;
let w: World;
let mis: Mis;
let logs = '';

const SCOPE_MSG = 'Your scope does not allow to access this resource. Missing allowances: composition:resend_sms';
const AUTH_MSG = "Authentication method doesn't exist or is inactive";
const LE_MSG = 'Action is not allowed for the legal entity';
const PHONE = '+380501112233';
const CONFIDANT_PHONE = '+380671234567';
const MAX = 3;

const P = {
  thirdPerson: randomUUID(),
  confidant: randomUUID(),
  thirdNoOtp: randomUUID(),
  confidantOffline: randomUUID(),
  offline: randomUUID(),
  inactive: randomUUID(),
  ended: randomUUID(),
  signer: randomUUID(),
  signerBad: randomUUID(),
};
const LE = { pharmacy: randomUUID(), closed: randomUUID() };
const M = { third: randomUUID(), thirdNoOtp: randomUUID(), offline: randomUUID(), inactive: randomUUID(), ended: randomUUID() };
const SIGN_PHONE = '+380931112244';

const resendPath = (patientId: string, compositionId: string) => `/api/patients/${patientId}/compositions/${compositionId}/actions/resend`;
const db = () => server.runtime.platform.db;

function assertError(r: { status: number; body: any }, status: number, type: string, message: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.meta.code, status);
  assert.equal(r.body.error.type, type);
  assert.equal(r.body.error.message, message);
  assert.equal(r.body.data, undefined);
}

async function outbox(id: string) {
  return (
    await db().query<{ phone_number: string; body: string }>(
      `SELECT phone_number, body FROM sms_outbox WHERE entity_name = 'composition' AND entity_id = $1 ORDER BY inserted_at`,
      [id],
    )
  ).rows.map((r) => [r.phone_number, r.body]);
}
async function attempts(id: string) {
  return (
    await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_attempts WHERE entity_name = 'composition' AND entity_id = $1`, [
      id,
    ])
  ).rows[0].n;
}
/** Fill the composition's SMS window as MAX earlier resends would have. */
async function fillWindow(id: string) {
  for (let i = 0; i < MAX; i++) {
    const r = await recordSmsAttempt(db(), { entityName: 'composition', entityId: id, maxAttempts: MAX, sendTimeoutSeconds: 300 });
    assert.equal(r.admitted, true);
  }
}

interface CompOptions {
  subject?: string;
  status?: 'PRELIMINARY' | 'FINAL' | 'AMENDED' | 'ENTERED_IN_ERROR';
  type?: string;
  category?: string;
  le?: string;
  /** the INFORM_WITH method; null for none */
  informWith?: string | null;
}

/** A composition written by the fixture kind (its own encounter, so FINAL ones never meet 1127), with INFORM_WITH. */
async function comp(o: CompOptions = {}) {
  const subject = o.subject ?? w.personId;
  const le = o.le ?? w.legalEntityId;
  const enc = randomUUID();
  await server.fixtures({ encounters: [{ id: enc, person_id: subject, legal_entity_id: le, employee_id: w.authorId }] });
  const id = randomUUID();
  await server.fixtures({
    compositions: [
      {
        id,
        status: o.status ?? 'FINAL',
        type: o.type ?? 'TEMP_DISABILITY',
        category: o.category ?? 'SICKNESS',
        subject_id: subject,
        encounter_id: enc,
        author_id: w.authorId,
        legal_entity_id: le,
      },
    ],
  });
  const r = await db().query<{ document: string; title: string }>('SELECT document, title FROM compositions WHERE id = $1', [id]);
  const informWith = o.informWith === undefined ? w.authMethodId : o.informWith;
  if (informWith !== null) {
    const doc = { ...JSON.parse(r.rows[0].document), extension: [{ valueCode: 'INFORM_WITH', valueUuid: informWith }] };
    await db().query('UPDATE compositions SET document = $2 WHERE id = $1', [id, JSON.stringify(doc)]);
  }
  return { id, title: r.rows[0].title, subject };
}

before(async () => {
  const logStream = new Writable({
    write(chunk, _e, cb) {
      logs += chunk.toString();
      cb();
    },
  });
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca', LOG_LEVEL: 'info' }, logStream });
  w = await seedWorld(server);
  mis = await misOf(server, w);
  await server.fixtures({
    legal_entities: [
      { id: LE.pharmacy, name: 'Pharmacy', edrpou: '11223344', type: 'PHARMACY' },
      { id: LE.closed, name: 'Closed clinic', edrpou: '44332211', status: 'CLOSED', is_active: false },
    ],
    persons: [
      { id: P.confidant, birth_date: '1970-01-01', authentication_methods: [{ type: 'OTP', phone_number: CONFIDANT_PHONE }] },
      { id: P.confidantOffline, birth_date: '1970-01-01', authentication_methods: [{ type: 'OFFLINE' }] },
      { id: P.thirdPerson, birth_date: '2015-01-01', authentication_methods: [{ id: M.third, type: 'THIRD_PERSON', value: P.confidant }] },
      {
        id: P.thirdNoOtp,
        birth_date: '2015-01-01',
        authentication_methods: [{ id: M.thirdNoOtp, type: 'THIRD_PERSON', value: P.confidantOffline }],
      },
      { id: P.offline, birth_date: '1980-01-01', authentication_methods: [{ id: M.offline, type: 'OFFLINE' }] },
      {
        id: P.inactive,
        birth_date: '1980-01-01',
        authentication_methods: [{ id: M.inactive, type: 'OTP', phone_number: '+380500000001', is_active: false }],
      },
      {
        id: P.ended,
        birth_date: '1980-01-01',
        authentication_methods: [{ id: M.ended, type: 'OTP', phone_number: '+380500000002', ended_at: '2020-01-01T00:00:00Z' }],
      },
      { id: P.signer, birth_date: '1985-01-01', authentication_methods: [{ type: 'OTP', phone_number: SIGN_PHONE }] },
      { id: P.signerBad, birth_date: '1985-01-01', authentication_methods: [{ type: 'OTP', phone_number: '+380931112255' }] },
    ],
  });
});
after(async () => server?.close());

describe('check 1: token', () => {
  test('unknown token → 401 Invalid access token, nothing recorded', async () => {
    const c = await comp();
    assertError(
      await server.call('PATCH', resendPath(w.personId, c.id), { token: 'not-a-token', apiKey: mis.secret }),
      401,
      'access_denied',
      'Invalid access token',
    );
    assert.equal(await attempts(c.id), 0);
  });
  test('token is checked before scope (a bad token without the scope → 401)', async () => {
    const noScope = await server.mis({ legalEntityId: w.legalEntityId, scopes: ['composition:read'] });
    const r = await server.call('PATCH', resendPath(w.personId, randomUUID()), { token: 'x' + noScope.token, apiKey: noScope.secret });
    assertError(r, 401, 'access_denied', 'Invalid access token');
  });
});

describe('check 2: scope', () => {
  test('without composition:resend_sms → 403 with the missing allowance', async () => {
    const c = await comp();
    const noScope = await server.mis({ legalEntityId: w.legalEntityId, scopes: ['composition:read', 'composition:sign'] });
    assertError(await noScope.call('PATCH', resendPath(w.personId, c.id)), 403, 'forbidden', SCOPE_MSG);
    assert.equal(await attempts(c.id), 0);
  });
  test('scope is checked before the person (unknown patient without the scope → 403, not 404)', async () => {
    const noScope = await server.mis({ legalEntityId: w.legalEntityId, scopes: [] });
    assertError(await noScope.call('PATCH', resendPath(randomUUID(), randomUUID())), 403, 'forbidden', SCOPE_MSG);
  });
});

describe('check 3: the person exists', () => {
  test('unknown patient, or a patient id that is not a UUID → 404 Not found', async () => {
    const c = await comp();
    assertError(await mis.call('PATCH', resendPath(randomUUID(), c.id)), 404, 'not_found', 'Not found');
    assertError(await mis.call('PATCH', resendPath('not-a-uuid', c.id)), 404, 'not_found', 'Not found');
    assert.equal(await attempts(c.id), 0);
  });
  test('the person is checked before the preperson skip and the status (unknown patient, ENTERED_IN_ERROR composition → 404)', async () => {
    const c = await comp({ status: 'ENTERED_IN_ERROR' });
    assertError(await mis.call('PATCH', resendPath(randomUUID(), c.id)), 404, 'not_found', 'Not found');
  });
});

describe('check 4: a preperson gets nothing', () => {
  test('a preperson → 202, nothing sent, nothing recorded', async () => {
    const c = await comp({ subject: w.prepersonId, informWith: null });
    const r = await mis.call('PATCH', resendPath(w.prepersonId, c.id));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.meta.code, 202);
    assert.equal(r.body.data.status, 'DONE');
    assert.deepEqual(r.body.data.links, []);
    assert.deepEqual(await outbox(c.id), []);
    assert.equal(await attempts(c.id), 0);
  });
  test('the preperson skip comes before the composition check (unknown composition → 202)', async () => {
    const r = await mis.call('PATCH', resendPath(w.prepersonId, randomUUID()));
    assert.equal(r.status, 202, r.text);
  });
  test('… and before the status and legal-entity checks (ENTERED_IN_ERROR, pharmacy client → 202)', async () => {
    const c = await comp({ subject: w.prepersonId, status: 'ENTERED_IN_ERROR', le: LE.pharmacy, informWith: null });
    const pharmacy = await server.mis({ legalEntityId: LE.pharmacy });
    assert.equal((await pharmacy.call('PATCH', resendPath(w.prepersonId, c.id))).status, 202);
    assert.deepEqual(await outbox(c.id), []);
  });
});

describe("check 5: the composition exists (the caller's, the patient's)", () => {
  test('unknown composition, or an id that is not a UUID → 404 Not found', async () => {
    assertError(await mis.call('PATCH', resendPath(w.personId, randomUUID())), 404, 'not_found', 'Not found');
    assertError(await mis.call('PATCH', resendPath(w.personId, 'abc')), 404, 'not_found', 'Not found');
  });
  test("another legal entity's composition, or another patient's → 404, checked before the status", async () => {
    const other = await comp({ status: 'ENTERED_IN_ERROR', le: w.otherLegalEntityId });
    assertError(await mis.call('PATCH', resendPath(w.personId, other.id)), 404, 'not_found', 'Not found');
    const mine = await comp({ status: 'ENTERED_IN_ERROR' });
    assertError(await mis.call('PATCH', resendPath(w.motherId, mine.id)), 404, 'not_found', 'Not found');
  });
  test('a client without a legal entity sees no composition → 404', async () => {
    const c = await comp();
    const noLe = await server.mis({ legalEntityId: null });
    assertError(await noLe.call('PATCH', resendPath(w.personId, c.id)), 404, 'not_found', 'Not found');
  });
});

describe('check 6: the status', () => {
  for (const status of ['ENTERED_IN_ERROR', 'PRELIMINARY', 'AMENDED'] as const) {
    test(`${status} → 409 You can not resend SMS for Composition in status ${status}`, async () => {
      const c = await comp({ status });
      assertError(
        await mis.call('PATCH', resendPath(w.personId, c.id)),
        409,
        'request_conflict',
        `You can not resend SMS for Composition in status ${status}`,
      );
      assert.equal(await attempts(c.id), 0);
    });
  }
  test('the status is checked before the legal entity (pharmacy, ENTERED_IN_ERROR → the status text)', async () => {
    const c = await comp({ status: 'ENTERED_IN_ERROR', le: LE.pharmacy });
    const pharmacy = await server.mis({ legalEntityId: LE.pharmacy });
    assertError(
      await pharmacy.call('PATCH', resendPath(w.personId, c.id)),
      409,
      'request_conflict',
      'You can not resend SMS for Composition in status ENTERED_IN_ERROR',
    );
  });
});

describe('check 7: the legal entity', () => {
  test('a type outside ME_ALLOWED_TRANSACTIONS_LE_TYPES → 409 Action is not allowed for the legal entity', async () => {
    const c = await comp({ le: LE.pharmacy });
    const pharmacy = await server.mis({ legalEntityId: LE.pharmacy });
    assertError(await pharmacy.call('PATCH', resendPath(w.personId, c.id)), 409, 'request_conflict', LE_MSG);
    assert.deepEqual(await outbox(c.id), []);
    assert.equal(await attempts(c.id), 0);
  });
  test('an inactive legal entity → 409 Action is not allowed for the legal entity', async () => {
    const c = await comp({ le: LE.closed });
    const closed = await server.mis({ legalEntityId: LE.closed });
    assertError(await closed.call('PATCH', resendPath(w.personId, c.id)), 409, 'request_conflict', LE_MSG);
  });
  test('the legal entity is checked before the SMS timeout (full window → still 409)', async () => {
    const c = await comp({ le: LE.pharmacy });
    await fillWindow(c.id);
    const pharmacy = await server.mis({ legalEntityId: LE.pharmacy });
    assertError(await pharmacy.call('PATCH', resendPath(w.personId, c.id)), 409, 'request_conflict', LE_MSG);
  });
});

describe('check 8: the SMS timeout procedure', () => {
  test(`${MAX} resends pass, the next → 429 with the next attempt time and Retry-After`, async () => {
    const c = await comp();
    for (let i = 0; i < MAX; i++) assert.equal((await mis.call('PATCH', resendPath(w.personId, c.id))).status, 202);
    const started = Date.now();
    const r = await mis.call('PATCH', resendPath(w.personId, c.id));
    assert.equal(r.status, 429, r.text);
    assert.equal(r.body.error.type, 'sms_timeout');
    const m = /^Sending SMS timeout\. Try later\. Next attempt will be available at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$/.exec(
      r.body.error.message,
    );
    assert.ok(m, r.body.error.message);
    const next = Date.parse(m[1]);
    assert.ok(next > started + 290_000 && next < started + 310_000, m[1]);
    assert.ok(Number(r.headers.get('retry-after')) > 280, String(r.headers.get('retry-after')));
    assert.equal((await outbox(c.id)).length, MAX);
    assert.equal(await attempts(c.id), MAX);
  });
  test(`${2 * MAX} resends at once: exactly ${MAX} pass, one SMS each`, async () => {
    const c = await comp();
    const rs = await Promise.all(Array.from({ length: 2 * MAX }, () => mis.call('PATCH', resendPath(w.personId, c.id))));
    assert.deepEqual(rs.map((r) => r.status).sort(), [...Array(MAX).fill(202), ...Array(MAX).fill(429)], rs.map((r) => r.text).join('\n'));
    assert.equal((await outbox(c.id)).length, MAX);
    assert.equal(await attempts(c.id), MAX);
  });
  test('the timeout is checked before the authentication method (full window, method gone → 429)', async () => {
    const c = await comp({ informWith: randomUUID() });
    await fillWindow(c.id);
    const r = await mis.call('PATCH', resendPath(w.personId, c.id));
    assert.equal(r.status, 429, r.text);
  });
});

describe('check 9: the authentication method of INFORM_WITH', () => {
  const cases: [string, () => CompOptions][] = [
    ['no INFORM_WITH', () => ({ informWith: null })],
    ['a method that does not exist', () => ({ informWith: randomUUID() })],
    ['an OFFLINE method', () => ({ subject: P.offline, informWith: M.offline })],
    ['an inactive method', () => ({ subject: P.inactive, informWith: M.inactive })],
    ['an ended method', () => ({ subject: P.ended, informWith: M.ended })],
    ['THIRD_PERSON whose confidant has no OTP', () => ({ subject: P.thirdNoOtp, informWith: M.thirdNoOtp })],
    ["another person's method", () => ({ subject: P.offline, informWith: w.authMethodId })],
  ];
  for (const [name, options] of cases) {
    test(`${name} → 409 Authentication method doesn't exist or is inactive; the attempt is given back`, async () => {
      const c = await comp(options());
      assertError(await mis.call('PATCH', resendPath(c.subject, c.id)), 409, 'request_conflict', AUTH_MSG);
      assert.deepEqual(await outbox(c.id), []);
      assert.equal(await attempts(c.id), 0);
    });
  }
  test('the method is checked before the template (DRIVERS with an OFFLINE method → the method text)', async () => {
    const c = await comp({ type: 'DRIVERS', category: 'DRIVERS_GROUP1', subject: P.offline, informWith: M.offline });
    assertError(await mis.call('PATCH', resendPath(P.offline, c.id)), 409, 'request_conflict', AUTH_MSG);
  });
});

describe('check 10: the SMS', () => {
  test('an МВТН: CREATE_TEMP_DISABILITY_COMPOSITION_SMS_TEMPLATE with its number to the OTP phone; 202 with a DONE job', async () => {
    const c = await comp();
    const r = await mis.call('PATCH', resendPath(w.personId, c.id));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.data.status, 'DONE');
    assert.equal(r.body.data.links[0].entity, 'composition');
    // the job the 202 names is stored: polling it answers the same DONE job
    const polled = await mis.call('GET', `/api/patients/composition/job/${r.body.data.id}`);
    assert.equal(polled.status, 200, polled.text);
    assert.deepEqual([polled.body.data.status, polled.body.data.links], ['DONE', r.body.data.links]);
    assert.match(r.body.data.links[0].href, new RegExp(`/patients/${w.personId}/encounter/[0-9a-f-]{36}/composition/${c.id}$`));
    assert.deepEqual(await outbox(c.id), [[PHONE, `Медичний висновок про тимчасову непрацездатність ${c.title} створено`]]);
    assert.equal(await attempts(c.id), 1);
    const sms = await server.call('GET', `/admin/sms?entity_id=${c.id}`, { admin: true });
    assert.equal(sms.body.data[0].entity_name, 'composition');
  });
  test('an МВН: CREATE_NEWBORN_COMPOSITION_SMS_TEMPLATE', async () => {
    const c = await comp({ type: 'NEWBORN', category: 'LIVE_BIRTH' });
    assert.equal((await mis.call('PATCH', resendPath(w.personId, c.id))).status, 202);
    assert.deepEqual(await outbox(c.id), [[PHONE, `Медичний висновок про народження ${c.title} створено`]]);
  });
  test("THIRD_PERSON: the SMS goes to the confidant's OTP phone", async () => {
    const c = await comp({ subject: P.thirdPerson, informWith: M.third });
    assert.equal((await mis.call('PATCH', resendPath(P.thirdPerson, c.id))).status, 202);
    assert.deepEqual(await outbox(c.id), [[CONFIDANT_PHONE, `Медичний висновок про тимчасову непрацездатність ${c.title} створено`]]);
  });
  test('a type without a template (DRIVERS) → 409 SMS is not provided …, nothing recorded', async () => {
    const c = await comp({ type: 'DRIVERS', category: 'DRIVERS_GROUP1' });
    assertError(
      await mis.call('PATCH', resendPath(w.personId, c.id)),
      409,
      'request_conflict',
      'SMS is not provided for Composition of type DRIVERS',
    );
    assert.deepEqual(await outbox(c.id), []);
    assert.equal(await attempts(c.id), 0);
  });
  test('the unprefixed path answers too', async () => {
    const c = await comp();
    assert.equal((await mis.call('PATCH', `/patients/${w.personId}/compositions/${c.id}/actions/resend`)).status, 202);
  });
});

describe('the first SMS, when sign makes a composition FINAL', () => {
  async function createAndSign(personId: string, methodId: string, before?: () => Promise<unknown>) {
    const enc = randomUUID();
    await server.fixtures({ encounters: [{ id: enc, person_id: personId, legal_entity_id: w.legalEntityId, employee_id: w.authorId }] });
    const created = await createDone(
      mis,
      createBody(w, {
        subject: { type: 'person', id: personId },
        encounterId: enc,
        extension: [{ valueCode: 'INFORM_WITH', valueUuid: methodId }],
      }),
    );
    await before?.();
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const s = await mis.call('PATCH', `/api/patients/composition/${created.id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(created.document)) },
    });
    assert.equal(s.status, 202, s.text);
    const job = await pollJob(mis, s.body.data.id);
    assert.equal(job.body.data.status, 'DONE', job.text);
    return created;
  }
  const methodOf = async (personId: string) =>
    (await db().query<{ id: string }>('SELECT id FROM person_authentication_methods WHERE person_id = $1', [personId])).rows[0].id;

  test('INFORM_WITH names an active OTP method → the SMS is in the outbox; it is not an attempt', async () => {
    const c = await createAndSign(P.signer, await methodOf(P.signer));
    assert.deepEqual(await outbox(c.id), [[SIGN_PHONE, `Медичний висновок про тимчасову непрацездатність ${c.document.title} створено`]]);
    assert.equal(await attempts(c.id), 0);
    // every resend of the window is still there
    for (let i = 0; i < MAX; i++) assert.equal((await mis.call('PATCH', resendPath(P.signer, c.id))).status, 202);
    assert.equal((await mis.call('PATCH', resendPath(P.signer, c.id))).status, 429);
  });
  test('a method that became inactive before the sign → FINAL all the same, no SMS', async () => {
    const method = await methodOf(P.signerBad);
    const c = await createAndSign(P.signerBad, method, () =>
      db().query('UPDATE person_authentication_methods SET is_active = false WHERE id = $1', [method]),
    );
    const got = await mis.call('GET', c.href);
    assert.equal(got.body.data.status, 'FINAL');
    assert.deepEqual(await outbox(c.id), []);
  });
});

test('no phone number, SMS text or token reaches the log', async () => {
  const c = await comp({ subject: P.thirdPerson, informWith: M.third });
  assert.equal((await mis.call('PATCH', resendPath(P.thirdPerson, c.id))).status, 202);
  assert.ok(logs.includes('composition SMS resent'), 'the resend is logged');
  for (const secret of [PHONE, PHONE.slice(1), CONFIDANT_PHONE, CONFIDANT_PHONE.slice(1), SIGN_PHONE, 'створено', mis.token, mis.secret]) {
    assert.equal(logs.includes(secret), false, `log contains ${secret}`);
  }
});
