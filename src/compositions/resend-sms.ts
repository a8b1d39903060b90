/**
 * Resend SMS on Composition: PATCH /api/patients/{patient_id}/compositions/{composition_id}/actions/resend
 * (API-007-009-0013), and the first SMS, sent when a composition becomes FINAL (informOnFinal, called by
 * sign.ts). The checks run in the published order; each is one numbered step below and the first
 * failing one answers on the call. docs/composition-sms.md has the texts and the decisions.
 */
import type { Config } from '../platform/config.ts';
import type { Db } from '../platform/db.ts';
import type { RequestContext } from '../platform/context.ts';
import { conflict, notFound } from '../platform/errors.ts';
import { UUID_RE } from '../platform/uuid.ts';
import { checkSmsTimeout, type SmsTimeoutParams } from '../platform/sms/sms-timeout.ts';
import { enqueueSms, nudgeSmsRelay } from '../platform/sms/outbox.ts';
import { MESSAGES } from './messages.ts';
import { compositionPath } from './document.ts';
import { smsPhoneOfAuthMethod } from './composition-store.ts';
import { lockedStatus, readResendFacts } from './sms-store.ts';
import { insertDoneResendSmsJob } from './job-store.ts';
import type { JobState } from './schemas.ts';

/** entity_name of the SMS timeout procedure and of the outbox rows. */
export const SMS_ENTITY = 'composition';

/** CREATE_<type>_COMPOSITION_SMS_TEMPLATE of the type, or undefined for a type without one (DRIVERS). */
export function createSmsTemplate(config: Config, type: string): string | undefined {
  if (type === 'TEMP_DISABILITY') return config.CREATE_TEMP_DISABILITY_COMPOSITION_SMS_TEMPLATE;
  if (type === 'NEWBORN') return config.CREATE_NEWBORN_COMPOSITION_SMS_TEMPLATE;
  return undefined;
}

/** The one placeholder of the composition templates: the composition's number (its title). */
export const renderCompositionSms = (template: string, title: string) => template.replaceAll('<composition_number>', title);

interface InformingDocument {
  title?: unknown;
  extension?: { valueCode?: unknown; valueUuid?: unknown }[];
  section?: { focus?: { value?: unknown } };
}

/** The authentication method the document's INFORM_WITH extension names, or null. */
export function informWithOf(doc: InformingDocument): string | null {
  const ext = Array.isArray(doc.extension) ? doc.extension.find((e) => e?.valueCode === 'INFORM_WITH') : undefined;
  return typeof ext?.valueUuid === 'string' ? ext.valueUuid : null;
}

/**
 * An SMS about a composition to the phone of the method INFORM_WITH names (an active, unended method of
 * the subject or the focus: OTP, or THIRD_PERSON with an OTP confidant), written in `tx`. Nothing is
 * written, and false returned, when the document names no such method. cancel.ts and informOnFinal use it.
 */
export async function enqueueCompositionSms(
  tx: Db,
  c: { id: string; document: InformingDocument; personIds: (string | null)[]; template: string },
): Promise<boolean> {
  const methodId = informWithOf(c.document);
  // ids that are not UUIDs name nobody (and must not fail the uuid[] cast of the caller's transaction)
  const people = c.personIds.filter((p): p is string => typeof p === 'string' && UUID_RE.test(p));
  const phone = methodId ? await smsPhoneOfAuthMethod(tx, methodId, people) : null;
  if (!phone) return false;
  const title = typeof c.document.title === 'string' ? c.document.title : '';
  await enqueueSms(tx, { phoneNumber: phone, body: renderCompositionSms(c.template, title), entityName: SMS_ENTITY, entityId: c.id });
  return true;
}

/**
 * The first SMS, in the transaction that makes the composition FINAL (sign.ts). A composition whose
 * INFORM_WITH is missing, gone, inactive or without an OTP phone, or whose type has no template, gets
 * none: the SMS is skipped, never the sign. It is not an attempt of the SMS timeout procedure (only
 * resends are). Returns whether an SMS was written (the caller nudges the relay after the commit).
 */
export async function informOnFinal(
  tx: Db,
  config: Config,
  c: { id: string; type_code: string; document: InformingDocument; subject_id: string },
): Promise<boolean> {
  const template = createSmsTemplate(config, c.type_code);
  if (template === undefined) return false;
  // the person on leave (section.focus) may be another person than the subject (CHILD_CARE: the parent)
  const focus = c.document.section?.focus?.value;
  const personIds = [c.subject_id, typeof focus === 'string' ? focus : null];
  return enqueueCompositionSms(tx, { id: c.id, document: c.document, personIds, template });
}

/** ME_ALLOWED_TRANSACTIONS_LE_TYPES as a list. */
const allowedLeTypes = (config: Config) => config.ME_ALLOWED_TRANSACTIONS_LE_TYPES.split(',');

/**
 * The checks answer on the call; success is 202 with a job written DONE with the SMS (kind RESEND_SMS:
 * the SMS is in the outbox, delivered asynchronously), which the client can poll like any job.
 */
export async function resendCompositionSms(ctx: RequestContext, patientId: string, compositionId: string): Promise<JobState> {
  const { platform, auth } = ctx;
  const { db, config, queue } = platform;
  // 1. token valid and not expired → 401 "Invalid access token"                         (platform onRequest hook)
  // 2. scope composition:resend_sms → 403 "Your scope does not allow … composition:resend_sms" (platform onRequest hook)
  const facts = await readResendFacts(db, patientId, compositionId, auth.legalEntityId);
  // 3. the patient is a person (or a preperson) → 404 "Not found"
  if (!facts.person && !facts.preperson) throw notFound(MESSAGES.smsNotFound);
  // 4. a preperson (no MPI authentication methods): every step below is skipped, nothing is sent → success
  if (!facts.person) return db.transaction((tx) => insertDoneResendSmsJob(tx, auth, null, []));
  // 5. the composition exists, is the caller's, and the patient is its subject or focus → 404 "Not found"
  const c = facts.composition;
  if (!c) throw notFound(MESSAGES.smsNotFound);
  // 6. it is FINAL (published: not ENTERED_IN_ERROR) → 409 "You can not resend SMS for Composition in status <status>"
  if (c.status !== 'FINAL') throw conflict(MESSAGES.smsStatus(c.status));
  // 7. the caller's legal entity is of a type in ME_ALLOWED_TRANSACTIONS_LE_TYPES and active
  //    → 409 "Action is not allowed for the legal entity"
  const le = facts.legal_entity;
  if (!le || !allowedLeTypes(config).includes(le.type) || le.status !== 'ACTIVE' || !le.is_active)
    throw conflict(MESSAGES.legalEntityNotAllowed);
  const limit: SmsTimeoutParams = {
    entityName: SMS_ENTITY,
    entityId: compositionId.toLowerCase(),
    maxAttempts: config.COMPOSITION_MAX_ATTEMPTS_COUNT,
    sendTimeoutSeconds: config.COMPOSITION_SEND_TIMEOUT,
  };
  const document = JSON.parse(c.document) as InformingDocument;
  const href = compositionPath({ subjectId: c.subject_id, encounterId: c.encounter_id, id: limit.entityId });
  const job = await db.transaction(async (tx) => {
    // 6 again, under the row's lock: a cancel committed since the read above is seen, so no "created" SMS
    // goes out for a cancelled conclusion
    const status = await lockedStatus(tx, limit.entityId);
    if (status !== 'FINAL') throw conflict(MESSAGES.smsStatus(status ?? c.status));
    // 8. SMS timeout procedure (COMPOSITION_MAX_ATTEMPTS_COUNT, COMPOSITION_SEND_TIMEOUT, "composition", id)
    //    → 429 "Sending SMS timeout. Try later. Next attempt will be available at <time>". The attempt is
    //    recorded under the entity's lock; a later check failing rolls the transaction back, so a refused
    //    resend gives its attempt back.
    await checkSmsTimeout(tx, limit);
    // 9. INFORM_WITH names an active, unended method of the subject or focus, OTP or THIRD_PERSON with an
    //    OTP confidant → 409 "Authentication method doesn't exist or is inactive"
    const methodId = informWithOf(document);
    const phone = methodId ? await smsPhoneOfAuthMethod(tx, methodId, [c.subject_id, c.focus_id]) : null;
    if (!phone) throw conflict(MESSAGES.authMethodInactive);
    // 10. the SMS from CREATE_<type>_COMPOSITION_SMS_TEMPLATE into the outbox (a type without a template
    //     → 409 "SMS is not provided for Composition of type <type>")
    const template = createSmsTemplate(config, c.type_code);
    if (template === undefined) throw conflict(MESSAGES.smsTypeNotSupported(c.type_code));
    await enqueueSms(tx, {
      phoneNumber: phone,
      body: renderCompositionSms(template, c.title),
      entityName: SMS_ENTITY,
      entityId: limit.entityId,
    });
    // the job the 202 names, DONE with the SMS
    return insertDoneResendSmsJob(tx, auth, limit.entityId, [{ entity: 'composition', href }]);
  });
  // the outbox row is committed: let the relay turn it into a delivery job now (not awaited)
  void nudgeSmsRelay(queue);
  ctx.log.info({ composition_id: limit.entityId }, 'composition SMS resent');
  return job;
}
