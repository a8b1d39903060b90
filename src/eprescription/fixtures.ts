/**
 * Fixture kind `medication_requests` of POST /admin/fixtures (and of the demo data): a table of the
 * one fixture engine (src/platform/fixtures.ts). Upsert by `id`: a new MR gets defaults for what the
 * item leaves out (request_number generated in the ESOZ form, a 4-digit verification code, today's
 * dates, an encounter context…); an existing MR only changes the fields the item carries. Registry
 * references must exist (422 otherwise).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { Db } from '../platform/db.ts';
import type { FixtureKind } from '../platform/platform.ts';
import {
  Bool,
  DateStr,
  FreeArray,
  FreeObject,
  Str,
  Uuid,
  itemSchema,
  tableFixtureKind,
  upsertRow,
  type Json,
  type TableSpec,
} from '../platform/fixtures.ts';
import { generateRequestNumber, REQUEST_NUMBER_RE } from './request-number.ts';

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

// a new MR's dates follow from what the item gives: created → started → ended, dispense window from created
const createdOf = (item: Json) => (item.created_at as string | undefined) ?? today();
const startedOf = (item: Json) => (item.started_at as string | undefined) ?? createdOf(item);
const isOrder = (item: Json) => ((item.intent as string | undefined) ?? 'order') === 'order';

const medicationRequests: TableSpec = {
  kind: 'medication_requests',
  table: 'medication_requests',
  // no audit fields in the item; an update that changes something sets updated_at
  audit: ['updated_at'],
  acceptsAudit: false,
  touchWhenUnchanged: false,
  columns: {
    request_number: {
      schema: Type.String({ pattern: REQUEST_NUMBER_RE.source }),
      required: true,
      default: (_item, tx, id) => generateRequestNumber(tx, id),
    },
    status: {
      schema: Type.Union(['ACTIVE', 'COMPLETED', 'REJECTED', 'EXPIRED'].map((s) => Type.Literal(s))),
      required: true,
      default: () => 'ACTIVE',
    },
    intent: { schema: Type.Union([Type.Literal('order'), Type.Literal('plan')]), required: true, default: () => 'order' },
    category: { schema: Str, required: true, default: () => 'community' },
    priority: { schema: Str, default: () => 'routine' },
    verification_code: { schema: Str, default: () => verificationCode() },
    created_at: { schema: DateStr, required: true, default: createdOf },
    started_at: { schema: DateStr, required: true, default: startedOf },
    ended_at: { schema: DateStr, required: true, default: (i) => addDays(startedOf(i), 29) },
    dispense_valid_from: { schema: DateStr, default: (i) => (isOrder(i) ? createdOf(i) : null) },
    dispense_valid_to: { schema: DateStr, default: (i) => (isOrder(i) ? addDays(createdOf(i), 30) : null) },
    legal_entity_id: { schema: Uuid, required: true, ref: { tables: ['legal_entities'], label: 'Legal entity' } },
    division_id: { schema: Uuid, required: true, ref: { tables: ['divisions'], label: 'Division' } },
    employee_id: { schema: Uuid, required: true, ref: { tables: ['employees'], label: 'Employee' } },
    person_id: { schema: Uuid, required: true, ref: { tables: ['persons'], label: 'Person' } },
    medication_id: { schema: Uuid, required: true, ref: { tables: ['medications'], label: 'Medication' } },
    medication_qty: { schema: Type.Number({ exclusiveMinimum: 0 }), required: true, default: () => 30 },
    medical_program_id: { schema: Uuid, ref: { tables: ['medical_programs'], label: 'Medical program' } },
    context: { schema: FreeObject, json: true, default: () => encounterContext(randomUUID()) },
    based_on: { schema: FreeArray, json: true },
    dosage_instruction: { schema: FreeArray, json: true, default: () => defaultDosageInstruction() },
    rejected_at: { schema: DateStr },
    rejected_by: { schema: Uuid },
    reject_reason: { schema: Str },
    reject_reason_code: { schema: Str },
    is_blocked: { schema: Bool, required: true, default: () => false },
    block_reason: { schema: Str },
    block_reason_code: { schema: Str },
    prior_prescription: { schema: FreeObject, json: true },
    container_dosage: { schema: FreeObject, json: true },
  },
};

export const medicationRequestFixtureSchema = itemSchema(medicationRequests);

export function upsertMedicationRequest(tx: Db, item: Json): Promise<string> {
  return upsertRow(tx, medicationRequests, item);
}

export const medicationRequestsFixtureKind: FixtureKind = tableFixtureKind(medicationRequests);
