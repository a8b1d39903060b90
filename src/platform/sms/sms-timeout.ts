/**
 * The ESOZ "SMS timeout procedure" (esoz-docs §2, ehealth-api §4.2), generic over the caller:
 * medication requests (MR_*), device requests (DR_*), compositions (COMPOSITION_*).
 *
 * A sliding window per (entity_name, entity_id): attempts older than SEND_TIMEOUT do not count.
 * If the live attempts reach MAX_ATTEMPTS_COUNT the call fails with 429 and records nothing;
 * otherwise it records this attempt and the caller goes on.
 *
 * Atomicity: call `checkSmsTimeout` inside the transaction that also writes the SMS outbox row
 * (`enqueueSms`), or use `recordAttemptAndEnqueueSms` (outbox.ts), which does both in ONE statement.
 * A transaction-scoped advisory lock per entity serialises concurrent callers on PostgreSQL (any
 * number of API processes; READ COMMITTED, so the count after the lock sees the previous holder's
 * committed attempt). On PGlite transactions are serialised by the engine anyway. Attempts are rows
 * in `sms_attempts`, so they survive restarts, and a rolled-back caller gives its attempt back.
 * The rule itself lives in one place, the SQL function esoz_sms_attempt (src/platform/sql/esoz_sms_attempt.sql),
 * which also writes the outbox row when given a phone.
 */
import type { Db } from '../db.ts';
import { jsonValue } from '../json.ts';
import { EsozError } from '../errors.ts';

export interface SmsTimeoutParams {
  entityName: string;
  entityId: string;
  maxAttempts: number;
  sendTimeoutSeconds: number;
}

/** error.type of the 429 (the sources do not name one; docs/decisions.md (ePrescription)). */
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

/** The live window of one entity: attempts younger than SEND_TIMEOUT, the oldest of them, and when it was read. */
export interface SmsWindow {
  live: number;
  oldest: Date | null;
  now: Date;
}

/** The driver's timestamptz (a Date on both engines; a string if ever returned inside JSON) as a Date. */
const asDate = (v: Date | string | null): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(v));

export function toSmsWindow(row: { live: number | null; oldest: Date | string | null; at: Date | string | null }): SmsWindow {
  return { live: row.live ?? 0, oldest: asDate(row.oldest), now: asDate(row.at) ?? new Date() };
}

/** The 429 of a full window: next attempt = oldest live attempt + SEND_TIMEOUT, Retry-After from the window's clock. */
export function windowFullError(w: SmsWindow, sendTimeoutSeconds: number): EsozError {
  const oldest = w.oldest ?? w.now;
  return smsTimeoutError(new Date(oldest.getTime() + sendTimeoutSeconds * 1000), w.now);
}

/**
 * Check and record one attempt. Must run inside `tx` (a transaction); throws the 429 `EsozError`
 * when the window is full. Returns the number of live attempts including this one.
 */
export async function checkSmsTimeout(tx: Db, p: SmsTimeoutParams): Promise<number> {
  if (!tx.inTransaction) throw new Error('checkSmsTimeout must run inside a transaction');
  // esoz_sms_attempt (src/platform/sql/esoz_sms_attempt.sql) takes pg_advisory_xact_lock(hashtext(entity_name || ':' || entity_id)),
  // then reads clock_timestamp() (not now(): the transaction may have waited for the lock), prunes the
  // entity's expired attempts and counts the live ones; with room it records this attempt. The lock is held until our transaction
  // ends, i.e. until the attempt and the caller's outbox row are committed together.
  const r = await recordSmsAttempt(tx, p);
  if (!r.admitted) throw windowFullError(toSmsWindow(r), p.sendTimeoutSeconds);
  return r.live;
}

export interface SmsAttemptResult {
  admitted: boolean;
  live: number;
  oldest: string | null;
  at: string;
  /** with `sms`: the outbox row written with the attempt */
  outbox_id?: string | null;
}

/**
 * One call of the rule (esoz_sms_attempt): the attempt, and with `sms` the outbox row too, or neither
 * when the window is full. Inside a transaction the lock is held until it ends; on the pool the
 * statement is its own transaction.
 */
export async function recordSmsAttempt(
  db: Db,
  p: SmsTimeoutParams,
  sms?: { phoneNumber: string; body: string },
): Promise<SmsAttemptResult> {
  const { rows } = await db.query<{ r: SmsAttemptResult | string }>(
    sms ? 'SELECT esoz_sms_attempt($1, $2, $3, $4, $5, $6) AS r' : 'SELECT esoz_sms_attempt($1, $2, $3, $4) AS r',
    sms
      ? [p.entityName, p.entityId, p.maxAttempts, p.sendTimeoutSeconds, sms.phoneNumber, sms.body]
      : [p.entityName, p.entityId, p.maxAttempts, p.sendTimeoutSeconds],
  );
  return jsonValue(rows[0].r);
}

/**
 * Delete attempts older than `horizonSeconds` for every entity (the per-entity check prunes only the
 * entity it looks at). The horizon must be at least the longest SEND_TIMEOUT of any caller.
 */
export async function pruneSmsAttempts(db: Db, horizonSeconds: number): Promise<number> {
  const r = await db.query('DELETE FROM sms_attempts WHERE attempted_at < clock_timestamp() - make_interval(secs => $1)', [horizonSeconds]);
  return r.rowCount;
}
