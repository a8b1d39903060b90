/** Request and response schemas (TypeBox → Ajv, unknown fields rejected). */
import { Type, type Static } from 'typebox';

const strict = { additionalProperties: false } as const;

/** Bodies: a composition is a few kilobytes; sign and cancel carry a base64 CMS of up to 4 MB (SignBody). */
export const CREATE_BODY_LIMIT = 256 * 1024;
export const CMS_BODY_LIMIT = 5 * 1024 * 1024;
/** searchComposition's page size: the published spec gives no maximum; see docs/decisions.md. */
export const SEARCH_MAX_LIMIT = 1000;
/** The largest `offset` (PostgreSQL's integer): a larger one is a 422, never an out-of-range 500. */
export const SEARCH_MAX_OFFSET = 2_147_483_647;

export const Coding = Type.Object(
  { system: Type.String({ minLength: 1, maxLength: 255 }), code: Type.String({ minLength: 1, maxLength: 255 }) },
  strict,
);
export const CodeableConcept = Type.Object(
  { coding: Type.Array(Coding, { minItems: 1, maxItems: 1 }), text: Type.Optional(Type.String({ maxLength: 2000 })) },
  strict,
);
export const Reference = Type.Object({ type: CodeableConcept, value: Type.String({ format: 'uuid' }) }, strict);

export const Period = Type.Object(
  { start: Type.String({ format: 'date-time' }), end: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])) },
  strict,
);
export const Event = Type.Object({ code: CodeableConcept, period: Period }, strict);

export const Extension = Type.Object(
  {
    valueCode: Type.String({ minLength: 1, maxLength: 255 }),
    valueUuid: Type.Optional(Type.String({ format: 'uuid' })),
    valueBoolean: Type.Optional(Type.Boolean()),
    valueString: Type.Optional(Type.String({ maxLength: 2000 })),
    valueDate: Type.Optional(Type.String({ format: 'date' })),
  },
  strict,
);

/** relatesTo.code: the published texts write REPLACES, MIS send replaces; both spellings are taken (chains.ts). */
export const RelatesTo = Type.Object(
  {
    code: Type.Union([Type.Literal('replaces'), Type.Literal('REPLACES'), Type.Literal('appends'), Type.Literal('APPENDS')]),
    targetIdentifier: Reference,
  },
  strict,
);

export const CreateCompositionBody = Type.Object(
  {
    type: CodeableConcept,
    category: CodeableConcept,
    event: Type.Array(Event, { minItems: 1, maxItems: 10 }),
    subject: Reference,
    encounter: Reference,
    author: Reference,
    section: Type.Object({ focus: Reference }, strict),
    extension: Type.Optional(Type.Array(Extension, { maxItems: 20 })),
    relatesTo: Type.Optional(RelatesTo),
  },
  strict,
);
export type CreateCompositionBody = Static<typeof CreateCompositionBody>;
export type ReferenceT = Static<typeof Reference>;

export const SignBody = Type.Object({ data: Type.String({ minLength: 1, maxLength: 4 * 1024 * 1024 }) }, strict);
export type SignBody = Static<typeof SignBody>;

export const JobLink = Type.Object(
  { entity: Type.String({ description: '`job`, or `composition` when DONE' }), href: Type.String() },
  { additionalProperties: false },
);
export const JobState = Type.Object(
  {
    eta: Type.String({ format: 'date-time', description: 'When the job is expected to finish (PENDING) or finished' }),
    id: Type.String({ format: 'uuid' }),
    links: Type.Array(JobLink),
    status: Type.Union([Type.Literal('PENDING'), Type.Literal('FAILED'), Type.Literal('DONE')]),
    error: Type.Optional(
      Type.Object(
        {
          code: Type.Union([Type.Integer(), Type.Null()], { description: 'The task code; null for a rule published without its number' }),
          type: Type.String(),
          message: Type.String(),
        },
        { additionalProperties: false, description: 'Why a FAILED job failed' },
      ),
    ),
  },
  { additionalProperties: false, description: 'compositionAsyncJobStateResponse' },
);
export type JobState = Static<typeof JobState>;

export const SearchQuery = Type.Object(
  {
    subject: Type.Optional(Type.String({ format: 'uuid' })),
    focus: Type.Optional(Type.String({ format: 'uuid' })),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    status: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    encounter: Type.Optional(Type.String({ format: 'uuid' })),
    episodeOfCare: Type.Optional(Type.String({ format: 'uuid' })),
    relatesTo: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'Ours: the compositions whose relatesTo names this one (its chain links: RC_5, RC_6, RC_7)',
      }),
    ),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: SEARCH_MAX_OFFSET, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: SEARCH_MAX_LIMIT, default: 50 })),
  },
  strict,
);
export type SearchQuery = Static<typeof SearchQuery>;

/** A composition as stored: the created document, with the signer's changes once signed or cancelled. */
export const CompositionDocument = Type.Object(
  {
    identifier: Type.Object({ value: Type.String({ format: 'uuid' }) }, { additionalProperties: true }),
    status: Type.String({ description: 'PRELIMINARY | FINAL | ENTERED_IN_ERROR | AMENDED' }),
    title: Type.Optional(Type.String({ description: 'compositionTitle: the human-readable number' })),
  },
  {
    additionalProperties: true,
    description:
      'Composition: identifier, status, type, category, title, date, event, subject, encounter, episodeOfCare, author, custodian, section, extension, relatesTo, …',
  },
);

/** One processing task of a composition in another register (getIntegrationData): ERLN for an МВТН. */
export const IntegrationItem = Type.Object(
  {
    component: Type.String({ description: 'COMPOSITION_PROCESSING_SYSTEMS: ERLN' }),
    type: Type.String({ description: 'COMPOSITION_PROCESSING_TASKS: CREATE_ERLN_RECORD | CANCEL_ERLN_RECORD' }),
    integrationStatus: Type.Union([Type.Literal('SUCCESS'), Type.Literal('ERROR'), Type.Null()], {
      description: 'COMPOSITION_PROCESSING_STATUS: SUCCESS or ERROR once the task ended; null while PENDING',
    }),
    taskStatus: Type.Union([Type.Literal('PENDING'), Type.Literal('DONE'), Type.Literal('FAILED')]),
    statusCode: Type.Union([Type.Integer(), Type.Null()], { description: "ERLN's RESULT code (ERLN_RESULT_CODES)" }),
    statusMessage: Type.Union([Type.String(), Type.Null()]),
    details: Type.Object({ SL_NUM: Type.Optional(Type.String({ description: 'The sick-leave certificate number ERLN gave' })) }, strict),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  strict,
);

/** The print form's query (getPrintForm): the template of the form, `EMAL_PRINT_FORM_ALLOWED_TEMPLATE_IDS_BY_CATEGORY`. */
export const PrintFormQuery = Type.Object(
  {
    templateId: Type.Integer({
      minimum: 1,
      maximum: 2_147_483_647,
      description: 'The print template: 1001 for TEMP_DISABILITY (МВТН), 1000 for NEWBORN (МВН)',
    }),
  },
  strict,
);
export type PrintFormQuery = Static<typeof PrintFormQuery>;
