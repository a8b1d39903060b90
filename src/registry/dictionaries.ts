/**
 * Dictionaries (PRM "Dictionaries and Registers"): `GET /api/dictionaries` in the ESOZ v1 shape and
 * the one cache of dictionary values every capability validates against (only active values of
 * active dictionaries are accepted). Dictionaries rarely change, so values are cached in memory for
 * a short while.
 */
import { Type } from 'typebox';
import { handleKey, type Db } from '../platform/db.ts';
import type { RoutesPlugin } from '../platform/platform.ts';
import { sendData } from '../platform/http/envelope.ts';

export const DICTIONARY_CACHE_MS = 60_000;

interface CacheEntry {
  until: number;
  codes: Promise<ReadonlySet<string> | undefined>;
}
/** The cached codes of one database handle, by dictionary name (a transaction sees its own). */
const DICTIONARY_CACHE = handleKey('dictionary cache', () => new Map<string, CacheEntry>());
const NONE: ReadonlySet<string> = new Set();

/**
 * The active codes of dictionary `name`: empty when the dictionary is inactive, undefined when the
 * registry has no dictionary of that name (a capability may fall back to values of its own).
 * Concurrent callers share one query; a failed query is not cached.
 */
export function dictionaryCodes(db: Db, name: string): Promise<ReadonlySet<string> | undefined> {
  const byName = db.state.get(DICTIONARY_CACHE);
  const now = Date.now();
  const hit = byName.get(name);
  if (hit && hit.until > now) return hit.codes;
  const codes = db
    .query<{ is_active: boolean; code: string | null }>(
      `SELECT d.is_active, v.code FROM dictionaries d
         LEFT JOIN dictionary_values v ON v.dictionary_name = d.name AND v.is_active
        WHERE d.name = $1`,
      [name],
    )
    .then((r) => {
      if (r.rows.length === 0) return undefined;
      if (!r.rows[0].is_active) return NONE;
      return new Set(r.rows.map((x) => x.code).filter((c): c is string => c !== null));
    });
  byName.set(name, { until: now + DICTIONARY_CACHE_MS, codes });
  codes.catch(() => byName.delete(name));
  return codes;
}

/** True when `code` is an active value of the active dictionary `name`. */
export async function isActiveDictionaryValue(db: Db, name: string, code: string): Promise<boolean> {
  return (await dictionaryCodes(db, name))?.has(code) ?? false;
}

/** Forget the cached values of `db` (after its dictionaries were changed). */
export function clearDictionaryCache(db: Db) {
  db.state.get(DICTIONARY_CACHE).clear();
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

/** GET /dictionaries, registered under `/api`. */
export const dictionaryRoutes: RoutesPlugin = async (app, { platform }) => {
  app.get(
    '/dictionaries',
    {
      config: { scopes: ['dictionary:read'] },
      schema: {
        tags: ['dictionaries'],
        operationId: 'getDictionaries',
        summary: 'Get dictionaries (v1: values as {code: description})',
        querystring: DictionaryQuery,
      },
    },
    async (request, reply) => sendData(request, reply, await listDictionaries(platform.db, request.query)),
  );
};
