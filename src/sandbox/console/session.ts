/**
 * The console's login: the admin key, posted once, becomes a session cookie that carries no key. The
 * cookie holds an expiry time signed (HMAC-SHA256, @fastify/cookie) with a secret derived from
 * ADMIN_KEY: any API process with the same key accepts it, a restart keeps it valid, and a new
 * ADMIN_KEY ends every session. HttpOnly (no script reads it), SameSite=Strict (no other site's page
 * sends it), Path=/console (the API never sees it). See docs/console.md.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'esoz_console';
/** A session lasts a working day; log in again after. */
export const SESSION_SECONDS = 12 * 3600;

/** The secret the session cookie is signed with: derived, so the cookie never reveals the key itself. */
export const sessionSecret = (adminKey: string) => createHmac('sha256', adminKey).update('esoz-core console session v1').digest();

/** Whether `given` is the admin key; the time it takes does not depend on where they differ. */
export function isAdminKey(given: string, adminKey: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return adminKey !== '' && timingSafeEqual(digest(given), digest(adminKey));
}

const cookieOptions = (request: FastifyRequest) => ({
  path: '/console',
  httpOnly: true,
  sameSite: 'strict' as const,
  // a sandbox on http://127.0.0.1 has no TLS; behind https the cookie is Secure
  secure: request.protocol === 'https',
});

export function startSession(request: FastifyRequest, reply: FastifyReply): void {
  const expires = Date.now() + SESSION_SECONDS * 1000;
  reply.setCookie(SESSION_COOKIE, String(expires), { ...cookieOptions(request), signed: true, maxAge: SESSION_SECONDS });
}

export function endSession(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, cookieOptions(request));
}

/** Whether the request carries a valid, unexpired session cookie. */
export function hasSession(request: FastifyRequest): boolean {
  const raw = request.cookies[SESSION_COOKIE];
  if (!raw) return false;
  const { valid, value } = request.unsignCookie(raw);
  return valid && value !== null && /^\d{1,15}$/.test(value) && Number(value) > Date.now();
}

/**
 * The CSRF guard of every console POST, next to the SameSite=Strict cookie: the browser's Origin must
 * be this server's own (as the request reached it, or PUBLIC_URL). Without an Origin header (an old
 * browser, a script) the Fetch Metadata header must say same-origin; with neither the POST is refused.
 */
export function isSameOrigin(request: FastifyRequest, publicUrl: string): boolean {
  const origin = request.headers.origin;
  if (typeof origin === 'string') {
    const own = new Set([`${request.protocol}://${request.host}`]);
    if (publicUrl) {
      try {
        own.add(new URL(publicUrl).origin);
      } catch {
        /* an unparsable PUBLIC_URL names no origin */
      }
    }
    return own.has(origin);
  }
  return request.headers['sec-fetch-site'] === 'same-origin';
}
