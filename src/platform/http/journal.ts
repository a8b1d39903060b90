/**
 * The request journal of the sandbox (`GET /admin/requests`): the last REQUEST_JOURNAL_SIZE requests of
 * this process with their bodies, so an MIS developer sees what their client really sent and what came
 * back. In memory and per process on purpose: it is a debugging aid of the embedded sandbox (off by
 * default on PostgreSQL, where several processes serve), and it must cost nothing when off and little
 * when on. Phone numbers, verification codes, tokens and secrets are redacted before an entry is shown
 * (the raw request and answer are dropped then); they never leave the process otherwise.
 */
import type { Config } from '../config.ts';
import { isEmbedded } from '../config.ts';
import { maskUrl } from '../logging.ts';
import { serviceKey } from '../services.ts';

export interface JournalEntry {
  seq: number;
  at: string;
  request_id: string;
  method: string;
  path: string;
  status: number;
  latency_ms: number;
  client_id: string | null;
  /** `error.type` of an ESOZ error answer */
  error_type: string | null;
  request_body: unknown;
  response_body: unknown;
}

export interface JournalFilter {
  method?: string;
  status?: number;
  /** a part of the path */
  path?: string;
  client_id?: string;
  error_type?: string;
  limit?: number;
}

/** The keys whose values never reach the journal (the SMS outbox's `body` carries verification codes). */
const SECRET_KEYS = new Set([
  'phone',
  'phone_number',
  'verification_code',
  'access_token',
  'refresh_token',
  'token',
  'secret',
  'client_secret',
  'sms_body',
  'body',
  'password',
  // a phone of a preperson's or a fixture's `phones[]`, and the console's login field
  'number',
  'admin_key',
  'api_key',
  'otp',
]);
const PHONE = /\+?380\d{9}\b/g;
/** A body kept is cut to this many characters of JSON (a CMS or a fixture set can be megabytes). */
export const JOURNAL_BODY_CHARS = 8192;
export const REDACTED = '[Redacted]';

/** `value` with secret keys and phone numbers masked, and long strings cut. */
export function redactForJournal(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    const masked = value.replace(PHONE, REDACTED);
    return masked.length > 512 ? `${masked.slice(0, 512)}…(${masked.length} chars)` : masked;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth > 32) return '…';
  if (Array.isArray(value)) return value.map((v) => redactForJournal(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k.toLowerCase()) ? REDACTED : redactForJournal(v, depth + 1);
  return out;
}

/** A body as kept: JSON parsed and redacted, or a note saying what it was. */
function keptBody(body: unknown, contentType: string | undefined): unknown {
  if (body === undefined || body === null || body === '') return null;
  let value = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = body.toString();
    if (!/json/i.test(contentType ?? '')) return `(${contentType ?? 'unknown type'}, ${Buffer.byteLength(text)} bytes)`;
    try {
      value = JSON.parse(text);
    } catch {
      return `(unparsable JSON, ${Buffer.byteLength(text)} bytes)`;
    }
  }
  const redacted = redactForJournal(value);
  const json = JSON.stringify(redacted);
  return json.length > JOURNAL_BODY_CHARS ? `${json.slice(0, JOURNAL_BODY_CHARS)}…(${json.length} chars)` : redacted;
}

/**
 * Paths the journal leaves out: probes, metrics, the API docs, the journal itself, and the sandbox
 * console's pages (its login form carries the admin key; its actions are journaled as the admin calls they make).
 */
const SKIPPED = /^\/(health\/|metrics$|docs(\/|$)|openapi\.json$|admin\/requests$|console(\/|$))/;

/** What a request leaves at record time: references and the serialised answer, nothing parsed or copied. */
interface RawEntry {
  seq: number;
  at: string;
  requestId: string;
  method: string;
  url: string;
  status: number;
  latencyMs: number;
  clientId: string | null;
  requestBody: unknown;
  requestType: string | undefined;
  responseBody: unknown;
  responseType: string | undefined;
  /** in place of a body too large to keep: what it was */
  requestNote?: string;
  responseNote?: string;
  /** the entry as shown, made on the first read */
  shown?: JournalEntry;
}

/** A kept answer larger than this is recorded by its size only (bounds the journal's memory). */
const RAW_BODY_CHARS = 256 * 1024;

export class RequestJournal {
  private readonly entries: RawEntry[] = [];
  private seq = 0;

  constructor(readonly size: number) {}

  /**
   * `route`: the matched route's pattern; the router decodes the path (`/%63onsole/login` is the console's
   * login), so the raw URL alone would let a percent-encoded path past the skip list.
   */
  wants(url: string, route?: string): boolean {
    return !SKIPPED.test(url.split('?')[0]) && (route === undefined || !SKIPPED.test(route));
  }

  /**
   * Keeps the request as it was (the parsed body by reference, the answer as sent). Parsing, redaction
   * and cutting wait for a read of the journal: on the request path the journal costs a push, not a walk
   * over the bodies (docs/benchmarks.md, the journal).
   */
  record(
    e: Omit<RawEntry, 'seq' | 'at' | 'requestNote' | 'responseNote' | 'shown'> & {
      /** the request's Content-Length: a larger body than RAW_BODY_CHARS is kept by its size only */
      requestBytes?: number;
    },
  ): void {
    const { requestBytes, ...rest } = e;
    const largeRequest = (requestBytes ?? 0) > RAW_BODY_CHARS;
    const responseLength = typeof e.responseBody === 'string' || Buffer.isBuffer(e.responseBody) ? e.responseBody.length : 0;
    const large = responseLength > RAW_BODY_CHARS;
    this.entries.push({
      ...rest,
      seq: ++this.seq,
      at: new Date().toISOString(),
      requestBody: largeRequest ? undefined : e.requestBody,
      requestNote: largeRequest ? `(${e.requestType ?? 'unknown type'}, ${requestBytes} bytes)` : undefined,
      responseBody: large ? undefined : e.responseBody,
      responseNote: large ? `(${e.responseType ?? 'unknown type'}, ${responseLength} characters)` : undefined,
    });
    if (this.entries.length > this.size) this.entries.splice(0, this.entries.length - this.size);
  }

  private show(e: RawEntry): JournalEntry {
    if (e.shown) return e.shown;
    const response = e.responseNote ?? keptBody(e.responseBody, e.responseType);
    const errorType =
      response && typeof response === 'object' && 'error' in response
        ? ((response as { error?: { type?: unknown } }).error?.type ?? null)
        : null;
    e.shown = {
      seq: e.seq,
      at: e.at,
      request_id: e.requestId,
      method: e.method,
      path: maskUrl(e.url),
      status: e.status,
      latency_ms: Math.round(e.latencyMs * 10) / 10,
      client_id: e.clientId,
      error_type: typeof errorType === 'string' ? errorType : null,
      request_body: e.requestNote ?? keptBody(e.requestBody, e.requestType),
      response_body: response,
    };
    // what was kept raw is dropped once shown: only the redacted view stays
    e.requestBody = undefined;
    e.responseBody = undefined;
    return e.shown;
  }

  /** Newest first. */
  list(f: JournalFilter = {}): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length < (f.limit ?? 100); i--) {
      const raw = this.entries[i];
      if (f.method && raw.method !== f.method.toUpperCase()) continue;
      if (f.status !== undefined && raw.status !== f.status) continue;
      if (f.client_id && raw.clientId !== f.client_id) continue;
      const e = this.show(raw);
      if (f.path && !e.path.includes(f.path)) continue;
      if (f.error_type && e.error_type !== f.error_type) continue;
      out.push(e);
    }
    return out;
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/** REQUEST_JOURNAL: `auto` keeps a journal on the embedded sandbox only. */
export function journalEnabled(config: Config): boolean {
  return config.REQUEST_JOURNAL === 'on' || (config.REQUEST_JOURNAL === 'auto' && isEmbedded(config));
}

/** The runtime's journal (one per process; the admin route reads it). */
export const requestJournalKey = serviceKey('requestJournal', (platform) => new RequestJournal(platform.config.REQUEST_JOURNAL_SIZE));
