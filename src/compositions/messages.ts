/**
 * Every text Compositions answers with: the synchronous errors of the routes, the 422 entries of the
 * create validation, and the messages of the job errors (TaskFailure). One place, so a text the seed
 * or an MIS depends on is changed knowingly; the tests assert them byte for byte.
 */
export const MESSAGES = {
  // synchronous answers of the routes
  /** GET of a composition, sign of an unknown (or another custodian's) composition, the sign job's COMPOSITION_NOT_FOUND */
  compositionNotFound: 'Composition not found',
  /** cancel of an unknown (or another custodian's) composition, and the cancel job's COMPOSITION_NOT_FOUND */
  cancelTargetNotFound: 'The object of the Composition was not found',
  /** the patient path of search with a patient id that is not a UUID */
  notFound: 'Not found',
  /** create by a client without a legal entity */
  accessDenied: 'Access denied',
  /** job status of an unknown job or another client's job */
  taskNotFound: 'Task not found',
  /** job status with an id that is not a UUID */
  invalidRequestFormat: 'Invalid request format',
  /** RC_4 (PATCH …/erln): no ERLN task, or no such composition of the caller */
  noConclusionFound: 'No conclusion found',
  /** RC_4: not an МВТН, not FINAL, the last ERLN task did not end in ERROR (or is running), no statusMessage, a preperson */
  notResubmittable: 'This request is not allowed to be resubmitted (inappropriate status or type of request)',
  /** RC_4 with a body */
  noPayload: 'the request takes no body: send none, {} or []',
  /** RC_4's job FAILED: ERLN answered with a rejection */
  erlnRejected: (code: number | null, message: string) => `ERLN rejected the record${code === null ? '' : ` (RESULT ${code})`}: ${message}`,

  // 422 entries (create validation, search query)
  notInEnum: 'value is not allowed in enum',
  subjectAndFocus: 'subject and focus are mutually exclusive',
  subjectOrFocus: 'subject or focus is required',
  personNotFound: 'Person not found',
  personInactive: 'Person is not active',
  prepersonNotFound: 'Preperson not found',
  prepersonInactive: 'Preperson is not active',
  encounterNotFound: 'Encounter not found',
  encounterOfAnotherSubject: "Encounter doesn't belong to the subject",
  employeeNotFound: 'Employee not found',
  employeeOfAnotherLegalEntity: (employeeId: string) => `Employee ${employeeId} doesn't belong to your legal entity`,
  employeeInactive: 'Employee is not active',
  relatedNotFound: 'Composition not found',
  periodEndBeforeStart: 'must be greater than or equal to period.start',
  periodEndRequired: 'required property end was not present',
  validityPeriodRequired: 'a COMPOSITION_VALIDITY_PERIOD event is required for TEMP_DISABILITY',
  extensionRepeated: (code: string) => `extension ${code} is given more than once`,
  extensionValue: (code: string, kind: string) => `extension ${code} must carry exactly ${kind}`,
  authMethodNotFound: 'Authentication method not found for the patient',

  // job errors of create (numbered ESOZ rules)
  newbornCategory: (category: string, allowed: readonly string[]) =>
    `Category ${category} is not allowed for a NEWBORN composition (allowed: ${allowed.join(', ')})`,
  disabilityCategory: (category: string) => `Category ${category} is not allowed for a TEMP_DISABILITY composition`,
  prepersonCategory: (category: string, allowed: readonly string[]) =>
    `Category ${category} is not allowed for a preperson subject (allowed: ${allowed.join(', ')})`,
  subjectFocusEquality: (category: string) => `Category ${category} requires section.focus to be the subject`,
  relatedMissing: 'The related composition does not exist',
  newbornReplacement: 'Replacement of a NEWBORN composition is not enabled',
  differentType: (relatedType: string, type: string) => `The related composition is of type ${relatedType}, not ${type}`,
  cancelledReplacement: 'Replacement of a cancelled composition is not enabled',
  replacesNeedsRefinement: 'relatesTo "replaces" needs a FINAL composition of a preperson (refinement)',
  appendsNeedsFinal: (status: string) => `relatesTo "appends" needs a FINAL composition, the related one is ${status}`,
  newbornExists: 'A NEWBORN composition already exists for this subject',
  // МВТН chains (RC_5, RC_6, RC_7): create and the re-checks of sign
  newbornReplacementNotBuilt: 'Replacement of a NEWBORN composition is not implemented',
  chainNotLast: 'The related composition is not the last link of its chain: a later signed composition already appends to or replaces it',
  replacedNotCancelled: (status: string) => `The composition to replace is ${status}: only an ENTERED_IN_ERROR composition can be replaced`,
  replacementReason: (code: string | null, allowed: readonly string[]) =>
    `The related composition was cancelled with reason ${code ?? '(none)'}, which does not allow a replacement (allowed: ${allowed.join(', ')})`,
  replacementTooLate: (days: number) => `The related composition was cancelled more than ${days} days ago: it can no longer be replaced`,
  appendsDifferentSubject: 'relatesTo "appends" needs a composition of the same subject',
  appendsDifferentFocus: 'relatesTo "appends" needs a composition of the same person on leave (section.focus)',
  appendsNotInErln:
    'relatesTo "appends" needs a composition registered in ERLN (an SL number): wait for its hand-off, or re-send it (PATCH …/erln) first',
  appendsDifferentCategory: (relatedCategory: string, category: string) =>
    `relatesTo "appends" needs a composition of the same category: the related one is ${relatedCategory}, not ${category}`,
  appendsTooLate: (end: string, days: number) =>
    `The related composition ended on ${end}: it can be extended or reduced only until ${days} days after its end`,
  appendsPeriod: (next: string, start: string, end: string) =>
    `relatesTo "appends" needs an extension (a period starting ${next}, the day after the related composition ends) or a reduction (a period starting ${start} and ending before ${end})`,
  relatedNoLongerFinal: (status: string) => `The related composition is ${status}: it is no longer FINAL`,
  finalExists: (encounterId: string, type: string, category: string) =>
    `A FINAL ${type}/${category} composition already exists for encounter ${encounterId}`,
  /** 1127 caught by the unique index (a concurrent sign won the race) */
  finalExistsRace: 'A FINAL composition of this type and category already exists for the encounter',

  // job errors of sign and cancel
  signedContentNotJson: 'The signed content is not valid UTF-8 JSON',
  notPreliminary: (status: string) => `Composition is ${status}: only a PRELIMINARY composition can be signed`,
  contentMismatch: (path: string | null) =>
    `The signed content does not match the composition (first difference at ${path}); sign the document exactly as getComposition returns it`,
  signerWithoutTaxId: 'The signer certificate carries no tax id (subject serialNumber TINUA-… or DRFO attribute)',
  signerNotAuthor: "The signer is not the author of the composition (certificate tax id differs from the author's)",
  cancelContentShape:
    'The signed content must be {"id": <composition id>, "reason": {"coding": [{"system", "code"}], "text": <≤ 2000 chars>}}',
  cancelOtherComposition: (signedId: string, compositionId: string) =>
    `The signed content cancels composition ${signedId}, not ${compositionId}`,
  notFinal: "Can't cancel composition in non-FINAL state",
  erlnCallPending: 'The composition is not yet sent to ERLN: cancel it once ERLN has answered (see integrationData)',
  erlnCallInProgress:
    'The composition is sent to ERLN and ERLN has not answered yet: cancel it once ERLN has answered (see integrationData)',
  cancellationTextNotProvided: 'The cancellation reason needs its explanation (reason.text)',
  invalidCancellationCoding: 'Invalid cancellation coding',
  cancelTooOld: "Can't cancel composition: too old",
  cancelRunningTask: "Can't cancel composition: integration tasks are already running",
  replacedNotFound: 'The composition this one replaces was not found',
  replacedNotAmended: 'The composition this one replaces is not AMENDED',
  signerNotEmployee: 'The signer is not an employee of the legal entity that issued the composition',

  // job errors of the job machinery
  internalError: (attempts: number) => `The job failed after ${attempts} attempts; send the request again`,
  jobTimeout: (seconds: number) => `The job was not processed within ${seconds} seconds; it was cancelled. Send the request again.`,

  // Resend SMS on Composition (resend-sms.ts): the published texts, and ours for what the sources leave open
  /** the patient is neither a person nor a preperson, or the composition is not the caller's or not the patient's */
  smsNotFound: 'Not found',
  /** the composition is not FINAL (published for ENTERED_IN_ERROR; the status as the composition shows it) */
  smsStatus: (status: string) => `You can not resend SMS for Composition in status ${status}`,
  /** the caller's legal entity is not of a type in ME_ALLOWED_TRANSACTIONS_LE_TYPES, or not active */
  legalEntityNotAllowed: 'Action is not allowed for the legal entity',
  /** INFORM_WITH is missing, gone, inactive, ended, or not OTP / THIRD_PERSON with an OTP confidant */
  authMethodInactive: "Authentication method doesn't exist or is inactive",
  /** ours: a composition type without a CREATE_<type>_COMPOSITION_SMS_TEMPLATE (DRIVERS) */
  smsTypeNotSupported: (type: string) => `SMS is not provided for Composition of type ${type}`,
  // getPrintForm
  /** the template is not one of the composition's category (EMAL_PRINT_FORM_ALLOWED_TEMPLATE_IDS_BY_CATEGORY) */
  formNotFound: 'Form not found',
} as const;
