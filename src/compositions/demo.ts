/**
 * Demo compositions of the sandbox, on fixed ids beside the registry demo rows (src/sandbox/demo-data.ts):
 * one PRELIMINARY for an MIS to sign and one FINAL to cancel, both by the demo doctor (tax id
 * DEMO.doctorTaxId) for the demo patient's encounter. Their categories are ones the composition
 * example (examples/mis-flow.ts) never picks, so signing the PRELIMINARY never collides with it (1127).
 */
import type { Platform } from '../platform/platform.ts';
import { DEMO } from '../sandbox/demo-data.ts';
import { upsertCompositionFixture, type CompositionFixture } from './fixtures.ts';

/** Same layout as the DEMO ids, in a range DEMO does not use. */
export const DEMO_COMPOSITIONS = {
  /** PRELIMINARY TEMP_DISABILITY / CHILD_CARE: sign it */
  preliminaryId: '6f1d0c2a-0000-4000-8000-000000000120',
  /** FINAL TEMP_DISABILITY / FAMILY_CARE: cancel it (within 7 days of the sandbox's first start) */
  finalId: '6f1d0c2a-0000-4000-8000-000000000121',
} as const;

export function demoCompositions(): CompositionFixture[] {
  const base = {
    type: 'TEMP_DISABILITY',
    subject_id: DEMO.personOtpId,
    encounter_id: DEMO.encounterId,
    author_id: DEMO.doctorEmployeeId,
    legal_entity_id: DEMO.legalEntityId,
  };
  return [
    { ...base, id: DEMO_COMPOSITIONS.preliminaryId, status: 'PRELIMINARY', category: 'CHILD_CARE' },
    { ...base, id: DEMO_COMPOSITIONS.finalId, status: 'FINAL', category: 'FAMILY_CARE' },
  ];
}

export async function loadCompositionsDemo(platform: Platform): Promise<void> {
  try {
    await platform.db.transaction(async (tx) => {
      for (const item of demoCompositions()) await upsertCompositionFixture(tx, item);
    });
  } catch (err) {
    // the sandbox still starts without them
    platform.log.warn({ err: { message: (err as Error).message } }, 'compositions demo data not loaded');
  }
}
