-- The job status read (src/compositions/jobs.ts), for many jobs in ONE statement (concurrent polls are
-- coalesced, src/platform/batch.ts), answering one json array in the order of p_ids (null: no such job).
-- `ahead` counts the PENDING jobs queued before a PENDING job, up to 1000; past that the count would
-- cost as much as the queue is long on every poll, so `span` (this job's position after the oldest
-- PENDING job, an upper bound of what is ahead) stands in for it.
CREATE FUNCTION esoz_composition_job_states(p_ids uuid[])
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_agg(
           CASE WHEN j.id IS NULL THEN NULL ELSE json_build_object(
             'id', j.id, 'kind', j.kind, 'client_id', j.client_id, 'status', j.status, 'links', j.links, 'error', j.error,
             'started_at', j.started_at, 'finished_at', j.finished_at, 'inserted_at', j.inserted_at,
             'ahead', a.ahead,
             'span', CASE WHEN a.ahead >= 1000 THEN j.seq - (SELECT min(p.seq) FROM composition_jobs p WHERE p.status = 'PENDING') END,
             'service_ms', s.service_ms, 'drain_ms', s.drain_ms, 'turn_ms', s.turn_ms, 'turn_dev_ms', s.turn_dev_ms) END
           ORDER BY i.ord)
    INTO result
    FROM unnest(p_ids) WITH ORDINALITY AS i(id, ord)
    LEFT JOIN composition_jobs j ON j.id = i.id
    LEFT JOIN composition_job_stats s ON s.kind = j.kind
    LEFT JOIN LATERAL (
      SELECT count(*)::int AS ahead FROM (
        SELECT 1 FROM composition_jobs p WHERE p.status = 'PENDING' AND p.seq < j.seq LIMIT 1000) x
    ) a ON j.status = 'PENDING';
  RETURN result;
END
$fn$;
