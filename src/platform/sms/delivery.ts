/**
 * SMS delivery: nothing lost, nothing twice.
 *
 * The relay (`relaySmsOutbox`, run by the queue's relay driver every second and when nudged after a
 * commit) takes NEW outbox rows without a job, in batches, and writes ONE delivery job per batch
 * (`{outbox_ids: […]}`) in the same transaction that stamps the rows' `enqueued_at`; rows are taken
 * with FOR UPDATE SKIP LOCKED, so relays of several processes never take the same row.
 *
 * The job delivers each of its rows (`deliverSms`, a few at once); if any row needs a retry the job
 * throws after the others are done, and pg-boss retries it with backoff: rows already SENT (or FAILED)
 * are skipped by the conditional claim. Per row, a try:
 *   1. claims the row with a conditional UPDATE (status NEW and no live lease) that also counts the
 *      try and sets a lease; a SENT or FAILED row is never claimed, so it is never sent again;
 *   2. calls the provider outside any transaction (PGlite serialises transactions);
 *   3. marks the row SENT (conditional on NEW), or records the error and throws so pg-boss retries
 *      with exponential backoff; after SMS_MAX_TRIES tries the row is FAILED and the job ends.
 * The provider gets the outbox id as idempotency key, so the one window left (accepted by the
 * gateway, then the worker died before step 3) is a retry the gateway recognises.
 */
import type { Db } from '../db.ts';
import type { Logger } from '../logging.ts';
import type { Platform } from '../platform.ts';
import { Counter } from 'prom-client';
import { SMS_QUEUE, SMS_RELAY, nudgeSmsRelay } from './outbox.ts';
import { pruneSmsAttempts } from './sms-timeout.ts';
import { FAULTS } from '../faults.ts';
import { providerFromConfig, withFaults, SmsSendError, type SmsProvider, type SmsMessage } from './providers.ts';

export interface DeliveryDeps {
  db: Db;
  log: Logger;
  provider: SmsProvider;
  maxTries: number;
  /** How long a claimed row stays reserved for the worker that claimed it. */
  leaseSeconds: number;
  /** Called once per try that reached the provider (metrics). */
  onTry?(result: 'sent' | 'retry' | 'failed'): void;
}

export type DeliveryResult = 'SENT' | 'FAILED' | 'ALREADY_DONE';

/** Thrown to make the queue retry this job later (the message is safe to log). */
export class RetryLater extends Error {}

export async function deliverSms(deps: DeliveryDeps, outboxId: string): Promise<DeliveryResult> {
  const { db, log } = deps;
  const claimed = await db.query<SmsMessage & { tries: number }>(
    `UPDATE sms_outbox
        SET tries = tries + 1, locked_until = clock_timestamp() + make_interval(secs => $2), updated_at = now()
      WHERE id = $1 AND status = 'NEW' AND (locked_until IS NULL OR locked_until < clock_timestamp())
      RETURNING id, phone_number, body, entity_name, entity_id, tries`,
    [outboxId, deps.leaseSeconds],
  );
  const msg = claimed.rows[0];
  if (!msg) {
    const cur = await db.query<{ status: string }>('SELECT status FROM sms_outbox WHERE id = $1', [outboxId]);
    const status = cur.rows[0]?.status;
    if (!status || status === 'SENT' || status === 'FAILED') {
      log.debug({ outbox_id: outboxId, status: status ?? 'MISSING' }, 'sms already handled');
      return 'ALREADY_DONE';
    }
    throw new RetryLater('sms is being delivered by another worker');
  }
  try {
    const { providerId } = await deps.provider.send(msg);
    await db.query(
      `UPDATE sms_outbox SET status = 'SENT', sent_at = now(), updated_at = now(), provider_id = $2, last_error = NULL, locked_until = NULL
        WHERE id = $1 AND status = 'NEW'`,
      [outboxId, providerId],
    );
    deps.onTry?.('sent');
    log.info({ outbox_id: outboxId, entity_name: msg.entity_name, tries: msg.tries, provider: deps.provider.name }, 'sms sent');
    return 'SENT';
  } catch (err) {
    const reason = err instanceof SmsSendError ? err.message : `provider error (${(err as Error)?.name ?? 'Error'})`;
    const final = msg.tries >= deps.maxTries;
    await db.query(
      `UPDATE sms_outbox SET status = $3, last_error = $2, locked_until = NULL, updated_at = now() WHERE id = $1 AND status = 'NEW'`,
      [outboxId, reason, final ? 'FAILED' : 'NEW'],
    );
    deps.onTry?.(final ? 'failed' : 'retry');
    if (final) {
      log.error({ outbox_id: outboxId, entity_name: msg.entity_name, tries: msg.tries, reason }, 'sms failed for good');
      return 'FAILED';
    }
    log.warn({ outbox_id: outboxId, entity_name: msg.entity_name, tries: msg.tries, reason }, 'sms not sent, will retry');
    throw new RetryLater(reason);
  }
}

/**
 * The `log` provider accepts everything without I/O (`acceptsAllNow`: no sandbox fault set), so a batch is delivered with one conditional
 * UPDATE (claim + try + SENT in one step, same conditions as `deliverSms`'s claim). Rows it did not
 * take (already SENT/FAILED, or leased by another worker) go through `deliverSms`, which tells them apart.
 */
async function deliverLogBatch(deps: DeliveryDeps, ids: string[]): Promise<string[]> {
  const { rows } = await deps.db.query<{ id: string; entity_name: string; tries: number }>(
    `UPDATE sms_outbox
        SET status = 'SENT', tries = tries + 1, sent_at = now(), updated_at = now(), provider_id = 'log:' || id::text,
            last_error = NULL, locked_until = NULL
      WHERE id = ANY($1::uuid[]) AND status = 'NEW' AND (locked_until IS NULL OR locked_until < clock_timestamp())
      RETURNING id, entity_name, tries`,
    [ids],
  );
  for (const r of rows) {
    deps.onTry?.('sent');
    deps.log.info({ outbox_id: r.id, entity_name: r.entity_name, tries: r.tries, provider: deps.provider.name }, 'sms sent');
  }
  const done = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !done.has(id));
}

/**
 * Deliver every row of one job, at most `concurrency` at once. Throws `RetryLater` after all rows were
 * tried when any of them must be retried (pg-boss then retries the whole job; done rows are skipped);
 * any other error is rethrown the same way, after the other rows.
 */
export async function deliverSmsBatch(deps: DeliveryDeps, ids: string[], concurrency = 8): Promise<Record<DeliveryResult, number>> {
  const counts: Record<DeliveryResult, number> = { SENT: 0, FAILED: 0, ALREADY_DONE: 0 };
  let todo = [...new Set(ids)];
  if (todo.length > 0 && (await deps.provider.acceptsAllNow?.())) {
    const rest = await deliverLogBatch(deps, todo);
    counts.SENT += todo.length - rest.length;
    todo = rest;
  }
  let retry = 0;
  let failure: unknown;
  let next = 0;
  const lane = async () => {
    while (next < todo.length) {
      const id = todo[next++];
      try {
        counts[await deliverSms(deps, id)]++;
      } catch (err) {
        if (err instanceof RetryLater) retry++;
        else failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, lane));
  if (failure) throw failure;
  if (retry) throw new RetryLater(`${retry} of ${ids.length} sms to retry`);
  return counts;
}

/**
 * The relay: NEW rows without a job, oldest first, `batch` at a time, each batch becoming ONE delivery
 * job in the transaction that stamps the rows' `enqueued_at` (so a row gets its job exactly when the
 * stamp commits). Loops while batches are full. Returns the number of rows moved.
 */
export async function relaySmsOutbox(platform: Pick<Platform, 'db' | 'queue'>, batch = SMS_RELAY_BATCH): Promise<number> {
  let total = 0;
  for (;;) {
    const moved = await platform.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `SELECT id FROM sms_outbox WHERE enqueued_at IS NULL AND status = 'NEW'
          ORDER BY inserted_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batch],
      );
      if (!rows.length) return 0;
      const ids = rows.map((r) => r.id);
      await platform.queue.send(SMS_QUEUE, { outbox_ids: ids }, { tx });
      // updated_at too: the sweep measures staleness from the moment the row got its job
      await tx.query('UPDATE sms_outbox SET enqueued_at = now(), updated_at = now() WHERE id = ANY($1::uuid[])', [ids]);
      return ids.length;
    });
    total += moved;
    if (moved < batch) return total;
  }
}

/** Rows per relay batch, i.e. at most this many SMS per delivery job. */
export const SMS_RELAY_BATCH = 500;
/** Under load, the relay runs at most this often (an idle relay runs at once when nudged). */
export const SMS_RELAY_MIN_GAP_MS = 500;
/** Rows of one job delivered at once (http provider). */
export const SMS_DELIVERY_CONCURRENCY = 8;

export const SMS_SWEEP_QUEUE = 'sms-sweep';

/**
 * Safety net for "nothing lost": NEW rows untouched for `staleSeconds` with no live lease (their job
 * was lost, e.g. retries exhausted by lease conflicts or the job row removed) are handed back to the
 * relay (enqueued_at = NULL), which gives them a fresh job; the relay is nudged. A spare job is
 * harmless: the claim is conditional. Returns the ids handed back.
 */
export async function sweepStuckSms(
  platform: Pick<Platform, 'db' | 'queue' | 'log'>,
  staleSeconds: number,
  limit = 500,
): Promise<string[]> {
  const { rows } = await platform.db.query<{ id: string }>(
    `UPDATE sms_outbox SET enqueued_at = NULL, updated_at = now()
      WHERE id IN (SELECT id FROM sms_outbox
                    WHERE status = 'NEW' AND updated_at < now() - make_interval(secs => $1)
                      AND (locked_until IS NULL OR locked_until < now())
                    ORDER BY updated_at LIMIT $2)
      RETURNING id`,
    [staleSeconds, limit],
  );
  const ids = rows.map((r) => r.id);
  if (ids.length) {
    platform.log.warn({ count: ids.length }, 'stuck sms handed back to the relay');
    await nudgeSmsRelay(platform.queue);
  }
  return ids;
}

/**
 * Define the SMS delivery queue once per runtime (any capability that sends SMS calls it from its
 * `jobs`; the second call is a no-op).
 */
export function registerSmsDelivery(platform: Platform) {
  // the runtime's queue knows what it defines: no process-wide registry of queues
  if (platform.queue.hasQueue(SMS_QUEUE)) return;
  const { config } = platform;
  const gatewaySeconds = Math.ceil(config.SMS_GATEWAY_TIMEOUT_MS / 1000);
  // JOB_LEASE_SECONDS is the lease of SMS work too: a row claimed by a worker that died is claimed again
  // after it, but never before the dead worker's gateway call must have ended (the gateway timeout and a margin)
  const leaseSeconds = Math.max(config.JOB_LEASE_SECONDS, gatewaySeconds + 5);
  const tries = new Counter({
    name: 'esoz_sms_delivery_tries_total',
    help: 'SMS delivery tries by provider and result (sent, retry, failed = gave up after SMS_MAX_TRIES)',
    labelNames: ['provider', 'result'],
    registers: [platform.metrics.registry],
  });
  const deps: DeliveryDeps = {
    db: platform.db,
    log: platform.log.child({ component: 'sms' }),
    provider: withFaults(providerFromConfig(config), platform.services.get(FAULTS)),
    maxTries: config.SMS_MAX_TRIES,
    leaseSeconds,
    onTry: (result) => tries.inc({ provider: config.SMS_PROVIDER, result }),
  };
  platform.queue.defineQueue<{ outbox_ids: string[] }>({
    name: SMS_QUEUE,
    // The outbox rows count their tries and end FAILED after SMS_MAX_TRIES; the job gets some slack on
    // top so that a try lost to a lease conflict does not end the job early.
    retryLimit: config.SMS_MAX_TRIES + 3,
    retryDelay: config.SMS_RETRY_DELAY_SECONDS,
    retryBackoff: true,
    retryDelayMax: 300,
    // The job's lease is its heartbeat: a job of up to SMS_RELAY_BATCH rows may legitimately run long
    // (batch / concurrency rounds of one gateway timeout each, the outer bound below), but a job whose
    // worker died is taken back after JOB_LEASE_SECONDS (pg-boss's minimum: 10), so its rows that were
    // not in flight leave at once on the retry, and those in flight once their row lease ended.
    heartbeatSeconds: Math.max(10, config.JOB_LEASE_SECONDS),
    expireInSeconds: (gatewaySeconds + 30) * Math.ceil(SMS_RELAY_BATCH / SMS_DELIVERY_CONCURRENCY),
    concurrency: 4,
    handler: (job) => deliverSmsBatch(deps, job.data.outbox_ids, SMS_DELIVERY_CONCURRENCY),
  });
  // Nudged after every committed SMS: at once when idle; under load at most every SMS_RELAY_MIN_GAP_MS, so
  // the job insert, fetch and complete (each a large pg-boss statement) are paid per batch, not per SMS.
  platform.queue.defineRelay(SMS_RELAY, () => relaySmsOutbox(platform), 1000, { minGapMs: SMS_RELAY_MIN_GAP_MS });
  // Longer than the longest backoff (300 s) plus the lease, so a row merely waiting for its retry is left alone.
  const staleSeconds = 300 + leaseSeconds + 60;
  platform.queue.defineQueue<object>({
    name: SMS_SWEEP_QUEUE,
    retryLimit: 0,
    expireInSeconds: 120,
    concurrency: 1,
    handler: async () => {
      await sweepStuckSms(platform, staleSeconds);
      // attempts of entities never checked again: keep at least a day and the longest configured window
      await pruneSmsAttempts(platform.db, Math.max(86400, config.MR_SEND_TIMEOUT, config.COMPOSITION_SEND_TIMEOUT));
    },
  });
  platform.queue.defineSchedule({ queue: SMS_SWEEP_QUEUE, cron: '* * * * *' });
}
