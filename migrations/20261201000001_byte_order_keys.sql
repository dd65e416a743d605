-- Ids compare byte by byte (COLLATE "C"). They are producers' opaque
-- strings, never sorted for people, and under the database's linguistic
-- collation every btree comparison on them (inbox dedup, state keys, the
-- outbox's cause index) went through strcoll: a tenth of PostgreSQL's CPU
-- while draining a backlog. The views read outbox columns, so they are
-- dropped and created again unchanged.
DROP VIEW outbox_ledger;
DROP VIEW outbox_unpublished;

ALTER TABLE inbox ALTER COLUMN event_id TYPE text COLLATE "C";
ALTER TABLE state
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN key TYPE text COLLATE "C",
    ALTER COLUMN campaign_id TYPE text COLLATE "C",
    ALTER COLUMN creator_id TYPE text COLLATE "C",
    ALTER COLUMN product_id TYPE text COLLATE "C";
ALTER TABLE outbox ALTER COLUMN causation_id TYPE text COLLATE "C";

CREATE VIEW outbox_unpublished AS
    SELECT o.* FROM outbox o WHERE o.seq > (SELECT published_seq FROM relay_cursor);
CREATE VIEW outbox_ledger AS
    SELECT o.*, l.published_at, (u.seq IS NOT NULL) AS unroutable
    FROM outbox o
    LEFT JOIN relay_log l ON o.seq BETWEEN l.first_seq AND l.last_seq
    LEFT JOIN outbox_unroutable u ON u.seq = o.seq;
