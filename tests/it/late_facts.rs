//! O9 end to end: facts stamped before an order that arrive after its
//! commission was decided re-decide it while it is pending, and V2 as of the
//! violation's time, through the real worker, PostgreSQL and RabbitMQ.

use serde_json::{Value, json};

use crate::common::*;

const S: &str = "S1";
const C: &str = "C1";
const P: &str = "P1";
const CATALOGUE: &str = "2024-09-01T00:00:00Z";
const SUBMITTED: &str = "2024-09-20T00:00:00Z";
const K_START: &str = "2024-10-02T00:00:00Z";

/// `2024-10-<day>T<hour>:00:00Z`
fn oct(day: u32, hour: u32) -> String {
    format!("2024-10-{day:02}T{hour:02}:00:00Z")
}

fn product_at(open: &str) -> Value {
    product(P, S, Some(open))
}

/// A task campaign of S on P over Oct 2 – Oct 20 at `rate`, finished by
/// `orders` orders: reward 10.00, capacity 3.
fn task(id: &str, rate: &str, orders: i64) -> Value {
    json!({
        "campaign_id": id, "seller_id": S, "type": "task", "title": id,
        "starts_at": K_START, "ends_at": "2024-10-20T00:00:00Z", "creator_group_id": "everyone",
        "currency": "USD", "budget": "30.00", "prompt_ads_authorization": true,
        "products": [{ "product_id": P, "commission_rate": rate, "free_sample": false }],
        "task": { "reward": "10.00", "tasks": [{ "kind": "orders", "content_type": "any", "target": orders }] }
    })
}

/// The common [`crate::common::World`], with P at 10 %, S's group
/// `everyone` and C's profile.
struct World(crate::common::World);

impl std::ops::Deref for World {
    type Target = crate::common::World;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl World {
    async fn new() -> World {
        let w = World(crate::common::World::open(Vec::new(), Marker::Join, CATALOGUE).await);
        w.send("product.updated", CATALOGUE, product_at("0.10")).await;
        let group = json!({ "seller_id": S, "group_id": "everyone", "name": "everyone", "criteria": {} });
        w.send("creator_group.saved", CATALOGUE, group).await;
        let profile = json!({
            "creator_id": C, "level": 4, "followers": 5000, "categories": ["beauty"],
            "content_types": ["video"], "avg_commission_rate": "0.12", "fake_order_risk": "low"
        });
        w.send("creator.updated", CATALOGUE, profile).await;
        w
    }

    /// Applies one event, waits until everything before it and a marker
    /// after it are applied, and returns the outcomes it caused (type and
    /// data).
    async fn when(&self, type_name: &str, at: &str, data: Value) -> Vec<Value> {
        self.0
            .when(type_name, at, data)
            .await
            .into_iter()
            .map(|o| json!({ "type": o["type"], "data": o["data"] }))
            .collect()
    }

    async fn launch(&self, campaign: Value) {
        let id = campaign["campaign_id"].as_str().unwrap_or_default().to_owned();
        let out = self.when("campaign.submitted", SUBMITTED, campaign).await;
        assert_eq!(types(&out), ["campaign.accepted"], "{out:?}");
        let payment = json!({
            "payment_id": format!("pay-{id}"), "campaign_id": id, "seller_id": S,
            "amount": "30.00", "currency": "USD", "method": "credit_card"
        });
        let out = self.when("payment.succeeded", SUBMITTED, payment).await;
        assert_eq!(types(&out), ["campaign.scheduled"], "{out:?}");
    }

    async fn pay(&self, order_id: &str, at: &str) -> Vec<Value> {
        self.when("order.paid", at, order(order_id, S, P, Some(C), "100.00"))
            .await
    }

    async fn join(&self, campaign: &str, at: &str) -> Vec<Value> {
        self.when(
            "creator.join_requested",
            at,
            json!({ "campaign_id": campaign, "creator_id": C }),
        )
        .await
    }
}

fn types(out: &[Value]) -> Vec<String> {
    out.iter()
        .map(|o| o["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn data_of(out: &[Value], type_name: &str) -> Value {
    out.iter()
        .find(|o| o["type"] == type_name)
        .map(|o| o["data"].clone())
        .unwrap_or_else(|| panic!("no {type_name} in {:?}", types(out)))
}

/// `[reason, rate, rate_source, campaign_id, amount, delta]`
fn adjusted(out: &[Value]) -> [String; 6] {
    let count = out.iter().filter(|o| o["type"] == "commission.adjusted").count();
    assert_eq!(count, 1, "one adjustment per commission per event: {out:?}");
    let a = data_of(out, "commission.adjusted");
    ["reason", "rate", "rate_source", "campaign_id", "amount", "delta"]
        .map(|f| a[f].as_str().map(str::to_owned).unwrap_or_else(|| a[f].to_string()))
}

#[tokio::test]
async fn o9_a_rate_cut_stamped_before_an_order_arriving_after_it_re_rates_the_commission() {
    // given an order of Oct 3 10:00 accrued at 10 % open collaboration
    let w = World::new().await;
    let out = w.pay("O1", &oct(3, 10)).await;
    assert_eq!(data_of(&out, "commission.accrued")["amount"], "10.00");

    // when S's cut to 8 %, stamped Oct 3 09:00, arrives
    let out = w.when("product.updated", &oct(3, 9), product_at("0.08")).await;

    // then rules.md O9's example: rate_corrected, 8 %, and 8 % paid at settlement
    assert_eq!(
        adjusted(&out),
        ["rate_corrected", "0.08", "open_collab", "null", "8.00", "-2.00"]
    );
    assert_eq!(data_of(&out, "commission.adjusted")["shop_ads_rate"], "0");
    let out = w.when("order.settled", &oct(4, 0), json!({ "order_id": "O1" })).await;
    assert_eq!(data_of(&out, "commission.payable")["amount"], "8.00");
}

#[tokio::test]
async fn o9_a_late_join_completes_a_task_and_issues_its_reward_at_once() {
    // given a one-order task, started, and C's order of Oct 5 10:00 at the open rate
    let w = World::new().await;
    w.launch(task("K1", "0.15", 1)).await;
    w.when("clock.ticked", K_START, json!({ "now": K_START })).await;
    let out = w.pay("O1", &oct(5, 10)).await;
    assert_eq!(data_of(&out, "commission.accrued")["rate_source"], "open_collab");

    // when her join stamped Oct 5 09:00 arrives
    let out = w.join("K1", &oct(5, 9)).await;

    // then the order counts for K1: the task is finished, the reward issued
    assert_eq!(
        adjusted(&out),
        ["rate_corrected", "0.15", "campaign", "K1", "15.00", "5.00"]
    );
    let kinds = types(&out);
    for kind in ["participation.accepted", "task.finished", "reward.issued"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
    let finished = data_of(&out, "task.finished");
    assert_eq!(
        instant(&finished["finished_at"]),
        instant(&json!(oct(5, 10))),
        "{finished}"
    );
}

#[tokio::test]
async fn o9_a_late_join_to_a_higher_rate_campaign_moves_an_open_collaboration_order() {
    // given C's order of Oct 5 at the open rate, and K2 (20 %) running
    let w = World::new().await;
    w.launch(task("K2", "0.20", 3)).await;
    w.when("clock.ticked", K_START, json!({ "now": K_START })).await;
    w.pay("O1", &oct(5, 10)).await;

    // when her join to K2, stamped Oct 4, arrives
    let out = w.join("K2", &oct(4, 0)).await;

    // then the order earns K2's rate
    assert_eq!(
        adjusted(&out),
        ["rate_corrected", "0.20", "campaign", "K2", "20.00", "10.00"]
    );
}

#[tokio::test]
async fn o9_a_late_rate_change_after_commission_payable_re_rates_nothing() {
    // given an order of Oct 3 10:00 settled: payable at 10 %
    let w = World::new().await;
    w.pay("O1", &oct(3, 10)).await;
    let out = w.when("order.settled", &oct(4, 0), json!({ "order_id": "O1" })).await;
    assert_eq!(data_of(&out, "commission.payable")["amount"], "10.00");

    // when a rate cut stamped before the order arrives
    let out = w.when("product.updated", &oct(3, 9), product_at("0.08")).await;

    // then the rate is locked: nothing is re-rated
    assert!(out.is_empty(), "{out:?}");
}

#[tokio::test]
async fn o9_a_late_partnership_re_rates_the_orders_after_it() {
    let w = World::new().await;
    w.pay("O1", &oct(3, 10)).await;
    w.pay("O2", &oct(5, 10)).await;

    // a partnership at 12 % stamped Oct 4 arrives
    let partnership = json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.12" });
    let out = w.when("partnership.established", &oct(4, 0), partnership).await;

    // only the order after it is re-rated
    assert_eq!(types(&out)[0], "partnership.accepted");
    assert_eq!(
        adjusted(&out),
        ["rate_corrected", "0.12", "partnership", "null", "12.00", "2.00"]
    );
    assert_eq!(data_of(&out, "commission.adjusted")["order_id"], "O2");
}

#[tokio::test]
async fn v2_a_connection_stamped_after_a_violation_that_arrives_first_gets_no_notice() {
    let w = World::new().await;
    // a partnership of Oct 6 arrives before the violation of Oct 5
    let partnership = json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.12" });
    w.when("partnership.established", &oct(6, 0), partnership).await;
    let violation = json!({ "violation_id": "V1", "creator_id": C, "guideline": "g" });
    let out = w.when("creator.violation_reported", &oct(5, 0), violation).await;
    assert!(!types(&out).iter().any(|t| t == "seller.violation_notice"), "{out:?}");

    // while a partnership stamped before it, arriving after it, gets one
    let other = json!({ "seller_id": "S2", "creator_id": C, "commission_rate": "0.12" });
    let out = w.when("partnership.established", &oct(4, 0), other).await;
    let notice = data_of(&out, "seller.violation_notice");
    assert_eq!(notice["seller_id"], "S2");
    assert_eq!(notice["violation_id"], "V1");
}

/// An RFC 3339 time as an instant (the worker may print `Z` or an offset).
fn instant(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

/// Past 4 000 changes and outcomes (here after the third page of 1 000
/// orders) a sweep writes the batch so far ahead and lets go of what it held; every order is still re-decided once, and what
/// was written ahead is read back from the table, not from the cache.
#[tokio::test]
async fn o9_a_late_rate_change_over_thousands_of_pending_commissions_re_rates_each_once() {
    const ORDERS: usize = 3_100;
    let w = World::new().await;
    let orders: Vec<Value> = (0..ORDERS)
        .map(|i| {
            let at = format!("2024-10-03T10:{:02}:{:02}Z", (i / 60) % 60, i % 60);
            let creator = format!("C{}", i % 50);
            event(
                &format!("bulk-{i}"),
                "order.paid",
                &at,
                order(&format!("B{i}"), S, P, Some(&creator), "10.00"),
            )
        })
        .collect();
    w.env.publish_many(&orders).await;
    // A debug worker on a busy CI machine: more time than one wait gives.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while w.env.outcomes.of_type("commission.accrued").len() < ORDERS {
        assert!(std::time::Instant::now() < deadline, "the orders were not applied");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    w.send("product.updated", &oct(3, 9), product_at("0.08")).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while w.env.outcomes.of_type("commission.adjusted").len() < ORDERS {
        assert!(std::time::Instant::now() < deadline, "the orders were not re-rated");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let out = w.when("product.updated", &oct(3, 9), product_at("0.08")).await;
    assert!(out.is_empty(), "a repeated fact changes nothing: {out:?}");

    let adjusted = w.env.outcomes.of_type("commission.adjusted");
    assert_eq!(adjusted.len(), ORDERS);
    let orders: std::collections::BTreeSet<&str> =
        adjusted.iter().filter_map(|o| o["data"]["order_id"].as_str()).collect();
    assert_eq!(orders.len(), ORDERS, "each order once");
    assert!(
        adjusted
            .iter()
            .all(|o| o["data"]["amount"] == "0.80" && o["data"]["delta"] == "-0.20")
    );

    // and a second late fact sees the first one's effects
    let out = w.when("product.updated", &oct(3, 8), product_at("0.05")).await;
    assert!(out.is_empty(), "the 8 % version is current for every order: {out:?}");
}
