-- SMS outbox relay and the one-statement SMS timeout procedure (docs/decisions-eprescription.md,
-- "Resend hot path: outbox relay, lock-free 429, one-statement attempt").

-- The request path only INSERTs the outbox row; the relay (src/platform/sms/delivery.ts,
-- relaySmsOutbox) moves NEW rows without a job into batched delivery jobs and stamps enqueued_at.
-- Rows written before this migration had their job enqueued with them: they get the migration time
-- (a constant default: no table rewrite), and new rows NULL.
ALTER TABLE sms_outbox ADD COLUMN enqueued_at timestamptz DEFAULT now();
ALTER TABLE sms_outbox ALTER COLUMN enqueued_at DROP DEFAULT;
CREATE INDEX sms_outbox_unenqueued_idx ON sms_outbox (inserted_at) WHERE enqueued_at IS NULL;

-- The SMS timeout rule, once: take the per-entity lock, prune, count (esoz_sms_window, migration 021),
-- and record this attempt when the window has room. Used inside a caller's transaction
-- (checkSmsTimeout) and by the one-statement attempt + outbox below.
CREATE OR REPLACE FUNCTION esoz_sms_attempt(p_entity_name text, p_entity_id text, p_max integer, p_timeout_seconds integer,
                                            OUT admitted boolean, OUT live integer, OUT oldest timestamptz, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  SELECT w.live, w.oldest, w.at INTO live, oldest, at FROM esoz_sms_window(p_entity_name, p_entity_id, p_timeout_seconds) w;
  admitted := live < p_max;
  IF admitted THEN
    INSERT INTO sms_attempts(entity_name, entity_id, attempted_at) VALUES (p_entity_name, p_entity_id, at);
    live := live + 1;
  END IF;
END
$fn$;

-- One statement: the attempt and the outbox row, or neither (window full: outbox_id NULL, with the
-- window's oldest live attempt for the 429). Called outside an explicit transaction, the statement's
-- own transaction holds the advisory lock until it commits, so the next caller's count sees it.
CREATE OR REPLACE FUNCTION esoz_sms_attempt_and_outbox(p_entity_name text, p_entity_id text, p_max integer, p_timeout_seconds integer,
                                                       p_phone text, p_body text,
                                                       OUT outbox_id uuid, OUT live integer, OUT oldest timestamptz, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  ok boolean;
BEGIN
  SELECT a.admitted, a.live, a.oldest, a.at INTO ok, live, oldest, at
    FROM esoz_sms_attempt(p_entity_name, p_entity_id, p_max, p_timeout_seconds) a;
  IF ok THEN
    INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id)
    VALUES (p_phone, p_body, p_entity_name, p_entity_id) RETURNING id INTO outbox_id;
  END IF;
END
$fn$;

-- The live window read WITHOUT the lock (and without pruning): committed attempts younger than the
-- timeout. Only ever used to answer "full" early; "room" is always re-checked under the lock.
CREATE OR REPLACE FUNCTION esoz_sms_window_peek(p_entity_name text, p_entity_id text, p_timeout_seconds integer,
                                                OUT live integer, OUT oldest timestamptz, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  at := clock_timestamp();
  SELECT count(*)::int, min(a.attempted_at) INTO live, oldest
    FROM sms_attempts a
   WHERE a.entity_name = p_entity_name AND a.entity_id = p_entity_id
     AND a.attempted_at > at - make_interval(secs => p_timeout_seconds);
END
$fn$;

-- Everything the resend checks 3–9 read, in one round trip: the MR view row the caller may see
-- (esoz_medication_request_load), the person's active authentication methods
-- (esoz_person_auth_methods) and the lock-free SMS timeout window of the MR. mr is NULL when the
-- caller may not see the MR (404); the rest is then NULL too.
CREATE OR REPLACE FUNCTION esoz_medication_request_resend_load(p_id uuid, p_number text, p_le uuid, p_types text[],
                                                               p_entity_name text, p_timeout_seconds integer,
                                                               OUT mr json, OUT methods json,
                                                               OUT live integer, OUT oldest timestamptz, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  mr := esoz_medication_request_load(p_id, p_number, p_le, p_types);
  IF mr IS NULL THEN
    RETURN;
  END IF;
  methods := esoz_person_auth_methods((mr->>'person_id')::uuid);
  SELECT w.live, w.oldest, w.at INTO live, oldest, at
    FROM esoz_sms_window_peek(p_entity_name, mr->>'id', p_timeout_seconds) w;
END
$fn$;
