//! The broker takes things away from a draining worker — the consumer's
//! channel, the whole connection — ten times in a row: each time consuming
//! resumes, `/readyz` tells the truth meanwhile, and every outcome exists
//! once. (A restart of the whole node disturbs every vhost; it is in
//! `tests/broker_restart.rs`, a test binary of its own.)

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

const PAID_AT: &str = "2026-10-01T10:00:00Z";
const ROUNDS: usize = 10;
const PER_ROUND: usize = 400;

fn order_event(i: usize) -> Value {
    event(
        &format!("paid-{i}"),
        "order.paid",
        PAID_AT,
        order(&format!("O{i}"), "S1", "P1", Some(&format!("C{}", i % 5)), "20.00"),
    )
}

async fn applied(env: &TestEnv) -> i64 {
    env.scalar_i64("SELECT count(*) FROM inbox").await
}

/// Runs an Erlang expression on the test broker's node.
async fn broker_eval(expression: String) {
    tokio::task::spawn_blocking(move || rabbitmqctl(&["eval", &expression]))
        .await
        .expect("rabbitmqctl eval");
}

/// Makes the broker close the worker's consumer channel, and only it: the
/// channel is made to ack a delivery tag it never had, a channel error
/// (406 PRECONDITION_FAILED) that the broker answers with `channel.close`.
async fn close_consumer_channel(env: &TestEnv) {
    broker_eval(format!(
        "[rabbit_channel:do(proplists:get_value(channel_pid, C), {{'basic.ack', 999999999, false}}) || \
          C <- rabbit_amqqueue:consumers_all(<<\"{0}\">>), \
          element(4, proplists:get_value(queue_name, C)) =:= <<\"collab.events.worker\">>].",
        env.name
    ))
    .await;
}

/// Closes the worker's connection from the broker side.
async fn close_worker_connection(env: &TestEnv) {
    broker_eval(format!(
        "[rabbit_networking:close_connection(P, \"closed by a test\") || \
          P <- rabbit_networking:connections(), \
          proplists:get_value(vhost, rabbit_networking:connection_info(P, [vhost])) =:= <<\"{0}\">>, \
          lists:keyfind(<<\"connection_name\">>, 1, \
              proplists:get_value(client_properties, rabbit_networking:connection_info(P, [client_properties]))) \
            =:= {{<<\"connection_name\">>, longstr, <<\"collab-worker\">>}}].",
        env.name
    ))
    .await;
}

/// Ten faults while a backlog drains: after each, readiness drops and comes
/// back, and draining resumes within 10 s.
async fn survives_ten(fault: &str) {
    let env = TestEnv::start().await;
    env.send(
        "p-1",
        "product.updated",
        "2026-10-01T00:00:00Z",
        product("P1", "S1", Some("0.10")),
    )
    .await;
    let mut published = 0;
    let mut resumptions = Vec::new();
    for round in 0..ROUNDS {
        let backlog: Vec<Value> = (published..published + PER_ROUND).map(order_event).collect();
        let before = applied(&env).await;
        env.publish_many(&backlog).await;
        published += PER_ROUND;
        let deadline = Instant::now() + WAIT;
        while applied(&env).await < before + 20 {
            assert!(Instant::now() < deadline, "{fault} round {round}: no progress");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Readiness sampled every 10 ms through the fault: the worker may
        // be back in a fraction of a second.
        let port = env.port();
        let sampler = tokio::spawn(async move {
            loop {
                if http_get(port, "/readyz").await.0 == 503 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let at_fault = Instant::now();
        match fault {
            "channel" => close_consumer_channel(&env).await,
            _ => close_worker_connection(&env).await,
        }
        let before = applied(&env).await;
        let deadline = at_fault + Duration::from_secs(10);
        while applied(&env).await <= before && applied(&env).await < 1 + published as i64 {
            assert!(
                Instant::now() < deadline,
                "{fault} round {round}: consuming did not resume"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        resumptions.push(at_fault.elapsed());
        let saw_503 = tokio::time::timeout(Duration::from_secs(1), sampler).await.is_ok();
        assert!(saw_503, "{fault} round {round}: /readyz stayed 200 after the loss");
        while env.http_get("/readyz").await.0 != 200 {
            assert!(
                Instant::now() < deadline,
                "{fault} round {round}: /readyz did not return to 200"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while applied(&env).await < 1 + published as i64 {
        assert!(Instant::now() < deadline, "{fault}: the backlog was not drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let accrued = env.outcomes.wait_count("commission.accrued", published).await;
    assert_eq!(accrued.len(), published, "{fault}: one commission per order");
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM outbox").await,
        published as i64,
        "{fault}: nothing decided twice"
    );
    assert_eq!(env.scalar_i64("SELECT count(*) FROM outbox_unpublished").await, 0);
    eprintln!("{fault} closed by the broker {ROUNDS} times: consuming resumed after {resumptions:?}");
}

#[tokio::test]
async fn the_broker_closing_the_consumer_channel_ten_times_loses_nothing() {
    survives_ten("channel").await;
}

#[tokio::test]
async fn the_broker_closing_the_connection_ten_times_loses_nothing() {
    survives_ten("connection").await;
}
