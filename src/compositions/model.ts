import type { Config } from '../platform/config.ts';
import { maxDurationDays } from '../platform/config.ts';
/** Constants of the Compositions capability: codes, categories, error codes, queue names. */

export const QUEUE_PROCESS = 'compositions-jobs';
export const QUEUE_MAINTENANCE = 'compositions-maintenance';

export const JOB_STATUS = ['PENDING', 'DONE', 'FAILED'] as const;
export type JobStatus = (typeof JOB_STATUS)[number];
/**
 * Every kind of composition job. A new kind is one entry here: the worker's switch does not compile
 * until it handles it, and the start-up check (job-store.ts, ensureJobKinds) adds its ETA statistics
 * row and refuses to start while the composition_jobs.kind CHECK constraint does not allow exactly these.
 */
export const JOB_KINDS = ['CREATE', 'SIGN', 'CANCEL', 'ERLN_RESEND', 'RESEND_SMS'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const COMPOSITION_STATUSES = ['PRELIMINARY', 'FINAL', 'AMENDED', 'ENTERED_IN_ERROR'] as const;

export const RESOURCES_SYSTEM = 'eHealth/resources';

/** EMAL_VALIDATION_CATEGORY_DISABILITY_CODES (МВТН categories). */
export const DISABILITY_CATEGORIES = [
  'SICKNESS',
  'CHILD_CARE',
  'FAMILY_CARE',
  'PARENTAL_CARE',
  'PREGNANCY',
  'QUARANTINE',
  'COVID19',
  'TEMP_TRANSFER',
  'PROSTHETIC',
  'RESTORATION',
];
/** EMAL_VALIDATION_CATEGORY_NEWBORN_CODES (МВН categories). */
export const NEWBORN_CATEGORIES = ['LIVE_BIRTH'];
/** Fallback dictionary values, used only while the registry has not seeded the dictionary. */
export const FALLBACK_DICTIONARIES: Record<string, string[]> = {
  COMPOSITION_TYPES: ['TEMP_DISABILITY', 'NEWBORN', 'DRIVERS'],
  COMPOSITION_CATEGORIES: [...DISABILITY_CATEGORIES, ...NEWBORN_CATEGORIES, 'DRIVERS_GROUP1', 'DRIVERS_GROUP2'],
  COMPOSITION_EVENTS: ['COMPOSITION_VALIDITY_PERIOD'],
  'eHealth/resources': ['person', 'preperson', 'encounter', 'employee', 'legal_entity', 'composition', 'episode_of_care'],
  'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY': [
    'INCORRECT_CATEGORY',
    'INCORRECT_DISABILITY_PERIOD',
    'INCORRECT_INOXICATION',
    'INCORRECT_OTHER',
    'INCORRECT_PATIENT',
    'INCORRECT_TRITMENT_VIOLATION',
  ],
  'eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN': ['INCORRECT_PATIENT', 'TYPO'],
};

/** Cancellation reason dictionary by composition type. */
export const CANCELLATION_REASON_SYSTEMS: Record<string, string> = {
  TEMP_DISABILITY: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY',
  NEWBORN: 'eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN',
};
/** EMAL_FILTER_CANCEL_TIMEOUT_*: days after signing within which a composition of the type can be cancelled. */
export function cancelTimeoutDays(config: Config, type: string): number | undefined {
  const setting =
    type === 'TEMP_DISABILITY'
      ? config.EMAL_FILTER_CANCEL_TIMEOUT_DISABILITY
      : type === 'NEWBORN'
        ? config.EMAL_FILTER_CANCEL_TIMEOUT_NEWBORN
        : undefined;
  return setting === undefined ? undefined : maxDurationDays(setting);
}

/** Categories allowed for a preperson subject of an МВТН. */
export const PREPERSON_CATEGORIES = ['SICKNESS', 'CHILD_CARE'];
/**
 * EMAL_VALIDATION_SUBJECT_FOCUS_REQUIRE_EQUALITY_BY_CATEGORY: categories where the patient is the
 * person on leave (subject == focus). Care categories (a carer on leave for a sick person) and the
 * newborn (focus = mother) are excluded.
 */
export const SUBJECT_FOCUS_EQUAL_CATEGORIES = [
  'SICKNESS',
  'PREGNANCY',
  'QUARANTINE',
  'COVID19',
  'TEMP_TRANSFER',
  'PROSTHETIC',
  'RESTORATION',
];

/** Extensions: valueCode → the value property it carries. */
export const EXTENSIONS: Record<string, 'valueUuid' | 'valueBoolean' | 'valueString' | 'valueDate' | 'valueCode'> = {
  INFORM_WITH: 'valueUuid',
  IS_ACCIDENT: 'valueBoolean',
  IS_INTOXICATED: 'valueBoolean',
  IS_FOREIGN_TREATMENT: 'valueBoolean',
  IS_FORCE_RENEW: 'valueBoolean',
  TREATMENT_VIOLATION: 'valueString',
  TREATMENT_VIOLATION_DATE: 'valueDate',
  NEWBORN_BIRTH_DATE: 'valueDate',
  NEWBORN_SEX: 'valueString',
};

/** Numbered task errors (esoz-docs §3.4) and this service's own job error codes (docs/decisions.md (Compositions)). */
export const TASK_ERRORS = {
  INVALID_NEWBORN_CATEGORY: 1081,
  INVALID_DISABILITY_CATEGORY: 1085,
  FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS: 1127,
  INVALID_REPLACEMENT_ARGUMENT: 1160,
  REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET: 1181,
  SUBJECT_FOCUS_EQUALITY_REQUIRED: 1182,
  COMPOSITION_ALREADY_EXISTS_FOR_SUBJECT: 1002,
  CANT_REPLACE_DIFFERENT_TYPE: 1146,
  COMPOSITION_NOT_FOUND: 1000,
  CANT_CANCEL_NONFINAL_COMPOSITION: 1003,
  INVALID_CANCELLATION_CODING: 1004,
  CANCELLATION_FOR_OUTDATED_COMPOSITION: 1005,
  CANCELLATION_FOR_RUNNING_TASK: 1006,
  INVALID_IDENTIFIER_IN_PAYLOAD: 1026,
  CANCELLATION_NOT_ALLOWED_ERLN_CALL_PENDING: 1130,
  CANCELLATION_NOT_ALLOWED_ERLN_CALL_IN_PROGRESS: 1131,
  CANT_CANCEL_NONAMENDED_COMPOSITION: 1136,
  CANT_CANCEL_NOT_FOUND: 1137,
  // published without its number: the job error carries code null and the name
  CANCELLATION_TEXT_NOT_PROVIDED: null,
  // МВТН chains (docs/compositions.md): 1153 and 1148 are published (1148's name is cut off after
  // "CANT_REPLA": the rest is ours); the others are this service's rules, named, without a number
  CANT_AMEND_IS_APPENDED: 1153,
  CANT_REPLACE_NOT_CANCELLED: 1148,
  REPLACEMENT_CANCELLATION_REASON_NOT_ALLOWED: null,
  REPLACEMENT_FOR_OUTDATED_CANCELLATION: null,
  APPENDS_DIFFERENT_SUBJECT: null,
  APPENDS_DIFFERENT_FOCUS: null,
  APPENDS_DIFFERENT_CATEGORY: null,
  APPENDS_FOR_OUTDATED_COMPOSITION: null,
  APPENDS_INVALID_PERIOD: null,
  APPENDS_TARGET_NOT_IN_ERLN: null,
  // sign task: HTTP-like codes, the type names the rule
  INVALID_SIGNED_DATA: 422,
  INVALID_SIGNATURE: 422,
  UNTRUSTED_SIGNER_CERTIFICATE: 422,
  SIGNED_CONTENT_MISMATCH: 422,
  SIGNER_MISMATCH: 422,
  INVALID_COMPOSITION_STATUS: 409,
  // RC_4's job: ERLN's own answer is in integrationData (statusCode, statusMessage)
  ERLN_REJECTED: 502,
  ERLN_UNREACHABLE: 503,
  JOB_TIMEOUT: 504,
  INTERNAL_ERROR: 500,
} as const;
export type TaskErrorType = keyof typeof TASK_ERRORS;
export const isTaskErrorType = (x: string): x is TaskErrorType => Object.hasOwn(TASK_ERRORS, x);

export interface JobError {
  code: number | null;
  type: TaskErrorType;
  message: string;
}

/** A business outcome that fails the job (never retried). */
export class TaskFailure extends Error {
  constructor(
    readonly type: TaskErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'TaskFailure';
  }
  toJSON(): JobError {
    return { code: TASK_ERRORS[this.type], type: this.type, message: this.message };
  }
}
