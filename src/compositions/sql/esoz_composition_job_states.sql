-- The job status read (src/compositions/jobs.ts), for many jobs in ONE statement (concurrent polls are
-- coalesced, src/platform/batch.ts), answering one json: `jobs` in the order of p_ids (null: no such
-- job), each with its queue position `seq`, and with p_queue the positions of the first 1000 PENDING
-- jobs (`queue`), from which the caller counts the jobs ahead of each PENDING one. A process asks for
-- the queue at most every 100 ms, so the jobs ahead are never counted per poll (a count per poll would
-- cost as much as the queue is long, on every poll).
CREATE OR REPLACE FUNCTION esoz_composition_job_states(p_ids uuid[], p_queue boolean)
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  jobs json;
  queue json;
BEGIN
  SELECT json_agg(
           CASE WHEN j.id IS NULL THEN NULL ELSE json_build_object(
             'id', j.id, 'seq', j.seq, 'kind', j.kind, 'client_id', j.client_id, 'status', j.status, 'links', j.links, 'error', j.error,
             'started_at', j.started_at, 'finished_at', j.finished_at, 'inserted_at', j.inserted_at,
             'service_ms', s.service_ms, 'drain_ms', s.drain_ms, 'turn_ms', s.turn_ms, 'turn_dev_ms', s.turn_dev_ms) END
           ORDER BY i.ord)
    INTO jobs
    FROM unnest(p_ids) WITH ORDINALITY AS i(id, ord)
    LEFT JOIN composition_jobs j ON j.id = i.id
    LEFT JOIN composition_job_stats s ON s.kind = j.kind;
  IF p_queue THEN
    SELECT coalesce(json_agg(q.seq ORDER BY q.seq), '[]'::json) INTO queue
      FROM (SELECT p.seq FROM composition_jobs p WHERE p.status = 'PENDING' ORDER BY p.seq LIMIT 1000) q;
  END IF;
  RETURN json_build_object('jobs', jobs, 'queue', queue);
END
$fn$;
