-- The job of a composition SMS resend (kind RESEND_SMS in JOB_KINDS, src/compositions/model.ts): written
-- DONE with the SMS (src/compositions/resend-sms.ts), so the job id the 202 names can be polled.
ALTER TABLE composition_jobs DROP CONSTRAINT composition_jobs_kind_check;
ALTER TABLE composition_jobs ADD CONSTRAINT composition_jobs_kind_check CHECK (kind IN ('CREATE', 'SIGN', 'CANCEL', 'ERLN_RESEND', 'RESEND_SMS'));
