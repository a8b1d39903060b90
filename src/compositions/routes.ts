/**
 * HTTP routes of Compositions, each served under `/api` and at the seed's unprefixed path.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../platform/http/server.ts';
import type { Platform } from '../platform/platform.ts';
import { baseUrl, sendData, dataEnvelope, pageEnvelope, errorEnvelope } from '../platform/http/envelope.ts';
import { badRequest, forbidden, notFound, validationFailed } from '../platform/errors.ts';
import {
  CMS_BODY_LIMIT,
  CompositionDocument,
  CREATE_BODY_LIMIT,
  CreateCompositionBody,
  JobState,
  SearchQuery,
  SignBody,
} from './schemas.ts';
import { validateCreate } from './validate.ts';
import type { JobStore } from './jobs.ts';
import { COMPOSITION_STATUSES } from './model.ts';
import { UUID_RE } from '../platform/uuid.ts';

const PREFIXES = ['/api', ''];

export const TASK_NOT_FOUND = 'Task not found';
export const INVALID_REQUEST_FORMAT = 'Invalid request format';

function sendJob(request: FastifyRequest, reply: FastifyReply, state: JobState, status: number) {
  const url = `${baseUrl(request)}/api/patients/composition/job/${state.id}`;
  const headers: Record<string, string> = {};
  if (state.status === 'PENDING') {
    headers['retry-after'] = String(Math.max(1, Math.ceil((Date.parse(state.eta) - Date.now()) / 1000)));
  }
  if (status === 202) {
    headers.location = url;
    headers['content-location'] = url;
  }
  return sendData(request, reply, state, { status, headers });
}

interface CompositionRow {
  id: string;
  document: string;
  custodian_id: string;
  subject_id: string;
  focus_id: string | null;
  encounter_id: string;
  episode_id: string | null;
}

/** Declared responses (OpenAPI; checked against every response in the tests). */
const responses = {
  accepted: {
    202: dataEnvelope(JobState, 'Accepted: the async job (Location / Content-Location: its status URL; Retry-After)'),
    '4xx': errorEnvelope(
      'ESOZ error: 401 access_denied, 403 forbidden, 404 not_found, 422 validation_failed (invalid[] lists every failed rule)',
    ),
  },
  job: {
    200: dataEnvelope(JobState, 'The async job (Retry-After while PENDING)'),
    '4xx': errorEnvelope('400 Invalid request format (the id is not a UUID), 404 Task not found, 401, 403'),
  },
  composition: {
    200: dataEnvelope(CompositionDocument, 'The composition'),
    '4xx': errorEnvelope("404 Composition not found (also for another custodian's composition), 401, 403 (scope)"),
  },
  search: {
    200: pageEnvelope(CompositionDocument, 'A page of compositions, newest first'),
    '4xx': errorEnvelope('422 validation_failed, 404, 401, 403'),
  },
};

export function registerRoutes(app: App, platform: Platform, store: JobStore) {
  const { db } = platform;

  const loadForRead = async (
    request: FastifyRequest,
    id: string,
    match: { patientId: string; encounterId: string; episodeId?: string },
  ) => {
    if (![id, match.patientId, match.encounterId, match.episodeId ?? id].every((v) => UUID_RE.test(v)))
      throw notFound('Composition not found');
    const r = await db.query<CompositionRow>(
      'SELECT id, document, custodian_id, subject_id, focus_id, encounter_id, episode_id FROM compositions WHERE id = $1',
      [id],
    );
    const c = r.rows[0];
    if (!c || c.encounter_id !== match.encounterId || (c.subject_id !== match.patientId && c.focus_id !== match.patientId)) {
      throw notFound('Composition not found');
    }
    if (match.episodeId && c.episode_id !== match.episodeId) throw notFound('Composition not found');
    // another custodian's composition is 404 like an unknown id (as sign, cancel, job and MR answer): a
    // 403 would tell a stranger which ids exist
    if (c.custodian_id !== request.auth.legalEntityId) throw notFound('Composition not found');
    return JSON.parse(c.document);
  };

  const search = async (request: FastifyRequest, reply: FastifyReply, q: SearchQuery, patientId?: string) => {
    const where: string[] = ['custodian_id = $1'];
    const params: unknown[] = [request.auth.legalEntityId];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (patientId !== undefined) {
      if (!UUID_RE.test(patientId)) throw notFound('Not found');
      params.push(patientId);
      where.push(`(subject_id = $${params.length} OR focus_id = $${params.length})`);
    } else {
      if (q.subject && q.focus) {
        throw validationFailed([
          {
            entry: '$.subject',
            entry_type: 'query_parameter',
            rules: [{ rule: 'invalid', params: [], description: 'subject and focus are mutually exclusive' }],
          },
        ]);
      }
      if (!q.subject && !q.focus) {
        throw validationFailed([
          {
            entry: '$.subject',
            entry_type: 'query_parameter',
            rules: [{ rule: 'required', params: [], description: 'subject or focus is required' }],
          },
        ]);
      }
    }
    if (q.subject) add('subject_id = ?', q.subject);
    if (q.focus) add('focus_id = ?', q.focus);
    if (q.type) add('type_code = ?', q.type);
    if (q.encounter) add('encounter_id = ?', q.encounter);
    if (q.episodeOfCare) add('episode_id = ?', q.episodeOfCare);
    if (q.status) {
      const status = q.status.toUpperCase().replace(/-/g, '_');
      if (!(COMPOSITION_STATUSES as readonly string[]).includes(status)) {
        throw validationFailed([
          {
            entry: '$.status',
            entry_type: 'query_parameter',
            rules: [{ rule: 'inclusion', params: [...COMPOSITION_STATUSES], description: 'value is not allowed in enum' }],
          },
        ]);
      }
      add('status = ?', status);
    }
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 50;
    const sqlWhere = where.join(' AND ');
    const r = await db.query<{ document: string; total: number }>(
      `SELECT document, count(*) OVER () AS total FROM compositions WHERE ${sqlWhere}
        ORDER BY inserted_at DESC, id LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    let total = r.rows[0] ? Number(r.rows[0].total) : 0;
    if (!r.rows[0] && offset > 0) {
      const c = await db.query<{ n: number }>(`SELECT count(*) AS n FROM compositions WHERE ${sqlWhere}`, params);
      total = Number(c.rows[0]?.n ?? 0);
    }
    return sendData(
      request,
      reply,
      r.rows.map((x) => JSON.parse(x.document)),
      {
        paging: {
          page_number: Math.floor(offset / limit) + 1,
          page_size: limit,
          total_entries: total,
          total_pages: Math.ceil(total / limit),
        },
      },
    );
  };

  for (const p of PREFIXES) {
    const hide = p === '';
    app.post(
      `${p}/patients/composition`,
      {
        config: { scopes: ['composition:create'] },
        bodyLimit: CREATE_BODY_LIMIT,
        schema: {
          hide,
          tags: ['compositions'],
          summary: 'Create a composition (async job)',
          body: CreateCompositionBody,
          response: responses.accepted,
        },
      },
      async (request, reply) => {
        if (!request.auth.legalEntityId) throw forbidden('Access denied');
        const body = request.body;
        await validateCreate(db, request.auth, body);
        const { state } = await store.accept({ kind: 'CREATE', auth: request.auth, body });
        return sendJob(request, reply, state, 202);
      },
    );

    app.patch(
      `${p}/patients/composition/:id/sign`,
      {
        config: { scopes: ['composition:sign'] },
        bodyLimit: CMS_BODY_LIMIT,
        schema: {
          hide,
          tags: ['compositions'],
          summary: 'Sign a PRELIMINARY composition (async job)',
          params: Type.Object({ id: Type.String() }),
          body: SignBody,
          response: responses.accepted,
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        if (!UUID_RE.test(id)) throw notFound('Composition not found');
        const r = await db.query<{ custodian_id: string }>('SELECT custodian_id FROM compositions WHERE id = $1', [id]);
        if (!r.rows[0] || r.rows[0].custodian_id !== request.auth.legalEntityId) throw notFound('Composition not found');
        const { state } = await store.accept({ kind: 'SIGN', auth: request.auth, compositionId: id.toLowerCase(), body: request.body });
        return sendJob(request, reply, state, 202);
      },
    );

    app.patch(
      `${p}/patients/composition/:id/cancel`,
      {
        config: { scopes: ['composition:cancel'] },
        bodyLimit: CMS_BODY_LIMIT,
        schema: {
          hide,
          tags: ['compositions'],
          summary: 'Cancel a FINAL composition (async job)',
          params: Type.Object({ id: Type.String() }),
          body: SignBody,
          response: responses.accepted,
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const missing = 'The object of the Composition was not found';
        if (!UUID_RE.test(id)) throw notFound(missing);
        const r = await db.query<{ custodian_id: string }>('SELECT custodian_id FROM compositions WHERE id = $1', [id]);
        if (!r.rows[0] || r.rows[0].custodian_id !== request.auth.legalEntityId) throw notFound(missing);
        const { state } = await store.accept({ kind: 'CANCEL', auth: request.auth, compositionId: id.toLowerCase(), body: request.body });
        return sendJob(request, reply, state, 202);
      },
    );

    app.get(
      `${p}/patients/composition/job/:asyncJobId`,
      {
        config: { scopes: ['composition:read'] },
        schema: {
          hide,
          tags: ['compositions'],
          summary: 'Async job status (compositionAsyncJobStateResponse)',
          params: Type.Object({ asyncJobId: Type.String() }),
          response: responses.job,
        },
      },
      async (request, reply) => {
        const { asyncJobId } = request.params;
        if (!UUID_RE.test(asyncJobId)) throw badRequest(INVALID_REQUEST_FORMAT);
        const state = await store.state(asyncJobId.toLowerCase(), request.auth.clientId);
        if (!state) throw notFound(TASK_NOT_FOUND);
        return sendJob(request, reply, state, 200);
      },
    );

    app.get(
      `${p}/patients/:patientId/composition/:id/episode/:episodeId/encounter/:encounterId`,
      {
        config: { scopes: ['composition:read'] },
        schema: {
          hide,
          tags: ['compositions'],
          summary: 'Get a composition',
          params: Type.Object({ patientId: Type.String(), id: Type.String(), episodeId: Type.String(), encounterId: Type.String() }),
          response: responses.composition,
        },
      },
      async (request, reply) => {
        const q = request.params;
        return sendData(request, reply, await loadForRead(request, q.id, q));
      },
    );

    app.get(
      `${p}/patients/:patientId/encounter/:encounterId/composition/:id`,
      {
        config: { scopes: ['composition:read'] },
        schema: {
          hide,
          tags: ['compositions'],
          summary: 'Get a composition (path of the async-job sequence)',
          params: Type.Object({ patientId: Type.String(), encounterId: Type.String(), id: Type.String() }),
          response: responses.composition,
        },
      },
      async (request, reply) => {
        const q = request.params;
        return sendData(request, reply, await loadForRead(request, q.id, q));
      },
    );

    app.get(
      `${p}/patients/searchComposition`,
      {
        config: { scopes: ['composition:search'] },
        schema: {
          hide,
          tags: ['compositions'],
          summary: 'Search compositions by subject or focus',
          querystring: SearchQuery,
          response: responses.search,
        },
      },
      async (request, reply) => search(request, reply, request.query),
    );

    app.get(
      `${p}/patients/:patientId/composition`,
      {
        config: { scopes: ['composition:search'] },
        schema: {
          hide,
          tags: ['compositions'],
          summary: "Search a patient's compositions",
          params: Type.Object({ patientId: Type.String() }),
          querystring: Type.Omit(SearchQuery, ['subject', 'focus']),
          response: responses.search,
        },
      },
      async (request, reply) => {
        const { patientId } = request.params;
        return search(request, reply, request.query, patientId);
      },
    );
  }
}
