-- Finish create jobs: per item, in its own subtransaction, the job row is locked and, only while it is
-- still PENDING, either the composition is inserted and the job marked DONE, or the job is marked
-- FAILED — so a redelivered job or one another worker finished changes nothing (and compositions.job_id
-- is UNIQUE besides). Items: {"job_id", "outcome": "DONE"|"FAILED", "error", "links", and for DONE the
-- composition: "id", "type_code", "category_code", "title", "subject_type", "subject_id", "focus_type",
-- "focus_id", "encounter_id", "episode_id", "author_id", "custodian_id", "client_id", "document", "chain_flow"}.
-- Answers: {"status": "DONE"|"FAILED"|"SKIPPED"|"TITLE_TAKEN", "on_time"}; TITLE_TAKEN (the generated
-- title exists) leaves the job PENDING for the caller to finish again with another title.
CREATE OR REPLACE FUNCTION esoz_composition_jobs_finish(p_items json)
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
             author_id uuid, custodian_id uuid, client_id uuid, document text, chain_flow text)) WITH ORDINALITY AS x
     ORDER BY x.ordinality
  LOOP
    BEGIN
      SELECT j.status INTO v_status FROM composition_jobs j WHERE j.id = it.job_id FOR UPDATE;
      IF v_status IS DISTINCT FROM 'PENDING' THEN
        results[it.ordinality] := json_build_object('status', 'SKIPPED');
      ELSIF it.outcome = 'DONE' THEN
        INSERT INTO compositions (id, job_id, status, type_code, category_code, title, subject_type, subject_id, focus_type, focus_id,
                                  encounter_id, episode_id, author_id, custodian_id, client_id, document, chain_flow)
        VALUES (it.id, it.job_id, 'PRELIMINARY', it.type_code, it.category_code, it.title, it.subject_type, it.subject_id,
                it.focus_type, it.focus_id, it.encounter_id, it.episode_id, it.author_id, it.custodian_id, it.client_id, it.document,
                it.chain_flow)
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
