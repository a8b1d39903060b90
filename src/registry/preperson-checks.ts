/**
 * Field checks the create and the update of a preperson share. Each answers one 422 for the first
 * problem it finds; the methods call them as their numbered steps.
 */
import type { Db } from '../platform/db.ts';
import { validationFailed, invalidField } from '../platform/errors.ts';
import { dictionaryCodes } from './dictionaries.ts';
import { MESSAGES } from './preperson-schemas.ts';

const kyivDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Kyiv', year: 'numeric', month: '2-digit', day: '2-digit' });

/**
 * Today as `YYYY-MM-DD` in Kyiv: a birth or death date is a calendar day where the patient is, so a
 * date that is already today in Ukraine is not "in the future" even while it is yesterday in UTC.
 */
export function todayInKyiv(now = new Date()): string {
  return kyivDay.format(now);
}

/** external_id, when given, has a non-blank value → 422 "external_id should not be empty". */
export function checkExternalId(externalId: string | undefined) {
  if (externalId !== undefined && externalId.trim() === '')
    throw validationFailed([invalidField('$.external_id', MESSAGES.externalIdEmpty, 'length', [])]);
}

/** A birth date, when given, is not after today → 422 "Birth date can't be in the future". */
export function checkBirthDate(birthDate: string | undefined, today: string) {
  if (birthDate !== undefined && birthDate > today) throw validationFailed([invalidField('$.birth_date', MESSAGES.birthDateInFuture)]);
}

/** gender, when given, is an active value of GENDER → 422 (rule inclusion, the allowed values as params). */
export async function checkGender(db: Db, gender: string | undefined) {
  if (gender === undefined) return;
  const codes = (await dictionaryCodes(db, 'GENDER')) ?? new Set<string>();
  if (!codes.has(gender)) throw validationFailed([invalidField('$.gender', MESSAGES.notInDictionary, 'inclusion', [...codes].sort())]);
}

/** Every phone type of the emergency contact is an active value of PHONE_TYPE → 422 (rule inclusion). */
export async function checkPhoneTypes(db: Db, contact: { phones: { type: string }[] } | undefined) {
  if (!contact) return;
  const codes = (await dictionaryCodes(db, 'PHONE_TYPE')) ?? new Set<string>();
  const invalid = contact.phones.flatMap((p, i) =>
    codes.has(p.type)
      ? []
      : [invalidField(`$.emergency_contact.phones[${i}].type`, MESSAGES.notInDictionary, 'inclusion', [...codes].sort())],
  );
  if (invalid.length) throw validationFailed(invalid);
}
