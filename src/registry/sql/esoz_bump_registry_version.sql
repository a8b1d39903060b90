-- Versions for the hot reads (src/eprescription/read.ts, src/registry/reference-cache.ts). Each API
-- process keeps copies of rows that the resend and the MR view read on every request: reference rows
-- (legal entities, divisions, employees with parties, medications, medical programs) and a person with
-- their authentication methods. The copies are exact, not time-based: every statement that writes a
-- registry table bumps its scope's version (table registry_version) in the same transaction ('prm' for
-- the reference tables, 'mpi' for persons and their methods), and the hot read returns the current
-- versions, so a process uses a copy only while it is still the current state — on any number of
-- processes. The triggers live here with their function: a trigger needs it to exist.
CREATE OR REPLACE FUNCTION esoz_bump_registry_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE registry_version SET version = version + 1 WHERE scope = TG_ARGV[0];
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER legal_entities_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON legal_entities
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE OR REPLACE TRIGGER divisions_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON divisions
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE OR REPLACE TRIGGER parties_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON parties
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE OR REPLACE TRIGGER employees_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employees
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE OR REPLACE TRIGGER medications_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON medications
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE OR REPLACE TRIGGER medical_programs_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON medical_programs
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('prm');
CREATE OR REPLACE TRIGGER persons_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON persons
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('mpi');
CREATE OR REPLACE TRIGGER person_authentication_methods_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON person_authentication_methods
  FOR EACH STATEMENT EXECUTE FUNCTION esoz_bump_registry_version('mpi');
