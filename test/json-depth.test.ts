/**
 * Found by the fuzzer (test/fuzz.test.ts): a body nesting thousands of levels in a free-form field
 * (a medication request fixture's `context`) made JSON.stringify overflow the stack while writing
 * the jsonb column: 500. Bodies may nest MAX_JSON_DEPTH levels; deeper ones are a 422 request_malformed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/harness.ts';
import { demoMedicationRequests } from '../src/eprescription/demo.ts';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../src/platform/http/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ env: { DEMO_DATA: 'on' } });
});
after(() => server?.close());

/** A fixtures body whose medication request `context` makes the whole body nest `depth` levels. */
function fixturesNesting(id: string, depth: number): string {
  // body object → medication_requests array → item object → context: depth - 3 more levels
  const inner = depth - 3;
  const context = `${'{"a":'.repeat(inner)}1${'}'.repeat(inner)}`;
  const mr = { ...demoMedicationRequests()[0], id, context: '__CONTEXT__' };
  return JSON.stringify({ medication_requests: [mr] }).replace('"__CONTEXT__"', context);
}

test(`a body nesting ${MAX_JSON_DEPTH} levels is accepted and stored`, async () => {
  const id = '6f1f7c2e-0000-4000-8000-00000000d064';
  const r = await server.call('POST', '/admin/fixtures', {
    admin: true,
    rawBody: fixturesNesting(id, MAX_JSON_DEPTH),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  const stored = await server.runtime.platform.db.query<{ context: unknown }>('SELECT context FROM medication_requests WHERE id = $1', [
    id,
  ]);
  assert.equal(nestedDeeperThan(stored.rows[0].context, MAX_JSON_DEPTH - 3), false);
  assert.equal(nestedDeeperThan(stored.rows[0].context, MAX_JSON_DEPTH - 4), true);
});

for (const depth of [MAX_JSON_DEPTH + 1, 5_000, 100_000]) {
  test(`a body nesting ${depth} levels → 422 request_malformed, not a 500`, async () => {
    const r = await server.call('POST', '/admin/fixtures', {
      admin: true,
      rawBody: fixturesNesting('6f1f7c2e-0000-4000-8000-00000000d065', depth),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 422, r.text.slice(0, 300));
    assert.equal(r.body.error.type, 'request_malformed');
    assert.equal(
      r.body.error.message,
      `Malformed encoded content. Probably, you have encoded corrupted JSON. Error: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
  });
}

test('deep arrays count as nesting too; scalars and flat values do not', () => {
  assert.equal(nestedDeeperThan(JSON.parse(`${'['.repeat(65)}${']'.repeat(65)}`), 64), true);
  assert.equal(nestedDeeperThan(JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`), 64), false);
  assert.equal(nestedDeeperThan('x', 0), false);
  assert.equal(nestedDeeperThan({ a: 1, b: [1, 2] }, 2), false);
  assert.equal(nestedDeeperThan({ a: 1, b: [1, [2]] }, 2), true);
});
