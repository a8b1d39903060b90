/**
 * getComposition (both paths) and searchComposition (both forms): the checks of a read, numbered in
 * the order they answer. The SQL is composition-store.ts's.
 */
import type { RequestContext } from '../platform/context.ts';
import { notFound, validationFailed } from '../platform/errors.ts';
import { UUID_RE } from '../platform/uuid.ts';
import { COMPOSITION_STATUSES } from './model.ts';
import { MESSAGES } from './messages.ts';
import { findForRead, searchDocuments, type CompositionForRead } from './composition-store.ts';
import type { SearchQuery } from './schemas.ts';

/** The composition document at a path (the async-job href, or the documented long path with the episode). */
export async function getComposition(
  ctx: RequestContext,
  id: string,
  match: { patientId: string; encounterId: string; episodeId?: string },
): Promise<unknown> {
  return JSON.parse((await compositionAt(ctx, id, match)).document);
}

/** The composition a read path names, after the checks every read of one composition makes. */
export async function compositionAt(
  ctx: RequestContext,
  id: string,
  match: { patientId: string; encounterId: string; episodeId?: string },
): Promise<CompositionForRead> {
  // 1. token, scope composition:read → 401 / 403                            (platform onRequest hook)
  // 2. every id of the path is a UUID → 404 "Composition not found"
  if (![id, match.patientId, match.encounterId, match.episodeId ?? id].every((v) => UUID_RE.test(v)))
    throw notFound(MESSAGES.compositionNotFound);
  // 3. the composition exists on this encounter of this patient (subject or focus) → 404
  const c = await findForRead(ctx.platform.db, id);
  if (!c || c.encounter_id !== match.encounterId || (c.subject_id !== match.patientId && c.focus_id !== match.patientId)) {
    throw notFound(MESSAGES.compositionNotFound);
  }
  // 4. … and in this episode, on the long path → 404
  if (match.episodeId && c.episode_id !== match.episodeId) throw notFound(MESSAGES.compositionNotFound);
  // 5. it is the caller's: another custodian's composition is 404 like an unknown id (as sign, cancel,
  //    job and MR answer), since a 403 would tell a stranger which ids exist
  if (c.custodian_id !== ctx.auth.legalEntityId) throw notFound(MESSAGES.compositionNotFound);
  return c;
}

export interface SearchPage {
  documents: unknown[];
  paging: { page_number: number; page_size: number; total_entries: number; total_pages: number };
}

/** The caller's compositions of a patient (`patientId`: the path form) or by subject xor focus (searchComposition). */
export async function searchCompositions(ctx: RequestContext, q: SearchQuery, patientId?: string): Promise<SearchPage> {
  // 1. token, scope composition:search → 401 / 403                          (platform onRequest hook)
  // 2. query parameters match the schema → 422                              (HTTP layer, schemas.ts)
  if (patientId !== undefined) {
    // 3. the path form: the patient id is a UUID → 404 "Not found"
    if (!UUID_RE.test(patientId)) throw notFound(MESSAGES.notFound);
  } else {
    // 3. searchComposition: subject and focus are mutually exclusive, and one of them is required → 422
    if (q.subject && q.focus) {
      throw validationFailed([
        {
          entry: '$.subject',
          entry_type: 'query_parameter',
          rules: [{ rule: 'invalid', params: [], description: MESSAGES.subjectAndFocus }],
        },
      ]);
    }
    if (!q.subject && !q.focus) {
      throw validationFailed([
        {
          entry: '$.subject',
          entry_type: 'query_parameter',
          rules: [{ rule: 'required', params: [], description: MESSAGES.subjectOrFocus }],
        },
      ]);
    }
  }
  // 4. status is a composition status (ENTERED-IN-ERROR spelled either way) → 422
  let status: string | undefined;
  if (q.status) {
    status = q.status.toUpperCase().replace(/-/g, '_');
    if (!(COMPOSITION_STATUSES as readonly string[]).includes(status)) {
      throw validationFailed([
        {
          entry: '$.status',
          entry_type: 'query_parameter',
          rules: [{ rule: 'inclusion', params: [...COMPOSITION_STATUSES], description: MESSAGES.notInEnum }],
        },
      ]);
    }
  }
  // 5. the page of the caller's compositions, newest first
  const offset = q.offset ?? 0;
  const limit = q.limit ?? 50;
  const { documents, total } = await searchDocuments(
    ctx.platform.db,
    {
      custodianId: ctx.auth.legalEntityId,
      patientId,
      subject: q.subject,
      focus: q.focus,
      type: q.type,
      encounter: q.encounter,
      episodeOfCare: q.episodeOfCare,
      relatesTo: q.relatesTo,
      status,
    },
    offset,
    limit,
  );
  return {
    documents: documents.map((d) => JSON.parse(d)),
    paging: { page_number: Math.floor(offset / limit) + 1, page_size: limit, total_entries: total, total_pages: Math.ceil(total / limit) },
  };
}
