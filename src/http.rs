//! `/healthz`, `/readyz`, `/metrics` (open), and the read API
//! `/v1/{orders,campaigns,creators,events}/{id}` (bearer token; see
//! [`crate::explain`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::explain::{self, Entity, ExplainError, Page};

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

/// Connections of the read API's own pool: its queries never wait for the
/// apply path's connections, nor the apply path for them.
const API_POOL_SIZE: u32 = 4;

/// What the read API needs: the token, and the database once it is
/// migrated (the HTTP server starts before, so `/healthz` answers at once).
/// The API opens its own small pool, on the HTTP server's runtime.
#[derive(Clone)]
pub struct Api {
    token: Option<Arc<[u8]>>,
    database_url: Arc<std::sync::OnceLock<String>>,
    pool: Arc<tokio::sync::OnceCell<PgPool>>,
}

impl Api {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(|t| Arc::from(t.as_bytes())),
            database_url: Arc::default(),
            pool: Arc::default(),
        }
    }

    /// The database is migrated: the API can answer.
    pub fn connected(&self, database_url: &str) {
        let _already_set = self.database_url.set(database_url.to_owned());
    }

    async fn pool(&self) -> Option<&PgPool> {
        let url = self.database_url.get()?;
        self.pool
            .get_or_try_init(|| async {
                let options: sqlx::postgres::PgConnectOptions = url.parse()?;
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(API_POOL_SIZE)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
            })
            .await
            .inspect_err(|error| tracing::warn!(%error, "read API: connecting to the database"))
            .ok()
    }

    /// The refusal, if any: 403 without a configured token, 401 without
    /// the right one. The
    /// comparison takes the same time wherever the tokens differ (only
    /// their lengths can be told apart), and the presented token is never
    /// logged.
    fn authorize(&self, headers: &HeaderMap) -> Option<Response> {
        let Some(expected) = &self.token else {
            return Some(problem(
                StatusCode::FORBIDDEN,
                "the read API is disabled: no http.api_token is configured",
            ));
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let valid = presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(expected)));
        if valid {
            None
        } else {
            let mut response = problem(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"collab-worker\""),
            );
            Some(response)
        }
    }
}

/// Query parameters of the read API: a page of the entity's main list.
/// Parsed here rather than by an extractor so that every refusal is the
/// API's JSON, and comes after the token check.
#[derive(Debug, Default, PartialEq)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

impl PageQuery {
    /// `cursor` and `limit`, each at most once; other parameters are
    /// ignored. Cursors are URL-safe base64, so nothing needs decoding.
    pub fn parse(raw: Option<&str>) -> Result<PageQuery, String> {
        let mut query = PageQuery::default();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "cursor" => &mut query.cursor,
                "limit" => &mut query.limit,
                _ => continue,
            };
            if slot.replace(value.to_owned()).is_some() {
                return Err(format!("{name} is given twice"));
            }
        }
        Ok(query)
    }
}

/// The read API's routes, to merge with [`router`].
pub fn api_router(api: Api) -> Router {
    let route = |entity: Entity| {
        get(
            move |State(api): State<Api>, Path(id): Path<String>, headers: HeaderMap, RawQuery(query): RawQuery| async move {
                read(api, entity, id, headers, query).await
            },
        )
    };
    Router::new()
        .route("/v1/orders/{id}", route(Entity::Order))
        .route("/v1/campaigns/{id}", route(Entity::Campaign))
        .route("/v1/creators/{id}", route(Entity::Creator))
        .route("/v1/events/{id}", route(Entity::Event))
        .with_state(api)
}

fn problem(status: StatusCode, detail: &str) -> Response {
    (
        status,
        Json(json!({ "error": status.canonical_reason().unwrap_or("error"), "detail": detail })),
    )
        .into_response()
}

async fn read(api: Api, entity: Entity, id: String, headers: HeaderMap, query: Option<String>) -> Response {
    if let Some(response) = api.authorize(&headers) {
        return response;
    }
    let query = match PageQuery::parse(query.as_deref()) {
        Ok(query) => query,
        Err(problem_text) => return problem(StatusCode::BAD_REQUEST, &problem_text),
    };
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => None,
        Some(Ok(limit)) if (1..=explain::MAX_LIMIT).contains(&limit) => Some(limit),
        Some(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("limit must be an integer from 1 to {}", explain::MAX_LIMIT),
            );
        }
    };
    let Some(pool) = api.pool().await else {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "the database is not connected yet");
    };
    let page = Page {
        cursor: query.cursor,
        limit,
    };
    match explain::explain(pool, entity, &id, &page).await {
        Ok(Some(body)) => Json(body).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, &format!("no {} with this id", entity.name())),
        Err(ExplainError::BadCursor) => problem(StatusCode::BAD_REQUEST, "invalid cursor"),
        // An id no producer could have sent is unknown, not malformed.
        Err(ExplainError::BadId) => problem(StatusCode::NOT_FOUND, &format!("no {} with this id", entity.name())),
        Err(ExplainError::Store(error)) => {
            tracing::warn!(%error, entity = entity.name(), "read API: database error");
            problem(StatusCode::SERVICE_UNAVAILABLE, "the database did not answer")
        }
    }
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let status = if state.health.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(state.health.report()))
}

/// Serves until shutdown on a runtime of its own, on its own thread: a
/// batch being decided on the worker's runtime never delays an answer
/// (the read API's latency target holds while the worker drains a
/// backlog). The result comes back through the returned handle.
pub fn spawn(
    listener: std::net::TcpListener,
    app: Router,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new().name("http".into()).spawn(move || {
        let served = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|runtime| {
                runtime.block_on(async move {
                    listener.set_nonblocking(true)?;
                    serve(tokio::net::TcpListener::from_std(listener)?, app, shutdown).await
                })
            });
        let _receiver_gone = done_tx.send(served);
    });
    tokio::spawn(async move {
        thread?;
        done_rx
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the HTTP thread ended without a result")))
    })
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
    fn page_parameters_are_read_once_each() {
        assert_eq!(PageQuery::parse(None), Ok(PageQuery::default()));
        assert_eq!(
            PageQuery::parse(Some("limit=5&x=1&cursor=abc")),
            Ok(PageQuery {
                cursor: Some("abc".into()),
                limit: Some("5".into())
            })
        );
        assert!(PageQuery::parse(Some("limit=null&limit=null")).is_err());
    }

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
