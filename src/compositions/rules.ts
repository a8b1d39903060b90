/**
 * Business rules of the create task, in the order of the createComposition page (esoz-docs §3.4).
 * Each violation is a `TaskFailure` with the numbered ESOZ code: the job ends FAILED, nothing is written.
 * The create rules run on facts read for a whole batch of jobs at once (`CreateFacts`,
 * esoz_composition_create_facts_many); the sign rule 1127 reads for itself.
 */
import type { Db } from '../platform/db.ts';
import { DISABILITY_CATEGORIES, NEWBORN_CATEGORIES, PREPERSON_CATEGORIES, SUBJECT_FOCUS_EQUAL_CATEGORIES, TaskFailure } from './model.ts';
import type { CreateCompositionBody } from './schemas.ts';

/**
 * What the create rules read from the database, for one job (esoz_composition_create_facts_many,
 * src/compositions/sql/esoz_composition_create_facts_many.sql).
 */
export interface CreateFacts {
  /** the encounter's episode (for the document's episodeOfCare) */
  episode_id: string | null;
  /** 1127: a FINAL composition of this type and category exists on the encounter */
  final_exists: boolean;
  /** NEWBORN only: a NEWBORN composition (not cancelled) exists for the subject */
  newborn_exists: boolean | null;
  /** relatesTo only: the related composition, or null when it does not exist */
  relates_to: { status: string; type_code: string; subject_type: string } | null;
}

export function checkCreateRules(body: CreateCompositionBody, facts: CreateFacts): void {
  const type = body.type.coding[0].code;
  const category = body.category.coding[0].code;
  const subjectType = body.subject.type.coding[0].code;

  if (type === 'NEWBORN' && !NEWBORN_CATEGORIES.includes(category)) {
    throw new TaskFailure(
      'INVALID_NEWBORN_CATEGORY',
      `Category ${category} is not allowed for a NEWBORN composition (allowed: ${NEWBORN_CATEGORIES.join(', ')})`,
    );
  }
  if (type === 'TEMP_DISABILITY' && !DISABILITY_CATEGORIES.includes(category)) {
    throw new TaskFailure('INVALID_DISABILITY_CATEGORY', `Category ${category} is not allowed for a TEMP_DISABILITY composition`);
  }
  if (type === 'TEMP_DISABILITY' && subjectType === 'preperson' && !PREPERSON_CATEGORIES.includes(category)) {
    throw new TaskFailure(
      'INVALID_DISABILITY_CATEGORY',
      `Category ${category} is not allowed for a preperson subject (allowed: ${PREPERSON_CATEGORIES.join(', ')})`,
    );
  }
  if (type === 'TEMP_DISABILITY' && SUBJECT_FOCUS_EQUAL_CATEGORIES.includes(category) && body.subject.value !== body.section.focus.value) {
    throw new TaskFailure('SUBJECT_FOCUS_EQUALITY_REQUIRED', `Category ${category} requires section.focus to be the subject`);
  }

  if (body.relatesTo) {
    const t = facts.relates_to;
    if (!t) throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', 'The related composition does not exist');
    if (type === 'NEWBORN')
      throw new TaskFailure('REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', 'Replacement of a NEWBORN composition is not enabled');
    if (t.type_code !== type)
      throw new TaskFailure('CANT_REPLACE_DIFFERENT_TYPE', `The related composition is of type ${t.type_code}, not ${type}`);
    if (body.relatesTo.code === 'replaces') {
      const refinement = subjectType === 'person' && t.subject_type === 'preperson' && t.status === 'FINAL';
      if (!refinement) {
        if (t.status === 'ENTERED_IN_ERROR') {
          // EMAL_COMPOSITION_FLOW_REPLACE_ENABLED = "FALSE"
          throw new TaskFailure('REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', 'Replacement of a cancelled composition is not enabled');
        }
        throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', 'relatesTo "replaces" needs a FINAL composition of a preperson (refinement)');
      }
    } else if (t.status !== 'FINAL') {
      throw new TaskFailure(
        'INVALID_REPLACEMENT_ARGUMENT',
        `relatesTo "appends" needs a FINAL composition, the related one is ${t.status}`,
      );
    }
  }

  if (type === 'NEWBORN' && facts.newborn_exists) {
    throw new TaskFailure('COMPOSITION_ALREADY_EXISTS_FOR_SUBJECT', 'A NEWBORN composition already exists for this subject');
  }

  if (facts.final_exists) throw finalExists(body.encounter.value, type, category);
}

const finalExists = (encounterId: string, type: string, category: string) =>
  new TaskFailure(
    'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS',
    `A FINAL ${type}/${category} composition already exists for encounter ${encounterId}`,
  );

/** 1127: another FINAL composition of the same type and category on the encounter. */
export async function checkNoFinalForEncounter(tx: Db, encounterId: string, type: string, category: string, exceptId?: string) {
  const r = await tx.query(
    `SELECT 1 FROM compositions WHERE encounter_id = $1 AND type_code = $2 AND category_code = $3 AND status = 'FINAL'
        AND ($4::uuid IS NULL OR id <> $4) LIMIT 1`,
    [encounterId, type, category, exceptId ?? null],
  );
  if (r.rowCount) throw finalExists(encounterId, type, category);
}
