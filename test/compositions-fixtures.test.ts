/**
 * The `compositions` fixture kind (POST /admin/fixtures) and the sandbox's demo compositions: a
 * composition in any state without create → poll → sign → poll, then signed or cancelled over HTTP.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, call, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, misOf, pollJob, createDone, createBody, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { TITLE_RE } from '../src/compositions/document.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';
import { DEMO_COMPOSITIONS } from '../src/compositions/demo.ts';
import { DEMO_ERLN } from '../src/erln/demo.ts';
import { FIXTURE_CLIENT_ID } from '../src/compositions/fixtures.ts';

const cancelReason = {
  coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_PATIENT' }],
  text: 'Wrong patient',
};

describe('fixture kind compositions', () => {
  let server: TestServer;
  let w: World;
  let mis: Mis;
  before(async () => {
    server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca' } });
    w = await seedWorld(server);
    mis = await misOf(server, w);
  });
  after(async () => server?.close());

  const item = (o: Record<string, unknown> = {}) => ({
    status: 'PRELIMINARY',
    type: 'TEMP_DISABILITY',
    category: 'SICKNESS',
    subject_id: w.personId,
    encounter_id: w.encounterId,
    author_id: w.authorId,
    legal_entity_id: w.legalEntityId,
    ...o,
  });
  const hrefOf = (id: string) => `/api/patients/${w.personId}/encounter/${w.encounterId}/composition/${id}`;

  test('upsert → GET shows it, built as create builds it; it signs over HTTP', async () => {
    const id = crypto.randomUUID();
    const r = await server.fixtures({
      compositions: [item({ id, period: { start: '2026-09-01T00:00:01Z', end: '2026-09-05T20:59:59Z' } })],
    });
    assert.deepEqual(r.compositions, [id]);
    const got = await mis.call('GET', hrefOf(id));
    assert.equal(got.status, 200, got.text);
    const doc = got.body.data;
    // the same fields, in the same order, as a composition made by create
    const created = await createDone(mis, createBody(w, { category: 'QUARANTINE' }));
    assert.deepEqual(Object.keys(doc), Object.keys(created.document));
    assert.equal(doc.identifier.value, id);
    assert.equal(doc.status, 'PRELIMINARY');
    assert.match(doc.title, TITLE_RE);
    assert.equal(doc.episodeOfCare.value, w.episodeId);
    assert.equal(doc.custodian.value, w.legalEntityId);
    assert.deepEqual(doc.subject, createBody(w).subject);
    assert.deepEqual(doc.event, createBody(w).event);
    const row = await server.runtime.platform.db.query<{ client_id: string; signed_at: unknown }>(
      'SELECT client_id, signed_at FROM compositions WHERE id = $1',
      [id],
    );
    assert.deepEqual(row.rows[0], { client_id: FIXTURE_CLIENT_ID, signed_at: null });

    const signer = await makeSigner({ taxId: w.authorTaxId });
    const s = await mis.call('PATCH', `/api/patients/composition/${id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(doc)) },
    });
    assert.equal(s.status, 202, s.text);
    const done = await pollJob(mis, s.body.data.id);
    assert.equal(done.body.data.status, 'DONE', done.text);
    assert.equal(done.body.data.links[0].href, hrefOf(id));
    assert.equal((await mis.call('GET', hrefOf(id))).body.data.status, 'FINAL');
  });

  test('an update keeps the title; FINAL is signed now unless signed_at says otherwise; searched like any other', async () => {
    const id = crypto.randomUUID();
    await server.fixtures({ compositions: [item({ id, category: 'COVID19' })] });
    const title = (await mis.call('GET', hrefOf(id))).body.data.title;
    const old = new Date(Date.now() - 30 * 86400_000).toISOString();
    await server.fixtures({ compositions: [item({ id, category: 'COVID19', status: 'FINAL', signed_at: old })] });
    const doc = (await mis.call('GET', hrefOf(id))).body.data;
    assert.equal(doc.status, 'FINAL');
    assert.equal(doc.title, title);
    const found = await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&status=FINAL&type=TEMP_DISABILITY`);
    assert.ok(found.body.data.some((d: any) => d.identifier.value === id));
    // signed 30 days ago: past the 7 days a TEMP_DISABILITY composition can be cancelled in
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const c = await mis.call('PATCH', `/api/patients/composition/${id}/cancel`, {
      body: { data: await signCms(signer, JSON.stringify({ id, reason: cancelReason })) },
    });
    const j = await pollJob(mis, c.body.data.id);
    assert.equal(j.body.data.error?.type, 'CANCELLATION_FOR_OUTDATED_COMPOSITION', j.text);
  });

  test('unknown fields and a second FINAL of one encounter, type and category are 422s', async () => {
    const bad = await call(server.url, 'POST', '/admin/fixtures', { admin: true, body: { compositions: [item({ colour: 'red' })] } });
    assert.equal(bad.status, 422, bad.text);
    const twice = await call(server.url, 'POST', '/admin/fixtures', {
      admin: true,
      body: { compositions: [item({ status: 'FINAL', category: 'TEMP_TRANSFER' }), item({ status: 'FINAL', category: 'TEMP_TRANSFER' })] },
    });
    assert.equal(twice.status, 422, twice.text);
    assert.equal(twice.body.error.invalid[0].entry, '$.compositions[1]');
  });
});

describe('demo compositions', () => {
  let server: TestServer;
  let demo: Mis;
  before(async () => {
    server = await startTestServer({ env: { DEMO_DATA: 'on', SIGNATURE_TRUST: 'any-test-ca' } });
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
  after(async () => server?.close());
  const hrefOf = (id: string) => `/api/patients/${DEMO.personOtpId}/encounter/${DEMO.encounterId}/composition/${id}`;

  test('the PRELIMINARY one is signed by the demo doctor', async () => {
    const got = await demo.call('GET', hrefOf(DEMO_COMPOSITIONS.preliminaryId));
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.data.status, 'PRELIMINARY');
    const signer = await makeSigner({ taxId: DEMO.doctorTaxId });
    const s = await demo.call('PATCH', `/api/patients/composition/${DEMO_COMPOSITIONS.preliminaryId}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(got.body.data)) },
    });
    assert.equal(s.status, 202, s.text);
    const done = await pollJob(demo, s.body.data.id);
    assert.equal(done.body.data.status, 'DONE', done.text);
    assert.equal((await demo.call('GET', hrefOf(DEMO_COMPOSITIONS.preliminaryId))).body.data.status, 'FINAL');
  });

  test('the FINAL one is cancelled by the demo doctor', async () => {
    const id = DEMO_COMPOSITIONS.finalId;
    assert.equal((await demo.call('GET', hrefOf(id))).body.data.status, 'FINAL');
    const signer = await makeSigner({ taxId: DEMO.doctorTaxId });
    const c = await demo.call('PATCH', `/api/patients/composition/${id}/cancel`, {
      body: { data: await signCms(signer, JSON.stringify({ id, reason: cancelReason })) },
    });
    assert.equal(c.status, 202, c.text);
    const done = await pollJob(demo, c.body.data.id);
    assert.equal(done.body.data.status, 'DONE', done.text);
    assert.equal((await demo.call('GET', hrefOf(id))).body.data.status, 'ENTERED_IN_ERROR');
  });

  test('ERLN demo: one МВТН registered in ERLN (its SL number), one ERLN rejected that RC_4 re-sends at once', async () => {
    const integration = (id: string) =>
      demo.call(
        'GET',
        `/api/patients/${DEMO.personOtpId}/composition/${id}/episode/${DEMO.episodeId}/encounter/${DEMO.encounterId}/integrationData`,
      );
    const registered = await integration(DEMO_ERLN.registeredId);
    assert.equal(registered.status, 200, registered.text);
    const [task] = registered.body.data;
    assert.deepEqual([task.integrationStatus, task.taskStatus, task.statusCode], ['SUCCESS', 'DONE', 1101]);
    const sim = await server.call('GET', '/admin/erln', { admin: true });
    // (the test above signed the PRELIMINARY demo one: ERLN registered that one too)
    const record = sim.body.data.records.find((r: any) => r.composition_id === DEMO_ERLN.registeredId);
    assert.equal(record?.sl_num, task.details.SL_NUM);
    const rejected = (await integration(DEMO_ERLN.rejectedId)).body.data;
    assert.deepEqual(
      rejected.map((t: any) => [t.integrationStatus, t.statusCode, t.statusMessage]),
      [['ERROR', 1000, 'Неочікувана помилка при створенні']],
    );
    const resend = await demo.call('PATCH', `/api/patients/composition/${DEMO_ERLN.rejectedId}/erln`);
    assert.equal(resend.status, 200, resend.text);
    assert.equal((await pollJob(demo, resend.body.data.id)).body.data.status, 'DONE');
  });
});
