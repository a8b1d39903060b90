/**
 * The JSON exchange with ERLN (the Pension Fund's register of sick-leave certificates), as esoz-core
 * speaks it over the `http` adapter and as `npm run erln-sim` answers it (docs/erln.md).
 *
 * ESOZ talks to ERLN over Trembita with a schema that is not published; the field names below are the
 * dictionaries the published ESOZ ↔ ERLN pages list (REQUEST_TYPE, DP_DOCTYPE, DP_IPN_NO, DP_SEX,
 * INCIDENT_TYPE, INCIDENT_CATEGORY, IS_ABROAD, IS_ACCIDENT, VIOLATION_*, SIGN_ANLK_NARKOTIK_INTOXICATION,
 * DOCTOR_IPN_NO, RESULT, CANCEL_REASON). Numeric values are only those the sources give; where a
 * composition value has no published ERLN number the field is null and the ESOZ code travels beside it.
 */
import { Type, type Static } from 'typebox';

const Flag = Type.Union([Type.Literal(0), Type.Literal(1)]);
const Text = (maxLength = 255) => Type.String({ maxLength });
const Day = Type.String({ format: 'date', maxLength: 10 });

/** REQUEST_TYPE: 1 new, 2 continuation of the case, 3 shortening of the term, 4 new conclusion as a continuation (long illness). */
export const REQUEST_TYPES = { NEW: 1, CONTINUATION: 2, SHORTENING: 3, NEW_AS_CONTINUATION: 4 } as const;
export type RequestType = (typeof REQUEST_TYPES)[keyof typeof REQUEST_TYPES];

/** INCIDENT_TYPE 1: "Медичний висновок про тимчасову непрацездатність". */
export const INCIDENT_TYPE_TEMP_DISABILITY = 1;

/**
 * INCIDENT_CATEGORY by composition category: 1 general illness or injury, 2 care of a sick child,
 * 3 care of a sick family member. The published list is cut off after 4 ("Необхідність догляду за
 * дитиною…"), so the other categories carry null and their ESOZ code in CATEGORY.
 */
export const INCIDENT_CATEGORIES: Readonly<Record<string, number>> = { SICKNESS: 1, CHILD_CARE: 2, FAMILY_CARE: 3 };

/** DP_DOCTYPE by MPI document type (the seven published values). */
export const DOCUMENT_TYPES: Readonly<Record<string, number>> = {
  PASSPORT: 1,
  NATIONAL_ID: 2,
  BIRTH_CERTIFICATE: 3,
  TEMPORARY_CERTIFICATE: 4,
  PERMANENT_RESIDENCE_PERMIT: 5,
  REFUGEE_CERTIFICATE: 6,
  COMPLEMENTARY_PROTECTION_CERTIFICATE: 7,
};

export const ErlnCreateRequest = Type.Object(
  {
    REQUEST_TYPE: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3), Type.Literal(4)]),
    COMPOSITION_ID: Type.String({ format: 'uuid' }),
    COMPOSITION_NUMBER: Text(64),
    /** The SL number this one continues or shortens (REQUEST_TYPE 2–4). */
    PREVIOUS_SL_NUM: Type.Union([Text(64), Type.Null()]),
    PATIENT: Type.Object({
      PERSON_ID: Type.String({ format: 'uuid' }),
      LAST_NAME: Text(),
      FIRST_NAME: Text(),
      SECOND_NAME: Type.Union([Text(), Type.Null()]),
      BIRTH_DATE: Day,
      DP_SEX: Flag,
      DP_IPN_NO: Flag,
      IPN: Type.Union([Text(16), Type.Null()]),
      DP_DOCTYPE: Type.Union([Type.Integer({ minimum: 1, maximum: 7 }), Type.Null()]),
      DOC_NUMBER: Type.Union([Text(64), Type.Null()]),
    }),
    INCIDENT_TYPE: Type.Literal(INCIDENT_TYPE_TEMP_DISABILITY),
    INCIDENT_CATEGORY: Type.Union([Type.Integer({ minimum: 1, maximum: 4 }), Type.Null()]),
    CATEGORY: Text(64),
    PERIOD_START: Day,
    PERIOD_END: Day,
    IS_ACCIDENT: Flag,
    IS_ABROAD: Flag,
    SIGN_ANLK_NARKOTIK_INTOXICATION: Flag,
    VIOLATION_TYPE: Type.Union([Text(), Type.Null()]),
    VIOLATION_DATE: Type.Union([Day, Type.Null()]),
    DOCTOR: Type.Object({
      EMPLOYEE_ID: Type.String({ format: 'uuid' }),
      DOCTOR_IPN_NO: Flag,
      IPN: Type.Union([Text(16), Type.Null()]),
    }),
    LEGAL_ENTITY_ID: Type.String({ format: 'uuid' }),
  },
  { additionalProperties: false },
);
export type ErlnCreateRequest = Static<typeof ErlnCreateRequest>;

export const ErlnCancelRequest = Type.Object(
  {
    COMPOSITION_ID: Type.String({ format: 'uuid' }),
    SL_NUM: Text(64),
    /** The ESOZ cancellation reason code (COMPOSITION_CANCELLATION_REASONS_*). */
    CANCEL_REASON: Text(64),
    CANCEL_TEXT: Text(2000),
  },
  { additionalProperties: false },
);
export type ErlnCancelRequest = Static<typeof ErlnCancelRequest>;

/** ERLN's answer: accepted or a business rejection; RESULT is ERLN's code when one is published. */
export const ErlnReply = Type.Object(
  {
    ACCEPTED: Type.Boolean(),
    RESULT: Type.Union([Type.Integer({ minimum: 0, maximum: 99999 }), Type.Null()]),
    MESSAGE: Text(2000),
    SL_NUM: Type.Union([Text(64), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ErlnReply = Static<typeof ErlnReply>;

/** RESULT 1101 "ЕЛН створено успішно" and 1000 "Неочікувана помилка при створенні" (ERLN's RESULT dictionary). */
export const RESULT_CREATED = 1101;
export const RESULT_CREATED_MESSAGE = 'ЕЛН створено успішно';
export const RESULT_UNEXPECTED = 1000;
export const RESULT_UNEXPECTED_MESSAGE = 'Неочікувана помилка при створенні';
