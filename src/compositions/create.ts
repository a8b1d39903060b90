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
import { readCreateFacts, type CreateFacts, type RelatedFacts } from './composition-store.ts';
import { addDays, appendsKind, dayOf, relatesToCode, validityDays, type ChainFlow } from './chains.ts';
import { listSetting, maxDurationDays, replaceFlowEnabled, type Config } from '../platform/config.ts';
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

/** The settings and the clock the chain rules read (src/platform/config.ts). */
export interface ChainSettings {
  /** EMAL_COMPOSITION_FLOW_REPLACE_ENABLED (auto resolved) */
  replaceEnabled: boolean;
  /** EMAL_REPLACEMENT_FLOW_DISABILITY_ALLOWED_CANCELLATION_REASONS */
  replacementReasons: readonly string[];
  /** EMAL_FILTER_REPLACEMENT_CANCEL_TIMEOUT_DISABILITY */
  replacementDays: number;
  /** EMAL_FILTER_APPENDS_TIMEOUT_DISABILITY */
  appendsDays: number;
  now: Date;
}

export function chainSettings(config: Config, now = new Date()): ChainSettings {
  return {
    replaceEnabled: replaceFlowEnabled(config),
    replacementReasons: listSetting(config.EMAL_REPLACEMENT_FLOW_DISABILITY_ALLOWED_CANCELLATION_REASONS),
    replacementDays: maxDurationDays(config.EMAL_FILTER_REPLACEMENT_CANCEL_TIMEOUT_DISABILITY),
    appendsDays: maxDurationDays(config.EMAL_FILTER_APPENDS_TIMEOUT_DISABILITY),
    now,
  };
}

/**
 * Consumer side, the business rules of one job on the facts read for its batch (CreateFacts), in the
 * order of the createComposition page: block A (category, subject/focus), then block B (1127, the
 * flow relatesTo picks, 1002, the replacement's checks). Each violation is a TaskFailure with the
 * numbered ESOZ code (code null for this service's own named rules): the job ends FAILED and nothing
 * is written. Returns the chain flow of a composition with relatesTo.
 */
export function checkCreateRules(body: CreateCompositionBody, facts: CreateFacts, settings: ChainSettings): ChainFlow | null {
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

  // 5. 1127 no FINAL composition of this type and category on the encounter, the related one
  //    included (checked again by sign)
  if (facts.final_exists) throw finalExists(body.encounter.value, type, category);

  // 6. relatesTo picks the flow
  let flow: ChainFlow | null = null;
  const t = facts.relates_to;
  if (body.relatesTo) {
    // 6.1 1160 the related composition exists
    if (!t) throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.relatedMissing);
    // 6.2 1181 NEWBORN: replacement off as published; on, the МВН replacement is not built here
    if (type === 'NEWBORN') {
      throw new TaskFailure(
        'REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET',
        settings.replaceEnabled ? MESSAGES.newbornReplacementNotBuilt : MESSAGES.newbornReplacement,
      );
    }
    if (relatesToCode(body.relatesTo.code) === 'replaces') {
      // 6.3 TEMP_DISABILITY "replaces": (a) RC_6 refinement: a person's composition for a preperson's
      //     FINAL one; (b) RC_7 replacement of an ENTERED_IN_ERROR one, 1181 while it is off;
      //     (c) 1160 anything else
      if (subjectType === 'person' && t.subject_type === 'preperson' && t.status === 'FINAL') flow = 'RC_6';
      else if (t.status === 'ENTERED_IN_ERROR') {
        if (!settings.replaceEnabled) throw new TaskFailure('REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', MESSAGES.cancelledReplacement);
        flow = 'RC_7';
      } else throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.replacesNeedsRefinement);
    } else {
      // 6.4 "appends": RC_5 extension or reduction
      flow = 'RC_5';
      checkAppends(body, t, settings);
    }
  }

  // 7. 1002 one NEWBORN composition per subject
  if (type === 'NEWBORN' && facts.newborn_exists) throw new TaskFailure('COMPOSITION_ALREADY_EXISTS_FOR_SUBJECT', MESSAGES.newbornExists);

  // 8. the refinement and the replacement replace a composition of their own type that is the last
  //    link of its chain (1146, 1153); 1148 "not ENTERED_IN_ERROR" cannot fail here, since the flow
  //    was chosen on that very status: sign checks it (sign.ts)
  if (t && (flow === 'RC_6' || flow === 'RC_7')) {
    if (t.type_code !== type) throw new TaskFailure('CANT_REPLACE_DIFFERENT_TYPE', MESSAGES.differentType(t.type_code, type));
    if (t.successor_exists) throw new TaskFailure('CANT_AMEND_IS_APPENDED', MESSAGES.chainNotLast);
  }
  // 9. the replacement only: the target was cancelled with a reason that allows one, and recently enough
  if (t && flow === 'RC_7') {
    if (!t.cancel_reason_code || !settings.replacementReasons.includes(t.cancel_reason_code)) {
      throw new TaskFailure(
        'REPLACEMENT_CANCELLATION_REASON_NOT_ALLOWED',
        MESSAGES.replacementReason(t.cancel_reason_code, settings.replacementReasons),
      );
    }
    if (t.cancelled_at && settings.now.getTime() - Date.parse(t.cancelled_at) > settings.replacementDays * 86400_000) {
      throw new TaskFailure('REPLACEMENT_FOR_OUTDATED_CANCELLATION', MESSAGES.replacementTooLate(settings.replacementDays));
    }
  }
  return flow;
}

/**
 * RC_5's rules (none published; docs/compositions.md): the target is a FINAL МВТН of the same subject,
 * person on leave and category, the last link of its chain, registered in ERLN, extended or reduced
 * within the window after its end.
 */
function checkAppends(body: CreateCompositionBody, t: RelatedFacts, settings: ChainSettings): void {
  const category = body.category.coding[0].code;
  // a. 1153 a link that was continued already is not the last of its chain (it is AMENDED: without this
  //    step the next one would answer 1160 for its status)
  if (t.status === 'AMENDED' && t.successor_exists) throw new TaskFailure('CANT_AMEND_IS_APPENDED', MESSAGES.chainNotLast);
  // a. 1160 the target is FINAL
  if (t.status !== 'FINAL') throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.appendsNeedsFinal(t.status));
  // b. 1146 … an МВТН
  if (t.type_code !== body.type.coding[0].code) {
    throw new TaskFailure('CANT_REPLACE_DIFFERENT_TYPE', MESSAGES.differentType(t.type_code, body.type.coding[0].code));
  }
  // c. the same subject
  if (t.subject_id !== body.subject.value.toLowerCase())
    throw new TaskFailure('APPENDS_DIFFERENT_SUBJECT', MESSAGES.appendsDifferentSubject);
  // c. … and the same person on leave (section.focus: ERLN files the continuation under that person)
  if (t.focus_type !== body.section.focus.type.coding[0].code || t.focus_id !== body.section.focus.value.toLowerCase())
    throw new TaskFailure('APPENDS_DIFFERENT_FOCUS', MESSAGES.appendsDifferentFocus);
  // d. the same category
  if (t.category_code !== category) {
    throw new TaskFailure('APPENDS_DIFFERENT_CATEGORY', MESSAGES.appendsDifferentCategory(t.category_code, category));
  }
  // e. 1153 the last link of its chain
  if (t.successor_exists) throw new TaskFailure('CANT_AMEND_IS_APPENDED', MESSAGES.chainNotLast);
  // f. today (Kyiv) is at most EMAL_FILTER_APPENDS_TIMEOUT_DISABILITY days after the target's end
  const target = validityDays(t.event);
  if (target?.end && dayOf(settings.now.toISOString()) > addDays(target.end, settings.appendsDays)) {
    throw new TaskFailure('APPENDS_FOR_OUTDATED_COMPOSITION', MESSAGES.appendsTooLate(target.end, settings.appendsDays));
  }
  // g. the period extends (starts the day after the target's end) or reduces (same start, earlier end) it
  if (!appendsKind(t.event, body.event)) {
    const end = target?.end ?? '';
    throw new TaskFailure('APPENDS_INVALID_PERIOD', MESSAGES.appendsPeriod(end ? addDays(end, 1) : '', target?.start ?? '', end));
  }
  // h. ERLN holds the target's record (a continuation names its SL number; a target whose hand-off failed
  //    is re-sent first with RC_4, which its AMENDED status would forbid once continued)
  if (t.focus_type === 'person' && !t.erln_registered) throw new TaskFailure('APPENDS_TARGET_NOT_IN_ERLN', MESSAGES.appendsNotInErln);
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
  type Todo = {
    f: { row: ClaimedJob; k: number };
    episodeId: string | null;
    flow?: ChainFlow | null;
    failure?: TaskFailure;
    item: FinishItem;
  };
  let todo: Todo[] = [];
  const settings = chainSettings(ctx.platform.config);
  for (const [i, f] of creates.entries()) {
    const body = f.row.request as CreateCompositionBody;
    try {
      const flow = checkCreateRules(body, facts[i], settings);
      todo.push({ f, episodeId: facts[i].episode_id, flow, item: compositionItem(f.row, body, facts[i].episode_id, flow) });
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
        again.push({ ...t, item: compositionItem(t.f.row, t.f.row.request as CreateCompositionBody, t.episodeId, t.flow ?? null) });
      else if (a.status === 'SKIPPED') hooks.skipped(t.f.k);
      else hooks.finished(t.f.k, a.status, a.on_time, t.failure);
    });
    todo = again;
  }
}

/** The finishing item of a create job that passed its rules: the new composition, with a fresh title. */
function compositionItem(row: ClaimedJob, body: CreateCompositionBody, episodeId: string | null, flow: ChainFlow | null): FinishItem {
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
    // the flow a chain link was created for: its sign re-checks the target for it
    chain_flow: flow,
  };
}
