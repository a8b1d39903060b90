/**
 * Registry over real HTTP: dictionaries (GET /api/dictionaries, isActiveDictionaryValue) and the
 * sandbox demo registry data.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { isActiveDictionaryValue, clearDictionaryCache } from '../src/registry/dictionaries.ts';
import { allowedCodes, isAllowedCode } from '../src/compositions/dictionaries.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';

describe('dictionaries', () => {
  let server: TestServer;
  let mis: Mis;
  before(async () => {
    server = await startTestServer();
    mis = await server.mis({ scopes: ['dictionary:read'] });
  });
  after(async () => {
    await server?.close();
  });

  test('GET /api/dictionaries lists every dictionary in the v1 shape', async () => {
    const r = await mis.call('GET', '/api/dictionaries');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.meta.type, 'list');
    const byName = Object.fromEntries(r.body.data.map((d: any) => [d.name, d]));
    for (const name of [
      'MEDICATION_REQUEST_INTENT',
      'MEDICATION_REQUEST_CATEGORY',
      'MEDICATION_REQUEST_PRIORITY',
      'MEDICATION_REQUEST_BLOCK_REASON',
      'MEDICATION_REQUEST_REJECT_REASON',
      'MEDICATION_FORM',
      'MEDICATION_UNIT',
      'FUNDING_SOURCE',
      'POSITION',
      'DIVISION_TYPE',
      'PHONE_TYPE',
      'ADDRESS_TYPE',
      'SETTLEMENT_TYPE',
      'STREET_TYPE',
      'LICENSE_TYPE',
      'MR_BLANK_TYPES',
      'COMPOSITION_TYPES',
      'COMPOSITION_CATEGORIES',
      'COMPOSITION_EVENTS',
      'eHealth/resources',
      'GENDER',
      'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY',
      'eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN',
    ]) {
      assert.ok(byName[name], `${name} is seeded`);
      assert.equal(byName[name].is_active, true);
      assert.ok(Object.keys(byName[name].values).length > 0, `${name} has values`);
    }
    assert.deepEqual(Object.keys(byName.MEDICATION_REQUEST_REJECT_REASON.values).sort(), [
      'NO_REQUEST_NEEDED',
      'NO_SMS',
      'PATIENT_REJECT',
      'WRONG_DOSAGE',
      'WRONG_PERIOD',
      'WRONG_QTY',
      'WRONG_SIGNATURE',
    ]);
    assert.deepEqual(byName.MEDICATION_REQUEST_INTENT.values, { order: 'Рецепт', plan: 'План лікування' });
    for (const c of [
      'SICKNESS',
      'CHILD_CARE',
      'FAMILY_CARE',
      'PARENTAL_CARE',
      'PREGNANCY',
      'QUARANTINE',
      'COVID19',
      'TEMP_TRANSFER',
      'PROSTHETIC',
      'RESTORATION',
      'LIVE_BIRTH',
    ]) {
      assert.ok(byName.COMPOSITION_CATEGORIES.values[c], c);
    }
    for (const c of ['person', 'preperson', 'encounter', 'employee', 'episode_of_care', 'composition', 'legal_entity']) {
      assert.ok(byName['eHealth/resources'].values[c], c);
    }
    assert.deepEqual(byName.GENDER, {
      name: 'GENDER',
      values: { FEMALE: 'жінка', MALE: 'чоловік' },
      labels: ['SYSTEM', 'EXTERNAL'],
      is_active: true,
    });
  });

  test('filters name and is_active; inactive values are left out', async () => {
    const { db } = server.runtime.platform;
    await db.query(`INSERT INTO dictionaries (name, labels, is_active) VALUES ('TEST_OLD', '{SYSTEM}', false)`);
    await db.query(`INSERT INTO dictionary_values (dictionary_name, code, description) VALUES ('TEST_OLD', 'A', 'a')`);
    await db.query(
      `INSERT INTO dictionary_values (dictionary_name, code, description, is_active) VALUES ('GENDER', 'UNKNOWN', 'невідомо', false)`,
    );

    const one = await mis.call('GET', '/api/dictionaries?name=eHealth/resources');
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(
      one.body.data.map((d: any) => d.name),
      ['eHealth/resources'],
    );

    const gender = await mis.call('GET', '/api/dictionaries?name=GENDER');
    assert.deepEqual(Object.keys(gender.body.data[0].values).sort(), ['FEMALE', 'MALE']);

    const inactive = await mis.call('GET', '/api/dictionaries?is_active=false');
    assert.deepEqual(
      inactive.body.data.map((d: any) => d.name),
      ['TEST_OLD'],
    );
    const active = await mis.call('GET', '/api/dictionaries?is_active=true');
    assert.ok(!active.body.data.some((d: any) => d.name === 'TEST_OLD'));
    assert.ok(active.body.data.length > 20);

    const none = await mis.call('GET', '/api/dictionaries?name=NO_SUCH');
    assert.deepEqual(none.body.data, []);

    const bad = await mis.call('GET', '/api/dictionaries?is_active=maybe&foo=1');
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.error.invalid.map((e: any) => e.entry).sort(), ['$.foo', '$.is_active']);
  });

  test('the route needs dictionary:read', async () => {
    const other = await server.mis({ scopes: ['composition:read'] });
    const r = await other.call('GET', '/api/dictionaries');
    assert.equal(r.status, 403);
    assert.equal(r.body.error.message, 'Your scope does not allow to access this resource. Missing allowances: dictionary:read');
    const anon = await server.call('GET', '/api/dictionaries');
    assert.equal(anon.status, 401);
    assert.equal(anon.body.error.message, 'Invalid access token');
  });

  test('isActiveDictionaryValue: active values of active dictionaries only, cached', async () => {
    const { db } = server.runtime.platform;
    clearDictionaryCache(db);
    assert.equal(await isActiveDictionaryValue(db, 'MEDICATION_REQUEST_INTENT', 'order'), true);
    assert.equal(await isActiveDictionaryValue(db, 'MEDICATION_REQUEST_INTENT', 'ORDER'), false);
    assert.equal(await isActiveDictionaryValue(db, 'COMPOSITION_TYPES', 'TEMP_DISABILITY'), true);
    assert.equal(await isActiveDictionaryValue(db, 'NO_SUCH', 'x'), false);
    assert.equal(await isActiveDictionaryValue(db, 'GENDER', 'UNKNOWN'), false, 'inactive value');
    assert.equal(await isActiveDictionaryValue(db, 'TEST_OLD', 'A'), false, 'inactive dictionary');

    // cached: a change is seen only after the cache is cleared (or expires)
    await db.query(`UPDATE dictionary_values SET is_active = false WHERE dictionary_name = 'MEDICATION_REQUEST_INTENT' AND code = 'plan'`);
    assert.equal(await isActiveDictionaryValue(db, 'MEDICATION_REQUEST_INTENT', 'plan'), true);
    clearDictionaryCache(db);
    assert.equal(await isActiveDictionaryValue(db, 'MEDICATION_REQUEST_INTENT', 'plan'), false);
    await db.query(`UPDATE dictionary_values SET is_active = true WHERE dictionary_name = 'MEDICATION_REQUEST_INTENT' AND code = 'plan'`);
    clearDictionaryCache(db);
  });

  test('compositions validate against the same cache: the registry wins, model.ts only for a dictionary it lacks', async () => {
    const { db } = server.runtime.platform;
    clearDictionaryCache(db);
    assert.equal(await isAllowedCode(db, 'COMPOSITION_TYPES', 'DRIVERS'), true);
    await db.query(`UPDATE dictionary_values SET is_active = false WHERE dictionary_name = 'COMPOSITION_TYPES' AND code = 'DRIVERS'`);
    try {
      assert.equal(await isAllowedCode(db, 'COMPOSITION_TYPES', 'DRIVERS'), true, 'cached, like isActiveDictionaryValue');
      clearDictionaryCache(db);
      assert.equal(await isAllowedCode(db, 'COMPOSITION_TYPES', 'DRIVERS'), false, 'an inactive registry value, whatever model.ts lists');
      assert.deepEqual(await allowedCodes(db, 'COMPOSITION_TYPES'), ['NEWBORN', 'TEMP_DISABILITY']);
    } finally {
      await db.query(`UPDATE dictionary_values SET is_active = true WHERE dictionary_name = 'COMPOSITION_TYPES' AND code = 'DRIVERS'`);
      clearDictionaryCache(db);
    }
    // a dictionary the registry has not seeded (a transaction is a handle of its own, with its own cache)
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query(`DELETE FROM dictionaries WHERE name = 'COMPOSITION_TYPES'`);
        assert.equal(await isAllowedCode(tx, 'COMPOSITION_TYPES', 'DRIVERS'), true, 'model.ts fallback');
        assert.equal(await isAllowedCode(tx, 'COMPOSITION_TYPES', 'NO_SUCH'), false);
        assert.equal(await isActiveDictionaryValue(tx, 'COMPOSITION_TYPES', 'DRIVERS'), false, 'the registry itself has none');
        throw new Error('roll back');
      }),
      /roll back/,
    );
  });
});

describe('demo registry data', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { DEMO_DATA: 'on' } });
  });
  after(async () => {
    await server?.close();
  });
  const q = (sql: string, params?: unknown[]) => server.runtime.platform.db.query(sql, params);

  test('demo rows are loaded on the fixed ids', async () => {
    const le = (await q('SELECT name, type, edrpou, status FROM legal_entities WHERE id = $1', [DEMO.legalEntityId])).rows[0];
    assert.deepEqual(le, { name: 'Клініка Ноунейм', type: 'MSP', edrpou: '5432345432', status: 'ACTIVE' });
    assert.equal((await q('SELECT count(*)::int AS n FROM legal_entities WHERE id = $1', [DEMO.otherLegalEntityId])).rows[0].n, 1);
    const div = (await q('SELECT legal_entity_id, addresses, phones, working_hours FROM divisions WHERE id = $1', [DEMO.divisionId]))
      .rows[0];
    assert.equal(div.legal_entity_id, DEMO.legalEntityId);
    assert.equal(div.addresses[0].type, 'RESIDENCE');
    assert.deepEqual(div.working_hours.mon, [
      ['08.00', '12.00'],
      ['14.00', '18.00'],
    ]);

    const doctor = (
      await q(
        `SELECT e.legal_entity_id, e.division_id, e.party_id, e.position, p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1`,
        [DEMO.doctorEmployeeId],
      )
    ).rows[0];
    assert.deepEqual(doctor, {
      legal_entity_id: DEMO.legalEntityId,
      division_id: DEMO.divisionId,
      party_id: DEMO.doctorPartyId,
      position: 'P6',
      tax_id: DEMO.doctorTaxId,
    });
    const other = (await q('SELECT legal_entity_id FROM employees WHERE id = $1', [DEMO.otherEmployeeId])).rows[0];
    assert.equal(other.legal_entity_id, DEMO.otherLegalEntityId);

    const methods = async (id: string) =>
      (await q('SELECT type, phone_number, value FROM person_authentication_methods WHERE person_id = $1 ORDER BY inserted_at, id', [id]))
        .rows;
    assert.deepEqual(await methods(DEMO.personOtpId), [{ type: 'OTP', phone_number: '+380501112233', value: null }]);
    assert.deepEqual(await methods(DEMO.confidantPersonId), [{ type: 'OTP', phone_number: '+380503334455', value: null }]);
    assert.deepEqual(await methods(DEMO.personThirdPersonId), [
      { type: 'THIRD_PERSON', phone_number: null, value: DEMO.confidantPersonId },
    ]);
    assert.deepEqual(await methods(DEMO.personOfflineId), [{ type: 'OFFLINE', phone_number: null, value: null }]);
    const child = (await q(`SELECT date_part('year', age(birth_date))::int AS age FROM persons WHERE id = $1`, [DEMO.personThirdPersonId]))
      .rows[0];
    assert.ok(child.age < 14);
    assert.equal((await q('SELECT count(*)::int AS n FROM prepersons WHERE id = $1', [DEMO.prepersonId])).rows[0].n, 1);

    const programs = (
      await q(
        `SELECT id, name, medical_program_settings->'medication_request_notification_disabled' AS off FROM medical_programs WHERE id = ANY($1::uuid[]) ORDER BY id`,
        [[DEMO.programId, DEMO.programNoSmsId]],
      )
    ).rows;
    assert.deepEqual(programs, [
      { id: DEMO.programId, name: 'Доступні ліки', off: false },
      { id: DEMO.programNoSmsId, name: 'Програма без SMS-сповіщень', off: true },
    ]);
    const med = (await q('SELECT name, form, dosage, ingredients FROM medications WHERE id = $1', [DEMO.medicationId])).rows[0];
    assert.equal(med.name, 'Аміодарон 200мг таблетки');
    assert.equal(med.form, 'PILL');
    assert.equal(med.dosage.numerator_value, 200);
    assert.equal(med.ingredients[0].is_primary, true);

    const enc = (
      await q('SELECT id, person_id, employee_id, legal_entity_id, episode_id FROM encounters WHERE id = ANY($1::uuid[]) ORDER BY id', [
        [DEMO.encounterId, DEMO.encounterOfflineId],
      ])
    ).rows;
    assert.deepEqual(enc, [
      {
        id: DEMO.encounterId,
        person_id: DEMO.personOtpId,
        employee_id: DEMO.doctorEmployeeId,
        legal_entity_id: DEMO.legalEntityId,
        episode_id: DEMO.episodeId,
      },
      {
        id: DEMO.encounterOfflineId,
        person_id: DEMO.personOfflineId,
        employee_id: DEMO.doctorEmployeeId,
        legal_entity_id: DEMO.legalEntityId,
        episode_id: null,
      },
    ]);
  });

  test('the demo token reads dictionaries', async () => {
    const demo = server.runtime.sandbox!.demo!;
    const r = await server.call('GET', '/api/dictionaries?name=MEDICATION_REQUEST_INTENT', { token: demo.token, apiKey: demo.secret });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data[0].values.order, 'Рецепт');
  });
});
