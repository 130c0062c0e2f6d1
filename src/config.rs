//! The command line: every flag also read from an environment variable, and credentials read from the
//! environment only. Each command's flags are turned into one validated config, or one line that
//! says what to fix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::api_keys::ApiKeysConfig;
use crate::flavor::Flavor;
use crate::idempotency::{DEFAULT_MEMORY_ENTRIES, IdempotencyConfig, StoreConfig};
use crate::ratelimit::{LimiterConfig, MAX_PER_SECOND};
use crate::sandbox::SandboxConfig;
use crate::senders::file::{Fallback, SendersFile, process_env};
use crate::senders::{
    BaseUrlProblem, Reload, SenderConfig, check_base_url, valid_api_version, valid_phone_number_id,
};
use crate::server::tls::{DEFAULT_HANDSHAKE_TIMEOUT, TlsConfig};
use crate::server::{ConnectionLimits, SecurityConfig, ServerConfig, ServerLimits, ShutdownConfig};
use crate::telemetry::LogFormat;
use crate::upstream::{
    Credentials, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED, MAX_ATTEMPTS,
    Secret, UpstreamConfig, display_url,
};

/// The Graph API's public base URL, the Cloud API's default upstream.
pub const CLOUD_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version used unless `--api-version` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v24.0";
/// The name of the one sender the single-sender flags configure.
pub const DEFAULT_SENDER: &str = "default";
/// The phone number id the sandbox answers for when none is given.
pub const SANDBOX_PHONE_NUMBER_ID: &str = "100000000000001";

/// whatsapp-grpc: send WhatsApp Business messages through one typed gRPC API.
#[derive(Debug, Parser)]
#[command(name = "whatsapp-grpc", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service.
    Serve(Box<ServeArgs>),
    /// Run the API emulator alone, for development and tests.
    Sandbox(SandboxArgs),
    /// Send one message through a running service and print its id.
    Send(SendArgs),
    /// List the senders of a running service: name, flavor, phone number id, health.
    Senders(SendersArgs),
    /// Print the SHA-256 of an API key read from standard input (a trailing newline is not part of
    /// the key), for the `sha256` of its [[key]] in the --api-keys file.
    HashKey,
}

/// Which API the service talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlavorArg {
    /// The Cloud API (Graph API), hosted by Meta.
    Cloud,
    /// The On-Premises API (retired by Meta in October 2025; installations still run it).
    OnPremises,
}

impl From<FlavorArg> for Flavor {
    fn from(flavor: FlavorArg) -> Flavor {
        match flavor {
            FlavorArg::Cloud => Flavor::Cloud,
            FlavorArg::OnPremises => Flavor::OnPremises,
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "Credentials come from the environment only:\n  \
    WHATSAPP_ACCESS_TOKEN                   a static bearer token (Cloud system-user token, or On-Premises)\n  \
    WHATSAPP_USERNAME, WHATSAPP_PASSWORD    On-Premises: the service logs in and renews its token\n\n\
    With --senders, each sender of the file names its own credentials (token_env or token_file;\n\
    On-Premises: username with password_env or password_file).")]
pub struct ServeArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "WHATSAPP_GRPC_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,

    /// Address of a separate listener serving Prometheus metrics at GET /metrics, e.g.
    /// 0.0.0.0:9090; unset, no metrics are served (or recorded).
    #[arg(long, env = "WHATSAPP_GRPC_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Address of a separate plaintext listener serving only grpc.health.v1, for Kubernetes' gRPC
    /// probes when --tls-cert is on (the kubelet's probe cannot do TLS), e.g. 0.0.0.0:8086.
    #[arg(long, env = "WHATSAPP_GRPC_HEALTH_LISTEN", value_name = "ADDR")]
    pub health_listen: Option<SocketAddr>,

    /// A TOML file listing the senders (several business numbers), read again on SIGHUP. Then
    /// --flavor, --api-version and the --upstream-* limits are the senders' defaults (a sender's
    /// own key > the file's [defaults] > the flag > its built-in default).
    #[arg(
        long,
        env = "WHATSAPP_GRPC_SENDERS",
        conflicts_with_all = ["phone_number_id", "upstream_url", "upstream_ca_file"]
    )]
    pub senders: Option<PathBuf>,

    /// Base URL of the API. Cloud defaults to the Graph API's public URL; On-Premises has no default.
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_URL")]
    pub upstream_url: Option<String>,

    /// Which API the upstream is.
    #[arg(
        long,
        env = "WHATSAPP_GRPC_FLAVOR",
        value_enum,
        default_value = "cloud"
    )]
    pub flavor: FlavorArg,

    /// Cloud: the business phone number's id (the `{phone-number-id}` of the messages path).
    #[arg(long, env = "WHATSAPP_PHONE_NUMBER_ID")]
    pub phone_number_id: Option<String>,

    /// Cloud: the Graph API version.
    #[arg(long, env = "WHATSAPP_API_VERSION", default_value = DEFAULT_API_VERSION)]
    pub api_version: String,

    /// A PEM file of extra CA certificates to trust for the upstream (private On-Premises certificates).
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_CA_FILE")]
    pub upstream_ca_file: Option<PathBuf>,

    /// How long to wait for the API's answer, e.g. `30s` or `500ms`.
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// How long to wait for a connection to the API.
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub upstream_connect_timeout: Duration,

    /// How often to probe the API's health.
    #[arg(long, env = "WHATSAPP_GRPC_HEALTH_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub health_interval: Duration,

    /// How log lines are written.
    #[arg(
        long,
        env = "WHATSAPP_GRPC_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Send to a sandbox started in-process instead of a real API: needs no other flag or
    /// credential, and delivers nothing.
    /// (The variable takes true/false, 1/0, yes/no, on/off.)
    #[arg(long, env = "WHATSAPP_GRPC_SANDBOX", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub sandbox: bool,

    /// Requests to the API in flight at once (and so its connections): a message call holds one
    /// slot for its whole life, login included.
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_MAX_IN_FLIGHT", default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub upstream_max_in_flight: usize,

    /// Calls allowed to wait for a slot to the API (each until its deadline, or
    /// --upstream-timeout); more are refused at once with RESOURCE_EXHAUSTED.
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_MAX_QUEUED", default_value_t = DEFAULT_MAX_QUEUED)]
    pub upstream_max_queued: usize,

    /// Speak HTTP/2 without TLS (h2c, with prior knowledge) to plaintext `http://` upstreams that
    /// serve it, such as a local proxy: a few multiplexed connections instead of one per call in
    /// flight. `https://` upstreams need no flag: HTTP/2 is negotiated in the TLS handshake (ALPN).
    /// (The variable takes true/false, 1/0, yes/no, on/off.)
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_HTTP2_PRIOR_KNOWLEDGE", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub upstream_http2_prior_knowledge: bool,

    /// The deadline of a call whose caller sets none (`grpc-timeout`): everything done for the call,
    /// waiting for a slot and every request to the API included, ends by then.
    #[arg(long, env = "WHATSAPP_GRPC_DEFAULT_DEADLINE", default_value = "60s", value_parser = parse_duration)]
    pub default_deadline: Duration,

    /// Times a message call may be sent when the API cannot have processed it (connection
    /// refused, or the API's own rate limit or not-ready answer); 1 = no retry, at most 10.
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_MAX_ATTEMPTS", default_value_t = DEFAULT_MAX_ATTEMPTS)]
    pub upstream_max_attempts: u32,

    /// gRPC connections open at once; one more is accepted and closed at once.
    #[arg(long, env = "WHATSAPP_GRPC_MAX_CONNECTIONS", default_value_t = ConnectionLimits::default().max_connections)]
    pub max_connections: usize,

    /// Calls at once on one gRPC connection (HTTP/2 MAX_CONCURRENT_STREAMS).
    #[arg(long, env = "WHATSAPP_GRPC_MAX_CONCURRENT_STREAMS", default_value_t = ConnectionLimits::default().max_concurrent_streams)]
    pub max_concurrent_streams: u32,

    /// Calls in progress on the whole server (health checks aside); more are refused at once with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "WHATSAPP_GRPC_MAX_CALLS", default_value_t = ServerLimits::default().max_calls)]
    pub max_calls: usize,

    /// How often an idle gRPC connection is pinged (HTTP/2 keep-alive).
    #[arg(long, env = "WHATSAPP_GRPC_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub keepalive_interval: Duration,

    /// How long a keep-alive ping may go unanswered before the connection is closed.
    #[arg(long, env = "WHATSAPP_GRPC_KEEPALIVE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub keepalive_timeout: Duration,

    /// How long a client may send nothing (not even a ping's answer) before its connection is closed.
    #[arg(long, env = "WHATSAPP_GRPC_IDLE_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// On SIGTERM: how long calls are still served, health already NOT_SERVING, so load balancers
    /// stop routing here first (e.g. 5s on Kubernetes).
    #[arg(long, env = "WHATSAPP_GRPC_PRE_STOP_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub pre_stop_delay: Duration,

    /// On SIGTERM, after the pre-stop delay: how long calls in flight get to finish before the
    /// process exits anyway.
    #[arg(long, env = "WHATSAPP_GRPC_SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Where the request_ids seen and their answers are kept: `redis://host:port/db`, shared by
    /// every instance; absent, in this process's memory (at most 100,000 of them).
    #[arg(long, env = "WHATSAPP_GRPC_IDEMPOTENCY_STORE")]
    pub idempotency_store: Option<String>,

    /// Messages each sender sends per second at most, evenly paced with a burst of a tenth of a
    /// second's worth (the Cloud API allows 80 by default, up to 1,000 when upgraded); callers
    /// over it wait for a slot within their deadline. 0 = no limit. A senders file may set it per
    /// sender (`max_messages_per_second`).
    #[arg(long, env = "WHATSAPP_GRPC_MAX_MESSAGES_PER_SECOND", default_value_t = crate::ratelimit::DEFAULT_PER_SECOND)]
    pub max_messages_per_second: u32,

    /// Where the senders' send-rate slots are kept: `redis://host:port/db`, shared by every
    /// instance, or `memory` (each instance has the whole rate). Defaults to the
    /// --idempotency-store's Redis when it is one, else `memory`.
    #[arg(long, env = "WHATSAPP_GRPC_RATE_LIMIT_STORE")]
    pub rate_limit_store: Option<String>,

    /// How long the answer to a request_id is remembered.
    #[arg(long, env = "WHATSAPP_GRPC_IDEMPOTENCY_TTL", default_value = "24h", value_parser = parse_duration)]
    pub idempotency_ttl: Duration,

    /// Serve gRPC over TLS with this PEM certificate chain (the server's certificate first; needs
    /// --tls-key). Read again when it changes, as cert-manager renews it: new connections get the
    /// new certificate.
    #[arg(long, env = "WHATSAPP_GRPC_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "WHATSAPP_GRPC_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by one of these PEM CA certificates (mTLS; needs
    /// --tls-cert).
    #[arg(long, env = "WHATSAPP_GRPC_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// How often the TLS files are checked for a new certificate.
    #[arg(long, env = "WHATSAPP_GRPC_TLS_RELOAD_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub tls_reload_interval: Duration,

    /// Require an API key (`authorization: Bearer <key>`) on every call but health checks: a TOML
    /// file of [[key]] tables, each a `name` and the `sha256` of its key (`whatsapp-grpc hash-key`
    /// prints it). Read again on SIGHUP.
    #[arg(long, env = "WHATSAPP_GRPC_API_KEYS")]
    pub api_keys: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address the emulator listens on.
    #[arg(
        long,
        env = "WHATSAPP_SANDBOX_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// How long the "slow answer" number makes the emulator wait.
    #[arg(long, env = "WHATSAPP_SANDBOX_SLOW_ANSWER", default_value = "30s", value_parser = parse_duration)]
    pub slow_answer: Duration,

    /// How long an On-Premises login token stays valid.
    #[arg(long, env = "WHATSAPP_SANDBOX_TOKEN_LIFETIME", default_value = "7d", value_parser = parse_duration)]
    pub token_lifetime: Duration,

    /// How log lines are written.
    #[arg(
        long,
        env = "WHATSAPP_GRPC_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The service's address: `http://host:port`, or `https://host:port` when it serves TLS.
    #[arg(
        long,
        env = "WHATSAPP_GRPC_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,

    /// With https: PEM CA certificates to trust for the service's certificate, besides the
    /// system's.
    #[arg(long, env = "WHATSAPP_GRPC_SERVER_CA")]
    pub server_ca: Option<PathBuf>,

    /// With https and a service that requires client certificates (mTLS): this PEM certificate
    /// (needs --client-key).
    #[arg(long, env = "WHATSAPP_GRPC_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// The PEM private key of --client-cert.
    #[arg(long, env = "WHATSAPP_GRPC_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// The API key to call with, when the service requires one (`authorization: Bearer`). Prefer
    /// the environment variable: a flag's value is visible to other users of the machine.
    #[arg(long, env = "WHATSAPP_GRPC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// The recipient's phone number or WhatsApp ID.
    #[arg(long, required_unless_present = "json", conflicts_with = "json")]
    pub to: Option<String>,

    /// The text of a text message.
    #[arg(long, requires = "to", conflicts_with = "json")]
    pub text: Option<String>,

    /// A file holding any SendMessageRequest in Protobuf JSON (`-` for standard input).
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// The idempotency key (a UUID) sent with the message.
    #[arg(long)]
    pub request_id: Option<String>,

    /// The sender to send from: its name or Cloud phone number id (needed when the service has
    /// several; `whatsapp-grpc senders` lists them).
    #[arg(long = "from", env = "WHATSAPP_GRPC_FROM")]
    pub from: Option<String>,

    /// How long to wait for the service's answer.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct SendersArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// How long to wait for the service's answer.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Where `serve` sends: a real API, or a sandbox to start in-process first.
#[derive(Clone, Debug)]
pub enum Upstream {
    Real,
    Sandbox(SandboxConfig),
}

/// The validated configuration of `serve`.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Where Prometheus metrics are served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Where health alone is served in plaintext, if anywhere.
    pub health_listen: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub server: ServerConfig,
    pub upstream: Upstream,
}

/// The credentials found in the environment.
#[derive(Clone, Debug, Default)]
pub struct EnvCredentials {
    pub access_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl EnvCredentials {
    /// Reads `WHATSAPP_ACCESS_TOKEN`, `WHATSAPP_USERNAME` and `WHATSAPP_PASSWORD`; empty means unset.
    pub fn from_env() -> EnvCredentials {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|value: &String| !value.is_empty())
        };
        EnvCredentials {
            access_token: var("WHATSAPP_ACCESS_TOKEN"),
            username: var("WHATSAPP_USERNAME"),
            password: var("WHATSAPP_PASSWORD"),
        }
    }
}

impl ServeArgs {
    /// The validated config, or one line saying what to fix.
    pub fn into_config(self, env: EnvCredentials) -> Result<ServeConfig, String> {
        let flavor = Flavor::from(self.flavor);
        for (flag, value) in [
            ("--upstream-timeout", self.upstream_timeout),
            ("--upstream-connect-timeout", self.upstream_connect_timeout),
            ("--health-interval", self.health_interval),
            ("--keepalive-interval", self.keepalive_interval),
            ("--keepalive-timeout", self.keepalive_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--shutdown-grace", self.shutdown_grace),
            ("--default-deadline", self.default_deadline),
            ("--idempotency-ttl", self.idempotency_ttl),
            ("--tls-reload-interval", self.tls_reload_interval),
        ] {
            if value.is_zero() {
                return Err(format!("{flag} must be longer than zero, e.g. 5s"));
            }
        }
        for (flag, value) in [
            ("--max-connections", self.max_connections),
            (
                "--max-concurrent-streams",
                self.max_concurrent_streams as usize,
            ),
            ("--max-calls", self.max_calls),
            ("--upstream-max-in-flight", self.upstream_max_in_flight),
        ] {
            if value == 0 {
                return Err(format!("{flag} must be at least 1"));
            }
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.upstream_max_attempts) {
            return Err(format!(
                "--upstream-max-attempts must be between 1 and {MAX_ATTEMPTS} (1 = no retry)"
            ));
        }
        if self.max_messages_per_second > MAX_PER_SECOND {
            return Err(format!(
                "--max-messages-per-second must be at most {MAX_PER_SECOND} (0 = no limit; the Cloud API allows 80 by default, up to 1,000 when upgraded)"
            ));
        }
        if self.idle_timeout <= self.keepalive_interval {
            return Err(format!(
                "--idle-timeout ({:?}) must be longer than --keepalive-interval ({:?}), or live idle clients are cut off",
                self.idle_timeout, self.keepalive_interval
            ));
        }
        let listeners = [
            ("--listen", Some(self.listen)),
            ("--metrics-listen", self.metrics_listen),
            ("--health-listen", self.health_listen),
        ];
        for (i, (flag, address)) in listeners.iter().enumerate() {
            for (other_flag, other) in &listeners[..i] {
                if let (Some(address), Some(other)) = (address, other)
                    && same_port(*address, *other)
                {
                    return Err(format!(
                        "{flag} {address} takes the port of {other_flag} {other}: give each listener a port of its own (e.g. --metrics-listen 0.0.0.0:9090, --health-listen 0.0.0.0:8086)"
                    ));
                }
            }
        }
        if !valid_api_version(&self.api_version) {
            return Err(format!(
                "--api-version {:?} is not a Graph API version: write it like {DEFAULT_API_VERSION}",
                self.api_version
            ));
        }

        if self.sandbox && self.upstream_http2_prior_knowledge {
            return Err("--upstream-http2-prior-knowledge: the sandbox speaks HTTP/1.1 only; drop the flag (or WHATSAPP_GRPC_UPSTREAM_HTTP2_PRIOR_KNOWLEDGE) with --sandbox".into());
        }
        let prior_knowledge = self.upstream_http2_prior_knowledge;
        let upstream = if self.sandbox {
            Upstream::Sandbox(SandboxConfig::default())
        } else {
            Upstream::Real
        };
        let (senders, reload) = match &self.senders {
            Some(path) => {
                let file = SendersFile {
                    path: path.clone(),
                    fallback: Fallback {
                        flavor,
                        api_version: self.api_version.clone(),
                        upstream_timeout: self.upstream_timeout,
                        upstream_connect_timeout: self.upstream_connect_timeout,
                        upstream_max_in_flight: self.upstream_max_in_flight,
                        upstream_max_queued: self.upstream_max_queued,
                        upstream_max_attempts: self.upstream_max_attempts,
                        max_messages_per_second: self.max_messages_per_second,
                    },
                    sandbox: self.sandbox,
                };
                let senders =
                    with_http2_prior_knowledge(file.read(&process_env)?, prior_knowledge)?;
                // On SIGHUP: the file again, with the environment as it is then.
                let reload = Reload(Arc::new(move || {
                    with_http2_prior_knowledge(file.read(&process_env)?, prior_knowledge)
                }));
                (senders, Some(reload))
            }
            None => (
                with_http2_prior_knowledge(
                    vec![self.default_sender(flavor, env)?],
                    prior_knowledge,
                )?,
                None,
            ),
        };

        let store = match &self.idempotency_store {
            None => StoreConfig::Memory {
                max_entries: DEFAULT_MEMORY_ENTRIES,
            },
            Some(url) if url.starts_with("redis://") => StoreConfig::Redis { url: url.clone() },
            Some(_) => {
                return Err(
                    "--idempotency-store must be a Redis URL such as redis://127.0.0.1:6379/0"
                        .into(),
                );
            }
        };
        let rate_limit = match (self.rate_limit_store.as_deref(), &store) {
            (Some("memory"), _) => LimiterConfig::Memory,
            (Some(url), _) if url.starts_with("redis://") => {
                LimiterConfig::Redis { url: url.into() }
            }
            (Some(_), _) => {
                return Err(
                    "--rate-limit-store must be `memory` or a Redis URL such as redis://127.0.0.1:6379/0"
                        .into(),
                );
            }
            (None, StoreConfig::Redis { url }) => LimiterConfig::Redis { url: url.clone() },
            (None, StoreConfig::Memory { .. }) => LimiterConfig::Memory,
        };
        let idempotency = IdempotencyConfig {
            store,
            ttl: self.idempotency_ttl,
        };
        let security = self.security()?;

        Ok(ServeConfig {
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            health_listen: self.health_listen,
            log_format: self.log_format,
            upstream,
            server: ServerConfig {
                senders,
                reload,
                health_interval: self.health_interval,
                limits: ServerLimits {
                    connections: ConnectionLimits {
                        max_connections: self.max_connections,
                        max_concurrent_streams: self.max_concurrent_streams,
                        keepalive_interval: self.keepalive_interval,
                        keepalive_timeout: self.keepalive_timeout,
                        idle_timeout: self.idle_timeout,
                        ..ConnectionLimits::default()
                    },
                    max_calls: self.max_calls,
                    default_deadline: Some(self.default_deadline),
                },
                shutdown: ShutdownConfig {
                    pre_stop_delay: self.pre_stop_delay,
                    grace: self.shutdown_grace,
                },
                idempotency,
                rate_limit,
                security,
            },
        })
    }

    /// TLS and API keys, their files read and checked now, before anything listens.
    fn security(&self) -> Result<SecurityConfig, String> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
                reload_interval: self.tls_reload_interval,
                handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            }),
            (Some(_), None) => {
                return Err("--tls-cert needs --tls-key (WHATSAPP_GRPC_TLS_KEY): set it to the certificate's PEM private key".into());
            }
            (None, Some(_)) => {
                return Err("--tls-key needs --tls-cert (WHATSAPP_GRPC_TLS_CERT): set it to the PEM certificate chain of the key".into());
            }
            (None, None) if self.tls_client_ca.is_some() => {
                return Err("--tls-client-ca needs TLS: set --tls-cert and --tls-key too".into());
            }
            (None, None) => None,
        };
        if let Some(tls) = &tls {
            tls.load()?;
        }
        let api_keys = match &self.api_keys {
            Some(path) => Some(ApiKeysConfig::read(path.clone())?),
            None => None,
        };
        Ok(SecurityConfig { tls, api_keys })
    }

    /// The one sender the single-sender flags and the environment's credentials configure.
    fn default_sender(&self, flavor: Flavor, env: EnvCredentials) -> Result<SenderConfig, String> {
        let extra_ca_pem = match &self.upstream_ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                format!(
                    "--upstream-ca-file {}: cannot be read ({e}); point it at a PEM file of CA certificates",
                    path.display()
                )
            })?),
            None => None,
        };
        let (base_url, phone_number_id, credentials) = if self.sandbox {
            if self.upstream_url.is_some() {
                return Err("--sandbox runs its own upstream: drop --upstream-url (or WHATSAPP_GRPC_UPSTREAM_URL)".into());
            }
            let sandbox = SandboxConfig::default();
            let credentials = match flavor {
                Flavor::Cloud => {
                    Credentials::AccessToken(Secret::new(sandbox.access_token.clone()))
                }
                // On-Premises logs in, as a real installation would.
                Flavor::OnPremises => Credentials::Login {
                    username: sandbox.username.clone(),
                    password: Secret::new(sandbox.password.clone()),
                },
            };
            let phone_number_id = self
                .phone_number_id
                .clone()
                .unwrap_or_else(|| SANDBOX_PHONE_NUMBER_ID.to_owned());
            // The sandbox's address is known once it listens; `main` fills it in.
            (String::new(), phone_number_id, credentials)
        } else {
            let base_url = match (flavor, self.upstream_url.clone()) {
                (_, Some(url)) => url,
                (Flavor::Cloud, None) => CLOUD_BASE_URL.to_owned(),
                (Flavor::OnPremises, None) => {
                    return Err("--upstream-url (WHATSAPP_GRPC_UPSTREAM_URL) is required with --flavor on-premises: set it to your On-Premises client's base URL, e.g. https://wa.example.internal:9090".into());
                }
            };
            if let Err(problem) = check_base_url(&base_url) {
                let hint = match problem {
                    BaseUrlProblem::Scheme => "",
                    BaseUrlProblem::Userinfo => {
                        ": credentials come from the environment only (WHATSAPP_ACCESS_TOKEN, or WHATSAPP_USERNAME and WHATSAPP_PASSWORD)"
                    }
                };
                return Err(format!(
                    "--upstream-url {:?} {problem}{hint}",
                    display_url(&base_url)
                ));
            }
            let phone_number_id = match (flavor, self.phone_number_id.clone()) {
                (Flavor::Cloud, Some(id)) if valid_phone_number_id(&id) => id,
                (Flavor::Cloud, Some(id)) => {
                    return Err(format!(
                        "--phone-number-id {id:?} must be the numeric id of your business phone number (WhatsApp Manager > Phone numbers)"
                    ));
                }
                (Flavor::Cloud, None) => {
                    return Err("--phone-number-id (WHATSAPP_PHONE_NUMBER_ID) is required with --flavor cloud: set it to your business phone number's id, or try --sandbox".into());
                }
                (Flavor::OnPremises, id) => id.unwrap_or_default(),
            };
            let credentials = credentials(flavor, env)?;
            (base_url, phone_number_id, credentials)
        };

        Ok(SenderConfig {
            name: DEFAULT_SENDER.to_owned(),
            display_phone_number: String::new(),
            max_messages_per_second: self.max_messages_per_second,
            upstream: UpstreamConfig {
                flavor,
                base_url,
                api_version: self.api_version.clone(),
                phone_number_id,
                credentials,
                extra_ca_pem,
                connect_timeout: self.upstream_connect_timeout,
                request_timeout: self.upstream_timeout,
                max_in_flight: self.upstream_max_in_flight,
                max_queued: self.upstream_max_queued,
                max_attempts: self.upstream_max_attempts,
                http2_prior_knowledge: false,
            },
        })
    }
}

/// `--upstream-http2-prior-knowledge` applied to every sender: refused unless each one's API is
/// at an `http://` URL (an `https://` one negotiates HTTP/2 itself).
fn with_http2_prior_knowledge(
    mut senders: Vec<SenderConfig>,
    prior_knowledge: bool,
) -> Result<Vec<SenderConfig>, String> {
    if !prior_knowledge {
        return Ok(senders);
    }
    for sender in &mut senders {
        let url = &sender.upstream.base_url;
        if !url.starts_with("http://") {
            return Err(format!(
                "--upstream-http2-prior-knowledge is for plaintext http:// upstreams, and sender {:?} sends to {:?}: an https:// upstream negotiates HTTP/2 in its TLS handshake without the flag; drop it (or WHATSAPP_GRPC_UPSTREAM_HTTP2_PRIOR_KNOWLEDGE)",
                sender.name,
                display_url(url)
            ));
        }
        sender.upstream.http2_prior_knowledge = true;
    }
    Ok(senders)
}

/// Whether two listeners would take one port (0 asks the OS for a free one: never shared).
fn same_port(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn credentials(flavor: Flavor, env: EnvCredentials) -> Result<Credentials, String> {
    match (flavor, env.access_token, env.username, env.password) {
        (_, Some(_), Some(_), _) | (_, Some(_), _, Some(_)) => Err(
            "set either WHATSAPP_ACCESS_TOKEN or WHATSAPP_USERNAME/WHATSAPP_PASSWORD, not both".into(),
        ),
        (_, Some(token), None, None) => Ok(Credentials::AccessToken(Secret::new(token))),
        (Flavor::OnPremises, None, Some(username), Some(password)) => Ok(Credentials::Login {
            username,
            password: Secret::new(password),
        }),
        (Flavor::OnPremises, None, Some(_), None) => {
            Err("WHATSAPP_USERNAME is set but WHATSAPP_PASSWORD is not: set both to log in".into())
        }
        (Flavor::OnPremises, None, None, Some(_)) => {
            Err("WHATSAPP_PASSWORD is set but WHATSAPP_USERNAME is not: set both to log in".into())
        }
        (Flavor::Cloud, None, Some(_), _) | (Flavor::Cloud, None, None, Some(_)) => Err(
            "the Cloud API takes no username or password: set WHATSAPP_ACCESS_TOKEN to a system-user access token".into(),
        ),
        (Flavor::Cloud, None, None, None) => Err(
            "WHATSAPP_ACCESS_TOKEN is required with --flavor cloud: set it to a system-user access token, or try --sandbox".into(),
        ),
        (Flavor::OnPremises, None, None, None) => Err(
            "credentials are required with --flavor on-premises: set WHATSAPP_USERNAME and WHATSAPP_PASSWORD (or WHATSAPP_ACCESS_TOKEN)".into(),
        ),
    }
}

impl SandboxArgs {
    pub fn sandbox_config(&self) -> SandboxConfig {
        SandboxConfig {
            slow_answer: self.slow_answer,
            token_lifetime: self.token_lifetime,
            ..SandboxConfig::default()
        }
    }
}

/// A duration written `500ms`, `30s`, `5m`, `2h` or `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m, h or d (e.g. 30s)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30s"))?;
    let seconds = |factor: u64| Duration::from_secs(number.saturating_mul(factor));
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(seconds(1)),
        "m" => Ok(seconds(60)),
        "h" => Ok(seconds(3600)),
        "d" => Ok(seconds(86_400)),
        _ => Err(format!(
            "{text:?} has an unknown unit: use ms, s, m, h or d"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["whatsapp-grpc", "serve"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Serve(args) => *args,
            _ => unreachable!(),
        }
    }

    fn token() -> EnvCredentials {
        EnvCredentials {
            access_token: Some("t".into()),
            ..Default::default()
        }
    }

    #[test]
    fn durations_have_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("3w").is_err());
    }

    #[test]
    fn sandbox_needs_nothing_else_on_either_flavor() {
        for flavor in ["cloud", "on-premises"] {
            let config = args(&["--sandbox", "--flavor", flavor])
                .into_config(EnvCredentials::default())
                .expect("valid");
            assert!(matches!(config.upstream, Upstream::Sandbox(_)));
        }
        let error = args(&["--sandbox", "--upstream-url", "http://x"])
            .into_config(EnvCredentials::default())
            .unwrap_err();
        assert!(error.contains("--upstream-url"), "{error}");
    }

    #[test]
    fn attempts_are_one_to_ten_and_three_by_default() {
        let config = args(&["--phone-number-id", "123"])
            .into_config(token())
            .expect("valid");
        assert_eq!(
            config.server.senders[0].upstream.max_attempts,
            DEFAULT_MAX_ATTEMPTS
        );
        let config = args(&["--phone-number-id", "123", "--upstream-max-attempts", "1"])
            .into_config(token())
            .expect("1 = no retry");
        assert_eq!(config.server.senders[0].upstream.max_attempts, 1);
        for bad in ["0", "11"] {
            let error = args(&["--phone-number-id", "123", "--upstream-max-attempts", bad])
                .into_config(token())
                .unwrap_err();
            assert!(error.contains("--upstream-max-attempts"), "{error}");
        }
    }

    #[test]
    fn cloud_needs_a_phone_number_id_and_a_token() {
        let error = args(&[]).into_config(token()).unwrap_err();
        assert!(error.contains("--phone-number-id"), "{error}");
        let error = args(&["--phone-number-id", "12ab"])
            .into_config(token())
            .unwrap_err();
        assert!(error.contains("numeric"), "{error}");
        let error = args(&["--phone-number-id", "123"])
            .into_config(EnvCredentials::default())
            .unwrap_err();
        assert!(error.contains("WHATSAPP_ACCESS_TOKEN"), "{error}");
        let config = args(&["--phone-number-id", "123"])
            .into_config(token())
            .expect("valid");
        assert_eq!(config.server.senders[0].upstream.base_url, CLOUD_BASE_URL);
    }

    #[test]
    fn on_premises_needs_a_url_and_both_login_parts() {
        let login = |username: Option<&str>, password: Option<&str>| EnvCredentials {
            access_token: None,
            username: username.map(str::to_owned),
            password: password.map(str::to_owned),
        };
        let error = args(&["--flavor", "on-premises"])
            .into_config(login(Some("u"), Some("p")))
            .unwrap_err();
        assert!(error.contains("--upstream-url"), "{error}");
        let on_prem = || {
            args(&[
                "--flavor",
                "on-premises",
                "--upstream-url",
                "https://wa.internal",
            ])
        };
        let error = on_prem().into_config(login(Some("u"), None)).unwrap_err();
        assert!(error.contains("WHATSAPP_PASSWORD"), "{error}");
        let config = on_prem()
            .into_config(login(Some("u"), Some("p")))
            .expect("valid");
        assert!(matches!(
            config.server.senders[0].upstream.credentials,
            Credentials::Login { .. }
        ));
        let error = args(&["--flavor", "on-premises", "--upstream-url", "wa.internal"])
            .into_config(token())
            .unwrap_err();
        assert!(error.contains("http://"), "{error}");
    }

    #[test]
    fn a_missing_ca_file_says_which() {
        let error = args(&[
            "--phone-number-id",
            "1",
            "--upstream-ca-file",
            "/nonexistent/ca.pem",
        ])
        .into_config(token())
        .unwrap_err();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }

    /// A senders file in the temporary directory, removed when dropped.
    struct SendersToml(PathBuf);

    impl SendersToml {
        fn new(name: &str, text: &str) -> SendersToml {
            let path = std::env::temp_dir().join(format!(
                "whatsapp-grpc-config-{}-{name}.toml",
                std::process::id()
            ));
            std::fs::write(&path, text).expect("writes");
            SendersToml(path)
        }

        fn arg(&self) -> &str {
            self.0.to_str().expect("a UTF-8 path")
        }
    }

    impl Drop for SendersToml {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn senders_conflicts_with_the_single_sender_flags() {
        for flag in [
            ["--phone-number-id", "1"],
            ["--upstream-url", "https://wa.internal"],
            ["--upstream-ca-file", "/etc/ssl/ca.pem"],
        ] {
            let mut argv = vec!["whatsapp-grpc", "serve", "--senders", "senders.toml"];
            argv.extend_from_slice(&flag);
            let error = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{flag:?}"
            );
        }
    }

    #[test]
    fn a_sender_key_beats_the_file_defaults_which_beat_the_flags() {
        let file = SendersToml::new(
            "precedence",
            r#"
            [defaults]
            upstream_timeout = "20s"
            upstream_max_in_flight = 16

            [[sender]]
            name = "own"
            phone_number_id = "1"
            upstream_timeout = "10s"
            api_version = "v22.0"

            [[sender]]
            name = "defaulted"
            phone_number_id = "2"
            "#,
        );
        let config = args(&[
            "--sandbox",
            "--senders",
            file.arg(),
            "--api-version",
            "v23.0",
            "--upstream-timeout",
            "40s",
            "--upstream-max-in-flight",
            "32",
            "--upstream-connect-timeout",
            "7s",
            "--upstream-max-attempts",
            "5",
        ])
        .into_config(EnvCredentials::default())
        .expect("valid");
        assert!(config.server.reload.is_some());
        let [own, defaulted] = &config.server.senders[..] else {
            panic!("two senders: {:?}", config.server.senders);
        };
        // The sender's own key.
        assert_eq!(own.upstream.request_timeout, Duration::from_secs(10));
        assert_eq!(own.upstream.api_version, "v22.0");
        // The file's [defaults] over the flag.
        assert_eq!(defaulted.upstream.request_timeout, Duration::from_secs(20));
        assert_eq!(defaulted.upstream.max_in_flight, 16);
        // The flag where the file says nothing.
        assert_eq!(defaulted.upstream.api_version, "v23.0");
        assert_eq!(defaulted.upstream.connect_timeout, Duration::from_secs(7));
        assert_eq!(defaulted.upstream.max_attempts, 5);
        // The flag's built-in default.
        assert_eq!(defaulted.upstream.max_queued, DEFAULT_MAX_QUEUED);
        assert_eq!(defaulted.upstream.flavor, Flavor::Cloud);
    }

    #[test]
    fn the_reload_reads_the_file_again() {
        let file = SendersToml::new(
            "reload",
            "[[sender]]\nname = \"first\"\nphone_number_id = \"1\"\n",
        );
        let config = args(&["--sandbox", "--senders", file.arg()])
            .into_config(EnvCredentials::default())
            .expect("valid");
        let reload = config.server.reload.expect("a reload");
        std::fs::write(
            &file.0,
            "[[sender]]\nname = \"first\"\nphone_number_id = \"1\"\n\n\
             [[sender]]\nname = \"second\"\nphone_number_id = \"2\"\n",
        )
        .expect("writes");
        let senders = (reload.0)().expect("valid");
        assert_eq!(senders.len(), 2);
        std::fs::write(&file.0, "[[sender]]\nname = \"Bad\"\n").expect("writes");
        let error = (reload.0)().unwrap_err();
        assert!(error.contains("\"Bad\": name must be"), "{error}");
    }

    #[test]
    fn the_idempotency_store_is_memory_unless_a_redis_url_is_given() {
        let config = args(&["--sandbox"])
            .into_config(EnvCredentials::default())
            .expect("valid");
        assert_eq!(config.server.idempotency, IdempotencyConfig::default());
        let config = args(&[
            "--sandbox",
            "--idempotency-store",
            "redis://127.0.0.1:6379/2",
            "--idempotency-ttl",
            "1h",
        ])
        .into_config(EnvCredentials::default())
        .expect("valid");
        assert_eq!(
            config.server.idempotency,
            IdempotencyConfig {
                store: StoreConfig::Redis {
                    url: "redis://127.0.0.1:6379/2".into()
                },
                ttl: Duration::from_secs(3600),
            }
        );
        let error = args(&["--sandbox", "--idempotency-store", "127.0.0.1:6379"])
            .into_config(EnvCredentials::default())
            .unwrap_err();
        assert!(error.contains("redis://"), "{error}");
        let error = args(&["--sandbox", "--idempotency-ttl", "0s"])
            .into_config(EnvCredentials::default())
            .unwrap_err();
        assert!(error.contains("--idempotency-ttl"), "{error}");
    }

    /// A certificate for localhost signed by its own key, another key, and a keys file, in a
    /// temporary directory removed when dropped.
    struct SecurityFiles(PathBuf);

    impl SecurityFiles {
        fn new(name: &str) -> SecurityFiles {
            let dir = std::env::temp_dir().join(format!(
                "whatsapp-grpc-security-{}-{name}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("a directory");
            let key = rcgen::KeyPair::generate().expect("a key");
            let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
                .expect("params")
                .self_signed(&key)
                .expect("a certificate");
            let other = rcgen::KeyPair::generate().expect("another key");
            for (file, text) in [
                ("cert.pem", cert.pem()),
                ("key.pem", key.serialize_pem()),
                ("other-key.pem", other.serialize_pem()),
                ("empty.toml", String::new()),
                (
                    "keys.toml",
                    format!(
                        "[[key]]\nname = \"billing\"\nsha256 = \"{}\"\n",
                        crate::api_keys::hash_key(b"a-long-enough-api-key").expect("a key")
                    ),
                ),
            ] {
                std::fs::write(dir.join(file), text).expect("writes");
            }
            SecurityFiles(dir)
        }

        fn path(&self, file: &str) -> String {
            self.0.join(file).to_str().expect("a UTF-8 path").to_owned()
        }
    }

    impl Drop for SecurityFiles {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn tls_and_api_keys_are_checked_before_anything_listens() {
        let files = SecurityFiles::new("checks");
        let (cert, key, other) = (
            files.path("cert.pem"),
            files.path("key.pem"),
            files.path("other-key.pem"),
        );
        let config = args(&[
            "--sandbox",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &cert,
            "--api-keys",
            &files.path("keys.toml"),
        ])
        .into_config(EnvCredentials::default())
        .expect("valid");
        let tls = config.server.security.tls.expect("TLS");
        assert_eq!(tls.reload_interval, Duration::from_secs(10));
        assert!(tls.client_ca.is_some());
        assert_eq!(config.server.security.api_keys.expect("keys").keys.len(), 1);
        let plain = args(&["--sandbox"])
            .into_config(EnvCredentials::default())
            .expect("valid");
        assert!(plain.server.security.tls.is_none());
        assert!(plain.server.security.api_keys.is_none());

        let missing = "/nonexistent/cert.pem";
        for (flags, expected) in [
            (vec!["--tls-cert", &cert], "--tls-cert needs --tls-key"),
            (vec!["--tls-key", &key], "--tls-key needs --tls-cert"),
            (vec!["--tls-client-ca", &cert], "--tls-client-ca needs TLS"),
            (
                vec!["--tls-cert", missing, "--tls-key", &key],
                "--tls-cert /nonexistent/cert.pem: cannot be read",
            ),
            (
                vec!["--tls-cert", &key, "--tls-key", &key],
                "holds no certificate",
            ),
            (
                vec!["--tls-cert", &cert, "--tls-key", &cert],
                "holds no private key",
            ),
            (
                vec!["--tls-cert", &cert, "--tls-key", &other],
                "does not match the certificate",
            ),
            (
                vec![
                    "--tls-cert",
                    &cert,
                    "--tls-key",
                    &key,
                    "--tls-client-ca",
                    &key,
                ],
                "--tls-client-ca",
            ),
            (
                vec![
                    "--tls-cert",
                    &cert,
                    "--tls-key",
                    &key,
                    "--tls-reload-interval",
                    "0s",
                ],
                "--tls-reload-interval must be longer than zero",
            ),
            (
                vec!["--api-keys", &files.path("empty.toml")],
                "lists no key",
            ),
            (
                vec!["--api-keys", "/nonexistent/keys.toml"],
                "--api-keys /nonexistent/keys.toml: cannot be read",
            ),
        ] {
            let mut all = vec!["--sandbox"];
            all.extend(flags.iter().copied());
            let error = args(&all)
                .into_config(EnvCredentials::default())
                .unwrap_err();
            assert!(error.contains(expected), "{flags:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn the_send_rate_is_80_per_second_in_memory_unless_told_otherwise() {
        let config = args(&["--sandbox"])
            .into_config(EnvCredentials::default())
            .expect("valid");
        assert_eq!(config.server.senders[0].max_messages_per_second, 80);
        assert_eq!(config.server.rate_limit, LimiterConfig::Memory);
        // The idempotency store's Redis is shared for the rate too, unless told otherwise.
        let redis = "redis://127.0.0.1:6379/2";
        let config = args(&["--sandbox", "--idempotency-store", redis])
            .into_config(EnvCredentials::default())
            .expect("valid");
        assert_eq!(
            config.server.rate_limit,
            LimiterConfig::Redis { url: redis.into() }
        );
        let config = args(&[
            "--sandbox",
            "--idempotency-store",
            redis,
            "--rate-limit-store",
            "memory",
            "--max-messages-per-second",
            "0",
        ])
        .into_config(EnvCredentials::default())
        .expect("valid");
        assert_eq!(config.server.rate_limit, LimiterConfig::Memory);
        assert_eq!(config.server.senders[0].max_messages_per_second, 0);
        for (flag, value) in [
            ("--rate-limit-store", "127.0.0.1:6379"),
            ("--max-messages-per-second", "10001"),
        ] {
            let error = args(&["--sandbox", flag, value])
                .into_config(EnvCredentials::default())
                .unwrap_err();
            assert!(error.starts_with(flag), "{error}");
        }
    }

    #[test]
    fn without_senders_there_is_no_reload() {
        let config = args(&["--sandbox"])
            .into_config(EnvCredentials::default())
            .expect("valid");
        assert!(config.server.reload.is_none());
        assert_eq!(config.server.senders[0].name, DEFAULT_SENDER);
    }
}
