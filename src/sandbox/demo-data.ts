/**
 * Demo data of the sandbox. Fixed ids so the README's curl lines work on every fresh start.
 * Registry rows are loaded here; capabilities add their own rows through `Capability.demo`.
 */
import type { Platform } from '../platform/platform.ts';

const id = (n: number) => `6f1d0c2a-0000-4000-8000-${String(n).padStart(12, '0')}`;

export const DEMO = {
  clientId: id(1),
  userId: id(2),
  // PRM
  legalEntityId: id(10),
  otherLegalEntityId: id(11),
  divisionId: id(15),
  doctorPartyId: id(19),
  doctorEmployeeId: id(20),
  doctorTaxId: '3126509816',
  otherEmployeeId: id(21),
  // MPI
  personOtpId: id(30), // OTP +380501112233
  personThirdPersonId: id(31), // THIRD_PERSON → confidant below
  confidantPersonId: id(32), // OTP +380503334455
  personOfflineId: id(33), // OFFLINE only
  prepersonId: id(35),
  // programs and medications
  programId: id(40), // "Доступні ліки", notifications allowed
  programNoSmsId: id(41), // medication_request_notification_disabled = true
  medicationId: id(45),
  // medical events
  episodeId: id(50),
  encounterId: id(55),
  encounterOfflineId: id(56),
  // ePrescription (rows added by the eprescription capability)
  mrOtpId: id(100),
  mrThirdPersonId: id(101),
  mrOfflineId: id(102),
  mrPlanId: id(103),
  mrRejectedId: id(104),
  mrNoSmsProgramId: id(105),
  mrNoCodeId: id(106),
};

export async function loadDemoData(_platform: Platform): Promise<void> {
  // registry demo rows: filled in by the registry/sandbox work
}
