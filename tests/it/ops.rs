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
