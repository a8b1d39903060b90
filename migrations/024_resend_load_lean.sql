-- The resend's one read (migration 023) without the view when it is not needed: the SMS timeout window is
-- read first (lock-free, as before); when it is already full the answer can only be an error (a check 3–8
-- error or the 429), so only the fields checks 3–8 read are loaded — the view's JSON (the larger part of
-- the statement's cost) is built only when the resend may succeed. `mr.lean` marks the short form.
DROP FUNCTION IF EXISTS esoz_medication_request_resend_load(uuid, text, uuid, text[], text, integer);
CREATE FUNCTION esoz_medication_request_resend_load(p_id uuid, p_number text, p_le uuid, p_types text[],
                                                    p_entity_name text, p_timeout_seconds integer, p_max integer,
                                                    OUT mr json, OUT methods json,
                                                    OUT live integer, OUT oldest timestamptz, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_id uuid;
BEGIN
  v_id := COALESCE(p_id, (SELECT n.id FROM medication_requests n WHERE n.request_number = p_number));
  IF v_id IS NULL THEN
    RETURN;
  END IF;
  -- the window without the lock (esoz_sms_window_peek, inlined)
  at := clock_timestamp();
  SELECT count(*)::int, min(a.attempted_at) INTO live, oldest
    FROM sms_attempts a
   WHERE a.entity_name = p_entity_name AND a.entity_id = v_id::text
     AND a.attempted_at > at - make_interval(secs => p_timeout_seconds);
  IF live >= p_max THEN
    -- what checks 3–8 read, in the view's shape (references as {id} only)
    SELECT json_build_object(
             'lean', true, 'id', r.id, 'request_number', r.request_number, 'status', r.status, 'intent', r.intent,
             'verification_code', r.verification_code, 'person_id', r.person_id, 'medical_program_id', r.medical_program_id,
             'legal_entity', CASE WHEN le.id IS NOT NULL THEN json_build_object('id', le.id) END,
             'division', CASE WHEN d.id IS NOT NULL THEN json_build_object('id', d.id) END,
             'employee', CASE WHEN e.id IS NOT NULL THEN json_build_object('id', e.id) END,
             'party', CASE WHEN pa.id IS NOT NULL THEN json_build_object('id', pa.id) END,
             'person', CASE WHEN p.id IS NOT NULL THEN json_build_object('id', p.id) END,
             'medication', CASE WHEN m.id IS NOT NULL THEN json_build_object('id', m.id) END,
             'medical_program', CASE WHEN mp.id IS NOT NULL THEN
               json_build_object('id', mp.id, 'medical_program_settings', mp.medical_program_settings) END),
           esoz_person_auth_methods(r.person_id)
      INTO mr, methods
      FROM medication_requests r
      LEFT JOIN legal_entities le ON le.id = r.legal_entity_id
      LEFT JOIN divisions d ON d.id = r.division_id
      LEFT JOIN employees e ON e.id = r.employee_id
      LEFT JOIN parties pa ON pa.id = e.party_id
      LEFT JOIN persons p ON p.id = r.person_id
      LEFT JOIN medications m ON m.id = r.medication_id
      LEFT JOIN medical_programs mp ON mp.id = r.medical_program_id
     WHERE r.id = v_id
       AND (r.legal_entity_id = p_le
            OR EXISTS (SELECT 1 FROM legal_entities c WHERE c.id = p_le AND c.type = ANY(p_types)));
  ELSE
    mr := esoz_medication_request_load(v_id, NULL, p_le, p_types);
    IF mr IS NOT NULL THEN
      methods := esoz_person_auth_methods((mr->>'person_id')::uuid);
    END IF;
  END IF;
  IF mr IS NULL THEN
    live := NULL; oldest := NULL; at := NULL;
  END IF;
END
$fn$;

-- The SMS timeout rule (migration 023) with fewer statements: the lock, then ONE read of the entity's
-- attempts (all, live, oldest live); the expired ones are deleted only when there are any. Same
-- semantics as esoz_sms_window + insert: live = attempted_at > at - timeout, pruned = the others.
-- (esoz_sms_window, migration 021, is no longer called by the code.)
CREATE OR REPLACE FUNCTION esoz_sms_attempt(p_entity_name text, p_entity_id text, p_max integer, p_timeout_seconds integer,
                                            OUT admitted boolean, OUT live integer, OUT oldest timestamptz, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  total integer;
  horizon timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_entity_name || ':' || p_entity_id));
  -- clock_timestamp(), not now(): the transaction may have waited for the lock
  at := clock_timestamp();
  horizon := at - make_interval(secs => p_timeout_seconds);
  SELECT count(*)::int, (count(*) FILTER (WHERE a.attempted_at > horizon))::int, min(a.attempted_at) FILTER (WHERE a.attempted_at > horizon)
    INTO total, live, oldest
    FROM sms_attempts a
   WHERE a.entity_name = p_entity_name AND a.entity_id = p_entity_id;
  IF total > live THEN
    DELETE FROM sms_attempts
     WHERE entity_name = p_entity_name AND entity_id = p_entity_id AND attempted_at <= horizon;
  END IF;
  admitted := live < p_max;
  IF admitted THEN
    INSERT INTO sms_attempts(entity_name, entity_id, attempted_at) VALUES (p_entity_name, p_entity_id, at);
    live := live + 1;
  END IF;
END
$fn$;
