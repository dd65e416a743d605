//! CloudEvents 1.0 structured JSON (contract.md §3): parsing inbound messages
//! into typed events, and writing outcomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::events::Event;
use super::outcomes::OutcomeData;
use super::values::{EventId, format_time, rfc3339};

pub const CONTENT_TYPE: &str = "application/cloudevents+json";
/// `source` of every outcome.
pub const SOURCE: &str = "/collab-worker";

/// The envelope attributes of an inbound event that the rules and the
/// outcomes need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub id: EventId,
    pub source: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub time: DateTime<Utc>,
    pub subject: Option<String>,
    pub correlationid: Option<String>,
    pub traceparent: Option<String>,
}

/// A parsed inbound message: its envelope, its typed event and the body
/// text exactly as received (kept in the inbox).
#[derive(Clone, Debug)]
pub struct Inbound {
    pub meta: Meta,
    pub event: Event,
    pub raw: String,
}

/// Why a message cannot be applied at all. The code is the dead-letter
/// reason (`x-collab-error` header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MalformedKind {
    InvalidJson,
    NotACloudEvent,
    UnknownType,
    SchemaViolation,
}

impl MalformedKind {
    pub fn code(self) -> &'static str {
        match self {
            MalformedKind::InvalidJson => "invalid_json",
            MalformedKind::NotACloudEvent => "not_a_cloudevent",
            MalformedKind::UnknownType => "unknown_type",
            MalformedKind::SchemaViolation => "schema_violation",
        }
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {detail}", kind.code())]
pub struct Malformed {
    pub kind: MalformedKind,
    pub detail: String,
    /// The event id and type, when they could be read (for logs and the DLQ).
    pub id: Option<String>,
    pub type_name: Option<String>,
}

/// The top-level attributes of a message, each left as raw JSON so that the
/// body is read once and `data` goes straight into its typed struct.
#[derive(Deserialize)]
struct Attributes<'a> {
    #[serde(borrow, default)]
    specversion: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    source: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    type_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    subject: Option<&'a RawValue>,
    #[serde(borrow, default)]
    correlationid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    traceparent: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// A string attribute: `Ok(None)` when absent or null, `Err` when not a string.
fn text(raw: Option<&RawValue>) -> Result<Option<String>, ()> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw.get()).map(Some).map_err(|_| ()),
    }
}

/// Parses one message body.
pub fn parse(body: &[u8]) -> Result<Inbound, Malformed> {
    let attributes: Attributes<'_> = match serde_json::from_slice(body) {
        Ok(attributes) => attributes,
        Err(e) => {
            let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
            return Err(Malformed {
                kind: if is_json {
                    MalformedKind::NotACloudEvent
                } else {
                    MalformedKind::InvalidJson
                },
                detail: if is_json {
                    format!("the body is not a CloudEvent object: {e}")
                } else {
                    e.to_string()
                },
                id: None,
                type_name: None,
            });
        }
    };
    let non_empty = |raw| text(raw).ok().flatten().filter(|s| !s.is_empty());
    let id = non_empty(attributes.id);
    let type_name = non_empty(attributes.type_name);
    let fail = |kind, detail: String| Malformed {
        kind,
        detail,
        id: id.clone(),
        type_name: type_name.clone(),
    };
    let not_ce = |detail: &str| fail(MalformedKind::NotACloudEvent, detail.to_owned());

    match text(attributes.specversion) {
        Ok(Some(v)) if v == "1.0" => {}
        Ok(Some(other)) => return Err(not_ce(&format!("specversion {other:?} is not \"1.0\""))),
        _ => return Err(not_ce("specversion: required string attribute is missing")),
    }
    let source = non_empty(attributes.source);
    let time_raw = non_empty(attributes.time);
    for (attribute, present) in [
        ("id", id.is_some()),
        ("source", source.is_some()),
        ("type", type_name.is_some()),
        ("time", time_raw.is_some()),
    ] {
        if !present {
            return Err(not_ce(&format!(
                "{attribute}: required non-empty string attribute is missing"
            )));
        }
    }
    let time_raw = time_raw.unwrap_or_default();
    let time =
        rfc3339::parse(&time_raw).ok_or_else(|| not_ce(&format!("time: {time_raw:?} is not an RFC 3339 timestamp")))?;
    let optional = |name: &str, raw| text(raw).map_err(|()| not_ce(&format!("{name}: must be a string")));
    let meta = Meta {
        id: EventId::try_from(id.clone().unwrap_or_default()).map_err(not_ce)?,
        source: source.unwrap_or_default(),
        type_name: type_name.clone().unwrap_or_default(),
        time,
        subject: optional("subject", attributes.subject)?,
        correlationid: optional("correlationid", attributes.correlationid)?,
        traceparent: optional("traceparent", attributes.traceparent)?,
    };
    let Some(data) = attributes.data else {
        return Err(fail(
            MalformedKind::SchemaViolation,
            "data: required object is missing".into(),
        ));
    };
    // serde would also read a struct from a JSON array; the contract says object.
    if !data.get().starts_with('{') {
        return Err(fail(
            MalformedKind::SchemaViolation,
            "data: must be a JSON object".into(),
        ));
    }
    let event = match Event::parse_text(&meta.type_name, data.get()) {
        Ok(Some(event)) => event,
        Ok(None) => {
            return Err(fail(
                MalformedKind::UnknownType,
                format!("type {:?} is not an event type of the contract", meta.type_name),
            ));
        }
        Err(detail) => return Err(fail(MalformedKind::SchemaViolation, detail)),
    };
    // Valid JSON is valid UTF-8.
    let raw = String::from_utf8_lossy(body).into_owned();
    Ok(Inbound { meta, event, raw })
}

/// One outcome as decided by the rules: its deterministic id, its business
/// time and its data. The envelope is added by [`outcome_json`].
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub id: Uuid,
    pub time: DateTime<Utc>,
    pub data: OutcomeData,
}

#[derive(Serialize)]
struct OutcomeEnvelope<'a> {
    specversion: &'static str,
    id: String,
    source: &'static str,
    #[serde(rename = "type")]
    type_name: &'static str,
    time: String,
    subject: String,
    datacontenttype: &'static str,
    causationid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlationid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<&'a str>,
    data: &'a OutcomeData,
}

/// The CloudEvent of an outcome caused by the event `cause`, as JSON text
/// (what the outbox stores and the relay publishes).
pub fn outcome_text(outcome: &Outcome, cause: &Meta) -> String {
    // Plain structs of strings and decimals: serialization cannot fail.
    serde_json::to_string(&outcome_envelope(outcome, cause)).unwrap_or_default()
}

/// The CloudEvent of an outcome caused by the event `cause`.
pub fn outcome_json(outcome: &Outcome, cause: &Meta) -> serde_json::Value {
    serde_json::to_value(outcome_envelope(outcome, cause)).unwrap_or(serde_json::Value::Null)
}

fn outcome_envelope<'a>(outcome: &'a Outcome, cause: &'a Meta) -> OutcomeEnvelope<'a> {
    OutcomeEnvelope {
        specversion: "1.0",
        id: outcome.id.to_string(),
        source: SOURCE,
        type_name: outcome.data.type_name(),
        time: format_time(&outcome.time),
        subject: outcome.data.subject(),
        datacontenttype: "application/json",
        causationid: cause.id.as_str(),
        correlationid: cause.correlationid.as_deref(),
        traceparent: cause.traceparent.as_deref(),
        data: &outcome.data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> serde_json::Value {
        json!({
            "specversion": "1.0", "id": "e1", "source": "/shop", "type": "order.cancelled",
            "time": "2026-10-01T10:00:00Z", "data": {"order_id": "o1"}
        })
    }

    fn kind_of(body: &serde_json::Value) -> Option<MalformedKind> {
        parse(body.to_string().as_bytes()).err().map(|m| m.kind)
    }

    #[test]
    fn a_cloudevent_parses() {
        let inbound = parse(event().to_string().as_bytes());
        assert!(matches!(
            inbound,
            Ok(Inbound {
                event: Event::OrderCancelled(_),
                ..
            })
        ));
    }

    #[test]
    fn each_malformed_kind_is_recognised() {
        assert_eq!(parse(b"{nope").err().map(|m| m.kind), Some(MalformedKind::InvalidJson));
        let mut e = event();
        e["specversion"] = json!("0.3");
        assert_eq!(kind_of(&e), Some(MalformedKind::NotACloudEvent));
        let mut e = event();
        if let Some(m) = e.as_object_mut() {
            m.remove("source");
        }
        assert_eq!(kind_of(&e), Some(MalformedKind::NotACloudEvent));
        let mut e = event();
        e["time"] = json!("yesterday");
        assert_eq!(kind_of(&e), Some(MalformedKind::NotACloudEvent));
        let mut e = event();
        e["type"] = json!("order.vanished");
        assert_eq!(kind_of(&e), Some(MalformedKind::UnknownType));
        let mut e = event();
        e["data"] = json!({"order_id": 7});
        assert_eq!(kind_of(&e), Some(MalformedKind::SchemaViolation));
        assert_eq!(kind_of(&json!([1, 2])), Some(MalformedKind::NotACloudEvent));
    }

    #[test]
    fn malformed_messages_keep_their_id_when_readable() {
        let mut e = event();
        e["type"] = json!("order.vanished");
        let err = parse(e.to_string().as_bytes()).err();
        assert_eq!(err.and_then(|m| m.id), Some("e1".to_owned()));
    }
}
