/**
 * Demo data of the sandbox. Fixed ids so the README's curl lines work on every fresh start.
 * Registry rows are loaded here; capabilities add their own rows through `Capability.demo`.
 */
import type { Platform } from '../platform/platform.ts';
import { applyFixtures, type FixturesBody } from './fixtures.ts';

const id = (n: number) => `6f1d0c2a-0000-4000-8000-${String(n).padStart(12, '0')}`;

export const DEMO = {
  clientId: id(1),
  userId: id(2),
  // PRM
  legalEntityId: id(10),
  otherLegalEntityId: id(11),
  divisionId: id(15),
  doctorPartyId: id(19),
  doctorEmployeeId: id(20),
  doctorTaxId: '3126509816',
  otherEmployeeId: id(21),
  // MPI
  personOtpId: id(30), // OTP +380501112233
  personThirdPersonId: id(31), // THIRD_PERSON → confidant below
  confidantPersonId: id(32), // OTP +380503334455
  personOfflineId: id(33), // OFFLINE only
  prepersonId: id(35),
  // authentication methods (the ids a composition's INFORM_WITH names)
  authOtpId: id(60), // personOtpId's OTP
  authConfidantOtpId: id(61), // confidantPersonId's OTP
  authThirdPersonId: id(62), // personThirdPersonId's THIRD_PERSON → confidant
  authOfflineId: id(63), // personOfflineId's OFFLINE
  // programs and medications
  programId: id(40), // "Доступні ліки", notifications allowed
  programNoSmsId: id(41), // medication_request_notification_disabled = true
  medicationId: id(45),
  // medical events
  episodeId: id(50),
  encounterId: id(55),
  encounterOfflineId: id(56),
  // ePrescription (rows added by the eprescription capability)
  mrOtpId: id(100),
  mrThirdPersonId: id(101),
  mrOfflineId: id(102),
  mrPlanId: id(103),
  mrRejectedId: id(104),
  mrNoSmsProgramId: id(105),
  mrNoCodeId: id(106),
};

/** Registry rows of the demo, in the POST /admin/fixtures shape (the same upsert code path). */
export function demoRegistryFixtures(): FixturesBody {
  const now = new Date();
  const daysAgo = (n: number) => new Date(now.getTime() - n * 86400_000).toISOString();
  const workingHours = {
    mon: [
      ['08.00', '12.00'],
      ['14.00', '18.00'],
    ],
    tue: [
      ['08.00', '12.00'],
      ['14.00', '18.00'],
    ],
    wed: [
      ['08.00', '12.00'],
      ['14.00', '18.00'],
    ],
    thu: [
      ['08.00', '12.00'],
      ['14.00', '18.00'],
    ],
    fri: [['08.00', '12.00']],
  };
  const dosage = { numerator_unit: 'MG', numerator_value: 200, denumerator_unit: 'PILL', denumerator_value: 1 };
  return {
    legal_entities: [
      {
        id: DEMO.legalEntityId,
        name: 'Клініка Ноунейм',
        short_name: 'Ноунейм',
        public_name: 'Клініка Ноунейм',
        type: 'MSP',
        edrpou: '5432345432',
        status: 'ACTIVE',
      },
      {
        id: DEMO.otherLegalEntityId,
        name: 'Медичний центр Інший',
        short_name: 'Інший',
        public_name: 'Медичний центр Інший',
        type: 'MSP',
        edrpou: '38782323',
        status: 'ACTIVE',
      },
    ],
    divisions: [
      {
        id: DEMO.divisionId,
        legal_entity_id: DEMO.legalEntityId,
        name: 'Бориспільське відділення Клініки Ноунейм',
        type: 'CLINIC',
        addresses: [
          {
            type: 'RESIDENCE',
            country: 'UA',
            area: 'Київська',
            region: 'Бориспільський',
            settlement: 'Бориспіль',
            settlement_type: 'CITY',
            settlement_id: 'b075f148-7f93-4fc2-b2ec-2d81b19a9b7b',
            street_type: 'STREET',
            street: 'вул. Київський Шлях',
            building: '15',
            apartment: '23',
            zip: '08300',
          },
        ],
        phones: [{ type: 'MOBILE', number: '+380503410870' }],
        email: 'boryspil@nouneim.example.com',
        working_hours: workingHours,
        external_id: '3213213',
        location: { latitude: 50.345, longitude: 30.9547 },
        dls_id: '2872985',
        dls_verified: true,
      },
    ],
    persons: [
      {
        id: DEMO.personOtpId,
        first_name: 'Петро',
        last_name: 'Іванов',
        second_name: 'Миколайович',
        birth_date: '1990-03-15',
        gender: 'MALE',
        tax_id: '3300012345',
        phones: [{ type: 'MOBILE', number: '+380501112233' }],
        authentication_methods: [{ id: DEMO.authOtpId, type: 'OTP', phone_number: '+380501112233' }],
      },
      {
        id: DEMO.confidantPersonId,
        first_name: 'Олена',
        last_name: 'Коваленко',
        second_name: 'Петрівна',
        birth_date: '1986-07-02',
        gender: 'FEMALE',
        tax_id: '3158712340',
        phones: [{ type: 'MOBILE', number: '+380503334455' }],
        authentication_methods: [{ id: DEMO.authConfidantOtpId, type: 'OTP', phone_number: '+380503334455' }],
      },
      {
        // a child: the only way to reach the family is the confidant (mother)
        id: DEMO.personThirdPersonId,
        first_name: 'Марія',
        last_name: 'Коваленко',
        second_name: 'Андріївна',
        birth_date: '2019-11-20',
        gender: 'FEMALE',
        no_tax_id: true,
        tax_id: null,
        authentication_methods: [{ id: DEMO.authThirdPersonId, type: 'THIRD_PERSON', value: DEMO.confidantPersonId, alias: 'mother' }],
      },
      {
        id: DEMO.personOfflineId,
        first_name: 'Іван',
        last_name: 'Шевченко',
        second_name: 'Тарасович',
        birth_date: '1958-01-09',
        gender: 'MALE',
        tax_id: '2118004567',
        authentication_methods: [{ id: DEMO.authOfflineId, type: 'OFFLINE' }],
      },
    ],
    prepersons: [{ id: DEMO.prepersonId, first_name: 'Невідомий', last_name: 'Пацієнт', gender: 'MALE', external_id: 'NOUNEIM-PRE-0001' }],
    employees: [
      {
        id: DEMO.doctorEmployeeId,
        legal_entity_id: DEMO.legalEntityId,
        division_id: DEMO.divisionId,
        position: 'P6',
        employee_type: 'DOCTOR',
        status: 'APPROVED',
        start_date: '2017-08-01',
        party: {
          id: DEMO.doctorPartyId,
          first_name: 'Петро',
          last_name: 'Іванов',
          second_name: 'Миколайович',
          tax_id: DEMO.doctorTaxId,
          no_tax_id: false,
          birth_date: '1985-08-26',
          gender: 'MALE',
          email: 'doctor@nouneim.example.com',
          phones: [{ type: 'MOBILE', number: '+380503410870' }],
        },
      },
      {
        id: DEMO.otherEmployeeId,
        legal_entity_id: DEMO.otherLegalEntityId,
        position: 'P6',
        employee_type: 'DOCTOR',
        status: 'APPROVED',
        start_date: '2019-02-01',
        party: { first_name: 'Оксана', last_name: 'Бондаренко', second_name: 'Іванівна', tax_id: '2987654321', gender: 'FEMALE' },
      },
    ],
    medical_programs: [
      {
        id: DEMO.programId,
        name: 'Доступні ліки',
        type: 'MEDICATION',
        funding_source: 'NHS',
        mr_blank_type: 'F-1',
        medical_program_settings: {
          care_plan_required: false,
          employee_types_to_create_medication_request: ['DOCTOR', 'SPECIALIST'],
          medication_request_max_period_day: 90,
          medication_request_notification_disabled: false,
        },
      },
      {
        id: DEMO.programNoSmsId,
        name: 'Програма без SMS-сповіщень',
        type: 'MEDICATION',
        funding_source: 'NHS',
        mr_blank_type: 'F-1',
        medical_program_settings: { medication_request_notification_disabled: true },
        medical_program_settings_text: 'SMS-сповіщення про рецепти вимкнено',
      },
    ],
    medications: [
      {
        id: DEMO.medicationId,
        name: 'Аміодарон 200мг таблетки',
        type: 'BRAND',
        form: 'PILL',
        dosage,
        ingredients: [
          {
            id: '1349a693-4db1-4a3f-9ac6-8c2f9e541982',
            name: 'Аміодарон',
            name_original: 'Amiodarone',
            sctid: '372821002',
            dosage,
            is_primary: true,
          },
        ],
        container: { numerator_unit: 'PILL', numerator_value: 1, denumerator_unit: 'PILL', denumerator_value: 1 },
      },
    ],
    episodes: [
      {
        id: DEMO.episodeId,
        person_id: DEMO.personOtpId,
        legal_entity_id: DEMO.legalEntityId,
        name: 'Порушення серцевого ритму',
        period_start: daysAgo(30),
      },
    ],
    encounters: [
      {
        id: DEMO.encounterId,
        person_id: DEMO.personOtpId,
        episode_id: DEMO.episodeId,
        legal_entity_id: DEMO.legalEntityId,
        division_id: DEMO.divisionId,
        employee_id: DEMO.doctorEmployeeId,
        period_start: daysAgo(1),
        period_end: daysAgo(1),
      },
      {
        id: DEMO.encounterOfflineId,
        person_id: DEMO.personOfflineId,
        legal_entity_id: DEMO.legalEntityId,
        division_id: DEMO.divisionId,
        employee_id: DEMO.doctorEmployeeId,
        period_start: daysAgo(2),
        period_end: daysAgo(2),
      },
    ],
  };
}

export async function loadDemoData(platform: Platform): Promise<void> {
  await applyFixtures(platform, demoRegistryFixtures());
}
