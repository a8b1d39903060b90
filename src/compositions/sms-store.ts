/**
 * What the composition SMS (resend-sms.ts) reads: the patient, the composition and the caller's legal
 * entity, in one statement. The phone itself comes from smsPhoneOfAuthMethod (composition-store.ts),
 * which sign and cancel share.
 */
import type { Db } from '../platform/db.ts';
import { jsonValue } from '../platform/json.ts';
import { UUID_RE } from '../platform/uuid.ts';

export interface CompositionForSms {
  status: string;
  type_code: string;
  title: string;
  document: string;
  subject_id: string;
  focus_id: string | null;
  encounter_id: string;
}

export interface ResendFacts {
  /** the patient is a person of MPI */
  person: boolean;
  /** … or a preperson */
  preperson: boolean;
  /** the composition, when it is the caller's and the patient is its subject or its focus */
  composition: CompositionForSms | null;
  /** the caller's legal entity, when the caller has one */
  legal_entity: { type: string; status: string; is_active: boolean } | null;
}

export async function readResendFacts(
  db: Db,
  patientId: string,
  compositionId: string,
  legalEntityId: string | null,
): Promise<ResendFacts> {
  // an id that is not a UUID names nothing (and must not reach a uuid cast)
  const asUuid = (v: string | null) => (v !== null && UUID_RE.test(v) ? v : null);
  const r = await db.query<{
    person: boolean;
    preperson: boolean;
    composition: CompositionForSms | string | null;
    legal_entity: ResendFacts['legal_entity'] | string | null;
  }>(
    `SELECT EXISTS (SELECT 1 FROM persons WHERE id = $1::uuid) AS person,
            EXISTS (SELECT 1 FROM prepersons WHERE id = $1::uuid) AS preperson,
            (SELECT json_build_object('status', status, 'type_code', type_code, 'title', title, 'document', document,
                                      'subject_id', subject_id, 'focus_id', focus_id, 'encounter_id', encounter_id)
               FROM compositions
              WHERE id = $2::uuid AND custodian_id = $3::uuid AND (subject_id = $1::uuid OR focus_id = $1::uuid)) AS composition,
            (SELECT json_build_object('type', type, 'status', status, 'is_active', is_active)
               FROM legal_entities WHERE id = $3::uuid) AS legal_entity`,
    [asUuid(patientId), asUuid(compositionId), asUuid(legalEntityId)],
  );
  const row = r.rows[0];
  return {
    person: row.person,
    preperson: row.preperson,
    composition: row.composition === null ? null : jsonValue<CompositionForSms>(row.composition),
    legal_entity: row.legal_entity === null ? null : jsonValue<ResendFacts['legal_entity']>(row.legal_entity),
  };
}

/** The composition's status, its row locked against a concurrent cancel until the caller's transaction ends. */
export async function lockedStatus(tx: Db, compositionId: string): Promise<string | null> {
  const r = await tx.query<{ status: string }>('SELECT status FROM compositions WHERE id = $1 FOR SHARE', [compositionId]);
  return r.rows[0]?.status ?? null;
}
