//! The gRPC server: the messaging service, health and reflection behind the layers, served on one
//! listener (over TLS, and for callers with an API key, when configured) until a shutdown signal,
//! then drained in bounded time. The binary and the tests share [`serve`].
//!
//! Shutdown, in order: every health name turns NOT_SERVING at once and `Watch` streams end; calls
//! are still served for `pre_stop_delay` so load balancers stop routing here first; then new calls
//! are refused (`UNAVAILABLE`), every connection gets a GOAWAY, and calls in flight have `grace` to
//! finish; whatever is still open then is dropped and [`serve`] returns.

mod connections;
mod probes;
mod reload;
pub mod tls;

pub use connections::ConnectionLimits;
pub use tls::TlsConfig;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::service::Routes;
use tonic_health::ServingStatus;
use tower_layer::Layer;

use crate::api_keys::{ApiKeys, ApiKeysConfig};
use crate::events::config::EventStoreConfig;
use crate::events::service::Events;
use crate::events::{WebhookConfig, receiver};
use crate::health::{self, HealthBoard, HealthService};
use crate::idempotency::IdempotencyConfig;
use crate::lanes::Lanes;
use crate::layers::{Admission, AdmitLayer, AuthLayer, DeadlineLayer, MetricsLayer};
use crate::metrics::{Metrics, exporter};
use crate::proto::FILE_DESCRIPTOR_SET;
use crate::proto::event_service_server::EventServiceServer;
use crate::proto::media_service_server::MediaServiceServer;
use crate::proto::messaging_service_server::MessagingServiceServer;
use crate::ratelimit::LimiterConfig;
use crate::senders::{Reload, SenderConfig, Senders};
use crate::service::Messaging;
use crate::validate::limits::MAX_REQUEST_BYTES;

/// Everything the server needs, validated.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The business numbers it sends from: at least one, names unique.
    pub senders: Vec<SenderConfig>,
    /// How to read the senders again on SIGHUP; `None` when they come from flags.
    pub reload: Option<Reload>,
    /// How often the upstream's health is probed.
    pub health_interval: Duration,
    /// The bounds of the gRPC side.
    pub limits: ServerLimits,
    /// How the server stops.
    pub shutdown: ShutdownConfig,
    /// Where `request_id`s and their answers are kept, and for how long.
    pub idempotency: IdempotencyConfig,
    /// Where the senders' send-rate slots are kept.
    pub rate_limit: LimiterConfig,
    /// Where received events wait for their subscribers (`EventService`).
    pub events: EventStoreConfig,
    /// TLS on the listener and callers' API keys; both off by default.
    pub security: SecurityConfig,
    /// The webhook receiver's secrets (used when [`Listeners::webhook`] is set).
    pub webhooks: WebhookConfig,
    /// Threads serving the gRPC connections, each its own event loop (see [`crate::lanes`]); 0 serves
    /// them on the caller's runtime.
    pub threads: usize,
}

/// Who may connect and call.
#[derive(Clone, Debug, Default)]
pub struct SecurityConfig {
    /// Serve over TLS (and require client certificates, if it names a client CA).
    pub tls: Option<TlsConfig>,
    /// Require an API key on every call but health checks; reloaded on SIGHUP.
    pub api_keys: Option<ApiKeysConfig>,
}

/// How much the server takes on at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    pub connections: ConnectionLimits,
    /// Calls in progress on the whole server (health checks aside); more are refused at once.
    pub max_calls: usize,
    /// The deadline of a call whose caller sets none.
    pub default_deadline: Option<Duration>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            connections: ConnectionLimits::default(),
            max_calls: 1024,
            default_deadline: Some(Duration::from_secs(60)),
        }
    }
}

/// The shutdown sequence's timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownConfig {
    /// How long calls keep being served after the signal, health already NOT_SERVING.
    pub pre_stop_delay: Duration,
    /// How long calls in flight get to finish once new ones are refused.
    pub grace: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            pre_stop_delay: Duration::ZERO,
            grace: Duration::from_secs(20),
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The sockets the server serves on, bound by the caller (so it knows the ports the OS chose).
#[derive(Debug)]
pub struct Listeners {
    /// The gRPC API.
    pub grpc: tokio::net::TcpListener,
    /// Prometheus metrics at `GET /metrics` (`--metrics-listen`); none records no metrics.
    pub metrics: Option<tokio::net::TcpListener>,
    /// Only `grpc.health.v1`, in plaintext, for probes beside a TLS listener (`--health-listen`).
    pub health: Option<tokio::net::TcpListener>,
    /// The webhook receiver (`--webhook-listen`).
    pub webhook: Option<tokio::net::TcpListener>,
}

/// Serves the API on `listener` until `shutdown` completes, then drains (see the module's doc).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listeners = Listeners {
        grpc: listener,
        metrics: None,
        health: None,
        webhook: None,
    };
    serve_on(listeners, config, shutdown).await
}

/// Serves the API as [`serve`] does, and the metrics on their own listener, if any, from before
/// the API reports SERVING until [`serve_on`] returns.
pub async fn serve_on(
    listeners: Listeners,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let Listeners {
        grpc: listener,
        metrics: metrics_listener,
        health: health_listener,
        webhook: webhook_listener,
    } = listeners;
    // This thread's new deadlines wake it no more than the loops' do (see `lanes`).
    let _wake_due = crate::lanes::keep_a_wake_due();
    // Started first: the senders' connection pools are sized for them.
    let lanes = match config.threads {
        0 => None,
        threads => Some(
            Lanes::start(threads)
                .map_err(|e| ServeError::Config(format!("starting {threads} threads: {e}")))?,
        ),
    };
    // The process serves from now on; each sender's API is known after its first probe, and the
    // messaging name is SERVING while any sender's API is.
    let board = Arc::new(HealthBoard::new(
        &[
            (health::SERVER, ServingStatus::Serving),
            (health::MESSAGING, ServingStatus::NotServing),
        ],
        Some(health::MESSAGING),
    ));
    let probes = health_listener
        .map(|listener| probes::Probes::start(listener, board.clone(), config.limits.connections));
    let limiter = config.rate_limit.build().map_err(ServeError::Config)?;
    let metrics = match metrics_listener {
        Some(_) => Metrics::new(),
        None => Metrics::disabled(),
    };
    // Stops (its connections with it) when this function returns.
    let _exporter =
        metrics_listener.and_then(|listener| exporter::start(listener, &metrics, board.clone()));
    let senders = Arc::new(
        Senders::new(
            config.senders,
            board.clone(),
            config.health_interval,
            limiter,
            metrics.clone(),
        )
        .map_err(ServeError::Config)?,
    );
    let api_keys = config.security.api_keys.map(ApiKeys::new);
    let _reloading = reload::on_sighup(config.reload, senders.clone(), api_keys.clone());
    let tls = match config.security.tls {
        Some(tls) => Some(tls::Tls::new(tls).map_err(ServeError::Config)?),
        None => None,
    };
    let _watching = tls.as_ref().map(tls::Tls::watch);
    let store = config.idempotency.build().map_err(ServeError::Config)?;
    // One store: the webhook receiver publishes to it, EventService delivers from it.
    let event_store = config.events.build().map_err(ServeError::Config)?;
    // Stops (its connections with it) when this function returns.
    let _webhooks = webhook_listener.map(|listener| {
        receiver::start(
            listener,
            receiver::Receiver {
                config: config.webhooks,
                store: event_store.clone(),
                senders: senders.clone(),
                metrics: metrics.clone(),
            },
        )
    });

    // Both reflection versions, so grpcurl and older clients can list and describe the services,
    // and decode the google.rpc details (BadRequest, ErrorInfo, RetryInfo, ...) of a failed call.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let limits = config.limits;
    // Uploads stream in chunks of at most 1 MiB, each a message under the same bound.
    let media = MediaServiceServer::new(crate::media::Media::new(senders.clone()))
        .max_decoding_message_size(2 * MAX_REQUEST_BYTES);
    let messaging = MessagingServiceServer::new(Messaging::new(senders, store))
        // The codec refuses a request over MAX_REQUEST_BYTES with INVALID_ARGUMENT; tonic stops
        // reading at twice that, from the length prefix alone (OUT_OF_RANGE).
        .max_decoding_message_size(2 * MAX_REQUEST_BYTES);
    let events = Events::new(event_store, metrics.events());
    let close_streams = events.closer();
    let events = EventServiceServer::new(events)
        .max_decoding_message_size(crate::events::service::MAX_REQUEST_BYTES);
    let routes = Routes::new(HealthService::new(board.clone()).into_server())
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(messaging)
        .add_service(media)
        .add_service(events)
        .prepare();

    let admission = Admission::new(limits.max_calls);
    // Outermost, the metrics see every call, those the inner layers answer included; then
    // authentication, so that a call without a valid key takes no call slot.
    let service = MetricsLayer::new(metrics).layer(
        AuthLayer::new(api_keys).layer(
            DeadlineLayer::new(limits.default_deadline)
                .layer(AdmitLayer::new(admission.clone()).layer(routes)),
        ),
    );
    let service = tower_util::MapRequest::new(service);

    let stop_board = board.clone();
    let pre_stop_delay = config.shutdown.pre_stop_delay;
    let stop = async move {
        shutdown.await;
        stop_board.drain();
        tracing::info!(
            ?pre_stop_delay,
            "shutting down: health NOT_SERVING; serving until the pre-stop delay ends"
        );
        tokio::time::sleep(pre_stop_delay).await;
        admission.drain();
        close_streams.close();
    };
    let drained = connections::accept(
        listener,
        limits.connections,
        tls,
        lanes.as_ref(),
        service,
        stop,
    )
    .await;
    let grace = config.shutdown.grace;
    tracing::info!(?grace, "new calls refused; waiting for calls in flight");
    if tokio::time::timeout(grace, drained.wait()).await.is_err() {
        tracing::warn!(
            ?grace,
            "calls still in flight after the grace period were dropped"
        );
    }
    if let Some(probes) = probes {
        probes.close().await;
    }
    Ok(())
}

/// Adapts hyper's request body to tonic's.
mod tower_util {
    use std::task::{Context, Poll};

    use tonic::body::Body;

    #[derive(Clone, Debug)]
    pub struct MapRequest<S> {
        inner: S,
    }

    impl<S> MapRequest<S> {
        pub fn new(inner: S) -> Self {
            MapRequest { inner }
        }
    }

    impl<S> tower_service::Service<http::Request<hyper::body::Incoming>> for MapRequest<S>
    where
        S: tower_service::Service<http::Request<Body>>,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = S::Future;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
            self.inner.call(request.map(Body::new))
        }
    }
}
