/**
 * The schema, on both engines, in ONE transaction and two steps:
 *   1. versioned migrations, `migrations/NNN_name.sql` (tables, indexes, constraints, data): applied in
 *      name order, once each, recorded in schema_migrations;
 *   2. SQL functions, each in its own file next to the code that calls it (`src/<capability>/sql/<name>.sql`,
 *      `CREATE OR REPLACE …`): a repeatable step, so a function has one current text to read and edit. A
 *      file runs when the sha-256 of its content differs from the one recorded in schema_functions (or
 *      none is), in path order (capability, then name). The files are plpgsql, whose bodies name other
 *      functions and tables only when called; a `LANGUAGE sql` function is checked at creation, so one
 *      that calls another must sort after it. A signature change (arguments, OUT columns, return type)
 *      cannot be replaced in place: the file then starts with `DROP FUNCTION IF EXISTS <old signature>;`.
 *      Deleting a function is a migration's `DROP FUNCTION IF EXISTS`, with its file removed.
 * After the migrations because a function may need their tables (a trigger needs its table, and a
 * `LANGUAGE sql` body is checked against them). A restart with nothing changed reads the files and
 * runs one SELECT of what is recorded (besides the CREATE TABLE IF NOT EXISTS and, on PostgreSQL, the lock).
 * On PostgreSQL several processes may start together: an advisory lock makes one of them migrate
 * while the others wait (PGlite has one process and a single session, so the lock is moot there).
 */
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Db } from './db.ts';

/** Where the schema's files are: `migrations/` and the function files under `<root>/src/**\/sql/*.sql`. */
export interface SchemaSource {
  /** the project root: function files are named by their path from here (`src/platform/sql/x.sql`) */
  root: string;
  migrationsDir: string;
}

/** The project this module belongs to: the nearest directory up from here holding `migrations/` and
 * package.json (so the path holds both for src/platform/migrate.ts and for the bundle `npm start` runs
 * from node_modules/.cache). */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'migrations')) && existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no migrations/ directory above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
const ROOT = findRoot();
export const MIGRATIONS_DIR = path.join(ROOT, 'migrations');
export const SCHEMA: SchemaSource = { root: ROOT, migrationsDir: MIGRATIONS_DIR };
const LOCK_KEY = 740_2019_01;

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
}

export interface FunctionFile {
  /** path from the root, `/`-separated: the key in schema_functions */
  name: string;
  sql: string;
  checksum: string;
}

/** Every `src/**\/sql/*.sql` under the root, in path order, with its content's sha-256. */
export async function listFunctionFiles(root = ROOT): Promise<FunctionFile[]> {
  const src = path.join(root, 'src');
  const names = (await readdir(src, { recursive: true }))
    .map((f) => `src/${f.split(path.sep).join('/')}`)
    .filter((f) => /\/sql\/[^/]+\.sql$/.test(f))
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(root, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

const TABLES = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE IF NOT EXISTS schema_functions (
    name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());`;
/** What is recorded, both steps in one statement: a migration's row has a NULL checksum. */
const RECORDED = `SELECT version AS name, NULL AS checksum FROM schema_migrations
  UNION ALL SELECT name, checksum FROM schema_functions`;

interface Recorded {
  migrations: Set<string>;
  functions: Map<string, string>;
}
const recordedOf = (rows: { name: string; checksum: string | null }[]): Recorded => ({
  migrations: new Set(rows.filter((r) => r.checksum === null).map((r) => r.name)),
  functions: new Map(rows.filter((r) => r.checksum !== null).map((r) => [r.name, r.checksum!])),
});

/** Applies what is missing or changed; answers the migrations and function files it ran, in order. */
export async function migrate(db: Db, source: SchemaSource = SCHEMA): Promise<string[]> {
  const [files, functions] = await Promise.all([listMigrations(source.migrationsDir), listFunctionFiles(source.root)]);
  const applied: string[] = [];
  const run = async (tx: Db) => {
    if (tx.engine === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(TABLES);
    const done = recordedOf((await tx.query<{ name: string; checksum: string | null }>(RECORDED)).rows);
    for (const file of files) {
      if (done.migrations.has(file)) continue;
      await tx.exec(await readFile(path.join(source.migrationsDir, file), 'utf8'));
      await tx.query('INSERT INTO schema_migrations(version) VALUES ($1)', [file]);
      applied.push(file);
    }
    const changed = functions.filter((f) => done.functions.get(f.name) !== f.checksum);
    for (const f of changed) {
      try {
        await tx.exec(f.sql);
      } catch (err) {
        // the engine's message names no file
        throw new Error(`${f.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      applied.push(f.name);
    }
    if (changed.length) {
      await tx.query(
        `INSERT INTO schema_functions(name, checksum) SELECT * FROM unnest($1::text[], $2::text[])
         ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`,
        [changed.map((f) => f.name), changed.map((f) => f.checksum)],
      );
    }
  };
  await db.transaction(run);
  return applied;
}

/** Migrations not applied and function files not applied in their current content: used by /health/ready. */
export async function pendingMigrations(db: Db, source: SchemaSource = SCHEMA): Promise<string[]> {
  const [files, functions] = await Promise.all([listMigrations(source.migrationsDir), listFunctionFiles(source.root)]);
  const r = await db
    .query<{ name: string; checksum: string | null }>(RECORDED)
    .catch(() => ({ rows: [] as { name: string; checksum: string | null }[] }));
  const done = recordedOf(r.rows);
  return [
    ...files.filter((f) => !done.migrations.has(f)),
    ...functions.filter((f) => done.functions.get(f.name) !== f.checksum).map((f) => f.name),
  ];
}
