/**
 * ERLN as a port. An adapter resolves with ERLN's answer (accepted, or a business rejection that
 * retrying cannot change) and throws ErlnUnreachableError when ERLN did not answer (down, timeout,
 * 5xx, an unreadable reply): the integration task retries those with backoff. Every call carries an
 * idempotency key, the same on every retry of one task, so a repeated call creates nothing twice.
 */
import type { ErlnCancelRequest, ErlnCreateRequest, ErlnReply } from './contract.ts';

export interface ErlnGateway {
  readonly name: string;
  createRecord(request: ErlnCreateRequest, idempotencyKey: string): Promise<ErlnReply>;
  cancelRecord(request: ErlnCancelRequest, idempotencyKey: string): Promise<ErlnReply>;
}

/** ERLN did not answer. The message is safe to store and show (no URL, no patient data). */
export class ErlnUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ErlnUnreachableError';
  }
}
