/**
 * Sandbox admin API (x-admin-key): fixtures, MIS clients and tokens, the SMS outbox.
 * Not part of ESOZ: it stands in for the registries and the gateway an MIS cannot reach in a sandbox.
 */
import { Type } from 'typebox';
import type { RoutesPlugin } from '../platform/platform.ts';
import { sendData } from '../platform/http/envelope.ts';
import { invalidField, validationFailed } from '../platform/errors.ts';
import { ALL_SCOPES } from '../platform/scopes.ts';
import { applyFixtures, fixtureKinds, fixturesBodySchema } from './fixtures.ts';

const Uuid = Type.String({ format: 'uuid' });

const ClientBody = Type.Object(
  {
    id: Type.Optional(Uuid),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    legal_entity_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    secret: Type.Optional(Type.String({ minLength: 8, maxLength: 255 })),
  },
  { additionalProperties: false },
);

const TokenBody = Type.Object(
  {
    client_id: Uuid,
    user_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    employee_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    scopes: Type.Array(Type.String({ minLength: 1 })),
    // a negative value issues an already expired token (to test the 401 of an MIS)
    expires_in: Type.Optional(Type.Integer({ minimum: -86400, maximum: 10 * 365 * 86400 })),
  },
  { additionalProperties: false },
);

const SmsQuery = Type.Object(
  {
    phone_number: Type.Optional(Type.String({ maxLength: 32 })),
    entity_id: Type.Optional(Type.String({ maxLength: 64 })),
    entity_name: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(Type.String({ maxLength: 32 })),
    // (page - 1) × page_size stays far inside PostgreSQL's bigint OFFSET
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
    page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  },
  { additionalProperties: false },
);

/** The sandbox admin API (x-admin-key), registered under `/admin`. */
export const adminRoutes: RoutesPlugin = async (app, { platform }) => {
  const { db, auth } = platform;

  app.post(
    '/fixtures',
    {
      config: { admin: true },
      schema: {
        tags: ['sandbox admin'],
        summary: 'Upsert registry and capability rows (one transaction)',
        body: fixturesBodySchema(fixtureKinds(platform)),
      },
      // no body at all is an empty set of fixtures
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => sendData(request, reply, await applyFixtures(platform, request.body)),
  );

  app.post(
    '/clients',
    { config: { admin: true }, schema: { tags: ['sandbox admin'], summary: 'Create (or replace) an MIS client', body: ClientBody } },
    async (request, reply) => {
      const { body } = request;
      if (body.legal_entity_id) {
        const le = await db.query('SELECT 1 FROM legal_entities WHERE id = $1', [body.legal_entity_id]);
        if (!le.rowCount) throw validationFailed([invalidField('$.legal_entity_id', 'Legal entity not found')]);
      }
      const existed = body.id ? (await db.query('SELECT 1 FROM mis_clients WHERE id = $1', [body.id])).rowCount > 0 : false;
      const client = await auth.createClient({
        id: body.id,
        name: body.name,
        legalEntityId: body.legal_entity_id ?? null,
        secret: body.secret,
      });
      return sendData(
        request,
        reply,
        { id: client.id, name: body.name, legal_entity_id: body.legal_entity_id ?? null, secret: client.secret },
        {
          status: existed ? 200 : 201,
        },
      );
    },
  );

  app.post(
    '/tokens',
    { config: { admin: true }, schema: { tags: ['sandbox admin'], summary: 'Issue an access token for a client', body: TokenBody } },
    async (request, reply) => {
      const { body } = request;
      // a token for a scope no route checks would only ever answer 403: refuse it at issue time
      const unknown = body.scopes.flatMap((s, i) => ((ALL_SCOPES as readonly string[]).includes(s) ? [] : [i]));
      if (unknown.length) {
        throw validationFailed(
          unknown.map((i) => invalidField(`$.scopes[${i}]`, `unknown scope ${body.scopes[i]}`, 'inclusion', [...ALL_SCOPES])),
        );
      }
      if (body.employee_id) {
        const e = await db.query('SELECT 1 FROM employees WHERE id = $1', [body.employee_id]);
        if (!e.rowCount) throw validationFailed([invalidField('$.employee_id', 'Employee not found')]);
      }
      const token = await auth.issueToken({
        clientId: body.client_id,
        userId: body.user_id ?? null,
        employeeId: body.employee_id ?? null,
        scopes: [...new Set(body.scopes)],
        expiresIn: body.expires_in,
      });
      return sendData(request, reply, token, { status: 201 });
    },
  );

  app.get(
    '/sms',
    { config: { admin: true }, schema: { tags: ['sandbox admin'], summary: 'SMS outbox, newest first', querystring: SmsQuery } },
    async (request, reply) => {
      const q = request.query;
      const page = q.page ?? 1;
      const pageSize = q.page_size ?? 50;
      const where: string[] = [];
      const params: unknown[] = [];
      for (const f of ['phone_number', 'entity_id', 'entity_name', 'status'] as const) {
        if (q[f] !== undefined) {
          params.push(q[f]);
          where.push(`${f} = $${params.length}`);
        }
      }
      const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sms_outbox ${whereSql}`, params)).rows[0].n;
      const rows = (
        await db.query(
          `SELECT id, phone_number, body, status, entity_name, entity_id, tries, inserted_at, sent_at
             FROM sms_outbox ${whereSql}
            ORDER BY inserted_at DESC, id DESC
            LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, pageSize, (page - 1) * pageSize],
        )
      ).rows;
      return sendData(request, reply, rows, {
        paging: { page_number: page, page_size: pageSize, total_entries: total, total_pages: Math.max(1, Math.ceil(total / pageSize)) },
      });
    },
  );
};
