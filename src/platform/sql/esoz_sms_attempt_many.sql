-- SMS timeout attempts (esoz_sms_attempt.sql), batched (src/platform/batch.ts coalesces concurrent
-- calls, src/platform/sms/outbox.ts): a json array of items in, a json array of results in the same
-- order out, each item's result exactly what the single call answers for it. One per item, in ONE
-- transaction: the items run in the order of their advisory lock keys, so two batches (of any
-- processes) always take their locks in the same order and never deadlock; items of one entity run one
-- after another in arrival order and each counts the attempts recorded before it, exactly as separate
-- calls would. Every lock is held until the batch commits; the batch commits (one WAL flush) for all
-- its items.
-- Items: {"entity_name", "entity_id", "max", "timeout", "phone", "body"}.
CREATE OR REPLACE FUNCTION esoz_sms_attempt_many(p_items json)
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
