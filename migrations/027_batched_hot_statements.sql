-- Batched forms of the two resend statements (src/platform/batch.ts coalesces concurrent calls): each
-- takes a json array of items and answers a json array of results in the same order, each item's
-- result exactly what the single-item function answers for it.

-- Reads are independent: one call of esoz_medication_request_read (migration 025) per item.
-- Items: {"id", "number", "le", "types", "entity_name", "timeout", "mr_version", "person", "mpi_version"}.
CREATE FUNCTION esoz_medication_request_read_many(p_items json)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  result json;
BEGIN
  SELECT json_agg(esoz_medication_request_read(
           (i.item->>'id')::uuid, i.item->>'number', (i.item->>'le')::uuid,
           ARRAY(SELECT json_array_elements_text(i.item->'types')),
           i.item->>'entity_name', (i.item->>'timeout')::int,
           (i.item->>'mr_version')::bigint, (i.item->>'person')::uuid, (i.item->>'mpi_version')::bigint)
           ORDER BY i.ord)
    INTO result
    FROM json_array_elements(p_items) WITH ORDINALITY AS i(item, ord);
  RETURN result;
END
$fn$;

-- SMS timeout attempts (esoz_sms_attempt, migration 026), one per item, in ONE transaction: the items
-- run in the order of their advisory lock keys, so two batches (of any processes) always take their
-- locks in the same order and never deadlock; items of one entity run one after another in arrival
-- order and each counts the attempts recorded before it, exactly as separate calls would. Every lock
-- is held until the batch commits; the batch commits (one WAL flush) for all its items.
-- Items: {"entity_name", "entity_id", "max", "timeout", "phone", "body"}.
CREATE FUNCTION esoz_sms_attempt_many(p_items json)
RETURNS json LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  it record;
  results json[] := '{}';
BEGIN
  FOR it IN
    SELECT i.ord, i.item FROM json_array_elements(p_items) WITH ORDINALITY AS i(item, ord)
     ORDER BY hashtext((i.item->>'entity_name') || ':' || (i.item->>'entity_id')), i.ord
  LOOP
    results[it.ord] := esoz_sms_attempt(it.item->>'entity_name', it.item->>'entity_id', (it.item->>'max')::int,
                                        (it.item->>'timeout')::int, it.item->>'phone', it.item->>'body');
  END LOOP;
  RETURN array_to_json(results);
END
$fn$;
