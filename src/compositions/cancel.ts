/**
 * PATCH /api/patients/composition/{id}/cancel (cancelComposition): the synchronous checks and the
 * accept (API process), then the asynchronous rules and the write (worker). Each check is one
 * numbered step below, in the documented order; the first failing one answers.
 */
import type { RequestContext } from '../platform/context.ts';
import { notFound } from '../platform/errors.ts';
import { cancelTimeoutDays, CANCELLATION_REASON_SYSTEMS, TaskFailure } from './model.ts';
import { MESSAGES } from './messages.ts';
import { compositionPath } from './document.ts';
import { isAllowedCode } from './dictionaries.ts';
import {
  custodianOf,
  finalExistsOnEncounter,
  hasEmployeeWithTaxId,
  lockForCancel,
  lockReplaced,
  markCancelled,
  markUnamended,
} from './composition-store.ts';
import { enqueueErlnTask, pendingTaskOf, slNumOf } from '../erln/task-store.ts';
import { relatesToCode } from './chains.ts';
import { finalExists } from './create.ts';
import { nudgeSmsRelay } from '../platform/sms/outbox.ts';
import { enqueueCompositionSms } from './resend-sms.ts';
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

interface DocumentLinks {
  title?: string;
  relatesTo?: { code?: string; targetIdentifier?: { value?: string } };
  extension?: { valueCode?: string; valueUuid?: string }[];
}

/** Consumer side: one cancel job; undefined when another attempt finished it meanwhile. */
export async function runCancel(ctx: JobContext, row: ClaimedJob): Promise<Outcome> {
  const body = row.request as SignBody;
  const compositionId = row.composition_id!;
  const { db, queue, config } = ctx.platform;
  // The signed content is checked first, as sign checks it (before the transaction: CPU work, and
  // PGlite serialises transactions):
  // 1. the CMS verifies and its content is JSON → 422 INVALID_SIGNED_DATA / INVALID_SIGNATURE /
  //    UNTRUSTED_SIGNER_CERTIFICATE
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
  // 3. the signer's certificate carries a tax id → 422 SIGNER_MISMATCH
  if (!signed.taxId) throw new TaskFailure('SIGNER_MISMATCH', MESSAGES.signerWithoutTaxId);
  // 4. … of an active employee of the caller's legal entity (a colleague of the author may cancel) → 422 SIGNER_MISMATCH
  if (!row.legal_entity_id || !(await hasEmployeeWithTaxId(db, row.legal_entity_id, signed.taxId)))
    throw new TaskFailure('SIGNER_MISMATCH', MESSAGES.signerNotEmployee);
  // the reason's dictionary, per composition type, read before the transaction (the lookups may
  // query); step 11 picks the composition's type
  const { system, code } = coding as { system: string; code: string };
  const reasonByType: Record<string, boolean> = {};
  for (const [type, dictionary] of Object.entries(CANCELLATION_REASON_SYSTEMS)) {
    reasonByType[type] = system === dictionary && (await isAllowedCode(db, system, code));
  }
  let smsQueued = false;
  const outcome = await db.transaction(async (tx): Promise<Outcome> => {
    // 5. the job is still PENDING (locked; a redelivered job does nothing)
    if (!(await lockPending(tx, row.id))) return undefined;
    // 6. 1000 the composition exists and is the caller's
    const comp = await lockForCancel(tx, compositionId);
    if (!comp || comp.custodian_id !== row.legal_entity_id) throw new TaskFailure('COMPOSITION_NOT_FOUND', MESSAGES.cancelTargetNotFound);
    // 7. 1026 the signed content names this composition
    if (String(c.id).toLowerCase() !== compositionId) {
      throw new TaskFailure('INVALID_IDENTIFIER_IN_PAYLOAD', MESSAGES.cancelOtherComposition(String(c.id), compositionId));
    }
    // 8. 1003 it is FINAL
    if (comp.status !== 'FINAL') throw new TaskFailure('CANT_CANCEL_NONFINAL_COMPOSITION', MESSAGES.notFinal);
    // 9. 1130 / 1131 an МВТН of an identified person is not being handed to ERLN (a preperson's is never sent)
    const pending = await pendingTaskOf(tx, compositionId);
    if (comp.type_code === 'TEMP_DISABILITY' && comp.focus_type === 'person' && pending?.type === 'CREATE_ERLN_RECORD') {
      throw pending.attempts === 0
        ? new TaskFailure('CANCELLATION_NOT_ALLOWED_ERLN_CALL_PENDING', MESSAGES.erlnCallPending)
        : new TaskFailure('CANCELLATION_NOT_ALLOWED_ERLN_CALL_IN_PROGRESS', MESSAGES.erlnCallInProgress);
    }
    // 10. CANCELLATION_TEXT_NOT_PROVIDED the reason is explained
    if (typeof c.reason?.text !== 'string' || c.reason.text.trim() === '') {
      throw new TaskFailure('CANCELLATION_TEXT_NOT_PROVIDED', MESSAGES.cancellationTextNotProvided);
    }
    // 11. 1004 the reason is a code of the type's cancellation dictionary
    if (!reasonByType[comp.type_code]) throw new TaskFailure('INVALID_CANCELLATION_CODING', MESSAGES.invalidCancellationCoding);
    // 12. 1005 within EMAL_FILTER_CANCEL_TIMEOUT_<type> days of signing
    const days = cancelTimeoutDays(config, comp.type_code);
    if (days !== undefined && comp.signed_at && Date.now() - new Date(comp.signed_at).getTime() > days * 86400_000) {
      throw new TaskFailure('CANCELLATION_FOR_OUTDATED_COMPOSITION', MESSAGES.cancelTooOld);
    }
    // 13. 1006 no other integration task of the composition is running
    if (pending) throw new TaskFailure('CANCELLATION_FOR_RUNNING_TASK', MESSAGES.cancelRunningTask);

    const doc = JSON.parse(comp.document) as DocumentLinks & Record<string, unknown>;
    // 14. a chain link gives its place back: the composition it replaces or appends to goes AMENDED →
    //     the status it had (FINAL; ENTERED_IN_ERROR for a replaced one, whose ERLN record stays
    //     cancelled) (1137 it is gone, 1136 it is not AMENDED; published for "replaces", applied to
    //     "appends" as well); 1127 when it cannot be FINAL again, since another FINAL composition of
    //     its type and category was signed on its encounter meanwhile
    if (relatesToCode(doc.relatesTo?.code) && doc.relatesTo?.targetIdentifier?.value) {
      const targetId = doc.relatesTo.targetIdentifier.value;
      const target = await lockReplaced(tx, targetId);
      if (!target) throw new TaskFailure('CANT_CANCEL_NOT_FOUND', MESSAGES.replacedNotFound);
      if (target.status !== 'AMENDED') throw new TaskFailure('CANT_CANCEL_NONAMENDED_COMPOSITION', MESSAGES.replacedNotAmended);
      const back = target.amended_from_status ?? 'FINAL';
      if (back === 'FINAL' && (await finalExistsOnEncounter(tx, target.encounter_id, target.type_code, target.category_code, targetId))) {
        throw finalExists(target.encounter_id, target.type_code, target.category_code);
      }
      await markUnamended(tx, targetId, back);
    }
    // 15. ENTERED_IN_ERROR, with the reason and the signed content
    await markCancelled(tx, {
      id: compositionId,
      document: { ...doc, status: 'ENTERED_IN_ERROR' },
      jobId: row.id,
      reason: c.reason,
      signedContent: body.data,
    });
    // 16. an SMS to the patient when INFORM_WITH names an active authentication method of theirs
    //     (a method that is gone or inactive skips the SMS, never the cancel)
    smsQueued = await enqueueCompositionSms(tx, {
      id: compositionId,
      document: doc,
      personIds: [comp.subject_id, comp.focus_id],
      template: config.CANCEL_COMPOSITION_SMS_TEMPLATE,
    });
    // 17. ERLN is asked to cancel the record it holds (CANCEL_ERLN_RECORD)
    if (await slNumOf(tx, compositionId)) await enqueueErlnTask(tx, queue, compositionId, 'CANCEL_ERLN_RECORD');
    // the job DONE with the composition's link
    const href = compositionPath({ subjectId: comp.subject_id, encounterId: comp.encounter_id, id: compositionId });
    const r = await markDone(tx, row.id, compositionId, [{ entity: 'composition', href }]);
    return r && { status: 'DONE', onTime: r.on_time };
  });
  if (smsQueued) await nudgeSmsRelay(queue);
  return outcome;
}
