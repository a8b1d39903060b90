/**
 * The one error type of esoz-core. Domain code throws `EsozError`; the HTTP layer renders it
 * in the ESOZ error envelope in exactly one place (http/envelope.ts).
 */
export interface InvalidRule {
  rule: string;
  params: unknown[] | Record<string, unknown>;
  description: string;
}
export interface InvalidEntry {
  entry: string;
  entry_type: 'json_data_property' | 'query_parameter' | 'path_parameter' | 'header' | 'request';
  rules: InvalidRule[];
}

/** ESOZ `error.type` by HTTP status, as observed in production responses (esoz-docs §1.2). */
export const ERROR_TYPES = {
  400: 'bad_request',
  401: 'access_denied',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'request_conflict',
  413: 'request_too_large',
  414: 'request_uri_too_long',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'too_many_requests',
  431: 'request_header_fields_too_large',
  500: 'internal_error',
  503: 'service_unavailable',
} as const;

export const VALIDATION_FAILED_MESSAGE =
  'Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.';

export class EsozError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly invalid?: InvalidEntry[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'EsozError';
  }
}

const typeOf = (status: number) => (ERROR_TYPES as Record<number, string>)[status] ?? 'internal_error';

export const accessDenied = (message = 'Invalid access token') => new EsozError(401, 'access_denied', message);
export const forbidden = (message: string) => new EsozError(403, 'forbidden', message);
export const notFound = (message = 'Not found') => new EsozError(404, 'not_found', message);
export const conflict = (message: string) => new EsozError(409, 'request_conflict', message);
export const badRequest = (message: string) => new EsozError(400, 'bad_request', message);
export const validationFailed = (invalid: InvalidEntry[]) => new EsozError(422, 'validation_failed', VALIDATION_FAILED_MESSAGE, invalid);
/**
 * V8's JSON.parse quotes the start of the text it could not parse (`Unexpected token 'a', "abc…" is not
 * valid JSON`); that text may carry a code or a token, and the answer goes to logs and the sandbox journal.
 */
const withoutQuotedInput = (detail: string) => detail.replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, ' in JSON');
export const malformed = (detail: string) =>
  new EsozError(
    422,
    'request_malformed',
    `Malformed encoded content. Probably, you have encoded corrupted JSON. Error: ${withoutQuotedInput(detail)}`,
  );
export const errorOfStatus = (status: number, message: string) => new EsozError(status, typeOf(status), message);

/** One `invalid[]` entry for a business rule on a field (ESOZ uses rule "invalid" for these). */
export function invalidField(entry: string, description: string, rule = 'invalid', params: unknown[] = []): InvalidEntry {
  return { entry, entry_type: 'json_data_property', rules: [{ rule, params, description }] };
}
