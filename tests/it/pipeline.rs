//! The reliability of the pipeline: envelope, routing, deduplication, dead
//! letters, crashes, broker outages, shutdown.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-01T10:00:00Z";

async fn with_product(env: &TestEnv) {
    env.send("p-1", "product.updated", T0, product("P1", "S1", Some("0.10")))
        .await;
}

#[tokio::test]
async fn a_hand_published_order_yields_a_commission_accrued_in_the_contract_envelope() {
    let env = TestEnv::start().await;
    with_product(&env).await;
    env.send("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "100.00"))
        .await;

    let accrued = env.outcomes.wait_count("commission.accrued", 1).await.remove(0);
    assert_eq!(accrued["specversion"], "1.0");
    assert_eq!(accrued["source"], "/collab-worker");
    assert_eq!(accrued["causationid"], "o-1");
    assert_eq!(accrued["time"], T1);
    assert_eq!(accrued["subject"], accrued["data"]["commission_id"]);
    let data = &accrued["data"];
    assert_eq!(data["order_id"], "O1");
    assert_eq!(data["rate"], "0.10");
    assert_eq!(data["rate_source"], "open_collab");
    assert_eq!(data["base_amount"], "100.00");
    assert_eq!(data["amount"], "10.00");
    assert_eq!(data["shop_ads_amount"], "0.00");
    assert_eq!(data["currency"], "USD");
    assert_eq!(data["campaign_id"], Value::Null);
    let amqp = &accrued["_amqp"];
    assert_eq!(amqp["message_id"], accrued["id"]);
    assert_eq!(amqp["type"], "commission.accrued");
    assert_eq!(amqp["routing_key"], "commission.accrued");
    assert_eq!(amqp["content_type"], "application/cloudevents+json");
    assert_eq!(amqp["delivery_mode"], 2);
    assert!(amqp["timestamp"].as_u64().is_some_and(|t| t > 0));
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let env = TestEnv::start().await;
    assert_eq!(env.http_get("/healthz").await.0, 200);
    let (status, body) = env.http_get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    with_product(&env).await;
    env.outcomes.settle(Duration::from_millis(300)).await;
    let (status, metrics) = env.http_get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("collab_events_applied_total"), "{metrics}");
}

#[tokio::test]
async fn the_same_event_id_delivered_twice_has_its_effect_once() {
    let env = TestEnv::start().await;
    with_product(&env).await;
    let paid = event("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "100.00"));
    env.publish(&paid).await;
    env.publish(&paid).await;
    env.send("marker", "order.paid", T1, order("O2", "S1", "P1", Some("C1"), "1.00"))
        .await;

    env.outcomes.wait_count("commission.accrued", 2).await;
    env.outcomes.settle(Duration::from_millis(500)).await;
    let accrued = env.outcomes.of_type("commission.accrued");
    assert_eq!(accrued.iter().filter(|o| o["data"]["order_id"] == "O1").count(), 1);
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM inbox WHERE event_id = 'o-1'")
            .await,
        1
    );
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM outbox WHERE causation_id = 'o-1'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_same_order_paid_twice_under_new_event_ids_changes_nothing() {
    let env = TestEnv::start().await;
    with_product(&env).await;
    env.send("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "100.00"))
        .await;
    env.send(
        "o-1-again",
        "order.paid",
        T1,
        order("O1", "S1", "P1", Some("C1"), "999.00"),
    )
    .await;
    env.send("marker", "order.paid", T1, order("O2", "S1", "P1", Some("C1"), "1.00"))
        .await;

    env.outcomes.wait_count("commission.accrued", 2).await;
    env.outcomes.settle(Duration::from_millis(500)).await;
    let o1: Vec<_> = env
        .outcomes
        .of_type("commission.accrued")
        .into_iter()
        .filter(|o| o["data"]["order_id"] == "O1")
        .collect();
    assert_eq!(o1.len(), 1);
    assert_eq!(o1[0]["data"]["base_amount"], "100.00");
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM outbox WHERE causation_id = 'o-1-again'")
            .await,
        0
    );
}

/// Every malformed kind goes to the DLQ with its reason; the worker goes on.
#[tokio::test]
async fn each_malformed_kind_is_dead_lettered_with_its_reason_and_the_next_event_applies() {
    let env = TestEnv::start().await;
    with_product(&env).await;
    let good = order("O1", "S1", "P1", Some("C1"), "10.00");
    let with = |field: &str, value: Value| {
        let mut data = good.clone();
        data[field] = value;
        data
    };
    let mut missing_field = good.clone();
    if let Some(map) = missing_field.as_object_mut() {
        map.remove("amount");
    }
    let mut no_id = event("x", "order.paid", T1, good.clone());
    if let Some(map) = no_id.as_object_mut() {
        map.remove("id");
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("invalid_json", b"{\"specversion\": \"1.0\", ".to_vec()),
        ("not_a_cloudevent", serde_json::to_vec(&no_id).unwrap_or_default()),
        (
            "not_a_cloudevent",
            serde_json::to_vec(&json!({"specversion": "0.3", "id": "v", "source": "/t", "type": "order.paid", "time": T1, "data": good})).unwrap_or_default(),
        ),
        ("unknown_type", serde_json::to_vec(&event("u", "order.teleported", T1, json!({}))).unwrap_or_default()),
        ("schema_violation", serde_json::to_vec(&event("f", "order.paid", T1, with("amount", json!(10.5)))).unwrap_or_default()),
        ("schema_violation", serde_json::to_vec(&event("n", "order.paid", T1, with("amount", json!("-1.00")))).unwrap_or_default()),
        ("schema_violation", serde_json::to_vec(&event("e", "order.paid", T1, with("content_type", json!("radio")))).unwrap_or_default()),
        ("schema_violation", serde_json::to_vec(&event("m", "order.paid", T1, missing_field)).unwrap_or_default()),
    ];
    for (_, body) in &cases {
        env.publish_raw("order.paid", body, None).await;
    }
    env.send("good", "order.paid", T1, good.clone()).await;

    env.outcomes.wait_count("commission.accrued", 1).await;
    let dead = env.wait_dlq(cases.len()).await;
    let mut reasons: Vec<String> = dead.iter().filter_map(|(h, _)| header(h, "x-collab-error")).collect();
    let mut expected: Vec<String> = cases.iter().map(|(r, _)| (*r).to_owned()).collect();
    reasons.sort();
    expected.sort();
    assert_eq!(reasons, expected);
    for (headers, body) in &dead {
        assert!(header(headers, "x-collab-error-detail").is_some_and(|d| !d.is_empty()));
        assert_eq!(
            header(headers, "x-collab-original-exchange").as_deref(),
            Some("collab.events")
        );
        assert!(
            cases.iter().any(|(_, b)| b == body),
            "the dead letter keeps the original body"
        );
    }
    let (_, metrics) = env.http_get("/metrics").await;
    assert!(
        metrics.contains("collab_events_dead_lettered_total{reason=\"schema_violation\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_inbound_type_is_routed_to_the_worker_and_stored() {
    let env = TestEnv::start().await;
    let events = all_types();
    for (i, (type_name, data)) in events.iter().enumerate() {
        env.send(&format!("ev-{i}"), type_name, T1, data.clone()).await;
    }
    let expected = events.len() as i64;
    let deadline = std::time::Instant::now() + WAIT;
    while env.scalar_i64("SELECT count(*) FROM inbox").await < expected {
        assert!(std::time::Instant::now() < deadline, "not every type was applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(env.scalar_i64("SELECT count(DISTINCT type) FROM inbox").await, 26);
    assert!(env.drain_dlq().await.is_empty());
}

/// One valid event of every inbound type of the contract.
pub fn all_types() -> Vec<(&'static str, Value)> {
    vec![
        ("product.updated", product("P1", "S1", Some("0.1"))),
        (
            "creator.updated",
            json!({"creator_id": "C1", "level": 3, "followers": 10, "categories": ["beauty"], "content_types": ["video"], "avg_commission_rate": "0.1", "fake_order_risk": "low"}),
        ),
        (
            "creator_group.saved",
            json!({"seller_id": "S1", "group_id": "G1", "name": "all", "criteria": {}}),
        ),
        (
            "campaign.submitted",
            json!({"campaign_id": "K1", "seller_id": "S1", "type": "task", "title": "t", "starts_at": "2026-10-02T00:00:00Z", "ends_at": "2026-10-20T00:00:00Z", "creator_group_id": "G1", "currency": "USD", "budget": "100.00", "prompt_ads_authorization": false, "products": [{"product_id": "P1", "free_sample": false}], "task": {"reward": "10.00", "tasks": [{"kind": "orders", "content_type": "any", "target": 1}]}}),
        ),
        (
            "campaign.recall_requested",
            json!({"campaign_id": "K9", "seller_id": "S1"}),
        ),
        (
            "payment.succeeded",
            json!({"payment_id": "PAY1", "campaign_id": "K9", "seller_id": "S1", "amount": "1.00", "currency": "USD", "method": "credit_card"}),
        ),
        (
            "payment.failed",
            json!({"payment_id": "PAY2", "campaign_id": "K1", "seller_id": "S1", "reason": "declined"}),
        ),
        ("seller.creator_blocked", json!({"seller_id": "S1", "creator_id": "C9"})),
        (
            "seller.creator_unblocked",
            json!({"seller_id": "S1", "creator_id": "C9"}),
        ),
        (
            "partnership.established",
            json!({"seller_id": "S2", "creator_id": "C1", "commission_rate": "0.2"}),
        ),
        ("partnership.paused", json!({"seller_id": "S3", "creator_id": "C1"})),
        (
            "dispute.opened",
            json!({"dispute_id": "D1", "seller_id": "S2", "creator_id": "C1"}),
        ),
        (
            "dispute.resolved",
            json!({"dispute_id": "D1", "cancelled_order_ids": []}),
        ),
        (
            "creator.join_requested",
            json!({"campaign_id": "K1", "creator_id": "C1"}),
        ),
        (
            "sample.requested",
            json!({"request_id": "R1", "campaign_id": "K1", "creator_id": "C1", "product_id": "P1"}),
        ),
        ("sample.shipped", json!({"request_id": "R1"})),
        ("sample.delivered", json!({"request_id": "R1"})),
        (
            "sample.refundable_purchased",
            json!({"refundable_id": "RF1", "campaign_id": "K1", "creator_id": "C1", "product_id": "P1", "order_id": "O9", "price": "5.00", "shipping_fee": "1.00", "currency": "USD"}),
        ),
        (
            "content.posted",
            json!({"content_id": "CT1", "creator_id": "C1", "content_type": "video", "product_ids": ["P1"], "ads_authorized": true}),
        ),
        ("order.paid", order("O1", "S1", "P1", Some("C1"), "10.00")),
        ("order.cancelled", json!({"order_id": "O2"})),
        ("order.refunded", json!({"order_id": "O1", "amount": "1.00"})),
        ("order.settled", json!({"order_id": "O1"})),
        (
            "creator.violation_reported",
            json!({"violation_id": "V1", "creator_id": "C8", "guideline": "spam"}),
        ),
        (
            "creator.platform_blocked",
            json!({"creator_id": "C7", "reason": "fraud"}),
        ),
        ("clock.ticked", json!({"now": "2026-10-01T10:00:00Z"})),
    ]
}

/// SIGKILL mid-stream, then restart: every order ends with exactly one
/// decided commission, and every decided outcome is published.
#[tokio::test]
async fn sigkill_mid_stream_then_restart_loses_nothing_and_decides_nothing_twice() {
    let mut env = TestEnv::start().await;
    with_product(&env).await;
    const N: usize = 400;
    for i in 0..N {
        env.send(
            &format!("o-{i}"),
            "order.paid",
            T1,
            order(&format!("O{i}"), "S1", "P1", Some("C1"), "10.00"),
        )
        .await;
        if i == N / 4 {
            // Let it get going, then kill it in the middle of the stream.
            env.outcomes.wait_until("first outcomes", |all| !all.is_empty()).await;
            env.kill_worker().await;
        }
    }
    env.restart_worker().await;
    let accrued = env.outcomes.wait_count("commission.accrued", N).await;
    assert_eq!(
        accrued.len(),
        N,
        "each order has exactly one distinct commission.accrued"
    );
    let mut orders: Vec<_> = accrued.iter().map(|o| o["data"]["order_id"].to_string()).collect();
    orders.sort();
    orders.dedup();
    assert_eq!(orders.len(), N);
    assert_eq!(env.scalar_i64("SELECT count(*) FROM outbox").await, N as i64);
    assert_eq!(env.scalar_i64("SELECT count(*) FROM inbox").await, N as i64 + 1);
    let deadline = std::time::Instant::now() + WAIT;
    while env.scalar_i64("SELECT count(*) FROM outbox_unpublished").await > 0 {
        assert!(std::time::Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The broker closes every connection while events flow; the worker opens a
/// new session and
/// every event is applied once.
#[tokio::test]
async fn the_broker_connection_dropping_while_events_flow_loses_nothing() {
    let env = TestEnv::start().await;
    with_product(&env).await;
    const N: usize = 300;
    for i in 0..N {
        env.send(
            &format!("o-{i}"),
            "order.paid",
            T1,
            order(&format!("O{i}"), "S1", "P1", Some("C1"), "10.00"),
        )
        .await;
        if i == N / 3 || i == 2 * N / 3 {
            env.drop_connections().await;
        }
    }
    let accrued = env.outcomes.wait_count("commission.accrued", N).await;
    assert_eq!(accrued.len(), N);
    assert_eq!(env.scalar_i64("SELECT count(*) FROM outbox").await, N as i64);
    let (status, _) = env.http_get("/readyz").await;
    assert_eq!(status, 200, "ready again after recovery");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_work_flushes_the_outbox_and_exits_zero() {
    let mut env = TestEnv::start().await;
    with_product(&env).await;
    for i in 0..50 {
        env.send(
            &format!("o-{i}"),
            "order.paid",
            T1,
            order(&format!("O{i}"), "S1", "P1", Some("C1"), "10.00"),
        )
        .await;
    }
    // Whatever was applied before the signal is published before exit.
    assert_eq!(env.stop_worker().await, Some(0));
    let applied = env
        .scalar_i64("SELECT count(*) FROM inbox WHERE type = 'order.paid'")
        .await;
    assert_eq!(env.scalar_i64("SELECT count(*) FROM outbox_unpublished").await, 0);
    assert_eq!(env.scalar_i64("SELECT count(*) FROM outbox").await, applied);
    env.restart_worker().await;
    env.outcomes.wait_count("commission.accrued", 50).await;
}

/// A rule that panics is a bug, which trying again would repeat: the event
/// is dead-lettered at the first failure as `rule_failed`, with the panic,
/// and the events around it are applied. (The worker is built with the
/// `fault-injection` feature, which makes the rules panic on an event id
/// starting with `fault:panic`.)
#[cfg(feature = "fault-injection")]
#[tokio::test]
async fn a_rule_panic_is_dead_lettered_after_one_attempt_with_its_reason() {
    let env = TestEnv::start_with(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "5")]).await;
    with_product(&env).await;
    env.send("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "10.00"))
        .await;
    env.send(
        "fault:panic-1",
        "order.paid",
        T1,
        order("O2", "S1", "P1", Some("C1"), "10.00"),
    )
    .await;
    env.send("o-3", "order.paid", T1, order("O3", "S1", "P1", Some("C1"), "10.00"))
        .await;

    let dead = env.wait_dlq(1).await;
    assert_eq!(header(&dead[0].0, "x-collab-error").as_deref(), Some("rule_failed"));
    let detail = header(&dead[0].0, "x-collab-error-detail").unwrap_or_default();
    assert!(
        detail.contains("a rule panicked") && detail.contains("fault:panic-1"),
        "{detail}"
    );
    env.outcomes.wait_count("commission.accrued", 2).await;
    let (_, metrics) = env.http_get("/metrics").await;
    assert!(
        metrics.contains("collab_apply_retries_total{cause=\"failed\"} 0"),
        "one attempt, no retry: {metrics}"
    );
    assert!(
        metrics.contains("collab_events_dead_lettered_total{reason=\"rule_failed\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM inbox WHERE event_id = 'fault:panic-1'")
            .await,
        0
    );
    assert!(env.worker_log().contains("fault:panic-1"), "the event id is logged");
}

/// A rule that panics in the sweep an event set off (O9), after the event's
/// own decision: the batch is refused, the event dead-lettered alone after
/// one attempt (`rule_failed`), the events around it applied.
#[tokio::test]
async fn a_rule_panic_in_a_sweep_is_dead_lettered_after_one_attempt() {
    let env = TestEnv::start_with(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "5")]).await;
    with_product(&env).await;
    env.send("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "10.00"))
        .await;
    env.outcomes.wait_count("commission.accrued", 1).await;
    // A rate change stamped before the order sets off a sweep over it.
    let earlier = "2026-10-01T05:00:00Z";
    env.send(
        "fault:sweep-panic-1",
        "product.updated",
        earlier,
        product("P1", "S1", Some("0.08")),
    )
    .await;
    env.send("o-2", "order.paid", T1, order("O2", "S1", "P1", Some("C1"), "10.00"))
        .await;

    let dead = env.wait_dlq(1).await;
    assert_eq!(header(&dead[0].0, "x-collab-error").as_deref(), Some("rule_failed"));
    let detail = header(&dead[0].0, "x-collab-error-detail").unwrap_or_default();
    assert!(detail.contains("fault:sweep-panic-1"), "{detail}");
    env.outcomes.wait_count("commission.accrued", 2).await;
    let (_, metrics) = env.http_get("/metrics").await;
    assert!(
        metrics.contains("collab_events_dead_lettered_total{reason=\"rule_failed\"} 1"),
        "{metrics}"
    );
    assert!(env.outcomes.of_type("commission.adjusted").is_empty());
}

/// An event that keeps failing to apply is retried, then dead-lettered with
/// `apply_failed`; the events around it are applied.
#[tokio::test]
async fn a_poison_event_is_retried_then_dead_lettered_without_holding_back_the_others() {
    let env = TestEnv::start_with(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "3")]).await;
    with_product(&env).await;
    env.outcomes.settle(Duration::from_millis(300)).await;
    let mut db = env.db().await;
    sqlx::raw_sql(
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'poisoned order'; END $$; \
         CREATE TRIGGER poison BEFORE INSERT ON inbox FOR EACH ROW \
         WHEN (NEW.event_id = 'o-poison') EXECUTE FUNCTION poison();",
    )
    .execute(&mut db)
    .await
    .expect("trigger");
    env.send("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "10.00"))
        .await;
    env.send(
        "o-poison",
        "order.paid",
        T1,
        order("O2", "S1", "P1", Some("C1"), "10.00"),
    )
    .await;
    env.send("o-3", "order.paid", T1, order("O3", "S1", "P1", Some("C1"), "10.00"))
        .await;

    let dead = env.wait_dlq(1).await;
    assert_eq!(header(&dead[0].0, "x-collab-error").as_deref(), Some("apply_failed"));
    assert!(header(&dead[0].0, "x-collab-error-detail").is_some_and(|d| d.contains("poisoned order")));
    let accrued = env.outcomes.wait_count("commission.accrued", 2).await;
    let orders: Vec<_> = accrued
        .iter()
        .map(|o| o["data"]["order_id"].as_str().unwrap_or(""))
        .collect();
    assert!(orders.contains(&"O1") && orders.contains(&"O3"), "{orders:?}");
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM inbox WHERE event_id = 'o-poison'")
            .await,
        0
    );
}

/// The database refuses connections for a while: events wait (unacked),
/// `/readyz` says 503, and everything is applied once it is back.
#[tokio::test]
async fn a_database_outage_is_waited_out_and_loses_nothing() {
    let env = TestEnv::start_with(vec![("COLLAB_CONSUMER__POOL_SIZE", "2")]).await;
    with_product(&env).await;
    while env.scalar_i64("SELECT count(*) FROM inbox").await < 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admin = |sql: String| async move {
        let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{PG_SERVER}/postgres"))
            .await
            .expect("admin");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut db)
            .await
            .expect("admin statement");
    };
    // Nobody, superusers included, may connect; existing sessions end.
    admin(format!(
        "ALTER DATABASE \"{0}\" ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
        env.name
    ))
    .await;
    for i in 0..20 {
        env.send(
            &format!("o-{i}"),
            "order.paid",
            T1,
            order(&format!("O{i}"), "S1", "P1", Some("C1"), "10.00"),
        )
        .await;
    }
    let deadline = std::time::Instant::now() + WAIT;
    while env.http_get("/readyz").await.0 != 503 {
        assert!(
            std::time::Instant::now() < deadline,
            "readyz should turn 503 during the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(env.http_get("/healthz").await.0, 200, "alive all along");
    admin(format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true", env.name)).await;
    let accrued = env.outcomes.wait_count("commission.accrued", 20).await;
    assert_eq!(accrued.len(), 20);
    while env.http_get("/readyz").await.0 != 200 {
        assert!(std::time::Instant::now() < deadline + WAIT, "ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        env.drain_dlq().await.is_empty(),
        "an outage is not a reason to dead-letter"
    );
}
