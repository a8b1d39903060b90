/**
 * RC_4. Re-sending an МВТН to ERLN: PATCH /api/patients/composition/{id}/erln. The checks answer on
 * the call (404 / 400, in the documented order); on success a job (kind ERLN_RESEND) and a new
 * CREATE_ERLN_RECORD task are written in one transaction, and the job is DONE when ERLN accepted the
 * record, FAILED when it rejected it or could not be reached (src/erln/tasks.ts).
 */
import type { RequestContext } from '../platform/context.ts';
import { badRequest, invalidField, notFound, validationFailed } from '../platform/errors.ts';
import { enqueueErlnTask, lastTaskOf, type IntegrationTask } from '../erln/task-store.ts';
import { MESSAGES } from './messages.ts';
import { lockForErlnResend, type CompositionForErln } from './composition-store.ts';
import { insertErlnResendJob } from './job-store.ts';
import type { JobState } from './schemas.ts';

/** Steps 5–10 of the documented order: what makes a composition fit to be re-sent (one 400 for all). */
function resubmittable(c: CompositionForErln, last: IntegrationTask): boolean {
  return (
    // 5. an МВТН
    c.type_code === 'TEMP_DISABILITY' &&
    // 6. FINAL
    c.status === 'FINAL' &&
    // 7. the last ERLN task ended with integration status ERROR
    last.integration_status === 'ERROR' &&
    // 8. … and is not still in progress
    last.task_status !== 'PENDING' &&
    // 9. … with a description of the error
    !!last.status_message &&
    // 10. the person on leave is identified (section.focus is a person)
    c.focus_type === 'person'
  );
}

/** No body, `{}` or `[]`: what an action without payload accepts. */
const isEmptyPayload = (body: unknown) =>
  body === undefined ||
  body === null ||
  (Array.isArray(body) && body.length === 0) ||
  (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);

export async function resendToErln(ctx: RequestContext, id: string, body: unknown): Promise<JobState> {
  // 1. token, scope composition:create → 401 / 403                         (platform onRequest hook)
  // 2. no body, {} or [] → 422
  if (!isEmptyPayload(body)) throw validationFailed([invalidField('$', MESSAGES.noPayload, 'length')]);
  const { db, queue } = ctx.platform;
  return db.transaction(async (tx) => {
    // the composition is locked first (two re-sends at once make one task) and its last task read
    // under the lock; both 404s carry one text, so the order of the two reads is not visible
    const c = await lockForErlnResend(tx, id);
    const last = c && (await lastTaskOf(tx, id));
    // 3. the last ERLN task of the composition exists → 404 "No conclusion found"
    if (!last) throw notFound(MESSAGES.noConclusionFound);
    // 4. the composition exists and is the caller's → 404 "No conclusion found"
    if (!c || !ctx.auth.legalEntityId || c.custodian_id !== ctx.auth.legalEntityId) throw notFound(MESSAGES.noConclusionFound);
    // 5–10. → 400 "This request is not allowed to be resubmitted (…)"
    if (!resubmittable(c, last)) throw badRequest(MESSAGES.notResubmittable);
    // 11. the job and its CREATE_ERLN_RECORD task → 200 with the job
    const job = await insertErlnResendJob(tx, ctx.auth, id.toLowerCase());
    await enqueueErlnTask(tx, queue, id.toLowerCase(), 'CREATE_ERLN_RECORD', job.id);
    ctx.log.info({ composition_id: id, job_id: job.id }, 'МВТН re-sent to ERLN');
    return job;
  });
}
