/** `npm start`: the API (and, by default, the workers) in one process. */
import { createServer } from 'node:net';
import { startRuntime, type Runtime } from './runtime.ts';
import { loadConfigOrExit, isEmbedded, type Config } from './platform/config.ts';
import { DataDirLockedError } from './platform/datadir-lock.ts';
import { printBanner } from './sandbox/banner.ts';

/** EX_TEMPFAIL: the start can succeed later, once the port or the data directory is free. */
const EXIT_IN_USE = 75;

/** One line on stderr saying what to do, and exit: a stack trace tells a newcomer nothing here. */
function refuse(line: string, code: number): never {
  process.stderr.write(`esoz-core: ${line}\n`);
  process.exit(code);
}

function listenProblem(err: unknown, config: Config): string | undefined {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') {
    return `port ${config.PORT} on ${config.HOST} is already in use (another esoz-core?): stop what uses it, or start with PORT=<a free port>`;
  }
  if (code === 'EACCES') return `no permission to listen on port ${config.PORT}: start with PORT=<a port above 1023>`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return `HOST=${config.HOST} is not an address of this machine: start with HOST=127.0.0.1 (this machine only) or HOST=0.0.0.0 (every interface)`;
  }
  return undefined;
}

/** Say a busy port now rather than after the database has started. */
async function checkPort(config: Config): Promise<void> {
  if (config.PORT === 0) return;
  const problem = await new Promise<string | undefined>((resolve) => {
    const probe = createServer();
    probe.once('error', (err) => resolve(listenProblem(err, config)));
    probe.listen({ port: config.PORT, host: config.HOST, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  if (problem) refuse(problem, EXIT_IN_USE);
}

const config = loadConfigOrExit();
await checkPort(config);

let runtime: Runtime;
try {
  runtime = await startRuntime({
    config,
    role: 'api',
    onPhase: (line) => process.stdout.write(`esoz-core: ${line}\n`),
  });
} catch (err) {
  if (err instanceof DataDirLockedError) refuse(err.message, EXIT_IN_USE);
  throw err;
}
const app = runtime.app!;
try {
  await app.listen({ port: config.PORT, host: config.HOST });
} catch (err) {
  const problem = listenProblem(err, config);
  if (!problem) throw err;
  await runtime.close().catch(() => undefined);
  refuse(problem, EXIT_IN_USE);
}
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.PORT;
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(
    signal,
    () =>
      void (async () => {
        if (stopping) return;
        stopping = true;
        runtime.platform.log.info({ signal }, 'shutting down');
        const force = setTimeout(() => process.exit(1), 30_000);
        force.unref();
        try {
          await runtime.close();
          process.exit(0);
        } catch (err) {
          runtime.platform.log.error({ err }, 'shutdown failed');
          process.exit(1);
        }
      })(),
  );
}
// after the handlers: whoever starts this process may stop it as soon as it sees the banner
printBanner({ port, config, sandbox: runtime.sandbox, embedded: isEmbedded(config) });
