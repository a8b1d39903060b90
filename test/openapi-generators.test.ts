/**
 * The served /openapi.json is fit for generators: every operation has an operationId (unique) and a
 * summary, the schemas are named components referenced with $ref, the examples are real (the create
 * example is accepted by the server), every route declares the ESOZ errors it answers, the FAILED-job
 * task codes are enumerated; GET /postman.json holds every operation as a Postman v2.1 request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestServer, type TestServer } from './support/harness.ts';
import { TASK_ERRORS } from '../src/compositions/model.ts';
import { POSTMAN_SCHEMA } from '../src/platform/http/postman.ts';

let server: TestServer;
let doc: any;
let creds: { token: string; apiKey: string };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const operations = () =>
  Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] })),
  );

before(async () => {
  server = await startTestServer({ env: { DEMO_DATA: 'on' } });
  const demo = server.runtime.sandbox!.demo!;
  creds = { token: demo.token, apiKey: demo.secret };
  const r = await server.call('GET', '/openapi.json');
  assert.equal(r.status, 200);
  doc = r.body;
});
after(() => server?.close());

test('every operation has a summary and an operationId, the operationIds are unique', () => {
  const ops = operations();
  assert.ok(ops.length >= 30, `${ops.length} operations`);
  for (const { path, method, op } of ops) {
    assert.match(op.operationId ?? '', /^[a-z][A-Za-z]+$/, `${method} ${path}: operationId`);
    assert.ok(op.summary?.trim(), `${method} ${path}: summary`);
    if (path.startsWith('/admin/')) assert.match(op.operationId, /^admin[A-Z]/, `${method} ${path}: admin… operationId`);
  }
  const ids = ops.map((o) => o.op.operationId);
  assert.deepEqual(
    ids.filter((id, i) => ids.indexOf(id) !== i),
    [],
  );
  for (const id of [
    'createComposition',
    'signComposition',
    'cancelComposition',
    'getCompositionJob',
    'getComposition',
    'searchCompositions',
    'getIntegrationData',
    'resendCompositionToErln',
    'resendCompositionSms',
    'getPrintForm',
    'getMedicationRequest',
    'resendMedicationRequest',
    'createPreperson',
    'adminSign',
    'adminReset',
  ]) {
    assert.ok(ids.includes(id), `operation ${id}`);
  }
});

test('the unprefixed twins of the /api routes stay out of the document', () => {
  for (const path of Object.keys(doc.paths)) assert.match(path, /^\/(api|admin)\//, path);
});

test('the schemas are named components referenced with $ref, and every $ref resolves', async () => {
  for (const name of [
    'CompositionDocument',
    'JobState',
    'JobError',
    'CreateCompositionBody',
    'SignBody',
    'IntegrationItem',
    'Error',
    'Meta',
  ]) {
    assert.ok(doc.components.schemas[name], `components.schemas.${name}`);
  }
  const create = doc.paths['/api/patients/composition'].post;
  assert.deepEqual(create.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/CreateCompositionBody' });
  assert.deepEqual(create.responses['202'].content['application/json'].schema.properties.data, { $ref: '#/components/schemas/JobState' });
  const job = doc.paths['/api/patients/composition/job/{asyncJobId}'].get;
  assert.deepEqual(job.responses['200'].content['application/json'].schema.properties.data, { $ref: '#/components/schemas/JobState' });
  // no inlined copy of a named schema is left in the paths
  const text = JSON.stringify(doc.paths);
  assert.ok(!text.includes('"title":"JobState"') && !text.includes('"title":"CreateCompositionBody"'), 'inlined copies');
  await SwaggerParser.dereference(structuredClone(doc));
});

test("the FAILED job's task errors are enumerated: every TASK_ERRORS type, and its code in the description", () => {
  const error = doc.components.schemas.JobError;
  assert.deepEqual(error.properties.type.enum, Object.keys(TASK_ERRORS));
  for (const [type, code] of Object.entries(TASK_ERRORS)) assert.ok(error.description.includes(`${code ?? 'null'} ${type}`), type);
  assert.deepEqual(doc.components.schemas.JobState.properties.error, { $ref: '#/components/schemas/JobError' });
});

test('the examples are real: the create body is accepted as it stands, the job and MR resend examples match their schemas', async () => {
  const create = doc.paths['/api/patients/composition'].post;
  const body = create.requestBody.content['application/json'].example;
  const r = await server.call('POST', '/api/patients/composition', { token: creds.token, apiKey: creds.apiKey, body });
  assert.equal(r.status, 202, r.text);

  const deref: any = await SwaggerParser.dereference(structuredClone(doc));
  const ajv = new Ajv({ strict: false, allErrors: true });
  const job = deref.paths['/api/patients/composition/job/{asyncJobId}'].get.responses['200'].content['application/json'];
  const statuses = Object.values(job.examples as Record<string, { value: any }>).map((e) => e.value.data.status);
  assert.deepEqual(statuses, ['PENDING', 'DONE', 'FAILED']);
  const validate = ajv.compile(job.schema);
  for (const { value } of Object.values(job.examples as Record<string, { value: any }>)) {
    assert.ok(validate(value), `${value.data.status}: ${JSON.stringify(validate.errors)}`);
  }
  const mr = deref.paths['/api/medication_requests/{id}/actions/resend'].patch.responses['200'].content['application/json'];
  assert.equal(mr.example.data.status, 'ACTIVE');
  assert.ok(ajv.validate(mr.schema, mr.example), `the MR resend answer: ${JSON.stringify(ajv.errors)}`);
  const sign = deref.paths['/api/patients/composition/{id}/sign'].patch.requestBody.content['application/json'];
  assert.ok(ajv.validate(sign.schema, sign.example), JSON.stringify(ajv.errors));
});

test('every route declares the ESOZ errors it answers: 401/403 where authenticated, its own statuses, 4XX for the rest', () => {
  for (const { path, method, op } of operations()) {
    const where = `${method} ${path}`;
    const security = JSON.stringify(op.security ?? []);
    assert.ok(op.responses['401'], `${where}: 401`);
    if (security.includes('bearer')) {
      assert.ok(op.responses['403'], `${where}: 403`);
      assert.match(op.responses['401'].description, /access_denied/, where);
      assert.match(op.responses['403'].description, /forbidden|scope/i, where);
    }
    for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
      if (!/^4/.test(status)) continue;
      const schema = response.content['application/json'].schema;
      assert.deepEqual(schema.properties.error, { $ref: '#/components/schemas/Error' }, `${where} ${status}: the error envelope`);
    }
  }
  const resend = doc.paths['/api/patients/{patientId}/compositions/{compositionId}/actions/resend'].patch.responses;
  assert.match(resend['409'].description, /^request_conflict: You can not resend SMS/);
  assert.match(resend['429'].description, /^sms_timeout/);
  const job = doc.paths['/api/patients/composition/job/{asyncJobId}'].get.responses;
  assert.match(job['400'].description, /Invalid request format/);
  assert.match(job['404'].description, /Task not found/);
});

test('GET /postman.json: a Postman v2.1 collection with every operation and the banner variables', async () => {
  const r = await server.call('GET', '/postman.json');
  assert.equal(r.status, 200);
  const collection = r.body;
  // the shape the Postman v2.1 collection schema requires of what is used here
  const url = {
    type: 'object',
    required: ['raw', 'host', 'path'],
    properties: {
      raw: { type: 'string', pattern: '^\\{\\{BASE_URL\\}\\}/' },
      host: { type: 'array', items: { type: 'string' } },
      path: { type: 'array', items: { type: 'string' } },
      query: {
        type: 'array',
        items: { type: 'object', required: ['key'], properties: { key: { type: 'string' }, disabled: { type: 'boolean' } } },
      },
      variable: { type: 'array', items: { type: 'object', required: ['key'] } },
    },
  };
  const request = {
    type: 'object',
    required: ['name', 'request'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      request: {
        type: 'object',
        required: ['method', 'url', 'header'],
        properties: {
          method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
          url,
          header: { type: 'array', items: { type: 'object', required: ['key', 'value'] } },
          body: { type: 'object', required: ['mode', 'raw'], properties: { mode: { const: 'raw' }, raw: { type: 'string' } } },
        },
      },
      response: { type: 'array' },
    },
  };
  const shape = {
    type: 'object',
    required: ['info', 'item'],
    properties: {
      info: { type: 'object', required: ['name', 'schema'], properties: { schema: { const: POSTMAN_SCHEMA } } },
      item: {
        type: 'array',
        items: { type: 'object', required: ['name', 'item'], properties: { item: { type: 'array', items: request } } },
      },
      variable: { type: 'array', items: { type: 'object', required: ['key'] } },
    },
  };
  const ajv = new Ajv({ allErrors: true });
  assert.ok(ajv.validate(shape, collection), JSON.stringify(ajv.errors));

  assert.deepEqual(
    collection.variable.map((v: { key: string }) => v.key),
    ['BASE_URL', 'TOKEN', 'API_KEY', 'ADMIN_KEY'],
  );
  const items = collection.item.flatMap((folder: any) => folder.item);
  assert.deepEqual(
    items.map((i: any) => i.id).sort(),
    operations()
      .map((o) => o.op.operationId)
      .sort(),
  );
  const byId = Object.fromEntries(items.map((i: any) => [i.id, i.request]));
  const header = (id: string, key: string) => byId[id].header.find((h: any) => h.key === key)?.value;
  assert.equal(header('createComposition', 'Authorization'), 'Bearer {{TOKEN}}');
  assert.equal(header('createComposition', 'api-key'), '{{API_KEY}}');
  assert.equal(header('adminSign', 'x-admin-key'), '{{ADMIN_KEY}}');
  assert.equal(byId.signComposition.url.raw, '{{BASE_URL}}/api/patients/composition/:id/sign');
  assert.deepEqual(
    JSON.parse(byId.createComposition.body.raw),
    doc.paths['/api/patients/composition'].post.requestBody.content['application/json'].example,
  );
});
