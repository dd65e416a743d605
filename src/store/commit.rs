//! The writes of one batch in one statement: inbox rows, changed aggregates
//! and outbox rows go to PostgreSQL together (data-modifying CTEs), one
//! round trip instead of four. A batch whose sweeps change a great many
//! aggregates writes part of them ahead, in the same transaction, with the
//! same statement (no inbox rows, no version bump).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::StoreError;
use super::inbox::InboxRow;
use super::outbox::{OutboxRow, Pending};
use super::state::StateWrites;

const WRITE: &str = "\
WITH bumped AS (
    UPDATE apply_version SET version = version + $22::int8 WHERE id = 1 AND $22::int8 > 0
), inbox_rows AS (
    INSERT INTO inbox (event_id, type, source, event_time, outcomes, body)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int4[], $6::text[])
), pending_totals AS (
    -- A creator's pending totals follow the order rows this statement
    -- changes: minus what they held before (every sub-statement sees the
    -- state as it was), plus what they hold now.
    INSERT INTO creator_pending AS p (creator_id, seller_id, currency, n, amount)
    SELECT creator_id, seller_id, currency, sum(dn), sum(da) FROM (
        SELECT s.creator_id, s.seller_id, s.currency, -1 AS dn, -s.pending_amount AS da
        FROM (
            SELECT * FROM UNNEST($7::text[], $8::text[]) UNION ALL SELECT * FROM UNNEST($15::text[], $16::text[])
        ) AS c(kind, key)
        -- LATERAL: one primary-key lookup per changed order, whatever the
        -- table's size (a plain join was planned as a scan of all of it for
        -- small batches).
        CROSS JOIN LATERAL (
            SELECT * FROM state WHERE kind = c.kind AND key = c.key AND pending
        ) AS s
        WHERE c.kind = 'order'
        UNION ALL
        SELECT creator_id, seller_id, currency, 1, amount
        FROM UNNEST($7::text[], $11::text[], $23::text[], $24::text[], $25::text[]::numeric[], $13::bool[])
            AS w(kind, creator_id, seller_id, currency, amount, pending)
        WHERE kind = 'order' AND pending
    ) d
    WHERE creator_id IS NOT NULL AND seller_id IS NOT NULL AND currency IS NOT NULL
    GROUP BY creator_id, seller_id, currency
    HAVING sum(dn) <> 0 OR sum(da) <> 0
    ON CONFLICT (creator_id, seller_id, currency)
        DO UPDATE SET n = p.n + EXCLUDED.n, amount = p.amount + EXCLUDED.amount
), inbox_keys AS (
    INSERT INTO inbox_ids (event_id, received_at) SELECT UNNEST($1::text[]), now()
), upserted AS (
    INSERT INTO state (kind, key, body, campaign_id, creator_id, product_id, pending, due_at, occurred_at,
                       seller_id, currency, pending_amount)
    SELECT * FROM UNNEST($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                         $13::bool[], $14::timestamptz[], $21::timestamptz[],
                         $23::text[], $24::text[], $25::text[]::numeric[])
    ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body, campaign_id = EXCLUDED.campaign_id,
        creator_id = EXCLUDED.creator_id, product_id = EXCLUDED.product_id, pending = EXCLUDED.pending,
        due_at = EXCLUDED.due_at, occurred_at = EXCLUDED.occurred_at, seller_id = EXCLUDED.seller_id,
        currency = EXCLUDED.currency, pending_amount = EXCLUDED.pending_amount, updated_at = now()
), deleted AS (
    DELETE FROM state s USING UNNEST($15::text[], $16::text[]) AS d(kind, key)
    WHERE s.kind = d.kind AND s.key = d.key
)
INSERT INTO outbox (id, type, causation_id, body)
SELECT id, type, cause, body FROM UNNEST($17::uuid[], $18::text[], $19::text[], $20::text[])
    WITH ORDINALITY AS o(id, type, cause, body, n)
ORDER BY n
RETURNING seq, created_at";

/// How a write ends a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// The batch's last write: bumps `apply_version`.
    Last,
    /// A part written ahead (a large sweep): the version stays.
    Ahead,
}

/// Writes a batch (or part of one, ahead); returns the outbox rows as
/// stored (with their `seq`, the order the relay publishes them in).
pub async fn write(
    conn: &mut PgConnection,
    inbox: &[InboxRow],
    state: &StateWrites,
    outbox: Vec<OutboxRow>,
    kind: Write,
) -> Result<Vec<Pending>, StoreError> {
    let ids: Vec<Uuid> = outbox.iter().map(|r| r.id).collect();
    let types: Vec<&str> = outbox.iter().map(|r| r.type_name.as_str()).collect();
    let causes: Vec<&str> = outbox.iter().map(|r| r.causation_id.as_str()).collect();
    let bodies: Vec<&str> = outbox.iter().map(|r| r.body.as_str()).collect();
    let stored = sqlx::query(WRITE)
        .bind(inbox.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>())
        .bind(inbox.iter().map(|r| r.type_name.as_str()).collect::<Vec<_>>())
        .bind(inbox.iter().map(|r| r.source.as_str()).collect::<Vec<_>>())
        .bind(inbox.iter().map(|r| r.time).collect::<Vec<_>>())
        .bind(inbox.iter().map(|r| r.outcomes).collect::<Vec<_>>())
        .bind(inbox.iter().map(|r| r.body.as_str()).collect::<Vec<_>>())
        .bind(&state.kinds)
        .bind(&state.keys)
        .bind(&state.bodies)
        .bind(&state.campaigns)
        .bind(&state.creators)
        .bind(&state.products)
        .bind(&state.pending)
        .bind(&state.due)
        .bind(&state.delete_kinds)
        .bind(&state.delete_keys)
        .bind(&ids)
        .bind(&types)
        .bind(&causes)
        .bind(&bodies)
        .bind(&state.occurred)
        .bind(i64::from(kind == Write::Last))
        .bind(&state.sellers)
        .bind(&state.currencies)
        .bind(&state.pending_amounts)
        .fetch_all(conn)
        .await?;
    if stored.len() != outbox.len() {
        return Err(StoreError::Corrupt(format!(
            "{} outbox rows inserted, {} returned",
            outbox.len(),
            stored.len()
        )));
    }
    let mut stored: Vec<(i64, DateTime<Utc>)> = stored
        .into_iter()
        .map(|row| Ok((row.try_get("seq")?, row.try_get("created_at")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    // RETURNING follows insertion order, which follows `n`; sorting by seq
    // makes that explicit rather than assumed.
    stored.sort_unstable_by_key(|(seq, _)| *seq);
    Ok(outbox
        .into_iter()
        .zip(stored)
        .map(|(row, (seq, created_at))| Pending {
            seq,
            id: row.id,
            type_name: row.type_name,
            causation_id: row.causation_id,
            body: row.body,
            created_at,
        })
        .collect())
}
