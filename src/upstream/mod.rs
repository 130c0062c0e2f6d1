//! The client of the WhatsApp Business API: one pooled HTTP client with keep-alive (rustls; the
//! standard `HTTPS_PROXY`/`NO_PROXY` variables apply), the endpoint URLs and fixed headers built once,
//! credentials, and the answers read back into the wire model or a typed [`UpstreamError`].

mod auth;
mod error;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

pub use auth::{Credentials, Secret};
pub use error::{ApiError, UpstreamError};

use crate::flavor::Flavor;
use crate::telemetry::TraceContext;
use crate::wire::response::{CloudErrorAnswer, HealthAnswer, OnPremisesErrorAnswer, SendAnswer};
use auth::{Auth, Bearer};

/// Where the API is and how to reach it.
#[derive(Clone, Debug)]
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
    pub request_timeout: Duration,
}

/// The client of one API installation.
pub struct Upstream {
    client: reqwest::Client,
    flavor: Flavor,
    /// The send endpoint (and the Cloud read-receipt endpoint; On-Premises read receipts go to
    /// this path followed by the message id). An http(s) URL, so it always has path segments.
    messages_url: Url,
    /// On-Premises `GET /v1/health`; Cloud `GET /{version}/{phone-number-id}`, a cheap probe.
    health_url: Url,
    auth: Auth,
    request_timeout: Duration,
    /// Told the outcome of every message call (not of probes), e.g. by health.
    observer: OnceLock<Arc<dyn Observer>>,
}

/// Something that watches the outcome of the calls to the API, such as its health.
pub trait Observer: Send + Sync {
    /// A message call to the API finished with this outcome.
    fn call_finished(&self, outcome: Result<(), &UpstreamError>);
}

/// An answer that is not an error: its status and body.
struct Answer {
    status: StatusCode,
    body: Bytes,
}

impl Upstream {
    /// A client for `config`, or a sentence saying what is wrong with it.
    pub fn new(config: &UpstreamConfig) -> Result<Upstream, String> {
        // rustls with the ring provider; a second install (several upstreams) is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "the upstream URL {base:?} must start with http:// or https://"
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
            Url::parse(&url).map_err(|e| format!("the upstream URL {url:?} is not a URL: {e}"))
        };
        let (messages_url, health_url) = (parse(messages_url)?, parse(health_url)?);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("whatsapp-grpc/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.extra_ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the upstream CA file is not PEM certificates: {e}"))?;
            if certificates.is_empty() {
                return Err("the upstream CA file holds no certificate".into());
            }
            builder = builder.tls_certs_merge(certificates);
        }
        let client = builder
            .build()
            .map_err(|e| format!("the HTTP client cannot be built: {e}"))?;
        Ok(Upstream {
            client,
            flavor: config.flavor,
            messages_url,
            health_url,
            auth: Auth::new(&config.credentials, format!("{base}/v1/users/login"))?,
            request_timeout: config.request_timeout,
            observer: OnceLock::new(),
        })
    }

    /// Lets `observer` watch the outcome of every message call from now on; only the first
    /// observer set is kept.
    pub fn observe_with(&self, observer: Arc<dyn Observer>) {
        let _ = self.observer.set(observer);
    }

    fn observe<T>(&self, result: &Result<T, UpstreamError>) {
        if let Some(observer) = self.observer.get() {
            observer.call_finished(result.as_ref().map(|_| ()));
        }
    }

    /// The flavor of the API this client talks to.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Sends a message body; the API's answer names the message id.
    pub async fn send_message(
        &self,
        body: Vec<u8>,
        trace: &TraceContext,
    ) -> Result<SendAnswer, UpstreamError> {
        let result = self.send_message_once(body, trace).await;
        self.observe(&result);
        result
    }

    async fn send_message_once(
        &self,
        body: Vec<u8>,
        trace: &TraceContext,
    ) -> Result<SendAnswer, UpstreamError> {
        let answer = self
            .call(
                Method::POST,
                self.messages_url.clone(),
                body.into(),
                Some(trace),
            )
            .await?;
        // A success without a message id may still have sent the message: the outcome is unknown.
        let unexpected = |what: &str| UpstreamError::UnexpectedAnswer {
            http_status: answer.status.as_u16(),
            content_type: what.to_owned(),
            retry_after: None,
        };
        let parsed: SendAnswer = serde_json::from_slice(&answer.body)
            .map_err(|_| unexpected("a success without the API's JSON"))?;
        if parsed.messages.is_empty() {
            return Err(unexpected("a success without a message id"));
        }
        Ok(parsed)
    }

    /// Sends a read receipt for `message_id`.
    pub async fn mark_read(
        &self,
        message_id: &str,
        body: Vec<u8>,
        trace: &TraceContext,
    ) -> Result<(), UpstreamError> {
        let result = self.mark_read_once(message_id, body, trace).await;
        self.observe(&result);
        result
    }

    async fn mark_read_once(
        &self,
        message_id: &str,
        body: Vec<u8>,
        trace: &TraceContext,
    ) -> Result<(), UpstreamError> {
        match self.flavor {
            Flavor::Cloud => {
                self.call(
                    Method::POST,
                    self.messages_url.clone(),
                    body.into(),
                    Some(trace),
                )
                .await?;
            }
            Flavor::OnPremises => {
                // `/v1/messages/{message_id}`, the id percent-encoded as one path segment.
                let mut url = self.messages_url.clone();
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.push(message_id);
                }
                self.call(Method::PUT, url, body.into(), Some(trace))
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether the API is up: On-Premises, the gateway is connected; Cloud, the phone number can be
    /// read.
    pub async fn check_health(&self) -> Result<bool, UpstreamError> {
        let answer = self
            .call(Method::GET, self.health_url.clone(), Bytes::new(), None)
            .await?;
        Ok(match self.flavor {
            Flavor::Cloud => true,
            Flavor::OnPremises => serde_json::from_slice::<HealthAnswer>(&answer.body)
                .is_ok_and(|health| health.connected()),
        })
    }

    /// One call with the current bearer, renewed and retried once if the API refuses it (a refused
    /// request was not taken, so the retry cannot send twice).
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Bytes,
        trace: Option<&TraceContext>,
    ) -> Result<Answer, UpstreamError> {
        let bearer = self.auth.bearer(&self.client).await?;
        let response = self
            .request(method.clone(), url.clone(), body.clone(), trace, &bearer)
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some(renewed) = self.auth.renew_after_refusal(&self.client, &bearer).await
        {
            let renewed = renewed?;
            tracing::debug!("the API refused the token; retrying once with a new one");
            let response = self.request(method, url, body, trace, &renewed).await?;
            return self.read(response).await;
        }
        self.read(response).await
    }

    async fn request(
        &self,
        method: Method,
        url: Url,
        body: Bytes,
        trace: Option<&TraceContext>,
        bearer: &Bearer,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut request = self
            .client
            .request(method, url)
            .header(AUTHORIZATION, bearer.header.clone())
            .timeout(self.request_timeout);
        if let Some(trace) = trace {
            request = request.header("traceparent", trace.traceparent.clone());
            if let Some(tracestate) = &trace.tracestate {
                request = request.header("tracestate", tracestate.clone());
            }
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        request.send().await.map_err(|e| self.send_error(e))
    }

    /// Reads an answer: the body of a success, or the error it stands for.
    async fn read(&self, response: reqwest::Response) -> Result<Answer, UpstreamError> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.send_error(e))?;
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        Err(self.error_answer(status, &headers, &body))
    }

    fn error_answer(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> UpstreamError {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let header_trace_id = headers
            .get("x-fb-trace-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let api_error =
            |code, subcode, title: Option<String>, details: Option<String>, fbtrace_id| {
                UpstreamError::Api(Box::new(ApiError {
                    flavor: self.flavor,
                    http_status: status.as_u16(),
                    code,
                    subcode,
                    title: title.unwrap_or_default(),
                    details: details.unwrap_or_default(),
                    fbtrace_id,
                    retry_after,
                }))
            };
        if let Ok(answer) = serde_json::from_slice::<CloudErrorAnswer>(body) {
            let error = answer.error;
            let title = error.error_user_title.or(error.message);
            let details = error.error_data.and_then(|data| data.details);
            return api_error(
                error.code,
                error.error_subcode,
                title,
                details,
                error.fbtrace_id.or(header_trace_id),
            );
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
                .and_then(|value| value.to_str().ok())
                .unwrap_or("no content type")
                .to_owned(),
            retry_after,
        }
    }

    fn send_error(&self, error: reqwest::Error) -> UpstreamError {
        if error.is_timeout() && !error.is_connect() {
            return UpstreamError::TimedOut(self.request_timeout);
        }
        transport_error(error)
    }
}

/// What a transport failure means for the message: a failed connect never sent it; anything later
/// may have.
fn transport_error(error: reqwest::Error) -> UpstreamError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_connect() {
        UpstreamError::Unreachable(text)
    } else {
        UpstreamError::Interrupted(text)
    }
}
