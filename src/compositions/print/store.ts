/**
 * What the print form shows beyond the composition document: the names the registry holds (the
 * patient, the person on leave, the author, the legal entity), the cancellation reason, and the
 * Ukrainian descriptions of the dictionary codes. Read anew on every call: the form is never stored.
 */
import type { Db } from '../../platform/db.ts';

export interface PersonName {
  first_name: string | null;
  last_name: string | null;
  second_name: string | null;
}

export interface PrintFacts {
  subject: PersonName | null;
  focus: PersonName | null;
  author: PersonName | null;
  legal_entity_name: string | null;
  cancel_reason: string | null;
}

interface FactsRow {
  s_first: string | null;
  s_last: string | null;
  s_second: string | null;
  s_found: boolean;
  f_first: string | null;
  f_last: string | null;
  f_second: string | null;
  f_found: boolean;
  a_first: string | null;
  a_last: string | null;
  a_second: string | null;
  a_found: boolean;
  legal_entity_name: string | null;
  cancel_reason: string | null;
}

// a subject or focus is a person or a preperson (MPI): its name is in one of the two tables
const patientOf = (alias: string, idColumn: string, typeColumn: string) => `
  LEFT JOIN LATERAL (
    SELECT true AS found, first_name, last_name, second_name FROM persons WHERE id = c.${idColumn} AND c.${typeColumn} = 'person'
    UNION ALL
    SELECT true, first_name, last_name, second_name FROM prepersons WHERE id = c.${idColumn} AND c.${typeColumn} = 'preperson'
  ) ${alias} ON true`;

export async function printFactsOf(db: Db, compositionId: string): Promise<PrintFacts | undefined> {
  const r = await db.query<FactsRow>(
    `SELECT s.first_name AS s_first, s.last_name AS s_last, s.second_name AS s_second, s.found IS NOT NULL AS s_found,
            f.first_name AS f_first, f.last_name AS f_last, f.second_name AS f_second, f.found IS NOT NULL AS f_found,
            pa.first_name AS a_first, pa.last_name AS a_last, pa.second_name AS a_second, pa.id IS NOT NULL AS a_found,
            le.name AS legal_entity_name, c.cancel_reason
       FROM compositions c
       ${patientOf('s', 'subject_id', 'subject_type')}
       ${patientOf('f', 'focus_id', 'focus_type')}
       LEFT JOIN employees e ON e.id = c.author_id
       LEFT JOIN parties pa ON pa.id = e.party_id
       LEFT JOIN legal_entities le ON le.id = c.custodian_id
      WHERE c.id = $1`,
    [compositionId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const name = (found: boolean, first: string | null, last: string | null, second: string | null): PersonName | null =>
    found ? { first_name: first, last_name: last, second_name: second } : null;
  return {
    subject: name(row.s_found, row.s_first, row.s_last, row.s_second),
    focus: name(row.f_found, row.f_first, row.f_last, row.f_second),
    author: name(row.a_found, row.a_first, row.a_last, row.a_second),
    legal_entity_name: row.legal_entity_name,
    cancel_reason: row.cancel_reason,
  };
}

/**
 * The descriptions of `codes` (dictionary name, code) from the registry's dictionaries: active values
 * of active dictionaries only, like every dictionary check. A code without one is left out.
 */
export async function dictionaryDescriptions(db: Db, codes: { dictionary: string; code: string }[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (codes.length === 0) return out;
  const r = await db.query<{ dictionary_name: string; code: string; description: string }>(
    `SELECT v.dictionary_name, v.code, v.description
       FROM unnest($1::text[], $2::text[]) AS q(dictionary_name, code)
       JOIN dictionaries d ON d.name = q.dictionary_name AND d.is_active
       JOIN dictionary_values v ON v.dictionary_name = q.dictionary_name AND v.code = q.code AND v.is_active`,
    [codes.map((c) => c.dictionary), codes.map((c) => c.code)],
  );
  for (const row of r.rows) out.set(`${row.dictionary_name}\u0000${row.code}`, row.description);
  return out;
}
