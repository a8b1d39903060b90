/** `esoz reset [--empty]`: POST /admin/reset. */
import { Command } from '@commander-js/extra-typings';
import { AdminClient, adminKeyOption, urlOption } from './client.ts';
import { timed } from './io.ts';

export const resetCommand = () =>
  new Command('reset')
    .description('put the sandbox back to the demo data (clients and tokens are kept)')
    .option('--empty', 'leave the sandbox empty instead of loading the demo data')
    .addOption(urlOption())
    .addOption(adminKeyOption())
    .action(async (opts) => {
      const admin = new AdminClient(opts);
      const demo = !opts.empty;
      await timed(
        `resetting the sandbox at ${admin.url} ${demo ? 'to the demo data' : 'to empty'}`,
        () =>
          admin.call({
            method: 'POST',
            path: '/admin/reset',
            body: { demo },
            action: 'reset',
            // a reset reloads every demo row in one transaction
            timeoutMs: 300_000,
          }),
        () => `reset done: ${demo ? 'demo data loaded' : 'sandbox empty'}; clients and tokens kept`,
      );
    });
