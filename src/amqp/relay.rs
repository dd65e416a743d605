//! The outbox relay: publishes committed outcomes to `collab.outcomes` with
//! publisher confirms, mandatory and persistent, then marks them published.
//!
//! One relay runs at a time across all workers (an advisory lock held for
//! the relay transaction), so outcomes leave in the order they were decided.
//! A row is marked published only after the broker confirmed it; a crash in
//! between publishes it again with the same id, which consumers deduplicate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use lapin::Confirmation;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel};
use sqlx::PgPool;
use tokio::sync::{Notify, watch};

use super::topology::OUTCOMES_EXCHANGE;
use crate::config::RelaySettings;
use crate::store::{StoreError, outbox};
use crate::telemetry::{self, InternalEvent, OutcomesPublished};
use crate::wire::envelope::CONTENT_TYPE;

/// Advisory lock key of the relay ("relay" in ASCII).
const RELAY_LOCK: i64 = 0x72_656c_6179;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused outcome {0}")]
    Nacked(uuid::Uuid),
}

/// What one relay round did.
#[derive(Debug, PartialEq, Eq)]
pub enum Round {
    Published(usize),
    /// Another worker's relay holds the lock.
    Busy,
}

pub struct Relay {
    pub pool: PgPool,
    pub channel: Channel,
    pub settings: RelaySettings,
    pub wake: Arc<Notify>,
}

impl Relay {
    /// Publishes until shutdown, then flushes what is left (bounded wait).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
            self.drain().await;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.round().await {
                Ok(Round::Published(0)) => break,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "outbox flush at shutdown failed; the next worker publishes the rest");
                    break;
                }
            }
        }
    }

    /// Rounds until the outbox is empty (or another relay has it).
    async fn drain(&self) {
        let mut backoff = crate::amqp::consumer::retry_schedule().build();
        let mut busy_rounds = 0;
        loop {
            match self.round().await {
                Ok(Round::Published(n)) if n as i64 >= self.settings.batch_size => {}
                Ok(Round::Published(_)) => break,
                // Let the other relay finish its round, then look again for
                // rows it may have started before this worker committed.
                Ok(Round::Busy) if busy_rounds < 40 => {
                    busy_rounds += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Ok(Round::Busy) => break,
                Err(RelayError::Broker(error)) => {
                    tracing::warn!(%error, "relay lost the broker; waiting for recovery");
                    if self.channel.wait_for_recovery(error).await.is_err() {
                        tokio::time::sleep(backoff.next().unwrap_or(Duration::from_secs(1))).await;
                    }
                }
                Err(error) => {
                    let delay = backoff.next().unwrap_or(Duration::from_secs(1));
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "relay round failed");
                    tokio::time::sleep(delay).await;
                }
            }
        }
        self.report_lag().await;
    }

    async fn report_lag(&self) {
        let Ok(mut conn) = self.pool.acquire().await else {
            return;
        };
        if let (Ok(age), Ok(pending)) = (
            outbox::oldest_unpublished_age(&mut conn).await,
            outbox::unpublished_count(&mut conn).await,
        ) {
            telemetry::outbox_lag(age, pending);
        }
    }

    /// One transaction: claim, publish all (pipelined), await every
    /// confirm, mark published.
    pub async fn round(&self) -> Result<Round, RelayError> {
        let started = Instant::now();
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(RELAY_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if !locked {
            return Ok(Round::Busy);
        }
        let rows = outbox::claim(&mut tx, self.settings.batch_size).await?;
        if rows.is_empty() {
            return Ok(Round::Published(0));
        }
        let mut confirms = Vec::with_capacity(rows.len());
        for row in &rows {
            let confirm = self
                .channel
                .basic_publish(
                    OUTCOMES_EXCHANGE.into(),
                    row.type_name.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    row.body.as_bytes(),
                    properties(row),
                )
                .await?;
            confirms.push(confirm);
        }
        let mut published = Vec::with_capacity(rows.len());
        let mut unroutable = Vec::new();
        for (row, confirm) in rows.iter().zip(confirms) {
            match confirm.await? {
                Confirmation::Ack(None) => published.push(row.seq),
                Confirmation::Ack(Some(_returned)) => {
                    published.push(row.seq);
                    unroutable.push(row.seq);
                }
                Confirmation::Nack(_) | Confirmation::NotRequested => return Err(RelayError::Nacked(row.id)),
            }
        }
        outbox::mark_published(&mut tx, &published, &unroutable).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let types: Vec<&str> = rows.iter().map(|r| r.type_name.as_str()).collect();
        let unroutable_types: Vec<&str> = rows
            .iter()
            .filter(|r| unroutable.contains(&r.seq))
            .map(|r| r.type_name.as_str())
            .collect();
        OutcomesPublished {
            types: &types,
            unroutable: &unroutable_types,
            elapsed: started.elapsed(),
        }
        .emit();
        Ok(Round::Published(rows.len()))
    }
}

/// Structured-mode CloudEvent: the body is the event, the AMQP properties
/// repeat what consumers route and deduplicate on.
fn properties(row: &outbox::Pending) -> BasicProperties {
    BasicProperties::default()
        .with_message_id(row.id.to_string().into())
        .with_type(row.type_name.as_str().into())
        .with_content_type(CONTENT_TYPE.into())
        .with_delivery_mode(2)
        .with_timestamp(u64::try_from(row.created_at.timestamp()).unwrap_or(0))
        .with_app_id("collab-worker".into())
}
