/**
 * ePrescription: GET /api/medication_requests/{id} and PATCH …/{id}/actions/resend (seed 003),
 * the `medication_requests` fixture kind, demo MRs, and the SMS delivery queue it sends through
 * (the outbox is shown by the sandbox's GET /admin/sms).
 */
import { Type } from 'typebox';
import type { Capability, RoutesPlugin } from '../platform/platform.ts';
import { requestContext } from '../platform/context.ts';
import { sendData } from '../platform/http/envelope.ts';
import { registerSmsDelivery } from '../platform/sms/delivery.ts';
import { findVisibleMr, resendMedicationRequest } from './resend.ts';
import { renderMedicationRequest } from './view.ts';
import { medicationRequestsFixtureKind } from './fixtures.ts';
import { loadEprescriptionDemo } from './demo.ts';
import { getMedicationRequestResponses, resendMedicationRequestResponses } from './schemas.ts';

// Any string: an id that is neither a UUID nor a request number is a 404 (seed 003), not a 422.
const Params = Type.Object({ id: Type.String({ description: 'Medication request id (UUID) or request_number' }) });

/** GET and PATCH …/actions/resend of /medication_requests, registered under `/api`. */
export const eprescriptionRoutes: RoutesPlugin = async (app, { platform }) => {
  app.get(
    '/medication_requests/:id',
    {
      config: { scopes: ['medication_request:details'] },
      schema: {
        operationId: 'getMedicationRequest',
        summary: 'Get a medication request',
        description: 'Get Medication request by ID (or request number).',
        tags: ['ePrescription'],
        params: Params,
        response: getMedicationRequestResponses,
      },
    },
    async (request, reply) => {
      const mr = await findVisibleMr(requestContext(platform, request), request.params.id);
      return sendData(request, reply, renderMedicationRequest(mr));
    },
  );
  app.patch(
    '/medication_requests/:id/actions/resend',
    {
      config: { scopes: ['medication_request:resend'] },
      schema: {
        operationId: 'resendMedicationRequest',
        summary: 'Resend a medication request (SMS)',
        description:
          'Resend Medication Request: SMS with the request number and verification code to the person ' +
          '(or the third person). 429 `sms_timeout` with Retry-After when MR_MAX_ATTEMPTS_COUNT resends were made within MR_SEND_TIMEOUT.',
        tags: ['ePrescription'],
        params: Params,
        response: resendMedicationRequestResponses,
      },
    },
    async (request, reply) => sendData(request, reply, await resendMedicationRequest(requestContext(platform, request), request.params.id)),
  );
};

export const eprescriptionCapability: Capability = {
  name: 'eprescription',
  jobs(platform) {
    registerSmsDelivery(platform);
  },
  async routes(app, platform) {
    await app.register(eprescriptionRoutes, { prefix: '/api', platform });
  },
  fixtures: [medicationRequestsFixtureKind],
  demo: loadEprescriptionDemo,
};
