/**
 * An МВТН as ERLN receives it (contract.ts). The person on leave is the composition's
 * `section.focus` (for care categories the subject is the sick child or relative); the doctor is its
 * author. Dates are calendar days in Kyiv: a validity period ending 2026-09-05T20:59:59Z ends on the 5th.
 */
import {
  DOCUMENT_TYPES,
  INCIDENT_CATEGORIES,
  INCIDENT_TYPE_TEMP_DISABILITY,
  REQUEST_TYPES,
  type ErlnCancelRequest,
  type ErlnCreateRequest,
  type RequestType,
} from './contract.ts';
import { appendsKind, dayOf, relatesToCode } from '../compositions/chains.ts';

export interface CreateInput {
  compositionId: string;
  /** The composition document as GET returns it. */
  document: CompositionDocumentLike;
  requestType: RequestType;
  previousSlNum: string | null;
  legalEntityId: string;
  patient: {
    id: string;
    first_name: string;
    last_name: string;
    second_name: string | null;
    birth_date: string;
    gender: string;
    tax_id: string | null;
    no_tax_id: boolean;
    documents: { type?: unknown; number?: unknown }[];
  };
  doctor: { employee_id: string; tax_id: string | null; no_tax_id: boolean };
  /** A chain link: the composition it appends to or replaces, and the SL number ERLN gave that one. */
  previous?: { code: string; document: CompositionDocumentLike; slNum: string | null } | null;
}

interface Coding {
  coding?: { code?: string }[];
}
export interface CompositionDocumentLike {
  title?: string;
  category?: Coding;
  event?: { code?: Coding; period?: { start?: string; end?: string | null } }[];
  extension?: { valueCode?: string; valueBoolean?: boolean; valueString?: string; valueDate?: string }[];
}

/** `YYYY-MM-DD` of an ISO date-time in Kyiv (a bare date is kept). */
export const kyivDate = dayOf;

const flag = (b: boolean | undefined): 0 | 1 => (b ? 1 : 0);

/**
 * REQUEST_TYPE and PREVIOUS_SL_NUM of a composition (docs/erln.md): 1 for a new one, a refinement
 * (RC_6: the preperson's had no record) and a replacement (RC_7: the replaced record was cancelled);
 * an "appends" link (RC_5) is 2 (extension: starts the day after the previous one ends), 4 (an
 * extension marked IS_FORCE_RENEW: a new conclusion registered as a continuation) or 3 (reduction:
 * same start, earlier end), with the previous link's SL number.
 */
export function erlnRequestType(input: Pick<CreateInput, 'document' | 'previous'>): {
  requestType: RequestType;
  previousSlNum: string | null;
} {
  const prev = input.previous;
  if (!prev || relatesToCode(prev.code) !== 'appends') return { requestType: REQUEST_TYPES.NEW, previousSlNum: null };
  const kind = appendsKind(prev.document.event, input.document.event);
  const forceRenew = input.document.extension?.find((e) => e.valueCode === 'IS_FORCE_RENEW')?.valueBoolean === true;
  const requestType =
    kind === 'REDUCTION' ? REQUEST_TYPES.SHORTENING : forceRenew ? REQUEST_TYPES.NEW_AS_CONTINUATION : REQUEST_TYPES.CONTINUATION;
  return { requestType, previousSlNum: prev.slNum };
}

export function erlnCreateRequest(input: CreateInput): ErlnCreateRequest {
  const doc = input.document;
  const category = doc.category?.coding?.[0]?.code ?? '';
  const validity = doc.event?.find((e) => e.code?.coding?.[0]?.code === 'COMPOSITION_VALIDITY_PERIOD')?.period ?? doc.event?.[0]?.period;
  const ext = (code: string) => doc.extension?.find((e) => e.valueCode === code);
  const p = input.patient;
  const document = p.documents.find((d) => typeof d.type === 'string' && DOCUMENT_TYPES[d.type] !== undefined);
  const start = validity?.start ? kyivDate(validity.start) : '';
  return {
    REQUEST_TYPE: input.requestType,
    COMPOSITION_ID: input.compositionId,
    COMPOSITION_NUMBER: doc.title ?? '',
    PREVIOUS_SL_NUM: input.previousSlNum,
    PATIENT: {
      PERSON_ID: p.id,
      LAST_NAME: p.last_name,
      FIRST_NAME: p.first_name,
      SECOND_NAME: p.second_name,
      BIRTH_DATE: p.birth_date,
      DP_SEX: p.gender === 'FEMALE' ? 0 : 1,
      DP_IPN_NO: flag(p.no_tax_id || !p.tax_id),
      IPN: p.no_tax_id ? null : p.tax_id,
      DP_DOCTYPE: document ? (DOCUMENT_TYPES[String(document.type)] ?? null) : null,
      DOC_NUMBER: document ? String(document.number ?? '') : null,
    },
    INCIDENT_TYPE: INCIDENT_TYPE_TEMP_DISABILITY,
    INCIDENT_CATEGORY: INCIDENT_CATEGORIES[category] ?? null,
    CATEGORY: category,
    PERIOD_START: start,
    PERIOD_END: validity?.end ? kyivDate(validity.end) : start,
    IS_ACCIDENT: flag(ext('IS_ACCIDENT')?.valueBoolean),
    IS_ABROAD: flag(ext('IS_FOREIGN_TREATMENT')?.valueBoolean),
    SIGN_ANLK_NARKOTIK_INTOXICATION: flag(ext('IS_INTOXICATED')?.valueBoolean),
    VIOLATION_TYPE: ext('TREATMENT_VIOLATION')?.valueString ?? null,
    VIOLATION_DATE: ext('TREATMENT_VIOLATION_DATE')?.valueDate ? kyivDate(String(ext('TREATMENT_VIOLATION_DATE')?.valueDate)) : null,
    DOCTOR: {
      EMPLOYEE_ID: input.doctor.employee_id,
      DOCTOR_IPN_NO: flag(input.doctor.no_tax_id || !input.doctor.tax_id),
      IPN: input.doctor.no_tax_id ? null : input.doctor.tax_id,
    },
    LEGAL_ENTITY_ID: input.legalEntityId,
  };
}

export function erlnCancelRequest(input: {
  compositionId: string;
  slNum: string;
  reason: { coding?: { code?: string }[]; text?: string } | null;
}): ErlnCancelRequest {
  return {
    COMPOSITION_ID: input.compositionId,
    SL_NUM: input.slNum,
    CANCEL_REASON: input.reason?.coding?.[0]?.code ?? '',
    CANCEL_TEXT: input.reason?.text ?? '',
  };
}
