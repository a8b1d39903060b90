/**
 * The Prepersons API over real HTTP (MPI): POST /api/prepersons, GET and PATCH /api/prepersons/{id}.
 * Every check answers its published text; each "… is checked before …" test sends a request that fails
 * two neighbouring checks and expects the earlier one.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer, type Mis, type CallResult } from './support/harness.ts';
import { VALIDATION_FAILED_MESSAGE } from '../src/platform/errors.ts';
import { MESSAGES } from '../src/registry/preperson-schemas.ts';
import { todayInKyiv } from '../src/registry/preperson-checks.ts';
import { insertPreperson } from '../src/registry/preperson-store.ts';

let server: TestServer;
let mis: Mis;
const userId = randomUUID();
const otherUserId = randomUUID();

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86400_000).toISOString().slice(0, 10);
/** Later than today anywhere on Earth, Kyiv included. */
const FUTURE = day(2);
const TODAY = todayInKyiv();

const CONTACT = {
  first_name: 'Петро',
  last_name: 'Іванов',
  second_name: 'Миколайович',
  phones: [{ type: 'MOBILE', number: '+380503410870' }],
};

/** The 422 validation_failed with exactly these entries: [path, rule, description]. */
function assertInvalid(r: CallResult, entries: [string, string, string][]) {
  assert.equal(r.status, 422, r.text);
  assert.equal(r.body.error.type, 'validation_failed', r.text);
  assert.equal(r.body.error.message, VALIDATION_FAILED_MESSAGE);
  assert.deepEqual(
    r.body.error.invalid.map((e: any) => [e.entry, e.rules[0].rule, e.rules[0].description]),
    entries,
    r.text,
  );
}

function assertNotFound(r: CallResult) {
  assert.equal(r.status, 404, r.text);
  assert.deepEqual(r.body.error, { type: 'not_found', message: 'Preperson not found' });
}

function assertNotActive(r: CallResult) {
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.body.error, { type: 'validation_failed', message: 'Preperson is not active' });
}

/** A preperson in the given state, written by the fixture engine. */
async function preperson(fields: Record<string, unknown> = {}): Promise<string> {
  const id = randomUUID();
  await server.fixtures({ prepersons: [{ id, external_id: `MIS-${id.slice(0, 8)}`, gender: 'MALE', ...fields }] });
  return id;
}

before(async () => {
  server = await startTestServer();
  mis = await server.mis({ userId, scopes: ['preperson:read', 'preperson:write'] });
});
after(async () => {
  await server?.close();
});

describe('scopes and token', () => {
  test('no token: 401 Invalid access token on every route', async () => {
    const id = await preperson();
    for (const [method, path, body] of [
      ['POST', '/api/prepersons', { external_id: 'X', gender: 'MALE' }],
      ['GET', `/api/prepersons/${id}`, undefined],
      ['PATCH', `/api/prepersons/${id}`, { first_name: 'Іван' }],
    ] as const) {
      const r = await server.call(method, path, { body });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.deepEqual(r.body.error, { type: 'access_denied', message: 'Invalid access token' });
    }
  });

  test('create and update need preperson:write, get needs preperson:read (403 naming the missing scope)', async () => {
    const id = await preperson();
    const readOnly = await server.mis({ scopes: ['preperson:read'] });
    const writeOnly = await server.mis({ scopes: ['preperson:write'] });
    const missing = (scope: string) => ({
      type: 'forbidden',
      message: `Your scope does not allow to access this resource. Missing allowances: ${scope}`,
    });
    let r = await readOnly.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'MALE' } });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body.error, missing('preperson:write'));
    r = await readOnly.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Іван' } });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body.error, missing('preperson:write'));
    r = await writeOnly.call('GET', `/api/prepersons/${id}`);
    assert.equal(r.status, 403);
    assert.deepEqual(r.body.error, missing('preperson:read'));
    // and each scope is enough for its routes
    assert.equal((await readOnly.call('GET', `/api/prepersons/${id}`)).status, 200);
    assert.equal((await writeOnly.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Іван' } })).status, 200);
    assert.equal((await writeOnly.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'MALE' } })).status, 201);
  });

  test('the scope is checked before the body (403 for a body that is not even valid)', async () => {
    const readOnly = await server.mis({ scopes: ['preperson:read'] });
    const r = await readOnly.call('POST', '/api/prepersons', { body: { external_id: '', gender: 'NOPE', foo: 1 } });
    assert.equal(r.status, 403);
  });
});

describe('POST /api/prepersons', () => {
  test('201: an ACTIVE preperson with a new id, Preperson_response in the blueprint order, created by the token user', async () => {
    const body = {
      external_id: '#1234-FDS-aa',
      first_name: 'Петро',
      last_name: 'Іванов',
      second_name: 'Миколайович',
      gender: 'MALE',
      birth_date: '1980-01-01',
      emergency_contact: CONTACT,
      note: 'Чоловік близько 40 років, татуювання на правому передпліччі',
    };
    const r = await mis.call('POST', '/api/prepersons', { body });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.meta.code, 201);
    assert.equal(r.body.meta.type, 'object');
    const d = r.body.data;
    assert.match(d.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(d), [
      'id',
      'external_id',
      'first_name',
      'last_name',
      'second_name',
      'gender',
      'birth_date',
      'emergency_contact',
      'note',
      'status',
      'inserted_at',
      'inserted_by',
      'updated_at',
      'updated_by',
    ]);
    const { id, inserted_at, updated_at, ...rest } = d;
    assert.deepEqual(rest, { ...body, status: 'ACTIVE', inserted_by: userId, updated_by: userId });
    assert.match(inserted_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(inserted_at, updated_at);
    assert.ok(Math.abs(Date.parse(inserted_at) - Date.now()) < 60_000);
    // the same preperson is read back
    const g = await mis.call('GET', `/api/prepersons/${id}`);
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.body.data, d);
  });

  test('only external_id and gender are required; fields without a value are left out', async () => {
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: 'MIS-1', gender: 'FEMALE' } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(Object.keys(r.body.data), [
      'id',
      'external_id',
      'gender',
      'status',
      'inserted_at',
      'inserted_by',
      'updated_at',
      'updated_by',
    ]);
  });

  test('each create gets its own id', async () => {
    const a = await mis.call('POST', '/api/prepersons', { body: { external_id: 'same', gender: 'MALE' } });
    const b = await mis.call('POST', '/api/prepersons', { body: { external_id: 'same', gender: 'MALE' } });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.body.data.id, b.body.data.id);
  });

  test('a token without a user: inserted_by and updated_by name its MIS client', async () => {
    const client = await server.mis({ scopes: ['preperson:write'] });
    const r = await client.call('POST', '/api/prepersons', { body: { external_id: 'MIS-2', gender: 'MALE' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.data.inserted_by, client.clientId);
    assert.equal(r.body.data.updated_by, client.clientId);
  });

  test('a new id is never one of an MPI person nor of another preperson', async () => {
    const personId = randomUUID();
    await server.fixtures({ persons: [{ id: personId }] });
    const existing = await preperson();
    const { db } = server.runtime.platform;
    assert.equal(await insertPreperson(db, personId, { external_id: 'X', gender: 'MALE' }, userId), undefined);
    assert.equal(await insertPreperson(db, existing, { external_id: 'X', gender: 'MALE' }, userId), undefined);
    const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM prepersons WHERE id = $1', [personId]);
    assert.equal(r.rows[0].n, 0);
  });

  test('3. schema: external_id and gender required, no other field (death_date, status, id), types checked', async () => {
    let r = await mis.call('POST', '/api/prepersons', { body: {} });
    assertInvalid(r, [
      ['$.external_id', 'required', 'required property external_id was not present'],
      ['$.gender', 'required', 'required property gender was not present'],
    ]);
    r = await mis.call('POST', '/api/prepersons', {
      body: { external_id: 'X', gender: 'MALE', death_date: '2020-01-01', status: 'ACTIVE', id: randomUUID() },
    });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.error.invalid.map((e: any) => [e.entry, e.rules[0].rule]).sort(), [
      ['$.death_date', 'schema_does_not_allow_additional_properties'],
      ['$.id', 'schema_does_not_allow_additional_properties'],
      ['$.status', 'schema_does_not_allow_additional_properties'],
    ]);
    r = await mis.call('POST', '/api/prepersons', { body: { external_id: 5, gender: 'MALE', birth_date: '1980-13-01' } });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(r.body.error.invalid.map((e: any) => e.entry).sort(), ['$.birth_date', '$.external_id']);
    r = await mis.call('POST', '/api/prepersons', {
      body: { external_id: 'X', gender: 'MALE', emergency_contact: { ...CONTACT, phones: [{ type: 'MOBILE', number: '0503410870' }] } },
    });
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(
      r.body.error.invalid.map((e: any) => e.entry),
      ['$.emergency_contact.phones[0].number'],
    );
  });

  test('4. external_id must not be empty (nor blank): 422 "external_id should not be empty"', async () => {
    for (const externalId of ['', '   ']) {
      const r = await mis.call('POST', '/api/prepersons', { body: { external_id: externalId, gender: 'MALE' } });
      assertInvalid(r, [['$.external_id', 'length', 'external_id should not be empty']]);
    }
  });

  test('a date of year 0000 (no such year in PostgreSQL) is a 422 of the HTTP layer on create and update, never a 500', async () => {
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'MALE', birth_date: '0000-01-01' } });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.invalid[0].entry, '$.birth_date');
    const created = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'MALE' } });
    const u = await mis.call('PATCH', `/api/prepersons/${created.body.data.id}`, { body: { death_date: '0000-02-29' } });
    assert.equal(u.status, 422, u.text);
    assert.equal(u.body.error.invalid[0].entry, '$.death_date');
  });

  test('4 before 5: an empty external_id is answered before a birth date in the future', async () => {
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: '', gender: 'MALE', birth_date: FUTURE } });
    assertInvalid(r, [['$.external_id', 'length', MESSAGES.externalIdEmpty]]);
  });

  test('5. birth_date after today: 422 "Birth date can\'t be in the future"; today is allowed', async () => {
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'MALE', birth_date: FUTURE } });
    assertInvalid(r, [['$.birth_date', 'invalid', "Birth date can't be in the future"]]);
    const ok = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'MALE', birth_date: TODAY } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.body.data.birth_date, TODAY);
  });

  test('5 before 6: a birth date in the future is answered before a gender outside GENDER', async () => {
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'UNKNOWN', birth_date: FUTURE } });
    assertInvalid(r, [['$.birth_date', 'invalid', MESSAGES.birthDateInFuture]]);
  });

  test('6. gender must be an active value of GENDER (422 inclusion with the allowed values)', async () => {
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'UNKNOWN' } });
    assertInvalid(r, [['$.gender', 'inclusion', 'value is not allowed in enum']]);
    assert.deepEqual(r.body.error.invalid[0].rules[0].params, ['FEMALE', 'MALE']);
  });

  test('6 before 7: a gender outside GENDER is answered before an unknown phone type', async () => {
    const contact = { ...CONTACT, phones: [{ type: 'PAGER', number: '+380503410870' }] };
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'UNKNOWN', emergency_contact: contact } });
    assertInvalid(r, [['$.gender', 'inclusion', MESSAGES.notInDictionary]]);
  });

  test('7. the emergency contact phone types must be values of PHONE_TYPE', async () => {
    const contact = {
      ...CONTACT,
      phones: [
        { type: 'MOBILE', number: '+380503410870' },
        { type: 'PAGER', number: '+380503410871' },
      ],
    };
    const r = await mis.call('POST', '/api/prepersons', { body: { external_id: 'X', gender: 'MALE', emergency_contact: contact } });
    assertInvalid(r, [['$.emergency_contact.phones[1].type', 'inclusion', MESSAGES.notInDictionary]]);
  });
});

describe('GET /api/prepersons/{id}', () => {
  test('a preperson written by fixtures, with every Preperson_response field, INACTIVE included', async () => {
    const id = randomUUID();
    const audit = {
      inserted_at: '2017-04-20T19:14:13.000Z',
      inserted_by: 'e1453f4c-1077-4e85-8c98-c13ffca0063e',
      updated_at: '2017-04-21T10:00:00.000Z',
      updated_by: '2922a240-63db-404e-b730-09222bfeb2dd',
    };
    await server.fixtures({
      prepersons: [
        {
          id,
          external_id: '#1234-FDS-aa',
          first_name: 'Петро',
          gender: 'MALE',
          birth_date: '1980-01-01',
          emergency_contact: CONTACT,
          note: 'Знайдений на вулиці',
          status: 'INACTIVE',
          death_date: '2018-11-11',
          ...audit,
        },
      ],
    });
    const r = await mis.call('GET', `/api/prepersons/${id}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data, {
      id,
      external_id: '#1234-FDS-aa',
      first_name: 'Петро',
      last_name: r.body.data.last_name,
      gender: 'MALE',
      birth_date: '1980-01-01',
      emergency_contact: CONTACT,
      note: 'Знайдений на вулиці',
      status: 'INACTIVE',
      death_date: '2018-11-11',
      ...audit,
    });
  });

  test('3. 404 "Preperson not found": unknown id, not a UUID, a person\'s id, a row MPI no longer keeps (is_active false)', async () => {
    const personId = randomUUID();
    await server.fixtures({ persons: [{ id: personId }] });
    const gone = await preperson({ is_active: false });
    for (const id of [randomUUID(), 'not-a-uuid', personId, gone]) assertNotFound(await mis.call('GET', `/api/prepersons/${id}`));
  });
});

describe('PATCH /api/prepersons/{id}', () => {
  test('200: the given fields change, the others stay; updated_by is the token user, inserted_by stays', async () => {
    const created = (
      await mis.call('POST', '/api/prepersons', {
        body: { external_id: 'MIS-9', gender: 'MALE', first_name: 'Невідомий', note: 'note stays' },
      })
    ).body.data;
    const other = await server.mis({ userId: otherUserId, scopes: ['preperson:write'] });
    const change = {
      external_id: 'MIS-10',
      last_name: 'Іваненко',
      second_name: 'Петрович',
      gender: 'FEMALE',
      birth_date: '1975-05-05',
      emergency_contact: CONTACT,
    };
    const r = await other.call('PATCH', `/api/prepersons/${created.id}`, { body: change });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.meta.code, 200);
    const { updated_at, ...rest } = r.body.data;
    const { updated_at: before, ...createdRest } = created;
    assert.deepEqual(rest, { ...createdRest, ...change, updated_by: otherUserId });
    assert.ok(Date.parse(updated_at) >= Date.parse(before));
    assert.equal(rest.first_name, 'Невідомий');
    assert.equal(rest.note, 'note stays');
    assert.equal(rest.inserted_by, userId);
    assert.deepEqual((await mis.call('GET', `/api/prepersons/${created.id}`)).body.data, r.body.data);
  });

  test('death_date makes the preperson INACTIVE; it can then no longer be updated', async () => {
    const id = await preperson({ birth_date: '1980-01-01' });
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { death_date: TODAY } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.status, 'INACTIVE');
    assert.equal(r.body.data.death_date, TODAY);
    assertNotActive(await mis.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Іван' } }));
    assert.equal((await mis.call('GET', `/api/prepersons/${id}`)).body.data.status, 'INACTIVE');
  });

  test('a death date equal to the birth date is allowed', async () => {
    const id = await preperson({ birth_date: '2001-02-03' });
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { death_date: '2001-02-03' } });
    assert.equal(r.status, 200, r.text);
  });

  test('3. the HTTP layer refuses a body of the wrong shape (unknown field, wrong type) before any lookup', async () => {
    let r = await mis.call('PATCH', `/api/prepersons/${randomUUID()}`, { body: { foo: 1 } });
    assertInvalid(r, [['$.foo', 'schema_does_not_allow_additional_properties', 'schema does not allow additional properties']]);
    r = await mis.call('PATCH', `/api/prepersons/${randomUUID()}`, { body: { death_date: 'yesterday' } });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.invalid[0].entry, '$.death_date');
    // no body at all is not an object
    r = await mis.call('PATCH', `/api/prepersons/${randomUUID()}`);
    assertInvalid(r, [['$', 'cast', 'type mismatch. Expected Object but got undefined']]);
  });

  test('4. 404 "Preperson not found": unknown id, not a UUID, a row MPI no longer keeps', async () => {
    const gone = await preperson({ is_active: false });
    for (const id of [randomUUID(), 'not-a-uuid', gone])
      assertNotFound(await mis.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Іван' } }));
  });

  test('4 before 5 (and before every body check): an unknown id with no field, or with note, is a 404', async () => {
    assertNotFound(await mis.call('PATCH', `/api/prepersons/${randomUUID()}`, { body: {} }));
    assertNotFound(await mis.call('PATCH', `/api/prepersons/${randomUUID()}`, { body: { note: 'x', status: 'ACTIVE' } }));
  });

  test('5. an INACTIVE preperson: 422 "Preperson is not active"', async () => {
    const id = await preperson({ status: 'INACTIVE' });
    assertNotActive(await mis.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Іван' } }));
  });

  test('5 before 6: an INACTIVE preperson with no field submitted is "Preperson is not active"', async () => {
    const id = await preperson({ status: 'INACTIVE' });
    assertNotActive(await mis.call('PATCH', `/api/prepersons/${id}`, { body: {} }));
    assertNotActive(await mis.call('PATCH', `/api/prepersons/${id}`, { body: { note: 'x' } }));
  });

  test('6. at least one updatable field: 422 validation_failed on $', async () => {
    const id = await preperson();
    {
      const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: {} });
      assertInvalid(r, [
        [
          '$',
          'required',
          'at least one of the fields first_name, last_name, second_name, gender, external_id, birth_date, emergency_contact, death_date must be submitted',
        ],
      ]);
      assert.deepEqual(r.body.error.invalid[0].rules[0].params, [
        'first_name',
        'last_name',
        'second_name',
        'gender',
        'external_id',
        'birth_date',
        'emergency_contact',
        'death_date',
      ]);
    }
  });

  test('6 before 7: note (or status) alone is "no updatable field", not "forbidden field"', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { note: 'x', status: 'INACTIVE' } });
    assertInvalid(r, [['$', 'required', MESSAGES.noAllowedField]]);
  });

  test('7. note and status are forbidden: 422 validation_failed naming each', async () => {
    const id = await preperson({ first_name: 'Невідомий' });
    let r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Іван', note: 'x' } });
    assertInvalid(r, [['$.note', 'schema_does_not_allow_additional_properties', 'schema does not allow additional properties']]);
    r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Іван', note: 'x', status: 'ACTIVE' } });
    assertInvalid(r, [
      ['$.note', 'schema_does_not_allow_additional_properties', MESSAGES.forbiddenField],
      ['$.status', 'schema_does_not_allow_additional_properties', MESSAGES.forbiddenField],
    ]);
    // nothing was written
    assert.equal((await mis.call('GET', `/api/prepersons/${id}`)).body.data.first_name, 'Невідомий');
  });

  test('7 before 8: a forbidden field is answered before an empty external_id', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { external_id: '', status: 'ACTIVE' } });
    assertInvalid(r, [['$.status', 'schema_does_not_allow_additional_properties', MESSAGES.forbiddenField]]);
  });

  test('8. external_id, when given, must not be empty: 422 "external_id should not be empty"', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { external_id: ' ' } });
    assertInvalid(r, [['$.external_id', 'length', 'external_id should not be empty']]);
  });

  test('8 before 9: an empty external_id is answered before a birth date in the future', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { external_id: '', birth_date: FUTURE } });
    assertInvalid(r, [['$.external_id', 'length', MESSAGES.externalIdEmpty]]);
  });

  test('9. birth_date after today: 422 "Birth date can\'t be in the future"', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { birth_date: FUTURE } });
    assertInvalid(r, [['$.birth_date', 'invalid', "Birth date can't be in the future"]]);
  });

  test('9 before 10: a birth date in the future is answered before a death date in the future', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { birth_date: FUTURE, death_date: FUTURE } });
    assertInvalid(r, [['$.birth_date', 'invalid', MESSAGES.birthDateInFuture]]);
  });

  test('10. death_date after today: 422 "Death date can not be in future"; nothing is written', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { death_date: FUTURE } });
    assertInvalid(r, [['$.death_date', 'invalid', 'Death date can not be in future']]);
    assert.equal((await mis.call('GET', `/api/prepersons/${id}`)).body.data.status, 'ACTIVE');
  });

  test('10 before 11: a death date in the future and before the (stored) birth date is "in future"', async () => {
    const id = await preperson({ birth_date: day(400) });
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { death_date: FUTURE } });
    assertInvalid(r, [['$.death_date', 'invalid', MESSAGES.deathDateInFuture]]);
  });

  test('11. death_date before the birth date (given or stored): 422 "Death date should equal or greater than birth_date"', async () => {
    const stored = await preperson({ birth_date: '2000-01-02' });
    let r = await mis.call('PATCH', `/api/prepersons/${stored}`, { body: { death_date: '2000-01-01' } });
    assertInvalid(r, [['$.death_date', 'invalid', 'Death date should equal or greater than birth_date']]);
    const given = await preperson({ birth_date: '1990-01-01' });
    r = await mis.call('PATCH', `/api/prepersons/${given}`, { body: { birth_date: '2000-01-02', death_date: '2000-01-01' } });
    assertInvalid(r, [['$.death_date', 'invalid', MESSAGES.deathBeforeBirth]]);
    // the birth date given in the same request counts, not the stored one
    r = await mis.call('PATCH', `/api/prepersons/${stored}`, { body: { birth_date: '1999-12-31', death_date: '2000-01-01' } });
    assert.equal(r.status, 200, r.text);
  });

  test('11 before 12: a death date before the birth date is answered before a gender outside GENDER', async () => {
    const id = await preperson({ birth_date: '2000-01-02' });
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { death_date: '2000-01-01', gender: 'UNKNOWN' } });
    assertInvalid(r, [['$.death_date', 'invalid', MESSAGES.deathBeforeBirth]]);
  });

  test('12. gender, when given, must be an active value of GENDER', async () => {
    const id = await preperson();
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { gender: 'UNKNOWN' } });
    assertInvalid(r, [['$.gender', 'inclusion', MESSAGES.notInDictionary]]);
  });

  test('12 before 13: a gender outside GENDER is answered before an unknown phone type', async () => {
    const id = await preperson();
    const contact = { ...CONTACT, phones: [{ type: 'PAGER', number: '+380503410870' }] };
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { gender: 'UNKNOWN', emergency_contact: contact } });
    assertInvalid(r, [['$.gender', 'inclusion', MESSAGES.notInDictionary]]);
  });

  test('13. the emergency contact phone types must be values of PHONE_TYPE', async () => {
    const id = await preperson();
    const contact = { ...CONTACT, phones: [{ type: 'PAGER', number: '+380503410870' }] };
    const r = await mis.call('PATCH', `/api/prepersons/${id}`, { body: { emergency_contact: contact } });
    assertInvalid(r, [['$.emergency_contact.phones[0].type', 'inclusion', MESSAGES.notInDictionary]]);
  });

  test('concurrent updates of one preperson: the one after a death date sees it INACTIVE', async () => {
    const id = await preperson({ birth_date: '1980-01-01', first_name: 'Невідомий' });
    const results = await Promise.all([
      mis.call('PATCH', `/api/prepersons/${id}`, { body: { death_date: TODAY } }),
      mis.call('PATCH', `/api/prepersons/${id}`, { body: { first_name: 'Зиновій' } }),
    ]);
    const statuses = results.map((r) => r.status).sort();
    // either order is possible; the name change never lands after the death date
    assert.ok(JSON.stringify(statuses) === '[200,200]' || JSON.stringify(statuses) === '[200,422]', results.map((r) => r.text).join('\n'));
    const final = (await mis.call('GET', `/api/prepersons/${id}`)).body.data;
    assert.equal(final.status, 'INACTIVE');
    assert.equal(final.first_name, statuses[1] === 422 ? 'Невідомий' : 'Зиновій');
  });
});

describe('today', () => {
  test('"today" for birth and death dates is the calendar day in Kyiv, not in UTC', () => {
    // 22:30 UTC in December is 00:30 of the next day in Kyiv (UTC+2); in July 21:30 UTC is 00:30 (UTC+3)
    assert.equal(todayInKyiv(new Date('2026-12-04T22:30:00Z')), '2026-12-05');
    assert.equal(todayInKyiv(new Date('2026-12-04T21:59:00Z')), '2026-12-04');
    assert.equal(todayInKyiv(new Date('2026-07-04T21:30:00Z')), '2026-07-05');
    assert.equal(todayInKyiv(new Date('2026-07-04T20:59:00Z')), '2026-07-04');
  });
});
