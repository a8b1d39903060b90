-- The ETA model's moving averages (jobs.ts foldServiceTimes), one update per finished batch of a
-- kind: the jobs of a batch finish together, so they are one observation, not n — the batch's service
-- time (claim → commit), its slowest turnaround (accept → commit: the deviation then measures how much
-- the worst job of a batch varies from batch to batch, which is what an eta has to cover), and the
-- drain interval (time since the previous completion, over the batch size: 1 ÷ throughput). An estimate
-- only: its commit does not wait for the WAL flush.
CREATE OR REPLACE FUNCTION esoz_composition_job_stats_fold(p_kind text, p_n integer, p_service_ms float8, p_turn_ms float8, p_alpha float8)
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
