/**
 * Compositions job metrics on the runtime's registry:
 * - esoz_composition_jobs{status}: jobs in the table by status (from the database, so every process agrees);
 * - esoz_composition_jobs_eta{result="before_eta"|"after_eta"}: retained finished jobs by whether they
 *   finished by the eta promised in their 202 (database);
 * - esoz_composition_job_finished_total{kind,status,eta}: finished in this process, same split;
 * - esoz_composition_job_duration_seconds{kind,status}: service time in this process.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Db } from '../platform/db.ts';
import type { JobKind } from './model.ts';

export class CompositionMetrics {
  private readonly finishedTotal: Counter<'kind' | 'status' | 'eta'>;
  private readonly duration: Histogram<'kind' | 'status'>;

  constructor(registry: Registry, db: Db) {
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
        const r = await db.query<{ status: string; n: number }>('SELECT status, count(*) AS n FROM composition_jobs GROUP BY status').catch(() => ({ rows: [] }));
        for (const s of ['PENDING', 'DONE', 'FAILED']) this.set({ status: s }, Number(r.rows.find((x) => x.status === s)?.n ?? 0));
      },
    });
    new Gauge({
      name: 'esoz_composition_jobs_eta',
      help: 'Finished composition jobs (within retention) by whether they finished by the eta of their 202',
      labelNames: ['result'],
      registers: [registry],
      async collect() {
        const r = await db
          .query<{ before: number; after: number }>(
            `SELECT count(*) FILTER (WHERE finished_at <= first_eta) AS before, count(*) FILTER (WHERE finished_at > first_eta) AS after
               FROM composition_jobs WHERE status <> 'PENDING'`,
          )
          .catch(() => ({ rows: [] as { before: number; after: number }[] }));
        this.set({ result: 'before_eta' }, Number(r.rows[0]?.before ?? 0));
        this.set({ result: 'after_eta' }, Number(r.rows[0]?.after ?? 0));
      },
    });
  }

  observe(kind: JobKind, status: 'DONE' | 'FAILED', seconds: number, onTime: boolean | undefined) {
    this.duration.observe({ kind, status }, seconds);
    if (onTime !== undefined) this.finishedTotal.inc({ kind, status, eta: onTime ? 'before_eta' : 'after_eta' });
  }
}
