-- The earlier forms of the resend's read, called by nothing since the batched read (027, 036):
-- esoz_medication_request_load (021) and esoz_medication_request_resend_load (024).
DROP FUNCTION IF EXISTS esoz_medication_request_resend_load(uuid, text, uuid, text[], text, integer, integer);
DROP FUNCTION IF EXISTS esoz_medication_request_load(uuid, text, uuid, text[]);
