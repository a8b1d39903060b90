-- МВТН chains (RC_5 extension/reduction, RC_6 refinement, RC_7 replacement; docs/compositions.md).
--
-- The link a composition makes to an earlier one is part of its document (relatesTo, signed by the
-- doctor), so it is derived from the document rather than written beside it: compositions written by
-- any path (create, the fixture kind, rows signed before chains existed) carry it the same way.
-- relates_to_code is lower-cased (the published texts write REPLACES, MIS write replaces).
ALTER TABLE compositions
  ADD COLUMN relates_to_id uuid GENERATED ALWAYS AS (
    CASE WHEN (document::json #>> '{relatesTo,targetIdentifier,value}')
              ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
         THEN (document::json #>> '{relatesTo,targetIdentifier,value}')::uuid END) STORED,
  ADD COLUMN relates_to_code text GENERATED ALWAYS AS (lower(document::json #>> '{relatesTo,code}')) STORED,
  -- the flow create chose for the link (RC_5, RC_6, RC_7); sign re-checks the target for that flow
  ADD COLUMN chain_flow text CHECK (chain_flow IN ('RC_5', 'RC_6', 'RC_7')),
  -- the status an AMENDED composition had before a link was signed (FINAL, or ENTERED_IN_ERROR for a
  -- replaced one): cancelling the link gives it back
  ADD COLUMN amended_from_status text CHECK (amended_from_status IN ('FINAL', 'ENTERED_IN_ERROR'));

-- "the successors of": the last-link rule (1153) and the relatesTo search filter
CREATE INDEX compositions_relates_to_idx ON compositions (relates_to_id, status) WHERE relates_to_id IS NOT NULL;

-- the ERLN simulator keeps the SL number a continuation or a shortening refers to (src/erln/sim-store-db.ts)
ALTER TABLE erln_sim_records ADD COLUMN previous_sl_num text;
