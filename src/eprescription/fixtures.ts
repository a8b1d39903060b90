/**
 * Fixture kind `medication_requests` of POST /admin/fixtures (and of the demo data).
 * Upsert by `id`: a new MR gets defaults for what the item leaves out (request_number generated in
 * the ESOZ form, a 4-digit verification code, today's dates, an encounter context…); an existing MR
 * only changes the fields the item carries. Registry references must exist (422 otherwise).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { Type, type TSchema } from 'typebox';
import type { Db } from '../platform/db.ts';
import type { FixtureKind } from '../platform/platform.ts';
import { invalidField, validationFailed, type InvalidEntry } from '../platform/errors.ts';
import { generateRequestNumber, REQUEST_NUMBER_RE } from './request-number.ts';

type Json = Record<string, any>;

const nullable = <T extends TSchema>(s: T): TSchema => {
  const { type, ...rest } = s as unknown as { type: string } & Json;
  return Type.Unsafe({ ...rest, type: [type, 'null'] });
};
const Uuid = Type.String({ format: 'uuid' });
const DateStr = Type.String({ format: 'date' });
const FreeObject = Type.Object({}, { additionalProperties: true });
const FreeArray = Type.Array(Type.Unknown());

const JSON_COLUMNS = new Set(['context', 'based_on', 'dosage_instruction', 'prior_prescription', 'container_dosage']);

const COLUMNS: Record<string, TSchema> = {
  request_number: Type.String({ pattern: REQUEST_NUMBER_RE.source }),
  status: Type.Union(['ACTIVE', 'COMPLETED', 'REJECTED', 'EXPIRED'].map((s) => Type.Literal(s))),
  intent: Type.Union([Type.Literal('order'), Type.Literal('plan')]),
  category: Type.String(),
  priority: nullable(Type.String()),
  verification_code: nullable(Type.String()),
  created_at: DateStr,
  started_at: DateStr,
  ended_at: DateStr,
  dispense_valid_from: nullable(DateStr),
  dispense_valid_to: nullable(DateStr),
  legal_entity_id: Uuid,
  division_id: Uuid,
  employee_id: Uuid,
  person_id: Uuid,
  medication_id: Uuid,
  medication_qty: Type.Number({ exclusiveMinimum: 0 }),
  medical_program_id: nullable(Uuid),
  context: nullable(FreeObject),
  based_on: nullable(FreeArray),
  dosage_instruction: nullable(FreeArray),
  rejected_at: nullable(DateStr),
  rejected_by: nullable(Uuid),
  reject_reason: nullable(Type.String()),
  reject_reason_code: nullable(Type.String()),
  is_blocked: Type.Boolean(),
  block_reason: nullable(Type.String()),
  block_reason_code: nullable(Type.String()),
  prior_prescription: nullable(FreeObject),
  container_dosage: nullable(FreeObject),
};

export const medicationRequestFixtureSchema = Type.Object(
  { id: Type.Optional(Uuid), ...Object.fromEntries(Object.entries(COLUMNS).map(([k, s]) => [k, Type.Optional(s)])) },
  { additionalProperties: false },
);

const REFS: [field: string, table: string, label: string][] = [
  ['legal_entity_id', 'legal_entities', 'Legal entity'],
  ['division_id', 'divisions', 'Division'],
  ['employee_id', 'employees', 'Employee'],
  ['person_id', 'persons', 'Person'],
  ['medication_id', 'medications', 'Medication'],
  ['medical_program_id', 'medical_programs', 'Medical program'],
];
const REQUIRED_NEW = ['legal_entity_id', 'division_id', 'employee_id', 'person_id', 'medication_id'];

const today = () => new Date().toISOString().slice(0, 10);
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86400_000).toISOString().slice(0, 10);
export const verificationCode = () => Array.from({ length: 4 }, () => randomInt(1, 10)).join('');

export const defaultDosageInstruction = () => [
  {
    sequence: 1,
    text: '1 таблетка 3 рази на день після їжі',
    patient_instruction: '1 таблетка 3 рази на день після їжі',
    as_needed_boolean: false,
    route: { coding: [{ system: 'eHealth/SNOMED/route_codes', code: '26643006' }] },
    dose_and_rate: {
      type: { coding: [{ system: 'eHealth/dose_and_rate', code: 'ordered' }] },
      dose_quantity: { value: 1, unit: 'pill', system: 'eHealth/ucum/units', code: 'pill' },
    },
    timing: { repeat: { frequency: 3, period: 1, period_unit: 'd' } },
  },
];
export const encounterContext = (encounterId: string) => ({
  identifier: { type: { coding: [{ system: 'eHealth/resources', code: 'encounter' }] }, value: encounterId },
});

function defaultsFor(item: Json): Json {
  const created = (item.created_at as string | undefined) ?? today();
  const started = (item.started_at as string | undefined) ?? created;
  const intent = (item.intent as string | undefined) ?? 'order';
  return {
    status: 'ACTIVE',
    intent,
    category: 'community',
    priority: 'routine',
    verification_code: verificationCode(),
    created_at: created,
    started_at: started,
    ended_at: addDays(started, 29),
    dispense_valid_from: intent === 'order' ? created : null,
    dispense_valid_to: intent === 'order' ? addDays(created, 30) : null,
    medication_qty: 30,
    context: encounterContext(randomUUID()),
    dosage_instruction: defaultDosageInstruction(),
    is_blocked: false,
  };
}

export async function upsertMedicationRequest(tx: Db, item: Json): Promise<string> {
  const id = (item.id as string | undefined) ?? randomUUID();
  const existing = item.id ? (await tx.query('SELECT id FROM medication_requests WHERE id = $1', [id])).rows[0] : undefined;
  const problems: InvalidEntry[] = [];
  for (const [field, table, label] of REFS) {
    const v = item[field];
    if (typeof v === 'string' && (await tx.query(`SELECT 1 FROM ${table} WHERE id = $1`, [v])).rowCount === 0) {
      problems.push(invalidField(`$.${field}`, `${label} not found`));
    }
    if (!existing && REQUIRED_NEW.includes(field) && (v === undefined || v === null)) {
      problems.push({
        entry: `$.${field}`,
        entry_type: 'json_data_property',
        rules: [{ rule: 'required', params: [], description: `required property ${field} was not present` }],
      });
    }
  }
  if (problems.length) throw validationFailed(problems);

  const values: Json = {};
  for (const k of Object.keys(COLUMNS)) if (item[k] !== undefined) values[k] = item[k];
  const provided = Object.keys(values);
  if (!existing) {
    const d = defaultsFor(item);
    for (const k of Object.keys(COLUMNS)) if (values[k] === undefined && k in d) values[k] = d[k];
    values.request_number ??= await generateRequestNumber(tx, id);
  }
  const encode = (c: string) => (JSON_COLUMNS.has(c) && values[c] !== null ? JSON.stringify(values[c]) : values[c]);
  if (existing) {
    // only the fields the item carries change (an INSERT … ON CONFLICT would need every NOT NULL column)
    if (provided.length) {
      await tx.query(
        `UPDATE medication_requests SET ${provided.map((c, i) => `${c} = $${i + 2}`).join(', ')}, updated_at = now() WHERE id = $1`,
        [id, ...provided.map(encode)],
      );
    }
    return id;
  }
  const cols = ['id', ...Object.keys(values)];
  await tx.query(`INSERT INTO medication_requests (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, [
    id,
    ...Object.keys(values).map(encode),
  ]);
  return id;
}

export const medicationRequestsFixtureKind: FixtureKind = {
  name: 'medication_requests',
  schema: medicationRequestFixtureSchema,
  upsert: (tx, item) => upsertMedicationRequest(tx, item),
};
