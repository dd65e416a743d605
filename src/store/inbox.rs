//! The inbox: which events were applied (deduplication on the CloudEvent
//! `id`), with their bodies.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;

/// Ids among `ids` that were applied before.
pub async fn applied(conn: &mut PgConnection, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
    let found: Vec<String> = sqlx::query_scalar("SELECT event_id FROM inbox WHERE event_id = ANY($1)")
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(found.into_iter().collect())
}

/// One applied event.
pub struct InboxRow {
    pub event_id: String,
    pub type_name: String,
    pub source: String,
    pub time: DateTime<Utc>,
    pub outcomes: i32,
    /// The event exactly as received.
    pub body: String,
}

pub async fn insert(conn: &mut PgConnection, rows: &[InboxRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.event_id.as_str()).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.type_name.as_str()).collect();
    let sources: Vec<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.time).collect();
    let outcomes: Vec<i32> = rows.iter().map(|r| r.outcomes).collect();
    let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
    sqlx::query(
        "INSERT INTO inbox (event_id, type, source, event_time, outcomes, body) \
         SELECT i, t, s, tm, o, b \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int4[], $6::text[]) AS u(i, t, s, tm, o, b)",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&sources)
    .bind(&times)
    .bind(&outcomes)
    .bind(&bodies)
    .execute(conn)
    .await?;
    Ok(())
}
