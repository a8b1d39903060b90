-- createComposition's synchronous reference checks (validate.ts): what the references point to.
-- Items: {"subject_type", "subject_id", "focus_type", "focus_id", "encounter_id", "author_id", "relates_to_id"}
-- (ids already checked to be UUIDs, or null). Answers: {"subject", "focus": {is_active, status} | null,
-- "encounter": {person_id, episode_id} | null, "author": {legal_entity_id, is_active, status} | null,
-- "relates_to_exists": boolean}.
CREATE OR REPLACE FUNCTION esoz_composition_refs_many(p_items json)
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_agg(json_build_object(
           'subject', CASE i.subject_type
             WHEN 'person' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM persons p WHERE p.id = i.subject_id)
             WHEN 'preperson' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM prepersons p WHERE p.id = i.subject_id) END,
           'focus', CASE i.focus_type
             WHEN 'person' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM persons p WHERE p.id = i.focus_id)
             WHEN 'preperson' THEN (SELECT json_build_object('is_active', p.is_active, 'status', p.status) FROM prepersons p WHERE p.id = i.focus_id) END,
           'encounter', (SELECT json_build_object('person_id', e.person_id, 'episode_id', e.episode_id) FROM encounters e WHERE e.id = i.encounter_id),
           'author', (SELECT json_build_object('legal_entity_id', e.legal_entity_id, 'is_active', e.is_active, 'status', e.status)
                        FROM employees e WHERE e.id = i.author_id),
           'relates_to_exists', EXISTS (SELECT 1 FROM compositions c WHERE c.id = i.relates_to_id))
           ORDER BY i.ord)
    INTO result
    FROM ROWS FROM (json_to_recordset(p_items) AS (subject_type text, subject_id uuid, focus_type text, focus_id uuid,
                                                   encounter_id uuid, author_id uuid, relates_to_id uuid))
         WITH ORDINALITY AS i(subject_type, subject_id, focus_type, focus_id, encounter_id, author_id, relates_to_id, ord);
  RETURN result;
END
$fn$;
