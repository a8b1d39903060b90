/**
 * PATCH /api/patients/composition/{id}/sign (signComposition): the synchronous checks and the accept
 * (API process), then the asynchronous rules and the write (worker). Each check is one numbered step
 * below, in the documented order; the first failing one answers.
 */
import type { RequestContext } from '../platform/context.ts';
import { notFound } from '../platform/errors.ts';
import { TaskFailure } from './model.ts';
import { MESSAGES } from './messages.ts';
import { compositionPath, firstDifference, sameDocument } from './document.ts';
import {
  custodianOf,
  employeeTaxId,
  finalExistsOnEncounter,
  lockChainTarget,
  lockForSign,
  markAmended,
  markSigned,
} from './composition-store.ts';
import { relatesToCode, type ChainFlow } from './chains.ts';
import { lockPending, markDone, type ClaimedJob, type JobStore } from './job-store.ts';
import { verifiedJson } from './signature.ts';
import { finalExists } from './create.ts';
import type { JobState, SignBody } from './schemas.ts';
import type { JobContext, Outcome } from './worker.ts';
import { enqueueErlnTask } from '../erln/task-store.ts';
import { informOnFinal } from './resend-sms.ts';

/** Producer side: the checks a request passes before its job is accepted. */
export async function acceptSign(ctx: RequestContext, jobs: JobStore, id: string, body: SignBody): Promise<JobState> {
  // 1. token valid and not expired → 401                                   (platform onRequest hook)
  // 2. scope composition:sign → 403                                         (platform onRequest hook)
  // 3. body {data: base64 CMS} → 422                                        (HTTP layer, schemas.ts)
  // 4. the composition exists and is the caller's (another custodian's is 404 like an unknown id)
  //    → 404 "Composition not found"
  if ((await custodianOf(ctx.platform.db, id)) !== ctx.auth.legalEntityId || !ctx.auth.legalEntityId)
    throw notFound(MESSAGES.compositionNotFound);
  // 5. accept (deduped like create) → 202 with the job
  const { state } = await jobs.accept({ kind: 'SIGN', auth: ctx.auth, compositionId: id.toLowerCase(), body });
  return state;
}

/** Consumer side: one sign job; undefined when another attempt finished it meanwhile. */
export async function runSign(ctx: JobContext, row: ClaimedJob): Promise<Outcome> {
  const body = row.request as SignBody;
  const compositionId = row.composition_id!;
  // 1. the CMS verifies (base64, SignedData, attached content, signature, certificate) and its content
  //    is JSON → 422 INVALID_SIGNED_DATA / INVALID_SIGNATURE / UNTRUSTED_SIGNER_CERTIFICATE
  //    (before the transaction: CPU work, and PGlite serialises transactions)
  const { signed, content } = await verifiedJson(ctx.verifier, body.data);
  return ctx.platform.db.transaction(async (tx) => {
    // 2. the job is still PENDING (locked; a redelivered job does nothing)
    if (!(await lockPending(tx, row.id))) return undefined;
    // 3. the composition exists and is the caller's → 404 COMPOSITION_NOT_FOUND
    const comp = await lockForSign(tx, compositionId);
    if (!comp || comp.custodian_id !== row.legal_entity_id) throw new TaskFailure('COMPOSITION_NOT_FOUND', MESSAGES.compositionNotFound);
    // 4. it is PRELIMINARY → 409 INVALID_COMPOSITION_STATUS
    if (comp.status !== 'PRELIMINARY') throw new TaskFailure('INVALID_COMPOSITION_STATUS', MESSAGES.notPreliminary(comp.status));
    // 5. the signed content is the stored document (by meaning: key order, escapes) → 422 SIGNED_CONTENT_MISMATCH
    const stored = JSON.parse(comp.document);
    if (!sameDocument(content, stored)) {
      throw new TaskFailure('SIGNED_CONTENT_MISMATCH', MESSAGES.contentMismatch(firstDifference(content, stored)));
    }
    // 6. the signer's certificate carries a tax id → 422 SIGNER_MISMATCH
    const authorTaxId = await employeeTaxId(tx, comp.author_id);
    if (!signed.taxId) throw new TaskFailure('SIGNER_MISMATCH', MESSAGES.signerWithoutTaxId);
    // 7. … and it is the author's → 422 SIGNER_MISMATCH
    if (!authorTaxId || signed.taxId.toUpperCase() !== authorTaxId.toUpperCase()) {
      throw new TaskFailure('SIGNER_MISMATCH', MESSAGES.signerNotAuthor);
    }
    // 8. 1127 no other FINAL composition of this type and category on the encounter (the unique index
    //    catches a concurrent sign: worker.ts maps its violation to the same error)
    if (await finalExistsOnEncounter(tx, comp.encounter_id, comp.type_code, comp.category_code, compositionId)) {
      throw finalExists(comp.encounter_id, comp.type_code, comp.category_code);
    }
    // 9. a chain link (docs/compositions.md): its target, under its row lock, is still what the flow
    //    create chose needs — 1160 it is gone; RC_7: 1148 it is still ENTERED_IN_ERROR (a competing
    //    replacement signed first amended it); RC_5/RC_6: 1153 no other link was signed meanwhile,
    //    1160 it is still FINAL (not cancelled meanwhile)
    let target: { id: string; status: string } | undefined;
    if (comp.relates_to_id && relatesToCode(comp.relates_to_code)) {
      const t = await lockChainTarget(tx, comp.relates_to_id);
      if (!t) throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.relatedMissing);
      const flow = comp.chain_flow ?? flowOf(comp.relates_to_code, t);
      if (flow === 'RC_7') {
        if (t.status !== 'ENTERED_IN_ERROR') throw new TaskFailure('CANT_REPLACE_NOT_CANCELLED', MESSAGES.replacedNotCancelled(t.status));
      } else {
        if (t.successor_exists) throw new TaskFailure('CANT_AMEND_IS_APPENDED', MESSAGES.chainNotLast);
        if (t.status !== 'FINAL') throw new TaskFailure('INVALID_REPLACEMENT_ARGUMENT', MESSAGES.relatedNoLongerFinal(t.status));
      }
      target = { id: comp.relates_to_id, status: t.status };
    }
    // 10. FINAL, with the signed content and the signer; the job DONE with the composition's link
    await markSigned(tx, {
      id: compositionId,
      document: { ...stored, status: 'FINAL' },
      signedContent: body.data,
      jobId: row.id,
      signerTaxId: signed.taxId,
    });
    // 11. … and its target AMENDED, the status it had kept for a cancel of the link to give back
    if (target) await markAmended(tx, target.id, target.status);
    // 12. an МВТН whose person on leave (section.focus) is an identified person goes to ERLN: the
    //     integration task is written in this transaction (a preperson's waits for the refinement)
    if (comp.type_code === 'TEMP_DISABILITY' && comp.focus_type === 'person') {
      await enqueueErlnTask(tx, ctx.platform.queue, compositionId, 'CREATE_ERLN_RECORD');
    }
    // 13. the first SMS, when INFORM_WITH names an active method with an OTP phone (resend-sms.ts; a bad
    //     method skips the SMS, never the sign; the outbox relay sends it on its next tick)
    await informOnFinal(tx, ctx.platform.config, { ...comp, id: compositionId, document: stored });
    const href = compositionPath({ subjectId: comp.subject_id, encounterId: comp.encounter_id, id: compositionId });
    const r = await markDone(tx, row.id, compositionId, [{ entity: 'composition', href }]);
    return r && { status: 'DONE', onTime: r.on_time };
  });
}

/**
 * The flow of a link created before create recorded it (chain_flow null): "appends" is RC_5; a
 * "replaces" whose target is (or was, before it was amended) ENTERED_IN_ERROR is RC_7, else RC_6.
 */
function flowOf(code: string | null, t: { status: string; amended_from_status: string | null }): ChainFlow {
  if (relatesToCode(code) === 'appends') return 'RC_5';
  return (t.amended_from_status ?? t.status) === 'ENTERED_IN_ERROR' ? 'RC_7' : 'RC_6';
}
