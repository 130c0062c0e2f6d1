//! Logs and trace context: the subscriber set up at start, and the W3C trace context carried from the
//! caller's gRPC metadata to the API's HTTP request so the upstream's logs join the caller's trace.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::HeaderValue;
use tonic::metadata::MetadataMap;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber: `RUST_LOG` filters (default `info`), lines go to stderr.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests start several servers) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The W3C trace context of one call: the caller's trace id, with this service's call to the API as
/// the new parent span.
#[derive(Clone, Debug)]
pub struct TraceContext {
    /// `traceparent` for the outgoing HTTP request.
    pub traceparent: HeaderValue,
    /// `tracestate`, passed on unchanged.
    pub tracestate: Option<HeaderValue>,
    /// The trace id, 32 lowercase hex digits, for the span.
    pub trace_id: String,
}

impl TraceContext {
    /// The context for a call whose gRPC metadata is `metadata`: the caller's trace if it sent a valid
    /// `traceparent`, a new trace otherwise.
    pub fn from_metadata(metadata: &MetadataMap) -> TraceContext {
        let incoming = metadata
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_traceparent);
        let (trace_id, flags) = match incoming {
            Some((trace_id, flags)) => (trace_id.to_owned(), flags.to_owned()),
            None => (
                format!("{:016x}{:016x}", random_u64(), random_u64()),
                "01".to_owned(),
            ),
        };
        let span_id = format!("{:016x}", random_u64());
        let traceparent = format!("00-{trace_id}-{span_id}-{flags}");
        let tracestate = incoming
            .and(metadata.get("tracestate"))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| HeaderValue::from_str(value).ok());
        TraceContext {
            // Only hex digits and dashes: always a valid header value.
            traceparent: HeaderValue::from_str(&traceparent)
                .unwrap_or_else(|_| HeaderValue::from_static("")),
            tracestate,
            trace_id,
        }
    }
}

/// `(trace_id, flags)` of a version-00 `traceparent`, if it is well formed and not all zeros.
fn parse_traceparent(value: &str) -> Option<(&str, &str)> {
    let mut parts = value.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = version == "00"
        && parts.next().is_none()
        && hex(trace_id, 32)
        && hex(parent_id, 16)
        && hex(flags, 2)
        && trace_id.bytes().any(|b| b != b'0')
        && parent_id.bytes().any(|b| b != b'0');
    valid.then_some((trace_id, flags))
}

/// A random non-zero 64-bit number, from the standard library's randomly keyed hasher.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_callers_trace_with_a_new_parent() {
        let mut metadata = MetadataMap::new();
        metadata.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        metadata.insert("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
        let context = TraceContext::from_metadata(&metadata);
        let traceparent = context.traceparent.to_str().unwrap();
        assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(traceparent.ends_with("-01"));
        assert!(!traceparent.contains("00f067aa0ba902b7"));
        assert_eq!(context.tracestate.unwrap(), "congo=t61rcWkgMzE");
    }

    #[test]
    fn starts_a_trace_when_the_caller_sent_none_or_garbage() {
        for bad in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
        ] {
            let mut metadata = MetadataMap::new();
            if let Some(bad) = bad {
                metadata.insert("traceparent", bad.parse().unwrap());
                metadata.insert("tracestate", "a=b".parse().unwrap());
            }
            let context = TraceContext::from_metadata(&metadata);
            let traceparent = context.traceparent.to_str().unwrap();
            assert!(parse_traceparent(traceparent).is_some(), "{traceparent}");
            assert_ne!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(context.tracestate.is_none());
        }
    }
}
