//! Exchanges and queues (contract.md §2), declared idempotently on start.
//!
//! ```text
//!  upstream ──► collab.events (topic) ──#──► collab.events.worker (quorum)
//!                                                │  malformed: the worker republishes it with
//!                                                │  x-collab-error; poison: x-delivery-limit
//!                                                ▼
//!                                  collab.events.dlx (fanout) ──► collab.events.dlq (quorum)
//!
//!  worker relay ──► collab.outcomes (topic, routing key = outcome type) ──► payouts, notifications…
//! ```

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

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

pub async fn declare(channel: &Channel, delivery_limit: u32) -> Result<(), lapin::Error> {
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
    let mut dlq_args = FieldTable::default();
    dlq_args.insert("x-queue-type".into(), text("quorum"));
    channel
        .queue_declare(DEAD_LETTER_QUEUE.into(), QueueDeclareOptions::durable(), dlq_args)
        .await?;
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
