-- Platform: MIS clients and access tokens (what the ESOZ gateway keeps), the SMS outbox and the SMS
-- timeout procedure's attempts. Functions live next to the code that calls them (src/platform/sql/).
CREATE TABLE mis_clients (
  id              uuid PRIMARY KEY,
  name            text NOT NULL,
  legal_entity_id uuid,
  secret_hash     text NOT NULL,
  is_active       boolean NOT NULL DEFAULT true,
  inserted_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE access_tokens (
  token_hash  text PRIMARY KEY,
  client_id   uuid NOT NULL REFERENCES mis_clients(id) ON DELETE CASCADE,
  user_id     uuid,
  employee_id uuid,
  scopes      text[] NOT NULL DEFAULT '{}',
  expires_at  timestamptz NOT NULL,
  inserted_at timestamptz NOT NULL DEFAULT now()
);

-- Every SMS the service sends goes through this outbox, written in the same transaction as the
-- business decision to send it; a queue worker delivers it (status NEW → SENT | FAILED).
CREATE TABLE sms_outbox (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  phone_number  text NOT NULL,
  body          text NOT NULL,
  status        text NOT NULL DEFAULT 'NEW',
  entity_name   text NOT NULL,
  entity_id     text NOT NULL,
  tries         integer NOT NULL DEFAULT 0,
  last_error    text,
  provider_id   text,
  inserted_at   timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  -- delivery lease: a worker holds the row while it talks to the provider, so two workers (a job
  -- re-claimed after its lease expired) never send the same message at once
  locked_until  timestamptz,
  -- the request path only INSERTs the row; the relay (src/platform/sms/delivery.ts, relaySmsOutbox)
  -- moves NEW rows without a job into batched delivery jobs and stamps this
  enqueued_at   timestamptz
)
-- Room on each page for the rows' later versions. Every row is updated twice in its life (the relay's
-- enqueued_at stamp, then SENT or FAILED); with full pages the second update cannot stay on its page
-- and writes a new entry into all four indexes. With half-full pages it is a HOT update (it changes no
-- indexed column) and page pruning reclaims the dead versions in place. Measured on PostgreSQL 15
-- (docs/decisions.md, "SMS outbox pages"): insert + relay stamp + SENT of 20 000 SMS in batches of 500
-- took 1.63 s at fillfactor 100 and 1.18 s at 50, and left a smaller heap (11 MB instead of 15 MB) and
-- smaller indexes.
WITH (fillfactor = 50);
CREATE INDEX sms_outbox_entity_idx ON sms_outbox (entity_name, entity_id, inserted_at DESC);
CREATE INDEX sms_outbox_phone_idx ON sms_outbox (phone_number, inserted_at DESC);
CREATE INDEX sms_outbox_inserted_idx ON sms_outbox (inserted_at DESC);
CREATE INDEX sms_outbox_unenqueued_idx ON sms_outbox (inserted_at) WHERE enqueued_at IS NULL;

-- SMS timeout procedure (src/platform/sms/sms-timeout.ts, src/platform/sql/esoz_sms_attempt.sql): one
-- row per counted attempt; rows older than the caller's SEND_TIMEOUT no longer count and are pruned on
-- the next check of the entity, and periodically (entities never checked again would keep theirs).
CREATE TABLE sms_attempts (
  id           bigserial PRIMARY KEY,
  entity_name  text NOT NULL,
  entity_id    text NOT NULL,
  attempted_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX sms_attempts_entity_idx ON sms_attempts (entity_name, entity_id, attempted_at);
CREATE INDEX sms_attempts_time_idx ON sms_attempts (attempted_at);
