/** `esoz fixtures load <file.json>`: POST /admin/fixtures with the file. */
import { Command } from '@commander-js/extra-typings';
import { AdminClient, CliError, EXIT, adminKeyOption, isRecord, urlOption } from './client.ts';
import { readJson, timed } from './io.ts';

/** "persons 2, encounters 1" */
const counts = (byKind: Record<string, unknown>) =>
  Object.entries(byKind)
    .map(([kind, items]) => `${kind} ${Array.isArray(items) ? items.length : '?'}`)
    .join(', ') || 'nothing';

const loadCommand = () =>
  new Command('load')
    .description('upsert the rows of a JSON file ({"persons": [...], "encounters": [...], ...}) in one transaction')
    .argument('<file.json>', 'the fixtures (- reads standard input)')
    .addOption(urlOption())
    .addOption(adminKeyOption())
    .addHelpText('after', '\nThe kinds and their fields: POST /admin/fixtures in the API docs (<url>/docs). A refused file loads nothing.')
    .action(async (file, opts) => {
      const { value } = readJson(file);
      if (!isRecord(value)) {
        throw new CliError(`${file} is not a JSON object of fixture kinds ({"persons": [...], ...})`, EXIT.usage);
      }
      const admin = new AdminClient(opts);
      await timed(
        `loading the fixtures of ${file} into ${admin.url}: ${counts(value)}`,
        () =>
          admin.call<Record<string, unknown>>({
            method: 'POST',
            path: '/admin/fixtures',
            body: value,
            action: `loading the fixtures of ${file}`,
            timeoutMs: 300_000,
          }),
        (loaded) => `fixtures loaded: ${counts(loaded)}`,
      );
    });

export const fixturesCommand = () =>
  new Command('fixtures').description('registry and capability rows of the sandbox').addCommand(loadCommand());
