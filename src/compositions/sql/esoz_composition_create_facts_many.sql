-- What the create rules (create.ts, checkCreateRules) read, per job. Items: {"encounter_id", "type",
-- "category", "subject_id", "relates_to_id"}. Answers: {"episode_id", "final_exists" (1127),
-- "newborn_exists", "relates_to": {status, type_code, category_code, subject_type, subject_id, focus_type,
-- focus_id, event, cancelled_at, cancel_reason_code, successor_exists, erln_registered} | null}.
-- successor_exists: a FINAL or AMENDED composition links to the related one (it is not the last link of its
-- chain: 1153). erln_registered: ERLN accepted its record (an SL number a continuation can name).
CREATE OR REPLACE FUNCTION esoz_composition_create_facts_many(p_items json)
RETURNS json LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_agg(json_build_object(
           'episode_id', (SELECT e.episode_id FROM encounters e WHERE e.id = i.encounter_id),
           'final_exists', EXISTS (SELECT 1 FROM compositions c
                                    WHERE c.encounter_id = i.encounter_id AND c.type_code = i.type
                                      AND c.category_code = i.category AND c.status = 'FINAL'),
           'newborn_exists', CASE WHEN i.type = 'NEWBORN' THEN EXISTS (
                                    SELECT 1 FROM compositions c WHERE c.type_code = 'NEWBORN'
                                       AND c.subject_id = i.subject_id AND c.status <> 'ENTERED_IN_ERROR') END,
           'relates_to', (SELECT json_build_object(
                                   'status', c.status, 'type_code', c.type_code, 'category_code', c.category_code,
                                   'subject_type', c.subject_type, 'subject_id', c.subject_id,
                                   'focus_type', c.focus_type, 'focus_id', c.focus_id,
                                   'event', c.document::json -> 'event',
                                   'cancelled_at', c.cancelled_at,
                                   'cancel_reason_code', c.cancel_reason::json #>> '{coding,0,code}',
                                   'successor_exists', EXISTS (
                                     SELECT 1 FROM compositions s
                                      WHERE s.relates_to_id = c.id AND s.status IN ('FINAL', 'AMENDED')),
                                   'erln_registered', EXISTS (
                                     SELECT 1 FROM composition_integration_tasks t
                                      WHERE t.composition_id = c.id AND t.type = 'CREATE_ERLN_RECORD'
                                        AND t.integration_status = 'SUCCESS'))
                            FROM compositions c WHERE c.id = i.relates_to_id))
           ORDER BY i.ord)
    INTO result
    FROM ROWS FROM (json_to_recordset(p_items) AS (encounter_id uuid, type text, category text, subject_id uuid, relates_to_id uuid))
         WITH ORDINALITY AS i(encounter_id, type, category, subject_id, relates_to_id, ord);
  RETURN result;
END
$fn$;
