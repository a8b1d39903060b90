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

/** One active method of the person, as the MR read returns them (oldest first; src/eprescription/sql/esoz_medication_request_read_many.sql). */
export interface AuthMethodRow {
  id: string;
  type: string;
  phone_number: string | null;
  value: string | null;
  confidant_otp_phone: string | null;
  confidant_offline: boolean | null;
  /** when this entry changes by itself (an end date), ISO time; null for never */
  valid_until?: string | null;
}

/** The §4.4 precedence over the person's active methods (oldest first): a pure function. */
export function defaultAuthMethodOf(rows: AuthMethodRow[]): DefaultAuthMethod | null {
  const otp = rows.find((r) => r.type === 'OTP' && r.phone_number);
  if (otp) return { type: 'OTP', phone_number: otp.phone_number!, method_id: otp.id };
  const offline = rows.find((r) => r.type === 'OFFLINE');
  if (offline) return { type: 'OFFLINE', method_id: offline.id };
  const thirdOtp = rows.find((r) => r.type === 'THIRD_PERSON' && r.value && r.confidant_otp_phone);
  if (thirdOtp) {
    return {
      type: 'THIRD_PERSON',
      method_id: thirdOtp.id,
      confidant_person_id: thirdOtp.value!,
      confidant_type: 'OTP',
      phone_number: thirdOtp.confidant_otp_phone!,
    };
  }
  const thirdOffline = rows.find((r) => r.type === 'THIRD_PERSON' && r.value && r.confidant_offline);
  if (thirdOffline)
    return { type: 'THIRD_PERSON', method_id: thirdOffline.id, confidant_person_id: thirdOffline.value!, confidant_type: 'OFFLINE' };
  return null;
}

/**
 * Where an OTP SMS for the person goes: the person's own OTP phone, or the confidant's OTP phone when
 * the default method is THIRD_PERSON with an OTP third person; null otherwise (OFFLINE, THIRD_PERSON
 * with an OFFLINE third person, NA, nothing). A pure function over the methods the MR read returned.
 */
export function otpRecipientOf(rows: AuthMethodRow[]): OtpRecipient | null {
  const m = defaultAuthMethodOf(rows);
  if (!m) return null;
  if (m.type === 'OTP') return { phone_number: m.phone_number, via: 'OTP' };
  if (m.type === 'THIRD_PERSON' && m.confidant_type === 'OTP') {
    return { phone_number: m.phone_number, via: 'THIRD_PERSON', confidant_person_id: m.confidant_person_id };
  }
  return null;
}
