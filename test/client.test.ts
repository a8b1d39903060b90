/**
 * The typed client (src/client): the committed types are what the current /openapi.json generates
 * (`npm run generate:client`), and examples/client-flow.ts runs create → poll → sign → poll through it
 * against a started server with the demo data.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startTestServer, ADMIN_KEY, type TestServer } from './support/harness.ts';
import { clientTypesSource, CLIENT_TYPES_FILE } from '../scripts/generate-client.ts';
import { clientFlow } from '../examples/client-flow.ts';
import { createEsozClient } from '../src/client/client.ts';

let server: TestServer;
let creds: { token: string; apiKey: string };

before(async () => {
  // the sandbox signer (POST /admin/sign) works where any test CA is trusted: the embedded default, set here for PostgreSQL too
  server = await startTestServer({ env: { DEMO_DATA: 'on', SIGNATURE_TRUST: 'any-test-ca' } });
  const demo = server.runtime.sandbox!.demo!;
  creds = { token: demo.token, apiKey: demo.secret };
});
after(() => server?.close());

test('src/client/openapi.ts is what the served document generates (run `npm run generate:client` when this fails)', async () => {
  const doc = (await server.call('GET', '/openapi.json')).body;
  const expected = await clientTypesSource(doc);
  const committed = await readFile(CLIENT_TYPES_FILE, 'utf8');
  assert.ok(committed === expected, 'src/client/openapi.ts is stale: run `npm run generate:client` and commit it');
});

test('examples/client-flow.ts: create → poll → sign with /admin/sign → poll, through the typed client, ends FINAL', async () => {
  const lines: string[] = [];
  const result = await clientFlow({ baseUrl: server.url, ...creds, adminKey: ADMIN_KEY, log: (l) => lines.push(l) });
  assert.equal(result.status, 'FINAL', lines.join('\n'));
  const page = await server.call(
    'GET',
    `/api/patients/searchComposition?subject=6f1d0c2a-0000-4000-8000-000000000030&status=FINAL&limit=100`,
    {
      token: creds.token,
      apiKey: creds.apiKey,
    },
  );
  assert.ok(
    page.body.data.some((d: { identifier: { value: string } }) => d.identifier.value === result.compositionId),
    'the signed composition is found FINAL by search',
  );
});

test('an ESOZ error comes back typed as `error` with the envelope, not thrown', async () => {
  const esoz = createEsozClient({ baseUrl: server.url, ...creds });
  const { data, error, response } = await esoz.GET('/api/patients/composition/job/{asyncJobId}', {
    params: { path: { asyncJobId: 'not-a-uuid' } },
  });
  assert.equal(response.status, 400);
  assert.equal(data, undefined);
  assert.equal(error?.error.type, 'bad_request');
  assert.equal(error?.error.message, 'Invalid request format');
});
