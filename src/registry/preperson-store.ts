/**
 * Every statement of the Prepersons API (MPI `prepersons`). Reads and writes answer the
 * `Preperson_response` view built by PostgreSQL as one json value: keys in the blueprint's order,
 * fields without a value left out, dates as `YYYY-MM-DD`, times as ISO 8601 in UTC.
 */
import type { Db } from '../platform/db.ts';
import { jsonValue } from '../platform/json.ts';
import { UUID_RE } from '../platform/uuid.ts';
import type { Static } from 'typebox';
import type { PrepersonResponse } from './preperson-schemas.ts';

export type PrepersonView = Static<typeof PrepersonResponse>;

const ISO_UTC = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

const VIEW = `json_strip_nulls(json_build_object(
    'id', p.id,
    'external_id', p.external_id,
    'first_name', p.first_name,
    'last_name', p.last_name,
    'second_name', p.second_name,
    'gender', p.gender,
    'birth_date', p.birth_date::text,
    'emergency_contact', p.emergency_contact,
    'note', p.note,
    'status', upper(p.status),
    'death_date', p.death_date::text,
    'inserted_at', to_char(p.inserted_at AT TIME ZONE 'UTC', ${ISO_UTC}),
    'inserted_by', p.inserted_by,
    'updated_at', to_char(p.updated_at AT TIME ZONE 'UTC', ${ISO_UTC}),
    'updated_by', p.updated_by))`;

/** The fields a new preperson is created with (the create body without its checks' concerns). */
export interface NewPreperson {
  external_id: string;
  first_name?: string;
  last_name?: string;
  second_name?: string;
  gender: string;
  birth_date?: string;
  emergency_contact?: unknown;
  note?: string;
}

/**
 * Insert an ACTIVE preperson under `id`, unless `id` is already an MPI person's or a preperson's
 * (then undefined: the caller draws another id). `by` is the user who creates it.
 */
export async function insertPreperson(db: Db, id: string, fields: NewPreperson, by: string): Promise<PrepersonView | undefined> {
  const { rows } = await db.query<{ view: unknown }>(
    `INSERT INTO prepersons AS p
            (id, external_id, first_name, last_name, second_name, gender, birth_date, emergency_contact, note,
             status, is_active, inserted_by, updated_by)
     SELECT $1::uuid, f->>'external_id', f->>'first_name', f->>'last_name', f->>'second_name', f->>'gender',
            (f->>'birth_date')::date, f->'emergency_contact', f->>'note', 'ACTIVE', true, $3::uuid, $3::uuid
       FROM (SELECT $2::jsonb AS f) x
      WHERE NOT EXISTS (SELECT 1 FROM persons WHERE id = $1::uuid)
     ON CONFLICT (id) DO NOTHING
     RETURNING ${VIEW} AS view`,
    [id, JSON.stringify(fields), by],
  );
  return rows[0] ? jsonValue<PrepersonView>(rows[0].view) : undefined;
}

/** A preperson MPI still keeps (`is_active`), or undefined (unknown, deleted, or not a UUID). */
export async function findPreperson(db: Db, id: string): Promise<PrepersonView | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const { rows } = await db.query<{ view: unknown }>(`SELECT ${VIEW} AS view FROM prepersons p WHERE p.id = $1 AND p.is_active`, [id]);
  return rows[0] ? jsonValue<PrepersonView>(rows[0].view) : undefined;
}

/** What the update checks read: the status and the stored birth date, the row locked until `tx` ends. */
export async function lockPreperson(tx: Db, id: string): Promise<{ status: string; birth_date: string | null } | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const { rows } = await tx.query<{ status: string; birth_date: string | null }>(
    `SELECT upper(status) AS status, birth_date::text AS birth_date FROM prepersons WHERE id = $1 AND is_active FOR UPDATE`,
    [id],
  );
  return rows[0];
}

/** The fields an update may change; a field left out keeps its value. */
export interface PrepersonChanges {
  first_name?: string;
  last_name?: string;
  second_name?: string;
  gender?: string;
  external_id?: string;
  birth_date?: string;
  emergency_contact?: unknown;
  death_date?: string;
}

/** Apply `changes` (a death date makes the preperson INACTIVE); `by` is the user who changes it. */
export async function updatePreperson(tx: Db, id: string, changes: PrepersonChanges, by: string): Promise<PrepersonView> {
  const { rows } = await tx.query<{ view: unknown }>(
    `UPDATE prepersons AS p SET
        first_name        = CASE WHEN c ? 'first_name' THEN c->>'first_name' ELSE p.first_name END,
        last_name         = CASE WHEN c ? 'last_name' THEN c->>'last_name' ELSE p.last_name END,
        second_name       = CASE WHEN c ? 'second_name' THEN c->>'second_name' ELSE p.second_name END,
        gender            = CASE WHEN c ? 'gender' THEN c->>'gender' ELSE p.gender END,
        external_id       = CASE WHEN c ? 'external_id' THEN c->>'external_id' ELSE p.external_id END,
        birth_date        = CASE WHEN c ? 'birth_date' THEN (c->>'birth_date')::date ELSE p.birth_date END,
        emergency_contact = CASE WHEN c ? 'emergency_contact' THEN c->'emergency_contact' ELSE p.emergency_contact END,
        death_date        = CASE WHEN c ? 'death_date' THEN (c->>'death_date')::date ELSE p.death_date END,
        status            = CASE WHEN c ? 'death_date' THEN 'INACTIVE' ELSE p.status END,
        updated_by        = $3::uuid,
        updated_at        = now()
       FROM (SELECT $2::jsonb AS c) x
      WHERE p.id = $1
     RETURNING ${VIEW} AS view`,
    [id, JSON.stringify(changes), by],
  );
  return jsonValue<PrepersonView>(rows[0].view);
}
