//! The RabbitMQ node restarted under a draining backlog (issue: a worker that
//! silently stops consuming). A node restart disturbs every vhost on the
//! node, so these tests live in their own test binary: cargo runs test
//! binaries one after another, never beside the parallel suite in `it`, and
//! a lock runs this binary's tests one at a time.
//!
//! Point `CW_TEST_AMQP_SERVER` and `CW_TEST_RABBITMQ_NODE` at a
//! private node to run them while others use the shared broker (README).

#[path = "it/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PAID_AT: &str = "2026-03-02T10:00:00Z";

/// Starts the node's application again when dropped, so a failing test
/// never leaves the broker down.
struct NodeStopped;

impl NodeStopped {
    async fn stop() -> NodeStopped {
        tokio::task::spawn_blocking(|| rabbitmqctl(&["stop_app"]))
            .await
            .expect("stop_app");
        NodeStopped
    }

    async fn start(self) {
        tokio::task::spawn_blocking(move || drop(self))
            .await
            .expect("start_app");
    }
}

impl Drop for NodeStopped {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
    }
}

/// `/readyz` sampled every 100 ms: (when, status).
#[derive(Clone, Default)]
struct Samples(Arc<Mutex<Vec<(Instant, u16)>>>);

impl Samples {
    fn spawn(port: u16) -> (Samples, tokio::task::JoinHandle<()>) {
        let samples = Samples::default();
        let task = tokio::spawn({
            let samples = samples.clone();
            async move {
                loop {
                    let status = http_get(port, "/readyz").await.0;
                    samples.0.lock().expect("samples").push((Instant::now(), status));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        (samples, task)
    }

    fn between(&self, from: Instant, to: Instant) -> Vec<u16> {
        let samples = self.0.lock().expect("samples");
        samples
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .map(|(_, s)| *s)
            .collect()
    }
}

/// The events of the backlog: attributed orders of several sellers,
/// creators and products, each independent of the others, so their outcomes
/// do not depend on the order they are applied in.
fn products() -> Vec<Value> {
    (0..4)
        .map(|p| {
            event(
                &format!("product-{p}"),
                "product.updated",
                "2026-03-01T00:00:00Z",
                product(
                    &format!("P{p}"),
                    &format!("S{}", p % 2),
                    Some(["0.10", "0.08", "0.12", "0.05"][p]),
                ),
            )
        })
        .collect()
}

fn order_event(i: usize) -> Value {
    let p = i % 4;
    event(
        &format!("paid-{i}"),
        "order.paid",
        PAID_AT,
        order(
            &format!("O{i}"),
            &format!("S{}", p % 2),
            &format!("P{p}"),
            Some(&format!("C{}", i % 7)),
            &format!("{}.{:02}", 10 + i % 90, i % 100),
        ),
    )
}

async fn applied(env: &TestEnv) -> i64 {
    env.scalar_i64("SELECT count(*) FROM inbox").await
}

/// Every outcome the worker decided: id → body.
async fn outbox(env: &TestEnv) -> BTreeMap<String, String> {
    let mut db = env.db().await;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id::text, body FROM outbox")
        .fetch_all(&mut db)
        .await
        .expect("outbox");
    let count = rows.len();
    let outcomes: BTreeMap<String, String> = rows.into_iter().collect();
    assert_eq!(outcomes.len(), count, "an outcome was decided twice");
    outcomes
}

async fn wait_applied(env: &TestEnv, count: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while applied(env).await < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} applied",
            applied(env).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_node_restarts_while_a_backlog_drains_resume_every_time_and_lose_nothing() {
    let _serial = SERIAL.lock().await;
    const RESTARTS: usize = 10;
    const PER_ROUND: usize = 3_000;
    let env = TestEnv::start().await;
    for e in products() {
        env.publish(&e).await;
    }
    let (samples, sampler) = Samples::spawn(env.port());
    let mut published = 0;
    let mut resumptions = Vec::new();
    let mut to_not_ready = Vec::new();
    for round in 0..RESTARTS {
        let before = applied(&env).await;
        let backlog: Vec<Value> = (published..published + PER_ROUND).map(order_event).collect();
        env.publish_many(&backlog).await;
        published += PER_ROUND;
        // Restart while the backlog drains.
        let deadline = Instant::now() + Duration::from_secs(60);
        while applied(&env).await < before + 200 {
            assert!(Instant::now() < deadline, "round {round}: the drain did not progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stopping = Instant::now();
        let stopped = NodeStopped::stop().await;
        let down = Instant::now();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let restarting = Instant::now();
        stopped.start().await;
        let reachable = Instant::now();
        // Deliveries flow again once an event applies; a marker event makes
        // that visible even if the backlog happened to be empty.
        let at_restart = applied(&env).await;
        let marker = format!("marker-{round}");
        env.send(
            &marker,
            "order.paid",
            PAID_AT,
            order(&format!("M{round}"), "S0", "P0", None, "1.00"),
        )
        .await;
        let deadline = reachable + Duration::from_secs(30);
        while applied(&env).await <= at_restart {
            assert!(Instant::now() < deadline, "round {round}: consuming did not resume");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let resumed = reachable.elapsed();
        resumptions.push(resumed);
        assert!(
            resumed <= Duration::from_secs(10),
            "round {round}: resumed {resumed:?} after the broker was back"
        );
        // Ready again once deliveries flow.
        let deadline = Instant::now() + Duration::from_secs(10);
        while env.http_get("/readyz").await.0 != 200 {
            assert!(
                Instant::now() < deadline,
                "round {round}: /readyz did not return to 200"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // 503 within a second of losing the broker (its connections are
        // closed once `stop_app` returns), and for the whole outage.
        let outage = samples.between(down + Duration::from_secs(1), restarting);
        assert!(
            !outage.is_empty(),
            "round {round}: no readiness sample during the outage"
        );
        assert!(
            outage.iter().all(|s| *s == 503),
            "round {round}: /readyz during the outage: {outage:?}"
        );
        let first_503 = samples
            .0
            .lock()
            .expect("samples")
            .iter()
            .find(|(at, s)| *at >= stopping && *s == 503)
            .map(|(at, _)| at.saturating_duration_since(stopping));
        to_not_ready.push(first_503.unwrap_or_default());
        env.send(
            &format!("{marker}-done"),
            "order.cancelled",
            PAID_AT,
            json!({ "order_id": format!("M{round}") }),
        )
        .await;
    }
    sampler.abort();
    let total = 4 + published as i64 + 2 * RESTARTS as i64;
    wait_applied(&env, total).await;
    let decided = outbox(&env).await;
    // Every attributed order is accrued once; the markers are not attributed.
    assert_eq!(decided.len(), published, "outcomes: exactly one per order");
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.outcomes.distinct_count() < published {
        assert!(
            Instant::now() < deadline,
            "{} of {published} outcomes published; {} waiting in the outbox; spy queue (ready, consumers): {:?}",
            env.outcomes.distinct_count(),
            env.scalar_i64("SELECT count(*) FROM outbox_unpublished").await,
            env.queue_state(SPY_QUEUE).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let published_ids: std::collections::BTreeSet<String> = env
        .outcomes
        .distinct()
        .iter()
        .map(|o| o["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(published_ids, decided.keys().cloned().collect(), "published = decided");
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM outbox_unpublished").await,
        0,
        "nothing left unpublished"
    );

    // The same events without restarts decide exactly the same outcomes.
    let calm = TestEnv::start().await;
    for e in products() {
        calm.publish(&e).await;
    }
    let all: Vec<Value> = (0..published).map(order_event).collect();
    calm.publish_many(&all).await;
    wait_applied(&calm, 4 + published as i64).await;
    assert_eq!(
        outbox(&calm).await,
        decided,
        "the same outcomes as a run without restarts"
    );

    let worst = resumptions.iter().max().copied().unwrap_or_default();
    eprintln!(
        "node restarts: {RESTARTS}; consuming resumed after the broker was back: median {:?}, worst {worst:?}; \
         /readyz 503 after `stop_app` began: worst {:?}; resumptions {resumptions:?}",
        median(resumptions.clone()),
        to_not_ready.iter().max().copied().unwrap_or_default(),
    );
}
