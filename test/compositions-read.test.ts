/**
 * getComposition (both paths) and searchComposition (both forms) over real HTTP, and the OpenAPI
 * entries of the routes.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, createDone, type World } from './support/compositions.ts';

let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca' } });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(async () => server?.close());

describe('get and search', () => {
  let comp: { id: string; document: Record<string, any>; href: string };
  before(async () => {
    // a second composition of the patient, so search has a page to turn
    await createDone(mis, createBody(w, { category: 'SICKNESS' }));
    comp = await createDone(
      mis,
      createBody(w, {
        category: 'FAMILY_CARE',
        focus: { type: 'person', id: w.motherId },
        start: '2026-11-01T00:00:01Z',
        end: '2026-11-03T20:59:59Z',
      }),
    );
  });
  test('another legal entity → 404 as for an unknown id, on both GET paths; wrong path parts → 404', async () => {
    const stranger = await server.mis({ legalEntityId: w.otherLegalEntityId });
    const swagger = `/api/patients/${w.personId}/composition/${comp.id}/episode/${w.episodeId}/encounter/${w.encounterId}`;
    assert.equal((await mis.call('GET', swagger)).status, 200, 'the Swagger path reaches the composition');
    for (const path of [comp.href, swagger, comp.href.replace('/api/', '/'), swagger.replace('/api/', '/')]) {
      const theirs = await stranger.call('GET', path);
      const unknown = await stranger.call('GET', path.replace(comp.id, crypto.randomUUID()));
      assert.equal(theirs.status, 404, `${path}: ${theirs.text}`);
      assert.deepEqual(theirs.body.error, { type: 'not_found', message: 'Composition not found' });
      assert.deepEqual(theirs.body.error, unknown.body.error, 'indistinguishable from an unknown id');
    }
    assert.equal((await mis.call('GET', comp.href.replace(w.encounterId, w.motherEncounterId))).status, 404);
    assert.equal(
      (
        await mis.call(
          'GET',
          `/api/patients/${w.personId}/composition/${comp.id}/episode/${crypto.randomUUID()}/encounter/${w.encounterId}`,
        )
      ).status,
      404,
    );
    assert.equal((await mis.call('GET', `/api/patients/${w.personId}/encounter/${w.encounterId}/composition/nope`)).status, 404);
  });
  test('searchComposition: subject xor focus, filters, paging by offset/limit', async () => {
    const all = await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}`);
    assert.equal(all.status, 200, all.text);
    assert.equal(all.body.meta.type, 'list');
    assert.ok(all.body.data.length >= 2);
    assert.ok(all.body.data.some((d: any) => d.identifier.value === comp.id));
    const total = all.body.paging.total_entries;
    const page = await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&offset=1&limit=1`);
    assert.equal(page.body.data.length, 1);
    assert.deepEqual(page.body.data[0], all.body.data[1]);
    assert.deepEqual(page.body.paging, { page_number: 2, page_size: 1, total_entries: total, total_pages: total });
    const byFocus = await mis.call(
      'GET',
      `/api/patients/searchComposition?focus=${w.personId}&type=TEMP_DISABILITY&status=PRELIMINARY&encounter=${w.encounterId}&episodeOfCare=${w.episodeId}`,
    );
    assert.equal(byFocus.status, 200);
    assert.ok(byFocus.body.data.every((d: any) => d.status === 'PRELIMINARY'));
    const eie = await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&status=ENTERED-IN-ERROR`);
    assert.equal(eie.status, 200);
    assert.deepEqual(eie.body.data, []);
    assert.equal((await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&focus=${w.personId}`)).status, 422);
    assert.equal((await mis.call('GET', `/api/patients/searchComposition`)).status, 422);
    assert.equal((await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&status=NOPE`)).status, 422);
    assert.equal((await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&limit=0`)).status, 422);
    const stranger = await server.mis({ legalEntityId: w.otherLegalEntityId });
    assert.deepEqual((await stranger.call('GET', `/api/patients/searchComposition?subject=${w.personId}`)).body.data, []);
  });
  test('patient path form', async () => {
    const r = await mis.call('GET', `/api/patients/${w.personId}/composition?limit=100`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.data.some((d: any) => d.identifier.value === comp.id));
    const r2 = await mis.call('GET', `/patients/${w.personId}/composition?status=FINAL`);
    assert.ok(r2.body.data.every((d: any) => d.status === 'FINAL'));
  });
});

describe('openapi', () => {
  test('the /api routes are documented with their scopes', async () => {
    const r = await server.call('GET', '/openapi.json');
    assert.equal(r.status, 200);
    const paths = Object.keys(r.body.paths);
    for (const p of [
      '/api/patients/composition',
      '/api/patients/composition/job/{asyncJobId}',
      '/api/patients/composition/{id}/sign',
      '/api/patients/searchComposition',
    ]) {
      assert.ok(paths.includes(p), p);
    }
    assert.ok(!paths.includes('/patients/composition/job/{asyncJobId}'), 'unprefixed copies are hidden');
  });
});
