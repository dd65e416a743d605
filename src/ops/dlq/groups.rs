//! Failure groups, as ServicePulse and Wolverine show them: dead letters that
//! failed the same way — same reason, same event type, same detail once the
//! values in it are taken out — form one group, named by a short hash of that
//! fingerprint, so "4 000 orders failed with the same constraint violation"
//! is one line and one replay.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Summary;

/// Names the fingerprint hash (UUIDv5); any fixed value would do, it only
/// must never change, or every group id would.
const GROUP_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2d3e_8a4b_4c5d_9e6f_7a8b_9c0d_1e2f);

/// Longest detail kept in a fingerprint: details are capped at 2 000
/// characters, and what decides the group is at their start.
const MAX_PATTERN_CHARS: usize = 500;

/// The detail with its values replaced by placeholders: quoted text by
/// `<str>`, numbers by `<num>`, and words with digits in them (ids, times,
/// UUIDs, hex) by `<id>`. Field paths, type names and the wording stay.
///
/// `data.products[3].amount: invalid type: floating point 10.5, expected a
/// string` → `data.products[<num>].amount: invalid type: floating point
/// <num>, expected a string`.
pub fn strip_values(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len().min(MAX_PATTERN_CHARS));
    let mut chars = detail.chars().peekable();
    while let Some(c) = chars.next() {
        if out.chars().count() >= MAX_PATTERN_CHARS {
            break;
        }
        match c {
            '"' | '\'' | '`' => {
                // Up to the closing quote; an unclosed quote runs to the end.
                for next in chars.by_ref() {
                    if next == c {
                        break;
                    }
                }
                out.push_str("<str>");
            }
            c if is_word(c) => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if !is_word(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                // Sentence punctuation is not part of the value.
                let trailing = word.len() - word.trim_end_matches(['.', ':', '-']).len();
                let tail = word.split_off(word.len() - trailing);
                out.push_str(&placeholder(&word));
                out.push_str(&tail);
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters of a word: values like `2026-10-01T10:00:00Z`, `0x00`,
/// `3f2a-…` or `10.5` are one word each.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '+')
}

fn placeholder(word: &str) -> String {
    if !word.chars().any(|c| c.is_ascii_digit()) {
        word.to_owned()
    } else if word.parse::<f64>().is_ok() {
        "<num>".to_owned()
    } else if word.contains('.') && !word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        // A field path with indexes never reaches here (brackets split it),
        // but `products.0.id`-style paths do: keep the names, strip numbers.
        word.split('.').map(placeholder).collect::<Vec<_>>().join(".")
    } else {
        "<id>".to_owned()
    }
}

/// What makes two dead letters fail "the same way".
pub fn fingerprint(reason: &str, event_type: &str, detail: &str) -> String {
    format!("{reason}\n{event_type}\n{}", strip_values(detail))
}

/// The group's name: 12 hex digits of a UUIDv5 of the fingerprint — stable
/// across runs, machines and versions.
pub fn group_id(fingerprint: &str) -> String {
    let mut id = uuid::Uuid::new_v5(&GROUP_NAMESPACE, fingerprint.as_bytes())
        .simple()
        .to_string();
    id.truncate(12);
    id
}

/// One failure group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub group: String,
    pub count: usize,
    pub reason: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The detail with its values stripped (what all members share).
    pub detail: String,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

/// Groups dead letters; the largest group first, then the most recent.
pub fn group<'a>(summaries: impl IntoIterator<Item = &'a Summary>) -> Vec<Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for s in summaries {
        let g = groups.entry(s.group.clone()).or_insert_with(|| Group {
            group: s.group.clone(),
            count: 0,
            reason: s.reason.clone(),
            event_type: s.event_type.clone(),
            detail: strip_values(&s.detail),
            first_seen: None,
            last_seen: None,
        });
        g.count += 1;
        if let Some(at) = s.dead_lettered_at {
            g.first_seen = Some(g.first_seen.map_or(at, |f| f.min(at)));
            g.last_seen = Some(g.last_seen.map_or(at, |l| l.max(at)));
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stripped_and_wording_kept() {
        assert_eq!(
            strip_values("data.products[3].amount: invalid type: floating point 10.5, expected a string"),
            "data.products[<num>].amount: invalid type: floating point <num>, expected a string"
        );
        assert_eq!(
            strip_values(r#"null value in column "seller_id" of relation "state" violates not-null constraint"#),
            "null value in column <str> of relation <str> violates not-null constraint"
        );
        assert_eq!(
            strip_values(
                "order O-1042 paid at 2026-10-01T10:00:00Z is unknown; see 3f2a9c1b-0d4e-4f00-a1b2-c3d4e5f60718."
            ),
            "order <id> paid at <id> is unknown; see <id>."
        );
        assert_eq!(
            strip_values("poisoned: the product feed is broken"),
            "poisoned: the product feed is broken"
        );
        assert_eq!(
            strip_values("missing field `seller_id` at line 1 column 230"),
            "missing field <str> at line <num> column <num>"
        );
        assert_eq!(strip_values("quantity -5 below 1"), "quantity <num> below <num>");
    }

    #[test]
    fn the_same_failure_with_other_values_is_one_group() {
        let a = fingerprint(
            "schema_violation",
            "order.paid",
            "data.amount: invalid decimal \"1O.00\" at line 1 column 88",
        );
        let b = fingerprint(
            "schema_violation",
            "order.paid",
            "data.amount: invalid decimal \"x\" at line 1 column 91",
        );
        assert_eq!(group_id(&a), group_id(&b));
        let other_field = fingerprint(
            "schema_violation",
            "order.paid",
            "data.currency: invalid decimal \"x\" at line 1 column 91",
        );
        let other_type = fingerprint(
            "schema_violation",
            "order.refunded",
            "data.amount: invalid decimal \"x\" at line 1 column 91",
        );
        let other_reason = fingerprint(
            "apply_failed",
            "order.paid",
            "data.amount: invalid decimal \"x\" at line 1 column 91",
        );
        for other in [other_field, other_type, other_reason] {
            assert_ne!(group_id(&a), group_id(&other), "{other}");
        }
    }

    #[test]
    fn group_ids_are_stable() {
        // A group id written in a runbook or a ticket must keep naming the same failures.
        assert_eq!(
            group_id(&fingerprint("apply_failed", "order.paid", "poisoned")).len(),
            12
        );
        assert_eq!(
            group_id(&fingerprint("apply_failed", "order.paid", "poisoned")),
            group_id(&fingerprint("apply_failed", "order.paid", "poisoned"))
        );
    }
}
