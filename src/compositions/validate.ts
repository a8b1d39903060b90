/**
 * Synchronous checks of createComposition, run before a job is accepted: dictionaries, reference
 * types and the existence of what the references point to. Every problem is collected, so the
 * 422 lists all of them at once. Business rules that ESOZ reports as numbered task errors
 * (1081, 1085, 1127, 1182, …) run in the worker (create.ts, checkCreateRules).
 */
import type { Db } from '../platform/db.ts';
import type { AuthContext } from '../platform/auth.ts';
import { invalidField, validationFailed, type InvalidEntry } from '../platform/errors.ts';
import { allowedCodes, isAllowedCode } from './dictionaries.ts';
import { EXTENSIONS, RESOURCES_SYSTEM } from './model.ts';
import type { CreateCompositionBody, ReferenceT } from './schemas.ts';
import { authMethodOfPeople, readRefs, type RefFacts } from './composition-store.ts';
import { MESSAGES } from './messages.ts';
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
    invalid.push(invalidField(`${path}.coding[0].system`, MESSAGES.notInEnum, 'inclusion', [dictionary]));
    return;
  }
  if (!(await isAllowedCode(db, dictionary, c.code))) {
    invalid.push(invalidField(`${path}.coding[0].code`, MESSAGES.notInEnum, 'inclusion', await allowedCodes(db, dictionary)));
  }
}

function checkRefType(invalid: InvalidEntry[], path: string, ref: ReferenceT, allowed: string[]): string | null {
  const c = ref.type.coding[0];
  if (c.system !== RESOURCES_SYSTEM) {
    invalid.push(invalidField(`${path}.type.coding[0].system`, MESSAGES.notInEnum, 'inclusion', [RESOURCES_SYSTEM]));
    return null;
  }
  if (!allowed.includes(c.code)) {
    invalid.push(invalidField(`${path}.type.coding[0].code`, MESSAGES.notInEnum, 'inclusion', allowed));
    return null;
  }
  return c.code;
}

/** The schema's uuid format also admits `urn:uuid:…`, which PostgreSQL does not parse: such an id matches nothing. */
const asUuid = (v: string | undefined) => (v && UUID_RE.test(v) ? v.toLowerCase() : null);

function subjectProblem(kind: string, row: RefFacts['subject']): string | null {
  if (kind === 'person') {
    if (!row) return MESSAGES.personNotFound;
    if (!row.is_active || row.status.toLowerCase() !== 'active') return MESSAGES.personInactive;
    return null;
  }
  if (!row) return MESSAGES.prepersonNotFound;
  if (!row.is_active || row.status.toUpperCase() !== 'ACTIVE') return MESSAGES.prepersonInactive;
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
      invalid.push(invalidField(`$.event[${i}].period.end`, MESSAGES.periodEndBeforeStart));
    }
    if (body.type.coding[0].code === 'TEMP_DISABILITY' && ev.code.coding[0].code === 'COMPOSITION_VALIDITY_PERIOD' && !ev.period.end) {
      invalid.push(invalidField(`$.event[${i}].period.end`, MESSAGES.periodEndRequired, 'required'));
    }
  }
  if (body.type.coding[0].code === 'TEMP_DISABILITY' && !body.event.some((e) => e.code.coding[0].code === 'COMPOSITION_VALIDITY_PERIOD')) {
    invalid.push(invalidField('$.event', MESSAGES.validityPeriodRequired));
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
    if (!enc) invalid.push(invalidField('$.encounter.value', MESSAGES.encounterNotFound));
    else {
      episodeId = enc.episode_id;
      if (subjectType === 'person' && enc.person_id !== body.subject.value.toLowerCase()) {
        invalid.push(invalidField('$.encounter.value', MESSAGES.encounterOfAnotherSubject));
      }
    }
  }
  if (authorType) {
    const emp = facts.author;
    if (!emp) invalid.push(invalidField('$.author.value', MESSAGES.employeeNotFound));
    else if (!auth.legalEntityId || emp.legal_entity_id !== auth.legalEntityId) {
      invalid.push(invalidField('$.author.value', MESSAGES.employeeOfAnotherLegalEntity(body.author.value)));
    } else if (!emp.is_active || emp.status !== 'APPROVED') {
      invalid.push(invalidField('$.author.value', MESSAGES.employeeInactive));
    }
  }
  if (relType && body.relatesTo && !facts.relates_to_exists) {
    invalid.push(invalidField('$.relatesTo.targetIdentifier.value', MESSAGES.relatedNotFound));
  }

  const seen = new Set<string>();
  for (const [i, ext] of (body.extension ?? []).entries()) {
    const kind = EXTENSIONS[ext.valueCode];
    if (!kind) {
      invalid.push(invalidField(`$.extension[${i}].valueCode`, MESSAGES.notInEnum, 'inclusion', Object.keys(EXTENSIONS)));
      continue;
    }
    if (seen.has(ext.valueCode)) invalid.push(invalidField(`$.extension[${i}].valueCode`, MESSAGES.extensionRepeated(ext.valueCode)));
    seen.add(ext.valueCode);
    const present = (['valueUuid', 'valueBoolean', 'valueString', 'valueDate'] as const).filter((k) => ext[k] !== undefined);
    if (present.length !== 1 || present[0] !== kind) {
      invalid.push(invalidField(`$.extension[${i}]`, MESSAGES.extensionValue(ext.valueCode, kind), 'required', [kind]));
      continue;
    }
    if (ext.valueCode === 'INFORM_WITH') {
      const people = [body.subject.value, body.section.focus.value];
      if (!(await authMethodOfPeople(db, asUuid(ext.valueUuid), people.map(asUuid))))
        invalid.push(invalidField(`$.extension[${i}].valueUuid`, MESSAGES.authMethodNotFound));
    }
  }

  if (invalid.length) throw validationFailed(invalid);
  return { subjectType: subjectType as 'person' | 'preperson', focusType: focusType as 'person' | 'preperson', episodeId };
}
