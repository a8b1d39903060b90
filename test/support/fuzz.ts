/**
 * Fuzz support: raw HTTP over a socket (bytes fetch would refuse: bad percent-encoding, raw UTF-8
 * and NUL in the path, huge headers), fast-check arbitraries derived from the served OpenAPI
 * document, and the ESOZ envelope check.
 */
import net from 'node:net';
import fc from 'fast-check';

export interface FuzzRequest {
  method: string;
  /** the route template of the OpenAPI document (or its unprefixed twin) */
  route: string;
  /** the method is the route's own (not one it does not have) */
  documented?: boolean;
  /** sent as written: already percent-encoded where the generator chose to */
  path: string;
  headers: [string, string][];
  body?: Buffer;
  /** what the body generator did (for the failure report) */
  note: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** set when no complete response came back */
  error?: string;
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

function parseResponse(raw: Buffer): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

/** One request on its own connection (Connection: close), with an exact Content-Length. */
export function sendRaw(port: number, req: FuzzRequest, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(chunks));
      resolve(parsed ?? { status: 0, headers: {}, body: Buffer.concat(chunks).toString('utf8'), error: error ?? 'no HTTP response' });
    };
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => finish(`no response within ${timeoutMs} ms`), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // The server may answer (413, 431) and close before it read everything we wrote: keep what came back.
    socket.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    let head = `${req.method} ${req.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
    for (const [k, v] of req.headers) head += `${k}: ${v}\r\n`;
    if (req.body) head += `Content-Length: ${req.body.length}\r\n`;
    head += '\r\n';
    socket.write(req.body ? Buffer.concat([Buffer.from(head, 'utf8'), req.body]) : Buffer.from(head, 'utf8'));
  });
}

/** Why a response is not acceptable, or undefined when it is a non-5xx ESOZ envelope whose meta.code is the status. */
export function envelopeProblem(r: RawResponse): string | undefined {
  if (r.error) return `no response (${r.error})`;
  if (r.status >= 500) return '5xx';
  let body: any;
  try {
    body = JSON.parse(r.body);
  } catch {
    return 'body is not JSON';
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body is not a JSON object';
  const meta = body.meta;
  if (!meta || typeof meta !== 'object') return 'no meta';
  const metaKeys = Object.keys(meta).sort().join(',');
  if (metaKeys !== 'code,request_id,type,url') return `meta keys are ${metaKeys}`;
  if (typeof meta.url !== 'string' || typeof meta.request_id !== 'string' || (meta.type !== 'object' && meta.type !== 'list'))
    return 'meta field types';
  if (meta.code !== r.status) return `meta.code ${meta.code} is not the HTTP status`;
  const keys = Object.keys(body).sort().join(',');
  if (r.status >= 400) {
    if (keys !== 'error,meta') return `error response keys are ${keys}`;
    const e = body.error;
    if (!e || typeof e.type !== 'string' || typeof e.message !== 'string') return 'error.type/message missing';
    const extra = Object.keys(e).filter((k) => k !== 'type' && k !== 'message' && k !== 'invalid');
    if (extra.length) return `error has ${extra.join(',')}`;
    if (e.invalid !== undefined && !Array.isArray(e.invalid)) return 'error.invalid is not an array';
  } else if (keys !== 'data,meta' && keys !== 'data,meta,paging') return `success response keys are ${keys}`;
  if (!/json/.test(r.headers['content-type'] ?? '')) return `content-type ${r.headers['content-type']}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Values

/** Numbers in query strings that overflow bigint, are exponents, negative, not numbers at all. */
export const BAD_NUMBERS = [
  '9223372036854775808',
  '9223372036854775807',
  '-9223372036854775809',
  '99999999999999999999',
  '1e21',
  '1e3',
  '-1',
  '0',
  '1.5',
  '2147483648',
  '-2147483649',
  'NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  '%201',
  '',
  '1%00',
  '00000000000000000000001',
  '1_000',
];

const BAD_PERCENT = ['%', '%zz', '%E0%A4%A', '%C0%AF', '%FF', '%ED%A0%80', 'a%', '%u0041', '%%', '%0', '%G1'];
const NUL = ['%00', 'a%00b', '%00%00%00'];
const UNICODE = ['пацієнт', 'İ', '🧪', 'ｆｕｌｌ', '\u202Eevil', 'a\u0301', '𝕏'.repeat(50)];

/** Percent-encode a JS string (lone surrogates as U+FFFD) so it is a valid URL piece. */
export function enc(s: string): string {
  return encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
}

export const textArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(...UNICODE),
  fc.constantFrom('a\u0000b', '\u0000', 'x'.repeat(3) + '\u0000'),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'z'.repeat(n)),
);

/** A path segment or query value as written on the wire. */
export function wireValueArb(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...known) },
    { weight: 3, arbitrary: fc.uuid().map((u) => u) },
    { weight: 2, arbitrary: textArb.map(enc) },
    { weight: 1, arbitrary: fc.constantFrom(...BAD_PERCENT) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...known), fc.constantFrom(...BAD_PERCENT)).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.constantFrom(...NUL).chain((n) => fc.constantFrom(n, `${known[0]}${n}`)) },
    // raw bytes in the URL: UTF-8 text and control characters an HTTP client would escape
    { weight: 1, arbitrary: fc.constantFrom(...UNICODE, 'a\tb', 'a\u0001b', '\u007f') },
    { weight: 1, arbitrary: fc.integer({ min: 101, max: 20_000 }).map((n) => 'a'.repeat(n)) },
    { weight: 1, arbitrary: fc.constantFrom(...BAD_NUMBERS.filter((x) => x !== '')) },
    { weight: 1, arbitrary: fc.constantFrom('..', '.', '%2F', '%2e%2e', '%2F..%2F', 'null', 'undefined', '{id}', ':id', '*') },
  );
}

// ---------------------------------------------------------------------------------------------
// Bodies from the schema of the document

export type Schema = Record<string, any>;

interface SchemaCtx {
  uuids: string[];
  /** object properties named `id` get fresh uuids (fixtures must not overwrite the seeded rows) */
  freshIds: boolean;
}

function stringArb(s: Schema, ctx: SchemaCtx, key: string): fc.Arbitrary<string> {
  if (s.format === 'uuid') {
    if (key === 'id' && ctx.freshIds) return fc.uuid();
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...ctx.uuids) },
      { weight: 2, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: textArb },
    );
  }
  if (s.format === 'date-time')
    return fc.date({ noInvalidDate: true, min: new Date('1900-01-01'), max: new Date('2100-01-01') }).map((d) => d.toISOString());
  if (s.format === 'date')
    return fc
      .date({ noInvalidDate: true, min: new Date('1900-01-01'), max: new Date('2100-01-01') })
      .map((d) => d.toISOString().slice(0, 10));
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 12, 12) }) },
    { weight: 1, arbitrary: textArb },
  );
}

export function schemaArb(s: Schema | undefined, ctx: SchemaCtx, depth = 0, key = ''): fc.Arbitrary<unknown> {
  if (!s || typeof s !== 'object' || Object.keys(s).length === 0 || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  let base: fc.Arbitrary<unknown>;
  if (s.anyOf || s.oneOf) base = fc.oneof(...(s.anyOf ?? s.oneOf).map((x: Schema) => schemaArb(x, ctx, depth + 1, key)));
  else if (s.enum) base = fc.constantFrom(...(s.enum as unknown[]));
  else if (s.type === 'object' || s.properties) {
    const props: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) props[k] = schemaArb(v, ctx, depth + 1, k);
    base = Object.keys(props).length
      ? fc.record(props, { requiredKeys: (s.required ?? []).filter((k: string) => k in props) })
      : fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
  } else if (s.type === 'array') {
    const min = s.minItems ?? 0;
    base = fc.array(schemaArb(s.items, ctx, depth + 1, key), { minLength: min, maxLength: Math.max(min, Math.min(s.maxItems ?? 3, 3)) });
  } else if (s.type === 'string') base = stringArb(s, ctx, key);
  else if (s.type === 'integer') base = fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 100_000 });
  else if (s.type === 'number') base = fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true });
  else if (s.type === 'boolean') base = fc.boolean();
  else base = fc.jsonValue({ maxDepth: 2 });
  return s.nullable ? fc.oneof({ weight: 5, arbitrary: base }, { weight: 1, arbitrary: fc.constant(null) }) : base;
}

// ---------------------------------------------------------------------------------------------
// Mutations of a JSON value

// Deep nesting is written as text when the body is serialised (see toJson): JSON.stringify of a
// 5,000-level value would overflow the stack of the generator itself.
const deep = (n: number, kind: 'array' | 'object') => `__DEEP_${kind}_${n}__`;

/** JSON.stringify, with the deep-nesting placeholders expanded. */
export function toJson(v: unknown): string {
  return (JSON.stringify(v) ?? 'null').replace(/"__DEEP_(array|object)_(\d+)__"/g, (_m, kind: string, n: string) =>
    kind === 'array' ? `${'['.repeat(Number(n))}1${']'.repeat(Number(n))}` : `${'{"a":'.repeat(Number(n))}1${'}'.repeat(Number(n))}`,
  );
}

/** Values of the wrong type, size or content. */
export const wrongValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 9223372036854775808, 1e21, -1e308, '', {}, []),
  fc.constantFrom('a\u0000b', '\u0000'),
  textArb,
  fc.integer({ min: 100, max: 5_000 }).chain((n) => fc.constantFrom(deep(n, 'array'), deep(n, 'object'))),
  fc.integer({ min: 100, max: 5_000 }).chain((n) =>
    fc.constantFrom(
      Array.from({ length: n }, (_, i) => i),
      Array.from({ length: n }, () => ({ a: '\u0000' })),
    ),
  ),
  fc.jsonValue({ maxDepth: 3 }),
);

function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (out.length > 500) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/** Replace (or delete, or add a sibling next to) the node at the `pick`-th path of `value`. */
export function mutate(value: unknown, pick: number, op: 'replace' | 'delete' | 'add', replacement: unknown): unknown {
  const copy = structuredClone(value);
  const all = paths(copy);
  const at = all[pick % all.length];
  if (at.length === 0) return op === 'replace' ? replacement : copy;
  let parent: any = copy;
  for (const k of at.slice(0, -1)) parent = parent[k];
  const last = at[at.length - 1];
  if (op === 'replace') parent[last] = replacement;
  else if (op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (Array.isArray(parent)) parent.push(replacement);
  else parent[`fuzz_${String(last)}`] = replacement;
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Body bytes and content types

export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-8',
  'application/json; charset=windows-1251',
  'application/json; charset=utf-16le',
  'application/json; charset=bogus',
  'text/plain',
  'text/plain; charset=koi8-u',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/merge-patch+json',
  'application/vnd.api+json',
  '*/*',
  'a/b/c',
  ';;;',
  'application/json; charset="utf-8"; foo=bar',
];

export type BodyEncoding = 'utf8' | 'latin1' | 'utf16le' | 'invalid-utf8' | 'bom';

export function encodeBody(text: string, encoding: BodyEncoding): Buffer {
  if (encoding === 'latin1' || encoding === 'utf16le') return Buffer.from(text, encoding);
  if (encoding === 'invalid-utf8')
    return Buffer.concat([
      Buffer.from(text.slice(0, text.length >> 1)),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]),
      Buffer.from(text.slice(text.length >> 1)),
    ]);
  if (encoding === 'bom') return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
  return Buffer.from(text);
}
