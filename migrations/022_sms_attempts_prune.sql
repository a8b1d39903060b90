-- Periodic pruning of expired SMS timeout attempts (entities never checked again would keep theirs).
CREATE INDEX sms_attempts_time_idx ON sms_attempts (attempted_at);
