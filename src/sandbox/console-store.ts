/**
 * The SQL of the sandbox console (/console): the lists it shows that no admin route gives — composition
 * jobs, compositions with their relatesTo links, the ERLN integration tasks — and one SMS by id.
 * Read-only; the console's actions go through the admin API.
 */
import type { Db } from '../platform/db.ts';

/** How many rows a console list shows (newest first): a sandbox page, not a report. */
export const CONSOLE_LIST_LIMIT = 200;

export interface SmsRow {
  id: string;
  phone_number: string;
  body: string;
  status: string;
  entity_name: string;
  entity_id: string;
  tries: number;
  last_error: string | null;
  inserted_at: Date | string;
  sent_at: Date | string | null;
}

export async function smsById(db: Db, id: string): Promise<SmsRow | undefined> {
  const r = await db.query<SmsRow>(
    `SELECT id, phone_number, body, status, entity_name, entity_id, tries, last_error, inserted_at, sent_at
       FROM sms_outbox WHERE id = $1`,
    [id],
  );
  return r.rows[0];
}

export interface JobRow {
  id: string;
  kind: string;
  status: string;
  composition_id: string | null;
  error: { type?: unknown; code?: unknown; message?: unknown } | null;
  first_eta: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
  inserted_at: Date | string;
  attempts: number;
}

export async function recentJobs(db: Db, status?: string): Promise<JobRow[]> {
  const r = await db.query<JobRow>(
    `SELECT id, kind, status, composition_id, error, first_eta, started_at, finished_at, inserted_at, attempts
       FROM composition_jobs
      WHERE ($1::text IS NULL OR status = $1)
      ORDER BY seq DESC
      LIMIT $2`,
    [status ?? null, CONSOLE_LIST_LIMIT],
  );
  return r.rows;
}

export interface CompositionRow {
  id: string;
  title: string;
  type_code: string;
  category_code: string;
  status: string;
  subject_id: string;
  document: string;
  inserted_at: Date | string;
}

export async function recentCompositions(db: Db): Promise<CompositionRow[]> {
  const r = await db.query<CompositionRow>(
    `SELECT id, title, type_code, category_code, status, subject_id, document, inserted_at
       FROM compositions ORDER BY inserted_at DESC, id DESC LIMIT $1`,
    [CONSOLE_LIST_LIMIT],
  );
  return r.rows;
}

/**
 * The compositions whose stored document names a relatesTo (the document is text: its JSON is read by
 * the caller, which also decides what a document that does not parse means).
 */
export async function compositionsWithRelatesTo(db: Db): Promise<Pick<CompositionRow, 'id' | 'title' | 'status' | 'document'>[]> {
  const r = await db.query<Pick<CompositionRow, 'id' | 'title' | 'status' | 'document'>>(
    `SELECT id, title, status, document FROM compositions WHERE strpos(document, '"relatesTo"') > 0 ORDER BY inserted_at DESC LIMIT $1`,
    [CONSOLE_LIST_LIMIT * 5],
  );
  return r.rows;
}

export async function compositionTitles(db: Db, ids: string[]): Promise<Map<string, { title: string; status: string }>> {
  if (!ids.length) return new Map();
  const r = await db.query<{ id: string; title: string; status: string }>(
    'SELECT id, title, status FROM compositions WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(r.rows.map((x) => [x.id, { title: x.title, status: x.status }]));
}

export interface ErlnTaskRow {
  id: string;
  composition_id: string;
  title: string;
  type: string;
  task_status: string;
  integration_status: string | null;
  status_code: number | null;
  status_message: string | null;
  attempts: number;
  sl_num: string | null;
  updated_at: Date | string;
}

export async function recentErlnTasks(db: Db): Promise<ErlnTaskRow[]> {
  const r = await db.query<ErlnTaskRow>(
    `SELECT t.id, t.composition_id, c.title, t.type, t.task_status, t.integration_status, t.status_code, t.status_message,
            t.attempts, t.details->>'SL_NUM' AS sl_num, t.updated_at
       FROM composition_integration_tasks t JOIN compositions c ON c.id = t.composition_id
      ORDER BY t.updated_at DESC, t.id DESC
      LIMIT $1`,
    [CONSOLE_LIST_LIMIT],
  );
  return r.rows;
}

/** Deletes one SMS of the inbox (the admin API deletes by filter only). */
export async function deleteSmsById(db: Db, id: string): Promise<boolean> {
  return (await db.query('DELETE FROM sms_outbox WHERE id = $1', [id])).rowCount > 0;
}
