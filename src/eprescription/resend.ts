/**
 * PATCH /api/medication_requests/{id}/actions/resend (seed 003, API-005-008-002-0150).
 * The checks run in the seed's order; each is one numbered step below, and the first failing one
 * answers. Steps 1–2 are the platform's onRequest hook (token → api-key → scope).
 */
import type { Platform } from '../platform/platform.ts';
import type { RequestContext } from '../platform/context.ts';
import { conflict, forbidden, notFound, errorOfStatus } from '../platform/errors.ts';
import { windowFullError, type SmsTimeoutParams } from '../platform/sms/sms-timeout.ts';
import { nudgeSmsRelay, recordAttemptAndEnqueueSms } from '../platform/sms/outbox.ts';
import { otpRecipientOf } from '../registry/mpi.ts';
import { missingReferences, renderMedicationRequest, type LoadedMr } from './view.ts';
import { medicationRequestReaderOf } from './read.ts';

export const ENTITY_NAME = 'medication_request';

/** Exact texts of seed 003's code table. */
export const MESSAGES = {
  notFound: 'Not found',
  plan: 'For medication request plan information cannot be resent',
  status: 'Invalid status Medication request for resend action!',
  programNotifications: 'Notifications are not allowed for the medical program!',
  noVerificationCode: "Can't resend Medication request without verification code!",
  noOtp: 'Person or third person has no OTP auth method',
} as const;

/** medication_request_notification_disabled, or its newer name request_notification_disabled: true = no SMS. */
export function notificationsDisabled(settings: Record<string, unknown> | null | undefined): boolean {
  return settings?.medication_request_notification_disabled === true || settings?.request_notification_disabled === true;
}

/**
 * The SMS text: the medical program's `sign_template_sms` setting when it is a non-empty string,
 * else TEMPLATE_SMS_FOR_SIGN_MEDICATION_REQUEST; placeholders filled from the MR.
 */
export function renderSignSms(template: string, mr: LoadedMr): string {
  const values: Record<string, string> = {
    '<request_number>': mr.request_number,
    '<verification_code>': mr.verification_code ?? '',
    '<created_at>': mr.created_at,
    '<started_at>': mr.started_at,
    '<ended_at>': mr.ended_at,
    '<dispense_valid_from>': mr.dispense_valid_from ?? '',
    '<dispense_valid_to>': mr.dispense_valid_to ?? '',
    '<medication_name>': mr.medication?.name ?? '',
    '<medication_qty>': String(mr.medication_qty),
    '<medical_program_name>': String(mr.medical_program?.name ?? ''),
  };
  return template.replace(/<[a-z_]+>/g, (ph) => values[ph] ?? ph);
}

export function signTemplate(platform: Platform, mr: LoadedMr): string {
  const own = mr.medical_program?.medical_program_settings?.sign_template_sms;
  return typeof own === 'string' && own.trim() !== '' ? own : platform.config.TEMPLATE_SMS_FOR_SIGN_MEDICATION_REQUEST;
}

/** The MR the caller may see, with its references; 404 otherwise. */
export async function findVisibleMr(ctx: RequestContext, rawId: string): Promise<LoadedMr> {
  return checkVisible(ctx, (await medicationRequestReaderOf(ctx.platform).read(rawId, ctx.auth.legalEntityId))?.mr);
}

/** 404 for an MR the caller may not see; 500 for an MR whose registry references are missing. */
function checkVisible<T extends LoadedMr>(ctx: RequestContext, mr: T | undefined): T {
  if (!mr) throw notFound(MESSAGES.notFound);
  const missing = missingReferences(mr);
  if (missing.length) {
    ctx.log.error({ medication_request_id: mr.id, missing }, 'medication request references missing registry rows');
    throw errorOfStatus(500, `Could not load remote reference for medication_request ${mr.id}`);
  }
  return mr;
}

/**
 * Round trips: one statement reads everything checks 3–9 need (the MR's own row, its person and the
 * person's authentication methods, the MR's SMS timeout window without a lock, the registry version
 * that validates the cached reference rows); checks 3–8 run on it in JS;
 * a 429 is answered from it when the window is already full; otherwise ONE more statement records the
 * attempt and the outbox row atomically. The delivery job is made by the outbox relay, nudged after
 * the statement committed. (docs/decisions.md (ePrescription), "Resend hot path")
 */
export async function resendMedicationRequest(ctx: RequestContext, rawId: string) {
  const { platform, auth } = ctx;
  const { db, config, queue } = platform;
  const limit: Omit<SmsTimeoutParams, 'entityId'> = {
    entityName: ENTITY_NAME,
    maxAttempts: config.MR_MAX_ATTEMPTS_COUNT,
    sendTimeoutSeconds: config.MR_SEND_TIMEOUT,
  };
  // 1. token valid and not expired → 401 "Invalid access token"            (platform onRequest hook)
  // 2. scope medication_request:resend → 403 "Your scope does not allow …" (platform onRequest hook)
  // 3. MR exists in the OPS store (and is the caller's) → 404 "Not found"
  const loaded = await medicationRequestReaderOf(platform).read(rawId, auth.legalEntityId, limit);
  const mr = checkVisible(ctx, loaded?.mr);
  const { methods, window } = loaded!;
  // 4. intent = order → 409 "For medication request plan information cannot be resent"
  if (mr.intent !== 'order') throw conflict(MESSAGES.plan);
  // 5. status = ACTIVE → 409 "Invalid status Medication request for resend action!"
  if (mr.status !== 'ACTIVE') throw conflict(MESSAGES.status);
  // 6. medical program allows notifications → 409 "Notifications are not allowed for the medical program!"
  if (mr.medical_program_id && notificationsDisabled(mr.medical_program?.medical_program_settings))
    throw conflict(MESSAGES.programNotifications);
  // 7. verification code present → 403 "Can't resend Medication request without verification code!"
  if (mr.verification_code === null || mr.verification_code === '') throw forbidden(MESSAGES.noVerificationCode);
  // 8. person's default auth method is OTP, or THIRD_PERSON with an OTP third person → 409 "Person or third person has no OTP auth method"
  const recipient = otpRecipientOf(methods);
  if (!recipient) throw conflict(MESSAGES.noOtp);
  // 9. SMS timeout procedure (MR_MAX_ATTEMPTS_COUNT, MR_SEND_TIMEOUT, "medication_request", MR id) → 429 "Sending SMS timeout. …"
  //    a) Lock-free pre-check on the window read in step 3. Within a window, the set of live attempts
  //       only grows by commits of other callers until its oldest attempt expires, and the read saw only
  //       committed attempts younger than SEND_TIMEOUT at its clock. So when that read already counts
  //       ≥ MAX, the locked procedure run at that moment would have refused too: answering 429 here is
  //       never a false refusal (and never admits anything). The next-attempt time is the same as the
  //       locked path's: oldest live attempt + SEND_TIMEOUT. A read with room proves nothing (others may
  //       be committing right now), so that case always goes through b).
  if (window.live >= limit.maxAttempts) throw windowFullError(window, limit.sendTimeoutSeconds);
  // 10. SMS text from sign_template_sms, filled from the MR (rendered before b) so b) is one statement)
  const body = renderSignSms(signTemplate(platform, mr), mr);
  //    b) + 11. ONE statement: the per-entity advisory lock, the re-count, and either the 429 (nothing
  //       recorded) or the attempt AND the outbox row to the person's (or third person's) OTP phone. Run
  //       on the pool, outside any transaction: the statement's implicit transaction holds the lock until
  //       it commits, so concurrent resends of this MR (in any process) are serialised and each counts
  //       the previous one's committed attempt.
  await recordAttemptAndEnqueueSms(db, { ...limit, entityId: mr.id }, { phoneNumber: recipient.phone_number, body });
  // the outbox row is committed: let the relay turn it into a delivery job now (not awaited)
  void nudgeSmsRelay(queue);
  return renderMedicationRequest(mr);
}
