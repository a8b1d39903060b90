-- Accept: store the public jobs (jobs.ts JobStore.accept). An identical request of the same client
-- whose job is PENDING — stored earlier or earlier in this batch — gets that job back. Run inside the
-- transaction that also enqueues the created jobs.
-- Items: {"id", "kind", "client_id", "legal_entity_id", "user_id", "employee_id", "request_hash", "request",
-- "composition_id", "first_eta"}. Answers: {"id", "created": boolean} (id null: not settled, retry).
CREATE OR REPLACE FUNCTION esoz_composition_jobs_accept(p_items json)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  it record;
  v_id uuid;
  results json[] := '{}';
BEGIN
  -- json_to_recordset parses each item once (json ->> would parse the item text again for every field)
  FOR it IN
    SELECT * FROM ROWS FROM (json_to_recordset(p_items) AS (id uuid, kind text, client_id uuid, legal_entity_id uuid, user_id uuid,
                                                            employee_id uuid, request_hash text, request text, composition_id uuid,
                                                            first_eta timestamptz)) WITH ORDINALITY AS x
     ORDER BY x.ordinality
  LOOP
    INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, user_id, employee_id, request_hash, request, composition_id, first_eta)
    VALUES (it.id, it.kind, it.client_id, it.legal_entity_id, it.user_id, it.employee_id, it.request_hash, it.request,
            it.composition_id, it.first_eta)
    ON CONFLICT (client_id, request_hash) WHERE status = 'PENDING' DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
      results[it.ordinality] := json_build_object('id', v_id, 'created', true);
    ELSE
      SELECT j.id INTO v_id FROM composition_jobs j
       WHERE j.client_id = it.client_id AND j.request_hash = it.request_hash AND j.status = 'PENDING';
      -- the duplicate finished between the insert and the read: the caller tries again
      results[it.ordinality] := json_build_object('id', v_id, 'created', false);
    END IF;
    v_id := NULL;
  END LOOP;
  RETURN array_to_json(results);
END
$fn$;
