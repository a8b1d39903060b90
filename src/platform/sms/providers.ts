/**
 * SMS provider adapters. `send` resolves when the provider accepted the message and throws when it
 * did not (the delivery worker retries). Adapters never log phone numbers or message bodies.
 *
 * `http` contract (docs/decisions.md (ePrescription)):
 *   POST SMS_GATEWAY_URL
 *   Content-Type: application/json
 *   Idempotency-Key: <outbox id>          (the same key on every retry of one message)
 *   {"id": "<outbox id>", "phone_number": "+380…", "body": "…", "entity_name": "medication_request", "entity_id": "…"}
 * Any 2xx = accepted (an optional JSON `id` / `message_id` in the answer is kept as provider_id);
 * anything else, a network error or no answer within SMS_GATEWAY_TIMEOUT_MS = retry later.
 */
import type { Config } from '../config.ts';
import type { Faults } from '../faults.ts';

export interface SmsMessage {
  id: string;
  phone_number: string;
  body: string;
  entity_name: string;
  entity_id: string;
}

export interface SmsProvider {
  readonly name: string;
  send(msg: SmsMessage): Promise<{ providerId: string | null }>;
  /**
   * True while every message would be accepted at once without I/O, with provider id `log:<outbox id>`:
   * the delivery then marks a whole batch SENT in one statement instead of one claim and one update
   * per message (delivery.ts). Absent: never.
   */
  acceptsAllNow?(): Promise<boolean>;
}

/** A failure safe to log and store: it carries no message content and no gateway URL. */
export class SmsSendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmsSendError';
  }
}

/** Sandbox default: the message is "delivered" by being kept in sms_outbox (GET /admin/sms). */
export const logProvider: SmsProvider = {
  name: 'log',
  async send(msg) {
    return { providerId: `log:${msg.id}` };
  },
  async acceptsAllNow() {
    return true;
  },
};

export function httpProvider(url: string, timeoutMs: number): SmsProvider {
  return {
    name: 'http',
    async send(msg) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': msg.id },
          body: JSON.stringify({
            id: msg.id,
            phone_number: msg.phone_number,
            body: msg.body,
            entity_name: msg.entity_name,
            entity_id: msg.entity_id,
          }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const name = (err as Error)?.name;
        if (name === 'TimeoutError' || name === 'AbortError') throw new SmsSendError(`gateway timeout after ${timeoutMs} ms`);
        const code = (err as { cause?: { code?: string } })?.cause?.code;
        throw new SmsSendError(`gateway unreachable${code ? ` (${code})` : ''}`);
      }
      const text = await res.text().catch(() => '');
      if (res.status < 200 || res.status >= 300) throw new SmsSendError(`gateway answered HTTP ${res.status}`);
      let providerId: string | null = null;
      try {
        const j = JSON.parse(text);
        const v = j?.id ?? j?.message_id ?? j?.data?.id;
        if (typeof v === 'string' || typeof v === 'number') providerId = String(v);
      } catch {
        /* a 2xx without JSON is still accepted */
      }
      return { providerId };
    },
  };
}

export function providerFromConfig(config: Config): SmsProvider {
  return config.SMS_PROVIDER === 'http' ? httpProvider(config.SMS_GATEWAY_URL, config.SMS_GATEWAY_TIMEOUT_MS) : logProvider;
}

/**
 * The provider behind the sandbox's SMS faults (`PUT /admin/faults`, platform/faults.ts): down fails
 * every send, slow delays it, fail_next fails the next N; a failed send is retried like a gateway error.
 */
export function withFaults(provider: SmsProvider, faults: Faults): SmsProvider {
  return {
    name: provider.name,
    async send(msg) {
      const { sms } = await faults.current();
      if (sms.mode === 'down' || (await faults.take('sms'))) throw new SmsSendError('SMS gateway unavailable (sandbox fault)');
      if (sms.mode === 'slow' && sms.delay_ms > 0) await new Promise((r) => setTimeout(r, sms.delay_ms));
      return provider.send(msg);
    },
    // with no fault set the wrapped provider decides; a fault needs every message to pass through send()
    async acceptsAllNow() {
      const { sms } = await faults.current();
      return sms.mode === 'ok' && sms.fail_next <= 0 && (await provider.acceptsAllNow?.()) === true;
    },
  };
}
