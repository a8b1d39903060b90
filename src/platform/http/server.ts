/**
 * The Fastify app: ESOZ envelope everywhere, request ids, the gateway's auth order, strict
 * validation (unknown fields rejected, no coercion of bodies, every error reported), OpenAPI.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { Type } from 'typebox';
import { toEsozError, errorBody, normalisePublicUrl, errorEnvelope, MetaSchema } from './envelope.ts';
import { nameSchemas } from './openapi-document.ts';
import { postmanCollection } from './postman.ts';
import { EsozError, accessDenied, notFound, malformed, errorOfStatus, validationFailed } from '../errors.ts';
import { boundRequestSchema, boundedValidator, LazyValidators, nulEntries } from './bounds.ts';
import type { AuthContext, AuthService } from '../auth.ts';
import { loggerOptions } from '../logging.ts';
import type { Config } from '../config.ts';
import type { RequestJournal } from './journal.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scopes the route requires; presence makes the route protected (token → api-key → scopes). */
    scopes?: string[];
    /** Sandbox admin route: requires `x-admin-key`. */
    admin?: boolean;
  }
  interface FastifyInstance {
    /** Compiles the request validators no request has needed yet, in the background (bounds.ts LazyValidators). */
    warmValidators(): Promise<void>;
  }
  interface FastifyRequest {
    auth: AuthContext;
  }
}

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

const REQUEST_ID_RE = /^[\w\-.:#@/+=]{1,200}$/;

/** Body limit of a route that sets none; the routes that take a CMS (sign, cancel) set their own. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** The charsets a JSON body may declare (RFC 8259: JSON between systems is UTF-8). */
const UTF8_CHARSET = /^"?utf-?8"?$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * The envelope for a connection Node's HTTP parser refused before there was a request (bad request
 * line, header too large, request not received within the timeout): a raw response, then close.
 */
function clientErrorResponse(err: NodeJS.ErrnoException): EsozError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return errorOfStatus(408, 'Request timeout: the request was not received in full in time');
  if (err.code === 'HPE_HEADER_OVERFLOW') return errorOfStatus(431, 'Request header fields too large');
  return errorOfStatus(400, `Malformed HTTP request${err.code ? ` (${err.code})` : ''}`);
}

function makeAjv(coerce: boolean, allErrors = true) {
  const ajv = new Ajv({
    allErrors,
    removeAdditional: false,
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    strict: false,
    allowUnionTypes: true,
  });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  // PostgreSQL has no year 0 (and the service no use for one): such a date is a 422 here, not a failed cast later
  for (const name of ['date', 'date-time'] as const) {
    const base = fullFormats[name] as { validate: (s: string) => boolean; compare: (a: string, b: string) => number | undefined };
    ajv.addFormat(name, { type: 'string', validate: (s: string) => !s.startsWith('0000') && base.validate(s), compare: base.compare });
  }
  return ajv;
}

export interface HttpDeps {
  config: Config;
  auth: AuthService;
  logger?: boolean;
  /** Validate every response against its route's declared response schema; a mismatch is a 500 (tests). */
  checkResponses?: boolean;
  /** Where request logs go instead of stdout (tests read them). */
  logStream?: import('pino').DestinationStream;
  /** The sandbox's request journal (journal.ts); absent when REQUEST_JOURNAL is off. */
  journal?: RequestJournal;
}

/** A route's `schema.response` (Fastify types it `unknown`): the schemas by status code or `4xx`-style range. */
function isSchemaMap(v: unknown): v is Record<string, object | undefined> {
  return typeof v === 'object' && v !== null;
}

export async function createHttpApp(deps: HttpDeps): Promise<App> {
  const { config, auth } = deps;
  const publicUrl = normalisePublicUrl(config.PUBLIC_URL);
  const app = Fastify({
    logger: deps.logger === false ? false : { ...loggerOptions(config.LOG_LEVEL), ...(deps.logStream ? { stream: deps.logStream } : {}) },
    genReqId: (req) => {
      const sent = req.headers['x-request-id'];
      return typeof sent === 'string' && REQUEST_ID_RE.test(sent) ? sent : randomUUID();
    },
    // Health probes and metrics scrapes would drown the request log.
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      disableRequestLogging: (req: FastifyRequest) => req.url.startsWith('/health/') || req.url === '/metrics',
    }),
    bodyLimit: DEFAULT_BODY_LIMIT,
    // While closing, requests still arriving on busy keep-alive connections get a 503 in the
    // envelope from the onRequest hook below (Fastify's own 503 body is not the envelope).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // What one client can hold: a request (headers and body) must arrive within REQUEST_TIMEOUT_SECONDS
    // (then 408), its headers within at most 20 s, an idle keep-alive connection is closed after 72 s
    // (longer than the usual balancer's 60 s). The socket timeout is a last resort that must not cut
    // a slow answer short (a large fixture set on PGlite takes a while), so it is 10 minutes.
    requestTimeout: config.REQUEST_TIMEOUT_SECONDS * 1000,
    connectionTimeout: 600_000,
    // (no maxRequestsPerSocket: past it Node answers a bare 503 outside the envelope)
    keepAliveTimeout: 72_000,
    http: {
      headersTimeout: Math.min(config.REQUEST_TIMEOUT_SECONDS, 20) * 1000,
      // Node checks the two timeouts above this often (default 30 s, which would stretch them)
      connectionsCheckingInterval: 1000,
    },
    // The 422 is built from err.validation (envelope.ts); Fastify's default message joins every error into one string
    schemaErrorFormatter: (_errors, dataVar) => new Error(`${dataVar} is invalid`),
    // The router's own refusals (bad percent-encoding, a path parameter over 100 characters) in the envelope
    frameworkErrors: (err, request, reply: FastifyReply) => {
      const esoz = toEsozError(err, request);
      request.log.info({ status: esoz.status, type: esoz.type, code: err.code }, 'request rejected');
      reply
        .header('x-request-id', String(request.id))
        .code(esoz.status)
        .type('application/json; charset=utf-8')
        .send(errorBody(request, esoz));
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      // a reset connection has no one to answer; a response already under way cannot be replaced
      const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
        socket.destroy();
        return;
      }
      const esoz = clientErrorResponse(err);
      app.log.info({ status: esoz.status, code: err.code }, 'connection rejected');
      const body = JSON.stringify({
        meta: { code: esoz.status, url: publicUrl, type: 'object', request_id: randomUUID() },
        error: { type: esoz.type, message: esoz.message },
      });
      socket.end(
        `HTTP/1.1 ${esoz.status} ${STATUS_CODES[esoz.status]}\r\nConnection: close\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every request schema gets the default bounds (text length, list size, integer range) it does not set itself.
  app.addHook('onRoute', (route) => {
    if (!route.schema) return;
    const schema = { ...route.schema } as Record<string, unknown>;
    for (const part of ['body', 'querystring', 'params', 'headers']) {
      if (schema[part]) schema[part] = boundRequestSchema(schema[part]);
    }
    route.schema = schema as typeof route.schema;
  });

  // Bodies are validated strictly; path and query strings arrive as text, so they are coerced.
  // Bodies can be large: their validation is bounded (bounds.ts).
  const bodyAjv = makeAjv(false);
  const bodyFirstErrorAjv = makeAjv(false, false);
  const textAjv = makeAjv(true);
  // The every-error validator of a body is compiled only when a body fails: most routes never need it.
  const lazy = new LazyValidators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body'
      ? boundedValidator(
          lazy.wrap(() => bodyFirstErrorAjv.compile(schema)),
          lazy.wrap(() => bodyAjv.compile(schema), { warm: false }),
        )
      : lazy.wrap(() => textAjv.compile(schema)),
  );
  app.decorate('warmValidators', () => lazy.warm());

  // One JSON parser for every content type: actions without payload accept no body, {} or [];
  // clients that forget Content-Type still get their JSON read.
  app.removeAllContentTypeParsers();
  // A body is UTF-8: another declared charset is a 415, bytes that are not UTF-8 a 422, so nothing
  // decoded into U+FFFD is ever stored.
  const parseJson = (req: FastifyRequest, raw: Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const charset = /;\s*charset\s*=\s*([^;\s]*)/i.exec(req.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !UTF8_CHARSET.test(charset)) {
      return done(errorOfStatus(415, `Unsupported charset ${charset}: send the body in UTF-8`));
    }
    let body: string;
    try {
      body = utf8.decode(raw);
    } catch {
      return done(malformed('the body is not valid UTF-8'));
    }
    if (body.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (err) {
      return done(malformed((err as Error).message));
    }
    // Deeper values overflow the stack of whatever walks them next (JSON.stringify of a jsonb column: 500).
    if (nestedDeeperThan(value, MAX_JSON_DEPTH)) return done(malformed(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
    done(null, value);
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, parseJson);

  // PostgreSQL cannot store NUL (U+0000) in text: refused in any path, query or body string, for every route.
  app.addHook('preValidation', async (request) => {
    const invalid = [
      ...nulEntries(request.params, 'path_parameter'),
      ...nulEntries(request.query, 'query_parameter'),
      ...nulEntries(request.body, 'json_data_property'),
    ];
    if (invalid.length) throw validationFailed(invalid);
  });

  // Responses are written by JSON.stringify, in the order the code builds them: seed 003's field
  // order is part of the contract, and fast-json-stringify would move required fields first. The
  // declared response schemas document the API (OpenAPI); with checkResponses (the tests) every
  // response is validated against its route's schema, so the documentation cannot drift from the wire.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  if (deps.checkResponses) {
    const responseAjv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    (addFormats as unknown as (a: Ajv) => void)(responseAjv);
    // per app: its routes' schemas live as long as it does
    const compiled = new Map<object, ReturnType<Ajv['compile']>>();
    app.addHook('preSerialization', async (request, reply, payload) => {
      const responses = request.routeOptions.schema?.response;
      if (!isSchemaMap(responses)) return payload;
      const schema = responses[String(reply.statusCode)] ?? responses[`${String(reply.statusCode)[0]}xx`];
      if (!schema) return payload;
      let validate = compiled.get(schema);
      if (!validate) compiled.set(schema, (validate = responseAjv.compile(schema)));
      if (!validate(payload)) {
        throw new Error(
          `${request.method} ${request.url}: the ${reply.statusCode} response does not match its schema: ${responseAjv.errorsText(validate.errors)}`,
        );
      }
      return payload;
    });
  }

  app.decorate('publicUrl', publicUrl);
  app.decorateRequest('auth', null as unknown as AuthContext);

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', String(request.id));
    if (closing) {
      reply.header('connection', 'close');
      throw errorOfStatus(503, 'The server is shutting down: retry the request');
    }
    const routeConfig = request.routeOptions.config;
    if (routeConfig?.admin) {
      const key = request.headers['x-admin-key'];
      if (!config.ADMIN_KEY || key !== config.ADMIN_KEY) throw accessDenied('Invalid admin key');
      return;
    }
    const scopes = routeConfig?.scopes;
    if (!scopes) return;
    // The gateway's pre-shared key: checked only when configured (see docs/decisions.md).
    if (config.CUSTOM_PSK && request.headers['x-custom-psk'] !== config.CUSTOM_PSK) throw accessDenied('Invalid X-Custom-PSK');
    const apiKey = request.headers['api-key'];
    request.auth = await auth.authenticate(request.headers.authorization, Array.isArray(apiKey) ? apiKey[0] : apiKey);
    auth.requireScopes(request.auth, scopes);
  });

  const journal = deps.journal;
  if (journal) {
    const sent = new WeakMap<FastifyRequest, unknown>();
    app.addHook('onSend', async (request, _reply, payload) => {
      if (journal.wants(request.url, request.routeOptions.url)) sent.set(request, payload);
      return payload;
    });
    app.addHook('onResponse', async (request, reply) => {
      // onSend kept the answer of every request the journal wants: the others have none here
      if (!sent.has(request)) return;
      const type = reply.getHeader('content-type');
      journal.record({
        requestId: String(request.id),
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        latencyMs: reply.elapsedTime,
        // set only on the routes that authenticate
        clientId: (request.auth as AuthContext | undefined)?.clientId ?? null,
        requestBody: request.body,
        requestType: request.headers['content-type'] ?? (request.body === undefined ? undefined : 'application/json'),
        responseBody: sent.get(request),
        responseType: typeof type === 'string' ? type : undefined,
        requestBytes: Number(request.headers['content-length'] ?? 0) || 0,
      });
    });
  }

  app.setErrorHandler((err, request, reply) => {
    const esoz = toEsozError(err, request);
    if (esoz.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ status: esoz.status, type: esoz.type }, 'request rejected');
    reply.headers(esoz.headers).code(esoz.status).type('application/json; charset=utf-8').send(errorBody(request, esoz));
  });
  app.setNotFoundHandler((request, reply) => {
    const esoz = notFound('Not found');
    reply.code(404).type('application/json; charset=utf-8').send(errorBody(request, esoz));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'esoz-core',
        version: '0.1.0',
        description: 'ESOZ Compositions and ePrescription (resend) — faithful sandbox and service. Errors use the ESOZ envelope.',
      },
      // Relative to where the document is served unless PUBLIC_URL names the public address.
      servers: [{ url: config.PUBLIC_URL.replace(/\/$/, '') || '/' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'api-key' },
          adminKey: { type: 'apiKey', in: 'header', name: 'x-admin-key' },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const cfg = (route as { config?: { scopes?: string[]; admin?: boolean } }).config;
      const s: Record<string, unknown> = { ...(schema as object) };
      if (cfg?.scopes) {
        s.security = [{ bearer: [], apiKey: [] }];
        s.description = `${(schema as { description?: string })?.description ?? ''}\n\nScope: \`${cfg.scopes.join('`, `')}\``.trim();
      }
      if (cfg?.admin) s.security = [{ adminKey: [] }];
      // the errors the platform answers before a route's own checks (onRequest hooks above)
      if (cfg?.scopes || cfg?.admin) {
        const declared = { ...(s.response as object) } as Record<string, unknown>;
        declared['401'] ??= errorEnvelope(
          cfg.admin
            ? 'access_denied: Invalid admin key (x-admin-key missing or wrong)'
            : 'access_denied: the access token is missing, invalid or expired, or the api-key is missing or wrong',
        );
        if (cfg.scopes) declared['403'] ??= errorEnvelope(`forbidden: the token's scope does not allow \`${cfg.scopes.join('`, `')}\``);
        s.response = declared;
      }
      // a route that declares no success response still answers the envelope (generators then type `data` as unknown)
      if (s.response && !Object.keys(s.response).some((status) => status.startsWith('2'))) {
        s.response = {
          '2xx': Type.Object({ meta: MetaSchema, data: Type.Unknown() }, { description: 'Done: the ESOZ envelope' }),
          ...(s.response as object),
        };
      }
      return { schema: s as typeof schema, url };
    },
    transformObject: (doc) =>
      'openapiObject' in doc
        ? (nameSchemas(toOpenApi30(doc.openapiObject) as Record<string, unknown>) as typeof doc.openapiObject)
        : doc.swaggerObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // the same document as a Postman collection (postman.ts); made once, on the first call
  let postman: unknown;
  app.get(
    '/postman.json',
    { schema: { hide: true } },
    async () => (postman ??= postmanCollection(app.swagger() as Record<string, unknown>)),
  );

  return app as unknown as App;
}

/** ESOZ documents nest a dozen levels at most; a request body may nest this deep. */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests arrays/objects deeper than `max` levels (iterative: safe on any depth). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * The route schemas are JSON Schema as Ajv reads it (draft 2019+/2020-12 keywords); the document
 * says OpenAPI 3.0, whose Schema Object has its own dialect. Rewrite the keywords that differ into
 * their 3.0 form (a copy: the route schemas themselves keep validating requests):
 * numeric `exclusiveMinimum`/`exclusiveMaximum` → `minimum`/`maximum` + boolean flag, `const` → `enum`,
 * `type: [T, 'null']` → `type: T` + `nullable`, `examples: [...]` → `example`.
 */
export function toOpenApi30(node: unknown, key = ''): unknown {
  if (Array.isArray(node)) return node.map((x) => toOpenApi30(x));
  if (!node || typeof node !== 'object') return node;
  // Literal values (examples, enums, defaults) are data, not schemas.
  if (key === 'example' || key === 'enum' || key === 'default') return node;
  // Maps from names to schemas: a property called `const` is not the keyword.
  if (key === 'properties' || key === 'patternProperties' || key === 'schemas') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, toOpenApi30(v)]));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = toOpenApi30(v, k);
  for (const [kw, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof out[kw] !== 'number') continue;
    const limit = out[kw] as number;
    const other = out[bound];
    // An inclusive bound that is stricter than the exclusive one wins; otherwise the exclusive one does.
    const inclusiveWins = typeof other === 'number' && (bound === 'minimum' ? other > limit : other < limit);
    if (inclusiveWins) delete out[kw];
    else {
      out[bound] = limit;
      out[kw] = true;
    }
  }
  if ('const' in out && !('enum' in out)) {
    out.enum = [out.const];
    delete out.const;
  }
  if (Array.isArray(out.type)) {
    const types = (out.type as unknown[]).filter((t) => t !== 'null');
    if (types.length < (out.type as unknown[]).length) out.nullable = true;
    if (types.length === 1) out.type = types[0];
    else if (types.length === 0) delete out.type;
    else {
      delete out.type;
      out.anyOf = types.map((t) => ({ type: t }));
    }
  }
  if (Array.isArray(out.examples) && !('example' in out)) {
    if (out.examples.length) out.example = out.examples[0];
    delete out.examples;
  }
  return out;
}

export { EsozError };
