export {
  checkSmsTimeout,
  peekSmsWindow,
  pruneSmsAttempts,
  smsTimeoutError,
  smsTimeoutMessage,
  formatNextAttempt,
  windowFullError,
  SMS_TIMEOUT_ERROR_TYPE,
  type SmsTimeoutParams,
  type SmsWindow,
} from './sms-timeout.ts';
export { enqueueSms, nudgeSmsRelay, recordAttemptAndEnqueueSms, SMS_QUEUE, SMS_RELAY, type OutgoingSms } from './outbox.ts';
export {
  deliverSms,
  deliverSmsBatch,
  registerSmsDelivery,
  relaySmsOutbox,
  sweepStuckSms,
  SMS_SWEEP_QUEUE,
  SMS_RELAY_BATCH,
  RetryLater,
  type DeliveryDeps,
  type DeliveryResult,
} from './delivery.ts';
export { httpProvider, logProvider, providerFromConfig, SmsSendError, type SmsProvider, type SmsMessage } from './providers.ts';
