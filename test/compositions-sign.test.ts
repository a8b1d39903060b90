/**
 * signComposition over real HTTP: every failure is a FAILED job with a clear message; the 404 and 422
 * of the synchronous checks.
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

describe('sign: every failure is a FAILED job with a clear message', () => {
  let comp: { id: string; document: Record<string, any>; href: string };
  before(async () => {
    comp = await createDone(mis, createBody(w, { category: 'PREGNANCY', extension: [] }));
  });
  const signJob = async (data: string, id = comp.id) => {
    const r = await mis.call('PATCH', `/api/patients/composition/${id}/sign`, { body: { data } });
    assert.equal(r.status, 202, r.text);
    return (await pollJob(mis, r.body.data.id)).body.data;
  };

  test('not base64', async () => {
    const j = await signJob('%%% not base64 %%%');
    assert.equal(j.status, 'FAILED');
    assert.deepEqual(j.error, { code: 422, type: 'INVALID_SIGNED_DATA', message: 'Signed data is not valid base64' });
  });
  test('base64 but not CMS', async () => {
    const j = await signJob(Buffer.from(JSON.stringify(comp.document)).toString('base64'));
    assert.equal(j.error.type, 'INVALID_SIGNED_DATA');
    assert.match(j.error.message, /not a CMS/);
  });
  test('detached signature', async () => {
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const j = await signJob(await signCms(signer, JSON.stringify(comp.document), { detached: true }));
    assert.equal(j.error.type, 'INVALID_SIGNED_DATA');
    assert.match(j.error.message, /attached/);
  });
  test('bad signature', async () => {
    const signer = await makeSigner({ taxId: w.authorTaxId, alg: 'RSA' });
    const j = await signJob(await signCms(signer, JSON.stringify(comp.document), { corruptSignature: true }));
    assert.deepEqual(j.error, { code: 422, type: 'INVALID_SIGNATURE', message: 'The signature is not valid' });
    const j2 = await signJob(await signCms(signer, '{"tampered":true}', { replaceContent: JSON.stringify(comp.document) }));
    assert.equal(j2.error.type, 'INVALID_SIGNATURE');
  });
  test('content differs from the draft', async () => {
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const changed = { ...comp.document, title: 'AAAA-AAAA-AAAA-AAAA' };
    const j = await signJob(await signCms(signer, JSON.stringify(changed)));
    assert.equal(j.error.type, 'SIGNED_CONTENT_MISMATCH');
    assert.match(j.error.message, /\$\.title/);
  });
  test('signer is not the author (other tax id, no tax id)', async () => {
    const colleague = await makeSigner({ taxId: w.colleagueTaxId });
    const j = await signJob(await signCms(colleague, JSON.stringify(comp.document)));
    assert.equal(j.error.type, 'SIGNER_MISMATCH');
    assert.match(j.error.message, /not the author/);
    const anonymous = await makeSigner({});
    const j2 = await signJob(await signCms(anonymous, JSON.stringify(comp.document)));
    assert.equal(j2.error.type, 'SIGNER_MISMATCH');
    assert.match(j2.error.message, /no tax id/);
  });
  test('semantically equal content signs (key order, \\/ and \\u escapes, {} for []), TINUA- serialNumber', async () => {
    const reordered = Object.fromEntries(Object.entries(comp.document).reverse());
    assert.deepEqual(comp.document.extension, []);
    reordered.extension = {};
    let text = JSON.stringify(reordered, null, 2).replace(/\//g, '\\/');
    text = text.replace('"PRELIMINARY"', '"\\u0050RELIMINARY"');
    const signer = await makeSigner({ taxId: `TINUA-${w.authorTaxId}` });
    const j = await signJob(await signCms(signer, text));
    assert.equal(j.status, 'DONE', JSON.stringify(j));
  });
  test('not PRELIMINARY', async () => {
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const j = await signJob(await signCms(signer, JSON.stringify(comp.document)));
    assert.equal(j.status, 'FAILED');
    assert.deepEqual(j.error, {
      code: 409,
      type: 'INVALID_COMPOSITION_STATUS',
      message: 'Composition is FINAL: only a PRELIMINARY composition can be signed',
    });
  });
  test('sync: unknown composition → 404, body schema → 422', async () => {
    const r = await mis.call('PATCH', `/api/patients/composition/${crypto.randomUUID()}/sign`, { body: { data: 'x' } });
    assert.equal(r.status, 404);
    const r2 = await mis.call('PATCH', `/api/patients/composition/${comp.id}/sign`, { body: { data: '', extra: 1 } });
    assert.equal(r2.status, 422);
  });
});
