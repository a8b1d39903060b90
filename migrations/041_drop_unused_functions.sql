-- The lock-free SMS window read of 023_sms_outbox_relay.sql, called by nothing: the resend reads the
-- window inside its one read (esoz_medication_request_read_many, 036_medication_request_read_set_based.sql).
DROP FUNCTION IF EXISTS esoz_sms_window_peek(text, text, integer);
