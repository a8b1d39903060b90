/**
 * PATCH /api/patients/composition/{id}/cancel (cancelComposition): the synchronous checks and the
 * accept (API process), then the asynchronous rules and the write (worker). Each check is one
 * numbered step below, in the documented order; the first failing one answers.
 */
import type { RequestContext } from '../platform/context.ts';
import { notFound } from '../platform/errors.ts';
import { CANCEL_TIMEOUT_DAYS, CANCELLATION_REASON_SYSTEMS, TaskFailure } from './model.ts';
import { MESSAGES } from './messages.ts';
import { compositionPath } from './document.ts';
import { isAllowedCode } from './dictionaries.ts';
import { custodianOf, hasEmployeeWithTaxId, lockForCancel, markCancelled } from './composition-store.ts';
import { lockPending, markDone, type ClaimedJob, type JobStore } from './job-store.ts';
import { verifiedJson } from './signature.ts';
import type { JobState, SignBody } from './schemas.ts';
import type { JobContext, Outcome } from './worker.ts';

/** Producer side: the checks a request passes before its job is accepted. */
export async function acceptCancel(ctx: RequestContext, jobs: JobStore, id: string, body: SignBody): Promise<JobState> {
  // 1. token valid and not expired → 401                                   (platform onRequest hook)
  // 2. scope composition:cancel → 403                                       (platform onRequest hook)
  // 3. body {data: base64 CMS} → 422                                        (HTTP layer, schemas.ts)
  // 4. the composition exists and is the caller's (another custodian's is 404 like an unknown id)
  //    → 404 "The object of the Composition was not found"
  if ((await custodianOf(ctx.platform.db, id)) !== ctx.auth.legalEntityId || !ctx.auth.legalEntityId)
    throw notFound(MESSAGES.cancelTargetNotFound);
  // 5. accept (deduped like create) → 202 with the job
  const { state } = await jobs.accept({ kind: 'CANCEL', auth: ctx.auth, compositionId: id.toLowerCase(), body });
  return state;
}

type CancelContent = { id?: unknown; reason?: { coding?: { system?: unknown; code?: unknown }[]; text?: unknown } };

/** Consumer side: one cancel job; undefined when another attempt finished it meanwhile. */
export async function runCancel(ctx: JobContext, row: ClaimedJob): Promise<Outcome> {
  const body = row.request as SignBody;
  const compositionId = row.composition_id!;
  // 1. the CMS verifies and its content is JSON → 422 INVALID_SIGNED_DATA / INVALID_SIGNATURE /
  //    UNTRUSTED_SIGNER_CERTIFICATE (before the transaction: CPU work, and PGlite serialises transactions)
  const { signed, content } = await verifiedJson(ctx.verifier, body.data);
  // 2. the content is {id, reason: {coding: [{system, code}], text?}} → 422 INVALID_SIGNED_DATA
  const c = content as CancelContent;
  const coding = c?.reason?.coding?.[0];
  const shapeOk =
    c &&
    typeof c === 'object' &&
    typeof c.id === 'string' &&
    Array.isArray(c.reason?.coding) &&
    c.reason!.coding!.length === 1 &&
    typeof coding?.system === 'string' &&
    typeof coding?.code === 'string' &&
    (c.reason!.text === undefined || (typeof c.reason!.text === 'string' && c.reason!.text.length <= 2000)) &&
    Object.keys(c).every((k) => k === 'id' || k === 'reason');
  if (!shapeOk) throw new TaskFailure('INVALID_SIGNED_DATA', MESSAGES.cancelContentShape);
  // 3. … and names this composition → 422 INVALID_SIGNED_DATA
  if (String(c.id).toLowerCase() !== compositionId) {
    throw new TaskFailure('INVALID_SIGNED_DATA', MESSAGES.cancelOtherComposition(String(c.id), compositionId));
  }
  // the reason's dictionary, per composition type, read before the transaction (the lookups may
  // query, and PGlite serialises transactions); step 6 picks the composition's type
  const { system, code } = coding as { system: string; code: string };
  const reasonByType: Record<string, boolean> = {};
  for (const [type, dictionary] of Object.entries(CANCELLATION_REASON_SYSTEMS)) {
    reasonByType[type] = system === dictionary && (await isAllowedCode(ctx.platform.db, system, code));
  }
  return ctx.platform.db.transaction(async (tx) => {
    // 4. the job is still PENDING (locked; a redelivered job does nothing)
    if (!(await lockPending(tx, row.id))) return undefined;
    // 5. the composition exists and is the caller's → 404 COMPOSITION_NOT_FOUND
    const comp = await lockForCancel(tx, compositionId);
    if (!comp || comp.custodian_id !== row.legal_entity_id) throw new TaskFailure('COMPOSITION_NOT_FOUND', MESSAGES.cancelTargetNotFound);
    // 6. it is FINAL → 409 INVALID_COMPOSITION_STATUS
    if (comp.status !== 'FINAL') throw new TaskFailure('INVALID_COMPOSITION_STATUS', MESSAGES.notFinal(comp.status));
    // 7. 1004 the reason is a code of the type's cancellation dictionary
    if (!reasonByType[comp.type_code]) throw new TaskFailure('INVALID_CANCELLATION_CODING', MESSAGES.invalidCancellationCoding);
    // 8. within EMAL_FILTER_CANCEL_TIMEOUT_* days of signing → 409 CANCEL_PERIOD_EXPIRED
    const days = CANCEL_TIMEOUT_DAYS[comp.type_code];
    if (days && comp.signed_at && Date.now() - new Date(comp.signed_at).getTime() > days * 86400_000) {
      throw new TaskFailure('CANCEL_PERIOD_EXPIRED', MESSAGES.cancelPeriodExpired(comp.type_code, days));
    }
    // 9. the signer's certificate carries a tax id → 422 SIGNER_MISMATCH
    if (!signed.taxId) throw new TaskFailure('SIGNER_MISMATCH', MESSAGES.signerWithoutTaxId);
    // 10. … of an active employee of the custodian (a colleague of the author may cancel) → 422 SIGNER_MISMATCH
    if (!(await hasEmployeeWithTaxId(tx, comp.custodian_id, signed.taxId)))
      throw new TaskFailure('SIGNER_MISMATCH', MESSAGES.signerNotEmployee);
    // 11. ENTERED_IN_ERROR, with the reason and the signed content; the job DONE with the composition's link
    await markCancelled(tx, {
      id: compositionId,
      document: { ...JSON.parse(comp.document), status: 'ENTERED_IN_ERROR' },
      jobId: row.id,
      reason: c.reason,
      signedContent: body.data,
    });
    const href = compositionPath({ subjectId: comp.subject_id, encounterId: comp.encounter_id, id: compositionId });
    const r = await markDone(tx, row.id, compositionId, [{ entity: 'composition', href }]);
    return r && { status: 'DONE', onTime: r.on_time };
  });
}
