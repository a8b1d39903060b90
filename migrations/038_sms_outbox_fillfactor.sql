-- Room on each sms_outbox page for its rows' later versions. Every row is updated twice in its life
-- (the relay's enqueued_at stamp, then SENT or FAILED); with full pages the second update cannot stay
-- on its page and writes a new entry into all four indexes. With half-full pages it is a HOT update
-- (it changes no indexed column) and page pruning reclaims the dead versions in place. Measured on
-- PostgreSQL 15 (docs/decisions.md, "SMS outbox pages"): insert + relay stamp + SENT of 20 000 SMS in
-- batches of 500 took 1.63 s at fillfactor 100 and 1.18 s at 50, and left a smaller heap
-- (11 MB instead of 15 MB) and smaller indexes. Applies to pages written from now on; no rewrite.
ALTER TABLE sms_outbox SET (fillfactor = 50);
