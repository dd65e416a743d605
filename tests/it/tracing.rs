//! OpenTelemetry: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the worker exports
//! a span per applied event, a child of the event's `traceparent`, to an
//! OTLP/HTTP receiver (here, one the test runs, taking OTLP JSON); the
//! outcomes carry that span's `traceparent` and the event's `tracestate`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use collab_worker::domain::ids::outcome_id;
use collab_worker::wire::values::EventId;
use serde_json::{Value, json};

use crate::common::*;

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-01T10:00:00Z";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PRODUCER_SPAN: &str = "00f067aa0ba902b7";
const TRACESTATE: &str = "congo=t61rcWkgMzE";

/// An OTLP/HTTP receiver: every span it was sent, flattened.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> (Receiver, u16) {
        let receiver = Receiver::default();
        let spans = receiver.spans.clone();
        let app = Router::new().route(
            "/v1/traces",
            post(move |body: axum::body::Bytes| {
                let spans = spans.clone();
                async move {
                    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let mut got = Vec::new();
                    for resource in request["resourceSpans"].as_array().into_iter().flatten() {
                        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                            for span in scope["spans"].as_array().into_iter().flatten() {
                                let mut span = span.clone();
                                span["resource"] = resource["resource"].clone();
                                got.push(span);
                            }
                        }
                    }
                    if let Ok(mut spans) = spans.lock() {
                        spans.extend(got);
                    }
                    axum::Json(json!({}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, port)
    }

    async fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .spans
                .lock()
                .ok()
                .and_then(|spans| spans.iter().find(|s| pred(s)).cloned());
            if let Some(span) = found {
                return span;
            }
            assert!(Instant::now() < deadline, "no span {what} was exported");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An OTLP attribute's string value.
fn attribute(span: &Value, key: &str) -> Option<String> {
    span["attributes"].as_array()?.iter().find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn each_applied_event_is_a_span_under_its_traceparent_and_its_outcomes_name_that_span() {
    let (receiver, port) = Receiver::start().await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = TestEnv::start_with(vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("RUST_LOG", "info,collab_worker=debug"),
    ])
    .await;
    env.send("p-1", "product.updated", T0, product("P1", "S1", Some("0.10")))
        .await;
    let mut paid = event("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "100.00"));
    paid["traceparent"] = json!(format!("00-{TRACE_ID}-{PRODUCER_SPAN}-01"));
    paid["tracestate"] = json!(TRACESTATE);
    env.publish(&paid).await;

    let accrued = env.outcomes.wait_count("commission.accrued", 1).await.remove(0);
    let traceparent = accrued["traceparent"].as_str().unwrap_or_default().to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE_ID, "01"), "{traceparent}");
    let worker_span = parts[2].to_owned();
    assert_ne!(
        worker_span, PRODUCER_SPAN,
        "the outcome's parent is the worker's span, not the producer's"
    );
    assert_eq!(accrued["tracestate"], TRACESTATE);
    // The id does not depend on the trace: (cause, type, entity) only.
    let subject = accrued["subject"].as_str().unwrap_or_default();
    assert_eq!(
        accrued["id"],
        outcome_id(&EventId::from("o-1"), "commission.accrued", subject).to_string()
    );

    // An event without a traceparent starts a trace of its own.
    env.send("o-2", "order.paid", T1, order("O2", "S1", "P1", Some("C1"), "10.00"))
        .await;
    env.outcomes
        .wait_for("commission.accrued", |d| d["order_id"] == "O2")
        .await;
    let traced = env
        .outcomes
        .of_type("commission.accrued")
        .into_iter()
        .find(|o| o["data"]["order_id"] == "O2")
        .unwrap_or_default();
    let own = traced["traceparent"].as_str().unwrap_or_default().to_owned();
    assert!(own.starts_with("00-") && !own.contains(TRACE_ID), "{own}");
    assert!(traced.get("tracestate").is_none());

    // The worker's span, as exported: a child of the producer's span, named
    // after the event, with its id and type, linked to its batch's span.
    let span = receiver
        .wait_for("with the outcome's span id", |s| s["spanId"] == worker_span.as_str())
        .await;
    assert_eq!(span["traceId"], TRACE_ID);
    assert_eq!(span["parentSpanId"], PRODUCER_SPAN);
    assert_eq!(span["name"], "apply order.paid");
    assert_eq!(attribute(&span, "event.id").as_deref(), Some("o-1"));
    assert_eq!(attribute(&span, "event.type").as_deref(), Some("order.paid"));
    assert_eq!(attribute(&span, "messaging.system").as_deref(), Some("rabbitmq"));
    let service = span["resource"]["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["key"] == "service.name"))
        .map(|a| a["value"]["stringValue"].clone());
    assert_eq!(service, Some(json!("collab-worker")));
    let links = span["links"].as_array().cloned().unwrap_or_default();
    assert_eq!(links.len(), 1, "linked to its batch: {span}");
    let batch_span = links[0]["spanId"].as_str().unwrap_or_default().to_owned();
    let batch = receiver
        .wait_for("of the batch", |s| s["spanId"] == batch_span.as_str())
        .await;
    assert_eq!(batch["name"], "apply batch");

    // Every log line of the traced event carries its trace id.
    let log = env.worker_log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("event.id=o-1")).collect();
    assert!(!lines.is_empty(), "{log}");
    for line in lines {
        assert!(line.contains(&format!("trace_id={TRACE_ID}")), "{line}");
    }
}
