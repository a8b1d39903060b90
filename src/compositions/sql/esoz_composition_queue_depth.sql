-- The queue depth the accept eta counts (jobs.ts): PENDING jobs, counted up to 1000; past that, the
-- span of PENDING positions stands in (an upper bound, from the two ends of the partial index), so
-- the estimate never costs as much as the backlog is long.
CREATE OR REPLACE FUNCTION esoz_composition_queue_depth()
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
