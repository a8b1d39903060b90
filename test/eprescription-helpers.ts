/**
 * Registry rows for the ePrescription tests, inserted by SQL (independent of the fixtures endpoint),
 * and a helper that adds medication requests through the capability's own fixture upsert.
 */
import type { Db } from '../src/platform/db.ts';
import type { TestServer } from './support/harness.ts';
import { upsertMedicationRequest } from '../src/eprescription/fixtures.ts';

const id = (n: number) => `7e2a0000-0000-4000-8000-${String(n).padStart(12, '0')}`;

export const R = {
  legalEntityId: id(1),
  otherLegalEntityId: id(2),
  pharmacyLegalEntityId: id(3),
  divisionId: id(10),
  otherDivisionId: id(11),
  partyId: id(20),
  employeeId: id(21),
  otherEmployeeId: id(22),
  personOtpId: id(30),
  personThirdId: id(31),
  confidantOtpId: id(32),
  personOfflineId: id(33),
  personThirdOfflineId: id(34),
  confidantOfflineId: id(35),
  personNoMethodsId: id(36),
  programId: id(40),
  programNoSmsId: id(41),
  programNoSmsNewNameId: id(42),
  programTemplateId: id(43),
  medicationId: id(50),
};
export const PHONES = { personOtp: '+380501112233', confidantOtp: '+380503334455' };

export const PROGRAM_TEMPLATE = 'Рецепт <request_number> (<medication_name>) від <created_at>, код <verification_code>';

export async function seedRegistry(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    const le = (lid: string, name: string, type: string) =>
      tx.query(`INSERT INTO legal_entities(id, name, short_name, public_name, type, edrpou) VALUES ($1,$2,$2,$2,$3,'38782323')`, [
        lid,
        name,
        type,
      ]);
    await le(R.legalEntityId, 'Клініка Ноунейм', 'MSP');
    await le(R.otherLegalEntityId, 'Інша клініка', 'MSP');
    await le(R.pharmacyLegalEntityId, 'Аптека', 'PHARMACY');
    for (const [did, lid] of [
      [R.divisionId, R.legalEntityId],
      [R.otherDivisionId, R.otherLegalEntityId],
    ]) {
      await tx.query(
        `INSERT INTO divisions(id, legal_entity_id, name, addresses, phones, email, working_hours, location, dls_id, dls_verified)
         VALUES ($1, $2, 'Бориспільське відділення', $3, '[{"type":"MOBILE","number":"+380503410870"}]', 'div@example.com',
                 '{"mon":[["08.00","18.00"]]}', '{"latitude":30.1233,"longitude":50.32423}', '2872985', true)`,
        [did, lid, JSON.stringify([{ type: 'RESIDENCE', country: 'UA', area: 'Київська', settlement: 'Бориспіль', zip: '08300' }])],
      );
    }
    await tx.query(
      `INSERT INTO parties(id, first_name, last_name, second_name, no_tax_id, email, phones)
       VALUES ($1, 'Петро', 'Іванов', 'Миколайович', false, 'doc@example.com', '[{"type":"MOBILE","number":"+380503410870"}]')`,
      [R.partyId],
    );
    await tx.query(`INSERT INTO employees(id, legal_entity_id, division_id, party_id) VALUES ($1,$2,$3,$4)`, [
      R.employeeId,
      R.legalEntityId,
      R.divisionId,
      R.partyId,
    ]);
    await tx.query(`INSERT INTO employees(id, legal_entity_id, division_id, party_id) VALUES ($1,$2,$3,$4)`, [
      R.otherEmployeeId,
      R.otherLegalEntityId,
      R.otherDivisionId,
      R.partyId,
    ]);
    const person = (pid: string, first: string, last: string, second: string | null, birth: string) =>
      tx.query(`INSERT INTO persons(id, first_name, last_name, second_name, birth_date) VALUES ($1,$2,$3,$4,$5)`, [
        pid,
        first,
        last,
        second,
        birth,
      ]);
    await person(R.personOtpId, 'Петро', 'Шевченко', 'Миколайович', '1990-03-15');
    await person(R.personThirdId, 'Анна-Марія', 'Іваненко', 'Петрівна', '2018-06-01');
    await person(R.confidantOtpId, 'Олена', 'Іваненко', 'Іванівна', '1988-01-01');
    await person(R.personOfflineId, 'Іван', 'Коваленко', null, '1970-12-31');
    await person(R.personThirdOfflineId, 'Тарас', 'Бондаренко', 'Іванович', '2019-02-02');
    await person(R.confidantOfflineId, 'Галина', 'Бондаренко', 'Петрівна', '1985-05-05');
    await person(R.personNoMethodsId, 'Микола', 'Ткаченко', 'Іванович', '1960-01-01');
    const method = (pid: string, type: string, phone: string | null, value: string | null) =>
      tx.query(`INSERT INTO person_authentication_methods(person_id, type, phone_number, value, alias) VALUES ($1,$2,$3,$4,$5)`, [
        pid,
        type,
        phone,
        value,
        type === 'THIRD_PERSON' ? 'mother' : null,
      ]);
    await method(R.personOtpId, 'OTP', PHONES.personOtp, null);
    await method(R.personThirdId, 'THIRD_PERSON', null, R.confidantOtpId);
    await method(R.confidantOtpId, 'OTP', PHONES.confidantOtp, null);
    await method(R.personOfflineId, 'OFFLINE', null, null);
    await method(R.personThirdOfflineId, 'THIRD_PERSON', null, R.confidantOfflineId);
    await method(R.confidantOfflineId, 'OFFLINE', null, null);
    const program = (pid: string, name: string, settings: object) =>
      tx.query(
        `INSERT INTO medical_programs(id, name, funding_source, medical_program_settings, medical_program_settings_text, inserted_at, updated_at)
         VALUES ($1, $2, 'NHS', $3, 'Some text', '2017-04-20T19:14:13Z', '2017-04-20T19:14:13Z')`,
        [pid, name, JSON.stringify(settings)],
      );
    await program(R.programId, 'Доступні ліки', { care_plan_required: false, medication_request_notification_disabled: false });
    await program(R.programNoSmsId, 'Без SMS', { care_plan_required: false, medication_request_notification_disabled: true });
    await program(R.programNoSmsNewNameId, 'Без SMS (нова назва)', { request_notification_disabled: true });
    await program(R.programTemplateId, 'Своя SMS', { sign_template_sms: PROGRAM_TEMPLATE });
    await tx.query(
      `INSERT INTO medications(id, name, type, form, dosage, ingredients) VALUES ($1, 'Аміодарон 200мг таблетки', 'INNM_DOSAGE', 'PILL', NULL, $2)`,
      [
        R.medicationId,
        JSON.stringify([
          {
            id: '1349a693-4db1-4a3f-9ac6-8c2f9e541982',
            name: 'Аміодарон',
            name_original: 'Amiodarone',
            sctid: '52574003',
            dosage: { numerator_unit: 'MG', numerator_value: 200, denumerator_unit: 'PILL', denumerator_value: 1 },
            is_primary: true,
          },
        ]),
      ],
    );
  });
}

let counter = 1000;
/** A new MR (ACTIVE order of the OTP person in program R.programId, code 1234) with `overrides`. */
export async function addMr(server: TestServer, overrides: Record<string, unknown> = {}): Promise<{ id: string; request_number: string }> {
  const mrId = (overrides.id as string) ?? id(counter++);
  const db = server.runtime.platform.db;
  await db.transaction((tx) =>
    upsertMedicationRequest(tx, {
      id: mrId,
      legal_entity_id: R.legalEntityId,
      division_id: R.divisionId,
      employee_id: R.employeeId,
      person_id: R.personOtpId,
      medication_id: R.medicationId,
      medical_program_id: R.programId,
      verification_code: '1234',
      created_at: '2026-01-10',
      started_at: '2026-01-10',
      ended_at: '2026-02-08',
      medication_qty: 10.34,
      ...overrides,
    }),
  );
  const r = await db.query<{ request_number: string }>('SELECT request_number FROM medication_requests WHERE id = $1', [mrId]);
  return { id: mrId, request_number: r.rows[0].request_number };
}

export const resendPath = (mrId: string) => `/api/medication_requests/${mrId}/actions/resend`;
