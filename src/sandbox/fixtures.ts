/**
 * POST /admin/fixtures: upsert registry (and capability) rows in one transaction.
 * The body schema is built from every capability's `fixtures` kinds, so unknown keys and fields are
 * rejected by the HTTP layer's strict validation. The sandbox demo data goes through `applyFixtures` too.
 */
import { Type, type TSchema, type TUnsafe } from 'typebox';
import type { Db } from '../platform/db.ts';
import type { FixtureKind, Platform } from '../platform/platform.ts';
import { EsozError, invalidField, validationFailed, type InvalidEntry } from '../platform/errors.ts';

export type FixturesBody = Record<string, Record<string, unknown>[] | undefined>;
export type FixturesResult = Record<string, string[]>;

/** Every kind of the runtime in application order (capability order, then the order inside a capability); first name wins. */
export function fixtureKinds(platform: Platform): FixtureKind[] {
  const seen = new Set<string>();
  const out: FixtureKind[] = [];
  for (const kind of platform.capabilities.flatMap((c) => c.fixtures ?? [])) {
    if (seen.has(kind.name)) continue;
    seen.add(kind.name);
    out.push(kind);
  }
  return out;
}

export function fixturesBodySchema(kinds: FixtureKind[]): TUnsafe<FixturesBody> {
  const props: Record<string, TSchema> = {};
  for (const k of kinds) props[k.name] = Type.Optional(Type.Array(k.schema));
  // the kinds are known only at run time, so the body's static type is the one every kind shares
  return Type.Unsafe<FixturesBody>(Type.Object(props, { additionalProperties: false }));
}

const FK_DETAIL = /Key \(([^)]+)\)=\(([^)]*)\) is not present in table "([^"]+)"/;

/** A database error of one item as an invalid entry (FK and data errors are the caller's mistakes, not 500s). */
function dbErrorToInvalid(err: any, prefix: string): InvalidEntry | undefined {
  const code: string = err?.code ?? '';
  if (code === '23503') {
    const m = FK_DETAIL.exec(String(err.detail ?? ''));
    const field = m?.[1] ?? 'id';
    return invalidField(`${prefix}.${field}`, m ? `${m[3]} with id ${m[2]} not found` : String(err.detail ?? err.message));
  }
  if (code === '23502')
    return invalidField(`${prefix}.${err.column ?? 'id'}`, `required property ${err.column ?? ''} was not present`, 'required');
  if (code.startsWith('22') || code === '23505' || code === '23514') return invalidField(prefix, String(err.message));
  return undefined;
}

/** Item-relative entries (`$.person_id`) of a kind's upsert become `$.<kind>[i].person_id`. */
function prefixEntries(entries: InvalidEntry[], prefix: string, kind: string): InvalidEntry[] {
  return entries.map((e) =>
    e.entry.startsWith(`$.${kind}[`) ? e : { ...e, entry: e.entry === '$' ? prefix : e.entry.replace(/^\$/, prefix) },
  );
}

/**
 * Apply `body` in one transaction: kinds in dependency order, items in input order, each item in
 * a savepoint so that every bad item is reported (422 with all entries) and nothing is kept.
 */
export async function applyFixtures(platform: Platform, body: FixturesBody, db: Db = platform.db): Promise<FixturesResult> {
  const kinds = fixtureKinds(platform);
  return db.transaction(async (tx) => {
    const result: FixturesResult = {};
    const invalid: InvalidEntry[] = [];
    for (const kind of kinds) {
      const items = body[kind.name];
      if (!items) continue;
      const ids: string[] = [];
      for (const [i, item] of items.entries()) {
        const prefix = `$.${kind.name}[${i}]`;
        // PGlite runs in this process and its statements never wait on I/O: without this, a large
        // set of fixtures would hold the event loop (every other request) until it is written.
        await new Promise((resolve) => setImmediate(resolve));
        try {
          ids.push(await tx.transaction((sp) => kind.upsert(sp, item, platform)));
        } catch (err) {
          if (err instanceof EsozError && err.status === 422 && err.invalid) {
            invalid.push(...prefixEntries(err.invalid, prefix, kind.name));
          } else {
            const entry = dbErrorToInvalid(err, prefix);
            if (!entry) throw err;
            invalid.push(entry);
          }
          ids.push((item as { id?: string }).id ?? '');
        }
      }
      result[kind.name] = ids;
    }
    if (!invalid.length) {
      for (const kind of kinds) {
        if (kind.finish && result[kind.name]) invalid.push(...(await kind.finish(tx, result[kind.name])));
      }
    }
    if (invalid.length) throw validationFailed(invalid);
    return result;
  });
}
