/**
 * What ESOZ responses carry, end to end over real HTTP: `mr_blank_type` of a medical program in the MR
 * view, fixtures copied from real responses (audit fields, nested ids, a preperson's external_id),
 * GET /api/persons/{id}/authentication_methods with its masked confidant block, and the scopes
 * /admin/tokens issues.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestServer, call, type TestServer, type Mis } from './support/harness.ts';
import { maskedName, maskIdentifier, maskPhone } from '../src/registry/persons.ts';

let server: TestServer;
let mis: Mis;
const q = (sql: string, params?: unknown[]) => server.runtime.platform.db.query<any>(sql, params);

// a registry an MR can point at
const W = {
  le: randomUUID(),
  div: randomUUID(),
  emp: randomUUID(),
  person: randomUUID(),
  med: randomUUID(),
  confidant: randomUUID(),
  child: randomUUID(),
  inactive: randomUUID(),
  otp: randomUUID(),
  third: randomUUID(),
  offline: randomUUID(),
  confidantOtp: randomUUID(),
};

/** Medical_Program_Response as ESOZ returns it (the blueprint's example, seed 003's order). */
const programFromEsoz = (id: string) => ({
  id,
  name: 'Доступні ліки',
  medical_program_settings: { care_plan_required: true, medication_request_notification_disabled: false },
  medical_program_settings_text: 'Some text',
  is_active: true,
  medication_dispense_allowed: true,
  medication_dispense_allowed_text: 'Some text',
  medication_request_allowed: true,
  medication_request_allowed_text: 'Some text',
  type: 'MEDICATION',
  funding_source: 'NHS',
  mr_blank_type: 'F-3',
  inserted_at: '2017-04-20T19:14:13Z',
  inserted_by: 'e1453f4c-1077-4e85-8c98-c13ffca0063e',
  updated_at: '2017-04-20T19:14:13Z',
  updated_by: '2922a240-63db-404e-b730-09222bfeb2dd',
});
const PROGRAM_KEYS = Object.keys(programFromEsoz(randomUUID()));

before(async () => {
  server = await startTestServer();
  await server.fixtures({
    legal_entities: [{ id: W.le }],
    divisions: [{ id: W.div, legal_entity_id: W.le }],
    employees: [{ id: W.emp, legal_entity_id: W.le, division_id: W.div }],
    persons: [
      { id: W.person, authentication_methods: [{ id: W.otp, type: 'OTP', phone_number: '+380931234585' }] },
      {
        id: W.confidant,
        first_name: 'Олена',
        last_name: 'Коваленко',
        second_name: 'Петрівна',
        gender: 'FEMALE',
        tax_id: '3158712340',
        unzr: '19860702-01234',
        documents: [{ type: 'PASSPORT', number: 'МЕ123418', issued_by: 'Київ' }],
        phones: [{ type: 'MOBILE', number: '+380503334455' }],
        authentication_methods: [{ id: W.confidantOtp, type: 'OTP', phone_number: '+380503334455' }],
      },
      {
        id: W.child,
        first_name: 'Марія',
        last_name: 'Коваленко',
        birth_date: '2019-11-20',
        no_tax_id: true,
        tax_id: null,
        authentication_methods: [
          {
            id: W.third,
            type: 'THIRD_PERSON',
            value: W.confidant,
            alias: 'mother',
            started_at: '2020-01-01T18:23:34Z',
            inserted_by: 'a65c8369-ce3a-44d6-839b-8856e3dc4ca3',
          },
          { id: W.offline, type: 'OFFLINE' },
          { type: 'OTP', phone_number: '+380671112233', is_active: false },
          { type: 'OTP', phone_number: '+380671112244', ended_at: '2024-01-01T00:00:00Z' },
        ],
      },
      { id: W.inactive, is_active: false, status: 'inactive' },
    ],
    medications: [{ id: W.med }],
  });
  mis = await server.mis({ legalEntityId: W.le });
});
after(async () => {
  await server?.close();
});

async function mrWithProgram(programId: string) {
  const ids = await server.fixtures({
    medication_requests: [
      {
        legal_entity_id: W.le,
        division_id: W.div,
        employee_id: W.emp,
        person_id: W.person,
        medication_id: W.med,
        medical_program_id: programId,
      },
    ],
  });
  return ids.medication_requests[0];
}

describe('mr_blank_type', () => {
  test('a medical program copied from an ESOZ response is accepted and shown in the MR view field for field, in order', async () => {
    const prog = randomUUID();
    const r = await server.call('POST', '/admin/fixtures', { admin: true, body: { medical_programs: [programFromEsoz(prog)] } });
    assert.equal(r.status, 200, r.text);
    const mr = await mrWithProgram(prog);
    const g = await mis.call('GET', `/api/medication_requests/${mr}`);
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(Object.keys(g.body.data.medical_program), PROGRAM_KEYS);
    assert.deepEqual(g.body.data.medical_program, programFromEsoz(prog));
    // the resend answers the same view
    const p = await mis.call('PATCH', `/api/medication_requests/${mr}/actions/resend`);
    assert.deepEqual(p.body.data.medical_program, programFromEsoz(prog));
  });
  test('a program without mr_blank_type gets F-1; an update changes it, and the next read of every copy shows it', async () => {
    const prog = randomUUID();
    await server.fixtures({ medical_programs: [{ id: prog, name: 'Без бланка' }] });
    const mr = await mrWithProgram(prog);
    assert.equal((await mis.call('GET', `/api/medication_requests/${mr}`)).body.data.medical_program.mr_blank_type, 'F-1');
    await server.fixtures({ medical_programs: [{ id: prog, mr_blank_type: 'F-3' }] });
    assert.equal((await mis.call('GET', `/api/medication_requests/${mr}`)).body.data.medical_program.mr_blank_type, 'F-3');
  });
  test('mr_blank_type must be a string; null is refused (the blueprint makes it required)', async () => {
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { medical_programs: [{ mr_blank_type: null }, { mr_blank_type: 1 }] },
    });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.error.invalid.map((e: any) => e.entry).sort(), [
      '$.medical_programs[0].mr_blank_type',
      '$.medical_programs[1].mr_blank_type',
    ]);
  });
  test('the OpenAPI document declares mr_blank_type in the MR view', async () => {
    const doc = (await call(server.url, 'GET', '/openapi.json')).body;
    // named schemas are $refs into components.schemas
    const deref = (s: any): any => (s?.$ref ? deref(doc.components.schemas[String(s.$ref).split('/').pop()!]) : s);
    const envelope = deref(doc.paths['/api/medication_requests/{id}'].get.responses['200'].content['application/json'].schema);
    const view = deref(envelope.properties.data);
    assert.equal(deref(deref(view.properties.medical_program).properties.mr_blank_type).type, 'string');
  });
});

describe('fixtures accept what ESOZ responses carry', () => {
  test('audit fields on every registry kind: kept where the table has the column, ignored elsewhere', async () => {
    const audit = {
      inserted_at: '2017-04-20T19:14:13Z',
      inserted_by: 'e1453f4c-1077-4e85-8c98-c13ffca0063e',
      updated_at: '2018-05-21T10:00:00Z',
      updated_by: '2922a240-63db-404e-b730-09222bfeb2dd',
    };
    const le = randomUUID();
    const person = randomUUID();
    const ep = randomUUID();
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: {
        legal_entities: [{ id: le, ...audit }],
        divisions: [{ legal_entity_id: le, ...audit }],
        employees: [{ legal_entity_id: le, ...audit, party: { ...audit } }],
        persons: [{ id: person, ...audit }],
        prepersons: [{ ...audit }],
        medications: [{ ...audit }],
        episodes: [{ id: ep, person_id: person, ...audit }],
        encounters: [{ person_id: person, episode_id: ep, ...audit }],
      },
    });
    assert.equal(r.status, 200, r.text);
    const row = (await q(`SELECT inserted_at, updated_at FROM legal_entities WHERE id = $1`, [le])).rows[0];
    assert.equal(new Date(row.inserted_at).toISOString(), '2017-04-20T19:14:13.000Z');
    assert.equal(new Date(row.updated_at).toISOString(), '2018-05-21T10:00:00.000Z', 'a given updated_at replaces now()');
    const epRow = (await q(`SELECT inserted_at FROM episodes WHERE id = $1`, [ep])).rows[0];
    assert.equal(new Date(epRow.inserted_at).toISOString(), '2017-04-20T19:14:13.000Z');
    // an update without updated_at still stamps now()
    await server.fixtures({ legal_entities: [{ id: le, name: 'Інша назва' }] });
    const after = (await q(`SELECT updated_at FROM legal_entities WHERE id = $1`, [le])).rows[0];
    assert.ok(Date.now() - new Date(after.updated_at).getTime() < 60_000);
  });
  test('audit fields are still checked: a bad date-time or uuid is a 422 entry', async () => {
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { legal_entities: [{ inserted_at: 'yesterday' }], medical_programs: [{ updated_by: 'me' }] },
    });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.error.invalid.map((e: any) => e.entry).sort(), [
      '$.legal_entities[0].inserted_at',
      '$.medical_programs[0].updated_by',
    ]);
  });
  test('an authentication method keeps the id it is given; the ids of another person are refused', async () => {
    const rows = (
      await q(`SELECT id, type, started_at, inserted_by FROM person_authentication_methods WHERE person_id = $1 ORDER BY inserted_at, id`, [
        W.child,
      ])
    ).rows;
    assert.deepEqual(
      rows.slice(0, 2).map((m: any) => [m.id, m.type]),
      [
        [W.third, 'THIRD_PERSON'],
        [W.offline, 'OFFLINE'],
      ],
    );
    assert.equal(new Date(rows[0].started_at).toISOString(), '2020-01-01T18:23:34.000Z');
    assert.equal(rows[0].inserted_by, 'a65c8369-ce3a-44d6-839b-8856e3dc4ca3');
    // the same person again with the same ids: the ids stay
    await server.fixtures({
      persons: [{ id: W.person, authentication_methods: [{ id: W.otp, type: 'OTP', phone_number: '+380931234585' }] }],
    });
    assert.equal((await q(`SELECT person_id FROM person_authentication_methods WHERE id = $1`, [W.otp])).rows[0].person_id, W.person);

    const other = randomUUID();
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: {
        persons: [
          {
            id: other,
            authentication_methods: [
              { id: W.otp, type: 'OFFLINE' },
              { id: W.offline.toUpperCase(), type: 'OFFLINE' },
              { id: W.offline, type: 'OFFLINE' },
              { type: 'OFFLINE', person_id: W.person },
            ],
          },
        ],
      },
    });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(
      r.body.error.invalid.map((e: any) => [e.entry, e.rules[0].description]),
      [
        ['$.persons[0].authentication_methods[2].id', 'id is given more than once'],
        ['$.persons[0].authentication_methods[3].person_id', 'person_id must equal the person id'],
      ],
    );
    const noId = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { persons: [{ authentication_methods: [{ type: 'OFFLINE', person_id: W.person }] }] },
    });
    assert.deepEqual(
      noId.body.error.invalid.map((e: any) => e.entry),
      ['$.persons[0].authentication_methods[0].person_id'],
      'a new person has no id to match',
    );
    const r2 = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { persons: [{ id: other, authentication_methods: [{ type: 'OFFLINE' }, { id: W.otp, type: 'OFFLINE' }] }] },
    });
    assert.equal(r2.status, 422, r2.text);
    assert.deepEqual(
      r2.body.error.invalid.map((e: any) => [e.entry, e.rules[0].description]),
      [['$.persons[0].authentication_methods[1].id', 'Authentication method id belongs to another person']],
    );
    assert.equal(
      (await q(`SELECT person_id FROM person_authentication_methods WHERE id = $1`, [W.otp])).rows[0].person_id,
      W.person,
      'nothing kept',
    );
    assert.equal((await q(`SELECT count(*)::int AS n FROM persons WHERE id = $1`, [other])).rows[0].n, 0);
  });
  test('a preperson takes its external_id', async () => {
    const pre = randomUUID();
    await server.fixtures({ prepersons: [{ id: pre, external_id: 'MIS-42' }] });
    assert.equal((await q(`SELECT external_id FROM prepersons WHERE id = $1`, [pre])).rows[0].external_id, 'MIS-42');
    await server.fixtures({ prepersons: [{ id: pre, external_id: null }] });
    assert.equal((await q(`SELECT external_id FROM prepersons WHERE id = $1`, [pre])).rows[0].external_id, null);
  });
});

describe('GET /api/persons/{id}/authentication_methods', () => {
  const path = (id: string) => `/api/persons/${id}/authentication_methods`;

  test('masking helpers', () => {
    assert.equal(maskPhone('+380931234585'), '+38093*****85');
    assert.equal(maskIdentifier('3158712340'), '********40');
    assert.equal(maskIdentifier('МЕ123418'), '******18');
    assert.equal(maskedName({ first_name: 'Анна-Марія', last_name: 'Іваненко', second_name: 'Петрівна' }), 'Іваненко А.-М.П.');
    assert.equal(maskedName({ first_name: 'Олена', last_name: 'Коваленко', second_name: null }), 'Коваленко О.');
  });
  test("an OTP person: the method's id, the phone masked", async () => {
    const r = await mis.call('GET', path(W.person));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.meta.type, 'list');
    assert.equal(r.body.data.length, 1);
    const [m] = r.body.data;
    assert.deepEqual(Object.keys(m), ['id', 'type', 'phone_number', 'started_at', 'is_active', 'person_id', 'inserted_at', 'updated_at']);
    assert.deepEqual(
      { id: m.id, type: m.type, phone_number: m.phone_number, is_active: m.is_active, person_id: m.person_id },
      {
        id: W.otp,
        type: 'OTP',
        phone_number: '+38093*****85',
        is_active: true,
        person_id: W.person,
      },
    );
    assert.equal(r.text.includes('1234585'), false, 'the full phone never appears');
  });
  test('THIRD_PERSON: active methods only, oldest first, with the confidant block masked', async () => {
    const r = await mis.call('GET', path(W.child));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.body.data.map((m: any) => [m.id, m.type]),
      [
        [W.third, 'THIRD_PERSON'],
        [W.offline, 'OFFLINE'],
      ],
    );
    const third = r.body.data[0];
    assert.deepEqual(Object.keys(third), [
      'id',
      'type',
      'value',
      'alias',
      'started_at',
      'is_active',
      'person_id',
      'confidant_person',
      'inserted_at',
      'updated_at',
      'inserted_by',
    ]);
    assert.equal(third.value, W.confidant);
    assert.equal(third.alias, 'mother');
    assert.equal(third.started_at, '2020-01-01T18:23:34.000Z');
    assert.equal(third.inserted_by, 'a65c8369-ce3a-44d6-839b-8856e3dc4ca3');
    assert.deepEqual(third.confidant_person, {
      id: W.confidant,
      name: 'Коваленко О.П.',
      gender: 'FEMALE',
      tax_id: '********40',
      no_tax_id: false,
      unzr: '************34',
      documents_person: [{ type: 'PASSPORT', number: '******18' }],
      phones: [{ type: 'MOBILE', number: '+38050*****55' }],
    });
    for (const secret of ['3158712340', '0334455', '123418', '19860702', 'Олена', 'Петрівна'])
      assert.equal(r.text.includes(secret), false, secret);
  });
  test('404 for an unknown, an inactive or a malformed id; a person without active methods is an empty list', async () => {
    for (const id of [randomUUID(), W.inactive, 'nope']) {
      const r = await mis.call('GET', path(id));
      assert.equal(r.status, 404, `${id}: ${r.text}`);
      assert.deepEqual(r.body.error, { type: 'not_found', message: 'Person not found' });
    }
    const bare = randomUUID();
    await server.fixtures({ persons: [{ id: bare, authentication_methods: [] }] });
    const r = await mis.call('GET', path(bare));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data, []);
  });
  test('scope person:read; token first', async () => {
    const noScope = await server.mis({ legalEntityId: W.le, scopes: ['dictionary:read'] });
    const r = await noScope.call('GET', path(W.person));
    assert.equal(r.status, 403);
    assert.equal(r.body.error.message, 'Your scope does not allow to access this resource. Missing allowances: person:read');
    assert.equal((await call(server.url, 'GET', path(W.person))).status, 401);
  });
});

describe('POST /admin/tokens', () => {
  test('an unknown scope is refused with 422 naming it; known scopes (person:read too) are issued', async () => {
    const c = await server.call('POST', '/admin/clients', { admin: true, body: { name: 'MIS', legal_entity_id: W.le } });
    const clientId = c.body.data.id;
    const r = await server.call('POST', '/admin/tokens', {
      admin: true,
      body: { client_id: clientId, scopes: ['person:read', 'nope:nope', 'composition:read', 'x'] },
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.type, 'validation_failed');
    assert.deepEqual(
      r.body.error.invalid.map((e: any) => [e.entry, e.rules[0].rule, e.rules[0].description]),
      [
        ['$.scopes[1]', 'inclusion', 'unknown scope nope:nope'],
        ['$.scopes[3]', 'inclusion', 'unknown scope x'],
      ],
    );
    const ok = await server.call('POST', '/admin/tokens', { admin: true, body: { client_id: clientId, scopes: ['person:read'] } });
    assert.equal(ok.status, 201, ok.text);
    const g = await call(server.url, 'GET', `/api/persons/${W.person}/authentication_methods`, {
      token: ok.body.data.access_token,
      apiKey: c.body.data.secret,
    });
    assert.equal(g.status, 200, g.text);
  });
});
