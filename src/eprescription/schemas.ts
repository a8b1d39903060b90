/**
 * The response of GET /api/medication_requests/{id} and of the resend:
 * `Medication_request_Public_Response_with_Medical_Program_min` (blueprint), in the field order of
 * seed 003's example, as view.ts renders it. Registry objects (legal entity, division, employee,
 * party, medical program) and the FHIR-like parts (context, based_on, dosage_instruction, …) are
 * passed through as stored, so their schemas name the known fields and allow the rest.
 * Top-level null values are left out of the view, hence optional here.
 */
import { Type } from 'typebox';
import { RESEND_EXAMPLE } from './examples.ts';
import { dataEnvelope, errorEnvelope } from '../platform/http/envelope.ts';

const open = { additionalProperties: true } as const;
const Json = (description: string) => Type.Object({}, { ...open, description });
const JsonArray = (description: string) => Type.Array(Json('item'), { description });
const Id = Type.String({ format: 'uuid' });
const Date_ = (description: string) => Type.String({ description: `${description}, YYYY-MM-DD` });

export const MedicationRequestView = Type.Object(
  {
    id: Id,
    status: Type.String({ description: 'ACTIVE | COMPLETED | REJECTED | EXPIRED' }),
    request_number: Type.String({ description: 'Public number, 4 blocks of 4 (0123456789ABCEHIKMOPTX)', example: '0000-243P-1X53-EH38' }),
    created_at: Date_('Creation date'),
    started_at: Date_('Start of the treatment period'),
    ended_at: Date_('End of the treatment period'),
    dispense_valid_from: Type.Optional(Date_('Start of the dispense period')),
    dispense_valid_to: Type.Optional(Date_('End of the dispense period')),
    legal_entity: Type.Object({ id: Id }, { ...open, description: 'Legal_Entity_Short' }),
    division: Type.Object({ id: Id }, { ...open, description: 'Division_Details' }),
    employee: Type.Object(
      { id: Id, party: Type.Object({ id: Id }, { ...open, description: 'Party: names, no_tax_id, email, phones' }) },
      { ...open, description: 'Employee_Minimal (position, party)' },
    ),
    person: Type.Object(
      {
        id: Id,
        short_name: Type.String({ description: 'Last name and initials', example: 'Шевченко П. М.' }),
        age: Type.Integer({ description: 'Whole years at created_at' }),
      },
      { additionalProperties: false, description: 'Person_Medication_Request' },
    ),
    medication_info: Type.Object(
      {
        medication_id: Id,
        medication_name: Type.String(),
        form: Type.String(),
        dosage: Type.Object(
          {},
          { ...open, nullable: true, description: "The medication's dosage (its primary ingredient's when it has none)" },
        ),
        ingredients: JsonArray('Ingredients: id, name, name_original, sctid, dosage, is_primary'),
        medication_qty: Type.Number(),
      },
      { additionalProperties: false, description: 'Innm_Dosage_for_Medication_request_Responce' },
    ),
    medical_program: Type.Optional(
      Type.Object(
        {
          id: Id,
          name: Type.String(),
          mr_blank_type: Type.String({ description: 'Dictionary MR_BLANK_TYPES', example: 'F-1' }),
        },
        { ...open, description: 'The medical program with medical_program_settings (absent for an MR without a program)' },
      ),
    ),
    intent: Type.String({ description: 'order | plan' }),
    category: Type.String({ description: 'community' }),
    based_on: Type.Optional(JsonArray('References to a care plan and its activity')),
    context: Type.Optional(Json('Reference to the encounter')),
    dosage_instruction: Type.Optional(JsonArray('Dosage_Instruction')),
    rejected_at: Type.Optional(Type.String()),
    rejected_by: Type.Optional(Type.String()),
    reject_reason: Type.Optional(Type.String()),
    reject_reason_code: Type.Optional(Type.String({ description: 'Dictionary MEDICATION_REQUEST_REJECT_REASON' })),
    is_blocked: Type.Boolean(),
    block_reason: Type.Optional(Type.String()),
    block_reason_code: Type.Optional(Type.String({ description: 'Dictionary MEDICATION_REQUEST_BLOCK_REASON' })),
    priority: Type.Optional(Type.String()),
    prior_prescription: Type.Optional(Json('Reference to the prior medication request')),
    container_dosage: Type.Optional(Json('system, code, value')),
  },
  {
    additionalProperties: false,
    title: 'MedicationRequest',
    description: 'Medication_request_Public_Response_with_Medical_Program_min (never verification_code)',
  },
);

const common = {
  401: errorEnvelope('Invalid access token (access_denied)'),
  403: errorEnvelope('Your scope does not allow to access this resource (forbidden)'),
  404: errorEnvelope('Not found: unknown id or request number, or an MR of another legal entity (not_found)'),
};

export const getMedicationRequestResponses = {
  200: dataEnvelope(MedicationRequestView, 'The medication request'),
  ...common,
};

export const resendMedicationRequestResponses = {
  200: dataEnvelope(MedicationRequestView, 'SMS queued; the medication request', [RESEND_EXAMPLE]),
  401: common[401],
  403: errorEnvelope("Missing scope medication_request:resend, or: Can't resend Medication request without verification code! (forbidden)"),
  404: common[404],
  409: errorEnvelope(
    'For medication request plan information cannot be resent | Invalid status Medication request for resend action! | ' +
      'Notifications are not allowed for the medical program! | Person or third person has no OTP auth method (request_conflict)',
  ),
  429: errorEnvelope(
    'Sending SMS timeout. Try later. Next attempt will be available at <time> (sms_timeout; Retry-After header in seconds)',
  ),
};
