//! Distributed tracing (contract §1, "tracing"): a span per event, a child
//! of the event's own `traceparent`, exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set; outcomes carry that span's
//! `traceparent` and the event's `tracestate`; every log line of the event
//! carries the trace id.
//!
//! ```text
//!  producer span (traceparent in the event)
//!    └─ event span "apply order.paid": parse → apply → commit → ack
//!         ├ event.id, event.type, messaging.*        (attributes)
//!         └ link → "apply batch" span (the transaction it was applied in)
//!  outcome.traceparent = 00-<trace id>-<event span id>-<flags>
//! ```
//!
//! Without an endpoint nothing is exported and no span id is made up: the
//! outcomes carry the event's `traceparent` unchanged (W3C: a hop that does
//! not take part forwards it), and logs carry its trace id.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::amqp::topology::WORK_QUEUE;
use crate::wire::envelope::{Inbound, Malformed};

/// The variables that turn exporting on (either is enough; the rest of the
/// standard `OTEL_*` variables are read by the exporter and the SDK).
const ENDPOINT_VARIABLES: [&str; 2] = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];

/// The span exporter's provider; flush it with [`Exporter::shutdown`] before
/// the process exits, outside the async runtime (the blocking HTTP client
/// must not be dropped inside it).
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// The OTLP exporter if an endpoint is set, with the tracer for the
    /// span layer. `OTEL_SERVICE_NAME` names the service, else
    /// `collab-worker`.
    pub fn from_env() -> Result<Option<(Exporter, opentelemetry_sdk::trace::Tracer)>, String> {
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        if !ENDPOINT_VARIABLES.iter().any(|name| set(name)) {
            return Ok(None);
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("the OTLP span exporter: {e}"))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if !set("OTEL_SERVICE_NAME") {
            resource = resource.with_service_name("collab-worker");
        }
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer("collab-worker");
        Ok(Some((Exporter { provider }, tracer)))
    }

    /// Exports what is left and stops the exporter's thread.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("collab-worker: flushing traces: {error}");
        }
    }
}

/// The span of one event, opened before its body is parsed. Without a
/// parent here: [`follow`] gives it the event's own `traceparent`.
pub fn event_span() -> Span {
    tracing::info_span!(
        parent: None,
        "event",
        otel.name = tracing::field::Empty,
        otel.kind = "consumer",
        event.id = tracing::field::Empty,
        event.type = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.destination.name = WORK_QUEUE,
    )
}

/// The span of one batch transaction; the spans of its events link to it.
pub fn batch_span(size: usize) -> Span {
    tracing::info_span!(parent: None, "batch", otel.name = "apply batch", batch.size = size)
}

/// The event's `traceparent` and `tracestate`, as a propagator reads them.
struct TraceHeaders<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent),
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// Names the span after the parsed event and makes it a child of the
/// event's `traceparent` (must come before the span is first entered).
/// When spans are exported, the event's `traceparent` becomes this span's,
/// for its outcomes to carry.
pub fn follow(span: &Span, inbound: &mut Inbound) {
    let meta = &mut inbound.meta;
    span.record("otel.name", format!("apply {}", meta.type_name));
    span.record("event.id", meta.id.as_str());
    span.record("event.type", meta.type_name.as_str());
    let parent = meta.traceparent.as_deref().map(|traceparent| {
        let headers = TraceHeaders {
            traceparent,
            tracestate: meta.tracestate.as_deref(),
        };
        TraceContextPropagator::new().extract_with_context(&opentelemetry::Context::new(), &headers)
    });
    if let Some(parent) = &parent
        && parent.span().span_context().is_valid()
    {
        // Fails only for a span that is off (no exporter): nothing to parent.
        let _disabled = span.set_parent(parent.clone());
    }
    let ours = span.context().span().span_context().clone();
    if ours.is_valid() {
        span.record("trace_id", tracing::field::display(ours.trace_id()));
        meta.traceparent = Some(format!(
            "00-{}-{}-{:02x}",
            ours.trace_id(),
            ours.span_id(),
            ours.trace_flags().to_u8()
        ));
    } else if let Some(parent) = parent {
        let theirs = parent.span().span_context().clone();
        if theirs.is_valid() {
            span.record("trace_id", tracing::field::display(theirs.trace_id()));
        }
    }
}

/// Names the span of a message that is not an event, as far as it can.
pub fn malformed(span: &Span, malformed: &Malformed) {
    span.record("otel.name", "dead-letter");
    if let Some(id) = &malformed.id {
        span.record("event.id", id.as_str());
    }
    if let Some(type_name) = &malformed.type_name {
        span.record("event.type", type_name.as_str());
    }
}
