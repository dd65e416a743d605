//! Logs and metrics. Operational facts are typed events that both log (once,
//! where handled, with the event id and type) and count, so a log line and
//! its metric cannot drift apart.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::amqp::consumer::{APPLY_FAILED, RULE_FAILED};
use crate::amqp::dead_letter::{DELIVERY_LIMIT_REASON, REPLAY_ACTIONS};
use crate::config::{LogFormat, Settings, redact_url};
use crate::wire::envelope::MalformedKind;
use crate::wire::events::Event;
use crate::wire::outcomes::OutcomeData;

pub mod failures;

/// The worker's default log filter: info, sqlx only warnings, lapin off.
/// lapin logs every lost connection or closed channel as an ERROR although
/// the worker recovers from it in well under a second; the worker logs each
/// loss itself, once, as a warning with the reason (`BrokerSessionLost`).
pub const WORKER_LOG_FILTER: &str = "info,sqlx=warn,lapin=off";

/// lapin warns once per message the broker returns (an outcome type no
/// queue is bound to), with the whole message — payload as a byte array —
/// in a field named `message`, which JSON logs then carry twice. The relay
/// logs one line per unroutable type instead, so this target stays quiet
/// unless `RUST_LOG` names it.
const LAPIN_RETURNED_MESSAGES: &str = "lapin::returned_messages";

/// The operator commands' default (`dlq`, `demo`): what they print is their
/// output, so logs only for warnings — and none from lapin, which logs the
/// broker's answer to a passive declare of a queue not declared yet (an
/// expected answer on a fresh vhost) as an error.
pub const COMMAND_LOG_FILTER: &str = "warn,lapin=off";

/// `RUST_LOG` decides; otherwise `default_filter`. lapin's per-message
/// warnings are off either way unless `RUST_LOG` names their target. With
/// `tracer`, the spans of events and batches (`collab_worker::trace`) are
/// exported too.
///
/// A line logged inside an event's span carries the span's fields: text
/// logs prefix them (`event{event.id=… trace_id=…}:`), JSON logs put them
/// under `span` — the trace id is in every line of that event.
pub fn init_logging(format: LogFormat, default_filter: &str, tracer: Option<opentelemetry_sdk::trace::Tracer>) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let rust_log = std::env::var("RUST_LOG").ok();
    let mut filter = log_filter(rust_log.as_deref(), default_filter);
    if tracer.is_some()
        && let Ok(spans) = "collab_worker::trace=info".parse()
    {
        // The spans that are exported, whatever else RUST_LOG turns off
        // (a span is context for log lines, not a line of its own).
        filter = filter.add_directive(spans);
    }
    // Colours only for a person at a terminal: escape codes in a file or a
    // log pipeline are noise in every field.
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let logs = match format {
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => logs.boxed(),
    };
    let spans = tracer.map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    // A second initialisation (tests) keeps the first subscriber.
    if tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(spans)
        .try_init()
        .is_err()
    {
        tracing::debug!("a tracing subscriber was already installed");
    }
}

fn log_filter(rust_log: Option<&str>, default_filter: &str) -> EnvFilter {
    let mut filter = match rust_log {
        Some(directives) => EnvFilter::try_new(directives).unwrap_or_else(|error| {
            eprintln!("collab-worker: RUST_LOG {directives:?} ignored: {error}");
            EnvFilter::new(default_filter)
        }),
        None => EnvFilter::new(default_filter),
    };
    if !rust_log.is_some_and(|directives| directives.contains(LAPIN_RETURNED_MESSAGES))
        && let Ok(quiet) = format!("{LAPIN_RETURNED_MESSAGES}=error").parse()
    {
        filter = filter.add_directive(quiet);
    }
    filter
}

/// The start-up line: every setting as a field of its own (a log pipeline
/// indexes them), passwords masked, TLS files by path only.
pub fn starting(settings: &Settings) {
    let c = &settings.consumer;
    let [ca, cert, key] = settings
        .amqp_tls
        .files()
        .map(|(_, file)| file.map(|path| path.display().to_string()));
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        database_url = %redact_url(&settings.database_url),
        amqp_url = %redact_url(&settings.amqp_url),
        amqp_tls.ca_file = ca.as_deref(),
        amqp_tls.cert_file = cert.as_deref(),
        amqp_tls.key_file = key.as_deref(),
        http_addr = %settings.http_addr,
        log_format = ?settings.log_format,
        consumer.batch_size = c.batch_size,
        consumer.prefetch = c.prefetch,
        consumer.max_attempts = c.max_attempts,
        consumer.retry_delay_ms = c.retry_delay_ms,
        consumer.max_retry_delay_ms = c.max_retry_delay_ms,
        consumer.max_parked = c.max_parked,
        consumer.delivery_limit = c.delivery_limit,
        consumer.pool_size = c.pool_size,
        consumer.state_cache_docs = c.state_cache_docs,
        consumer.max_body_bytes = c.max_body_bytes,
        consumer.watchdog_interval_ms = c.watchdog_interval_ms,
        consumer.stall_timeout_ms = c.stall_timeout_ms,
        relay.batch_size = settings.relay.batch_size,
        relay.poll_interval_ms = settings.relay.poll_interval_ms,
        rules.challenge_finalization_lag_secs = settings.rules.challenge_finalization_lag_secs,
        inbox.retention_days = settings.inbox.retention_days,
        outbox.retention_days = settings.outbox.retention_days,
        retention.partition_secs = settings.retention.partition_secs,
        retention.partitions_ahead = settings.retention.partitions_ahead,
        retention.interval_secs = settings.retention.interval_secs,
        "starting"
    );
}

/// Installs the Prometheus recorder, describes every metric and registers
/// each at zero with every label value known in advance.
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
        "collab_decide_misses_total",
        "Decisions thrown away because a rule read state its event's plan did not state, by type (should stay 0)."
    );
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
        "Accepted participations of creators with high fake-order risk."
    );
    describe_histogram!("collab_batch_size", "Deliveries per applied batch.");
    describe_histogram!("collab_apply_seconds", "Time to apply one batch (one transaction).");
    describe_histogram!("collab_relay_seconds", "Time to publish and confirm one relay batch.");
    describe_gauge!(
        "collab_events_parked",
        "Events the database refused, waiting in the retry queues for their next attempt (all workers)."
    );
    describe_gauge!("collab_outbox_lag_seconds", "Age of the oldest unpublished outcome.");
    describe_gauge!(
        "collab_outbox_pending",
        "Unpublished outcomes (outbox sequence numbers past the relay cursor).",
    );
    describe_gauge!(
        "collab_consumer_prefetch",
        "Consumer prefetch (unacknowledged deliveries allowed)."
    );
    describe_gauge!(
        "collab_consumer_in_flight",
        "Deliveries received and not yet acknowledged."
    );
    describe_gauge!(
        "collab_consumer_up",
        "1 while the consumer is registered on a whole broker session, else 0."
    );
    describe_counter!(
        "collab_broker_reconnects_total",
        "Broker sessions rebuilt after a loss (connection, channel, consumer or stall)."
    );
    describe_histogram!(
        "collab_consumer_outage_seconds",
        "Time not consuming, one observation per outage when consuming resumes (_sum: seconds not consuming)."
    );
    register_at_zero();
    Ok(handle)
}

/// Every reason the worker dead-letters a message for.
pub fn dead_letter_reasons() -> impl Iterator<Item = &'static str> {
    MalformedKind::ALL
        .iter()
        .map(|k| k.code())
        .chain([APPLY_FAILED, RULE_FAILED])
}

/// Every metric exists from the start: an alert on the first dead letter,
/// duplicate or retry fires on it, and no dashboard panel says "No data".
/// Labels take only values known here (types of the contract, reasons,
/// causes), never producers' ids, so the series count is fixed.
fn register_at_zero() {
    counter!("collab_events_received_total").increment(0);
    for t in Event::TYPES {
        counter!("collab_events_applied_total", "type" => *t).increment(0);
        counter!("collab_events_duplicate_total", "type" => *t).increment(0);
        counter!("collab_decide_misses_total", "type" => *t).increment(0);
    }
    for t in OutcomeData::TYPES {
        counter!("collab_outcomes_decided_total", "type" => *t).increment(0);
        counter!("collab_outcomes_published_total", "type" => *t).increment(0);
        counter!("collab_outcomes_unroutable_total", "type" => *t).increment(0);
    }
    for reason in dead_letter_reasons() {
        counter!("collab_events_dead_lettered_total", "reason" => reason).increment(0);
    }
    for cause in RetryCause::ALL {
        counter!("collab_apply_retries_total", "cause" => cause.label()).increment(0);
    }
    // By action and reason, as the worker counts replays and edits when
    // they arrive; RabbitMQ's own dead letters have `delivery_limit`.
    for action in REPLAY_ACTIONS {
        for reason in dead_letter_reasons().chain([DELIVERY_LIMIT_REASON]) {
            counter!("collab_dlq_replayed_total", "action" => action, "reason" => reason).increment(0);
        }
    }
    counter!("collab_high_risk_participations_total").increment(0);
    counter!("collab_broker_reconnects_total").increment(0);
    failures::register();
    // A histogram handle registers the series; it renders empty buckets.
    for name in [
        "collab_batch_size",
        "collab_apply_seconds",
        "collab_relay_seconds",
        "collab_consumer_outage_seconds",
    ] {
        drop(histogram!(name));
    }
    for name in [
        "collab_events_parked",
        "collab_outbox_lag_seconds",
        "collab_outbox_pending",
        "collab_consumer_prefetch",
        "collab_consumer_in_flight",
        "collab_consumer_up",
    ] {
        gauge!(name).set(0.0);
    }
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

/// Why an apply is tried again (label `cause` of `collab_apply_retries_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryCause {
    /// The database was unavailable; the batch waits for it.
    Transient,
    /// The database refused the event; it is parked and tried again.
    Failed,
}

impl RetryCause {
    pub const ALL: [RetryCause; 2] = [RetryCause::Transient, RetryCause::Failed];

    pub fn label(self) -> &'static str {
        match self {
            RetryCause::Transient => "transient",
            RetryCause::Failed => "failed",
        }
    }
}

/// An apply attempt failed and will be retried.
pub struct ApplyRetry<'a> {
    pub cause: RetryCause,
    pub error: &'a str,
    pub event_id: Option<&'a str>,
    pub delay: Duration,
}

impl InternalEvent for ApplyRetry<'_> {
    fn emit(self) {
        tracing::warn!(
            event.id = self.event_id.unwrap_or("(batch)"),
            cause = self.cause.label(),
            error = self.error,
            retry_in_ms = self.delay.as_millis() as u64,
            "apply failed; retrying"
        );
        counter!("collab_apply_retries_total", "cause" => self.cause.label()).increment(1);
    }
}

/// An event the database refused was parked in a retry queue; the events
/// behind it go on.
pub struct EventParked<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub error: &'a str,
    /// Attempts made so far.
    pub attempts: u32,
    pub max_attempts: u32,
    pub delay: Duration,
}

impl InternalEvent for EventParked<'_> {
    fn emit(self) {
        tracing::warn!(
            event.id = self.event_id,
            event.type = self.event_type,
            error = self.error,
            attempts = self.attempts,
            max_attempts = self.max_attempts,
            retry_in_ms = self.delay.as_millis() as u64,
            "apply refused; event parked for a retry"
        );
        counter!("collab_apply_retries_total", "cause" => RetryCause::Failed.label()).increment(1);
    }
}

/// The broker session was lost (connection, a channel, the consumer, or a
/// stall the watchdog saw); the worker opens a new one. Recoverable, so a
/// warning, not an error.
pub struct BrokerSessionLost<'a> {
    pub reason: &'a str,
}

impl InternalEvent for BrokerSessionLost<'_> {
    fn emit(self) {
        tracing::warn!(reason = self.reason, "broker session lost; reconnecting");
        gauge!("collab_consumer_up").set(0.0);
    }
}

/// The consumer is registered again after an outage.
pub struct ConsumerResumed {
    pub outage: Duration,
}

impl InternalEvent for ConsumerResumed {
    fn emit(self) {
        tracing::info!(
            outage_ms = self.outage.as_millis() as u64,
            "consuming again after a broker outage"
        );
        counter!("collab_broker_reconnects_total").increment(1);
        histogram!("collab_consumer_outage_seconds").record(self.outage.as_secs_f64());
        gauge!("collab_consumer_up").set(1.0);
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

/// One more accepted participation of a high-risk creator. No seller label:
/// a series per seller would grow without bound (docs/decisions.md); the
/// outbox answers "which sellers" (README, Operations).
pub fn high_risk_participation() {
    counter!("collab_high_risk_participations_total").increment(1);
}

pub fn outbox_lag(age_seconds: f64, pending: i64) {
    gauge!("collab_outbox_lag_seconds").set(age_seconds);
    gauge!("collab_outbox_pending").set(pending as f64);
}

pub fn consumer_prefetch(prefetch: u16) {
    gauge!("collab_consumer_prefetch").set(f64::from(prefetch));
}

/// A rule read what its event's plan did not state: the decision was thrown
/// away and made again after loading it (the safety net of the pipeline).
pub fn decide_missed(event_type: &str) {
    counter!("collab_decide_misses_total", "type" => event_type.to_owned()).increment(1);
}

/// Events in the retry queues, as the watchdog last read them.
pub fn events_parked(count: u64) {
    gauge!("collab_events_parked").set(count as f64);
}

pub fn consumer_up() {
    gauge!("collab_consumer_up").set(1.0);
}

pub fn consumer_in_flight(count: usize) {
    gauge!("collab_consumer_in_flight").set(count as f64);
}

pub fn received(count: usize) {
    counter!("collab_events_received_total").increment(count as u64);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What a subscriber with the filter of `rust_log` writes for a lapin
    /// returned-message warning and for one of the worker's warnings.
    fn logged(rust_log: Option<&str>) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                if let Ok(mut inner) = self.0.lock() {
                    inner.extend_from_slice(bytes);
                }
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(log_filter(rust_log, WORKER_LOG_FILTER))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "lapin::returned_messages", message = ?[1u8, 2, 3], "Server returned us a message");
            tracing::warn!(target: "collab_worker::amqp::relay", "no queue is bound");
        });
        let bytes = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn lapins_returned_message_warnings_are_off_unless_named() {
        for rust_log in [None, Some("info"), Some("debug,lapin=trace")] {
            let out = logged(rust_log);
            assert!(!out.contains("returned us a message"), "{rust_log:?}: {out}");
            assert!(out.contains("no queue is bound"), "{rust_log:?}: {out}");
        }
        let named = logged(Some("info,lapin::returned_messages=warn"));
        assert!(named.contains("returned us a message"), "{named}");
    }
}
