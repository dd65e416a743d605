//! Newcomer and operator commands beside `run`.

use crate::common::*;

/// `collab-worker demo` tells its story end to end on a clean vhost.
#[tokio::test]
async fn the_demo_runs_green_and_prints_a_timeline_with_money_totals() {
    let env = TestEnv::prepare(Vec::new()).await;
    let (code, out, err) = env.cli(&["demo"]).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    for needle in [
        "campaign.accepted",
        "participation.accepted",
        "reward.issued",
        "commission.demoted",
        "campaign.settled",
        "refunded 100.00",
        "rewards issued",
        "The story ran end to end",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

/// The demo refuses to share a vhost with a running worker.
#[tokio::test]
async fn the_demo_refuses_to_compete_with_a_running_worker() {
    let env = TestEnv::start().await;
    let (code, _, err) = env.cli(&["demo"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("another worker consumes"), "{err}");
}

/// `LOG_FORMAT=json`: one JSON object per line, with the event id and type
/// of what was applied and the causation id of what was published.
#[tokio::test]
async fn json_logs_carry_the_event_id_type_and_causation_id() {
    let env = TestEnv::start_with(vec![("LOG_FORMAT", "json"), ("RUST_LOG", "info,collab_worker=debug")]).await;
    env.send(
        "p-1",
        "product.updated",
        "2026-10-01T00:00:00Z",
        product("P1", "S1", Some("0.10")),
    )
    .await;
    env.send(
        "o-1",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("O1", "S1", "P1", Some("C1"), "10.00"),
    )
    .await;
    env.outcomes.wait_count("commission.accrued", 1).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let lines: Vec<serde_json::Value> = env
            .worker_log()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
            .collect();
        let applied = lines
            .iter()
            .any(|l| l["event.id"] == "o-1" && l["event.type"] == "order.paid");
        let published = lines
            .iter()
            .any(|l| l["causationid"] == "o-1" && l["outcome.type"] == "commission.accrued");
        if applied && published {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no applied/published log lines for o-1"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
