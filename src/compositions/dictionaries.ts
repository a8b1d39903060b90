/**
 * Dictionary checks for compositions. The registry's dictionaries (tables `dictionaries` /
 * `dictionary_values`) are authoritative: a dictionary present there is used as is (active values of
 * an active dictionary). A dictionary the registry has not seeded falls back to the values in
 * model.ts, so a fresh database still validates. Values are cached per database for a minute.
 */
import type { Db } from '../platform/db.ts';
import { FALLBACK_DICTIONARIES } from './model.ts';

const CACHE_MS = 60_000;
const cache = new WeakMap<Db, Map<string, { until: number; codes: Promise<Set<string>> }>>();

function codesOf(db: Db, name: string): Promise<Set<string>> {
  let byName = cache.get(db);
  if (!byName) cache.set(db, (byName = new Map()));
  const hit = byName.get(name);
  const now = Date.now();
  if (hit && hit.until > now) return hit.codes;
  const codes = db
    .query<{ is_active: boolean; code: string | null }>(
      `SELECT d.is_active, v.code FROM dictionaries d
         LEFT JOIN dictionary_values v ON v.dictionary_name = d.name AND v.is_active
        WHERE d.name = $1`,
      [name],
    )
    .then((r) => {
      if (r.rows.length === 0) return new Set(FALLBACK_DICTIONARIES[name] ?? []);
      if (!r.rows[0].is_active) return new Set<string>();
      return new Set(r.rows.map((x) => x.code).filter((c): c is string => !!c));
    });
  byName.set(name, { until: now + CACHE_MS, codes });
  codes.catch(() => byName!.delete(name));
  return codes;
}

export async function isAllowedCode(db: Db, dictionary: string, code: string): Promise<boolean> {
  return (await codesOf(db, dictionary)).has(code);
}

export async function allowedCodes(db: Db, dictionary: string): Promise<string[]> {
  return [...(await codesOf(db, dictionary))].sort();
}
