/**
 * Request and response schemas of the Prepersons API (the blueprint's `Preperson_base` and
 * `Preperson_response`), and the texts its checks answer with.
 */
import { Type, type Static } from 'typebox';
import { dataEnvelope, errorEnvelope } from '../platform/http/envelope.ts';

/** What an update may change (the published list), in the order the response shows them. */
export const UPDATABLE_FIELDS = [
  'first_name',
  'last_name',
  'second_name',
  'gender',
  'external_id',
  'birth_date',
  'emergency_contact',
  'death_date',
] as const;
/** Fields an update must not carry: the note is written once, the status follows death_date. */
export const FORBIDDEN_UPDATE_FIELDS = ['note', 'status'] as const;

/** Exact texts of the published checks; `notFound` is ours (the pages give the status only). */
export const MESSAGES = {
  notFound: 'Preperson not found',
  notActive: 'Preperson is not active',
  externalIdEmpty: 'external_id should not be empty',
  birthDateInFuture: "Birth date can't be in the future",
  deathDateInFuture: 'Death date can not be in future',
  deathBeforeBirth: 'Death date should equal or greater than birth_date',
  // the two "Schema validation failed" checks: the sources give no description, these are ours
  noAllowedField: `at least one of the fields ${UPDATABLE_FIELDS.join(', ')} must be submitted`,
  forbiddenField: 'schema does not allow additional properties',
  notInDictionary: 'value is not allowed in enum',
} as const;

const Name = (description: string) => Type.String({ minLength: 1, maxLength: 255, description, example: 'Петро' });
const DateOnly = (description: string) => Type.String({ format: 'date', description, example: '1980-01-01' });

const Phone = Type.Object(
  {
    type: Type.String({ maxLength: 50, description: 'Dictionary PHONE_TYPE', example: 'MOBILE' }),
    number: Type.String({ pattern: '^\\+38[0-9]{10}$', description: "Phone number in the format '+38…'", example: '+380503410870' }),
  },
  { additionalProperties: false },
);

export const EmergencyContact = Type.Object(
  {
    first_name: Name('First name'),
    last_name: Name('Last name'),
    second_name: Type.Optional(Name('Second name')),
    phones: Type.Array(Phone, { minItems: 1, maxItems: 10, description: 'At least one phone' }),
  },
  { additionalProperties: false, title: 'EmergencyContact', description: 'Emergency_Contact: whom to call about the patient' },
);

const ExternalId = Type.String({
  maxLength: 1000,
  description: "Identifier of the unidentified patient in the MIS; must not be empty (422 'external_id should not be empty')",
  example: '#1234-FDS-aa',
});
const Gender = Type.String({ maxLength: 50, description: 'Dictionary GENDER (an active value)', example: 'MALE' });
const Note = Type.String({
  maxLength: 2000,
  description: 'Free text that helps recognise the patient; given at creation only',
  example: 'Чоловік близько 40 років, татуювання мотоцикла на правому передпліччі',
});

/** POST body: `Preperson_base` plus `note`. */
export const CreatePrepersonBody = Type.Object(
  {
    external_id: ExternalId,
    first_name: Type.Optional(Name('First name, when known')),
    last_name: Type.Optional(Name('Last name, when known')),
    second_name: Type.Optional(Name('Second name, when known')),
    gender: Gender,
    birth_date: Type.Optional(DateOnly('Birth date, when known; not after today (422 "Birth date can\'t be in the future")')),
    emergency_contact: Type.Optional(EmergencyContact),
    note: Type.Optional(Note),
  },
  { additionalProperties: false, title: 'CreatePrepersonBody' },
);
export type CreatePrepersonBody = Static<typeof CreatePrepersonBody>;

/**
 * PATCH body: every field optional. `note` and `status` are accepted by the schema only so that the
 * method can refuse them at their documented place (after the 404 and the status check).
 */
export const UpdatePrepersonBody = Type.Object(
  {
    external_id: Type.Optional(ExternalId),
    first_name: Type.Optional(Name('First name')),
    last_name: Type.Optional(Name('Last name')),
    second_name: Type.Optional(Name('Second name')),
    gender: Type.Optional(Gender),
    birth_date: Type.Optional(DateOnly('Birth date; not after today (422 "Birth date can\'t be in the future")')),
    emergency_contact: Type.Optional(EmergencyContact),
    death_date: Type.Optional(DateOnly('Date of death: not after today and not before the birth date; makes the preperson INACTIVE')),
    note: Type.Optional(Type.String({ maxLength: 2000, description: 'Not allowed in an update: 422 (schema validation failed)' })),
    status: Type.Optional(Type.String({ maxLength: 50, description: 'Not allowed in an update: 422 (schema validation failed)' })),
  },
  { additionalProperties: false, title: 'UpdatePrepersonBody' },
);
export type UpdatePrepersonBody = Static<typeof UpdatePrepersonBody>;

export const PrepersonParams = Type.Object({ id: Type.String({ maxLength: 100, description: 'MPI identifier of the preperson' }) });

const DateTime = (description: string) =>
  Type.String({ description: `${description}, ISO 8601 in UTC`, example: '2017-04-20T19:14:13.000Z' });

/** `Preperson_response`; a field without a value is left out. */
export const PrepersonResponse = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'MPI identifier of the preperson' }),
    external_id: Type.Optional(Type.String({ description: 'Identifier from the MIS (always set by the API; a fixture row may lack it)' })),
    first_name: Type.Optional(Type.String()),
    last_name: Type.Optional(Type.String()),
    second_name: Type.Optional(Type.String()),
    gender: Type.Optional(Type.String({ description: 'Dictionary GENDER (always set by the API; a fixture row may lack it)' })),
    birth_date: Type.Optional(Type.String({ format: 'date' })),
    emergency_contact: Type.Optional(EmergencyContact),
    note: Type.Optional(Type.String()),
    status: Type.Union([Type.Literal('ACTIVE'), Type.Literal('INACTIVE')], { description: 'INACTIVE once a death_date is set' }),
    death_date: Type.Optional(Type.String({ format: 'date' })),
    inserted_at: DateTime('Created'),
    inserted_by: Type.Optional(Type.String({ description: 'The user (else the MIS client) of the token that created it' })),
    updated_at: DateTime('Last changed'),
    updated_by: Type.Optional(Type.String({ description: 'The user (else the MIS client) of the token that changed it last' })),
  },
  { additionalProperties: false, title: 'Preperson', description: 'Preperson_response' },
);

export const prepersonResponses = {
  create: {
    201: dataEnvelope(PrepersonResponse, 'The preperson created'),
    '4xx': errorEnvelope(
      '401 access_denied, 403 forbidden (scope), 422 validation_failed: schema, external_id empty, gender not in GENDER, birth date in the future',
    ),
  },
  read: {
    200: dataEnvelope(PrepersonResponse, 'The preperson'),
    '4xx': errorEnvelope('404 Preperson not found, 401, 403 (scope)'),
  },
  update: {
    200: dataEnvelope(PrepersonResponse, 'The preperson as changed'),
    '4xx': errorEnvelope(
      '404 Preperson not found; 422 Preperson is not active; 422 validation_failed: no updatable field, note/status given, ' +
        'external_id empty, gender not in GENDER, birth or death date in the future, death date before the birth date; 401, 403',
    ),
  },
};
