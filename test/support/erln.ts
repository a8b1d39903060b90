import { randomUUID } from 'node:crypto';
import type { ErlnCreateRequest } from '../../src/erln/contract.ts';
import type { Mis, TestServer } from './harness.ts';
import { createBody, createDone, pollJob, type BodyOptions, type World } from './compositions.ts';
import { makeSigner, signCms } from './cms.ts';

/** A valid ERLN create request for the simulator's tests. */
export function sampleCreateRequest(compositionId = randomUUID()): ErlnCreateRequest {
  return {
    REQUEST_TYPE: 1,
    COMPOSITION_ID: compositionId,
    COMPOSITION_NUMBER: '1234-5678-9012',
    PREVIOUS_SL_NUM: null,
    PATIENT: {
      PERSON_ID: randomUUID(),
      LAST_NAME: 'Шевченко',
      FIRST_NAME: 'Тарас',
      SECOND_NAME: null,
      BIRTH_DATE: '1990-03-09',
      DP_SEX: 1,
      DP_IPN_NO: 0,
      IPN: '3334445556',
      DP_DOCTYPE: 1,
      DOC_NUMBER: 'АА123456',
    },
    INCIDENT_TYPE: 1,
    INCIDENT_CATEGORY: 1,
    CATEGORY: 'SICKNESS',
    PERIOD_START: '2026-12-01',
    PERIOD_END: '2026-12-07',
    IS_ACCIDENT: 0,
    IS_ABROAD: 0,
    SIGN_ANLK_NARKOTIK_INTOXICATION: 0,
    VIOLATION_TYPE: null,
    VIOLATION_DATE: null,
    DOCTOR: { EMPLOYEE_ID: randomUUID(), DOCTOR_IPN_NO: 0, IPN: '2223334445' },
    LEGAL_ENTITY_ID: randomUUID(),
  };
}

/** A FINAL composition through the real create → job → sign → job flow, on an encounter of its own. */
export async function signedComposition(
  server: TestServer,
  mis: Mis,
  w: World,
  o: BodyOptions & { personId?: string } = {},
): Promise<{ id: string; href: string; encounterId: string; patientId: string; episodeId: string }> {
  const subject = o.subject ?? { type: 'person' as const, id: o.personId ?? w.personId };
  const encounterId = randomUUID();
  // the episode is the person's (seedWorld): a preperson's encounter has none
  const episodeId = subject.id === w.personId ? w.episodeId : null;
  await server.fixtures({
    encounters: [
      { id: encounterId, person_id: subject.id, episode_id: w.episodeId, legal_entity_id: w.legalEntityId, employee_id: w.authorId },
    ],
  });
  const { id, href, document } = await createDone(mis, createBody(w, { ...o, subject, encounterId }));
  const signer = await makeSigner({ taxId: w.authorTaxId });
  const r = await mis.call('PATCH', `/api/patients/composition/${id}/sign`, {
    body: { data: await signCms(signer, JSON.stringify(document)) },
  });
  if (r.status !== 202) throw new Error(`sign: ${r.status} ${r.text}`);
  const job = await pollJob(mis, r.body.data.id);
  if (job.body.data.status !== 'DONE') throw new Error(`sign job: ${job.text}`);
  return { id, href, encounterId, patientId: subject.id, episodeId: episodeId ?? '' };
}
