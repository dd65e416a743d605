//! CloudEvents 1.0 structured JSON (contract.md §3): parsing inbound messages
//! into typed events, and writing outcomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::events::Event;
use super::outcomes::OutcomeData;
use super::values::{EventId, MAX_ID_BYTES, check_id, format_time, rfc3339};

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
    /// W3C trace context: the event's, until the consumer replaces it with
    /// its own span's when spans are exported (`trace::follow`); outcomes
    /// carry it.
    pub traceparent: Option<String>,
    /// W3C vendor trace state, carried to the outcomes as it came.
    pub tracestate: Option<String>,
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
    /// Larger than `consumer.max_body_bytes`; not read at all.
    TooLarge,
    /// Not JSON, or not Unicode text (invalid UTF-8, an unpaired surrogate escape).
    InvalidJson,
    NotACloudEvent,
    UnknownType,
    SchemaViolation,
}

impl MalformedKind {
    /// Every kind, for documentation checks and metrics registered at zero.
    pub const ALL: [MalformedKind; 5] = [
        MalformedKind::TooLarge,
        MalformedKind::InvalidJson,
        MalformedKind::NotACloudEvent,
        MalformedKind::UnknownType,
        MalformedKind::SchemaViolation,
    ];

    pub fn code(self) -> &'static str {
        match self {
            MalformedKind::TooLarge => "too_large",
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

/// Longest detail kept: details quote input values, which may be long.
const MAX_DETAIL_CHARS: usize = 2_000;

impl Malformed {
    fn new(kind: MalformedKind, detail: String) -> Self {
        Self {
            kind,
            detail,
            id: None,
            type_name: None,
        }
    }
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
    tracestate: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// What kind of JSON value a raw value is, for messages.
fn json_kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A string attribute: `Ok(None)` when absent or null; `Err` (the reason)
/// when present with another type.
fn text(name: &str, raw: Option<&RawValue>) -> Result<Option<String>, String> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map(Some)
            .map_err(|_| format!("{name}: must be a string, not {}", json_kind(raw.get()))),
    }
}

/// A required string attribute: present, a string, non-empty.
fn required(name: &str, raw: Option<&RawValue>) -> Result<String, String> {
    match text(name, raw)? {
        None => Err(format!("{name}: required string attribute is missing")),
        Some(value) if value.is_empty() => Err(format!("{name}: must be a non-empty string")),
        Some(value) => Ok(value),
    }
}

/// An input value quoted in a detail, cut to a readable length.
fn quoted(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &value[..cut], value.len()),
        None => format!("{value:?}"),
    }
}

/// Parses one message body unless it is larger than `max_body_bytes`: a
/// larger body is refused without being read (`too_large`).
pub fn parse_limited(body: &[u8], max_body_bytes: usize) -> Result<Inbound, Malformed> {
    if body.len() > max_body_bytes {
        return Err(Malformed::new(
            MalformedKind::TooLarge,
            format!(
                "the body has {} bytes, more than consumer.max_body_bytes ({max_body_bytes})",
                body.len()
            ),
        ));
    }
    parse(body)
}

/// Parses one message body.
///
/// Nothing that PostgreSQL would refuse gets through: the body is UTF-8
/// with no unpaired surrogate escape (`invalid_json` otherwise), and no
/// string in it holds U+0000 (`schema_violation`) — the inbox keeps the body
/// as received and operators read it as `jsonb`, which refuses both.
pub fn parse(body: &[u8]) -> Result<Inbound, Malformed> {
    parse_checked(body).map_err(|mut malformed| {
        if let Some((cut, _)) = malformed.detail.char_indices().nth(MAX_DETAIL_CHARS) {
            malformed.detail.truncate(cut);
            malformed.detail.push('…');
        }
        malformed
    })
}

fn parse_checked(body: &[u8]) -> Result<Inbound, Malformed> {
    let json = std::str::from_utf8(body)
        .map_err(|e| Malformed::new(MalformedKind::InvalidJson, format!("the body is not UTF-8: {e}")))?;
    let escapes = scan_escapes(json).map_err(|detail| Malformed::new(MalformedKind::InvalidJson, detail))?;
    let first = json.trim_start_matches([' ', '\t', '\n', '\r']).as_bytes().first();
    // serde would also read the attributes from a JSON array, in field order.
    if first != Some(&b'{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(json) {
            Ok(_) => Malformed::new(
                MalformedKind::NotACloudEvent,
                format!(
                    "the body is {}, not a JSON object",
                    json_kind(json.trim_start_matches([' ', '\t', '\n', '\r']))
                ),
            ),
            Err(e) => Malformed::new(MalformedKind::InvalidJson, e.to_string()),
        });
    }
    let attributes: Attributes<'_> = match serde_json::from_str(json) {
        Ok(attributes) => attributes,
        Err(e) => {
            let is_json = serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok();
            return Err(if is_json {
                Malformed::new(
                    MalformedKind::NotACloudEvent,
                    format!("the body is not a CloudEvent object: {e}"),
                )
            } else {
                Malformed::new(MalformedKind::InvalidJson, e.to_string())
            });
        }
    };
    // Kept for logs and dead letters only when within the id rules: an id
    // that breaks them is not echoed in full.
    let raw_id = text("id", attributes.id).ok().flatten();
    let type_name = text("type", attributes.type_name)
        .ok()
        .flatten()
        .filter(|t| !t.is_empty());
    let fail = |kind, detail: String| Malformed {
        kind,
        detail,
        id: raw_id.clone().filter(|id| check_id(id).is_ok()),
        type_name: type_name.clone().filter(|t| t.len() <= MAX_ID_BYTES),
    };
    let not_ce = |detail: String| fail(MalformedKind::NotACloudEvent, detail);

    match text("specversion", attributes.specversion).map_err(&not_ce)? {
        Some(v) if v == "1.0" => {}
        Some(other) => return Err(not_ce(format!("specversion {} is not \"1.0\"", quoted(&other)))),
        None => return Err(not_ce("specversion: required string attribute is missing".into())),
    }
    let id = required("id", attributes.id).map_err(&not_ce)?;
    let source = required("source", attributes.source).map_err(&not_ce)?;
    let type_name_text = required("type", attributes.type_name).map_err(&not_ce)?;
    let time_raw = required("time", attributes.time).map_err(&not_ce)?;
    let time = rfc3339::parse(&time_raw)
        .ok_or_else(|| not_ce(format!("time: {} is not an RFC 3339 timestamp", quoted(&time_raw))))?;
    let optional = |name: &str, raw| text(name, raw).map_err(&not_ce);
    let subject = optional("subject", attributes.subject)?;
    let correlationid = optional("correlationid", attributes.correlationid)?;
    let traceparent = optional("traceparent", attributes.traceparent)?;
    let tracestate = optional("tracestate", attributes.tracestate)?;
    // An id of the wrong size or with U+0000 is a CloudEvent whose value
    // breaks the contract's schema, like a bad id inside `data`.
    let id = EventId::try_from(id).map_err(|e| fail(MalformedKind::SchemaViolation, format!("id: {e}")))?;
    let meta = Meta {
        id,
        source,
        type_name: type_name_text,
        time,
        subject,
        correlationid,
        traceparent,
        tracestate,
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
            format!("data: must be a JSON object, not {}", json_kind(data.get())),
        ));
    }
    let event = match Event::parse_text(&meta.type_name, data.get()) {
        Ok(Some(event)) => event,
        Ok(None) => {
            return Err(fail(
                MalformedKind::UnknownType,
                format!("type {} is not an event type of the contract", quoted(&meta.type_name)),
            ));
        }
        Err(detail) => return Err(fail(MalformedKind::SchemaViolation, detail)),
    };
    if escapes.nul {
        // Rare: find where, for the detail.
        let path = nul_path(json).unwrap_or_else(|| "a string".into());
        return Err(fail(
            MalformedKind::SchemaViolation,
            format!("{path}: contains U+0000, which PostgreSQL cannot store"),
        ));
    }
    Ok(Inbound {
        meta,
        event,
        raw: json.to_owned(),
    })
}

/// What the escapes of a JSON text hold.
struct Escapes {
    /// Some string has `\u0000`.
    nul: bool,
}

/// Reads every `\` escape of a JSON text (only strings have them). `Err`:
/// an unpaired UTF-16 surrogate (`\ud800` alone), which no Unicode text can
/// hold — serde_json skips such strings unread where they are not decoded
/// (extension attributes, extra fields), PostgreSQL's `jsonb` refuses them.
fn scan_escapes(text: &str) -> Result<Escapes, String> {
    let bytes = text.as_bytes();
    let mut nul = false;
    // Where the low half of a surrogate pair must start.
    let mut low_expected_at: Option<usize> = None;
    let mut from = 0;
    let lone = |at: usize| format!("the body is not Unicode text: an unpaired surrogate escape at byte {at}");
    while let Some(offset) = bytes.get(from..).and_then(|rest| rest.iter().position(|&b| b == b'\\')) {
        let at = from + offset;
        let unit = match bytes.get(at + 1) {
            Some(b'u') => bytes
                .get(at + 2..at + 6)
                .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u16::from_str_radix(hex, 16).ok()),
            _ => None,
        };
        let paired = low_expected_at.take();
        if let Some(expected) = paired
            && (at != expected || !unit.is_some_and(|u| (0xDC00..=0xDFFF).contains(&u)))
        {
            return Err(lone(expected - 6));
        }
        match unit {
            Some(0) => nul = true,
            Some(0xD800..=0xDBFF) => low_expected_at = Some(at + 6),
            Some(0xDC00..=0xDFFF) if paired.is_none() => return Err(lone(at)),
            _ => {}
        }
        // A `\u` escape is six bytes, any other two (`\\` included).
        from = at + if unit.is_some() { 6 } else { 2 };
    }
    match low_expected_at {
        Some(expected) => Err(lone(expected - 6)),
        None => Ok(Escapes { nul }),
    }
}

/// The path of the first string (or member name) holding U+0000, in the
/// notation of schema violations (`data.products[0].title`).
fn nul_path(text: &str) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        match value {
            serde_json::Value::String(s) => s.contains('\0').then(|| path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{path}[{i}]"))),
            serde_json::Value::Object(members) => members.iter().find_map(|(key, member)| {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if key.contains('\0') {
                    Some(format!("{} (a member name)", if path.is_empty() { "." } else { path }))
                } else {
                    walk(member, &inner)
                }
            }),
            _ => None,
        }
    }
    walk(&serde_json::from_str(text).ok()?, "")
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
    #[serde(skip_serializing_if = "Option::is_none")]
    tracestate: Option<&'a str>,
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
        tracestate: cause.tracestate.as_deref(),
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

    fn detail_of(body: &[u8]) -> (Option<MalformedKind>, String) {
        match parse(body) {
            Ok(_) => (None, String::new()),
            Err(m) => (Some(m.kind), m.detail),
        }
    }

    #[test]
    fn ids_longer_than_256_bytes_or_with_nul_are_schema_violations() {
        let mut e = event();
        e["id"] = json!("x".repeat(256));
        assert_eq!(kind_of(&e), None);
        for id in ["x".repeat(257), "x".repeat(10_000), "a\0b".to_owned()] {
            let mut e = event();
            e["id"] = json!(id);
            let (kind, detail) = detail_of(e.to_string().as_bytes());
            assert_eq!(kind, Some(MalformedKind::SchemaViolation), "{detail}");
            assert!(detail.starts_with("id: "), "{detail}");
            // The broken id is not echoed (logs, headers).
            assert!(parse(e.to_string().as_bytes()).err().and_then(|m| m.id).is_none());
        }
        let mut e = event();
        e["data"]["order_id"] = json!("o".repeat(300));
        let (kind, detail) = detail_of(e.to_string().as_bytes());
        assert_eq!(kind, Some(MalformedKind::SchemaViolation));
        assert!(
            detail.contains("data.order_id") && detail.contains("256 bytes"),
            "{detail}"
        );
    }

    #[test]
    fn nul_anywhere_in_a_string_is_a_schema_violation_naming_where() {
        for (place, expected) in [
            ("source", "source"),
            ("subject", "subject"),
            ("x-extension", "x-extension"),
        ] {
            let mut e = event();
            e[place] = json!("a\0b");
            let (kind, detail) = detail_of(e.to_string().as_bytes());
            assert_eq!(kind, Some(MalformedKind::SchemaViolation), "{place}: {detail}");
            assert!(detail.starts_with(&format!("{expected}: contains U+0000")), "{detail}");
        }
        let mut e = event();
        e["data"]["note"] = json!(["ok", "a\0"]);
        assert_eq!(
            detail_of(e.to_string().as_bytes()).1,
            "data.note[1]: contains U+0000, which PostgreSQL cannot store"
        );
        let mut e = event();
        e["data"]["order_id"] = json!("a\0");
        let (_, detail) = detail_of(e.to_string().as_bytes());
        assert!(
            detail.starts_with("data.order_id: ids may not contain U+0000"),
            "{detail}"
        );
        // An escaped backslash followed by "u0000" is not U+0000.
        let mut e = event();
        e["data"]["note"] = json!("C:\\u0000");
        assert_eq!(kind_of(&e), None);
    }

    #[test]
    fn text_that_is_not_unicode_is_invalid_json() {
        let mut body = event().to_string().into_bytes();
        let at = body.iter().position(|&b| b == b'e').unwrap_or(0);
        body[at] = 0xff;
        let (kind, detail) = detail_of(&body);
        assert_eq!(kind, Some(MalformedKind::InvalidJson));
        assert!(detail.contains("not UTF-8"), "{detail}");
        for lone in [r#""\ud800""#, r#""\udc00""#, r#""\ud800x""#, r#""\ud800\u0041""#] {
            let body = event().to_string().replacen('{', &format!("{{\"x-ext\": {lone}, "), 1);
            let (kind, detail) = detail_of(body.as_bytes());
            assert_eq!(kind, Some(MalformedKind::InvalidJson), "{lone}: {detail}");
            assert!(detail.contains("unpaired surrogate"), "{detail}");
        }
        // A proper pair is fine: U+1F600.
        let body = event().to_string().replacen('{', r#"{"x-ext": "\ud83d\ude00", "#, 1);
        assert_eq!(detail_of(body.as_bytes()).0, None);
    }

    #[test]
    fn attributes_of_the_wrong_type_are_reported_as_such() {
        for (attribute, value, expected) in [
            ("id", json!(7), "id: must be a string, not a number"),
            ("source", json!(true), "source: must be a string, not a boolean"),
            (
                "type",
                json!(["order.cancelled"]),
                "type: must be a string, not an array",
            ),
            ("time", json!({}), "time: must be a string, not an object"),
            ("subject", json!(1), "subject: must be a string, not a number"),
            ("id", json!(""), "id: must be a non-empty string"),
            ("id", json!(null), "id: required string attribute is missing"),
        ] {
            let mut e = event();
            e[attribute] = value;
            let (kind, detail) = detail_of(e.to_string().as_bytes());
            assert_eq!(kind, Some(MalformedKind::NotACloudEvent), "{detail}");
            assert_eq!(detail, expected);
        }
        assert_eq!(
            detail_of(br#" [{"specversion": "1.0"}]"#),
            (
                Some(MalformedKind::NotACloudEvent),
                "the body is an array, not a JSON object".to_owned()
            )
        );
        assert_eq!(detail_of(b"\"text\"").1, "the body is a string, not a JSON object");
        assert_eq!(detail_of(b"[1,").0, Some(MalformedKind::InvalidJson));
    }

    #[test]
    fn a_body_over_the_limit_is_refused_unread() {
        let body = event().to_string();
        assert!(parse_limited(body.as_bytes(), body.len()).is_ok());
        let refused = parse_limited(body.as_bytes(), body.len() - 1).err();
        assert_eq!(refused.as_ref().map(|m| m.kind), Some(MalformedKind::TooLarge));
        // Not read: not even invalid JSON is noticed.
        let garbage = vec![0xffu8; 100];
        assert_eq!(
            parse_limited(&garbage, 99).err().map(|m| m.kind),
            Some(MalformedKind::TooLarge)
        );
    }

    #[test]
    fn details_quoting_input_stay_short() {
        let mut e = event();
        e["type"] = json!("t".repeat(100_000));
        let (kind, detail) = detail_of(e.to_string().as_bytes());
        assert_eq!(kind, Some(MalformedKind::UnknownType));
        assert!(detail.len() < 200, "{detail}");
        let mut e = event();
        e["data"]["order_id"] = json!(7);
        e["data"]["x"] = json!("y".repeat(100_000));
        e["time"] = json!("z".repeat(100_000));
        let (_, detail) = detail_of(e.to_string().as_bytes());
        assert!(detail.len() < 200, "{detail}");
    }

    #[test]
    fn malformed_messages_keep_their_id_when_readable() {
        let mut e = event();
        e["type"] = json!("order.vanished");
        let err = parse(e.to_string().as_bytes()).err();
        assert_eq!(err.and_then(|m| m.id), Some("e1".to_owned()));
    }
}
