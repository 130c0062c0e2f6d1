//! The HTTP client of the message path, called with the request built from parts made once (the
//! endpoint's parsed URI, the fixed headers), where `reqwest` would format and parse the URL twice
//! per request and run its redirect and retry layers (together about a fifth of the service's own
//! work per message). HTTP/2 is driven with `h2` directly ([`super::http2`]): over TLS when the
//! API chooses `h2` in the handshake, as the Cloud API does, and in plaintext with prior knowledge
//! when asked; HTTP/1.1 goes through hyper's pooled client.
//!
//! It speaks what `reqwest` spoke: rustls with the platform's roots (plus the extra CA, if any),
//! TCP without Nagle, the same connect timeout and HTTP/1.1 pool. It is used only where it
//! behaves as `reqwest` did: when no proxy variable (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//! minus `NO_PROXY`) applies to the API and its URL carries no user name; otherwise `reqwest`
//! carries the calls as before. Media uploads and downloads (streamed bodies, multipart) and the
//! On-Premises login always go through `reqwest`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::uri::Scheme;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::connect_timeout::ConnectTimeout;
use super::error::{TransportError, with_causes};
use super::http2::{Connections, Connector, Dialer, Sent};
use super::{BoundedBody, RawAnswer};
use crate::lanes::PerLane;

/// The parts of the client's configuration it needs.
pub(super) struct Settings<'a> {
    pub base_url: &'a str,
    pub extra_ca_pem: Option<&'a [u8]>,
    pub connect_timeout: Duration,
    pub max_idle_per_host: usize,
    pub http2_prior_knowledge: bool,
    /// The proxies the environment names (`HTTPS_PROXY`, …).
    pub proxy: &'a Matcher,
}

type Pool = Client<Connector, Handed>;

/// The message path's client: one connection pool per event loop serving calls (see
/// [`crate::lanes`]), so that a call's request goes out over a connection driven by its
/// own thread; then one for every other thread (health probes, the CLI, tests).
pub(super) struct Direct {
    pools: PerLane<Pool>,
    /// HTTP/2 driven directly, where the API may speak it: over TLS (if it chooses `h2` in the
    /// handshake), or in plaintext when told it speaks h2c.
    http2: Option<Arc<Http2>>,
}

/// The message path's HTTP/2 connections (see [`super::http2`]), per event loop, shared by every
/// sender of the process with the same API origin and connection settings: HTTP/2 multiplexes
/// their calls (each request carries its own token), and another connection is opened when the
/// streams of those open are all in use. One number's calls thus share a connection with
/// another's, as a browser's tabs share one per site, rather than each keeping its own.
struct Http2 {
    connections: PerLane<Connections>,
    dialer: Dialer,
    /// Set when the API chose HTTP/1.1 in a TLS handshake: hyper's pool carries the calls since.
    chose_http1: AtomicBool,
}

/// What senders must have in common to share their HTTP/2 connections.
#[derive(PartialEq, Eq)]
struct Sharing {
    /// `scheme://host:port`.
    origin: String,
    extra_ca_pem: Option<Vec<u8>>,
    connect_timeout: Duration,
    prior_knowledge: bool,
}

/// The [`Http2`] of the senders alive that share `sharing`, else a new one from `make`. Only the
/// live ones are kept (by weak reference), so the list is as long as the distinct settings of
/// the senders in use.
fn shared(sharing: Sharing, make: impl FnOnce() -> Http2) -> Arc<Http2> {
    static SHARED: Mutex<Vec<(Sharing, Weak<Http2>)>> = Mutex::new(Vec::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    shared.retain(|(_, http2)| http2.strong_count() > 0);
    if let Some(http2) = shared
        .iter()
        .find(|(settings, _)| *settings == sharing)
        .and_then(|(_, http2)| http2.upgrade())
    {
        return http2;
    }
    let http2 = Arc::new(make());
    shared.push((sharing, Arc::downgrade(&http2)));
    http2
}

/// The headers every request carries, as `reqwest` sent them.
static USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("whatsapp-grpc/", env!("CARGO_PKG_VERSION")));
static JSON: HeaderValue = HeaderValue::from_static("application/json");
static ANY: HeaderValue = HeaderValue::from_static("*/*");

impl Direct {
    /// The client for `settings`, or `None` when `reqwest` must carry the calls (a proxy applies
    /// to the API, or its URL names a user).
    pub fn new(settings: &Settings<'_>) -> Result<Option<Direct>, String> {
        let base: Uri = settings
            .base_url
            .parse()
            .map_err(|e| format!("the upstream URL is not a URI: {e}"))?;
        let names_a_user = base
            .authority()
            .is_some_and(|authority| authority.as_str().contains('@'));
        if names_a_user || settings.proxy.intercept(&base).is_some() {
            return Ok(None);
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        // hyper's TCP connect timeout above is shared out among the API's addresses (the next is
        // tried when one does not answer); this one bounds the whole, the TLS handshake included.
        let https: Connector = ConnectTimeout::new(
            HttpsConnectorBuilder::new()
                .with_tls_config(tls_config(settings.extra_ca_pem)?)
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .wrap_connector(http),
            settings.connect_timeout,
        );
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(settings.max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http2_only(settings.http2_prior_knowledge);
        // Each pool keeps up to the idle cap, as Envoy's per-worker pools do: shared out among
        // them, a thread busier than its share would close connections and open new ones.
        let pools = PerLane::new(|| builder.build(https.clone()));
        let http2 =
            (settings.http2_prior_knowledge || base.scheme() == Some(&Scheme::HTTPS)).then(|| {
                let sharing = Sharing {
                    origin: format!(
                        "{}://{}",
                        base.scheme_str().unwrap_or_default(),
                        base.authority().map_or("", |authority| authority.as_str())
                    ),
                    extra_ca_pem: settings.extra_ca_pem.map(<[u8]>::to_vec),
                    connect_timeout: settings.connect_timeout,
                    prior_knowledge: settings.http2_prior_knowledge,
                };
                shared(sharing, || Http2 {
                    connections: PerLane::new(Connections::default),
                    dialer: Dialer::new(https.clone()),
                    chose_http1: AtomicBool::new(false),
                })
            });
        Ok(Some(Direct { pools, http2 }))
    }

    /// Sends one request and reads its answer (up to [`super::MAX_ANSWER_BYTES`]). The caller
    /// bounds it in time; `queued` is true, by the time this returns or is dropped, if the request
    /// may have gone out (see [`Connections::send`]; over HTTP/1.1, once hyper asked for its body).
    pub async fn send(
        &self,
        method: Method,
        uri: &Uri,
        authorization: &HeaderValue,
        extra: HeaderMap,
        body: Bytes,
        queued: &AtomicBool,
    ) -> Result<RawAnswer, TransportError> {
        let mut head = Request::new(());
        *head.method_mut() = method;
        *head.uri_mut() = uri.clone();
        let headers = head.headers_mut();
        headers.reserve(5 + extra.len());
        headers.insert(CONTENT_TYPE, JSON.clone());
        headers.insert(USER_AGENT, USER_AGENT_VALUE.clone());
        headers.insert(ACCEPT, ANY.clone());
        headers.insert(AUTHORIZATION, authorization.clone());
        if !body.is_empty() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        headers.extend(extra);
        let (head, body) = match &self.http2 {
            Some(http2) if !http2.chose_http1.load(Ordering::Relaxed) => {
                match http2
                    .connections
                    .get()
                    .send(&http2.dialer, head, body, queued)
                    .await?
                {
                    Sent::Answered(answer) => return Ok(answer),
                    Sent::NotHttp2(head, body) => {
                        http2.chose_http1.store(true, Ordering::Relaxed);
                        (head, body)
                    }
                }
            }
            _ => (head, body),
        };
        let (parts, ()) = head.into_parts();
        // hyper asks for the body only once it writes the request on a connection, in the same
        // poll as it takes the request and buffers its head (and, a call given up, it skips a
        // request it has not taken yet): until then (while a connection is found or opened)
        // nothing of it can have gone out. A call's connection is driven by the call's own loop
        // (see `crate::lanes`), so the flag is read between such polls, never during one.
        // Without a body, the head alone is the request: maybe sent as soon as the pool has it.
        let handed = Arc::new(AtomicBool::new(body.is_empty()));
        let _told = TellOnDrop {
            caller: queued,
            handed: handed.clone(),
        };
        let request = Request::from_parts(
            parts,
            Handed {
                body: Full::new(body),
                handed: handed.clone(),
            },
        );
        let response = self.pools.get().request(request).await.map_err(|error| {
            let text = with_causes(&error);
            if error.is_connect() || !handed.load(Ordering::Relaxed) {
                TransportError::NotSent(text)
            } else {
                TransportError::Broken(text)
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = read_body(&parts.headers, body).await?;
        Ok(RawAnswer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A request body that records when hyper first asks for it, which it does only once it writes
/// the request on a connection.
struct Handed {
    body: Full<Bytes>,
    handed: Arc<AtomicBool>,
}

impl Body for Handed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.handed.store(true, Ordering::Relaxed);
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Passes on to the caller's flag, when the call ends or is cut short, whether hyper asked for
/// the request's body (the flag is the caller's, the body hyper's to keep as long as it likes).
struct TellOnDrop<'a> {
    caller: &'a AtomicBool,
    handed: Arc<AtomicBool>,
}

impl Drop for TellOnDrop<'_> {
    fn drop(&mut self) {
        if self.handed.load(Ordering::Relaxed) {
            self.caller.store(true, Ordering::Relaxed);
        }
    }
}

/// Reads a body up to [`super::MAX_ANSWER_BYTES`], never buffering more: `None` when it is (or its
/// `Content-Length` announces it is) larger.
async fn read_body(
    headers: &HeaderMap,
    mut body: Incoming,
) -> Result<Option<Bytes>, TransportError> {
    let Some(mut read) = BoundedBody::announced(headers) else {
        return Ok(None);
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| TransportError::Broken(with_causes(&error)))?;
        if let Ok(chunk) = frame.into_data()
            && !read.push(&chunk)
        {
            return Ok(None);
        }
    }
    Ok(Some(read.finish()))
}

/// rustls as `reqwest` set it up: the platform's verifier, with the extra CA certificates as more
/// roots. Without extra certificates the verifier (whose roots take a while to load) is made once
/// for every sender.
fn tls_config(extra_ca_pem: Option<&[u8]>) -> Result<ClientConfig, String> {
    static PLATFORM: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, String>> =
        OnceLock::new();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier = match extra_ca_pem {
        None => PLATFORM
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new(provider.clone())
                    .map(Arc::new)
                    .map_err(|e| format!("the platform's TLS roots cannot be read: {e}"))
            })
            .clone()?,
        Some(pem) => {
            let roots = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("the upstream CA file is not PEM certificates: {e}"))?;
            Arc::new(
                rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
                    .map_err(|e| format!("the upstream CA file cannot be trusted: {e}"))?,
            )
        }
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("no TLS version to speak: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}
