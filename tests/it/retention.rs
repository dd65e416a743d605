//! Retention (contract §1): expired inbox and outbox partitions go while
//! events flow, unpublished outcomes stay, deduplication holds inside the
//! window (and, as documented, not after it), one maintenance at a time.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::common::*;

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-01T10:00:00Z";

/// Windows of 6 s, partitions of 2 s, a maintenance round every 0.5 s.
fn short_retention() -> Vec<(&'static str, &'static str)> {
    vec![
        ("COLLAB_INBOX__RETENTION_DAYS", "0.0000694444"),
        ("COLLAB_OUTBOX__RETENTION_DAYS", "0.0000694444"),
        ("COLLAB_RETENTION__PARTITION_SECS", "2"),
        ("COLLAB_RETENTION__PARTITIONS_AHEAD", "3"),
        ("COLLAB_RETENTION__INTERVAL_SECS", "0.5"),
    ]
}

async fn text(db: &mut PgConnection, sql: &str, bind: &str) -> Option<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(bind.to_owned())
        .fetch_optional(db)
        .await
        .expect("query")
}

async fn count(db: &mut PgConnection, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(bind.to_owned())
        .fetch_one(db)
        .await
        .expect("query")
}

async fn exists(db: &mut PgConnection, table: &str) -> bool {
    count(db, "SELECT count(*) FROM pg_class WHERE relname = $1", table).await > 0
}

fn refund(id: &str, amount: &str) -> serde_json::Value {
    event(
        id,
        "order.refunded",
        "2026-10-02T00:00:00Z",
        json!({"order_id": "O1", "amount": amount}),
    )
}

#[tokio::test]
async fn expired_partitions_go_unpublished_outcomes_stay_and_dedup_holds_inside_the_window() {
    let env = TestEnv::start_with(short_retention()).await;
    let mut db = env.db().await;
    env.send("p-1", "product.updated", T0, product("P1", "S1", Some("0.10")))
        .await;
    env.send("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "100.00"))
        .await;
    env.publish(&refund("r-1", "40.00")).await;
    env.outcomes.wait_count("commission.adjusted", 1).await;

    // Inside the window the same refund again is recognised: no second adjustment.
    env.publish(&refund("r-1", "40.00")).await;
    env.send("o-2", "order.paid", T1, order("O2", "S1", "P1", Some("C1"), "1.00"))
        .await;
    env.outcomes.wait_count("commission.accrued", 2).await;
    assert_eq!(env.outcomes.of_type("commission.adjusted").len(), 1);
    let first_inbox = text(
        &mut db,
        "SELECT tableoid::regclass::text FROM inbox WHERE event_id = $1",
        "o-1",
    )
    .await
    .expect("o-1 in the inbox");
    assert!(first_inbox.starts_with("inbox_p"), "{first_inbox}");

    // The relay is held off (its cursor locked here): o-3's outcome stays unpublished.
    let mut holder = PgConnection::connect(&env.database_url).await.expect("database");
    let mut hold = holder.begin().await.expect("begin");
    sqlx::query("SELECT published_seq FROM relay_cursor FOR UPDATE")
        .execute(&mut *hold)
        .await
        .expect("lock the relay cursor");
    env.send("o-3", "order.paid", T1, order("O3", "S1", "P1", Some("C1"), "10.00"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&mut db, "SELECT count(*) FROM outbox WHERE causation_id = $1", "o-3").await == 0 {
        assert!(Instant::now() < deadline, "o-3 not applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unpublished_part = text(
        &mut db,
        "SELECT tableoid::regclass::text FROM outbox WHERE causation_id = $1",
        "o-3",
    )
    .await
    .expect("o-3's outcome");
    let o3_inbox = text(
        &mut db,
        "SELECT tableoid::regclass::text FROM inbox WHERE event_id = $1",
        "o-3",
    )
    .await
    .expect("o-3 in the inbox");

    // Events keep flowing while the window passes; o-3's inbox partition and
    // deduplication id go, its unpublished outcome stays.
    let mut i = 0;
    let deadline = Instant::now() + Duration::from_secs(40);
    while exists(&mut db, &o3_inbox).await
        || count(&mut db, "SELECT count(*) FROM inbox_ids WHERE event_id = $1", "o-3").await > 0
    {
        assert!(Instant::now() < deadline, "o-3's inbox partition was not dropped");
        i += 1;
        env.send(
            &format!("f-{i}"),
            "order.paid",
            T1,
            order(&format!("F{i}"), "S1", "P1", Some("C2"), "5.00"),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        !exists(&mut db, &first_inbox).await,
        "{first_inbox} outlived the window"
    );
    assert!(
        exists(&mut db, &unpublished_part).await,
        "{unpublished_part} was dropped unpublished"
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM outbox WHERE causation_id = $1", "o-3").await,
        1
    );
    // Rounds ran all along (the test saw them drop partitions) and kept it.
    let dropping_rounds: i64 = sqlx::query_scalar("SELECT count(*) FROM retention_runs WHERE dropped > 0")
        .fetch_one(&mut db)
        .await
        .expect("runs");
    assert!(dropping_rounds > 0);

    // Once published, it goes at the next rounds.
    hold.rollback().await.expect("release the relay");
    env.outcomes
        .wait_for("commission.accrued", |d| d["order_id"] == "O3")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while exists(&mut db, &unpublished_part).await {
        assert!(
            Instant::now() < deadline,
            "{unpublished_part} not dropped once published"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM outbox WHERE causation_id = $1", "o-3").await,
        0
    );

    // After the window the refund is new again and counts again: the
    // documented limit of deduplication by event id (README "Retention").
    // Its outcome has the first one's id (derived from the cause), so it
    // is looked for among all deliveries, not distinct outcomes.
    env.publish(&refund("r-1", "40.00")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let amounts: Vec<_> = env
            .outcomes
            .all()
            .into_iter()
            .filter(|o| o["type"] == "commission.adjusted")
            .map(|o| o["data"]["amount"].clone())
            .collect();
        if amounts.contains(&json!("2.00")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replayed refund did not count: {amounts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert!(env.outcomes.wait_count("commission.accrued", 3 + i).await.len() >= 3 + i);
    assert!(
        !env.worker_log().contains("retention round failed"),
        "{}",
        env.worker_log()
    );
    assert_eq!(env.dlq_depth().await, 0);
}

#[tokio::test]
async fn two_replicas_never_run_maintenance_at_once() {
    let mut retention = short_retention();
    retention.retain(|(k, _)| *k != "COLLAB_RETENTION__INTERVAL_SECS");
    retention.push(("COLLAB_RETENTION__INTERVAL_SECS", "0.05"));
    let env = TestEnv::start_with(retention).await;
    let _second = env.spawn_worker().await;
    for n in 0..20 {
        env.send(
            &format!("o-{n}"),
            "order.paid",
            T1,
            order(&format!("O{n}"), "S1", "P1", Some("C1"), "5.00"),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut db = env.db().await;
    // Rounds take longer on a busy machine: wait for twenty, however long
    // (within reason) they take.
    let deadline = Instant::now() + Duration::from_secs(60);
    let runs: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = loop {
        let runs: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
            sqlx::query_as("SELECT started_at, finished_at FROM retention_runs ORDER BY started_at")
                .fetch_all(&mut db)
                .await
                .expect("runs");
        if runs.len() >= 20 || Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(runs.len() >= 20, "{} rounds", runs.len());
    for pair in runs.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "rounds overlap: {pair:?}");
    }
    assert!(
        !env.worker_log().contains("retention round failed"),
        "{}",
        env.worker_log()
    );
}
