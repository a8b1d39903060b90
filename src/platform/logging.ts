/**
 * pino options shared by the API and the workers. Phone numbers, verification codes, tokens and
 * keys never reach the log: redaction covers headers and any logged object that carries them,
 * and the request URL is logged with sensitive query values masked.
 */
import type { FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-admin-key"]',
  'req.headers["x-custom-psk"]',
  'headers.authorization',
  'headers["api-key"]',
  '*.phone_number',
  '*.phone',
  '*.number',
  '*.verification_code',
  '*.access_token',
  '*.secret',
  '*.token',
  '*.text',
  '*.sms_body',
  'phone_number',
  'phone',
  'verification_code',
  'access_token',
  'secret',
  'token',
  'sms_body',
  // the sandbox console's session cookie and its login form field
  'req.headers.cookie',
  'headers.cookie',
  'admin_key',
  '*.admin_key',
];

const SENSITIVE_QUERY =
  /([?&](?:phone_number|phone|verification_code|code|otp|access_token|refresh_token|token|secret|client_secret|api_key|api-key|apikey|x-admin-key|admin_key|password)=)[^&#]*/gi;
export const maskUrl = (url: string) => url.replace(SENSITIVE_QUERY, '$1[Redacted]');

/**
 * A database error as logged: without the statement's bind parameters (PGlite attaches them as
 * `params`, and they carry phone numbers and SMS texts), without `detail` (PostgreSQL puts row values
 * there: "Failing row contains (…)", "Key (…)=(…)"), and for data exceptions (SQLSTATE class 22, whose
 * message quotes the offending value) with quoted values masked in message and stack. Causes too.
 */
function scrubDbError(e: Record<string, unknown>, depth = 0): Record<string, unknown> {
  if (!e || typeof e !== 'object' || depth > 5) return e;
  delete e.params;
  delete e.queryOptions;
  if (e.detail !== undefined) e.detail = '[Redacted]';
  if (typeof e.code === 'string' && e.code.startsWith('22')) {
    for (const k of ['message', 'stack'] as const) {
      if (typeof e[k] === 'string') e[k] = (e[k] as string).replace(/"[^"\n]*"/g, '"[Redacted]"');
    }
  }
  if (e.cause && typeof e.cause === 'object') scrubDbError(e.cause as Record<string, unknown>, depth + 1);
  if (Array.isArray(e.aggregateErrors)) for (const x of e.aggregateErrors) scrubDbError(x, depth + 1);
  return e;
}

export const errSerializer = (err: unknown) => {
  const s = pino.stdSerializers.err(err as Error);
  return s && typeof s === 'object' ? scrubDbError(s as unknown as Record<string, unknown>) : s;
};

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      err: errSerializer,
      req: (req: FastifyRequest) =>
        typeof req?.url === 'string' ? { method: req.method, url: maskUrl(req.url), remoteAddress: req.ip } : req,
    },
  };
}

/** `stream`: where the lines go (stdout by default; tests capture them). */
export function createLogger(level: string, stream?: DestinationStream) {
  return stream ? pino(loggerOptions(level), stream) : pino(loggerOptions(level));
}
export type Logger = pino.Logger;
