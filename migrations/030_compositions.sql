-- Compositions (medical conclusions) and their public async jobs. Functions live next to the code that
-- calls them (src/compositions/sql/).
--
-- composition_jobs is the job the MIS sees (GET /patients/composition/job/{id}); the pg-boss job that
-- carries the work is separate and disposable. A job is PENDING until one transaction writes the
-- domain change and flips it to DONE or FAILED (compare-and-set on status under a row lock), so a
-- worker that dies mid-job leaves nothing half-done and the retry cannot apply it twice.
CREATE TABLE composition_jobs (
  id              uuid PRIMARY KEY,
  seq             bigint GENERATED ALWAYS AS IDENTITY,
  kind            text NOT NULL CHECK (kind IN ('CREATE', 'SIGN', 'CANCEL')),
  client_id       uuid NOT NULL,
  legal_entity_id uuid,
  user_id         uuid,
  employee_id     uuid,
  -- sha-256 of the canonical JSON of (kind, target, body): identical PENDING requests of one client share a job
  request_hash    text NOT NULL,
  -- the request body exactly as the client sent it (jsonb would reorder its keys, and the composition
  -- document is built from it)
  request         text NOT NULL,
  composition_id  uuid,
  status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
  links           jsonb NOT NULL DEFAULT '[]',
  error           jsonb,
  -- the eta promised in the 202 (kept to measure how honest it was)
  first_eta       timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  started_at      timestamptz,
  finished_at     timestamptz,
  inserted_at     timestamptz NOT NULL DEFAULT clock_timestamp()
)
-- room on each page for the claim's update (started_at, attempts: no indexed column) to stay HOT
WITH (fillfactor = 80);
CREATE UNIQUE INDEX composition_jobs_pending_dedupe_idx ON composition_jobs (client_id, request_hash) WHERE status = 'PENDING';
CREATE INDEX composition_jobs_pending_seq_idx ON composition_jobs (seq) WHERE status = 'PENDING';
CREATE INDEX composition_jobs_finished_idx ON composition_jobs (finished_at) WHERE status <> 'PENDING';

-- Measured service time (claim → commit) and drain interval (time between completions while busy),
-- exponentially weighted; shared by every API and worker process through the database. Besides the
-- service time, the turnaround a client sees (accept → finish) and its mean deviation, so an idle
-- queue's eta covers pickup and commit latency with a margin.
CREATE TABLE composition_job_stats (
  kind             text PRIMARY KEY,
  service_ms       double precision NOT NULL,
  drain_ms         double precision NOT NULL,
  samples          bigint NOT NULL DEFAULT 0,
  last_finished_at timestamptz,
  turn_ms          double precision NOT NULL DEFAULT 0,
  turn_dev_ms      double precision NOT NULL DEFAULT 0
);
INSERT INTO composition_job_stats(kind, service_ms, drain_ms) VALUES ('CREATE', 500, 500), ('SIGN', 500, 500), ('CANCEL', 500, 500);

CREATE TABLE compositions (
  id              uuid PRIMARY KEY,
  -- the job that created it: a retried job can never create a second composition
  job_id          uuid NOT NULL UNIQUE,
  status          text NOT NULL CHECK (status IN ('PRELIMINARY', 'FINAL', 'AMENDED', 'ENTERED_IN_ERROR')),
  type_code       text NOT NULL,
  category_code   text NOT NULL,
  title           text NOT NULL UNIQUE,
  subject_type    text NOT NULL,
  subject_id      uuid NOT NULL,
  focus_type      text,
  focus_id        uuid,
  encounter_id    uuid NOT NULL,
  episode_id      uuid,
  author_id       uuid NOT NULL,
  custodian_id    uuid NOT NULL,
  client_id       uuid NOT NULL,
  -- the document exactly as GET returns it (text keeps the field order; jsonb would reorder keys)
  document        text NOT NULL,
  signed_content  text,
  signed_at       timestamptz,
  sign_job_id     uuid UNIQUE,
  signer_tax_id   text,
  inserted_at     timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- the cancellation record (cancelComposition)
  cancel_job_id   uuid UNIQUE,
  cancelled_at    timestamptz,
  cancel_reason   text,
  cancel_signed_content text
);
CREATE INDEX compositions_subject_idx ON compositions (subject_id, inserted_at DESC);
CREATE INDEX compositions_focus_idx ON compositions (focus_id, inserted_at DESC);
CREATE INDEX compositions_encounter_idx ON compositions (encounter_id);
-- rule 1127: one FINAL composition per encounter, type and category
CREATE UNIQUE INDEX compositions_final_per_encounter_idx ON compositions (encounter_id, type_code, category_code) WHERE status = 'FINAL';
