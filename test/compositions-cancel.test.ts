/**
 * cancelComposition over real HTTP: FINAL → ENTERED_IN_ERROR, the reason dictionary (1004), the signed
 * content and signer checks, the 404 of the synchronous check.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, pollJob, createDone, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';

let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca' } });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(async () => server?.close());

describe('cancel', () => {
  let comp: { id: string; document: Record<string, any>; href: string };
  const reason = (code = 'INCORRECT_PATIENT', system = 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY') => ({
    coding: [{ system, code }],
    text: 'Wrong patient',
  });
  const cancelJob = async (signerTaxId: string, content: unknown, id = comp.id) => {
    const signer = await makeSigner({ taxId: signerTaxId });
    const r = await mis.call('PATCH', `/api/patients/composition/${id}/cancel`, {
      body: { data: await signCms(signer, JSON.stringify(content)) },
    });
    assert.equal(r.status, 202, r.text);
    return (await pollJob(mis, r.body.data.id)).body.data;
  };
  before(async () => {
    comp = await createDone(mis, createBody(w, { category: 'PARENTAL_CARE', focus: { type: 'person', id: w.motherId } }));
  });

  test('a PRELIMINARY composition cannot be cancelled', async () => {
    const j = await cancelJob(w.authorTaxId, { id: comp.id, reason: reason() });
    assert.equal(j.error.type, 'INVALID_COMPOSITION_STATUS');
    assert.match(j.error.message, /only a FINAL composition can be cancelled/);
  });
  test('FINAL → ENTERED_IN_ERROR; 1004 for a bad reason; content and signer checked', async () => {
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const s = await mis.call('PATCH', `/api/patients/composition/${comp.id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(comp.document)) },
    });
    assert.equal((await pollJob(mis, s.body.data.id)).body.data.status, 'DONE');

    const bad = await cancelJob(w.authorTaxId, { id: comp.id, reason: reason('NO_SUCH_REASON') });
    assert.deepEqual(bad.error, { code: 1004, type: 'INVALID_CANCELLATION_CODING', message: 'Invalid cancellation coding' });
    const wrongSystem = await cancelJob(w.authorTaxId, {
      id: comp.id,
      reason: reason('INCORRECT_PATIENT', 'eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN'),
    });
    assert.equal(wrongSystem.error.code, 1004);
    const otherId = await cancelJob(w.authorTaxId, { id: crypto.randomUUID(), reason: reason() });
    assert.equal(otherId.error.type, 'INVALID_SIGNED_DATA');
    const shape = await cancelJob(w.authorTaxId, { id: comp.id });
    assert.equal(shape.error.type, 'INVALID_SIGNED_DATA');
    const stranger = await cancelJob('1111111111', { id: comp.id, reason: reason() });
    assert.equal(stranger.error.type, 'SIGNER_MISMATCH');

    // a colleague of the same legal entity may cancel
    const ok = await cancelJob(w.colleagueTaxId, { id: comp.id, reason: reason() });
    assert.equal(ok.status, 'DONE', JSON.stringify(ok));
    const got = await mis.call('GET', comp.href);
    assert.equal(got.body.data.status, 'ENTERED_IN_ERROR');
    const found = await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&status=ENTERED-IN-ERROR`);
    assert.deepEqual(
      found.body.data.map((d: any) => d.identifier.value),
      [comp.id],
    );
    const again = await cancelJob(w.authorTaxId, { id: comp.id, reason: reason() });
    assert.equal(again.error.type, 'INVALID_COMPOSITION_STATUS');
  });
  test('sync: unknown composition → 404', async () => {
    const r = await mis.call('PATCH', `/api/patients/composition/${crypto.randomUUID()}/cancel`, { body: { data: 'x' } });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.message, 'The object of the Composition was not found');
  });
});
