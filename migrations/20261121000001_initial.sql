-- Inbox: every applied event, once. Its primary key is the deduplication
-- key (the CloudEvent id); the body is kept exactly as received (`json`
-- keeps the text; cast to jsonb to query it).
CREATE TABLE inbox (
    event_id     text PRIMARY KEY,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    type         text        NOT NULL,
    source       text        NOT NULL,
    event_time   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    outcomes     integer     NOT NULL,
    body         json        NOT NULL
);
CREATE INDEX inbox_type_time ON inbox (type, event_time);

-- State: one JSON document per aggregate (see src/domain/state.rs). The
-- extra columns index the few look-ups that are not by id.
CREATE TABLE state (
    kind         text        NOT NULL,
    key          text        NOT NULL,
    body         json        NOT NULL,
    campaign_id  text,
    creator_id   text,
    product_id   text,
    pending      boolean     NOT NULL DEFAULT false,
    due_at       timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
CREATE INDEX state_pending_orders ON state (creator_id) WHERE kind = 'order' AND pending;
CREATE INDEX state_creator_product ON state (creator_id, product_id) WHERE kind = 'order';
CREATE INDEX state_timers_due ON state (due_at) WHERE kind = 'timer';
CREATE INDEX state_participations ON state (campaign_id) WHERE kind = 'participation';

-- Outbox: outcomes decided in the same transaction as the state change,
-- published by the relay with publisher confirms. Rows are kept as the
-- ledger of what was decided (published_at says when it left). Outcome ids
-- are unique by construction (derived from the cause, applied once).
CREATE TABLE outbox (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            uuid        NOT NULL,
    type          text        NOT NULL,
    causation_id  text        NOT NULL,
    body          json        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    -- The broker had no queue for it (mandatory publish returned it).
    unroutable    boolean     NOT NULL DEFAULT false
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_causation ON outbox (causation_id);
