/**
 * The integration tasks of compositions (composition_integration_tasks): written in the transaction
 * of the domain write that needs them (sign → CREATE_ERLN_RECORD, cancel → CANCEL_ERLN_RECORD,
 * RC_4 → a new CREATE_ERLN_RECORD), claimed by the ERLN worker, read by integrationData.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import type { JobQueue } from '../platform/queue.ts';
import type { ErlnReply } from './contract.ts';
import type { CreateInput } from './mapping.ts';
import { jsonValue } from '../platform/json.ts';
import { UUID_RE } from '../platform/uuid.ts';

export const ERLN_QUEUE = 'erln-integration';
export const TASK_TYPES = ['CREATE_ERLN_RECORD', 'CANCEL_ERLN_RECORD'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export interface IntegrationTask {
  id: string;
  composition_id: string;
  component: 'ERLN';
  type: TaskType;
  task_status: 'PENDING' | 'DONE' | 'FAILED';
  integration_status: 'SUCCESS' | 'ERROR' | null;
  status_code: number | null;
  status_message: string | null;
  details: { SL_NUM?: string };
  attempts: number;
  /** RC_4: the composition job this task finishes */
  job_id: string | null;
  updated_at: Date | string;
}

const COLUMNS = `id, composition_id, component, type, task_status, integration_status, status_code, status_message, details, attempts, job_id, updated_at`;

function taskOf(r: Record<string, unknown>): IntegrationTask {
  return { ...(r as unknown as IntegrationTask), details: jsonValue(r.details) as IntegrationTask['details'] };
}

/** Writes the task and its job in the caller's transaction: both exist exactly when the domain write commits. */
export async function enqueueErlnTask(tx: Db, queue: JobQueue, compositionId: string, type: TaskType, jobId?: string): Promise<string> {
  const id = randomUUID();
  await tx.query('INSERT INTO composition_integration_tasks (id, composition_id, type, job_id) VALUES ($1, $2, $3, $4)', [
    id,
    compositionId,
    type,
    jobId ?? null,
  ]);
  await queue.send(ERLN_QUEUE, { taskId: id }, { tx, id });
  return id;
}

/** A task that already ended with ERLN's answer (demo data): no job, nothing left to run. */
export async function insertFinishedTask(
  tx: Db,
  t: { id: string; compositionId: string; type: TaskType; reply: ErlnReply; attempts: number },
): Promise<void> {
  await tx.query(
    `INSERT INTO composition_integration_tasks (id, composition_id, type, task_status, integration_status, status_code, status_message, details, attempts)
     VALUES ($1, $2, $3, 'DONE', $4, $5, $6, $7::jsonb, $8)`,
    [
      t.id,
      t.compositionId,
      t.type,
      t.reply.ACCEPTED ? 'SUCCESS' : 'ERROR',
      t.reply.RESULT,
      t.reply.MESSAGE,
      JSON.stringify(t.reply.SL_NUM ? { SL_NUM: t.reply.SL_NUM } : {}),
      t.attempts,
    ],
  );
}

/** Takes a PENDING task for one call to ERLN: counts the call and leases the task to this worker. */
export async function claimTask(db: Db, id: string, leaseSeconds: number): Promise<IntegrationTask | undefined> {
  const r = await db.query(
    `UPDATE composition_integration_tasks
        SET attempts = attempts + 1, locked_until = clock_timestamp() + make_interval(secs => $2), updated_at = now()
      WHERE id = $1 AND task_status = 'PENDING' AND (locked_until IS NULL OR locked_until < clock_timestamp())
      RETURNING ${COLUMNS}`,
    [id, leaseSeconds],
  );
  return r.rows[0] ? taskOf(r.rows[0]) : undefined;
}

export async function taskById(db: Db, id: string): Promise<IntegrationTask | undefined> {
  const r = await db.query(`SELECT ${COLUMNS} FROM composition_integration_tasks WHERE id = $1`, [id]);
  return r.rows[0] ? taskOf(r.rows[0]) : undefined;
}

/** ERLN answered: DONE, SUCCESS (with the SL number) or ERROR (ERLN's code and message). */
export async function finishAnswered(db: Db, id: string, reply: ErlnReply): Promise<void> {
  await db.query(
    `UPDATE composition_integration_tasks
        SET task_status = 'DONE', integration_status = $2, status_code = $3, status_message = $4, details = $5::jsonb,
            locked_until = NULL, updated_at = now()
      WHERE id = $1 AND task_status = 'PENDING'`,
    [id, reply.ACCEPTED ? 'SUCCESS' : 'ERROR', reply.RESULT, reply.MESSAGE, JSON.stringify(reply.SL_NUM ? { SL_NUM: reply.SL_NUM } : {})],
  );
}

/** ERLN did not answer: PENDING again (retried later), or FAILED / ERROR when the calls ran out. */
export async function recordUnreachable(db: Db, id: string, message: string, final: boolean): Promise<void> {
  await db.query(
    `UPDATE composition_integration_tasks
        SET task_status = CASE WHEN $3 THEN 'FAILED' ELSE task_status END,
            integration_status = CASE WHEN $3 THEN 'ERROR' ELSE integration_status END,
            status_message = $2, locked_until = NULL, updated_at = now()
      WHERE id = $1 AND task_status = 'PENDING'`,
    [id, message, final],
  );
}

/** Every task of a composition, oldest first (integrationData). */
export async function tasksOf(db: Db, compositionId: string): Promise<IntegrationTask[]> {
  const r = await db.query(`SELECT ${COLUMNS} FROM composition_integration_tasks WHERE composition_id = $1 ORDER BY inserted_at, id`, [
    compositionId,
  ]);
  return r.rows.map(taskOf);
}

/** The composition's latest ERLN task (RC_4 starts from it). */
export async function lastTaskOf(db: Db, compositionId: string): Promise<IntegrationTask | undefined> {
  if (!UUID_RE.test(compositionId)) return undefined;
  const r = await db.query(
    `SELECT ${COLUMNS} FROM composition_integration_tasks WHERE composition_id = $1 ORDER BY inserted_at DESC, id DESC LIMIT 1`,
    [compositionId],
  );
  return r.rows[0] ? taskOf(r.rows[0]) : undefined;
}

/** The composition's running (PENDING) task, if any. */
export async function pendingTaskOf(db: Db, compositionId: string): Promise<IntegrationTask | undefined> {
  const r = await db.query(
    `SELECT ${COLUMNS} FROM composition_integration_tasks WHERE composition_id = $1 AND task_status = 'PENDING'
      ORDER BY inserted_at DESC LIMIT 1`,
    [compositionId],
  );
  return r.rows[0] ? taskOf(r.rows[0]) : undefined;
}

/** The SL number ERLN gave the composition (its last successful CREATE_ERLN_RECORD), if any. */
export async function slNumOf(db: Db, compositionId: string): Promise<string | null> {
  const r = await db.query<{ sl: string | null }>(
    `SELECT details->>'SL_NUM' AS sl FROM composition_integration_tasks
      WHERE composition_id = $1 AND type = 'CREATE_ERLN_RECORD' AND integration_status = 'SUCCESS'
      ORDER BY inserted_at DESC LIMIT 1`,
    [compositionId],
  );
  return r.rows[0]?.sl ?? null;
}

interface CreateRow {
  document: string;
  custodian_id: string;
  focus_type: string | null;
  author_id: string;
  cancel_reason: string | null;
  p_id: string | null;
  first_name: string;
  last_name: string;
  second_name: string | null;
  birth_date: string;
  gender: string;
  tax_id: string | null;
  no_tax_id: boolean;
  documents: unknown;
  doctor_tax_id: string | null;
  doctor_no_tax_id: boolean | null;
  relates_to_code: string | null;
  prev_document: string | null;
  prev_sl_num: string | null;
}

/** What the ERLN request of a composition is built from; undefined when its focus is not a person. */
export async function createInputOf(
  db: Db,
  compositionId: string,
): Promise<Omit<CreateInput, 'requestType' | 'previousSlNum'> | undefined> {
  const r = await db.query<CreateRow>(
    `SELECT c.document, c.custodian_id, c.focus_type, c.author_id, c.cancel_reason,
            p.id AS p_id, p.first_name, p.last_name, p.second_name, p.birth_date::text AS birth_date, p.gender,
            p.tax_id, p.no_tax_id, p.documents, pa.tax_id AS doctor_tax_id, pa.no_tax_id AS doctor_no_tax_id,
            c.relates_to_code, prev.document AS prev_document,
            (SELECT t.details->>'SL_NUM' FROM composition_integration_tasks t
              WHERE t.composition_id = c.relates_to_id AND t.type = 'CREATE_ERLN_RECORD' AND t.integration_status = 'SUCCESS'
              ORDER BY t.inserted_at DESC LIMIT 1) AS prev_sl_num
       FROM compositions c
       LEFT JOIN compositions prev ON prev.id = c.relates_to_id
       LEFT JOIN persons p ON p.id = c.focus_id AND c.focus_type = 'person'
       LEFT JOIN employees e ON e.id = c.author_id
       LEFT JOIN parties pa ON pa.id = e.party_id
      WHERE c.id = $1`,
    [compositionId],
  );
  const row = r.rows[0];
  if (!row?.p_id) return undefined;
  return {
    compositionId,
    document: JSON.parse(row.document) as CreateInput['document'],
    legalEntityId: row.custodian_id,
    patient: {
      id: row.p_id,
      first_name: row.first_name,
      last_name: row.last_name,
      second_name: row.second_name,
      birth_date: row.birth_date,
      gender: row.gender,
      tax_id: row.tax_id,
      no_tax_id: row.no_tax_id,
      documents: (jsonValue(row.documents) as CreateInput['patient']['documents'] | null) ?? [],
    },
    doctor: { employee_id: row.author_id, tax_id: row.doctor_tax_id, no_tax_id: row.doctor_no_tax_id ?? false },
    previous:
      row.relates_to_code && row.prev_document
        ? { code: row.relates_to_code, document: JSON.parse(row.prev_document) as CreateInput['document'], slNum: row.prev_sl_num }
        : null,
  };
}

/** The cancellation reason a composition was cancelled with (compositions.cancel_reason). */
export async function cancelReasonOf(db: Db, compositionId: string): Promise<{ coding?: { code?: string }[]; text?: string } | null> {
  const r = await db.query<{ cancel_reason: string | null }>('SELECT cancel_reason FROM compositions WHERE id = $1', [compositionId]);
  const v = r.rows[0]?.cancel_reason;
  return v ? (JSON.parse(v) as { coding?: { code?: string }[]; text?: string }) : null;
}
