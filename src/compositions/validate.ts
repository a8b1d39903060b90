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
import { jsonFunctionBatcher } from '../platform/batch.ts';
import { UUID_RE } from '../platform/uuid.ts';

async function checkCoding(
  db: Db,
  invalid: InvalidEntry[],
  path: string,
  concept: { coding: { system: string; code: string }[] },
  dictionary: string,
) {
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

/** What a reference points to (esoz_composition_refs_many, src/compositions/sql/esoz_composition_refs_many.sql). */
interface RefFacts {
  subject: { is_active: boolean; status: string } | null;
  focus: { is_active: boolean; status: string } | null;
  encounter: { person_id: string; episode_id: string | null } | null;
  author: { legal_entity_id: string; is_active: boolean; status: string } | null;
  relates_to_exists: boolean;
}

interface RefItem {
  subject_type: string | null;
  subject_id: string | null;
  focus_type: string | null;
  focus_id: string | null;
  encounter_id: string | null;
  author_id: string | null;
  relates_to_id: string | null;
}

/** The schema's uuid format also admits `urn:uuid:…`, which PostgreSQL does not parse: such an id matches nothing. */
const asUuid = (v: string | undefined) => (v && UUID_RE.test(v) ? v.toLowerCase() : null);

/** The references of concurrent creates are read by one statement (src/platform/batch.ts). */
function readRefs(db: Db, item: RefItem): Promise<RefFacts> {
  return jsonFunctionBatcher<RefItem, RefFacts>(db, 'esoz_composition_refs_many').run(item);
}

function subjectProblem(kind: string, row: RefFacts['subject']): string | null {
  if (kind === 'person') {
    if (!row) return 'Person not found';
    if (!row.is_active || row.status.toLowerCase() !== 'active') return 'Person is not active';
    return null;
  }
  if (!row) return 'Preperson not found';
  if (!row.is_active || row.status.toUpperCase() !== 'ACTIVE') return 'Preperson is not active';
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
  const relType = body.relatesTo
    ? checkRefType(invalid, '$.relatesTo.targetIdentifier', body.relatesTo.targetIdentifier, ['composition'])
    : null;

  // every reference in one read (one statement shared with concurrent creates)
  const facts = await readRefs(db, {
    subject_type: subjectType,
    subject_id: subjectType ? asUuid(body.subject.value) : null,
    focus_type: focusType,
    focus_id: focusType ? asUuid(body.section.focus.value) : null,
    encounter_id: encType ? asUuid(body.encounter.value) : null,
    author_id: authorType ? asUuid(body.author.value) : null,
    relates_to_id: relType && body.relatesTo ? asUuid(body.relatesTo.targetIdentifier.value) : null,
  });
  if (subjectType) {
    const problem = subjectProblem(subjectType, facts.subject);
    if (problem) invalid.push(invalidField('$.subject.value', problem));
  }
  if (focusType) {
    const problem = subjectProblem(focusType, facts.focus);
    if (problem) invalid.push(invalidField('$.section.focus.value', problem));
  }
  let episodeId: string | null = null;
  if (encType) {
    const enc = facts.encounter;
    if (!enc) invalid.push(invalidField('$.encounter.value', 'Encounter not found'));
    else {
      episodeId = enc.episode_id;
      if (subjectType === 'person' && enc.person_id !== body.subject.value.toLowerCase()) {
        invalid.push(invalidField('$.encounter.value', "Encounter doesn't belong to the subject"));
      }
    }
  }
  if (authorType) {
    const emp = facts.author;
    if (!emp) invalid.push(invalidField('$.author.value', 'Employee not found'));
    else if (!auth.legalEntityId || emp.legal_entity_id !== auth.legalEntityId) {
      invalid.push(invalidField('$.author.value', `Employee ${body.author.value} doesn't belong to your legal entity`));
    } else if (!emp.is_active || emp.status !== 'APPROVED') {
      invalid.push(invalidField('$.author.value', 'Employee is not active'));
    }
  }
  if (relType && body.relatesTo && !facts.relates_to_exists) {
    invalid.push(invalidField('$.relatesTo.targetIdentifier.value', 'Composition not found'));
  }

  const seen = new Set<string>();
  for (const [i, ext] of (body.extension ?? []).entries()) {
    const kind = EXTENSIONS[ext.valueCode];
    if (!kind) {
      invalid.push(invalidField(`$.extension[${i}].valueCode`, 'value is not allowed in enum', 'inclusion', Object.keys(EXTENSIONS)));
      continue;
    }
    if (seen.has(ext.valueCode))
      invalid.push(invalidField(`$.extension[${i}].valueCode`, `extension ${ext.valueCode} is given more than once`));
    seen.add(ext.valueCode);
    const present = (['valueUuid', 'valueBoolean', 'valueString', 'valueDate'] as const).filter((k) => ext[k] !== undefined);
    if (present.length !== 1 || present[0] !== kind) {
      invalid.push(invalidField(`$.extension[${i}]`, `extension ${ext.valueCode} must carry exactly ${kind}`, 'required', [kind]));
      continue;
    }
    if (ext.valueCode === 'INFORM_WITH') {
      const people = [body.subject.value, body.section.focus.value];
      const r = await db.query(
        `SELECT 1 FROM person_authentication_methods
          WHERE id = $1 AND person_id = ANY($2::uuid[]) AND is_active AND (ended_at IS NULL OR ended_at > now())`,
        [asUuid(ext.valueUuid), people.map(asUuid)],
      );
      if (r.rowCount === 0) invalid.push(invalidField(`$.extension[${i}].valueUuid`, 'Authentication method not found for the patient'));
    }
  }

  if (invalid.length) throw validationFailed(invalid);
  return { subjectType: subjectType as 'person' | 'preperson', focusType: focusType as 'person' | 'preperson', episodeId };
}
