/**
 * pino options shared by the API and the workers. Phone numbers, verification codes, tokens and
 * keys never reach the log: redaction covers headers and any logged object that carries them,
 * and the request URL is logged with sensitive query values masked.
 */
import type { FastifyRequest } from 'fastify';
import pino, { type LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["api-key"]', 'req.headers["x-admin-key"]', 'req.headers["x-custom-psk"]',
  'headers.authorization', 'headers["api-key"]',
  '*.phone_number', '*.phone', '*.number', '*.verification_code', '*.access_token', '*.secret', '*.token', '*.text', '*.sms_body',
  'phone_number', 'phone', 'verification_code', 'access_token', 'secret', 'token', 'sms_body',
];

const SENSITIVE_QUERY = /([?&](?:phone_number|phone|verification_code|access_token|token|secret)=)[^&]*/gi;
export const maskUrl = (url: string) => url.replace(SENSITIVE_QUERY, '$1[Redacted]');

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req: (req: FastifyRequest) =>
        typeof req?.url === 'string' ? { method: req.method, url: maskUrl(req.url), remoteAddress: req.ip } : req,
    },
  };
}

export function createLogger(level: string) {
  return pino(loggerOptions(level));
}
export type Logger = pino.Logger;
