//! `/healthz`, `/readyz`, `/metrics`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio::sync::watch;

/// What readiness is made of (contract.md §1): migrations applied, topology
/// declared, the consumer registered on a live broker session, and the
/// database answering. Each part is switched by the code that knows it, the
/// moment it knows it, so `/readyz` follows within one request.
#[derive(Debug, Default)]
pub struct Health {
    pub migrated: AtomicBool,
    pub topology: AtomicBool,
    /// The consumer is registered on a session that is still whole.
    pub consuming: AtomicBool,
    /// The last apply reached the database (false during an outage).
    database_down: AtomicBool,
    /// Why the broker side is not ready, for the body of `/readyz`.
    broker_problem: Mutex<Option<String>>,
    /// Since when the consumer, once up, has been down.
    down_since: Mutex<Option<Instant>>,
}

impl Health {
    pub fn ready(&self) -> bool {
        self.migrated.load(Ordering::SeqCst)
            && self.topology.load(Ordering::SeqCst)
            && self.consuming.load(Ordering::SeqCst)
            && !self.database_down.load(Ordering::SeqCst)
    }

    /// Deliveries can flow: the consumer is registered. Returns how long
    /// it was down, if this ends an outage.
    pub fn consumer_up(&self) -> Option<Duration> {
        self.set_broker_problem(None);
        self.consuming.store(true, Ordering::SeqCst);
        self.down_since.lock().ok()?.take().map(|since| since.elapsed())
    }

    /// The broker session (connection, a channel or the consumer) is gone.
    pub fn consumer_down(&self, why: &str) {
        if self.consuming.swap(false, Ordering::SeqCst)
            && let Ok(mut since) = self.down_since.lock()
        {
            since.get_or_insert_with(Instant::now);
        }
        self.set_broker_problem(Some(why.to_owned()));
    }

    pub fn database_reachable(&self, reachable: bool) {
        self.database_down.store(!reachable, Ordering::SeqCst);
    }

    fn set_broker_problem(&self, problem: Option<String>) {
        if let Ok(mut slot) = self.broker_problem.lock() {
            *slot = problem;
        }
    }

    /// The JSON body of `/readyz`: every part, and the failing ones named.
    pub fn report(&self) -> serde_json::Value {
        let parts = [
            ("migrations", self.migrated.load(Ordering::SeqCst)),
            ("topology", self.topology.load(Ordering::SeqCst)),
            ("consumers", self.consuming.load(Ordering::SeqCst)),
            ("database", !self.database_down.load(Ordering::SeqCst)),
        ];
        let failing: Vec<&str> = parts.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect();
        let broker = self.broker_problem.lock().ok().and_then(|p| p.clone());
        let mut body = json!({ "ready": failing.is_empty(), "failing": failing });
        for (name, ok) in parts {
            body[name] = json!(ok);
        }
        if let Some(problem) = broker {
            body["broker"] = json!(problem);
        }
        body
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: PrometheusHandle,
}

pub fn router(health: Arc<Health>, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { state.metrics.render() }),
        )
        .with_state(AppState { health, metrics })
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let status = if state.health.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(state.health.report()))
}

/// Serves until shutdown; runs from the start so `/healthz` answers while
/// the worker is still connecting.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "health and metrics listening");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            // A dropped sender also means shutdown.
            let _stopped = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_names_what_fails() {
        let health = Health::default();
        health.migrated.store(true, Ordering::SeqCst);
        health.topology.store(true, Ordering::SeqCst);
        assert_eq!(health.consumer_up(), None, "no outage to end");
        assert!(health.ready());
        assert_eq!(health.report()["failing"], json!([]));

        health.consumer_down("connection lost: CONNECTION_FORCED");
        assert!(!health.ready());
        let report = health.report();
        assert_eq!(report["failing"], json!(["consumers"]));
        assert_eq!(report["broker"], "connection lost: CONNECTION_FORCED");

        assert!(health.consumer_up().is_some(), "ends the outage");
        health.database_reachable(false);
        assert_eq!(health.report()["failing"], json!(["database"]));
        health.database_reachable(true);
        assert!(health.ready());
    }
}
