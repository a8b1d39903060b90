/**
 * The HTTP edge: whatever a client sends, the answer is the ESOZ error envelope and never a 5xx;
 * no request holds the event loop or a connection beyond its bounds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import type { Capability } from '../src/platform/platform.ts';
import { sendData } from '../src/platform/http/envelope.ts';
import { MAX_INVALID_ENTRIES, MAX_ITEMS, MAX_TEXT_LENGTH } from '../src/platform/http/bounds.ts';

let server: TestServer;
let mis: Mis;
const REQUEST_TIMEOUT_SECONDS = 2;

before(async () => {
  server = await startTestServer({ env: { REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS) } });
  mis = await server.mis();
});
after(() => server.close());

interface RawResponse {
  status: number;
  head: string;
  body: any;
  /** ms from the first byte written until the server closed the connection */
  closedAfterMs: number;
}

/** Writes `chunks` on a raw TCP connection (a pause between chunks when `gapMs`), reads until the server closes it. */
function raw(chunks: (string | Buffer)[], gapMs = 0, url = server.url): Promise<RawResponse> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const started = Date.now();
    const received: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => undefined); // a reset after the response still leaves what was read
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(received).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (!m) return reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
      let body: any = rest.join('\r\n\r\n');
      try {
        body = JSON.parse(body);
      } catch {
        /* asserted on as text */
      }
      resolve({ status: Number(m[1]), head, body, closedAfterMs: Date.now() - started });
    });
    socket.on(
      'connect',
      () =>
        void (async () => {
          for (const c of chunks) {
            if (socket.destroyed) return;
            socket.write(c);
            if (gapMs) await new Promise((r) => (timer = setTimeout(r, gapMs)));
          }
        })(),
    );
  });
}

const req = (line: string, headers: Record<string, string> = {}, body = '') =>
  `${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n${body}`;

/** The ESOZ error envelope, nothing more, nothing less. */
function assertEnvelope(body: any, status: number, type?: string) {
  assert.equal(typeof body, 'object', `not JSON: ${String(body).slice(0, 200)}`);
  assert.deepEqual(Object.keys(body).sort(), ['error', 'meta']);
  assert.deepEqual(Object.keys(body.meta).sort(), ['code', 'request_id', 'type', 'url']);
  assert.equal(body.meta.code, status);
  assert.equal(body.meta.type, 'object');
  assert.equal(typeof body.meta.request_id, 'string');
  assert.ok(body.meta.request_id.length > 0);
  assert.equal(typeof body.error.type, 'string');
  assert.equal(typeof body.error.message, 'string');
  if (type) assert.equal(body.error.type, type);
}

const entries = (r: { body: any }) => r.body.error.invalid.map((i: any) => [i.entry, i.entry_type, i.rules[0].rule]);

// ------------------------------------------------------------------ integers

const OUT_OF_RANGE = ['9223372036854775808', '99999999999999999999', '1e21', '2147483648'];

test('offset and limit out of range on both search routes → 422 on the parameter, never a 500', async () => {
  const subject = randomUUID();
  for (const path of [`/api/patients/searchComposition?subject=${subject}&`, `/api/patients/${subject}/composition?`]) {
    for (const v of OUT_OF_RANGE) {
      for (const param of ['offset', 'limit']) {
        const r = await mis.call('GET', `${path}${param}=${v}`);
        assert.equal(r.status, 422, `${path}${param}=${v}: ${r.text}`);
        assertEnvelope(r.body, 422, 'validation_failed');
        assert.deepEqual(entries(r), [[`$.${param}`, 'query_parameter', 'number']]);
      }
    }
  }
});

test('searchComposition pages up to 1000 entries; 1001 is a 422', async () => {
  const subject = randomUUID();
  const ok = await mis.call('GET', `/api/patients/searchComposition?subject=${subject}&limit=1000&offset=2147483647`);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.paging.page_size, 1000);
  const patient = await mis.call('GET', `/api/patients/${subject}/composition?limit=1000`);
  assert.equal(patient.status, 200, patient.text);
  const over = await mis.call('GET', `/api/patients/searchComposition?subject=${subject}&limit=1001`);
  assert.equal(over.status, 422);
  assert.deepEqual(over.body.error.invalid[0].rules[0].params, [1000]);
});

test('GET /admin/sms: page and page_size out of range → 422', async () => {
  for (const v of OUT_OF_RANGE) {
    for (const param of ['page', 'page_size']) {
      const r = await server.call('GET', `/admin/sms?${param}=${v}`, { admin: true });
      assert.equal(r.status, 422, `${param}=${v}: ${r.text}`);
      assert.deepEqual(entries(r), [[`$.${param}`, 'query_parameter', 'number']]);
    }
  }
  const last = await server.call('GET', '/admin/sms?page=1000000&page_size=100', { admin: true });
  assert.equal(last.status, 200, last.text);
});

test('every integer, text and list of every request schema in /openapi.json is bounded', async () => {
  const doc = (await server.call('GET', '/openapi.json')).body;
  const unbounded: string[] = [];
  const walk = (s: any, where: string) => {
    if (!s || typeof s !== 'object') return;
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const fixed = s.enum !== undefined || s.const !== undefined;
    if (types.includes('string') && !fixed && s.maxLength === undefined) unbounded.push(`${where}: string without maxLength`);
    if (types.includes('array') && s.maxItems === undefined) unbounded.push(`${where}: array without maxItems`);
    if (types.includes('integer') && !fixed && (s.maximum === undefined || s.minimum === undefined))
      unbounded.push(`${where}: integer without bounds`);
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${where}.${k}`);
    if (s.items) walk(s.items, `${where}[]`);
    for (const key of ['anyOf', 'oneOf', 'allOf']) for (const [i, b] of (s[key] ?? []).entries()) walk(b, `${where}/${key}${i}`);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${where}.*`);
  };
  let seen = 0;
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      for (const p of op.parameters ?? []) {
        seen++;
        walk(p.schema, `${method.toUpperCase()} ${path} ${p.in} ${p.name}`);
      }
      for (const [type, c] of Object.entries<any>(op.requestBody?.content ?? {})) {
        seen++;
        walk(c.schema, `${method.toUpperCase()} ${path} body (${type})`);
      }
    }
  }
  assert.ok(seen > 20, `only ${seen} request parts found`);
  assert.deepEqual(unbounded, []);
});

// ------------------------------------------------------------------ text

test('NUL in a query, path or body string → 422 at the edge (PostgreSQL cannot store it)', async () => {
  const subject = randomUUID();
  const q = await mis.call('GET', `/api/patients/searchComposition?subject=${subject}&type=a%00b`);
  assert.equal(q.status, 422, q.text);
  assertEnvelope(q.body, 422, 'validation_failed');
  assert.deepEqual(entries(q), [['$.type', 'query_parameter', 'format']]);
  assert.match(q.body.error.invalid[0].rules[0].description, /NUL/);
  for (const f of ['phone_number', 'entity_id', 'entity_name', 'status']) {
    const r = await server.call('GET', `/admin/sms?${f}=x%00`, { admin: true });
    assert.equal(r.status, 422, `${f}: ${r.text}`);
    assert.deepEqual(entries(r), [[`$.${f}`, 'query_parameter', 'format']]);
  }
  const body = await server.call('POST', '/admin/clients', { admin: true, body: { name: 'MIS\u0000' } });
  assert.equal(body.status, 422, body.text);
  assert.deepEqual(entries(body), [['$.name', 'json_data_property', 'format']]);
  const key = await server.call('POST', '/admin/fixtures', { admin: true, body: { persons: [{ 'a\u0000': 1 }] } });
  assert.equal(key.status, 422, key.text);
  assert.deepEqual(entries(key), [["$.persons[0]['a\u0000']", 'json_data_property', 'format']]);
  const path = await mis.call('GET', `/api/patients/a%00b/composition`);
  assert.equal(path.status, 422, path.text);
  assert.deepEqual(entries(path), [['$.patientId', 'path_parameter', 'format']]);
});

test('a body in another charset → 415; bytes that are not UTF-8 → 422; UTF-8 declared in any spelling is read', async () => {
  // "Клініка" in windows-1251
  const cp1251 = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xca, 0xeb, 0xb3, 0xed, 0xb3, 0xea, 0xe0]), Buffer.from('"}')]);
  const headers = { 'x-admin-key': 'test-admin-key', 'content-type': 'application/json; charset=windows-1251' };
  const declared = await fetch(`${server.url}/admin/clients`, { method: 'POST', headers, body: cp1251 });
  assert.equal(declared.status, 415);
  assertEnvelope(await declared.json(), 415, 'unsupported_media_type');
  const undeclared = await fetch(`${server.url}/admin/clients`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: cp1251,
  });
  assert.equal(undeclared.status, 422);
  const ub = await undeclared.json();
  assertEnvelope(ub, 422, 'request_malformed');
  assert.match(ub.error.message, /not valid UTF-8/);
  for (const ct of ['application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json; charset=utf8']) {
    const r = await fetch(`${server.url}/admin/clients`, {
      method: 'POST',
      headers: { ...headers, 'content-type': ct },
      body: JSON.stringify({ name: 'Клініка' }),
    });
    assert.equal(r.status, 201, ct);
    assert.equal((await r.json()).data.name, 'Клініка');
  }
});

test('text and lists have maximum lengths: a long type.text is a 422, a 5 MB composition body a 413', async () => {
  const body = {
    type: { coding: [{ system: 'eHealth/composition_types', code: '11' }], text: 'x'.repeat(MAX_TEXT_LENGTH + 1) },
  };
  const long = await mis.call('POST', '/api/patients/composition', { body });
  assert.equal(long.status, 422, long.text);
  const text = long.body.error.invalid.find((i: any) => i.entry === '$.type.text');
  assert.deepEqual(text.rules, [
    { rule: 'length', params: [MAX_TEXT_LENGTH], description: `expected value to have a maximum length of ${MAX_TEXT_LENGTH}` },
  ]);
  const huge = await mis.call('POST', '/api/patients/composition', {
    body: { ...body, type: { ...body.type, text: 'x'.repeat(5 * 1024 * 1024) } },
  });
  assert.equal(huge.status, 413);
  assertEnvelope(huge.body, 413, 'request_too_large');
  const many = await server.call('POST', '/admin/tokens', {
    admin: true,
    body: { client_id: mis.clientId, scopes: Array(MAX_ITEMS + 1).fill('a:b') },
  });
  assert.equal(many.status, 422);
  assert.deepEqual(entries(many), [['$.scopes', 'json_data_property', 'length']]);
});

// ------------------------------------------------------------------ Fastify's and Node's own errors

test("the router's refusals are in the envelope: bad percent-encoding (400), a path parameter over 100 characters (414)", async () => {
  const bad = await raw([req(`GET /api/patients/%E0%A4%A/composition HTTP/1.1`)]);
  assert.equal(bad.status, 400);
  assertEnvelope(bad.body, 400, 'bad_request');
  const long = await mis.call('GET', `/api/patients/${'a'.repeat(101)}/composition`);
  assert.equal(long.status, 414);
  assertEnvelope(long.body, 414, 'request_uri_too_long');
  assert.equal(long.body.meta.request_id, long.headers.get('x-request-id'));
  assert.match(bad.head, /x-request-id: /i);
});

test("Node's parser refusals are in the envelope: header too large (431), a request that is not HTTP (400)", async () => {
  const big = await raw([req('GET /health/live HTTP/1.1', { 'x-big': 'a'.repeat(20_000) })]);
  assert.equal(big.status, 431);
  assertEnvelope(big.body, 431, 'request_header_fields_too_large');
  const garbage = await raw(['NOT HTTP AT ALL\r\n\r\n']);
  assert.equal(garbage.status, 400);
  assertEnvelope(garbage.body, 400, 'bad_request');
  const badLength = await raw([req('POST /admin/clients HTTP/1.1', { 'content-length': 'abc' })]);
  assert.equal(badLength.status, 400);
  assertEnvelope(badLength.body, 400, 'bad_request');
});

// ------------------------------------------------------------------ one request must not stall the server

test('a 422 lists at most MAX_INVALID_ENTRIES entries, then one that says more were found', async () => {
  const persons = Array.from({ length: 500 }, () => ({ gender: 'X', first_name: 1 }));
  const r = await server.call('POST', '/admin/fixtures', { admin: true, body: { persons } });
  assert.equal(r.status, 422);
  assertEnvelope(r.body, 422, 'validation_failed');
  const invalid = r.body.error.invalid;
  assert.equal(invalid.length, MAX_INVALID_ENTRIES + 1);
  assert.deepEqual(invalid.at(-1), {
    entry: '$',
    entry_type: 'request',
    rules: [
      {
        rule: 'too_many_errors',
        params: [MAX_INVALID_ENTRIES],
        description: `more invalid entries were found than are listed (at most ${MAX_INVALID_ENTRIES})`,
      },
    ],
  });
  assert.equal(invalid[0].entry, '$.persons[0].first_name');
});

/**
 * /health/live probed back to back while `bad` runs. The server runs in this process, so a blocked
 * event loop delays the probes' sending as well as their answers: the longest gap between the start
 * and one answer, or between two answers, is how long a client waited at most.
 */
async function probeDuring(bad: Promise<unknown>): Promise<{ maxMs: number; probes: number; badMs: number }> {
  const started = Date.now();
  let done = false;
  const settled = bad.finally(() => (done = true));
  let last = started;
  let maxMs = 0;
  let probes = 0;
  while (!done) {
    const r = await fetch(`${server.url}/health/live`);
    assert.equal(r.status, 200);
    await r.text();
    const now = Date.now();
    maxMs = Math.max(maxMs, now - last);
    last = now;
    probes++;
  }
  await settled;
  return { maxMs, probes, badMs: Date.now() - started };
}

test('a large bad request does not stall the server: /health/live answers while it is processed', async () => {
  // the worst case for the validator: ~1 MB of errors (every item wrong in every way) in one body
  const item = { gender: 'X', first_name: 1, last_name: 1, birth_date: 'x', no_tax_id: 'x', zz: 1 };
  const itemBytes = JSON.stringify(item).length + 1;
  const persons = Array.from({ length: Math.floor((1024 * 1024 - 100) / itemBytes) }, () => item);
  const bad = server.call('POST', '/admin/fixtures', { admin: true, body: { persons } });
  const { maxMs, probes } = await probeDuring(bad);
  const r = await bad;
  assert.ok([413, 422].includes(r.status), `${r.status}`);
  assertEnvelope(r.body, r.status);
  assert.ok(probes >= 1);
  // generous: the stall this pins was tens of seconds; a loaded CI machine still answers well under this
  assert.ok(maxMs < 1000, `a probe waited ${maxMs} ms`);
  // an invalid body with many entries inside the limits: the 422 is listed and capped
  const within = Array.from({ length: MAX_ITEMS }, () => item);
  const capped = server.call('POST', '/admin/fixtures', { admin: true, body: { persons: within, medical_programs: within } });
  const p2 = await probeDuring(capped);
  const c = await capped;
  assert.equal(c.status, 422, c.text.slice(0, 300));
  assert.equal(c.body.error.invalid.length, MAX_INVALID_ENTRIES + 1);
  assert.ok(p2.maxMs < 1000, `a probe waited ${p2.maxMs} ms`);
  // a valid body: on PGlite (in this process) the persons are written while the probes are answered
  const valid = Array.from({ length: 200 }, () => ({}));
  const writing = server.call('POST', '/admin/fixtures', { admin: true, body: { persons: valid } });
  const p3 = await probeDuring(writing);
  const w = await writing;
  assert.equal(w.status, 200, w.text.slice(0, 300));
  assert.equal(w.body.data.persons.length, valid.length);
  assert.ok(p3.maxMs < 1000, `a probe waited ${p3.maxMs} ms`);
});

// ------------------------------------------------------------------ timeouts

test('a client that sends its headers and then the body slowly gets a 408 in the envelope and is closed', async () => {
  const body = JSON.stringify({ name: 'slow MIS' });
  const head = `POST /admin/clients HTTP/1.1\r\nHost: 127.0.0.1\r\nx-admin-key: test-admin-key\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
  // one byte every 500 ms: the body would take ~10 s
  const r = await raw([head, ...body.split('')], 500);
  assert.equal(r.status, 408);
  assertEnvelope(r.body, 408, 'request_timeout');
  assert.match(r.head, /connection: close/i);
  // the timeout is REQUEST_TIMEOUT_SECONDS (2 s) checked every second: closed well before the body would have arrived
  assert.ok(r.closedAfterMs < 6000, `closed after ${r.closedAfterMs} ms`);
});

test('a client that never finishes its headers is closed with a 408 too', async () => {
  const r = await raw(['GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n', ...Array(20).fill('x-a: b\r\n')], 500);
  assert.equal(r.status, 408);
  assertEnvelope(r.body, 408, 'request_timeout');
  assert.ok(r.closedAfterMs < 6000, `closed after ${r.closedAfterMs} ms`);
});

// ------------------------------------------------------------------ shutdown

test('a request arriving on a busy connection while the server closes gets a 503 in the envelope', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const held: Capability = {
    name: 'edge-test',
    routes(app) {
      app.get('/api/test/held', { schema: { hide: true } }, async (request, reply) => {
        entered();
        await gate;
        return sendData(request, reply, { held: true });
      });
    },
  };
  const closing = await startTestServer({ extraCapabilities: [held] });
  const { port } = new URL(closing.url);
  const socket = connect(Number(port), '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (d) => received.push(d));
  socket.on('error', () => undefined);
  const ended = new Promise((r) => socket.on('close', r));
  socket.write('GET /api/test/held HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await inside;
  const closed = closing.close();
  await new Promise((r) => setTimeout(r, 50)); // app.close() has begun: preClose ran
  socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await new Promise((r) => setTimeout(r, 50));
  release();
  await ended;
  await closed;
  const text = Buffer.concat(received).toString('utf8');
  const responses = text.split(/(?=HTTP\/1\.1 )/);
  assert.equal(responses.length, 2, text);
  assert.match(responses[0], /^HTTP\/1\.1 200/);
  assert.match(responses[1], /^HTTP\/1\.1 503/);
  const body = JSON.parse(responses[1].split('\r\n\r\n')[1]);
  assertEnvelope(body, 503, 'service_unavailable');
});
