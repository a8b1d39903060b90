/**
 * The worker side: one handler for the jobs a worker fetched together. It claims them, dispatches
 * each by kind to its method module (create.ts, sign.ts, cancel.ts hold the rules), finishes the
 * failures, and folds the batch into the ETA statistics.
 *
 * Exactly-once effect on at-least-once delivery: the public job row is locked (FOR UPDATE) at the
 * start of the finishing transaction and must still be PENDING; the domain writes and the status
 * change commit together. A redelivered or reclaimed job finds it DONE/FAILED and does nothing, and
 * `compositions.job_id` is UNIQUE besides. Business outcomes (TaskFailure) fail the job at once;
 * anything else is thrown so pg-boss retries with backoff, and the last retry fails the job.
 *
 * Create jobs of one fetch are processed together, with statements shared by the batch (create.ts,
 * runCreates). Sign and cancel jobs (CMS verification per job) run one by one.
 */
import type { Job } from 'pg-boss';
import type { Platform } from '../platform/platform.ts';
import type { Logger } from '../platform/logging.ts';
import type { SignatureVerifier } from '../platform/signature.ts';
import { TaskFailure, TASK_ERRORS, isTaskErrorType, type JobError, type JobKind, type TaskErrorType } from './model.ts';
import { FAULTS } from '../platform/faults.ts';
import { MESSAGES } from './messages.ts';
import { claimJobs, foldServiceTimes, markFailed, type ClaimedJob } from './job-store.ts';
import { signatureFailure } from './signature.ts';
import { runCreates, testDelay } from './create.ts';
import { runSign } from './sign.ts';
import { runCancel } from './cancel.ts';
import type { CompositionMetrics } from './metrics.ts';

/** What a method's consumer side receives: the runtime, its logger and the signature verifier. */
export interface JobContext {
  platform: Platform;
  log: Logger;
  verifier: SignatureVerifier;
}

/** A job's end as its method reports it; undefined when another attempt finished it meanwhile. */
export type Outcome = { status: 'DONE' | 'FAILED'; onTime?: boolean } | undefined;

export interface WorkerDeps {
  platform: Platform;
  verifier: SignatureVerifier;
  metrics: CompositionMetrics;
  retryLimit: number;
}

const isUniqueViolation = (err: any, constraint?: string) =>
  err?.code === '23505' && (!constraint || String(err?.constraint ?? err?.message ?? '').includes(constraint));

type Fetched = { job: Job<{ jobId: string }>; row: ClaimedJob; k: number };

export class Worker {
  private readonly ctx: JobContext;

  constructor(private readonly deps: WorkerDeps) {
    this.ctx = { platform: deps.platform, log: deps.platform.log, verifier: deps.verifier };
  }

  /** The jobs of one fetch: each gets its own result, or an Error (pg-boss retries that job). */
  async handleBatch(jobs: Job<{ jobId: string }>[]): Promise<(unknown | Error)[]> {
    const results: (unknown | Error)[] = jobs.map(() => ({ skipped: true }));
    // 1. claim the PENDING ones (the others finished already, or were deleted)
    let claimed: ClaimedJob[];
    try {
      claimed = await claimJobs(
        this.deps.platform.db,
        jobs.map((j) => j.data.jobId),
      );
    } catch (err) {
      return jobs.map(() => err as Error);
    }
    const byId = new Map(claimed.map((r) => [r.id, r]));
    await testDelay('claimed');
    const started = performance.now();
    const injected = await this.injectFaults(claimed);
    const samples: { kind: JobKind; serviceMs: number; turnMs: number }[] = [];
    const finished = (row: ClaimedJob, status: 'DONE' | 'FAILED', onTime: boolean | undefined, since: number) => {
      const ms = performance.now() - since;
      this.deps.metrics.observe(row.kind, status, ms / 1000, onTime);
      samples.push({ kind: row.kind, serviceMs: ms, turnMs: Number(row.waited_ms) + ms });
    };
    const one = async (f: Fetched, run: (ctx: JobContext, row: ClaimedJob) => Promise<Outcome>) => {
      const since = performance.now();
      results[f.k] = await this.settle(f, since, finished, () => run(this.ctx, f.row)).catch((err) => err as Error);
    };
    // 2. dispatch by kind: a kind missing here does not compile (JOB_KINDS in model.ts)
    const creates: Fetched[] = [];
    const others: Promise<void>[] = [];
    jobs.forEach((job, k) => {
      const row = byId.get(job.data.jobId);
      if (!row) return;
      const fault = injected.get(row.id);
      if (fault) {
        others.push(
          markFailed(this.deps.platform.db, row.id, fault).then(
            (r) => {
              finished(row, 'FAILED', r?.on_time, started);
              results[k] = { status: 'FAILED', error: fault.type };
            },
            (err: unknown) => {
              results[k] = err as Error;
            },
          ),
        );
        return;
      }
      const f: Fetched = { job, row, k };
      switch (row.kind) {
        case 'CREATE':
          creates.push(f);
          break;
        case 'SIGN':
          others.push(one(f, runSign));
          break;
        case 'CANCEL':
          others.push(one(f, runCancel));
          break;
        case 'ERLN_RESEND':
        case 'RESEND_SMS':
          // RC_4's job is finished by the ERLN worker with its integration task (src/erln/tasks.ts), an SMS
          // resend's is written DONE with its SMS (resend-sms.ts): neither is ever put on this queue
          results[k] = { skipped: true };
          break;
        default: {
          const unhandled: never = row.kind;
          results[k] = new Error(`composition job ${row.id} has the unknown kind ${String(unhandled)}`);
        }
      }
    });
    const byK = new Map(creates.map((f) => [f.k, f]));
    const createBatch = runCreates(this.ctx, creates, {
      finished: (k, status, onTime, failure) => {
        finished(byK.get(k)!.row, status, onTime, started);
        results[k] = status === 'DONE' ? { status: 'DONE' } : { status: 'FAILED', error: failure?.type };
      },
      skipped: (k) => {
        results[k] = { skipped: true };
      },
      error: async (k, err) => {
        results[k] = await this.onError(byK.get(k)!, err, started, finished).catch((e) => e as Error);
      },
    });
    await Promise.all([createBatch, ...others]);
    // 3. one observation per kind for the ETA model (outside the job transactions: the stats row is hot)
    await foldServiceTimes(this.deps.platform.db, samples).catch((err) => this.deps.platform.log.warn({ err }, 'job stats not recorded'));
    return results;
  }

  /**
   * The sandbox's faults (PUT /admin/faults): each batch waits `delay_ms`, and each of the next
   * `fail_next` jobs is failed with the chosen task error instead of running (their error by job id).
   */
  private async injectFaults(claimed: ClaimedJob[]): Promise<Map<string, JobError>> {
    const out = new Map<string, JobError>();
    const faults = this.deps.platform.services.get(FAULTS);
    const { composition_jobs: fault } = await faults.current();
    if (fault.delay_ms > 0) await new Promise((r) => setTimeout(r, fault.delay_ms));
    if (fault.fail_next <= 0) return out;
    const type: TaskErrorType = isTaskErrorType(fault.error_type) ? fault.error_type : 'INTERNAL_ERROR';
    for (const row of claimed) {
      if (row.kind === 'ERLN_RESEND' || !(await faults.take('composition_jobs'))) continue;
      out.set(row.id, { code: TASK_ERRORS[type], type, message: fault.message });
    }
    return out;
  }

  /** One sign or cancel job: DONE, a business failure (FAILED at once), or an error (see onError). */
  private async settle(
    f: Fetched,
    since: number,
    finished: (row: ClaimedJob, status: 'DONE' | 'FAILED', onTime: boolean | undefined, since: number) => void,
    run: () => Promise<Outcome>,
  ): Promise<unknown> {
    try {
      const outcome = await run();
      if (!outcome) return { skipped: true };
      finished(f.row, outcome.status, outcome.onTime, since);
      return { status: outcome.status };
    } catch (err) {
      const failure = asFailure(err);
      if (!failure) return this.onError(f, err, since, finished);
      const r = await markFailed(this.deps.platform.db, f.row.id, failure.toJSON());
      finished(f.row, 'FAILED', r?.on_time, since);
      return { status: 'FAILED', error: failure.type };
    }
  }

  /** A transient error: thrown so pg-boss retries with backoff; the last retry fails the job with INTERNAL_ERROR instead. */
  private async onError(
    f: Fetched,
    err: unknown,
    since: number,
    finished: (row: ClaimedJob, status: 'DONE' | 'FAILED', onTime: boolean | undefined, since: number) => void,
  ): Promise<unknown> {
    if (f.job.retryCount >= this.deps.retryLimit) {
      const error: JobError = {
        code: TASK_ERRORS.INTERNAL_ERROR,
        type: 'INTERNAL_ERROR',
        message: MESSAGES.internalError(f.job.retryCount + 1),
      };
      this.deps.platform.log.error({ err, jobId: f.row.id }, 'composition job failed for good');
      const r = await markFailed(this.deps.platform.db, f.row.id, error);
      finished(f.row, 'FAILED', r?.on_time, since);
      return { status: 'FAILED', error: 'INTERNAL_ERROR' };
    }
    this.deps.platform.log.warn({ err, jobId: f.row.id, retry: f.job.retryCount }, 'composition job failed, will retry');
    throw err;
  }
}

/** A business outcome of a job (fails it at once, never retried), or null for a transient error. */
function asFailure(err: unknown): TaskFailure | null {
  if (err instanceof TaskFailure) return err;
  const signature = signatureFailure(err);
  if (signature) return signature;
  // 1127 lost to a concurrent sign between the check and the write
  if (isUniqueViolation(err, 'compositions_final_per_encounter_idx')) {
    return new TaskFailure('FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS', MESSAGES.finalExistsRace);
  }
  return null;
}
