//! Exchanges and queues (contract.md §2), declared idempotently on start.
//!
//! ```text
//!  upstream ──► collab.events (topic) ──#──► collab.events.worker (quorum)
//!                                  ▲             │  refused by the database: parked, then back
//!                  expired copies  └─────────────┤  (collab.events.retry.<delay>ms, retry.rs)
//!                                                │  malformed, or refused max_attempts times: the
//!                                                │  worker republishes it with x-collab-error;
//!                                                │  killing workers: x-delivery-limit
//!                                                ▼
//!                                  collab.events.dlx (fanout) ──► collab.events.dlq (quorum,
//!                                                                   x-delivery-limit 2^31−1)
//!
//!  worker relay ──► collab.outcomes (topic, routing key = outcome type) ──► payouts, notifications…
//! ```

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection, ErrorKind, ExchangeKind};

use super::retry::{self, RetrySchedule};
use crate::telemetry::InternalEvent;
use crate::telemetry::failures::DeadLetterQueueUnprotected;

/// Inbound events; routing key = event type.
pub const EVENTS_EXCHANGE: &str = "collab.events";
/// Outcomes; routing key = outcome type.
pub const OUTCOMES_EXCHANGE: &str = "collab.outcomes";
/// The worker's queue, bound to every routing key of `collab.events` so that
/// unknown types reach the worker and get dead-lettered instead of vanishing.
pub const WORK_QUEUE: &str = "collab.events.worker";
pub const DEAD_LETTER_EXCHANGE: &str = "collab.events.dlx";
pub const DEAD_LETTER_QUEUE: &str = "collab.events.dlq";

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// Arguments of the work queue: quorum, at-least-once dead-lettering into the
/// DLX, and a delivery limit so a message that keeps killing workers ends in
/// the DLQ instead of looping.
pub fn work_queue_arguments(delivery_limit: u32) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), text("quorum"));
    args.insert("x-dead-letter-exchange".into(), text(DEAD_LETTER_EXCHANGE));
    args.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    // at-least-once dead-lettering requires reject-publish overflow.
    args.insert("x-overflow".into(), text("reject-publish"));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(delivery_limit)),
    );
    args
}

/// The dead-letter queue's `x-delivery-limit`: the largest 32-bit signed
/// value, so that no number of returns ever drops a dead letter. RabbitMQ 4.x
/// gives quorum queues without one a limit of 20 (a DLQ has no dead-letter
/// target, so the 21st return would delete the message); `-1`, 4.x's
/// "unlimited", cannot be used: RabbitMQ 3.10 accepts it and drops the
/// message at its first return (measured; docs/decisions.md, "Dead letters").
pub const DEAD_LETTER_DELIVERY_LIMIT: i64 = i32::MAX as i64;

/// Arguments of the dead-letter queue: quorum (replicated), and a delivery
/// limit that never applies.
pub fn dead_letter_queue_arguments() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), text("quorum"));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DEAD_LETTER_DELIVERY_LIMIT),
    );
    args
}

/// The policy that gives a dead-letter queue declared before it had
/// `x-delivery-limit` the same protection (queue arguments cannot change).
pub const DEAD_LETTER_POLICY_HINT: &str = "rabbitmqctl set_policy -p <vhost> --apply-to queues --priority 10 \
     collab-dlq '^collab\\.events\\.dlq$' '{\"delivery-limit\":2147483647}'";

/// The queue as it is (its depth), without changing it; fails if it does
/// not exist.
pub async fn declare_passive(channel: &Channel, queue: &str) -> Result<lapin::Queue, lapin::Error> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

fn is_precondition_failed(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(e)
        if matches!(e.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)))
}

/// Declares the dead-letter queue. One declared by an older version (without
/// `x-delivery-limit`) cannot be redeclared with it: the broker refuses the
/// declaration and closes the channel. It is then used as it is, with a
/// warning naming the policy that protects it; the `dlq` commands never
/// return messages to it, so they are safe either way. Returns a usable
/// channel (a new one if the broker closed `channel`).
async fn declare_dead_letter_queue(connection: &Connection, channel: Channel) -> Result<Channel, lapin::Error> {
    match channel
        .queue_declare(
            DEAD_LETTER_QUEUE.into(),
            QueueDeclareOptions::durable(),
            dead_letter_queue_arguments(),
        )
        .await
    {
        Ok(_) => Ok(channel),
        Err(error) if is_precondition_failed(&error) => {
            let channel = connection.create_channel().await?;
            declare_passive(&channel, DEAD_LETTER_QUEUE).await?;
            DeadLetterQueueUnprotected {
                queue: DEAD_LETTER_QUEUE,
                error: &error.to_string(),
                policy: DEAD_LETTER_POLICY_HINT,
            }
            .emit();
            Ok(channel)
        }
        Err(error) => Err(error),
    }
}

/// Declares the exchanges, queues and bindings on a channel of its own.
pub async fn declare(
    connection: &Connection,
    delivery_limit: u32,
    retries: &RetrySchedule,
) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for (name, kind) in [
        (EVENTS_EXCHANGE, ExchangeKind::Topic),
        (OUTCOMES_EXCHANGE, ExchangeKind::Topic),
        (DEAD_LETTER_EXCHANGE, ExchangeKind::Fanout),
    ] {
        channel
            .exchange_declare(name.into(), kind, durable, FieldTable::default())
            .await?;
    }
    let channel = declare_dead_letter_queue(connection, channel).await?;
    channel
        .queue_bind(
            DEAD_LETTER_QUEUE.into(),
            DEAD_LETTER_EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            WORK_QUEUE.into(),
            QueueDeclareOptions::durable(),
            work_queue_arguments(delivery_limit),
        )
        .await?;
    // Named by their delay, so a changed schedule declares new queues
    // instead of failing on an old one's arguments; an old queue still
    // sends what it holds back to the work queue, and can be deleted once
    // empty.
    for delay in retries.delays() {
        channel
            .queue_declare(
                retry::queue_name(delay).as_str().into(),
                QueueDeclareOptions::durable(),
                retry::queue_arguments(delay, retries.max_parked),
            )
            .await?;
    }
    channel
        .queue_bind(
            WORK_QUEUE.into(),
            EVENTS_EXCHANGE.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}
