/**
 * The public async job of Compositions (composition_jobs and composition_job_stats, every statement
 * on them): accept (dedupe + enqueue in the caller's transaction), render
 * (`compositionAsyncJobStateData` with an honest eta), claim and finish (compare-and-set), the
 * maintenance sweep (retention, stuck jobs), and the start-up check that the job kinds of the code
 * and of the database agree (ensureJobKinds).
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
import { jsonValue } from '../platform/json.ts';
import { boundedCache } from '../platform/bounded-cache.ts';
import type { AuthContext } from '../platform/auth.ts';
import { JOB_KINDS, QUEUE_PROCESS, TASK_ERRORS, type JobError, type JobKind, type JobStatus } from './model.ts';
import { MESSAGES } from './messages.ts';
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
  /** queue position (identity) */
  seq: number;
  /** PENDING jobs queued before this one (from the process's queue snapshot; set for PENDING jobs) */
  ahead?: number;
  service_ms: number | null;
  drain_ms: number | null;
  turn_ms: number | null;
  turn_dev_ms: number | null;
}

const toDate = (v: Date | string | null) => (v == null ? null : v instanceof Date ? v : new Date(v));

/** How many mean deviations of the turnaround the eta adds as a margin (as TCP's retransmission timer does). */
const TURN_DEV_MARGIN = 4;

export function estimateEta(o: {
  now: number;
  ahead: number;
  serviceMs: number;
  drainMs: number;
  startedAt: Date | null;
  insertedAt?: Date | null;
  /** moving average and mean deviation of accept → finish (absent: no floor) */
  turnMs?: number;
  turnDevMs?: number;
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
      ahead: row.ahead ?? 0,
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

/** How long a process counts jobs ahead from the same snapshot of the queue's first positions. */
const QUEUE_SNAPSHOT_MS = 100;
/** Positions the snapshot holds; past the last one, the span from the oldest stands in (an upper bound). */
const QUEUE_SNAPSHOT_SIZE = 1000;

/** PENDING jobs before position `seq`, from the sorted positions of the first PENDING jobs. */
export function jobsAhead(queue: readonly number[], seq: number): number {
  if (!queue.length) return 0;
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (queue[mid] < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo === queue.length && queue.length >= QUEUE_SNAPSHOT_SIZE ? seq - queue[0] : lo;
}

/**
 * The job rows of `ids` in their order (null: no such job), from ONE statement
 * (esoz_composition_job_states, src/compositions/sql/esoz_composition_job_states.sql);
 * with `withQueue`, also the positions of the first PENDING jobs.
 */
async function readJobRows(
  db: Db,
  ids: readonly string[],
  withQueue: boolean,
): Promise<{ jobs: (JobRow | null)[]; queue: number[] | null }> {
  const { rows } = await db.query<{ r: { jobs: (JobRow | null)[] | null; queue: number[] | null } | string }>(
    'SELECT esoz_composition_job_states($1::uuid[], $2) AS r',
    [ids, withQueue],
  );
  const r = jsonValue<{ jobs: (JobRow | null)[] | null; queue: number[] | null }>(rows[0].r);
  return { jobs: r.jobs ?? ids.map(() => null), queue: r.queue };
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

/** One item of esoz_composition_jobs_accept (src/compositions/sql/esoz_composition_jobs_accept.sql). */
interface AcceptItem {
  id: string;
  kind: JobKind;
  client_id: string;
  legal_entity_id: string | null;
  user_id: string | null;
  employee_id: string | null;
  request_hash: string;
  request: string;
  composition_id: string | null;
  first_eta: string;
}

export class JobStore {
  /** Finished jobs never change: DONE/FAILED states are served from here without a query. */
  private readonly finished = boundedCache<string, { clientId: string; state: JobState; until: number }>(CACHE_MAX);
  /** Concurrent polls of unfinished jobs share one statement (src/platform/batch.ts). */
  private readonly reads: StatementBatcher<string, JobRow | null>;
  /** Concurrent accepts share one transaction. */
  private readonly accepts: StatementBatcher<AcceptItem, { id: string | null; created: boolean; eta: string }>;

  constructor(private readonly platform: Platform) {
    this.reads = statementBatcher((ids) => this.readBatch(ids), { maxInFlight: batchesInFlight(platform.db) });
    this.accepts = statementBatcher((items) => this.acceptBatch(items), { maxInFlight: batchesInFlight(platform.db) });
  }

  /**
   * Store the public job and its queue job in one transaction. An identical request of the same
   * client while its job is PENDING gets that job back (`created: false`); the UNIQUE partial index
   * makes this race-free across processes. Concurrent accepts share the transaction: one estimate,
   * one insert statement, one pg-boss insert and one commit for all of them (src/platform/batch.ts).
   */
  async accept(input: AcceptInput): Promise<{ state: JobState; created: boolean }> {
    const hash = requestHash(input.kind, input.compositionId ?? null, input.body);
    const item: AcceptItem = {
      id: randomUUID(),
      kind: input.kind,
      client_id: input.auth.clientId,
      legal_entity_id: input.auth.legalEntityId,
      user_id: input.auth.userId,
      employee_id: input.auth.employeeId,
      request_hash: hash,
      request: JSON.stringify(input.body),
      composition_id: input.compositionId ?? null,
      first_eta: '',
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.accepts.run(item);
      if (r.created) {
        return { state: { eta: r.eta, id: r.id!, links: [{ entity: 'job', href: jobPath(r.id!) }], status: 'PENDING' }, created: true };
      }
      const row = r.id ? await this.reads.run(r.id) : null;
      if (row && row.status === 'PENDING') return { state: render(row, Date.now()), created: false };
      // the duplicate finished between our insert and our read: try again, now as a new job
      item.id = randomUUID();
    }
    throw new Error('could not accept the composition job');
  }

  /** The queue's first PENDING positions, as last read (at most QUEUE_SNAPSHOT_MS old when used). */
  private queue: { at: number; seqs: number[] } = { at: 0, seqs: [] };

  /** Job rows for a batch of polls, each PENDING one with the jobs ahead of it counted from the queue snapshot. */
  private async readBatch(ids: readonly string[]): Promise<(JobRow | null)[]> {
    const now = Date.now();
    const r = await readJobRows(this.platform.db, ids, now - this.queue.at >= QUEUE_SNAPSHOT_MS);
    if (r.queue) this.queue = { at: now, seqs: r.queue };
    for (const row of r.jobs) if (row && row.status === 'PENDING') row.ahead = jobsAhead(this.queue.seqs, Number(row.seq));
    return r.jobs;
  }

  /** One transaction for a batch of accepts: estimate, insert (with dedupe), enqueue, commit. */
  private async acceptBatch(items: readonly AcceptItem[]): Promise<{ id: string | null; created: boolean; eta: string }[]> {
    const { db, queue } = this.platform;
    return db.transaction(async (tx) => {
      const est = await tx.query<{
        kind: JobKind;
        pending: number;
        service_ms: number;
        drain_ms: number;
        turn_ms: number;
        turn_dev_ms: number;
      }>('SELECT kind, esoz_composition_queue_depth() AS pending, service_ms, drain_ms, turn_ms, turn_dev_ms FROM composition_job_stats');
      const now = Date.now();
      const stats = new Map(est.rows.map((x) => [x.kind, x]));
      const pending = Number(est.rows[0]?.pending ?? 0);
      // each job's eta counts the jobs of this batch before it as queued ahead
      const etas = items.map((it, k) => {
        const s = stats.get(it.kind) ?? { service_ms: 500, drain_ms: 500, turn_ms: 0, turn_dev_ms: 0 };
        return estimateEta({
          now,
          ahead: pending + k,
          serviceMs: s.service_ms,
          drainMs: s.drain_ms,
          startedAt: null,
          turnMs: Number(s.turn_ms),
          turnDevMs: Number(s.turn_dev_ms),
        });
      });
      const { rows } = await tx.query<{ r: { id: string | null; created: boolean }[] | string }>(
        'SELECT esoz_composition_jobs_accept($1::json) AS r',
        [JSON.stringify(items.map((it, k) => ({ ...it, first_eta: etas[k].toISOString() })))],
      );
      const results = jsonValue<{ id: string | null; created: boolean }[]>(rows[0].r);
      const created = results.filter((r) => r.created).map((r) => ({ id: r.id!, data: { jobId: r.id! } }));
      if (created.length) await queue.insert(QUEUE_PROCESS, created, { tx });
      return results.map((r, k) => ({ ...r, eta: etas[k].toISOString() }));
    });
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
    // never past the job's retention deadline: once the sweep may have deleted it, ask the database
    const retentionEnds = Date.parse(state.eta) + this.platform.config.JOB_RETENTION_DAYS * 86_400_000;
    this.finished.set(id, { clientId, state, until: Math.min(now + CACHE_TTL_MS, retentionEnds) });
  }

  forget(id: string) {
    this.finished.delete(id);
  }

  clearCache() {
    this.finished.clear();
  }
}

/** A job as the worker claimed it. */
export interface ClaimedJob {
  id: string;
  kind: JobKind;
  request: unknown;
  client_id: string;
  legal_entity_id: string | null;
  composition_id: string | null;
  attempts: number;
  first_eta: Date | string;
  /** accept → claim, measured by the database clock */
  waited_ms: number;
}

/** Claim the PENDING ones of `ids` (started_at, one more attempt); the others are finished or gone. */
export async function claimJobs(db: Db, ids: string[]): Promise<ClaimedJob[]> {
  const { rows } = await db.query<{ r: ClaimedJob[] | string }>('SELECT esoz_composition_jobs_claim($1::uuid[]) AS r', [ids]);
  const claimed = jsonValue<ClaimedJob[]>(rows[0].r);
  for (const row of claimed) row.request = jsonValue(row.request);
  return claimed;
}

/** Lock the public job; false when another attempt finished it meanwhile. */
export async function lockPending(tx: Db, jobId: string): Promise<boolean> {
  const r = await tx.query<{ status: string }>('SELECT status FROM composition_jobs WHERE id = $1 FOR UPDATE', [jobId]);
  return r.rows[0]?.status === 'PENDING';
}

/** One item of esoz_composition_jobs_finish: a create job's composition (outcome DONE) or its failure. */
export type FinishItem =
  | { job_id: string; outcome: 'FAILED'; error: JobError }
  | ({ job_id: string; outcome: 'DONE'; links: { entity: string; href: string }[] } & Record<string, unknown>);

export type FinishAnswer = { status: 'DONE' | 'FAILED' | 'SKIPPED' | 'TITLE_TAKEN'; on_time?: boolean };

/**
 * Finish a batch of create jobs in the caller's transaction (esoz_composition_jobs_finish: per job,
 * under its row lock and only while PENDING, the composition and DONE, or FAILED).
 */
export async function finishCreates(tx: Db, items: FinishItem[]): Promise<FinishAnswer[]> {
  const { rows } = await tx.query<{ r: FinishAnswer[] | string }>('SELECT esoz_composition_jobs_finish($1::json) AS r', [
    JSON.stringify(items),
  ]);
  return jsonValue<FinishAnswer[]>(rows[0].r);
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

/**
 * RC_4's job (kind ERLN_RESEND), written in the caller's transaction with the ERLN task that will
 * finish it (src/erln/tasks.ts): it is never put on the compositions queue.
 */
export async function insertErlnResendJob(tx: Db, auth: AuthContext, compositionId: string): Promise<JobState> {
  const s = await tx.query<{ service_ms: number; turn_ms: number }>(
    "SELECT service_ms, turn_ms FROM composition_job_stats WHERE kind = 'ERLN_RESEND'",
  );
  // an ERLN answer takes a call to another register: a second at least, whatever the statistics say
  const ms = Math.max(1000, Number(s.rows[0]?.turn_ms || s.rows[0]?.service_ms || 0));
  const id = randomUUID();
  const eta = new Date(Date.now() + ms).toISOString();
  await tx.query(
    `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, user_id, employee_id, request_hash, request, composition_id, first_eta)
     VALUES ($1, 'ERLN_RESEND', $2, $3, $4, $5, $6, '{}', $7, $8)`,
    [
      id,
      auth.clientId,
      auth.legalEntityId,
      auth.userId,
      auth.employeeId,
      requestHash('ERLN_RESEND', compositionId, {}),
      compositionId,
      eta,
    ],
  );
  return { eta, id, links: [{ entity: 'job', href: jobPath(id) }], status: 'PENDING' };
}

/**
 * The job of a composition SMS resend, written DONE in the caller's transaction with the SMS
 * (resend-sms.ts): the 202 names a job the client can poll like any other.
 */
export async function insertDoneResendSmsJob(
  tx: Db,
  auth: AuthContext,
  compositionId: string | null,
  links: { entity: string; href: string }[],
): Promise<JobState> {
  const id = randomUUID();
  const r = await tx.query<{ now: Date }>(
    `INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, user_id, employee_id, request_hash, request, composition_id,
                                   status, links, first_eta, started_at, finished_at)
     VALUES ($1, 'RESEND_SMS', $2, $3, $4, $5, $6, '{}', $7, 'DONE', $8, clock_timestamp(), clock_timestamp(), clock_timestamp())
     RETURNING finished_at AS now`,
    [
      id,
      auth.clientId,
      auth.legalEntityId,
      auth.userId,
      auth.employeeId,
      requestHash('RESEND_SMS', compositionId ?? '', {}),
      compositionId,
      JSON.stringify(links),
    ],
  );
  return { eta: new Date(r.rows[0].now).toISOString(), id, links, status: 'DONE' };
}

export async function markFailed(db: Db, jobId: string, error: JobError) {
  const r = await db.query<{ on_time: boolean }>(
    `UPDATE composition_jobs SET status = 'FAILED', error = $2, finished_at = clock_timestamp()
      WHERE id = $1 AND status = 'PENDING' RETURNING finished_at <= first_eta AS on_time`,
    [jobId, JSON.stringify(error)],
  );
  return r.rows[0];
}

/**
 * Fold the jobs of one finished batch into the shared moving averages, one observation per kind
 * (esoz_composition_job_stats_fold, src/compositions/sql/esoz_composition_job_stats_fold.sql): the batch's service
 * time (claim → commit) and its slowest turnaround (accept → commit), and the drain interval.
 * Outside the job transaction (the stats row is hot).
 */
export async function foldServiceTimes(db: Db, samples: readonly { kind: JobKind; serviceMs: number; turnMs: number }[]) {
  for (const kind of new Set(samples.map((x) => x.kind))) {
    const mine = samples.filter((x) => x.kind === kind);
    await db.query('SELECT esoz_composition_job_stats_fold($1, $2, $3, $4, $5)', [
      kind,
      mine.length,
      Math.max(...mine.map((x) => x.serviceMs)),
      Math.max(...mine.map((x) => x.turnMs)),
      ALPHA,
    ]);
  }
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
    message: MESSAGES.jobTimeout(config.JOB_MAX_PENDING_SECONDS),
  };
  const exp = await db.query<{ id: string }>(
    `UPDATE composition_jobs SET status = 'FAILED', error = $2, finished_at = clock_timestamp()
      WHERE status = 'PENDING' AND inserted_at < now() - make_interval(secs => $1::int) RETURNING id`,
    [config.JOB_MAX_PENDING_SECONDS, JSON.stringify(error)],
  );
  return { deleted, expired: exp.rows.map((r) => r.id) };
}

/**
 * Start-up check that a job kind is one entry in JOB_KINDS: the composition_jobs.kind CHECK
 * constraint must allow exactly `kinds` (a mismatch throws, naming both sides, so a process never
 * runs against a schema that would refuse or silently drop a kind), and every kind gets its
 * composition_job_stats row (the ETA of a kind without one would never learn).
 */
export async function ensureJobKinds(db: Db, kinds: readonly string[] = JOB_KINDS): Promise<void> {
  const r = await db.query<{ def: string }>(
    `SELECT pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
      WHERE c.conrelid = 'composition_jobs'::regclass AND c.contype = 'c' AND a.attname = 'kind'`,
  );
  if (r.rows.length !== 1) {
    throw new Error(`composition_jobs.kind must have exactly one CHECK constraint listing the job kinds; found ${r.rows.length}`);
  }
  const allowed = [...r.rows[0].def.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'"));
  const missing = kinds.filter((k) => !allowed.includes(k));
  const extra = allowed.filter((k) => !kinds.includes(k));
  if (missing.length || extra.length) {
    throw new Error(
      `composition job kinds differ between the code and the database: JOB_KINDS (src/compositions/model.ts) is ${kinds.join(', ')}; ` +
        `the composition_jobs.kind CHECK constraint allows ${allowed.join(', ')}` +
        (missing.length ? `; not allowed by the constraint: ${missing.join(', ')}` : '') +
        (extra.length ? `; allowed by the constraint but not in JOB_KINDS: ${extra.join(', ')}` : '') +
        '. Change the constraint in a migration together with JOB_KINDS.',
    );
  }
  // the prior every kind starts from (500 ms), as the rows the migrations inserted
  await db.query(
    `INSERT INTO composition_job_stats (kind, service_ms, drain_ms) SELECT k, 500, 500 FROM unnest($1::text[]) AS k
     ON CONFLICT (kind) DO NOTHING`,
    [kinds],
  );
}

/** Jobs in the table by status, and the finished ones by whether they met the eta of their 202 (metrics.ts). */
export async function jobCounts(db: Db): Promise<{ pending: number; done: number; failed: number; before: number; after: number }> {
  const r = await db.query<{ pending: number; done: number; failed: number; before: number; after: number }>(
    `SELECT count(*) FILTER (WHERE status = 'PENDING') AS pending,
            count(*) FILTER (WHERE status = 'DONE') AS done,
            count(*) FILTER (WHERE status = 'FAILED') AS failed,
            count(*) FILTER (WHERE status <> 'PENDING' AND finished_at <= first_eta) AS before,
            count(*) FILTER (WHERE status <> 'PENDING' AND finished_at > first_eta) AS after
       FROM composition_jobs`,
  );
  return r.rows[0];
}
