/**
 * PATCH /api/prepersons/{id} (Update preperson): every field but `note` and `status`. The checks are
 * the published ones in the published order, each one numbered step; the first failing one answers.
 * Steps 4–14 run in one transaction with the preperson's row locked, so a concurrent update that
 * makes it INACTIVE is seen by the status check.
 */
import type { RequestContext } from '../platform/context.ts';
import { errorOfStatus, invalidField, notFound, validationFailed } from '../platform/errors.ts';
import { checkBirthDate, checkExternalId, checkGender, checkPhoneTypes, todayInKyiv } from './preperson-checks.ts';
import { lockPreperson, updatePreperson, type PrepersonChanges, type PrepersonView } from './preperson-store.ts';
import { FORBIDDEN_UPDATE_FIELDS, MESSAGES, UPDATABLE_FIELDS, type UpdatePrepersonBody } from './preperson-schemas.ts';
import { auditUser } from './preperson-read.ts';

export async function updatePrepersonById(ctx: RequestContext, id: string, body: UpdatePrepersonBody): Promise<PrepersonView> {
  // 1. token valid and not expired → 401 "Invalid access token"                     (platform onRequest hook)
  // 2. scope preperson:write → 403 "Your scope does not allow …"                    (platform onRequest hook)
  // 3. body shape: types, formats, no field outside Preperson_base + death_date, note, status
  //    → 422 validation_failed                                                      (HTTP layer, preperson-schemas.ts)
  const today = todayInKyiv();
  return ctx.platform.db.transaction(async (tx) => {
    // 4. the preperson exists (and MPI keeps it: is_active) → 404 "Preperson not found"
    const stored = await lockPreperson(tx, id);
    if (!stored) throw notFound(MESSAGES.notFound);
    // 5. its status is ACTIVE → 422 "Preperson is not active"
    if (stored.status !== 'ACTIVE') throw errorOfStatus(422, MESSAGES.notActive);
    // 6. at least one updatable field is submitted → 422 validation_failed (schema validation failed)
    if (!UPDATABLE_FIELDS.some((f) => body[f] !== undefined))
      throw validationFailed([invalidField('$', MESSAGES.noAllowedField, 'required', [...UPDATABLE_FIELDS])]);
    // 7. neither note nor status is submitted → 422 validation_failed (schema validation failed)
    const forbidden = FORBIDDEN_UPDATE_FIELDS.filter((f) => body[f] !== undefined);
    if (forbidden.length)
      throw validationFailed(
        forbidden.map((f) => invalidField(`$.${f}`, MESSAGES.forbiddenField, 'schema_does_not_allow_additional_properties')),
      );
    // 8. external_id, when given, is not blank → 422 "external_id should not be empty"
    checkExternalId(body.external_id);
    // 9. birth_date not after today → 422 "Birth date can't be in the future"
    checkBirthDate(body.birth_date, today);
    // 10. death_date not after today → 422 "Death date can not be in future"
    if (body.death_date !== undefined && body.death_date > today)
      throw validationFailed([invalidField('$.death_date', MESSAGES.deathDateInFuture)]);
    // 11. death_date not before the birth date (the one given, else the stored one)
    //     → 422 "Death date should equal or greater than birth_date"
    const birthDate = body.birth_date ?? stored.birth_date;
    if (body.death_date !== undefined && birthDate !== null && body.death_date < birthDate)
      throw validationFailed([invalidField('$.death_date', MESSAGES.deathBeforeBirth)]);
    // 12. gender, when given, is an active value of GENDER → 422 inclusion
    await checkGender(tx, body.gender);
    // 13. the emergency contact's phone types are active values of PHONE_TYPE → 422 inclusion
    await checkPhoneTypes(tx, body.emergency_contact);
    // 14. the write: the given fields, updated_by the token's user; a death_date makes it INACTIVE
    const changes: PrepersonChanges = {};
    for (const f of UPDATABLE_FIELDS) if (body[f] !== undefined) Object.assign(changes, { [f]: body[f] });
    return updatePreperson(tx, id, changes, auditUser(ctx));
  });
}
