/**
 * `http` adapter: the JSON contract of contract.ts over HTTP (docs/erln.md).
 *   POST {ERLN_URL}/records          body ErlnCreateRequest
 *   POST {ERLN_URL}/records/cancel   body ErlnCancelRequest
 *   Idempotency-Key: <integration task id>   (the same on every retry of one task)
 * 200 with an ErlnReply = ERLN answered (accepted or rejected); anything else — no answer within
 * the timeout, a network error, another status, a body outside the contract — is "unreachable" and
 * the task retries. Nothing of the request (patient data) or of the URL goes into the error.
 */
import { Ajv } from 'ajv';
import { ErlnReply, type ErlnCancelRequest, type ErlnCreateRequest } from './contract.ts';
import { ErlnUnreachableError, type ErlnGateway } from './gateway.ts';

const isReply = new Ajv({ strict: false }).compile<ErlnReply>(ErlnReply);

export class HttpErlnGateway implements ErlnGateway {
  readonly name = 'http';
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  createRecord(request: ErlnCreateRequest, idempotencyKey: string) {
    return this.post('/records', request, idempotencyKey);
  }

  cancelRecord(request: ErlnCancelRequest, idempotencyKey: string) {
    return this.post('/records/cancel', request, idempotencyKey);
  }

  private async post(path: string, body: unknown, idempotencyKey: string): Promise<ErlnReply> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
      throw new ErlnUnreachableError(timedOut ? `ERLN did not answer within ${this.timeoutMs} ms` : 'ERLN is unreachable');
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new ErlnUnreachableError(`ERLN answered HTTP ${res.status}`);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new ErlnUnreachableError('ERLN answered without a JSON body');
    }
    if (!isReply(json)) throw new ErlnUnreachableError('ERLN answered outside the contract');
    return json;
  }
}
