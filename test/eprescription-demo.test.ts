/**
 * The sandbox demo MRs (README.md, "Walk-through with the demo data"): each demo id gives the documented
 * resend result with the demo token and api-key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, call, type TestServer } from './support/harness.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';
import { requestNumberFor } from '../src/eprescription/request-number.ts';

let server: TestServer;
let creds: { token: string; secret: string };

before(async () => {
  server = await startTestServer({ env: { DEMO_DATA: 'on' } });
  const demo = server.runtime.sandbox?.demo;
  assert.ok(demo, 'demo credentials');
  creds = { token: demo.token, secret: demo.secret };
});
after(async () => {
  await server?.close();
});

const resend = (id: string) =>
  call(server.url, 'PATCH', `/api/medication_requests/${id}/actions/resend`, { token: creds.token, apiKey: creds.secret });

export const DEMO_EXPECTATIONS: [name: string, id: string, status: number, message?: string][] = [
  ['OTP person', DEMO.mrOtpId, 200],
  ['THIRD_PERSON with OTP confidant', DEMO.mrThirdPersonId, 200],
  ['OFFLINE person', DEMO.mrOfflineId, 409, 'Person or third person has no OTP auth method'],
  ['plan', DEMO.mrPlanId, 409, 'For medication request plan information cannot be resent'],
  ['rejected', DEMO.mrRejectedId, 409, 'Invalid status Medication request for resend action!'],
  ['program without SMS', DEMO.mrNoSmsProgramId, 409, 'Notifications are not allowed for the medical program!'],
  ['no verification code', DEMO.mrNoCodeId, 403, "Can't resend Medication request without verification code!"],
];

for (const [name, id, status, message] of DEMO_EXPECTATIONS) {
  test(`demo MR "${name}" → ${status}${message ? ` ${message}` : ''}`, async () => {
    const r = await resend(id);
    assert.equal(r.status, status, r.text);
    if (message) assert.equal(r.body.error.message, message);
    else assert.equal(r.body.data.id, id);
  });
}

test('demo SMS went to the person and to the confidant; request numbers are stable (derived from the id)', async () => {
  const sms = await call(server.url, 'GET', '/admin/sms?entity_name=medication_request', { admin: true });
  assert.equal(sms.status, 200, sms.text);
  const byEntity = new Map(sms.body.data.map((s: any) => [s.entity_id, s]));
  assert.equal((byEntity.get(DEMO.mrOtpId) as any).phone_number, '+380501112233');
  assert.equal((byEntity.get(DEMO.mrOtpId) as any).body, `Ваш рецепт: ${requestNumberFor(DEMO.mrOtpId)}. Код підтвердження: 1234`);
  assert.equal((byEntity.get(DEMO.mrThirdPersonId) as any).phone_number, '+380503334455');
  const g = await call(server.url, 'GET', `/api/medication_requests/${requestNumberFor(DEMO.mrOtpId)}`, {
    token: creds.token,
    apiKey: creds.secret,
  });
  assert.equal(g.body.data.id, DEMO.mrOtpId);
});

test('demo: the 4th resend within MR_SEND_TIMEOUT → 429', async () => {
  await resend(DEMO.mrOtpId);
  await resend(DEMO.mrOtpId);
  const r = await resend(DEMO.mrOtpId);
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get('retry-after')) > 0);
});

test("demo: the child's authentication methods (README) with the fixed method id and the mother masked; programs carry mr_blank_type", async () => {
  assert.equal(DEMO.personThirdPersonId, '6f1d0c2a-0000-4000-8000-000000000031');
  assert.equal(DEMO.authThirdPersonId, '6f1d0c2a-0000-4000-8000-000000000062');
  const r = await call(server.url, 'GET', `/api/persons/${DEMO.personThirdPersonId}/authentication_methods`, {
    token: creds.token,
    apiKey: creds.secret,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(
    r.body.data.map((m: any) => [m.id, m.type, m.value, m.alias]),
    [[DEMO.authThirdPersonId, 'THIRD_PERSON', DEMO.confidantPersonId, 'mother']],
  );
  assert.deepEqual(r.body.data[0].confidant_person, {
    id: DEMO.confidantPersonId,
    name: 'Коваленко О.П.',
    gender: 'FEMALE',
    tax_id: '********40',
    no_tax_id: false,
    documents_person: [],
    phones: [{ type: 'MOBILE', number: '+38050*****55' }],
  });
  const g = await call(server.url, 'GET', `/api/medication_requests/${DEMO.mrOtpId}`, { token: creds.token, apiKey: creds.secret });
  assert.equal(g.body.data.medical_program.mr_blank_type, 'F-1');
});
