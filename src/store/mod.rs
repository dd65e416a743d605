//! PostgreSQL: bootstrap (create the database, apply `migrations/`), and the
//! three tables of the pipeline — inbox, state, outbox — written together by
//! [`commit::write`].

pub mod cache;
pub mod codec;
pub mod commit;
pub mod dead_letters;
pub mod inbox;
pub mod outbox;
pub mod retention;
pub mod state;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Why a database operation failed, in the terms the shell acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Worth retrying: the database is unreachable, restarting, overloaded,
    /// or the transaction lost a race.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Retrying the same thing will fail the same way.
    #[error("database refused the operation: {0}")]
    Rejected(#[source] sqlx::Error),
    /// A stored document could not be read back.
    #[error("stored state is unreadable: {0}")]
    Corrupt(String),
    /// The rules failed on an event after its own decision, in a sweep it
    /// set off (a bug): the batch is refused, and the event, alone, is
    /// dead-lettered without retries.
    #[error("{0}")]
    RulesFailed(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Failing to get a connection at all is always worth retrying, whatever
    /// the server said (it may refuse connections for a while, restart, or
    /// be out of slots).
    pub fn connecting(error: sqlx::Error) -> Self {
        StoreError::Unavailable(error)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let transient = match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient_sqlstate(&code)),
            _ => false,
        };
        if transient {
            StoreError::Unavailable(error)
        } else {
            StoreError::Rejected(error)
        }
    }
}

/// SQLSTATEs worth retrying: connection exceptions (08), insufficient
/// resources (53), operator intervention such as shutdown (57), system
/// errors (58), serialization failure, deadlock, lock not available.
fn is_transient_sqlstate(code: &str) -> bool {
    ["08", "53", "57", "58"].iter().any(|class| code.starts_with(class)) || matches!(code, "40001" | "40P01" | "55P03")
}

/// Creates the database named in `url` if it does not exist yet.
pub async fn ensure_database(url: &str) -> Result<(), StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(StoreError::Rejected)?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut admin).await {
            Ok(_) => tracing::info!(database = %name, "created the database"),
            // Another worker created it at the same moment.
            Err(sqlx::Error::Database(db)) if matches!(db.code().as_deref(), Some("42P04" | "23505")) => {}
            Err(e) => return Err(e.into()),
        }
    }
    admin.close().await?;
    Ok(())
}

/// Opens the pool and applies pending migrations (concurrent workers
/// serialize on sqlx's migration lock).
pub async fn connect(url: &str, pool_size: u32) -> Result<PgPool, StoreError> {
    ensure_database(url).await?;
    let options = PgConnectOptions::from_str(url).map_err(StoreError::Rejected)?;
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(Duration::from_secs(5))
        // No ping round trip before every transaction: a dead connection
        // fails the transaction instead, which is retried like any outage.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    sqlx::migrate!().run(&pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
        other => StoreError::Corrupt(format!("migrations: {other}")),
    })?;
    Ok(pool)
}
