/**
 * ESOZ human-readable request numbers: four blocks of four symbols from `0123456789ABCEHIKMOPTX`,
 * e.g. `0027-K4E1-THE0-064A` (esoz-docs §4.3, "Human readable requisition number"): a 64-bit
 * BLAKE2b-based digest of the entity id (plus a salt on collision) re-encoded in that alphabet.
 * Deterministic for (id, salt), so demo numbers are the same on every fresh start.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../platform/db.ts';

export const REQUEST_NUMBER_ALPHABET = '0123456789ABCEHIKMOPTX';
const SYM = `[${REQUEST_NUMBER_ALPHABET}]`;
export const REQUEST_NUMBER_RE = new RegExp(`^${SYM}{4}-${SYM}{4}-${SYM}{4}-${SYM}{4}$`);

export function requestNumberFor(entityId: string, salt = ''): string {
  const digest = createHash('blake2b512')
    .update(salt + entityId)
    .digest();
  let n = digest.readBigUInt64BE(0);
  const base = BigInt(REQUEST_NUMBER_ALPHABET.length);
  let s = '';
  for (let i = 0; i < 16; i++) {
    s = REQUEST_NUMBER_ALPHABET[Number(n % base)] + s;
    n /= base;
  }
  return s.match(/.{4}/g)!.join('-');
}

/** A number not used by another MR (the unique index is the final guard). */
export async function generateRequestNumber(db: Db, entityId: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const candidate = requestNumberFor(entityId, attempt === 0 ? '' : `salt${attempt}:`);
    const r = await db.query('SELECT 1 FROM medication_requests WHERE request_number = $1 AND id <> $2', [candidate, entityId]);
    if (r.rowCount === 0) return candidate;
  }
  throw new Error('could not generate a unique request_number');
}
