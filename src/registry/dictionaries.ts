/**
 * Dictionaries (PRM "Dictionaries and Registers"): `GET /api/dictionaries` in the ESOZ v1 shape and
 * `isActiveDictionaryValue` for validations (only active values of active dictionaries are accepted).
 * Dictionaries rarely change, so values are cached in memory for a short while.
 */
import { Type } from 'typebox';
import type { Db } from '../platform/db.ts';
import type { App } from '../platform/http/server.ts';
import type { Platform } from '../platform/platform.ts';
import { sendData } from '../platform/http/envelope.ts';

export const DICTIONARY_CACHE_MS = 60_000;

interface CacheEntry {
  until: number;
  /** active codes of the dictionary when it is active; empty set when inactive or unknown */
  codes: Promise<Set<string>>;
}
const cache = new WeakMap<Db, Map<string, CacheEntry>>();

function activeCodes(db: Db, name: string): Promise<Set<string>> {
  let byName = cache.get(db);
  if (!byName) cache.set(db, (byName = new Map()));
  const now = Date.now();
  const hit = byName.get(name);
  if (hit && hit.until > now) return hit.codes;
  const codes = db
    .query<{ code: string }>(
      `SELECT v.code FROM dictionary_values v JOIN dictionaries d ON d.name = v.dictionary_name
        WHERE d.name = $1 AND d.is_active AND v.is_active`,
      [name],
    )
    .then((r) => new Set(r.rows.map((x) => x.code)));
  const entry = { until: now + DICTIONARY_CACHE_MS, codes };
  byName.set(name, entry);
  codes.catch(() => byName.delete(name));
  return codes;
}

/** True when `code` is an active value of the active dictionary `name`. */
export async function isActiveDictionaryValue(db: Db, name: string, code: string): Promise<boolean> {
  return (await activeCodes(db, name)).has(code);
}

/** Forget the cached values of `db` (after its dictionaries were changed). */
export function clearDictionaryCache(db: Db) {
  cache.delete(db);
}

export interface DictionaryListItem {
  name: string;
  values: Record<string, string>;
  labels: string[];
  is_active: boolean;
}

export async function listDictionaries(db: Db, filter: { name?: string; is_active?: boolean } = {}): Promise<DictionaryListItem[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.name !== undefined) {
    params.push(filter.name);
    where.push(`d.name = $${params.length}`);
  }
  if (filter.is_active !== undefined) {
    params.push(filter.is_active);
    where.push(`d.is_active = $${params.length}`);
  }
  const { rows } = await db.query<{
    name: string;
    labels: string[];
    is_active: boolean;
    codes: string[] | null;
    descriptions: string[] | null;
  }>(
    `SELECT d.name, d.labels, d.is_active,
            array_agg(v.code ORDER BY v.code) FILTER (WHERE v.code IS NOT NULL) AS codes,
            array_agg(v.description ORDER BY v.code) FILTER (WHERE v.code IS NOT NULL) AS descriptions
       FROM dictionaries d LEFT JOIN dictionary_values v ON v.dictionary_name = d.name AND v.is_active
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      GROUP BY d.name, d.labels, d.is_active
      ORDER BY d.name`,
    params,
  );
  return rows.map((r) => ({
    name: r.name,
    values: Object.fromEntries((r.codes ?? []).map((c, i) => [c, r.descriptions![i]])),
    labels: r.labels,
    is_active: r.is_active,
  }));
}

const DictionaryQuery = Type.Object(
  { name: Type.Optional(Type.String()), is_active: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export function dictionaryRoutes(app: App, platform: Platform) {
  app.get(
    '/api/dictionaries',
    {
      config: { scopes: ['dictionary:read'] },
      schema: { tags: ['dictionaries'], summary: 'Get dictionaries (v1: values as {code: description})', querystring: DictionaryQuery },
    },
    async (request, reply) => {
      const q = request.query;
      return sendData(request, reply, await listDictionaries(platform.db, q));
    },
  );
}
