//! Deterministic ids. Everything the worker names is derived from what
//! caused it, so deciding the same cause again — after a crash, a
//! redelivery or a replay — names the same things and downstream services can
//! deduplicate.

use uuid::Uuid;

use crate::wire::values::{CampaignId, CreatorId, EventId, OrderId};

/// Namespace of every UUIDv5 this worker derives.
const NAMESPACE: Uuid = Uuid::from_u128(0x6c0e_7a4f_2b1d_4e8a_9a57_c0ab_d0c0_11ab);

/// UUIDv5 of the parts, each length-prefixed so that no two part lists
/// share an encoding whatever characters the ids contain.
fn derive(parts: &[&str]) -> Uuid {
    let mut name = String::new();
    for part in parts {
        name.push_str(&part.len().to_string());
        name.push(':');
        name.push_str(part);
    }
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// The id of an outcome: (cause event id, outcome type, entity key).
pub fn outcome_id(cause: &EventId, type_name: &str, entity: &str) -> Uuid {
    derive(&["outcome", cause.as_str(), type_name, entity])
}

/// One commission per order.
pub fn commission_id(order: &OrderId) -> String {
    derive(&["commission", order.as_str()]).to_string()
}

/// One reward per participation.
pub fn reward_id(campaign: &CampaignId, creator: &CreatorId) -> String {
    derive(&["reward", campaign.as_str(), creator.as_str()]).to_string()
}

/// A refund or fee is named by its cause and what it is for.
pub fn money_movement_id(kind: &str, cause: &EventId, purpose: &str) -> String {
    derive(&[kind, cause.as_str(), purpose]).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let cause = EventId::from("e-1");
        assert_eq!(outcome_id(&cause, "a", "b"), outcome_id(&cause, "a", "b"));
        assert_ne!(outcome_id(&cause, "a", "b"), outcome_id(&cause, "a", "c"));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(derive(&["ab", "c"]), derive(&["a", "bc"]));
    }
}
