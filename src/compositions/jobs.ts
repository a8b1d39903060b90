/**
 * The public async job of Compositions: accept (dedupe + enqueue in the caller's transaction),
 * render (`compositionAsyncJobStateData` with an honest eta), finish (compare-and-set), and the
 * maintenance sweep (retention, stuck jobs).
 *
 * ETA model (docs/decisions.md (Compositions)): eta = now + service + ahead × drain, where `service`
 * is the moving average time a worker needs for one job, `drain` the moving average interval
 * between completions while the queue is busy (≈ service ÷ parallel workers), and `ahead` the
 * PENDING jobs queued before this one. A job already in a worker's hands gets started_at + service,
 * or, when it overruns, now + half its elapsed time; a queued job that has waited longer than its
 * estimate (stalled queue) gets now + half its waiting time.
 * Both averages live in `composition_job_stats`, shared by all processes.
 */
import { randomUUID } from 'node:crypto';
import type { Platform } from '../platform/platform.ts';
import type { Db } from '../platform/db.ts';
import type { AuthContext } from '../platform/auth.ts';
import { QUEUE_PROCESS, TASK_ERRORS, type JobError, type JobKind, type JobStatus } from './model.ts';
import { requestHash } from './document.ts';
import type { JobState } from './schemas.ts';
import { batchesInFlight, statementBatcher, type StatementBatcher } from '../platform/batch.ts';

export const JOB_PATH = '/api/patients/composition/job';
export const jobPath = (id: string) => `${JOB_PATH}/${id}`;

/** Smallest eta ahead of now for a job in progress (a poll sooner than this is wasted). */
const MIN_LOOKAHEAD_MS = 25;
/** EWMA weight of a new sample. */
const ALPHA = 0.2;

interface JobRow {
  id: string;
  kind: JobKind;
  client_id: string;
  status: JobStatus;
  links: { entity: string; href: string }[];
  error: JobError | null;
  started_at: Date | string | null;
  finished_at: Date | string | null;
  inserted_at: Date | string | null;
  /** PENDING jobs queued before this one, counted up to 1000 */
  ahead: number | null;
  /** past 1000: this job's position after the oldest PENDING job (an upper bound of what is ahead) */
  span?: number | null;
  service_ms: number | null;
  drain_ms: number | null;
  turn_ms: number | null;
  turn_dev_ms: number | null;
}

const toDate = (v: Date | string | null) => (v == null ? null : v instanceof Date ? v : new Date(v));

/** How many mean deviations of the turnaround the eta adds as a margin (as TCP's retransmission timer does). */
const TURN_DEV_MARGIN = 4;

export function estimateEta(o: {
  now: number; ahead: number; serviceMs: number; drainMs: number; startedAt: Date | null; insertedAt?: Date | null;
  /** moving average and mean deviation of accept → finish (absent: no floor) */
  turnMs?: number; turnDevMs?: number;
}): Date {
  const service = Math.max(1, o.serviceMs);
  if (o.startedAt) {
    // in a worker's hands: the rest of a typical run; a job already overrunning is expected to need
    // about half as long again as it has run so far (never an eta in the past)
    const elapsed = Math.max(0, o.now - o.startedAt.getTime());
    return new Date(o.now + Math.max(service - elapsed, elapsed / 2, MIN_LOOKAHEAD_MS));
  }
  // queued: the queue ahead drains at the measured rate; a job that has already waited longer than
  // that (no worker running, a stalled queue) backs its clients off by half its waiting time
  const waited = o.insertedAt ? Math.max(0, o.now - o.insertedAt.getTime()) : 0;
  // floor: what a client has been seeing from accept to finish (pickup and commit included), plus a
  // margin of its deviation, less what this job has already waited
  const turnaround = o.turnMs ? o.turnMs + TURN_DEV_MARGIN * (o.turnDevMs ?? 0) - waited : 0;
  return new Date(o.now + Math.max(service + o.ahead * Math.max(1, o.drainMs), turnaround, waited / 2));
}

function render(row: JobRow, now: number): JobState {
  if (row.status === 'PENDING') {
    const eta = estimateEta({
      now,
      ahead: Number(row.span ?? row.ahead ?? 0),
      serviceMs: Number(row.service_ms ?? 500),
      drainMs: Number(row.drain_ms ?? row.service_ms ?? 500),
      startedAt: toDate(row.started_at),
      insertedAt: toDate(row.inserted_at),
      turnMs: Number(row.turn_ms ?? 0),
      turnDevMs: Number(row.turn_dev_ms ?? 0),
    });
    return { eta: eta.toISOString(), id: row.id, links: [{ entity: 'job', href: jobPath(row.id) }], status: 'PENDING' };
  }
  // jsonb reorders keys: links go out as {entity, href}, the seed's order
  const links = (row.links ?? []).map((l) => ({ entity: l.entity, href: l.href }));
  const state: JobState = { eta: toDate(row.finished_at)!.toISOString(), id: row.id, links, status: row.status };
  if (row.status === 'FAILED' && row.error) state.error = { code: row.error.code, type: row.error.type, message: row.error.message };
  return state;
}

/** The job rows of `ids` in their order (undefined: no such job), from ONE statement (migration 034). */
async function readJobRows(db: Db, ids: readonly string[]): Promise<(JobRow | null)[]> {
  const { rows } = await db.query<{ r: (JobRow | null)[] | string | null }>('SELECT esoz_composition_job_states($1::uuid[]) AS r', [ids]);
  const r = rows[0]?.r;
  return (typeof r === 'string' ? JSON.parse(r) : r) ?? ids.map(() => null);
}

const CACHE_MAX = 20_000;
const CACHE_TTL_MS = 10 * 60_000;

export interface AcceptInput {
  kind: JobKind;
  auth: AuthContext;
  /** the composition a SIGN job works on */
  compositionId?: string | null;
  body: unknown;
}

export class JobStore {
  /** Finished jobs never change: DONE/FAILED states are served from here without a query. */
  private readonly finished = new Map<string, { clientId: string; state: JobState; until: number }>();
  /** Concurrent polls of unfinished jobs share one statement (src/platform/batch.ts). */
  private readonly reads: StatementBatcher<string, JobRow | null>;

  constructor(private readonly platform: Platform) {
    this.reads = statementBatcher((ids) => readJobRows(platform.db, ids), { maxInFlight: batchesInFlight(platform.db) });
  }

  /**
   * Store the public job and its queue job in one transaction. An identical request of the same
   * client while its job is PENDING gets that job back (`created: false`); the UNIQUE partial index
   * makes this race-free across processes.
   */
  async accept(input: AcceptInput): Promise<{ state: JobState; created: boolean }> {
    const { db, queue } = this.platform;
    const hash = requestHash(input.kind, input.compositionId ?? null, input.body);
    for (let attempt = 0; attempt < 5; attempt++) {
      const result = await db.transaction(async (tx) => {
        const id = randomUUID();
        const est = await tx.query<{ pending: number; service_ms: number; drain_ms: number; turn_ms: number; turn_dev_ms: number }>(
          `SELECT (SELECT count(*) FROM composition_jobs WHERE status = 'PENDING') AS pending, service_ms, drain_ms, turn_ms, turn_dev_ms
             FROM composition_job_stats WHERE kind = $1`,
          [input.kind],
        );
        const s = est.rows[0] ?? { pending: 0, service_ms: 500, drain_ms: 500, turn_ms: 0, turn_dev_ms: 0 };
        const eta = estimateEta({
          now: Date.now(), ahead: Number(s.pending), serviceMs: s.service_ms, drainMs: s.drain_ms, startedAt: null,
          turnMs: Number(s.turn_ms), turnDevMs: Number(s.turn_dev_ms),
        });
        const ins = await tx.query<{ id: string }>(
          `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, user_id, employee_id, request_hash, request, composition_id, first_eta)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (client_id, request_hash) WHERE status = 'PENDING' DO NOTHING
           RETURNING id`,
          [id, input.kind, input.auth.clientId, input.auth.legalEntityId, input.auth.userId, input.auth.employeeId, hash,
            JSON.stringify(input.body), input.compositionId ?? null, eta],
        );
        if (ins.rowCount === 0) return null;
        await queue.send(QUEUE_PROCESS, { jobId: id }, { tx, id });
        const state: JobState = { eta: eta.toISOString(), id, links: [{ entity: 'job', href: jobPath(id) }], status: 'PENDING' };
        return state;
      });
      if (result) return { state: result, created: true };
      const existing = await db.query<{ id: string }>(
        `SELECT id FROM composition_jobs WHERE client_id = $1 AND request_hash = $2 AND status = 'PENDING'`, [input.auth.clientId, hash],
      );
      const row = existing.rows[0] && (await readJobRows(db, [existing.rows[0].id]))[0];
      if (row && row.status === 'PENDING') return { state: render(row, Date.now()), created: false };
      // the duplicate finished between our insert and our read: try again, now as a new job
    }
    throw new Error('could not accept the composition job');
  }

  /** The job as its client sees it, or undefined (unknown or another client's). One query at most. */
  async state(id: string, clientId: string): Promise<JobState | undefined> {
    const now = Date.now();
    const hit = this.finished.get(id);
    if (hit && hit.until > now) return hit.clientId === clientId ? hit.state : undefined;
    const row = await this.reads.run(id);
    if (!row) return undefined;
    const state = render(row, now);
    if (row.status !== 'PENDING') this.remember(id, row.client_id, state, now);
    return row.client_id === clientId ? state : undefined;
  }

  private remember(id: string, clientId: string, state: JobState, now: number) {
    if (this.finished.size >= CACHE_MAX) {
      // drop the oldest tenth (Map keeps insertion order)
      let n = CACHE_MAX / 10;
      for (const k of this.finished.keys()) {
        this.finished.delete(k);
        if (--n <= 0) break;
      }
    }
    this.finished.set(id, { clientId, state, until: now + CACHE_TTL_MS });
  }

  forget(id: string) {
    this.finished.delete(id);
  }

  clearCache() {
    this.finished.clear();
  }
}

/** DONE in the caller's transaction (after the domain writes). False when the job was no longer PENDING. */
export async function markDone(tx: Db, jobId: string, compositionId: string, links: { entity: string; href: string }[]) {
  const r = await tx.query<{ on_time: boolean }>(
    `UPDATE composition_jobs SET status = 'DONE', composition_id = $2, links = $3, finished_at = clock_timestamp()
      WHERE id = $1 AND status = 'PENDING' RETURNING finished_at <= first_eta AS on_time`,
    [jobId, compositionId, JSON.stringify(links)],
  );
  return r.rows[0];
}

export async function markFailed(db: Db, jobId: string, error: JobError) {
  const r = await db.query<{ on_time: boolean }>(
    `UPDATE composition_jobs SET status = 'FAILED', error = $2, finished_at = clock_timestamp()
      WHERE id = $1 AND status = 'PENDING' RETURNING finished_at <= first_eta AS on_time`,
    [jobId, JSON.stringify(error)],
  );
  return r.rows[0];
}

/** Fold one measured service time into the shared moving averages (outside the job transaction: a hot row). */
export async function recordServiceTime(db: Db, kind: JobKind, serviceMs: number, turnaroundMs: number = serviceMs) {
  await db.query(
    `UPDATE composition_job_stats
        SET service_ms = CASE WHEN samples = 0 THEN $2::float8 ELSE service_ms * (1 - $3::float8) + $2::float8 * $3::float8 END,
            turn_dev_ms = CASE WHEN samples = 0 THEN $4::float8 / 2 ELSE turn_dev_ms * (1 - $3::float8) + $3::float8 * abs($4::float8 - turn_ms) END,
            turn_ms = CASE WHEN samples = 0 THEN $4::float8 ELSE turn_ms * (1 - $3::float8) + $4::float8 * $3::float8 END,
            drain_ms = CASE WHEN samples = 0 THEN $2::float8 ELSE drain_ms * (1 - $3::float8) + $3::float8 * LEAST($2::float8,
                         GREATEST(1, EXTRACT(EPOCH FROM (clock_timestamp() - COALESCE(last_finished_at, clock_timestamp())))::float8 * 1000)) END,
            samples = samples + 1,
            last_finished_at = clock_timestamp()
      WHERE kind = $1`,
    [kind, serviceMs, ALPHA, turnaroundMs],
  );
}

const SWEEP_BATCH = 5000;

export interface SweepResult {
  deleted: number;
  expired: string[];
}

/** Retention and stuck jobs: delete finished jobs past retention, fail PENDING jobs past the max age. */
export async function sweep(platform: Platform): Promise<SweepResult> {
  const { db, config } = platform;
  // in batches, so a backlog (after downtime) never becomes one huge transaction
  let deleted = 0;
  for (;;) {
    const del = await db.query(
      `DELETE FROM composition_jobs WHERE id IN (
         SELECT id FROM composition_jobs WHERE status <> 'PENDING' AND finished_at < now() - make_interval(days => $1::int) LIMIT $2)`,
      [config.JOB_RETENTION_DAYS, SWEEP_BATCH],
    );
    deleted += del.rowCount;
    if (del.rowCount < SWEEP_BATCH) break;
  }
  const error: JobError = {
    code: TASK_ERRORS.JOB_TIMEOUT,
    type: 'JOB_TIMEOUT',
    message: `The job was not processed within ${config.JOB_MAX_PENDING_SECONDS} seconds; it was cancelled. Send the request again.`,
  };
  const exp = await db.query<{ id: string }>(
    `UPDATE composition_jobs SET status = 'FAILED', error = $2, finished_at = clock_timestamp()
      WHERE status = 'PENDING' AND inserted_at < now() - make_interval(secs => $1::int) RETURNING id`,
    [config.JOB_MAX_PENDING_SECONDS, JSON.stringify(error)],
  );
  return { deleted, expired: exp.rows.map((r) => r.id) };
}
