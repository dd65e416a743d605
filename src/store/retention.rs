//! Retention (contract §1): the inbox and the outbox are partitioned by the
//! time the worker stored each row (migration
//! `20261206210000_retention_partitions.sql`); this module keeps partitions
//! ahead of the clock and drops those whose rows all left their window.
//!
//! One process at a time does it, under a PostgreSQL advisory lock held by
//! a connection of its own (not the pool's: a session lock must not outlive
//! the round on a pooled connection). Wall clock — PostgreSQL's `now()` —
//! decides, which the rules allow for retention.
//!
//! - Partitions cover `[lo, hi)` of `partition_width`, aligned to it, created
//!   `partitions_ahead` widths ahead. A row that finds none (maintenance
//!   fell behind) goes to the default partition; new ranges start after the
//!   rows held there, and those rows are deleted once expired.
//! - An inbox partition goes when `hi` ≤ now − inbox window. The
//!   deduplication ids (`inbox_ids`, not partitioned, so that the id stays a
//!   unique key) received before now − inbox window are deleted in small
//!   batches.
//! - An outbox partition goes when `hi` ≤ now − outbox window **and** it
//!   holds no row past the relay cursor: unpublished rows are never removed.
//!   `relay_log` and `outbox_unroutable` rows about removed outbox rows go
//!   with them.
//!
//! Creating and dropping a partition takes a brief exclusive lock on its
//! table, waiting for the apply transaction in flight (one batch); a
//! `lock_timeout` bounds the wait, and a round that times out is retried at
//! the next.

use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::{Connection, PgConnection};

use super::StoreError;

/// The advisory lock key of retention maintenance ("collab" + "ret").
pub const LOCK_KEY: i64 = 0x636f_6c6c_6162_7265;

/// Ids deleted from `inbox_ids` per statement: short transactions, no long
/// lock on the rows the apply path inserts beside.
const ID_BATCH: i64 = 5_000;

/// What to keep and how to cut it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub inbox_window: Duration,
    pub outbox_window: Duration,
    pub partition_width: Duration,
    pub partitions_ahead: i32,
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub created: Vec<String>,
    pub dropped: Vec<String>,
    /// Expired partitions kept because they hold unpublished outbox rows.
    pub kept_unpublished: Vec<String>,
    pub ids_deleted: i64,
    pub default_rows_deleted: i64,
}

/// One partitioned table and its time column.
struct Table {
    name: &'static str,
    column: &'static str,
}

const INBOX: Table = Table {
    name: "inbox",
    column: "received_at",
};
const OUTBOX: Table = Table {
    name: "outbox",
    column: "created_at",
};

/// A range partition: its name and bounds (`None` = unbounded).
#[derive(Debug, PartialEq, Eq)]
struct Partition {
    name: String,
    lo: Option<DateTime<Utc>>,
    hi: Option<DateTime<Utc>>,
}

/// A partition bound; `None` = MINVALUE/MAXVALUE.
type Bound = Option<DateTime<Utc>>;

/// Bounds from `pg_get_expr(relpartbound)` in a UTC session:
/// `FOR VALUES FROM ('2026-12-06 00:00:00+00') TO ('2026-12-07 00:00:00+00')`
/// or `FROM (MINVALUE) TO (…)`; `None` for the default partition.
fn parse_bounds(expr: &str) -> Option<(Bound, Bound)> {
    let rest = expr.strip_prefix("FOR VALUES FROM (")?;
    let (lo, hi) = rest.split_once(") TO (")?;
    let hi = hi.strip_suffix(')')?;
    let parse = |bound: &str| -> Option<Bound> {
        match bound {
            "MINVALUE" | "MAXVALUE" => Some(None),
            quoted => {
                let text = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
                DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z")
                    .ok()
                    .map(|t| Some(t.to_utc()))
            }
        }
    };
    Some((parse(lo)?, parse(hi)?))
}

/// The name of the partition starting at `lo`.
fn partition_name(table: &str, lo: DateTime<Utc>) -> String {
    format!("{table}_p{}", lo.format("%Y%m%dt%H%M%S"))
}

async fn partitions(conn: &mut PgConnection, table: &Table) -> Result<Vec<Partition>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
    )
    .bind(table.name)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, bound)| parse_bounds(&bound).map(|(lo, hi)| Partition { name, lo, hi }))
        .collect())
}

/// Quotes an identifier the maintenance task made or read from the catalogue.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn execute(conn: &mut PgConnection, sql: String) -> Result<u64, StoreError> {
    Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Creates the partitions missing up to `now + ahead`.
async fn create_ahead(
    conn: &mut PgConnection,
    table: &Table,
    policy: &Policy,
    now: DateTime<Utc>,
    round: &mut Round,
) -> Result<(), StoreError> {
    let existing = partitions(conn, table).await?;
    let width = policy.partition_width;
    let floor = |t: DateTime<Utc>| t.duration_trunc(width).unwrap_or(t);
    let mut next = existing.iter().filter_map(|p| p.hi).max().unwrap_or_else(|| floor(now));
    // Rows in the default partition (maintenance fell behind): the next
    // range starts after them, or creating it would fail.
    let in_default: Option<DateTime<Utc>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT max({}) FROM {}",
        table.column,
        ident(&format!("{}_default", table.name))
    )))
    .fetch_one(&mut *conn)
    .await?;
    if let Some(latest) = in_default
        && latest >= next
    {
        next = latest + Duration::microseconds(1);
    }
    let until = now + width * policy.partitions_ahead.max(1);
    while next < until {
        let hi = floor(next) + width;
        let name = partition_name(table.name, next);
        execute(
            conn,
            format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ('{}') TO ('{}')",
                ident(&name),
                table.name,
                next.to_rfc3339(),
                hi.to_rfc3339()
            ),
        )
        .await?;
        round.created.push(name);
        next = hi;
    }
    Ok(())
}

/// Drops the partitions whose rows all expired (for the outbox: and left).
async fn drop_expired(
    conn: &mut PgConnection,
    table: &Table,
    cutoff: DateTime<Utc>,
    round: &mut Round,
) -> Result<(), StoreError> {
    for partition in partitions(conn, table).await? {
        if partition.hi.is_none_or(|hi| hi > cutoff) {
            continue;
        }
        if table.name == OUTBOX.name {
            let unpublished: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE seq > (SELECT published_seq FROM relay_cursor))",
                ident(&partition.name)
            )))
            .fetch_one(&mut *conn)
            .await?;
            if unpublished {
                round.kept_unpublished.push(partition.name);
                continue;
            }
        }
        execute(conn, format!("DROP TABLE IF EXISTS {}", ident(&partition.name))).await?;
        round.dropped.push(partition.name);
    }
    let published_only = if table.name == OUTBOX.name {
        " AND seq <= (SELECT published_seq FROM relay_cursor)"
    } else {
        ""
    };
    let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {} WHERE {} < $1{published_only}",
        ident(&format!("{}_default", table.name)),
        table.column
    )))
    .bind(cutoff)
    .execute(&mut *conn)
    .await?;
    round.default_rows_deleted += i64::try_from(deleted.rows_affected()).unwrap_or(i64::MAX);
    Ok(())
}

/// Deletes deduplication ids received before `cutoff`, a batch at a time.
async fn expire_ids(conn: &mut PgConnection, cutoff: DateTime<Utc>, round: &mut Round) -> Result<(), StoreError> {
    loop {
        let deleted = sqlx::query(
            "DELETE FROM inbox_ids WHERE event_id = ANY(ARRAY(\
                SELECT event_id FROM inbox_ids WHERE received_at < $1 ORDER BY received_at LIMIT $2))",
        )
        .bind(cutoff)
        .bind(ID_BATCH)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        round.ids_deleted += i64::try_from(deleted).unwrap_or(i64::MAX);
        if deleted < ID_BATCH as u64 {
            return Ok(());
        }
    }
}

/// The ledger rows about outbox rows no longer there.
async fn expire_ledger(conn: &mut PgConnection) -> Result<(), StoreError> {
    let oldest: i64 = sqlx::query_scalar(
        "SELECT COALESCE((SELECT min(seq) FROM outbox), (SELECT published_seq + 1 FROM relay_cursor))",
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM outbox_unroutable WHERE seq < $1")
        .bind(oldest)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM relay_log WHERE first_seq < $1 AND last_seq < $1")
        .bind(oldest)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How long maintenance waits for a table lock (the apply transaction in
/// flight) before giving the round up.
const LOCK_TIMEOUT: &str = "SET lock_timeout = '2s'";

/// One maintenance round on a connection of its own. With `wait`, waits
/// for the advisory lock (start-up: partitions must exist before this
/// process applies anything); otherwise returns `None` at once when another
/// process holds it.
pub async fn maintain(conn: &mut PgConnection, policy: &Policy, wait: bool) -> Result<Option<Round>, StoreError> {
    let locked: bool = if wait {
        sqlx::query_scalar("SELECT pg_advisory_lock($1) IS NOT NULL")
    } else {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
    }
    .bind(LOCK_KEY)
    .fetch_one(&mut *conn)
    .await?;
    if !locked {
        return Ok(None);
    }
    let result = locked_round(conn, policy).await;
    let _unlocked: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *conn)
        .await?;
    result.map(Some)
}

async fn locked_round(conn: &mut PgConnection, policy: &Policy) -> Result<Round, StoreError> {
    execute(conn, format!("SET TimeZone = 'UTC'; {LOCK_TIMEOUT}")).await?;
    let started: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&mut *conn)
        .await?;
    let mut round = Round::default();
    create_ahead(conn, &INBOX, policy, started, &mut round).await?;
    create_ahead(conn, &OUTBOX, policy, started, &mut round).await?;
    expire_ids(conn, started - policy.inbox_window, &mut round).await?;
    drop_expired(conn, &INBOX, started - policy.inbox_window, &mut round).await?;
    drop_expired(conn, &OUTBOX, started - policy.outbox_window, &mut round).await?;
    expire_ledger(conn).await?;
    // For operators (and the tests): when each round ran, by which backend.
    sqlx::query(
        "INSERT INTO retention_runs (started_at, finished_at, backend_pid, created, dropped, ids_deleted) \
         VALUES ($1, clock_timestamp(), pg_backend_pid(), $2, $3, $4)",
    )
    .bind(started)
    .bind(i32::try_from(round.created.len()).unwrap_or(i32::MAX))
    .bind(i32::try_from(round.dropped.len()).unwrap_or(i32::MAX))
    .bind(round.ids_deleted)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM retention_runs WHERE started_at < $1")
        .bind(started - policy.outbox_window.max(policy.inbox_window))
        .execute(&mut *conn)
        .await?;
    Ok(round)
}

/// Opens a connection of its own and runs one round (see [`maintain`]).
pub async fn run_once(database_url: &str, policy: &Policy, wait: bool) -> Result<Option<Round>, StoreError> {
    let mut conn = PgConnection::connect(database_url)
        .await
        .map_err(StoreError::connecting)?;
    let round = maintain(&mut conn, policy, wait).await;
    // Closing the session releases the advisory lock whatever happened.
    let _closed = conn.close().await;
    round
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.to_utc())
            .unwrap_or_default()
    }

    #[test]
    fn partition_bounds_are_read_from_the_catalogue() {
        assert_eq!(
            parse_bounds("FOR VALUES FROM ('2026-12-06 00:00:00+00') TO ('2026-12-07 00:00:00+00')"),
            Some((Some(utc("2026-12-06T00:00:00Z")), Some(utc("2026-12-07T00:00:00Z"))))
        );
        assert_eq!(
            parse_bounds("FOR VALUES FROM (MINVALUE) TO ('2026-12-06 18:19:25.394128+00')"),
            Some((None, Some(utc("2026-12-06T18:19:25.394128Z"))))
        );
        assert_eq!(parse_bounds("DEFAULT"), None);
        assert_eq!(
            partition_name("inbox", utc("2026-12-06T18:19:25.3Z")),
            "inbox_p20261206t181925"
        );
    }
}
