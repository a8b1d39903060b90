/**
 * The ERLN port: the `http` adapter against the simulator's own HTTP server (real HTTP), and
 * `npm run erln-sim` as a user starts it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import Fastify, { type FastifyInstance } from 'fastify';
import { createErlnSimServer } from '../src/erln/sim-server.ts';
import { ErlnSimulator, MemoryErlnSimStore, SL_ALREADY_CANCELLED_MESSAGE, SL_NOT_FOUND_MESSAGE } from '../src/erln/simulator.ts';
import { HttpErlnGateway } from '../src/erln/http-adapter.ts';
import { ErlnUnreachableError } from '../src/erln/gateway.ts';
import { RESULT_CREATED, RESULT_CREATED_MESSAGE } from '../src/erln/contract.ts';
import { sampleCreateRequest } from './support/erln.ts';

async function listen(app: FastifyInstance): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return address;
}

describe('ERLN http adapter against the simulator over HTTP', () => {
  const sim = new ErlnSimulator(new MemoryErlnSimStore());
  const server = createErlnSimServer(sim);
  let url = '';
  let erln: HttpErlnGateway;
  const control = async (body: unknown) => {
    const r = await fetch(`${url}/admin/erln`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  };
  const view = async () =>
    (await (await fetch(`${url}/admin/erln`)).json()) as { records: { sl_num: string; status: string }[]; calls: { outcome: string }[] };

  before(async () => {
    url = await listen(server);
    erln = new HttpErlnGateway(url, 300);
  });
  after(() => server.close());

  test('a new record gets an SL number with RESULT 1101; a repeated idempotency key gets the same answer and no second record', async () => {
    await sim.store.reset();
    const req = sampleCreateRequest();
    const first = await erln.createRecord(req, 'task-1');
    assert.deepEqual(
      { ...first, SL_NUM: typeof first.SL_NUM },
      { ACCEPTED: true, RESULT: RESULT_CREATED, MESSAGE: RESULT_CREATED_MESSAGE, SL_NUM: 'string' },
    );
    assert.match(first.SL_NUM ?? '', /^SL\d{10}$/);
    const again = await erln.createRecord(req, 'task-1');
    assert.deepEqual(again, first);
    const v = await view();
    assert.equal(v.records.length, 1);
    assert.deepEqual(
      v.calls.map((c) => c.outcome),
      ['replayed', 'accepted'],
    );
    const other = await erln.createRecord(sampleCreateRequest(), 'task-2');
    assert.notEqual(other.SL_NUM, first.SL_NUM, 'another task is another record');
  });

  test('reject: a business rejection with the chosen RESULT and message, nothing recorded; a key ERLN accepted earlier still replays', async () => {
    await sim.store.reset();
    const accepted = await erln.createRecord(sampleCreateRequest(), 'task-accepted');
    await control({ mode: 'reject', reject_code: 1000, reject_message: 'Неочікувана помилка при створенні' });
    const r = await erln.createRecord(sampleCreateRequest(), 'task-3');
    assert.deepEqual(r, { ACCEPTED: false, RESULT: 1000, MESSAGE: 'Неочікувана помилка при створенні', SL_NUM: null });
    assert.deepEqual(await erln.createRecord(sampleCreateRequest(), 'task-accepted'), accepted);
    assert.equal((await view()).records.length, 1);
    await control({ mode: 'ok' });
  });

  test('down and fail_next: no answer (ErlnUnreachableError), then accepted once the faults are spent', async () => {
    await sim.store.reset();
    await control({ mode: 'down' });
    await assert.rejects(
      erln.createRecord(sampleCreateRequest(), 'task-4'),
      (err) => err instanceof ErlnUnreachableError && /HTTP 503/.test(err.message),
    );
    await control({ mode: 'ok', fail_next: 2 });
    await assert.rejects(erln.createRecord(sampleCreateRequest(), 'task-4'), ErlnUnreachableError);
    await assert.rejects(erln.createRecord(sampleCreateRequest(), 'task-4'), ErlnUnreachableError);
    const r = await erln.createRecord(sampleCreateRequest(), 'task-4');
    assert.equal(r.ACCEPTED, true);
    const v = await view();
    assert.equal(v.records.length, 1);
    assert.deepEqual(
      v.calls.map((c) => c.outcome),
      ['accepted', 'unavailable', 'unavailable', 'unavailable'],
    );
  });

  test('slow: an answer later than the adapter timeout is "did not answer"; the record ERLN made meanwhile is replayed on the retry', async () => {
    await sim.store.reset();
    await control({ mode: 'slow', delay_ms: 800 });
    await assert.rejects(erln.createRecord(sampleCreateRequest(), 'task-5'), /ERLN did not answer within 300 ms/);
    await new Promise((r) => setTimeout(r, 700));
    await control({ mode: 'ok', delay_ms: 0 });
    const r = await erln.createRecord(sampleCreateRequest(), 'task-5');
    assert.equal(r.ACCEPTED, true);
    assert.equal((await view()).records.length, 1, 'the timed-out call and its retry made one record');
  });

  test('cancel: the record is cancelled; an unknown SL number and a second cancel are rejections', async () => {
    await sim.store.reset();
    const req = sampleCreateRequest();
    const created = await erln.createRecord(req, 'task-6');
    const cancel = {
      COMPOSITION_ID: req.COMPOSITION_ID,
      SL_NUM: created.SL_NUM ?? '',
      CANCEL_REASON: 'INCORRECT_PATIENT',
      CANCEL_TEXT: 'Помилка ідентифікації',
    };
    const r = await erln.cancelRecord(cancel, 'task-7');
    assert.equal(r.ACCEPTED, true);
    assert.equal(r.SL_NUM, created.SL_NUM);
    assert.deepEqual(await erln.cancelRecord(cancel, 'task-7'), r, 'a retry of the same task replays');
    assert.deepEqual(await erln.cancelRecord(cancel, 'task-8'), {
      ACCEPTED: false,
      RESULT: null,
      MESSAGE: SL_ALREADY_CANCELLED_MESSAGE,
      SL_NUM: null,
    });
    assert.deepEqual(await erln.cancelRecord({ ...cancel, SL_NUM: 'SL0000009999' }, 'task-9'), {
      ACCEPTED: false,
      RESULT: null,
      MESSAGE: SL_NOT_FOUND_MESSAGE,
      SL_NUM: null,
    });
    assert.equal((await view()).records[0]?.status, 'cancelled');
  });

  test('controls refuse what they do not know; a request outside the contract is a 400, not a record', async () => {
    const bad = await fetch(`${url}/admin/erln`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'broken' }),
    });
    assert.equal(bad.status, 400);
    const noKey = await fetch(`${url}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(sampleCreateRequest()),
    });
    assert.equal(noKey.status, 400);
    const badBody = await fetch(`${url}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
      body: JSON.stringify({ ...sampleCreateRequest(), REQUEST_TYPE: 9 }),
    });
    assert.equal(badBody.status, 400);
  });
});

describe('ERLN http adapter: what counts as no answer', () => {
  test('nothing listening, a 500, a reply outside the contract: ErlnUnreachableError without the URL', async () => {
    const closed = Fastify();
    const dead = await listen(closed);
    await closed.close();
    await assert.rejects(new HttpErlnGateway(dead, 500).createRecord(sampleCreateRequest(), 'k'), (err) => {
      assert.ok(err instanceof ErlnUnreachableError);
      assert.equal(err.message, 'ERLN is unreachable');
      return true;
    });
    const odd = Fastify();
    odd.post('/records', async (request, reply) => reply.code(request.headers['x-500'] ? 500 : 200).send({ foo: 1 }));
    const oddUrl = await listen(odd);
    try {
      await assert.rejects(new HttpErlnGateway(oddUrl, 500).createRecord(sampleCreateRequest(), 'k'), /ERLN answered outside the contract/);
    } finally {
      await odd.close();
    }
  });
});

test('npm run erln-sim (its command in package.json): starts on ERLN_SIM_PORT, prints the ERLN_URL line, answers the contract', async () => {
  const probe = Fastify();
  const port = Number(new URL(await listen(probe)).port);
  await probe.close();
  // package.json's own command, run as npm would run it (a killed npm leaves its child running)
  const script: string = JSON.parse(readFileSync('package.json', 'utf8')).scripts['erln-sim'];
  const [cmd, ...args] = script.split(/\s+/);
  assert.equal(cmd, 'node');
  const child = spawn(process.execPath, args, { env: { ...process.env, ERLN_SIM_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`erln-sim exited with ${code}`)));
    });
    assert.equal(
      line,
      `ERLN simulator listening on http://127.0.0.1:${port}  (esoz-core: ERLN_ADAPTER=http ERLN_URL=http://127.0.0.1:${port})`,
    );
    const r = await new HttpErlnGateway(`http://127.0.0.1:${port}`, 2000).createRecord(sampleCreateRequest(), 'k-1');
    assert.equal(r.RESULT, RESULT_CREATED);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});
