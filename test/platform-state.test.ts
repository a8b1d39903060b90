/**
 * Per-runtime state: two runtimes in one process (tests, benchmarks) share nothing — each answers
 * with its own PUBLIC_URL, and each has its own MR reader, reference cache, statement batchers and
 * dictionary cache.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/harness.ts';
import { medicationRequestReaderOf } from '../src/eprescription/read.ts';
import { REFERENCE_CACHE } from '../src/registry/reference-cache.ts';
import { jsonFunctionBatcher } from '../src/platform/batch.ts';
import { clearDictionaryCache, isActiveDictionaryValue } from '../src/registry/dictionaries.ts';

let a: TestServer;
let b: TestServer;
before(async () => {
  a = await startTestServer({ env: { PUBLIC_URL: 'https://a.example/' } });
  b = await startTestServer({ env: { PUBLIC_URL: 'https://b.example' } });
});
after(async () => {
  await a?.close();
  await b?.close();
});

test('two runtimes answer with their own PUBLIC_URL', async () => {
  for (const [server, base] of [
    [a, 'https://a.example'],
    [b, 'https://b.example'],
    [a, 'https://a.example'],
  ] as const) {
    const r = await server.call('GET', '/api/medication_requests/x');
    assert.equal(r.status, 401);
    assert.equal(r.body.meta.url, `${base}/api/medication_requests/x`);
    const missing = await server.call('GET', '/no/such/route');
    assert.equal(missing.body.meta.url, `${base}/no/such/route`);
  }
});

test("two runtimes' readers, caches and batchers are their own", async () => {
  const pa = a.runtime.platform;
  const pb = b.runtime.platform;
  assert.equal(medicationRequestReaderOf(pa), medicationRequestReaderOf(pa), 'one reader per runtime');
  assert.notEqual(medicationRequestReaderOf(pa), medicationRequestReaderOf(pb));
  assert.notEqual(pa.services.get(REFERENCE_CACHE), pb.services.get(REFERENCE_CACHE));
  assert.equal(jsonFunctionBatcher(pa.db, 'esoz_sms_attempt_many'), jsonFunctionBatcher(pa.db, 'esoz_sms_attempt_many'));
  assert.notEqual(jsonFunctionBatcher(pa.db, 'esoz_sms_attempt_many'), jsonFunctionBatcher(pb.db, 'esoz_sms_attempt_many'));

  // a dictionary value cached by one runtime is not what the other answers
  const flip = (db: typeof pa.db, active: boolean) =>
    db.query(`UPDATE dictionary_values SET is_active = $1 WHERE dictionary_name = 'MEDICATION_REQUEST_INTENT' AND code = 'plan'`, [active]);
  clearDictionaryCache(pa.db);
  clearDictionaryCache(pb.db);
  assert.equal(await isActiveDictionaryValue(pa.db, 'MEDICATION_REQUEST_INTENT', 'plan'), true);
  await flip(pb.db, false);
  try {
    assert.equal(await isActiveDictionaryValue(pb.db, 'MEDICATION_REQUEST_INTENT', 'plan'), false, 'b reads its own database');
    assert.equal(await isActiveDictionaryValue(pa.db, 'MEDICATION_REQUEST_INTENT', 'plan'), true, 'a keeps its own copy');
  } finally {
    await flip(pb.db, true);
    clearDictionaryCache(pb.db);
  }
});

test('closing one runtime leaves the other answering', async () => {
  const c = await startTestServer({ env: { PUBLIC_URL: 'https://c.example' } });
  await c.close();
  const r = await a.call('GET', '/no/such/route');
  assert.equal(r.body.meta.url, 'https://a.example/no/such/route');
});
