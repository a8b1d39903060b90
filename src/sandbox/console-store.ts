/**
 * The SQL of the sandbox console (/console): the lists it shows that no admin route gives — composition
 * jobs, compositions with their relatesTo links, the ERLN integration tasks.
 * Read-only; the console's actions go through the admin API.
 */
import type { Db } from '../platform/db.ts';
import { jsonValue } from '../platform/json.ts';

/** How many rows a console list shows (newest first): a sandbox page, not a report. */
export const CONSOLE_LIST_LIMIT = 200;

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

export interface CompositionLink {
  id: string;
  code: string;
  title: string | null;
  status: string | null;
}

export interface CompositionRow {
  id: string;
  title: string;
  type_code: string;
  category_code: string;
  status: string;
  subject_id: string;
  inserted_at: Date | string;
  /** the composition its relatesTo names (compositions.relates_to_id / relates_to_code), with its title and status */
  relates_to: CompositionLink | null;
  /** the compositions whose relatesTo names this one */
  related_from: CompositionLink[];
}

/** The newest compositions with both ends of their chain links (the relatesTo columns and their index). */
export async function recentCompositions(db: Db): Promise<CompositionRow[]> {
  const r = await db.query<Omit<CompositionRow, 'relates_to' | 'related_from'> & { relates_to: unknown; related_from: unknown }>(
    `SELECT c.id, c.title, c.type_code, c.category_code, c.status, c.subject_id, c.inserted_at,
            CASE WHEN c.relates_to_id IS NOT NULL THEN
              json_build_object('id', c.relates_to_id, 'code', c.relates_to_code, 'title', t.title, 'status', t.status) END AS relates_to,
            COALESCE((SELECT json_agg(json_build_object('id', f.id, 'code', f.relates_to_code, 'title', f.title, 'status', f.status)
                                      ORDER BY f.inserted_at)
                        FROM compositions f WHERE f.relates_to_id = c.id), '[]'::json) AS related_from
       FROM compositions c LEFT JOIN compositions t ON t.id = c.relates_to_id
      ORDER BY c.inserted_at DESC, c.id DESC LIMIT $1`,
    [CONSOLE_LIST_LIMIT],
  );
  return r.rows.map((row) => ({
    ...row,
    relates_to: row.relates_to === null ? null : jsonValue<CompositionLink>(row.relates_to),
    related_from: jsonValue<CompositionLink[]>(row.related_from),
  }));
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
