-- Registry data the seeds need: PRM (legal entities, divisions, parties, employees), MPI (persons,
-- authentication methods, prepersons), medical programs, medications, episodes/encounters, dictionaries.
-- Field names follow the ESOZ responses (snake_case). Functions and the registry_version triggers live
-- next to the code that calls them (src/registry/sql/).

CREATE TABLE legal_entities (
  id           uuid PRIMARY KEY,
  name         text NOT NULL,
  short_name   text,
  public_name  text,
  type         text NOT NULL DEFAULT 'MSP',
  edrpou       text NOT NULL,
  status       text NOT NULL DEFAULT 'ACTIVE',
  is_active    boolean NOT NULL DEFAULT true,
  inserted_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE divisions (
  id              uuid PRIMARY KEY,
  legal_entity_id uuid NOT NULL REFERENCES legal_entities(id),
  name            text NOT NULL,
  type            text NOT NULL DEFAULT 'CLINIC',
  addresses       jsonb NOT NULL DEFAULT '[]',
  phones          jsonb NOT NULL DEFAULT '[]',
  email           text,
  working_hours   jsonb,
  external_id     text,
  location        jsonb,
  dls_id          text,
  dls_verified    boolean,
  status          text NOT NULL DEFAULT 'ACTIVE',
  is_active       boolean NOT NULL DEFAULT true,
  inserted_at     timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX divisions_legal_entity_idx ON divisions (legal_entity_id);

CREATE TABLE parties (
  id           uuid PRIMARY KEY,
  first_name   text NOT NULL,
  last_name    text NOT NULL,
  second_name  text,
  tax_id       text,
  no_tax_id    boolean NOT NULL DEFAULT false,
  birth_date   date,
  gender       text,
  email        text,
  phones       jsonb NOT NULL DEFAULT '[]',
  inserted_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE employees (
  id              uuid PRIMARY KEY,
  legal_entity_id uuid NOT NULL REFERENCES legal_entities(id),
  division_id     uuid REFERENCES divisions(id),
  party_id        uuid NOT NULL REFERENCES parties(id),
  position        text NOT NULL DEFAULT 'P6',
  employee_type   text NOT NULL DEFAULT 'DOCTOR',
  speciality      text,
  status          text NOT NULL DEFAULT 'APPROVED',
  is_active       boolean NOT NULL DEFAULT true,
  start_date      date,
  end_date        date,
  inserted_at     timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employees_legal_entity_idx ON employees (legal_entity_id);
CREATE INDEX employees_party_idx ON employees (party_id);

CREATE TABLE persons (
  id           uuid PRIMARY KEY,
  first_name   text NOT NULL,
  last_name    text NOT NULL,
  second_name  text,
  birth_date   date NOT NULL,
  gender       text NOT NULL DEFAULT 'MALE',
  tax_id       text,
  no_tax_id    boolean NOT NULL DEFAULT false,
  email        text,
  phones       jsonb NOT NULL DEFAULT '[]',
  status       text NOT NULL DEFAULT 'active',
  is_active    boolean NOT NULL DEFAULT true,
  inserted_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- identifiers a confidant block shows masked (GET /api/persons/{id}/authentication_methods)
  unzr         text,
  documents    jsonb NOT NULL DEFAULT '[]'
);

-- MPI person_authentication_methods: OTP (phone_number), OFFLINE, THIRD_PERSON (value = confidant person id), NA.
CREATE TABLE person_authentication_methods (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  person_id    uuid NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
  type         text NOT NULL CHECK (type IN ('OTP', 'OFFLINE', 'THIRD_PERSON', 'NA')),
  phone_number text,
  value        uuid,
  alias        text,
  is_active    boolean NOT NULL DEFAULT true,
  ended_at     timestamptz,
  inserted_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  inserted_by  uuid,
  updated_by   uuid
);
CREATE INDEX person_auth_methods_person_idx ON person_authentication_methods (person_id, inserted_at);

CREATE TABLE prepersons (
  id           uuid PRIMARY KEY,
  first_name   text,
  last_name    text,
  second_name  text,
  birth_date   date,
  gender       text,
  status       text NOT NULL DEFAULT 'ACTIVE',
  is_active    boolean NOT NULL DEFAULT true,
  inserted_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- the MIS's own id of the preperson (MPI prepersons)
  external_id  text
);

CREATE TABLE medical_programs (
  id                               uuid PRIMARY KEY,
  name                             text NOT NULL,
  type                             text NOT NULL DEFAULT 'MEDICATION',
  funding_source                   text,
  is_active                        boolean NOT NULL DEFAULT true,
  medication_request_allowed       boolean NOT NULL DEFAULT true,
  medication_request_allowed_text  text,
  medication_dispense_allowed      boolean NOT NULL DEFAULT true,
  medication_dispense_allowed_text text,
  medical_program_settings         jsonb NOT NULL DEFAULT '{}',
  medical_program_settings_text    text,
  inserted_at                      timestamptz NOT NULL DEFAULT now(),
  inserted_by                      uuid,
  updated_at                       timestamptz NOT NULL DEFAULT now(),
  updated_by                       uuid,
  -- dictionary MR_BLANK_TYPES, required in every medical program response of the blueprint
  mr_blank_type                    text NOT NULL DEFAULT 'F-1'
);

-- Medications (brand or INNM dosage) with dosage and ingredients as ESOZ shows them in medication_info.
CREATE TABLE medications (
  id           uuid PRIMARY KEY,
  name         text NOT NULL,
  type         text NOT NULL DEFAULT 'BRAND',
  form         text NOT NULL DEFAULT 'PILL',
  dosage       jsonb,
  ingredients  jsonb NOT NULL DEFAULT '[]',
  container    jsonb,
  is_active    boolean NOT NULL DEFAULT true,
  inserted_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE episodes (
  id              uuid PRIMARY KEY,
  person_id       uuid NOT NULL,
  legal_entity_id uuid,
  name            text,
  status          text NOT NULL DEFAULT 'active',
  period_start    timestamptz NOT NULL DEFAULT now(),
  period_end      timestamptz,
  inserted_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX episodes_person_idx ON episodes (person_id);

CREATE TABLE encounters (
  id              uuid PRIMARY KEY,
  person_id       uuid NOT NULL,
  episode_id      uuid REFERENCES episodes(id),
  legal_entity_id uuid,
  division_id     uuid,
  employee_id     uuid,
  status          text NOT NULL DEFAULT 'finished',
  period_start    timestamptz NOT NULL DEFAULT now(),
  period_end      timestamptz,
  inserted_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX encounters_person_idx ON encounters (person_id);

CREATE TABLE dictionaries (
  name        text PRIMARY KEY,
  labels      text[] NOT NULL DEFAULT '{}',
  is_active   boolean NOT NULL DEFAULT true
);
CREATE TABLE dictionary_values (
  dictionary_name text NOT NULL REFERENCES dictionaries(name) ON DELETE CASCADE,
  code            text NOT NULL,
  description     text NOT NULL,
  is_active       boolean NOT NULL DEFAULT true,
  PRIMARY KEY (dictionary_name, code)
);

-- Sandbox bookkeeping (demo credentials of the embedded sandbox, first-start markers).
CREATE TABLE sandbox_state (
  key   text PRIMARY KEY,
  value jsonb NOT NULL
);

-- Versions of the registry rows the hot reads keep copies of (src/registry/sql/esoz_bump_registry_version.sql:
-- every statement that writes a registry table bumps its scope's version in the same transaction).
CREATE TABLE registry_version (
  scope   text PRIMARY KEY CHECK (scope IN ('prm', 'mpi')),
  version bigint NOT NULL
);
INSERT INTO registry_version(scope, version) VALUES ('prm', 1), ('mpi', 1);
