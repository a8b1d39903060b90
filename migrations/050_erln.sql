-- ERLN hand-off: the integration tasks of a composition (GET …/integrationData reads them), and the
-- state of the in-process ERLN simulator (src/erln/sim-store-db.ts), kept in the database so a
-- worker killed mid-call finds ERLN's record when the task runs again.

CREATE TABLE composition_integration_tasks (
  id                 uuid PRIMARY KEY,
  composition_id     uuid NOT NULL REFERENCES compositions(id),
  component          text NOT NULL DEFAULT 'ERLN' CHECK (component IN ('ERLN')),
  type               text NOT NULL CHECK (type IN ('CREATE_ERLN_RECORD', 'CANCEL_ERLN_RECORD')),
  -- PENDING until ERLN answered (DONE) or could not be reached within ERLN_MAX_TRIES calls (FAILED)
  task_status        text NOT NULL DEFAULT 'PENDING' CHECK (task_status IN ('PENDING', 'DONE', 'FAILED')),
  integration_status text CHECK (integration_status IN ('SUCCESS', 'ERROR')),
  status_code        integer,
  status_message     text,
  -- {"SL_NUM": "…"} once ERLN created the record
  details            jsonb NOT NULL DEFAULT '{}',
  -- calls made to ERLN; 0 = not sent yet (cancel: 1130), > 0 while PENDING = sent, no answer yet (1131)
  attempts           integer NOT NULL DEFAULT 0,
  locked_until       timestamptz,
  -- RC_4: the composition job (kind ERLN_RESEND) this task finishes
  job_id             uuid REFERENCES composition_jobs(id) ON DELETE SET NULL,
  inserted_at        timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX composition_integration_tasks_composition_idx ON composition_integration_tasks (composition_id, inserted_at DESC);

-- RC_4's job kind (JOB_KINDS in src/compositions/model.ts; its ETA statistics row is added at start-up)
ALTER TABLE composition_jobs DROP CONSTRAINT composition_jobs_kind_check;
ALTER TABLE composition_jobs ADD CONSTRAINT composition_jobs_kind_check CHECK (kind IN ('CREATE', 'SIGN', 'CANCEL', 'ERLN_RESEND'));

CREATE TABLE erln_sim_settings (
  id             boolean PRIMARY KEY DEFAULT true CHECK (id),
  mode           text NOT NULL DEFAULT 'ok' CHECK (mode IN ('ok', 'down', 'reject', 'slow')),
  reject_code    integer DEFAULT 1000,
  reject_message text NOT NULL DEFAULT 'Неочікувана помилка при створенні',
  delay_ms       integer NOT NULL DEFAULT 0,
  fail_next      integer NOT NULL DEFAULT 0
);
INSERT INTO erln_sim_settings (id) VALUES (true);

CREATE SEQUENCE erln_sim_sl_seq;

CREATE TABLE erln_sim_records (
  sl_num         text PRIMARY KEY,
  composition_id uuid NOT NULL,
  request_type   integer NOT NULL,
  category       text NOT NULL,
  period_start   date NOT NULL,
  period_end     date NOT NULL,
  person_id      uuid NOT NULL,
  status         text NOT NULL CHECK (status IN ('created', 'cancelled')),
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  cancelled_at   timestamptz,
  cancel_reason  text
);

-- the first answer to each idempotency key: a repeated call gets it and changes nothing
CREATE TABLE erln_sim_replies (
  idempotency_key text PRIMARY KEY,
  reply           jsonb NOT NULL,
  inserted_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE erln_sim_calls (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT clock_timestamp(),
  operation       text NOT NULL,
  composition_id  uuid NOT NULL,
  idempotency_key text NOT NULL,
  outcome         text NOT NULL,
  result          integer,
  sl_num          text
);
