/**
 * Sandbox admin API (x-admin-key): fixtures, MIS clients and tokens, the SMS inbox, the request journal,
 * faults, reset and a test signer. Not part of ESOZ: it stands in for the registries and the gateway an
 * MIS cannot reach in a sandbox, and lets an MIS developer look inside and break things on purpose.
 */
import { Type } from 'typebox';
import type { RoutesPlugin } from '../platform/platform.ts';
import { sendData, dataEnvelope, errorResponses, pageEnvelope } from '../platform/http/envelope.ts';
import { conflict, invalidField, validationFailed } from '../platform/errors.ts';
import { ALL_SCOPES } from '../platform/scopes.ts';
import { FAULTS, FaultsState } from '../platform/faults.ts';
import { journalEnabled, requestJournalKey } from '../platform/http/journal.ts';
import { trustModeOf } from '../platform/signature.ts';
import { TASK_ERRORS } from '../compositions/model.ts';
import { HTTP_ADAPTER_CONTROLS, simulatorOf } from '../erln/capability.ts';
import { SimSettingsPatch, applySettingsPatch } from '../erln/sim-controls.ts';
import { SimSettings } from '../erln/simulator.ts';
import { applyFixtures, fixtureKinds, fixturesBodySchema } from './fixtures.ts';
import { deleteSms, exists, smsPage } from './sandbox-store.ts';
import { resetSandbox } from './reset.ts';
import { SANDBOX_SIGNER } from './signer.ts';

const Uuid = Type.String({ format: 'uuid' });

const ClientBody = Type.Object(
  {
    id: Type.Optional(Uuid),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    legal_entity_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    secret: Type.Optional(Type.String({ minLength: 8, maxLength: 255 })),
  },
  { additionalProperties: false },
);

const TokenBody = Type.Object(
  {
    client_id: Uuid,
    user_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    employee_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    scopes: Type.Array(Type.String({ minLength: 1 })),
    // a negative value issues an already expired token (to test the 401 of an MIS)
    expires_in: Type.Optional(Type.Integer({ minimum: -86400, maximum: 10 * 365 * 86400 })),
  },
  { additionalProperties: false },
);

const SmsFilter = {
  phone_number: Type.Optional(Type.String({ maxLength: 32 })),
  entity_id: Type.Optional(Type.String({ maxLength: 64 })),
  entity_name: Type.Optional(Type.String({ maxLength: 64 })),
  status: Type.Optional(Type.String({ maxLength: 32 })),
};

const SmsQuery = Type.Object(
  {
    ...SmsFilter,
    // (page - 1) × page_size stays far inside PostgreSQL's bigint OFFSET
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
    page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  },
  { additionalProperties: false },
);

const JournalQuery = Type.Object(
  {
    method: Type.Optional(Type.String({ maxLength: 10 })),
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    path: Type.Optional(Type.String({ maxLength: 500, description: 'a part of the path' })),
    client_id: Type.Optional(Uuid),
    error_type: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

const ResetBody = Type.Object(
  { demo: Type.Optional(Type.Boolean({ default: true, description: 'load the demo data again (false: leave the sandbox empty)' })) },
  { additionalProperties: false },
);

const FaultsPatch = Type.Object(
  {
    sms: Type.Optional(Type.Partial(FaultsState.properties.sms, { additionalProperties: false })),
    composition_jobs: Type.Optional(
      Type.Partial(
        Type.Object({
          ...FaultsState.properties.composition_jobs.properties,
          error_type: Type.Union(
            Object.keys(TASK_ERRORS).map((t) => Type.Literal(t)),
            { description: 'a composition task error name; the job error carries its code' },
          ),
        }),
        { additionalProperties: false },
      ),
    ),
    erln: Type.Optional(SimSettingsPatch),
  },
  { additionalProperties: false },
);

const SignBody = Type.Object(
  {
    content: Type.Union([Type.String({ maxLength: 1024 * 1024 }), Type.Object({}, { additionalProperties: true })], {
      description: 'what to sign: a JSON text (signed byte for byte) or a JSON object (signed as JSON.stringify gives it)',
    }),
    tax_id: Type.String({
      pattern: '^[0-9]{10}$|^[А-ЯІЇЄҐ]{2}[0-9]{6}$|^[0-9]{9}$',
      description: "the signer's tax id (РНОКПП) or passport",
    }),
  },
  { additionalProperties: false },
);

/** The 422 every admin route with a body or a query may answer. */
const INVALID = 'validation_failed: a field is missing, of the wrong type, out of range or unknown';

// What the admin routes answer (OpenAPI and the typed client; the tests check every answer against them).
const DateTime = Type.String({ format: 'date-time' });
const NullableUuid = Type.Union([Uuid, Type.Null()]);

const ClientView = Type.Object(
  { id: Uuid, name: Type.String(), legal_entity_id: NullableUuid, secret: Type.String({ description: 'the api-key of the client' }) },
  { additionalProperties: false, title: 'SandboxClient' },
);

const TokenView = Type.Object(
  { access_token: Type.String(), expires_at: DateTime },
  { additionalProperties: false, title: 'SandboxToken' },
);

const SmsMessageView = Type.Object(
  {
    id: Uuid,
    phone_number: Type.String(),
    body: Type.String({ description: 'the text as the gateway gets it (a verification code included)' }),
    status: Type.String({ description: 'NEW, SENT or FAILED' }),
    entity_name: Type.String({ description: 'what the SMS is about: medication_request, composition, …' }),
    entity_id: Type.String(),
    tries: Type.Integer(),
    inserted_at: DateTime,
    sent_at: Type.Union([DateTime, Type.Null()]),
  },
  { additionalProperties: false, title: 'SandboxSms' },
);

const JournalEntryView = Type.Object(
  {
    seq: Type.Integer(),
    at: DateTime,
    request_id: Type.String(),
    method: Type.String(),
    path: Type.String(),
    status: Type.Integer(),
    latency_ms: Type.Number(),
    client_id: Type.Union([Type.String(), Type.Null()]),
    error_type: Type.Union([Type.String(), Type.Null()], { description: '`error.type` of an ESOZ error answer' }),
    request_body: Type.Unknown({ description: 'phones, codes and tokens redacted' }),
    response_body: Type.Unknown({ description: 'phones, codes and tokens redacted' }),
  },
  { additionalProperties: false, title: 'JournalEntry' },
);

const FaultsView = Type.Object(
  {
    ...FaultsState.properties,
    erln: Type.Union([SimSettings, Type.Null()]),
  },
  {
    additionalProperties: false,
    title: 'SandboxFaults',
    description: 'The faults set; erln: the ERLN simulator, null when this server talks to a real ERLN (ERLN_ADAPTER=http)',
  },
);

/** The sandbox admin API (x-admin-key), registered under `/admin`. */
export const adminRoutes: RoutesPlugin = async (app, { platform }) => {
  const { db, auth } = platform;

  app.post(
    '/fixtures',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminUpsertFixtures',
        summary: 'Upsert registry and capability rows (one transaction)',
        body: fixturesBodySchema(fixtureKinds(platform)),
        response: {
          200: dataEnvelope(
            Type.Record(Type.String(), Type.Array(Type.String()), { description: 'the ids written, by kind' }),
            'The fixtures are in',
          ),
          ...errorResponses({
            422: 'validation_failed: an item does not fit its kind, or names a row that does not exist (every bad item listed; nothing is kept)',
          }),
        },
      },
      // no body at all is an empty set of fixtures
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => sendData(request, reply, await applyFixtures(platform, request.body)),
  );

  app.post(
    '/clients',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminCreateClient',
        summary: 'Create (or replace) an MIS client',
        body: ClientBody,
        response: {
          200: dataEnvelope(ClientView, 'The client, replaced'),
          201: dataEnvelope(ClientView, 'The client, created'),
          ...errorResponses({ 422: `${INVALID}; Legal entity not found` }),
        },
      },
    },
    async (request, reply) => {
      const { body } = request;
      if (body.legal_entity_id) {
        if (!(await exists(db, 'legal_entities', body.legal_entity_id))) {
          throw validationFailed([invalidField('$.legal_entity_id', 'Legal entity not found')]);
        }
      }
      const existed = body.id ? await exists(db, 'mis_clients', body.id) : false;
      const client = await auth.createClient({
        id: body.id,
        name: body.name,
        legalEntityId: body.legal_entity_id ?? null,
        secret: body.secret,
      });
      return sendData(
        request,
        reply,
        { id: client.id, name: body.name, legal_entity_id: body.legal_entity_id ?? null, secret: client.secret },
        {
          status: existed ? 200 : 201,
        },
      );
    },
  );

  app.post(
    '/tokens',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminIssueToken',
        summary: 'Issue an access token for a client',
        body: TokenBody,
        response: {
          201: dataEnvelope(TokenView, 'The token'),
          ...errorResponses({ 404: 'not_found: Client not found', 422: `${INVALID}; unknown scope …; Employee not found` }),
        },
      },
    },
    async (request, reply) => {
      const { body } = request;
      // a token for a scope no route checks would only ever answer 403: refuse it at issue time
      const unknown = body.scopes.flatMap((s, i) => ((ALL_SCOPES as readonly string[]).includes(s) ? [] : [i]));
      if (unknown.length) {
        throw validationFailed(
          unknown.map((i) => invalidField(`$.scopes[${i}]`, `unknown scope ${body.scopes[i]}`, 'inclusion', [...ALL_SCOPES])),
        );
      }
      if (body.employee_id) {
        if (!(await exists(db, 'employees', body.employee_id)))
          throw validationFailed([invalidField('$.employee_id', 'Employee not found')]);
      }
      const token = await auth.issueToken({
        clientId: body.client_id,
        userId: body.user_id ?? null,
        employeeId: body.employee_id ?? null,
        scopes: [...new Set(body.scopes)],
        expiresIn: body.expires_in,
      });
      return sendData(request, reply, token, { status: 201 });
    },
  );

  app.get(
    '/sms',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminListSms',
        summary: 'SMS outbox, newest first',
        querystring: SmsQuery,
        response: { 200: pageEnvelope(SmsMessageView, 'A page of the SMS outbox'), ...errorResponses({ 422: `${INVALID} (query)` }) },
      },
    },
    async (request, reply) => {
      const { page = 1, page_size: pageSize = 50, ...filter } = request.query;
      const { total, rows } = await smsPage(db, filter, page, pageSize);
      return sendData(request, reply, rows, {
        paging: { page_number: page, page_size: pageSize, total_entries: total, total_pages: Math.max(1, Math.ceil(total / pageSize)) },
      });
    },
  );

  app.delete(
    '/sms',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminDeleteSms',
        summary: 'Empty the SMS inbox (the messages matching the filters)',
        querystring: Type.Object(SmsFilter, { additionalProperties: false }),
        response: {
          200: dataEnvelope(Type.Object({ deleted: Type.Integer() }, { additionalProperties: false }), 'How many were deleted'),
          ...errorResponses({ 422: `${INVALID} (query)` }),
        },
      },
    },
    async (request, reply) => sendData(request, reply, { deleted: await deleteSms(db, request.query) }),
  );

  app.get(
    '/requests',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminListRequests',
        summary: 'The request journal of this process, newest first (bodies with phones, codes and tokens redacted)',
        querystring: JournalQuery,
        response: {
          200: dataEnvelope(Type.Array(JournalEntryView), 'The entries, newest first'),
          ...errorResponses({
            409: 'request_conflict: The request journal is off (REQUEST_JOURNAL=on turns it on)',
            422: `${INVALID} (query)`,
          }),
        },
      },
    },
    async (request, reply) => {
      if (!journalEnabled(platform.config)) throw conflict('The request journal is off (REQUEST_JOURNAL=on turns it on)');
      return sendData(request, reply, platform.services.get(requestJournalKey).list(request.query));
    },
  );

  app.delete(
    '/requests',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminDeleteRequests',
        summary: 'Empty the request journal of this process',
        response: { 200: dataEnvelope(Type.Object({ cleared: Type.Literal(true) }, { additionalProperties: false }), 'Emptied') },
      },
    },
    async (request, reply) => {
      platform.services.get(requestJournalKey).clear();
      return sendData(request, reply, { cleared: true });
    },
  );

  app.post(
    '/reset',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminReset',
        summary: 'Back to the demo state (or empty): domain data, queued jobs, SMS and faults; clients and tokens are kept',
        body: ResetBody,
        response: {
          200: dataEnvelope(Type.Object({ demo: Type.Boolean() }, { additionalProperties: false }), 'Reset; demo: the demo data is back'),
          ...errorResponses({ 422: INVALID }),
        },
      },
      // no body at all is the default reset (back to the demo)
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => sendData(request, reply, await resetSandbox(platform, { demo: request.body.demo ?? true })),
  );

  /** The faults as set now; `erln` is null when this server talks to a real ERLN (ERLN_ADAPTER=http). */
  const faultsView = async () => {
    const own = await platform.services.get(FAULTS).current();
    let erln = null;
    if (platform.config.ERLN_ADAPTER !== 'http') erln = await simulatorOf(platform).store.settings();
    return { ...own, erln };
  };

  app.get(
    '/faults',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminGetFaults',
        summary: 'The faults set: SMS gateway, composition jobs, ERLN',
        response: { 200: dataEnvelope(FaultsView, 'The faults') },
      },
    },
    async (request, reply) => sendData(request, reply, await faultsView()),
  );

  app.put(
    '/faults',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminSetFaults',
        summary: 'Set faults: SMS gateway down/slow/fail_next, composition jobs slow/fail_next with a task error, ERLN as PUT /admin/erln',
        body: FaultsPatch,
        response: {
          200: dataEnvelope(FaultsView, 'The faults set now'),
          ...errorResponses({
            409: 'request_conflict: erln given while ERLN_ADAPTER=http (set faults on the ERLN simulator itself)',
            422: INVALID,
          }),
        },
      },
    },
    async (request, reply) => {
      const { erln, ...own } = request.body;
      if (erln) {
        if (platform.config.ERLN_ADAPTER === 'http') throw conflict(HTTP_ADAPTER_CONTROLS);
        await applySettingsPatch(simulatorOf(platform).store, erln);
      }
      await platform.services.get(FAULTS).set(own);
      return sendData(request, reply, await faultsView());
    },
  );

  app.post(
    '/sign',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        operationId: 'adminSign',
        summary: 'Sign JSON with a test key for a tax id: the base64 CMS the sign and cancel routes take as {data}',
        body: SignBody,
        response: {
          200: dataEnvelope(
            Type.Object(
              { data: Type.String({ description: 'base64 (DER) CMS SignedData, the content attached' }) },
              { additionalProperties: false },
            ),
            'The CMS: send it as the body of the sign or cancel route',
          ),
          ...errorResponses({
            409: 'request_conflict: This server trusts only SIGNATURE_TRUST_ROOTS: a sandbox key would not be accepted (SIGNATURE_TRUST=any-test-ca)',
            422: `${INVALID}; tax_id is not a tax id (10 digits) or a passport`,
          }),
        },
      },
    },
    async (request, reply) => {
      if (trustModeOf(platform) !== 'any-test-ca') {
        throw conflict('This server trusts only SIGNATURE_TRUST_ROOTS: a sandbox key would not be accepted (SIGNATURE_TRUST=any-test-ca)');
      }
      const { content, tax_id: taxId } = request.body;
      const text = typeof content === 'string' ? content : JSON.stringify(content);
      return sendData(request, reply, { data: await platform.services.get(SANDBOX_SIGNER).sign(text, taxId) });
    },
  );
};
