/**
 * Test harness: a real esoz-core on a real database over real HTTP.
 * - default: in-memory PGlite, one per server;
 * - TEST_DATABASE_URL=postgres://…: a fresh PostgreSQL database per server, dropped on close.
 */
import { createScratchDatabase } from '../../src/platform/db.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { ALL_SCOPES } from '../../src/platform/scopes.ts';
import { capabilities as defaultCapabilities } from '../../src/capabilities.ts';
import type { Capability } from '../../src/platform/platform.ts';

export const ADMIN_KEY = 'test-admin-key';
export const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';

export interface CallOptions {
  token?: string;
  apiKey?: string;
  body?: unknown;
  /** sent as-is (for malformed JSON tests) */
  rawBody?: string;
  headers?: Record<string, string>;
  admin?: boolean;
}

export interface CallResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface Mis {
  clientId: string;
  secret: string;
  token: string;
  legalEntityId: string | null;
  call<T = any>(method: string, path: string, opts?: CallOptions): Promise<CallResult<T>>;
}

export interface TestServer {
  url: string;
  runtime: Runtime;
  databaseUrl: string;
  call<T = any>(method: string, path: string, opts?: CallOptions): Promise<CallResult<T>>;
  /** A MIS client of `legalEntityId` with a token carrying `scopes` (all by default). */
  mis(opts?: {
    legalEntityId?: string | null;
    scopes?: string[];
    employeeId?: string | null;
    userId?: string | null;
    expiresIn?: number;
  }): Promise<Mis>;
  fixtures(body: Record<string, unknown[]>): Promise<Record<string, string[]>>;
  close(): Promise<void>;
}

/** A fresh PostgreSQL database for one server (or memory:// on PGlite). */
export async function freshDatabaseUrl(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return { url: 'memory://', drop: async () => undefined };
  return createScratchDatabase(base, 'esoz_t');
}

export async function call<T = any>(url: string, method: string, path: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.apiKey) headers['api-key'] = opts.apiKey;
  if (opts.admin) headers['x-admin-key'] = ADMIN_KEY;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url + path, { method, headers, body });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* non-JSON bodies are asserted on as text */
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export interface TestServerOptions {
  env?: Record<string, string>;
  superviseIntervalSeconds?: number;
  /** test-only capabilities added after the real ones */
  extraCapabilities?: Capability[];
  /** reuse an existing database (a second API process on the same PostgreSQL) */
  databaseUrl?: string;
  /** Capture the server's log lines (API and workers) at LOG_LEVEL (env, default silent). */
  logStream?: import('pino').DestinationStream;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const database = opts.databaseUrl ? { url: opts.databaseUrl, drop: async () => undefined } : await freshDatabaseUrl();
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    ADMIN_KEY,
    DEMO_DATA: 'off',
    ...opts.env,
    DATABASE_URL: database.url,
    PORT: '0',
  });
  const runtime = await startRuntime({
    config,
    logger: opts.logStream ? true : false,
    logStream: opts.logStream,
    checkResponses: true,
    superviseIntervalSeconds: opts.superviseIntervalSeconds,
    capabilities: [...defaultCapabilities, ...(opts.extraCapabilities ?? [])],
  });
  await runtime.app!.listen({ port: 0, host: '127.0.0.1' });
  const address = runtime.app!.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const server: TestServer = {
    url,
    runtime,
    databaseUrl: database.url,
    call: (method, path, o) => call(url, method, path, o),
    async mis(o = {}) {
      const { auth } = runtime.platform;
      const client = await auth.createClient({ name: 'Test MIS', legalEntityId: o.legalEntityId ?? null });
      const { access_token } = await auth.issueToken({
        clientId: client.id,
        userId: o.userId ?? null,
        employeeId: o.employeeId ?? null,
        scopes: o.scopes ?? [...ALL_SCOPES],
        expiresIn: o.expiresIn,
      });
      return {
        clientId: client.id,
        secret: client.secret,
        token: access_token,
        legalEntityId: o.legalEntityId ?? null,
        call: (method, path, co = {}) => call(url, method, path, { token: access_token, apiKey: client.secret, ...co }),
      };
    },
    async fixtures(body) {
      const r = await call(url, 'POST', '/admin/fixtures', { admin: true, body });
      if (r.status !== 200) throw new Error(`fixtures failed: ${r.status} ${r.text}`);
      return r.body.data;
    },
    async close() {
      await runtime.close();
      await database.drop();
    },
  };
  return server;
}

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
