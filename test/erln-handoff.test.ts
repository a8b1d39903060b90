/**
 * The МВТН → ERLN hand-off over real HTTP, as an MIS sees it: sign → CREATE_ERLN_RECORD →
 * integrationData; RC_4 (PATCH …/erln) with its checks in the documented order; the simulator's
 * faults through /admin/erln.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestServer, waitFor, type Mis, type TestServer } from './support/harness.ts';
import { createBody, createDone, misOf, pollJob, seedWorld, type World } from './support/compositions.ts';
import { signedComposition } from './support/erln.ts';

const NOT_RESUBMITTABLE = 'This request is not allowed to be resubmitted (inappropriate status or type of request)';

let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca', ERLN_MAX_TRIES: '2', ERLN_RETRY_DELAY_SECONDS: '1' } });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(() => server.close());

const erlnControl = (body: Record<string, unknown>) => server.call('PUT', '/admin/erln', { admin: true, body });
type Sent = Awaited<ReturnType<typeof signedComposition>>;
const integrationPath = (c: Sent, prefix = '/api') =>
  `${prefix}/patients/${c.patientId}/composition/${c.id}/episode/${c.episodeId}/encounter/${c.encounterId}/integrationData`;
const integration = async (c: Sent, caller: Mis = mis) => caller.call('GET', integrationPath(c));
/** integrationData once no task is PENDING */
const settled = (c: Sent, count = 1) =>
  waitFor(
    async () => {
      const r = await integration(c);
      assert.equal(r.status, 200, r.text);
      const items = r.body.data as { taskStatus: string }[];
      return items.length >= count && items.every((t) => t.taskStatus !== 'PENDING') ? items : undefined;
    },
    30_000,
    50,
  );

describe('sign → ERLN → integrationData', () => {
  test('a signed МВТН of a person gets an SL number; integrationData shows the task as documented (both prefixes)', async () => {
    await erlnControl({ mode: 'ok' });
    const c = await signedComposition(server, mis, w);
    const [task, ...rest] = (await settled(c)) as Record<string, any>[];
    assert.deepEqual(rest, []);
    assert.deepEqual(Object.keys(task ?? {}), [
      'component',
      'type',
      'integrationStatus',
      'taskStatus',
      'statusCode',
      'statusMessage',
      'details',
      'updatedAt',
    ]);
    assert.deepEqual(
      { ...task, details: Object.keys(task?.details ?? {}), updatedAt: typeof task?.updatedAt },
      {
        component: 'ERLN',
        type: 'CREATE_ERLN_RECORD',
        integrationStatus: 'SUCCESS',
        taskStatus: 'DONE',
        statusCode: 1101,
        statusMessage: 'ЕЛН створено успішно',
        details: ['SL_NUM'],
        updatedAt: 'string',
      },
    );
    const unprefixed = await mis.call('GET', integrationPath(c, ''));
    assert.deepEqual(unprefixed.body.data, [task]);
    const sim = await server.call('GET', '/admin/erln', { admin: true });
    const record = (sim.body.data.records as { sl_num: string; composition_id: string }[]).find((r) => r.composition_id === c.id);
    assert.equal(record?.sl_num, task?.details.SL_NUM);
  });

  test('integrationData: 404 "Composition not found" for an unknown, a foreign and a PRELIMINARY composition; [] when nothing was sent', async () => {
    const c = await signedComposition(server, mis, w, { category: 'QUARANTINE' });
    const unknown = await mis.call('GET', integrationPath({ ...c, id: randomUUID() }));
    assert.deepEqual([unknown.status, unknown.body.error?.message], [404, 'Composition not found']);
    const stranger = await server.mis({ legalEntityId: w.otherLegalEntityId, employeeId: w.otherEmployeeId });
    const foreign = await integration(c, stranger);
    assert.deepEqual([foreign.status, foreign.body.error?.message], [404, 'Composition not found']);
    const draft = await createDone(mis, createBody(w, { category: 'RESTORATION' }));
    const preliminary = await mis.call('GET', integrationPath({ ...c, id: draft.id, encounterId: w.encounterId }));
    assert.deepEqual([preliminary.status, preliminary.body.error?.message], [404, 'Composition not found']);
    // a FINAL МВТН that was never handed to ERLN (a fixture): an empty list
    const quiet = randomUUID();
    await server.fixtures({
      compositions: [
        {
          id: quiet,
          status: 'FINAL',
          type: 'TEMP_DISABILITY',
          category: 'PARENTAL_CARE',
          subject_id: w.personId,
          encounter_id: w.encounterId,
          author_id: w.authorId,
          legal_entity_id: w.legalEntityId,
        },
      ],
    });
    const none = await mis.call('GET', integrationPath({ ...c, id: quiet, encounterId: w.encounterId }));
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.body.data, []);
  });
});

describe('RC_4: PATCH /api/patients/composition/{id}/erln', () => {
  const resend = (id: string, o: { caller?: Mis; body?: unknown; prefix?: string } = {}) =>
    (o.caller ?? mis).call('PATCH', `${o.prefix ?? '/api'}/patients/composition/${id}/erln`, o.body === undefined ? {} : { body: o.body });

  test('after ERLN rejected the record: 200 with the job; the job FAILED while ERLN still rejects, DONE once it accepts', async () => {
    await erlnControl({ mode: 'reject', reject_code: 1000, reject_message: 'Неочікувана помилка при створенні' });
    const c = await signedComposition(server, mis, w, { category: 'COVID19' });
    const [first] = (await settled(c)) as Record<string, any>[];
    assert.deepEqual([first?.integrationStatus, first?.statusCode], ['ERROR', 1000]);

    const again = await resend(c.id);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(Object.keys(again.body.data).sort(), ['eta', 'id', 'links', 'status']);
    assert.equal(again.body.data.status, 'PENDING');
    const failed = await pollJob(mis, again.body.data.id);
    assert.deepEqual(failed.body.data.error, {
      code: 502,
      type: 'ERLN_REJECTED',
      message: 'ERLN rejected the record (RESULT 1000): Неочікувана помилка при створенні',
    });

    await erlnControl({ mode: 'ok' });
    const third = await resend(c.id, { body: {}, prefix: '' });
    assert.equal(third.status, 200, third.text);
    const done = await pollJob(mis, third.body.data.id);
    assert.equal(done.body.data.status, 'DONE');
    assert.match(done.body.data.links[0].href, new RegExp(`/composition/${c.id}$`));
    const items = (await settled(c, 3)) as Record<string, any>[];
    assert.deepEqual(
      items.map((t) => [t.type, t.integrationStatus]),
      [
        ['CREATE_ERLN_RECORD', 'ERROR'],
        ['CREATE_ERLN_RECORD', 'ERROR'],
        ['CREATE_ERLN_RECORD', 'SUCCESS'],
      ],
    );
    assert.match(items[2]?.details.SL_NUM, /^SL\d{10}$/);
  });

  test('ERLN unreachable: after ERLN_MAX_TRIES calls the task is FAILED / ERROR "ERLN was unreachable…", which RC_4 re-sends ([] body)', async () => {
    await erlnControl({ mode: 'down' });
    const c = await signedComposition(server, mis, w, { category: 'TEMP_TRANSFER' });
    const [task] = (await settled(c)) as Record<string, any>[];
    assert.deepEqual(
      [task?.taskStatus, task?.integrationStatus, task?.statusMessage],
      ['FAILED', 'ERROR', 'ERLN was unreachable after 2 calls: ERLN is unavailable'],
    );
    const again = await resend(c.id, { body: [] });
    assert.equal(again.status, 200, again.text);
    const failed = await pollJob(mis, again.body.data.id, { timeoutMs: 30_000 });
    assert.deepEqual(failed.body.data.error, {
      code: 503,
      type: 'ERLN_UNREACHABLE',
      message: 'ERLN was unreachable after 2 calls: ERLN is unavailable',
    });
    await erlnControl({ mode: 'ok' });
  });

  test('checks in the documented order: 404 "No conclusion found" before any 400', async () => {
    await erlnControl({ mode: 'ok' });
    const db = server.runtime.platform.db;
    const noConclusion = async (id: string, caller?: Mis) => {
      const r = await resend(id, { caller });
      assert.deepEqual([r.status, r.body.error?.type, r.body.error?.message], [404, 'not_found', 'No conclusion found'], id);
    };
    const notAllowed = async (id: string) => {
      const r = await resend(id);
      assert.deepEqual([r.status, r.body.error?.type, r.body.error?.message], [400, 'bad_request', NOT_RESUBMITTABLE], id);
    };
    // 3. no ERLN task: unknown id, a PRELIMINARY composition (its status would be a 400: the 404 comes first), a preperson's МВТН
    await noConclusion(randomUUID());
    await noConclusion('not-a-uuid');
    const draft = await createDone(mis, createBody(w, { category: 'PROSTHETIC' }));
    await noConclusion(draft.id);
    const pre = await signedComposition(server, mis, w, { subject: { type: 'preperson', id: w.prepersonId }, category: 'CHILD_CARE' });
    await noConclusion(pre.id);
    // 4. another legal entity's composition with an ERLN task that would be re-sendable: 404, not 400 or 200
    await erlnControl({ mode: 'reject', reject_code: null, reject_message: 'Відмова' });
    const c = await signedComposition(server, mis, w, { category: 'PREGNANCY' });
    await settled(c);
    await erlnControl({ mode: 'ok' });
    const stranger = await server.mis({ legalEntityId: w.otherLegalEntityId, employeeId: w.otherEmployeeId });
    await noConclusion(c.id, stranger);
    // 5–10. each condition alone makes the 400 (the composition is otherwise re-sendable)
    const setTask = (sql: string) => db.query(`UPDATE composition_integration_tasks SET ${sql} WHERE composition_id = $1`, [c.id]);
    const setComposition = (sql: string) => db.query(`UPDATE compositions SET ${sql} WHERE id = $1`, [c.id]);
    await setComposition(`type_code = 'NEWBORN'`);
    await notAllowed(c.id);
    await setComposition(`type_code = 'TEMP_DISABILITY', status = 'ENTERED_IN_ERROR'`);
    await notAllowed(c.id);
    await setComposition(`status = 'FINAL'`);
    await setTask(`integration_status = 'SUCCESS'`);
    await notAllowed(c.id);
    await setTask(`integration_status = 'ERROR', task_status = 'PENDING'`);
    await notAllowed(c.id);
    await setTask(`task_status = 'DONE', status_message = ''`);
    await notAllowed(c.id);
    await setTask(`status_message = 'Відмова'`);
    await setComposition(`focus_type = 'preperson'`);
    await notAllowed(c.id);
    await setComposition(`focus_type = 'person'`);
    // and with every condition met, the same composition is re-sent
    const ok = await resend(c.id);
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await pollJob(mis, ok.body.data.id)).body.data.status, 'DONE');
  });

  test('scope composition:create; a body other than none, {} or [] is refused', async () => {
    const reader = await server.mis({ legalEntityId: w.legalEntityId, employeeId: w.authorId, scopes: ['composition:read'] });
    const r = await resend(randomUUID(), { caller: reader });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /Missing allowances: composition:create/);
    const withBody = await resend(randomUUID(), { body: { id: 'x' } });
    assert.equal(withBody.status, 422, withBody.text);
    assert.deepEqual(withBody.body.error.invalid[0].rules[0].description, 'the request takes no body: send none, {} or []');
    const withList = await resend(randomUUID(), { body: [1] });
    assert.equal(withList.status, 422, withList.text);
  });
});
