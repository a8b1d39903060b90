/**
 * МВТН chains over real HTTP (docs/compositions.md, "Chains"): RC_5 extension/reduction ("appends"),
 * RC_6 refinement preperson → person and RC_7 replacement of a cancelled one ("replaces"), each end
 * to end (create → job → sign → job → both compositions → the ERLN record); the create checks in their
 * order (each test fails two neighbours and asserts the earlier one); the sign re-checks under the
 * target's lock (competing links); the cancel of each kind of link gives its target its status back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestServer, waitFor, type Mis, type TestServer } from './support/harness.ts';
import {
  createBody,
  createComposition,
  createDone,
  misOf,
  pollJob,
  seedWorld,
  type BodyOptions,
  type World,
} from './support/compositions.ts';
import { signedComposition } from './support/erln.ts';
import { makeSigner, signCms } from './support/cms.ts';
import { addDays, dayOf } from '../src/compositions/chains.ts';
import { MESSAGES } from '../src/compositions/messages.ts';

let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca', EMAL_COMPOSITION_FLOW_REPLACE_ENABLED: 'TRUE' } });
  w = await seedWorld(server);
  mis = await misOf(server, w);
});
after(() => server?.close());

// ---- periods: Kyiv days around today ----
const today = dayOf(new Date().toISOString());
const day = (n: number) => addDays(today, n);
const period = (startDay: string, endDay: string) => ({ start: `${startDay}T09:00:00Z`, end: `${endDay}T18:00:00Z` });
/** the target's period: three days ago to in two days */
const TARGET = period(day(-3), day(2));
const EXTENSION = period(day(3), day(6));
const REDUCTION = period(day(-3), day(0));

// ---- helpers ----
const db = () => server.runtime.platform.db;
const encounter = async (personId = w.personId) => {
  const id = randomUUID();
  await server.fixtures({
    encounters: [
      {
        id,
        person_id: personId,
        episode_id: personId === w.personId ? w.episodeId : null,
        legal_entity_id: w.legalEntityId,
        employee_id: w.authorId,
      },
    ],
  });
  return id;
};
const relatesTo = (code: string, target: string) => ({
  code,
  targetIdentifier: { type: { coding: [{ system: 'eHealth/resources', code: 'composition' }] }, value: target },
});
type LinkOptions = BodyOptions & { period?: { start: string; end: string } };
const linkBody = async (code: string, target: string, o: LinkOptions = {}) => ({
  ...createBody(w, {
    ...o,
    start: o.period?.start ?? o.start,
    end: o.period?.end ?? o.end,
    encounterId: o.encounterId ?? (await encounter(o.subject?.id)),
  }),
  relatesTo: relatesTo(code, target),
});
/** a FINAL МВТН (create → sign) whose ERLN task has ended */
const finalMvtn = async (o: LinkOptions = {}) => {
  const c = await signedComposition(server, mis, w, { ...o, start: (o.period ?? TARGET).start, end: (o.period ?? TARGET).end });
  await erlnSettled(c.id);
  return c.id;
};
const erlnSettled = (id: string) =>
  waitFor(
    async () =>
      (await db().query(`SELECT 1 FROM composition_integration_tasks WHERE composition_id = $1 AND task_status = 'PENDING'`, [id]))
        .rowCount === 0,
    30_000,
    50,
  );
const sign = async (id: string, document: unknown, caller: Mis = mis) => {
  const signer = await makeSigner({ taxId: w.authorTaxId });
  const r = await caller.call('PATCH', `/api/patients/composition/${id}/sign`, {
    body: { data: await signCms(signer, JSON.stringify(document)) },
  });
  assert.equal(r.status, 202, r.text);
  return (await pollJob(caller, r.body.data.id)).body.data;
};
const cancel = async (id: string, code = 'INCORRECT_CATEGORY') => {
  await erlnSettled(id);
  const signer = await makeSigner({ taxId: w.authorTaxId });
  const content = { id, reason: { coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code }], text: 'Wrong' } };
  const r = await mis.call('PATCH', `/api/patients/composition/${id}/cancel`, {
    body: { data: await signCms(signer, JSON.stringify(content)) },
  });
  assert.equal(r.status, 202, r.text);
  const job = (await pollJob(mis, r.body.data.id)).body.data;
  assert.equal(job.status, 'DONE', JSON.stringify(job));
};
/** create → DONE → sign → DONE */
const linked = async (body: unknown) => {
  const c = await createDone(mis, body);
  const s = await sign(c.id, c.document);
  assert.equal(s.status, 'DONE', JSON.stringify(s));
  return c;
};
const state = async (id: string) =>
  (
    await db().query<{ status: string; amended_from_status: string | null; document: string }>(
      'SELECT status, amended_from_status, document FROM compositions WHERE id = $1',
      [id],
    )
  ).rows[0];
const slOf = async (id: string) => {
  await erlnSettled(id);
  const r = await db().query<{ sl: string | null }>(
    `SELECT details->>'SL_NUM' AS sl FROM composition_integration_tasks WHERE composition_id = $1 AND type = 'CREATE_ERLN_RECORD'
      ORDER BY inserted_at DESC LIMIT 1`,
    [id],
  );
  return r.rows[0]?.sl ?? null;
};
const simRecord = async (compositionId: string) => {
  const sim = await server.call('GET', '/admin/erln', { admin: true });
  return (sim.body.data.records as Record<string, unknown>[]).find((r) => r.composition_id === compositionId);
};
const expectFailed = async (body: unknown, code: number | null, type: string, message?: string, caller: Mis = mis) => {
  const { created, job } = await createComposition(caller, body);
  assert.equal(created.status, 202, created.text);
  assert.equal(job.body.data.status, 'FAILED', job.text);
  assert.deepEqual([job.body.data.error.code, job.body.data.error.type], [code, type], job.text);
  if (message !== undefined) assert.equal(job.body.data.error.message, message);
};
/** a fixture composition (any state, no ERLN task) */
const fixture = async (o: {
  status: string;
  type?: string;
  category?: string;
  subject?: string;
  period?: { start: string; end: string };
}) => {
  const id = randomUUID();
  const subject = o.subject ?? w.personId;
  const enc = await encounter(subject);
  await server.fixtures({
    compositions: [
      {
        id,
        status: o.status,
        type: o.type ?? 'TEMP_DISABILITY',
        category: o.category ?? 'SICKNESS',
        subject_id: subject,
        encounter_id: enc,
        author_id: w.authorId,
        legal_entity_id: w.legalEntityId,
        period: o.period ?? TARGET,
      },
    ],
  });
  return id;
};
/** a fixture as ERLN registered it (a CREATE_ERLN_RECORD answered with an SL number), as RC_5 needs */
const registered = async (id: string) => {
  await db().query(
    `INSERT INTO composition_integration_tasks (id, composition_id, type, task_status, integration_status, status_code, details, attempts)
     VALUES ($1, $2, 'CREATE_ERLN_RECORD', 'DONE', 'SUCCESS', 1101, $3, 1)`,
    [randomUUID(), id, JSON.stringify({ SL_NUM: `SLT${id.slice(0, 8)}` })],
  );
  return id;
};
/** makes `successor` (a fixture) link to `target`, as a composition signed before chains existed would */
const linkFixture = async (successor: string, code: string, target: string) => {
  const r = await db().query<{ document: string }>('SELECT document FROM compositions WHERE id = $1', [successor]);
  const doc = { ...JSON.parse(r.rows[0]!.document), relatesTo: relatesTo(code, target) };
  await db().query('UPDATE compositions SET document = $2 WHERE id = $1', [successor, JSON.stringify(doc)]);
};
const cancelledFixture = async (reason: string, cancelledDaysAgo = 1, type = 'TEMP_DISABILITY') => {
  const id = await fixture({ status: 'ENTERED_IN_ERROR', type });
  await db().query(`UPDATE compositions SET cancel_reason = $2, cancelled_at = now() - make_interval(days => $3) WHERE id = $1`, [
    id,
    JSON.stringify({ coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: reason }], text: 'Wrong' }),
    cancelledDaysAgo,
  ]);
  return id;
};

describe('RC_5 extension / reduction (relatesTo "appends")', () => {
  test('extension end to end: the link FINAL, its target AMENDED (document unchanged but status), ERLN REQUEST_TYPE 2 with the previous SL number; readable from both ends', async () => {
    const target = await finalMvtn();
    const targetSl = await slOf(target);
    assert.ok(targetSl);
    const before = await state(target);
    const link = await linked(await linkBody('appends', target, { period: EXTENSION }));
    assert.deepEqual(link.document.relatesTo, relatesTo('appends', target), 'relatesTo is in the new one');
    const after = await state(target);
    assert.deepEqual([after.status, after.amended_from_status], ['AMENDED', 'FINAL']);
    assert.deepEqual({ ...JSON.parse(after.document), status: 'FINAL' }, JSON.parse(before.document), 'only the status field changed');
    assert.equal((await state(link.id)).status, 'FINAL');
    // the GET of the target shows AMENDED; the search by relatesTo finds the link from the target
    const got = await mis.call('GET', await hrefOf(target));
    assert.equal(got.body.data.status, 'AMENDED');
    const found = await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&relatesTo=${target}`);
    assert.equal(found.status, 200, found.text);
    const notUuid = await mis.call('GET', `/api/patients/searchComposition?subject=${w.personId}&relatesTo=nope`);
    assert.equal(notUuid.status, 422, notUuid.text);
    assert.equal(notUuid.body.error.invalid[0].entry, '$.relatesTo');
    assert.deepEqual(
      found.body.data.map((d: { identifier: { value: string } }) => d.identifier.value),
      [link.id],
    );
    // ERLN: a record of its own, a continuation of the target's
    const sl = await slOf(link.id);
    const rec = await simRecord(link.id);
    assert.deepEqual([rec?.request_type, rec?.previous_sl_num, rec?.sl_num], [2, targetSl, sl]);
    assert.notEqual(sl, targetSl);
  });

  test('reduction → REQUEST_TYPE 3; an extension with IS_FORCE_RENEW → 4; "APPENDS" in capitals is the same', async () => {
    const t1 = await finalMvtn({ category: 'QUARANTINE' });
    const r1 = await linked(await linkBody('appends', t1, { period: REDUCTION, category: 'QUARANTINE' }));
    const t2 = await finalMvtn({ category: 'PROSTHETIC' });
    const r2 = await linked(
      await linkBody('APPENDS', t2, {
        period: EXTENSION,
        category: 'PROSTHETIC',
        extension: [{ valueCode: 'IS_FORCE_RENEW', valueBoolean: true }],
      }),
    );
    await slOf(r1.id);
    await slOf(r2.id);
    assert.deepEqual([(await simRecord(r1.id))?.request_type, (await simRecord(r1.id))?.previous_sl_num], [3, await slOf(t1)]);
    assert.deepEqual([(await simRecord(r2.id))?.request_type, (await simRecord(r2.id))?.previous_sl_num], [4, await slOf(t2)]);
    assert.equal((await state(t2)).status, 'AMENDED');
  });

  test('create checks in order: 1127 before the relatesTo rules (the target counts), 1160 not FINAL before 1146, 1146 before the subject', async () => {
    // the target's own encounter: 1127, although the period is wrong too
    const target = await finalMvtn({ category: 'RESTORATION' });
    const enc = (await db().query<{ encounter_id: string }>('SELECT encounter_id FROM compositions WHERE id = $1', [target])).rows[0]!
      .encounter_id;
    await expectFailed(
      await linkBody('appends', target, { encounterId: enc, category: 'RESTORATION', period: TARGET }),
      1127,
      'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS',
    );
    // a PRELIMINARY NEWBORN one: not FINAL answers first
    const prelim = await fixture({ status: 'PRELIMINARY', type: 'NEWBORN', category: 'LIVE_BIRTH' });
    await expectFailed(
      await linkBody('appends', prelim, { period: EXTENSION }),
      1160,
      'INVALID_REPLACEMENT_ARGUMENT',
      MESSAGES.appendsNeedsFinal('PRELIMINARY'),
    );
    // a FINAL NEWBORN one of another subject: the type answers first
    const newborn = await fixture({ status: 'FINAL', type: 'NEWBORN', category: 'LIVE_BIRTH', subject: w.motherId });
    await expectFailed(
      await linkBody('appends', newborn, { period: EXTENSION }),
      1146,
      'CANT_REPLACE_DIFFERENT_TYPE',
      MESSAGES.differentType('NEWBORN', 'TEMP_DISABILITY'),
    );
  });

  test('create checks in order: subject before category, category before 1153, 1153 before the window, the window before the period', async () => {
    const otherSubject = await fixture({ status: 'FINAL', subject: w.motherId, category: 'COVID19' });
    await expectFailed(
      await linkBody('appends', otherSubject, { period: EXTENSION }),
      null,
      'APPENDS_DIFFERENT_SUBJECT',
      MESSAGES.appendsDifferentSubject,
    );
    // another category, and already appended (a link signed before chains: the target stayed FINAL)
    const appended = await fixture({ status: 'FINAL', category: 'COVID19' });
    await linkFixture(await fixture({ status: 'FINAL', category: 'COVID19' }), 'appends', appended);
    await expectFailed(
      await linkBody('appends', appended, { period: EXTENSION }),
      null,
      'APPENDS_DIFFERENT_CATEGORY',
      MESSAGES.appendsDifferentCategory('COVID19', 'SICKNESS'),
    );
    // the same, of the right category and long ended: 1153 first
    const old = period(day(-40), day(-30));
    const oldAppended = await fixture({ status: 'FINAL', period: old });
    await linkFixture(await fixture({ status: 'FINAL' }), 'APPENDS', oldAppended);
    await expectFailed(await linkBody('appends', oldAppended, { period: TARGET }), 1153, 'CANT_AMEND_IS_APPENDED', MESSAGES.chainNotLast);
    // long ended, and a period that is neither: the window first
    const oldTarget = await fixture({ status: 'FINAL', period: old });
    await expectFailed(
      await linkBody('appends', oldTarget, { period: TARGET }),
      null,
      'APPENDS_FOR_OUTDATED_COMPOSITION',
      MESSAGES.appendsTooLate(day(-30), 7),
    );
    // in the window, a period that neither extends nor reduces
    const t = await fixture({ status: 'FINAL' });
    for (const p of [period(day(4), day(6)), period(day(-2), day(0)), period(day(-3), day(2)), period(day(-3), day(5))]) {
      await expectFailed(
        await linkBody('appends', t, { period: p }),
        null,
        'APPENDS_INVALID_PERIOD',
        MESSAGES.appendsPeriod(day(3), day(-3), day(2)),
      );
    }
    // a period that is neither, of a target ERLN has not registered: the period first
    const unregistered = await fixture({ status: 'FINAL' });
    await expectFailed(
      await linkBody('appends', unregistered, { period: period(day(4), day(6)) }),
      null,
      'APPENDS_INVALID_PERIOD',
      MESSAGES.appendsPeriod(day(3), day(-3), day(2)),
    );
    // … then ERLN: a continuation names the target's SL number
    await expectFailed(
      await linkBody('appends', unregistered, { period: EXTENSION }),
      null,
      'APPENDS_TARGET_NOT_IN_ERLN',
      MESSAGES.appendsNotInErln,
    );
    // the last day of the window still passes
    const lastDay = await registered(await fixture({ status: 'FINAL', period: period(day(-10), day(-7)) }));
    const ok = await createComposition(mis, await linkBody('appends', lastDay, { period: period(day(-6), day(-1)) }));
    assert.equal(ok.job.body.data.status, 'DONE', ok.job.text);
  });

  test('the person on leave: subject before focus, focus before category (a care МВТН continued for another carer)', async () => {
    const care = await registered(await fixture({ status: 'FINAL', category: 'FAMILY_CARE' }));
    await expectFailed(
      await linkBody('appends', care, { period: EXTENSION, category: 'PARENTAL_CARE', focus: { type: 'person', id: w.motherId } }),
      null,
      'APPENDS_DIFFERENT_FOCUS',
      MESSAGES.appendsDifferentFocus,
    );
    await expectFailed(
      await linkBody('appends', care, {
        period: EXTENSION,
        category: 'FAMILY_CARE',
        subject: { type: 'person', id: w.motherId },
        focus: { type: 'person', id: w.motherId },
      }),
      null,
      'APPENDS_DIFFERENT_SUBJECT',
      MESSAGES.appendsDifferentSubject,
    );
  });

  test('a link continued already (AMENDED) is not the last of its chain: 1153, not 1160 for its status', async () => {
    const target = await finalMvtn({ category: 'PROSTHETIC' });
    await linked(await linkBody('appends', target, { period: EXTENSION, category: 'PROSTHETIC' }));
    assert.equal((await state(target)).status, 'AMENDED');
    await expectFailed(
      await linkBody('appends', target, { period: EXTENSION, category: 'PROSTHETIC' }),
      1153,
      'CANT_AMEND_IS_APPENDED',
      MESSAGES.chainNotLast,
    );
  });
});

describe('RC_6 refinement (a person\'s "replaces" for a preperson\'s FINAL МВТН)', () => {
  test("end to end: the preperson's one AMENDED, the new one FINAL and sent to ERLN as new (REQUEST_TYPE 1)", async () => {
    const target = await finalMvtn({ subject: { type: 'preperson', id: w.prepersonId } });
    assert.equal(await slOf(target), null, 'no ERLN record for a preperson');
    const link = await linked(await linkBody('replaces', target, { period: TARGET }));
    assert.deepEqual(
      [(await state(target)).status, (await state(target)).amended_from_status, (await state(link.id)).status],
      ['AMENDED', 'FINAL', 'FINAL'],
    );
    await slOf(link.id);
    const rec = await simRecord(link.id);
    assert.deepEqual([rec?.request_type, rec?.previous_sl_num, rec?.person_id], [1, null, w.personId]);
  });

  test('1160 for a "replaces" that is neither a refinement nor a replacement; 1146 before 1153 for a refinement', async () => {
    const personsFinal = await finalMvtn({ category: 'TEMP_TRANSFER' });
    await expectFailed(
      await linkBody('replaces', personsFinal, { period: TARGET }),
      1160,
      'INVALID_REPLACEMENT_ARGUMENT',
      MESSAGES.replacesNeedsRefinement,
    );
    const newborn = await fixture({ status: 'FINAL', type: 'NEWBORN', category: 'LIVE_BIRTH', subject: w.prepersonId });
    await linkFixture(await fixture({ status: 'FINAL', subject: w.prepersonId }), 'replaces', newborn);
    await expectFailed(await linkBody('replaces', newborn, { period: TARGET }), 1146, 'CANT_REPLACE_DIFFERENT_TYPE');
    const replaced = await fixture({ status: 'FINAL', subject: w.prepersonId });
    await linkFixture(await fixture({ status: 'FINAL' }), 'replaces', replaced);
    await expectFailed(await linkBody('replaces', replaced, { period: TARGET }), 1153, 'CANT_AMEND_IS_APPENDED', MESSAGES.chainNotLast);
  });
});

describe('RC_7 replacement (relatesTo "replaces" an ENTERED_IN_ERROR МВТН)', () => {
  test('end to end: cancel → replacement → sign: the cancelled one AMENDED (from ENTERED_IN_ERROR), the new one FINAL, a new ERLN record (REQUEST_TYPE 1)', async () => {
    const target = await finalMvtn({ category: 'PARENTAL_CARE', focus: { type: 'person', id: w.personId } });
    const targetSl = await slOf(target);
    await cancel(target, 'INCORRECT_CATEGORY');
    await erlnSettled(target);
    assert.equal((await simRecord(target))?.status, 'cancelled');
    const link = await linked(await linkBody('REPLACES', target, { period: TARGET, category: 'FAMILY_CARE' }));
    const t = await state(target);
    assert.deepEqual([t.status, t.amended_from_status, (await state(link.id)).status], ['AMENDED', 'ENTERED_IN_ERROR', 'FINAL']);
    await slOf(link.id);
    const rec = await simRecord(link.id);
    assert.deepEqual([rec?.request_type, rec?.previous_sl_num], [1, null]);
    assert.notEqual(rec?.sl_num, targetSl);
    assert.equal((await simRecord(target))?.status, 'cancelled', 'the replaced record stays cancelled');
  });

  test('create checks in order: 1146 before 1153, 1153 before the reason, the reason before the window, then the window', async () => {
    const allowed = 'INCORRECT_CATEGORY,INCORRECT_DISABILITY_PERIOD,INCORRECT_INOXICATION,INCORRECT_PATIENT,INCORRECT_TRITMENT_VIOLATION';
    // an МВН cancelled with a reason that allows nothing, already replaced
    const newborn = await cancelledFixture('TYPO', 400, 'NEWBORN');
    await linkFixture(await fixture({ status: 'FINAL' }), 'replaces', newborn);
    await expectFailed(
      await linkBody('replaces', newborn, { period: TARGET }),
      1146,
      'CANT_REPLACE_DIFFERENT_TYPE',
      MESSAGES.differentType('NEWBORN', 'TEMP_DISABILITY'),
    );
    const replaced = await cancelledFixture('INCORRECT_PATIENT', 400);
    await linkFixture(await fixture({ status: 'FINAL' }), 'replaces', replaced);
    await expectFailed(await linkBody('replaces', replaced, { period: TARGET }), 1153, 'CANT_AMEND_IS_APPENDED');
    const wrongReason = await cancelledFixture('INCORRECT_OTHER', 400);
    await expectFailed(
      await linkBody('replaces', wrongReason, { period: TARGET }),
      null,
      'REPLACEMENT_CANCELLATION_REASON_NOT_ALLOWED',
      MESSAGES.replacementReason('INCORRECT_OTHER', allowed.split(',')),
    );
    const tooOld = await cancelledFixture('INCORRECT_PATIENT', 366);
    await expectFailed(
      await linkBody('replaces', tooOld, { period: TARGET }),
      null,
      'REPLACEMENT_FOR_OUTDATED_CANCELLATION',
      MESSAGES.replacementTooLate(365),
    );
    const inTime = await cancelledFixture('INCORRECT_PATIENT', 364);
    const ok = await createComposition(mis, await linkBody('replaces', inTime, { period: TARGET }));
    assert.equal(ok.job.body.data.status, 'DONE', ok.job.text);
  });

  test('a NEWBORN relatesTo is 1181 with the switch on as well (the МВН replacement is not built)', async () => {
    const target = await fixture({ status: 'FINAL', type: 'NEWBORN', category: 'LIVE_BIRTH', subject: w.prepersonId });
    const body = await linkBody('replaces', target, {
      type: 'NEWBORN',
      category: 'LIVE_BIRTH',
      subject: { type: 'preperson', id: w.prepersonId },
      focus: { type: 'person', id: w.motherId },
      end: null,
    });
    await expectFailed(body, 1181, 'REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', MESSAGES.newbornReplacementNotBuilt);
  });
});

describe('sign re-checks the target under its lock', () => {
  test('competing links: the second RC_5 sign fails 1153, the second RC_6 sign 1153, the second RC_7 sign 1148; nothing changes', async () => {
    const appendsTarget = await finalMvtn({ category: 'PREGNANCY' });
    const a1 = await createDone(mis, await linkBody('appends', appendsTarget, { period: EXTENSION, category: 'PREGNANCY' }));
    const a2 = await createDone(mis, await linkBody('appends', appendsTarget, { period: REDUCTION, category: 'PREGNANCY' }));
    assert.equal((await sign(a1.id, a1.document)).status, 'DONE');
    const lost5 = await sign(a2.id, a2.document);
    assert.deepEqual(
      [lost5.status, lost5.error.code, lost5.error.type, lost5.error.message],
      ['FAILED', 1153, 'CANT_AMEND_IS_APPENDED', MESSAGES.chainNotLast],
    );
    assert.equal((await state(a2.id)).status, 'PRELIMINARY');

    const prepersons = await finalMvtn({
      subject: { type: 'preperson', id: w.prepersonId },
      category: 'CHILD_CARE',
      focus: { type: 'person', id: w.motherId },
    });
    const r1 = await createDone(
      mis,
      await linkBody('replaces', prepersons, { period: TARGET, category: 'CHILD_CARE', focus: { type: 'person', id: w.motherId } }),
    );
    const r2 = await createDone(
      mis,
      await linkBody('replaces', prepersons, { period: TARGET, category: 'CHILD_CARE', focus: { type: 'person', id: w.motherId } }),
    );
    assert.equal((await sign(r1.id, r1.document)).status, 'DONE');
    const lost6 = await sign(r2.id, r2.document);
    assert.deepEqual([lost6.status, lost6.error.code], ['FAILED', 1153]);

    const cancelled = await cancelledFixture('INCORRECT_PATIENT');
    const c1 = await createDone(mis, await linkBody('replaces', cancelled, { period: TARGET }));
    const c2 = await createDone(mis, await linkBody('replaces', cancelled, { period: TARGET }));
    assert.equal((await sign(c1.id, c1.document)).status, 'DONE');
    const lost7 = await sign(c2.id, c2.document);
    assert.deepEqual(
      [lost7.status, lost7.error.code, lost7.error.type, lost7.error.message],
      ['FAILED', 1148, 'CANT_REPLACE_NOT_CANCELLED', MESSAGES.replacedNotCancelled('AMENDED')],
    );
    assert.deepEqual([(await state(cancelled)).status, (await state(c2.id)).status], ['AMENDED', 'PRELIMINARY']);
  });

  test('two links of one target signed at the same time: one DONE, the other FAILED 1153; the target AMENDED once', async () => {
    const target = await finalMvtn({ category: 'RESTORATION' });
    const links = await Promise.all(
      [EXTENSION, REDUCTION].map(async (p) => createDone(mis, await linkBody('appends', target, { period: p, category: 'RESTORATION' }))),
    );
    const jobs = await Promise.all(links.map((l) => sign(l.id, l.document)));
    assert.deepEqual(jobs.map((j) => j.status).sort(), ['DONE', 'FAILED']);
    assert.equal(jobs.find((j) => j.status === 'FAILED').error.code, 1153);
    const winner = links[jobs.findIndex((j) => j.status === 'DONE')]!;
    const found = await mis.call('GET', `/api/patients/${w.personId}/composition?relatesTo=${target}&status=FINAL`);
    assert.deepEqual(
      found.body.data.map((d: { identifier: { value: string } }) => d.identifier.value),
      [winner.id],
    );
    assert.equal((await state(target)).status, 'AMENDED');
  });

  test('sign: 1127 is checked before the chain (two links on one encounter: the second fails 1127, not 1153)', async () => {
    const target = await finalMvtn({ category: 'PROSTHETIC' });
    const enc = await encounter();
    const l1 = await createDone(mis, await linkBody('appends', target, { period: EXTENSION, category: 'PROSTHETIC', encounterId: enc }));
    const l2 = await createDone(mis, await linkBody('appends', target, { period: REDUCTION, category: 'PROSTHETIC', encounterId: enc }));
    assert.equal((await sign(l1.id, l1.document)).status, 'DONE');
    const s = await sign(l2.id, l2.document);
    assert.deepEqual([s.status, s.error.code], ['FAILED', 1127]);
  });

  test('a target gone between create and sign: 1160 at sign', async () => {
    const target = await registered(await fixture({ status: 'FINAL', category: 'FAMILY_CARE', period: TARGET }));
    const link = await createDone(mis, await linkBody('appends', target, { period: EXTENSION, category: 'FAMILY_CARE' }));
    await db().query('DELETE FROM composition_integration_tasks WHERE composition_id = $1', [target]);
    await db().query('UPDATE compositions SET id = $2, job_id = $3 WHERE id = $1', [target, randomUUID(), randomUUID()]);
    const s = await sign(link.id, link.document);
    assert.deepEqual([s.status, s.error.code, s.error.message], ['FAILED', 1160, MESSAGES.relatedMissing]);
  });

  test('a target cancelled between create and sign: 1160 at sign (after 1153, which has nothing to say)', async () => {
    const target = await finalMvtn({ category: 'TEMP_TRANSFER' });
    const link = await createDone(mis, await linkBody('appends', target, { period: EXTENSION, category: 'TEMP_TRANSFER' }));
    await cancel(target);
    const s = await sign(link.id, link.document);
    assert.deepEqual(
      [s.status, s.error.code, s.error.type, s.error.message],
      ['FAILED', 1160, 'INVALID_REPLACEMENT_ARGUMENT', MESSAGES.relatedNoLongerFinal('ENTERED_IN_ERROR')],
    );
  });
});

describe('cancel of a link gives its target its status back', () => {
  test('RC_5 and RC_6 link → target FINAL again (and it can be appended again); RC_7 link → target ENTERED_IN_ERROR again', async () => {
    const t5 = await finalMvtn({ category: 'COVID19' });
    const l5 = await linked(await linkBody('appends', t5, { period: EXTENSION, category: 'COVID19' }));
    await cancel(l5.id);
    assert.deepEqual(
      [(await state(t5)).status, (await state(t5)).amended_from_status, (await state(l5.id)).status],
      ['FINAL', null, 'ENTERED_IN_ERROR'],
    );
    assert.equal(JSON.parse((await state(t5)).document).status, 'FINAL');
    await linked(await linkBody('appends', t5, { period: REDUCTION, category: 'COVID19' }));
    assert.equal((await state(t5)).status, 'AMENDED');

    const t6 = await finalMvtn({ subject: { type: 'preperson', id: w.prepersonId }, category: 'SICKNESS' });
    const l6 = await linked(await linkBody('replaces', t6, { period: TARGET, category: 'SICKNESS' }));
    await cancel(l6.id);
    assert.deepEqual([(await state(t6)).status, (await state(l6.id)).status], ['FINAL', 'ENTERED_IN_ERROR']);

    const t7 = await cancelledFixture('INCORRECT_DISABILITY_PERIOD');
    const l7 = await linked(await linkBody('replaces', t7, { period: TARGET, category: 'SICKNESS' }));
    assert.equal((await state(t7)).status, 'AMENDED');
    await cancel(l7.id);
    assert.deepEqual([(await state(t7)).status, (await state(t7)).amended_from_status], ['ENTERED_IN_ERROR', null]);
    assert.equal(JSON.parse((await state(t7)).document).status, 'ENTERED_IN_ERROR');
  });

  test('a target that cannot be FINAL again (another FINAL of its kind on its encounter since): the cancel fails 1127, nothing changes', async () => {
    const target = await finalMvtn({ category: 'QUARANTINE' });
    const enc = (await db().query<{ encounter_id: string }>('SELECT encounter_id FROM compositions WHERE id = $1', [target])).rows[0]!
      .encounter_id;
    const link = await linked(await linkBody('appends', target, { period: EXTENSION, category: 'QUARANTINE' }));
    // the target is AMENDED: a new QUARANTINE one on its encounter may become FINAL
    await linked(createBody(w, { category: 'QUARANTINE', encounterId: enc, ...TARGET }));
    await erlnSettled(link.id);
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const content = {
      id: link.id,
      reason: { coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_OTHER' }], text: 'x' },
    };
    const r = await mis.call('PATCH', `/api/patients/composition/${link.id}/cancel`, {
      body: { data: await signCms(signer, JSON.stringify(content)) },
    });
    const job = (await pollJob(mis, r.body.data.id)).body.data;
    assert.deepEqual(
      [job.status, job.error.code, job.error.type, job.error.message],
      ['FAILED', 1127, 'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS', MESSAGES.finalExists(enc, 'TEMP_DISABILITY', 'QUARANTINE')],
    );
    assert.deepEqual([(await state(link.id)).status, (await state(target)).status], ['FINAL', 'AMENDED']);
  });
});

describe('the replacement switch off', () => {
  let off: TestServer;
  let offMis: Mis;
  let offWorld: World;
  before(async () => {
    off = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca', EMAL_COMPOSITION_FLOW_REPLACE_ENABLED: 'FALSE' } });
    offWorld = await seedWorld(off);
    offMis = await misOf(off, offWorld);
  });
  after(() => off?.close());

  test('1181 for the replacement of a cancelled МВТН', async () => {
    const enc = async () => {
      const id = randomUUID();
      await off.fixtures({
        encounters: [
          {
            id,
            person_id: offWorld.personId,
            episode_id: offWorld.episodeId,
            legal_entity_id: offWorld.legalEntityId,
            employee_id: offWorld.authorId,
          },
        ],
      });
      return id;
    };
    const cancelled = randomUUID();
    await off.fixtures({
      compositions: [
        {
          id: cancelled,
          status: 'ENTERED_IN_ERROR',
          type: 'TEMP_DISABILITY',
          category: 'SICKNESS',
          subject_id: offWorld.personId,
          encounter_id: await enc(),
          author_id: offWorld.authorId,
          legal_entity_id: offWorld.legalEntityId,
          period: TARGET,
        },
      ],
    });
    const body = { ...createBody(offWorld, { encounterId: await enc(), ...TARGET }), relatesTo: relatesTo('replaces', cancelled) };
    await expectFailed(body, 1181, 'REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', MESSAGES.cancelledReplacement, offMis);
  });

  test('1181 for a NEWBORN relatesTo, "not enabled"', async () => {
    const newborn = {
      ...createBody(offWorld, {
        type: 'NEWBORN',
        category: 'LIVE_BIRTH',
        subject: { type: 'preperson', id: offWorld.prepersonId },
        focus: { type: 'person', id: offWorld.motherId },
        encounterId: offWorld.prepersonEncounterId,
        end: null,
      }),
      relatesTo: relatesTo('replaces', randomUUID()),
    };
    // the target must exist (422 otherwise): any composition will do, 1181 answers first
    const { id } = await createDone(
      offMis,
      createBody(offWorld, {
        category: 'CHILD_CARE',
        subject: { type: 'preperson', id: offWorld.prepersonId },
        focus: { type: 'person', id: offWorld.motherId },
        encounterId: offWorld.prepersonEncounterId,
      }),
    );
    newborn.relatesTo = relatesTo('replaces', id);
    await expectFailed(newborn, 1181, 'REPLACEMENT_FLOW_NOT_IMPLEMENTED_YET', MESSAGES.newbornReplacement, offMis);
  });
});

/** The GET path of a composition (the job link create gave). */
async function hrefOf(id: string): Promise<string> {
  const r = await db().query<{ subject_id: string; encounter_id: string }>(
    'SELECT subject_id, encounter_id FROM compositions WHERE id = $1',
    [id],
  );
  return `/api/patients/${r.rows[0]!.subject_id}/encounter/${r.rows[0]!.encounter_id}/composition/${id}`;
}
