export { checkSmsTimeout, pruneSmsAttempts, smsTimeoutError, smsTimeoutMessage, formatNextAttempt, SMS_TIMEOUT_ERROR_TYPE, type SmsTimeoutParams } from './sms-timeout.ts';
export { enqueueSms, SMS_QUEUE, type OutgoingSms } from './outbox.ts';
export { deliverSms, registerSmsDelivery, sweepStuckSms, SMS_SWEEP_QUEUE, RetryLater, type DeliveryDeps, type DeliveryResult } from './delivery.ts';
export { httpProvider, logProvider, providerFromConfig, SmsSendError, type SmsProvider, type SmsMessage } from './providers.ts';
