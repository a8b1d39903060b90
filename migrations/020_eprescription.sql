-- ePrescription (OPS DB): medication requests. Functions live next to the code that calls them
-- (src/eprescription/sql/).
-- References to registry rows (legal entity, division, employee, person, medication, program) are
-- plain ids, as in ESOZ where OPS, PRM and MPI are separate databases: no foreign keys.

CREATE TABLE medication_requests (
  id                  uuid PRIMARY KEY,
  request_number      text NOT NULL,
  status              text NOT NULL DEFAULT 'ACTIVE',
  intent              text NOT NULL DEFAULT 'order',
  category            text NOT NULL DEFAULT 'community',
  priority            text,
  verification_code   text,
  created_at          date NOT NULL,
  started_at          date NOT NULL,
  ended_at            date NOT NULL,
  dispense_valid_from date,
  dispense_valid_to   date,
  legal_entity_id     uuid NOT NULL,
  division_id         uuid NOT NULL,
  employee_id         uuid NOT NULL,
  person_id           uuid NOT NULL,
  medication_id       uuid NOT NULL,
  medication_qty      double precision NOT NULL,
  medical_program_id  uuid,
  context             jsonb,
  based_on            jsonb,
  dosage_instruction  jsonb,
  rejected_at         date,
  rejected_by         uuid,
  reject_reason       text,
  reject_reason_code  text,
  is_blocked          boolean NOT NULL DEFAULT false,
  block_reason        text,
  block_reason_code   text,
  prior_prescription  jsonb,
  container_dosage    jsonb,
  inserted_at         timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX medication_requests_request_number_idx ON medication_requests (request_number);
CREATE INDEX medication_requests_legal_entity_idx ON medication_requests (legal_entity_id);
CREATE INDEX medication_requests_person_idx ON medication_requests (person_id);
CREATE INDEX medication_requests_employee_idx ON medication_requests (employee_id);

