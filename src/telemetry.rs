//! Logs and metrics. Operational facts are typed events that both log (once,
//! where handled, with the event id and type) and count, so a log line and
//! its metric cannot drift apart.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The worker's default log filter: info, and its libraries only warnings.
pub const WORKER_LOG_FILTER: &str = "info,sqlx=warn,lapin=warn";

/// The operator commands' default (`dlq`, `demo`): what they print is their
/// output, so logs only for warnings — and none from lapin, which logs the
/// broker's answer to a passive declare of a queue not declared yet (an
/// expected answer on a fresh vhost) as an error.
pub const COMMAND_LOG_FILTER: &str = "warn,lapin=off";

/// `RUST_LOG` decides; otherwise `default_filter`.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests) keeps the first subscriber.
    let installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_err() {
        tracing::debug!("a tracing subscriber was already installed");
    }
}

/// Installs the Prometheus recorder and describes every metric.
pub fn install_metrics() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])?
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("collab_batch_size".into()),
            &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
        )?
        .install_recorder()?;
    describe_counter!("collab_events_received_total", "Messages received from the work queue.");
    describe_counter!("collab_events_applied_total", "Events applied, by type.");
    describe_counter!(
        "collab_events_duplicate_total",
        "Events skipped as already applied, by type."
    );
    describe_counter!(
        "collab_events_dead_lettered_total",
        "Messages sent to the dead-letter queue, by reason."
    );
    describe_counter!(
        "collab_apply_retries_total",
        "Retried apply attempts, by cause (transient, failed)."
    );
    describe_counter!(
        "collab_outcomes_decided_total",
        "Outcomes written to the outbox, by type."
    );
    describe_counter!(
        "collab_outcomes_published_total",
        "Outcomes published and confirmed, by type."
    );
    describe_counter!(
        "collab_outcomes_unroutable_total",
        "Outcomes the broker had no queue for, by type."
    );
    describe_counter!(
        "collab_dlq_replayed_total",
        "Dead letters an operator put back (action: replay, edit), by reason; counted by the worker receiving them."
    );
    describe_counter!(
        "collab_high_risk_participations_total",
        "Accepted participations of creators with high fake-order risk, by seller."
    );
    describe_histogram!("collab_batch_size", "Deliveries per applied batch.");
    describe_histogram!("collab_apply_seconds", "Time to apply one batch (one transaction).");
    describe_histogram!("collab_relay_seconds", "Time to publish and confirm one relay batch.");
    describe_gauge!("collab_outbox_lag_seconds", "Age of the oldest unpublished outcome.");
    describe_gauge!("collab_outbox_pending", "Unpublished outcomes.");
    describe_gauge!(
        "collab_consumer_prefetch",
        "Consumer prefetch (unacknowledged deliveries allowed)."
    );
    describe_gauge!(
        "collab_consumer_in_flight",
        "Deliveries received and not yet acknowledged."
    );
    Ok(handle)
}

/// Keeps histogram summaries fresh.
pub async fn run_upkeep(handle: PrometheusHandle) {
    let mut interval = tokio::time::interval(Duration::from_secs(5));
    loop {
        interval.tick().await;
        handle.run_upkeep();
    }
}

/// A telemetry event: logs and counts.
pub trait InternalEvent {
    fn emit(self);
}

/// A message was dead-lettered.
pub struct DeadLettered<'a> {
    pub reason: &'a str,
    pub detail: &'a str,
    pub event_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
}

impl InternalEvent for DeadLettered<'_> {
    fn emit(self) {
        tracing::warn!(
            event.id = self.event_id.unwrap_or("?"),
            event.type = self.event_type.unwrap_or("?"),
            reason = self.reason,
            detail = self.detail,
            "dead-lettered a message"
        );
        counter!("collab_events_dead_lettered_total", "reason" => self.reason.to_owned()).increment(1);
    }
}

/// A batch was committed.
pub struct BatchApplied<'a> {
    pub size: usize,
    pub elapsed: Duration,
    pub applied: &'a [&'a str],
    pub duplicates: &'a [&'a str],
    pub outcomes: &'a [&'a str],
}

impl InternalEvent for BatchApplied<'_> {
    fn emit(self) {
        histogram!("collab_batch_size").record(self.size as f64);
        histogram!("collab_apply_seconds").record(self.elapsed.as_secs_f64());
        count_by_type("collab_events_applied_total", self.applied);
        count_by_type("collab_events_duplicate_total", self.duplicates);
        count_by_type("collab_outcomes_decided_total", self.outcomes);
        tracing::debug!(
            size = self.size,
            applied = self.applied.len(),
            duplicates = self.duplicates.len(),
            outcomes = self.outcomes.len(),
            elapsed_ms = self.elapsed.as_millis() as u64,
            "applied a batch"
        );
    }
}

/// An apply attempt failed and will be retried.
pub struct ApplyRetry<'a> {
    pub cause: &'static str,
    pub error: &'a str,
    pub event_id: Option<&'a str>,
    pub delay: Duration,
}

impl InternalEvent for ApplyRetry<'_> {
    fn emit(self) {
        tracing::warn!(
            event.id = self.event_id.unwrap_or("(batch)"),
            cause = self.cause,
            error = self.error,
            retry_in_ms = self.delay.as_millis() as u64,
            "apply failed; retrying"
        );
        counter!("collab_apply_retries_total", "cause" => self.cause).increment(1);
    }
}

/// Outcomes left the outbox.
pub struct OutcomesPublished<'a> {
    pub types: &'a [&'a str],
    pub unroutable: &'a [&'a str],
    pub elapsed: Duration,
}

impl InternalEvent for OutcomesPublished<'_> {
    fn emit(self) {
        count_by_type("collab_outcomes_published_total", self.types);
        count_by_type("collab_outcomes_unroutable_total", self.unroutable);
        for t in self.unroutable {
            // Once per type and process: the metric counts every one.
            if warn_once(t) {
                tracing::warn!(
                    outcome.type = *t,
                    "no queue is bound for this outcome type; published outcomes of it are dropped by the broker \
                     and kept in the outbox ledger (outbox_unroutable)"
                );
            }
        }
        histogram!("collab_relay_seconds").record(self.elapsed.as_secs_f64());
    }
}

/// One counter update per type and batch rather than per item: labels are
/// looked up once, which matters at thousands of events per second.
fn count_by_type(name: &'static str, types: &[&str]) {
    let mut counts: Vec<(&str, u64)> = Vec::new();
    for t in types {
        match counts.iter_mut().find(|(seen, _)| seen == t) {
            Some((_, n)) => *n += 1,
            None => counts.push((t, 1)),
        }
    }
    for (t, n) in counts {
        counter!(name, "type" => t.to_owned()).increment(n);
    }
}

fn warn_once(key: &str) -> bool {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut warned) = WARNED.lock() else {
        return false;
    };
    if warned.iter().any(|w| w == key) {
        return false;
    }
    warned.push(key.to_owned());
    true
}

pub fn high_risk_participation(seller_id: &str) {
    counter!("collab_high_risk_participations_total", "seller_id" => seller_id.to_owned()).increment(1);
}

pub fn outbox_lag(age_seconds: f64, pending: i64) {
    gauge!("collab_outbox_lag_seconds").set(age_seconds);
    gauge!("collab_outbox_pending").set(pending as f64);
}

pub fn consumer_prefetch(prefetch: u16) {
    gauge!("collab_consumer_prefetch").set(f64::from(prefetch));
}

pub fn consumer_in_flight(count: usize) {
    gauge!("collab_consumer_in_flight").set(count as f64);
}

pub fn received(count: usize) {
    counter!("collab_events_received_total").increment(count as u64);
}
