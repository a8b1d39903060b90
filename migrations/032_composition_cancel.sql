-- cancelComposition: a third job kind and the cancellation record on the composition.
ALTER TABLE composition_jobs DROP CONSTRAINT composition_jobs_kind_check;
ALTER TABLE composition_jobs ADD CONSTRAINT composition_jobs_kind_check CHECK (kind IN ('CREATE', 'SIGN', 'CANCEL'));
INSERT INTO composition_job_stats(kind, service_ms, drain_ms) VALUES ('CANCEL', 500, 500);

ALTER TABLE compositions ADD COLUMN cancel_job_id uuid UNIQUE;
ALTER TABLE compositions ADD COLUMN cancelled_at timestamptz;
ALTER TABLE compositions ADD COLUMN cancel_reason text;
ALTER TABLE compositions ADD COLUMN cancel_signed_content text;
