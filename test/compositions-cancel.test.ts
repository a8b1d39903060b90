/**
 * cancelComposition over real HTTP: FINAL → ENTERED_IN_ERROR; every check of the job in the documented
 * order with its task code (each test shows a check answering before its neighbour); the processing
 * (a replacement's target back to FINAL, the SMS, CANCEL_ERLN_RECORD); the 404 of the synchronous check.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, pollJob, createDone, withSlowJobs, type World } from './support/compositions.ts';
import { signedComposition } from './support/erln.ts';
import { waitFor } from './support/harness.ts';
import { cancelTimeoutDays } from '../src/compositions/model.ts';
import { ConfigError, loadConfig } from '../src/platform/config.ts';
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
    assert.deepEqual(j.error, {
      code: 1003,
      type: 'CANT_CANCEL_NONFINAL_COMPOSITION',
      message: "Can't cancel composition in non-FINAL state",
    });
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
    assert.equal(otherId.error.type, 'INVALID_IDENTIFIER_IN_PAYLOAD');
    assert.equal(otherId.error.code, 1026);
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
    assert.equal(again.error.type, 'CANT_CANCEL_NONFINAL_COMPOSITION');
  });
  test('sync: unknown composition → 404', async () => {
    const r = await mis.call('PATCH', `/api/patients/composition/${crypto.randomUUID()}/cancel`, { body: { data: 'x' } });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.message, 'The object of the Composition was not found');
  });
});

const TD = 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY';
const NB = 'eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN';

describe('cancel: the checks of the job in the documented order', () => {
  /** text null: a reason without its explanation */
  const reason = (code = 'INCORRECT_PATIENT', system = TD, text: string | null = 'Wrong patient') => ({
    coding: [{ system, code }],
    ...(text === null ? {} : { text }),
  });
  const cancelJob = async (id: string, content: unknown, signerTaxId = w.authorTaxId) => {
    const signer = await makeSigner({ taxId: signerTaxId });
    const r = await mis.call('PATCH', `/api/patients/composition/${id}/cancel`, {
      body: { data: await signCms(signer, JSON.stringify(content)) },
    });
    assert.equal(r.status, 202, r.text);
    return (await pollJob(mis, r.body.data.id)).body.data;
  };
  /** A composition in any state on an encounter of its own (the fixture kind): no create → sign round trips. */
  const fixture = async (o: { status?: string; type?: string; category?: string; subjectId?: string; signedAt?: string } = {}) => {
    const subjectId = o.subjectId ?? w.personId;
    const encounterId = crypto.randomUUID();
    const id = crypto.randomUUID();
    await server.fixtures({
      encounters: [{ id: encounterId, person_id: subjectId, legal_entity_id: w.legalEntityId, employee_id: w.authorId }],
      compositions: [
        {
          id,
          status: o.status ?? 'FINAL',
          type: o.type ?? 'TEMP_DISABILITY',
          category: o.category ?? 'SICKNESS',
          subject_id: subjectId,
          encounter_id: encounterId,
          author_id: w.authorId,
          legal_entity_id: w.legalEntityId,
          ...(o.signedAt ? { signed_at: o.signedAt } : {}),
        },
      ],
    });
    return id;
  };
  const db = () => server.runtime.platform.db;
  /** An ERLN task that no worker runs (no queue job): PENDING as long as the test wants. */
  const pendingTask = (compositionId: string, attempts: number) =>
    db().query(`INSERT INTO composition_integration_tasks (id, composition_id, type, attempts) VALUES ($1, $2, 'CREATE_ERLN_RECORD', $3)`, [
      crypto.randomUUID(),
      compositionId,
      attempts,
    ]);
  const daysAgo = (n: number) => new Date(Date.now() - n * 86400_000).toISOString();
  const expectError = (job: Record<string, any>, code: number | null, type: string) => {
    assert.equal(job.status, 'FAILED', JSON.stringify(job));
    assert.deepEqual([job.error.code, job.error.type], [code, type], JSON.stringify(job.error));
  };

  test('the signed content and its signer are checked first: SIGNER_MISMATCH before 1026 and 1003', async () => {
    const id = await fixture({ status: 'PRELIMINARY' });
    expectError(await cancelJob(id, { id: crypto.randomUUID(), reason: reason() }, '1111111111'), 422, 'SIGNER_MISMATCH');
  });

  test('1000 before 1026: the composition is no longer the caller’s when the job runs', async () => {
    const id = await fixture();
    const job = await withSlowJobs(1500, async () => {
      const signer = await makeSigner({ taxId: w.authorTaxId });
      const r = await mis.call('PATCH', `/api/patients/composition/${id}/cancel`, {
        body: { data: await signCms(signer, JSON.stringify({ id: crypto.randomUUID(), reason: reason() })) },
      });
      assert.equal(r.status, 202, r.text);
      await db().query('UPDATE compositions SET custodian_id = $2 WHERE id = $1', [id, w.otherLegalEntityId]);
      return (await pollJob(mis, r.body.data.id)).body.data;
    });
    assert.deepEqual(job.error, { code: 1000, type: 'COMPOSITION_NOT_FOUND', message: 'The object of the Composition was not found' });
  });

  test('1026 before 1003; 1003 before 1130', async () => {
    const draft = await fixture({ status: 'PRELIMINARY' });
    const other = await cancelJob(draft, { id: crypto.randomUUID(), reason: reason() });
    expectError(other, 1026, 'INVALID_IDENTIFIER_IN_PAYLOAD');
    assert.match(other.error.message, /The signed content cancels composition .* not /);
    const cancelled = await fixture({ status: 'ENTERED_IN_ERROR' });
    await pendingTask(cancelled, 0);
    expectError(await cancelJob(cancelled, { id: cancelled, reason: reason() }), 1003, 'CANT_CANCEL_NONFINAL_COMPOSITION');
  });

  test('1130 (not sent yet) and 1131 (sent, no answer) before CANCELLATION_TEXT_NOT_PROVIDED; not for a preperson’s МВТН', async () => {
    const notSent = await fixture();
    await pendingTask(notSent, 0);
    const pending = await cancelJob(notSent, { id: notSent, reason: reason('INCORRECT_PATIENT', TD, null) });
    expectError(pending, 1130, 'CANCELLATION_NOT_ALLOWED_ERLN_CALL_PENDING');
    const sent = await fixture();
    await pendingTask(sent, 1);
    expectError(
      await cancelJob(sent, { id: sent, reason: reason('INCORRECT_PATIENT', TD, null) }),
      1131,
      'CANCELLATION_NOT_ALLOWED_ERLN_CALL_IN_PROGRESS',
    );
    const ofPreperson = await fixture({ subjectId: w.prepersonId });
    await pendingTask(ofPreperson, 1);
    const noText = await cancelJob(ofPreperson, { id: ofPreperson, reason: reason('INCORRECT_PATIENT', TD, null) });
    assert.deepEqual(noText.error, {
      code: null,
      type: 'CANCELLATION_TEXT_NOT_PROVIDED',
      message: 'The cancellation reason needs its explanation (reason.text)',
    });
  });

  test('CANCELLATION_TEXT_NOT_PROVIDED before 1004; 1004 before 1005; 1005 before 1006', async () => {
    const id = await fixture({ signedAt: daysAgo(8) });
    expectError(await cancelJob(id, { id, reason: reason('NO_SUCH', TD, '  ') }), null, 'CANCELLATION_TEXT_NOT_PROVIDED');
    expectError(await cancelJob(id, { id, reason: reason('NO_SUCH') }), 1004, 'INVALID_CANCELLATION_CODING');
    const tooOld = await cancelJob(id, { id, reason: reason() });
    assert.deepEqual(tooOld.error, {
      code: 1005,
      type: 'CANCELLATION_FOR_OUTDATED_COMPOSITION',
      message: "Can't cancel composition: too old",
    });
    const oldWithTask = await fixture({ subjectId: w.prepersonId, signedAt: daysAgo(8) });
    await pendingTask(oldWithTask, 1);
    expectError(await cancelJob(oldWithTask, { id: oldWithTask, reason: reason() }), 1005, 'CANCELLATION_FOR_OUTDATED_COMPOSITION');
    const running = await fixture({ subjectId: w.prepersonId });
    await pendingTask(running, 1);
    assert.deepEqual((await cancelJob(running, { id: running, reason: reason() })).error, {
      code: 1006,
      type: 'CANCELLATION_FOR_RUNNING_TASK',
      message: "Can't cancel composition: integration tasks are already running",
    });
  });

  test('the reason dictionaries are the published ones', async () => {
    for (const code of [
      'INCORRECT_CATEGORY',
      'INCORRECT_DISABILITY_PERIOD',
      'INCORRECT_INOXICATION',
      'INCORRECT_OTHER',
      'INCORRECT_TRITMENT_VIOLATION',
    ]) {
      const id = await fixture();
      assert.equal((await cancelJob(id, { id, reason: reason(code) })).status, 'DONE', code);
    }
    const other = await fixture();
    expectError(await cancelJob(other, { id: other, reason: reason('OTHER') }), 1004, 'INVALID_CANCELLATION_CODING');
    const newborn = await fixture({ type: 'NEWBORN', category: 'LIVE_BIRTH', subjectId: w.motherId });
    expectError(await cancelJob(newborn, { id: newborn, reason: reason('INCORRECT_DATA', NB) }), 1004, 'INVALID_CANCELLATION_CODING');
    assert.equal((await cancelJob(newborn, { id: newborn, reason: reason('TYPO', NB) })).status, 'DONE');
  });

  test('EMAL_FILTER_CANCEL_TIMEOUT_* are configuration ("max-duration-days:N")', () => {
    assert.equal(cancelTimeoutDays(loadConfig({}), 'TEMP_DISABILITY'), 7);
    assert.equal(cancelTimeoutDays(loadConfig({}), 'NEWBORN'), 180);
    assert.equal(cancelTimeoutDays(loadConfig({ EMAL_FILTER_CANCEL_TIMEOUT_DISABILITY: 'max-duration-days:30' }), 'TEMP_DISABILITY'), 30);
    assert.throws(() => loadConfig({ EMAL_FILTER_CANCEL_TIMEOUT_NEWBORN: '180' }), ConfigError);
  });
});

describe('cancel: what happens after the checks', () => {
  const reason = { coding: [{ system: TD, code: 'INCORRECT_PATIENT' }], text: 'Wrong patient' };
  const cancelJob = async (id: string) => {
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const r = await mis.call('PATCH', `/api/patients/composition/${id}/cancel`, {
      body: { data: await signCms(signer, JSON.stringify({ id, reason })) },
    });
    assert.equal(r.status, 202, r.text);
    return (await pollJob(mis, r.body.data.id)).body.data;
  };
  const db = () => server.runtime.platform.db;
  const status = async (id: string) =>
    (await db().query<{ status: string }>('SELECT status FROM compositions WHERE id = $1', [id])).rows[0]?.status;
  /** two fixture compositions, the second replacing the first */
  const replacementPair = async (targetStatus: string) => {
    const target = crypto.randomUUID();
    const replacement = crypto.randomUUID();
    const enc = () => ({ id: crypto.randomUUID(), person_id: w.personId, legal_entity_id: w.legalEntityId, employee_id: w.authorId });
    const [e1, e2] = [enc(), enc()];
    const item = (id: string, encounter: string, st: string) => ({
      id,
      status: st,
      type: 'TEMP_DISABILITY',
      category: 'SICKNESS',
      subject_id: w.personId,
      encounter_id: encounter,
      author_id: w.authorId,
      legal_entity_id: w.legalEntityId,
    });
    await server.fixtures({ encounters: [e1, e2], compositions: [item(target, e1.id, targetStatus), item(replacement, e2.id, 'FINAL')] });
    const r = await db().query<{ document: string }>('SELECT document FROM compositions WHERE id = $1', [replacement]);
    const doc = {
      ...JSON.parse(r.rows[0]!.document),
      relatesTo: { code: 'REPLACES', targetIdentifier: { type: { coding: [] }, value: target } },
    };
    await db().query('UPDATE compositions SET document = $2 WHERE id = $1', [replacement, JSON.stringify(doc)]);
    return { target, replacement };
  };

  test('cancelling a replacement gives its target back: AMENDED → FINAL; 1136 when the target is not AMENDED, 1137 when it is gone', async () => {
    const ok = await replacementPair('AMENDED');
    assert.equal((await cancelJob(ok.replacement)).status, 'DONE');
    assert.deepEqual([await status(ok.replacement), await status(ok.target)], ['ENTERED_IN_ERROR', 'FINAL']);
    const final = await replacementPair('FINAL');
    const notAmended = await cancelJob(final.replacement);
    assert.deepEqual([notAmended.error.code, notAmended.error.type], [1136, 'CANT_CANCEL_NONAMENDED_COMPOSITION']);
    assert.equal(await status(final.replacement), 'FINAL', 'nothing changed');
    const gone = await replacementPair('AMENDED');
    await db().query('UPDATE compositions SET id = $2, job_id = $3 WHERE id = $1', [gone.target, crypto.randomUUID(), crypto.randomUUID()]);
    const missing = await cancelJob(gone.replacement);
    assert.deepEqual([missing.error.code, missing.error.type], [1137, 'CANT_CANCEL_NOT_FOUND']);
  });

  test('an SMS to the patient when INFORM_WITH names an active method of theirs; a bad method skips the SMS, not the cancel', async () => {
    const withMethod = await createDone(
      mis,
      createBody(w, { category: 'PROSTHETIC', extension: [{ valueCode: 'INFORM_WITH', valueUuid: w.authMethodId }] }),
    );
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const s = await mis.call('PATCH', `/api/patients/composition/${withMethod.id}/sign`, {
      body: { data: await signCms(signer, JSON.stringify(withMethod.document)) },
    });
    assert.equal((await pollJob(mis, s.body.data.id)).body.data.status, 'DONE');
    // the sign's ERLN hand-off must have answered before a cancel is allowed (1130 / 1131)
    await waitFor(
      async () =>
        (
          await db().query(`SELECT 1 FROM composition_integration_tasks WHERE composition_id = $1 AND task_status <> 'PENDING'`, [
            withMethod.id,
          ])
        ).rowCount,
      20_000,
      50,
    );
    assert.equal((await cancelJob(withMethod.id)).status, 'DONE');
    const sms = await server.call('GET', `/admin/sms?entity_id=${withMethod.id}`, { admin: true });
    assert.equal(sms.status, 200, sms.text);
    assert.deepEqual(
      sms.body.data.map((m: any) => [m.phone_number, m.body, m.entity_name]),
      [
        ['+380501112233', `Медичний висновок ${withMethod.document.title} скасовано`, 'composition'],
        // newest first: the sign's first SMS (src/compositions/resend-sms.ts, informOnFinal) came before
        ['+380501112233', `Медичний висновок про тимчасову непрацездатність ${withMethod.document.title} створено`, 'composition'],
      ],
    );
    const badMethod = await (async () => {
      const enc = crypto.randomUUID();
      await server.fixtures({
        encounters: [{ id: enc, person_id: w.personId, legal_entity_id: w.legalEntityId, employee_id: w.authorId }],
      });
      const id = crypto.randomUUID();
      await server.fixtures({
        compositions: [
          {
            id,
            status: 'FINAL',
            type: 'TEMP_DISABILITY',
            category: 'SICKNESS',
            subject_id: w.personId,
            encounter_id: enc,
            author_id: w.authorId,
            legal_entity_id: w.legalEntityId,
          },
        ],
      });
      const r = await db().query<{ document: string }>('SELECT document FROM compositions WHERE id = $1', [id]);
      const doc = { ...JSON.parse(r.rows[0]!.document), extension: [{ valueCode: 'INFORM_WITH', valueUuid: crypto.randomUUID() }] };
      await db().query('UPDATE compositions SET document = $2 WHERE id = $1', [id, JSON.stringify(doc)]);
      return id;
    })();
    assert.equal((await cancelJob(badMethod)).status, 'DONE');
    const none = await server.call('GET', `/admin/sms?entity_id=${badMethod}`, { admin: true });
    assert.deepEqual(none.body.data, []);
  });

  test('a cancelled МВТН that ERLN holds: CANCEL_ERLN_RECORD, and the record is cancelled in ERLN', async () => {
    const c = await signedComposition(server, mis, w, { category: 'FAMILY_CARE', focus: { type: 'person', id: w.personId } });
    const path = `/api/patients/${c.patientId}/composition/${c.id}/episode/${c.episodeId}/encounter/${c.encounterId}/integrationData`;
    await waitFor(
      async () => ((await mis.call('GET', path)).body.data as any[]).every((t) => t.taskStatus !== 'PENDING') || undefined,
      20_000,
      50,
    );
    assert.equal((await cancelJob(c.id)).status, 'DONE');
    const items = await waitFor(
      async () => {
        const data = (await mis.call('GET', path)).body.data as any[];
        return data.length === 2 && data[1].taskStatus !== 'PENDING' ? data : undefined;
      },
      20_000,
      50,
    );
    assert.deepEqual(
      items.map((t) => [t.type, t.integrationStatus]),
      [
        ['CREATE_ERLN_RECORD', 'SUCCESS'],
        ['CANCEL_ERLN_RECORD', 'SUCCESS'],
      ],
    );
    const sim = await server.call('GET', '/admin/erln', { admin: true });
    const record = sim.body.data.records.find((r: any) => r.composition_id === c.id);
    assert.deepEqual([record?.status, record?.cancel_reason], ['cancelled', 'INCORRECT_PATIENT']);
  });
});
