/**
 * Bounds on what one request may carry, applied to every route at the edge so no route can forget
 * them: a default maximum on every text, list and integer of a request schema, and NUL (U+0000)
 * refused in any text, since PostgreSQL cannot store it. The figures are explained in docs/decisions.md.
 */
import type { ErrorObject } from 'ajv';
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
    // TypeBox's markers (`~kind`, `~optional`, …) are not enumerable: they stay so on the copy,
    // or they would show in the OpenAPI document as schema keywords.
    if (!Object.prototype.propertyIsEnumerable.call(src, key)) {
      Object.defineProperty(out, key, { value: v, enumerable: false, writable: true, configurable: true });
      continue;
    }
    // `properties`/`patternProperties`/`$defs` are maps of schemas; everything else that is an object is a schema or a list of them
    if (
      typeof key === 'string' &&
      ['properties', 'patternProperties', '$defs', 'definitions'].includes(key) &&
      v &&
      typeof v === 'object'
    ) {
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
  const path: string[] = [];
  const report = (what: string) =>
    found.push({
      entry: jsonPath(path.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')),
      entry_type: entryType,
      rules: [{ rule: 'format', params: [], description: `${what} must not contain the NUL character (U+0000)` }],
    });
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      if (v.includes('\u0000')) report('the value');
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length && found.length < MAX_INVALID_ENTRIES; i++) {
        if (typeof v[i] !== 'object' && typeof v[i] !== 'string') continue;
        path.push(String(i));
        walk(v[i]);
        path.pop();
      }
    } else if (v !== null && typeof v === 'object') {
      for (const k in v) {
        if (found.length >= MAX_INVALID_ENTRIES) return;
        path.push(k);
        if (k.includes('\u0000')) report('the name');
        else walk((v as Record<string, unknown>)[k]);
        path.pop();
      }
    }
  };
  walk(value);
  return found;
}

/**
 * Above this many JSON values, an invalid body is not validated for every error: Ajv's allErrors
 * would build an error object per bad value (hundreds of ms for a 1 MB body of them). The first
 * error found is listed instead, then the `too_many_errors` entry.
 */
export const FULL_VALIDATION_VALUES = 50_000;

/** Whether `value` holds more than `limit` JSON values (stops counting there). */
export function hasMoreValuesThan(value: unknown, limit: number): boolean {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (++n > limit) return true;
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (v !== null && typeof v === 'object') for (const k in v) stack.push((v as Record<string, unknown>)[k]);
  }
  return false;
}

/** The keyword of the error that marks a list of errors as incomplete (see ajv-errors.ts). */
export const TOO_MANY_ERRORS = 'too_many_errors';

export interface Validate {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * A validator compiled on its first call. Compiling every route's schemas up front was the largest
 * part of a restart (docs/benchmarks.md, start-up); `warm` compiles the ones still pending after the
 * server is ready, one per turn of the event loop, so a route's first request rarely pays for it.
 */
export class LazyValidators {
  private readonly pending = new Set<() => unknown>();

  /** `warm: false`: compiled on first use only (a validator that serves rare requests). */
  wrap(compile: () => Validate, opts: { warm?: boolean } = {}): Validate {
    let compiled: Validate | undefined;
    const get = () => {
      if (!compiled) {
        compiled = compile();
        this.pending.delete(get);
      }
      return compiled;
    };
    if (opts.warm !== false) this.pending.add(get);
    const validate: Validate = (data) => {
      const v = get();
      const ok = v(data);
      validate.errors = v.errors;
      return ok;
    };
    return validate;
  }

  /** Compiles what is still pending in the background; resolves when done (tests await it). */
  warm(): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = () => {
        const next = this.pending.values().next();
        if (next.done) return resolve();
        try {
          next.value();
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        setImmediate(step);
      };
      setImmediate(step);
    });
  }
}

/**
 * A body validator whose work is linear in the body with a bounded number of error objects:
 * `first` stops at the first error, `all` lists every error and runs only on invalid bodies of at
 * most FULL_VALIDATION_VALUES values.
 */
export function boundedValidator(first: Validate, all: Validate): Validate {
  const validate: Validate = (data) => {
    if (first(data)) {
      validate.errors = null;
      return true;
    }
    if (!hasMoreValuesThan(data, FULL_VALIDATION_VALUES)) {
      all(data);
      validate.errors = all.errors;
    } else {
      validate.errors = [
        ...(first.errors ?? []),
        { keyword: TOO_MANY_ERRORS, instancePath: '', schemaPath: '', params: {}, message: 'more errors' },
      ];
    }
    return false;
  };
  return validate;
}
