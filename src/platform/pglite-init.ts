/**
 * A new PGlite data directory is a copy of a template cluster: initdb takes seconds, copying its ~40 MB
 * of files a fraction of one. The template is made once per PGlite version and start parameters, under
 * node_modules/.cache/esoz-core/ (a cleanly closed cluster directory is a valid data directory), and
 * whenever it is missing or cannot be used the data directory gets its own initdb instead.
 *
 * initdb runs in a child process: in-process it needs a second PGlite instance and the initdb module,
 * ~600 MB of WebAssembly memory that the process keeps as RSS long after they are closed; a child
 * returns all of it to the system when it exits.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PG_VERSION = 'PG_VERSION';

async function initdb(dataDir: string, startParams: string[]): Promise<void> {
  const pglite = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(pglite)});
const pg = await PGlite.create({ dataDir: process.argv[1], startParams: JSON.parse(process.argv[2]) });
await pg.close();`;
  try {
    await run(process.execPath, ['--input-type=module', '-e', script, dataDir, JSON.stringify(startParams)], { maxBuffer: 16 * 2 ** 20 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`could not initialise the PGlite data directory ${dataDir}: ${stderr || (err as Error).message}`, { cause: err });
  }
}

/** node_modules/.cache/esoz-core/pglite-<version>-<hash of the start parameters>, next to the PGlite package in use. */
export function templateDirFor(startParams: string[]): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('the @electric-sql/pglite package has no package.json');
    dir = parent;
  }
  const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
  const nodeModules = path.resolve(dir, '..', '..');
  const params = createHash('sha256').update(JSON.stringify(startParams)).digest('hex').slice(0, 12);
  return path.join(nodeModules, '.cache', 'esoz-core', `pglite-${version}-${params}`);
}

/**
 * The template cluster, made if missing. Several processes may start at once: each runs initdb into a
 * private directory and renames it into place; the first rename wins and the others discard theirs.
 */
async function ensureTemplate(template: string, startParams: string[]): Promise<void> {
  if (existsSync(path.join(template, PG_VERSION))) return;
  // a directory without PG_VERSION is no cluster (it cannot come from the rename): replace it
  rmSync(template, { recursive: true, force: true });
  mkdirSync(path.dirname(template), { recursive: true });
  const tmp = mkdtempSync(`${template}.tmp-`);
  try {
    await initdb(tmp, startParams);
    try {
      renameSync(tmp, template);
    } catch (err) {
      if (!existsSync(path.join(template, PG_VERSION))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Makes `dataDir` a cluster unless it is one: a copy of the template, or its own initdb when the template fails. */
export async function initPgliteDataDir(dataDir: string, startParams: string[], templateDir?: string): Promise<void> {
  if (existsSync(path.join(dataDir, PG_VERSION))) return;
  const before = new Set(existsSync(dataDir) ? readdirSync(dataDir) : []);
  try {
    const template = templateDir ?? templateDirFor(startParams);
    await ensureTemplate(template, startParams);
    // PG_VERSION last: a copy cut short leaves a directory that the next start sees as not initialised
    const version = path.join(template, PG_VERSION);
    cpSync(template, dataDir, { recursive: true, filter: (src) => src !== version });
    cpSync(version, path.join(dataDir, PG_VERSION));
    return;
  } catch {
    // what a failed copy left would stop initdb; the files that were there before (the lock) stay
    if (existsSync(dataDir)) {
      for (const entry of readdirSync(dataDir)) if (!before.has(entry)) rmSync(path.join(dataDir, entry), { recursive: true, force: true });
    }
  }
  await initdb(dataDir, startParams);
}
