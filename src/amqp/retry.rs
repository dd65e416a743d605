//! Parking: an event the database refused waits out its backoff in the
//! broker, not in the consumer, so the events behind it go on at once.
//!
//! ```text
//!  collab.events.worker ──refused──► collab.events.retry.<delay>ms (quorum, x-message-ttl = delay,
//!          ▲                                 │                        x-max-length = max_parked)
//!          └────── expired: dead-lettered ◄──┘ through the default exchange
//! ```
//!
//! The consumer republishes a copy of the refused delivery to the retry
//! queue of its attempt (confirmed), then acks the original with the rest of
//! its batch. The copy carries `x-collab-attempts`; when its TTL runs out the
//! broker dead-letters it back to the work queue, where it is applied again
//! like any other event. After `consumer.max_attempts` it goes to the DLQ as
//! `apply_failed`. Nothing is held unacked and nothing waits in memory, so a
//! restart loses no parked event and a burst of them costs no prefetch.
//!
//! One queue per delay, because a quorum queue expires messages only at its
//! head: with one TTL per queue, the head is always the first to expire.

use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};

pub use super::dead_letter::{ATTEMPTS_HEADER, RETRY_REASON_HEADER};
use super::dead_letter::{ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER, header_int};
use super::topology::WORK_QUEUE;
use crate::config::ConsumerSettings;

/// Names of the retry queues: this prefix and the delay in milliseconds.
pub const RETRY_QUEUE_PREFIX: &str = "collab.events.retry.";

/// Headers the broker writes when it dead-letters a message (an expired
/// copy has them): a new copy starts without, so each retry queue's expiry
/// is not piled onto the next.
const BROKER_DEATH_HEADERS: [&str; 8] = [
    "x-death",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-first-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-last-death-exchange",
    "x-delivery-count",
];

/// When the retries of a refused event happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    pub first: Duration,
    pub max: Duration,
    pub max_attempts: u32,
    /// `x-max-length` of each retry queue.
    pub max_parked: u32,
}

impl RetrySchedule {
    pub fn of(settings: &ConsumerSettings) -> Self {
        Self {
            first: Duration::from_millis(settings.retry_delay_ms.max(1)),
            max: Duration::from_millis(settings.max_retry_delay_ms.max(settings.retry_delay_ms).max(1)),
            max_attempts: settings.max_attempts.max(1),
            max_parked: settings.max_parked.max(1),
        }
    }

    /// The wait before attempt `attempt + 1`, after `attempt` failed
    /// (`attempt` ≥ 1): the first delay, doubling, at most `max`.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    /// Every delay this schedule uses, once each, shortest first.
    pub fn delays(&self) -> Vec<Duration> {
        let mut delays: Vec<Duration> = (1..self.max_attempts).map(|a| self.delay_after(a)).collect();
        delays.dedup();
        delays
    }

    /// The retry queues this schedule parks events in.
    pub fn queues(&self) -> Vec<String> {
        self.delays().into_iter().map(queue_name).collect()
    }
}

pub fn queue_name(delay: Duration) -> String {
    format!("{RETRY_QUEUE_PREFIX}{}ms", delay.as_millis())
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// Arguments of a retry queue: quorum (replicated, like the work queue), a
/// TTL that is the delay, at-least-once dead-lettering back to the work
/// queue through the default exchange (only the worker's queue gets the
/// copy, not every queue bound to `collab.events`), and a length limit that
/// refuses what does not fit (the publisher sees a nack).
pub fn queue_arguments(delay: Duration, max_parked: u32) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), text("quorum"));
    args.insert(
        "x-message-ttl".into(),
        AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
    );
    args.insert("x-dead-letter-exchange".into(), text(""));
    args.insert("x-dead-letter-routing-key".into(), text(WORK_QUEUE));
    args.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    // Required by at-least-once dead-lettering; also what makes the limit
    // refuse new copies instead of dropping the oldest.
    args.insert("x-overflow".into(), text("reject-publish"));
    args.insert("x-max-length".into(), AMQPValue::LongLongInt(i64::from(max_parked)));
    args
}

/// Attempts already made at this delivery's event (0 on its first arrival).
pub fn attempts_made(delivery: &Delivery) -> u32 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| header_int(h, ATTEMPTS_HEADER))
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// Whether this delivery is a parked copy coming back.
pub fn is_parked_copy(delivery: &Delivery) -> bool {
    delivery
        .properties
        .headers()
        .as_ref()
        .is_some_and(|h| h.inner().contains_key(ATTEMPTS_HEADER))
}

/// The properties of a parked copy: the original's, the attempts made, the
/// last error, and where the event first came from (a copy comes back
/// through the default exchange, so its delivery no longer says).
pub fn parked_properties(delivery: &Delivery, attempts: u32, error: &str) -> BasicProperties {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    if !is_parked_copy(delivery) {
        headers.insert(ORIGINAL_EXCHANGE_HEADER.into(), text(delivery.exchange.as_str()));
        headers.insert(ORIGINAL_ROUTING_KEY_HEADER.into(), text(delivery.routing_key.as_str()));
    }
    let mut inner = headers.inner().clone();
    inner.retain(|name, _| !BROKER_DEATH_HEADERS.contains(&name.as_str()));
    let mut headers = FieldTable::from(inner);
    headers.insert(ATTEMPTS_HEADER.into(), AMQPValue::LongLongInt(i64::from(attempts)));
    let error: String = error.chars().take(2_000).collect();
    headers.insert(RETRY_REASON_HEADER.into(), text(&error));
    delivery.properties.clone().with_headers(headers).with_delivery_mode(2)
}

#[derive(Debug, thiserror::Error)]
pub enum ParkError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    /// The retry queue is full (`consumer.max_parked`) or gone: the event
    /// cannot wait there.
    #[error("{0} refused the event (full: consumer.max_parked, or deleted)")]
    Refused(String),
}

/// Publishes parked copies on a channel in confirm mode.
#[derive(Clone)]
pub struct Retries {
    channel: Channel,
    schedule: RetrySchedule,
}

impl Retries {
    pub fn new(channel: Channel, schedule: RetrySchedule) -> Self {
        Self { channel, schedule }
    }

    pub fn schedule(&self) -> &RetrySchedule {
        &self.schedule
    }

    /// Parks the delivery after its `attempts`-th failed attempt and waits
    /// for the broker's confirm; only then may the caller ack the original.
    /// Returns the delay it waits.
    pub async fn park(&self, delivery: &Delivery, attempts: u32, error: &str) -> Result<Duration, ParkError> {
        let delay = self.schedule.delay_after(attempts);
        let queue = queue_name(delay);
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                parked_properties(delivery, attempts, error),
            )
            .await?
            .await?;
        if confirm.is_ack() && confirm.take_message().is_none() {
            Ok(delay)
        } else {
            Err(ParkError::Refused(queue))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(first: u64, max: u64, max_attempts: u32) -> RetrySchedule {
        RetrySchedule {
            first: Duration::from_millis(first),
            max: Duration::from_millis(max),
            max_attempts,
            max_parked: 10,
        }
    }

    #[test]
    fn delays_double_up_to_the_maximum_one_queue_each() {
        let s = schedule(1_000, 5_000, 6);
        assert_eq!(s.delay_after(1), Duration::from_secs(1));
        assert_eq!(s.delay_after(2), Duration::from_secs(2));
        assert_eq!(s.delay_after(3), Duration::from_secs(4));
        assert_eq!(s.delay_after(4), Duration::from_secs(5));
        assert_eq!(s.delay_after(40), Duration::from_secs(5), "no overflow");
        assert_eq!(
            s.queues(),
            [
                "collab.events.retry.1000ms",
                "collab.events.retry.2000ms",
                "collab.events.retry.4000ms",
                "collab.events.retry.5000ms"
            ]
        );
    }

    #[test]
    fn one_attempt_parks_nothing() {
        assert!(schedule(1_000, 5_000, 1).queues().is_empty());
    }
}
