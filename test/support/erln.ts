import { randomUUID } from 'node:crypto';
import type { ErlnCreateRequest } from '../../src/erln/contract.ts';

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
