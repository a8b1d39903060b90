/**
 * The README's sign-and-cancel-by-hand steps: the `openssl` commands are taken from the README itself and
 * run as written (only the demo doctor's tax id is swapped for this test's author), and their CMS signs
 * and cancels a composition over HTTP. If the README's commands stop producing what the service accepts,
 * this fails.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestServer, waitFor, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, createDone, misOf, pollJob, type World } from './support/compositions.ts';

/** The shell commands of the README's compositions walk-through that start with `openssl` (continuations joined). */
function readmeOpensslCommands(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('### Compositions (medical conclusions)'), readme.indexOf('## Scale-out'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.startsWith('openssl '));
}

let server: TestServer;
let w: World;
let mis: Mis;
let dir: string;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca' } });
  w = await seedWorld(server);
  mis = await misOf(server, w);
  dir = mkdtempSync(path.join(tmpdir(), 'esoz-openssl-'));
});
after(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('README: a key, a self-signed TINUA certificate and `openssl cms -sign -nodetach` sign and then cancel a composition', async () => {
  const commands = readmeOpensslCommands();
  const req = commands.filter((c) => c.startsWith('openssl req '));
  const sign = commands.filter((c) => c.startsWith('openssl cms -sign ') && c.includes('-in composition.json'));
  const cancel = commands.filter((c) => c.startsWith('openssl cms -sign ') && c.includes('-in cancel.json'));
  assert.equal(req.length, 1, commands.join('\n'));
  assert.equal(sign.length, 1, commands.join('\n'));
  assert.equal(cancel.length, 1, commands.join('\n'));
  assert.match(req[0], /serialNumber=TINUA-3126509816/);
  for (const c of [...sign, ...cancel]) assert.match(c, /-nodetach -binary -outform DER/);
  const sh = (command: string) => execFileSync('bash', ['-c', command], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

  sh(req[0].replace('TINUA-3126509816', `TINUA-${w.authorTaxId}`));
  const { href, id } = await createDone(mis, createBody(w));
  // what the README stores: the composition's JSON as GET returns it
  const got = await mis.call('GET', href);
  writeFileSync(path.join(dir, 'composition.json'), JSON.stringify(got.body.data) + '\n');
  sh(sign[0]);
  const cms = sh('openssl base64 -A -in composition.p7s').toString();

  const signed = await mis.call('PATCH', `/api/patients/composition/${id}/sign`, { body: { data: cms } });
  assert.equal(signed.status, 202, signed.text);
  const signJob = await pollJob(mis, signed.body.data.id);
  assert.equal(signJob.body.data.status, 'DONE', signJob.text);
  assert.equal((await mis.call('GET', href)).body.data.status, 'FINAL');
  // the README waits for the ERLN hand-off before it cancels (a cancel while ERLN has not answered is 1130 / 1131)
  await waitFor(
    async () =>
      (
        await server.runtime.platform.db.query(
          `SELECT 1 FROM composition_integration_tasks WHERE composition_id = $1 AND task_status <> 'PENDING'`,
          [id],
        )
      ).rowCount,
    20_000,
    50,
  );

  writeFileSync(
    path.join(dir, 'cancel.json'),
    JSON.stringify({
      id,
      reason: {
        coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_PATIENT' }],
        text: 'wrong patient',
      },
    }),
  );
  sh(cancel[0]);
  const cancelled = await mis.call('PATCH', `/api/patients/composition/${id}/cancel`, {
    body: { data: sh('openssl base64 -A -in cancel.p7s').toString() },
  });
  assert.equal(cancelled.status, 202, cancelled.text);
  const cancelJob = await pollJob(mis, cancelled.body.data.id);
  assert.equal(cancelJob.body.data.status, 'DONE', cancelJob.text);
  assert.equal((await mis.call('GET', href)).body.data.status, 'ENTERED_IN_ERROR');
});

test("README openssl certificate with another tax id than the author's: the sign job fails SIGNER_MISMATCH (the tax id is what is checked)", async () => {
  const [req] = readmeOpensslCommands().filter((c) => c.startsWith('openssl req '));
  const [sign] = readmeOpensslCommands().filter((c) => c.startsWith('openssl cms -sign ') && c.includes('-in composition.json'));
  const sh = (command: string) => execFileSync('bash', ['-c', command], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  sh(req.replace('TINUA-3126509816', `TINUA-${w.colleagueTaxId}`));
  const { href, id } = await createDone(mis, createBody(w, { category: 'QUARANTINE' }));
  writeFileSync(path.join(dir, 'composition.json'), JSON.stringify((await mis.call('GET', href)).body.data));
  sh(sign);
  const signed = await mis.call('PATCH', `/api/patients/composition/${id}/sign`, {
    body: { data: sh('openssl base64 -A -in composition.p7s').toString() },
  });
  assert.equal(signed.status, 202, signed.text);
  const job = await pollJob(mis, signed.body.data.id);
  assert.equal(job.body.data.status, 'FAILED', job.text);
  assert.equal(job.body.data.error.type, 'SIGNER_MISMATCH', job.text);
});
