//! Typed event builders: one function per inbound `type`, taking what a
//! test usually varies and filling the rest with plain defaults. An [`Ev`]
//! is an event without an id and a time; it becomes the typed [`Event`]
//! the rules take ([`Ev::event`]) or the CloudEvent a producer publishes
//! ([`Ev::cloudevent`]). Fields a builder does not take are set with
//! [`Ev::with`]. A unit test checks that every builder's event parses.

use serde_json::{Value, json};

use crate::wire::events::Event;

/// An inbound event before it gets an id and a time.
#[derive(Clone, Debug, PartialEq)]
pub struct Ev {
    pub type_name: &'static str,
    pub data: Value,
}

impl Ev {
    pub fn new(type_name: &'static str, data: Value) -> Self {
        Self { type_name, data }
    }

    /// The same event with one field of `data` set (or replaced).
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.data[field] = value.into();
        self
    }

    /// The typed event, as the edge parses it; `Err` is the schema
    /// violation the worker would dead-letter it for.
    pub fn typed(&self) -> Result<Event, String> {
        match Event::parse(self.type_name, &self.data) {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(format!("unknown type {}", self.type_name)),
            Err(e) => Err(e),
        }
    }

    /// The typed event. Panics on a builder misuse (test support only).
    pub fn event(&self) -> Event {
        self.typed()
            .unwrap_or_else(|e| panic!("bad test event {}: {e}", self.type_name))
    }

    /// The CloudEvent an upstream producer publishes.
    pub fn cloudevent(&self, id: &str, time: &str) -> Value {
        cloudevent(id, "/tests", self.type_name, time, self.data.clone())
    }

    /// The CloudEvent as bytes, from `source`.
    pub fn body(&self, id: &str, source: &str, time: &str) -> Vec<u8> {
        serde_json::to_vec(&cloudevent(id, source, self.type_name, time, self.data.clone())).unwrap_or_default()
    }
}

/// A CloudEvent as upstream producers publish it.
pub fn cloudevent(id: &str, source: &str, type_name: &str, time: &str, data: Value) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": source, "type": type_name,
        "time": time, "datacontenttype": "application/json", "data": data
    })
}

// --- Catalogue ---------------------------------------------------------------

/// An affiliate-eligible beauty product; on open collaboration at `open_rate`.
pub fn product_updated(product: &str, seller: &str, open_rate: Option<&str>) -> Ev {
    Ev::new(
        "product.updated",
        json!({"product_id": product, "seller_id": seller, "category": "beauty", "affiliate_eligible": true,
               "open_collab_rate": open_rate, "open_collab_shop_ads_rate": null}),
    )
}

/// A beauty creator making videos, low fake-order risk.
pub fn creator_updated(creator: &str, level: u8, followers: u64) -> Ev {
    Ev::new(
        "creator.updated",
        json!({"creator_id": creator, "level": level, "followers": followers, "categories": ["beauty"],
               "content_types": ["video"], "avg_commission_rate": "0.1", "fake_order_risk": "low"}),
    )
}

/// A group of a seller; `criteria` as in the contract (`{}` matches everyone).
pub fn creator_group_saved(seller: &str, group: &str, criteria: Value) -> Ev {
    Ev::new(
        "creator_group.saved",
        json!({"seller_id": seller, "group_id": group, "name": group, "criteria": criteria}),
    )
}

// --- Campaigns ---------------------------------------------------------------

/// A task campaign in USD for `products` (no sample, no campaign rate), with
/// `tasks` as in the contract; set `budget`/`reward` with [`Ev::with`] or
/// the `task` object.
pub fn task_campaign(campaign: &str, seller: &str, group: &str, starts: &str, ends: &str, products: &[&str]) -> Ev {
    Ev::new(
        "campaign.submitted",
        json!({"campaign_id": campaign, "seller_id": seller, "type": "task", "title": campaign,
               "starts_at": starts, "ends_at": ends, "creator_group_id": group, "currency": "USD",
               "budget": "100.00", "prompt_ads_authorization": false,
               "products": campaign_products(products),
               "task": {"reward": "10.00", "tasks": [{"kind": "orders", "content_type": "any", "target": 1}]}}),
    )
}

/// A challenge ranked by orders: rank 1 gets 50.00, ranks 2–3 25.00 each
/// (budget 100.00).
pub fn challenge_campaign(
    campaign: &str,
    seller: &str,
    group: &str,
    starts: &str,
    ends: &str,
    products: &[&str],
) -> Ev {
    Ev::new(
        "campaign.submitted",
        json!({"campaign_id": campaign, "seller_id": seller, "type": "challenge", "title": campaign,
               "starts_at": starts, "ends_at": ends, "creator_group_id": group, "currency": "USD",
               "budget": "100.00", "prompt_ads_authorization": false,
               "products": campaign_products(products),
               "challenge": {"metric": "orders", "content_types": ["video"], "min_value": 1,
                   "rank_rewards": [{"from_rank": 1, "to_rank": 1, "amount_each": "50.00"},
                                    {"from_rank": 2, "to_rank": 3, "amount_each": "25.00"}]}}),
    )
}

fn campaign_products(products: &[&str]) -> Value {
    products
        .iter()
        .map(|p| json!({"product_id": p, "free_sample": false}))
        .collect()
}

pub fn campaign_recall_requested(campaign: &str, seller: &str) -> Ev {
    Ev::new(
        "campaign.recall_requested",
        json!({"campaign_id": campaign, "seller_id": seller}),
    )
}

/// A card payment of `amount` USD.
pub fn payment_succeeded(payment: &str, campaign: &str, seller: &str, amount: &str) -> Ev {
    Ev::new(
        "payment.succeeded",
        json!({"payment_id": payment, "campaign_id": campaign, "seller_id": seller, "amount": amount,
               "currency": "USD", "method": "credit_card"}),
    )
}

pub fn payment_failed(payment: &str, campaign: &str, seller: &str) -> Ev {
    Ev::new(
        "payment.failed",
        json!({"payment_id": payment, "campaign_id": campaign, "seller_id": seller, "reason": "declined"}),
    )
}

// --- Participation and content -----------------------------------------------

pub fn join_requested(campaign: &str, creator: &str) -> Ev {
    Ev::new(
        "creator.join_requested",
        json!({"campaign_id": campaign, "creator_id": creator}),
    )
}

/// A video about `products`, ads authorized.
pub fn content_posted(content: &str, creator: &str, products: &[&str]) -> Ev {
    Ev::new(
        "content.posted",
        json!({"content_id": content, "creator_id": creator, "content_type": "video",
               "product_ids": products, "ads_authorized": true}),
    )
}

pub fn sample_requested(request: &str, campaign: &str, creator: &str, product: &str) -> Ev {
    Ev::new(
        "sample.requested",
        json!({"request_id": request, "campaign_id": campaign, "creator_id": creator, "product_id": product}),
    )
}

pub fn sample_shipped(request: &str) -> Ev {
    Ev::new("sample.shipped", json!({"request_id": request}))
}

pub fn sample_delivered(request: &str) -> Ev {
    Ev::new("sample.delivered", json!({"request_id": request}))
}

/// A refundable sample bought at `price` USD, shipping 1.00.
pub fn sample_refundable_purchased(
    refundable: &str,
    campaign: &str,
    creator: &str,
    product: &str,
    order: &str,
    price: &str,
) -> Ev {
    Ev::new(
        "sample.refundable_purchased",
        json!({"refundable_id": refundable, "campaign_id": campaign, "creator_id": creator, "product_id": product,
               "order_id": order, "price": price, "shipping_fee": "1.00", "currency": "USD"}),
    )
}

// --- Orders ------------------------------------------------------------------

/// One unit bought from a video (no content id, no shop ads), in USD.
pub fn order_paid(order: &str, seller: &str, product: &str, creator: Option<&str>, amount: &str) -> Ev {
    Ev::new(
        "order.paid",
        json!({"order_id": order, "seller_id": seller, "product_id": product, "creator_id": creator,
               "content_type": "video", "via_shop_ads": false, "quantity": 1, "amount": amount, "currency": "USD"}),
    )
}

pub fn order_refunded(order: &str, amount: &str) -> Ev {
    Ev::new("order.refunded", json!({"order_id": order, "amount": amount}))
}

pub fn order_cancelled(order: &str) -> Ev {
    Ev::new("order.cancelled", json!({"order_id": order}))
}

pub fn order_settled(order: &str) -> Ev {
    Ev::new("order.settled", json!({"order_id": order}))
}

// --- Connections and enforcement ---------------------------------------------

pub fn creator_blocked(seller: &str, creator: &str) -> Ev {
    Ev::new(
        "seller.creator_blocked",
        json!({"seller_id": seller, "creator_id": creator}),
    )
}

pub fn creator_unblocked(seller: &str, creator: &str) -> Ev {
    Ev::new(
        "seller.creator_unblocked",
        json!({"seller_id": seller, "creator_id": creator}),
    )
}

pub fn partnership_established(seller: &str, creator: &str, rate: &str) -> Ev {
    Ev::new(
        "partnership.established",
        json!({"seller_id": seller, "creator_id": creator, "commission_rate": rate}),
    )
}

pub fn partnership_paused(seller: &str, creator: &str) -> Ev {
    Ev::new(
        "partnership.paused",
        json!({"seller_id": seller, "creator_id": creator}),
    )
}

pub fn dispute_opened(dispute: &str, seller: &str, creator: &str) -> Ev {
    Ev::new(
        "dispute.opened",
        json!({"dispute_id": dispute, "seller_id": seller, "creator_id": creator}),
    )
}

pub fn dispute_resolved(dispute: &str, cancelled_orders: &[&str]) -> Ev {
    Ev::new(
        "dispute.resolved",
        json!({"dispute_id": dispute, "cancelled_order_ids": cancelled_orders}),
    )
}

pub fn violation_reported(violation: &str, creator: &str, guideline: &str) -> Ev {
    Ev::new(
        "creator.violation_reported",
        json!({"violation_id": violation, "creator_id": creator, "guideline": guideline}),
    )
}

pub fn platform_blocked(creator: &str) -> Ev {
    Ev::new(
        "creator.platform_blocked",
        json!({"creator_id": creator, "reason": "fraud"}),
    )
}

// --- The clock ---------------------------------------------------------------

/// A tick announcing `now` (its envelope time is usually `now` too).
pub fn clock_ticked(now: &str) -> Ev {
    Ev::new("clock.ticked", json!({"now": now}))
}

/// One event of every inbound type, as the builders make them.
pub fn one_of_each() -> Vec<Ev> {
    vec![
        product_updated("P1", "S1", Some("0.1")),
        creator_updated("C1", 3, 10),
        creator_group_saved("S1", "G1", json!({})),
        task_campaign(
            "K1",
            "S1",
            "G1",
            "2026-10-02T00:00:00Z",
            "2026-10-20T00:00:00Z",
            &["P1"],
        ),
        campaign_recall_requested("K9", "S1"),
        payment_succeeded("PAY1", "K9", "S1", "1.00"),
        payment_failed("PAY2", "K1", "S1"),
        creator_blocked("S1", "C9"),
        creator_unblocked("S1", "C9"),
        partnership_established("S2", "C1", "0.2"),
        partnership_paused("S3", "C1"),
        dispute_opened("D1", "S2", "C1"),
        dispute_resolved("D1", &[]),
        join_requested("K1", "C1"),
        sample_requested("R1", "K1", "C1", "P1"),
        sample_shipped("R1"),
        sample_delivered("R1"),
        sample_refundable_purchased("RF1", "K1", "C1", "P1", "O9", "5.00"),
        content_posted("CT1", "C1", &["P1"]),
        order_paid("O1", "S1", "P1", Some("C1"), "10.00"),
        order_cancelled("O2"),
        order_refunded("O1", "1.00"),
        order_settled("O1"),
        violation_reported("V1", "C8", "spam"),
        platform_blocked("C7"),
        clock_ticked("2026-10-01T10:00:00Z"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builder_makes_a_valid_event_and_every_type_has_one() {
        let all = one_of_each();
        for ev in &all {
            assert!(ev.typed().is_ok(), "{}: {:?}", ev.type_name, ev.typed().err());
        }
        let mut types: Vec<&str> = all.iter().map(|e| e.type_name).collect();
        types.sort_unstable();
        types.dedup();
        let mut expected = Event::TYPES.to_vec();
        expected.sort_unstable();
        assert_eq!(types, expected);
        let challenge = challenge_campaign(
            "K2",
            "S1",
            "G1",
            "2026-10-02T00:00:00Z",
            "2026-10-20T00:00:00Z",
            &["P1"],
        );
        assert!(challenge.typed().is_ok());
    }

    #[test]
    fn a_cloudevent_of_a_builder_parses_at_the_edge() {
        for ev in one_of_each() {
            let body = ev.body("id-1", "/tests", "2026-10-01T00:00:00Z");
            let parsed = crate::wire::envelope::parse(&body);
            assert!(parsed.is_ok(), "{}: {:?}", ev.type_name, parsed.err());
        }
    }
}
