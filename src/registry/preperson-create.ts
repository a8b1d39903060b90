/**
 * POST /api/prepersons (Create preperson): an unidentified patient, known to the MIS by its
 * `external_id`; no digital signature. Each check is one numbered step, in the published order where
 * there is one; the first failing one answers.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../platform/context.ts';
import { errorOfStatus } from '../platform/errors.ts';
import { checkBirthDate, checkExternalId, checkGender, checkPhoneTypes, todayInKyiv } from './preperson-checks.ts';
import { insertPreperson, type PrepersonView } from './preperson-store.ts';
import type { CreatePrepersonBody } from './preperson-schemas.ts';
import { auditUser } from './preperson-read.ts';

/** Ids drawn before giving up; a UUID v4 that is already taken is practically impossible. */
const ID_ATTEMPTS = 5;

export async function createPreperson(ctx: RequestContext, body: CreatePrepersonBody): Promise<PrepersonView> {
  const { db } = ctx.platform;
  // 1. token valid and not expired → 401 "Invalid access token"                     (platform onRequest hook)
  // 2. scope preperson:write → 403 "Your scope does not allow …"                    (platform onRequest hook)
  //    (the allowed employee and legal-entity types are the roles that hold this scope: docs/prepersons.md)
  // 3. body is Preperson_base + note: external_id and gender present, types, formats, no other field
  //    → 422 validation_failed                                                      (HTTP layer, preperson-schemas.ts)
  // 4. external_id is not blank → 422 "external_id should not be empty"
  checkExternalId(body.external_id);
  // 5. birth_date not after today → 422 "Birth date can't be in the future"
  checkBirthDate(body.birth_date, todayInKyiv());
  // 6. gender is an active value of GENDER → 422 inclusion
  await checkGender(db, body.gender);
  // 7. the emergency contact's phone types are active values of PHONE_TYPE → 422 inclusion
  await checkPhoneTypes(db, body.emergency_contact);
  // 8. a new id that is no MPI person's (nor another preperson's), and the row: ACTIVE, created by the token's user
  for (let attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
    const created = await insertPreperson(db, randomUUID(), body, auditUser(ctx));
    if (created) return created;
  }
  throw errorOfStatus(500, 'Could not generate a preperson id');
}
