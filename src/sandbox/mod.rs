//! The sandbox: an emulator of the WhatsApp Business API for development and tests. It shares no
//! model or validation code with the facade, so what it receives can be compared with the
//! conformance fixtures without circularity: it keeps the raw JSON of every request.
//!
//! One server answers both flavors' paths:
//!
//! | path                                         | flavor      | module        |
//! |----------------------------------------------|-------------|---------------|
//! | `POST /v1/users/login`                       | On-Premises | `on_premises` |
//! | `POST /v1/messages`                          | On-Premises | `on_premises` |
//! | `PUT /v1/messages/{message_id}`              | On-Premises | `on_premises` |
//! | `GET /v1/health`                             | On-Premises | `on_premises` |
//! | `/installations/{installation}/v1/…`         | On-Premises | `on_premises` |
//! | `POST /{version}/{phone_number_id}/messages` | Cloud       | `cloud`       |
//! | `POST /{version}/{phone_number_id}/marketing_messages` | Cloud | `cloud` |
//! | `GET /{version}/{phone_number_id}`           | Cloud       | `cloud`       |
//! | `POST /v1/media`, `GET`/`DELETE /v1/media/{media_id}` | On-Premises | `media` |
//! | `POST /{version}/{phone_number_id}/media`, `GET`/`DELETE /{version}/{media_id}` | Cloud | `media` |
//! | `GET /whatsapp_business/attachments/?mid=…` (a media's `url`) | Cloud | `media` |
//! | `/sandbox/…`                                 | neither     | `control`     |
//!
//! With [`SandboxConfig::webhook`], it posts the Cloud webhooks a real API would (`webhooks`):
//! each accepted Cloud send's statuses, and the customer messages `POST /sandbox/inject-message`
//! makes up.
//!
//! Several business numbers at once: any Cloud phone number id is served (each may have its own
//! token, [`SandboxConfig::cloud_tokens`]), and the four On-Premises endpoints are served both at
//! the root (`/v1/…`) and under `/installations/{installation}`, each prefix a separate
//! installation with its own login tokens and health switch (`installations`).
//!
//! Authentication is in `auth`, the special recipients that trigger the API's errors in
//! `scenarios` (their numbers are [`recipients`]), the error shapes in `answers`, the received
//! log and stats in `state`, the installations in `installations`, made-up identifiers in `ids` and UTC dates in `clock`; the Cloud-only shapes the On-Premises
//! endpoint refuses are recognized in `cloud_only`.
//! The sandbox logs at debug level only, and never tokens, phone numbers or message text.

mod answers;
mod auth;
mod clock;
mod cloud;
mod cloud_only;
mod control;
mod ids;
mod inject;
mod installations;
mod media;
mod on_premises;
mod scenarios;
mod state;
mod webhooks;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};

pub use inject::inject_message;
pub use installations::{MAX_INSTALLATION_NAME_LEN, MAX_INSTALLATIONS};
pub use media::{HeldMedia, MEDIA_MAX_BYTES, MEDIA_MAX_FILES};
pub use scenarios::{BAD_GATEWAY_PAGE, recipients};
pub use state::{ReceivedRequest, SandboxStats};
pub use webhooks::SandboxWebhook;

/// How the sandbox behaves. Its `Debug` shows no token or password.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The static bearer token the sandbox accepts on both flavors (on Cloud, for the phone number
    /// ids without an entry in `cloud_tokens`).
    pub access_token: String,
    /// Cloud access tokens per phone number id: a phone number id listed here accepts only its
    /// own token (any other, the static one included, is the API's 401); the others accept
    /// `access_token`. Empty by default.
    pub cloud_tokens: HashMap<String, String>,
    /// The On-Premises login user (`POST /v1/users/login`, basic auth).
    pub username: String,
    /// The On-Premises login password.
    pub password: String,
    /// How long a login token stays valid.
    pub token_lifetime: Duration,
    /// How long the "slow answer" number makes the sandbox wait before answering.
    pub slow_answer: Duration,
    /// Where the Cloud status webhooks of accepted sends, and injected customer messages, are
    /// posted; `None` (the default) posts none.
    pub webhook: Option<SandboxWebhook>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            access_token: "sandbox-token".into(),
            cloud_tokens: HashMap::new(),
            username: "admin".into(),
            password: "sandbox-password".into(),
            token_lifetime: Duration::from_secs(7 * 24 * 3600),
            slow_answer: Duration::from_secs(30),
            webhook: None,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cloud_ids: Vec<&String> = self.cloud_tokens.keys().collect();
        cloud_ids.sort();
        f.debug_struct("SandboxConfig")
            .field("access_token", &"<redacted>")
            .field("cloud_tokens_for", &cloud_ids)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("token_lifetime", &self.token_lifetime)
            .field("slow_answer", &self.slow_answer)
            .field("webhook", &self.webhook)
            .finish()
    }
}

/// The sandbox's routes, sharing one state built from `config`.
fn router(config: SandboxConfig) -> Router {
    let sandbox = Arc::new(state::Sandbox::new(config));
    Router::new()
        .route("/v1/users/login", post(on_premises::login))
        .route("/v1/messages", post(on_premises::send))
        .route("/v1/messages/{message_id}", put(on_premises::mark_read))
        .route("/v1/health", get(on_premises::health))
        .route(
            "/installations/{installation}/v1/users/login",
            post(on_premises::login),
        )
        .route(
            "/installations/{installation}/v1/messages",
            post(on_premises::send),
        )
        .route(
            "/installations/{installation}/v1/messages/{message_id}",
            put(on_premises::mark_read),
        )
        .route(
            "/installations/{installation}/v1/health",
            get(on_premises::health),
        )
        .route(
            "/{version}/{phone_number_id}/marketing_messages",
            post(cloud::marketing_messages),
        )
        .route(
            "/{version}/{phone_number_id}/messages",
            post(cloud::messages),
        )
        .route(
            "/{version}/{phone_number_id}",
            get(media::cloud_get).delete(media::cloud_delete),
        )
        .route(
            "/{version}/{phone_number_id}/media",
            post(media::cloud_upload).layer(DefaultBodyLimit::max(media::UPLOAD_MAX_BYTES)),
        )
        .route(
            "/whatsapp_business/attachments/",
            get(media::cloud_download),
        )
        .route(
            "/v1/media",
            post(media::on_premises_upload).layer(DefaultBodyLimit::max(media::UPLOAD_MAX_BYTES)),
        )
        .route(
            "/v1/media/{media_id}",
            get(media::on_premises_download).delete(media::on_premises_delete),
        )
        .route(
            "/installations/{installation}/v1/media",
            post(media::on_premises_upload).layer(DefaultBodyLimit::max(media::UPLOAD_MAX_BYTES)),
        )
        .route(
            "/installations/{installation}/v1/media/{media_id}",
            get(media::on_premises_download).delete(media::on_premises_delete),
        )
        .route("/sandbox/media", get(media::held))
        .route(
            "/sandbox/received",
            get(control::received).delete(control::clear_received),
        )
        .route("/sandbox/stats", get(control::stats))
        .route("/sandbox/inject-message", post(control::inject_message))
        .route("/sandbox/revoke-tokens", post(control::revoke_tokens))
        .route("/sandbox/health", put(control::set_health))
        .route(
            "/sandbox/installations/{installation}/health",
            put(control::set_installation_health),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sandbox)
}

/// The answer to a path the sandbox does not serve.
async fn not_found() -> Response {
    answers::neutral_error(StatusCode::NOT_FOUND, "not found")
}

/// The answer to a known path called with the wrong method.
async fn method_not_allowed() -> Response {
    answers::neutral_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// Serves the sandbox on `listener` until `shutdown` completes: from then on it accepts no new
/// connection, and it returns once the requests in flight are answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::debug!(%address, "sandbox listening");
    }
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::debug!("sandbox stopped");
    Ok(())
}
