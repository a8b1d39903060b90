/**
 * The chain demo data of the sandbox (src/compositions/demo.ts): the demo preperson's FINAL МВТН is
 * refined (RC_6) and the cancelled one replaced (RC_7) by the demo doctor at once, as the README shows.
 * The embedded sandbox resolves EMAL_COMPOSITION_FLOW_REPLACE_ENABLED=auto to on.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { backend, startTestServer, call, type Mis, type TestServer } from './support/harness.ts';
import { pollJob } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';
import { DEMO_COMPOSITIONS } from '../src/compositions/demo.ts';
import { addDays, dayOf } from '../src/compositions/chains.ts';

let server: TestServer;
let demo: Mis;

before(async () => {
  // `auto` is on for the embedded sandbox (PGlite) and off on PostgreSQL, where the switch is set on
  const replace = backend === 'pglite' ? 'auto' : 'TRUE';
  server = await startTestServer({
    env: { DEMO_DATA: 'on', SIGNATURE_TRUST: 'any-test-ca', EMAL_COMPOSITION_FLOW_REPLACE_ENABLED: replace },
  });
  const d = server.runtime.sandbox?.demo;
  assert.ok(d, 'demo credentials');
  demo = {
    clientId: d.clientId,
    secret: d.secret,
    token: d.token,
    legalEntityId: DEMO.legalEntityId,
    call: (method, path, o = {}) => call(server.url, method, path, { token: d.token, apiKey: d.secret, ...o }),
  };
});
after(() => server?.close());

const ref = (code: string, value: string) => ({ type: { coding: [{ system: 'eHealth/resources', code }] }, value });
const body = (category: string, target: string) => {
  const today = dayOf(new Date().toISOString());
  return {
    type: { coding: [{ system: 'COMPOSITION_TYPES', code: 'TEMP_DISABILITY' }] },
    category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: category }] },
    event: [
      {
        code: { coding: [{ system: 'COMPOSITION_EVENTS', code: 'COMPOSITION_VALIDITY_PERIOD' }] },
        period: { start: `${today}T09:00:00Z`, end: `${addDays(today, 3)}T18:00:00Z` },
      },
    ],
    subject: ref('person', DEMO.personOtpId),
    encounter: ref('encounter', DEMO.encounterId),
    author: ref('employee', DEMO.doctorEmployeeId),
    section: { focus: ref('person', DEMO.personOtpId) },
    relatesTo: { code: 'replaces', targetIdentifier: ref('composition', target) },
  };
};
const createAndSign = async (b: unknown) => {
  const c = await demo.call('POST', '/api/patients/composition', { body: b });
  assert.equal(c.status, 202, c.text);
  const job = await pollJob(demo, c.body.data.id);
  assert.equal(job.body.data.status, 'DONE', job.text);
  const got = await demo.call('GET', job.body.data.links[0].href);
  const signer = await makeSigner({ taxId: DEMO.doctorTaxId });
  const s = await demo.call('PATCH', `/api/patients/composition/${got.body.data.identifier.value}/sign`, {
    body: { data: await signCms(signer, JSON.stringify(got.body.data)) },
  });
  assert.equal(s.status, 202, s.text);
  assert.equal((await pollJob(demo, s.body.data.id)).body.data.status, 'DONE');
};
const statusOf = async (id: string, patientId: string, encounterId: string) =>
  (await demo.call('GET', `/api/patients/${patientId}/encounter/${encounterId}/composition/${id}`)).body.data.status;

test("the preperson's FINAL МВТН is refined (RC_6): it becomes AMENDED", async () => {
  const id = DEMO_COMPOSITIONS.prepersonFinalId;
  assert.equal(await statusOf(id, DEMO.prepersonId, DEMO_COMPOSITIONS.prepersonEncounterId), 'FINAL');
  await createAndSign(body('QUARANTINE', id));
  assert.equal(await statusOf(id, DEMO.prepersonId, DEMO_COMPOSITIONS.prepersonEncounterId), 'AMENDED');
});

test('the cancelled МВТН is replaced (RC_7): it becomes AMENDED', async () => {
  const id = DEMO_COMPOSITIONS.cancelledId;
  assert.equal(await statusOf(id, DEMO.personOtpId, DEMO.encounterId), 'ENTERED_IN_ERROR');
  await createAndSign(body('COVID19', id));
  assert.equal(await statusOf(id, DEMO.personOtpId, DEMO.encounterId), 'AMENDED');
});
