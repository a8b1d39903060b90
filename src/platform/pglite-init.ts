/**
 * A new PGlite data directory is made by running initdb in a child process. In-process, initdb needs a
 * second PGlite instance and the initdb module, ~600 MB of WebAssembly memory that the process keeps
 * as RSS long after they are closed; a child returns all of it to the system when it exits.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function initPgliteDataDir(dataDir: string, startParams: string[]): Promise<void> {
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) return;
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
