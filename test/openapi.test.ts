/**
 * GET /openapi.json is a valid OpenAPI 3.0 document: checked against the official OpenAPI 3.0
 * JSON Schema (swagger-parser) and Redocly's recommended rules (no errors), on the document a
 * real server serves.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { lintFromString, createConfig } from '@redocly/openapi-core';
import { startTestServer, type TestServer } from './support/harness.ts';
import { toOpenApi30 } from '../src/platform/http/server.ts';

let server: TestServer;
let text: string;

before(async () => {
  server = await startTestServer();
  const r = await server.call('GET', '/openapi.json');
  assert.equal(r.status, 200);
  text = r.text;
});
after(() => server?.close());

test('the served document is valid OpenAPI 3.0 (swagger-parser)', async () => {
  const doc = JSON.parse(text);
  assert.match(doc.openapi, /^3\.0\.\d+$/);
  try {
    await SwaggerParser.validate(doc);
  } catch (err) {
    assert.fail(`invalid OpenAPI document:\n${(err as Error).message}`);
  }
});

test('the served document passes Redocly lint, recommended rules, with no errors', async () => {
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lintFromString({ source: text, absoluteRef: '/openapi.json', config });
  const errors = problems
    .filter((p) => p.severity === 'error')
    .map((p) => `${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(', ')}`);
  assert.deepEqual(errors, []);
});

test('JSON Schema keywords of the route schemas are written in their OpenAPI 3.0 form, on a copy', () => {
  const schema = {
    type: 'object',
    properties: {
      qty: { type: 'number', exclusiveMinimum: 0 },
      below: { type: 'integer', exclusiveMaximum: 10, maximum: 5 },
      kind: { const: 'x' },
      note: { type: ['string', 'null'], examples: ['a', 'b'] },
      const: { type: 'string' },
    },
    example: { exclusiveMinimum: 1 },
  };
  const copy = structuredClone(schema);
  assert.deepEqual(toOpenApi30(schema), {
    type: 'object',
    properties: {
      qty: { type: 'number', minimum: 0, exclusiveMinimum: true },
      below: { type: 'integer', maximum: 5 },
      kind: { enum: ['x'] },
      note: { type: 'string', nullable: true, example: 'a' },
      const: { type: 'string' },
    },
    example: { exclusiveMinimum: 1 },
  });
  assert.deepEqual(schema, copy);
});

test('the route itself still refuses what the exclusive bound excludes', async () => {
  const r = await server.call('POST', '/admin/fixtures', { admin: true, body: { medication_requests: [{ medication_qty: 0 }] } });
  assert.equal(r.status, 422);
  assert.ok(
    r.body.error.invalid.some((e: { entry: string; rules: { rule: string }[] }) => e.entry === '$.medication_requests[0].medication_qty'),
    r.text,
  );
});
