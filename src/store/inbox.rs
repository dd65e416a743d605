//! The inbox: which events were applied (deduplication on the CloudEvent
//! `id`, by `inbox_ids`, whose key is the id alone), with their bodies (the
//! `inbox` table, partitioned by time: see [`super::retention`]).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;

/// The apply stream's version and the ids among `ids` applied before, in
/// one round trip (the caller holds the `apply_version` row lock).
pub async fn version_and_applied(conn: &mut PgConnection, ids: &[&str]) -> Result<(i64, HashSet<String>), StoreError> {
    let (version, found): (i64, Vec<String>) = sqlx::query_as(
        "SELECT (SELECT version FROM apply_version WHERE id = 1), \
                ARRAY(SELECT event_id FROM inbox_ids WHERE event_id = ANY($1))",
    )
    .bind(ids)
    .fetch_one(conn)
    .await?;
    Ok((version, found.into_iter().collect()))
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
