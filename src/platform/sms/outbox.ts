/**
 * The SMS outbox (transactional outbox): every SMS is a `sms_outbox` row written in the caller's
 * transaction, so an SMS exists exactly when the business decision to send it commits. Nothing else
 * happens in the request path: the relay (delivery.ts, `relaySmsOutbox`) turns rows without a job
 * into batched delivery jobs, and the worker delivers them.
 *
 * After the transaction that wrote rows commits, call `nudgeSmsRelay(queue)` so they leave at once
 * instead of on the relay's next tick (≤ 1 s).
 */
import type { Db } from '../db.ts';
import type { JobQueue } from '../queue.ts';
import { windowFullError, toSmsWindow, recordSmsAttempt, type SmsAttemptResult, type SmsTimeoutParams } from './sms-timeout.ts';
import { jsonFunctionBatcher } from '../batch.ts';

export const SMS_QUEUE = 'sms-delivery';
/** The relay moving outbox rows into delivery jobs (JobQueue.defineRelay / nudge). */
export const SMS_RELAY = 'sms-outbox';

export interface OutgoingSms {
  phoneNumber: string;
  body: string;
  entityName: string;
  entityId: string;
}

const INSERT_SQL = `INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id) VALUES ($1, $2, $3, $4) RETURNING id`;

/**
 * Write the outbox row inside `tx`; returns the outbox id. The delivery job is created by the relay
 * after `tx` commits (call `nudgeSmsRelay` then).
 */
export async function enqueueSms(tx: Db, sms: OutgoingSms): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(INSERT_SQL, [sms.phoneNumber, sms.body, sms.entityName, sms.entityId]);
  return rows[0].id;
}

/** Run the outbox relay now in this process (no-op before the queue started). Never rejects. */
export function nudgeSmsRelay(queue: JobQueue): Promise<void> {
  return queue.hasRelay(SMS_RELAY) ? queue.nudge(SMS_RELAY) : Promise.resolve();
}

interface AttemptItem {
  entity_name: string;
  entity_id: string;
  max: number;
  timeout: number;
  phone: string;
  body: string;
}

/**
 * Concurrent attempts on the pool leave as ONE statement and ONE commit (esoz_sms_attempt_many,
 * src/platform/sql/esoz_sms_attempt_many.sql).
 */
const attemptBatcherOf = (db: Db) => jsonFunctionBatcher<AttemptItem, SmsAttemptResult>(db, 'esoz_sms_attempt_many');

/**
 * The SMS timeout procedure and the outbox row in ONE statement (esoz_sms_attempt with a phone,
 * src/platform/sql/esoz_sms_attempt.sql): the per-entity advisory lock, the re-count, and either the 429 (nothing recorded)
 * or the attempt and the outbox row. Pass the pool (`platform.db`), not a transaction: the statement's
 * own implicit transaction holds the lock until it commits, so it is atomic on its own and the lock is
 * held for one statement only. (Inside a caller's transaction it works too, holding the lock longer.)
 * The outbox row's entity is the limited entity (`limit.entityName`, `limit.entityId`).
 * Returns the outbox id; throws the 429 `EsozError` when the window is full. Nudge the relay afterwards.
 */
export async function recordAttemptAndEnqueueSms(
  db: Db,
  limit: SmsTimeoutParams,
  sms: Pick<OutgoingSms, 'phoneNumber' | 'body'>,
): Promise<string> {
  // inside a caller's transaction the statement must run on it; on the pool, concurrent calls share one
  // statement and one commit (esoz_sms_attempt_many)
  const r = db.inTransaction
    ? await recordSmsAttempt(db, limit, sms)
    : await attemptBatcherOf(db).run({
        entity_name: limit.entityName,
        entity_id: limit.entityId,
        max: limit.maxAttempts,
        timeout: limit.sendTimeoutSeconds,
        phone: sms.phoneNumber,
        body: sms.body,
      });
  if (!r.admitted) throw windowFullError(toSmsWindow(r), limit.sendTimeoutSeconds);
  return r.outbox_id!;
}
