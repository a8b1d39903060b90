/** Request and response schemas (TypeBox → Ajv, unknown fields rejected). */
import { Type, type Static } from 'typebox';
import { TASK_ERRORS, type TaskErrorType } from './model.ts';

const strict = { additionalProperties: false } as const;

/** Bodies: a composition is a few kilobytes; sign and cancel carry a base64 CMS of up to 4 MB (SignBody). */
export const CREATE_BODY_LIMIT = 256 * 1024;
export const CMS_BODY_LIMIT = 5 * 1024 * 1024;
/** searchComposition's page size: the published spec gives no maximum; see docs/decisions.md. */
export const SEARCH_MAX_LIMIT = 1000;
/** The largest `offset` (PostgreSQL's integer): a larger one is a 422, never an out-of-range 500. */
export const SEARCH_MAX_OFFSET = 2_147_483_647;

/** The README's create body, with the sandbox demo patient, encounter and doctor (OpenAPI example). */
const coded = (system: string, code: string) => ({ coding: [{ system, code }] });
const demoRef = (code: string, value: string) => ({ type: coded('eHealth/resources', code), value });
const CREATE_EXAMPLE = {
  type: coded('COMPOSITION_TYPES', 'TEMP_DISABILITY'),
  category: coded('COMPOSITION_CATEGORIES', 'SICKNESS'),
  event: [
    {
      code: coded('COMPOSITION_EVENTS', 'COMPOSITION_VALIDITY_PERIOD'),
      period: { start: '2026-09-01T00:00:01Z', end: '2026-09-05T20:59:59Z' },
    },
  ],
  subject: demoRef('person', '6f1d0c2a-0000-4000-8000-000000000030'),
  encounter: demoRef('encounter', '6f1d0c2a-0000-4000-8000-000000000055'),
  author: demoRef('employee', '6f1d0c2a-0000-4000-8000-000000000020'),
  section: { focus: demoRef('person', '6f1d0c2a-0000-4000-8000-000000000030') },
};

export const Coding = Type.Object(
  { system: Type.String({ minLength: 1, maxLength: 255 }), code: Type.String({ minLength: 1, maxLength: 255 }) },
  { ...strict, title: 'Coding' },
);
export const CodeableConcept = Type.Object(
  { coding: Type.Array(Coding, { minItems: 1, maxItems: 1 }), text: Type.Optional(Type.String({ maxLength: 2000 })) },
  { ...strict, title: 'CodeableConcept' },
);
export const Reference = Type.Object({ type: CodeableConcept, value: Type.String({ format: 'uuid' }) }, { ...strict, title: 'Reference' });

export const Period = Type.Object(
  { start: Type.String({ format: 'date-time' }), end: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])) },
  { ...strict, title: 'Period' },
);
export const Event = Type.Object({ code: CodeableConcept, period: Period }, { ...strict, title: 'Event' });

export const Extension = Type.Object(
  {
    valueCode: Type.String({ minLength: 1, maxLength: 255 }),
    valueUuid: Type.Optional(Type.String({ format: 'uuid' })),
    valueBoolean: Type.Optional(Type.Boolean()),
    valueString: Type.Optional(Type.String({ maxLength: 2000 })),
    valueDate: Type.Optional(Type.String({ format: 'date' })),
  },
  { ...strict, title: 'Extension' },
);

/** relatesTo.code: the published texts write REPLACES, MIS send replaces; both spellings are taken (chains.ts). */
export const RelatesTo = Type.Object(
  {
    code: Type.Union([Type.Literal('replaces'), Type.Literal('REPLACES'), Type.Literal('appends'), Type.Literal('APPENDS')]),
    targetIdentifier: Reference,
  },
  { ...strict, title: 'RelatesTo' },
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
  { ...strict, title: 'CreateCompositionBody', examples: [CREATE_EXAMPLE] },
);
export type CreateCompositionBody = Static<typeof CreateCompositionBody>;
export type ReferenceT = Static<typeof Reference>;

export const SignBody = Type.Object(
  { data: Type.String({ minLength: 1, maxLength: 4 * 1024 * 1024, description: 'base64 (DER) CMS SignedData with the JSON attached' }) },
  {
    ...strict,
    title: 'SignBody',
    description:
      'sign: the composition JSON as GET answers it, signed; cancel: {"id", "reason"} signed (POST /admin/sign makes one in the sandbox)',
    examples: [{ data: 'MIIHBgYJKoZIhvcNAQcCoIIG9zCCBvMCAQExDTALBglghkgBZQMEAgEw…' }],
  },
);
export type SignBody = Static<typeof SignBody>;

export const JobLink = Type.Object(
  { entity: Type.String({ description: '`job`, or `composition` when DONE' }), href: Type.String() },
  { additionalProperties: false, title: 'JobLink' },
);

/** The task codes of a FAILED job, as `code type` lines (the published numbers; null where none is published). */
const TASK_ERROR_LINES = Object.entries(TASK_ERRORS)
  .map(([type, code]) => `${code ?? 'null'} ${type}`)
  .join('; ');

export const JobError = Type.Object(
  {
    code: Type.Union([Type.Integer(), Type.Null()], { description: 'The task code; null for a rule published without its number' }),
    type: Type.Unsafe<TaskErrorType>(
      Type.String({ enum: Object.keys(TASK_ERRORS), description: 'The task error: its code follows from it' }),
    ),
    message: Type.String(),
  },
  { additionalProperties: false, title: 'JobError', description: `Why a FAILED job failed. code and type: ${TASK_ERROR_LINES}` },
);

export const JobState = Type.Object(
  {
    eta: Type.String({ format: 'date-time', description: 'When the job is expected to finish (PENDING) or finished' }),
    id: Type.String({ format: 'uuid' }),
    links: Type.Array(JobLink),
    status: Type.Union([Type.Literal('PENDING'), Type.Literal('FAILED'), Type.Literal('DONE')]),
    error: Type.Optional(JobError),
  },
  { additionalProperties: false, title: 'JobState', description: 'compositionAsyncJobStateResponse' },
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

/**
 * A composition as stored: the created document (document.ts builds it in this order), with the signer's
 * changes once signed or cancelled. Open to fields it does not build (a cancel's). Only identifier and
 * status are required: the sandbox's fixtures may store any document (docs/decisions.md), and the type
 * must hold for every answer.
 */
export const CompositionDocument = Type.Object(
  {
    identifier: Type.Object({ value: Type.String({ format: 'uuid' }) }, { additionalProperties: true }),
    status: Type.String({ description: 'PRELIMINARY | FINAL | ENTERED_IN_ERROR | AMENDED' }),
    type: Type.Optional(CodeableConcept),
    category: Type.Optional(CodeableConcept),
    title: Type.Optional(Type.String({ description: 'compositionTitle: the human-readable number' })),
    date: Type.Optional(Type.String({ format: 'date-time', description: 'When it was created' })),
    event: Type.Optional(Type.Array(Event)),
    subject: Type.Optional(Reference),
    encounter: Type.Optional(Reference),
    episodeOfCare: Type.Optional(Reference),
    author: Type.Optional(Reference),
    custodian: Type.Optional(Reference),
    section: Type.Optional(Type.Object({ focus: Reference }, { additionalProperties: true })),
    extension: Type.Optional(Type.Array(Extension)),
    relatesTo: Type.Optional(RelatesTo),
  },
  {
    additionalProperties: true,
    title: 'CompositionDocument',
    description: 'Composition: the create body with identifier, status, title, date, episodeOfCare and custodian added',
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
  { ...strict, title: 'IntegrationItem' },
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

/** The three states of a job as the job status route answers them (OpenAPI examples). */
const exampleMeta = (code: number) => ({
  code,
  url: 'http://localhost:4000/api/patients/composition/job/0b6f4c3e-5d2a-4f1e-9c8b-7a6d5e4f3a2b',
  type: 'object',
  request_id: 'req-1',
});
const exampleJob = { eta: '2026-09-01T10:00:01.000Z', id: '0b6f4c3e-5d2a-4f1e-9c8b-7a6d5e4f3a2b' };
const jobLink = { entity: 'job', href: 'http://localhost:4000/api/patients/composition/job/0b6f4c3e-5d2a-4f1e-9c8b-7a6d5e4f3a2b' };
export const JOB_EXAMPLES = {
  pending: { meta: exampleMeta(200), data: { ...exampleJob, links: [jobLink], status: 'PENDING' } },
  done: {
    meta: exampleMeta(200),
    data: {
      ...exampleJob,
      links: [
        {
          entity: 'composition',
          href: 'http://localhost:4000/api/patients/6f1d0c2a-0000-4000-8000-000000000030/encounter/6f1d0c2a-0000-4000-8000-000000000055/composition/3c1d9a0e-8f7b-4e6d-a5c4-b3a2918f7e6d',
        },
      ],
      status: 'DONE',
    },
  },
  failed: {
    meta: exampleMeta(200),
    data: {
      ...exampleJob,
      links: [jobLink],
      status: 'FAILED',
      error: {
        code: 1127,
        type: 'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS',
        message: 'A FINAL composition of this type and category already exists for the encounter',
      },
    },
  },
  accepted: {
    meta: { ...exampleMeta(202), url: 'http://localhost:4000/api/patients/composition' },
    data: { ...exampleJob, links: [jobLink], status: 'PENDING' },
  },
};
