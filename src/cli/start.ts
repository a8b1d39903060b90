/** `esoz start` and `esoz worker`: `npm start` and `npm run worker` themselves, in this process. */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from '@commander-js/extra-typings';
import { checkoutRoot } from './io.ts';

/**
 * Runs `entry` as `node scripts/start.mjs <entry>` does. In this process rather than a child: the
 * server's pid, signals, output and exit code (75 for a busy port) are then the command's own.
 * The launcher already ran scripts/start.mjs for the CLI itself, and an ES module runs once per URL:
 * the query string makes this import a second, separate run of it.
 */
async function runEntry(entry: string): Promise<void> {
  const launcher = path.join(checkoutRoot(), 'scripts', 'start.mjs');
  process.argv.splice(1, Infinity, launcher, entry);
  await import(`${pathToFileURL(launcher).href}?entry=${encodeURIComponent(entry)}`);
}

const ENVIRONMENT = `
Configured by the environment, as \`npm start\` is (README, "Configuration"): PORT, HOST, DATA_DIR,
DATABASE_URL, ADMIN_KEY, DEMO_DATA, … With no DATABASE_URL it runs on the embedded database with
the demo data and prints BASE_URL, TOKEN, API_KEY and ADMIN_KEY to export in another terminal.`;

export const startCommand = () =>
  new Command('start')
    .description('run esoz-core: the API and its workers (what `npm start` does)')
    .addHelpText('after', ENVIRONMENT)
    .action(() => runEntry('src/main.ts'));

export const workerCommand = () =>
  new Command('worker')
    .description('run queue workers only, against PostgreSQL (what `npm run worker` does)')
    .addHelpText('after', '\nNeeds DATABASE_URL=postgres://… (the one the API processes use); run as many as you like.')
    .action(() => runEntry('src/worker.ts'));
