/**
 * Compositions over real HTTP: create → poll (honouring eta) → DONE → get → sign → FINAL, the
 * validation 422s, the numbered task errors, the job endpoint's 400/404, dedupe, search.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, waitFor, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, pollJob, createComposition, createDone, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { TITLE_RE } from '../src/compositions/document.ts';
import { compositionsOf } from '../src/compositions/capability.ts';
import { QUEUE_MAINTENANCE } from '../src/compositions/model.ts';

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

const ENV_DELAY = 'ESOZ_TEST_COMPOSITION_JOB_DELAY_MS';
async function withSlowJobs<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  process.env[ENV_DELAY] = String(ms);
  try {
    return await fn();
  } finally {
    delete process.env[ENV_DELAY];
  }
}

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

describe('job status endpoint (seed 000)', () => {
  test('malformed id → 400 Invalid request format', async () => {
    for (const path of ['/api/patients/composition/job/not-a-uuid', '/patients/composition/job/123']) {
      const r = await mis.call('GET', path);
      assert.equal(r.status, 400);
      assert.deepEqual(r.body.error, { type: 'bad_request', message: 'Invalid request format' });
    }
  });
  test('unknown id → 404 Task not found; another client’s job → 404', async () => {
    const r = await mis.call('GET', `/api/patients/composition/job/${crypto.randomUUID()}`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.body.error, { type: 'not_found', message: 'Task not found' });
    const { created } = await createComposition(mis, createBody(w, { category: 'COVID19' }));
    const stranger = await server.mis({ legalEntityId: w.otherLegalEntityId });
    const other = await stranger.call('GET', `/api/patients/composition/job/${created.body.data.id}`);
    assert.equal(other.status, 404);
    assert.equal(other.body.error.message, 'Task not found');
    const sameLe = await server.mis({ legalEntityId: w.legalEntityId });
    assert.equal(
      (await sameLe.call('GET', `/api/patients/composition/job/${created.body.data.id}`)).status,
      404,
      'jobs belong to the client',
    );
  });
  test('scope composition:read required', async () => {
    const creator = await server.mis({ legalEntityId: w.legalEntityId, scopes: ['composition:create'] });
    const r = await creator.call('GET', `/api/patients/composition/job/${crypto.randomUUID()}`);
    assert.equal(r.status, 403);
  });
  test('a PENDING poll costs one query, a finished job none; eta is fresh and in the future', async () => {
    const db = server.runtime.platform.db as any;
    const original = db.query;
    let count = 0;
    await mis.call('GET', `/api/patients/composition/job/${crypto.randomUUID()}`); // warm the token cache
    await withSlowJobs(1500, async () => {
      const created = await mis.call('POST', '/api/patients/composition', { body: createBody(w, { category: 'TEMP_TRANSFER' }) });
      const id = created.body.data.id;
      // let the in-process worker claim it first (its own queries are not the poll's)
      await waitFor(
        async () => (await original.call(db, 'SELECT started_at FROM composition_jobs WHERE id = $1', [id])).rows[0]?.started_at,
      );
      db.query = function (...args: unknown[]) {
        count++;
        return original.apply(this, args);
      };
      try {
        const asked = Date.now();
        const p = await mis.call('GET', `/api/patients/composition/job/${id}`);
        assert.equal(p.body.data.status, 'PENDING');
        assert.equal(count, 1, 'one query for a PENDING job');
        assert.ok(Date.parse(p.body.data.eta) > asked, 'eta in the future');
        assert.match(p.headers.get('retry-after') ?? '', /^\d+$/);
        assert.deepEqual(p.body.data.links, [{ entity: 'job', href: `/api/patients/composition/job/${id}` }]);
      } finally {
        db.query = original;
      }
      const done = await pollJob(mis, id);
      assert.equal(done.body.data.status, 'DONE');
      count = 0;
      db.query = function (...args: unknown[]) {
        count++;
        return original.apply(this, args);
      };
      try {
        const again = await mis.call('GET', `/api/patients/composition/job/${id}`);
        assert.deepEqual(again.body.data, done.body.data);
        assert.equal(count, 0, 'finished jobs come from memory');
      } finally {
        db.query = original;
      }
    });
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

describe('retention and stuck jobs', () => {
  test('finished jobs older than JOB_RETENTION_DAYS are deleted; PENDING older than JOB_MAX_PENDING_SECONDS fail', async () => {
    const db = server.runtime.platform.db;
    const { created } = await createComposition(
      mis,
      createBody(w, { category: 'COVID19', start: '2026-10-01T00:00:01Z', end: '2026-10-02T20:59:59Z' }),
    );
    const oldId = created.body.data.id;
    await db.query(`UPDATE composition_jobs SET finished_at = now() - interval '8 days' WHERE id = $1`, [oldId]);
    const stuckId = crypto.randomUUID();
    await db.query(
      `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, request_hash, request, first_eta, inserted_at)
       VALUES ($1, 'CREATE', $2, $3, 'stuck', '{}', now() - interval '2 hours', now() - interval '2 hours')`,
      [stuckId, mis.clientId, w.legalEntityId],
    );
    const freshId = crypto.randomUUID();
    await db.query(
      `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, request_hash, request, first_eta)
       VALUES ($1, 'CREATE', $2, $3, 'fresh', '{}', now())`,
      [freshId, mis.clientId, w.legalEntityId],
    );
    compositionsOf(server.runtime.platform).store.clearCache();
    const r = await compositionsOf(server.runtime.platform).sweep();
    assert.ok(r.deleted >= 1);
    assert.deepEqual(r.expired, [stuckId]);
    assert.equal((await mis.call('GET', `/api/patients/composition/job/${oldId}`)).status, 404);
    const stuck = await mis.call('GET', `/api/patients/composition/job/${stuckId}`);
    assert.equal(stuck.body.data.status, 'FAILED');
    assert.equal(stuck.body.data.error.type, 'JOB_TIMEOUT');
    assert.match(stuck.body.data.error.message, /not processed within 3600 seconds/);
    const fresh = await mis.call('GET', `/api/patients/composition/job/${freshId}`);
    assert.equal(fresh.body.data.status, 'PENDING');
    await db.query(`DELETE FROM composition_jobs WHERE id = $1`, [freshId]);
    const schedules = await server.runtime.platform.queue.boss.getSchedules(QUEUE_MAINTENANCE);
    assert.equal(schedules.length, 1);
    assert.equal(schedules[0].cron, '* * * * *');
  });
});

describe('finished-job cache and retention', () => {
  test('a finished job is served from memory only until its retention ends, then as the database has it', async () => {
    const db = server.runtime.platform.db;
    const { created, job } = await createComposition(
      mis,
      createBody(w, { category: 'COVID19', start: '2026-09-01T00:00:01Z', end: '2026-09-02T20:59:59Z' }),
    );
    assert.equal(job.body.data.status, 'DONE');
    const id = created.body.data.id;
    // retention (7 days) ends 1.5 s from now
    await db.query(`UPDATE composition_jobs SET finished_at = now() - interval '7 days' + interval '1.5 seconds' WHERE id = $1`, [id]);
    const { store } = compositionsOf(server.runtime.platform);
    store.clearCache();
    assert.equal((await mis.call('GET', `/api/patients/composition/job/${id}`)).body.data.status, 'DONE'); // now cached
    await new Promise((r) => setTimeout(r, 1600));
    await db.query(`DELETE FROM composition_jobs WHERE id = $1`, [id]); // what the sweep does past retention
    const gone = await mis.call('GET', `/api/patients/composition/job/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, 'Task not found');
  });
});

describe('get and search', () => {
  let comp: { id: string; document: Record<string, any>; href: string };
  before(async () => {
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

describe('metrics', () => {
  test('job counts by status and eta accuracy', async () => {
    const r = await server.call('GET', '/metrics');
    assert.match(r.text, /esoz_composition_jobs\{status="DONE"\} [1-9]/);
    assert.match(r.text, /esoz_composition_jobs\{status="FAILED"\} [1-9]/);
    assert.match(r.text, /esoz_composition_jobs_eta\{result="before_eta"\} \d+/);
    assert.match(r.text, /esoz_composition_job_finished_total\{kind="CREATE",status="DONE",eta="(before|after)_eta"\} [1-9]/);
  });
  test('the eta model learns from measured service times', async () => {
    const stats = await server.runtime.platform.db.query<{ kind: string; service_ms: number; drain_ms: number; samples: number }>(
      `SELECT kind, service_ms, drain_ms, samples FROM composition_job_stats WHERE kind IN ('CREATE', 'SIGN') ORDER BY kind`,
    );
    for (const s of stats.rows) {
      assert.ok(Number(s.samples) > 0, `${s.kind} measured`);
      assert.notEqual(s.service_ms, 500, `${s.kind} moved off the prior`);
      assert.ok(s.drain_ms > 0 && s.drain_ms <= Math.max(s.service_ms, 500) * 2);
    }
  });
});

describe('retries', () => {
  test('a transient error is retried with backoff and the job still ends DONE once', async () => {
    const db = server.runtime.platform.db as any;
    const original = db.transaction;
    let failures = 0;
    db.transaction = function (fn: any) {
      // fail the worker's first finishing transaction (the accept transaction has already run)
      if (failures === 0 && new Error().stack?.includes('processor.ts')) {
        failures++;
        return Promise.reject(new Error('connection reset (simulated)'));
      }
      return original.call(this, fn);
    };
    try {
      const { job } = await createComposition(
        mis,
        createBody(w, {
          category: 'CHILD_CARE',
          focus: { type: 'person', id: w.motherId },
          start: '2026-12-01T00:00:01Z',
          end: '2026-12-02T20:59:59Z',
        }),
      );
      assert.equal(job.body.data.status, 'DONE', job.text);
      assert.equal(failures, 1);
      const row = await server.runtime.platform.db.query<{ attempts: number }>('SELECT attempts FROM composition_jobs WHERE id = $1', [
        job.body.data.id,
      ]);
      assert.equal(row.rows[0].attempts, 2);
      const n = await server.runtime.platform.db.query<{ n: number }>('SELECT count(*) AS n FROM compositions WHERE job_id = $1', [
        job.body.data.id,
      ]);
      assert.equal(Number(n.rows[0].n), 1);
    } finally {
      db.transaction = original;
    }
  });

  test('the last retry fails the job with INTERNAL_ERROR instead of leaving it PENDING', async () => {
    const platform = server.runtime.platform;
    const { processor, retryLimit } = compositionsOf(platform);
    const jobId = crypto.randomUUID();
    await platform.db.query(
      `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, request_hash, request, first_eta)
       VALUES ($1, 'CREATE', $2, $3, 'last-retry', $4, now())`,
      [jobId, mis.clientId, w.legalEntityId, JSON.stringify(createBody(w))],
    );
    const db = platform.db as any;
    const original = db.transaction;
    db.transaction = () => Promise.reject(new Error('database unavailable (simulated)'));
    try {
      // as the queue runs it: a fetch goes to handleBatch, and an Error result is a job pg-boss retries
      const fetched = (retryCount: number) => [{ id: jobId, name: 'x', data: { jobId }, retryCount } as any];
      const [retried] = await processor.handleBatch(fetched(retryLimit - 1));
      assert.ok(retried instanceof Error, `an Error to retry, got ${JSON.stringify(retried)}`);
      assert.match(retried.message, /simulated/);
      const [last] = await processor.handleBatch(fetched(retryLimit));
      assert.deepEqual(last, { status: 'FAILED', error: 'INTERNAL_ERROR' });
    } finally {
      db.transaction = original;
    }
    const state = await mis.call('GET', `/api/patients/composition/job/${jobId}`);
    assert.equal(state.body.data.status, 'FAILED');
    assert.equal(state.body.data.error.code, 500);
    assert.match(state.body.data.error.message, /after \d+ attempts/);
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
