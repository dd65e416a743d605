//! Operators' dead-letter tools (`collab-worker dlq …`) against a real broker.

use std::time::{Duration, Instant};

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicRejectOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use serde_json::{Value, json};

use crate::common::*;

const T: &str = "2026-10-01T10:00:00Z";

/// Makes applying the event ids matching a LIKE pattern fail until the
/// trigger is dropped.
async fn poison(env: &TestEnv, event_id: &str) {
    env.refuse_events(event_id, "poisoned: the product feed is broken")
        .await;
}

async fn cure(env: &TestEnv) {
    env.accept_events().await;
}

/// A worker that knows product P1 of seller S1 (open collaboration, 10 %).
async fn env_with_product(worker_env: Vec<(&str, &str)>) -> TestEnv {
    let env = TestEnv::start_with(worker_env).await;
    env.send(
        "p-1",
        "product.updated",
        "2026-10-01T00:00:00Z",
        product("P1", "S1", Some("0.10")),
    )
    .await;
    env.outcomes.settle(Duration::from_millis(300)).await;
    env
}

fn listed(stdout: &str) -> Vec<Value> {
    stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[tokio::test]
async fn a_fixed_poison_event_is_replayed_exactly_once_and_replaying_again_changes_nothing() {
    let env = env_with_product(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "2")]).await;
    poison(&env, "o-poison").await;
    env.publish_raw("order.paid", b"{\"this is\": not json", Some("m-1"))
        .await;
    env.send(
        "o-poison",
        "order.paid",
        T,
        order("O2", "S1", "P1", Some("C1"), "50.00"),
    )
    .await;
    env.wait_dlq_depth(2).await;

    let (code, out, err) = env.cli(&["dlq", "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let rows = listed(&out);
    assert_eq!(rows.len(), 2, "{out}");
    let poisoned = rows
        .iter()
        .find(|r| r["id"] == "o-poison")
        .expect("the poison event is listed");
    assert_eq!(poisoned["reason"], "apply_failed");
    assert_eq!(poisoned["type"], "order.paid");
    assert_eq!(poisoned["first_death_queue"], "collab.events.worker");
    assert!(poisoned["detail"].as_str().is_some_and(|d| d.contains("poisoned")));
    assert!(rows.iter().any(|r| r["reason"] == "invalid_json" && r["id"] == "m-1"));
    let (_, table, _) = env.cli(&["dlq", "list"]).await;
    assert!(
        table.contains("apply_failed") && table.contains("invalid_json"),
        "{table}"
    );
    assert_eq!(env.dlq_depth_settled(2).await, 2, "listing removes nothing");

    let (code, shown, _) = env.cli(&["dlq", "show", "o-poison"]).await;
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&shown).expect("show prints JSON");
    assert_eq!(shown["body"]["data"]["order_id"], "O2");
    assert_eq!(shown["headers"]["x-collab-error"], "apply_failed");

    // Keep a copy to replay the same message a second time later.
    let export = std::env::temp_dir().join(format!("{}.ndjson", env.name));
    let (code, _, err) = env
        .cli(&[
            "dlq",
            "export",
            "--reason",
            "apply_failed",
            "--out",
            export.to_str().unwrap_or(""),
        ])
        .await;
    assert_eq!(code, 0, "{err}");

    let (_, dry, _) = env.cli(&["dlq", "replay", "o-poison", "--dry-run"]).await;
    assert!(dry.contains("would replay o-poison"), "{dry}");
    assert_eq!(env.dlq_depth_settled(2).await, 2);

    cure(&env).await;
    let (code, out, err) = env.cli(&["dlq", "replay", "o-poison"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("replayed 1"), "{out}");
    let accrued = env
        .outcomes
        .wait_for("commission.accrued", |d| d["order_id"] == "O2")
        .await;
    assert_eq!(accrued["amount"], "5.00");
    assert_eq!(env.dlq_depth_settled(1).await, 1, "the replayed message left the DLQ");

    // The same message again: imported back, replayed again — the inbox knows it.
    let (code, _, err) = env.cli(&["dlq", "import", export.to_str().unwrap_or("")]).await;
    assert_eq!(code, 0, "{err}");
    env.wait_dlq_depth(2).await;
    let (code, _, err) = env.cli(&["dlq", "replay", "--all", "--reason", "apply_failed"]).await;
    assert_eq!(code, 0, "{err}");
    env.outcomes.settle(Duration::from_millis(800)).await;
    let o2 = env
        .outcomes
        .of_type("commission.accrued")
        .into_iter()
        .filter(|o| o["data"]["order_id"] == "O2")
        .count();
    assert_eq!(o2, 1, "applied exactly once");
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM outbox WHERE causation_id = 'o-poison'")
            .await,
        1
    );
    assert_eq!(env.dlq_depth_settled(1).await, 1, "only the malformed message is left");
    std::fs::remove_file(export).expect("remove the export");
}

#[tokio::test]
async fn a_replayed_message_that_fails_again_returns_to_the_dlq_with_its_history() {
    let env = env_with_product(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "1")]).await;
    poison(&env, "o-poison").await;
    env.send(
        "o-poison",
        "order.paid",
        T,
        order("O2", "S1", "P1", Some("C1"), "50.00"),
    )
    .await;
    env.wait_dlq_depth(1).await;
    let (code, _, err) = env.cli(&["dlq", "replay", "o-poison"]).await;
    assert_eq!(code, 0, "{err}");
    // Back in the DLQ, once: no loop.
    env.wait_dlq_depth(1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(env.dlq_depth_settled(1).await, 1);
    let (_, shown, _) = env.cli(&["dlq", "show", "o-poison"]).await;
    let shown: Value = serde_json::from_str(&shown).expect("JSON");
    assert_eq!(shown["headers"]["x-collab-replay-count"], 1);
    assert_eq!(shown["headers"]["x-collab-death-count"], 2);
    assert_eq!(shown["headers"]["x-collab-history"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn purge_asks_for_confirmation_and_empties_the_dlq_with_it() {
    let env = TestEnv::start().await;
    env.publish_raw("order.paid", b"nope", None).await;
    env.publish_raw("order.paid", b"nope again", None).await;
    env.wait_dlq_depth(2).await;
    let (code, _, err) = env.cli(&["dlq", "purge"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("not confirmed"), "{err}");
    assert_eq!(env.dlq_depth_settled(2).await, 2);
    let (code, out, _) = env.cli(&["dlq", "purge", "--yes"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("purged 2"), "{out}");
    assert_eq!(env.dlq_depth_settled(0).await, 0);
}

/// Each dead letter as the broker delivers it now: (event id, `x-delivery-count`
/// — absent counts as 0 — , redelivered). Takes them all (acks).
async fn delivery_counts(env: &TestEnv) -> Vec<(String, i64, bool)> {
    let conn = Connection::connect(&env.amqp_url, ConnectionProperties::default())
        .await
        .expect("connection");
    let ch = conn.create_channel().await.expect("channel");
    let mut counts = Vec::new();
    while let Ok(Some(msg)) = ch
        .basic_get("collab.events.dlq".into(), BasicGetOptions::default())
        .await
    {
        let headers = msg.delivery.properties.headers().clone().unwrap_or_default();
        let count = match headers.inner().get("x-delivery-count") {
            Some(AMQPValue::LongLongInt(n)) => *n,
            Some(AMQPValue::LongInt(n)) => i64::from(*n),
            Some(other) => panic!("x-delivery-count {other:?}"),
            None => 0,
        };
        let id = msg
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        counts.push((id, count, msg.delivery.redelivered));
        msg.delivery.acker.ack(BasicAckOptions::default()).await.expect("ack");
    }
    conn.close(200, "ok".into()).await.expect("close");
    counts.sort();
    counts
}

/// Export lines, by event id.
fn exported(stdout: &str) -> Vec<Value> {
    let mut lines = listed(stdout);
    lines.sort_by_key(|l| l["summary"]["id"].as_str().unwrap_or_default().to_owned());
    lines
}

fn delivery_count(line: &Value) -> i64 {
    line["headers"]["x-delivery-count"].as_i64().unwrap_or(0)
}

#[tokio::test]
async fn reading_the_dlq_two_hundred_times_leaves_every_delivery_count_unchanged() {
    let env = TestEnv::start().await;
    env.publish_raw("order.paid", b"{\"not\": json", Some("m-1")).await;
    env.send("u-1", "thing.happened", T, json!({})).await;
    env.send("s-1", "order.paid", T, json!({"order_id": "O1"})).await;
    env.wait_dlq_depth(3).await;

    let (code, first, err) = env.cli(&["dlq", "export"]).await;
    assert_eq!(code, 0, "{err}");
    let first = exported(&first);
    assert_eq!(first.len(), 3, "{first:?}");
    assert!(first.iter().all(|l| delivery_count(l) == 0), "{first:?}");

    let started = Instant::now();
    for n in 0..100 {
        let (code, out, err) = env.cli(&["dlq", "list", "--json"]).await;
        assert_eq!(code, 0, "list {n}: {err}");
        assert_eq!(listed(&out).len(), 3, "list {n}: {out}");
    }
    for n in 0..100 {
        let (code, out, err) = env.cli(&["dlq", "export"]).await;
        assert_eq!(code, 0, "export {n}: {err}");
        let lines = exported(&out);
        let counts: Vec<i64> = lines.iter().map(delivery_count).collect();
        assert_eq!(counts, [0, 0, 0], "export {n}: x-delivery-count");
        // Byte for byte the same messages.
        assert_eq!(lines, first, "export {n}");
    }
    eprintln!("200 reads of 3 dead letters: {:?}", started.elapsed());
    for _ in 0..3 {
        let (code, _, err) = env.cli(&["dlq", "show", "s-1"]).await;
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(env.dlq_depth_settled(3).await, 3, "nothing lost, nothing doubled");

    // The probe sees a return: the test hands one message back once itself.
    {
        let conn = Connection::connect(&env.amqp_url, ConnectionProperties::default())
            .await
            .expect("connection");
        let ch = conn.create_channel().await.expect("channel");
        let msg = ch
            .basic_get("collab.events.dlq".into(), BasicGetOptions::default())
            .await
            .expect("get")
            .expect("a dead letter");
        msg.delivery
            .acker
            .reject(BasicRejectOptions { requeue: true })
            .await
            .expect("reject");
        conn.close(200, "ok".into()).await.expect("close");
    }
    let counts = delivery_counts(&env).await;
    assert_eq!(counts.len(), 3, "{counts:?}");
    let returned: Vec<_> = counts.iter().filter(|(_, n, _)| *n > 0).collect();
    assert_eq!(
        returned.len(),
        1,
        "only the message the test returned counts a return: {counts:?}"
    );
    assert_eq!(returned[0].1, 1, "{counts:?}");
}

#[tokio::test]
async fn commands_that_run_at_once_wait_for_each_other_and_each_sees_every_dead_letter() {
    let env = TestEnv::start().await;
    for i in 0..20 {
        env.publish_raw("order.paid", b"nope", Some(&format!("m-{i}"))).await;
    }
    env.wait_dlq_depth(20).await;
    let runs = (0..4).map(|_| env.cli(&["dlq", "list", "--json"]));
    for (code, out, err) in futures_util::future::join_all(runs).await {
        assert_eq!(code, 0, "{err}");
        assert_eq!(listed(&out).len(), 20, "{out}");
    }
    assert_eq!(env.dlq_depth_settled(20).await, 20);
}

fn queue_arguments(vhost: &str, queue: &str) -> Value {
    let output = rabbitmqctl_command()
        .args(["list_queues", "-p", vhost, "name", "arguments", "--formatter", "json"])
        .output()
        .expect("rabbitmqctl");
    let queues: Value = serde_json::from_slice(&output.stdout).expect("rabbitmqctl JSON");
    let found = queues
        .as_array()
        .into_iter()
        .flatten()
        .find(|q| q["name"] == queue)
        .unwrap_or_else(|| panic!("{queue} not listed: {queues}"));
    // [["x-queue-type","longstr","quorum"], …] → {"x-queue-type": "quorum", …}
    Value::Object(
        found["arguments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| (a[0].as_str().unwrap_or_default().to_owned(), a[2].clone()))
            .collect(),
    )
}

#[tokio::test]
async fn the_dlq_has_a_delivery_limit_no_number_of_returns_reaches() {
    let env = TestEnv::start().await;
    assert_eq!(
        queue_arguments(&env.name, "collab.events.dlq"),
        json!({"x-queue-type": "quorum", "x-delivery-limit": 2147483647})
    );
}

#[tokio::test]
async fn a_dlq_declared_by_an_older_version_is_kept_and_the_policy_named() {
    let env = TestEnv::prepare(vec![]).await;
    {
        let conn = Connection::connect(&env.amqp_url, ConnectionProperties::default())
            .await
            .expect("connection");
        let ch = conn.create_channel().await.expect("channel");
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        ch.queue_declare("collab.events.dlq".into(), QueueDeclareOptions::durable(), args)
            .await
            .expect("the old dead-letter queue");
        conn.close(200, "ok".into()).await.expect("close");
    }
    let env = env.with_worker().await;
    let log = env.worker_log();
    assert!(
        log.contains("declared by an older version") && log.contains("set_policy"),
        "{log}"
    );
    env.publish_raw("order.paid", b"nope", Some("m-1")).await;
    env.wait_dlq_depth(1).await;
    let (code, out, err) = env.cli(&["dlq", "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed(&out).len(), 1, "{out}");
    assert_eq!(
        queue_arguments(&env.name, "collab.events.dlq"),
        json!({"x-queue-type": "quorum"})
    );
}

/// The value of a counter on the worker's `/metrics`, 0 if absent.
async fn counter(env: &TestEnv, series: &str) -> f64 {
    let (_, metrics) = env.http_get("/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

async fn wait_counter(env: &TestEnv, series: &str, value: f64) {
    let deadline = Instant::now() + WAIT;
    while counter(env, series).await < value {
        assert!(Instant::now() < deadline, "{series} never reached {value}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn failures_are_grouped_and_a_group_is_replayed_at_once() {
    let env = env_with_product(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "1")]).await;
    poison(&env, "o-poison-%").await;
    for i in 1..=3 {
        env.send(
            &format!("o-poison-{i}"),
            "order.paid",
            T,
            order(&format!("O{i}"), "S1", "P1", Some("C1"), "10.00"),
        )
        .await;
    }
    for (i, amount) in [10.5, 20.25, 33.75].iter().enumerate() {
        let mut data = order(&format!("X{i}"), "S1", "P1", Some("C1"), "1.00");
        data["amount"] = json!(amount);
        env.send(&format!("s-{i}"), "order.paid", T, data).await;
    }
    env.wait_dlq_depth(6).await;

    let (code, out, err) = env.cli(&["dlq", "groups", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let groups = listed(&out);
    assert_eq!(groups.len(), 2, "{out}");
    let poisoned = groups
        .iter()
        .find(|g| g["reason"] == "apply_failed")
        .expect("the apply_failed group");
    assert_eq!(poisoned["count"], 3);
    assert_eq!(poisoned["type"], "order.paid");
    assert!(
        poisoned["detail"].as_str().is_some_and(|d| d.contains("poisoned")),
        "{poisoned}"
    );
    assert!(
        poisoned["first_seen"].as_str() <= poisoned["last_seen"].as_str(),
        "{poisoned}"
    );
    let amounts = groups
        .iter()
        .find(|g| g["reason"] == "schema_violation")
        .expect("the schema_violation group");
    assert_eq!(amounts["count"], 3, "three amounts, one failure: {amounts}");
    let detail = amounts["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("data.amount") && !detail.contains("10.5"), "{detail}");
    let (_, table, _) = env.cli(&["dlq", "groups"]).await;
    assert!(table.contains("2 groups, 6 dead letters"), "{table}");

    let group = poisoned["group"].as_str().unwrap_or_default();
    let (_, members, _) = env.cli(&["dlq", "list", "--group", group, "--json"]).await;
    let mut ids: Vec<String> = listed(&members)
        .iter()
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["o-poison-1", "o-poison-2", "o-poison-3"]);

    cure(&env).await;
    let (code, out, err) = env.cli(&["dlq", "replay", "--group", group, "--by", "ops-anna"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("replayed 3 dead letters"), "{out}");
    env.outcomes.wait_count("commission.accrued", 3).await;
    assert_eq!(env.dlq_depth_settled(3).await, 3, "the other group stays");
    let (_, out, _) = env.cli(&["dlq", "groups", "--json"]).await;
    assert_eq!(listed(&out).len(), 1, "{out}");
    // Counted where it is scraped: by the worker, when the replays arrive.
    wait_counter(
        &env,
        r#"collab_dlq_replayed_total{action="replay",reason="apply_failed"}"#,
        3.0,
    )
    .await;
    let log = env.worker_log();
    assert!(log.contains("ops-anna") && log.contains("o-poison-2"), "{log}");
}

#[tokio::test]
async fn an_edited_copy_is_applied_under_a_new_id_that_names_the_original_which_is_removed() {
    let env = env_with_product(Vec::new()).await;
    // An amount sent as a number: a schema violation.
    let mut data = order("O1", "S1", "P1", Some("C1"), "50.00");
    data["amount"] = json!(50);
    env.send("o-bad", "order.paid", T, data.clone()).await;
    env.send("o-worse", "order.paid", T, data).await;
    env.wait_dlq_depth(2).await;

    // A tap on collab.events sees the corrected copy as the worker gets it.
    let conn = Connection::connect(&env.amqp_url, ConnectionProperties::default())
        .await
        .expect("connection");
    let tap = conn.create_channel().await.expect("channel");
    tap.queue_declare("test.tap".into(), QueueDeclareOptions::default(), FieldTable::default())
        .await
        .expect("tap");
    tap.queue_bind(
        "test.tap".into(),
        "collab.events".into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("tap binding");

    // A correction that would be dead-lettered again is refused.
    let (code, _, err) = env.cli(&["dlq", "edit", "o-worse", "--set", "data.amount=lots"]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("would be dead-lettered again") && err.contains("data.amount"),
        "{err}"
    );
    let (code, dry, err) = env
        .cli(&["dlq", "edit", "o-bad", "--set", "data.amount=50.00", "--dry-run"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(dry.contains("\"amount\": \"50.00\""), "{dry}");
    assert_eq!(
        env.dlq_depth_settled(2).await,
        2,
        "refusals and dry runs change nothing"
    );

    let (code, out, err) = env
        .cli(&["dlq", "edit", "o-bad", "--set", "data.amount=50.00", "--by", "ops-ben"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("edited o-bad (data.amount) by ops-ben at "), "{out}");
    let new_id = out
        .split("published ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .to_owned();
    assert!(!new_id.is_empty() && new_id != "o-bad", "{out}");

    let accrued = env
        .outcomes
        .wait_for("commission.accrued", |d| d["order_id"] == "O1")
        .await;
    assert_eq!(accrued["amount"], "5.00");
    let outcome = env
        .outcomes
        .of_type("commission.accrued")
        .into_iter()
        .find(|o| o["data"]["order_id"] == "O1")
        .unwrap_or_default();
    assert_eq!(outcome["causationid"], new_id.as_str());
    let (_, left, _) = env.cli(&["dlq", "list", "--json"]).await;
    let left: Vec<Value> = listed(&left);
    assert_eq!(left.len(), 1, "the original is gone: {left:?}");
    assert_eq!(left[0]["id"], "o-worse");

    let mut copy = None;
    while let Ok(Some(msg)) = tap.basic_get("test.tap".into(), BasicGetOptions::default()).await {
        if msg.delivery.properties.message_id().as_ref().map(|m| m.as_str()) == Some(new_id.as_str()) {
            copy = Some(msg.delivery);
        }
    }
    let copy = copy.expect("the corrected copy went through collab.events");
    let headers = copy.properties.headers().clone().unwrap_or_default();
    assert_eq!(header(&headers, "x-collab-edit-of").as_deref(), Some("o-bad"));
    assert_eq!(header(&headers, "x-collab-replay-action").as_deref(), Some("edit"));
    assert_eq!(header(&headers, "x-collab-replayed-by").as_deref(), Some("ops-ben"));
    assert_eq!(
        header(&headers, "x-collab-edited-fields").as_deref(),
        Some("data.amount")
    );
    assert!(!headers.contains_key("x-delivery-count"));
    let body: Value = serde_json::from_slice(&copy.data).expect("JSON");
    assert_eq!(body["id"], new_id.as_str());
    assert_eq!(body["data"]["amount"], "50.00");
    conn.close(200, "ok".into()).await.expect("close");

    wait_counter(
        &env,
        r#"collab_dlq_replayed_total{action="edit",reason="schema_violation"}"#,
        1.0,
    )
    .await;
    let log = env.worker_log();
    assert!(log.contains("ops-ben") && log.contains("o-bad"), "{log}");
}

#[tokio::test]
async fn an_export_has_readable_headers_and_imports_back_as_it_was() {
    let env = TestEnv::start().await;
    env.publish_raw("order.paid", b"{\"not\": json", Some("m-1")).await;
    env.publish_raw("order.paid", &[0xff, 0xfe, b'x'], Some("m-2")).await;
    env.wait_dlq_depth(2).await;
    let (code, out, err) = env.cli(&["dlq", "export"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("LongString"), "{out}");
    let first = exported(&out);
    assert_eq!(first.len(), 2);
    let text = &first[0];
    assert_eq!(text["headers"]["x-collab-error"], "invalid_json");
    assert_eq!(text["headers"]["x-collab-death-count"], 1);
    assert_eq!(text["headers"]["x-collab-history"][0]["reason"], "invalid_json");
    assert_eq!(text["body"], "{\"not\": json");
    assert_eq!(first[1]["body_base64"], "//54", "a body that is not UTF-8 survives");

    let file = std::env::temp_dir().join(format!("{}.ndjson", env.name));
    // An export written before headers were plain JSON still imports.
    let mut old = FieldTable::default();
    old.insert("x-collab-error".into(), AMQPValue::LongString("unknown_type".into()));
    old.insert("x-collab-death-count".into(), AMQPValue::LongLongInt(1));
    let old_line = json!({
        "summary": {}, "headers": serde_json::to_value(&old).expect("lapin encoding"),
        "message_id": "old-1", "type": null, "content_type": null, "timestamp": null,
        "routing_key": "thing.happened", "body": "{}"
    });
    let lines: Vec<String> = first.iter().chain([&old_line]).map(Value::to_string).collect();
    std::fs::write(&file, lines.join("\n")).expect("write the export");
    let (code, _, err) = env.cli(&["dlq", "purge", "--yes"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = env.cli(&["dlq", "import", file.to_str().unwrap_or("")]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported 3"), "{out}");
    env.wait_dlq_depth(3).await;
    let (_, again, _) = env.cli(&["dlq", "export"]).await;
    let again = exported(&again);
    assert_eq!(again.len(), 3);
    for (before, after) in first.iter().zip(&again) {
        assert_eq!(before["headers"], after["headers"]);
        assert_eq!(before["body"], after["body"]);
        assert_eq!(before["body_base64"], after["body_base64"]);
        assert_eq!(before["routing_key"], after["routing_key"]);
        assert_eq!(before["message_id"], after["message_id"]);
    }
    let imported_old = &again[2];
    assert_eq!(imported_old["summary"]["reason"], "unknown_type");
    assert_eq!(imported_old["headers"]["x-collab-error"], "unknown_type");
    std::fs::remove_file(file).expect("remove the export");
}
