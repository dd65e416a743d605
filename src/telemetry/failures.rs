//! The shell's recoverable failures as typed events: each logs once, with
//! its fields, and counts, so an alert can fire on what a log only says.

use std::time::Duration;

use metrics::{counter, describe_counter};

use super::InternalEvent;

/// Describes the counters and registers every series at zero.
pub(super) fn register() {
    describe_counter!(
        "collab_ack_failures_total",
        "Acks of applied deliveries the broker did not take (the deliveries come back; the inbox dedups them)."
    );
    describe_counter!(
        "collab_publish_retries_total",
        "Publishes to the broker retried, by target (dead_letter, retry_queue)."
    );
    describe_counter!(
        "collab_connect_retries_total",
        "Attempts to reach a dependency that failed, by dependency (postgresql, rabbitmq)."
    );
    describe_counter!(
        "collab_relay_failures_total",
        "Relay rounds that failed (the outbox keeps the outcomes; they are published later)."
    );
    counter!("collab_ack_failures_total").increment(0);
    for target in PublishTarget::ALL {
        counter!("collab_publish_retries_total", "target" => target.label()).increment(0);
    }
    for dependency in Dependency::ALL {
        counter!("collab_connect_retries_total", "dependency" => dependency.label()).increment(0);
    }
    counter!("collab_relay_failures_total").increment(0);
}

/// The multiple ack after a commit failed or could not be sent.
pub struct AckFailed<'a> {
    /// `None`: the channel was closed before the ack went out.
    pub error: Option<&'a str>,
    /// Deliveries the ack was for.
    pub deliveries: usize,
}

impl InternalEvent for AckFailed<'_> {
    fn emit(self) {
        tracing::warn!(
            error = self.error.unwrap_or("channel closed"),
            deliveries = self.deliveries,
            "ack not taken; the broker will redeliver, the inbox dedups"
        );
        counter!("collab_ack_failures_total").increment(1);
    }
}

/// Where the consumer publishes a delivery before acking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishTarget {
    DeadLetter,
    RetryQueue,
}

impl PublishTarget {
    pub const ALL: [PublishTarget; 2] = [PublishTarget::DeadLetter, PublishTarget::RetryQueue];

    pub fn label(self) -> &'static str {
        match self {
            PublishTarget::DeadLetter => "dead_letter",
            PublishTarget::RetryQueue => "retry_queue",
        }
    }
}

/// A dead letter or a parked copy was not confirmed; the delivery stays
/// unacked and the publish is tried again.
pub struct PublishRetry<'a> {
    pub target: PublishTarget,
    pub error: &'a str,
    pub delay: Duration,
}

impl InternalEvent for PublishRetry<'_> {
    fn emit(self) {
        tracing::warn!(
            target_queue = self.target.label(),
            error = self.error,
            retry_in_ms = self.delay.as_millis() as u64,
            "publish not confirmed; retrying"
        );
        counter!("collab_publish_retries_total", "target" => self.target.label()).increment(1);
    }
}

/// What the worker waits for at start and after a broker loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    PostgreSql,
    RabbitMq,
}

impl Dependency {
    pub const ALL: [Dependency; 2] = [Dependency::PostgreSql, Dependency::RabbitMq];

    pub fn label(self) -> &'static str {
        match self {
            Dependency::PostgreSql => "postgresql",
            Dependency::RabbitMq => "rabbitmq",
        }
    }
}

/// A dependency could not be reached; the worker waits and tries again.
pub struct ConnectRetry<'a> {
    pub dependency: Dependency,
    pub error: &'a str,
    pub delay: Duration,
}

impl InternalEvent for ConnectRetry<'_> {
    fn emit(self) {
        tracing::warn!(
            dependency = self.dependency.label(),
            error = self.error,
            retry_in_ms = self.delay.as_millis() as u64,
            "dependency unavailable; retrying"
        );
        counter!("collab_connect_retries_total", "dependency" => self.dependency.label()).increment(1);
    }
}

/// Why the relay stopped short; the outbox keeps what it did not publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayFailure {
    /// A round failed; retried after the delay.
    Round,
    /// The broker went away; the next session's relay goes on.
    BrokerLost,
    /// At shutdown, publishing what was left failed or took too long; the
    /// next worker publishes it.
    ShutdownFlush,
    /// The relay task itself ended abnormally (a panic).
    Task,
}

impl RelayFailure {
    fn text(self) -> &'static str {
        match self {
            RelayFailure::Round => "relay round failed; retrying",
            RelayFailure::BrokerLost => "relay lost the broker; the next session publishes the rest",
            RelayFailure::ShutdownFlush => "outbox flush at shutdown failed; the next worker publishes the rest",
            RelayFailure::Task => "relay task failed; the outbox keeps what it did not publish",
        }
    }
}

pub struct RelayFailed<'a> {
    pub failure: RelayFailure,
    pub error: &'a str,
    pub delay: Option<Duration>,
}

impl InternalEvent for RelayFailed<'_> {
    fn emit(self) {
        let retry_in_ms = self.delay.map(|d| d.as_millis() as u64);
        match self.failure {
            RelayFailure::Task => tracing::error!(error = self.error, "{}", self.failure.text()),
            _ => tracing::warn!(error = self.error, retry_in_ms, "{}", self.failure.text()),
        }
        counter!("collab_relay_failures_total").increment(1);
    }
}

/// Closing the broker connection at shutdown did not finish cleanly (the
/// broker returns unacked deliveries either way).
pub struct BrokerCloseFailed<'a> {
    pub error: &'a str,
}

impl InternalEvent for BrokerCloseFailed<'_> {
    fn emit(self) {
        tracing::warn!(error = self.error, "closing the broker connection");
    }
}

/// The DLQ was declared by an older version without `x-delivery-limit`:
/// used as it is, with the policy that protects it.
pub struct DeadLetterQueueUnprotected<'a> {
    pub queue: &'a str,
    pub error: &'a str,
    pub policy: &'a str,
}

impl InternalEvent for DeadLetterQueueUnprotected<'_> {
    fn emit(self) {
        tracing::warn!(
            queue = self.queue,
            error = self.error,
            policy = self.policy,
            "the dead-letter queue exists with other arguments (declared by an older version); using it as it is. \
             On RabbitMQ 4.x a quorum queue without x-delivery-limit drops a message returned 20 times: \
             apply the policy"
        );
    }
}

/// A retention round failed (the next round tries again).
pub struct RetentionFailed<'a> {
    pub error: &'a str,
}

impl InternalEvent for RetentionFailed<'_> {
    fn emit(self) {
        tracing::warn!(error = self.error, "retention round failed; retried at the next");
    }
}

/// Expired outbox partitions kept because they still hold unpublished
/// outcomes (the relay is behind; they go once published).
pub struct ExpiredOutboxKept<'a> {
    pub partitions: &'a [String],
}

impl InternalEvent for ExpiredOutboxKept<'_> {
    fn emit(self) {
        tracing::warn!(kept = ?self.partitions, "expired outbox partitions kept: they hold unpublished outcomes");
    }
}
