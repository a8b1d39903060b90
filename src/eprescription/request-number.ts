/**
 * ESOZ human-readable request numbers (src/platform/human-number.ts), e.g. `0027-K4E1-THE0-064A`:
 * a 64-bit BLAKE2b-based digest of the entity id (plus a salt on collision) written in the ESOZ
 * alphabet. Deterministic for (id, salt), so demo numbers are the same on every fresh start.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import { ESOZ_HUMAN_NUMBER } from '../platform/human-number.ts';

export const REQUEST_NUMBER_ALPHABET = ESOZ_HUMAN_NUMBER.alphabet;
export const REQUEST_NUMBER_RE = ESOZ_HUMAN_NUMBER.pattern;

export function requestNumberFor(entityId: string, salt = ''): string {
  const digest = createHash('blake2b512')
    .update(salt + entityId)
    .digest();
  return ESOZ_HUMAN_NUMBER.fromBigInt(digest.readBigUInt64BE(0));
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
