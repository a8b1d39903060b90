/**
 * POST /api/patients/composition (createComposition, esoz-docs §3.4): the synchronous checks and the
 * accept (API process), then the asynchronous rules and the write (worker). Each check is one
 * numbered step below, in the documented order; the first failing one answers.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../platform/context.ts';
import { forbidden } from '../platform/errors.ts';
import { DISABILITY_CATEGORIES, NEWBORN_CATEGORIES, PREPERSON_CATEGORIES, SUBJECT_FOCUS_EQUAL_CATEGORIES, TaskFailure } from './model.ts';
import { MESSAGES } from './messages.ts';
import { buildDocument, compositionPath, generateTitle } from './document.ts';
import { readCreateFacts, type CreateFacts } from './composition-store.ts';
import { finishCreates, type ClaimedJob, type FinishAnswer, type FinishItem, type JobStore } from './job-store.ts';
import { validateCreate } from './validate.ts';
import type { CreateCompositionBody, JobState } from './schemas.ts';
import type { JobContext } from './worker.ts';

/** Producer side: the checks a request passes before its job is accepted. */
export async function acceptCreate(ctx: RequestContext, jobs: JobStore, body: CreateCompositionBody): Promise<JobState> {
  // 1. token valid and not expired → 401                                   (platform onRequest hook)
  // 2. scope composition:create → 403 "Your scope does not allow …"         (platform onRequest hook)
  // 3. body matches the schema (unknown fields refused) → 422               (HTTP layer, schemas.ts)
  // 4. the client acts for a legal entity → 403 "Access denied"
  if (!ctx.auth.legalEntityId) throw forbidden(MESSAGES.accessDenied);
  // 5. dictionaries, reference types, referenced rows, extensions → 422 listing every problem (validate.ts)
  await validateCreate(ctx.platform.db, ctx.auth, body);
  // 6. accept: the job (an identical PENDING request of the client gets its job back) and its queue
  //    message in one transaction → 202 with the job
  const { state } = await jobs.accept({ kind: 'CREATE', auth: ctx.auth, body });
  return state;
}

/**
 * Consumer side, the business rules of one job on the facts read for its batch (CreateFacts), in the
 * order of the createComposition page. Each violation is a TaskFailure with the numbered ESOZ code:
 * the job ends FAILED and nothing is written.
 */
export function checkCreateRules(body: CreateCompositionBody, facts: CreateFacts): void {
  const type = body.type.coding[0].code;
  const category = body.category.coding[0].code;
  const subjectType = body.subject.type.coding[0].code;

  // 1. 1081 a NEWBORN composition has a newborn category
  if (type === 'NEWBORN' && !NEWBORN_CATEGORIES.includes(category)) {
    throw new TaskFailure('INVALID_NEWBORN_CATEGORY', MESSAGES.newbornCategory(category, NEWBORN_CATEGORIES));
  }
  // 2. 1085 a TEMP_DISABILITY composition has a disability category …
  if (type === 'TEMP_DISABILITY' && !DISABILITY_CATEGORIES.includes(category)) {
    throw new TaskFailure('INVALID_DISABILITY_CATEGORY', MESSAGES.disabilityCategory(category));
  }
  // 3. 1085 … and, for a preperson subject, one of the preperson categories
  if (type === 'TEMP_DISABILITY' && subjectType === 'preperson' && !PREPERSON_CATEGORIES.includes(category)) {
    throw new TaskFailure('INVALID_DISABILITY_CATEGORY', MESSAGES.prepersonCategory(category, PREPERSON_CATEGORIES));
  }
  // 4. 1182 the categories where the patient is the person on leave need section.focus = subject
  if (type === 'TEMP_DISABILITY' && SUBJECT_FOCUS_EQUAL_CATEGORIES.includes(category) && body.subject.value !== body.section.focus.value) {
    throw new TaskFailure('SUBJECT_FOCUS_EQUALITY_REQUIRED', MESSAGES.subjectFocusEquality(category));
  }

  // 5. relatesTo: 1160 the related composition exists; 1181 no NEWBORN replacement; 1146 same type;
  //    "replaces" only as the refinement of a preperson's FINAL one (1181 for a cancelled one, else 1160);
  //    "appends" only to a FINAL one (1160)
  if (body.relatesTo) {
    const t = facts.relates_to;
    if (!t) throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.relatedMissing);
    if (type === 'NEWBORN') throw new TaskFailure('REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', MESSAGES.newbornReplacement);
    if (t.type_code !== type) throw new TaskFailure('CANT_REPLACE_DIFFERENT_TYPE', MESSAGES.differentType(t.type_code, type));
    if (body.relatesTo.code === 'replaces') {
      const refinement = subjectType === 'person' && t.subject_type === 'preperson' && t.status === 'FINAL';
      if (!refinement) {
        // EMAL_COMPOSITION_FLOW_REPLACE_ENABLED = "FALSE"
        if (t.status === 'ENTERED_IN_ERROR') throw new TaskFailure('REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', MESSAGES.cancelledReplacement);
        throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.replacesNeedsRefinement);
      }
    } else if (t.status !== 'FINAL') {
      throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.appendsNeedsFinal(t.status));
    }
  }

  // 6. 1002 one NEWBORN composition per subject
  if (type === 'NEWBORN' && facts.newborn_exists) throw new TaskFailure('COMPOSITION_ALREADY_EXISTS_FOR_SUBJECT', MESSAGES.newbornExists);

  // 7. 1127 no FINAL composition of this type and category on the encounter (checked again by sign)
  if (facts.final_exists) throw finalExists(body.encounter.value, type, category);
}

/** 1127, as create and sign report it. */
export const finalExists = (encounterId: string, type: string, category: string) =>
  new TaskFailure('FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS', MESSAGES.finalExists(encounterId, type, category));

/**
 * Test-only hook (crash tests; docs/decisions.md (Compositions)): ESOZ_TEST_COMPOSITION_JOB_DELAY_MS holds
 * each job that long, either after the claim (default) or, with ESOZ_TEST_COMPOSITION_JOB_DELAY_PHASE=
 * in-transaction, after the composition INSERT and before the commit. Unset in every real deployment.
 */
export const testDelay = (phase: 'claimed' | 'in-transaction') => {
  const ms = Number(process.env.ESOZ_TEST_COMPOSITION_JOB_DELAY_MS ?? 0) || 0;
  const want = process.env.ESOZ_TEST_COMPOSITION_JOB_DELAY_PHASE === 'in-transaction' ? 'in-transaction' : 'claimed';
  return ms && want === phase ? new Promise((r) => setTimeout(r, ms)) : undefined;
};

/** How the worker hears about each job of a create batch (`k`: its place in the fetch). */
export interface CreateBatchHooks {
  finished(k: number, status: 'DONE' | 'FAILED', onTime: boolean | undefined, failure?: TaskFailure): void;
  skipped(k: number): void;
  /** a transient error: pg-boss retries the job, or its last attempt fails it with INTERNAL_ERROR */
  error(k: number, err: unknown): Promise<void>;
}

/**
 * Consumer side: the create jobs of one fetch, with statements shared by the batch.
 *  1. the facts every job's rules need, in one statement (readCreateFacts)
 *  2. the rules per job (checkCreateRules, in their documented order)
 *  3. one finishing transaction for all of them (finishCreates: per job, under its row lock and only
 *     while PENDING, the composition and DONE, or FAILED); a generated title that already exists sends
 *     its job round again with a new one
 */
export async function runCreates(ctx: JobContext, creates: { row: ClaimedJob; k: number }[], hooks: CreateBatchHooks): Promise<void> {
  if (!creates.length) return;
  const { db } = ctx.platform;
  // 1.
  let facts: CreateFacts[];
  try {
    facts = await readCreateFacts(
      db,
      creates.map(({ row }) => {
        const body = row.request as CreateCompositionBody;
        return {
          encounter_id: body.encounter.value,
          type: body.type.coding[0].code,
          category: body.category.coding[0].code,
          subject_id: body.subject.value,
          relates_to_id: body.relatesTo?.targetIdentifier.value ?? null,
        };
      }),
    );
  } catch (err) {
    for (const f of creates) await hooks.error(f.k, err);
    return;
  }
  // 2.
  type Todo = { f: { row: ClaimedJob; k: number }; episodeId: string | null; failure?: TaskFailure; item: FinishItem };
  let todo: Todo[] = [];
  for (const [i, f] of creates.entries()) {
    const body = f.row.request as CreateCompositionBody;
    try {
      checkCreateRules(body, facts[i]);
      todo.push({ f, episodeId: facts[i].episode_id, item: compositionItem(f.row, body, facts[i].episode_id) });
    } catch (err) {
      if (err instanceof TaskFailure)
        todo.push({ f, episodeId: null, failure: err, item: { job_id: f.row.id, outcome: 'FAILED', error: err.toJSON() } });
      else await hooks.error(f.k, err);
    }
  }
  // 3.
  for (let round = 0; todo.length; round++) {
    let answers: FinishAnswer[];
    try {
      if (round > 10) throw new Error('could not generate a unique composition title');
      const items = todo.map((t) => t.item);
      answers = await db.transaction(async (tx) => {
        const a = await finishCreates(tx, items);
        await testDelay('in-transaction');
        return a;
      });
    } catch (err) {
      for (const t of todo) await hooks.error(t.f.k, err);
      return;
    }
    const again: Todo[] = [];
    todo.forEach((t, i) => {
      const a = answers[i];
      if (a.status === 'TITLE_TAKEN')
        again.push({ ...t, item: compositionItem(t.f.row, t.f.row.request as CreateCompositionBody, t.episodeId) });
      else if (a.status === 'SKIPPED') hooks.skipped(t.f.k);
      else hooks.finished(t.f.k, a.status, a.on_time, t.failure);
    });
    todo = again;
  }
}

/** The finishing item of a create job that passed its rules: the new composition, with a fresh title. */
function compositionItem(row: ClaimedJob, body: CreateCompositionBody, episodeId: string | null): FinishItem {
  const id = randomUUID();
  const title = generateTitle();
  const custodianId = row.legal_entity_id!;
  const doc = buildDocument({ id, title, date: new Date().toISOString(), custodianId, episodeId, body });
  const href = compositionPath({ subjectId: body.subject.value, encounterId: body.encounter.value, id });
  return {
    job_id: row.id,
    outcome: 'DONE',
    links: [{ entity: 'composition', href }],
    id,
    type_code: body.type.coding[0].code,
    category_code: body.category.coding[0].code,
    title,
    subject_type: body.subject.type.coding[0].code,
    subject_id: body.subject.value,
    focus_type: body.section.focus.type.coding[0].code,
    focus_id: body.section.focus.value,
    encounter_id: body.encounter.value,
    episode_id: episodeId,
    author_id: body.author.value,
    custodian_id: custodianId,
    client_id: row.client_id,
    document: JSON.stringify(doc),
  };
}
