/**
 * The SMS outbox: every SMS is a `sms_outbox` row plus a delivery job, both written in the
 * caller's transaction, so an SMS exists exactly when the business decision to send it commits.
 * The worker (delivery.ts) takes it from there.
 */
import type { Db } from '../db.ts';
import type { JobQueue } from '../queue.ts';

export const SMS_QUEUE = 'sms-delivery';

export interface OutgoingSms {
  phoneNumber: string;
  body: string;
  entityName: string;
  entityId: string;
}

/** Write the outbox row and enqueue its delivery job inside `tx`; returns the outbox id. */
export async function enqueueSms(queue: JobQueue, tx: Db, sms: OutgoingSms): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id) VALUES ($1, $2, $3, $4) RETURNING id`,
    [sms.phoneNumber, sms.body, sms.entityName, sms.entityId],
  );
  const id = rows[0].id;
  await queue.send(SMS_QUEUE, { outbox_id: id }, { tx });
  return id;
}
