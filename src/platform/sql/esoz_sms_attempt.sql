-- The SMS timeout rule (src/platform/sms/sms-timeout.ts), in one place, also writing the outbox row when
-- asked, and answering with one json value (what PGlite converts fastest):
--   esoz_sms_attempt(entity_name, entity_id, max, timeout_seconds[, phone, body])
--     → {"admitted", "live", "oldest", "at", "outbox_id"}
-- It takes the per-entity transaction-scoped advisory lock (serialises concurrent callers on any number
-- of processes until the caller's transaction ends), reads clock_timestamp() after the lock, prunes the
-- entity's expired attempts, counts the live ones and, with room, records this attempt and — when a
-- phone is given — the SMS outbox row. Called outside an explicit transaction, the statement's own
-- transaction holds the lock until it commits, so the next caller's count sees this attempt.
CREATE OR REPLACE FUNCTION esoz_sms_attempt(p_entity_name text, p_entity_id text, p_max integer, p_timeout_seconds integer,
                                            p_phone text DEFAULT NULL, p_body text DEFAULT NULL)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_at timestamptz;
  v_horizon timestamptz;
  v_total integer;
  v_live integer;
  v_oldest timestamptz;
  v_outbox uuid;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_entity_name || ':' || p_entity_id));
  -- clock_timestamp(), not now(): the transaction may have waited for the lock
  v_at := clock_timestamp();
  v_horizon := v_at - make_interval(secs => p_timeout_seconds);
  SELECT count(*)::int, (count(*) FILTER (WHERE a.attempted_at > v_horizon))::int, min(a.attempted_at) FILTER (WHERE a.attempted_at > v_horizon)
    INTO v_total, v_live, v_oldest
    FROM sms_attempts a
   WHERE a.entity_name = p_entity_name AND a.entity_id = p_entity_id;
  IF v_total > v_live THEN
    DELETE FROM sms_attempts WHERE entity_name = p_entity_name AND entity_id = p_entity_id AND attempted_at <= v_horizon;
  END IF;
  IF v_live >= p_max THEN
    RETURN json_build_object('admitted', false, 'live', v_live, 'oldest', v_oldest, 'at', v_at);
  END IF;
  INSERT INTO sms_attempts(entity_name, entity_id, attempted_at) VALUES (p_entity_name, p_entity_id, v_at);
  IF p_phone IS NOT NULL THEN
    INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id)
    VALUES (p_phone, p_body, p_entity_name, p_entity_id) RETURNING id INTO v_outbox;
  END IF;
  RETURN json_build_object('admitted', true, 'live', v_live + 1, 'oldest', COALESCE(v_oldest, v_at), 'at', v_at, 'outbox_id', v_outbox);
END
$fn$;
