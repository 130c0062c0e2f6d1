//! The `/metrics` listener: HTTP/1.1 on its own port (`--metrics-listen`), `GET /metrics` answered
//! in the Prometheus text format (version 0.0.4), any other path 404 and any other method 405.
//! Bounded like the gRPC side: at most [`MAX_CONNECTIONS`] open at once (one more is closed at
//! once), each request's headers read within [`HEADER_READ_TIMEOUT`], each connection closed after
//! [`CONNECTION_LIFETIME`] (a scraper simply reconnects), requests of at most [`MAX_BUF_BYTES`].
//! It stops, its connections with it, when the [`Running`] guard is dropped.

use std::sync::Arc;
use std::time::Duration;

use http::header::{ALLOW, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, prometheus_text};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

use super::Metrics;
use super::labels::SenderLabels;
use crate::health::{self, HealthBoard};
use crate::http_listener::{self, Bounds};

/// The path metrics are served on.
pub const PATH: &str = "/metrics";
/// Connections open at once; Prometheus needs one per scraper.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection lives, however busy.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// The largest request head read.
pub const MAX_BUF_BYTES: usize = 16 * 1024;

/// The exporter serving; dropping it stops the listener and closes its connections.
pub use crate::http_listener::Running;

/// Serves `metrics`, and the health of the senders on `board`, on `listener` until the returned
/// guard is dropped. `None` when the metrics are disabled.
pub fn start(listener: TcpListener, metrics: &Metrics, board: Arc<HealthBoard>) -> Option<Running> {
    let mut registry = metrics.registry()?;
    registry.register_collector(Box::new(SendersCollector { board }));
    let registry = Arc::new(registry);
    let bounds = Bounds {
        max_connections: MAX_CONNECTIONS,
        header_read_timeout: HEADER_READ_TIMEOUT,
        connection_lifetime: CONNECTION_LIFETIME,
        max_buf_bytes: MAX_BUF_BYTES,
    };
    Some(http_listener::start(
        listener,
        "metrics",
        bounds,
        move |request| std::future::ready(answer(&request, &registry)),
    ))
}

/// The answer to one request.
fn answer<B>(request: &Request<B>, registry: &Registry) -> Response<String> {
    let plain = |status: StatusCode, text: &str| {
        let mut response = Response::new(format!("{text}\n"));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    };
    if request.uri().path() != PATH {
        return plain(StatusCode::NOT_FOUND, "not found: metrics are at /metrics");
    }
    if request.method() != Method::GET {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET");
        response
            .headers_mut()
            .insert(ALLOW, http::HeaderValue::from_static("GET"));
        return response;
    }
    let mut text = String::with_capacity(32 * 1024);
    if let Err(error) = prometheus_text::encode(&mut text, registry) {
        tracing::warn!(%error, "the metrics could not be encoded");
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable");
    }
    let mut response = Response::new(text);
    response.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
    );
    response
}

/// The senders and their API's health, read from the health board at each scrape, so a sender
/// removed on reload disappears at once.
#[derive(Debug)]
struct SendersCollector {
    board: Arc<HealthBoard>,
}

impl Collector for SendersCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let members = self.board.members();
        let up: Family<SenderLabels, Gauge> = Family::default();
        let prefix = health::MESSAGING;
        for (name, status) in &members {
            let sender = name
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(name);
            up.get_or_create(&SenderLabels {
                sender: Arc::from(sender),
            })
            .set(i64::from(*status == ServingStatus::Serving));
        }
        let metric = encoder.encode_descriptor(
            "upstream_up",
            "Whether the sender's API is up as its health says (1 SERVING, 0 otherwise), by sender",
            None,
            up.metric_type(),
        )?;
        up.encode(metric)?;
        let configured = ConstGauge::new(members.len() as i64);
        let metric = encoder.encode_descriptor(
            "senders_configured",
            "Senders configured",
            None,
            configured.metric_type(),
        )?;
        configured.encode(metric)
    }
}
