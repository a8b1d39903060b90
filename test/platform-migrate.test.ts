/**
 * src/platform/migrate.ts: the versioned migrations and the repeatable step of SQL function files
 * (src/<capability>/sql/<function>.sql), on a database created empty for this file (PGlite, or
 * PostgreSQL with TEST_DATABASE_URL). The files are copied to a scratch root so a test can change one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDb, type Db } from '../src/platform/db.ts';
import { listFunctionFiles, listMigrations, migrate, pendingMigrations, SCHEMA, type SchemaSource } from '../src/platform/migrate.ts';
import { backend, freshDatabaseUrl, startTestServer } from './support/harness.ts';

const opened: { db: Db; drop(): Promise<void> }[] = [];
let scratch: string;
let source: SchemaSource;

/** A database created empty for one test. */
async function emptyDb(): Promise<Db> {
  const fresh = await freshDatabaseUrl();
  const { db } = await openDb({ databaseUrl: fresh.url, dataDir: '', poolMax: 2 });
  opened.push({ db, drop: fresh.drop });
  return db;
}

/** `db` with every statement it runs (inside transactions too) appended to `log`. */
function recording(db: Db, log: string[]): Db {
  return {
    engine: db.engine,
    state: db.state,
    get inTransaction() {
      return db.inTransaction;
    },
    query: (text, params) => (log.push(text.trim()), db.query(text, params)),
    exec: (sql) => (log.push(sql.trim()), db.exec(sql)),
    transaction: (fn) => db.transaction((tx) => fn(recording(tx, log))),
    close: () => db.close(),
  };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const recorded = async (db: Db) =>
  new Map(
    (
      await db.query<{ name: string; checksum: string; applied_at: string }>(
        'SELECT name, checksum, applied_at::text FROM schema_functions',
      )
    ).rows.map((r) => [r.name, r]),
  );
/** pg_proc's row version of a function: CREATE OR REPLACE writes a new one. */
const procVersion = async (db: Db, name: string) =>
  (await db.query<{ v: string }>(`SELECT xmin::text AS v FROM pg_proc WHERE proname = $1`, [name])).rows[0]?.v;

before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'esoz-migrate-'));
  await cp(SCHEMA.migrationsDir, path.join(scratch, 'migrations'), { recursive: true });
  for (const f of await listFunctionFiles(SCHEMA.root)) {
    await mkdir(path.dirname(path.join(scratch, f.name)), { recursive: true });
    await writeFile(path.join(scratch, f.name), f.sql);
  }
  source = { root: scratch, migrationsDir: path.join(scratch, 'migrations') };
});
after(async () => {
  for (const o of opened) {
    await o.db.close();
    await o.drop();
  }
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test(`the project's files: migrations hold no functions, every function has its own file named after it (${backend})`, async () => {
  for (const m of await listMigrations(SCHEMA.migrationsDir)) {
    const sql = await readFile(path.join(SCHEMA.migrationsDir, m), 'utf8');
    assert.doesNotMatch(sql, /CREATE\s+(OR\s+REPLACE\s+)?FUNCTION/i, m);
  }
  const files = await listFunctionFiles(SCHEMA.root);
  assert.ok(files.length > 0);
  for (const f of files) {
    const created = [...f.sql.matchAll(/CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)\s*\(/gi)].map((m) => m[1]);
    assert.deepEqual(created, [path.basename(f.name, '.sql')], f.name);
  }
});

let db: Db;

test(`an empty database: the migrations in name order, then every function file in path order (${backend})`, async () => {
  db = await emptyDb();
  const migrations = await listMigrations(source.migrationsDir);
  const functions = await listFunctionFiles(source.root);
  assert.deepEqual(await pendingMigrations(db, source), [...migrations, ...functions.map((f) => f.name)]);

  assert.deepEqual(await migrate(db, source), [...migrations, ...functions.map((f) => f.name)]);

  assert.deepEqual(await pendingMigrations(db, source), []);
  const rows = await recorded(db);
  assert.deepEqual(
    [...rows.values()].map((r) => [r.name, r.checksum]).sort(),
    functions.map((f) => [f.name, sha256(f.sql)]),
  );
  // exactly the functions of the files are in the database, and the triggers that need one
  const procs = (
    await db.query<{ proname: string }>(`SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY proname`)
  ).rows.map((r) => r.proname);
  assert.deepEqual(procs, functions.map((f) => path.basename(f.name, '.sql')).sort());
  const triggers = await db.query(`SELECT 1 FROM pg_trigger WHERE tgname LIKE '%_registry_version'`);
  assert.equal(triggers.rowCount, 8);
});

test(`a restart with nothing changed runs no migration and no function file: one SELECT of what is recorded (${backend})`, async () => {
  const before = await recorded(db);
  const version = await procVersion(db, 'esoz_sms_attempt');
  const log: string[] = [];
  assert.deepEqual(await migrate(recording(db, log), source), []);
  const expected = [
    ...(db.engine === 'postgres' ? ['SELECT pg_advisory_xact_lock($1)'] : []),
    /^CREATE TABLE IF NOT EXISTS schema_migrations/,
    /^SELECT version AS name, NULL AS checksum FROM schema_migrations\s+UNION ALL SELECT name, checksum FROM schema_functions$/,
  ];
  assert.equal(log.length, expected.length, log.join('\n---\n'));
  expected.forEach((e, i) => (typeof e === 'string' ? assert.equal(log[i], e) : assert.match(log[i]!, e)));
  assert.deepEqual(await recorded(db), before);
  assert.equal(await procVersion(db, 'esoz_sms_attempt'), version);
});

test(`a changed function file is pending, then re-applied alone and its checksum recorded (${backend})`, async () => {
  const name = 'src/compositions/sql/esoz_composition_queue_depth.sql';
  const file = path.join(scratch, name);
  const original = await readFile(file, 'utf8');
  const changed = `CREATE OR REPLACE FUNCTION esoz_composition_queue_depth()
RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN 42;
END
$fn$;
`;
  const untouched = await procVersion(db, 'esoz_sms_attempt');
  const before = await recorded(db);
  await writeFile(file, changed);
  try {
    assert.deepEqual(await pendingMigrations(db, source), [name]);
    assert.deepEqual(await migrate(db, source), [name]);
    assert.equal(Number((await db.query<{ n: number }>('SELECT esoz_composition_queue_depth() AS n')).rows[0]!.n), 42);
    const after = await recorded(db);
    assert.equal(after.get(name)!.checksum, sha256(changed));
    for (const [n, r] of before) if (n !== name) assert.deepEqual(after.get(n), r, n);
    assert.equal(await procVersion(db, 'esoz_sms_attempt'), untouched);
    assert.deepEqual(await pendingMigrations(db, source), []);
  } finally {
    await writeFile(file, original);
  }
  // back to the original text: a change again, applied again
  assert.deepEqual(await pendingMigrations(db, source), [name]);
  assert.deepEqual(await migrate(db, source), [name]);
  assert.equal(Number((await db.query<{ n: number }>('SELECT esoz_composition_queue_depth() AS n')).rows[0]!.n), 0);
});

test(`pendingMigrations: a new migration and a new function file, in that order (${backend})`, async () => {
  const migration = path.join(scratch, 'migrations', '999_probe.sql');
  const fnName = 'src/probe/sql/esoz_probe.sql';
  await writeFile(migration, 'CREATE TABLE probe (id int);\n');
  await mkdir(path.join(scratch, 'src/probe/sql'), { recursive: true });
  await writeFile(
    path.join(scratch, fnName),
    'CREATE OR REPLACE FUNCTION esoz_probe() RETURNS int LANGUAGE sql AS $fn$ SELECT count(*)::int FROM probe $fn$;\n',
  );
  try {
    assert.deepEqual(await pendingMigrations(db, source), ['999_probe.sql', fnName]);
    // the LANGUAGE sql function is checked at creation against the migration's table: it runs after it
    assert.deepEqual(await migrate(db, source), ['999_probe.sql', fnName]);
    assert.equal((await db.query<{ n: number }>('SELECT esoz_probe() AS n')).rows[0]!.n, 0);
  } finally {
    await rm(migration);
    await rm(path.join(scratch, 'src/probe'), { recursive: true });
  }
});

test(`a function file that fails names itself, and nothing of the run is kept (${backend})`, async () => {
  const fresh = await emptyDb();
  const name = 'src/platform/sql/esoz_sms_attempt.sql';
  const file = path.join(scratch, name);
  const original = await readFile(file, 'utf8');
  await writeFile(
    file,
    'CREATE OR REPLACE FUNCTION esoz_sms_attempt() RETURNS int LANGUAGE sql AS $fn$ SELECT no_such_column FROM sms_attempts $fn$;\n',
  );
  try {
    await assert.rejects(migrate(fresh, source), (err: Error) => err.message.startsWith(`${name}: `));
  } finally {
    await writeFile(file, original);
  }
  const tables = await fresh.query(
    `SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('sms_outbox', 'schema_functions')`,
  );
  assert.equal(tables.rowCount, 0);
  assert.equal(
    (await migrate(fresh, source)).length,
    (await listMigrations(source.migrationsDir)).length + (await listFunctionFiles(source.root)).length,
  );
});

test(`/health/ready: 503 naming a function file whose content is not the one applied, 200 once it is (${backend})`, async () => {
  const server = await startTestServer();
  try {
    const { db } = server.runtime.platform;
    assert.equal((await server.call('GET', '/health/ready')).status, 200);
    const name = 'src/platform/sql/esoz_sms_attempt.sql';
    await db.query(`UPDATE schema_functions SET checksum = 'an older text' WHERE name = $1`, [name]);
    const ready = await server.call('GET', '/health/ready');
    assert.equal(ready.status, 503);
    assert.match(ready.text, /Migrations not applied: src\/platform\/sql\/esoz_sms_attempt\.sql/);
    assert.deepEqual(await migrate(db), [name]);
    assert.equal((await server.call('GET', '/health/ready')).status, 200);
  } finally {
    await server.close();
  }
});
