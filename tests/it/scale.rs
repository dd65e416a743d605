//! Horizontal scale: three worker processes on the same queues decide
//! exactly what one worker decides.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// The story in phases. Within a phase no two events touch the same order,
/// participation or campaign, so their arrival order — which competing
/// consumers do not keep — cannot change any decision; across phases the
/// test waits until the previous one is applied.
fn phases() -> Vec<Vec<Value>> {
    let at = |minute: u32| format!("2026-05-01T{:02}:{:02}:00Z", 8 + minute / 60, minute % 60);
    let (mut setup, mut campaigns, mut payments) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..2 {
        for p in 0..5 {
            let mut product = product(&format!("p{s}{p}"), &format!("s{s}"), Some("0.10"));
            product["open_collab_shop_ads_rate"] = json!("0.05");
            setup.push(event(&format!("prod-{s}{p}"), "product.updated", &at(0), product));
        }
        setup.push(event(
            &format!("group-{s}"),
            "creator_group.saved",
            &at(0),
            json!({"seller_id": format!("s{s}"), "group_id": "g", "name": "all", "criteria": {}}),
        ));
        campaigns.push(event(
            &format!("camp-{s}"),
            "campaign.submitted",
            &at(1),
            json!({"campaign_id": format!("k{s}"), "seller_id": format!("s{s}"), "type": "task", "title": "scale",
                   "starts_at": at(10), "ends_at": "2026-06-01T00:00:00Z", "creator_group_id": "g", "currency": "USD",
                   "budget": "1000.00", "prompt_ads_authorization": true,
                   "products": [{"product_id": format!("p{s}0"), "commission_rate": "0.20", "shop_ads_rate": "0.08", "free_sample": false}],
                   "task": {"reward": "100.00", "tasks": [{"kind": "orders", "content_type": "any", "target": 1000}]}}),
        ));
        payments.push(event(
            &format!("pay-{s}"),
            "payment.succeeded",
            &at(2),
            json!({"payment_id": format!("pay{s}"), "campaign_id": format!("k{s}"), "seller_id": format!("s{s}"),
                   "amount": "1000.00", "currency": "USD", "method": "credit_card"}),
        ));
    }
    for c in 0..40 {
        setup.push(event(
            &format!("creator-{c}"),
            "creator.updated",
            &at(0),
            json!({"creator_id": format!("c{c}"), "level": 3, "followers": 100, "categories": ["beauty"],
                   "content_types": ["video"], "avg_commission_rate": "0.1", "fake_order_risk": "low"}),
        ));
    }
    let tick = vec![event("tick", "clock.ticked", &at(10), json!({"now": at(10)}))];
    let joins: Vec<Value> = (0..40)
        .filter(|c| c % 3 == 0)
        .map(|c| {
            event(
                &format!("join-{c}"),
                "creator.join_requested",
                &at(15),
                json!({"campaign_id": format!("k{}", c % 2), "creator_id": format!("c{c}")}),
            )
        })
        .collect();
    let mut people = Vec::new();
    for c in 0..40 {
        people.push(event(
            &format!("content-{c}"),
            "content.posted",
            &at(20),
            json!({"content_id": format!("v{c}"), "creator_id": format!("c{c}"), "content_type": "video",
                   "product_ids": [format!("p{}0", c % 2)], "ads_authorized": c % 4 != 0}),
        ));
        if c % 10 == 1 {
            people.push(event(
                &format!("partner-{c}"),
                "partnership.established",
                &at(20),
                json!({"seller_id": format!("s{}", c % 2), "creator_id": format!("c{c}"), "commission_rate": "0.12"}),
            ));
        }
    }
    people.push(event(
        "violation",
        "creator.violation_reported",
        &at(21),
        json!({"violation_id": "v-1", "creator_id": "c39", "guideline": "spam"}),
    ));
    const ORDERS: usize = 1500;
    let mut orders = Vec::new();
    for i in 0..ORDERS {
        let (s, c) = (i % 2, (i * 7) % 40);
        let mut o = order(
            &format!("o{i}"),
            &format!("s{s}"),
            &format!("p{s}{}", i % 5),
            Some(&format!("c{c}")),
            &format!("{}.{:02}", 10 + i % 90, i % 100),
        );
        o["content_id"] = json!(format!("v{c}"));
        o["via_shop_ads"] = json!(i % 3 == 0);
        orders.push(event(&format!("paid-{i}"), "order.paid", &at(30 + (i % 300) as u32), o));
    }
    let refunds: Vec<Value> = (0..ORDERS)
        .step_by(5)
        .map(|i| {
            event(
                &format!("refund-{i}"),
                "order.refunded",
                &at(400),
                json!({"order_id": format!("o{i}"), "amount": "3.00"}),
            )
        })
        .collect();
    let settlements: Vec<Value> = (0..ORDERS)
        .filter(|i| i % 2 == 0)
        .map(|i| {
            event(
                &format!("settle-{i}"),
                "order.settled",
                &at(500),
                json!({"order_id": format!("o{i}")}),
            )
        })
        .collect();
    vec![
        setup,
        campaigns,
        payments,
        tick,
        joins,
        people,
        orders,
        refunds,
        settlements,
    ]
}

/// Publishes phase by phase, waiting until each is applied.
async fn run_story(env: &TestEnv) {
    let mut expected = 0i64;
    for phase in phases() {
        expected += phase.len() as i64;
        for e in &phase {
            env.publish(e).await;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while env.scalar_i64("SELECT count(*) FROM inbox").await < expected {
            assert!(Instant::now() < deadline, "phase not applied in time");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.scalar_i64("SELECT count(*) FROM outbox_unpublished").await > 0 {
        assert!(Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every decided outcome (id → body) and every commission as it ended.
async fn results(env: &TestEnv) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let mut db = env.db().await;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id::text, body FROM outbox ORDER BY seq")
        .fetch_all(&mut db)
        .await
        .expect("outbox");
    let mut outcomes = BTreeMap::new();
    for (id, body) in rows {
        let previous = outcomes.insert(id.clone(), serde_json::from_str::<Value>(&body).unwrap_or_default());
        assert!(previous.is_none(), "outcome {id} decided twice");
    }
    let orders: Vec<(String, String)> = sqlx::query_as("SELECT key, body FROM state WHERE kind = 'order'")
        .fetch_all(&mut db)
        .await
        .expect("orders");
    let commissions = orders
        .into_iter()
        .map(|(key, body)| {
            (
                key,
                serde_json::from_str::<Value>(&body).unwrap_or_default()["commission"].clone(),
            )
        })
        .collect();
    (outcomes, commissions)
}

#[tokio::test]
async fn three_workers_on_the_same_queues_decide_exactly_what_one_worker_decides() {
    // Small batches and prefetch so that every replica gets deliveries.
    let settings = vec![
        ("COLLAB_CONSUMER__BATCH_SIZE", "20"),
        ("COLLAB_CONSUMER__PREFETCH", "40"),
    ];
    let single = TestEnv::start_with(settings.clone()).await;
    run_story(&single).await;
    let (expected_outcomes, expected_commissions) = results(&single).await;
    drop(single);

    let mut replicated = TestEnv::start_with(settings).await;
    let second = replicated.spawn_worker().await;
    let third = replicated.spawn_worker().await;
    run_story(&replicated).await;
    let (outcomes, commissions) = results(&replicated).await;

    assert!(
        expected_outcomes.len() > 2_000,
        "a story worth comparing: {}",
        expected_outcomes.len()
    );
    assert_eq!(outcomes.len(), expected_outcomes.len(), "same number of outcomes");
    for (id, body) in &expected_outcomes {
        assert_eq!(outcomes.get(id), Some(body), "outcome {id} differs or is missing");
    }
    assert_eq!(commissions, expected_commissions, "same final commissions");
    // Every outcome left the outbox exactly once under its id.
    let published = replicated
        .outcomes
        .wait_until("every outcome published", |all| all.len() >= outcomes.len())
        .await;
    assert_eq!(published.len(), outcomes.len());

    // The three processes all took part.
    for port in [replicated.port(), second.http_port, third.http_port] {
        let (_, metrics) = http_get(port, "/metrics").await;
        let applied: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("collab_events_applied_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(applied > 0.0, "the worker on port {port} applied nothing");
    }
    replicated.kill_worker().await;
    drop((second, third));
}
