/**
 * Sandbox admin API over real HTTP: fixtures upsert and validation, admin key, clients and tokens, SMS outbox.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import { startTestServer, call, type TestServer } from './support/harness.ts';
import type { Capability } from '../src/platform/platform.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

const q = (sql: string, params?: unknown[]) => server.runtime.platform.db.query(sql, params);
const entries = (body: any) => (body.error.invalid as { entry: string; rules: { rule: string }[] }[]).map((e) => e.entry).sort();

describe('POST /admin/fixtures', () => {
  test('inserts every registry kind with defaults, then updates by id', async () => {
    const le = randomUUID();
    const div = randomUUID();
    const emp = randomUUID();
    const partyId = randomUUID();
    const confidant = randomUUID();
    const child = randomUUID();
    const pre = randomUUID();
    const prog = randomUUID();
    const med = randomUUID();
    const ep = randomUUID();
    const enc = randomUUID();
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: {
        // deliberately out of dependency order in the body: the server applies kinds in a safe order
        encounters: [{ id: enc, person_id: child, episode_id: ep, employee_id: emp, legal_entity_id: le, division_id: div }],
        episodes: [{ id: ep, person_id: child, legal_entity_id: le }],
        employees: [
          {
            id: emp,
            legal_entity_id: le,
            division_id: div,
            party: { id: partyId, first_name: 'Петро', last_name: 'Іванов', tax_id: '3126509816' },
          },
        ],
        legal_entities: [{ id: le, name: 'Клініка Тест', edrpou: '12345678' }],
        divisions: [{ id: div, legal_entity_id: le }],
        persons: [
          // the child is listed first and references a confidant listed later in the same body
          { id: child, birth_date: '2018-05-01', authentication_methods: [{ type: 'THIRD_PERSON', value: confidant, alias: 'mother' }] },
          {
            id: confidant,
            first_name: 'Олена',
            gender: 'FEMALE',
            authentication_methods: [{ type: 'OTP', phone_number: '+380501112299' }, { type: 'OFFLINE' }],
          },
          {},
        ],
        prepersons: [{ id: pre }],
        medical_programs: [
          { id: prog, name: 'Доступні ліки', medical_program_settings: { medication_request_notification_disabled: true } },
        ],
        medications: [{ id: med, name: 'Аміодарон 200мг таблетки' }],
      },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.meta.type, 'object');
    const d = r.body.data;
    assert.deepEqual(d.legal_entities, [le]);
    assert.deepEqual(d.divisions, [div]);
    assert.deepEqual(d.employees, [emp]);
    assert.deepEqual(d.persons.slice(0, 2), [child, confidant]);
    assert.match(d.persons[2], /^[0-9a-f-]{36}$/);
    assert.deepEqual(d.prepersons, [pre]);
    assert.deepEqual(d.medical_programs, [prog]);
    assert.deepEqual(d.medications, [med]);
    assert.deepEqual(d.episodes, [ep]);
    assert.deepEqual(d.encounters, [enc]);

    const leRow = (await q('SELECT name, edrpou, type, status, is_active FROM legal_entities WHERE id = $1', [le])).rows[0];
    assert.deepEqual(leRow, { name: 'Клініка Тест', edrpou: '12345678', type: 'MSP', status: 'ACTIVE', is_active: true });
    const empRow = (
      await q(
        'SELECT e.party_id, e.position, e.status, p.tax_id, p.first_name FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1',
        [emp],
      )
    ).rows[0];
    assert.deepEqual(empRow, { party_id: partyId, position: 'P6', status: 'APPROVED', tax_id: '3126509816', first_name: 'Петро' });
    const divRow = (await q('SELECT addresses, phones, working_hours FROM divisions WHERE id = $1', [div])).rows[0];
    assert.equal(divRow.addresses[0].settlement, 'Київ');
    assert.match(divRow.phones[0].number, /^\+380\d{9}$/);
    const methods = async (id: string) =>
      (
        await q(
          'SELECT type, phone_number, value, alias FROM person_authentication_methods WHERE person_id = $1 ORDER BY inserted_at, id',
          [id],
        )
      ).rows;
    assert.deepEqual(await methods(confidant), [
      { type: 'OTP', phone_number: '+380501112299', value: null, alias: null },
      { type: 'OFFLINE', phone_number: null, value: null, alias: null },
    ]);
    assert.deepEqual(await methods(child), [{ type: 'THIRD_PERSON', phone_number: null, value: confidant, alias: 'mother' }]);
    assert.deepEqual(
      await methods(d.persons[2]),
      [{ type: 'OFFLINE', phone_number: null, value: null, alias: null }],
      'a new person gets OFFLINE by default',
    );
    const prog0 = (await q('SELECT medical_program_settings FROM medical_programs WHERE id = $1', [prog])).rows[0];
    assert.deepEqual(prog0.medical_program_settings, { medication_request_notification_disabled: true });
    const encRow = (await q('SELECT person_id, episode_id, employee_id, status FROM encounters WHERE id = $1', [enc])).rows[0];
    assert.deepEqual(encRow, { person_id: child, episode_id: ep, employee_id: emp, status: 'finished' });
    const childRow = (await q('SELECT birth_date::text AS birth_date FROM persons WHERE id = $1', [child])).rows[0];
    assert.equal(childRow.birth_date, '2018-05-01');

    // update: same ids, only the given fields change; methods are replaced in array order
    const u = await server.fixtures({
      legal_entities: [{ id: le, status: 'SUSPENDED' }],
      persons: [
        {
          id: confidant,
          authentication_methods: [
            { type: 'OFFLINE' },
            { type: 'OTP', phone_number: '+380671112233' },
            { type: 'OTP', phone_number: '+380671112244', is_active: false, ended_at: '2024-01-01T00:00:00Z' },
          ],
        },
      ],
      employees: [{ id: emp, party: { last_name: 'Петренко' } }],
      medical_programs: [{ id: prog, medical_program_settings: { medication_request_notification_disabled: false } }],
    });
    assert.deepEqual(u.legal_entities, [le]);
    assert.deepEqual((await q('SELECT name, edrpou, status FROM legal_entities WHERE id = $1', [le])).rows[0], {
      name: 'Клініка Тест',
      edrpou: '12345678',
      status: 'SUSPENDED',
    });
    assert.deepEqual(
      (await methods(confidant)).map((m) => m.type),
      ['OFFLINE', 'OTP', 'OTP'],
    );
    const ended = (
      await q(`SELECT is_active, ended_at IS NOT NULL AS ended FROM person_authentication_methods WHERE phone_number = '+380671112244'`)
    ).rows[0];
    assert.deepEqual(ended, { is_active: false, ended: true });
    const confRow = (await q('SELECT first_name, gender FROM persons WHERE id = $1', [confidant])).rows[0];
    assert.deepEqual(confRow, { first_name: 'Олена', gender: 'FEMALE' });
    const party = (
      await q('SELECT p.id, p.first_name, p.last_name FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1', [emp])
    ).rows[0];
    assert.deepEqual(party, { id: partyId, first_name: 'Петро', last_name: 'Петренко' }, "the nested party updates the employee's party");
    assert.equal((await q('SELECT count(*)::int AS n FROM legal_entities WHERE id = $1', [le])).rows[0].n, 1);
    assert.deepEqual(
      (await q('SELECT medical_program_settings FROM medical_programs WHERE id = $1', [prog])).rows[0].medical_program_settings,
      {
        medication_request_notification_disabled: false,
      },
    );
  });

  test('an empty body is a no-op', async () => {
    const r = await server.call('POST', '/admin/fixtures', { admin: true, body: {} });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data, {});
    const noBody = await server.call('POST', '/admin/fixtures', { admin: true });
    assert.equal(noBody.status, 200, noBody.text);
    assert.deepEqual(noBody.body.data, {});
  });

  test('employees: party_id of an existing party, generated party, ids in input order', async () => {
    const le = randomUUID();
    const first = randomUUID();
    const second = randomUUID();
    const ids = await server.fixtures({
      legal_entities: [{ id: le }],
      employees: [
        { id: second, legal_entity_id: le },
        { id: first, legal_entity_id: le, position: 'P1', employee_type: 'OWNER' },
      ],
    });
    assert.deepEqual(ids.employees, [second, first]);
    const generated = (
      await q('SELECT p.id, p.first_name, p.last_name, p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1', [
        second,
      ])
    ).rows[0];
    assert.ok(generated.first_name && generated.last_name);
    assert.match(generated.tax_id, /^\d{10}$/);
    // a third employee record of the same person (party) in the same legal entity
    const third = (await server.fixtures({ employees: [{ legal_entity_id: le, party_id: generated.id, employee_type: 'SPECIALIST' }] }))
      .employees[0];
    const row = (await q('SELECT party_id, employee_type, position FROM employees WHERE id = $1', [third])).rows[0];
    assert.deepEqual(row, { party_id: generated.id, employee_type: 'SPECIALIST', position: 'P6' });
  });

  test('capability kinds (medication_requests) go through the same transaction and report item paths', async () => {
    const ghost = randomUUID();
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { legal_entities: [{}], medication_requests: [{ person_id: ghost }] },
    });
    assert.equal(r.status, 422, r.text);
    const found = r.body.error.invalid.map((e: any) => e.entry);
    assert.ok(found.length > 0);
    assert.ok(
      found.every((e: string) => e.startsWith('$.medication_requests[0].')),
      found.join(', '),
    );
    assert.ok(found.includes('$.medication_requests[0].person_id'), found.join(', '));
  });

  test('unknown keys and fields, wrong types and bad uuids: 422 with every entry', async () => {
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: {
        patients: [],
        persons: [{ id: 'not-a-uuid', birth_date: 19900101, nickname: 'x', authentication_methods: [{ type: 'SMS' }] }],
        legal_entities: [{ name: 5 }],
        divisions: {},
      },
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.type, 'validation_failed');
    assert.deepEqual(entries(r.body), [
      '$.divisions',
      '$.legal_entities[0].name',
      '$.patients',
      '$.persons[0].authentication_methods[0].type',
      '$.persons[0].birth_date',
      '$.persons[0].id',
      '$.persons[0].nickname',
    ]);
    const byEntry = Object.fromEntries(r.body.error.invalid.map((e: any) => [e.entry, e]));
    assert.equal(byEntry['$.patients'].rules[0].rule, 'schema_does_not_allow_additional_properties');
    assert.equal(byEntry['$.persons[0].id'].rules[0].rule, 'format');
    assert.equal(byEntry['$.persons[0].birth_date'].rules[0].rule, 'cast');
    assert.equal(byEntry['$.persons[0].birth_date'].entry_type, 'json_data_property');
    assert.equal(byEntry['$.persons[0].authentication_methods[0].type'].rules[0].rule, 'inclusion');
  });

  test('missing references: 422 for each field, nothing kept', async () => {
    const le = randomUUID();
    const ghost = randomUUID();
    const person = randomUUID();
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: {
        legal_entities: [{ id: le }],
        divisions: [{ legal_entity_id: ghost }, { legal_entity_id: le }, {}],
        employees: [{ legal_entity_id: le, division_id: ghost, party_id: ghost }],
        persons: [
          { id: person, authentication_methods: [{ type: 'OTP' }] },
          { authentication_methods: [{ type: 'OFFLINE' }, { type: 'THIRD_PERSON', value: ghost }] },
        ],
        encounters: [{ person_id: ghost, episode_id: ghost }],
      },
    });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(entries(r.body), [
      '$.divisions[0].legal_entity_id',
      '$.divisions[2].legal_entity_id',
      '$.employees[0].division_id',
      '$.employees[0].party_id',
      '$.encounters[0].episode_id',
      '$.encounters[0].person_id',
      '$.persons[0].authentication_methods[0].phone_number',
    ]);
    const byEntry = Object.fromEntries(r.body.error.invalid.map((e: any) => [e.entry, e.rules[0]]));
    assert.deepEqual(byEntry['$.divisions[0].legal_entity_id'], { rule: 'invalid', params: [], description: 'Legal entity not found' });
    assert.equal(byEntry['$.divisions[2].legal_entity_id'].rule, 'required');
    // the transaction was rolled back: the valid legal entity is not there either
    assert.equal((await q('SELECT count(*)::int AS n FROM legal_entities WHERE id = $1', [le])).rows[0].n, 0);

    // a confidant that does not exist (checked after the whole body)
    const r2 = await server.call('POST', '/admin/fixtures', {
      admin: true,
      body: { persons: [{ authentication_methods: [{ type: 'OFFLINE' }, { type: 'THIRD_PERSON', value: ghost }] }] },
    });
    assert.equal(r2.status, 422, r2.text);
    assert.deepEqual(entries(r2.body), ['$.persons[0].authentication_methods[1].value']);
    assert.equal(r2.body.error.invalid[0].rules[0].description, 'Confidant person not found');
  });
});

describe('fixture kinds of other capabilities', () => {
  test('a foreign-key violation or bad data of a kind becomes 422 at the item path; other errors stay 500', async () => {
    // a test-only kind that writes without checking its references, as a capability might
    const probe: Capability = {
      name: 'probe',
      fixtures: [
        {
          name: 'fk_probes',
          schema: Type.Object({ legal_entity_id: Type.String(), name: Type.Optional(Type.String()) }, { additionalProperties: false }),
          async upsert(tx, item) {
            const id = randomUUID();
            await tx.query('INSERT INTO divisions (id, legal_entity_id, name) VALUES ($1, $2, $3)', [
              id,
              item.legal_entity_id,
              item.name ?? 'x',
            ]);
            return id;
          },
        },
        {
          name: 'crash_probes',
          schema: Type.Object({}, { additionalProperties: false }),
          async upsert() {
            throw new Error('boom');
          },
        },
      ],
    };
    const s = await startTestServer({ extraCapabilities: [probe] });
    try {
      const le = randomUUID();
      const ghost = randomUUID();
      const r = await s.call('POST', '/admin/fixtures', {
        admin: true,
        body: {
          legal_entities: [{ id: le }],
          fk_probes: [{ legal_entity_id: le }, { legal_entity_id: ghost }, { legal_entity_id: 'not-a-uuid' }],
        },
      });
      assert.equal(r.status, 422, r.text);
      assert.deepEqual(entries(r.body), ['$.fk_probes[1].legal_entity_id', '$.fk_probes[2]']);
      assert.match(r.body.error.invalid.find((e: any) => e.entry === '$.fk_probes[1].legal_entity_id').rules[0].description, /not found/);

      const ok = await s.call('POST', '/admin/fixtures', {
        admin: true,
        body: { legal_entities: [{ id: le }], fk_probes: [{ legal_entity_id: le }] },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.data.fk_probes.length, 1);

      const crash = await s.call('POST', '/admin/fixtures', { admin: true, body: { crash_probes: [{}] } });
      assert.equal(crash.status, 500);
      assert.equal(crash.body.error.type, 'internal_error');
    } finally {
      await s.close();
    }
  });
});

describe('admin key', () => {
  test('missing or wrong x-admin-key: 401 in the ESOZ envelope', async () => {
    for (const headers of [{}, { 'x-admin-key': 'wrong' }] as Record<string, string>[]) {
      for (const [method, path, body] of [
        ['POST', '/admin/fixtures', {}],
        ['POST', '/admin/clients', { name: 'x' }],
        ['GET', '/admin/sms', undefined],
      ] as const) {
        const r = await call(server.url, method, path, { headers, body });
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.equal(r.body.meta.code, 401);
        assert.equal(r.body.error.type, 'access_denied');
        assert.equal(r.body.error.message, 'Invalid admin key');
      }
    }
  });

  test('admin routes are closed when no ADMIN_KEY is configured', async () => {
    const s = await startTestServer({ env: { ADMIN_KEY: '' } });
    try {
      const r = await s.call('POST', '/admin/fixtures', { admin: true, body: {} });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.type, 'access_denied');
    } finally {
      await s.close();
    }
  });
});

describe('clients and tokens', () => {
  test('a client and a token issued by the admin API work on a protected route', async () => {
    const le = randomUUID();
    await server.fixtures({ legal_entities: [{ id: le }] });
    const c = await server.call('POST', '/admin/clients', { admin: true, body: { name: 'My MIS', legal_entity_id: le } });
    assert.equal(c.status, 201, c.text);
    const { id, secret } = c.body.data;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.ok(secret.length >= 16);

    const t = await server.call('POST', '/admin/tokens', { admin: true, body: { client_id: id, scopes: ['dictionary:read'] } });
    assert.equal(t.status, 201, t.text);
    assert.ok(Date.parse(t.body.data.expires_at) > Date.now());
    const ok = await call(server.url, 'GET', '/api/dictionaries?name=GENDER', { token: t.body.data.access_token, apiKey: secret });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.data[0].name, 'GENDER');

    const wrongKey = await call(server.url, 'GET', '/api/dictionaries', { token: t.body.data.access_token, apiKey: 'nope' });
    assert.equal(wrongKey.status, 401);
    assert.equal(wrongKey.body.error.message, 'Invalid api-key');

    const t2 = await server.call('POST', '/admin/tokens', { admin: true, body: { client_id: id, scopes: ['composition:read'] } });
    const denied = await call(server.url, 'GET', '/api/dictionaries', { token: t2.body.data.access_token, apiKey: secret });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.type, 'forbidden');
    assert.equal(denied.body.error.message, 'Your scope does not allow to access this resource. Missing allowances: dictionary:read');

    const expired = await server.call('POST', '/admin/tokens', {
      admin: true,
      body: { client_id: id, scopes: ['dictionary:read'], expires_in: -1 },
    });
    const r401 = await call(server.url, 'GET', '/api/dictionaries', { token: expired.body.data.access_token, apiKey: secret });
    assert.equal(r401.status, 401);
    assert.equal(r401.body.error.message, 'Invalid access token');

    // re-posting the same client id replaces it: 200, and the new secret is the valid one
    const again = await server.call('POST', '/admin/clients', { admin: true, body: { id, name: 'My MIS v2', legal_entity_id: le } });
    assert.equal(again.status, 200, again.text);
    assert.notEqual(again.body.data.secret, secret);
  });

  test('unknown client: 404; bad bodies: 422', async () => {
    const r = await server.call('POST', '/admin/tokens', { admin: true, body: { client_id: randomUUID(), scopes: [] } });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.type, 'not_found');
    const bad = await server.call('POST', '/admin/tokens', { admin: true, body: { client_id: 'x', scopes: 'a', extra: 1 } });
    assert.equal(bad.status, 422);
    assert.deepEqual(entries(bad.body), ['$.client_id', '$.extra', '$.scopes']);
    const noLe = await server.call('POST', '/admin/clients', { admin: true, body: { name: 'x', legal_entity_id: randomUUID() } });
    assert.equal(noLe.status, 422);
    assert.deepEqual(entries(noLe.body), ['$.legal_entity_id']);
    const noName = await server.call('POST', '/admin/clients', { admin: true, body: {} });
    assert.equal(noName.status, 422);
    assert.deepEqual(entries(noName.body), ['$.name']);
  });
});

describe('GET /admin/sms', () => {
  test('newest first, filters and ESOZ paging', async () => {
    const entity = randomUUID();
    for (let i = 0; i < 5; i++) {
      await q(
        // enqueued_at set: the outbox relay leaves these rows alone, so they stay NEW
        `INSERT INTO sms_outbox (phone_number, body, entity_name, entity_id, inserted_at, enqueued_at)
         VALUES ($1, $2, 'medication_request', $3, now() - make_interval(mins => $4), now())`,
        [i % 2 ? '+380500000001' : '+380500000002', `sms ${i}`, i < 3 ? entity : randomUUID(), 10 - i],
      );
    }
    const all = await server.call('GET', '/admin/sms?page_size=2', { admin: true });
    assert.equal(all.status, 200, all.text);
    assert.equal(all.body.meta.type, 'list');
    assert.deepEqual(all.body.paging, { page_number: 1, page_size: 2, total_entries: 5, total_pages: 3 });
    assert.deepEqual(
      all.body.data.map((s: any) => s.body),
      ['sms 4', 'sms 3'],
    );
    assert.deepEqual(Object.keys(all.body.data[0]).sort(), [
      'body',
      'entity_id',
      'entity_name',
      'id',
      'inserted_at',
      'phone_number',
      'sent_at',
      'status',
      'tries',
    ]);
    assert.equal(all.body.data[0].status, 'NEW');
    assert.equal(all.body.data[0].tries, 0);
    assert.equal(all.body.data[0].sent_at, null);

    const page3 = await server.call('GET', '/admin/sms?page_size=2&page=3', { admin: true });
    assert.deepEqual(
      page3.body.data.map((s: any) => s.body),
      ['sms 0'],
    );
    assert.equal(page3.body.paging.page_number, 3);

    const byPhone = await server.call('GET', '/admin/sms?phone_number=%2B380500000001', { admin: true });
    assert.deepEqual(
      byPhone.body.data.map((s: any) => s.body),
      ['sms 3', 'sms 1'],
    );
    assert.equal(byPhone.body.paging.page_size, 50);

    const byEntity = await server.call('GET', `/admin/sms?entity_id=${entity}&phone_number=%2B380500000002`, { admin: true });
    assert.deepEqual(
      byEntity.body.data.map((s: any) => s.body),
      ['sms 2', 'sms 0'],
    );

    const none = await server.call('GET', `/admin/sms?entity_id=${randomUUID()}`, { admin: true });
    assert.deepEqual(none.body.data, []);
    assert.equal(none.body.paging.total_entries, 0);

    const bad = await server.call('GET', '/admin/sms?page_size=101&page=0', { admin: true });
    assert.equal(bad.status, 422);
    assert.deepEqual(entries(bad.body), ['$.page', '$.page_size']);
    assert.equal(bad.body.error.invalid[0].entry_type, 'query_parameter');
  });
});
