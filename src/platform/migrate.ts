/**
 * Plain SQL migrations from `migrations/NNN_name.sql`, applied in order, once, on both engines.
 * On PostgreSQL several processes may start together: an advisory lock makes one of them migrate
 * while the others wait (PGlite has one process and a single session, so the lock is moot there).
 */
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Db } from './db.ts';

/** `migrations/` of the project this module belongs to: the nearest directory up from here holding it and package.json
 * (so the path holds both for src/platform/migrate.ts and for the bundle `npm start` runs from node_modules/.cache). */
function findMigrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'migrations')) && existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'migrations');
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no migrations/ directory above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
export const MIGRATIONS_DIR = findMigrationsDir();
const LOCK_KEY = 740_2019_01;

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
}

export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await listMigrations(dir);
  const applied: string[] = [];
  const run = async (tx: Db) => {
    if (tx.engine === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.exec(await readFile(path.join(dir, file), 'utf8'));
      await tx.query('INSERT INTO schema_migrations(version) VALUES ($1)', [file]);
      applied.push(file);
    }
  };
  await db.transaction(run);
  return applied;
}

/** Migrations present on disk but not applied: used by /health/ready. */
export async function pendingMigrations(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await listMigrations(dir);
  const r = await db
    .query<{ version: string }>('SELECT version FROM schema_migrations')
    .catch(() => ({ rows: [] as { version: string }[] }));
  const done = new Set(r.rows.map((x) => x.version));
  return files.filter((f) => !done.has(f));
}
