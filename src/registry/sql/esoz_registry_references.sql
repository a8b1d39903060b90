-- The reference rows of a medication request's view (src/registry/reference-cache.ts), in the view's
-- shapes, with the 'prm' registry version they were read at: ONE statement, so one snapshot. The
-- medical program carries `mr_blank_type` after `funding_source` (the blueprint's order of
-- Medical_Program_Response).
CREATE OR REPLACE FUNCTION esoz_registry_references(p_le uuid, p_division uuid, p_employee uuid, p_medication uuid, p_program uuid,
                                         OUT version bigint, OUT legal_entity json, OUT division json, OUT employee json,
                                         OUT party json, OUT medication json, OUT medical_program json)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  SELECT (SELECT v.version FROM registry_version v WHERE v.scope = 'prm'),
         (SELECT json_build_object(
            'id', le.id, 'name', le.name, 'short_name', le.short_name, 'public_name', le.public_name,
            'type', le.type, 'edrpou', le.edrpou, 'status', le.status)
            FROM legal_entities le WHERE le.id = p_le),
         (SELECT json_build_object(
            'id', d.id, 'legal_entity_id', d.legal_entity_id, 'name', d.name, 'addresses', d.addresses, 'phones', d.phones,
            'email', d.email, 'working_hours', d.working_hours, 'type', d.type, 'external_id', d.external_id,
            'location', d.location, 'dls_id', d.dls_id, 'dls_verified', d.dls_verified)
            FROM divisions d WHERE d.id = p_division),
         (SELECT json_build_object('id', e.id, 'position', e.position) FROM employees e WHERE e.id = p_employee),
         (SELECT json_build_object(
            'id', pa.id, 'no_tax_id', pa.no_tax_id, 'first_name', pa.first_name, 'last_name', pa.last_name,
            'second_name', pa.second_name, 'email', pa.email, 'phones', pa.phones)
            FROM employees e JOIN parties pa ON pa.id = e.party_id WHERE e.id = p_employee),
         (SELECT json_build_object(
            'id', m.id, 'name', m.name, 'form', m.form, 'dosage', m.dosage, 'ingredients', m.ingredients)
            FROM medications m WHERE m.id = p_medication),
         (SELECT json_build_object(
            'id', mp.id, 'name', mp.name, 'medical_program_settings', mp.medical_program_settings,
            'medical_program_settings_text', mp.medical_program_settings_text, 'is_active', mp.is_active,
            'medication_dispense_allowed', mp.medication_dispense_allowed,
            'medication_dispense_allowed_text', mp.medication_dispense_allowed_text,
            'medication_request_allowed', mp.medication_request_allowed,
            'medication_request_allowed_text', mp.medication_request_allowed_text,
            'type', mp.type, 'funding_source', mp.funding_source, 'mr_blank_type', mp.mr_blank_type,
            'inserted_at', to_char(mp.inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'inserted_by', mp.inserted_by,
            'updated_at', to_char(mp.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'updated_by', mp.updated_by)
            FROM medical_programs mp WHERE mp.id = p_program)
    INTO version, legal_entity, division, employee, party, medication, medical_program;
END
$fn$;
