/**
 * MPI: GET /api/persons/{id}/authentication_methods — a person's active authentication methods with
 * their ids (what a composition's INFORM_WITH extension names), in the blueprint's `Person_auth_methods`
 * shape. A THIRD_PERSON method carries its `confidant_person` block masked as ESOZ masks personal
 * data: the name as last name and initials, a phone as its first six and last two characters around
 * `*****` (`+38093*****85`), every other identifier (tax id, UNZR, document numbers) with all but its
 * last two characters hidden. The person's own OTP phone is masked the same way.
 */
import { Type } from 'typebox';
import type { RoutesPlugin } from '../platform/platform.ts';
import type { Db } from '../platform/db.ts';
import { jsonValue } from '../platform/json.ts';
import { dataEnvelope, errorEnvelope, sendData } from '../platform/http/envelope.ts';
import { notFound } from '../platform/errors.ts';
import { UUID_RE } from '../platform/uuid.ts';

type Json = Record<string, unknown>;

export const PERSON_NOT_FOUND = 'Person not found';

/** `+380931234585` → `+38093*****85`. */
export function maskPhone(phone: string): string {
  return phone.length > 8 ? `${phone.slice(0, 6)}*****${phone.slice(-2)}` : maskIdentifier(phone);
}

/** Every character but the last two hidden: `3300012345` → `********45`. */
export function maskIdentifier(value: string): string {
  const chars = [...value];
  return chars.length <= 2 ? '*'.repeat(chars.length) : '*'.repeat(chars.length - 2) + chars.slice(-2).join('');
}

const initials = (name: string | null | undefined) =>
  (name ?? '')
    .split(/[\s-]+/)
    .filter(Boolean)
    .map((part) => `${[...part][0].toUpperCase()}.`)
    .join('-');

/** Last name and initials as the blueprint's confidant block shows it: `Петров А.А.`, `Іваненко А.-М.П.`. */
export function maskedName(p: { first_name: string; last_name: string; second_name: string | null }): string {
  const i = initials(p.first_name) + initials(p.second_name);
  return i ? `${p.last_name} ${i}` : p.last_name;
}

const Id = Type.String({ format: 'uuid' });
const DateTime = (description: string) => Type.String({ description: `${description}, ISO 8601 in UTC` });

const ConfidantPerson = Type.Object(
  {
    id: Id,
    name: Type.String({ description: 'Last name and initials', example: 'Петров А.А.' }),
    gender: Type.Optional(Type.String({ description: 'MALE | FEMALE' })),
    tax_id: Type.Optional(Type.String({ description: 'Masked: all but the last two characters', example: '********50' })),
    no_tax_id: Type.Boolean(),
    unzr: Type.Optional(Type.String({ description: 'Masked: all but the last two characters' })),
    documents_person: Type.Array(
      Type.Object(
        {
          type: Type.String({ description: 'Dictionary DOCUMENT_TYPE' }),
          number: Type.String({ description: 'Masked: all but the last two characters', example: '******18' }),
        },
        { additionalProperties: false },
      ),
    ),
    phones: Type.Array(
      Type.Object(
        {
          type: Type.String({ description: 'Dictionary PHONE_TYPE' }),
          number: Type.String({ description: 'Masked', example: '+38093*****85' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'The third person of a THIRD_PERSON method, masked' },
);

export const PersonAuthMethod = Type.Object(
  {
    id: Id,
    type: Type.String({ description: 'OTP | OFFLINE | THIRD_PERSON | NA' }),
    phone_number: Type.Optional(Type.String({ description: 'OTP: the phone, masked', example: '+38093*****85' })),
    value: Type.Optional(Type.String({ description: 'THIRD_PERSON: MPI id of the third person' })),
    alias: Type.Optional(Type.String({ example: 'husband' })),
    ended_at: Type.Optional(DateTime('When the method ends')),
    started_at: DateTime('When the method started'),
    is_active: Type.Boolean(),
    person_id: Id,
    confidant_person: Type.Optional(ConfidantPerson),
    inserted_at: DateTime('Inserted'),
    updated_at: DateTime('Updated'),
    inserted_by: Type.Optional(Type.String()),
    updated_by: Type.Optional(Type.String()),
  },
  { additionalProperties: false, description: 'Person_auth_methods' },
);

export const personAuthMethodsResponses = {
  200: dataEnvelope(Type.Array(PersonAuthMethod), "The person's active authentication methods, oldest first"),
  401: errorEnvelope('Invalid access token (access_denied)'),
  403: errorEnvelope('Your scope does not allow to access this resource (forbidden)'),
  404: errorEnvelope('Person not found: unknown id, or the person is not active (not_found)'),
};

interface MethodRow {
  person_found: boolean;
  id: string | null;
  type: string;
  phone_number: string | null;
  value: string | null;
  alias: string | null;
  ended_at: Date | string | null;
  started_at: Date | string | null;
  is_active: boolean;
  inserted_at: Date | string;
  updated_at: Date | string;
  inserted_by: string | null;
  updated_by: string | null;
  c_id: string | null;
  c_first_name: string;
  c_last_name: string;
  c_second_name: string | null;
  c_gender: string | null;
  c_tax_id: string | null;
  c_no_tax_id: boolean;
  c_unzr: string | null;
  c_documents: Json[] | string | null;
  c_phones: Json[] | string | null;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());
const jsonArray = (v: Json[] | string | null): Json[] => {
  const a = jsonValue(v);
  return Array.isArray(a) ? a : [];
};

/** The active methods of an active person (oldest first), or undefined for an unknown or inactive person. */
export async function personAuthMethods(db: Db, personId: string): Promise<Json[] | undefined> {
  if (!UUID_RE.test(personId)) return undefined;
  const { rows } = await db.query<MethodRow>(
    `SELECT true AS person_found, m.id, m.type, m.phone_number, m.value, m.alias, m.ended_at,
            COALESCE(m.started_at, m.inserted_at) AS started_at, m.is_active, m.inserted_at, m.updated_at, m.inserted_by, m.updated_by,
            c.id AS c_id, c.first_name AS c_first_name, c.last_name AS c_last_name, c.second_name AS c_second_name,
            c.gender AS c_gender, c.tax_id AS c_tax_id, c.no_tax_id AS c_no_tax_id, c.unzr AS c_unzr,
            c.documents AS c_documents, c.phones AS c_phones
       FROM persons p
       LEFT JOIN person_authentication_methods m
              ON m.person_id = p.id AND m.is_active AND (m.ended_at IS NULL OR m.ended_at > now())
       LEFT JOIN persons c ON m.type = 'THIRD_PERSON' AND c.id = m.value
      WHERE p.id = $1 AND p.is_active AND lower(p.status) = 'active'
      ORDER BY m.inserted_at, m.id`,
    [personId],
  );
  if (!rows.length) return undefined;
  return rows
    .filter((r) => r.id !== null)
    .map((r) => {
      const item: Json = {
        id: r.id,
        type: r.type,
        phone_number: r.phone_number === null ? null : maskPhone(r.phone_number),
        value: r.value,
        alias: r.alias,
        ended_at: iso(r.ended_at),
        started_at: iso(r.started_at),
        is_active: r.is_active,
        person_id: personId.toLowerCase(),
        confidant_person:
          r.c_id === null
            ? null
            : {
                id: r.c_id,
                name: maskedName({ first_name: r.c_first_name, last_name: r.c_last_name, second_name: r.c_second_name }),
                gender: r.c_gender,
                tax_id: r.c_tax_id === null ? null : maskIdentifier(r.c_tax_id),
                no_tax_id: r.c_no_tax_id,
                unzr: r.c_unzr === null ? null : maskIdentifier(r.c_unzr),
                documents_person: jsonArray(r.c_documents).map((d) => ({ type: String(d.type), number: maskIdentifier(String(d.number)) })),
                phones: jsonArray(r.c_phones).map((ph) => ({ type: String(ph.type), number: maskPhone(String(ph.number)) })),
              },
        inserted_at: iso(r.inserted_at),
        updated_at: iso(r.updated_at),
        inserted_by: r.inserted_by,
        updated_by: r.updated_by,
      };
      const c = item.confidant_person as Json | null;
      if (c) for (const k of Object.keys(c)) if (c[k] === null) delete c[k];
      for (const k of Object.keys(item)) if (item[k] === null) delete item[k];
      return item;
    });
}

/** GET /persons/{id}/authentication_methods (MPI), registered under `/api`. */
export const personRoutes: RoutesPlugin = async (app, { platform }) => {
  app.get(
    '/persons/:id/authentication_methods',
    {
      config: { scopes: ['person:read'] },
      schema: {
        tags: ['MPI'],
        operationId: 'getPersonAuthenticationMethods',
        summary: "Get a person's authentication methods",
        description:
          "The person's active authentication methods with their ids (the id a composition's INFORM_WITH extension names). " +
          'A THIRD_PERSON method shows its confidant_person masked. 404 for an unknown or inactive person.',
        params: Type.Object({ id: Type.String({ description: 'MPI person id' }) }),
        response: personAuthMethodsResponses,
      },
    },
    async (request, reply) => {
      const methods = await personAuthMethods(platform.db, request.params.id);
      if (!methods) throw notFound(PERSON_NOT_FOUND);
      return sendData(request, reply, methods);
    },
  );
};
