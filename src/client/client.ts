/**
 * A typed client of esoz-core for an MIS written in TypeScript: openapi-fetch over the types generated
 * from the OpenAPI document (openapi.ts). Every path, parameter, body and answer is typed; an ESOZ error
 * comes back as `error` (the envelope `{meta, error}`), not as an exception.
 *
 *   const esoz = createEsozClient({ baseUrl: 'http://localhost:4000', token, apiKey });
 *   const { data, error, response } = await esoz.POST('/api/patients/composition', { body });
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { paths, components } from './openapi.ts';

export type { paths, components, operations } from './openapi.ts';
export type JobState = components['schemas']['JobState'];
export type CompositionDocument = components['schemas']['CompositionDocument'];
export type CreateCompositionBody = components['schemas']['CreateCompositionBody'];

export interface EsozClientOptions {
  /** Where esoz-core answers, without /api (what `npm start` prints as BASE_URL). */
  baseUrl: string;
  /** The MIS access token (Authorization: Bearer). */
  token?: string;
  /** The MIS api-key. */
  apiKey?: string;
  /** The sandbox admin key, for the /admin routes (x-admin-key). */
  adminKey?: string;
  /** Another fetch (tests, proxies); openapi-fetch's own options otherwise. */
  fetch?: ClientOptions['fetch'];
}

export type EsozClient = Client<paths>;

export function createEsozClient(options: EsozClientOptions): EsozClient {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.apiKey) headers['api-key'] = options.apiKey;
  if (options.adminKey) headers['x-admin-key'] = options.adminKey;
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/$/, ''),
    headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
