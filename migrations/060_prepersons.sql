-- The MPI prepersons columns the Prepersons API (src/registry/preperson-*.ts) reads and writes
-- beyond the ones the compositions need: the date of death (set by an update; it makes the
-- preperson INACTIVE), the emergency contact, the free-text note given at creation, and who
-- created and last changed the row (the user of the token).
ALTER TABLE prepersons
  ADD COLUMN death_date        date,
  ADD COLUMN emergency_contact jsonb,
  ADD COLUMN note              text,
  ADD COLUMN inserted_by       uuid,
  ADD COLUMN updated_by        uuid;
