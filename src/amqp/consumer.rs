//! The batch consumer: takes whatever deliveries are ready (up to the batch
//! size), applies them in one transaction, then acks them with one
//! `multiple` ack.
//!
//! Per delivery, exactly one of:
//! * malformed → dead-lettered with its reason (confirmed), then acked;
//! * applied or duplicate → committed, then acked;
//! * failing to apply → retried alone with backoff, dead-lettered
//!   (`apply_failed`) after `max_attempts`, then acked;
//! * database unavailable → retried with backoff, unacked meanwhile; at
//!   shutdown left unacked, so the broker redelivers it.
//!
//! Nothing is acked before its commit; a crash between commit and ack leads
//! to a redelivery that the inbox recognises. When the broker session is
//! lost (see [`super::session`]) the consumer stops at once, leaving what it
//! holds unacked, and the worker opens a new session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::StreamExt;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::{mpsc, watch};

use super::dead_letter::{DeadLetterError, DeadLetters};
use super::session::{Activity, lost_reason};
use super::topology::WORK_QUEUE;
use crate::config::ConsumerSettings;
use crate::http::Health;
use crate::pipeline::{Committed, Pipeline, Verdict};
use crate::store::StoreError;
use crate::store::outbox::Pending;
use crate::telemetry::{self, ApplyRetry, BatchApplied, ConsumerResumed, DeadLettered, InternalEvent, RetryCause};
use crate::wire::envelope::{self, Inbound, Malformed};

/// Reason of a dead letter whose event the database kept refusing.
pub const APPLY_FAILED: &str = "apply_failed";
/// Reason of a dead letter whose event the rules could not decide (a bug:
/// dead-lettered at the first failure, not retried).
pub const RULE_FAILED: &str = "rule_failed";

/// What became of one event of a batch, for the consumer to act on.
enum Fate {
    /// Committed — applied, or a duplicate: acked.
    Done,
    /// The rules failed on it: dead-lettered at once.
    RuleFailed(crate::pipeline::RuleFailure),
    /// The database refused it: retried alone, then dead-lettered.
    Refused(String),
}

impl Fate {
    fn of(verdict: Verdict) -> Fate {
        match verdict {
            Verdict::Failed(failure) => Fate::RuleFailed(failure),
            Verdict::Applied { .. } | Verdict::Duplicate => Fate::Done,
        }
    }
}

/// Why the consumer stopped.
#[derive(Debug)]
pub enum Stopped {
    /// Shutdown was requested; in-flight work is finished.
    Shutdown,
    /// The broker session is gone; the caller opens a new one.
    Lost(String),
}

/// What ends the consumer's waits: shutdown, or the loss of its session.
#[derive(Clone)]
pub struct Interrupt {
    pub shutdown: watch::Receiver<bool>,
    pub lost: watch::Receiver<Option<String>>,
}

impl Interrupt {
    /// Resolves when shutdown is requested or the session is lost.
    pub async fn fired(&mut self) {
        tokio::select! {
            _ = self.shutdown.wait_for(|stop| *stop) => {}
            _ = lost_reason(&mut self.lost) => {}
        }
    }
}

pub struct Consumer {
    pub channel: Channel,
    pub dead_letters: DeadLetters,
    pub pipeline: Pipeline,
    pub settings: ConsumerSettings,
    /// Hands committed outcomes to the relay, which publishes them without
    /// reading them back when they continue its cursor.
    pub relay_feed: mpsc::UnboundedSender<Vec<Pending>>,
    /// Readiness: the consumer up or down, the database reachable or not.
    pub health: Arc<Health>,
    /// Tells the session's watchdog whether deliveries flow.
    pub activity: Arc<Activity>,
}

/// What the parsing task hands to the apply loop.
enum Incoming {
    Delivery(Box<(Delivery, Result<Inbound, Malformed>)>),
    /// The consumer stream failed (connection lost).
    Failure(lapin::Error),
}

/// Parses every delivery as it arrives (a body over `max_body_bytes` unread).
async fn parse_deliveries(mut consumer: lapin::Consumer, out: mpsc::Sender<Incoming>, max_body_bytes: usize) {
    while let Some(item) = consumer.next().await {
        let item = match item {
            Ok(delivery) => {
                if let Some(replay) = super::dead_letter::OperatorReplay::of(&delivery) {
                    replay.emit();
                }
                let parsed = envelope::parse_limited(&delivery.data, max_body_bytes);
                Incoming::Delivery(Box::new((delivery, parsed)))
            }
            Err(error) => Incoming::Failure(error),
        };
        if out.send(item).await.is_err() {
            return;
        }
    }
}

/// Events of a batch that parsed, with the delivery each came from.
struct Parsed {
    index: usize,
    inbound: Inbound,
}

impl Consumer {
    pub async fn run(self, mut interrupt: Interrupt) -> Stopped {
        if let Err(e) = self.start_consuming().await {
            return Stopped::Lost(format!("setting the prefetch: {e}"));
        }
        let consumer = match self
            .channel
            .basic_consume(
                WORK_QUEUE.into(),
                "collab-worker".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
        {
            Ok(consumer) => consumer,
            Err(e) => return Stopped::Lost(format!("registering the consumer: {e}")),
        };
        self.activity.registered();
        match self.health.consumer_up() {
            Some(outage) => ConsumerResumed { outage }.emit(),
            None => {
                tracing::info!("consuming");
                telemetry::consumer_up();
            }
        }
        // Parsing happens as deliveries arrive, on another task, so the next
        // batch is parsed while this one's transaction commits.
        let (parsed_tx, mut parsed_rx) =
            mpsc::channel(usize::from(self.settings.prefetch).max(1) + self.settings.batch_size);
        let parser = tokio::spawn(parse_deliveries(consumer, parsed_tx, self.settings.max_body_bytes));
        let stopped = loop {
            let mut batch = Vec::with_capacity(self.settings.batch_size);
            self.activity.waiting(true);
            let received = tokio::select! {
                biased;
                _ = interrupt.shutdown.wait_for(|stop| *stop) => break Stopped::Shutdown,
                reason = lost_reason(&mut interrupt.lost) => break Stopped::Lost(reason),
                n = parsed_rx.recv_many(&mut batch, self.settings.batch_size.max(1)) => n,
            };
            self.activity.waiting(false);
            if received == 0 {
                break Stopped::Lost("the broker cancelled the consumer".into());
            }
            self.activity.delivered();
            let mut deliveries = Vec::with_capacity(batch.len());
            let mut failure = None;
            for item in batch {
                match item {
                    Incoming::Delivery(item) => deliveries.push(*item),
                    Incoming::Failure(e) => failure = Some(e),
                }
            }
            if !deliveries.is_empty() {
                self.handle(deliveries, &mut interrupt).await;
            }
            if let Some(error) = failure {
                // Deliveries not acked come back to the queue with the
                // connection; the inbox recognises those already applied.
                break Stopped::Lost(format!("consumer: {error}"));
            }
        };
        self.activity.waiting(false);
        parser.abort();
        stopped
    }

    async fn start_consuming(&self) -> Result<(), lapin::Error> {
        telemetry::consumer_prefetch(self.settings.prefetch);
        self.channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await
    }

    /// Handles one batch; returns once every delivery is settled, or when
    /// shutdown or a lost session interrupts a database outage or a dead
    /// letter (deliveries left unacked).
    async fn handle(&self, items: Vec<(Delivery, Result<Inbound, Malformed>)>, interrupt: &mut Interrupt) {
        telemetry::received(items.len());
        telemetry::consumer_in_flight(items.len());
        let mut parsed = Vec::with_capacity(items.len());
        let mut deliveries = Vec::with_capacity(items.len());
        for (index, (delivery, result)) in items.into_iter().enumerate() {
            match result {
                Ok(inbound) => parsed.push(Parsed { index, inbound }),
                Err(malformed) => {
                    let id = malformed
                        .id
                        .clone()
                        .or_else(|| delivery.properties.message_id().as_ref().map(|m| m.to_string()));
                    DeadLettered {
                        reason: malformed.kind.code(),
                        detail: &malformed.detail,
                        event_id: id.as_deref(),
                        event_type: malformed.type_name.as_deref(),
                    }
                    .emit();
                    if !self
                        .dead_letter(&delivery, malformed.kind.code(), &malformed.detail, interrupt)
                        .await
                    {
                        // Not in the DLQ, so not acked: it comes back.
                        return;
                    }
                    if let Some(id) = &id {
                        self.remember(
                            id,
                            malformed.type_name.as_deref(),
                            malformed.kind.code(),
                            &malformed.detail,
                        )
                        .await;
                    }
                }
            }
            deliveries.push(delivery);
        }
        if !parsed.is_empty() {
            let Some(fates) = self.apply_with_retry(&parsed, interrupt).await else {
                return;
            };
            for (item, fate) in parsed.iter().zip(fates) {
                let delivery = &deliveries[item.index];
                let settled = match fate {
                    Fate::Done => true,
                    // A bug repeats itself: no retries, the reason goes with it.
                    Fate::RuleFailed(failure) => {
                        self.give_up(item, RULE_FAILED, &failure.to_string(), delivery, interrupt)
                            .await
                    }
                    Fate::Refused(reason) => self.retry_alone(item, reason, delivery, interrupt).await,
                };
                if !settled {
                    return;
                }
            }
        }
        if let Some(last) = deliveries.last() {
            // Everything up to the last delivery is settled: one ack for all.
            // An ack on a connection the broker dropped may never complete:
            // the loss of the session ends the wait.
            let acked = tokio::select! {
                acked = last.acker.ack(BasicAckOptions { multiple: true }) => acked,
                _ = interrupt.fired() => Ok(false),
            };
            match acked {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("ack not sent (channel closed); the broker will redeliver, the inbox dedups")
                }
                Err(error) => tracing::warn!(%error, "ack failed; the broker will redeliver, the inbox dedups"),
            }
        }
        telemetry::consumer_in_flight(0);
    }

    /// Puts the delivery in the DLQ, retrying until the broker confirms it.
    /// `false`: shutdown or the loss of the session came first, the delivery
    /// stays unacked (and comes
    /// back). It never gives up otherwise: acking a later delivery with
    /// `multiple` would also ack this one.
    async fn dead_letter(&self, delivery: &Delivery, reason: &str, detail: &str, interrupt: &mut Interrupt) -> bool {
        let mut backoff = retry_schedule().build();
        loop {
            let published = tokio::select! {
                published = self.dead_letters.publish(delivery, reason, detail) => published,
                _ = interrupt.fired() => return false,
            };
            let failure = match published {
                Ok(()) => return true,
                // A closed channel ends the session: the watch reports it
                // and the wait below is interrupted.
                Err(DeadLetterError::Broker(error)) => error.to_string(),
                Err(DeadLetterError::NotConfirmed) => "the broker did not confirm".to_owned(),
            };
            let delay = backoff.next().unwrap_or(Duration::from_secs(1));
            tracing::warn!(error = %failure, retry_in_ms = delay.as_millis() as u64, "dead letter not stored; retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = interrupt.fired() => return false,
            }
        }
    }

    /// Applies the batch, retrying while the database is unavailable. If the
    /// database refuses the batch, applies its events one by one so that one
    /// bad event does not hold back the others. `None`: interrupted.
    async fn apply_with_retry(&self, parsed: &[Parsed], interrupt: &mut Interrupt) -> Option<Vec<Fate>> {
        let events: Vec<&Inbound> = parsed.iter().map(|p| &p.inbound).collect();
        match self.apply_until_available(&events, interrupt).await? {
            Ok(verdicts) => Some(verdicts.into_iter().map(Fate::of).collect()),
            Err(error) if events.len() == 1 => Some(vec![Fate::Refused(error.to_string())]),
            Err(error) => {
                tracing::warn!(%error, size = events.len(), "batch refused; applying its events one by one");
                let mut fates = Vec::with_capacity(events.len());
                for event in &events {
                    let fate = match self
                        .apply_until_available(std::slice::from_ref(event), interrupt)
                        .await?
                    {
                        Ok(verdicts) => verdicts.into_iter().next().map_or(Fate::Done, Fate::of),
                        Err(error) => Fate::Refused(error.to_string()),
                    };
                    fates.push(fate);
                }
                Some(fates)
            }
        }
    }

    /// One apply, retried while the database is unavailable. `Some(Err)`: the
    /// database refused it; `None`: interrupted during an outage.
    async fn apply_until_available(
        &self,
        events: &[&Inbound],
        interrupt: &mut Interrupt,
    ) -> Option<Result<Vec<Verdict>, StoreError>> {
        let mut backoff = retry_schedule().build();
        loop {
            let started = Instant::now();
            match self.pipeline.apply(events).await {
                Ok(Committed {
                    verdicts,
                    stored,
                    written_ahead,
                }) => {
                    self.health.database_reachable(true);
                    self.report(events, &verdicts, &stored, &written_ahead, started.elapsed());
                    if self.relay_feed.send(stored).is_err() {
                        tracing::debug!("relay stopped; it will read these outcomes from the outbox");
                    }
                    return Some(Ok(verdicts));
                }
                Err(error) if error.is_transient() => {
                    // Deliveries are held, not consumed: not ready until the
                    // database answers again.
                    self.health.database_reachable(false);
                    let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                    ApplyRetry {
                        cause: RetryCause::Transient,
                        error: &error.to_string(),
                        event_id: (events.len() == 1).then(|| events[0].meta.id.as_str()),
                        delay,
                    }
                    .emit();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = interrupt.fired() => return None,
                    }
                }
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// An event that failed to apply gets `max_attempts` in total, alone,
    /// with backoff; then it goes to the DLQ. `false`: not settled (leave the
    /// batch unacked).
    async fn retry_alone(
        &self,
        item: &Parsed,
        mut reason: String,
        delivery: &Delivery,
        interrupt: &mut Interrupt,
    ) -> bool {
        let mut backoff = retry_schedule().build();
        for _ in 1..self.settings.max_attempts.max(1) {
            let delay = backoff.next().unwrap_or(Duration::from_secs(1));
            ApplyRetry {
                cause: RetryCause::Failed,
                error: &reason,
                event_id: Some(item.inbound.meta.id.as_str()),
                delay,
            }
            .emit();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = interrupt.fired() => return false,
            }
            match self.apply_until_available(&[&item.inbound], interrupt).await {
                None => return false,
                Some(Ok(verdicts)) => match verdicts.into_iter().next().map_or(Fate::Done, Fate::of) {
                    Fate::Done => return true,
                    Fate::RuleFailed(failure) => {
                        return self
                            .give_up(item, RULE_FAILED, &failure.to_string(), delivery, interrupt)
                            .await;
                    }
                    Fate::Refused(again) => reason = again,
                },
                Some(Err(again)) => reason = again.to_string(),
            }
        }
        self.give_up(item, APPLY_FAILED, &reason, delivery, interrupt).await
    }

    /// Dead-letters an event that will not apply, with its reason.
    async fn give_up(
        &self,
        item: &Parsed,
        reason: &'static str,
        detail: &str,
        delivery: &Delivery,
        interrupt: &mut Interrupt,
    ) -> bool {
        DeadLettered {
            reason,
            detail,
            event_id: Some(item.inbound.meta.id.as_str()),
            event_type: Some(item.inbound.meta.type_name.as_str()),
        }
        .emit();
        let stored = self.dead_letter(delivery, reason, detail, interrupt).await;
        if stored {
            let meta = &item.inbound.meta;
            self.remember(meta.id.as_str(), Some(meta.type_name.as_str()), reason, detail)
                .await;
        }
        stored
    }

    /// Records a dead letter for `explain event`, once it is in the DLQ.
    /// Best effort and bounded: the DLQ holds the message whatever happens
    /// here, and a database outage must not hold up the stream.
    async fn remember(&self, id: &str, type_name: Option<&str>, reason: &str, detail: &str) {
        let recorded = tokio::time::timeout(
            Duration::from_secs(2),
            crate::store::dead_letters::record(self.pipeline.pool(), id, type_name, reason, detail),
        )
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, event.id = id, "dead letter not recorded for explain"),
            Err(_) => tracing::warn!(event.id = id, "dead letter not recorded for explain (timed out)"),
        }
    }

    fn report(
        &self,
        events: &[&Inbound],
        verdicts: &[Verdict],
        outbox: &[Pending],
        written_ahead: &[String],
        elapsed: Duration,
    ) {
        let mut applied = Vec::new();
        let mut duplicates = Vec::new();
        for (event, verdict) in events.iter().zip(verdicts) {
            match verdict {
                Verdict::Applied { outcomes } => {
                    tracing::debug!(event.id = %event.meta.id, event.type = %event.meta.type_name, outcomes, "applied");
                    applied.push(event.meta.type_name.as_str());
                }
                Verdict::Duplicate => {
                    tracing::info!(event.id = %event.meta.id, event.type = %event.meta.type_name, "duplicate event; already applied");
                    duplicates.push(event.meta.type_name.as_str());
                }
                Verdict::Failed(_) => {}
            }
        }
        let outcomes: Vec<&str> = written_ahead
            .iter()
            .map(String::as_str)
            .chain(outbox.iter().map(|o| o.type_name.as_str()))
            .collect();
        for row in outbox.iter().filter(|o| o.type_name == "participation.accepted") {
            let body: serde_json::Value = serde_json::from_str(&row.body).unwrap_or_default();
            if body["data"]["fake_order_risk"] == "high" {
                telemetry::high_risk_participation();
            }
        }
        BatchApplied {
            size: events.len(),
            elapsed,
            applied: &applied,
            duplicates: &duplicates,
            outcomes: &outcomes,
        }
        .emit();
    }
}

/// Backoff between attempts: 100 ms doubling to 10 s, with jitter.
pub fn retry_schedule() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
}
