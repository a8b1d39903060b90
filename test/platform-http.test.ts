import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { testCapability } from './support/test-capability.ts';

let server: TestServer;
let mis: Mis;
const SCOPE_MSG = 'Your scope does not allow to access this resource. Missing allowances: ';

before(async () => {
  server = await startTestServer({ extraCapabilities: [testCapability({ handled: [], failFirst: new Map() })] });
  mis = await server.mis({ scopes: ['test:echo'] });
});
after(() => server.close());

test('success envelope: meta.code, url, type object, request_id', async () => {
  const r = await mis.call('PATCH', '/api/test/action');
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['data', 'meta']);
  assert.equal(r.body.meta.code, 200);
  assert.equal(r.body.meta.type, 'object');
  assert.equal(r.body.meta.url, `${server.url}/api/test/action`);
  assert.equal(r.body.meta.request_id, r.headers.get('x-request-id'));
  assert.deepEqual(r.body.data, { done: true });
});

test('list envelope carries type list and paging', async () => {
  const r = await mis.call('GET', '/api/test/list');
  assert.equal(r.body.meta.type, 'list');
  assert.deepEqual(r.body.paging, { page_number: 1, page_size: 50, total_entries: 2, total_pages: 1 });
});

test('unknown route → 404 not_found in the envelope', async () => {
  const r = await server.call('GET', '/api/nothing/here');
  assert.equal(r.status, 404);
  assert.equal(r.body.meta.code, 404);
  assert.deepEqual(r.body.error, { type: 'not_found', message: 'Not found' });
});

test('X-Request-Id is honoured when sent, generated otherwise', async () => {
  const sent = await mis.call('PATCH', '/api/test/action', { headers: { 'x-request-id': 'mis-req-42#7' } });
  assert.equal(sent.headers.get('x-request-id'), 'mis-req-42#7');
  assert.equal(sent.body.meta.request_id, 'mis-req-42#7');
  const generated = await mis.call('PATCH', '/api/test/action');
  assert.match(generated.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  const onError = await server.call('GET', '/nope', { headers: { 'x-request-id': 'err-1' } });
  assert.equal(onError.body.meta.request_id, 'err-1');
});

test('malformed JSON → 422 request_malformed', async () => {
  const r = await mis.call('POST', '/api/test/echo', { rawBody: '{"name": "ab",', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 422);
  assert.equal(r.body.error.type, 'request_malformed');
  assert.match(r.body.error.message, /^Malformed encoded content\. Probably, you have encoded corrupted JSON\. Error: /);
});

test("a malformed body's text is not quoted back (V8 quotes it; it may carry a code or a token)", async () => {
  const r = await mis.call('POST', '/api/test/echo', { rawBody: 'code8642-token-abcdef', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 422);
  assert.equal(
    r.body.error.message,
    "Malformed encoded content. Probably, you have encoded corrupted JSON. Error: Unexpected token 'c' in JSON",
  );
  // an error further in: V8 quotes the text around it after "..."
  const later = await mis.call('POST', '/api/test/echo', {
    rawBody: '{"verification_code": "8642", "phone": "+380671234567", "b": xyz}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(later.status, 422);
  assert.equal(
    later.body.error.message,
    "Malformed encoded content. Probably, you have encoded corrupted JSON. Error: Unexpected token 'x' in JSON",
  );
});

test('validation: every bad field is listed in invalid[]; unknown fields are rejected, not stripped; no coercion', async () => {
  const r = await mis.call('POST', '/api/test/echo', {
    body: { name: 'a', age: '12', extra: true, person: { id: 'not-a-uuid', kind: 'SMS' } },
  });
  assert.equal(r.status, 422);
  assert.equal(r.body.error.type, 'validation_failed');
  assert.match(r.body.error.message, /^Validation failed/);
  const byEntry = Object.fromEntries(r.body.error.invalid.map((i: any) => [i.entry, i]));
  assert.deepEqual(Object.keys(byEntry).sort(), ['$.age', '$.extra', '$.name', '$.person.id', '$.person.kind']);
  for (const i of r.body.error.invalid) assert.equal(i.entry_type, 'json_data_property');
  assert.equal(byEntry['$.age'].rules[0].rule, 'cast');
  assert.equal(byEntry['$.extra'].rules[0].rule, 'schema_does_not_allow_additional_properties');
  assert.equal(byEntry['$.name'].rules[0].rule, 'length');
  assert.equal(byEntry['$.person.id'].rules[0].rule, 'format');
  assert.equal(byEntry['$.person.kind'].rules[0].rule, 'inclusion');
  const missing = await mis.call('POST', '/api/test/echo', { body: {} });
  assert.deepEqual(missing.body.error.invalid.map((i: any) => [i.entry, i.rules[0].rule]).sort(), [
    ['$.age', 'required'],
    ['$.name', 'required'],
    ['$.person', 'required'],
  ]);
});

test('valid body passes and reaches the handler with the auth context', async () => {
  const body = { name: 'ab', age: 3, person: { id: '6f1d0c2a-0000-4000-8000-000000000030', kind: 'OTP' } };
  const r = await mis.call('POST', '/api/test/echo', { body });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data, { echo: body, client_id: mis.clientId });
});

test('actions without payload accept no body, {} or [], with or without Content-Type', async () => {
  const variants: { rawBody?: string; headers?: Record<string, string> }[] = [
    {},
    { headers: { 'content-type': 'application/json' } },
    { rawBody: '{}', headers: { 'content-type': 'application/json' } },
    { rawBody: '[]', headers: { 'content-type': 'application/json' } },
    { rawBody: '{}' },
    { rawBody: '[]' },
  ];
  for (const v of variants) {
    const r = await mis.call('PATCH', '/api/test/action', v);
    assert.equal(r.status, 200, JSON.stringify(v) + ' → ' + r.text);
  }
});

test('GET with Content-Type: application/json and no body is fine', async () => {
  const r = await mis.call('GET', '/api/test/list', { headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200);
});

test('auth order: missing/unknown/expired token → 401; wrong api-key → 401; missing scope → 403', async () => {
  const none = await server.call('PATCH', '/api/test/action');
  assert.equal(none.status, 401);
  assert.deepEqual(none.body.error, { type: 'access_denied', message: 'Invalid access token' });

  const unknown = await server.call('PATCH', '/api/test/action', { token: 'nope', apiKey: mis.secret });
  assert.equal(unknown.status, 401);
  assert.equal(unknown.body.error.message, 'Invalid access token');

  const expired = await server.mis({ scopes: ['test:echo'], expiresIn: -10 });
  const e = await expired.call('PATCH', '/api/test/action');
  assert.equal(e.status, 401);
  assert.equal(e.body.error.message, 'Invalid access token');

  const wrongKey = await mis.call('PATCH', '/api/test/action', { apiKey: 'not-the-secret' });
  assert.equal(wrongKey.status, 401);
  assert.deepEqual(wrongKey.body.error, { type: 'access_denied', message: 'Invalid api-key' });
  const noKey = await server.call('PATCH', '/api/test/action', { token: mis.token });
  assert.equal(noKey.status, 401);
  assert.equal(noKey.body.error.message, 'Invalid api-key');

  // the token check comes before the api-key check
  const bothBad = await server.call('PATCH', '/api/test/action', { token: 'nope', apiKey: 'nope' });
  assert.equal(bothBad.body.error.message, 'Invalid access token');

  const noScope = await server.mis({ scopes: ['something:else'] });
  const f = await noScope.call('PATCH', '/api/test/action');
  assert.equal(f.status, 403);
  assert.deepEqual(f.body.error, { type: 'forbidden', message: SCOPE_MSG + 'test:echo' });

  // auth comes before body validation: a bad body without a token is a 401, not a 422
  const unauthBad = await server.call('POST', '/api/test/echo', { rawBody: '{bad', headers: { 'content-type': 'application/json' } });
  assert.equal(unauthBad.status, 401);
});

test('a cached token still checks every api-key: right, wrong, same length wrong, right again', async () => {
  const ok1 = await mis.call('PATCH', '/api/test/action');
  assert.equal(ok1.status, 200);
  for (const apiKey of ['not-the-secret', mis.secret.slice(0, -1) + (mis.secret.endsWith('A') ? 'B' : 'A'), '']) {
    const r = await mis.call('PATCH', '/api/test/action', { apiKey });
    assert.equal(r.status, 401, apiKey);
    assert.equal(r.body.error.message, 'Invalid api-key');
  }
  assert.equal((await mis.call('PATCH', '/api/test/action')).status, 200);
  // another client's secret with this client's token is not accepted either
  const other = await server.mis({ scopes: ['test:echo'] });
  const cross = await mis.call('PATCH', '/api/test/action', { apiKey: other.secret });
  assert.equal(cross.status, 401);
});

test('X-Custom-PSK is accepted when carried (not configured here)', async () => {
  const r = await mis.call('PATCH', '/api/test/action', { headers: { 'x-custom-psk': 'anything' } });
  assert.equal(r.status, 200);
});

test('unexpected failure → 500 internal_error without internals', async () => {
  const r = await mis.call('GET', '/api/test/boom');
  assert.equal(r.status, 500);
  assert.deepEqual(r.body.error, { type: 'internal_error', message: 'Internal server error' });
  assert.doesNotMatch(r.text, /hunter2|secret internals|stack/);
});

test('responses keep the order the code built them and, in tests, must match their declared schema', async () => {
  const ok = await mis.call('GET', '/api/test/declared');
  assert.equal(ok.status, 200);
  assert.equal(ok.text, JSON.stringify({ meta: ok.body.meta, data: { n: 1 } }));
  const bad = await mis.call('GET', '/api/test/declared?bad=1');
  assert.equal(bad.status, 500);
  assert.equal(bad.body.error.type, 'internal_error');
});

test('OpenAPI is generated from the route schemas; docs are browsable', async () => {
  const spec = await server.call('GET', '/openapi.json');
  assert.equal(spec.status, 200);
  assert.equal(spec.body.openapi, '3.0.3');
  assert.ok(spec.body.paths['/api/test/echo'].post.requestBody);
  assert.deepEqual(spec.body.paths['/api/test/echo'].post.security, [{ bearer: [], apiKey: [] }]);
  const resend = spec.body.paths['/api/medication_requests/{id}/actions/resend'].patch.responses;
  assert.deepEqual(Object.keys(resend).sort(), ['200', '401', '403', '404', '409', '429']);
  // the view is a named component (openapi-document.ts)
  assert.deepEqual(resend['200'].content['application/json'].schema.properties.data, { $ref: '#/components/schemas/MedicationRequest' });
  const view = spec.body.components.schemas.MedicationRequest;
  assert.deepEqual(view.properties.person.required, ['id', 'short_name', 'age']);
  assert.equal(view.properties.verification_code, undefined);
  assert.match(resend['429'].description, /^Sending SMS timeout\. Try later\./);
  const docs = await fetch(`${server.url}/docs/`, { redirect: 'follow' });
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /<html/i);
});

test('health and metrics', async () => {
  const live = await server.call('GET', '/health/live');
  assert.equal(live.status, 200);
  const ready = await server.call('GET', '/health/ready');
  assert.equal(ready.status, 200);
  assert.equal(ready.body.data.status, 'ready');
  await mis.call('PATCH', '/api/test/action');
  const m = await server.call('GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /esoz_http_request_duration_seconds_bucket\{[^}]*route="\/api\/test\/action"/);
  assert.match(m.text, /esoz_queue_jobs\{queue="platform-test",state="queued"\}/);
});
