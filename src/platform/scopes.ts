/** Scopes the service knows; the demo token gets all of them. */
export const ALL_SCOPES = [
  'medication_request:details',
  'medication_request:resend',
  'composition:create',
  'composition:read',
  'composition:search',
  'composition:sign',
  'composition:cancel',
  'composition:resend_sms',
  'dictionary:read',
  'person:read',
  'preperson:read',
  'preperson:write',
] as const;
