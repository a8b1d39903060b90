/**
 * `npm run erln-sim`: the ERLN simulator on its own (state in memory). Point esoz-core at it with
 * ERLN_ADAPTER=http ERLN_URL=<the printed URL>.
 */
import { createErlnSimServer } from './sim-server.ts';
import { ErlnSimulator, MemoryErlnSimStore } from './simulator.ts';

const port = Number(process.env.ERLN_SIM_PORT ?? 3790);
const host = process.env.HOST ?? '127.0.0.1';
const app = createErlnSimServer(new ErlnSimulator(new MemoryErlnSimStore()));
try {
  await app.listen({ port, host });
} catch (err) {
  const code = (err as NodeJS.ErrnoException).code;
  process.stderr.write(
    code === 'EADDRINUSE'
      ? `erln-sim: port ${port} is in use; set ERLN_SIM_PORT to a free port\n`
      : `erln-sim: ${(err as Error).message}\n`,
  );
  process.exit(75);
}
process.stdout.write(
  `ERLN simulator listening on http://${host}:${port}  (esoz-core: ERLN_ADAPTER=http ERLN_URL=http://${host}:${port})\n`,
);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
