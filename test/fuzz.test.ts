/**
 * Fuzz over every route of the served /openapi.json (and the unprefixed twins the server also
 * answers): path parameters, query strings, headers (with and without valid credentials, so requests
 * get past auth into validation and domain code) and bodies (valid ones, schema-derived ones, and
 * mutations: wrong types, huge arrays, deep nesting, NUL bytes, truncated JSON, other content types
 * and charsets). Every response must be the ESOZ envelope with meta.code = the HTTP status, never a 5xx.
 *
 * Seeded and bounded: FUZZ_SEED, FUZZ_RUNS and FUZZ_TIME_MS (see docs/fuzz.md). A failure prints each
 * distinct failure class with examples and writes the full requests to a JSON file for replay.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestServer, backend, ADMIN_KEY, type TestServer, type Mis } from './support/harness.ts';
import { seedWorld, createBody, misOf, createDone, pollJob, type World } from './support/compositions.ts';
import { makeSigner, signCms } from './support/cms.ts';
import {
  sendRaw,
  envelopeProblem,
  toJson,
  wireValueArb,
  schemaArb,
  wrongValueArb,
  mutate,
  encodeBody,
  textArb,
  enc,
  BAD_NUMBERS,
  CONTENT_TYPES,
  type FuzzRequest,
  type RawResponse,
  type Schema,
  type BodyEncoding,
} from './support/fuzz.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';
import { FAULTS } from '../src/platform/faults.ts';
import { requestNumberFor } from '../src/eprescription/request-number.ts';
import { demoMedicationRequests } from '../src/eprescription/demo.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 1010);
const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000);
const TIME_MS = Number(process.env.FUZZ_TIME_MS ?? 30_000);
const REQUEST_TIMEOUT_MS = 15_000;

interface Op {
  method: string;
  route: string;
  params: string[];
  query: { name: string; schema: Schema }[];
  body?: Schema;
  admin: boolean;
}

let server: TestServer;
let port: number;
let w: World;
let mis: Mis;
let ops: Op[];
/** `METHOD route` of the operations whose 200 is an HTML page (getPrintForm), not the envelope */
const htmlOps = new Set<string>();
let arb: fc.Arbitrary<FuzzRequest>;

const stat = {
  requests: 0,
  ms: 0,
  sendMs: 0,
  slow: [] as { ms: number; what: string }[],
  statuses: new Map<number, number>(),
  errorTypes: new Map<string, number>(),
  perRoute: new Map<string, { sent: number; pastAuth: number; ok: number }>(),
};
const failures = new Map<string, { count: number; routes: Set<string>; examples: { run: number; req: FuzzRequest; res: RawResponse }[] }>();

/** What in a request may have caused a 5xx (the body of a 500 says nothing, on purpose). */
function triggers(req: FuzzRequest): string[] {
  const t: string[] = [];
  const body = req.body?.toString('latin1') ?? '';
  const query = req.path.includes('?') ? req.path.slice(req.path.indexOf('?')) : '';
  if (/%00/.test(req.path) || body.includes('\u0000') || body.includes('\\u0000')) t.push('NUL byte');
  if (/=(-?\d{10,}|\d+e\d+|-\d+|-?Infinity|NaN)(&|$)/i.test(query)) t.push('out-of-range integer');
  if (/(\[\[\[\[\[|\{"a":\{"a":\{"a":)/.test(body)) t.push('deep nesting');
  if ((req.body?.length ?? 0) > 100_000) t.push('large body');
  if (/z{1000}/.test(body) || /z{1000}/.test(req.path)) t.push('long text');
  if (req.headers.some(([k, v]) => k === 'content-type' && /charset=(?!"?utf-8)/i.test(v))) t.push('charset');
  return t.length ? t : ['?'];
}

/** Failures of one cause share a class: 5xx by route and trigger, the rest by the body they got. */
function failureClass(req: FuzzRequest, res: RawResponse, problem: string): string {
  if (res.status >= 500) return `${res.status} on ${req.method} ${req.route} [${triggers(req).join(', ')}]`;
  let sig = res.body.slice(0, 60);
  try {
    const b = JSON.parse(res.body);
    // Fastify's own error bodies name their code; their message repeats the URL.
    sig = b?.code
      ? `{code: ${b.code}}`
      : b?.error && !b.meta
        ? `{error: ${JSON.stringify(b.error)}, message: ${JSON.stringify(String(b.message).slice(0, 40))}}`
        : sig;
  } catch {
    /* not JSON: the first characters tell */
  }
  return `${res.status || '-'} ${problem}: ${sig || '(empty body)'}`;
}
const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

before(async () => {
  const t0 = Date.now();
  server = await startTestServer({ env: { DEMO_DATA: 'on', SIGNATURE_TRUST: 'any-test-ca' } });
  port = Number(new URL(server.url).port);
  const tServer = Date.now() - t0;
  w = await seedWorld(server);
  mis = await misOf(server, w);
  const demo = server.runtime.sandbox?.demo;
  assert.ok(demo, 'demo credentials');

  // Domain state for the fuzzer to land on: a PRELIMINARY composition, a FINAL one, their jobs.
  const signer = await makeSigner({ taxId: w.authorTaxId });
  const draft = await createDone(mis, createBody(w));
  const final = await createDone(mis, createBody(w, { category: 'PARENTAL_CARE', focus: { type: 'person', id: w.motherId } }));
  const signed = await mis.call('PATCH', `/api/patients/composition/${final.id}/sign`, {
    body: { data: await signCms(signer, JSON.stringify(final.document)) },
  });
  assert.equal(signed.status, 202, signed.text);
  assert.equal((await pollJob(mis, signed.body.data.id)).body.data.status, 'DONE');
  const tDomain = Date.now() - t0;
  const jobs = (await server.runtime.platform.db.query<{ id: string }>('SELECT id FROM composition_jobs')).rows.map((r) => r.id);

  const reason = {
    coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_PATIENT' }],
    text: 'Wrong patient',
  };
  const cms = [
    await signCms(signer, JSON.stringify(draft.document)),
    await signCms(signer, JSON.stringify({ id: final.id, reason })),
    await signCms(
      signer,
      JSON.stringify({ id: final.id, reason: { coding: [{ system: 'x', code: 'a\u0000b' }], text: 'a'.repeat(5000) } }),
    ),
    await signCms(signer, '{"a":[[[[[[[[[[1]]]]]]]]]]}'),
    await signCms(signer, 'not json \u0000'),
    await signCms(signer, JSON.stringify(draft.document), { corruptSignature: true }),
    await signCms(signer, JSON.stringify(draft.document), { detached: true }),
    Buffer.from(JSON.stringify(draft.document)).toString('base64'),
  ];

  const mrIds = [
    DEMO.mrOtpId,
    DEMO.mrThirdPersonId,
    DEMO.mrOfflineId,
    DEMO.mrPlanId,
    DEMO.mrRejectedId,
    DEMO.mrNoSmsProgramId,
    DEMO.mrNoCodeId,
  ];
  const known: Record<string, string[]> = {
    patientId: [w.personId, w.motherId, w.prepersonId, DEMO.personOtpId],
    encounterId: [w.encounterId, w.motherEncounterId, DEMO.encounterId],
    episodeId: [w.episodeId, DEMO.episodeId],
    asyncJobId: jobs,
    compositionId: [draft.id, final.id],
    mrId: [...mrIds, requestNumberFor(DEMO.mrOtpId), requestNumberFor(DEMO.mrThirdPersonId)],
  };
  const uuids = [
    ...new Set(
      Object.values(known)
        .flat()
        .filter((x) => /^[0-9a-f-]{36}$/.test(x))
        .concat(w.legalEntityId, w.authorId, DEMO.legalEntityId, DEMO.doctorEmployeeId, mis.clientId),
    ),
  ];

  // Routes: every operation of the served document, and the unprefixed twin of an /api route when the server has it.
  // dereferenced: the schemas the bodies are drawn from are named components ($ref) in the served document
  const doc: any = await SwaggerParser.dereference((await server.call('GET', '/openapi.json')).body);
  ops = [];
  for (const [route, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(item)) {
      const base: Op = {
        method: method.toUpperCase(),
        route,
        params: (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name),
        query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema,
        admin: JSON.stringify(op.security ?? []).includes('adminKey'),
      };
      // a reset would wipe the world the other requests are made against (its bad input has its own
      // test in sandbox-controls.test.ts)
      if (base.method === 'POST' && route === '/admin/reset') continue;
      ops.push(base);
      if (op.responses?.['200']?.content?.['text/html'])
        htmlOps.add(`${base.method} ${route}`).add(`${base.method} ${route.replace(/^\/api\//, '/')}`);
      const twin = route.replace(/^\/api\//, '/');
      if (twin !== route && server.runtime.app!.hasRoute({ method: base.method as 'GET', url: twin.replace(/\{(\w+)\}/g, ':$1') })) {
        ops.push({ ...base, route: twin });
      }
    }
  }

  const tokens = {
    none: [] as [string, string][],
    world: [
      ['authorization', `Bearer ${mis.token}`],
      ['api-key', mis.secret],
    ] as [string, string][],
    demo: [
      ['authorization', `Bearer ${demo.token}`],
      ['api-key', demo.secret],
    ] as [string, string][],
    noScopes: await server.mis({ legalEntityId: w.legalEntityId, employeeId: w.authorId, scopes: [] }).then(
      (m) =>
        [
          ['authorization', `Bearer ${m.token}`],
          ['api-key', m.secret],
        ] as [string, string][],
    ),
    otherEntity: await misOf(server, w, w.otherLegalEntityId).then(
      (m) =>
        [
          ['authorization', `Bearer ${m.token}`],
          ['api-key', m.secret],
        ] as [string, string][],
    ),
    expired: await server.mis({ legalEntityId: w.legalEntityId, expiresIn: -10 }).then(
      (m) =>
        [
          ['authorization', `Bearer ${m.token}`],
          ['api-key', m.secret],
        ] as [string, string][],
    ),
    tokenOnly: [['authorization', `Bearer ${mis.token}`]] as [string, string][],
    garbage: [
      ['authorization', 'Bearer \u0000garbage'],
      ['api-key', 'x'.repeat(300)],
    ] as [string, string][],
    basic: [
      ['authorization', 'Basic YTpi'],
      ['api-key', mis.secret],
    ] as [string, string][],
    admin: [['x-admin-key', ADMIN_KEY]] as [string, string][],
    badAdmin: [['x-admin-key', 'nope']] as [string, string][],
  };

  const goodBodies: Record<string, unknown[]> = {
    'POST /api/patients/composition': [
      createBody(w),
      createBody(w, { category: 'PARENTAL_CARE', focus: { type: 'person', id: w.motherId } }),
      createBody(w, { subject: { type: 'preperson', id: w.prepersonId }, encounterId: w.prepersonEncounterId }),
      createBody(w, {
        extension: [
          { valueCode: 'INFORM_WITH', valueUuid: w.authMethodId },
          { valueCode: 'IS_ACCIDENT', valueBoolean: false },
        ],
      }),
      createBody(w, { end: null, start: '2026-13-45T99:99:99Z' }),
    ],
    'PATCH /api/patients/composition/{id}/sign': cms.map((data) => ({ data })),
    'PATCH /api/patients/composition/{id}/cancel': cms.map((data) => ({ data })),
    'POST /api/prepersons': [
      { external_id: 'FUZZ-1', gender: 'MALE' },
      {
        external_id: 'FUZZ-2',
        gender: 'FEMALE',
        birth_date: '1980-01-01',
        emergency_contact: { first_name: 'Петро', last_name: 'Іванов', phones: [{ type: 'MOBILE', number: '+380503410870' }] },
        note: 'fuzz',
      },
    ],
    'PATCH /api/prepersons/{id}': [
      { first_name: 'Іван', birth_date: '1980-01-01' },
      { external_id: 'FUZZ-3', gender: 'FEMALE' },
    ],
    'POST /admin/clients': [
      { name: 'Fuzz MIS', legal_entity_id: w.legalEntityId },
      { name: 'Fuzz MIS 2', legal_entity_id: null, secret: 'fuzz-secret-1' },
    ],
    'POST /admin/tokens': [{ client_id: mis.clientId, employee_id: w.authorId, scopes: ['composition:create'], expires_in: 3600 }],
    'POST /admin/fixtures': [
      { legal_entities: [{ id: '6f1f7c2e-0000-4000-8000-000000000001', name: 'Fuzz clinic', edrpou: '12345678' }] },
      {
        persons: [
          {
            id: '6f1f7c2e-0000-4000-8000-000000000002',
            birth_date: '1990-01-01',
            authentication_methods: [{ type: 'OTP', phone_number: '+380501112233' }],
          },
        ],
        encounters: [
          {
            id: '6f1f7c2e-0000-4000-8000-000000000003',
            person_id: '6f1f7c2e-0000-4000-8000-000000000002',
            legal_entity_id: w.legalEntityId,
            employee_id: w.authorId,
          },
        ],
      },
      // free-form jsonb fields (context, dosage_instruction) for the mutations to land in
      { medication_requests: [{ ...demoMedicationRequests()[0], id: '6f1f7c2e-0000-4000-8000-000000000004' }] },
    ],
  };
  const ctxFor = (op: Op) => ({ uuids, freshIds: op.route === '/admin/fixtures' });

  const knownFor = (op: Op, param: string) => {
    if (param === 'id')
      return /medication_requests/.test(op.route) ? known.mrId : /\/(pre)?persons\//.test(op.route) ? known.patientId : known.compositionId;
    return known[param] ?? uuids;
  };

  const queryValueArb = (op: Op, q: { name: string; schema: Schema }): fc.Arbitrary<string> => {
    const s = q.schema;
    if (s.type === 'integer') {
      return fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: (s.minimum ?? 0) - 2, max: (s.maximum ?? 200) + 2 }).map(String) },
        { weight: 3, arbitrary: fc.constantFrom(...BAD_NUMBERS) },
        { weight: 1, arbitrary: fc.bigInt().map(String) },
      );
    }
    if (s.type === 'boolean') return fc.constantFrom('true', 'false', '1', '0', 'yes', '', 'TRUE', '%00');
    const hints: Record<string, string[]> = {
      type: ['TEMP_DISABILITY', 'MVTN', 'x'],
      status: ['PRELIMINARY', 'FINAL', 'ENTERED_IN_ERROR', 'sent', 'pending'],
      name: ['COMPOSITION_TYPES', 'MEDICATION_REQUEST_INTENT', 'eHealth/resources'],
      entity_name: ['medication_request', 'composition'],
      phone_number: ['+380501112233', '%2B380501112233'],
      entity_id: [DEMO.mrOtpId],
      subject: known.patientId,
      focus: known.patientId,
      encounter: known.encounterId,
      episodeOfCare: known.episodeId,
    };
    return wireValueArb([...(hints[q.name] ?? []), ...(s.format === 'uuid' ? uuids : ['x'])]);
  };

  const EXTRA_QUERY = [
    'unknown=1',
    'limit=1&limit=2',
    'offset=1&offset=x',
    '&&&',
    '=',
    '==1',
    'a=%',
    'api_key=secret',
    '%00=1',
    'limit',
    'limit[]=1',
    'page[size]=1',
    `q=${'x'.repeat(9000)}`,
    '%zz=1',
  ];

  const headersArb = (op: Op): fc.Arbitrary<[string, string][]> => {
    const auth = op.admin
      ? fc.oneof({ weight: 12, arbitrary: fc.constant(tokens.admin) }, fc.constantFrom(tokens.none, tokens.badAdmin, tokens.world))
      : fc.oneof(
          { weight: 10, arbitrary: fc.constant(tokens.world) },
          { weight: 3, arbitrary: fc.constant(tokens.demo) },
          fc.constantFrom(
            tokens.none,
            tokens.noScopes,
            tokens.otherEntity,
            tokens.expired,
            tokens.tokenOnly,
            tokens.garbage,
            tokens.basic,
            tokens.admin,
          ),
        );
    const extra = fc.oneof(
      { weight: 10, arbitrary: fc.constant([] as [string, string][]) },
      fc.constantFrom<[string, string][]>(
        [['x-request-id', 'fuzz-1']],
        [['x-request-id', 'x'.repeat(500)]],
        [['x-request-id', 'a b\u0001']],
        [['accept', 'text/html']],
        [['accept-charset', 'windows-1251']],
        [['x-fuzz', 'h'.repeat(20_000)]],
        [
          ['authorization', 'Bearer a'],
          ['authorization', 'Bearer b'],
        ],
        [
          ['api-key', 'a'],
          ['api-key', 'b'],
        ],
        [['transfer-encoding', 'identity']],
        [['x-custom-psk', '\u00ff']],
        [['cookie', 'a=b'.repeat(100)]],
      ),
    );
    return fc.tuple(auth, extra).map(([a, e]) => [...a, ...e]);
  };

  const bodyArb = (op: Op): fc.Arbitrary<{ body?: Buffer; contentType?: string; note: string }> => {
    const good = goodBodies[`${op.method} ${op.route.replace(/^\/(?!api\/|admin\/)/, '/api/')}`] ?? [];
    const values: fc.Arbitrary<{ v: unknown; note: string }>[] = [];
    if (good.length) {
      values.push(fc.constantFrom(...good).map((v) => ({ v, note: 'valid' })));
      values.push(
        fc
          .tuple(
            fc.constantFrom(...good),
            fc.nat(),
            fc.constantFrom('replace', 'delete', 'add') as fc.Arbitrary<'replace' | 'delete' | 'add'>,
            wrongValueArb,
          )
          .map(([v, pick, how, r]) => ({ v: mutate(v, pick, how, r), note: `valid, ${how} at path #${pick}` })),
        fc
          .tuple(
            fc.constantFrom(...good),
            fc.nat(),
            fc.constantFrom('replace', 'delete', 'add') as fc.Arbitrary<'replace' | 'delete' | 'add'>,
            wrongValueArb,
          )
          .map(([v, pick, how, r]) => ({ v: mutate(v, pick, how, r), note: `valid, ${how} at path #${pick}` })),
      );
    }
    if (op.body) values.push(schemaArb(op.body, ctxFor(op)).map((v) => ({ v, note: 'from schema' })));
    values.push(wrongValueArb.map((v) => ({ v, note: 'wrong value' })));
    const text = fc.oneof(
      { weight: 12, arbitrary: fc.oneof(...values).map(({ v, note }) => ({ text: toJson(v), note })) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.oneof(...values), fc.double({ min: 0, max: 1, noNaN: true })).map(([{ v, note }, at]) => {
          const t = toJson(v);
          return { text: t.slice(0, Math.floor(t.length * at)), note: `${note}, truncated` };
        }),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            '',
            ' ',
            'null',
            'undefined',
            '{',
            '{"a":',
            'a=1&b=2',
            '<xml/>',
            '\u0000',
            '[]',
            '"x"',
            '1',
            'true',
            '{"a":1}{"b":2}',
            '{"__proto__":{"x":1}}',
            '{"constructor":{"prototype":{"x":1}}}',
            '{"data":"\\ud800"}',
            '{"a":1e999999}',
            `{"a":${'9'.repeat(400)}}`,
          )
          .map((t) => ({ text: t, note: 'raw text' })),
      },
    );
    const encoding = fc.oneof(
      { weight: 12, arbitrary: fc.constant<BodyEncoding>('utf8') },
      fc.constantFrom<BodyEncoding>('latin1', 'utf16le', 'invalid-utf8', 'bom'),
    );
    const contentType = fc.oneof(
      { weight: 12, arbitrary: fc.constant<string | undefined>('application/json') },
      { weight: 1, arbitrary: fc.constant<string | undefined>(undefined) },
      fc.constantFrom<string | undefined>(...CONTENT_TYPES),
    );
    const withBody = fc
      .tuple(text, encoding, contentType)
      .map(([t, e, ct]) => ({ body: encodeBody(t.text, e), contentType: ct, note: `${t.note}${e === 'utf8' ? '' : `, ${e}`}` }));
    if (op.body) return withBody;
    // Routes without a body also get one now and then.
    return fc.oneof({ weight: 6, arbitrary: fc.constant({ note: 'no body' }) }, { weight: 1, arbitrary: withBody });
  };

  // Ids that belong together, so that a share of the requests finds what it asks for.
  const coherent: Record<string, string>[] = [
    { patientId: w.personId, encounterId: w.encounterId, episodeId: w.episodeId, id: draft.id, asyncJobId: jobs[0] },
    { patientId: w.personId, encounterId: w.encounterId, episodeId: w.episodeId, id: final.id, asyncJobId: jobs[jobs.length - 1] },
    {
      patientId: DEMO.personOtpId,
      encounterId: DEMO.encounterId,
      episodeId: DEMO.episodeId,
      id: DEMO.mrOtpId,
      asyncJobId: jobs[1] ?? jobs[0],
    },
  ];
  const validQueryValueArb = (q: { name: string; schema: Schema }): fc.Arbitrary<string> => {
    const s = q.schema;
    if (s.type === 'integer') return fc.integer({ min: s.minimum ?? 0, max: Math.min(s.maximum ?? 200, 200) }).map(String);
    if (s.type === 'boolean') return fc.constantFrom('true', 'false');
    const byName: Record<string, string[]> = {
      subject: [w.personId],
      focus: [w.personId, w.motherId],
      encounter: [w.encounterId],
      episodeOfCare: [w.episodeId],
      type: ['TEMP_DISABILITY'],
      status: ['PRELIMINARY', 'FINAL'],
      name: ['COMPOSITION_TYPES'],
      entity_name: ['medication_request'],
      entity_id: [DEMO.mrOtpId],
    };
    return fc.constantFrom(...(byName[q.name] ?? ['x']));
  };

  const requestArb = (op: Op): fc.Arbitrary<FuzzRequest> => {
    const segments = op.params.map((p) => wireValueArb(knownFor(op, p)));
    const fill = (vals: Record<string, string>) => op.route.replace(/\{(\w+)\}/g, (_m, name: string) => vals[name]);
    const path = fc.oneof(
      { weight: 5, arbitrary: fc.tuple(...segments).map((vals) => fill(Object.fromEntries(op.params.map((p, i) => [p, vals[i]])))) },
      {
        weight: op.params.length ? 2 : 0,
        arbitrary: fc
          .constantFrom(...coherent)
          .map((c) =>
            fill({ ...c, id: /medication_requests/.test(op.route) ? DEMO.mrOtpId : /\/persons\//.test(op.route) ? c.patientId : c.id }),
          ),
      },
    );
    const fuzzedQuery = fc
      .tuple(
        fc.tuple(
          ...op.query.map((q) =>
            fc.option(
              queryValueArb(op, q).map((v) => `${q.name}=${v}`),
              { freq: 2 },
            ),
          ),
        ),
        fc.option(fc.constantFrom(...EXTRA_QUERY), { freq: 4 }),
      )
      .map(([qs, extra]) => [...qs.filter((x): x is string => x !== null), ...(extra ? [extra] : [])]);
    const validQuery = fc
      .tuple(
        ...op.query.map((q) =>
          fc.option(
            validQueryValueArb(q).map((v) => `${q.name}=${v}`),
            { freq: 2 },
          ),
        ),
      )
      .map((qs) => qs.filter((x): x is string => x !== null));
    const query = fc
      .oneof({ weight: 5, arbitrary: fuzzedQuery }, { weight: op.query.length ? 2 : 0, arbitrary: validQuery })
      .map((parts) => (parts.length ? `?${parts.join('&')}` : ''));
    const method = fc.oneof(
      { weight: 30, arbitrary: fc.constant(op.method) },
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
    );
    return fc.tuple(method, path, query, headersArb(op), bodyArb(op)).map(([m, p, q, h, b]) => ({
      method: m,
      documented: m === op.method,
      route: op.route,
      path: p + q,
      headers: b.contentType && b.body ? [...h, ['content-type', b.contentType]] : h,
      body: b.body,
      note: b.note,
    }));
  };
  // Paths not of the document and a few raw oddities of the request line.
  const strays = fc
    .constantFrom(
      '/',
      '/api',
      '/api/',
      '/admin',
      '//api//patients',
      '/api/patients/%',
      '/api/patients/composition/',
      '/API/dictionaries',
      '/api/dictionaries/..%2F..%2Fetc',
      `/${enc('пацієнт')}`,
    )
    .map((p): FuzzRequest => ({ method: 'GET', route: '(stray)', documented: true, path: p, headers: tokens.world, note: 'stray path' }));
  arb = fc.oneof({ weight: 40, arbitrary: fc.constantFrom(...ops).chain(requestArb) }, { weight: 1, arbitrary: strays });
  void textArb;
  console.log(`fuzz: set-up ${Date.now() - t0} ms (server ${tServer} ms, compositions by ${tDomain} ms)`);
});

after(async () => {
  await server?.close();
});

function show(req: FuzzRequest, res: RawResponse) {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  return {
    request: {
      method: req.method,
      path: cut(req.path, 200),
      headers: req.headers.map(([k, v]) => `${k}: ${cut(v, 60)}`),
      body: req.body ? cut(req.body.toString('utf8'), 200) : undefined,
      body_bytes: req.body?.length,
      generator: req.note,
    },
    response: { status: res.status, error: res.error, body: cut(res.body, 200) },
  };
}

test(
  `fuzz every route of /openapi.json: never a 5xx, always the ESOZ envelope (${backend}, seed ${SEED})`,
  { timeout: TIME_MS + 120_000 },
  async () => {
    console.log(`fuzz: ${backend}, seed ${SEED}, up to ${RUNS} requests or ${TIME_MS} ms, over ${ops.length} operations`);
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(arb, async (req) => {
        const run = stat.requests++;
        const t0 = performance.now();
        const res = await sendRaw(port, req, REQUEST_TIMEOUT_MS);
        // a composition-job fault that was accepted would fail the jobs the check below looks at
        if (req.route === '/admin/faults' && res.status === 200) await server.runtime.platform.services.get(FAULTS).clear();
        const took = performance.now() - t0;
        stat.sendMs += took;
        if (took > 250)
          stat.slow.push({
            ms: Math.round(took),
            what: `${req.method} ${req.path.slice(0, 80)} (${req.note}, ${req.body?.length ?? 0} bytes) → ${res.status}`,
          });
        bump(stat.statuses, res.status);
        const routeKey = req.documented ? `${req.method} ${req.route}` : `(other methods) ${req.route}`;
        const route = stat.perRoute.get(routeKey) ?? { sent: 0, pastAuth: 0, ok: 0 };
        route.sent++;
        if (res.status !== 401 && res.status !== 0) route.pastAuth++;
        if (res.status >= 200 && res.status < 300) route.ok++;
        stat.perRoute.set(routeKey, route);
        try {
          const t = JSON.parse(res.body)?.error?.type;
          if (t) bump(stat.errorTypes, `${res.status} ${t}`);
        } catch {
          /* counted by envelopeProblem */
        }
        const html =
          res.status === 200 && htmlOps.has(`${req.method} ${req.route}`) && /^text\/html/.test(res.headers['content-type'] ?? '');
        const problem = html ? undefined : envelopeProblem(res);
        if (problem) {
          const key = failureClass(req, res, problem);
          const f = failures.get(key) ?? { count: 0, routes: new Set<string>(), examples: [] };
          f.count++;
          const route = `${req.method} ${req.route}`;
          if (!f.routes.has(route) && f.examples.length < 3) f.examples.push({ run, req, res });
          f.routes.add(route);
          failures.set(key, f);
        }
        return true;
      }),
      { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_MS, markInterruptAsFailure: false, endOnFailure: true },
    );
    stat.ms = Date.now() - started;

    // The process is still serving, and no async job died of an unexpected error.
    const live = await sendRaw(
      port,
      { method: 'GET', route: '/health/live', path: '/health/live', headers: [], note: '' },
      REQUEST_TIMEOUT_MS,
    );
    assert.equal(live.status, 200, 'the server still answers /health/live');
    const brokenJobs = (
      await server.runtime.platform.db.query<{ id: string; attempts: number; error: unknown }>(
        `SELECT id, attempts, error FROM composition_jobs WHERE attempts > 1 OR error->>'type' = 'INTERNAL_ERROR'`,
      )
    ).rows;

    const statuses = [...stat.statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    console.log(
      `fuzz: ${stat.requests} requests in ${(stat.ms / 1000).toFixed(1)} s (${Math.round(stat.requests / (stat.ms / 1000))}/s); statuses ${statuses}`,
    );
    console.log(
      `fuzz: ${Math.round(stat.sendMs)} ms waiting for responses; slowest: ${stat.slow
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 5)
        .map((x) => `${x.ms} ms ${x.what}`)
        .join('; ')}`,
    );
    console.log(
      `fuzz: error types ${[...stat.errorTypes]
        .sort((a, b) => b[1] - a[1])
        .map(([t, n]) => `${t} ×${n}`)
        .join(', ')}`,
    );
    for (const [r, c] of [...stat.perRoute].sort()) console.log(`fuzz:   ${r}: ${c.sent} sent, ${c.pastAuth} past auth, ${c.ok} 2xx`);

    // Every operation of the document was exercised past authentication.
    for (const op of ops) {
      const c = stat.perRoute.get(`${op.method} ${op.route}`);
      assert.ok(c && c.pastAuth > 0, `${op.method} ${op.route} was not fuzzed past auth (${JSON.stringify(c)})`);
    }

    if (failures.size || brokenJobs.length) {
      const file = join(tmpdir(), `esoz-fuzz-failures-${backend}-${SEED}.json`);
      const all = [...failures].map(([key, f]) => ({
        key,
        count: f.count,
        routes: [...f.routes],
        examples: f.examples.map(({ run, req }) => ({
          run,
          method: req.method,
          path: req.path,
          headers: req.headers,
          body_base64: req.body?.toString('base64'),
          generator: req.note,
        })),
      }));
      writeFileSync(file, JSON.stringify({ seed: SEED, backend, failures: all, brokenJobs }, null, 2));
      const lines = [...failures]
        .sort()
        .map(
          ([key, f]) =>
            `\n● ${key} (×${f.count} on ${f.routes.size} routes: ${[...f.routes].slice(0, 4).join(', ')}${f.routes.size > 4 ? ', …' : ''})\n${f.examples.map((e) => `  run ${e.run}: ${JSON.stringify(show(e.req, e.res))}`).join('\n')}`,
        );
      assert.fail(
        `${[...failures.values()].reduce((n, f) => n + f.count, 0)} bad responses in ${failures.size} classes of ${stat.requests} requests` +
          `${brokenJobs.length ? `; ${brokenJobs.length} composition jobs failed unexpectedly: ${JSON.stringify(brokenJobs.slice(0, 3))}` : ''}` +
          ` (seed ${SEED}; full requests in ${file})${lines.join('')}`,
      );
    }
  },
);
