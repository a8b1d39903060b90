/** `npm start`: the API (and, by default, the workers) in one process. */
import { startRuntime } from './runtime.ts';
import { loadConfigOrExit, isEmbedded } from './platform/config.ts';
import { printBanner } from './sandbox/banner.ts';

const config = loadConfigOrExit();

const runtime = await startRuntime({ config, role: 'api' });
const app = runtime.app!;
await app.listen({ port: config.PORT, host: config.HOST });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.PORT;
printBanner({ port, config, sandbox: runtime.sandbox, embedded: isEmbedded(config) });

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void (async () => {
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
  })());
}
