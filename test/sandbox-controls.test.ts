/**
 * The sandbox's controls over real HTTP, on the demo data: reset (back to the demo state or empty, the
 * credentials kept, every table classified), the request journal (redacted, filterable, off when
 * configured so), the SMS inbox's DELETE, faults (SMS gateway, composition jobs, ERLN) and the test
 * signer that makes the sign step work with curl alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ADMIN_KEY, call, startTestServer, waitFor, type CallResult, type TestServer } from './support/harness.ts';
import { demoDraft } from './support/demo.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';
import { ensureSandbox } from '../src/sandbox/demo.ts';
import { ALL_SCOPES } from '../src/platform/scopes.ts';
import { KEPT_TABLES, RESET_TABLES, tablesOfSchema } from '../src/sandbox/sandbox-store.ts';
import { SIGNATURE_VERIFIER } from '../src/platform/signature.ts';

const PHONE = '+380501112233'; // the demo OTP person's phone
const resendPath = `/api/medication_requests/${DEMO.mrOtpId}/actions/resend`;

let server: TestServer;
let demo: (method: string, path: string, body?: unknown) => Promise<CallResult>;
const admin = (method: string, path: string, body?: unknown) => server.call(method, `/admin${path}`, { admin: true, body });
async function reset(body?: unknown) {
  const r = await admin('POST', '/reset', body);
  assert.equal(r.status, 200, r.text);
}

before(async () => {
  server = await startTestServer({
    env: { DEMO_DATA: 'on', REQUEST_JOURNAL: 'on', SIGNATURE_TRUST: 'any-test-ca', SMS_RETRY_DELAY_SECONDS: '1' },
  });
  const creds = server.runtime.sandbox?.demo;
  assert.ok(creds, 'the demo credentials');
  demo = (method, path, body) => call(server.url, method, path, { token: creds.token, apiKey: creds.secret, body });
});
after(() => server.close());

const smsRows = async () =>
  (
    await server.runtime.platform.db.query<{ status: string; tries: number; body: string }>(
      `SELECT status, tries, body FROM sms_outbox WHERE entity_id = $1 ORDER BY inserted_at`,
      [DEMO.mrOtpId],
    )
  ).rows;

/** A PRELIMINARY МВТН of the demo patient on an encounter of its own (test/support/demo.ts). */
const draft = () => demoDraft(server, demo);

describe('POST /admin/reset', () => {
  test('every table of the database is either emptied or kept by a reset (a new table is a decision)', async () => {
    const tables = await tablesOfSchema(server.runtime.platform.db);
    assert.deepEqual(
      tables.filter((t) => !(RESET_TABLES as readonly string[]).includes(t) && !(KEPT_TABLES as readonly string[]).includes(t)),
      [],
    );
    assert.deepEqual(
      [...RESET_TABLES, ...KEPT_TABLES].filter((t) => !tables.includes(t)),
      [],
      'no table listed that does not exist',
    );
  });

  test('back to the demo state: what was added is gone, the demo rows are back, the printed credentials still work', async () => {
    const extra = randomUUID();
    await server.fixtures({ persons: [{ id: extra }] });
    assert.equal((await demo('PATCH', resendPath)).status, 200);
    assert.equal((await smsRows()).length, 1);
    await admin('PUT', '/faults', { sms: { mode: 'slow', delay_ms: 5 }, erln: { mode: 'down' } });

    const r = await admin('POST', '/reset');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data, { demo: true });
    const db = server.runtime.platform.db;
    assert.equal((await db.query('SELECT 1 FROM persons WHERE id = $1', [extra])).rowCount, 0, 'the added person is gone');
    assert.deepEqual(await smsRows(), [], 'the SMS outbox is empty');
    assert.equal((await db.query('SELECT 1 FROM sms_attempts')).rowCount, 0, 'the SMS attempts are gone');
    const faults = await admin('GET', '/faults');
    assert.equal(faults.body.data.sms.mode, 'ok');
    assert.equal(faults.body.data.erln.mode, 'ok');
    // the demo again, with the same token
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`)).status, 200);
    assert.equal((await demo('PATCH', resendPath)).status, 200, 'the SMS timeout window starts afresh');
  });

  test('{demo:false} leaves the sandbox empty; the token is still accepted; a second reset brings the demo back', async () => {
    assert.equal((await admin('POST', '/reset', { demo: false })).status, 200);
    const gone = await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`);
    assert.equal(gone.status, 404, 'authenticated, but the MR is gone');
    const db = server.runtime.platform.db;
    assert.equal(Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM persons')).rows[0].n), 0);
    assert.equal((await admin('POST', '/reset', {})).status, 200);
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`)).status, 200);
  });

  test('a reset body other than {demo: boolean} is a 4xx in the envelope, and nothing is reset', async () => {
    const r = await admin('POST', '/reset', { demo: 'yes' });
    assert.equal(r.status, 422);
    assert.equal(r.body.error.invalid[0].entry, '$.demo');
    const marker = randomUUID();
    await server.fixtures({ persons: [{ id: marker }] });
    for (const body of [[], 'reset', 1, { demo: true, also: 1 }, { demo: null }, { demo: 'x'.repeat(100_000) }]) {
      const bad = await admin('POST', '/reset', body);
      assert.ok(bad.status >= 400 && bad.status < 500, `${JSON.stringify(body).slice(0, 40)} → ${bad.status}`);
      assert.equal(typeof bad.body.error.type, 'string');
    }
    const raw = await fetch(`${server.url}/admin/reset`, {
      method: 'POST',
      headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: '{"demo":',
    });
    assert.equal(raw.status, 422, 'malformed JSON is refused like any other bad body');
    assert.equal((await server.runtime.platform.db.query('SELECT 1 FROM persons WHERE id = $1', [marker])).rowCount, 1);
  });
});

test('a start on a sandbox made by an earlier version gives its printed token the scopes added since', async () => {
  const db = server.runtime.platform.db;
  await db.query(`UPDATE access_tokens SET scopes = '{composition:read}' WHERE client_id = $1`, [DEMO.clientId]);
  await ensureSandbox(server.runtime.platform, { embedded: true });
  const r = await db.query<{ scopes: string[] }>('SELECT scopes FROM access_tokens WHERE client_id = $1', [DEMO.clientId]);
  assert.deepEqual(r.rows[0].scopes, [...ALL_SCOPES]);
});

describe('GET /admin/requests: the request journal', () => {
  test('newest first, with client, status, latency and the ESOZ error type; filterable', async () => {
    await admin('DELETE', '/requests');
    const missing = `/api/medication_requests/${randomUUID()}`;
    assert.equal((await demo('GET', missing)).status, 404);
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`)).status, 200);
    const all = (await admin('GET', '/requests')).body.data;
    assert.deepEqual(
      all.slice(0, 2).map((e: any) => [e.method, e.path, e.status]),
      [
        ['GET', `/api/medication_requests/${DEMO.mrOtpId}`, 200],
        ['GET', missing, 404],
      ],
    );
    const miss = all[1];
    assert.equal(miss.client_id, DEMO.clientId);
    assert.equal(miss.error_type, 'not_found');
    assert.equal(miss.response_body.error.message, 'Not found');
    assert.ok(miss.latency_ms >= 0 && typeof miss.request_id === 'string');
    const only404 = (await admin('GET', '/requests?status=404')).body.data;
    assert.deepEqual(
      only404.map((e: any) => e.path),
      [missing],
    );
    assert.deepEqual(
      (await admin('GET', `/requests?path=${DEMO.mrOtpId}&limit=1`)).body.data.map((e: any) => e.status),
      [200],
    );
    assert.ok(!all.some((e: any) => e.path.startsWith('/admin/requests')), 'the journal leaves itself out');
  });

  test('phone numbers, verification codes, SMS texts and secrets never reach it', async () => {
    await admin('DELETE', '/requests');
    await reset();
    assert.equal((await demo('PATCH', resendPath)).status, 200);
    await waitFor(async () => (await smsRows())[0]?.status === 'SENT');
    const inbox = await admin('GET', `/sms?entity_id=${DEMO.mrOtpId}`);
    const code = /код (\d+)|Код підтвердження: (\d+)/.exec(inbox.body.data[0].body);
    assert.ok(code, inbox.body.data[0].body);
    await admin('POST', '/fixtures', { persons: [{ id: randomUUID(), phones: [{ type: 'MOBILE', number: '+380671234567' }] }] });
    // a phone not in the +380 form (the pattern would miss it): kept out by its key
    await admin('POST', '/fixtures', { persons: [{ id: randomUUID(), phones: [{ type: 'MOBILE', number: '0501234567' }] }] });
    await admin('POST', '/clients', { name: 'Journal client', secret: 'journal-secret-123' });
    const journal = JSON.stringify((await admin('GET', '/requests')).body.data);
    for (const secret of [
      PHONE,
      '+380671234567',
      '0501234567',
      code[1] ?? code[2],
      'journal-secret-123',
      server.runtime.sandbox!.demo!.token,
    ]) {
      assert.ok(!journal.includes(secret!), `the journal shows ${secret}`);
    }
    assert.match(journal, /\[Redacted\]/);
  });
});

describe('DELETE /admin/sms', () => {
  test('empties the inbox (or the messages matching the filters) and says how many', async () => {
    await reset();
    assert.equal((await demo('PATCH', resendPath)).status, 200);
    assert.equal((await admin('DELETE', '/sms?entity_id=nothing')).body.data.deleted, 0);
    assert.equal((await admin('DELETE', '/sms')).body.data.deleted, 1);
    assert.deepEqual((await admin('GET', '/sms')).body.data, []);
  });
});

describe('PUT /admin/faults', () => {
  test('SMS gateway down: the message waits and retries; back up: it is sent', async () => {
    await reset();
    assert.equal((await admin('PUT', '/faults', { sms: { mode: 'down' } })).body.data.sms.mode, 'down');
    assert.equal((await demo('PATCH', resendPath)).status, 200, 'the resend itself succeeds');
    await waitFor(async () => ((await smsRows())[0]?.tries ?? 0) >= 2, 15_000, 100);
    assert.equal((await smsRows())[0].status, 'NEW');
    await admin('PUT', '/faults', { sms: { mode: 'ok' } });
    await waitFor(async () => (await smsRows())[0]?.status === 'SENT', 20_000, 100);
  });

  test('SMS fail_next: the next N sends fail once each, then go out', async () => {
    await reset();
    await admin('PUT', '/faults', { sms: { fail_next: 1 } });
    assert.equal((await demo('PATCH', resendPath)).status, 200);
    const sent = await waitFor(async () => (await smsRows()).find((r) => r.status === 'SENT'), 20_000, 100);
    assert.equal(sent.tries, 2);
    assert.equal((await admin('GET', '/faults')).body.data.sms.fail_next, 0);
  });

  test('composition jobs fail_next with a chosen task error: the next job FAILED with its code, the one after DONE', async () => {
    await reset();
    const set = await admin('PUT', '/faults', {
      composition_jobs: { fail_next: 1, error_type: 'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS', message: 'injected 1127' },
    });
    assert.equal(set.status, 200, set.text);
    const failed = await draft();
    assert.equal(failed.job.body.data.status, 'FAILED');
    assert.deepEqual(failed.job.body.data.error, {
      code: 1127,
      type: 'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS',
      message: 'injected 1127',
    });
    assert.equal((await draft()).job.body.data.status, 'DONE');
  });

  test('an unknown task error name is a 422 listing the allowed ones; ERLN faults go to its simulator', async () => {
    const bad = await admin('PUT', '/faults', { composition_jobs: { fail_next: 1, error_type: 'NO_SUCH_ERROR' } });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.invalid[0].entry, '$.composition_jobs.error_type');
    const r = await admin('PUT', '/faults', { erln: { mode: 'reject', reject_code: 1000 } });
    assert.equal(r.body.data.erln.mode, 'reject');
    assert.equal((await admin('GET', '/erln')).body.data.mode, 'reject');
    await admin('PUT', '/faults', { erln: { mode: 'ok' } });
  });
});

describe('POST /admin/sign', () => {
  test('signs a composition for its author: the sign job is DONE', async () => {
    await reset();
    const d = await draft();
    const signed = await admin('POST', '/sign', { content: d.document, tax_id: DEMO.doctorTaxId });
    assert.equal(signed.status, 200, signed.text);
    assert.match(signed.body.data.data, /^[A-Za-z0-9+/]+=*$/);
    const r = await demo('PATCH', `/api/patients/composition/${d.id}/sign`, { data: signed.body.data.data });
    assert.equal(r.status, 202, r.text);
    const job = await waitFor(async () => {
      const j = await demo('GET', `/api/patients/composition/job/${r.body.data.id}`);
      return j.body.data.status !== 'PENDING' && j;
    });
    assert.equal(job.body.data.status, 'DONE', job.text);
  });

  test('a passport instead of a tax id (Cyrillic series): the certificate carries it as written', async () => {
    const signed = await admin('POST', '/sign', { content: '{"a":1}', tax_id: 'АВ123456' });
    assert.equal(signed.status, 200, signed.text);
    const verified = await server.runtime.platform.services.get(SIGNATURE_VERIFIER).verify(signed.body.data.data);
    assert.equal(verified.taxId, 'АВ123456');
    assert.equal(new TextDecoder().decode(verified.content), '{"a":1}');
  });

  test('another tax id: the sign job fails SIGNER_MISMATCH (the signer is who the key says)', async () => {
    const d = await draft();
    const signed = await admin('POST', '/sign', { content: JSON.stringify(d.document), tax_id: '1111111111' });
    const r = await demo('PATCH', `/api/patients/composition/${d.id}/sign`, { data: signed.body.data.data });
    const job = await waitFor(async () => {
      const j = await demo('GET', `/api/patients/composition/job/${r.body.data.id}`);
      return j.body.data.status !== 'PENDING' && j;
    });
    assert.equal(job.body.data.error.type, 'SIGNER_MISMATCH');
  });
});

test('a server with the journal off and trusting only configured roots: 409 for the journal and for the signer, each saying why', async () => {
  const strict = await startTestServer({ env: { REQUEST_JOURNAL: 'off', SIGNATURE_TRUST: 'trusted-roots' } });
  try {
    const journal = await strict.call('GET', '/admin/requests', { admin: true });
    assert.equal(journal.status, 409);
    assert.equal(journal.body.error.message, 'The request journal is off (REQUEST_JOURNAL=on turns it on)');
    const sign = await strict.call('POST', '/admin/sign', { admin: true, body: { content: '{}', tax_id: DEMO.doctorTaxId } });
    assert.equal(sign.status, 409);
    assert.match(sign.body.error.message, /SIGNATURE_TRUST_ROOTS/);
  } finally {
    await strict.close();
  }
});
