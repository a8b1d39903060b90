-- ETA: besides the service time (claim → commit) keep the turnaround a client sees (accept → finish)
-- and its mean deviation, so an idle queue's eta covers pickup and commit latency with a margin.
ALTER TABLE composition_job_stats ADD COLUMN turn_ms double precision NOT NULL DEFAULT 0;
ALTER TABLE composition_job_stats ADD COLUMN turn_dev_ms double precision NOT NULL DEFAULT 0;
