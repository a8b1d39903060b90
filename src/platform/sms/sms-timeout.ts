/**
 * The ESOZ "SMS timeout procedure" (esoz-docs §2, ehealth-api §4.2), generic over the caller:
 * medication requests (MR_*), device requests (DR_*), compositions (COMPOSITION_*).
 *
 * A sliding window per (entity_name, entity_id): attempts older than SEND_TIMEOUT do not count.
 * If the live attempts reach MAX_ATTEMPTS_COUNT the call fails with 429 and records nothing;
 * otherwise it records this attempt and the caller goes on.
 *
 * Atomicity: call it inside the transaction that also writes the SMS outbox row and enqueues the
 * delivery job. A transaction-scoped advisory lock per entity serialises concurrent callers on
 * PostgreSQL (any number of API processes; READ COMMITTED, so the count after the lock sees the
 * previous holder's committed attempt). On PGlite transactions are serialised by the engine anyway. Attempts are rows in `sms_attempts`,
 * so they survive restarts, and a rolled-back caller (e.g. a failed enqueue) gives its attempt back.
 */
import type { Db } from '../db.ts';
import { EsozError } from '../errors.ts';

export interface SmsTimeoutParams {
  entityName: string;
  entityId: string;
  maxAttempts: number;
  sendTimeoutSeconds: number;
}

/** error.type of the 429 (the sources do not name one; docs/decisions-eprescription.md). */
export const SMS_TIMEOUT_ERROR_TYPE = 'sms_timeout';

export const smsTimeoutMessage = (nextAttemptAt: string) =>
  `Sending SMS timeout. Try later. Next attempt will be available at ${nextAttemptAt}`;

/** ISO-8601 UTC with whole seconds, rounded up so that the time printed is never too early. */
export function formatNextAttempt(at: Date): string {
  const ms = Math.ceil(at.getTime() / 1000) * 1000;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function smsTimeoutError(nextAttemptAt: Date, now: Date): EsozError {
  const text = formatNextAttempt(nextAttemptAt);
  const retryAfter = Math.max(1, Math.ceil((Date.parse(text) - now.getTime()) / 1000));
  return new EsozError(429, SMS_TIMEOUT_ERROR_TYPE, smsTimeoutMessage(text), undefined, { 'retry-after': String(retryAfter) });
}

interface WindowRow {
  live: number;
  oldest: Date | null;
  now: Date;
}

/**
 * Check and record one attempt. Must run inside `tx` (a transaction); throws the 429 `EsozError`
 * when the window is full. Returns the number of live attempts including this one.
 */
export async function checkSmsTimeout(tx: Db, p: SmsTimeoutParams): Promise<number> {
  if (!tx.inTransaction) throw new Error('checkSmsTimeout must run inside a transaction');
  // esoz_sms_window (migration 021) takes pg_advisory_xact_lock(hashtext(entity_name || ':' || entity_id)),
  // then reads clock_timestamp() (not now(): the transaction may have waited for the lock), prunes the
  // entity's expired attempts and returns the live ones. The lock is held until our transaction ends,
  // i.e. until the attempt, the outbox row and the job are committed together.
  const { rows } = await tx.query<WindowRow>('SELECT live, oldest, at AS now FROM esoz_sms_window($1, $2, $3)', [
    p.entityName, p.entityId, p.sendTimeoutSeconds,
  ]);
  const w = rows[0];
  if (w.live >= p.maxAttempts) {
    const oldest = new Date(w.oldest!);
    throw smsTimeoutError(new Date(oldest.getTime() + p.sendTimeoutSeconds * 1000), new Date(w.now));
  }
  await tx.query('INSERT INTO sms_attempts(entity_name, entity_id, attempted_at) VALUES ($1, $2, $3)', [p.entityName, p.entityId, w.now]);
  return w.live + 1;
}

/**
 * Delete attempts older than `horizonSeconds` for every entity (the per-entity check prunes only the
 * entity it looks at). The horizon must be at least the longest SEND_TIMEOUT of any caller.
 */
export async function pruneSmsAttempts(db: Db, horizonSeconds: number): Promise<number> {
  const r = await db.query('DELETE FROM sms_attempts WHERE attempted_at < clock_timestamp() - make_interval(secs => $1)', [horizonSeconds]);
  return r.rowCount;
}
