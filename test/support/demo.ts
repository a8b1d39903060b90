/**
 * Helpers of the tests that run on the sandbox's demo data (DEMO_DATA on): the sandbox controls, the
 * console and the CLI make their МВТН the way an MIS developer would with the demo credentials.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DEMO } from '../../src/sandbox/demo-data.ts';
import { waitFor, type CallResult, type TestServer } from './harness.ts';

export type DemoCall = (method: string, path: string, body?: unknown) => Promise<CallResult>;

/**
 * A new МВТН of the demo patient on an encounter of its own, created with the demo credentials and its
 * create job awaited: its id and PRELIMINARY document when the job is DONE (else id '' and the job).
 */
export async function demoDraft(server: TestServer, demo: DemoCall): Promise<{ id: string; document: unknown; job: CallResult }> {
  const encounterId = randomUUID();
  await server.fixtures({
    encounters: [
      {
        id: encounterId,
        person_id: DEMO.personOtpId,
        episode_id: DEMO.episodeId,
        legal_entity_id: DEMO.legalEntityId,
        employee_id: DEMO.doctorEmployeeId,
      },
    ],
  });
  const ref = (code: string, value: string) => ({ type: { coding: [{ system: 'eHealth/resources', code }] }, value });
  const r = await demo('POST', '/api/patients/composition', {
    type: { coding: [{ system: 'COMPOSITION_TYPES', code: 'TEMP_DISABILITY' }] },
    category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: 'SICKNESS' }] },
    event: [
      {
        code: { coding: [{ system: 'COMPOSITION_EVENTS', code: 'COMPOSITION_VALIDITY_PERIOD' }] },
        period: { start: '2026-12-01T00:00:01Z', end: '2026-12-05T20:59:59Z' },
      },
    ],
    subject: ref('person', DEMO.personOtpId),
    encounter: ref('encounter', encounterId),
    author: ref('employee', DEMO.doctorEmployeeId),
    section: { focus: ref('person', DEMO.personOtpId) },
  });
  assert.equal(r.status, 202, r.text);
  const job = await waitFor(
    async () => {
      const j = await demo('GET', `/api/patients/composition/job/${r.body.data.id}`);
      return j.body.data.status !== 'PENDING' && j;
    },
    30_000,
    50,
  );
  if (job.body.data.status !== 'DONE') return { id: '', document: null, job };
  const got = await demo('GET', job.body.data.links[0].href);
  return { id: got.body.data.identifier.value, document: got.body.data, job };
}
