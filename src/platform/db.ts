/**
 * One database interface over two engines: PGlite in-process (embedded sandbox, tests) and
 * node-postgres (production). Domain code only sees `Db`; it never knows which engine runs.
 *
 * int8 is normalised to a JS number on both (PGlite already returns numbers, `pg` returns
 * strings by default), so `count(*)` compares the same everywhere.
 */
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { initPgliteDataDir } from './pglite-init.ts';

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Db {
  readonly engine: 'pglite' | 'postgres';
  query<T = Record<string, any>>(text: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Run `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Multi-statement SQL without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  /** True inside `transaction`. */
  readonly inTransaction: boolean;
  /** State that belongs to this handle (statement batchers, the dictionary cache); a transaction is a handle of its own. */
  readonly state: HandleState;
}

/** One piece of a handle's state: its name and how to build it from the handle. */
export interface HandleKey<T> {
  readonly name: string;
  create(db: Db): T;
}

export function handleKey<T>(name: string, create: (db: Db) => T): HandleKey<T> {
  return { name, create };
}

/**
 * What a function that receives only a `Db` may keep between calls: held by the handle, so it is
 * made per pool (per runtime) and goes with the handle, where a module map keyed by `Db` would be
 * shared process state that no runtime owns.
 */
export class HandleState {
  // made on first use: most transactions keep no state
  private values: Map<HandleKey<unknown>, unknown> | undefined;
  constructor(private readonly db: Db) {}

  get<T>(key: HandleKey<T>): T {
    this.values ??= new Map();
    let value = this.values.get(key) as T | undefined;
    if (value === undefined) this.values.set(key, (value = key.create(this.db)));
    return value;
  }
}

pg.types.setTypeParser(20, (v: string) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
});

/** A transaction inside a transaction is a savepoint, so a helper works both inside and outside one. */
async function withSavepoint<T>(tx: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  const name = `sp_${Math.random().toString(36).slice(2, 10)}`;
  await tx.query(`SAVEPOINT ${name}`);
  try {
    const r = await fn(tx);
    await tx.query(`RELEASE SAVEPOINT ${name}`);
    return r;
  } catch (err) {
    await tx.query(`ROLLBACK TO SAVEPOINT ${name}`);
    throw err;
  }
}

class PgDb implements Db {
  readonly engine = 'postgres' as const;
  readonly inTransaction = false;
  readonly state: HandleState = new HandleState(this);
  constructor(readonly pool: pg.Pool) {}
  async query<T>(text: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.pool.query(text, params as any[]);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // a connection that could not even roll back is broken: the pool must close it, not hand it out again
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(new PgTxDb(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PgTxDb implements Db {
  readonly engine = 'postgres' as const;
  readonly inTransaction = true;
  readonly state: HandleState = new HandleState(this);
  constructor(private readonly client: pg.PoolClient) {}
  async query<T>(text: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.client.query(text, params as any[]);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return withSavepoint(this, fn);
  }
  async close(): Promise<void> {}
}

type PgliteTx = Parameters<Parameters<PGlite['transaction']>[0]>[0];

class PgliteDb implements Db {
  readonly engine = 'pglite' as const;
  readonly inTransaction = false;
  readonly state: HandleState = new HandleState(this);
  constructor(readonly pglite: PGlite) {}
  async query<T>(text: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.pglite.query<T>(text, params);
    return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
  }
  async exec(sql: string): Promise<void> {
    await this.pglite.exec(sql);
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    // PGlite serialises transactions: everything else waits until this one ends, so keep them short
    // and never await network I/O inside.
    return this.pglite.transaction((tx) => fn(new PgliteTxDb(tx)));
  }
  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

class PgliteTxDb implements Db {
  readonly engine = 'pglite' as const;
  readonly inTransaction = true;
  readonly state: HandleState = new HandleState(this);
  constructor(private readonly tx: PgliteTx) {}
  async query<T>(text: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.tx.query<T>(text, params);
    return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
  }
  async exec(sql: string): Promise<void> {
    await this.tx.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return withSavepoint(this, fn);
  }
  async close(): Promise<void> {}
}

const CONNECTION_LOST_SQLSTATES = new Set([
  '57P01', // admin_shutdown: pg_terminate_backend, smart/fast shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, in recovery
  '53300', // too_many_connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006', // connection_exception class
]);
const CONNECTION_LOST_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/**
 * True for an error that says the database connection is gone or cannot be had (terminated backend,
 * failover, server restarting, network): the request may succeed when retried, so it is a 503, not a 500.
 */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (CONNECTION_LOST_SQLSTATES.has(code) || CONNECTION_LOST_ERRNOS.has(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  // node-postgres and pg-pool raise these without a code
  return /^Connection terminated|^Client has encountered a connection error|^timeout exceeded when trying to connect/.test(message);
}

const PGLITE_SHARED_BUFFERS = '16MB';

export interface OpenDbOptions {
  databaseUrl: string;
  dataDir: string;
  poolMax: number;
  /** Told of every connection that ended under the pool (logged; the pool replaces it). */
  onConnectionError?: (err: Error) => void;
}

export interface OpenedDb {
  db: Db;
  /** The PGlite instance in embedded mode (the queue shares it). */
  pglite?: PGlite;
  /** The pg connection string in PostgreSQL mode (the queue opens its own pool). */
  connectionString?: string;
}

export async function openDb(opts: OpenDbOptions): Promise<OpenedDb> {
  if (opts.databaseUrl.startsWith('postgres')) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolMax });
    // An idle client error (server restart) must not crash the process; the pool replaces the client
    // (the per-connection listener below reports it).
    pool.on('error', () => undefined);
    // A checked-out client (inside a transaction) has no pool listener: a connection terminated under
    // it (pg_terminate_backend, failover, idle_in_transaction_session_timeout) would emit an unhandled
    // 'error' and end the process. The statement in flight rejects on its own; this listener only
    // keeps the event from being fatal, once per connection.
    pool.on('connect', (client) => client.on('error', (err: Error) => opts.onConnectionError?.(err)));
    return { db: new PgDb(pool), connectionString: opts.databaseUrl };
  }
  const dataDir = opts.databaseUrl.startsWith('memory://') ? undefined : opts.dataDir;
  // initdb's 128 MB of shared buffers live in the process's WebAssembly memory; a sandbox's data is a few MB
  // and the files stay in the OS page cache, so 16 MB keeps idle RSS and start-up time down (docs/benchmarks.md).
  const startParams = [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`];
  if (dataDir) await initPgliteDataDir(dataDir, startParams);
  const pglite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), startParams });
  return { db: new PgliteDb(pglite), pglite };
}

/**
 * A fresh, empty PostgreSQL database next to `baseUrl` (tests and benchmarks): returns its URL and a
 * `drop()` that removes it (WITH (FORCE): PostgreSQL 13+).
 */
export async function createScratchDatabase(baseUrl: string, prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Math.random().toString(16).slice(2, 14)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
