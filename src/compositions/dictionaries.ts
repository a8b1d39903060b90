/**
 * Dictionary checks for compositions. The registry's dictionaries (src/registry/dictionaries.ts, one
 * cache for every capability) are authoritative: a dictionary present there is used as is (active
 * values of an active dictionary). A dictionary the registry has not seeded falls back to the values
 * in model.ts, so a fresh database still validates.
 */
import type { Db } from '../platform/db.ts';
import { dictionaryCodes } from '../registry/dictionaries.ts';
import { FALLBACK_DICTIONARIES } from './model.ts';

const fallback = new Map(Object.entries(FALLBACK_DICTIONARIES).map(([name, codes]) => [name, new Set(codes)]));
const NONE: ReadonlySet<string> = new Set();

async function codesOf(db: Db, name: string): Promise<ReadonlySet<string>> {
  return (await dictionaryCodes(db, name)) ?? fallback.get(name) ?? NONE;
}

export async function isAllowedCode(db: Db, dictionary: string, code: string): Promise<boolean> {
  return (await codesOf(db, dictionary)).has(code);
}

export async function allowedCodes(db: Db, dictionary: string): Promise<string[]> {
  return [...(await codesOf(db, dictionary))].sort();
}
