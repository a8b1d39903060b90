/**
 * Pure pieces of the ePrescription capability: request numbers, SMS template filling, short names,
 * ages, the program notification flag; and request-number collisions against a real table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { requestNumberFor, REQUEST_NUMBER_RE, REQUEST_NUMBER_ALPHABET } from '../src/eprescription/request-number.ts';
import { UUID_RE } from '../src/platform/uuid.ts';
import { renderSignSms, notificationsDisabled } from '../src/eprescription/resend.ts';
import { ageAt, shortName, type LoadedMr } from '../src/eprescription/view.ts';
import { startTestServer } from './support/harness.ts';
import { seedRegistry, addMr } from './eprescription-helpers.ts';

test('request numbers: ESOZ form, alphabet 0123456789ABCEHIKMOPTX, deterministic per id, salt changes it', () => {
  assert.equal(REQUEST_NUMBER_ALPHABET, '0123456789ABCEHIKMOPTX');
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const n = requestNumberFor(randomUUID());
    assert.match(n, REQUEST_NUMBER_RE);
    seen.add(n);
  }
  assert.equal(seen.size, 2000);
  const id = randomUUID();
  assert.equal(requestNumberFor(id), requestNumberFor(id));
  assert.notEqual(requestNumberFor(id), requestNumberFor(id, 'salt1:'));
  assert.ok(REQUEST_NUMBER_RE.test('0000-243P-1X53-EH38'), 'the 2019 form is accepted for lookups');
  assert.ok(!REQUEST_NUMBER_RE.test('0000-243p-1X53-EH38'));
  assert.ok(!REQUEST_NUMBER_RE.test('0000-243P-1X53-EH3'));
  assert.ok(!REQUEST_NUMBER_RE.test('0000-243P-1X53-EH3Z'));
  // the numbers and the published pattern are exactly those of the first release (demo numbers must not move)
  assert.equal(requestNumberFor('6f1d0c2a-0000-4000-8000-000000000100'), '00K8-177K-PP4A-MP7O');
  assert.equal(requestNumberFor('6f1d0c2a-0000-4000-8000-000000000100', 'salt1:'), '022A-M1EP-K69O-7MO0');
  assert.equal(requestNumberFor('00000000-0000-0000-0000-000000000000'), '01O6-OMEK-10CE-B4C2');
  assert.equal(
    REQUEST_NUMBER_RE.source,
    '^[0123456789ABCEHIKMOPTX]{4}-[0123456789ABCEHIKMOPTX]{4}-[0123456789ABCEHIKMOPTX]{4}-[0123456789ABCEHIKMOPTX]{4}$',
  );
  assert.ok(UUID_RE.test('6F1D0C2A-0000-4000-8000-000000000100'));
});

const mr = (over: Partial<LoadedMr> = {}): LoadedMr =>
  ({
    request_number: '0000-243P-1X53-EH38',
    verification_code: '1234',
    created_at: '2026-01-10',
    started_at: '2026-01-11',
    ended_at: '2026-02-09',
    dispense_valid_from: '2026-01-10',
    dispense_valid_to: '2026-02-10',
    medication_qty: 30,
    medication: { id: 'm', name: 'Аміодарон 200мг таблетки', form: 'PILL', dosage: null, ingredients: [] },
    medical_program: { name: 'Доступні ліки' },
    ...over,
  }) as LoadedMr;

test('SMS template: the default text, all placeholders, unknown ones left as written', () => {
  assert.equal(
    renderSignSms('Ваш рецепт: <request_number>. Код підтвердження: <verification_code>', mr()),
    'Ваш рецепт: 0000-243P-1X53-EH38. Код підтвердження: 1234',
  );
  assert.equal(
    renderSignSms(
      '<created_at>|<started_at>|<ended_at>|<dispense_valid_from>|<dispense_valid_to>|<medication_name>|<medication_qty>|<medical_program_name>|<other>',
      mr(),
    ),
    '2026-01-10|2026-01-11|2026-02-09|2026-01-10|2026-02-10|Аміодарон 200мг таблетки|30|Доступні ліки|<other>',
  );
  assert.equal(renderSignSms('<request_number> <request_number>', mr()), '0000-243P-1X53-EH38 0000-243P-1X53-EH38');
});

test('program notification flag: both names, only true disables', () => {
  assert.equal(notificationsDisabled({ medication_request_notification_disabled: true }), true);
  assert.equal(notificationsDisabled({ request_notification_disabled: true }), true);
  assert.equal(notificationsDisabled({ medication_request_notification_disabled: false, request_notification_disabled: true }), true);
  assert.equal(notificationsDisabled({ medication_request_notification_disabled: false }), false);
  assert.equal(notificationsDisabled({ medication_request_notification_disabled: null }), false);
  assert.equal(notificationsDisabled({ medication_request_notification_disabled: 'true' }), false);
  assert.equal(notificationsDisabled({}), false);
  assert.equal(notificationsDisabled(null), false);
});

test('short_name and age', () => {
  assert.equal(shortName({ first_name: 'Петро', last_name: 'Шевченко', second_name: 'Миколайович' }), 'Шевченко П. М.');
  assert.equal(shortName({ first_name: 'Анна-Марія', last_name: 'Іваненко', second_name: 'Петрівна' }), 'Іваненко А.-М. П.');
  assert.equal(shortName({ first_name: 'Іван', last_name: 'Коваленко', second_name: null }), 'Коваленко І.');
  assert.equal(ageAt('1990-03-15', '2026-03-14'), 35);
  assert.equal(ageAt('1990-03-15', '2026-03-15'), 36);
  assert.equal(ageAt('2000-02-29', '2026-02-28'), 25);
});

test('a request number taken by another MR is not reused (salted retry); fixture updates keep the number', async () => {
  const server = await startTestServer();
  try {
    await seedRegistry(server.runtime.platform.db);
    const newId = randomUUID();
    const squatter = await addMr(server, { request_number: requestNumberFor(newId) });
    const created = await addMr(server, { id: newId });
    assert.match(created.request_number, REQUEST_NUMBER_RE);
    assert.notEqual(created.request_number, squatter.request_number);
    assert.equal(created.request_number, requestNumberFor(newId, 'salt1:'));
    const again = await addMr(server, { id: newId, status: 'REJECTED' });
    assert.equal(again.request_number, created.request_number);
    const row = (
      await server.runtime.platform.db.query<any>('SELECT status, verification_code FROM medication_requests WHERE id = $1', [newId])
    ).rows[0];
    assert.equal(row.status, 'REJECTED');
    assert.equal(row.verification_code, '1234');
    // through POST /admin/fixtures: an item with only id + the fields to change
    await server.fixtures({ medication_requests: [{ id: newId, status: 'ACTIVE', verification_code: null }] });
    const row2 = (
      await server.runtime.platform.db.query<any>(
        'SELECT status, verification_code, request_number FROM medication_requests WHERE id = $1',
        [newId],
      )
    ).rows[0];
    assert.deepEqual(row2, { status: 'ACTIVE', verification_code: null, request_number: created.request_number });
  } finally {
    await server.close();
  }
});
