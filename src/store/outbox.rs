//! The outbox: outcomes written with the state change that decided them
//! (see [`super::commit`]), and read back by the relay.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::StoreError;

/// One outcome to publish: its CloudEvent and what the AMQP message needs.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: Uuid,
    pub type_name: String,
    pub causation_id: String,
    /// The outcome's CloudEvent as JSON text.
    pub body: String,
}

/// A stored outcome not yet published.
#[derive(Clone, Debug)]
pub struct Pending {
    pub seq: i64,
    pub id: Uuid,
    pub type_name: String,
    pub causation_id: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Takes the relay cursor for this transaction; `None` when another
/// relay holds it (one relay at a time keeps outcomes in decision order).
pub async fn lock_cursor(conn: &mut PgConnection) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT published_seq FROM relay_cursor WHERE id = 1 FOR UPDATE SKIP LOCKED")
            .fetch_optional(conn)
            .await?,
    )
}

/// The next rows after the cursor, in decision order.
pub async fn after(conn: &mut PgConnection, cursor: i64, limit: i64) -> Result<Vec<Pending>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, id, type, causation_id, body, created_at FROM outbox \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Pending {
                seq: row.try_get("seq")?,
                id: row.try_get("id")?,
                type_name: row.try_get("type")?,
                causation_id: row.try_get("causation_id")?,
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Records that rows `first..=last` were published (and which of them no
/// queue took).
pub async fn mark_published(
    conn: &mut PgConnection,
    first: i64,
    last: i64,
    unroutable: &[i64],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE relay_cursor SET published_seq = $1 WHERE id = 1")
        .bind(last)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO relay_log (first_seq, last_seq) VALUES ($1, $2)")
        .bind(first)
        .bind(last)
        .execute(&mut *conn)
        .await?;
    if !unroutable.is_empty() {
        sqlx::query("INSERT INTO outbox_unroutable (seq) SELECT * FROM UNNEST($1::bigint[])")
            .bind(unroutable)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Age in seconds of the oldest unpublished outcome (0 when none) and how
/// many are waiting: the outbox lag.
///
/// Read from the ends of the `(seq, created_at)` indexes only: the first
/// row past the relay cursor and the last row. Counting the rows past the
/// cursor was planned as a scan of the day's partition whenever it had no
/// statistics yet (a new partition, or autovacuum off), so the relay's
/// every pass re-read the whole day's outbox (the aged benchmark, README).
/// `pending` therefore counts sequence numbers past the cursor: a batch
/// that rolled back after taking some counts until the relay passes them.
pub async fn lag(conn: &mut PgConnection) -> Result<(f64, i64), StoreError> {
    let (age, pending): (Option<f64>, Option<i64>) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM now() - (SELECT created_at FROM outbox WHERE seq > c.published_seq \
                                            ORDER BY seq LIMIT 1))::float8, \
                GREATEST((SELECT max(seq) FROM outbox) - c.published_seq, 0) \
         FROM relay_cursor c WHERE c.id = 1",
    )
    .fetch_one(conn)
    .await?;
    Ok((age.unwrap_or(0.0), pending.unwrap_or(0)))
}
