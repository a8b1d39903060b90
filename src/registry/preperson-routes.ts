/**
 * HTTP routes of the Prepersons API (MPI), registered under `/api`: thin handlers that pass the
 * request context to the method modules and send what they answer.
 */
import type { RoutesPlugin } from '../platform/platform.ts';
import { requestContext } from '../platform/context.ts';
import { sendData } from '../platform/http/envelope.ts';
import { CreatePrepersonBody, PrepersonParams, UpdatePrepersonBody, prepersonResponses } from './preperson-schemas.ts';
import { createPreperson } from './preperson-create.ts';
import { getPreperson } from './preperson-read.ts';
import { updatePrepersonById } from './preperson-update.ts';

/** The scopes of the Prepersons API (docs/prepersons.md: why `preperson:write` for create and update). */
export const PREPERSON_SCOPES = { read: 'preperson:read', write: 'preperson:write' } as const;

export const prepersonRoutes: RoutesPlugin = async (app, { platform }) => {
  app.post(
    '/prepersons',
    {
      config: { scopes: [PREPERSON_SCOPES.write] },
      schema: {
        tags: ['MPI'],
        operationId: 'createPreperson',
        summary: 'Create preperson',
        description:
          'An unidentified patient, known to the MIS by its external_id; no digital signature. ' +
          'Checks in order: external_id not empty, birth_date not in the future, gender (GENDER), emergency phone types (PHONE_TYPE).',
        body: CreatePrepersonBody,
        response: prepersonResponses.create,
      },
    },
    async (request, reply) =>
      sendData(request, reply, await createPreperson(requestContext(platform, request), request.body), { status: 201 }),
  );
  app.get(
    '/prepersons/:id',
    {
      config: { scopes: [PREPERSON_SCOPES.read] },
      schema: {
        tags: ['MPI'],
        operationId: 'getPreperson',
        summary: 'Get preperson by ID',
        description: 'The preperson by its MPI identifier (ACTIVE or INACTIVE).',
        params: PrepersonParams,
        response: prepersonResponses.read,
      },
    },
    async (request, reply) => sendData(request, reply, await getPreperson(requestContext(platform, request), request.params.id)),
  );
  app.patch(
    '/prepersons/:id',
    {
      config: { scopes: [PREPERSON_SCOPES.write] },
      schema: {
        tags: ['MPI'],
        operationId: 'updatePreperson',
        summary: 'Update preperson',
        description:
          'Changes any field but note and status. Checks in order: exists (404), ACTIVE (422 Preperson is not active), ' +
          'at least one updatable field, no note/status, external_id not empty, birth_date and death_date not in the future, ' +
          'death_date not before birth_date, gender (GENDER), emergency phone types (PHONE_TYPE). A death_date makes the preperson INACTIVE.',
        params: PrepersonParams,
        body: UpdatePrepersonBody,
        response: prepersonResponses.update,
      },
    },
    async (request, reply) =>
      sendData(request, reply, await updatePrepersonById(requestContext(platform, request), request.params.id, request.body)),
  );
};
