/**
 * The ESOZ response envelope: `{meta:{code,url,type,request_id}, data, paging?}` for success and
 * `{meta, error:{type,message,invalid?}}` for errors. Every response body of the service is built here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { EsozError, malformed, validationFailed, errorOfStatus, type InvalidEntry } from '../errors.ts';
import { ajvToInvalid, truncatedEntry } from './ajv-errors.ts';
import { MAX_INVALID_ENTRIES } from './bounds.ts';
import { isConnectionLoss } from '../db.ts';

// Response schemas document the API (OpenAPI) and do not shape the wire: bodies are written by
// JSON.stringify in the order they are built (server.ts). With checkResponses (the tests) every
// response is validated against its route's schema, so a schema that drifts from the wire fails a test.

/** Response__Meta of the blueprint. */
export const MetaSchema = Type.Object(
  {
    code: Type.Integer({ description: 'HTTP status code' }),
    url: Type.String({ description: 'The requested URL' }),
    type: Type.Union([Type.Literal('object'), Type.Literal('list')], { description: '`list` when data is an array' }),
    request_id: Type.String({ description: 'x-request-id of the request (sent or generated)' }),
  },
  { additionalProperties: false, title: 'Meta' },
);

const PagingSchema = Type.Object(
  {
    page_number: Type.Integer(),
    page_size: Type.Integer(),
    total_entries: Type.Integer(),
    total_pages: Type.Integer(),
  },
  { additionalProperties: false, title: 'Paging' },
);

/** `{meta, data}`: the success envelope around `data`. */
export function dataEnvelope(data: TSchema, description: string, examples?: unknown[]) {
  return Type.Object({ meta: MetaSchema, data }, { additionalProperties: false, description, ...(examples ? { examples } : {}) });
}

/** `{meta, data: [...], paging}`: a page of a list. */
export function pageEnvelope(item: TSchema, description: string) {
  return Type.Object({ meta: MetaSchema, data: Type.Array(item), paging: PagingSchema }, { additionalProperties: false, description });
}

const InvalidRuleSchema = Type.Object(
  {
    rule: Type.String(),
    params: Type.Unsafe<unknown>({ description: 'array or object, by rule' }),
    description: Type.String(),
  },
  { additionalProperties: false },
);

const InvalidEntrySchema = Type.Object(
  {
    entry: Type.String({ description: 'JSON path (`$.field`) or parameter name' }),
    entry_type: Type.String({ description: 'json_data_property | query_parameter | path_parameter | header | request' }),
    rules: Type.Array(InvalidRuleSchema),
  },
  { additionalProperties: false, title: 'InvalidEntry' },
);

/** `{meta, error}`: the error envelope; `description` says when the status is answered. */
export function errorEnvelope(description: string) {
  return Type.Object(
    {
      meta: MetaSchema,
      error: Type.Object(
        {
          type: Type.String({
            description: 'ESOZ error type (access_denied, forbidden, not_found, request_conflict, validation_failed, sms_timeout, …)',
          }),
          message: Type.String(),
          invalid: Type.Optional(
            Type.Array(InvalidEntrySchema, {
              description: `Every failed rule (422 validation_failed), at most ${MAX_INVALID_ENTRIES} entries; a final entry with rule \`too_many_errors\` says that more were found`,
            }),
          ),
        },
        { additionalProperties: false, title: 'Error' },
      ),
    },
    { additionalProperties: false, description },
  );
}

/**
 * The error statuses a route answers, each described by its ESOZ error types and messages (OpenAPI);
 * what any route may answer (a body that does not parse, 413, 415) falls to `4xx`.
 */
export function errorResponses(byStatus: Record<number, string>): Record<string, TSchema> {
  return {
    ...Object.fromEntries(Object.entries(byStatus).map(([status, description]) => [status, errorEnvelope(description)])),
    '4xx': errorEnvelope(
      'Any other ESOZ error: 400 bad_request, 413 request_too_large, 415 unsupported_media_type, 422 request_malformed (a body that is not JSON)',
    ),
  };
}

export interface Paging {
  page_number: number;
  page_size: number;
  total_entries: number;
  total_pages: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** PUBLIC_URL of this app without a trailing slash, or '' (links are then built from the request's host). */
    publicUrl: string;
  }
}

/** PUBLIC_URL as the app keeps it: no trailing slash. */
export function normalisePublicUrl(url: string): string {
  return url.replace(/\/$/, '');
}

// Read from the app that answers, not a module variable: two runtimes in one process (tests,
// benchmarks) each answer with their own PUBLIC_URL.
export function requestUrl(request: FastifyRequest): string {
  return baseUrl(request) + request.url;
}

export function baseUrl(request: FastifyRequest): string {
  return request.server.publicUrl || `${request.protocol}://${request.host}`;
}

function meta(request: FastifyRequest, code: number, type: 'object' | 'list') {
  return { code, url: requestUrl(request), type, request_id: String(request.id) };
}

export interface SendOptions {
  status?: number;
  paging?: Paging;
  headers?: Record<string, string>;
}

/** Send `data` in the success envelope. Lists (arrays) get `type: "list"`. */
export function sendData(request: FastifyRequest, reply: FastifyReply, data: unknown, opts: SendOptions = {}) {
  const code = opts.status ?? 200;
  const body: Record<string, unknown> = { meta: meta(request, code, Array.isArray(data) ? 'list' : 'object'), data };
  if (opts.paging) body.paging = opts.paging;
  if (opts.headers) reply.headers(opts.headers);
  return reply.code(code).type('application/json; charset=utf-8').send(body);
}

export function errorBody(request: FastifyRequest, err: EsozError) {
  const error: { type: string; message: string; invalid?: InvalidEntry[] } = { type: err.type, message: err.message };
  if (err.invalid) {
    error.invalid =
      err.invalid.length > MAX_INVALID_ENTRIES
        ? [...err.invalid.slice(0, MAX_INVALID_ENTRIES), truncatedEntry(MAX_INVALID_ENTRIES)]
        : err.invalid;
  }
  return { meta: meta(request, err.status, 'object'), error };
}

const PART_ENTRY_TYPE = {
  body: 'json_data_property',
  querystring: 'query_parameter',
  params: 'path_parameter',
  headers: 'header',
} as const;

/** Turn anything thrown during a request into an EsozError (validation, body parsing, unknown faults). */
export function toEsozError(err: any, request: FastifyRequest): EsozError {
  if (err instanceof EsozError) return err;
  if (Array.isArray(err?.validation)) {
    const part = (err.validationContext ?? 'body') as keyof typeof PART_ENTRY_TYPE;
    const root =
      part === 'body' ? request.body : part === 'querystring' ? request.query : part === 'params' ? request.params : request.headers;
    return validationFailed(ajvToInvalid(err.validation, root, PART_ENTRY_TYPE[part] ?? 'json_data_property', MAX_INVALID_ENTRIES));
  }
  const code: string = err?.code ?? '';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return malformed(err.message);
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return errorOfStatus(413, 'Request body is too large');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return errorOfStatus(415, 'Unsupported Content-Type: send application/json');
  if (isConnectionLoss(err))
    return new EsozError(503, 'service_unavailable', 'Database is not reachable, retry the request', undefined, { 'retry-after': '1' });
  const status = Number(err?.statusCode);
  if (status >= 400 && status < 500) return errorOfStatus(status, err.message || 'Bad request');
  return errorOfStatus(500, 'Internal server error');
}
