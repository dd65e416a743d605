-- Explanations (issue 17, contract.md §1 "read API" and "explain").
--
-- A creator's pending commission totals by seller are read from columns,
-- not from the documents: a creator with 10 000 pending commissions is
-- summed through the pending-by-creator index without parsing a body.
-- Pairs carry their seller and creator, so a creator's paused connections
-- are found by index too.
ALTER TABLE state
    ADD COLUMN seller_id text COLLATE "C",
    ADD COLUMN currency text,
    ADD COLUMN pending_amount numeric;
UPDATE state SET
    seller_id = body::jsonb #>> '{paid,seller_id}',
    currency = body::jsonb #>> '{paid,currency}',
    pending_amount = CASE WHEN pending THEN
        coalesce((body::jsonb #>> '{commission,amount}')::numeric, 0)
        + coalesce((body::jsonb #>> '{commission,shop_ads_amount}')::numeric, 0) END
    WHERE kind = 'order' AND body::jsonb ? 'paid';
UPDATE state SET seller_id = key::jsonb ->> 0, creator_id = key::jsonb ->> 1 WHERE kind = 'pair';
CREATE INDEX state_pairs_by_creator ON state (creator_id) WHERE kind = 'pair';

-- Events the consumer dead-lettered, with the reason: `explain event`
-- answers for an event that never applied. Written once the dead letter is
-- in the DLQ; a message without an id (not JSON) is recorded under its
-- AMQP message id, or not at all.
CREATE TABLE dead_letters (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id  text COLLATE "C" NOT NULL,
    type      text,
    reason    text NOT NULL,
    detail    text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_event ON dead_letters (event_id);

-- A creator's pending commission totals by seller and currency, kept by
-- the apply statement itself (store/commit.rs) from the rows it changes:
-- reading them costs one index probe per seller, whatever the number of
-- commissions (summing 10 000 rows took 25 ms on an idle database).
CREATE TABLE creator_pending (
    creator_id  text COLLATE "C" NOT NULL,
    seller_id   text COLLATE "C" NOT NULL,
    currency    text NOT NULL,
    n           bigint NOT NULL,
    amount      numeric NOT NULL,
    PRIMARY KEY (creator_id, seller_id, currency)
);
INSERT INTO creator_pending (creator_id, seller_id, currency, n, amount)
    SELECT creator_id, seller_id, currency, count(*), sum(pending_amount) FROM state
    WHERE kind = 'order' AND pending AND creator_id IS NOT NULL AND seller_id IS NOT NULL AND currency IS NOT NULL
    GROUP BY creator_id, seller_id, currency;
