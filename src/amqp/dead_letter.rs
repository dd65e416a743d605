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
/// On a message an operator put back in the work queue: `replay` (as it
/// was) or `edit` (a corrected copy), who (`x-collab-replayed-by`) and when
/// (`x-collab-replayed-at`). The worker counts and logs it when it arrives.
pub const REPLAY_ACTION_HEADER: &str = "x-collab-replay-action";
pub const REPLAYED_BY_HEADER: &str = "x-collab-replayed-by";
pub const REPLAYED_AT_HEADER: &str = "x-collab-replayed-at";
/// On an edited copy: the event id of the dead letter it corrects, and the
/// fields the operator set.
pub const EDIT_OF_HEADER: &str = "x-collab-edit-of";
pub const EDITED_FIELDS_HEADER: &str = "x-collab-edited-fields";
/// On a parked copy (`retry.rs`): attempts made so far at its event, and
/// the error of the last one. A dead letter has neither: a replay starts
/// with every attempt again.
pub const ATTEMPTS_HEADER: &str = "x-collab-attempts";
pub const RETRY_REASON_HEADER: &str = "x-collab-retry-reason";
/// Written by quorum queues on delivery (how often the message was
/// returned); it belongs to the delivery, not the message, so it is never
/// republished.
pub const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";

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

/// The first `x-death` entry, written when RabbitMQ dead-lettered the
/// message itself (e.g. after `x-delivery-limit` redeliveries).
pub fn first_death(headers: &FieldTable) -> Option<&FieldTable> {
    match headers.inner().get("x-death")? {
        AMQPValue::FieldArray(deaths) => deaths.as_slice().iter().find_map(|d| match d {
            AMQPValue::FieldTable(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// Why a message was dead-lettered: the worker's reason, else the broker's.
pub fn reason(headers: &FieldTable) -> Option<String> {
    header_text(headers, ERROR_HEADER).or_else(|| first_death(headers).and_then(|d| header_text(d, "reason")))
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
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    // A parked copy came back through the default exchange; where it came
    // from first is in its headers already.
    let parked = headers.contains_key(ATTEMPTS_HEADER);
    let mut inner = headers.inner().clone();
    inner.retain(|name, _| name.as_str() != ATTEMPTS_HEADER && name.as_str() != RETRY_REASON_HEADER);
    let mut headers = FieldTable::from(inner);
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
    if !parked {
        headers.insert(ORIGINAL_EXCHANGE_HEADER.into(), text(delivery.exchange.as_str()));
        headers.insert(ORIGINAL_ROUTING_KEY_HEADER.into(), text(delivery.routing_key.as_str()));
    }
    headers.insert(FIRST_DEATH_QUEUE_HEADER.into(), text(WORK_QUEUE));
    headers.insert(DEAD_LETTERED_AT_HEADER.into(), text(&now));
    headers.insert(DEATH_COUNT_HEADER.into(), AMQPValue::LongLongInt(deaths));
    delivery.properties.clone().with_headers(headers).with_delivery_mode(2)
}

/// What an operator can do to a dead letter that puts it back.
pub const REPLAY_ACTIONS: [&str; 2] = ["replay", "edit"];
/// The reason of a message RabbitMQ dead-lettered itself (`x-death`).
pub const DELIVERY_LIMIT_REASON: &str = "delivery_limit";

/// An operator's replay or edit arriving in the work queue: counted and
/// logged by the long-running worker, where metrics are scraped and logs
/// collected (the `dlq` command itself lives for a second).
pub struct OperatorReplay<'a> {
    /// `replay`, `edit`, or `other`: a label, so only known values.
    pub action: &'static str,
    /// A dead-letter reason the worker knows, or `other` (a label too:
    /// headers are whatever arrived, and must not grow the series).
    pub reason: &'static str,
    pub by: Option<String>,
    pub at: Option<String>,
    pub edit_of: Option<String>,
    pub event_id: Option<&'a str>,
}

impl<'a> OperatorReplay<'a> {
    /// `None` for anything else, and for a redelivery or a parked copy of a
    /// replay (counted when it first arrived).
    pub fn of(delivery: &'a Delivery) -> Option<Self> {
        if delivery.redelivered {
            return None;
        }
        let headers = delivery.properties.headers().as_ref()?;
        if headers.contains_key(ATTEMPTS_HEADER) {
            return None;
        }
        let action = header_text(headers, REPLAY_ACTION_HEADER)?;
        let reason = reason(headers);
        Some(Self {
            action: REPLAY_ACTIONS
                .iter()
                .find(|a| **a == action)
                .copied()
                .unwrap_or("other"),
            reason: crate::telemetry::dead_letter_reasons()
                .chain([DELIVERY_LIMIT_REASON])
                .find(|r| reason.as_deref() == Some(*r))
                .unwrap_or("other"),
            by: header_text(headers, REPLAYED_BY_HEADER),
            at: header_text(headers, REPLAYED_AT_HEADER),
            edit_of: header_text(headers, EDIT_OF_HEADER),
            event_id: delivery.properties.message_id().as_ref().map(|m| m.as_str()),
        })
    }
}

impl crate::telemetry::InternalEvent for OperatorReplay<'_> {
    fn emit(self) {
        tracing::info!(
            event.id = self.event_id.unwrap_or("?"),
            action = %self.action,
            reason = %self.reason,
            replayed_by = self.by.as_deref().unwrap_or("?"),
            replayed_at = self.at.as_deref().unwrap_or("?"),
            edit_of = self.edit_of.as_deref(),
            "received a dead letter an operator replayed"
        );
        metrics::counter!("collab_dlq_replayed_total", "action" => self.action, "reason" => self.reason).increment(1);
    }
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
