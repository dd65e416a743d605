-- S3 reads a creator's orders of a product paid since a refundable
-- sample's purchase (its 60-day window), not every order of the pair ever.
-- Keyed by (creator, paid time), new orders append at the end of their
-- creator's range: the pages an insert touches are one per active creator,
-- where (creator, product) had one per creator × product pair ever sold —
-- with millions of orders, more leaf pages than shared_buffers holds, so
-- most inserts read and dirtied a cold page (the aged benchmark, README).
DROP INDEX IF EXISTS state_creator_product;
CREATE INDEX state_orders_by_creator ON state (creator_id, occurred_at) WHERE kind = 'order';
