/**
 * `esoz`: the command line of the esoz-core sandbox (docs/cli.md). scripts/esoz.mjs runs this file.
 * Every failure ends as one line on stderr saying what to do and an exit code of EXIT: never a stack trace.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { CliError, EXIT } from './client.ts';
import { version } from './io.ts';
import { startCommand, workerCommand } from './start.ts';
import { resetCommand } from './reset.ts';
import { fixturesCommand } from './fixtures.ts';
import { tokenCommand } from './token.ts';
import { signCommand } from './sign.ts';
import { smsCommand } from './sms.ts';

const program = new Command('esoz')
  .description('the esoz-core sandbox from the command line: run it, reset it, load fixtures, issue tokens, sign, read the SMS')
  .version(version(), '-v, --version')
  .addCommand(startCommand())
  .addCommand(workerCommand())
  .addCommand(resetCommand())
  .addCommand(fixturesCommand())
  .addCommand(tokenCommand())
  .addCommand(signCommand())
  .addCommand(smsCommand())
  .addHelpText(
    'after',
    `
Connection (every command but start and worker): --url or BASE_URL (default http://localhost:4000),
--admin-key or ADMIN_KEY. \`esoz start\` prints the line that exports both.
\`esoz <command> --help\` describes a command.`,
  );

/** Commander's own errors (unknown option, missing argument) as one line in the style of ours. */
function configure(command: Command<any, any, any>) {
  command
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`esoz: ${text.trim().replace(/^error: /, '')} (--help shows the usage)\n`) });
  for (const sub of command.commands) configure(sub);
}
configure(program);

// `esoz sms --follow | head -1`: the reader has gone, so there is nobody to tell; end quietly, as `tail -f` does
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`esoz: cannot write the output: ${err.message}\n`);
  process.exit(err.code === 'EPIPE' ? 0 : 1);
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with exit code 0
    process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
  } else if (err instanceof CliError) {
    process.stderr.write(`esoz: ${[err.message, ...err.details].join('\n')}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`esoz: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
