/**
 * Bounds on what one request may carry, applied to every route at the edge so no route can forget
 * them: a default maximum on every text, list and integer of a request schema, and NUL (U+0000)
 * refused in any text, since PostgreSQL cannot store it. The figures are explained in docs/decisions.md.
 */
import type { InvalidEntry } from '../errors.ts';
import { jsonPath } from './ajv-errors.ts';

/** A text field without its own `maxLength` (ESOZ free-text fields such as `text` stay well below this). */
export const MAX_TEXT_LENGTH = 2000;
/** A list without its own `maxItems`. */
export const MAX_ITEMS = 1000;
/** An integer without its own bounds: PostgreSQL's `integer`, so a value that passes never overflows a column or OFFSET. */
export const MAX_INTEGER = 2_147_483_647;
export const MIN_INTEGER = -2_147_483_648;
/** The most `invalid[]` entries one 422 lists; a final `request` entry says that more were found. */
export const MAX_INVALID_ENTRIES = 100;

type Schema = Record<string | symbol, unknown>;

function typesOf(schema: Schema): string[] {
  const t = schema.type;
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

/**
 * A copy of a request schema with the default bounds added where the schema sets none. Own symbol
 * keys (TypeBox's markers) are kept. `const`/`enum` strings are already bounded.
 */
export function boundRequestSchema<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((s) => boundRequestSchema(s)) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const src = schema as Schema;
  const out: Schema = {};
  for (const key of Reflect.ownKeys(src)) {
    const v = src[key];
    // `properties`/`patternProperties`/`$defs` are maps of schemas; everything else that is an object is a schema or a list of them
    if (typeof key === 'string' && ['properties', 'patternProperties', '$defs', 'definitions'].includes(key) && v && typeof v === 'object') {
      out[key] = Object.fromEntries(Object.entries(v).map(([k, s]) => [k, boundRequestSchema(s)]));
    } else if (typeof key === 'string' && ['enum', 'const', 'default', 'examples', 'example', 'required'].includes(key)) {
      out[key] = v;
    } else {
      out[key] = typeof v === 'object' ? boundRequestSchema(v) : v;
    }
  }
  const types = typesOf(out);
  if (out.enum === undefined && out.const === undefined) {
    if (types.includes('string') && out.maxLength === undefined) out.maxLength = MAX_TEXT_LENGTH;
    if (types.includes('array') && out.maxItems === undefined) out.maxItems = MAX_ITEMS;
    if (types.includes('integer')) {
      if (out.maximum === undefined && out.exclusiveMaximum === undefined) out.maximum = MAX_INTEGER;
      if (out.minimum === undefined && out.exclusiveMinimum === undefined) out.minimum = MIN_INTEGER;
    }
  }
  return out as T;
}

/**
 * Every string (value or object key) of `value` that contains NUL, as `invalid[]` entries
 * (at most MAX_INVALID_ENTRIES; the walk stops there).
 */
export function nulEntries(value: unknown, entryType: InvalidEntry['entry_type']): InvalidEntry[] {
  const found: InvalidEntry[] = [];
  const rule = (what: string) => [{ rule: 'format', params: [], description: `${what} must not contain the NUL character (U+0000)` }];
  const entry = (path: string[]) => jsonPath(path.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join(''));
  const walk = (v: unknown, path: string[]) => {
    if (found.length >= MAX_INVALID_ENTRIES) return;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) found.push({ entry: entry(path), entry_type: entryType, rules: rule('the value') });
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length && found.length < MAX_INVALID_ENTRIES; i++) walk(v[i], [...path, String(i)]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (found.length >= MAX_INVALID_ENTRIES) return;
        if (k.includes('\u0000')) found.push({ entry: entry([...path, k]), entry_type: entryType, rules: rule('the name') });
        else walk(x, [...path, k]);
      }
    }
  };
  walk(value, []);
  return found;
}
