/** What several `esoz` commands share besides HTTP: their input files, progress lines, the checkout they run from. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { CliError, EXIT } from './client.ts';

/** The text of `file` (`-`: standard input). */
export function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code || String(err);
    throw new CliError(`cannot read ${file}: ${why}`, EXIT.usage);
  }
}

/** The text of `file` and its JSON value; a file that is not JSON is refused before anything is sent. */
export function readJson(file: string): { text: string; value: unknown } {
  const text = readInput(file);
  try {
    return { text, value: JSON.parse(text) };
  } catch (err) {
    throw new CliError(`${file === '-' ? 'standard input' : file} is not JSON (${err instanceof Error ? err.message : err})`, EXIT.usage);
  }
}

/** A line when a long step starts and one when it ends, with the time it took (stdout: errors alone go to stderr). */
export async function timed<T>(start: string, run: () => Promise<T>, done: (result: T) => string): Promise<T> {
  process.stdout.write(`${start}…\n`);
  const t0 = performance.now();
  const result = await run();
  process.stdout.write(`${done(result)} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  return result;
}

/**
 * The esoz-core checkout this CLI belongs to. The code runs from src/cli/ or from the bundle that
 * scripts/start.mjs writes under node_modules/.cache/, so the checkout is found by walking up.
 */
export function checkoutRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'esoz-core') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new CliError('cannot find the esoz-core checkout this esoz belongs to', EXIT.usage);
    dir = up;
  }
}

export function version(): string {
  return String((JSON.parse(readFileSync(path.join(checkoutRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version);
}
