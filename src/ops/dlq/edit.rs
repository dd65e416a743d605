//! `dlq edit`: a corrected copy of a dead letter's body, as pure functions.
//!
//! `--set PATH=VALUE` sets one field of the CloudEvent (`data.amount`,
//! `data.products[0].product_id`, `type`). VALUE is JSON or text, and the
//! contract decides which: the worker's own parser must accept the corrected
//! event, so an edit that would only be dead-lettered again is refused before
//! anything is published, with the parser's reason.

use serde_json::{Map, Value};

/// One `--set PATH=VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub path: Vec<Step>,
    /// As typed; see [`candidates`].
    pub raw: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl std::str::FromStr for Assignment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (path, raw) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected PATH=VALUE, e.g. data.amount=10.50"))?;
        Ok(Assignment {
            path: parse_path(path)?,
            raw: raw.to_owned(),
            text: path.to_owned(),
        })
    }
}

/// `data.products[0].product_id` → [data, products, 0, product_id].
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let bad = |why: &str| format!("{path:?}: {why}");
    let mut steps = Vec::new();
    let mut rest = path;
    loop {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = &rest[..end];
        if key.is_empty() {
            return Err(bad("empty field name"));
        }
        steps.push(Step::Key(key.to_owned()));
        rest = &rest[end..];
        while let Some(after) = rest.strip_prefix('[') {
            let (index, after) = after.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let index = index
                .parse()
                .map_err(|_| bad(&format!("[{index}] is not an array index")))?;
            steps.push(Step::Index(index));
            rest = after;
        }
        match rest.strip_prefix('.') {
            Some(after) => rest = after,
            None if rest.is_empty() => return Ok(steps),
            None => return Err(bad(&format!("unexpected {rest:?}"))),
        }
    }
}

/// Sets `value` at `path`, creating missing object fields (a field the
/// producer forgot); arrays are not extended.
pub fn set(body: &mut Value, path: &[Step], value: Value, text: &str) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty path".into());
    };
    let mut at = body;
    for step in parents {
        at = match (step, at) {
            (Step::Key(k), Value::Object(map)) => map.entry(k.clone()).or_insert_with(|| Value::Object(Map::new())),
            (Step::Index(i), Value::Array(items)) => {
                let len = items.len();
                items
                    .get_mut(*i)
                    .ok_or_else(|| format!("{text}: index {i} is past the end ({len} items)"))?
            }
            (_, other) => return Err(format!("{text}: cannot go into {}", kind(other))),
        };
    }
    match (last, at) {
        (Step::Key(k), Value::Object(map)) => {
            map.insert(k.clone(), value);
            Ok(())
        }
        (Step::Index(i), Value::Array(items)) => {
            let len = items.len();
            *items
                .get_mut(*i)
                .ok_or_else(|| format!("{text}: index {i} is past the end ({len} items)"))? = value;
            Ok(())
        }
        (_, other) => Err(format!("{text}: cannot set a field of {}", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn get<'a>(body: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(body, |at, step| match step {
        Step::Key(k) => at.get(k),
        Step::Index(i) => at.get(i),
    })
}

/// What VALUE may mean, most likely first: text when the field holds text
/// now (`data.amount=10.50` on a string field stays the string "10.50"),
/// JSON otherwise (`data.quantity=2` is the number 2, `null`, `true`, `[…]`);
/// the other reading second. A JSON string literal is text:
/// `data.note='"42"'` sets the string "42" whatever the field holds.
pub fn candidates(body: &Value, a: &Assignment) -> Vec<Value> {
    let text = Value::String(a.raw.clone());
    let json = match serde_json::from_str::<Value>(&a.raw) {
        Ok(json @ Value::String(_)) => return vec![json],
        Ok(json) => json,
        Err(_) => return vec![text],
    };
    if get(body, &a.path).is_some_and(Value::is_string) {
        vec![text, json]
    } else {
        vec![json, text]
    }
}

/// Applies every assignment, trying the readings of each value in order
/// until `accepts` takes the result. `Err` carries the reason of the most
/// likely reading.
pub fn apply(
    body: &Value,
    assignments: &[Assignment],
    accepts: impl Fn(&Value) -> Result<(), String>,
) -> Result<Value, String> {
    let options: Vec<Vec<Value>> = assignments.iter().map(|a| candidates(body, a)).collect();
    let combinations: usize = options.iter().map(Vec::len).product();
    let mut first_error = None;
    // At most 2^n combinations for n assignments; edits set a handful.
    for n in 0..combinations.min(1 << 10) {
        let mut edited = body.clone();
        let mut rest = n;
        for (a, values) in assignments.iter().zip(&options) {
            let choice = rest % values.len();
            rest /= values.len();
            set(&mut edited, &a.path, values[choice].clone(), &a.text)?;
        }
        match accepts(&edited) {
            Ok(()) => return Ok(edited),
            Err(reason) => {
                first_error.get_or_insert(reason);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "nothing to edit".into()))
}

/// The id of the corrected copy: a UUIDv5 of the original id and the
/// corrected body, so the same correction made twice (e.g. after a crash
/// before the original was removed) is the same event, which the inbox
/// applies once.
pub fn new_id(original_id: &str, edited: &Value) -> String {
    const EDIT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x2b7e_1516_28ae_42d2_a6ab_f715_8809_cf4f);
    let mut name = original_id.as_bytes().to_vec();
    name.push(0);
    name.extend_from_slice(edited.to_string().as_bytes());
    uuid::Uuid::new_v5(&EDIT_NAMESPACE, &name).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn a(s: &str) -> Assignment {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn paths_name_fields_and_array_items() {
        assert_eq!(
            a("data.products[2].product_id=P9").path,
            vec![
                Step::Key("data".into()),
                Step::Key("products".into()),
                Step::Index(2),
                Step::Key("product_id".into())
            ]
        );
        assert_eq!(a("data.grid[1][0]=x").path.len(), 4);
        assert!("data.amount".parse::<Assignment>().is_err());
        assert!("data.products[x]=1".parse::<Assignment>().is_err());
        assert!("data.products[1=1".parse::<Assignment>().is_err());
        assert!("data..x=1".parse::<Assignment>().is_err());
        assert!("data[0]x=1".parse::<Assignment>().is_err());
        assert_eq!(a("data.note=a=b").raw, "a=b");
    }

    #[test]
    fn a_field_is_set_and_a_missing_one_added() {
        let mut body = json!({"data": {"amount": 10.5, "products": [{"id": "a"}]}});
        set(&mut body, &a("data.amount=x").path, json!("10.50"), "data.amount").ok();
        set(&mut body, &a("data.currency=x").path, json!("USD"), "data.currency").ok();
        set(
            &mut body,
            &a("data.products[0].id=x").path,
            json!("b"),
            "data.products[0].id",
        )
        .ok();
        assert_eq!(
            body,
            json!({"data": {"amount": "10.50", "currency": "USD", "products": [{"id": "b"}]}})
        );
        assert!(set(&mut body, &a("data.products[5].id=x").path, json!(1), "p").is_err());
        assert!(set(&mut body, &a("data.amount.x=1").path, json!(1), "p").is_err());
    }

    #[test]
    fn the_reading_the_contract_accepts_wins() {
        // A money field sent as a number: the text reading fixes it.
        let body = json!({"data": {"amount": 10.5, "quantity": "two"}});
        let money_is_text = |b: &Value| {
            if b["data"]["amount"].is_string() && b["data"]["quantity"].is_u64() {
                Ok(())
            } else {
                Err(format!("rejected {b}"))
            }
        };
        let edited = apply(&body, &[a("data.amount=10.50"), a("data.quantity=2")], money_is_text);
        assert_eq!(edited, Ok(json!({"data": {"amount": "10.50", "quantity": 2}})));
        // Nothing acceptable: the most likely reading's reason.
        let refused = apply(&body, &[a("data.amount=abc")], |_| Err("no".into()));
        assert_eq!(refused, Err("no".into()));
    }

    #[test]
    fn text_fields_read_text_first_others_json_first() {
        let body = json!({"s": "x", "n": 1});
        assert_eq!(candidates(&body, &a("s=5")), vec![json!("5"), json!(5)]);
        assert_eq!(candidates(&body, &a("n=5")), vec![json!(5), json!("5")]);
        assert_eq!(candidates(&body, &a("n=USD")), vec![json!("USD")]);
        assert_eq!(candidates(&body, &a("n=\"5\"")), vec![json!("5")]);
    }

    #[test]
    fn the_same_correction_gets_the_same_new_id() {
        let edited = json!({"id": "o-1", "data": {"amount": "10.50"}});
        assert_eq!(new_id("o-1", &edited), new_id("o-1", &edited));
        assert_ne!(new_id("o-1", &edited), new_id("o-2", &edited));
        assert_ne!(new_id("o-1", &edited), new_id("o-1", &json!({"id": "o-1"})));
    }
}
