/**
 * Synchronous checks of createComposition, run before a job is accepted: dictionaries, reference
 * types and the existence of what the references point to. Every problem is collected, so the
 * 422 lists all of them at once. Business rules that ESOZ reports as numbered task errors
 * (1081, 1085, 1127, 1182, …) run in the worker (rules.ts).
 */
import type { Db } from '../platform/db.ts';
import type { AuthContext } from '../platform/auth.ts';
import { invalidField, validationFailed, type InvalidEntry } from '../platform/errors.ts';
import { allowedCodes, isAllowedCode } from './dictionaries.ts';
import { EXTENSIONS, RESOURCES_SYSTEM } from './model.ts';
import type { CreateCompositionBody, ReferenceT } from './schemas.ts';

async function checkCoding(db: Db, invalid: InvalidEntry[], path: string, concept: { coding: { system: string; code: string }[] }, dictionary: string) {
  const c = concept.coding[0];
  if (c.system !== dictionary) {
    invalid.push(invalidField(`${path}.coding[0].system`, `value is not allowed in enum`, 'inclusion', [dictionary]));
    return;
  }
  if (!(await isAllowedCode(db, dictionary, c.code))) {
    invalid.push(invalidField(`${path}.coding[0].code`, `value is not allowed in enum`, 'inclusion', await allowedCodes(db, dictionary)));
  }
}

function checkRefType(invalid: InvalidEntry[], path: string, ref: ReferenceT, allowed: string[]): string | null {
  const c = ref.type.coding[0];
  if (c.system !== RESOURCES_SYSTEM) {
    invalid.push(invalidField(`${path}.type.coding[0].system`, 'value is not allowed in enum', 'inclusion', [RESOURCES_SYSTEM]));
    return null;
  }
  if (!allowed.includes(c.code)) {
    invalid.push(invalidField(`${path}.type.coding[0].code`, 'value is not allowed in enum', 'inclusion', allowed));
    return null;
  }
  return c.code;
}

async function subjectExists(db: Db, kind: string, id: string): Promise<string | null> {
  if (kind === 'person') {
    const r = await db.query<{ is_active: boolean; status: string }>('SELECT is_active, status FROM persons WHERE id = $1', [id]);
    if (!r.rows[0]) return 'Person not found';
    if (!r.rows[0].is_active || r.rows[0].status.toLowerCase() !== 'active') return 'Person is not active';
    return null;
  }
  const r = await db.query<{ is_active: boolean; status: string }>('SELECT is_active, status FROM prepersons WHERE id = $1', [id]);
  if (!r.rows[0]) return 'Preperson not found';
  if (!r.rows[0].is_active || r.rows[0].status.toUpperCase() !== 'ACTIVE') return 'Preperson is not active';
  return null;
}

export interface CreateContext {
  subjectType: 'person' | 'preperson';
  focusType: 'person' | 'preperson';
  episodeId: string | null;
}

export async function validateCreate(db: Db, auth: AuthContext, body: CreateCompositionBody): Promise<CreateContext> {
  const invalid: InvalidEntry[] = [];
  await checkCoding(db, invalid, '$.type', body.type, 'COMPOSITION_TYPES');
  await checkCoding(db, invalid, '$.category', body.category, 'COMPOSITION_CATEGORIES');
  for (const [i, ev] of body.event.entries()) {
    await checkCoding(db, invalid, `$.event[${i}].code`, ev.code, 'COMPOSITION_EVENTS');
    if (ev.period.end && Date.parse(ev.period.end) < Date.parse(ev.period.start)) {
      invalid.push(invalidField(`$.event[${i}].period.end`, 'must be greater than or equal to period.start'));
    }
    if (body.type.coding[0].code === 'TEMP_DISABILITY' && ev.code.coding[0].code === 'COMPOSITION_VALIDITY_PERIOD' && !ev.period.end) {
      invalid.push(invalidField(`$.event[${i}].period.end`, 'required property end was not present', 'required'));
    }
  }
  if (body.type.coding[0].code === 'TEMP_DISABILITY' && !body.event.some((e) => e.code.coding[0].code === 'COMPOSITION_VALIDITY_PERIOD')) {
    invalid.push(invalidField('$.event', 'a COMPOSITION_VALIDITY_PERIOD event is required for TEMP_DISABILITY'));
  }

  const subjectType = checkRefType(invalid, '$.subject', body.subject, ['person', 'preperson']);
  const focusType = checkRefType(invalid, '$.section.focus', body.section.focus, ['person', 'preperson']);
  const encType = checkRefType(invalid, '$.encounter', body.encounter, ['encounter']);
  const authorType = checkRefType(invalid, '$.author', body.author, ['employee']);
  const relType = body.relatesTo ? checkRefType(invalid, '$.relatesTo.targetIdentifier', body.relatesTo.targetIdentifier, ['composition']) : null;

  if (subjectType) {
    const problem = await subjectExists(db, subjectType, body.subject.value);
    if (problem) invalid.push(invalidField('$.subject.value', problem));
  }
  if (focusType) {
    const problem = await subjectExists(db, focusType, body.section.focus.value);
    if (problem) invalid.push(invalidField('$.section.focus.value', problem));
  }
  let episodeId: string | null = null;
  if (encType) {
    const r = await db.query<{ person_id: string; episode_id: string | null }>('SELECT person_id, episode_id FROM encounters WHERE id = $1', [body.encounter.value]);
    const enc = r.rows[0];
    if (!enc) invalid.push(invalidField('$.encounter.value', 'Encounter not found'));
    else {
      episodeId = enc.episode_id;
      if (subjectType === 'person' && enc.person_id !== body.subject.value) {
        invalid.push(invalidField('$.encounter.value', "Encounter doesn't belong to the subject"));
      }
    }
  }
  if (authorType) {
    const r = await db.query<{ legal_entity_id: string; is_active: boolean; status: string }>(
      'SELECT legal_entity_id, is_active, status FROM employees WHERE id = $1',
      [body.author.value],
    );
    const emp = r.rows[0];
    if (!emp) invalid.push(invalidField('$.author.value', 'Employee not found'));
    else if (!auth.legalEntityId || emp.legal_entity_id !== auth.legalEntityId) {
      invalid.push(invalidField('$.author.value', `Employee ${body.author.value} doesn't belong to your legal entity`));
    } else if (!emp.is_active || emp.status !== 'APPROVED') {
      invalid.push(invalidField('$.author.value', 'Employee is not active'));
    }
  }
  if (relType && body.relatesTo) {
    const r = await db.query('SELECT 1 FROM compositions WHERE id = $1', [body.relatesTo.targetIdentifier.value]);
    if (r.rowCount === 0) invalid.push(invalidField('$.relatesTo.targetIdentifier.value', 'Composition not found'));
  }

  const seen = new Set<string>();
  for (const [i, ext] of (body.extension ?? []).entries()) {
    const kind = EXTENSIONS[ext.valueCode];
    if (!kind) {
      invalid.push(invalidField(`$.extension[${i}].valueCode`, 'value is not allowed in enum', 'inclusion', Object.keys(EXTENSIONS)));
      continue;
    }
    if (seen.has(ext.valueCode)) invalid.push(invalidField(`$.extension[${i}].valueCode`, `extension ${ext.valueCode} is given more than once`));
    seen.add(ext.valueCode);
    const present = (['valueUuid', 'valueBoolean', 'valueString', 'valueDate'] as const).filter((k) => ext[k] !== undefined);
    if (present.length !== 1 || present[0] !== kind) {
      invalid.push(invalidField(`$.extension[${i}]`, `extension ${ext.valueCode} must carry exactly ${kind}`, 'required', [kind]));
      continue;
    }
    if (ext.valueCode === 'INFORM_WITH') {
      const people = [body.subject.value, body.section.focus.value];
      const r = await db.query(
        'SELECT 1 FROM person_authentication_methods WHERE id = $1 AND person_id = ANY($2::uuid[]) AND is_active',
        [ext.valueUuid, people],
      );
      if (r.rowCount === 0) invalid.push(invalidField(`$.extension[${i}].valueUuid`, 'Authentication method not found for the patient'));
    }
  }

  if (invalid.length) throw validationFailed(invalid);
  return { subjectType: subjectType as 'person' | 'preperson', focusType: focusType as 'person' | 'preperson', episodeId };
}
