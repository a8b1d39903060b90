-- The medication request view loader (src/eprescription/view.ts) as a PL/pgSQL function: PL/pgSQL
-- keeps its statement's plan for the session, so the 8-table join is planned once per connection
-- instead of on every request (planning was most of its cost on PGlite).
CREATE OR REPLACE FUNCTION esoz_medication_request_load(p_id uuid, p_number text, p_le uuid, p_types text[])
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT row_to_json(x) INTO result FROM (
SELECT mr.id, mr.request_number, mr.status, mr.intent, mr.category, mr.priority, mr.verification_code,
       mr.created_at::text AS created_at, mr.started_at::text AS started_at, mr.ended_at::text AS ended_at,
       mr.dispense_valid_from::text AS dispense_valid_from, mr.dispense_valid_to::text AS dispense_valid_to,
       mr.legal_entity_id, mr.person_id, mr.medication_id, mr.medication_qty, mr.medical_program_id,
       mr.context, mr.based_on, mr.dosage_instruction, mr.rejected_at::text AS rejected_at, mr.rejected_by,
       mr.reject_reason, mr.reject_reason_code, mr.is_blocked, mr.block_reason, mr.block_reason_code,
       mr.prior_prescription, mr.container_dosage,
       CASE WHEN le.id IS NOT NULL THEN json_build_object(
         'id', le.id, 'name', le.name, 'short_name', le.short_name, 'public_name', le.public_name,
         'type', le.type, 'edrpou', le.edrpou, 'status', le.status) END AS legal_entity,
       CASE WHEN d.id IS NOT NULL THEN json_build_object(
         'id', d.id, 'legal_entity_id', d.legal_entity_id, 'name', d.name, 'addresses', d.addresses, 'phones', d.phones,
         'email', d.email, 'working_hours', d.working_hours, 'type', d.type, 'external_id', d.external_id,
         'location', d.location, 'dls_id', d.dls_id, 'dls_verified', d.dls_verified) END AS division,
       CASE WHEN e.id IS NOT NULL THEN json_build_object('id', e.id, 'position', e.position) END AS employee,
       CASE WHEN pa.id IS NOT NULL THEN json_build_object(
         'id', pa.id, 'no_tax_id', pa.no_tax_id, 'first_name', pa.first_name, 'last_name', pa.last_name,
         'second_name', pa.second_name, 'email', pa.email, 'phones', pa.phones) END AS party,
       CASE WHEN p.id IS NOT NULL THEN json_build_object(
         'id', p.id, 'first_name', p.first_name, 'last_name', p.last_name, 'second_name', p.second_name,
         'birth_date', p.birth_date::text) END AS person,
       CASE WHEN m.id IS NOT NULL THEN json_build_object(
         'id', m.id, 'name', m.name, 'form', m.form, 'dosage', m.dosage, 'ingredients', m.ingredients) END AS medication,
       CASE WHEN mp.id IS NOT NULL THEN json_build_object(
         'id', mp.id, 'name', mp.name, 'medical_program_settings', mp.medical_program_settings,
         'medical_program_settings_text', mp.medical_program_settings_text, 'is_active', mp.is_active,
         'medication_dispense_allowed', mp.medication_dispense_allowed,
         'medication_dispense_allowed_text', mp.medication_dispense_allowed_text,
         'medication_request_allowed', mp.medication_request_allowed,
         'medication_request_allowed_text', mp.medication_request_allowed_text,
         'type', mp.type, 'funding_source', mp.funding_source,
         'inserted_at', to_char(mp.inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'inserted_by', mp.inserted_by,
         'updated_at', to_char(mp.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'updated_by', mp.updated_by) END AS medical_program
  FROM medication_requests mr
  LEFT JOIN legal_entities le ON le.id = mr.legal_entity_id
  LEFT JOIN divisions d ON d.id = mr.division_id
  LEFT JOIN employees e ON e.id = mr.employee_id
  LEFT JOIN parties pa ON pa.id = e.party_id
  LEFT JOIN persons p ON p.id = mr.person_id
  LEFT JOIN medications m ON m.id = mr.medication_id
  LEFT JOIN medical_programs mp ON mp.id = mr.medical_program_id
 WHERE mr.id = COALESCE(p_id, (SELECT n.id FROM medication_requests n WHERE n.request_number = p_number))
   AND (mr.legal_entity_id = p_le
        OR EXISTS (SELECT 1 FROM legal_entities c WHERE c.id = p_le AND c.type = ANY(p_types)))
  ) x;
  RETURN result;
END
$fn$;

-- MPI (src/registry/mpi.ts): a person's active authentication methods, oldest first, each THIRD_PERSON
-- with its (active) confidant's first active OTP phone and whether the confidant has an active OFFLINE.
CREATE OR REPLACE FUNCTION esoz_person_auth_methods(p_person uuid)
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT coalesce(json_agg(x ORDER BY x.inserted_at, x.id), '[]'::json) INTO result FROM (
    SELECT m.id, m.type, m.phone_number, m.value, m.inserted_at,
           c.otp_phone AS confidant_otp_phone, c.has_offline AS confidant_offline
      FROM person_authentication_methods m
      LEFT JOIN LATERAL (
        SELECT (SELECT cm.phone_number FROM person_authentication_methods cm
                 WHERE cm.person_id = cp.id AND cm.type = 'OTP' AND cm.phone_number IS NOT NULL
                   AND cm.is_active AND (cm.ended_at IS NULL OR cm.ended_at > now())
                 ORDER BY cm.inserted_at, cm.id LIMIT 1) AS otp_phone,
               EXISTS (SELECT 1 FROM person_authentication_methods cm
                 WHERE cm.person_id = cp.id AND cm.type = 'OFFLINE'
                   AND cm.is_active AND (cm.ended_at IS NULL OR cm.ended_at > now())) AS has_offline
          FROM persons cp WHERE cp.id = m.value AND cp.is_active
      ) c ON m.type = 'THIRD_PERSON'
     WHERE m.person_id = p_person AND m.is_active AND (m.ended_at IS NULL OR m.ended_at > now())
  ) x;
  RETURN result;
END
$fn$;

-- SMS timeout procedure (src/platform/sms/sms-timeout.ts): take the per-entity transaction lock
-- (serialises concurrent callers on any number of API processes until their transaction ends), then
-- prune the entity's expired attempts and report the live window, timed after the lock was granted.
CREATE OR REPLACE FUNCTION esoz_sms_window(p_entity_name text, p_entity_id text, p_timeout_seconds integer,
                                           OUT live integer, OUT oldest timestamptz, OUT at timestamptz)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_entity_name || ':' || p_entity_id));
  at := clock_timestamp();
  DELETE FROM sms_attempts
   WHERE entity_name = p_entity_name AND entity_id = p_entity_id
     AND attempted_at <= at - make_interval(secs => p_timeout_seconds);
  SELECT count(*)::int, min(attempted_at) INTO live, oldest
    FROM sms_attempts WHERE entity_name = p_entity_name AND entity_id = p_entity_id;
END
$fn$;
