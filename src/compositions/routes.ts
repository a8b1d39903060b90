/**
 * HTTP routes of Compositions: one plugin, registered under `/api` and at the seed's unprefixed path
 * (hidden from the OpenAPI document). Handlers pass the request context to the method modules and
 * render what they answer; the checks are the methods'.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../platform/platform.ts';
import { requestContext } from '../platform/context.ts';
import { baseUrl, sendData, dataEnvelope, pageEnvelope, errorResponses } from '../platform/http/envelope.ts';
import { badRequest, notFound } from '../platform/errors.ts';
import { UUID_RE } from '../platform/uuid.ts';
import {
  CMS_BODY_LIMIT,
  CompositionDocument,
  IntegrationItem,
  CREATE_BODY_LIMIT,
  CreateCompositionBody,
  JobState,
  JOB_EXAMPLES,
  SearchQuery,
  SignBody,
} from './schemas.ts';
import type { JobStore } from './job-store.ts';
import { MESSAGES } from './messages.ts';
import { acceptCreate } from './create.ts';
import { acceptSign } from './sign.ts';
import { acceptCancel } from './cancel.ts';
import { getComposition, searchCompositions, type SearchPage } from './read.ts';
import { getIntegrationData } from './integration-data.ts';
import { resendToErln } from './erln-resend.ts';
import { resendCompositionSms } from './resend-sms.ts';
import { getPrintForm } from './print-form.ts';
import { PrintFormQuery } from './schemas.ts';

function sendJob(request: FastifyRequest, reply: FastifyReply, state: JobState, status: number) {
  const url = `${baseUrl(request)}/api/patients/composition/job/${state.id}`;
  const headers: Record<string, string> = {};
  if (state.status === 'PENDING') {
    headers['retry-after'] = String(Math.max(1, Math.ceil((Date.parse(state.eta) - Date.now()) / 1000)));
  }
  if (status === 202) {
    headers.location = url;
    headers['content-location'] = url;
  }
  return sendData(request, reply, state, { status, headers });
}

/**
 * Declared responses (OpenAPI; checked against every response in the tests). 401 access_denied (token,
 * api-key) and 403 forbidden (scope) are declared for every authenticated route by the OpenAPI transform
 * (server.ts).
 */
const jobExamples = [JOB_EXAMPLES.pending, JOB_EXAMPLES.done, JOB_EXAMPLES.failed];
const responses = {
  created: {
    202: dataEnvelope(JobState, 'Accepted: the async job (Location / Content-Location: its status URL; Retry-After)', [
      JOB_EXAMPLES.accepted,
    ]),
    ...errorResponses({
      403: 'forbidden: Access denied (the client acts for no legal entity), or the scope does not allow composition:create',
      422: 'validation_failed: invalid[] lists every failed rule (schema, dictionaries, referenced person/encounter/employee, extensions)',
    }),
  },
  signed: {
    202: dataEnvelope(JobState, 'Accepted: the async job (Location / Content-Location: its status URL; Retry-After)', [
      JOB_EXAMPLES.accepted,
    ]),
    ...errorResponses({
      404: "not_found: Composition not found (unknown, or another custodian's)",
      422: 'validation_failed: the body is not {data: <base64 CMS>} (the CMS itself is checked by the job: its FAILED error says why)',
    }),
  },
  cancelled: {
    202: dataEnvelope(JobState, 'Accepted: the async job (Location / Content-Location: its status URL; Retry-After)', [
      JOB_EXAMPLES.accepted,
    ]),
    ...errorResponses({
      404: "not_found: The object of the Composition was not found (unknown, or another custodian's)",
      422: 'validation_failed: the body is not {data: <base64 CMS>} (the CMS itself is checked by the job: its FAILED error says why)',
    }),
  },
  job: {
    200: dataEnvelope(JobState, 'The async job (Retry-After while PENDING); FAILED carries error {code, type, message}', jobExamples),
    ...errorResponses({
      400: 'bad_request: Invalid request format (the id is not a UUID)',
      404: "not_found: Task not found (unknown, or another client's job)",
    }),
  },
  composition: {
    200: dataEnvelope(CompositionDocument, 'The composition'),
    ...errorResponses({ 404: "not_found: Composition not found (also for another custodian's composition)" }),
  },
  erlnResend: {
    200: dataEnvelope(JobState, 'The request was successfully submitted for processing: the async job', [JOB_EXAMPLES.done]),
    ...errorResponses({
      400: 'bad_request: This request is not allowed to be resubmitted (inappropriate status or type of request)',
      404: 'not_found: No conclusion found',
      422: 'validation_failed: the request takes no body: send none, {} or []',
    }),
  },
  resendSms: {
    202: dataEnvelope(
      JobState,
      'The SMS is queued for delivery (or, for a preperson, nothing is sent): a job already DONE, stored (the job endpoint answers it)',
    ),
    ...errorResponses({
      404: 'not_found: Not found',
      409:
        'request_conflict: You can not resend SMS for Composition in status <status> / Action is not allowed for the legal entity / ' +
        "Authentication method doesn't exist or is inactive",
      429: 'sms_timeout: Sending SMS timeout (Retry-After)',
    }),
  },
  integrationData: {
    200: dataEnvelope(Type.Array(IntegrationItem), 'Composition found: its processing tasks in other registers (ERLN), oldest first'),
    ...errorResponses({ 404: "not_found: Composition not found (unknown, another custodian's, or PRELIMINARY)" }),
  },
  search: {
    200: pageEnvelope(CompositionDocument, 'A page of compositions, newest first'),
    ...errorResponses({ 422: 'validation_failed: a query parameter is invalid, or subject and focus are both given / both missing' }),
  },
};

export interface CompositionRoutesOptions {
  platform: Platform;
  jobs: JobStore;
}

/** Every route of Compositions; the unprefixed registration is hidden from the OpenAPI document. */
export const compositionRoutes: FastifyPluginAsyncTypebox<CompositionRoutesOptions> = async (app, opts) => {
  const { platform, jobs } = opts;
  const hide = !app.prefix;

  app.post(
    '/patients/composition',
    {
      config: { scopes: ['composition:create'] },
      bodyLimit: CREATE_BODY_LIMIT,
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'createComposition',
        summary: 'Create a composition (async job)',
        body: CreateCompositionBody,
        response: responses.created,
      },
    },
    async (request, reply) => sendJob(request, reply, await acceptCreate(requestContext(platform, request), jobs, request.body), 202),
  );

  app.patch(
    '/patients/composition/:id/sign',
    {
      config: { scopes: ['composition:sign'] },
      bodyLimit: CMS_BODY_LIMIT,
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'signComposition',
        summary: 'Sign a PRELIMINARY composition (async job)',
        params: Type.Object({ id: Type.String() }),
        body: SignBody,
        response: responses.signed,
      },
    },
    async (request, reply) =>
      sendJob(request, reply, await acceptSign(requestContext(platform, request), jobs, request.params.id, request.body), 202),
  );

  app.patch(
    '/patients/composition/:id/cancel',
    {
      config: { scopes: ['composition:cancel'] },
      bodyLimit: CMS_BODY_LIMIT,
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'cancelComposition',
        summary: 'Cancel a FINAL composition (async job)',
        params: Type.Object({ id: Type.String() }),
        body: SignBody,
        response: responses.cancelled,
      },
    },
    async (request, reply) =>
      sendJob(request, reply, await acceptCancel(requestContext(platform, request), jobs, request.params.id, request.body), 202),
  );

  app.patch(
    '/patients/composition/:id/erln',
    {
      config: { scopes: ['composition:create'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'resendCompositionToErln',
        summary: 'RC_4: re-send an МВТН to ERLN',
        description:
          'Re-sends a FINAL МВТН whose last ERLN task ended with integration status ERROR (no body, {} or []). ' +
          '200 with the async job (DONE when ERLN accepted the record, FAILED when it rejected it or could not be reached); ' +
          '404 No conclusion found; 400 when the composition is not fit to be re-sent.',
        params: Type.Object({ id: Type.String() }),
        response: responses.erlnResend,
      },
    },
    async (request, reply) =>
      sendJob(request, reply, await resendToErln(requestContext(platform, request), request.params.id, request.body), 200),
  );

  app.patch(
    '/patients/:patientId/compositions/:compositionId/actions/resend',
    {
      config: { scopes: ['composition:resend_sms'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'resendCompositionSms',
        summary: 'Resend SMS on Composition (the SMS of a FINAL composition, to the method INFORM_WITH names)',
        description:
          'The checks answer on the call (404, 409, 429 with Retry-After); 202 with a job already DONE when the SMS is queued. ' +
          'A preperson gets no SMS (202, no links). No body is read.',
        params: Type.Object({ patientId: Type.String(), compositionId: Type.String() }),
        response: responses.resendSms,
      },
    },
    async (request, reply) =>
      sendData(
        request,
        reply,
        await resendCompositionSms(requestContext(platform, request), request.params.patientId, request.params.compositionId),
        { status: 202 },
      ),
  );

  app.get(
    '/patients/composition/job/:asyncJobId',
    {
      config: { scopes: ['composition:read'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'getCompositionJob',
        summary: 'Async job status (compositionAsyncJobStateResponse)',
        params: Type.Object({ asyncJobId: Type.String() }),
        response: responses.job,
      },
    },
    async (request, reply) => {
      const { asyncJobId } = request.params;
      // 1. the id is a UUID → 400 "Invalid request format"
      if (!UUID_RE.test(asyncJobId)) throw badRequest(MESSAGES.invalidRequestFormat);
      // 2. the job exists and is this client's → 404 "Task not found"
      const state = await jobs.state(asyncJobId.toLowerCase(), request.auth.clientId);
      if (!state) throw notFound(MESSAGES.taskNotFound);
      return sendJob(request, reply, state, 200);
    },
  );

  app.get(
    '/patients/:patientId/composition/:id/episode/:episodeId/encounter/:encounterId',
    {
      config: { scopes: ['composition:read'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'getComposition',
        summary: 'Get a composition',
        params: Type.Object({ patientId: Type.String(), id: Type.String(), episodeId: Type.String(), encounterId: Type.String() }),
        response: responses.composition,
      },
    },
    async (request, reply) =>
      sendData(request, reply, await getComposition(requestContext(platform, request), request.params.id, request.params)),
  );

  app.get(
    '/patients/:patientId/composition/:id/episode/:episodeId/encounter/:encounterId/integrationData',
    {
      config: { scopes: ['composition:read'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'getIntegrationData',
        summary: 'Integration data: the ERLN tasks of a composition (getIntegrationData)',
        params: Type.Object({ patientId: Type.String(), id: Type.String(), episodeId: Type.String(), encounterId: Type.String() }),
        response: responses.integrationData,
      },
    },
    async (request, reply) =>
      sendData(request, reply, await getIntegrationData(requestContext(platform, request), request.params.id, request.params)),
  );

  app.get(
    '/patients/:patientId/encounter/:encounterId/composition/:id',
    {
      config: { scopes: ['composition:read'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'getCompositionByEncounter',
        summary: 'Get a composition (path of the async-job sequence)',
        params: Type.Object({ patientId: Type.String(), encounterId: Type.String(), id: Type.String() }),
        response: responses.composition,
      },
    },
    async (request, reply) =>
      sendData(request, reply, await getComposition(requestContext(platform, request), request.params.id, request.params)),
  );

  app.get(
    '/patients/searchComposition',
    {
      config: { scopes: ['composition:search'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'searchCompositions',
        summary: 'Search compositions by subject or focus',
        querystring: SearchQuery,
        response: responses.search,
      },
    },
    async (request, reply) => sendPage(request, reply, await searchCompositions(requestContext(platform, request), request.query)),
  );

  app.get(
    '/patients/:patientId/composition',
    {
      config: { scopes: ['composition:search'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'searchPatientCompositions',
        summary: "Search a patient's compositions",
        params: Type.Object({ patientId: Type.String() }),
        querystring: Type.Omit(SearchQuery, ['subject', 'focus']),
        response: responses.search,
      },
    },
    async (request, reply) =>
      sendPage(request, reply, await searchCompositions(requestContext(platform, request), request.query, request.params.patientId)),
  );

  app.get(
    '/patients/:patientId/composition/:id/episode/:episodeId/encounter/:encounterId/printForm',
    {
      config: { scopes: ['composition:read'] },
      schema: {
        hide,
        tags: ['compositions'],
        operationId: 'getPrintForm',
        summary: 'Print form of a composition (getPrintForm): printable HTML',
        description:
          'The composition in any status as an HTML page for printing (A4), rendered anew on every call. ' +
          'templateId: 1001 for TEMP_DISABILITY (МВТН), 1000 for NEWBORN (МВН); another template → 404 Form not found.',
        params: Type.Object({ patientId: Type.String(), id: Type.String(), episodeId: Type.String(), encounterId: Type.String() }),
        querystring: PrintFormQuery,
        response: {
          200: {
            description: 'Form exists: the printable HTML page',
            content: { 'text/html': { schema: Type.String({ description: 'An HTML document (UTF-8)' }) } },
          },
          ...errorResponses({
            404: "not_found: Composition not found (unknown, another custodian's, or not at this path) / Form not found (the template is not the composition type's)",
            422: 'validation_failed: templateId missing or not an integer',
          }),
        },
      },
    },
    async (request, reply) => {
      const html = await getPrintForm(requestContext(platform, request), request.params.id, request.params, request.query.templateId);
      return reply.type('text/html; charset=utf-8').headers(PRINT_FORM_HEADERS).send(html);
    },
  );
};

/** The form carries personal data and is made anew on every call; its page loads nothing and runs no script. */
const PRINT_FORM_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
};

function sendPage(request: FastifyRequest, reply: FastifyReply, page: SearchPage) {
  return sendData(request, reply, page.documents, { paging: page.paging });
}
