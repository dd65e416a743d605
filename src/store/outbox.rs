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
/// the relay publishes in.
pub async fn insert(conn: &mut PgConnection, rows: &[OutboxRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.type_name.as_str()).collect();
    let causes: Vec<&str> = rows.iter().map(|r| r.causation_id.as_str()).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
    sqlx::query(
        "INSERT INTO outbox (id, type, causation_id, body) \
         SELECT id, type, cause, body::json FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[]) \
         WITH ORDINALITY AS o(id, type, cause, body, n) ORDER BY n",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&causes)
    .bind(&bodies)
    .execute(conn)
    .await?;
    Ok(())
}

/// An unpublished row, claimed by the relay.
#[derive(Clone, Debug)]
pub struct Pending {
    pub seq: i64,
    pub id: Uuid,
    pub type_name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Claims the oldest unpublished rows (locked until the transaction ends).
pub async fn claim(conn: &mut PgConnection, limit: i64) -> Result<Vec<Pending>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, id, type, body::text AS body, created_at FROM outbox \
         WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Pending {
                seq: row.try_get("seq")?,
                id: row.try_get("id")?,
                type_name: row.try_get("type")?,
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub async fn mark_published(conn: &mut PgConnection, published: &[i64], unroutable: &[i64]) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET published_at = now(), unroutable = (seq = ANY($2)) WHERE seq = ANY($1)")
        .bind(published)
        .bind(unroutable)
        .execute(conn)
        .await?;
    Ok(())
}

/// Age in seconds of the oldest unpublished outcome (0 when none): the
/// outbox lag.
pub async fn oldest_unpublished_age(conn: &mut PgConnection) -> Result<f64, StoreError> {
    let age: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM now() - min(created_at))::float8 FROM outbox WHERE published_at IS NULL",
    )
    .fetch_one(conn)
    .await?;
    Ok(age.unwrap_or(0.0))
}

pub async fn unpublished_count(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(conn)
            .await?,
    )
}
