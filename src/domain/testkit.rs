//! Given/when/then for the rules: events in, outcomes out, no I/O.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::state::{Aggregate, MemState, Workspace};
use super::{Rules, apply, business_time};
use crate::wire::events::Event;
use crate::wire::outcomes::OutcomeData;
use crate::wire::values::EventId;

/// A state under test and the outcomes it produced.
pub struct Scenario {
    pub state: MemState,
    pub rules: Rules,
    pub outcomes: Vec<OutcomeData>,
    events: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

pub fn time(raw: &str) -> DateTime<Utc> {
    crate::wire::values::rfc3339::parse(raw).unwrap_or_else(|| panic!("bad test time {raw}"))
}

impl Scenario {
    pub fn new() -> Self {
        Self {
            state: MemState::default(),
            rules: Rules::default(),
            outcomes: Vec::new(),
            events: 0,
        }
    }

    /// Applies an event given by type, envelope time and data; returns its outcomes.
    pub fn when(&mut self, type_name: &str, at: &str, data: Value) -> Vec<OutcomeData> {
        self.events += 1;
        let id = format!("e{}", self.events);
        self.apply_as(&id, type_name, at, data)
    }

    /// Applies an event with a chosen id (to test duplicates of ids).
    pub fn apply_as(&mut self, id: &str, type_name: &str, at: &str, data: Value) -> Vec<OutcomeData> {
        let event = match Event::parse(type_name, &data) {
            Ok(Some(event)) => event,
            other => panic!("bad test event {type_name}: {other:?}"),
        };
        let now = business_time(time(at), &event);
        let decision = {
            let mut ws = Workspace::new(&self.state, &self.rules, EventId::from(id), now);
            if apply(&mut ws, &event).is_err() {
                panic!("an in-memory state never misses: {:?}", ws.take_missing());
            }
            ws.into_decision()
        };
        self.state.apply_changes(decision.changes);
        let produced: Vec<OutcomeData> = decision.outcomes.into_iter().map(|o| o.data).collect();
        self.outcomes.extend(produced.iter().cloned());
        produced
    }

    pub fn get<A: Aggregate>(&self, id: &A::Id) -> Option<A> {
        self.state.get::<A>(id)
    }

    /// A tick of the campaign clock.
    pub fn tick(&mut self, now: &str) -> Vec<OutcomeData> {
        self.when("clock.ticked", now, json!({ "now": now }))
    }
}

/// Outcome types, for compact assertions.
pub fn types(outcomes: &[OutcomeData]) -> Vec<&'static str> {
    outcomes.iter().map(OutcomeData::type_name).collect()
}

/// The outcome's data as JSON, for field assertions.
pub fn data(outcome: &OutcomeData) -> Value {
    serde_json::to_value(outcome).unwrap_or(Value::Null)
}

/// Data of the first outcome of a type.
pub fn first(outcomes: &[OutcomeData], type_name: &str) -> Value {
    outcomes
        .iter()
        .find(|o| o.type_name() == type_name)
        .map(data)
        .unwrap_or_else(|| panic!("no {type_name} in {:?}", types(outcomes)))
}

pub fn product(id: &str, seller: &str, open_rate: Option<&str>) -> Value {
    json!({
        "product_id": id, "seller_id": seller, "category": "beauty", "affiliate_eligible": true,
        "open_collab_rate": open_rate, "open_collab_shop_ads_rate": null
    })
}

pub fn order(id: &str, seller: &str, product: &str, creator: Option<&str>, amount: &str) -> Value {
    json!({
        "order_id": id, "seller_id": seller, "product_id": product, "creator_id": creator,
        "content_type": "video", "via_shop_ads": false, "quantity": 1, "amount": amount, "currency": "USD"
    })
}
