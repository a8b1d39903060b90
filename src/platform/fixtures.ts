/**
 * The one fixture engine: a capability describes a table (`TableSpec`: columns with their schema,
 * generated default, reference and whether a new row needs it) and `tableFixtureKind` turns it into
 * a kind of POST /admin/fixtures (and of the sandbox demo data — one code path). Registry rows
 * (src/registry/fixtures.ts) and medication requests (src/eprescription/fixtures.ts) are kinds of it.
 *
 * Every item is upserted by `id`: a new row gets generated defaults for what the item leaves out;
 * an existing row only changes the fields the item carries. References by id are checked and a
 * missing one becomes a 422 `invalid[]` entry (never a foreign-key 500).
 */
import { randomUUID } from 'node:crypto';
import { Type, type TSchema } from 'typebox';
import type { Db } from './db.ts';
import type { FixtureKind } from './platform.ts';
import { invalidField, validationFailed, type InvalidEntry } from './errors.ts';

export type Json = Record<string, unknown>;

/** `type: [T, "null"]` rather than anyOf, so a wrong type gives one clear `cast` entry. */
export const nullable = <T extends TSchema>(s: T): TSchema => {
  const { type, ...rest } = s as unknown as { type: string } & Json;
  return Type.Unsafe({ ...rest, type: [type, 'null'] });
};
export const Uuid = Type.String({ format: 'uuid' });
export const Str = Type.String();
export const Bool = Type.Boolean();
export const DateStr = Type.String({ format: 'date' });
export const DateTime = Type.String({ format: 'date-time' });
export const FreeObject = Type.Object({}, { additionalProperties: true });
export const FreeArray = Type.Array(Type.Unknown());

export interface Column {
  /** The value's schema; the item's field is nullable unless the column is `required`. */
  schema: TSchema;
  /** jsonb column: the value is sent as JSON text */
  json?: boolean;
  /** value for a new row when the item leaves the field out (may read the database, e.g. a unique number) */
  default?: (item: Json, tx: Db, id: string) => unknown;
  /** a new row cannot be created without it (and the field is not nullable) */
  required?: boolean;
  /** reference by id: tables where the id must exist (first match wins) */
  ref?: { tables: string[]; label: string };
}

/**
 * Audit fields every ESOZ registry response carries: an item copied from a real response is
 * accepted with them. A table that has the column keeps the given value (an `updated_at` given
 * replaces the upsert's now()); the others are ignored (the sandbox keeps no such column).
 */
export const AUDIT = {
  inserted_at: DateTime,
  inserted_by: nullable(Uuid),
  updated_at: DateTime,
  updated_by: nullable(Uuid),
};
export type AuditField = keyof typeof AUDIT;
export const AUDIT_AT: AuditField[] = ['inserted_at', 'updated_at'];

export interface TableSpec {
  kind: string;
  table: string;
  columns: Record<string, Column>;
  /** fields of the item that are not columns (handled by `before`/`after`) */
  extra?: Record<string, TSchema>;
  /** the audit fields this table keeps (an `updated_at` column is set to now() by an update) */
  audit: AuditField[];
  /** whether an item may carry the ESOZ audit fields (default true: registry rows copied from responses) */
  acceptsAudit?: boolean;
  /** whether an update of an existing row that carries no column still sets `updated_at` (default true) */
  touchWhenUnchanged?: boolean;
  /** prepare the row (e.g. nested party) before the upsert; may add column values to `row` */
  before?(tx: Db, item: Json, row: Json, existing: Json | undefined, problems: InvalidEntry[]): Promise<void>;
  /** after the row is written (e.g. authentication methods) */
  after?(tx: Db, item: Json, id: string, existing: Json | undefined, problems: InvalidEntry[]): Promise<void>;
}

/** Invalid entries of an item use item-relative paths (`$.person_id`); the fixtures runner prefixes `$.<kind>[i]`. */
export const missingRef = (field: string, label: string) => invalidField(`$.${field}`, `${label} not found`);
export const requiredField = (field: string): InvalidEntry => ({
  entry: `$.${field}`,
  entry_type: 'json_data_property',
  rules: [{ rule: 'required', params: [], description: `required property ${field.split('.').pop()} was not present` }],
});

async function exists(tx: Db, tables: string[], id: string): Promise<boolean> {
  for (const t of tables) {
    const r = await tx.query(`SELECT 1 FROM ${t} WHERE id = $1`, [id]);
    if (r.rowCount > 0) return true;
  }
  return false;
}

/** The schema of one item: `id`, the audit fields (when accepted), the columns, the extra fields; nothing else. */
export function itemSchema(spec: TableSpec): TSchema {
  const props: Record<string, TSchema> = { id: Type.Optional(Uuid) };
  if (spec.acceptsAudit !== false) for (const [name, s] of Object.entries(AUDIT)) props[name] = Type.Optional(s);
  for (const [name, col] of Object.entries(spec.columns)) props[name] = Type.Optional(col.required ? col.schema : nullable(col.schema));
  for (const [name, s] of Object.entries(spec.extra ?? {})) props[name] = Type.Optional(s);
  return Type.Object(props, { additionalProperties: false });
}

/** Upsert one item of `spec` inside `tx`; returns its id. Throws a 422 with item-relative entries. */
export async function upsertRow(tx: Db, spec: TableSpec, item: Json): Promise<string> {
  const id = (item.id as string | undefined) ?? randomUUID();
  const existing = item.id ? (await tx.query<Json>(`SELECT * FROM ${spec.table} WHERE id = $1`, [id])).rows[0] : undefined;
  const problems: InvalidEntry[] = [];
  const row: Json = {};
  for (const name of Object.keys(spec.columns)) if (item[name] !== undefined) row[name] = item[name];
  if (spec.acceptsAudit !== false) for (const name of spec.audit) if (item[name] !== undefined) row[name] = item[name];
  await spec.before?.(tx, item, row, existing, problems);

  for (const [name, col] of Object.entries(spec.columns)) {
    const v = row[name];
    if (col.ref && typeof v === 'string' && !(await exists(tx, col.ref.tables, v))) problems.push(missingRef(name, col.ref.label));
    if (!existing && col.required && (v === undefined || v === null) && !col.default) problems.push(requiredField(name));
  }
  if (problems.length) throw validationFailed(problems);

  // Columns sent: everything the item (or `before`) set; for a new row also the defaults.
  const provided = Object.keys(row);
  const values: Json = { ...row };
  if (!existing) {
    for (const [name, col] of Object.entries(spec.columns)) {
      if (values[name] !== undefined || !col.default) continue;
      const v = col.default(item, tx, id);
      values[name] = v instanceof Promise ? await v : v;
    }
  }
  const param = (c: string) => {
    const v = values[c];
    return spec.columns[c]?.json && v !== null && v !== undefined ? JSON.stringify(v) : v;
  };
  const hasUpdatedAt = spec.audit.includes('updated_at') && !provided.includes('updated_at');
  if (existing) {
    // Only the given fields change (an INSERT … ON CONFLICT would trip NOT NULL columns left out).
    const sets = provided.map((c, i) => `${c} = $${i + 2}`);
    if (hasUpdatedAt && (provided.length || spec.touchWhenUnchanged !== false)) sets.push('updated_at = now()');
    if (sets.length) await tx.query(`UPDATE ${spec.table} SET ${sets.join(', ')} WHERE id = $1`, [id, ...provided.map(param)]);
  } else {
    const cols = ['id', ...Object.keys(values)];
    const sets = provided.map((c) => `${c} = EXCLUDED.${c}`);
    if (hasUpdatedAt) sets.push('updated_at = now()');
    if (!sets.length) sets.push('id = EXCLUDED.id');
    await tx.query(
      `INSERT INTO ${spec.table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${sets.join(', ')}`,
      [id, ...Object.keys(values).map(param)],
    );
  }
  await spec.after?.(tx, item, id, existing, problems);
  if (problems.length) throw validationFailed(problems);
  return id;
}

/** The fixture kind of a table: its item schema and its upsert. */
export function tableFixtureKind(spec: TableSpec): FixtureKind {
  return { name: spec.kind, schema: itemSchema(spec), upsert: (tx, item) => upsertRow(tx, spec, item) };
}
