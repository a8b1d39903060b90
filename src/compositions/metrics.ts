/**
 * Compositions job metrics on the runtime's registry:
 * - esoz_composition_jobs{status}: jobs in the table by status (from the database, so every process agrees);
 * - esoz_composition_jobs_eta{result="before_eta"|"after_eta"}: retained finished jobs by whether they
 *   finished by the eta promised in their 202 (database);
 * - esoz_composition_job_finished_total{kind,status,eta}: finished in this process, same split;
 * - esoz_composition_job_duration_seconds{kind,status}: service time in this process.
 * The two database gauges come from one query, reused for 10 s.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Db } from '../platform/db.ts';
import type { JobKind } from './model.ts';
import { jobCounts } from './job-store.ts';

interface Snapshot {
  PENDING: number;
  DONE: number;
  FAILED: number;
  before: number;
  after: number;
}

export class CompositionMetrics {
  private readonly finishedTotal: Counter<'kind' | 'status' | 'eta'>;
  private readonly duration: Histogram<'kind' | 'status'>;

  constructor(registry: Registry, db: Db) {
    // the database gauges cost a scan of the retained jobs: computed at most every 10 s per process
    let snapshot: { at: number; value: Promise<Snapshot> } | undefined;
    const read = (): Promise<Snapshot> => {
      if (snapshot && Date.now() - snapshot.at < 10_000) return snapshot.value;
      const value = jobCounts(db)
        .then((x) => ({
          PENDING: Number(x.pending),
          DONE: Number(x.done),
          FAILED: Number(x.failed),
          before: Number(x.before),
          after: Number(x.after),
        }))
        .catch(() => ({ PENDING: 0, DONE: 0, FAILED: 0, before: 0, after: 0 }));
      snapshot = { at: Date.now(), value };
      return value;
    };
    this.finishedTotal = new Counter({
      name: 'esoz_composition_job_finished_total',
      help: 'Composition jobs finished by this process, by kind, status and whether they finished by their first eta',
      labelNames: ['kind', 'status', 'eta'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'esoz_composition_job_duration_seconds',
      help: 'Composition job service time (claim to commit) in this process',
      labelNames: ['kind', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    new Gauge({
      name: 'esoz_composition_jobs',
      help: 'Composition jobs in the database by status',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        const s = await read();
        for (const status of ['PENDING', 'DONE', 'FAILED'] as const) this.set({ status }, s[status]);
      },
    });
    new Gauge({
      name: 'esoz_composition_jobs_eta',
      help: 'Finished composition jobs (within retention) by whether they finished by the eta of their 202',
      labelNames: ['result'],
      registers: [registry],
      async collect() {
        const s = await read();
        this.set({ result: 'before_eta' }, s.before);
        this.set({ result: 'after_eta' }, s.after);
      },
    });
  }

  observe(kind: JobKind, status: 'DONE' | 'FAILED', seconds: number, onTime: boolean | undefined) {
    this.duration.observe({ kind, status }, seconds);
    if (onTime !== undefined) this.finishedTotal.inc({ kind, status, eta: onTime ? 'before_eta' : 'after_eta' });
  }
}
