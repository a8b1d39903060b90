/**
 * A medication request with everything its public view needs (read by read.ts), and rendering
 * `Medication_request_Public_Response_with_Medical_Program_min` (seed 003's example, field order kept).
 * `verification_code` is read for the checks and never rendered.
 */

type Json = Record<string, any>;

export interface LoadedMr {
  id: string;
  request_number: string;
  status: string;
  intent: string;
  category: string;
  priority: string | null;
  verification_code: string | null;
  created_at: string;
  started_at: string;
  ended_at: string;
  dispense_valid_from: string | null;
  dispense_valid_to: string | null;
  legal_entity_id: string;
  person_id: string;
  medication_id: string;
  medication_qty: number;
  medical_program_id: string | null;
  context: Json | null;
  based_on: Json[] | null;
  dosage_instruction: Json[] | null;
  rejected_at: string | null;
  rejected_by: string | null;
  reject_reason: string | null;
  reject_reason_code: string | null;
  is_blocked: boolean;
  block_reason: string | null;
  block_reason_code: string | null;
  prior_prescription: Json | null;
  container_dosage: Json | null;
  legal_entity: Json | null;
  division: Json | null;
  employee: Json | null;
  party: Json | null;
  person: { id: string; first_name: string; last_name: string; second_name: string | null; birth_date: string } | null;
  medication: { id: string; name: string; form: string; dosage: Json | null; ingredients: Json[] } | null;
  medical_program: Json | null;
}

/**
 * Legal entity types whose clients see every MR (ehealth.api 2019 `get_medication_request`): NHS,
 * and pharmacies. Every other client sees only MRs of its own legal entity; a client without a
 * legal entity sees none.
 */
export const SEE_ALL_LE_TYPES = ['NHS', 'PHARMACY', 'MSP_PHARMACY'];

/** Registry rows the MR points at but that do not exist (the 2019 service answered 500 for these). */
export function missingReferences(mr: LoadedMr): string[] {
  const missing: string[] = [];
  if (!mr.legal_entity) missing.push('legal_entity');
  if (!mr.division) missing.push('division');
  if (!mr.employee || !mr.party) missing.push('employee');
  if (!mr.person) missing.push('person');
  if (!mr.medication) missing.push('medication');
  if (mr.medical_program_id && !mr.medical_program) missing.push('medical_program');
  return missing;
}

/** Whole years between `birth` and `at` (both YYYY-MM-DD). */
export function ageAt(birth: string, at: string): number {
  const [by, bm, bd] = birth.split('-').map(Number);
  const [ay, am, ad] = at.split('-').map(Number);
  return ay - by - (am < bm || (am === bm && ad < bd) ? 1 : 0);
}

const initials = (name: string | null | undefined) =>
  (name ?? '')
    .split(/[\s-]+/)
    .filter(Boolean)
    .map((part) => `${part[0].toUpperCase()}.`)
    .join('-');

/** `last_name` + initials of first and second names: `Шевченко П. М.`, `Іваненко А.-М. П.`. */
export function shortName(p: { first_name: string; last_name: string; second_name: string | null }): string {
  return [p.last_name, initials(p.first_name), initials(p.second_name)].filter(Boolean).join(' ');
}

function primaryDosage(medication: NonNullable<LoadedMr['medication']>): Json | null {
  if (medication.dosage) return medication.dosage;
  const ingredients = Array.isArray(medication.ingredients) ? medication.ingredients : [];
  return (ingredients.find((i) => i?.is_primary) ?? ingredients[0])?.dosage ?? null;
}

/** The public view; null top-level values are left out (as the ESOZ renderer does). */
export function renderMedicationRequest(mr: LoadedMr): Json {
  const med = mr.medication!;
  const person = mr.person!;
  const view: Json = {
    id: mr.id,
    status: mr.status,
    request_number: mr.request_number,
    created_at: mr.created_at,
    started_at: mr.started_at,
    ended_at: mr.ended_at,
    dispense_valid_from: mr.dispense_valid_from,
    dispense_valid_to: mr.dispense_valid_to,
    legal_entity: mr.legal_entity,
    division: mr.division,
    employee: { ...mr.employee, party: mr.party },
    person: { id: person.id, short_name: shortName(person), age: ageAt(person.birth_date, mr.created_at) },
    medication_info: {
      medication_id: med.id,
      medication_name: med.name,
      form: med.form,
      dosage: primaryDosage(med),
      ingredients: Array.isArray(med.ingredients) ? med.ingredients : [],
      medication_qty: mr.medication_qty,
    },
    medical_program: mr.medical_program,
    intent: mr.intent,
    category: mr.category,
    based_on: mr.based_on,
    context: mr.context,
    dosage_instruction: mr.dosage_instruction,
    rejected_at: mr.rejected_at,
    rejected_by: mr.rejected_by,
    reject_reason: mr.reject_reason,
    reject_reason_code: mr.reject_reason_code,
    is_blocked: mr.is_blocked,
    block_reason: mr.block_reason,
    block_reason_code: mr.block_reason_code,
    priority: mr.priority,
    prior_prescription: mr.prior_prescription,
    container_dosage: mr.container_dosage,
  };
  for (const k of Object.keys(view)) if (view[k] === null || view[k] === undefined) delete view[k];
  return view;
}
