//! Operators' dead-letter tools (`collab-worker dlq …`) against a real broker.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;

const T: &str = "2026-10-01T10:00:00Z";

/// Makes applying one event id fail until the trigger is dropped.
async fn poison(env: &TestEnv, event_id: &str) {
    let mut db = env.db().await;
    let sql = format!(
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'poisoned: the product feed is broken'; END $$; \
         CREATE TRIGGER poison BEFORE INSERT ON inbox FOR EACH ROW \
         WHEN (NEW.event_id = '{event_id}') EXECUTE FUNCTION poison();"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut db)
        .await
        .expect("poison trigger");
}

async fn cure(env: &TestEnv) {
    let mut db = env.db().await;
    sqlx::raw_sql("DROP TRIGGER poison ON inbox; DROP FUNCTION poison();")
        .execute(&mut db)
        .await
        .expect("drop trigger");
}

fn listed(stdout: &str) -> Vec<Value> {
    stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[tokio::test]
async fn a_fixed_poison_event_is_replayed_exactly_once_and_replaying_again_changes_nothing() {
    let env = TestEnv::start_with(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "2")]).await;
    env.send(
        "p-1",
        "product.updated",
        "2026-10-01T00:00:00Z",
        product("P1", "S1", Some("0.10")),
    )
    .await;
    env.outcomes.settle(Duration::from_millis(300)).await;
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
    let env = TestEnv::start_with(vec![("COLLAB_CONSUMER__MAX_ATTEMPTS", "1")]).await;
    env.send(
        "p-1",
        "product.updated",
        "2026-10-01T00:00:00Z",
        product("P1", "S1", Some("0.10")),
    )
    .await;
    env.outcomes.settle(Duration::from_millis(300)).await;
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
