//! Dead letters: the worker's own (malformed and poison messages, with a
//! machine-readable reason) and the headers that describe any message in the
//! dead-letter queue, including those the broker dead-lettered itself.

use lapin::message::Delivery;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};

use super::topology::{DEAD_LETTER_EXCHANGE, WORK_QUEUE};

/// Machine-readable reason (`invalid_json`, `schema_violation`, `apply_failed`…).
pub const ERROR_HEADER: &str = "x-collab-error";
/// Human-readable detail of the reason.
pub const DETAIL_HEADER: &str = "x-collab-error-detail";
pub const ORIGINAL_EXCHANGE_HEADER: &str = "x-collab-original-exchange";
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-collab-original-routing-key";
pub const FIRST_DEATH_QUEUE_HEADER: &str = "x-collab-first-death-queue";
pub const DEAD_LETTERED_AT_HEADER: &str = "x-collab-dead-lettered-at";
/// How many times this message was dead-lettered (replays that failed again count).
pub const DEATH_COUNT_HEADER: &str = "x-collab-death-count";
/// How many times an operator replayed it.
pub const REPLAY_COUNT_HEADER: &str = "x-collab-replay-count";
/// Every death so far: reason, detail, time — the message's history.
pub const HISTORY_HEADER: &str = "x-collab-history";

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm the dead letter")]
    NotConfirmed,
}

/// Publishes dead letters on a channel in confirm mode.
#[derive(Clone)]
pub struct DeadLetters {
    channel: Channel,
}

pub fn header_text(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

pub fn header_int(headers: &FieldTable, name: &str) -> Option<i64> {
    match headers.inner().get(name)? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        _ => None,
    }
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// The properties of a message as it goes to the dead-letter queue: its own,
/// plus the reason and where it came from.
pub fn dead_letter_properties(delivery: &Delivery, reason: &str, detail: &str) -> BasicProperties {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    let deaths = header_int(&headers, DEATH_COUNT_HEADER).unwrap_or(0) + 1;
    let detail: String = detail.chars().take(2_000).collect();
    let now = crate::wire::values::format_time(&chrono::Utc::now());
    let mut history = match headers.inner().get(HISTORY_HEADER) {
        Some(AMQPValue::FieldArray(entries)) => entries.clone(),
        _ => FieldArray::default(),
    };
    let mut entry = FieldTable::default();
    entry.insert("reason".into(), text(reason));
    entry.insert("detail".into(), text(&detail));
    entry.insert("at".into(), text(&now));
    history.push(AMQPValue::FieldTable(entry));
    headers.insert(HISTORY_HEADER.into(), AMQPValue::FieldArray(history));
    headers.insert(ERROR_HEADER.into(), text(reason));
    headers.insert(DETAIL_HEADER.into(), text(&detail));
    headers.insert(ORIGINAL_EXCHANGE_HEADER.into(), text(delivery.exchange.as_str()));
    headers.insert(ORIGINAL_ROUTING_KEY_HEADER.into(), text(delivery.routing_key.as_str()));
    headers.insert(FIRST_DEATH_QUEUE_HEADER.into(), text(WORK_QUEUE));
    headers.insert(DEAD_LETTERED_AT_HEADER.into(), text(&now));
    headers.insert(DEATH_COUNT_HEADER.into(), AMQPValue::LongLongInt(deaths));
    delivery.properties.clone().with_headers(headers).with_delivery_mode(2)
}

impl DeadLetters {
    pub fn new(channel: Channel) -> Self {
        Self { channel }
    }

    /// Puts a copy of the delivery in the dead-letter queue and waits for the
    /// broker's confirm; only then may the caller ack the original.
    pub async fn publish(&self, delivery: &Delivery, reason: &str, detail: &str) -> Result<(), DeadLetterError> {
        let properties = dead_letter_properties(delivery, reason, detail);
        let routing_key: ShortString = delivery.routing_key.clone();
        let confirm = self
            .channel
            .basic_publish(
                DEAD_LETTER_EXCHANGE.into(),
                routing_key,
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                properties,
            )
            .await?
            .await?;
        if confirm.is_ack() && confirm.take_message().is_none() {
            Ok(())
        } else {
            Err(DeadLetterError::NotConfirmed)
        }
    }
}
