//! The client of the WhatsApp Business API: the endpoint URLs and fixed headers built once, a
//! pooled HTTP client with keep-alive for the message calls ([`direct`]: hyper with rustls), and
//! `reqwest` for media transfers, the login, and every call when a proxy variable
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, minus `NO_PROXY`) applies to the API; credentials;
//! and the answers read back into the wire model or a typed [`UpstreamError`].
//!
//! Under a hostile or sick upstream it holds: at most `max_in_flight` calls reach the API at once
//! (and, HTTP/1.1 being one request per connection, about as many connections; HTTP/2, offered in
//! the TLS handshake or spoken in plaintext with prior knowledge, multiplexes them), at most
//! `max_queued` callers wait for a slot, every request (the login included) has a timeout and ends
//! by the caller's deadline, answers are read up to [`MAX_ANSWER_BYTES`], redirects are not
//! followed, and whatever the upstream says passes through one [`redact`]or before it can reach a
//! status or a log line.

mod auth;
pub mod check;
mod connect_timeout;
mod direct;
mod error;
mod http2;
mod media;
mod redact;
mod retry;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crate::wire::message::Endpoint;
use bytes::{Bytes, BytesMut};
use http::Uri;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, Span};

pub use auth::{Credentials, Secret};
pub use error::{ApiError, UpstreamError, UpstreamFailure};
pub use media::{DOWNLOAD_CHUNK_MAX, DownloadPart, MEDIA_TRANSFER_TIMEOUT, MediaFile, MediaInfo};
use redact::Redactor;
pub use redact::{MAX_TEXT_CHARS, display_url};
use retry::RetryBudget;
pub use retry::{
    BUDGET_FLOOR as RETRY_BUDGET_FLOOR, DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS, RetryReason,
};

/// The largest answer read from the API, in bytes. Real answers are under 2 KiB; a larger one is
/// refused (as an unexpected answer) without buffering more than this.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The default of [`UpstreamConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// The default of [`UpstreamConfig::max_queued`].
pub const DEFAULT_MAX_QUEUED: usize = 512;

/// When a caller refused for lack of a slot is told to come back.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long a health probe waits for a slot; without one the probe is inconclusive.
const HEALTH_SLOT_WAIT: Duration = Duration::from_secs(1);

/// The longest `Retry-After` passed on; larger values (or dates further ahead) are capped to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

use crate::flavor::Flavor;
use crate::telemetry::TraceContext;
use crate::wire::response::{CloudErrorAnswer, HealthAnswer, OnPremisesErrorAnswer, SendAnswer};
use auth::{Auth, Bearer};
use direct::Direct;
use error::TransportError;

/// Where the API is and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub flavor: Flavor,
    /// The API's base URL, e.g. `https://graph.facebook.com` or `https://wa.example.internal:9090`.
    pub base_url: String,
    /// Cloud: the Graph API version, e.g. `v24.0`.
    pub api_version: String,
    /// Cloud: the business phone number's id.
    pub phone_number_id: String,
    pub credentials: Credentials,
    /// An extra CA certificate (PEM) to trust, for private On-Premises certificates.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    /// The longest wait for one answer of the API (`--upstream-timeout`), the login's included.
    pub request_timeout: Duration,
    /// How many calls may be in flight to the API at once (at least 1;
    /// [`DEFAULT_MAX_IN_FLIGHT`]). A message call holds its slot for its whole life: the login
    /// it may trigger, its retries (and their waits) and the retry after a refused token included. With HTTP/1.1 each call in
    /// flight uses one connection, so this also bounds the connections kept to the API.
    pub max_in_flight: usize,
    /// How many callers may wait for a slot ([`DEFAULT_MAX_QUEUED`]); more are refused at once with
    /// [`UpstreamError::Busy`]. A waiter waits until its deadline (without one, up to
    /// `request_timeout`).
    pub max_queued: usize,
    /// How many times a message call may be sent when the API cannot have processed it
    /// (`--upstream-max-attempts`, 1 to [`MAX_ATTEMPTS`]; [`DEFAULT_MAX_ATTEMPTS`]; 1 = no retry).
    /// See [`retry`] for what is retried; retries happen within the call's slot.
    pub max_attempts: u32,
    /// Speak HTTP/2 without TLS (h2c with prior knowledge): only for an `http://` base URL. An
    /// `https://` API speaks HTTP/2 when it offers it in the TLS handshake (ALPN), HTTP/1.1 otherwise.
    pub http2_prior_knowledge: bool,
}

/// The client of one API installation.
pub struct Upstream {
    /// Media transfers, the login, and every call when a proxy applies (see [`direct`]).
    client: reqwest::Client,
    /// The message calls and probes, unless a proxy applies.
    direct: Option<Direct>,
    flavor: Flavor,
    /// The send endpoint (and the Cloud read-receipt endpoint; On-Premises read receipts go to
    /// this path followed by the message id). An http(s) URL, so it always has path segments.
    messages: Address,
    /// The Cloud API's Marketing Messages API, `/{version}/{phone-number-id}/marketing_messages`;
    /// none on On-Premises (translation refuses marketing messages there).
    marketing_messages: Option<Address>,
    /// On-Premises `GET /v1/health`; Cloud `GET /{version}/{phone-number-id}`, a cheap probe.
    health: Address,
    auth: Auth,
    request_timeout: Duration,
    call_slots: CallSlots,
    max_attempts: u32,
    /// The retries this sender may still add.
    retry_budget: RetryBudget,
    /// A password in the base URL's userinfo (reqwest sends it as basic auth) and the credentials of
    /// the proxy the calls go through: redacted too.
    url_secrets: Vec<String>,
    /// Told the outcome of every message call (not of probes), e.g. by health.
    observer: OnceLock<Arc<dyn Observer>>,
}

/// Something that watches the calls to the API, such as its health or the metrics. Each method
/// is called on the call's task, so it must be cheap and never block; all but
/// [`call_finished`](Observer::call_finished) default to doing nothing.
pub trait Observer: Send + Sync {
    /// A message call to the API finished with this outcome (its last error if it failed; a call
    /// refused before any request, for lack of a slot or time, included).
    fn call_finished(&self, outcome: Result<(), &UpstreamError>);

    /// One request of a message call (each attempt, and the retry after a refused token) ended
    /// after `latency`, answered or not. Probes of the API's health are not reported.
    fn request_finished(&self, _latency: Duration, _outcome: RequestOutcome<'_>) {}

    /// A failed message call is about to be sent again, after its wait, for `reason`.
    fn retrying(&self, _reason: RetryReason) {}

    /// A login to the On-Premises API (the first, or a renewal) ended with this outcome; calls and
    /// probes alike may trigger one.
    fn login_finished(&self, _outcome: Result<(), &UpstreamError>) {}
}

/// Several observers, told in turn.
pub struct Observers(pub Vec<Arc<dyn Observer>>);

impl Observer for Observers {
    fn call_finished(&self, outcome: Result<(), &UpstreamError>) {
        for observer in &self.0 {
            observer.call_finished(outcome);
        }
    }

    fn request_finished(&self, latency: Duration, outcome: RequestOutcome<'_>) {
        for observer in &self.0 {
            observer.request_finished(latency, outcome);
        }
    }

    fn retrying(&self, reason: RetryReason) {
        for observer in &self.0 {
            observer.retrying(reason);
        }
    }

    fn login_finished(&self, outcome: Result<(), &UpstreamError>) {
        for observer in &self.0 {
            observer.login_finished(outcome);
        }
    }
}

/// How one request to the API ended.
#[derive(Clone, Copy, Debug)]
pub enum RequestOutcome<'a> {
    /// The API (or whatever is at its address) answered with this HTTP status, and with its own
    /// error code if its JSON named one.
    Answered {
        http_status: u16,
        api_code: Option<i64>,
    },
    /// No answer came; the error says why.
    NoAnswer(&'a UpstreamError),
}

impl<'a> RequestOutcome<'a> {
    /// The outcome a read answer, or the error of a request, stands for.
    fn of(result: &'a Result<Answer, UpstreamError>) -> RequestOutcome<'a> {
        match result {
            Ok(answer) => RequestOutcome::Answered {
                http_status: answer.status.as_u16(),
                api_code: None,
            },
            Err(UpstreamError::Api(api)) => RequestOutcome::Answered {
                http_status: api.http_status,
                api_code: api.code,
            },
            Err(UpstreamError::UnexpectedAnswer { http_status, .. }) => RequestOutcome::Answered {
                http_status: *http_status,
                api_code: None,
            },
            Err(
                error @ (UpstreamError::Unreachable(_)
                | UpstreamError::TimedOut(_)
                | UpstreamError::Interrupted(_)
                | UpstreamError::Login { .. }
                | UpstreamError::Busy { .. }
                | UpstreamError::DeadlineExceeded { .. }
                | UpstreamError::Local(_)),
            ) => RequestOutcome::NoAnswer(error),
        }
    }
}

/// An endpoint of the API: its URL, and the same as a URI for the direct client, parsed once.
#[derive(Clone, Debug)]
struct Address {
    url: Url,
    uri: Option<Uri>,
}

impl Address {
    fn new(url: Url) -> Address {
        let uri = url.as_str().parse().ok();
        Address { url, uri }
    }
}

/// One request through `reqwest` and its (bounded) answer.
async fn reqwest_exchange(request: reqwest::RequestBuilder) -> Result<RawAnswer, Failed> {
    let mut response = request.send().await.map_err(Failed::Reqwest)?;
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let body = match read_body(&mut response).await {
        Ok(body) => Some(body),
        Err(BodyError::TooLarge) => None,
        Err(BodyError::Transport(error)) => return Err(Failed::Reqwest(error)),
    };
    Ok(RawAnswer {
        status,
        headers,
        body,
    })
}

/// How a request failed, by the client that made it.
enum Failed {
    Reqwest(reqwest::Error),
    Direct(TransportError),
}

/// An answer that is not an error: its status and body.
struct Answer {
    status: StatusCode,
    body: Bytes,
}

/// An answer as it came: status, headers, and the body unless it was larger than
/// [`MAX_ANSWER_BYTES`].
struct RawAnswer {
    status: StatusCode,
    headers: HeaderMap,
    body: Option<Bytes>,
}

/// An answer's body as it is read, within [`MAX_ANSWER_BYTES`]: a `Content-Length` announced over
/// the bound is refused before anything is read, and reading stops at the first chunk that would
/// cross it. Every client of this module reads through it.
struct BoundedBody(BytesMut);

impl BoundedBody {
    /// Room for an announced length (0 when none is announced), or `None` when it is over the
    /// bound.
    fn new(announced: u64) -> Option<BoundedBody> {
        // At most the bound, so it fits in a `usize`.
        (announced <= MAX_ANSWER_BYTES as u64)
            .then(|| BoundedBody(BytesMut::with_capacity(announced as usize)))
    }

    /// As [`BoundedBody::new`], for the length `headers` announce.
    fn announced(headers: &HeaderMap) -> Option<BoundedBody> {
        let announced = headers
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0);
        BoundedBody::new(announced)
    }

    /// Adds `chunk`, or answers `false` (adding nothing) when it would cross the bound.
    fn push(&mut self, chunk: &[u8]) -> bool {
        if self.0.len() + chunk.len() > MAX_ANSWER_BYTES {
            return false;
        }
        self.0.extend_from_slice(chunk);
        true
    }

    fn finish(self) -> Bytes {
        self.0.freeze()
    }
}

/// Why an answer's body could not be read.
enum BodyError {
    /// It is (or announced itself as) larger than [`MAX_ANSWER_BYTES`].
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a body in chunks up to [`MAX_ANSWER_BYTES`], never buffering more; an announced
/// `Content-Length` over the bound is refused before reading anything.
async fn read_body(response: &mut reqwest::Response) -> Result<Bytes, BodyError> {
    let mut body =
        BoundedBody::new(response.content_length().unwrap_or(0)).ok_or(BodyError::TooLarge)?;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if !body.push(&chunk) {
            return Err(BodyError::TooLarge);
        }
    }
    Ok(body.finish())
}

/// The time a call has: the caller's deadline, if any, and the `--upstream-timeout` of each request.
#[derive(Clone, Copy, Debug)]
struct Budget {
    deadline: Option<Instant>,
    request_timeout: Duration,
}

/// The time one request has.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// When it must have been answered.
    until: Instant,
    /// `until`, as a duration from when the request starts.
    timeout: Duration,
    /// Whether the caller's deadline, not `--upstream-timeout`, sets `until`.
    by_deadline: bool,
    request_timeout: Duration,
}

impl Budget {
    fn new(deadline: Option<Instant>, request_timeout: Duration) -> Budget {
        Budget {
            deadline,
            request_timeout,
        }
    }

    /// The time the next request has: `min(request_timeout, remaining)`, or the caller's deadline
    /// error if none is left (nothing was sent for it).
    fn slot(&self) -> Result<Slot, UpstreamError> {
        let now = Instant::now();
        let remaining = self
            .deadline
            .map(|deadline| deadline.saturating_duration_since(now));
        if remaining.is_some_and(|remaining| remaining.is_zero()) {
            return Err(UpstreamError::DeadlineExceeded { sent: false });
        }
        let (timeout, by_deadline) = match remaining {
            Some(remaining) if remaining < self.request_timeout => (remaining, true),
            _ => (self.request_timeout, false),
        };
        Ok(Slot {
            until: later(now, timeout),
            timeout,
            by_deadline,
            request_timeout: self.request_timeout,
        })
    }

    /// Until when to wait for something that is not a request of this call (a slot, another task's
    /// login): the caller's deadline, or `fallback` from now without one; and whether the caller's
    /// deadline is the bound.
    fn wait_until(&self, fallback: Duration) -> (Instant, bool) {
        let fallback = later(Instant::now(), fallback);
        match self.deadline {
            Some(deadline) => (deadline, true),
            None => (fallback, false),
        }
    }
}

impl Slot {
    /// The error for a request that ran out of this slot's time: the caller's deadline, or
    /// `--upstream-timeout`.
    fn expired(&self, sent: bool) -> UpstreamError {
        if self.by_deadline {
            UpstreamError::DeadlineExceeded { sent }
        } else {
            UpstreamError::TimedOut(self.request_timeout)
        }
    }
}

/// `now + duration`, saturating far in the future.
fn later(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// The slots for calls in flight, and the count of callers waiting for one.
struct CallSlots {
    slots: Semaphore,
    waiting: AtomicUsize,
    max_queued: usize,
}

/// Leaves the queue of waiters when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl CallSlots {
    /// A slot, at once if one is free, else after waiting in the queue (if there is room in it)
    /// until `until`. `by_deadline` says whether `until` is the caller's deadline.
    async fn enter(
        &self,
        until: Instant,
        by_deadline: bool,
    ) -> Result<SemaphorePermit<'_>, UpstreamError> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let busy = UpstreamError::Busy {
            retry_after: BUSY_RETRY_AFTER,
        };
        let ahead = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.max_queued {
            return Err(busy);
        }
        match tokio::time::timeout_at(until, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; if it were, no slot would ever come.
            Ok(Err(_closed)) => Err(busy),
            Err(_elapsed) if by_deadline => Err(UpstreamError::DeadlineExceeded { sent: false }),
            Err(_elapsed) => Err(busy),
        }
    }
}

impl Upstream {
    /// A client for `config`, or a sentence saying what is wrong with it.
    pub fn new(config: &UpstreamConfig) -> Result<Upstream, String> {
        // rustls with the ring provider; a second install (several upstreams) is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "the upstream URL {:?} must start with http:// or https://",
                display_url(base)
            ));
        }
        check::base_url(base).map_err(|problem| format!("the upstream URL {problem}"))?;
        check::credentials(&config.credentials)?;
        if config.http2_prior_knowledge && !base.starts_with("http://") {
            return Err(format!(
                "HTTP/2 with prior knowledge is for plaintext http:// upstreams, not {:?} (an https:// upstream negotiates HTTP/2 itself)",
                display_url(base)
            ));
        }
        if !(1..=Semaphore::MAX_PERMITS).contains(&config.max_in_flight) {
            return Err(format!(
                "the number of calls in flight to the upstream must be between 1 and {} (is {})",
                Semaphore::MAX_PERMITS,
                config.max_in_flight
            ));
        }
        if !(1..=MAX_ATTEMPTS).contains(&config.max_attempts) {
            return Err(format!(
                "the attempts per call to the upstream must be between 1 and {MAX_ATTEMPTS} (is {})",
                config.max_attempts
            ));
        }
        let (messages_url, health_url) = match config.flavor {
            Flavor::Cloud => (
                format!(
                    "{base}/{}/{}/messages",
                    config.api_version, config.phone_number_id
                ),
                format!(
                    "{base}/{}/{}?fields=id",
                    config.api_version, config.phone_number_id
                ),
            ),
            Flavor::OnPremises => (format!("{base}/v1/messages"), format!("{base}/v1/health")),
        };
        let parse = |url: String| {
            Url::parse(&url)
                .map_err(|e| format!("the upstream URL {:?} is not a URL: {e}", display_url(&url)))
        };
        let (messages_url, health_url) = (parse(messages_url)?, parse(health_url)?);
        let proxy = hyper_util::client::proxy::matcher::Matcher::from_env();
        let direct = Direct::new(&direct::Settings {
            base_url: base,
            extra_ca_pem: config.extra_ca_pem.as_deref(),
            connect_timeout: config.connect_timeout,
            max_idle_per_host: config.max_in_flight,
            http2_prior_knowledge: config.http2_prior_knowledge,
            proxy: &proxy,
        })?;
        let marketing_messages_url = match config.flavor {
            Flavor::Cloud => Some(parse(format!(
                "{base}/{}/{}/marketing_messages",
                config.api_version, config.phone_number_id
            ))?),
            Flavor::OnPremises => None,
        };
        let url_secrets = messages_url
            .password()
            .map(|password| password.to_owned())
            .into_iter()
            .chain(redact::proxy_secrets(&proxy, messages_url.as_str()))
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            // HTTP/1.1: one request per connection, so no more idle connections than calls in
            // flight are worth keeping. HTTP/2 (offered in the TLS handshake, or with prior
            // knowledge) multiplexes the calls on one connection.
            .pool_max_idle_per_host(config.max_in_flight)
            // A redirect would re-send the message elsewhere (307/308) or turn it into a GET that
            // "succeeds" (302): never followed, a 3xx is an unexpected answer.
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .user_agent(concat!("whatsapp-grpc/", env!("CARGO_PKG_VERSION")));
        if config.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        if let Some(pem) = &config.extra_ca_pem {
            check::ca_certificates(pem)
                .map_err(|problem| format!("the upstream CA file {problem}"))?;
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the upstream CA file is not PEM certificates: {e}"))?;
            if certificates.is_empty() {
                return Err("the upstream CA file holds no certificate".into());
            }
            builder = builder.tls_certs_merge(certificates);
        }
        let client = builder
            .build()
            .map_err(|e| format!("the HTTP client cannot be built: {}", e.without_url()))?;
        Ok(Upstream {
            client,
            direct,
            flavor: config.flavor,
            messages: Address::new(messages_url),
            marketing_messages: marketing_messages_url.map(Address::new),
            health: Address::new(health_url),
            auth: Auth::new(&config.credentials, format!("{base}/v1/users/login"))?,
            request_timeout: config.request_timeout,
            call_slots: CallSlots {
                slots: Semaphore::new(config.max_in_flight),
                waiting: AtomicUsize::new(0),
                max_queued: config.max_queued,
            },
            max_attempts: config.max_attempts,
            retry_budget: RetryBudget::new(),
            url_secrets,
            observer: OnceLock::new(),
        })
    }

    /// The flavor of the API this client talks to.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// How long one request to the API may take.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Sends a message body; the API's answer names the message id. The whole call (waiting for a
    /// slot, the login, the requests, the retries, the retry after a refused token) ends by
    /// `deadline`.
    pub async fn send_message(
        &self,
        body: Vec<u8>,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<SendAnswer, UpstreamFailure> {
        self.send_message_to(Endpoint::Messages, body, trace, deadline)
            .await
    }

    /// [`Upstream::send_message`] to `endpoint`: the messages endpoint, or the Cloud API's
    /// Marketing Messages API.
    pub async fn send_message_to(
        &self,
        endpoint: Endpoint,
        body: Vec<u8>,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<SendAnswer, UpstreamFailure> {
        let url = match (endpoint, &self.marketing_messages) {
            (Endpoint::MarketingMessages, Some(address)) => address,
            // No Marketing Messages API on On-Premises: translation refuses such a message there.
            (Endpoint::MarketingMessages, None) | (Endpoint::Messages, _) => &self.messages,
        };
        let (answer, attempts) = self
            .message_call(Method::POST, url, body.into(), trace, deadline)
            .await?;
        // A success without a message id may still have sent the message: the outcome is unknown.
        let unexpected = |what: &str| UpstreamFailure {
            error: UpstreamError::UnexpectedAnswer {
                http_status: answer.status.as_u16(),
                content_type: what.to_owned(),
                retry_after: None,
            },
            attempts,
        };
        let parsed: SendAnswer = serde_json::from_slice(&answer.body)
            .map_err(|_| unexpected("a success without the API's JSON"))?;
        if parsed.messages.is_empty() {
            return Err(unexpected("a success without a message id"));
        }
        Ok(parsed)
    }

    /// Sends a read receipt for `message_id`, by `deadline` as [`Upstream::send_message`].
    pub async fn mark_read(
        &self,
        message_id: &str,
        body: Vec<u8>,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<(), UpstreamFailure> {
        let (method, url) = match self.flavor {
            Flavor::Cloud => (Method::POST, std::borrow::Cow::Borrowed(&self.messages)),
            Flavor::OnPremises => {
                // `/v1/messages/{message_id}`, the id percent-encoded as one path segment.
                let mut url = self.messages.url.clone();
                url.path_segments_mut()
                    .map_err(|()| UpstreamFailure {
                        error: UpstreamError::Local(
                            "the messages URL cannot take a path segment".into(),
                        ),
                        attempts: 0,
                    })?
                    .push(message_id);
                (Method::PUT, std::borrow::Cow::Owned(Address::new(url)))
            }
        };
        self.message_call(method, &url, body.into(), trace, deadline)
            .await?;
        Ok(())
    }

    /// Whether the API is up: On-Premises, the gateway is connected; Cloud, the phone number can be
    /// read. The probe takes a slot like a message call; when it cannot get one within a second it
    /// answers [`UpstreamError::Busy`], which says nothing of the API's health.
    pub async fn check_health(&self) -> Result<bool, UpstreamError> {
        let budget = Budget::new(None, self.request_timeout);
        let wait = later(Instant::now(), HEALTH_SLOT_WAIT.min(self.request_timeout));
        let _slot = self.call_slots.enter(wait, false).await?;
        let answer = self
            .call(
                Method::GET,
                &self.health,
                Bytes::new(),
                None,
                &budget,
                &mut false,
                false,
            )
            .await?;
        Ok(match self.flavor {
            Flavor::Cloud => true,
            Flavor::OnPremises => serde_json::from_slice::<HealthAnswer>(&answer.body)
                .is_ok_and(|health| health.connected()),
        })
    }

    /// A message call: one slot for its whole life, then [`Upstream::call`], sent again (within
    /// the slot) while the API cannot have processed it, at most `max_attempts` times, as the
    /// retry budget allows, and only if the wait for the next attempt ends (with
    /// [`retry::MIN_ATTEMPT_TIME`] to spare) before the caller's deadline (without one,
    /// `request_timeout` after the call began). Answers the number of
    /// attempts made with the answer or the last error.
    async fn message_call(
        &self,
        method: Method,
        url: &Address,
        body: Bytes,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<(Answer, u32), UpstreamFailure> {
        let began = Instant::now();
        let horizon = deadline.unwrap_or_else(|| later(began, self.request_timeout));
        let budget = Budget::new(deadline, self.request_timeout);
        let (until, by_deadline) = budget.wait_until(self.request_timeout);
        let _slot = match self.call_slots.enter(until, by_deadline).await {
            Ok(slot) => slot,
            Err(error) => {
                if let Some(observer) = self.observer.get() {
                    observer.call_finished(Err(&error));
                }
                return Err(UpstreamFailure { error, attempts: 0 });
            }
        };
        self.retry_budget.call_began(Instant::now());
        let mut attempts = 0;
        let mut tries = 0;
        let result = loop {
            let mut started = false;
            let result = self
                .call(
                    method.clone(),
                    url,
                    body.clone(),
                    Some(trace),
                    &budget,
                    &mut started,
                    true,
                )
                .await;
            tries += 1;
            attempts += u32::from(started);
            let error = match result {
                Ok(answer) => {
                    if attempts > 1 {
                        tracing::debug!(attempts, "the API took the call after retries");
                    }
                    break Ok(answer);
                }
                Err(error) => error,
            };
            let Some(asked) = retry::safe_to_retry(&error) else {
                break Err(error);
            };
            if tries >= self.max_attempts {
                break Err(error);
            }
            let wait = asked.unwrap_or_else(|| retry::backoff(tries - 1));
            let now = Instant::now();
            let resume = later(now, wait);
            if later(resume, retry::MIN_ATTEMPT_TIME) > horizon {
                tracing::debug!(
                    attempts,
                    wait_ms = wait.as_millis() as u64,
                    "no retry: the wait would end after the deadline"
                );
                break Err(error);
            }
            if !self.retry_budget.try_retry(now) {
                tracing::debug!(attempts, "no retry: the sender's retry budget is spent");
                break Err(error);
            }
            tracing::debug!(
                attempts,
                wait_ms = wait.as_millis() as u64,
                %error,
                "the API did not process the call; retrying"
            );
            if let (Some(observer), Some(reason)) =
                (self.observer.get(), retry::retry_reason(&error))
            {
                observer.retrying(reason);
            }
            tokio::time::sleep_until(resume).await;
        };
        if let Some(observer) = self.observer.get() {
            observer.call_finished(result.as_ref().map(|_| ()));
        }
        result
            .map(|answer| (answer, attempts))
            .map_err(|error| UpstreamFailure { error, attempts })
    }

    /// Lets `observer` watch the outcome of every message call from now on; only the first
    /// observer set is kept.
    pub fn observe_with(&self, observer: Arc<dyn Observer>) {
        let _ = self.observer.set(observer);
    }

    /// One call with the current bearer, renewed and retried once if the API refuses it (a refused
    /// request was not taken, so the retry cannot send twice). The caller holds a slot. `started`
    /// becomes true once a request (a connection, then the request) is attempted. `observed` says
    /// whether the observer hears of each request (message calls) or not (probes); it always
    /// hears of logins.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        method: Method,
        url: &Address,
        body: Bytes,
        trace: Option<&TraceContext>,
        budget: &Budget,
        started: &mut bool,
        observed: bool,
    ) -> Result<Answer, UpstreamError> {
        let observer = self.observer.get().map(|observer| observer.as_ref());
        let requests = observer.filter(|_| observed);
        let bearer = self.auth.bearer(&self.client, budget, observer).await?;
        let began = Instant::now();
        let answer = self
            .request(method.clone(), url, &body, trace, &bearer, budget, started)
            .await;
        let latency = began.elapsed();
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                // A request never sent (no time left, or it could not be built) is no request.
                if let Some(observer) = requests.filter(|_| *started) {
                    observer.request_finished(latency, RequestOutcome::NoAnswer(&error));
                }
                return Err(error);
            }
        };
        if answer.status == StatusCode::UNAUTHORIZED
            && let Some(renewed) = self
                .auth
                .renew_after_refusal(&self.client, &bearer, budget, observer)
                .await
        {
            if let Some(observer) = requests {
                observer.request_finished(
                    latency,
                    RequestOutcome::Answered {
                        http_status: answer.status.as_u16(),
                        api_code: None,
                    },
                );
            }
            let renewed = renewed?;
            tracing::debug!("the API refused the token; retrying once with a new one");
            let began = Instant::now();
            let mut sent = false;
            // Boxed: this rare path would otherwise double the size of every call's future.
            let answer =
                Box::pin(self.request(method, url, &body, trace, &renewed, budget, &mut sent))
                    .await
                    .and_then(|answer| self.read(answer, &body));
            if let Some(observer) = requests.filter(|_| sent) {
                observer.request_finished(began.elapsed(), RequestOutcome::of(&answer));
            }
            return answer;
        }
        let answer = self.read(answer, &body);
        if let Some(observer) = requests {
            observer.request_finished(latency, RequestOutcome::of(&answer));
        }
        answer
    }

    /// One request and its (bounded) answer, within the budget's next slot. `started` becomes
    /// true when the request is handed to the HTTP client.
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        method: Method,
        address: &Address,
        body: &Bytes,
        trace: Option<&TraceContext>,
        bearer: &Bearer,
        budget: &Budget,
        started: &mut bool,
    ) -> Result<RawAnswer, UpstreamError> {
        let slot = budget.slot()?;
        // The request as a client span of the call's trace (not for health probes, which have
        // none): its context is the `traceparent` the API receives.
        let span = match trace {
            Some(_) => tracing::debug_span!(
                "upstream request",
                otel.name = method.as_str(),
                otel.kind = "client",
                otel.status_code = Empty,
                http.request.method = method.as_str(),
                http.response.status_code = Empty,
            ),
            None => Span::none(),
        };
        // The whole exchange is bounded below by `slot.until` (one timer per request, not two).
        let mut trace_headers = HeaderMap::new();
        if let Some(trace) = trace {
            trace.inject(&span, &mut trace_headers);
        }
        *started = true;
        // Whether the request may have gone out: a call cut short before it was has sent
        // nothing (it waited for a connection that did not come in time).
        let queued = AtomicBool::new(false);
        // Built in place, inside its timeout: a future is moved whole, and two bindings would
        // keep two copies' room in this one.
        let exchange = tokio::time::timeout_at(slot.until, async {
            if let (Some(direct), Some(uri)) = (&self.direct, &address.uri) {
                return direct
                    .send(
                        method,
                        uri,
                        &bearer.header,
                        trace_headers,
                        body.clone(),
                        &queued,
                    )
                    .await
                    .map_err(Failed::Direct);
            }
            queued.store(true, Ordering::Relaxed);
            // Boxed: `reqwest`'s future is large, and this path rare (a proxy applies).
            let mut request = self
                .client
                .request(method, address.url.clone())
                .header(AUTHORIZATION, bearer.header.clone())
                .headers(trace_headers);
            if !body.is_empty() {
                request = request.body(body.clone());
            }
            Box::pin(reqwest_exchange(request)).await
        })
        .instrument(span.clone());
        let result = exchange.await;
        match &result {
            Ok(Ok(answer)) => {
                span.record("http.response.status_code", answer.status.as_u16());
                if answer.status.is_server_error() {
                    span.record("otel.status_code", "ERROR");
                }
            }
            Ok(Err(_)) | Err(_) => {
                span.record("otel.status_code", "ERROR");
            }
        }
        match result {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(Failed::Reqwest(error))) => {
                // A request the HTTP stack refused to build was never attempted.
                if error.is_builder() {
                    *started = false;
                }
                Err(self.send_error(error, &slot, body))
            }
            Ok(Err(Failed::Direct(error))) => {
                let redactor = self.redactor(body);
                Err(match error {
                    TransportError::NotSent(text) => {
                        UpstreamError::Unreachable(redactor.redact(&text))
                    }
                    TransportError::Broken(text) => {
                        UpstreamError::Interrupted(redactor.redact(&text))
                    }
                })
            }
            Err(_elapsed) => Err(slot.expired(queued.load(Ordering::Relaxed))),
        }
    }

    /// Reads an answer: the body of a success, or the error it stands for.
    fn read(&self, answer: RawAnswer, sent: &[u8]) -> Result<Answer, UpstreamError> {
        let RawAnswer {
            status,
            headers,
            body,
        } = answer;
        let retry_after = retry_after(&headers);
        let unexpected = |what: String| UpstreamError::UnexpectedAnswer {
            http_status: status.as_u16(),
            content_type: what,
            retry_after,
        };
        let Some(body) = body else {
            return Err(unexpected(format!(
                "an answer larger than {MAX_ANSWER_BYTES} bytes"
            )));
        };
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        if status.is_redirection() || status.is_informational() {
            return Err(unexpected("a redirect, not followed".into()));
        }
        Err(self.error_answer(status, &headers, &body, retry_after, sent))
    }

    /// The redactor for what the upstream says about a call that sent `sent`.
    fn redactor(&self, sent: &[u8]) -> Redactor {
        let secrets = self.auth.secrets().into_iter();
        Redactor::new(secrets.chain(self.url_secrets.iter().cloned()), sent)
    }

    fn error_answer(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        retry_after: Option<Duration>,
        sent: &[u8],
    ) -> UpstreamError {
        let redactor = self.redactor(sent);
        let header_trace_id = headers
            .get("x-fb-trace-id")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| redactor.trace_id(value));
        let api_error =
            |code, subcode, title: Option<String>, details: Option<String>, fbtrace_id| {
                // The API's own code and subcode, as its titles quote them, stay readable.
                let redactor = redactor.keeping_codes(&[code, subcode]);
                UpstreamError::Api(Box::new(ApiError {
                    flavor: self.flavor,
                    http_status: status.as_u16(),
                    code,
                    subcode,
                    title: redactor.redact(&title.unwrap_or_default()),
                    details: redactor.redact(&details.unwrap_or_default()),
                    fbtrace_id,
                    retry_after,
                }))
            };
        if let Ok(answer) = serde_json::from_slice::<CloudErrorAnswer>(body) {
            let error = answer.error;
            let title = error.error_user_title.or(error.message);
            let details = error.error_data.and_then(|data| data.details);
            let fbtrace_id = error
                .fbtrace_id
                .and_then(|id| redactor.trace_id(&id))
                .or(header_trace_id);
            return api_error(error.code, error.error_subcode, title, details, fbtrace_id);
        }
        if let Ok(answer) = serde_json::from_slice::<OnPremisesErrorAnswer>(body)
            && let Some(error) = answer.errors.into_iter().next()
        {
            return api_error(
                Some(error.code),
                None,
                error.title,
                error.details,
                header_trace_id,
            );
        }
        UpstreamError::UnexpectedAnswer {
            http_status: status.as_u16(),
            content_type: headers
                .get(CONTENT_TYPE)
                .map(|value| redactor.redact(&String::from_utf8_lossy(value.as_bytes())))
                .unwrap_or_else(|| "no content type".to_owned()),
            retry_after,
        }
    }

    /// What a failed request means for the message: built wrongly here, never sent; out of time,
    /// per the slot; a failed connect, never sent; anything later, maybe sent.
    fn send_error(&self, error: reqwest::Error, slot: &Slot, sent: &[u8]) -> UpstreamError {
        let redactor = self.redactor(sent);
        if error.is_builder() {
            return UpstreamError::Local(error_text(error, &redactor));
        }
        if error.is_timeout() && !error.is_connect() {
            return slot.expired(true);
        }
        transport_error(error, &redactor)
    }
}

/// `Retry-After` as seconds or as an HTTP date (the delay from now, none if past), capped at
/// [`MAX_RETRY_AFTER`].
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// A transport error's text with its causes, without the URL, redacted.
fn error_text(error: reqwest::Error, redactor: &Redactor) -> String {
    redactor.redact(&error::with_causes(&error.without_url()))
}

/// What a transport failure means for the message: a failed connect never sent it; anything later
/// may have.
fn transport_error(error: reqwest::Error, redactor: &Redactor) -> UpstreamError {
    if error.is_connect() {
        UpstreamError::Unreachable(error_text(error, redactor))
    } else {
        UpstreamError::Interrupted(error_text(error, redactor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_read_up_to_its_bound_and_no_further() {
        // An announced length over the bound is refused before anything is read.
        assert!(BoundedBody::new(MAX_ANSWER_BYTES as u64 + 1).is_none());
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_LENGTH,
            HeaderValue::from(MAX_ANSWER_BYTES + 1),
        );
        assert!(BoundedBody::announced(&headers).is_none());
        // Chunks fill it up to the bound exactly; one more byte is refused and not kept.
        let mut body = BoundedBody::announced(&HeaderMap::new()).expect("none announced");
        assert!(body.push(&vec![b'a'; MAX_ANSWER_BYTES - 1]));
        assert!(body.push(b"b"));
        assert!(!body.push(b"c"));
        let read = body.finish();
        assert_eq!(read.len(), MAX_ANSWER_BYTES);
        assert_eq!(read.last(), Some(&b'b'));
    }

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("a header"));
        headers
    }

    #[test]
    fn retry_after_as_seconds_or_a_date() {
        assert_eq!(
            retry_after(&with_retry_after("7")),
            Some(Duration::from_secs(7))
        );
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
        let delay = retry_after(&with_retry_after(&in_a_minute)).expect("a delay");
        assert!(
            (Duration::from_secs(58)..=Duration::from_secs(60)).contains(&delay),
            "{delay:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
        assert_eq!(retry_after(&with_retry_after(&past)), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&with_retry_after("99999999999")),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(&with_retry_after("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
