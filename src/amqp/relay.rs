//! The outbox relay: publishes committed outcomes to `collab.outcomes` with
//! publisher confirms, mandatory and persistent, then marks them published.
//!
//! One relay runs at a time across all workers (it holds the row of
//! `relay_cursor` for its transaction), so outcomes leave in the order they
//! were decided. The cursor moves only after the broker confirmed every
//! message of the round; a crash in between publishes them again with the
//! same ids, which consumers deduplicate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use lapin::Confirmation;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel};
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};

use super::topology::OUTCOMES_EXCHANGE;
use crate::config::RelaySettings;
use crate::store::outbox::Pending;
use crate::store::{StoreError, outbox};
use crate::telemetry::failures::{RelayFailed, RelayFailure};
use crate::telemetry::{self, InternalEvent, OutcomesPublished};
use crate::wire::envelope::CONTENT_TYPE;

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
    /// Outcomes this process committed, in `seq` order, not yet published.
    buffer: VecDeque<Pending>,
}

/// Rows kept in memory for the relay at most; beyond that it reads them
/// back from the outbox (nothing is lost, only the shortcut).
const BUFFER_LIMIT: usize = 20_000;

impl Relay {
    pub fn new(pool: PgPool, channel: Channel, settings: RelaySettings) -> Self {
        Self {
            pool,
            channel,
            settings,
            buffer: VecDeque::new(),
        }
    }

    /// Publishes until shutdown, then flushes what is left (bounded wait).
    /// `feed` brings what this process commits; the outbox table has
    /// everything, including what other processes or a crash left.
    pub async fn run(mut self, mut feed: mpsc::UnboundedReceiver<Vec<Pending>>, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        let mut feeding = true;
        loop {
            tokio::select! {
                rows = feed.recv(), if feeding => match rows {
                    Some(rows) => self.remember(rows),
                    None => feeding = false,
                },
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
            while let Ok(rows) = feed.try_recv() {
                self.remember(rows);
            }
            self.drain(&mut shutdown).await;
        }
        while let Ok(rows) = feed.try_recv() {
            self.remember(rows);
        }
        if !self.channel.status().connected() {
            // Stopped because the session was lost: the next session's relay
            // publishes the rest from the outbox.
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Ok(round) = tokio::time::timeout_at(deadline.into(), self.round()).await else {
                RelayFailed {
                    failure: RelayFailure::ShutdownFlush,
                    error: "timed out",
                    delay: None,
                }
                .emit();
                break;
            };
            match round {
                Ok(Round::Published(0)) => break,
                Ok(_) => {}
                Err(error) => {
                    RelayFailed {
                        failure: RelayFailure::ShutdownFlush,
                        error: &error.to_string(),
                        delay: None,
                    }
                    .emit();
                    break;
                }
            }
        }
    }

    fn remember(&mut self, rows: Vec<Pending>) {
        self.buffer.extend(rows);
        while self.buffer.len() > BUFFER_LIMIT {
            self.buffer.pop_front();
        }
    }

    /// Rounds until the outbox is empty (or another relay has it), the
    /// broker fails, or `stop` turns true.
    async fn drain(&mut self, stop: &mut watch::Receiver<bool>) {
        let mut backoff = crate::amqp::consumer::retry_schedule().build();
        let mut busy_rounds = 0;
        while !*stop.borrow() {
            // A publish or confirm on a connection the broker dropped may
            // never complete: stopping abandons the round (its transaction
            // rolls back, the cursor stays, the next relay publishes again).
            let round = tokio::select! {
                round = self.round() => round,
                _ = stop.wait_for(|stop| *stop) => return,
            };
            match round {
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
                    // The session's watch sees the closed channel or
                    // connection and the worker opens a new session, with a
                    // new relay; the cursor did not move, nothing is lost.
                    RelayFailed {
                        failure: RelayFailure::BrokerLost,
                        error: &error.to_string(),
                        delay: None,
                    }
                    .emit();
                    return;
                }
                Err(error) => {
                    let delay = backoff.next().unwrap_or(Duration::from_secs(1));
                    RelayFailed {
                        failure: RelayFailure::Round,
                        error: &error.to_string(),
                        delay: Some(delay),
                    }
                    .emit();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.wait_for(|stop| *stop) => {}
                    }
                }
            }
        }
        self.report_lag().await;
    }

    async fn report_lag(&self) {
        let Ok(mut conn) = self.pool.acquire().await else {
            return;
        };
        if let Ok((age, pending)) = outbox::lag(&mut conn).await {
            telemetry::outbox_lag(age, pending);
        }
    }

    /// One transaction: take the cursor, take the rows after it — from
    /// memory when this process committed them, else from the outbox —
    /// publish them all (pipelined), await every confirm, move the cursor.
    pub async fn round(&mut self) -> Result<Round, RelayError> {
        let started = Instant::now();
        let mut tx = self.pool.begin().await.map_err(StoreError::connecting)?;
        let Some(cursor) = outbox::lock_cursor(&mut tx).await? else {
            return Ok(Round::Busy);
        };
        while self.buffer.front().is_some_and(|row| row.seq <= cursor) {
            self.buffer.pop_front();
        }
        let limit = usize::try_from(self.settings.batch_size).unwrap_or(1).max(1);
        // From memory only if it continues the cursor without a gap.
        let in_memory = self
            .buffer
            .iter()
            .zip(cursor + 1..)
            .take(limit)
            .take_while(|(row, expected)| row.seq == *expected)
            .count();
        let read: Vec<Pending>;
        let rows: Vec<&Pending> = if in_memory > 0 {
            self.buffer.iter().take(in_memory).collect()
        } else {
            read = outbox::after(&mut tx, cursor, self.settings.batch_size).await?;
            read.iter().collect()
        };
        let (Some(first), Some(last)) = (rows.first().map(|r| r.seq), rows.last().map(|r| r.seq)) else {
            return Ok(Round::Published(0));
        };
        let sends = rows.iter().map(|row| {
            self.channel.basic_publish(
                OUTCOMES_EXCHANGE.into(),
                row.type_name.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                row.body.as_bytes(),
                properties(row),
            )
        });
        let confirms = crate::amqp::publish_in_order(sends.collect()).await;
        let confirms: Vec<lapin::PublisherConfirm> = confirms.into_iter().collect::<Result<_, _>>()?;
        let mut unroutable = Vec::new();
        for (row, confirm) in rows.iter().zip(confirms) {
            match confirm.await? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(_returned)) => unroutable.push(row.seq),
                Confirmation::Nack(_) | Confirmation::NotRequested => return Err(RelayError::Nacked(row.id)),
            }
        }
        outbox::mark_published(&mut tx, first, last, &unroutable).await?;
        tx.commit().await.map_err(StoreError::from)?;
        for row in &rows {
            tracing::debug!(outcome.id = %row.id, outcome.type = %row.type_name, causationid = %row.causation_id, "published");
        }
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
        let published = rows.len();
        if in_memory > 0 {
            self.buffer.drain(..in_memory);
        }
        Ok(Round::Published(published))
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
