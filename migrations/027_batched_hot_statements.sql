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
  -- json_to_recordset parses each item once (json ->> would parse the item again for every field)
  SELECT json_agg(esoz_medication_request_read(i.id, i.number, i.le, i.types, i.entity_name, i.timeout, i.mr_version, i.person, i.mpi_version)
                  ORDER BY i.ord)
    INTO result
    FROM ROWS FROM (json_to_recordset(p_items) AS (id uuid, number text, le uuid, types text[], entity_name text, timeout int,
                                                   mr_version bigint, person uuid, mpi_version bigint))
         WITH ORDINALITY AS i(id, number, le, types, entity_name, timeout, mr_version, person, mpi_version, ord);
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
    SELECT * FROM ROWS FROM (json_to_recordset(p_items) AS (entity_name text, entity_id text, max int, timeout int, phone text, body text))
           WITH ORDINALITY AS x
     ORDER BY hashtext(x.entity_name || ':' || x.entity_id), x.ordinality
  LOOP
    results[it.ordinality] := esoz_sms_attempt(it.entity_name, it.entity_id, it.max, it.timeout, it.phone, it.body);
  END LOOP;
  RETURN array_to_json(results);
END
$fn$;
