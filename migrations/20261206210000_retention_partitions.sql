-- Retention (contract §1): the inbox keeps applied events for the
-- deduplication window, the outbox its published rows for theirs. Both
-- become tables partitioned by the time the worker stored the row, so that
-- what expired goes as whole partitions (DROP TABLE: no dead tuples, no
-- vacuum debt, no index bloat), dropped by the worker's maintenance task
-- (src/store/retention.rs).
--
-- Deduplication stays exact: a primary key of a partitioned table must hold
-- the partition key, so the CloudEvent id moves to its own table, inbox_ids
-- (id, received_at), not partitioned, whose primary key is the id alone —
-- the same unique index the inbox had, probed the same way (probing one
-- index per partition was measured 27 times slower). Its rows are narrow;
-- the maintenance task deletes those past the window in small batches.
--
-- Existing rows stay where they are: each old table becomes the partition
-- `*_legacy` covering everything before this migration, dropped like any
-- other partition once all of it has expired (for the outbox: once all of
-- it is published too). The new partitions are created by the worker at
-- start (before it consumes) and ahead of time after that; a default
-- partition catches rows should that ever fall behind.

-- The deduplication key, copied from the inbox as it is now.
CREATE TABLE inbox_ids (
    event_id     text COLLATE "C" PRIMARY KEY,
    received_at  timestamptz NOT NULL
);
INSERT INTO inbox_ids (event_id, received_at) SELECT event_id, received_at FROM inbox;
CREATE INDEX inbox_ids_received ON inbox_ids (received_at);

ALTER TABLE inbox DROP CONSTRAINT inbox_pkey;
CREATE TEMP TABLE inbox_next_seq ON COMMIT DROP AS
    SELECT GREATEST((SELECT max(seq) FROM inbox), (SELECT last_value FROM inbox_seq_seq)) + 1 AS seq;
ALTER TABLE inbox ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE inbox RENAME TO inbox_legacy;
CREATE TABLE inbox (
    event_id     text COLLATE "C" NOT NULL,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    type         text        NOT NULL,
    source       text        NOT NULL,
    event_time   timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    outcomes     integer     NOT NULL,
    body         text        NOT NULL
) PARTITION BY RANGE (received_at);
CREATE TABLE inbox_default PARTITION OF inbox DEFAULT;

-- The outbox: the relay reads it by seq, which goes on counting where the
-- old table stopped. outbox_unroutable's foreign key goes (a key of the
-- partitioned table would have to hold created_at too); the maintenance
-- task removes its rows with the outbox rows they name.
DROP VIEW outbox_ledger;
DROP VIEW outbox_unpublished;
ALTER TABLE outbox_unroutable DROP CONSTRAINT outbox_unroutable_seq_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
ALTER INDEX outbox_causation RENAME TO outbox_legacy_causation;
CREATE TEMP TABLE outbox_next_seq ON COMMIT DROP AS
    SELECT GREATEST((SELECT max(seq) FROM outbox), (SELECT last_value FROM outbox_seq_seq)) + 1 AS seq;
ALTER TABLE outbox ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE outbox RENAME TO outbox_legacy;
CREATE TABLE outbox (
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    id            uuid        NOT NULL,
    type          text        NOT NULL,
    causation_id  text COLLATE "C" NOT NULL,
    body          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (seq, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX outbox_causation ON outbox (causation_id);
CREATE TABLE outbox_default PARTITION OF outbox DEFAULT;

DO $$
DECLARE
    next_seq bigint := (SELECT seq FROM outbox_next_seq);
    next_inbox_seq bigint := (SELECT seq FROM inbox_next_seq);
BEGIN
    EXECUTE format('ALTER TABLE inbox ALTER COLUMN seq RESTART WITH %s', COALESCE(next_inbox_seq, 1));
    EXECUTE format('ALTER TABLE outbox ALTER COLUMN seq RESTART WITH %s', COALESCE(next_seq, 1));
    -- Everything stored so far is older than this transaction.
    EXECUTE format('ALTER TABLE inbox ATTACH PARTITION inbox_legacy FOR VALUES FROM (MINVALUE) TO (%L)', now());
    EXECUTE format('ALTER TABLE outbox ATTACH PARTITION outbox_legacy FOR VALUES FROM (MINVALUE) TO (%L)', now());
END $$;

CREATE VIEW outbox_unpublished AS
    SELECT o.* FROM outbox o WHERE o.seq > (SELECT published_seq FROM relay_cursor);
CREATE VIEW outbox_ledger AS
    SELECT o.*, l.published_at, (u.seq IS NOT NULL) AS unroutable
    FROM outbox o
    LEFT JOIN relay_log l ON o.seq BETWEEN l.first_seq AND l.last_seq
    LEFT JOIN outbox_unroutable u ON u.seq = o.seq;

-- One row per maintenance round, for operators: when it ran, which
-- PostgreSQL backend (one at a time, under an advisory lock), what it did.
CREATE TABLE retention_runs (
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    backend_pid  integer     NOT NULL,
    created      integer     NOT NULL,
    dropped      integer     NOT NULL,
    ids_deleted  bigint      NOT NULL
);
CREATE INDEX retention_runs_started ON retention_runs (started_at);
