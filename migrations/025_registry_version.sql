-- Versions for the resend's hot read (src/eprescription/view.ts, src/registry/reference-cache.ts).
-- Each API process keeps copies of rows that the resend and the MR view read on every request:
-- reference rows (legal entities, divisions, employees with parties, medications, medical programs),
-- a person with their authentication methods, and medication requests. The copies are exact, not
-- time-based: every statement that writes a registry table bumps its scope's version in the same
-- transaction ('prm' for the reference tables, 'mpi' for persons and their methods), a medication
-- request is versioned by its row version (xmin), and the hot read returns the current versions, so a
-- process uses a copy only while it is still the current state — on any number of processes.

CREATE TABLE registry_version (
  scope   text PRIMARY KEY CHECK (scope IN ('prm', 'mpi')),
  version bigint NOT NULL
);
INSERT INTO registry_version(scope, version) VALUES ('prm', 1), ('mpi', 1);

CREATE FUNCTION esoz_bump_registry_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE registry_version SET version = version + 1 WHERE scope = TG_ARGV[0];
  RETURN NULL;
END
$fn$;

CREATE TRIGGER legal_entities_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON legal_entities
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE TRIGGER divisions_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON divisions
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE TRIGGER parties_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON parties
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE TRIGGER employees_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employees
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE TRIGGER medications_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON medications
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE TRIGGER medical_programs_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON medical_programs
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE TRIGGER persons_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON persons
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('mpi');
CREATE TRIGGER person_authentication_methods_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON person_authentication_methods
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('mpi');

-- The reference rows of a medication request's view, in the view's shapes (as migration 021 built
-- them), with the registry version they were read at: ONE statement, so one snapshot.
CREATE FUNCTION esoz_registry_references(p_le uuid, p_division uuid, p_employee uuid, p_medication uuid, p_program uuid,
                                         OUT version bigint, OUT legal_entity json, OUT division json, OUT employee json,
                                         OUT party json, OUT medication json, OUT medical_program json)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  SELECT (SELECT v.version FROM registry_version v WHERE v.scope = 'prm'),
         (SELECT json_build_object(
            'id', le.id, 'name', le.name, 'short_name', le.short_name, 'public_name', le.public_name,
            'type', le.type, 'edrpou', le.edrpou, 'status', le.status)
            FROM legal_entities le WHERE le.id = p_le),
         (SELECT json_build_object(
            'id', d.id, 'legal_entity_id', d.legal_entity_id, 'name', d.name, 'addresses', d.addresses, 'phones', d.phones,
            'email', d.email, 'working_hours', d.working_hours, 'type', d.type, 'external_id', d.external_id,
            'location', d.location, 'dls_id', d.dls_id, 'dls_verified', d.dls_verified)
            FROM divisions d WHERE d.id = p_division),
         (SELECT json_build_object('id', e.id, 'position', e.position) FROM employees e WHERE e.id = p_employee),
         (SELECT json_build_object(
            'id', pa.id, 'no_tax_id', pa.no_tax_id, 'first_name', pa.first_name, 'last_name', pa.last_name,
            'second_name', pa.second_name, 'email', pa.email, 'phones', pa.phones)
            FROM employees e JOIN parties pa ON pa.id = e.party_id WHERE e.id = p_employee),
         (SELECT json_build_object(
            'id', m.id, 'name', m.name, 'form', m.form, 'dosage', m.dosage, 'ingredients', m.ingredients)
            FROM medications m WHERE m.id = p_medication),
         (SELECT json_build_object(
            'id', mp.id, 'name', mp.name, 'medical_program_settings', mp.medical_program_settings,
            'medical_program_settings_text', mp.medical_program_settings_text, 'is_active', mp.is_active,
            'medication_dispense_allowed', mp.medication_dispense_allowed,
            'medication_dispense_allowed_text', mp.medication_dispense_allowed_text,
            'medication_request_allowed', mp.medication_request_allowed,
            'medication_request_allowed_text', mp.medication_request_allowed_text,
            'type', mp.type, 'funding_source', mp.funding_source,
            'inserted_at', to_char(mp.inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'inserted_by', mp.inserted_by,
            'updated_at', to_char(mp.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'updated_by', mp.updated_by)
            FROM medical_programs mp WHERE mp.id = p_program)
    INTO version, legal_entity, division, employee, party, medication, medical_program;
END
$fn$;

-- A person's active authentication methods as esoz_person_auth_methods (migration 021) returns them,
-- each with `valid_until`: when this entry stops being what the function returns without any write —
-- the method's own future ended_at, or, for a THIRD_PERSON, the earliest future ended_at among its
-- confidant's active methods (their OTP phone or OFFLINE flag may change then) — NULL for never.
CREATE FUNCTION esoz_person_auth_methods_timed(p_person uuid)
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT coalesce(json_agg(x ORDER BY x.inserted_at, x.id), '[]'::json) INTO result FROM (
    SELECT m.id, m.type, m.phone_number, m.value, m.inserted_at,
           c.otp_phone AS confidant_otp_phone, c.has_offline AS confidant_offline,
           LEAST(m.ended_at, c.ends) AS valid_until
      FROM person_authentication_methods m
      LEFT JOIN LATERAL (
        SELECT (SELECT cm.phone_number FROM person_authentication_methods cm
                 WHERE cm.person_id = cp.id AND cm.type = 'OTP' AND cm.phone_number IS NOT NULL
                   AND cm.is_active AND (cm.ended_at IS NULL OR cm.ended_at > now())
                 ORDER BY cm.inserted_at, cm.id LIMIT 1) AS otp_phone,
               EXISTS (SELECT 1 FROM person_authentication_methods cm
                 WHERE cm.person_id = cp.id AND cm.type = 'OFFLINE'
                   AND cm.is_active AND (cm.ended_at IS NULL OR cm.ended_at > now())) AS has_offline,
               (SELECT min(cm.ended_at) FROM person_authentication_methods cm
                 WHERE cm.person_id = cp.id AND cm.is_active AND cm.ended_at > now()) AS ends
          FROM persons cp WHERE cp.id = m.value AND cp.is_active
      ) c ON m.type = 'THIRD_PERSON'
     WHERE m.person_id = p_person AND m.is_active AND (m.ended_at IS NULL OR m.ended_at > now())
  ) x;
  RETURN result;
END
$fn$;

-- The hot read of GET and resend, ONE statement (one snapshot) returning ONE json value (a single
-- column is what PGlite converts fastest): the medication request the caller may see, with what the
-- calling process does not already hold. p_mr_version / p_person + p_mpi_version
-- describe the copies the caller holds:
--   mr          the MR's own fields (no reference rows), NULL when the caller's copy has the row's version;
--   person, methods  the person and their active methods (esoz_person_auth_methods_timed), NULL when the
--               caller's copy is of this MR's person at the current 'mpi' version;
--   ref_version the 'prm' version that validates the cached reference rows;
--   live/oldest/at  with p_entity_name: the MR's SMS timeout window read without a lock (only ever
--               used to answer "full" early, see resend.ts step 9).
-- NULL when the caller may not see the MR.
CREATE FUNCTION esoz_medication_request_read(p_id uuid, p_number text, p_le uuid, p_types text[],
                                             p_entity_name text, p_timeout_seconds integer,
                                             p_mr_version bigint, p_person uuid, p_mpi_version bigint)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_build_object(
         'mr_id', r.id, 'mr_version', r.xmin::text::bigint,
         'mr', CASE WHEN p_mr_version IS DISTINCT FROM r.xmin::text::bigint THEN json_build_object(
           'id', r.id, 'request_number', r.request_number, 'status', r.status, 'intent', r.intent, 'category', r.category,
           'priority', r.priority, 'verification_code', r.verification_code,
           'created_at', r.created_at::text, 'started_at', r.started_at::text, 'ended_at', r.ended_at::text,
           'dispense_valid_from', r.dispense_valid_from::text, 'dispense_valid_to', r.dispense_valid_to::text,
           'legal_entity_id', r.legal_entity_id, 'division_id', r.division_id, 'employee_id', r.employee_id,
           'person_id', r.person_id, 'medication_id', r.medication_id, 'medication_qty', r.medication_qty,
           'medical_program_id', r.medical_program_id, 'context', r.context, 'based_on', r.based_on,
           'dosage_instruction', r.dosage_instruction, 'rejected_at', r.rejected_at::text, 'rejected_by', r.rejected_by,
           'reject_reason', r.reject_reason, 'reject_reason_code', r.reject_reason_code, 'is_blocked', r.is_blocked,
           'block_reason', r.block_reason, 'block_reason_code', r.block_reason_code,
           'prior_prescription', r.prior_prescription, 'container_dosage', r.container_dosage) END,
         'person_id', r.person_id, 'mpi_version', v.mpi,
         'person', CASE WHEN p_person IS DISTINCT FROM r.person_id OR p_mpi_version IS DISTINCT FROM v.mpi THEN
           (SELECT json_build_object('id', p.id, 'first_name', p.first_name, 'last_name', p.last_name,
                                     'second_name', p.second_name, 'birth_date', p.birth_date::text)
              FROM persons p WHERE p.id = r.person_id) END,
         'methods', CASE WHEN p_person IS DISTINCT FROM r.person_id OR p_mpi_version IS DISTINCT FROM v.mpi THEN
           esoz_person_auth_methods_timed(r.person_id) END,
         'ref_version', v.prm, 'live', w.live, 'oldest', w.oldest, 'at', w.at)
    INTO result
    FROM medication_requests r
   CROSS JOIN (SELECT max(x.version) FILTER (WHERE x.scope = 'mpi') AS mpi, max(x.version) FILTER (WHERE x.scope = 'prm') AS prm
                 FROM registry_version x) v
    LEFT JOIN LATERAL (
      SELECT count(a.attempted_at)::int AS live, min(a.attempted_at) AS oldest, t.at
        FROM (SELECT clock_timestamp() AS at) t
        LEFT JOIN sms_attempts a ON a.entity_name = p_entity_name AND a.entity_id = r.id::text
                                AND a.attempted_at > t.at - make_interval(secs => p_timeout_seconds)
       GROUP BY t.at
    ) w ON p_entity_name IS NOT NULL
   WHERE r.id = COALESCE(p_id, (SELECT n.id FROM medication_requests n WHERE n.request_number = p_number))
     AND (r.legal_entity_id = p_le
          OR EXISTS (SELECT 1 FROM legal_entities c WHERE c.id = p_le AND c.type = ANY(p_types)));
  RETURN result;
END
$fn$;
