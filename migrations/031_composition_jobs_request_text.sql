-- Keep the request body exactly as the client sent it (jsonb would reorder its keys, and the
-- composition document is built from it).
ALTER TABLE composition_jobs ALTER COLUMN request TYPE text USING request::text;
