/**
 * Compositions over real HTTP: create → poll (honouring eta) → DONE → get → sign → FINAL, the
 * validation 422s, the numbered task errors, the job endpoint's 400/404, dedupe, search.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, pollJob, createComposition, createDone, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { TITLE_RE } from '../src/compositions/document.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca' } });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(async () => server?.close());

describe('the MIS sequence', () => {
  test('create → poll → DONE → get → sign → poll → FINAL', async () => {
    const body = createBody(w, { extension: [{ valueCode: 'INFORM_WITH', valueUuid: w.authMethodId }, { valueCode: 'IS_ACCIDENT', valueBoolean: false }] });
    const created = await mis.call('POST', '/api/patients/composition', { body });
    assert.equal(created.status, 202, created.text);
    assert.deepEqual(Object.keys(created.body), ['meta', 'data']);
    assert.equal(created.body.meta.code, 202);
    const job = created.body.data;
    assert.deepEqual(Object.keys(job), ['eta', 'id', 'links', 'status']);
    assert.match(job.id, UUID_RE);
    assert.equal(job.status, 'PENDING');
    assert.ok(Date.parse(job.eta) > Date.now() - 1000, 'eta is not in the past');
    const jobUrl = `${server.url}/api/patients/composition/job/${job.id}`;
    assert.equal(created.headers.get('location'), jobUrl);
    assert.equal(created.headers.get('content-location'), jobUrl);
    assert.match(created.headers.get('retry-after') ?? '', /^\d+$/);

    const polls: any[] = [];
    const done = await pollJob(mis, job.id, { polls });
    assert.equal(done.status, 200);
    assert.deepEqual(Object.keys(done.body.data), ['eta', 'id', 'links', 'status']);
    assert.equal(done.body.data.status, 'DONE');
    assert.equal(done.body.data.links.length, 1);
    assert.equal(done.body.data.links[0].entity, 'composition');
    const href: string = done.body.data.links[0].href;
    assert.match(href, new RegExp(`^/api/patients/${w.personId}/encounter/${w.encounterId}/composition/[0-9a-f-]{36}$`));

    const got = await mis.call('GET', href);
    assert.equal(got.status, 200, got.text);
    const doc = got.body.data;
    assert.equal(doc.status, 'PRELIMINARY');
    assert.match(doc.title, TITLE_RE);
    assert.equal(doc.custodian.value, w.legalEntityId);
    assert.equal(doc.identifier.value, href.split('/').pop());
    assert.equal(doc.episodeOfCare.value, w.episodeId);
    assert.ok(!Number.isNaN(Date.parse(doc.date)));
    assert.deepEqual(doc.subject, body.subject);
    assert.deepEqual(doc.extension, body.extension);

    // the documented long path and the unprefixed seed path return the same document
    const long = await mis.call('GET', `/api/patients/${w.personId}/composition/${doc.identifier.value}/episode/${w.episodeId}/encounter/${w.encounterId}`);
    assert.equal(long.status, 200, long.text);
    assert.deepEqual(long.body.data, doc);
    const unprefixed = await mis.call('GET', `/patients/composition/job/${job.id}`);
    assert.equal(unprefixed.status, 200);
    assert.equal(unprefixed.body.data.status, 'DONE');

    const signer = await makeSigner({ taxId: w.authorTaxId });
    const signed = await signCms(signer, JSON.stringify(doc));
    const signJob = await mis.call('PATCH', `/api/patients/composition/${doc.identifier.value}/sign`, { body: { data: signed } });
    assert.equal(signJob.status, 202, signJob.text);
    assert.equal(signJob.body.data.status, 'PENDING');
    const signDone = await pollJob(mis, signJob.body.data.id);
    assert.equal(signDone.body.data.status, 'DONE', signDone.text);
    assert.equal(signDone.body.data.links[0].href, href);
    const final = await mis.call('GET', href);
    assert.equal(final.body.data.status, 'FINAL');
    assert.equal(final.body.data.title, doc.title);
  });
});
