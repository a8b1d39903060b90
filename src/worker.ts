/**
 * `npm run worker`: queue workers only, no HTTP. Run as many as you like against one PostgreSQL
 * (DATABASE_URL); they claim jobs with SKIP LOCKED and take over the leases of dead workers.
 */
import { startRuntime } from './runtime.ts';
import { loadConfigOrExit } from './platform/config.ts';

const config = loadConfigOrExit();
if (!config.DATABASE_URL.startsWith('postgres')) {
  process.stderr.write(
    'esoz-core: the worker process needs DATABASE_URL=postgres://… (the embedded database lives inside the API process, whose workers run in-process)\n',
  );
  process.exit(78);
}
const runtime = await startRuntime({ config, role: 'worker' });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(
    signal,
    () =>
      void (async () => {
        runtime.platform.log.info({ signal }, 'worker shutting down: finishing jobs in hand');
        await runtime.close().catch(() => undefined);
        process.exit(0);
      })(),
  );
}
// after the handlers: a SIGTERM sent on seeing this line must find them (without one the signal kills the process)
runtime.platform.log.info({ queues: runtime.platform.queue.queueNames }, 'worker started');
