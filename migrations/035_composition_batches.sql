-- Compositions in batches (src/compositions/jobs.ts, validate.ts, processor.ts): concurrent creates and
-- a worker's fetched jobs share statements. Every function takes a json array of items and answers a
-- json array in the same order; each item's answer is what it would be alone.

-- createComposition's synchronous reference checks (validate.ts): what the references point to.
-- Items: {"subject_type", "subject_id", "focus_type", "focus_id", "encounter_id", "author_id", "relates_to_id"}
-- (ids already checked to be UUIDs, or null). Answers: {"subject", "focus": {is_active, status} | null,
-- "encounter": {person_id, episode_id} | null, "author": {legal_entity_id, is_active, status} | null,
-- "relates_to_exists": boolean}.
CREATE FUNCTION esoz_composition_refs_many(p_items json)
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_agg(json_build_object(
           'subject', CASE i.subject_type
             WHEN 'person' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM persons p WHERE p.id = i.subject_id)
             WHEN 'preperson' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM prepersons p WHERE p.id = i.subject_id) END,
           'focus', CASE i.focus_type
             WHEN 'person' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM persons p WHERE p.id = i.focus_id)
             WHEN 'preperson' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM prepersons p WHERE p.id = i.focus_id) END,
           'encounter', (SELECT json_build_object('person_id', e.person_id, 'episode_id', e.episode_id) FROM encounters e WHERE e.id = i.encounter_id),
           'author', (SELECT json_build_object('legal_entity_id', e.legal_entity_id, 'is_active', e.is_active, 'status', e.status)
                        FROM employees e WHERE e.id = i.author_id),
           'relates_to_exists', EXISTS (SELECT 1 FROM compositions c WHERE c.id = i.relates_to_id))
           ORDER BY i.ord)
    INTO result
    FROM ROWS FROM (json_to_recordset(p_items) AS (subject_type text, subject_id uuid, focus_type text, focus_id uuid,
                                                   encounter_id uuid, author_id uuid, relates_to_id uuid))
         WITH ORDINALITY AS i(subject_type, subject_id, focus_type, focus_id, encounter_id, author_id, relates_to_id, ord);
  RETURN result;
END
$fn$;

-- Accept: store the public jobs (jobs.ts JobStore.accept). An identical request of the same client
-- whose job is PENDING — stored earlier or earlier in this batch — gets that job back. Run inside the
-- transaction that also enqueues the created jobs.
-- Items: {"id", "kind", "client_id", "legal_entity_id", "user_id", "employee_id", "request_hash", "request",
-- "composition_id", "first_eta"}. Answers: {"id", "created": boolean} (id null: not settled, retry).
CREATE FUNCTION esoz_composition_jobs_accept(p_items json)
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

-- A worker's claim of fetched jobs: the PENDING ones get started_at and an attempt; finished (or
-- deleted) ones are not returned. Answers the claimed rows (any order). Its commit does not wait for
-- the WAL flush: a claim lost in a crash only means the job is claimed again (no domain data here).
CREATE FUNCTION esoz_composition_jobs_claim(p_ids uuid[])
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  result json;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  WITH claimed AS (
    UPDATE composition_jobs SET started_at = clock_timestamp(), attempts = attempts + 1
     WHERE id = ANY(p_ids) AND status = 'PENDING'
     RETURNING id, kind, request, client_id, legal_entity_id, composition_id, attempts,
               EXTRACT(EPOCH FROM (clock_timestamp() - inserted_at))::float8 * 1000 AS waited_ms)
  SELECT coalesce(json_agg(claimed), '[]'::json) INTO result FROM claimed;
  RETURN result;
END
$fn$;

-- What the create rules (rules.ts) read, per job. Items: {"encounter_id", "type", "category",
-- "subject_id", "relates_to_id"}. Answers: {"episode_id", "final_exists" (1127), "newborn_exists",
-- "relates_to": {status, type_code, subject_type} | null}.
CREATE FUNCTION esoz_composition_create_facts_many(p_items json)
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_agg(json_build_object(
           'episode_id', (SELECT e.episode_id FROM encounters e WHERE e.id = i.encounter_id),
           'final_exists', EXISTS (SELECT 1 FROM compositions c
                                    WHERE c.encounter_id = i.encounter_id AND c.type_code = i.type
                                      AND c.category_code = i.category AND c.status = 'FINAL'),
           'newborn_exists', CASE WHEN i.type = 'NEWBORN' THEN EXISTS (
                                    SELECT 1 FROM compositions c WHERE c.type_code = 'NEWBORN'
                                       AND c.subject_id = i.subject_id AND c.status <> 'ENTERED_IN_ERROR') END,
           'relates_to', (SELECT json_build_object('status', c.status, 'type_code', c.type_code, 'subject_type', c.subject_type)
                            FROM compositions c WHERE c.id = i.relates_to_id))
           ORDER BY i.ord)
    INTO result
    FROM ROWS FROM (json_to_recordset(p_items) AS (encounter_id uuid, type text, category text, subject_id uuid, relates_to_id uuid))
         WITH ORDINALITY AS i(encounter_id, type, category, subject_id, relates_to_id, ord);
  RETURN result;
END
$fn$;

-- Finish create jobs: per item, in its own subtransaction, the job row is locked and, only while it is
-- still PENDING, either the composition is inserted and the job marked DONE, or the job is marked
-- FAILED — so a redelivered job or one another worker finished changes nothing (and compositions.job_id
-- is UNIQUE besides). Items: {"job_id", "outcome": "DONE"|"FAILED", "error", "links", and for DONE the
-- composition: "id", "type_code", "category_code", "title", "subject_type", "subject_id", "focus_type",
-- "focus_id", "encounter_id", "episode_id", "author_id", "custodian_id", "client_id", "document"}.
-- Answers: {"status": "DONE"|"FAILED"|"SKIPPED"|"TITLE_TAKEN", "on_time"}; TITLE_TAKEN (the generated
-- title exists) leaves the job PENDING for the caller to finish again with another title.
CREATE FUNCTION esoz_composition_jobs_finish(p_items json)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  it record;
  v_status text;
  v_on_time boolean;
  results json[] := '{}';
BEGIN
  FOR it IN
    SELECT * FROM ROWS FROM (json_to_recordset(p_items) AS (
             job_id uuid, outcome text, error jsonb, links jsonb, id uuid, type_code text, category_code text, title text,
             subject_type text, subject_id uuid, focus_type text, focus_id uuid, encounter_id uuid, episode_id uuid,
             author_id uuid, custodian_id uuid, client_id uuid, document text)) WITH ORDINALITY AS x
     ORDER BY x.ordinality
  LOOP
    BEGIN
      SELECT j.status INTO v_status FROM composition_jobs j WHERE j.id = it.job_id FOR UPDATE;
      IF v_status IS DISTINCT FROM 'PENDING' THEN
        results[it.ordinality] := json_build_object('status', 'SKIPPED');
      ELSIF it.outcome = 'DONE' THEN
        INSERT INTO compositions (id, job_id, status, type_code, category_code, title, subject_type, subject_id, focus_type, focus_id,
                                  encounter_id, episode_id, author_id, custodian_id, client_id, document)
        VALUES (it.id, it.job_id, 'PRELIMINARY', it.type_code, it.category_code, it.title, it.subject_type, it.subject_id,
                it.focus_type, it.focus_id, it.encounter_id, it.episode_id, it.author_id, it.custodian_id, it.client_id, it.document)
        ON CONFLICT (title) DO NOTHING;
        IF NOT FOUND THEN
          results[it.ordinality] := json_build_object('status', 'TITLE_TAKEN');
        ELSE
          UPDATE composition_jobs SET status = 'DONE', composition_id = it.id, links = it.links, finished_at = clock_timestamp()
           WHERE id = it.job_id
           RETURNING finished_at <= first_eta INTO v_on_time;
          results[it.ordinality] := json_build_object('status', 'DONE', 'on_time', v_on_time);
        END IF;
      ELSE
        UPDATE composition_jobs SET status = 'FAILED', error = it.error, finished_at = clock_timestamp()
         WHERE id = it.job_id
         RETURNING finished_at <= first_eta INTO v_on_time;
        results[it.ordinality] := json_build_object('status', 'FAILED', 'on_time', v_on_time);
      END IF;
    EXCEPTION WHEN unique_violation THEN
      -- compositions.job_id: another attempt of this job created it (its transaction committed first)
      results[it.ordinality] := json_build_object('status', 'SKIPPED');
    END;
  END LOOP;
  RETURN array_to_json(results);
END
$fn$;

-- The ETA model's moving averages (jobs.ts foldServiceTimes), one update per finished batch of a
-- kind: the jobs of a batch finish together, so they are one observation, not n — the batch's service
-- time (claim → commit), its slowest turnaround (accept → commit: the deviation then measures how much
-- the worst job of a batch varies from batch to batch, which is what an eta has to cover), and the
-- drain interval (time since the previous completion, over the batch size: 1 ÷ throughput). An estimate
-- only: its commit does not wait for the WAL flush.
CREATE FUNCTION esoz_composition_job_stats_fold(p_kind text, p_n integer, p_service_ms float8, p_turn_ms float8, p_alpha float8)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_gap float8;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  IF p_n < 1 THEN
    RETURN;
  END IF;
  UPDATE composition_job_stats s
     SET service_ms = CASE WHEN s.samples = 0 THEN p_service_ms ELSE s.service_ms * (1 - p_alpha) + p_service_ms * p_alpha END,
         turn_dev_ms = CASE WHEN s.samples = 0 THEN p_turn_ms / 2 ELSE s.turn_dev_ms * (1 - p_alpha) + p_alpha * abs(p_turn_ms - s.turn_ms) END,
         turn_ms = CASE WHEN s.samples = 0 THEN p_turn_ms ELSE s.turn_ms * (1 - p_alpha) + p_turn_ms * p_alpha END,
         drain_ms = CASE WHEN s.samples = 0 THEN p_service_ms ELSE s.drain_ms * (1 - p_alpha) + p_alpha * LEAST(p_service_ms,
                      GREATEST(1, EXTRACT(EPOCH FROM (clock_timestamp() - COALESCE(s.last_finished_at, clock_timestamp())))::float8 * 1000) / p_n) END,
         samples = s.samples + p_n,
         last_finished_at = clock_timestamp()
   WHERE s.kind = p_kind;
END
$fn$;

-- The queue depth the accept eta counts (jobs.ts): PENDING jobs, counted up to 1000; past that, the
-- span of PENDING positions stands in (an upper bound, from the two ends of the partial index), so
-- the estimate never costs as much as the backlog is long.
CREATE FUNCTION esoz_composition_queue_depth()
RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  n bigint;
BEGIN
  SELECT count(*) INTO n FROM (SELECT 1 FROM composition_jobs WHERE status = 'PENDING' LIMIT 1000) x;
  IF n >= 1000 THEN
    SELECT max(seq) - min(seq) + 1 INTO n FROM composition_jobs WHERE status = 'PENDING';
  END IF;
  RETURN n;
END
$fn$;

-- Room on each page for the claim's update (started_at, attempts: no indexed column) to stay HOT.
ALTER TABLE composition_jobs SET (fillfactor = 80);
