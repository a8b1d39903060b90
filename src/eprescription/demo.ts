/**
 * Demo medication requests of the sandbox: one per branch of the resend checks, on the fixed DEMO
 * ids (registry rows come from the registry demo data, loaded before this). The table is in
 * README.md, "Walk-through with the demo data".
 */
import type { Platform } from '../platform/platform.ts';
import { DEMO } from '../sandbox/demo-data.ts';
import { upsertMedicationRequest, encounterContext, defaultDosageInstruction } from './fixtures.ts';

const iso = (d: Date) => d.toISOString().slice(0, 10);
const addDays = (days: number) => iso(new Date(Date.now() + days * 86400_000));

export function demoMedicationRequests(): Record<string, unknown>[] {
  const base = {
    status: 'ACTIVE',
    intent: 'order',
    category: 'community',
    priority: 'routine',
    created_at: addDays(0),
    started_at: addDays(0),
    ended_at: addDays(29),
    dispense_valid_from: addDays(0),
    dispense_valid_to: addDays(30),
    legal_entity_id: DEMO.legalEntityId,
    division_id: DEMO.divisionId,
    employee_id: DEMO.doctorEmployeeId,
    medication_id: DEMO.medicationId,
    medication_qty: 30,
    medical_program_id: DEMO.programId,
    context: encounterContext(DEMO.encounterId),
    dosage_instruction: defaultDosageInstruction(),
    is_blocked: false,
  };
  return [
    // 200: SMS to the person's own OTP phone
    { ...base, id: DEMO.mrOtpId, person_id: DEMO.personOtpId, verification_code: '1234' },
    // 200: SMS to the confidant's OTP phone
    { ...base, id: DEMO.mrThirdPersonId, person_id: DEMO.personThirdPersonId, verification_code: '2345' },
    // 409 Person or third person has no OTP auth method
    {
      ...base,
      id: DEMO.mrOfflineId,
      person_id: DEMO.personOfflineId,
      verification_code: '3456',
      context: encounterContext(DEMO.encounterOfflineId),
    },
    // 409 For medication request plan information cannot be resent
    {
      ...base,
      id: DEMO.mrPlanId,
      person_id: DEMO.personOtpId,
      intent: 'plan',
      dispense_valid_from: null,
      dispense_valid_to: null,
      verification_code: '4567',
    },
    // 409 Invalid status Medication request for resend action!
    {
      ...base,
      id: DEMO.mrRejectedId,
      person_id: DEMO.personOtpId,
      status: 'REJECTED',
      verification_code: '5678',
      rejected_at: addDays(0),
      rejected_by: DEMO.userId,
      reject_reason: 'Пацієнт відмовився',
      reject_reason_code: 'PATIENT_REJECT',
    },
    // 409 Notifications are not allowed for the medical program!
    { ...base, id: DEMO.mrNoSmsProgramId, person_id: DEMO.personOtpId, medical_program_id: DEMO.programNoSmsId, verification_code: '6789' },
    // 403 Can't resend Medication request without verification code!
    { ...base, id: DEMO.mrNoCodeId, person_id: DEMO.personOtpId, verification_code: null },
  ];
}

export async function loadEprescriptionDemo(platform: Platform): Promise<void> {
  try {
    await platform.db.transaction(async (tx) => {
      for (const item of demoMedicationRequests()) await upsertMedicationRequest(tx, item);
    });
  } catch (err) {
    // Without the registry demo rows the MRs cannot point anywhere; the sandbox still starts.
    platform.log.warn({ err: { message: (err as Error).message } }, 'eprescription demo data not loaded');
  }
}
