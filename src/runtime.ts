/**
 * Builds a running esoz-core: database → migrations → queue → capabilities → HTTP.
 * The same function serves `npm start`, `npm run worker` and the tests.
 */
import { loadConfig, isEmbedded, type Config } from './platform/config.ts';
import { openDb } from './platform/db.ts';
import { lockDataDir } from './platform/datadir-lock.ts';
import { migrate, pendingMigrations } from './platform/migrate.ts';
import { AuthService } from './platform/auth.ts';
import { JobQueue } from './platform/queue.ts';
import { Metrics } from './platform/metrics.ts';
import { createLogger } from './platform/logging.ts';
import { createHttpApp, type App } from './platform/http/server.ts';
import { sendData } from './platform/http/envelope.ts';
import { errorOfStatus } from './platform/errors.ts';
import type { Capability, Platform } from './platform/platform.ts';
import { Services } from './platform/services.ts';
import { journalEnabled, requestJournalKey } from './platform/http/journal.ts';
import { capabilities as defaultCapabilities } from './capabilities.ts';
import { ensureSandbox, type SandboxInfo } from './sandbox/demo.ts';

export interface RuntimeOptions {
  config?: Config;
  env?: Record<string, string | undefined>;
  role?: 'api' | 'worker';
  capabilities?: Capability[];
  /** false: no request logs (tests, benchmarks) */
  logger?: boolean;
  /** Validate every response against its route's response schema (tests). */
  checkResponses?: boolean;
  superviseIntervalSeconds?: number;
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: import('pino').DestinationStream;
  /** One human line per start-up phase (npm start prints them: a fresh start takes seconds). */
  onPhase?: (line: string) => void;
}

export interface Runtime {
  platform: Platform;
  app?: App;
  sandbox?: SandboxInfo;
  close(): Promise<void>;
}

export async function startRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  const config = opts.config ?? loadConfig(opts.env ?? process.env);
  const role = opts.role ?? 'api';
  const log = createLogger(opts.logger === false ? 'silent' : config.LOG_LEVEL, opts.logStream);
  const caps = opts.capabilities ?? defaultCapabilities;
  let phaseStart = performance.now();
  const phase = (line: string) => {
    const now = performance.now();
    opts.onPhase?.(`${line} (${((now - phaseStart) / 1000).toFixed(1)} s)`);
    phaseStart = now;
  };
  const embedded = isEmbedded(config);
  opts.onPhase?.(
    embedded
      ? `opening the embedded database ${config.DATABASE_URL ? 'in memory' : `in ${config.DATA_DIR}`}…`
      : 'connecting to PostgreSQL…',
  );

  // An embedded data directory belongs to one process: the second is refused before it opens the files.
  const lock = config.DATABASE_URL ? undefined : lockDataDir(config.DATA_DIR);
  let opened;
  try {
    opened = await openDb({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolMax: config.PG_POOL_MAX,
      onConnectionError: (err) => log.warn({ err }, 'database connection lost; the pool opens a new one'),
    });
  } catch (err) {
    lock?.release();
    throw err;
  }
  const db = opened.db;
  phase('database open');
  const closers: (() => Promise<unknown> | unknown)[] = [];
  try {
    const applied = await migrate(db);
    if (applied.length) log.info({ applied }, 'migrations applied');
    phase(applied.length ? `migrations: ${applied.length} applied` : 'migrations: up to date');

    const queue = new JobQueue({
      pglite: opened.pglite,
      connectionString: opened.connectionString,
      log,
      superviseIntervalSeconds: opts.superviseIntervalSeconds,
    });
    const metrics = new Metrics(queue);
    const auth = new AuthService(db, config.TOKEN_CACHE_SECONDS);
    const services = new Services();
    const platform: Platform = { config, db, queue, auth, metrics, log, capabilities: caps, services };
    services.bind(platform);
    closers.push(() => services.close());

    for (const cap of caps) cap.jobs?.(platform);
    await queue.start();
    closers.push(() => queue.stop(true));
    if (role === 'worker' || config.WORKERS === 'on') await queue.work();
    phase('job queue started');

    let sandbox: SandboxInfo | undefined;
    if (role === 'api') {
      sandbox = await ensureSandbox(platform, { embedded });
      if (sandbox.demo) phase(sandbox.loaded ? 'demo data loaded' : 'demo data present');
    }

    let app: App | undefined;
    if (role === 'api') {
      app = await createHttpApp({
        config: platform.config,
        auth,
        logger: opts.logger,
        logStream: opts.logStream,
        checkResponses: opts.checkResponses,
        journal: journalEnabled(config) ? services.get(requestJournalKey) : undefined,
      });
      metrics.instrument(app);
      app.get('/health/live', { schema: { hide: true } }, async (req, reply) => sendData(req, reply, { status: 'ok' }));
      app.get('/health/ready', { schema: { hide: true } }, async (req, reply) => {
        try {
          await db.query('SELECT 1');
        } catch {
          throw errorOfStatus(503, 'Database is not reachable');
        }
        const pending = await pendingMigrations(db);
        if (pending.length) throw errorOfStatus(503, `Migrations not applied: ${pending.join(', ')}`);
        return sendData(req, reply, { status: 'ready', database: db.engine });
      });
      for (const cap of caps) await cap.routes?.(app, platform);
      await app.ready();
      app.warmValidators().catch((err: unknown) => log.error({ err }, 'a request schema does not compile'));
      phase('HTTP routes ready');
    }

    return {
      platform,
      app,
      sandbox,
      async close() {
        // Stop taking requests first, then let in-flight jobs finish, then close the database.
        if (app) await app.close();
        for (const cap of caps) await cap.close?.();
        for (const c of closers.reverse()) await c();
        await db.close();
        lock?.release();
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
    await db.close().catch(() => undefined);
    lock?.release();
    throw err;
  }
}
