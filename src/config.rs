//! The command line: every flag also read from an environment variable, and credentials read from the
//! environment only. Each command's flags are turned into one validated config, or one line that
//! says what to fix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::api_keys::ApiKeysConfig;
use crate::events::WebhookConfig;
use crate::events::config::{
    EventStoreConfig, EventStoreKind, MAX_MAX_EVENTS, MAX_RETENTION, MIN_RETENTION,
};
use crate::flavor::Flavor;
use crate::idempotency::{DEFAULT_MEMORY_ENTRIES, IdempotencyConfig, StoreConfig};
use crate::lanes::MAX_LANES;
use crate::ratelimit::{LimiterConfig, MAX_PER_SECOND};
use crate::sandbox::{SandboxConfig, SandboxWebhook};
use crate::senders::file::{CA_FILE_MAX_BYTES, Fallback, SendersFile, process_env, read_bounded};
use crate::senders::{
    BaseUrlProblem, Reload, SenderConfig, check_base_url, valid_api_version, valid_phone_number_id,
};
use crate::server::tls::{DEFAULT_HANDSHAKE_TIMEOUT, TlsConfig};
use crate::server::{ConnectionLimits, SecurityConfig, ServerConfig, ServerLimits, ShutdownConfig};
use crate::telemetry::LogFormat;
use crate::upstream::{
    Credentials, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED, MAX_ATTEMPTS,
    Secret, UpstreamConfig, check, display_url,
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
    /// Upload a media file through a running service and print its media id.
    Upload(UploadArgs),
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
    WHATSAPP_GRPC_ACCESS_TOKEN                        a static bearer token (Cloud system-user token, or On-Premises)\n  \
    WHATSAPP_GRPC_USERNAME, WHATSAPP_GRPC_PASSWORD    On-Premises: the service logs in and renews its token\n\n\
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

    /// Address of a separate HTTP listener receiving the API's webhooks (Cloud at
    /// /webhooks/cloud, On-Premises at /webhooks/on-premises/{sender}/{secret}), e.g.
    /// 0.0.0.0:8443 behind a TLS Ingress; unset, no webhook is received. Needs
    /// WHATSAPP_GRPC_APP_SECRET and WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN for Cloud senders,
    /// WHATSAPP_GRPC_WEBHOOK_SECRET for On-Premises ones.
    #[arg(long, env = "WHATSAPP_GRPC_WEBHOOK_LISTEN", value_name = "ADDR")]
    pub webhook_listen: Option<SocketAddr>,

    /// With --sandbox: where the sandbox posts the status webhooks of the messages it accepts (a
    /// Cloud callback URL, signed with WHATSAPP_GRPC_APP_SECRET). Defaults to this process's own
    /// --webhook-listen; unset without it, the sandbox sends no webhook.
    #[arg(
        long,
        env = "WHATSAPP_GRPC_SANDBOX_WEBHOOK_URL",
        value_name = "URL",
        requires = "sandbox"
    )]
    pub sandbox_webhook_url: Option<String>,

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
    #[arg(long, env = "WHATSAPP_GRPC_PHONE_NUMBER_ID")]
    pub phone_number_id: Option<String>,

    /// Cloud: the Graph API version.
    #[arg(long, env = "WHATSAPP_GRPC_API_VERSION", default_value = DEFAULT_API_VERSION)]
    pub api_version: String,

    /// A PEM file of extra CA certificates to trust for the upstream (private On-Premises certificates).
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_CA_FILE")]
    pub upstream_ca_file: Option<PathBuf>,

    /// How long to wait for the API's answer, e.g. `30s` or `500ms`.
    #[arg(long, env = "WHATSAPP_GRPC_UPSTREAM_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// How long opening a connection to the API may take, its TLS handshake included.
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

    /// Threads serving the gRPC connections, each running its own event loop: a connection, its
    /// calls and their requests to the API stay on one thread. Default: the CPUs this process may
    /// use (its cgroup's CPU quota included). At most 256.
    #[arg(long, env = "WHATSAPP_GRPC_THREADS")]
    pub threads: Option<usize>,

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

    /// Where received events wait for their subscribers (EventService): `redis://host:port/db`,
    /// shared by every instance (a webhook received by one reaches subscribers of any), or
    /// `memory` (one instance). Defaults to the --idempotency-store's Redis when it is one, else
    /// `memory`.
    #[arg(long, env = "WHATSAPP_GRPC_EVENT_STORE")]
    pub event_store: Option<String>,

    /// How long an event is kept for its subscribers (acknowledged or not), and its event_id
    /// remembered so a redelivered webhook is stored once. From 1m to 30d.
    #[arg(long, env = "WHATSAPP_GRPC_EVENT_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub event_retention: Duration,

    /// The most events kept. A webhook that does not fit is refused (the API sends it again later)
    /// once the oldest events every consumer group acknowledged are dropped, in memory and in
    /// Redis alike.
    #[arg(long, env = "WHATSAPP_GRPC_EVENT_STORE_MAX_EVENTS", default_value_t = crate::events::config::DEFAULT_MAX_EVENTS)]
    pub event_store_max_events: usize,

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
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    /// Talk to a running sandbox instead of running one.
    #[command(subcommand)]
    pub action: Option<SandboxAction>,

    /// Where the sandbox posts the Cloud webhooks a real API would (each accepted send's
    /// statuses, injected customer messages), signed with WHATSAPP_GRPC_APP_SECRET; unset, none.
    #[arg(long, env = "WHATSAPP_GRPC_SANDBOX_WEBHOOK_URL", value_name = "URL")]
    pub webhook_url: Option<String>,

    /// Address the emulator listens on.
    #[arg(
        long,
        env = "WHATSAPP_GRPC_SANDBOX_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// How long the "slow answer" number makes the emulator wait.
    #[arg(long, env = "WHATSAPP_GRPC_SANDBOX_SLOW_ANSWER", default_value = "30s", value_parser = parse_duration)]
    pub slow_answer: Duration,

    /// How long an On-Premises login token stays valid.
    #[arg(long, env = "WHATSAPP_GRPC_SANDBOX_TOKEN_LIFETIME", default_value = "7d", value_parser = parse_duration)]
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

    /// The text of a text message (with --image-file, the image's caption).
    #[arg(long, requires = "to", conflicts_with = "json")]
    pub text: Option<String>,

    /// Send this image: it is uploaded first (its type guessed from its extension), then sent by
    /// the media id the upload returned.
    #[arg(long, requires = "to", conflicts_with = "json")]
    pub image_file: Option<PathBuf>,

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
pub struct UploadArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// The file to upload.
    pub file: PathBuf,

    /// Its MIME type, such as image/jpeg; guessed from the file's extension when omitted.
    #[arg(long = "type", value_name = "MIME")]
    pub mime_type: Option<String>,

    /// The sender to upload for: its name or Cloud phone number id (the media id can be used in
    /// that sender's messages only).
    #[arg(long = "from", env = "WHATSAPP_GRPC_FROM")]
    pub from: Option<String>,

    /// How long to wait for the upload to finish.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
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
// One value per process, read once at start: boxing the sandbox's config would buy nothing.
#[allow(clippy::large_enum_variant)]
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
    /// Where webhooks are received, if anywhere.
    pub webhook_listen: Option<SocketAddr>,
    /// With --sandbox: where the sandbox posts its webhooks, when not to `webhook_listen`.
    pub sandbox_webhook_url: Option<String>,
    pub log_format: LogFormat,
    pub server: ServerConfig,
    pub upstream: Upstream,
}

/// Environment variables renamed to the `WHATSAPP_GRPC_` prefix, as (old name, new name). An old
/// name is still read when the new one is unset, and `serve` warns about it at start.
pub const RENAMED_VARIABLES: [(&str, &str); 8] = [
    ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_GRPC_ACCESS_TOKEN"),
    ("WHATSAPP_USERNAME", "WHATSAPP_GRPC_USERNAME"),
    ("WHATSAPP_PASSWORD", "WHATSAPP_GRPC_PASSWORD"),
    ("WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_GRPC_PHONE_NUMBER_ID"),
    ("WHATSAPP_API_VERSION", "WHATSAPP_GRPC_API_VERSION"),
    (
        "WHATSAPP_GRPC_SANDBOX_LISTEN",
        "WHATSAPP_GRPC_SANDBOX_LISTEN",
    ),
    (
        "WHATSAPP_SANDBOX_SLOW_ANSWER",
        "WHATSAPP_GRPC_SANDBOX_SLOW_ANSWER",
    ),
    (
        "WHATSAPP_SANDBOX_TOKEN_LIFETIME",
        "WHATSAPP_GRPC_SANDBOX_TOKEN_LIFETIME",
    ),
];

/// A variable of [`RENAMED_VARIABLES`] set under its old name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OldName {
    pub old: &'static str,
    pub new: &'static str,
    /// The new name is set too, so the old one is ignored.
    pub ignored: bool,
}

impl std::fmt::Display for OldName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.ignored {
            write!(
                f,
                "{} is ignored: {} is set too; unset {}",
                self.old, self.new, self.old
            )
        } else {
            write!(
                f,
                "{} is the old name of {}: rename it (the old name is still read, for now)",
                self.old, self.new
            )
        }
    }
}

/// The renamed variables that `env` holds under their old names (empty means unset).
pub fn old_names_in_use(env: &dyn Fn(&str) -> Option<String>) -> Vec<OldName> {
    RENAMED_VARIABLES
        .iter()
        .filter(|(old, _)| env(old).is_some_and(|value| !value.is_empty()))
        .map(|&(old, new)| OldName {
            old,
            new,
            ignored: env(new).is_some_and(|value| !value.is_empty()),
        })
        .collect()
}

impl Cli {
    /// Parses `args` as [`Cli::parse`] does, a renamed variable that `env` holds only under its
    /// old name standing in for the new one (as the flag's default, so a flag or the new name
    /// still wins). Exits with clap's message on a bad command line.
    pub fn parse_with_old_names(
        args: impl IntoIterator<Item = std::ffi::OsString>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command();
        for name in old_names_in_use(env) {
            let Some(value) = env(name.old).filter(|_| !name.ignored) else {
                continue;
            };
            let places: Vec<(String, String)> = command
                .get_subcommands()
                .flat_map(|sub| {
                    sub.get_arguments()
                        .filter(|arg| arg.get_env() == Some(std::ffi::OsStr::new(name.new)))
                        .map(|arg| (sub.get_name().to_owned(), arg.get_id().to_string()))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (sub, id) in places {
                let value = value.clone();
                command = command
                    .mut_subcommand(sub, |sub| sub.mut_arg(id, |arg| arg.default_value(value)));
            }
        }
        let matches = command.get_matches_from(args);
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}

/// The credentials found in the environment.
#[derive(Clone, Debug, Default)]
pub struct EnvCredentials {
    pub access_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// WHATSAPP_GRPC_APP_SECRET: the key of the Cloud webhooks' signatures.
    pub app_secret: Option<String>,
    /// WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN: the Cloud webhook verification's token.
    pub webhook_verify_token: Option<String>,
    /// WHATSAPP_GRPC_WEBHOOK_SECRET: the On-Premises webhooks' shared secret.
    pub webhook_secret: Option<String>,
}

impl EnvCredentials {
    /// Reads `WHATSAPP_GRPC_ACCESS_TOKEN`, `WHATSAPP_GRPC_USERNAME` and `WHATSAPP_GRPC_PASSWORD`
    /// (or, unset, their old names without `GRPC_`); empty means unset.
    pub fn from_env() -> EnvCredentials {
        EnvCredentials::read(&process_env)
    }

    /// As [`EnvCredentials::from_env`], from `env`.
    pub fn read(env: &dyn Fn(&str) -> Option<String>) -> EnvCredentials {
        let var = |new: &str| {
            let set = |name: &str| env(name).filter(|value| !value.is_empty());
            set(new).or_else(|| {
                RENAMED_VARIABLES
                    .iter()
                    .find(|(_, renamed)| *renamed == new)
                    .and_then(|(old, _)| set(old))
            })
        };
        EnvCredentials {
            access_token: var("WHATSAPP_GRPC_ACCESS_TOKEN"),
            username: var("WHATSAPP_GRPC_USERNAME"),
            password: var("WHATSAPP_GRPC_PASSWORD"),
            app_secret: var("WHATSAPP_GRPC_APP_SECRET"),
            webhook_verify_token: var("WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN"),
            webhook_secret: var("WHATSAPP_GRPC_WEBHOOK_SECRET"),
        }
    }
}

impl ServeArgs {
    /// The validated config, or every problem found, one line each, each naming its flag or
    /// variable and what to do. Nothing has been bound or connected to yet.
    pub fn into_config(self, env: EnvCredentials) -> Result<ServeConfig, String> {
        let mut problems: Vec<String> = Vec::new();
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
                problems.push(format!("{flag} must be longer than zero, e.g. 5s"));
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
                problems.push(format!("{flag} must be at least 1"));
            }
        }
        if self
            .threads
            .is_some_and(|threads| !(1..=MAX_LANES).contains(&threads))
        {
            problems.push(format!(
                "--threads must be between 1 and {MAX_LANES}, or unset for one per CPU"
            ));
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.upstream_max_attempts) {
            problems.push(format!(
                "--upstream-max-attempts must be between 1 and {MAX_ATTEMPTS} (1 = no retry)"
            ));
        }
        if self.max_messages_per_second > MAX_PER_SECOND {
            problems.push(format!(
                "--max-messages-per-second must be at most {MAX_PER_SECOND} (0 = no limit; the Cloud API allows 80 by default, up to 1,000 when upgraded)"
            ));
        }
        if self.idle_timeout <= self.keepalive_interval {
            problems.push(format!(
                "--idle-timeout ({:?}) must be longer than --keepalive-interval ({:?}), or live idle clients are cut off",
                self.idle_timeout, self.keepalive_interval
            ));
        }
        let listeners = [
            ("--listen", Some(self.listen)),
            ("--metrics-listen", self.metrics_listen),
            ("--health-listen", self.health_listen),
            ("--webhook-listen", self.webhook_listen),
        ];
        for (i, (flag, address)) in listeners.iter().enumerate() {
            for (other_flag, other) in &listeners[..i] {
                if let (Some(address), Some(other)) = (address, other)
                    && same_port(*address, *other)
                {
                    problems.push(format!(
                        "{flag} {address} takes the port of {other_flag} {other}: give each listener a port of its own (e.g. --metrics-listen 0.0.0.0:9090, --health-listen 0.0.0.0:8086)"
                    ));
                }
            }
        }
        if !valid_api_version(&self.api_version) {
            problems.push(format!(
                "--api-version {:?} (WHATSAPP_GRPC_API_VERSION) is not a Graph API version: write it like {DEFAULT_API_VERSION}",
                self.api_version
            ));
        }

        if self.sandbox && self.upstream_http2_prior_knowledge {
            problems.push("--upstream-http2-prior-knowledge: the sandbox speaks HTTP/1.1 only; drop the flag (or WHATSAPP_GRPC_UPSTREAM_HTTP2_PRIOR_KNOWLEDGE) with --sandbox".into());
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
                let senders = file
                    .read(&process_env)
                    .and_then(|senders| with_http2_prior_knowledge(senders, prior_knowledge))
                    .unwrap_or_else(|lines| {
                        problems.extend(lines.lines().map(str::to_owned));
                        Vec::new()
                    });
                // On SIGHUP: the file again, with the environment as it is then; refused if the
                // webhook receiver, which keeps the secrets it started with, could not serve a new
                // sender's flavor (a Cloud sender with no app secret would get every webhook refused).
                let listening = self.webhook_listen.is_some();
                let started_with = env.clone();
                let reload = Reload(Arc::new(move || {
                    let senders =
                        with_http2_prior_knowledge(file.read(&process_env)?, prior_knowledge)?;
                    webhook_config(listening, &senders, &started_with).map_err(|problems| {
                        format!(
                            "{} (the webhook receiver keeps the secrets it started with: restart with it set)",
                            problems.join("; ")
                        )
                    })?;
                    Ok(senders)
                }));
                (senders, Some(reload))
            }
            None => match self.default_sender(flavor, env.clone()) {
                Ok(sender) => match with_http2_prior_knowledge(vec![sender], prior_knowledge) {
                    Ok(senders) => (senders, None),
                    Err(problem) => {
                        problems.push(problem);
                        (Vec::new(), None)
                    }
                },
                Err(found) => {
                    problems.extend(found);
                    (Vec::new(), None)
                }
            },
        };
        let webhooks = webhook_config(self.webhook_listen.is_some(), &senders, &env)
            .unwrap_or_else(|found| {
                problems.extend(found);
                WebhookConfig::default()
            });
        if let Some(url) = &self.sandbox_webhook_url {
            if let Err(problem) = check_base_url(url) {
                problems.push(format!(
                    "--sandbox-webhook-url {:?} {problem}",
                    display_url(url)
                ));
            }
            if env.app_secret.is_none() {
                problems.push("--sandbox-webhook-url needs WHATSAPP_GRPC_APP_SECRET: the sandbox signs its webhooks with it".into());
            }
        }

        let store = match &self.idempotency_store {
            None => StoreConfig::Memory {
                max_entries: DEFAULT_MEMORY_ENTRIES,
            },
            Some(url) if url.starts_with("redis://") => StoreConfig::Redis { url: url.clone() },
            Some(_) => {
                problems.push(
                    "--idempotency-store must be a Redis URL such as redis://127.0.0.1:6379/0"
                        .into(),
                );
                StoreConfig::Memory {
                    max_entries: DEFAULT_MEMORY_ENTRIES,
                }
            }
        };
        let rate_limit = match (self.rate_limit_store.as_deref(), &store) {
            (Some("memory"), _) => LimiterConfig::Memory,
            (Some(url), _) if url.starts_with("redis://") => {
                LimiterConfig::Redis { url: url.into() }
            }
            (Some(_), _) => {
                problems.push(
                    "--rate-limit-store must be `memory` or a Redis URL such as redis://127.0.0.1:6379/0"
                        .into(),
                );
                LimiterConfig::Memory
            }
            (None, StoreConfig::Redis { url }) => LimiterConfig::Redis { url: url.clone() },
            (None, StoreConfig::Memory { .. }) => LimiterConfig::Memory,
        };
        let events = self.events(&store)?;
        let idempotency = IdempotencyConfig {
            store,
            ttl: self.idempotency_ttl,
        };
        let security = self.security().unwrap_or_else(|problem| {
            problems.push(problem);
            SecurityConfig::default()
        });

        if problems.is_empty() {
            // The clients themselves, built and dropped: whatever the checks above missed is
            // found now rather than after the service says it is serving. (A sandbox sender's
            // address is known once the sandbox listens.)
            for sender in senders.iter().filter(|s| !s.upstream.base_url.is_empty()) {
                if let Err(problem) = crate::upstream::Upstream::new(&sender.upstream) {
                    problems.push(format!("sender {:?}: {problem}", sender.name));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("\n"));
        }

        Ok(ServeConfig {
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            health_listen: self.health_listen,
            webhook_listen: self.webhook_listen,
            sandbox_webhook_url: self.sandbox_webhook_url.clone(),
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
                events,
                security,
                webhooks,
                threads: self.threads.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, |cpus| cpus.get().min(MAX_LANES))
                }),
            },
        })
    }

    /// The event store: the flag's, else the idempotency store's Redis, else memory; bounded.
    fn events(&self, idempotency: &StoreConfig) -> Result<EventStoreConfig, String> {
        let kind = match (self.event_store.as_deref(), idempotency) {
            (Some("memory"), _) => EventStoreKind::Memory,
            (Some(url), _) if url.starts_with("redis://") => {
                EventStoreKind::Redis { url: url.into() }
            }
            (Some(_), _) => {
                return Err(
                    "--event-store must be `memory` or a Redis URL such as redis://127.0.0.1:6379/0"
                        .into(),
                );
            }
            (None, StoreConfig::Redis { url }) => EventStoreKind::Redis { url: url.clone() },
            (None, StoreConfig::Memory { .. }) => EventStoreKind::Memory,
        };
        if !(MIN_RETENTION..=MAX_RETENTION).contains(&self.event_retention) {
            return Err(format!(
                "--event-retention must be between {}m and {}d, e.g. 7d",
                MIN_RETENTION.as_secs() / 60,
                MAX_RETENTION.as_secs() / 86_400
            ));
        }
        if !(1..=MAX_MAX_EVENTS).contains(&self.event_store_max_events) {
            return Err(format!(
                "--event-store-max-events must be between 1 and {MAX_MAX_EVENTS}"
            ));
        }
        Ok(EventStoreConfig {
            kind,
            retention: self.event_retention,
            max_events: self.event_store_max_events,
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

    /// The one sender the single-sender flags and the environment's credentials configure, or
    /// every problem with them.
    fn default_sender(
        &self,
        flavor: Flavor,
        env: EnvCredentials,
    ) -> Result<SenderConfig, Vec<String>> {
        let mut problems = Vec::new();
        let extra_ca_pem = self.upstream_ca_file.as_ref().and_then(|path| {
            let pem = read_bounded(path, CA_FILE_MAX_BYTES)
                .and_then(|pem| check::ca_certificates(&pem).map(|()| pem));
            pem.map_err(|problem| {
                problems.push(format!(
                    "--upstream-ca-file {}: {problem}; point it at a PEM file of CA certificates",
                    path.display()
                ));
            })
            .ok()
        });
        let (base_url, phone_number_id, credentials) = if self.sandbox {
            if self.upstream_url.is_some() {
                problems.push("--sandbox runs its own upstream: drop --upstream-url (or WHATSAPP_GRPC_UPSTREAM_URL)".into());
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
            (String::new(), phone_number_id, Some(credentials))
        } else {
            let base_url = match (flavor, self.upstream_url.clone()) {
                (_, Some(url)) => url,
                (Flavor::Cloud, None) => CLOUD_BASE_URL.to_owned(),
                (Flavor::OnPremises, None) => {
                    problems.push("--upstream-url (WHATSAPP_GRPC_UPSTREAM_URL) is required with --flavor on-premises: set it to your On-Premises client's base URL, e.g. https://wa.example.internal:9090".into());
                    String::new()
                }
            };
            if !base_url.is_empty() {
                let problem = match check_base_url(&base_url) {
                    Err(problem) => {
                        let hint = match problem {
                            BaseUrlProblem::Scheme => "",
                            BaseUrlProblem::Userinfo => {
                                ": credentials come from the environment only (WHATSAPP_GRPC_ACCESS_TOKEN, or WHATSAPP_GRPC_USERNAME and WHATSAPP_GRPC_PASSWORD)"
                            }
                        };
                        Some(format!("{:?} {problem}{hint}", display_url(&base_url)))
                    }
                    Ok(()) => check::base_url(&base_url).err(),
                };
                if let Some(problem) = problem {
                    problems.push(format!(
                        "--upstream-url (WHATSAPP_GRPC_UPSTREAM_URL) {problem}"
                    ));
                }
            }
            let phone_number_id = match (flavor, self.phone_number_id.clone()) {
                (Flavor::Cloud, Some(id)) if valid_phone_number_id(&id) => id,
                (Flavor::Cloud, Some(id)) => {
                    problems.push(format!(
                        "--phone-number-id {id:?} (WHATSAPP_GRPC_PHONE_NUMBER_ID) must be the numeric id of your business phone number (WhatsApp Manager > Phone numbers)"
                    ));
                    id
                }
                (Flavor::Cloud, None) => {
                    problems.push("--phone-number-id (WHATSAPP_GRPC_PHONE_NUMBER_ID) is required with --flavor cloud: set it to your business phone number's id, or try --sandbox".into());
                    String::new()
                }
                (Flavor::OnPremises, id) => id.unwrap_or_default(),
            };
            let credentials = credentials(flavor, env)
                .and_then(|credentials| {
                    let variable = match credentials {
                        Credentials::AccessToken(_) => "WHATSAPP_GRPC_ACCESS_TOKEN",
                        Credentials::Login { .. } => "WHATSAPP_GRPC_USERNAME",
                    };
                    check::credentials(&credentials)
                        .map(|()| credentials)
                        .map_err(|problem| format!("{variable}: {problem}"))
                })
                .map_err(|problem| problems.push(problem))
                .ok();
            (base_url, phone_number_id, credentials)
        };

        match credentials {
            Some(credentials) if problems.is_empty() => Ok(SenderConfig {
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
            }),
            _ => Err(problems),
        }
    }
}

/// The webhook receiver's secrets from the environment; with `listening`, those its senders need
/// must be set (Cloud: the app secret and the verify token; On-Premises: the shared secret).
fn webhook_config(
    listening: bool,
    senders: &[SenderConfig],
    env: &EnvCredentials,
) -> Result<WebhookConfig, Vec<String>> {
    let secret = |value: &Option<String>| value.clone().map(Secret::new);
    let config = WebhookConfig {
        verify_token: secret(&env.webhook_verify_token),
        app_secret: secret(&env.app_secret),
        on_premises_secret: secret(&env.webhook_secret),
    };
    if !listening {
        return Ok(config);
    }
    let mut problems = Vec::new();
    let has = |flavor| {
        senders
            .iter()
            .any(|sender| sender.upstream.flavor == flavor)
    };
    if has(Flavor::Cloud) {
        if config.app_secret.is_none() {
            problems.push("--webhook-listen with a Cloud sender needs WHATSAPP_GRPC_APP_SECRET: set it to the app secret (App Dashboard > App settings > Basic), which signs the webhooks".into());
        }
        if config.verify_token.is_none() {
            problems.push("--webhook-listen with a Cloud sender needs WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN: set it to the verify token entered with the callback URL in the App Dashboard".into());
        }
    }
    if has(Flavor::OnPremises) {
        match &env.webhook_secret {
            None => problems.push("--webhook-listen with an On-Premises sender needs WHATSAPP_GRPC_WEBHOOK_SECRET: set it to a random string of at least 16 characters, and the client's webhook URL to .../webhooks/on-premises/{sender}/{secret}".into()),
            Some(secret) if secret.len() < 16 || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
                problems.push("WHATSAPP_GRPC_WEBHOOK_SECRET must be at least 16 letters, digits, '-' or '_' (it is part of the webhook URL's path)".into());
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
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
            "set either WHATSAPP_GRPC_ACCESS_TOKEN or WHATSAPP_GRPC_USERNAME/WHATSAPP_GRPC_PASSWORD, not both: unset the ones you do not use".into(),
        ),
        (_, Some(token), None, None) => Ok(Credentials::AccessToken(Secret::new(token))),
        (Flavor::OnPremises, None, Some(username), Some(password)) => Ok(Credentials::Login {
            username,
            password: Secret::new(password),
        }),
        (Flavor::OnPremises, None, Some(_), None) => Err(
            "WHATSAPP_GRPC_USERNAME is set but WHATSAPP_GRPC_PASSWORD is not: set both to log in"
                .into(),
        ),
        (Flavor::OnPremises, None, None, Some(_)) => Err(
            "WHATSAPP_GRPC_PASSWORD is set but WHATSAPP_GRPC_USERNAME is not: set both to log in"
                .into(),
        ),
        (Flavor::Cloud, None, Some(_), _) | (Flavor::Cloud, None, None, Some(_)) => Err(
            "the Cloud API takes no username or password: set WHATSAPP_GRPC_ACCESS_TOKEN to a system-user access token instead".into(),
        ),
        (Flavor::Cloud, None, None, None) => Err(
            "WHATSAPP_GRPC_ACCESS_TOKEN is required with --flavor cloud: set it to a system-user access token, or try --sandbox".into(),
        ),
        (Flavor::OnPremises, None, None, None) => Err(
            "credentials are required with --flavor on-premises: set WHATSAPP_GRPC_USERNAME and WHATSAPP_GRPC_PASSWORD (or WHATSAPP_GRPC_ACCESS_TOKEN)".into(),
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

    /// Where the sandbox posts its webhooks (`--webhook-url`, signed with `app_secret`, which it
    /// then needs), if anywhere.
    pub fn webhook(&self, app_secret: Option<String>) -> Result<Option<SandboxWebhook>, String> {
        let Some(url) = &self.webhook_url else {
            return Ok(None);
        };
        check_base_url(url)
            .map_err(|problem| format!("--webhook-url {:?} {problem}", display_url(url)))?;
        let app_secret = app_secret.ok_or(
            "--webhook-url needs WHATSAPP_GRPC_APP_SECRET: the sandbox signs its webhooks with it",
        )?;
        Ok(Some(SandboxWebhook {
            url: url.clone(),
            app_secret,
            on_premises_url: None,
        }))
    }
}

/// What to ask a running sandbox.
#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Make a running sandbox post the webhook of a customer's message (text, template button tap,
    /// reply button or list row) to its webhook URL; prints the message's id.
    InjectMessage(InjectArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("content").required(true).args(["text", "button_payload", "reply_id"]))]
pub struct InjectArgs {
    /// The running sandbox's address (`serve --sandbox` logs it as sandbox_url).
    #[arg(
        long,
        env = "WHATSAPP_GRPC_SANDBOX_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub sandbox_url: String,

    /// The customer's WhatsApp ID (digits).
    #[arg(long)]
    pub from: String,

    /// The business number's phone number id (the sandbox's default when absent).
    #[arg(long)]
    pub phone_number_id: Option<String>,

    /// A text message.
    #[arg(long)]
    pub text: Option<String>,

    /// A tap on a template's quick-reply button: its payload (needs --button-text).
    #[arg(long, requires = "button_text")]
    pub button_payload: Option<String>,

    /// The tapped template button's text.
    #[arg(long, requires = "button_payload")]
    pub button_text: Option<String>,

    /// A tap on a reply button (or, with --list, a list row): its id (needs --reply-title).
    #[arg(long, requires = "reply_title")]
    pub reply_id: Option<String>,

    /// The tapped reply button's or list row's title.
    #[arg(long, requires = "reply_id")]
    pub reply_title: Option<String>,

    /// The reply is a list row choice rather than a reply button tap.
    #[arg(long, requires = "reply_id")]
    pub list: bool,

    /// The id of the message the customer replies to (`context.id`).
    #[arg(long)]
    pub context: Option<String>,

    /// How long to wait for the sandbox's answer.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// A duration written `500ms`, `30s`, `5m`, `2h`, `7d` or combined, `1h30m` (humantime's
/// syntax: a number and a unit, repeated).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} needs a unit: ms, s, m, h or d (e.g. 30s)"
        ));
    }
    humantime::parse_duration(text)
        .map_err(|error| format!("{text:?} is not a duration such as 30s, 5m or 1h30m ({error})"))
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
        assert!(parse_duration("3x").is_err());
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5400)));
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
        assert!(error.contains("WHATSAPP_GRPC_ACCESS_TOKEN"), "{error}");
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
            ..EnvCredentials::default()
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
        assert!(error.contains("WHATSAPP_GRPC_PASSWORD"), "{error}");
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
    fn a_reload_needs_the_webhook_secrets_the_receiver_started_with() {
        let on_premises = "[[sender]]\nname = \"onprem\"\nflavor = \"on-premises\"\n";
        let file = SendersToml::new("reload-webhooks", on_premises);
        let env = EnvCredentials {
            webhook_secret: Some("a-shared-secret-of-24ch".into()),
            ..EnvCredentials::default()
        };
        let listen = ["--sandbox", "--webhook-listen", "127.0.0.1:0"];
        let config = args(&[&listen[..], &["--senders", file.arg()]].concat())
            .into_config(env)
            .expect("valid: an On-Premises sender and its secret");
        let reload = config.server.reload.expect("a reload");
        std::fs::write(
            &file.0,
            format!("{on_premises}\n[[sender]]\nname = \"cloud\"\nphone_number_id = \"1\"\n"),
        )
        .expect("writes");
        let error = (reload.0)().unwrap_err();
        assert!(error.contains("WHATSAPP_GRPC_APP_SECRET"), "{error}");
        assert!(error.contains("restart"), "{error}");
        std::fs::write(
            &file.0,
            format!("{on_premises}\n[[sender]]\nname = \"second\"\nflavor = \"on-premises\"\n"),
        )
        .expect("writes");
        assert_eq!((reload.0)().expect("valid").len(), 2);
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
    fn an_old_variable_name_stands_in_for_the_new_one_below_the_flag() {
        let env = |name: &str| match name {
            "WHATSAPP_API_VERSION" => Some("v21.0".to_owned()),
            "WHATSAPP_ACCESS_TOKEN" => Some("old-token".to_owned()),
            _ => None,
        };
        let parse = |argv: &[&str]| match Cli::parse_with_old_names(
            argv.iter().map(std::ffi::OsString::from),
            &env,
        )
        .command
        {
            Command::Serve(args) => args,
            other => panic!("serve: {other:?}"),
        };
        assert_eq!(parse(&["whatsapp-grpc", "serve"]).api_version, "v21.0");
        assert_eq!(
            parse(&["whatsapp-grpc", "serve", "--api-version", "v22.0"]).api_version,
            "v22.0"
        );
        assert_eq!(
            EnvCredentials::read(&env).access_token.as_deref(),
            Some("old-token")
        );
        let names = old_names_in_use(&env);
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|name| !name.ignored));
        assert!(
            names[0]
                .to_string()
                .contains("WHATSAPP_ACCESS_TOKEN is the old name of WHATSAPP_GRPC_ACCESS_TOKEN")
        );
        // Both names set: the new one is read, the old one said to be ignored.
        let both = |name: &str| match name {
            "WHATSAPP_ACCESS_TOKEN" => Some("old-token".to_owned()),
            "WHATSAPP_GRPC_ACCESS_TOKEN" => Some("new-token".to_owned()),
            _ => None,
        };
        assert_eq!(
            EnvCredentials::read(&both).access_token.as_deref(),
            Some("new-token")
        );
        assert!(old_names_in_use(&both)[0].ignored);
    }

    #[test]
    fn a_webhook_listener_needs_the_secrets_of_its_senders_flavors() {
        let listen = ["--sandbox", "--webhook-listen", "127.0.0.1:0"];
        let cloud = EnvCredentials {
            app_secret: Some("app-secret".into()),
            webhook_verify_token: Some("verify".into()),
            ..EnvCredentials::default()
        };
        let config = args(&listen).into_config(cloud.clone()).expect("valid");
        assert!(config.server.webhooks.app_secret.is_some());
        assert!(config.webhook_listen.is_some());
        for (env, expected) in [
            (
                EnvCredentials {
                    app_secret: None,
                    ..cloud.clone()
                },
                "WHATSAPP_GRPC_APP_SECRET",
            ),
            (
                EnvCredentials {
                    webhook_verify_token: None,
                    ..cloud.clone()
                },
                "WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN",
            ),
        ] {
            let error = args(&listen).into_config(env).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
        // Without the listener, nothing is needed.
        assert!(
            args(&["--sandbox"])
                .into_config(EnvCredentials::default())
                .is_ok()
        );

        let on_premises = [
            "--sandbox",
            "--flavor",
            "on-premises",
            "--webhook-listen",
            "127.0.0.1:0",
        ];
        let error = args(&on_premises)
            .into_config(EnvCredentials::default())
            .unwrap_err();
        assert!(error.contains("WHATSAPP_GRPC_WEBHOOK_SECRET"), "{error}");
        for bad in ["short", "sixteen-chars-but/slash"] {
            let error = args(&on_premises)
                .into_config(EnvCredentials {
                    webhook_secret: Some(bad.into()),
                    ..EnvCredentials::default()
                })
                .unwrap_err();
            assert!(error.contains("at least 16"), "{error}");
        }
        assert!(
            args(&on_premises)
                .into_config(EnvCredentials {
                    webhook_secret: Some("a-long-enough-secret".into()),
                    ..EnvCredentials::default()
                })
                .is_ok()
        );
        let error = args(&[
            "--sandbox",
            "--webhook-listen",
            "127.0.0.1:9090",
            "--metrics-listen",
            "127.0.0.1:9090",
        ])
        .into_config(cloud.clone())
        .unwrap_err();
        assert!(error.contains("--metrics-listen"), "{error}");
        let error = args(&["--sandbox", "--sandbox-webhook-url", "http://127.0.0.1:1/x"])
            .into_config(EnvCredentials::default())
            .unwrap_err();
        assert!(error.contains("WHATSAPP_GRPC_APP_SECRET"), "{error}");
    }

    #[test]
    fn the_event_store_follows_the_idempotency_store_unless_told_otherwise() {
        let config = args(&["--sandbox"])
            .into_config(EnvCredentials::default())
            .expect("valid");
        assert_eq!(config.server.events, EventStoreConfig::default());
        let redis = "redis://127.0.0.1:6379/2";
        let config = args(&["--sandbox", "--idempotency-store", redis])
            .into_config(EnvCredentials::default())
            .expect("valid");
        assert!(
            matches!(&config.server.events.kind, EventStoreKind::Redis { url } if url == redis)
        );
        let config = args(&[
            "--sandbox",
            "--idempotency-store",
            redis,
            "--event-store",
            "memory",
            "--event-retention",
            "1h",
            "--event-store-max-events",
            "500",
        ])
        .into_config(EnvCredentials::default())
        .expect("valid");
        assert_eq!(
            config.server.events,
            EventStoreConfig {
                kind: EventStoreKind::Memory,
                retention: Duration::from_secs(3600),
                max_events: 500,
            }
        );
        for (flag, value) in [
            ("--event-store", "127.0.0.1:6379"),
            ("--event-retention", "30s"),
            ("--event-retention", "31d"),
            ("--event-store-max-events", "0"),
            ("--event-store-max-events", "10000001"),
        ] {
            let error = args(&["--sandbox", flag, value])
                .into_config(EnvCredentials::default())
                .unwrap_err();
            assert!(error.starts_with(flag), "{flag} {value}: {error}");
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
