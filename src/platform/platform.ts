/**
 * What every capability receives: configuration, the database, the queue, auth, metrics, logger.
 * Capabilities export a `Capability` and never reach for globals.
 */
import type { Config } from './config.ts';
import type { Db } from './db.ts';
import type { JobQueue } from './queue.ts';
import type { AuthService } from './auth.ts';
import type { Metrics } from './metrics.ts';
import type { Logger } from './logging.ts';
import type { App } from './http/server.ts';

export interface Platform {
  config: Config;
  db: Db;
  queue: JobQueue;
  auth: AuthService;
  metrics: Metrics;
  log: Logger;
}

export interface Capability {
  name: string;
  /** Define queues and schedules (runs in API and worker processes). */
  jobs?(platform: Platform): void;
  /** Register HTTP routes (API process only). */
  routes?(app: App, platform: Platform): void | Promise<void>;
  /** Stop timers and caches on shutdown. */
  close?(): Promise<void> | void;
}
