/**
 * Demo compositions of the sandbox, on fixed ids beside the registry demo rows (src/sandbox/demo-data.ts):
 * one PRELIMINARY for an MIS to sign, one FINAL to cancel, a preperson's FINAL one to refine (RC_6) and
 * a cancelled one to replace (RC_7), all by the demo doctor (tax id DEMO.doctorTaxId), on the demo
 * patient's encounter (the preperson's one on an encounter of its own). The FINAL ones are of categories
 * the composition example (examples/mis-flow.ts) never picks, so nothing it signs collides with them
 * (1127: only FINAL ones count, so the cancelled SICKNESS one does not).
 */
import type { Platform } from '../platform/platform.ts';
import { DEMO } from '../sandbox/demo-data.ts';
import { applyFixtures } from '../sandbox/fixtures.ts';
import { upsertCompositionFixture, type CompositionFixture } from './fixtures.ts';

/** Same layout as the DEMO ids, in a range DEMO does not use. */
export const DEMO_COMPOSITIONS = {
  /** PRELIMINARY TEMP_DISABILITY / CHILD_CARE: sign it */
  preliminaryId: '6f1d0c2a-0000-4000-8000-000000000120',
  /** FINAL TEMP_DISABILITY / FAMILY_CARE: cancel it (within 7 days of the sandbox's first start) */
  finalId: '6f1d0c2a-0000-4000-8000-000000000121',
  /** FINAL TEMP_DISABILITY / SICKNESS of the demo preperson: refine it (RC_6, relatesTo "replaces" from the demo person) */
  prepersonFinalId: '6f1d0c2a-0000-4000-8000-000000000124',
  /** ENTERED_IN_ERROR TEMP_DISABILITY / SICKNESS, cancelled for INCORRECT_DISABILITY_PERIOD: replace it (RC_7) */
  cancelledId: '6f1d0c2a-0000-4000-8000-000000000125',
  /** the demo preperson's encounter (the refinement's target is on it) */
  prepersonEncounterId: '6f1d0c2a-0000-4000-8000-000000000126',
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
    {
      ...base,
      id: DEMO_COMPOSITIONS.prepersonFinalId,
      status: 'FINAL',
      category: 'SICKNESS',
      subject_id: DEMO.prepersonId,
      encounter_id: DEMO_COMPOSITIONS.prepersonEncounterId,
    },
    {
      ...base,
      id: DEMO_COMPOSITIONS.cancelledId,
      status: 'ENTERED_IN_ERROR',
      category: 'SICKNESS',
      cancellation: { reason: 'INCORRECT_DISABILITY_PERIOD', text: 'Помилкове зазначення строків непрацездатності' },
    },
  ];
}

export async function loadCompositionsDemo(platform: Platform): Promise<void> {
  try {
    // the preperson's encounter, a registry row (the same upsert as POST /admin/fixtures)
    await applyFixtures(platform, {
      encounters: [
        {
          id: DEMO_COMPOSITIONS.prepersonEncounterId,
          person_id: DEMO.prepersonId,
          legal_entity_id: DEMO.legalEntityId,
          employee_id: DEMO.doctorEmployeeId,
        },
      ],
    });
    await platform.db.transaction(async (tx) => {
      for (const item of demoCompositions()) await upsertCompositionFixture(tx, item);
    });
  } catch (err) {
    // the sandbox still starts without them
    platform.log.warn({ err: { message: (err as Error).message } }, 'compositions demo data not loaded');
  }
}
