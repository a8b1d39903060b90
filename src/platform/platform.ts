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
import type { TSchema } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from './services.ts';

export interface Platform {
  config: Config;
  db: Db;
  queue: JobQueue;
  auth: AuthService;
  metrics: Metrics;
  log: Logger;
  /** Every capability of this runtime (the sandbox gathers their fixture kinds and demo data). */
  capabilities: Capability[];
  /** Per-runtime state (services.ts): caches, readers, processors — never module-level maps. */
  services: Services;
}

/**
 * A capability's routes as a Fastify plugin, registered under its prefix
 * (`app.register(plugin, { prefix, platform })`): its paths are written relative to the prefix, and
 * the TypeBox provider types `request.params/body/query` from the route schemas.
 */
export type RoutesPlugin = FastifyPluginAsyncTypebox<{ platform: Platform }>;

export interface Capability {
  name: string;
  /** Define queues and schedules (runs in API and worker processes). */
  jobs?(platform: Platform): void;
  /** Register HTTP routes (API process only): a capability registers its `RoutesPlugin` under its prefix. */
  routes?(app: App, platform: Platform): void | Promise<void>;
  /** Sandbox: kinds accepted by POST /admin/fixtures (body key → schema of one item + upsert). */
  fixtures?: FixtureKind[];
  /** Sandbox: demo rows of this capability, loaded once on the first start of an embedded sandbox (after registry demo data). */
  demo?(platform: Platform): Promise<void>;
  /** Stop timers and caches on shutdown. */
  close?(): Promise<void> | void;
}

export interface FixtureKind {
  /** Body key of POST /admin/fixtures, e.g. "medication_requests". */
  name: string;
  /** TypeBox schema of one item; unknown fields are rejected. */
  schema: TSchema;
  /** Upsert one item inside the fixtures transaction; returns its id. Kinds are applied in capability order. */
  upsert(tx: import('./db.ts').Db, item: any, platform: Platform): Promise<string>;
  /**
   * A final check run after every kind of the body is applied (so references between items of one
   * body do not depend on their order), with the ids of this kind's items. Returns full-path entries.
   */
  finish?(tx: import('./db.ts').Db, ids: string[]): Promise<import('./errors.ts').InvalidEntry[]>;
}
