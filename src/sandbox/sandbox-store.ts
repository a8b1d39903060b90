/**
 * The SQL of the sandbox: its own state (sandbox_state), the SMS inbox view, the existence checks of the
 * admin API, and the reset.
 */
import type { Db } from '../platform/db.ts';

export async function getState<T>(db: Db, key: string): Promise<T | undefined> {
  const r = await db.query<{ value: T }>('SELECT value FROM sandbox_state WHERE key = $1', [key]);
  return r.rows[0]?.value;
}

export async function setState(db: Db, key: string, value: unknown): Promise<void> {
  await db.query('INSERT INTO sandbox_state(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [
    key,
    JSON.stringify(value),
  ]);
}

export async function deleteState(db: Db, key: string): Promise<void> {
  await db.query('DELETE FROM sandbox_state WHERE key = $1', [key]);
}

/** Every token of the client gets these scopes (the demo client's, on start). */
export async function grantScopes(db: Db, clientId: string, scopes: string[]): Promise<void> {
  await db.query('UPDATE access_tokens SET scopes = $2 WHERE client_id = $1 AND scopes IS DISTINCT FROM $2', [clientId, scopes]);
}

export async function exists(db: Db, table: 'legal_entities' | 'employees' | 'mis_clients', id: string): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id])).rowCount > 0;
}

export interface SmsFilter {
  phone_number?: string;
  entity_id?: string;
  entity_name?: string;
  status?: string;
}

function smsWhere(f: SmsFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  for (const k of ['phone_number', 'entity_id', 'entity_name', 'status'] as const) {
    if (f[k] !== undefined) {
      params.push(f[k]);
      where.push(`${k} = $${params.length}`);
    }
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/** A message of the SMS outbox as the inbox shows it (GET /admin/sms, the console), times as ISO 8601 text. */
export interface SmsMessage {
  id: string;
  phone_number: string;
  body: string;
  status: string;
  entity_name: string;
  entity_id: string;
  tries: number;
  inserted_at: string;
  sent_at: string | null;
}

const SMS_COLUMNS = 'id, phone_number, body, status, entity_name, entity_id, tries, inserted_at, sent_at';
type SmsRow = Omit<SmsMessage, 'inserted_at' | 'sent_at'> & { inserted_at: Date; sent_at: Date | null };
const smsMessage = <R extends SmsRow>(m: R) => ({
  ...m,
  inserted_at: new Date(m.inserted_at).toISOString(),
  sent_at: m.sent_at && new Date(m.sent_at).toISOString(),
});

/** One page of the SMS outbox, newest first, and how many match. */
export async function smsPage(db: Db, f: SmsFilter, page: number, pageSize: number): Promise<{ total: number; rows: SmsMessage[] }> {
  const w = smsWhere(f);
  const total = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_outbox ${w.sql}`, w.params)).rows[0].n;
  const r = await db.query<SmsRow>(
    `SELECT ${SMS_COLUMNS}
       FROM sms_outbox ${w.sql}
      ORDER BY inserted_at DESC, id DESC
      LIMIT $${w.params.length + 1} OFFSET $${w.params.length + 2}`,
    [...w.params, pageSize, (page - 1) * pageSize],
  );
  return { total, rows: r.rows.map(smsMessage) };
}

/** One SMS with why its last try failed (the console's page of one message). */
export async function smsById(db: Db, id: string): Promise<(SmsMessage & { last_error: string | null }) | undefined> {
  const r = await db.query<SmsRow & { last_error: string | null }>(`SELECT ${SMS_COLUMNS}, last_error FROM sms_outbox WHERE id = $1`, [id]);
  return r.rows[0] && smsMessage(r.rows[0]);
}

/** Deletes one SMS of the inbox (the console's delete; the admin API deletes by filter); false when it was already gone. */
export async function deleteSmsById(db: Db, id: string): Promise<boolean> {
  return (await db.query('DELETE FROM sms_outbox WHERE id = $1', [id])).rowCount > 0;
}

/**
 * Empties the SMS inbox (the matching messages). A message not delivered yet is deleted too: the
 * delivery worker finds nothing to send and moves on.
 */
export async function deleteSms(db: Db, f: SmsFilter): Promise<number> {
  const w = smsWhere(f);
  return (await db.query(`DELETE FROM sms_outbox ${w.sql}`, w.params)).rowCount;
}

/**
 * What a reset empties: every table of domain state. What it keeps: MIS clients and their tokens (the
 * credentials printed at start stay valid), the dictionaries and other reference data the migrations
 * load, the sandbox's own state, the ETA statistics, and the bookkeeping of the schema. Every table of
 * the database is in one of the two lists (test/sandbox-reset.test.ts), so a new table is a decision.
 */
export const RESET_TABLES = [
  'sms_outbox',
  'sms_attempts',
  'medication_requests',
  'composition_integration_tasks',
  'composition_jobs',
  'compositions',
  'erln_sim_records',
  'erln_sim_replies',
  'erln_sim_calls',
  'person_authentication_methods',
  'persons',
  'prepersons',
  'encounters',
  'episodes',
  'employees',
  'parties',
  'divisions',
  'legal_entities',
  'medications',
  'medical_programs',
] as const;

export const KEPT_TABLES = [
  'mis_clients',
  'access_tokens',
  'dictionaries',
  'dictionary_values',
  'sandbox_state',
  'registry_version',
  'composition_job_stats',
  'erln_sim_settings',
  'schema_migrations',
  'schema_functions',
] as const;

/** The tables of the database's current schema (the reset's classification test). */
export async function tablesOfSchema(db: Db): Promise<string[]> {
  const r = await db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  return r.rows.map((x) => x.name);
}

/**
 * Empties the domain tables and the queued work of the given queues, inside the caller's transaction.
 * Queued work lives in pg-boss's own tables (schema `pgboss`): a job left there would run against rows
 * that are gone. The registry triggers bump the cached registry versions on TRUNCATE, so every
 * process's copies of registry rows are dropped on their next read.
 */
export async function emptyDomainTables(tx: Db, queues: string[]): Promise<void> {
  await tx.query(`TRUNCATE ${RESET_TABLES.join(', ')}`);
  if (queues.length) await tx.query(`DELETE FROM pgboss.job WHERE name = ANY($1::text[])`, [queues]);
}
