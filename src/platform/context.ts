/**
 * What a method receives from a request: the runtime, the caller, and a logger bound to the
 * request (so a line written by domain code carries the request id). Domain code takes this
 * instead of `(platform, auth)`; workers build one with the runtime's logger and a system caller.
 */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { AuthContext } from './auth.ts';
import type { Platform } from './platform.ts';

export interface RequestContext {
  platform: Platform;
  auth: AuthContext;
  log: FastifyBaseLogger;
}

export function requestContext(platform: Platform, request: FastifyRequest): RequestContext {
  return { platform, auth: request.auth, log: request.log };
}
