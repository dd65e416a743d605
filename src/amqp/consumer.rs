//! The batch consumer: takes whatever deliveries are ready (up to the batch
//! size), applies them in one transaction, then acks them with one
//! `multiple` ack.
//!
//! Per delivery, exactly one of:
//! * malformed → dead-lettered with its reason (confirmed), then acked;
//! * applied or duplicate → committed, then acked;
//! * refused by the database → parked in a retry queue (confirmed), then
//!   acked: it comes back after its delay while the events behind it go on
//!   ([`super::retry`]); after `max_attempts` it is dead-lettered
//!   (`apply_failed`) instead;
//! * the rules failed on it (a bug) → dead-lettered at once (`rule_failed`);
//! * database unavailable → the batch is retried with backoff, unacked
//!   meanwhile (nothing else could be applied either); at shutdown left
//!   unacked, so the broker redelivers it.
//!
//! A refused batch is split in halves until the refused events stand alone,
//! so one bad event costs a few transactions, not one per event of its batch.
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
use tracing::{Instrument, Span};

use super::dead_letter::{DeadLetterError, DeadLetters};
use super::retry::{self, ParkError, Retries};
use super::session::{Activity, lost_reason};
use super::topology::WORK_QUEUE;
use crate::config::ConsumerSettings;
use crate::http::Health;
use crate::pipeline::{Committed, Pipeline, Verdict};
use crate::store::StoreError;
use crate::store::outbox::Pending;
use crate::telemetry::failures::{AckFailed, PublishRetry, PublishTarget};
use crate::telemetry::{
    self, ApplyRetry, BatchApplied, ConsumerResumed, DeadLettered, EventParked, InternalEvent, RetryCause,
};
use crate::trace;
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
    /// The database refused it (alone): parked for a retry, or
    /// dead-lettered after its last attempt.
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
    /// Where refused events wait for their next attempt.
    pub retries: Retries,
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

/// A delivery, what it parsed to, and the span of its event.
type Received = (Delivery, Result<Inbound, Malformed>, Span);

/// What the parsing task hands to the apply loop.
enum Incoming {
    Delivery(Box<Received>),
    /// The consumer stream failed (connection lost).
    Failure(lapin::Error),
}

/// Parses every delivery as it arrives (a body over `max_body_bytes` unread),
/// in the span of its event, which lives until the delivery is settled.
async fn parse_deliveries(mut consumer: lapin::Consumer, out: mpsc::Sender<Incoming>, max_body_bytes: usize) {
    while let Some(item) = consumer.next().await {
        let item = match item {
            Ok(delivery) => {
                if let Some(replay) = super::dead_letter::OperatorReplay::of(&delivery) {
                    replay.emit();
                }
                let span = trace::event_span();
                let mut parsed = envelope::parse_limited(&delivery.data, max_body_bytes);
                match &mut parsed {
                    Ok(inbound) => trace::follow(&span, inbound),
                    Err(malformed) => trace::malformed(&span, malformed),
                }
                Incoming::Delivery(Box::new((delivery, parsed, span)))
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
    span: Span,
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
    async fn handle(&self, items: Vec<Received>, interrupt: &mut Interrupt) {
        telemetry::received(items.len());
        telemetry::consumer_in_flight(items.len());
        let mut parsed = Vec::with_capacity(items.len());
        let mut deliveries = Vec::with_capacity(items.len());
        let batch = trace::batch_span(items.len());
        for (index, (delivery, result, span)) in items.into_iter().enumerate() {
            match result {
                Ok(inbound) => {
                    span.follows_from(&batch);
                    parsed.push(Parsed { index, inbound, span });
                }
                Err(malformed) => {
                    let id = malformed
                        .id
                        .clone()
                        .or_else(|| delivery.properties.message_id().as_ref().map(|m| m.to_string()));
                    span.in_scope(|| {
                        DeadLettered {
                            reason: malformed.kind.code(),
                            detail: &malformed.detail,
                            event_id: id.as_deref(),
                            event_type: malformed.type_name.as_deref(),
                        }
                        .emit()
                    });
                    if !self
                        .dead_letter(&delivery, malformed.kind.code(), &malformed.detail, interrupt)
                        .instrument(span)
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
            let Some(fates) = self
                .apply_with_retry(&parsed, interrupt)
                .instrument(batch.clone())
                .await
            else {
                return;
            };
            for (item, fate) in parsed.iter().zip(fates) {
                let delivery = &deliveries[item.index];
                let settled = match fate {
                    Fate::Done => true,
                    // A bug repeats itself: no retries, the reason goes with it.
                    Fate::RuleFailed(failure) => {
                        self.give_up(item, RULE_FAILED, &failure.to_string(), delivery, interrupt)
                            .instrument(item.span.clone())
                            .await
                    }
                    Fate::Refused(error) => {
                        self.park(item, &error, delivery, interrupt)
                            .instrument(item.span.clone())
                            .await
                    }
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
            let error = match acked {
                Ok(true) => None,
                Ok(false) => Some(None),
                Err(error) => Some(Some(error.to_string())),
            };
            if let Some(error) = error {
                let failed = AckFailed {
                    error: error.as_deref(),
                    deliveries: deliveries.len(),
                };
                batch.in_scope(|| failed.emit());
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
            PublishRetry {
                target: PublishTarget::DeadLetter,
                error: &failure,
                delay,
            }
            .emit();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = interrupt.fired() => return false,
            }
        }
    }

    /// Applies the batch, retrying while the database is unavailable. If the
    /// database refuses it, applies each half on its own, and so on, until
    /// the events it refuses stand alone: the others are applied, in order,
    /// with a few transactions per refused event. `None`: interrupted.
    async fn apply_with_retry(&self, parsed: &[Parsed], interrupt: &mut Interrupt) -> Option<Vec<Fate>> {
        let items: Vec<&Parsed> = parsed.iter().collect();
        let mut fates = Vec::with_capacity(items.len());
        // Ranges still to apply, the next one last.
        let mut pending = Vec::new();
        pending.push(0..items.len());
        while let Some(range) = pending.pop() {
            match self.apply_until_available(&items[range.clone()], interrupt).await? {
                Ok(verdicts) => fates.extend(verdicts.into_iter().map(Fate::of)),
                Err(StoreError::RulesFailed(detail)) if range.len() == 1 => {
                    fates.push(Fate::RuleFailed(crate::pipeline::RuleFailure::InSweep(detail)));
                }
                Err(error) if range.len() == 1 => fates.push(Fate::Refused(error.to_string())),
                Err(error) => {
                    tracing::debug!(%error, size = range.len(), "batch refused; applying each half on its own");
                    let middle = range.start + range.len() / 2;
                    pending.push(middle..range.end);
                    pending.push(range.start..middle);
                }
            }
        }
        Some(fates)
    }

    /// One apply, retried while the database is unavailable. `Some(Err)`: the
    /// database refused it; `None`: interrupted during an outage.
    async fn apply_until_available(
        &self,
        items: &[&Parsed],
        interrupt: &mut Interrupt,
    ) -> Option<Result<Vec<Verdict>, StoreError>> {
        let events: Vec<&Inbound> = items.iter().map(|p| &p.inbound).collect();
        let events = events.as_slice();
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
                    self.report(items, &verdicts, &stored, &written_ahead, started.elapsed());
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

    /// After a refused attempt: parks the event for the next one, or
    /// dead-letters it after its last (or if its retry queue will not take
    /// it). `false`: not settled (leave the batch unacked).
    async fn park(&self, item: &Parsed, error: &str, delivery: &Delivery, interrupt: &mut Interrupt) -> bool {
        let attempts = retry::attempts_made(delivery).saturating_add(1);
        let max_attempts = self.retries.schedule().max_attempts;
        if attempts >= max_attempts {
            let detail = format!("{error} (attempt {attempts} of {max_attempts})");
            return self.give_up(item, APPLY_FAILED, &detail, delivery, interrupt).await;
        }
        let mut backoff = retry_schedule().build();
        loop {
            let parked = tokio::select! {
                parked = self.retries.park(delivery, attempts, error) => parked,
                _ = interrupt.fired() => return false,
            };
            let failure = match parked {
                Ok(delay) => {
                    EventParked {
                        event_id: item.inbound.meta.id.as_str(),
                        event_type: &item.inbound.meta.type_name,
                        error,
                        attempts,
                        max_attempts,
                        delay,
                    }
                    .emit();
                    return true;
                }
                Err(refused @ ParkError::Refused(_)) => {
                    let detail = format!("{error} (attempt {attempts} of {max_attempts}; not parked: {refused})");
                    return self.give_up(item, APPLY_FAILED, &detail, delivery, interrupt).await;
                }
                // A closed channel ends the session: the watch reports it
                // and the wait below is interrupted.
                Err(ParkError::Broker(broker)) => broker.to_string(),
            };
            let delay = backoff.next().unwrap_or(Duration::from_secs(1));
            PublishRetry {
                target: PublishTarget::RetryQueue,
                error: &failure,
                delay,
            }
            .emit();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = interrupt.fired() => return false,
            }
        }
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
        items: &[&Parsed],
        verdicts: &[Verdict],
        outbox: &[Pending],
        written_ahead: &[String],
        elapsed: Duration,
    ) {
        let mut applied = Vec::new();
        let mut duplicates = Vec::new();
        for (item, verdict) in items.iter().zip(verdicts) {
            let event = &item.inbound;
            let _in_its_span = item.span.enter();
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
            size: items.len(),
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
