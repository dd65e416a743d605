-- Inbox: every applied event, once. Its primary key is the deduplication
-- key (the CloudEvent id); the body is kept exactly as received.
--
-- JSON bodies in this schema are `text`: the worker only writes JSON it
-- produced or parsed, and text skips a second parse on the hot path. Cast
-- to query them: `SELECT body::jsonb -> 'data' FROM outbox`.
CREATE TABLE inbox (
    event_id     text PRIMARY KEY,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    type         text        NOT NULL,
    source       text        NOT NULL,
    event_time   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    outcomes     integer     NOT NULL,
    body         text        NOT NULL
);

-- State: one JSON document per aggregate (see src/domain/state.rs). The
-- extra columns index the few look-ups that are not by id.
CREATE TABLE state (
    kind         text        NOT NULL,
    key          text        NOT NULL,
    body         text        NOT NULL,
    campaign_id  text,
    creator_id   text,
    product_id   text,
    pending      boolean     NOT NULL DEFAULT false,
    due_at       timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
) WITH (fillfactor = 80);  -- room for HOT updates: documents change often
-- Orders of a creator (pending ones are filtered on `pending`; the look-up
-- is rare) and of a creator and product.
CREATE INDEX state_creator_product ON state (creator_id, product_id) WHERE kind = 'order';
CREATE INDEX state_timers_due ON state (due_at) WHERE kind = 'timer';
CREATE INDEX state_participations ON state (campaign_id) WHERE kind = 'participation';

-- Outbox: outcomes decided in the same transaction as the state change,
-- kept as the ledger of what was decided. Outcome ids are unique by
-- construction (derived from the cause, which is applied once).
CREATE TABLE outbox (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            uuid        NOT NULL,
    type          text        NOT NULL,
    causation_id  text        NOT NULL,
    body          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_causation ON outbox (causation_id);

-- The relay publishes outbox rows in `seq` order, with publisher confirms,
-- and then moves this cursor: rows up to `published_seq` have left. Apply
-- transactions are serialized, so committed rows always form a prefix in
-- `seq` order and a cursor is enough (no per-row update).
CREATE TABLE relay_cursor (
    id             integer PRIMARY KEY CHECK (id = 1),
    published_seq  bigint  NOT NULL
);
INSERT INTO relay_cursor (id, published_seq) VALUES (1, 0);

-- One row per relay round: which rows left, when.
CREATE TABLE relay_log (
    first_seq     bigint      NOT NULL,
    last_seq      bigint      NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (first_seq)
);

-- Outcomes the broker returned because no queue was bound for their type.
CREATE TABLE outbox_unroutable (
    seq  bigint PRIMARY KEY REFERENCES outbox (seq)
);

-- For operators: outcomes not yet published, and every outcome with when it left.
CREATE VIEW outbox_unpublished AS
    SELECT o.* FROM outbox o WHERE o.seq > (SELECT published_seq FROM relay_cursor);
CREATE VIEW outbox_ledger AS
    SELECT o.*, l.published_at, (u.seq IS NOT NULL) AS unroutable
    FROM outbox o
    LEFT JOIN relay_log l ON o.seq BETWEEN l.first_seq AND l.last_seq
    LEFT JOIN outbox_unroutable u ON u.seq = o.seq;

-- The apply stream's version: every apply transaction bumps it first. The
-- row lock serializes apply transactions across worker processes, and a
-- worker whose cache was filled at another version knows to drop it.
CREATE TABLE apply_version (
    id       integer PRIMARY KEY CHECK (id = 1),
    version  bigint  NOT NULL
);
INSERT INTO apply_version (id, version) VALUES (1, 0);
