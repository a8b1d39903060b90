/**
 * PATCH /api/medication_requests/{id}/actions/resend (seed 003, API-005-008-002-0150).
 * The checks run in the seed's order; each is one numbered step below, and the first failing one
 * answers. Steps 1–2 are the platform's onRequest hook (token → api-key → scope).
 */
import type { Platform } from '../platform/platform.ts';
import type { AuthContext } from '../platform/auth.ts';
import { conflict, forbidden, notFound, errorOfStatus } from '../platform/errors.ts';
import { checkSmsTimeout } from '../platform/sms/sms-timeout.ts';
import { enqueueSms } from '../platform/sms/outbox.ts';
import { findOtpRecipient } from '../registry/mpi.ts';
import { loadMedicationRequest, missingReferences, renderMedicationRequest, type LoadedMr } from './view.ts';

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
export async function findVisibleMr(platform: Platform, auth: AuthContext, rawId: string): Promise<LoadedMr> {
  const mr = await loadMedicationRequest(platform.db, rawId, auth.legalEntityId);
  if (!mr) throw notFound(MESSAGES.notFound);
  const missing = missingReferences(mr);
  if (missing.length) {
    platform.log.error({ medication_request_id: mr.id, missing }, 'medication request references missing registry rows');
    throw errorOfStatus(500, `Could not load remote reference for medication_request ${mr.id}`);
  }
  return mr;
}

export async function resendMedicationRequest(platform: Platform, auth: AuthContext, rawId: string) {
  const { db, config, queue } = platform;
  // 1. token valid and not expired → 401 "Invalid access token"            (platform onRequest hook)
  // 2. scope medication_request:resend → 403 "Your scope does not allow …" (platform onRequest hook)
  // 3. MR exists in the OPS store (and is the caller's) → 404 "Not found"
  const mr = await findVisibleMr(platform, auth, rawId);
  // 4. intent = order → 409 "For medication request plan information cannot be resent"
  if (mr.intent !== 'order') throw conflict(MESSAGES.plan);
  // 5. status = ACTIVE → 409 "Invalid status Medication request for resend action!"
  if (mr.status !== 'ACTIVE') throw conflict(MESSAGES.status);
  // 6. medical program allows notifications → 409 "Notifications are not allowed for the medical program!"
  if (mr.medical_program_id && notificationsDisabled(mr.medical_program?.medical_program_settings)) throw conflict(MESSAGES.programNotifications);
  // 7. verification code present → 403 "Can't resend Medication request without verification code!"
  if (mr.verification_code === null || mr.verification_code === '') throw forbidden(MESSAGES.noVerificationCode);
  // 8. person's default auth method is OTP, or THIRD_PERSON with an OTP third person → 409 "Person or third person has no OTP auth method"
  const recipient = await findOtpRecipient(db, mr.person_id);
  if (!recipient) throw conflict(MESSAGES.noOtp);
  await db.transaction(async (tx) => {
    // 9. SMS timeout procedure (MR_MAX_ATTEMPTS_COUNT, MR_SEND_TIMEOUT, "medication_request", MR id) → 429 "Sending SMS timeout. …"
    await checkSmsTimeout(tx, {
      entityName: ENTITY_NAME,
      entityId: mr.id,
      maxAttempts: config.MR_MAX_ATTEMPTS_COUNT,
      sendTimeoutSeconds: config.MR_SEND_TIMEOUT,
    });
    // 10. SMS text from sign_template_sms, filled from the MR
    const body = renderSignSms(signTemplate(platform, mr), mr);
    // 11. queue the SMS to the person's (or the third person's) OTP phone — same transaction as the attempt
    await enqueueSms(queue, tx, { phoneNumber: recipient.phone_number, body, entityName: ENTITY_NAME, entityId: mr.id });
  });
  return renderMedicationRequest(mr);
}
