-- The hot read of GET /api/medication_requests/{id} and of the resend (src/eprescription/read.ts), for
-- a batch of items (src/platform/batch.ts coalesces concurrent reads) as ONE set-based query: one
-- snapshot, and one json value (a single column is what PGlite converts fastest). A function call per
-- item (each with its own executor start for the read and again for the person's methods) cost more
-- than the work itself — on PostgreSQL about 87 µs per item in batches of 4, set-based about 56 µs
-- (docs/benchmarks.md). Each item's result (test/eprescription-read.test.ts): NULL when the caller may
-- not see the MR, else
--   mr          the MR's own fields, NULL when the caller's copy (p mr_version) has the row's version;
--   person, methods  the person and their active authentication methods with valid_until (when the
--               entry stops being what this returns without any write: the method's own future
--               ended_at, or for a THIRD_PERSON the earliest future ended_at among the confidant's
--               active methods), NULL when the caller's copy is of this MR's person at the current
--               'mpi' version; the methods feed the default-method precedence (src/registry/mpi.ts);
--   ref_version the 'prm' version that validates the cached reference rows;
--   live/oldest/at  with entity_name: the MR's SMS timeout window read without a lock (only ever used
--               to answer "full" early, see resend.ts step 9).
-- Items: {"id", "number", "le", "types", "entity_name", "timeout", "mr_version", "person", "mpi_version"}.
CREATE OR REPLACE FUNCTION esoz_medication_request_read_many(p_items json)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_agg(CASE WHEN r.id IS NULL THEN NULL ELSE json_build_object(
         'mr_id', r.id, 'mr_version', r.xmin::text::bigint,
         'mr', CASE WHEN i.mr_version IS DISTINCT FROM r.xmin::text::bigint THEN json_build_object(
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
         'person', CASE WHEN i.person IS DISTINCT FROM r.person_id OR i.mpi_version IS DISTINCT FROM v.mpi THEN
           (SELECT json_build_object('id', p.id, 'first_name', p.first_name, 'last_name', p.last_name,
                                     'second_name', p.second_name, 'birth_date', p.birth_date::text)
              FROM persons p WHERE p.id = r.person_id) END,
         'methods', CASE WHEN i.person IS DISTINCT FROM r.person_id OR i.mpi_version IS DISTINCT FROM v.mpi THEN
           (SELECT coalesce(json_agg(x ORDER BY x.inserted_at, x.id), '[]'::json) FROM (
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
     WHERE m.person_id = r.person_id AND m.is_active AND (m.ended_at IS NULL OR m.ended_at > now())
  ) x) END,
         'ref_version', v.prm, 'live', w.live, 'oldest', w.oldest, 'at', w.at) END
         ORDER BY i.ord)
    INTO result
    FROM ROWS FROM (json_to_recordset(p_items) AS (id uuid, number text, le uuid, types text[], entity_name text, timeout int,
                                                   mr_version bigint, person uuid, mpi_version bigint))
         WITH ORDINALITY AS i(id, number, le, types, entity_name, timeout, mr_version, person, mpi_version, ord)
   CROSS JOIN (SELECT max(x.version) FILTER (WHERE x.scope = 'mpi') AS mpi, max(x.version) FILTER (WHERE x.scope = 'prm') AS prm
                 FROM registry_version x) v
    LEFT JOIN medication_requests r
      ON r.id = COALESCE(i.id, (SELECT n.id FROM medication_requests n WHERE n.request_number = i.number))
     AND (r.legal_entity_id = i.le OR EXISTS (SELECT 1 FROM legal_entities c WHERE c.id = i.le AND c.type = ANY(i.types)))
    LEFT JOIN LATERAL (
      SELECT count(a.attempted_at)::int AS live, min(a.attempted_at) AS oldest, t.at
        FROM (SELECT clock_timestamp() AS at) t
        LEFT JOIN sms_attempts a ON a.entity_name = i.entity_name AND a.entity_id = r.id::text
                                AND a.attempted_at > t.at - make_interval(secs => i.timeout)
       GROUP BY t.at
    ) w ON i.entity_name IS NOT NULL AND r.id IS NOT NULL;
  RETURN result;
END
$fn$;
