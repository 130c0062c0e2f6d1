//! The whole service on loopback, as a user runs it: the sandbox on an ephemeral port, the gRPC
//! server (the binary's own `serve`) on another, and a generated tonic client over a real socket.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use whatsapp_grpc::Flavor;
use whatsapp_grpc::idempotency::IdempotencyConfig;
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;
use whatsapp_grpc::ratelimit::LimiterConfig;
use whatsapp_grpc::sandbox::{self, SandboxConfig};
use whatsapp_grpc::senders::SenderConfig;
use whatsapp_grpc::server::{self, SecurityConfig, ServerConfig, ServerLimits, ShutdownConfig};
use whatsapp_grpc::upstream::{Credentials, Secret, UpstreamConfig};

pub const API_VERSION: &str = "v24.0";
pub const PHONE_NUMBER_ID: &str = "100000000000001";

/// How to start a stack.
#[derive(Clone, Debug)]
pub struct Options {
    pub flavor: Flavor,
    /// On-Premises only: log in with the sandbox's user instead of using its static token.
    pub login: bool,
    pub sandbox: SandboxConfig,
    pub upstream_timeout: Duration,
    pub health_interval: Duration,
    /// Send to this URL instead of the sandbox (to reach a closed port or a misbehaving server).
    pub upstream_url: Option<String>,
    /// Send this static token instead of the sandbox's.
    pub access_token: Option<String>,
    /// Log in with this password instead of the sandbox's.
    pub password: Option<String>,
    /// Extra CA certificates (PEM) the service trusts for the upstream.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// The bounds of the gRPC side.
    pub limits: ServerLimits,
    /// How the server stops.
    pub shutdown: ShutdownConfig,
    /// Calls in flight to the upstream at once.
    pub max_in_flight: usize,
    /// Callers allowed to wait for a slot.
    pub max_queued: usize,
    /// Attempts per message call (1 = no retry).
    pub max_attempts: u32,
    /// Where `request_id`s are remembered.
    pub idempotency: IdempotencyConfig,
    /// The sender's send rate; 0 (no limit) unless a test is about it.
    pub max_messages_per_second: u32,
    /// Where send-rate slots are kept.
    pub rate_limit: LimiterConfig,
    /// TLS and API keys (off by default).
    pub security: SecurityConfig,
    /// With TLS on: how the stack's own client connects (its trusted CA, its certificate).
    pub client_tls: Option<tonic::transport::ClientTlsConfig>,
    /// Serve Prometheus metrics on a listener of their own ([`Stack::metrics_address`]).
    pub metrics: bool,
    /// Serve health alone, in plaintext, on a listener of its own ([`Stack::health_address`]).
    pub health_listener: bool,
    /// Receive webhooks on a listener of their own ([`Stack::webhook_address`]).
    pub webhook_listener: bool,
    /// The webhook receiver's secrets.
    pub webhooks: whatsapp_grpc::events::WebhookConfig,
    /// Where webhooks' events are published and wait for their subscribers
    /// (`EventStoreConfig::given(store)` keeps a handle on the store).
    pub events: whatsapp_grpc::events::config::EventStoreConfig,
    /// Threads serving the gRPC connections (0: the test's own runtime).
    pub threads: usize,
}

impl Options {
    pub fn new(flavor: Flavor) -> Options {
        Options {
            flavor,
            login: false,
            sandbox: SandboxConfig::default(),
            upstream_timeout: Duration::from_secs(10),
            health_interval: Duration::from_millis(100),
            upstream_url: None,
            access_token: None,
            password: None,
            extra_ca_pem: None,
            limits: ServerLimits::default(),
            shutdown: ShutdownConfig::default(),
            max_in_flight: 64,
            max_queued: 1024,
            max_attempts: whatsapp_grpc::upstream::DEFAULT_MAX_ATTEMPTS,
            idempotency: IdempotencyConfig::default(),
            max_messages_per_second: 0,
            rate_limit: LimiterConfig::Memory,
            security: SecurityConfig::default(),
            client_tls: None,
            metrics: false,
            health_listener: false,
            webhook_listener: false,
            webhooks: whatsapp_grpc::events::WebhookConfig::default(),
            events: Default::default(),
            threads: 2,
        }
    }
}

/// A running sandbox and server, stopped when dropped.
pub struct Stack {
    pub client: MessagingServiceClient<Channel>,
    pub channel: Channel,
    pub grpc_address: SocketAddr,
    /// Where the metrics are served, with `Options::metrics`.
    pub metrics_address: Option<SocketAddr>,
    /// Where health alone is served, with `Options::health_listener`.
    pub health_address: Option<SocketAddr>,
    /// Where webhooks are received, with `Options::webhook_listener`.
    pub webhook_address: Option<SocketAddr>,
    pub sandbox_url: String,
    http: reqwest::Client,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Stack {
    pub async fn start(flavor: Flavor) -> Stack {
        Stack::start_with(Options::new(flavor)).await
    }

    pub async fn start_with(options: Options) -> Stack {
        let mut stops = Vec::new();
        let mut tasks = Vec::new();

        // Bound first: the sandbox posts its webhooks to it (signed with the app secret, if any)
        // unless told otherwise.
        let webhook_listener = match options.webhook_listener {
            true => Some(
                TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind webhooks"),
            ),
            false => None,
        };
        let webhook_address = webhook_listener
            .as_ref()
            .map(|listener| listener.local_addr().expect("address"));
        let mut options = options;
        if let (None, Some(address), Some(app_secret)) = (
            &options.sandbox.webhook,
            webhook_address,
            &options.webhooks.app_secret,
        ) {
            options.sandbox.webhook = Some(sandbox::SandboxWebhook {
                url: format!("http://{address}/webhooks/cloud"),
                app_secret: app_secret.expose().to_owned(),
                on_premises_url: options.webhooks.on_premises_secret.as_ref().map(|secret| {
                    format!(
                        "http://{address}/webhooks/on-premises/{{installation}}/{}",
                        secret.expose()
                    )
                }),
            });
        }
        let sandbox_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sandbox");
        let sandbox_url = format!("http://{}", sandbox_listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        let sandbox_config = options.sandbox.clone();
        tasks.push(tokio::spawn(async move {
            sandbox::serve(sandbox_listener, sandbox_config, async {
                let _ = stopped.await;
            })
            .await
            .expect("sandbox runs");
        }));

        let credentials = if options.login {
            Credentials::Login {
                username: options.sandbox.username.clone(),
                password: Secret::new(
                    options
                        .password
                        .clone()
                        .unwrap_or_else(|| options.sandbox.password.clone()),
                ),
            }
        } else {
            Credentials::AccessToken(Secret::new(
                options
                    .access_token
                    .clone()
                    .unwrap_or_else(|| options.sandbox.access_token.clone()),
            ))
        };
        let config = ServerConfig {
            senders: vec![SenderConfig {
                name: "default".into(),
                display_phone_number: String::new(),
                max_messages_per_second: options.max_messages_per_second,
                upstream: UpstreamConfig {
                    flavor: options.flavor,
                    base_url: options
                        .upstream_url
                        .clone()
                        .unwrap_or_else(|| sandbox_url.clone()),
                    api_version: API_VERSION.into(),
                    phone_number_id: PHONE_NUMBER_ID.into(),
                    credentials,
                    extra_ca_pem: options.extra_ca_pem.clone(),
                    connect_timeout: Duration::from_secs(2),
                    request_timeout: options.upstream_timeout,
                    max_in_flight: options.max_in_flight,
                    max_queued: options.max_queued,
                    max_attempts: options.max_attempts,
                    http2_prior_knowledge: false,
                },
            }],
            reload: None,
            health_interval: options.health_interval,
            limits: options.limits,
            shutdown: options.shutdown,
            idempotency: options.idempotency.clone(),
            rate_limit: options.rate_limit.clone(),
            events: options.events.clone(),
            security: options.security.clone(),
            webhooks: options.webhooks.clone(),
            threads: options.threads,
        };
        let grpc_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind server");
        let grpc_address = grpc_listener.local_addr().expect("address");
        let metrics_listener = match options.metrics {
            true => Some(
                TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind metrics"),
            ),
            false => None,
        };
        let metrics_address = metrics_listener
            .as_ref()
            .map(|listener| listener.local_addr().expect("address"));
        let health_listener = match options.health_listener {
            true => Some(TcpListener::bind("127.0.0.1:0").await.expect("bind health")),
            false => None,
        };
        let health_address = health_listener
            .as_ref()
            .map(|listener| listener.local_addr().expect("address"));
        let listeners = server::Listeners {
            grpc: grpc_listener,
            metrics: metrics_listener,
            health: health_listener,
            webhook: webhook_listener,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        tasks.push(tokio::spawn(async move {
            server::serve_on(listeners, config, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        }));

        let endpoint = match &options.client_tls {
            None => tonic::transport::Endpoint::from_shared(format!("http://{grpc_address}")),
            Some(tls) => tonic::transport::Endpoint::from_shared(format!("https://{grpc_address}"))
                .and_then(|endpoint| endpoint.tls_config(tls.clone())),
        };
        let channel = endpoint
            .expect("endpoint")
            .connect()
            .await
            .expect("the server accepts connections");
        Stack {
            client: MessagingServiceClient::new(channel.clone()),
            channel,
            grpc_address,
            metrics_address,
            health_address,
            webhook_address,
            sandbox_url,
            http: {
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::new()
            },
            stops,
            tasks,
        }
    }

    /// What the sandbox received on the messages endpoints, oldest first.
    pub async fn received(&self) -> Vec<Value> {
        self.get("/sandbox/received")
            .await
            .as_array()
            .cloned()
            .expect("an array")
    }

    /// The sandbox's counters.
    pub async fn stats(&self) -> Value {
        self.get("/sandbox/stats").await
    }

    pub async fn clear_received(&self) {
        self.http
            .delete(format!("{}/sandbox/received", self.sandbox_url))
            .send()
            .await
            .expect("sandbox answers")
            .error_for_status()
            .expect("cleared");
    }

    pub async fn revoke_tokens(&self) {
        self.http
            .post(format!("{}/sandbox/revoke-tokens", self.sandbox_url))
            .send()
            .await
            .expect("sandbox answers")
            .error_for_status()
            .expect("revoked");
    }

    /// Waits (at most 10 s) until the sandbox has received `count` messages.
    pub async fn wait_until_received(&mut self, count: usize) {
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while self.received().await.len() < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "the sandbox never received {count} message(s)"
        );
    }

    /// Signals the gRPC server to shut down (as SIGTERM does) and returns its task, which ends when
    /// `serve` returns. The sandbox keeps running.
    pub fn shut_down_server(&mut self) -> JoinHandle<()> {
        let stop = self.stops.remove(1);
        let _ = stop.send(());
        self.tasks.remove(1)
    }

    /// Waits (at most 10 s) until the health service reports `status` for `service`.
    pub async fn wait_for_health(&self, service: &str, status: ServingStatus) {
        let mut health = HealthClient::new(self.channel.clone());
        let mut stream = health
            .watch(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("watch")
            .into_inner();
        let wanted = status as i32;
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(Ok(HealthCheckResponse { status, .. })) = stream.next().await {
                if status == wanted {
                    return;
                }
            }
            panic!("the health stream ended");
        })
        .await;
        assert!(waited.is_ok(), "{service:?} never became {status:?}");
    }

    /// The health service's current answer for `service`.
    pub async fn health(&self, service: &str) -> ServingStatus {
        let answer = HealthClient::new(self.channel.clone())
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner();
        ServingStatus::try_from(answer.status).expect("a known status")
    }

    pub async fn set_upstream_healthy(&self, healthy: bool) {
        self.http
            .put(format!("{}/sandbox/health", self.sandbox_url))
            .body(serde_json::json!({ "healthy": healthy }).to_string())
            .send()
            .await
            .expect("sandbox answers")
            .error_for_status()
            .expect("health set");
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.sandbox_url))
            .send()
            .await
            .expect("sandbox answers")
            .bytes()
            .await
            .map(|body| serde_json::from_slice(&body).expect("JSON"))
            .expect("a body")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The path a fixture names, with its placeholders filled as the stack fills them.
pub fn fixture_path(template: &str, message_id: &str) -> String {
    template
        .replace("{version}", API_VERSION)
        .replace("{phone_number_id}", PHONE_NUMBER_ID)
        .replace("{message_id}", message_id)
}

/// The URL of a loopback port nothing listens on (it was free a moment ago).
pub async fn closed_port_url() -> String {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    url
}
