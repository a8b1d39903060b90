-- A worker's claim of fetched jobs: the PENDING ones get started_at and an attempt; finished (or
-- deleted) ones are not returned. Answers the claimed rows (any order). Its commit does not wait for
-- the WAL flush: a claim lost in a crash only means the job is claimed again (no domain data here).
CREATE OR REPLACE FUNCTION esoz_composition_jobs_claim(p_ids uuid[])
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
