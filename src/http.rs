//! `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio::sync::watch;

/// What readiness is made of (contract.md §1).
#[derive(Debug, Default)]
pub struct Health {
    pub migrated: AtomicBool,
    pub topology: AtomicBool,
    pub consuming: Arc<AtomicBool>,
}

impl Health {
    pub fn ready(&self) -> bool {
        self.migrated.load(Ordering::SeqCst)
            && self.topology.load(Ordering::SeqCst)
            && self.consuming.load(Ordering::SeqCst)
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
    let h = &state.health;
    let body = json!({
        "migrations": h.migrated.load(Ordering::SeqCst),
        "topology": h.topology.load(Ordering::SeqCst),
        "consumers": h.consuming.load(Ordering::SeqCst),
    });
    let status = if h.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
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
