//! Logs, traces and trace context: the subscriber set up at start, the OpenTelemetry export of the
//! spans over OTLP when the standard variables ask for it, and the W3C trace context carried from
//! the caller's gRPC metadata to the API's HTTP request, so the API's logs join the caller's trace.
//!
//! Traces are exported only when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not `true`, nor
//! `OTEL_TRACES_EXPORTER` `none`): OTLP over gRPC, through a batch span processor whose queue is
//! bounded (`OTEL_BSP_MAX_QUEUE_SIZE`, spans beyond it are dropped, never waited for) and whose
//! exports time out (`OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_EXPORT_TIMEOUT`). Without an endpoint
//! there is no exporter and no OpenTelemetry layer: the trace context still reaches the API, from
//! the caller's `traceparent` (or a new trace) and a new span id for the request.

use std::io::IsTerminal;
use std::sync::LazyLock;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceFlags, TraceId, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::{EnvResourceDetector, TelemetryResourceDetector};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, SdkTracerProvider,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tonic::metadata::{KeyRef, MetadataMap};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::prelude::*;

mod json_fields;

use json_fields::AppendJsonFields;

/// The service name when `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`)
/// names none.
pub const DEFAULT_SERVICE_NAME: &str = "whatsapp-grpc";

/// The longest the spans still queued are given to reach the collector at shutdown.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest one export may take unless `OTEL_EXPORTER_OTLP_TIMEOUT` says otherwise.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// What [`init`] started: the span exporter, if traces are exported. Shut it down at exit, so
/// the spans still queued are sent.
#[must_use = "shut the telemetry down at exit, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still queued and stops the exporter, waiting at most `timeout`.
    pub async fn shutdown(self, timeout: Duration) {
        let Some(provider) = self.provider else {
            return;
        };
        // The batch processor's thread exports through the runtime's tonic channel: block a
        // blocking-pool thread on it, not the runtime.
        let flush = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(timeout));
        match tokio::time::timeout(timeout + Duration::from_secs(1), flush).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                tracing::warn!(%error, "the last spans may not have reached the collector");
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("the last spans may not have reached the collector");
            }
        }
    }
}

/// Installs the global subscriber: log lines to stderr, filtered by `RUST_LOG` (default `info`);
/// and, when the `OTEL_*` variables ask for it, the spans of this crate exported over OTLP (not
/// filtered by `RUST_LOG`). Call it within the Tokio runtime. An error names the variable to fix.
pub fn init(format: LogFormat) -> Result<Telemetry, String> {
    let provider = tracer_provider()?;
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(DEFAULT_SERVICE_NAME))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            // This crate's spans (the RPC, its call to the API) and its warnings and errors, as
            // span events; nothing from the dependencies.
            .with_filter(FilterFn::new(|metadata| {
                metadata.target().starts_with("whatsapp_grpc")
                    && (metadata.is_span() || *metadata.level() <= tracing::Level::WARN)
            }))
    });
    // A second call (tests start several servers) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(log_layer(format))
        .with(traces)
        .try_init();
    Ok(Telemetry { provider })
}

/// Installs the global subscriber for logs only (the sandbox command).
pub fn init_logs(format: LogFormat) {
    let _ = tracing_subscriber::registry()
        .with(log_layer(format))
        .try_init();
}

/// The log lines: text (ANSI colours only when stderr is a terminal) or JSON, each filtered by
/// `RUST_LOG`. A JSON line carries its fields at the top level and the current span once, as
/// `span`: the RPC's span is where the lines are written, and the list of every enclosing span
/// would repeat it.
fn log_layer<S>(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => layer.with_filter(filter).boxed(),
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(AppendJsonFields)
            .with_filter(filter)
            .boxed(),
    }
}

/// The tracer provider exporting over OTLP, if the standard variables ask for traces.
fn tracer_provider() -> Result<Option<SdkTracerProvider>, String> {
    let set = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    if set("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
        || set("OTEL_TRACES_EXPORTER").is_some_and(|value| value.trim() == "none")
    {
        return Ok(None);
    }
    let endpoint = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .find_map(|name| set(name).map(|value| (name, value)));
    let Some((endpoint_variable, endpoint)) = endpoint else {
        return Ok(None);
    };
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(protocol) = set(name)
            && protocol.trim() != "grpc"
        {
            return Err(format!(
                "{name}={protocol}: traces are exported over OTLP/gRPC only; set {name}=grpc (or \
                 unset it) and point {endpoint_variable} at the collector's gRPC port (4317)"
            ));
        }
    }
    // The exporter reads the endpoint, headers, compression and timeout variables itself; the
    // timeout given here applies when OTEL_EXPORTER_OTLP_TIMEOUT is not set.
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if set("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").is_none()
        && set("OTEL_EXPORTER_OTLP_TIMEOUT").is_none()
    {
        exporter = exporter.with_timeout(EXPORT_TIMEOUT);
    }
    let exporter = exporter
        .build()
        .map_err(|error| format!("{endpoint_variable}={endpoint}: {error}"))?;
    // Queue size, batch size, delay and export timeout: the OTEL_BSP_* variables, else the
    // specification's defaults (a queue of 2048 spans, batches of 512 every 5 s, 30 s per export).
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(BatchConfigBuilder::default().build())
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource())
            .build(),
    ))
}

/// `service.name` from `OTEL_SERVICE_NAME`, else `OTEL_RESOURCE_ATTRIBUTES`, else
/// [`DEFAULT_SERVICE_NAME`]; `service.version` this build's; the other attributes of
/// `OTEL_RESOURCE_ATTRIBUTES` and the SDK's own.
fn resource() -> Resource {
    let mut builder = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", DEFAULT_SERVICE_NAME),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ])
        .with_detectors(&[
            Box::new(TelemetryResourceDetector),
            Box::new(EnvResourceDetector::new()),
        ]);
    if let Some(name) = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
    {
        builder = builder.with_service_name(name);
    }
    builder.build()
}

/// The W3C trace context propagator (`traceparent`, `tracestate`).
static PROPAGATOR: LazyLock<TraceContextPropagator> = LazyLock::new(TraceContextPropagator::new);

/// The trace context of one call: the caller's span, from its `traceparent` and `tracestate`
/// metadata, as the parent of the RPC's span.
#[derive(Clone, Debug)]
pub struct TraceContext {
    /// The caller's span, remote; the empty context when it sent none, or none readable.
    parent: Context,
    /// The caller's trace id, or a new one: the trace the API's request joins when no
    /// OpenTelemetry layer records this service's spans.
    trace_id: TraceId,
    /// `trace_id` as its 32 hex digits, written once for the span and the API's `traceparent`.
    trace_text: TraceIdText,
}

/// A trace id as W3C's `traceparent` and the logs write it: 32 lowercase hex digits.
#[derive(Clone, Copy, Debug)]
pub struct TraceIdText([u8; 32]);

impl TraceIdText {
    pub fn new(id: TraceId) -> TraceIdText {
        let mut text = [b'0'; 32];
        // 16 bytes make 32 digits: the lengths always match.
        let _ = hex::encode_to_slice(id.to_bytes(), &mut text);
        TraceIdText(text)
    }

    pub fn as_str(&self) -> &str {
        // Hex digits are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl TraceContext {
    /// The context for a call whose gRPC metadata is `metadata`: the caller's trace if it sent a
    /// valid `traceparent`, a new trace otherwise.
    pub fn from_metadata(metadata: &MetadataMap) -> TraceContext {
        let parent = PROPAGATOR.extract_with_context(&Context::new(), &MetadataExtractor(metadata));
        let caller = parent.span().span_context().clone();
        let trace_id = if caller.is_valid() {
            caller.trace_id()
        } else {
            RandomIdGenerator::default().new_trace_id()
        };
        TraceContext {
            parent,
            trace_id,
            trace_text: TraceIdText::new(trace_id),
        }
    }

    /// Makes the caller's span the parent of `span` (the RPC's) and records the trace id on it.
    pub fn continue_in(&self, span: &Span) {
        if span.is_disabled() {
            return;
        }
        // Without the OpenTelemetry layer there is nothing to parent.
        let _ = span.set_parent(self.parent.clone());
        let context = span.context();
        let own = context.span().span_context().trace_id();
        let trace_id = if own == TraceId::INVALID {
            self.trace_text
        } else {
            TraceIdText::new(own)
        };
        span.record("trace_id", trace_id.as_str());
    }

    /// The trace the call belongs to (the caller's, or the new one started for it), as its 32 hex
    /// digits.
    pub fn trace_id_text(&self) -> &str {
        self.trace_text.as_str()
    }

    /// [`TraceContext::continue_in`] for a span created with `trace_id` =
    /// [`TraceContext::trace_id_text`]: it records the trace id again only when the OpenTelemetry layer
    /// gave the span a trace of its own (a caller that sent no trace context).
    pub fn adopt(&self, span: &Span) {
        if span.is_disabled() {
            return;
        }
        let _ = span.set_parent(self.parent.clone());
        let own = span.context().span().span_context().trace_id();
        if own != TraceId::INVALID && own != self.trace_id {
            span.record("trace_id", TraceIdText::new(own).as_str());
        }
    }

    /// Writes `traceparent` (and `tracestate`) for a request to the API made within `span`: its
    /// OpenTelemetry span when one is recorded, else a new span id in the caller's trace (or the
    /// new trace).
    pub fn inject(&self, span: &Span, headers: &mut HeaderMap) {
        let recorded = span.context();
        let recorded = recorded.span();
        let recorded = recorded.span_context();
        let (span_id, flags, state) = if recorded.is_valid() {
            (
                recorded.span_id(),
                recorded.trace_flags(),
                recorded.trace_state().header(),
            )
        } else {
            let caller = self.parent.span();
            let caller = caller.span_context();
            let (flags, state) = if caller.is_valid() {
                (caller.trace_flags(), caller.trace_state().header())
            } else {
                (TraceFlags::SAMPLED, String::new())
            };
            (RandomIdGenerator::default().new_span_id(), flags, state)
        };
        let trace_id = if recorded.is_valid() && recorded.trace_id() != self.trace_id {
            TraceIdText::new(recorded.trace_id())
        } else {
            self.trace_text
        };
        // W3C `traceparent`: version 00, the trace, this request's span, the sampled flag; written
        // here rather than through the propagator, whose text map costs a parse per header.
        let mut traceparent = *b"00-################################-################-##";
        traceparent[3..35].copy_from_slice(&trace_id.0);
        let span_written = hex::encode_to_slice(span_id.to_bytes(), &mut traceparent[36..52]);
        let flags_written = hex::encode_to_slice(
            [flags.to_u8() & TraceFlags::SAMPLED.to_u8()],
            &mut traceparent[53..55],
        );
        if span_written.is_ok()
            && flags_written.is_ok()
            && let Ok(mut value) = HeaderValue::from_bytes(&traceparent)
        {
            // A value no other request repeats: over HTTP/2, HPACK sends it as a literal never
            // indexed rather than adding it to the connection's header table, where it would only
            // push out the headers every request repeats (and cost the table's upkeep each time).
            value.set_sensitive(true);
            headers.insert(TRACEPARENT.clone(), value);
        }
        if !state.is_empty()
            && let Ok(value) = HeaderValue::try_from(state)
        {
            headers.insert(TRACESTATE.clone(), value);
        }
    }
}

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Reads the trace context from gRPC metadata (ASCII values only).
struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(traceparent: Option<&str>, tracestate: Option<&str>) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        if let Some(traceparent) = traceparent {
            metadata.insert("traceparent", traceparent.parse().unwrap());
        }
        if let Some(tracestate) = tracestate {
            metadata.insert("tracestate", tracestate.parse().unwrap());
        }
        metadata
    }

    fn injected(context: &TraceContext) -> (String, Option<String>) {
        let mut headers = HeaderMap::new();
        context.inject(&Span::none(), &mut headers);
        let text = |name: &str| {
            headers
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        (
            text("traceparent").expect("a traceparent"),
            text("tracestate"),
        )
    }

    #[test]
    fn keeps_the_callers_trace_with_a_new_parent() {
        let context = TraceContext::from_metadata(&metadata(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("congo=t61rcWkgMzE"),
        ));
        let (traceparent, tracestate) = injected(&context);
        assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(traceparent.ends_with("-01"));
        // Version, trace id, span id and flags, in lowercase hex of the W3C widths.
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(
            parts.iter().map(|part| part.len()).collect::<Vec<_>>(),
            [2, 32, 16, 2],
            "{traceparent}"
        );
        assert!(
            traceparent
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{traceparent}"
        );
        assert!(!traceparent.contains("00f067aa0ba902b7"));
        assert_eq!(tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
        // Each request is a span of its own.
        assert_ne!(injected(&context).0, traceparent);
    }

    #[test]
    fn an_unsampled_caller_stays_unsampled() {
        let context = TraceContext::from_metadata(&metadata(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            None,
        ));
        assert!(injected(&context).0.ends_with("-00"));
    }

    #[test]
    fn starts_a_trace_when_the_caller_sent_none_or_garbage() {
        for bad in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            Some("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ] {
            let context = TraceContext::from_metadata(&metadata(bad, Some("a=b")));
            let (traceparent, tracestate) = injected(&context);
            let parts: Vec<_> = traceparent.split('-').collect();
            assert_eq!(parts.len(), 4, "{traceparent}");
            assert_eq!(parts[0], "00");
            assert_eq!(parts[1].len(), 32);
            assert_ne!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "{bad:?}");
            assert_ne!(parts[1], "00000000000000000000000000000000");
            assert_eq!(parts[3], "01");
            assert_eq!(tracestate, None, "{bad:?}");
        }
    }

    #[test]
    fn the_traceparent_is_never_indexed_by_hpack() {
        let context = TraceContext::from_metadata(&metadata(None, None));
        let mut headers = HeaderMap::new();
        context.inject(&Span::none(), &mut headers);
        let traceparent = headers.get("traceparent").expect("a traceparent");
        // h2 encodes a sensitive value as a literal never indexed, outside the header table.
        assert!(traceparent.is_sensitive());
    }
}
