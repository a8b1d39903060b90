/**
 * createComposition over real HTTP: the MIS sequence (create → poll honouring eta → DONE → get →
 * sign → FINAL), the synchronous 422s, the numbered task errors, dedupe, INFORM_WITH.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, pollJob, createComposition, createDone, withSlowJobs, type World } from './support/compositions.ts';
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
    const body = createBody(w, {
      extension: [
        { valueCode: 'INFORM_WITH', valueUuid: w.authMethodId },
        { valueCode: 'IS_ACCIDENT', valueBoolean: false },
      ],
    });
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
    assert.deepEqual(Object.keys(done.body.data.links[0]), ['entity', 'href']);
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
    assert.equal(JSON.stringify(doc.type), JSON.stringify(body.type), 'fields keep the order the client sent');
    assert.deepEqual(doc.extension, body.extension);

    // the documented long path and the unprefixed seed path return the same document
    const long = await mis.call(
      'GET',
      `/api/patients/${w.personId}/composition/${doc.identifier.value}/episode/${w.episodeId}/encounter/${w.encounterId}`,
    );
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

function rulesOf(r: any): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of r.body.error.invalid) out[e.entry] = e.rules.map((x: any) => `${x.rule}: ${x.description}`);
  return out;
}

describe('create: synchronous validation (422 with every problem)', () => {
  test('schema: unknown fields, missing fields, bad formats are all listed', async () => {
    const body: any = createBody(w);
    body.unexpected = true;
    delete body.type;
    body.subject.value = 'not-a-uuid';
    const r = await mis.call('POST', '/api/patients/composition', { body });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.type, 'validation_failed');
    const entries = rulesOf(r);
    assert.ok(entries['$.unexpected'], r.text);
    assert.ok(entries['$.type'], r.text);
    assert.ok(entries['$.subject.value'], r.text);
  });

  test('dictionaries and reference types', async () => {
    const body: any = createBody(w);
    body.type.coding[0].code = 'NO_SUCH_TYPE';
    body.category.coding[0].system = 'WRONG_SYSTEM';
    body.event[0].code.coding[0].code = 'NO_SUCH_EVENT';
    body.author.type.coding[0].code = 'person';
    const r = await mis.call('POST', '/api/patients/composition', { body });
    assert.equal(r.status, 422, r.text);
    const e = rulesOf(r);
    assert.deepEqual(Object.keys(e).sort(), [
      '$.author.type.coding[0].code',
      '$.category.coding[0].system',
      '$.event[0].code.coding[0].code',
      '$.type.coding[0].code',
    ]);
  });

  test('references must exist; the author must belong to the caller legal entity', async () => {
    const body: any = createBody(w, {
      subject: { type: 'person', id: crypto.randomUUID() },
      encounterId: crypto.randomUUID(),
      authorId: w.otherEmployeeId,
    });
    body.section.focus.value = w.personId;
    body.extension = [
      { valueCode: 'INFORM_WITH', valueUuid: crypto.randomUUID() },
      { valueCode: 'IS_ACCIDENT', valueUuid: w.personId },
    ];
    const r = await mis.call('POST', '/api/patients/composition', { body });
    assert.equal(r.status, 422, r.text);
    const e = rulesOf(r);
    assert.deepEqual(e['$.subject.value'], ['invalid: Person not found']);
    assert.deepEqual(e['$.encounter.value'], ['invalid: Encounter not found']);
    assert.deepEqual(e['$.author.value'], [`invalid: Employee ${w.otherEmployeeId} doesn't belong to your legal entity`]);
    assert.ok(e['$.extension[0].valueUuid'], r.text);
    assert.ok(e['$.extension[1]'], r.text);
  });

  test('period end before start; encounter of another patient', async () => {
    const r = await mis.call('POST', '/api/patients/composition', {
      body: createBody(w, { start: '2026-09-05T00:00:01Z', end: '2026-09-01T20:59:59Z', encounterId: w.motherEncounterId }),
    });
    assert.equal(r.status, 422, r.text);
    const e = rulesOf(r);
    assert.ok(e['$.event[0].period.end']);
    assert.deepEqual(e['$.encounter.value'], ["invalid: Encounter doesn't belong to the subject"]);
  });

  test('auth: 401 without token, 403 without scope', async () => {
    const anon = await server.call('POST', '/api/patients/composition', { body: createBody(w) });
    assert.equal(anon.status, 401);
    const reader = await server.mis({ legalEntityId: w.legalEntityId, scopes: ['composition:read'] });
    const r = await reader.call('POST', '/api/patients/composition', { body: createBody(w) });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.message, 'Your scope does not allow to access this resource. Missing allowances: composition:create');
  });
});

describe('create: business rules fail the job with the numbered error', () => {
  const expectFailed = async (body: unknown, code: number, type: string, message?: RegExp) => {
    const { created, job } = await createComposition(mis, body);
    assert.equal(created.status, 202, created.text);
    assert.equal(job.status, 200);
    assert.equal(job.body.data.status, 'FAILED', job.text);
    assert.deepEqual(Object.keys(job.body.data), ['eta', 'id', 'links', 'status', 'error']);
    assert.deepEqual(job.body.data.links, []);
    assert.equal(job.body.data.error.code, code, job.text);
    assert.equal(job.body.data.error.type, type);
    if (message) assert.match(job.body.data.error.message, message);
    return job;
  };

  test('1085 INVALID_DISABILITY_CATEGORY', async () => {
    await expectFailed(createBody(w, { category: 'LIVE_BIRTH' }), 1085, 'INVALID_DISABILITY_CATEGORY', /LIVE_BIRTH/);
  });
  test('1081 INVALID_NEWBORN_CATEGORY', async () => {
    const body = createBody(w, {
      type: 'NEWBORN',
      category: 'SICKNESS',
      subject: { type: 'preperson', id: w.prepersonId },
      focus: { type: 'person', id: w.motherId },
      encounterId: w.prepersonEncounterId,
      end: null,
    });
    await expectFailed(body, 1081, 'INVALID_NEWBORN_CATEGORY');
  });
  test('preperson subject: only SICKNESS and CHILD_CARE', async () => {
    const body = createBody(w, {
      category: 'FAMILY_CARE',
      subject: { type: 'preperson', id: w.prepersonId },
      focus: { type: 'person', id: w.motherId },
      encounterId: w.prepersonEncounterId,
    });
    await expectFailed(body, 1085, 'INVALID_DISABILITY_CATEGORY', /preperson.*SICKNESS, CHILD_CARE/);
    const ok = await createComposition(mis, { ...body, category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: 'CHILD_CARE' }] } });
    assert.equal(ok.job.body.data.status, 'DONE', ok.job.text);
  });
  test('1182 SUBJECT_FOCUS_EQUALITY_REQUIRED', async () => {
    await expectFailed(createBody(w, { focus: { type: 'person', id: w.motherId } }), 1182, 'SUBJECT_FOCUS_EQUALITY_REQUIRED');
  });
  test('1127 is checked before 1002 (block B: the encounter first, then one NEWBORN per subject)', async () => {
    const body = createBody(w, {
      type: 'NEWBORN',
      category: 'LIVE_BIRTH',
      subject: { type: 'preperson', id: w.prepersonId },
      focus: { type: 'person', id: w.motherId },
      encounterId: w.prepersonEncounterId,
      end: null,
    });
    const first = await createDone(mis, body);
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const s = await mis.call('PATCH', `/api/patients/composition/${first.id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(first.document)) },
    });
    assert.equal((await pollJob(mis, s.body.data.id)).body.data.status, 'DONE');
    // the same encounter (1127) and the same subject (1002): 1127 answers
    await expectFailed(body, 1127, 'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS');
  });
  test('1127 FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS', async () => {
    const body = createBody(w, { category: 'QUARANTINE' });
    const first = await createDone(mis, body);
    const second = await createDone(mis, body);
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const s1 = await mis.call('PATCH', `/api/patients/composition/${first.id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(first.document)) },
    });
    assert.equal((await pollJob(mis, s1.body.data.id)).body.data.status, 'DONE');
    // a new create on the encounter fails …
    await expectFailed(body, 1127, 'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS');
    // … and so does signing the other PRELIMINARY one
    const s2 = await mis.call('PATCH', `/api/patients/composition/${second.id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(second.document)) },
    });
    const j2 = await pollJob(mis, s2.body.data.id);
    assert.equal(j2.body.data.status, 'FAILED');
    assert.equal(j2.body.data.error.code, 1127);
  });
});

describe('dedupe', () => {
  test('identical requests of one client while PENDING share one job; other bodies or clients do not', async () => {
    await withSlowJobs(1500, async () => {
      const body = createBody(w, { category: 'PROSTHETIC' });
      const [a, b] = await Promise.all([
        mis.call('POST', '/api/patients/composition', { body }),
        mis.call('POST', '/api/patients/composition', { body: JSON.parse(JSON.stringify(body)) }),
      ]);
      assert.equal(a.status, 202);
      assert.equal(b.status, 202);
      assert.equal(a.body.data.id, b.body.data.id);
      // same meaning, other key order → same job
      const reordered = Object.fromEntries(Object.entries(body).reverse());
      const c = await mis.call('POST', '/api/patients/composition', { body: reordered });
      assert.equal(c.body.data.id, a.body.data.id);
      const other = await mis.call('POST', '/api/patients/composition', { body: createBody(w, { category: 'RESTORATION' }) });
      assert.notEqual(other.body.data.id, a.body.data.id);
      const mis2 = await misOf(server, w);
      const d = await mis2.call('POST', '/api/patients/composition', { body });
      assert.notEqual(d.body.data.id, a.body.data.id);
      const done = await pollJob(mis, a.body.data.id);
      assert.equal(done.body.data.status, 'DONE');
      // after it finished, the same request is a new job
      const e = await mis.call('POST', '/api/patients/composition', { body });
      assert.notEqual(e.body.data.id, a.body.data.id);
      await pollJob(mis, e.body.data.id);
      await pollJob(mis2, d.body.data.id);
      await pollJob(mis, other.body.data.id);
    });
    const n = await server.runtime.platform.db.query<{ n: number }>(
      `SELECT count(*) AS n FROM compositions WHERE category_code = 'PROSTHETIC'`,
    );
    assert.equal(Number(n.rows[0].n), 3);
  });
});

describe('INFORM_WITH and the ids of authentication methods', () => {
  test('names a method by the id the persons fixture gave it (listed by GET …/authentication_methods); an ended method is refused', async () => {
    const methodId = crypto.randomUUID();
    const endedId = crypto.randomUUID();
    await server.fixtures({
      persons: [
        {
          id: w.motherId,
          authentication_methods: [
            { id: methodId, type: 'OTP', phone_number: '+380671234567' },
            { id: endedId, type: 'OFFLINE', ended_at: '2024-01-01T00:00:00Z' },
          ],
        },
      ],
    });
    const listed = await mis.call('GET', `/api/persons/${w.motherId}/authentication_methods`);
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(
      listed.body.data.map((m: any) => m.id),
      [methodId],
    );

    const body = (valueUuid: string) =>
      createBody(w, {
        category: 'FAMILY_CARE',
        focus: { type: 'person', id: w.motherId },
        extension: [{ valueCode: 'INFORM_WITH', valueUuid }],
      });
    const ok = await mis.call('POST', '/api/patients/composition', { body: body(methodId) });
    assert.equal(ok.status, 202, ok.text);
    assert.equal((await pollJob(mis, ok.body.data.id)).body.data.status, 'DONE');

    const ended = await mis.call('POST', '/api/patients/composition', { body: body(endedId) });
    assert.equal(ended.status, 422, ended.text);
    assert.deepEqual(
      ended.body.error.invalid.map((e: any) => [e.entry, e.rules[0].description]),
      [['$.extension[0].valueUuid', 'Authentication method not found for the patient']],
    );
  });
});
