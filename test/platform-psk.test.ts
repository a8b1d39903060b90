import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { testCapability } from './support/test-capability.ts';

let server: TestServer;
let mis: Mis;
before(async () => {
  server = await startTestServer({
    env: { CUSTOM_PSK: 'gateway-psk' },
    extraCapabilities: [testCapability({ handled: [], failFirst: new Map() })],
  });
  mis = await server.mis({ scopes: ['test:echo'] });
});
after(() => server.close());

test('with CUSTOM_PSK configured, X-Custom-PSK must match', async () => {
  const ok = await mis.call('PATCH', '/api/test/action', { headers: { 'x-custom-psk': 'gateway-psk' } });
  assert.equal(ok.status, 200);
  const wrong = await mis.call('PATCH', '/api/test/action', { headers: { 'x-custom-psk': 'other' } });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body.error, { type: 'access_denied', message: 'Invalid X-Custom-PSK' });
  const missing = await mis.call('PATCH', '/api/test/action');
  assert.equal(missing.status, 401);
});

test('admin routes reject a missing or wrong x-admin-key', async () => {
  const r = await server.call('GET', '/admin/sms');
  assert.equal(r.status, 401);
  assert.equal(r.body.error.type, 'access_denied');
  const w = await server.call('GET', '/admin/sms', { headers: { 'x-admin-key': 'wrong' } });
  assert.equal(w.status, 401);
});
