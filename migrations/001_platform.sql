-- Platform: MIS clients and access tokens (what the ESOZ gateway keeps), and the SMS outbox.
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
  sent_at       timestamptz
);
CREATE INDEX sms_outbox_entity_idx ON sms_outbox (entity_name, entity_id, inserted_at DESC);
CREATE INDEX sms_outbox_phone_idx ON sms_outbox (phone_number, inserted_at DESC);
CREATE INDEX sms_outbox_inserted_idx ON sms_outbox (inserted_at DESC);
