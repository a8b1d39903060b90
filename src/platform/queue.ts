/**
 * Durable jobs on PostgreSQL through pg-boss, on both engines:
 * - embedded: pg-boss runs on the same in-process PGlite as the app (`fromPglite`), woken by
 *   in-process LISTEN/NOTIFY, so pickup is milliseconds, not a poll interval;
 * - PostgreSQL: pg-boss over its own pool; workers on many machines claim with SKIP LOCKED.
 *
 * Capabilities declare their queues once (`defineQueue`); `send` takes the caller's transaction so a
 * job exists exactly when the domain write that needs it commits. A job whose worker dies is claimed
 * again after `expireInSeconds` (the lease) by pg-boss's supervisor.
 */
import { PgBoss, fromPglite, type Job } from 'pg-boss';
import type { PGlite } from '@electric-sql/pglite';
import type { Db } from './db.ts';
import type { Logger } from './logging.ts';

export interface QueueDefinition<T extends object = any> {
  name: string;
  /** Retries after the first try. */
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  retryDelayMax?: number;
  /** The lease: a job active longer than this is taken back and retried. */
  expireInSeconds?: number;
  deleteAfterSeconds?: number;
  /** Jobs each worker process handles at once. */
  concurrency?: number;
  handler: (job: Job<T>) => Promise<unknown>;
}

export interface ScheduleDefinition {
  queue: string;
  cron: string;
  data?: object;
}

export interface SendOptions {
  tx?: Db;
  startAfter?: number | Date;
  singletonKey?: string;
  id?: string;
}

export interface QueueOptions {
  pglite?: PGlite;
  connectionString?: string;
  log: Logger;
  /** How often pg-boss looks for expired leases; short in tests. */
  superviseIntervalSeconds?: number;
  schedules?: boolean;
}

export class JobQueue {
  readonly boss: PgBoss;
  private readonly definitions = new Map<string, QueueDefinition>();
  private readonly schedules: ScheduleDefinition[] = [];
  private started = false;
  private working = false;

  constructor(private readonly opts: QueueOptions) {
    const common = {
      useListenNotify: true,
      superviseIntervalSeconds: opts.superviseIntervalSeconds ?? 5,
      monitorIntervalSeconds: opts.superviseIntervalSeconds ?? 5,
      schedule: opts.schedules ?? true,
    };
    this.boss = opts.pglite
      ? new PgBoss({ db: fromPglite(opts.pglite as any), backend: 'pglite', ...common })
      : new PgBoss({ connectionString: opts.connectionString, max: 4, ...common });
    this.boss.on('error', (err: Error) => opts.log.error({ err }, 'queue error'));
    this.boss.on('warning', (w: unknown) => opts.log.warn({ warning: w }, 'queue warning'));
  }

  defineQueue<T extends object>(def: QueueDefinition<T>) {
    if (this.definitions.has(def.name)) throw new Error(`queue ${def.name} defined twice`);
    this.definitions.set(def.name, def as QueueDefinition);
  }

  defineSchedule(def: ScheduleDefinition) {
    this.schedules.push(def);
  }

  async start() {
    await this.boss.start();
    for (const def of this.definitions.values()) {
      const retryBackoff = def.retryBackoff ?? true;
      const options = {
        notify: true,
        retryLimit: def.retryLimit ?? 5,
        retryDelay: def.retryDelay ?? 1,
        retryBackoff,
        ...(retryBackoff ? { retryDelayMax: def.retryDelayMax ?? 300 } : {}),
        expireInSeconds: def.expireInSeconds ?? 60,
        deleteAfterSeconds: def.deleteAfterSeconds ?? 86400,
      };
      const existing = await this.boss.getQueue(def.name);
      if (existing) await this.boss.updateQueue(def.name, options);
      else await this.boss.createQueue(def.name, options).catch(async (err) => {
        // another process created it at the same moment
        if (!(await this.boss.getQueue(def.name))) throw err;
      });
    }
    for (const s of this.schedules) await this.boss.schedule(s.queue, s.cron, s.data ?? null);
    this.started = true;
  }

  /** Start consuming every defined queue in this process. */
  async work() {
    if (this.working) return;
    this.working = true;
    for (const def of this.definitions.values()) {
      await this.boss.work<object>(
        def.name,
        {
          batchSize: 1,
          localConcurrency: def.concurrency ?? 2,
          pollingIntervalSeconds: 1,
          // NOTIFY wakes workers for new jobs; retries and expired leases are found by this poll
          notifyPollingIntervalSeconds: 1,
        },
        async ([job]) => def.handler(job),
      );
    }
  }

  async send(name: string, data: object, opts: SendOptions = {}): Promise<string | null> {
    if (!this.definitions.has(name)) throw new Error(`unknown queue ${name}`);
    const { tx, ...rest } = opts;
    const options: Record<string, unknown> = { ...rest };
    if (tx) options.db = { executeSql: (text: string, values?: unknown[]) => tx.query(text, values) };
    return this.boss.send(name, data, options);
  }

  async depth(): Promise<{ name: string; queued: number; active: number; failed: number }[]> {
    if (!this.started || this.definitions.size === 0) return [];
    const queues = await this.boss.getQueues([...this.definitions.keys()]);
    return queues.map((q) => ({ name: q.name, queued: q.queuedCount, active: q.activeCount, failed: q.failedCount }));
  }

  get queueNames() {
    return [...this.definitions.keys()];
  }

  async stop(graceful = true) {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful, close: true, timeout: 20_000 });
  }
}
