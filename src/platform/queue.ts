/**
 * Durable jobs on PostgreSQL through pg-boss, on both engines:
 * - embedded: pg-boss runs on the same in-process PGlite as the app (`fromPglite`), woken by
 *   in-process LISTEN/NOTIFY, so pickup is milliseconds, not a poll interval;
 * - PostgreSQL: pg-boss over its own pool; workers on many machines claim with SKIP LOCKED.
 *
 * Capabilities declare their queues once (`defineQueue`); `send` takes the caller's transaction so a
 * job exists exactly when the domain write that needs it commits. A job whose worker dies is claimed
 * again after `expireInSeconds` (the lease) by pg-boss's supervisor.
 *
 * Relays (`defineRelay` / `nudge`) move rows of a domain outbox into jobs in batches, so a hot
 * request path writes one row and never pays for a job insert itself.
 */
import { PgBoss, fromPglite, type Job } from 'pg-boss';
import type { PGlite } from '@electric-sql/pglite';
import type { Db } from './db.ts';
import type { Logger } from './logging.ts';

interface QueueSettings {
  name: string;
  /** Retries after the first try. */
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  retryDelayMax?: number;
  /** The lease: a job active longer than this is taken back and retried. */
  expireInSeconds?: number;
  /**
   * A liveness lease inside `expireInSeconds` for long jobs: the worker refreshes the job every
   * heartbeatSeconds / 2 while it runs, and a job not refreshed for heartbeatSeconds (its worker died)
   * is taken back and retried. pg-boss's minimum is 10.
   */
  heartbeatSeconds?: number;
  deleteAfterSeconds?: number;
  /** Fetch loops per worker process (each holds up to `batchSize` jobs at once). */
  concurrency?: number;
  /** Jobs one fetch takes (default 4). */
  batchSize?: number;
}

/** How a queue's jobs run: one by one (`handler`), or each fetch at once (`batchHandler`); never both. */
type QueueHandler<T extends object> =
  | { handler: (job: Job<T>) => Promise<unknown>; batchHandler?: never }
  | {
      /**
       * The jobs of one fetch at once: one result per job, in order; an Error fails (and retries)
       * that job alone.
       */
      batchHandler: (jobs: Job<T>[]) => Promise<(unknown | Error)[]>;
      handler?: never;
    };

export type QueueDefinition<T extends object = any> = QueueSettings & QueueHandler<T>;

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

interface Relay {
  name: string;
  run: () => Promise<number>;
  intervalMs: number;
  minGapMs: number;
  timer?: NodeJS.Timeout;
  /** A nudge that arrived within minGapMs of the last run's start: the run it scheduled. */
  delayed?: NodeJS.Timeout;
  delayedDone?: Promise<void>;
  lastStart: number;
  /** The run in progress (including the extra run a nudge asked for while it ran). */
  running?: Promise<void>;
  again: boolean;
}

/**
 * The settings of `wanted` that the queue stored in the database has with another value, as
 * `name old → new` (settings the database does not report are left out).
 */
export function queueSettingChanges(stored: Record<string, unknown>, wanted: Record<string, unknown>): string[] {
  return Object.keys(wanted)
    .filter((k) => k !== 'notify' && stored[k] !== undefined && stored[k] !== null && stored[k] !== wanted[k])
    .map((k) => `${k} ${String(stored[k])} → ${String(wanted[k])}`);
}

export class JobQueue {
  readonly boss: PgBoss;
  private readonly definitions = new Map<string, QueueDefinition>();
  private readonly schedules: ScheduleDefinition[] = [];
  private readonly relays = new Map<string, Relay>();
  private started = false;
  private working = false;
  private relaysOn = false;

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

  hasQueue(name: string): boolean {
    return this.definitions.has(name);
  }

  defineSchedule(def: ScheduleDefinition) {
    this.schedules.push(def);
  }

  /**
   * A relay: `run` moves work from domain tables into jobs (e.g. the SMS outbox into delivery jobs)
   * and returns how many items it moved. After `start()` every process (API processes with
   * WORKERS=off too) runs each relay every `intervalMs` — the floor that guarantees progress — and
   * `nudge(name)` runs it at once in this process, typically right after a transaction that wrote
   * work committed. Runs of one relay never overlap in a process: a nudge during a run makes exactly
   * one more run follow it (so work committed during the run is not left for the next tick). Runs in
   * different processes may overlap; `run` must be safe for that (FOR UPDATE SKIP LOCKED).
   *
   * `minGapMs` batches under load: a nudge within `minGapMs` of the last run's start does not run at
   * once but schedules one run at lastStart + minGapMs (all nudges until then share it). An idle relay
   * still runs at once; a busy one runs at most every `minGapMs`, so each run moves a bigger batch.
   */
  defineRelay(name: string, run: () => Promise<number>, intervalMs = 1000, opts: { minGapMs?: number } = {}) {
    if (this.relays.has(name)) throw new Error(`relay ${name} defined twice`);
    this.relays.set(name, { name, run, intervalMs, minGapMs: opts.minGapMs ?? 0, again: false, lastStart: 0 });
    if (this.relaysOn) this.startRelay(this.relays.get(name)!);
  }

  hasRelay(name: string): boolean {
    return this.relays.has(name);
  }

  /**
   * Run the relay now (or once more after the run in progress). Resolves when that run ended; never
   * rejects (a failing run is logged and retried on the next tick or nudge). A no-op before `start()`
   * and after `stop()`.
   */
  nudge(name: string): Promise<void> {
    const relay = this.relays.get(name);
    if (!relay) throw new Error(`unknown relay ${name}`);
    if (!this.relaysOn) return Promise.resolve();
    const wait = relay.lastStart + relay.minGapMs - Date.now();
    if (wait <= 0 || relay.running) return this.kick(relay);
    if (!relay.delayedDone) {
      relay.delayedDone = new Promise<void>((resolve) => {
        relay.delayed = setTimeout(() => {
          relay.delayed = undefined;
          relay.delayedDone = undefined;
          void this.kick(relay).then(resolve);
        }, wait);
        relay.delayed.unref();
      });
    }
    return relay.delayedDone;
  }

  private kick(relay: Relay): Promise<void> {
    if (!this.relaysOn) return Promise.resolve();
    if (relay.running) {
      relay.again = true;
      return relay.running;
    }
    relay.running = (async () => {
      try {
        let first = true;
        do {
          if (!first) {
            // the follow-up run a nudge asked for keeps the gap too (runs still never overlap)
            const wait = relay.lastStart + relay.minGapMs - Date.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          first = false;
          relay.again = false;
          relay.lastStart = Date.now();
          try {
            await relay.run();
          } catch (err) {
            this.opts.log.error({ err, relay: relay.name }, 'relay run failed');
          }
        } while (relay.again && this.relaysOn);
      } finally {
        relay.running = undefined;
      }
    })();
    return relay.running;
  }

  private startRelay(relay: Relay) {
    relay.timer = setInterval(() => void this.kick(relay), relay.intervalMs);
    relay.timer.unref();
    // work left from before this process started (or from a process that died) leaves at once
    void this.kick(relay);
  }

  private async stopRelays() {
    this.relaysOn = false;
    for (const r of this.relays.values()) {
      if (r.timer) clearInterval(r.timer);
      r.timer = undefined;
    }
    // a delayed nudge's timer fires into kick(), which does nothing once relaysOn is false
    await Promise.all([...this.relays.values()].map((r) => r.running ?? Promise.resolve()));
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
        ...(def.heartbeatSeconds ? { heartbeatSeconds: def.heartbeatSeconds } : {}),
        deleteAfterSeconds: def.deleteAfterSeconds ?? 86400,
      };
      const existing = await this.boss.getQueue(def.name);
      if (existing) {
        // pg-boss keeps one set of settings per queue in the database: the last process to start wins.
        // Processes started with different settings (e.g. JOB_LEASE_SECONDS) are a deployment mistake.
        const changed = queueSettingChanges(existing as unknown as Record<string, unknown>, options);
        if (changed.length) {
          this.opts.log.warn(
            { queue: def.name, changed },
            "queue settings in the database differ from this process; this process's settings now apply to every process",
          );
        }
        await this.boss.updateQueue(def.name, options);
      } else
        await this.boss.createQueue(def.name, options).catch(async (err) => {
          // another process created it at the same moment
          if (!(await this.boss.getQueue(def.name))) throw err;
        });
    }
    for (const s of this.schedules) await this.boss.schedule(s.queue, s.cron, s.data ?? null);
    this.started = true;
    this.relaysOn = true;
    for (const r of this.relays.values()) this.startRelay(r);
  }

  /** Start consuming every defined queue in this process. */
  async work() {
    if (this.working) return;
    this.working = true;
    for (const def of this.definitions.values()) {
      await this.boss.work<object>(
        def.name,
        {
          // A fetch takes up to `batchSize` jobs and, while fetches come back full, the worker fetches
          // again at once (burst): a backlog drains at full speed instead of one job per poll.
          batchSize: def.batchSize ?? 4,
          burstWhenBatchFull: true,
          localConcurrency: def.concurrency ?? 2,
          pollingIntervalSeconds: 1,
          // NOTIFY wakes workers for new jobs; retries and expired leases are found by this poll
          notifyPollingIntervalSeconds: 1,
          // each job of a batch succeeds or fails (and is retried) on its own
          perJobResults: true,
        },
        async (jobs: Job<object>[]) => {
          const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = def.batchHandler
            ? await def.batchHandler(jobs).then(
                (values) => values.map((v) => (v instanceof Error ? { ok: false as const, error: v } : { ok: true as const, value: v })),
                (error) => jobs.map(() => ({ ok: false as const, error })),
              )
            : (await Promise.allSettled(jobs.map((job) => def.handler(job)))).map((s) =>
                s.status === 'fulfilled' ? { ok: true as const, value: s.value } : { ok: false as const, error: s.reason },
              );
          return outcomes.map((o, i) =>
            o.ok
              ? { id: jobs[i].id, status: 'completed' as const, output: o.value && typeof o.value === 'object' ? o.value : undefined }
              : { id: jobs[i].id, status: 'failed' as const, output: { message: String((o.error as Error)?.message ?? o.error) } },
          );
        },
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

  /** Many jobs of one queue in one statement, in the caller's transaction (`tx`) when given. */
  async insert(name: string, jobs: { id?: string; data: object }[], opts: { tx?: Db } = {}): Promise<void> {
    if (!this.definitions.has(name)) throw new Error(`unknown queue ${name}`);
    const options: Record<string, unknown> = {};
    if (opts.tx) options.db = { executeSql: (text: string, values?: unknown[]) => opts.tx!.query(text, values) };
    await this.boss.insert(name, jobs, options);
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
    // relays send jobs: let a running one finish before pg-boss closes
    await this.stopRelays();
    await this.boss.stop({ graceful, close: true, timeout: 20_000 });
  }
}
