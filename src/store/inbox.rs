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
