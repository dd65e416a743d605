//! AMQP headers as plain JSON — strings, numbers, booleans, arrays, objects —
//! for `dlq show` and `dlq export`, and back for `dlq import`.
//!
//! JSON has fewer types than AMQP field tables, so the way back picks one per
//! JSON type: strings are long strings, integers 64-bit signed, other numbers
//! doubles. What the worker and the broker write (texts, counts, `x-death`
//! tables) survives the round trip; a timestamp comes back as an integer,
//! which the tools read as a timestamp too.

use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// One field value as plain JSON.
pub fn to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::Float(f) => json!(f),
        AMQPValue::Double(f) => json!(f),
        // A decimal is written as its decimal string, never as a float.
        AMQPValue::DecimalValue(d) => {
            json!(Decimal::new(i64::from(d.value), u32::from(d.scale)).to_string())
        }
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => json!(String::from_utf8_lossy(s.as_bytes())),
        AMQPValue::ByteArray(b) => json!(String::from_utf8_lossy(b.as_slice())),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(to_json).collect()),
        AMQPValue::FieldTable(t) => table_to_json(t),
        AMQPValue::Void => Value::Null,
    }
}

/// A field table as a JSON object.
pub fn table_to_json(table: &FieldTable) -> Value {
    Value::Object(table.inner().iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
}

/// A plain JSON value as a field value.
pub fn from_json(value: &Value) -> AMQPValue {
    match value {
        Value::Null => AMQPValue::Void,
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AMQPValue::LongLongInt(i),
            None => AMQPValue::Double(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => AMQPValue::LongString(LongString::from(s.as_bytes())),
        Value::Array(items) => AMQPValue::FieldArray(FieldArray::from(items.iter().map(from_json).collect::<Vec<_>>())),
        Value::Object(_) => AMQPValue::FieldTable(object_to_table(value)),
    }
}

fn object_to_table(value: &Value) -> FieldTable {
    let mut table = FieldTable::default();
    if let Value::Object(map) = value {
        for (k, v) in map {
            table.insert(k.as_str().into(), from_json(v));
        }
    }
    table
}

/// Headers from an export line: plain JSON, or lapin's own encoding
/// (`{"x-collab-error":{"LongString":[97,…]}}`) that exports written before
/// December 2026 carry.
pub fn table_from_json(value: &Value) -> Result<FieldTable, String> {
    match value {
        Value::Null => Ok(FieldTable::default()),
        Value::Object(map) => {
            // lapin writes every value as a one-key object naming its type
            // (`Void` as a bare string); plain JSON headers almost never look
            // like that, and when they do not parse as it they are plain.
            let tagged = map.values().any(Value::is_object)
                && map
                    .values()
                    .all(|v| v.as_object().is_some_and(|o| o.len() == 1) || v == "Void");
            let old = tagged.then(|| serde_json::from_value::<FieldTable>(value.clone()).ok());
            Ok(old.flatten().unwrap_or_else(|| object_to_table(value)))
        }
        other => Err(format!("headers must be a JSON object, not {other}")),
    }
}

/// `table` without the named headers.
pub fn without(table: &FieldTable, names: &[&str]) -> FieldTable {
    let mut inner = table.inner().clone();
    inner.retain(|k, _| !names.contains(&k.as_str()));
    FieldTable::from(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_letter_headers() -> FieldTable {
        let mut death = FieldTable::default();
        death.insert("reason".into(), AMQPValue::LongString("delivery_limit".into()));
        death.insert("count".into(), AMQPValue::LongLongInt(1));
        death.insert(
            "routing-keys".into(),
            AMQPValue::FieldArray(vec![AMQPValue::LongString("order.paid".into())].into()),
        );
        let mut headers = FieldTable::default();
        headers.insert("x-collab-error".into(), AMQPValue::LongString("apply_failed".into()));
        headers.insert("x-collab-death-count".into(), AMQPValue::LongLongInt(2));
        headers.insert(
            "x-death".into(),
            AMQPValue::FieldArray(vec![AMQPValue::FieldTable(death)].into()),
        );
        headers.insert("flag".into(), AMQPValue::Boolean(true));
        headers.insert("gone".into(), AMQPValue::Void);
        headers
    }

    #[test]
    fn headers_are_written_as_plain_json() {
        let json = table_to_json(&dead_letter_headers());
        assert_eq!(
            json,
            json!({
                "x-collab-error": "apply_failed",
                "x-collab-death-count": 2,
                "x-death": [{"reason": "delivery_limit", "count": 1, "routing-keys": ["order.paid"]}],
                "flag": true,
                "gone": null,
            })
        );
    }

    #[test]
    fn plain_json_headers_come_back_as_they_were() {
        let headers = dead_letter_headers();
        assert_eq!(table_from_json(&table_to_json(&headers)), Ok(headers));
    }

    #[test]
    fn exports_in_lapins_encoding_are_still_read() {
        let headers = dead_letter_headers();
        let old = serde_json::to_value(&headers).unwrap_or_default();
        assert!(old.to_string().contains("LongString"), "{old}");
        assert_eq!(table_from_json(&old), Ok(headers));
    }

    #[test]
    fn decimals_are_decimal_strings_and_other_numbers_doubles() {
        let d = AMQPValue::DecimalValue(lapin::types::DecimalValue { scale: 2, value: 1050 });
        assert_eq!(to_json(&d), json!("10.50"));
        assert_eq!(from_json(&json!(1.5)), AMQPValue::Double(1.5));
        assert_eq!(from_json(&json!(-3)), AMQPValue::LongLongInt(-3));
    }

    #[test]
    fn named_headers_can_be_left_out() {
        let table = without(&dead_letter_headers(), &["x-death", "flag"]);
        assert!(!table.contains_key("x-death") && !table.contains_key("flag"));
        assert!(table.contains_key("x-collab-error"));
    }
}
