/** `esoz token --scopes a,b`: POST /admin/tokens, for the demo client unless told otherwise. */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { DEMO } from '../sandbox/demo-data.ts';
import { ALL_SCOPES } from '../platform/scopes.ts';
import { AdminClient, CliError, EXIT, adminKeyOption, urlOption } from './client.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuid(value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError(`"${value}" is not a UUID`);
  return value;
}

function scopes(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) throw new InvalidArgumentError('name at least one scope (or "all")');
  return list.flatMap((s) => (s === 'all' ? [...ALL_SCOPES] : [s]));
}

function seconds(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a whole number of seconds`);
  return Number(value);
}

interface Issued {
  access_token: string;
  expires_at: string;
}

export const tokenCommand = () =>
  new Command('token')
    .description('issue an access token with the scopes you name (to see what an MIS gets with fewer scopes)')
    .addOption(new Option('--scopes <list>', 'comma-separated scopes, or "all"').makeOptionMandatory().argParser(scopes))
    .addOption(
      new Option('--client-id <id>', 'the MIS client (default: the demo client, whose api-key `esoz start` prints)').argParser(uuid),
    )
    .addOption(
      new Option('--employee-id <id>', 'the employee acting, or "none" (default for the demo client: the demo doctor)').argParser(
        (value: string): string => (value === 'none' ? value : uuid(value)),
      ),
    )
    .addOption(new Option('--user-id <id>', 'the user (default for the demo client: the demo user)').argParser(uuid))
    .addOption(new Option('--expires-in <seconds>', 'lifetime; negative issues an expired token (default 86400)').argParser(seconds))
    .option('--export', 'print `export TOKEN=…` (for eval) instead of the bare token')
    .addOption(urlOption())
    .addOption(adminKeyOption())
    .addHelpText('after', `\nScopes: ${ALL_SCOPES.join(', ')}`)
    .action(async (opts) => {
      const admin = new AdminClient(opts);
      const client = opts.clientId ?? DEMO.clientId;
      const asDemo = client === DEMO.clientId;
      let issued: Issued;
      try {
        issued = await admin.call<Issued>({
          method: 'POST',
          path: '/admin/tokens',
          body: {
            client_id: client,
            // the demo client's token acts as the demo token does: the demo doctor of the demo user
            employee_id:
              opts.employeeId === undefined
                ? asDemo
                  ? DEMO.doctorEmployeeId
                  : undefined
                : opts.employeeId === 'none'
                  ? null
                  : opts.employeeId,
            user_id: opts.userId ?? (asDemo ? DEMO.userId : undefined),
            scopes: opts.scopes,
            expires_in: opts.expiresIn,
          },
          action: 'issuing the token',
        });
      } catch (err) {
        if (err instanceof CliError && /404 not_found/.test(err.message)) {
          throw new CliError(
            opts.clientId
              ? `no MIS client ${client} on ${admin.url}: create it with POST /admin/clients, or leave out --client-id for the demo client`
              : `no demo client on ${admin.url} (started with DEMO_DATA=off?): pass --client-id of a client made with POST /admin/clients`,
            EXIT.refused,
          );
        }
        // after `esoz reset --empty` (or DEMO_DATA=off) the demo client is there but its doctor is not
        if (
          err instanceof CliError &&
          opts.employeeId === undefined &&
          asDemo &&
          /Employee not found/.test([err.message, ...err.details].join('\n'))
        ) {
          throw new CliError(
            `the demo doctor is not on ${admin.url} (reset --empty?): pass --employee-id of an employee you loaded, or --employee-id none`,
            EXIT.refused,
          );
        }
        throw err;
      }
      if (opts.export) {
        process.stdout.write(`export TOKEN=${issued.access_token}\n`);
      } else {
        process.stdout.write(`${issued.access_token}\n`);
        process.stderr.write(
          `esoz: token of client ${client}, scopes ${opts.scopes.join(',')}, expires ${issued.expires_at}; use it with: export TOKEN=${issued.access_token}\n`,
        );
      }
    });
