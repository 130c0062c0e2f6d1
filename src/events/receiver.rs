//! The webhook receiver, on its own HTTP/1.1 listener (`--webhook-listen`):
//!
//! | request                                        | what                                          |
//! |------------------------------------------------|-----------------------------------------------|
//! | `GET /webhooks/cloud?hub.mode=subscribe&…`     | the Cloud API's verification: echoes `hub.challenge` when `hub.verify_token` is WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN |
//! | `POST /webhooks/cloud`                         | a Cloud notification, signed (`X-Hub-Signature-256`) with WHATSAPP_GRPC_APP_SECRET |
//! | `POST /webhooks/on-premises/{sender}/{secret}` | an On-Premises notification for the sender named, `{secret}` being WHATSAPP_GRPC_WEBHOOK_SECRET |
//!
//! The On-Premises client's webhook setting is a URL and nothing else (no header, no signature), so
//! its shared secret travels in the URL's path, where it is compared in constant time; this
//! service never logs paths, and the URL should be served over TLS (an Ingress) like the Cloud one.
//!
//! A notification is answered 200 only once its events are stored ([`EventStore::publish`]); when
//! the store fails it is answered 503 and the API delivers it again (a redelivery is deduplicated
//! by the store, by `event_id`). Refused requests store nothing and are counted by reason.
//!
//! Bounded: bodies of at most [`MAX_BODY_BYTES`] (413 beyond), at most [`parse::MAX_EVENTS`]
//! events per delivery, [`MAX_CONNECTIONS`] connections (one more is closed at once), headers read
//! within [`HEADER_READ_TIMEOUT`] and bodies within [`BODY_READ_TIMEOUT`], the store given
//! [`PUBLISH_TIMEOUT`]. Nothing of a body (text, phone numbers) and no secret is logged.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::{Body as _, Incoming};
use prost_types::Timestamp;
use tokio::net::TcpListener;

use super::parse::{self, ParseError, Parsed};
use super::signature;
use super::store::EventStore;
use crate::flavor::Flavor;
use crate::http_listener::{self, Bounds};
use crate::metrics::Metrics;
use crate::metrics::webhooks::{RefusedReason, WebhookFlavor};
use crate::senders::Senders;
use crate::upstream::Secret;
use tracing::Instrument as _;
use tracing::field::Empty;

/// The Cloud API's callback path (verification and notifications).
pub const CLOUD_PATH: &str = "/webhooks/cloud";
/// The On-Premises callback paths' prefix: `{ON_PREMISES_PREFIX}{sender}/{secret}`.
pub const ON_PREMISES_PREFIX: &str = "/webhooks/on-premises/";
/// The largest body accepted: the Cloud API documents notifications of up to 3 MB.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// Connections open at once.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the store gets to store a delivery's events before the delivery is answered 503.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection lives, however busy (the API reconnects).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// The largest request head read.
const MAX_BUF_BYTES: usize = 16 * 1024;

/// The receiver's secrets, read from the environment only; its `Debug` shows which are set.
#[derive(Clone, Default)]
pub struct WebhookConfig {
    /// WHATSAPP_GRPC_WEBHOOK_VERIFY_TOKEN: the Cloud verification request's `hub.verify_token`.
    pub verify_token: Option<Secret>,
    /// WHATSAPP_GRPC_APP_SECRET: the key of the Cloud notifications' signatures.
    pub app_secret: Option<Secret>,
    /// WHATSAPP_GRPC_WEBHOOK_SECRET: the On-Premises callback URLs' shared secret.
    pub on_premises_secret: Option<Secret>,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("verify_token", &self.verify_token.is_some())
            .field("app_secret", &self.app_secret.is_some())
            .field("on_premises_secret", &self.on_premises_secret.is_some())
            .finish()
    }
}

/// What the receiver needs, shared by its connections.
pub struct Receiver {
    pub config: WebhookConfig,
    pub store: Arc<dyn EventStore>,
    pub senders: Arc<Senders>,
    pub metrics: Metrics,
}

pub use crate::http_listener::Running;

/// Serves `receiver` on `listener` until the returned guard is dropped.
pub fn start(listener: TcpListener, receiver: Receiver) -> Running {
    let receiver = Arc::new(receiver);
    let bounds = Bounds {
        max_connections: MAX_CONNECTIONS,
        header_read_timeout: HEADER_READ_TIMEOUT,
        connection_lifetime: CONNECTION_LIFETIME,
        max_buf_bytes: MAX_BUF_BYTES,
    };
    http_listener::start(listener, "webhooks", bounds, move |request| {
        let receiver = receiver.clone();
        async move { receiver.answer(request).await }
    })
}

/// Why a request was not answered 200, and how it is answered.
struct Refusal {
    reason: RefusedReason,
    status: StatusCode,
    text: &'static str,
}

fn refuse(reason: RefusedReason) -> Refusal {
    let (status, text) = match reason {
        RefusedReason::Unsigned => (
            StatusCode::UNAUTHORIZED,
            "missing X-Hub-Signature-256: the notification must be signed with the app secret",
        ),
        RefusedReason::BadSignature => (
            StatusCode::FORBIDDEN,
            "X-Hub-Signature-256 does not sign this body with the app secret",
        ),
        RefusedReason::BadSecret => (StatusCode::FORBIDDEN, "wrong webhook secret"),
        RefusedReason::BadVerification => (
            StatusCode::FORBIDDEN,
            "verification refused: hub.mode must be subscribe and hub.verify_token the configured token",
        ),
        RefusedReason::NotConfigured => (
            StatusCode::FORBIDDEN,
            "this service has no secret configured for these webhooks",
        ),
        RefusedReason::UnknownSender => (
            StatusCode::NOT_FOUND,
            "no On-Premises sender is configured with that name",
        ),
        RefusedReason::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
        RefusedReason::BadBody => (
            StatusCode::BAD_REQUEST,
            "the body is not a JSON object, or was not sent in time",
        ),
        RefusedReason::TooManyEvents => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too many events in one delivery",
        ),
        RefusedReason::StoreUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the events could not be stored: deliver again later",
        ),
    };
    Refusal {
        reason,
        status,
        text,
    }
}

fn plain(status: StatusCode, text: &str) -> Response<String> {
    let mut response = Response::new(text.to_owned());
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl Receiver {
    /// The answer to one request.
    async fn answer(&self, request: Request<Incoming>) -> Response<String> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let outcome = if path == CLOUD_PATH {
            match method {
                Method::GET => self
                    .verify(&request)
                    .map(|challenge| plain(StatusCode::OK, &challenge)),
                Method::POST => {
                    self.metrics.webhook_received(WebhookFlavor::Cloud);
                    let span = webhook_span(Flavor::Cloud);
                    let outcome = self.cloud(request).instrument(span.clone()).await;
                    record_outcome(&span, &outcome);
                    outcome
                }
                _ => return not_allowed("GET, POST"),
            }
        } else if let Some(rest) = path.strip_prefix(ON_PREMISES_PREFIX) {
            if method != Method::POST {
                return not_allowed("POST");
            }
            self.metrics.webhook_received(WebhookFlavor::OnPremises);
            let span = webhook_span(Flavor::OnPremises);
            let outcome = self
                .on_premises(rest, request)
                .instrument(span.clone())
                .await;
            record_outcome(&span, &outcome);
            outcome
        } else {
            return plain(
                StatusCode::NOT_FOUND,
                "not found: webhooks are at /webhooks/cloud and /webhooks/on-premises/{sender}/{secret}",
            );
        };
        match outcome {
            Ok(response) => response,
            Err(refusal) => {
                self.metrics.webhook_refused(refusal.reason);
                tracing::debug!(reason = refusal.reason.as_str(), "webhook refused");
                plain(refusal.status, refusal.text)
            }
        }
    }

    /// The Cloud verification request: the challenge, if the mode and token are right.
    fn verify<B>(&self, request: &Request<B>) -> Result<String, Refusal> {
        let Some(token) = &self.config.verify_token else {
            return Err(refuse(RefusedReason::NotConfigured));
        };
        let (mut mode, mut given, mut challenge) = (None, None, None);
        for (key, value) in form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "hub.mode" => mode = Some(value),
                "hub.verify_token" => given = Some(value),
                "hub.challenge" => challenge = Some(value),
                _ => {}
            }
        }
        match (mode, given, challenge) {
            (Some(mode), Some(given), Some(challenge))
                if mode == "subscribe"
                    && signature::same_secret(token.expose().as_bytes(), given.as_bytes())
                    // The challenge is echoed: at most a short token, not markup.
                    && challenge.len() <= 256 =>
            {
                tracing::info!("webhook verification answered");
                Ok(challenge.into_owned())
            }
            _ => Err(refuse(RefusedReason::BadVerification)),
        }
    }

    /// A Cloud notification: signature, then events, then the store.
    async fn cloud(&self, request: Request<Incoming>) -> Result<Response<String>, Refusal> {
        let Some(app_secret) = &self.config.app_secret else {
            return Err(refuse(RefusedReason::NotConfigured));
        };
        let Some(signed) = request.headers().get(signature::HEADER).cloned() else {
            return Err(refuse(RefusedReason::Unsigned));
        };
        let body = read_body(request).await?;
        if !signature::verify(app_secret.expose().as_bytes(), &body, signed.as_bytes()) {
            return Err(refuse(RefusedReason::BadSignature));
        }
        let senders = self.senders.list();
        let sender_of = |phone_number_id: &str| {
            senders
                .iter()
                .find(|sender| {
                    sender.flavor == Flavor::Cloud && sender.phone_number_id == phone_number_id
                })
                .map(|sender| sender.name.clone())
        };
        let parsed = parse::cloud(&body, sender_of, now()).map_err(parse_refusal)?;
        self.publish(parsed).await
    }

    /// An On-Premises notification: `rest` is `{sender}/{secret}`.
    async fn on_premises(
        &self,
        rest: &str,
        request: Request<Incoming>,
    ) -> Result<Response<String>, Refusal> {
        let Some(secret) = &self.config.on_premises_secret else {
            return Err(refuse(RefusedReason::NotConfigured));
        };
        let (name, given) = rest.split_once('/').unwrap_or((rest, ""));
        if !signature::same_secret(secret.expose().as_bytes(), given.as_bytes()) {
            return Err(refuse(RefusedReason::BadSecret));
        }
        let known = self
            .senders
            .list()
            .iter()
            .any(|sender| sender.flavor == Flavor::OnPremises && sender.name == name);
        if !known {
            return Err(refuse(RefusedReason::UnknownSender));
        }
        let body = read_body(request).await?;
        let parsed = parse::on_premises(&body, name, now()).map_err(parse_refusal)?;
        self.publish(parsed).await
    }

    /// Stores the events; 200 once they are stored.
    async fn publish(&self, parsed: Parsed) -> Result<Response<String>, Refusal> {
        let Parsed {
            events,
            unknown_sender,
            other_fields: _,
        } = parsed;
        if unknown_sender > 0 {
            tracing::debug!(
                events = unknown_sender,
                "webhook events of a business number no sender is configured for: not stored"
            );
        }
        if events.is_empty() {
            self.metrics.webhook_events(0, 0, unknown_sender);
            return Ok(plain(StatusCode::OK, "ok"));
        }
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.store.publish(events)).await {
            Ok(Ok(published)) => {
                let span = tracing::Span::current();
                span.record("events_stored", published.stored);
                span.record("events_duplicated", published.duplicates);
                self.metrics
                    .webhook_events(published.stored, published.duplicates, unknown_sender);
                Ok(plain(StatusCode::OK, "ok"))
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "webhook events not stored: answered 503, the API delivers them again");
                Err(refuse(RefusedReason::StoreUnavailable))
            }
            Err(_) => {
                tracing::warn!(
                    timeout = ?PUBLISH_TIMEOUT,
                    "webhook events not stored in time: answered 503, the API delivers them again"
                );
                Err(refuse(RefusedReason::StoreUnavailable))
            }
        }
    }
}

/// The span of one webhook notification: a root span (the API sends no trace context), with what
/// became of it. No sender, phone number or text: only counts and the answer.
fn webhook_span(flavor: Flavor) -> tracing::Span {
    tracing::info_span!(
        "webhook",
        otel.name = "webhook",
        otel.kind = "server",
        otel.status_code = Empty,
        flavor = flavor.as_str(),
        http_status = Empty,
        refused = Empty,
        events_stored = Empty,
        events_duplicated = Empty,
    )
}

/// Records the answer on the webhook's span: its status, and why it was refused.
fn record_outcome(span: &tracing::Span, outcome: &Result<Response<String>, Refusal>) {
    match outcome {
        Ok(response) => {
            span.record("http_status", response.status().as_u16());
        }
        Err(refusal) => {
            span.record("http_status", refusal.status.as_u16());
            span.record("refused", refusal.reason.as_str());
            if refusal.status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
    }
}

fn not_allowed(allow: &'static str) -> Response<String> {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn parse_refusal(error: ParseError) -> Refusal {
    match error {
        ParseError::NotJson => refuse(RefusedReason::BadBody),
        ParseError::TooManyEvents => refuse(RefusedReason::TooManyEvents),
    }
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// The body, at most [`MAX_BODY_BYTES`] of it, within [`BODY_READ_TIMEOUT`].
async fn read_body(request: Request<Incoming>) -> Result<Vec<u8>, Refusal> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(refuse(RefusedReason::TooLarge));
    }
    let mut body = request.into_body();
    let read = async {
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|_| refuse(RefusedReason::BadBody))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > MAX_BODY_BYTES {
                    return Err(refuse(RefusedReason::TooLarge));
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    };
    tokio::time::timeout(BODY_READ_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| Err(refuse(RefusedReason::BadBody)))
}
