//! Dead letters as the worker records them for explanations (`explain
//! event`): which event, why, when. The DLQ itself holds the messages; this
//! table only answers "what became of event X" after the fact.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreError;

/// One dead-lettering of an event.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct DeadLetterRecord {
    pub event_id: String,
    #[sqlx(rename = "type")]
    pub type_name: Option<String>,
    pub reason: String,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Records that the event was dead-lettered.
pub async fn record(
    pool: &PgPool,
    event_id: &str,
    type_name: Option<&str>,
    reason: &str,
    detail: &str,
) -> Result<(), StoreError> {
    // PostgreSQL text cannot hold U+0000 (a reason to dead-letter in the
    // first place): it is recorded as U+FFFD.
    let clean = |s: &str| s.replace('\0', "\u{fffd}");
    let detail: String = detail.chars().take(2_000).collect();
    sqlx::query("INSERT INTO dead_letters (event_id, type, reason, detail) VALUES ($1, $2, $3, $4)")
        .bind(clean(event_id))
        .bind(type_name.map(clean))
        .bind(reason)
        .bind(clean(&detail))
        .execute(pool)
        .await?;
    Ok(())
}

/// Every dead-lettering of an event, oldest first.
pub async fn of_event(pool: &PgPool, event_id: &str) -> Result<Vec<DeadLetterRecord>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT event_id, type, reason, detail, at FROM dead_letters WHERE event_id = $1 ORDER BY seq LIMIT 100",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}
