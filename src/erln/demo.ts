/**
 * Demo МВТН of the ERLN hand-off, beside the demo compositions (src/compositions/demo.ts): one that ERLN
 * registered (an SL number in integrationData and in /admin/erln) and one whose hand-off ERLN rejected,
 * so RC_4 (PATCH …/erln) works at once. Both FINAL, by the demo doctor, for the demo patient.
 */
import { randomUUID } from 'node:crypto';
import type { Platform } from '../platform/platform.ts';
import { DEMO } from '../sandbox/demo-data.ts';
import { upsertCompositionFixture } from '../compositions/fixtures.ts';
import { REQUEST_TYPES, RESULT_UNEXPECTED, RESULT_UNEXPECTED_MESSAGE } from './contract.ts';
import { erlnCreateRequest } from './mapping.ts';
import { createInputOf, insertFinishedTask } from './task-store.ts';
import { DbErlnSimStore } from './sim-store-db.ts';

export const DEMO_ERLN = {
  /** FINAL TEMP_DISABILITY / PARENTAL_CARE, registered in ERLN (an SL number) */
  registeredId: '6f1d0c2a-0000-4000-8000-000000000122',
  /** FINAL TEMP_DISABILITY / RESTORATION, ERLN rejected it: re-send it with RC_4 */
  rejectedId: '6f1d0c2a-0000-4000-8000-000000000123',
} as const;

export async function loadErlnDemo(platform: Platform): Promise<void> {
  const base = {
    type: 'TEMP_DISABILITY',
    status: 'FINAL' as const,
    subject_id: DEMO.personOtpId,
    encounter_id: DEMO.encounterId,
    author_id: DEMO.doctorEmployeeId,
    legal_entity_id: DEMO.legalEntityId,
  };
  try {
    await platform.db.transaction(async (tx) => {
      await upsertCompositionFixture(tx, { ...base, id: DEMO_ERLN.registeredId, category: 'PARENTAL_CARE' });
      await upsertCompositionFixture(tx, { ...base, id: DEMO_ERLN.rejectedId, category: 'RESTORATION' });
      // the registered one: a record in the simulator under the task's key, and the task that got its SL number
      const input = await createInputOf(tx, DEMO_ERLN.registeredId);
      if (!input) throw new Error('the demo patient is not a person');
      const taskId = randomUUID();
      const { reply } = await new DbErlnSimStore(tx).applyCreate(
        taskId,
        erlnCreateRequest({ ...input, requestType: REQUEST_TYPES.NEW, previousSlNum: null }),
      );
      await insertFinishedTask(tx, { id: taskId, compositionId: DEMO_ERLN.registeredId, type: 'CREATE_ERLN_RECORD', reply, attempts: 1 });
      await insertFinishedTask(tx, {
        id: randomUUID(),
        compositionId: DEMO_ERLN.rejectedId,
        type: 'CREATE_ERLN_RECORD',
        reply: { ACCEPTED: false, RESULT: RESULT_UNEXPECTED, MESSAGE: RESULT_UNEXPECTED_MESSAGE, SL_NUM: null },
        attempts: 1,
      });
    });
  } catch (err) {
    // the sandbox still starts without them
    platform.log.warn({ err: { message: (err as Error).message } }, 'ERLN demo data not loaded');
  }
}
