//! The outbox: outcomes written with the state change that decided them, and
//! read back by the relay.

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

/// Inserts in decision order; `seq` follows that order, which is the order
/// the relay publishes in. Returns the rows as stored.
pub async fn insert(conn: &mut PgConnection, rows: Vec<OutboxRow>) -> Result<Vec<Pending>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.type_name.as_str()).collect();
    let causes: Vec<&str> = rows.iter().map(|r| r.causation_id.as_str()).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
    let stored = sqlx::query(
        "INSERT INTO outbox (id, type, causation_id, body) \
         SELECT id, type, cause, body FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[]) \
         WITH ORDINALITY AS o(id, type, cause, body, n) ORDER BY n \
         RETURNING seq, created_at",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&causes)
    .bind(&bodies)
    .fetch_all(conn)
    .await?;
    if stored.len() != rows.len() {
        return Err(StoreError::Corrupt(format!(
            "{} outbox rows inserted, {} returned",
            rows.len(),
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
    Ok(rows
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
pub async fn lag(conn: &mut PgConnection) -> Result<(f64, i64), StoreError> {
    let (age, pending): (Option<f64>, i64) =
        sqlx::query_as("SELECT EXTRACT(EPOCH FROM now() - min(created_at))::float8, count(*) FROM outbox_unpublished")
            .fetch_one(conn)
            .await?;
    Ok((age.unwrap_or(0.0), pending))
}
