//! Rules O1–O8 for orders outside campaigns, end to end.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const T0: &str = "2026-10-01T00:00:00Z";

async fn env_with_product(open_rate: Option<&str>) -> TestEnv {
    let env = TestEnv::start().await;
    env.send("p-1", "product.updated", T0, product("P1", "S1", open_rate))
        .await;
    env
}

fn by_order<'a>(outcomes: &'a [Value], type_name: &str, order: &str) -> Vec<&'a Value> {
    outcomes
        .iter()
        .filter(|o| o["type"] == type_name && o["data"]["order_id"] == order)
        .map(|o| &o["data"])
        .collect()
}

#[tokio::test]
async fn o1_an_unattributed_order_earns_nothing_and_a_repeated_order_changes_nothing() {
    let env = env_with_product(Some("0.10")).await;
    env.send(
        "o-1",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O1", "S1", "P1", None, "100.00"),
    )
    .await;
    env.send(
        "o-2",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O2", "S1", "P1", Some("C1"), "50.00"),
    )
    .await;
    env.send(
        "o-2b",
        "order.paid",
        "2026-10-01T11:00:00Z",
        order("O2", "S1", "P1", Some("C1"), "70.00"),
    )
    .await;
    env.send(
        "o-3",
        "order.paid",
        "2026-10-01T12:00:00Z",
        order("O3", "S1", "P1", Some("C1"), "1.00"),
    )
    .await;
    env.outcomes
        .wait_for("commission.accrued", |d| d["order_id"] == "O3")
        .await;
    let all = env.outcomes.settle(Duration::from_millis(400)).await;
    assert!(by_order(&all, "commission.accrued", "O1").is_empty());
    let o2 = by_order(&all, "commission.accrued", "O2");
    assert_eq!(o2.len(), 1);
    assert_eq!(o2[0]["base_amount"], "50.00");
}

/// O2 (sources open_collab and none) with "current" rates, O3 and O5.
#[tokio::test]
async fn o2_o3_o5_the_current_open_rate_applies_and_every_order_is_explained() {
    let env = TestEnv::start().await;
    env.send(
        "p-1",
        "product.updated",
        "2026-10-01T00:00:00Z",
        product("P1", "S1", Some("0.10")),
    )
    .await;
    env.send(
        "p-2",
        "product.updated",
        "2026-10-03T00:00:00Z",
        product("P1", "S1", Some("0.08")),
    )
    .await;
    env.send(
        "q-1",
        "product.updated",
        "2026-10-01T00:00:00Z",
        product("P2", "S1", None),
    )
    .await;
    // Before the rate change, after it, and an order published late but paid before it.
    env.send(
        "o-1",
        "order.paid",
        "2026-10-02T00:00:00Z",
        order("O1", "S1", "P1", Some("C1"), "33.35"),
    )
    .await;
    env.send(
        "o-2",
        "order.paid",
        "2026-10-04T00:00:00Z",
        order("O2", "S1", "P1", Some("C1"), "33.35"),
    )
    .await;
    env.send(
        "o-3",
        "order.paid",
        "2026-10-02T12:00:00Z",
        order("O3", "S1", "P1", Some("C1"), "10.05"),
    )
    .await;
    env.send(
        "o-4",
        "order.paid",
        "2026-10-04T00:00:00Z",
        order("O4", "S1", "P2", Some("C1"), "99.00"),
    )
    .await;
    let all = env.outcomes.wait_count("commission.accrued", 4).await;
    let get = |id: &str| {
        all.iter()
            .find(|o| o["data"]["order_id"] == id)
            .map(|o| o["data"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        (get("O1")["rate"].clone(), get("O1")["amount"].clone()),
        (json!("0.10"), json!("3.34"))
    );
    assert_eq!(
        (get("O2")["rate"].clone(), get("O2")["amount"].clone()),
        (json!("0.08"), json!("2.67"))
    );
    assert_eq!(get("O3")["rate"], "0.10");
    assert_eq!(get("O3")["amount"], "1.01", "1.005 rounds half away from zero");
    assert_eq!(get("O4")["rate_source"], "none");
    assert_eq!(get("O4")["amount"], "0.00");
}

#[tokio::test]
async fn o4_shop_ads_commission_needs_ads_authorized_content() {
    let env = TestEnv::start().await;
    let mut p = product("P1", "S1", Some("0.10"));
    p["open_collab_shop_ads_rate"] = json!("0.05");
    env.send("p-1", "product.updated", T0, p).await;
    env.send("c-1", "content.posted", T0, json!({"content_id": "V1", "creator_id": "C1", "content_type": "video", "product_ids": ["P1"], "ads_authorized": true})).await;
    env.send("c-2", "content.posted", T0, json!({"content_id": "V2", "creator_id": "C1", "content_type": "video", "product_ids": ["P1"], "ads_authorized": false})).await;
    let ads = |id: &str, content: &str, via: bool| {
        let mut o = order(id, "S1", "P1", Some("C1"), "200.00");
        o["content_id"] = json!(content);
        o["via_shop_ads"] = json!(via);
        o
    };
    env.send("o-1", "order.paid", "2026-10-01T10:00:00Z", ads("O1", "V1", true))
        .await;
    env.send("o-2", "order.paid", "2026-10-01T10:00:00Z", ads("O2", "V2", true))
        .await;
    env.send("o-3", "order.paid", "2026-10-01T10:00:00Z", ads("O3", "V1", false))
        .await;
    // Content published after the order that links it.
    env.send("o-4", "order.paid", "2026-10-01T10:00:00Z", ads("O4", "V3", true))
        .await;
    env.send("c-3", "content.posted", "2026-10-01T09:00:00Z", json!({"content_id": "V3", "creator_id": "C1", "content_type": "live", "product_ids": ["P1"], "ads_authorized": true})).await;
    env.outcomes
        .wait_for("commission.adjusted", |d| d["shop_ads_amount"] == "10.00")
        .await;
    let all = env.outcomes.distinct();
    let shop = |id: &str| by_order(&all, "commission.accrued", id)[0]["shop_ads_amount"].clone();
    assert_eq!(shop("O1"), "10.00");
    assert_eq!(by_order(&all, "commission.accrued", "O1")[0]["shop_ads_rate"], "0.05");
    assert_eq!(shop("O2"), "0.00");
    assert_eq!(shop("O3"), "0.00");
    assert_eq!(shop("O4"), "0.00");
    let adjusted = by_order(&all, "commission.adjusted", "O4");
    assert_eq!(adjusted[0]["delta"], "10.00");
}

#[tokio::test]
async fn o6_refunds_adjust_cancellations_cancel_and_after_payable_claw_back() {
    let env = env_with_product(Some("0.10")).await;
    let t = "2026-10-01T10:00:00Z";
    for i in 1..=4 {
        env.send(
            &format!("o-{i}"),
            "order.paid",
            t,
            order(&format!("O{i}"), "S1", "P1", Some("C1"), "100.00"),
        )
        .await;
    }
    env.send(
        "r-1",
        "order.refunded",
        "2026-10-02T00:00:00Z",
        json!({"order_id": "O1", "amount": "40.00"}),
    )
    .await;
    env.send(
        "r-2",
        "order.refunded",
        "2026-10-02T00:00:00Z",
        json!({"order_id": "O2", "amount": "100.00"}),
    )
    .await;
    env.send(
        "x-3",
        "order.cancelled",
        "2026-10-02T00:00:00Z",
        json!({"order_id": "O3"}),
    )
    .await;
    env.send(
        "s-4",
        "order.settled",
        "2026-10-03T00:00:00Z",
        json!({"order_id": "O4"}),
    )
    .await;
    env.send(
        "r-4",
        "order.refunded",
        "2026-10-04T00:00:00Z",
        json!({"order_id": "O4", "amount": "25.00"}),
    )
    .await;
    env.send(
        "x-4",
        "order.cancelled",
        "2026-10-05T00:00:00Z",
        json!({"order_id": "O4"}),
    )
    .await;
    env.outcomes.wait_count("commission.clawback", 2).await;
    let all = env.outcomes.distinct();
    let adjusted = by_order(&all, "commission.adjusted", "O1");
    assert_eq!(
        (adjusted[0]["amount"].clone(), adjusted[0]["delta"].clone()),
        (json!("6.00"), json!("-4.00"))
    );
    assert_eq!(
        by_order(&all, "commission.cancelled", "O2")[0]["reason"],
        "order_refunded"
    );
    assert_eq!(
        by_order(&all, "commission.cancelled", "O3")[0]["reason"],
        "order_cancelled"
    );
    assert_eq!(by_order(&all, "commission.payable", "O4")[0]["amount"], "10.00");
    let clawbacks: Vec<_> = by_order(&all, "commission.clawback", "O4")
        .iter()
        .map(|d| d["amount"].clone())
        .collect();
    assert_eq!(clawbacks, vec![json!("2.50"), json!("7.50")]);
}

#[tokio::test]
async fn o7_settlement_makes_positive_commissions_payable_only() {
    let env = env_with_product(Some("0.10")).await;
    env.send("q-1", "product.updated", T0, product("P2", "S1", None)).await;
    env.send(
        "o-1",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O1", "S1", "P1", Some("C1"), "80.00"),
    )
    .await;
    env.send(
        "o-2",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O2", "S1", "P2", Some("C1"), "80.00"),
    )
    .await;
    env.send(
        "s-1",
        "order.settled",
        "2026-10-08T00:00:00Z",
        json!({"order_id": "O1"}),
    )
    .await;
    env.send(
        "s-2",
        "order.settled",
        "2026-10-08T00:00:00Z",
        json!({"order_id": "O2"}),
    )
    .await;
    env.send(
        "s-1b",
        "order.settled",
        "2026-10-09T00:00:00Z",
        json!({"order_id": "O1"}),
    )
    .await;
    let payable = env
        .outcomes
        .wait_for("commission.payable", |d| d["order_id"] == "O1")
        .await;
    assert_eq!(payable["amount"], "8.00");
    assert_eq!(payable["reason"], "settled");
    assert_eq!(payable["creator_id"], "C1");
    let all = env.outcomes.settle(Duration::from_millis(500)).await;
    assert!(
        by_order(&all, "commission.payable", "O2").is_empty(),
        "a zero commission is not payable"
    );
    assert_eq!(by_order(&all, "commission.payable", "O1").len(), 1);
}

/// O8: facts about an order may arrive before the order.
#[tokio::test]
async fn o8_settlement_and_refund_before_the_order_are_applied_when_it_arrives() {
    let env = env_with_product(Some("0.10")).await;
    env.send(
        "r-1",
        "order.refunded",
        "2026-10-02T00:00:00Z",
        json!({"order_id": "O1", "amount": "50.00"}),
    )
    .await;
    env.send(
        "s-1",
        "order.settled",
        "2026-10-03T00:00:00Z",
        json!({"order_id": "O1"}),
    )
    .await;
    env.send(
        "x-2",
        "order.cancelled",
        "2026-10-02T00:00:00Z",
        json!({"order_id": "O2"}),
    )
    .await;
    env.send(
        "o-1",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O1", "S1", "P1", Some("C1"), "100.00"),
    )
    .await;
    env.send(
        "o-2",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O2", "S1", "P1", Some("C1"), "100.00"),
    )
    .await;
    env.outcomes
        .wait_for("commission.cancelled", |d| d["order_id"] == "O2")
        .await;
    let all = env
        .outcomes
        .wait_for("commission.payable", |d| d["order_id"] == "O1")
        .await;
    assert_eq!(all["amount"], "5.00");
    let outcomes = env.outcomes.distinct();
    let o1: Vec<_> = outcomes
        .iter()
        .filter(|o| o["data"]["order_id"] == "O1")
        .map(|o| o["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        o1,
        vec!["commission.accrued", "commission.adjusted", "commission.payable"]
    );
}

#[tokio::test]
async fn an_order_for_an_unknown_product_is_kept_until_the_product_arrives() {
    let env = TestEnv::start().await;
    env.send(
        "o-1",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O1", "S1", "P9", Some("C1"), "100.00"),
    )
    .await;
    env.send(
        "r-1",
        "order.refunded",
        "2026-10-02T00:00:00Z",
        json!({"order_id": "O1", "amount": "10.00"}),
    )
    .await;
    env.outcomes.settle(Duration::from_millis(500)).await;
    assert!(env.outcomes.of_type("commission.accrued").is_empty());
    env.send(
        "p-9",
        "product.updated",
        "2026-09-01T00:00:00Z",
        product("P9", "S1", Some("0.20")),
    )
    .await;
    let accrued = env
        .outcomes
        .wait_for("commission.accrued", |d| d["order_id"] == "O1")
        .await;
    assert_eq!(accrued["amount"], "20.00");
    let adjusted = env
        .outcomes
        .wait_for("commission.adjusted", |d| d["order_id"] == "O1")
        .await;
    assert_eq!(adjusted["amount"], "18.00");
}
