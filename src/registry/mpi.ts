/**
 * MPI: a person's default authentication method and, from it, where an OTP SMS goes.
 *
 * Default-method precedence (esoz-docs §4.4, "Determination of a default authentication method"):
 *   1. active OTP;
 *   2. active OFFLINE;
 *   3. first-added active THIRD_PERSON whose third (confidant) person uses OTP;
 *   4. first-added active THIRD_PERSON whose third person uses OFFLINE;
 *   5. otherwise none (older versions: NA).
 * A method is active when `is_active` and not ended (`ended_at` null or in the future). A third
 * person counts only while active in MPI; their own method is read with the same rule (OTP first).
 */
import type { Db } from '../platform/db.ts';

export type DefaultAuthMethod =
  | { type: 'OTP'; phone_number: string; method_id: string }
  | { type: 'OFFLINE'; method_id: string }
  | { type: 'THIRD_PERSON'; method_id: string; confidant_person_id: string; confidant_type: 'OTP'; phone_number: string }
  | { type: 'THIRD_PERSON'; method_id: string; confidant_person_id: string; confidant_type: 'OFFLINE' };

export interface OtpRecipient {
  phone_number: string;
  via: 'OTP' | 'THIRD_PERSON';
  confidant_person_id?: string;
}

interface MethodRow {
  id: string;
  type: string;
  phone_number: string | null;
  value: string | null;
  confidant_otp_phone: string | null;
  confidant_offline: boolean | null;
}

const ACTIVE = (a: string) => `${a}.is_active AND (${a}.ended_at IS NULL OR ${a}.ended_at > now())`;

/** One query: the person's active methods, oldest first, each THIRD_PERSON with its confidant's methods. */
async function activeMethods(db: Db, personId: string): Promise<MethodRow[]> {
  const { rows } = await db.query<MethodRow>(
    `SELECT m.id, m.type, m.phone_number, m.value, c.otp_phone AS confidant_otp_phone, c.has_offline AS confidant_offline
       FROM person_authentication_methods m
       LEFT JOIN LATERAL (
         SELECT (SELECT cm.phone_number FROM person_authentication_methods cm
                  WHERE cm.person_id = cp.id AND cm.type = 'OTP' AND cm.phone_number IS NOT NULL AND ${ACTIVE('cm')}
                  ORDER BY cm.inserted_at, cm.id LIMIT 1) AS otp_phone,
                EXISTS (SELECT 1 FROM person_authentication_methods cm
                  WHERE cm.person_id = cp.id AND cm.type = 'OFFLINE' AND ${ACTIVE('cm')}) AS has_offline
           FROM persons cp WHERE cp.id = m.value AND cp.is_active
       ) c ON m.type = 'THIRD_PERSON'
      WHERE m.person_id = $1 AND ${ACTIVE('m')}
      ORDER BY m.inserted_at, m.id`,
    [personId],
  );
  return rows;
}

export async function defaultAuthMethod(db: Db, personId: string): Promise<DefaultAuthMethod | null> {
  const rows = await activeMethods(db, personId);
  const otp = rows.find((r) => r.type === 'OTP' && r.phone_number);
  if (otp) return { type: 'OTP', phone_number: otp.phone_number!, method_id: otp.id };
  const offline = rows.find((r) => r.type === 'OFFLINE');
  if (offline) return { type: 'OFFLINE', method_id: offline.id };
  const thirdOtp = rows.find((r) => r.type === 'THIRD_PERSON' && r.value && r.confidant_otp_phone);
  if (thirdOtp) {
    return { type: 'THIRD_PERSON', method_id: thirdOtp.id, confidant_person_id: thirdOtp.value!, confidant_type: 'OTP', phone_number: thirdOtp.confidant_otp_phone! };
  }
  const thirdOffline = rows.find((r) => r.type === 'THIRD_PERSON' && r.value && r.confidant_offline);
  if (thirdOffline) return { type: 'THIRD_PERSON', method_id: thirdOffline.id, confidant_person_id: thirdOffline.value!, confidant_type: 'OFFLINE' };
  return null;
}

/**
 * Where an OTP SMS for the person goes: the person's own OTP phone, or the confidant's OTP phone when
 * the default method is THIRD_PERSON with an OTP third person; null otherwise (OFFLINE, THIRD_PERSON
 * with an OFFLINE third person, NA, nothing).
 */
export async function findOtpRecipient(db: Db, personId: string): Promise<OtpRecipient | null> {
  const m = await defaultAuthMethod(db, personId);
  if (!m) return null;
  if (m.type === 'OTP') return { phone_number: m.phone_number, via: 'OTP' };
  if (m.type === 'THIRD_PERSON' && m.confidant_type === 'OTP') {
    return { phone_number: m.phone_number, via: 'THIRD_PERSON', confidant_person_id: m.confidant_person_id };
  }
  return null;
}
