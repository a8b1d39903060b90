/**
 * GET /postman.json: a Postman collection (v2.1) made from the served OpenAPI document, one request per
 * operation, grouped by tag, with the variables the start banner prints: {{BASE_URL}}, {{TOKEN}},
 * {{API_KEY}}, {{ADMIN_KEY}}.
 *
 * A small generator rather than openapi-to-postmanv2: that converter names its own variables
 * ({{baseUrl}}, {{bearerToken}}, one per security scheme) and would need a rewrite pass to speak the
 * banner's names; it is also a large dependency for a server to carry. What a request needs here is
 * small: method, path with :params, query parameters, the auth headers of its security scheme and the
 * example body.
 */

type Json = Record<string, any>;

export const POSTMAN_SCHEMA = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** The example a request body or response declares: `example`, else the first of `examples`. */
function exampleOf(media: Json | undefined): unknown {
  if (!media) return undefined;
  if (media.example !== undefined) return media.example;
  const first = media.examples && Object.values(media.examples as Record<string, Json>)[0];
  return first?.value;
}

function headersFor(op: Json): { key: string; value: string }[] {
  const schemes = (op.security ?? []).flatMap((s: Json) => Object.keys(s));
  const headers: { key: string; value: string }[] = [];
  if (schemes.includes('bearer')) headers.push({ key: 'Authorization', value: 'Bearer {{TOKEN}}' });
  if (schemes.includes('apiKey')) headers.push({ key: 'api-key', value: '{{API_KEY}}' });
  if (schemes.includes('adminKey')) headers.push({ key: 'x-admin-key', value: '{{ADMIN_KEY}}' });
  return headers;
}

function requestItem(path: string, method: string, op: Json): Json {
  const params = (op.parameters ?? []) as Json[];
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/^\{(\w+)\}$/, ':$1'));
  const url: Json = {
    raw: `{{BASE_URL}}/${segments.join('/')}`,
    host: ['{{BASE_URL}}'],
    path: segments,
  };
  const query = params.filter((p) => p.in === 'query');
  if (query.length) {
    url.query = query.map((p) => ({
      key: p.name,
      value: p.schema?.default !== undefined ? String(p.schema.default) : '',
      description: p.description ?? p.schema?.description,
      disabled: !p.required,
    }));
  }
  const vars = params.filter((p) => p.in === 'path');
  if (vars.length) url.variable = vars.map((p) => ({ key: p.name, value: '', description: p.description ?? p.schema?.description }));

  const request: Json = { method: method.toUpperCase(), header: headersFor(op), url };
  if (op.description) request.description = op.description;
  const json = op.requestBody?.content?.['application/json'];
  if (json) {
    request.header.push({ key: 'Content-Type', value: 'application/json' });
    const example = exampleOf(json);
    request.body = { mode: 'raw', raw: JSON.stringify(example ?? {}, null, 2), options: { raw: { language: 'json' } } };
  }
  return { name: op.summary ?? op.operationId, request, response: [] };
}

/** The collection for `doc` (an OpenAPI 3.0 document as /openapi.json serves it). */
export function postmanCollection(doc: Json): Json {
  const folders = new Map<string, Json[]>();
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'other';
      if (!folders.has(tag)) folders.set(tag, []);
      folders.get(tag)!.push({ ...requestItem(path, method, op), ...(op.operationId ? { id: op.operationId } : {}) });
    }
  }
  return {
    info: {
      name: doc.info?.title ?? 'esoz-core',
      description: `${doc.info?.description ?? ''}\n\nSet BASE_URL, TOKEN, API_KEY and ADMIN_KEY to what \`npm start\` prints.`.trim(),
      schema: POSTMAN_SCHEMA,
    },
    item: [...folders].map(([name, item]) => ({ name, item })),
    variable: [
      { key: 'BASE_URL', value: 'http://localhost:4000' },
      { key: 'TOKEN', value: '' },
      { key: 'API_KEY', value: '' },
      { key: 'ADMIN_KEY', value: '' },
    ],
  };
}
