-- O9: a fact that arrives late (a product update, a partnership, a join
-- stamped before orders already decided) re-decides the pending
-- commissions of orders paid at or after it. An order row now carries its
-- business time (when it was paid), and orders with a pending commission
-- are indexed by creator and by product with that time — pending ones
-- only: a commission leaves these indexes once payable or cancelled, so
-- their size follows what is still open, not what was ever sold. A fact
-- that is not late finds nothing past its time, in one index probe.
ALTER TABLE state ADD COLUMN occurred_at timestamptz;
UPDATE state SET occurred_at = (body::jsonb #>> '{paid,time}')::timestamptz
    WHERE kind = 'order' AND body::jsonb ? 'paid';
CREATE INDEX state_pending_by_creator ON state (creator_id, occurred_at, key) WHERE kind = 'order' AND pending;
CREATE INDEX state_pending_by_product ON state (product_id, occurred_at, key) WHERE kind = 'order' AND pending;
