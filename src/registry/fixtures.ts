/**
 * Registry fixture kinds of POST /admin/fixtures (and of the sandbox demo data — one code path):
 * PRM (legal entities, divisions, employees with parties), MPI (persons with authentication methods,
 * prepersons), medical programs, medications, episodes and encounters — tables of the one fixture
 * engine (src/platform/fixtures.ts).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { Db } from '../platform/db.ts';
import type { FixtureKind } from '../platform/platform.ts';
import { EsozError, invalidField } from '../platform/errors.ts';
import {
  AUDIT,
  AUDIT_AT,
  Bool,
  DateStr,
  DateTime,
  FreeArray,
  FreeObject,
  Str,
  Uuid,
  itemSchema,
  nullable,
  requiredField,
  tableFixtureKind,
  upsertRow,
  type Json,
  type TableSpec,
} from '../platform/fixtures.ts';
import { EmergencyContact } from './preperson-schemas.ts';

// ---------------------------------------------------------------- schema helpers

const Phone = Type.Object({ type: Type.String(), number: Type.String({ pattern: '^\\+38[0-9]{10}$' }) }, { additionalProperties: false });
const Phones = Type.Array(Phone);

// ---------------------------------------------------------------- generated defaults

const FIRST_NAMES_M = ['Петро', 'Іван', 'Олександр', 'Андрій', 'Микола', 'Тарас'];
const FIRST_NAMES_F = ['Олена', 'Марія', 'Наталія', 'Оксана', 'Ірина', 'Галина'];
const LAST_NAMES = ['Шевченко', 'Коваленко', 'Бондаренко', 'Ткаченко', 'Кравченко', 'Іваненко'];
const SECOND_M = ['Петрович', 'Іванович', 'Миколайович'];
const SECOND_F = ['Петрівна', 'Іванівна', 'Миколаївна'];
const pick = <T>(xs: T[]) => xs[randomInt(xs.length)];
const digits = (n: number) => Array.from({ length: n }, () => randomInt(10)).join('');
const mobile = () => `+38050${digits(7)}`;
const adultBirthDate = () =>
  `${1950 + randomInt(50)}-${String(1 + randomInt(12)).padStart(2, '0')}-${String(1 + randomInt(28)).padStart(2, '0')}`;

function personName(gender: string | undefined) {
  const female = gender === 'FEMALE';
  return {
    first_name: pick(female ? FIRST_NAMES_F : FIRST_NAMES_M),
    last_name: pick(LAST_NAMES),
    second_name: pick(female ? SECOND_F : SECOND_M),
  };
}

export const DEFAULT_DIVISION_ADDRESS = {
  type: 'RESIDENCE',
  country: 'UA',
  area: 'М.КИЇВ',
  region: null,
  settlement: 'Київ',
  settlement_type: 'CITY',
  settlement_id: 'adaa4abf-f530-461c-bcbf-a0ac210d955b',
  street_type: 'STREET',
  street: 'вул. Ніжинська',
  building: '15',
  apartment: '23',
  zip: '02090',
};
export const DEFAULT_WORKING_HOURS = {
  mon: [['08.00', '18.00']],
  tue: [['08.00', '18.00']],
  wed: [['08.00', '18.00']],
  thu: [['08.00', '18.00']],
  fri: [['08.00', '18.00']],
};

// ---------------------------------------------------------------- kinds

const legalEntities: TableSpec = {
  kind: 'legal_entities',
  table: 'legal_entities',
  audit: AUDIT_AT,
  columns: {
    name: { schema: Str, required: true, default: () => `Медичний заклад №${randomInt(1, 1000)}` },
    short_name: { schema: Str, default: (i) => (typeof i.name === 'string' ? i.name : null) },
    public_name: { schema: Str, default: (i) => (typeof i.name === 'string' ? i.name : null) },
    type: { schema: Str, required: true, default: () => 'MSP' },
    edrpou: { schema: Type.String({ pattern: '^[0-9]{8,10}$' }), required: true, default: () => digits(8) },
    status: { schema: Str, required: true, default: () => 'ACTIVE' },
    is_active: { schema: Bool, required: true, default: () => true },
  },
};

const divisions: TableSpec = {
  kind: 'divisions',
  table: 'divisions',
  audit: AUDIT_AT,
  columns: {
    legal_entity_id: { schema: Uuid, required: true, ref: { tables: ['legal_entities'], label: 'Legal entity' } },
    name: { schema: Str, required: true, default: () => `Відділення №${randomInt(1, 100)}` },
    type: { schema: Str, required: true, default: () => 'CLINIC' },
    addresses: { schema: FreeArray, json: true, required: true, default: () => [DEFAULT_DIVISION_ADDRESS] },
    phones: { schema: Phones, json: true, required: true, default: () => [{ type: 'MOBILE', number: mobile() }] },
    email: { schema: Str, default: () => `division${digits(4)}@example.com` },
    working_hours: { schema: FreeObject, json: true, default: () => DEFAULT_WORKING_HOURS },
    external_id: { schema: Str },
    location: { schema: FreeObject, json: true },
    dls_id: { schema: Str },
    dls_verified: { schema: Bool },
    status: { schema: Str, required: true, default: () => 'ACTIVE' },
    is_active: { schema: Bool, required: true, default: () => true },
  },
};

const parties: TableSpec = {
  kind: 'parties',
  table: 'parties',
  audit: AUDIT_AT,
  columns: {
    first_name: { schema: Str, required: true, default: (i) => personName(i.gender as string).first_name },
    last_name: { schema: Str, required: true, default: () => pick(LAST_NAMES) },
    second_name: { schema: Str, default: (i) => personName(i.gender as string).second_name },
    tax_id: { schema: Str, default: (i) => (i.no_tax_id ? null : digits(10)) },
    no_tax_id: { schema: Bool, required: true, default: () => false },
    birth_date: { schema: DateStr, default: () => adultBirthDate() },
    gender: { schema: Str, default: () => 'MALE' },
    email: { schema: Str, default: () => `doctor${digits(4)}@example.com` },
    phones: { schema: Phones, json: true, required: true, default: () => [{ type: 'MOBILE', number: mobile() }] },
  },
};

const employees: TableSpec = {
  kind: 'employees',
  table: 'employees',
  audit: AUDIT_AT,
  columns: {
    legal_entity_id: { schema: Uuid, required: true, ref: { tables: ['legal_entities'], label: 'Legal entity' } },
    division_id: { schema: Uuid, ref: { tables: ['divisions'], label: 'Division' } },
    party_id: { schema: Uuid, required: true, ref: { tables: ['parties'], label: 'Party' } },
    position: { schema: Str, required: true, default: () => 'P6' },
    employee_type: { schema: Str, required: true, default: () => 'DOCTOR' },
    speciality: { schema: Str },
    status: { schema: Str, required: true, default: () => 'APPROVED' },
    is_active: { schema: Bool, required: true, default: () => true },
    start_date: { schema: DateStr, default: () => '2017-08-01' },
    end_date: { schema: DateStr },
  },
  extra: { party: itemSchema(parties) },
  // A nested party is upserted first (its id: party.id, else party_id, else the employee's current
  // party, else a new one); a new employee without party nor party_id gets a generated party.
  async before(tx, item, row, existing, problems) {
    const party = item.party as Json | undefined;
    if (party) {
      if (party.id && item.party_id && party.id !== item.party_id) {
        problems.push(invalidField('$.party.id', 'party.id must equal party_id'));
        return;
      }
      const partyId = (party.id ?? item.party_id ?? existing?.party_id ?? randomUUID()) as string;
      try {
        row.party_id = await upsertRow(tx, parties, { ...party, id: partyId });
      } catch (err) {
        if (!(err instanceof EsozError) || !err.invalid) throw err;
        problems.push(...err.invalid.map((e) => ({ ...e, entry: e.entry.replace(/^\$/, '$.party') })));
      }
    } else if (!existing && !item.party_id) {
      row.party_id = await upsertRow(tx, parties, { id: randomUUID() });
    }
  },
};

/**
 * One of `persons[].authentication_methods[]`: its own `id` (what a composition's INFORM_WITH names;
 * generated when left out) and the fields MPI shows for it. `started_at`, `inserted_by`, `updated_by`
 * are kept; `person_id` must be the person's; `inserted_at`/`updated_at` are accepted and ignored,
 * as the array order is what makes a method "first added".
 */
const AuthMethod = Type.Object(
  {
    id: Type.Optional(Uuid),
    type: Type.Union([Type.Literal('OTP'), Type.Literal('OFFLINE'), Type.Literal('THIRD_PERSON'), Type.Literal('NA')]),
    phone_number: Type.Optional(Type.String({ pattern: '^\\+38[0-9]{10}$' })),
    value: Type.Optional(Uuid),
    alias: Type.Optional(nullable(Str)),
    is_active: Type.Optional(Bool),
    ended_at: Type.Optional(nullable(DateTime)),
    started_at: Type.Optional(nullable(DateTime)),
    person_id: Type.Optional(Uuid),
    ...Object.fromEntries(Object.entries(AUDIT).map(([k, v]) => [k, Type.Optional(v)])),
  },
  { additionalProperties: false },
);

const persons: TableSpec = {
  kind: 'persons',
  table: 'persons',
  audit: AUDIT_AT,
  columns: {
    first_name: { schema: Str, required: true, default: (i) => personName(i.gender as string).first_name },
    last_name: { schema: Str, required: true, default: () => pick(LAST_NAMES) },
    second_name: { schema: Str, default: (i) => personName(i.gender as string).second_name },
    birth_date: { schema: DateStr, required: true, default: () => adultBirthDate() },
    gender: { schema: Type.Union([Type.Literal('MALE'), Type.Literal('FEMALE')]), required: true, default: () => 'MALE' },
    tax_id: { schema: Str, default: (i) => (i.no_tax_id ? null : digits(10)) },
    no_tax_id: { schema: Bool, required: true, default: () => false },
    email: { schema: Str },
    phones: { schema: Phones, json: true, required: true, default: () => [] },
    unzr: { schema: Str },
    documents: {
      schema: Type.Array(Type.Object({ type: Str, number: Str }, { additionalProperties: true })),
      json: true,
      required: true,
      default: () => [],
    },
    status: { schema: Str, required: true, default: () => 'active' },
    is_active: { schema: Bool, required: true, default: () => true },
  },
  extra: { authentication_methods: Type.Array(AuthMethod) },
  async before(_tx, item, _row, _existing, problems) {
    const methods = (item.authentication_methods as Json[] | undefined) ?? [];
    const ids = new Set<string>();
    methods.forEach((m, i) => {
      const mid = typeof m.id === 'string' ? m.id.toLowerCase() : undefined;
      if (mid && ids.has(mid)) problems.push(invalidField(`$.authentication_methods[${i}].id`, 'id is given more than once'));
      if (mid) ids.add(mid);
      if (m.person_id && String(m.person_id).toLowerCase() !== String(item.id ?? '').toLowerCase()) {
        problems.push(invalidField(`$.authentication_methods[${i}].person_id`, 'person_id must equal the person id'));
      }
      if (m.type === 'OTP' && !m.phone_number) problems.push(requiredField(`authentication_methods[${i}].phone_number`));
      if (m.type === 'THIRD_PERSON' && !m.value) problems.push(requiredField(`authentication_methods[${i}].value`));
      if (m.type === 'THIRD_PERSON' && m.value === item.id && m.value) {
        problems.push(invalidField(`$.authentication_methods[${i}].value`, 'a person cannot be their own confidant'));
      }
    });
  },
  // The person's methods are replaced (when given) in array order: `inserted_at` grows with the
  // index, so "first added" is the first of the array. A new person without methods gets OFFLINE.
  async after(tx, item, id, existing, problems) {
    let methods = item.authentication_methods as Json[] | undefined;
    if (!methods && existing) return;
    methods ??= [{ type: 'OFFLINE' }];
    // a method id is global in MPI: one of another person's methods cannot be taken over
    const given = methods.map((m) => m.id as string | undefined).filter((x): x is string => !!x);
    if (given.length) {
      const taken = await tx.query<{ id: string }>(
        'SELECT id FROM person_authentication_methods WHERE id = ANY($1::uuid[]) AND person_id <> $2',
        [given, id],
      );
      const takenIds = new Set(taken.rows.map((r) => r.id.toLowerCase()));
      methods.forEach((m, i) => {
        if (m.id && takenIds.has(String(m.id).toLowerCase())) {
          problems.push(invalidField(`$.authentication_methods[${i}].id`, 'Authentication method id belongs to another person'));
        }
      });
      if (problems.length) return;
    }
    await tx.query('DELETE FROM person_authentication_methods WHERE person_id = $1', [id]);
    for (const [i, m] of methods.entries()) {
      await tx.query(
        `INSERT INTO person_authentication_methods
           (id, person_id, type, phone_number, value, alias, is_active, ended_at, started_at, inserted_by, updated_by, inserted_at, updated_at)
         VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                 now() + $12 * interval '1 millisecond', now() + $12 * interval '1 millisecond')`,
        [
          m.id ?? null,
          id,
          m.type,
          m.type === 'OTP' ? m.phone_number : null,
          m.type === 'THIRD_PERSON' ? m.value : null,
          m.alias ?? null,
          m.is_active ?? true,
          m.ended_at ?? null,
          m.started_at ?? null,
          m.inserted_by ?? null,
          m.updated_by ?? null,
          i,
        ],
      );
    }
  },
};

// A fixture preperson carries what the Prepersons API keeps (the Preperson_response fields), so a row
// copied from a response goes in as is; its status is one the API can show.
const prepersons: TableSpec = {
  kind: 'prepersons',
  table: 'prepersons',
  audit: ['inserted_at', 'inserted_by', 'updated_at', 'updated_by'],
  columns: {
    first_name: { schema: Str, default: (i) => personName(i.gender as string).first_name },
    last_name: { schema: Str, default: () => pick(LAST_NAMES) },
    second_name: { schema: Str },
    birth_date: { schema: DateStr },
    gender: { schema: Str, default: () => 'MALE' },
    external_id: { schema: Str },
    status: { schema: Type.Union([Type.Literal('ACTIVE'), Type.Literal('INACTIVE')]), required: true, default: () => 'ACTIVE' },
    is_active: { schema: Bool, required: true, default: () => true },
    death_date: { schema: DateStr },
    emergency_contact: { schema: EmergencyContact, json: true },
    note: { schema: Str },
  },
};

const medicalPrograms: TableSpec = {
  kind: 'medical_programs',
  table: 'medical_programs',
  audit: ['inserted_at', 'inserted_by', 'updated_at', 'updated_by'],
  columns: {
    name: { schema: Str, required: true, default: () => `Медична програма №${randomInt(1, 100)}` },
    type: { schema: Str, required: true, default: () => 'MEDICATION' },
    funding_source: { schema: Str, required: true, default: () => 'NHS' },
    is_active: { schema: Bool, required: true, default: () => true },
    medication_request_allowed: { schema: Bool, required: true, default: () => true },
    medication_request_allowed_text: { schema: Str },
    medication_dispense_allowed: { schema: Bool, required: true, default: () => true },
    medication_dispense_allowed_text: { schema: Str },
    medical_program_settings: { schema: FreeObject, json: true, required: true, default: () => ({}) },
    medical_program_settings_text: { schema: Str },
    mr_blank_type: { schema: Str, required: true, default: () => 'F-1' },
  },
};

const medications: TableSpec = {
  kind: 'medications',
  table: 'medications',
  audit: AUDIT_AT,
  columns: {
    name: { schema: Str, required: true, default: () => 'Парацетамол 500мг таблетки' },
    type: { schema: Str, required: true, default: () => 'BRAND' },
    form: { schema: Str, required: true, default: () => 'PILL' },
    dosage: {
      schema: FreeObject,
      json: true,
      default: () => ({ numerator_unit: 'MG', numerator_value: 500, denumerator_unit: 'PILL', denumerator_value: 1 }),
    },
    ingredients: { schema: FreeArray, json: true, required: true, default: () => [] },
    container: { schema: FreeObject, json: true },
    is_active: { schema: Bool, required: true, default: () => true },
  },
};

// Episodes and encounters may belong to a person or a preperson (eHealth/resources has both).
const subjectRef = { tables: ['persons', 'prepersons'], label: 'Person' };

const episodes: TableSpec = {
  kind: 'episodes',
  table: 'episodes',
  audit: ['inserted_at'],
  columns: {
    person_id: { schema: Uuid, required: true, ref: subjectRef },
    legal_entity_id: { schema: Uuid, ref: { tables: ['legal_entities'], label: 'Legal entity' } },
    name: { schema: Str, default: () => 'Епізод лікування' },
    status: { schema: Str, required: true, default: () => 'active' },
    period_start: { schema: DateTime, required: true, default: () => new Date().toISOString() },
    period_end: { schema: DateTime },
  },
};

const encounters: TableSpec = {
  kind: 'encounters',
  table: 'encounters',
  audit: ['inserted_at'],
  columns: {
    person_id: { schema: Uuid, required: true, ref: subjectRef },
    episode_id: { schema: Uuid, ref: { tables: ['episodes'], label: 'Episode' } },
    legal_entity_id: { schema: Uuid, ref: { tables: ['legal_entities'], label: 'Legal entity' } },
    division_id: { schema: Uuid, ref: { tables: ['divisions'], label: 'Division' } },
    employee_id: { schema: Uuid, ref: { tables: ['employees'], label: 'Employee' } },
    status: { schema: Str, required: true, default: () => 'finished' },
    period_start: { schema: DateTime, required: true, default: () => new Date().toISOString() },
    period_end: { schema: DateTime },
  },
};

/** Dependency-safe order: a kind only references kinds before it. */
const SPECS: TableSpec[] = [legalEntities, divisions, persons, prepersons, employees, medicalPrograms, medications, episodes, encounters];

export const registryFixtureKinds: FixtureKind[] = SPECS.map((spec) =>
  spec === persons
    ? {
        ...tableFixtureKind(spec),
        async finish(tx, ids) {
          const bad = await checkConfidants(tx, ids);
          return bad.map((b) =>
            invalidField(`$.persons[${ids.indexOf(b.personId)}].authentication_methods[${b.index}].value`, 'Confidant person not found'),
          );
        },
      }
    : tableFixtureKind(spec),
);

/** THIRD_PERSON methods of `personIds` whose confidant (value) is not a person. */
async function checkConfidants(tx: Db, personIds: string[]): Promise<{ personId: string; index: number }[]> {
  if (!personIds.length) return [];
  const r = await tx.query<{ person_id: string; idx: number }>(
    `SELECT m.person_id, (m.rn - 1)::int AS idx FROM (
       SELECT person_id, value, type, row_number() OVER (PARTITION BY person_id ORDER BY inserted_at, id) AS rn
         FROM person_authentication_methods WHERE person_id = ANY($1::uuid[])) m
      WHERE m.type = 'THIRD_PERSON' AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.id = m.value)`,
    [personIds],
  );
  return r.rows.map((x) => ({ personId: x.person_id, index: x.idx }));
}
