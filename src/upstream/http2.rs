//! The message path's HTTP/2 connections, driven with `h2` directly: a request's head and body are
//! queued on the connection at once, from the call's own task, and its answer read there too.
//! hyper's client, for the same request, hands it to the connection's task over a channel and
//! spawns one more task to feed the body, which then waits for the stream to open before it may
//! use the window: two tasks, their wake-ups, and a second `writev` for the body when calls arrive
//! one at a time.
//!
//! Connections are kept per event loop (see [`crate::lanes`]) and shared by its calls, those of
//! every sender on the same API (see `direct.rs`): a call takes the first live connection with a
//! stream free (by the count the peer allows), and a new one is opened, one at a time, only when
//! none has. A connection the peer closed or broke is
//! dropped at the next call that looks at it; one no call used for a whole [`IDLE_TIMEOUT`] (a
//! burst's extra ones, say) is closed by its own task, as hyper's pool closed its idle ones. While
//! calls are in progress on a connection, its task sends the API a `PING` every
//! [`PING_INTERVAL`]; one not answered within [`PING_TIMEOUT`] means the connection is dead (a peer
//! or a middlebox gone without a word), and it is closed: its calls end as broken rather than at
//! their deadlines, and the next ones open another rather than pile onto it.
//!
//! A request that fails before it is queued on a connection (the connection closed in the
//! meantime), or whose stream the API refused unprocessed (`REFUSED_STREAM`, or above the last
//! stream of its `GOAWAY`), was not sent ([`TransportError::NotSent`]: the retry layer may send it
//! again); any other failure once it is queued is [`TransportError::Broken`]: the API may have
//! received it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tower_service::Service;

use super::connect_timeout::ConnectTimeout;
use super::error::{TransportError, with_causes};
use super::{BoundedBody, RawAnswer};

/// hyper's client defaults, kept: the windows it offers the API (5 MiB for the connection, 2 MiB a
/// stream), the frame size, the head size it accepts, and the streams it assumes the API allows
/// before the API's settings arrive.
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const MAX_FRAME_SIZE: u32 = 16 * 1024;
const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
const INITIAL_MAX_SEND_STREAMS: usize = 100;

/// How long a connection may go unused before it is closed (hyper's pool's idle timeout): it is
/// closed at the first check (every `IDLE_TIMEOUT`) that finds it had no call since the last one
/// and none in progress, so after one to two of these.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How often a connection with calls in progress is probed with a `PING`.
const PING_INTERVAL: Duration = Duration::from_secs(10);
/// How long the API has to answer a `PING` before its connection is taken for dead.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The timers of each connection's task.
#[derive(Clone, Copy)]
struct Timers {
    /// Closed when unused for this long (checked that often).
    idle: Duration,
    /// Probed this often while calls are in progress on it.
    ping_interval: Duration,
    /// Closed when a probe is not answered within this.
    ping_timeout: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            idle: IDLE_TIMEOUT,
            ping_interval: PING_INTERVAL,
            ping_timeout: PING_TIMEOUT,
        }
    }
}

/// The stream count of a connection closed for being idle: no stream can be taken on it.
const CLOSED: usize = usize::MAX;

/// What happened to a request offered to HTTP/2.
pub(super) enum Sent {
    /// The API answered.
    Answered(RawAnswer),
    /// The API chose HTTP/1.1 in the TLS handshake: nothing was sent; HTTP/1.1 must carry the
    /// request, given back.
    NotHttp2(Request<()>, Bytes),
}

/// The connector the connections are opened with: TCP, then TLS for `https`, within the connect
/// timeout.
pub(super) type Connector = ConnectTimeout<HttpsConnector<HttpConnector>>;

/// How connections to one API are opened: with `connector`, then HTTP/2 with `builder`.
pub(super) struct Dialer {
    connector: Connector,
    builder: h2::client::Builder,
}

impl Dialer {
    pub(super) fn new(connector: Connector) -> Dialer {
        Dialer {
            connector,
            builder: builder(),
        }
    }
}

/// The HTTP/2 connections to one API on one event loop.
pub(super) struct Connections {
    live: Mutex<Vec<Live>>,
    /// Held while a connection is being opened, so that the calls that found none wait for it
    /// rather than each open its own; it keeps the error of the last attempt that failed.
    opening: tokio::sync::Mutex<String>,
    /// How many attempts to open a connection have failed: a call that sees it grow while it
    /// waited fails with that attempt's error instead of trying again.
    failed_opens: AtomicU64,
    timers: Timers,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections::with_timers(Timers::default())
    }
}

/// One open connection.
struct Live {
    send: SendRequest<Bytes>,
    usage: Arc<Usage>,
}

/// How a connection is used, as its calls and its task see it.
#[derive(Default)]
struct Usage {
    /// Its streams in use (each request holds one until its answer is read), or [`CLOSED`].
    streams: AtomicUsize,
    /// Whether a call took a stream since its task last looked.
    used: AtomicBool,
}

/// A stream counted on its connection until dropped.
struct StreamHeld(Arc<Usage>);

impl Drop for StreamHeld {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Live {
    /// Whether the connection still takes requests (a closed or broken one does not).
    fn is_open(&mut self) -> bool {
        let mut context = Context::from_waker(Waker::noop());
        self.usage.streams.load(Ordering::Relaxed) != CLOSED
            && !matches!(self.send.poll_ready(&mut context), Poll::Ready(Err(_)))
    }

    /// A stream on it, if one is free.
    fn take_stream(&self) -> Option<(SendRequest<Bytes>, StreamHeld)> {
        let allowed = self.send.current_max_send_streams().clamp(1, CLOSED - 1);
        let usage = &self.usage;
        usage
            .streams
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < allowed).then_some(n + 1)
            })
            .ok()?;
        usage.used.store(true, Ordering::Relaxed);
        Some((self.send.clone(), StreamHeld(usage.clone())))
    }
}

impl Connections {
    /// None yet; each one opened is driven with `timers`.
    fn with_timers(timers: Timers) -> Connections {
        Connections {
            live: Mutex::default(),
            opening: tokio::sync::Mutex::default(),
            failed_opens: AtomicU64::new(0),
            timers,
        }
    }

    /// A stream on a live connection with one free, dropping the closed ones met on the way.
    fn free_stream(&self) -> Option<(SendRequest<Bytes>, StreamHeld)> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain_mut(Live::is_open);
        live.iter().find_map(Live::take_stream)
    }

    /// Sends `head` and `body` over one of these connections, opening one if need be with
    /// `dialer`, and reads the answer (up to [`super::MAX_ANSWER_BYTES`]). The caller bounds it in
    /// time; `queued` becomes true when the request is handed to a connection, before which a
    /// call cut short has sent nothing.
    pub async fn send(
        &self,
        dialer: &Dialer,
        head: Request<()>,
        body: Bytes,
        queued: &AtomicBool,
    ) -> Result<Sent, TransportError> {
        let (mut send, held) = match self.free_stream() {
            Some(stream) => stream,
            // Boxed: opening a connection (TCP, TLS, the HTTP/2 handshake) is a large future,
            // and a call's future is moved whole at each layer; this path is rare.
            None => match Box::pin(self.open(dialer, head.uri())).await? {
                Some(stream) => stream,
                None => return Ok(Sent::NotHttp2(head, body)),
            },
        };
        let end_of_stream = body.is_empty();
        queued.store(true, Ordering::Relaxed);
        // Refused before it was queued (the connection closed since it was looked at): nothing
        // was sent.
        let (response, mut stream) = send
            .send_request(head, end_of_stream)
            .map_err(|error| TransportError::NotSent(with_causes(&error)))?;
        if !end_of_stream {
            // Queued whole, behind the head: the connection sends it as the window allows.
            stream
                .send_data(body, true)
                .map_err(|error| TransportError::Broken(with_causes(&error)))?;
        }
        let response = response.await.map_err(|error| {
            let text = with_causes(&error);
            if unprocessed(&error) {
                TransportError::NotSent(text)
            } else {
                TransportError::Broken(text)
            }
        })?;
        let answer = read(response).await;
        drop(held);
        answer.map(Sent::Answered)
    }

    /// Opens a connection to `uri`'s host (unless another call opened one meanwhile) and takes a
    /// stream on it; `None` when the API chose HTTP/1.1. A call that waited behind an attempt that
    /// failed fails with it: when the API cannot be reached, the calls waiting learn it together,
    /// within one connect timeout, rather than each in turn after the attempts of those before it.
    async fn open(
        &self,
        dialer: &Dialer,
        uri: &Uri,
    ) -> Result<Option<(SendRequest<Bytes>, StreamHeld)>, TransportError> {
        let failed_before = self.failed_opens.load(Ordering::Acquire);
        let mut last_error = self.opening.lock().await;
        if let Some(stream) = self.free_stream() {
            return Ok(Some(stream));
        }
        if self.failed_opens.load(Ordering::Acquire) != failed_before {
            return Err(TransportError::NotSent(last_error.clone()));
        }
        let usage = Arc::<Usage>::default();
        let connected = connect(dialer, uri.clone(), usage.clone(), self.timers).await;
        let send = match connected {
            Ok(Some(send)) => send,
            Ok(None) => return Ok(None),
            Err(error) => {
                let (TransportError::NotSent(text) | TransportError::Broken(text)) = &error;
                last_error.clone_from(text);
                self.failed_opens.fetch_add(1, Ordering::Release);
                return Err(error);
            }
        };
        let live = Live { send, usage };
        // A new connection has every stream free (at least one is always counted allowed).
        let stream = live
            .take_stream()
            .ok_or_else(|| TransportError::NotSent("the new connection allows no stream".into()))?;
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(live);
        Ok(Some(stream))
    }
}

/// Whether the API said it did not process the stream (RFC 9113): it refused it
/// (`REFUSED_STREAM`), or its `GOAWAY` named a last stream below it (h2 fails with that `GOAWAY`
/// only the streams above it; the others fail, if the connection then breaks, as I/O).
fn unprocessed(error: &h2::Error) -> bool {
    error.is_remote()
        && (error.is_go_away()
            || error.reason() == Some(h2::Reason::REFUSED_STREAM) && error.is_reset())
}

/// The answer's status, head and body, the body read up to [`super::MAX_ANSWER_BYTES`] (`None`
/// when it is, or its `Content-Length` announces it is, larger).
async fn read(response: Response<h2::RecvStream>) -> Result<RawAnswer, TransportError> {
    let (parts, mut body) = response.into_parts();
    let mut answer = RawAnswer {
        status: parts.status,
        headers: parts.headers,
        body: None,
    };
    let Some(mut read) = BoundedBody::announced(&answer.headers) else {
        return Ok(answer);
    };
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|error| TransportError::Broken(with_causes(&error)))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        if !read.push(&chunk) {
            return Ok(answer);
        }
    }
    answer.body = Some(read.finish());
    Ok(answer)
}

/// Connects to `uri`'s host (TCP, then TLS when `https`, within the connect timeout), and shakes
/// hands in HTTP/2 unless the TLS handshake chose HTTP/1.1 (`None`). The connection is driven by a
/// task on this thread's runtime, with `timers` (see [`drive`]).
async fn connect(
    dialer: &Dialer,
    uri: Uri,
    usage: Arc<Usage>,
    timers: Timers,
) -> Result<Option<SendRequest<Bytes>>, TransportError> {
    let mut connector = dialer.connector.clone();
    let io = connector
        .call(uri)
        .await
        .map_err(|error| TransportError::NotSent(with_causes(&*error)))?;
    let connected = io.connected();
    if connected.is_negotiated_h2() || !is_tls(&io) {
        let (send, connection) = dialer
            .builder
            .handshake::<_, Bytes>(TokioIo::new(io))
            .await
            .map_err(|error| TransportError::NotSent(with_causes(&error)))?;
        tokio::spawn(drive(connection, usage, timers));
        return Ok(Some(send));
    }
    Ok(None)
}

/// Drives `connection` until it ends, or until it is closed, by being dropped:
/// - when a check (every `timers.idle`) finds that no call took a stream on it since the previous
///   one and none holds one: it is then first marked [`CLOSED`], so that no call takes it any more;
/// - when a `PING`, sent every `timers.ping_interval` while a call holds a stream, is not answered
///   within `timers.ping_timeout`: its calls then fail as broken, and the next call to look at it
///   drops it.
async fn drive<T>(
    mut connection: h2::client::Connection<T, Bytes>,
    usage: Arc<Usage>,
    timers: Timers,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ping_pong = connection.ping_pong();
    let mut connection = std::pin::pin!(connection);
    let start = tokio::time::Instant::now();
    let mut check = tokio::time::interval_at(start + timers.idle, timers.idle);
    let mut probe = tokio::time::interval_at(start + timers.ping_interval, timers.ping_interval);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut connection => return,
            _ = check.tick() => {
                let used = usage.used.swap(false, Ordering::Relaxed);
                if !used
                    && usage
                        .streams
                        .compare_exchange(0, CLOSED, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    return;
                }
            }
            _ = probe.tick() => {
                let streams = usage.streams.load(Ordering::Relaxed);
                let in_use = streams != 0 && streams != CLOSED;
                let Some(ping_pong) = ping_pong.as_mut().filter(|_| in_use) else {
                    continue;
                };
                // The connection is driven while the answer is awaited: it comes through it.
                let ping = ping_pong.ping(h2::Ping::opaque());
                let pong = tokio::time::timeout(timers.ping_timeout, ping);
                tokio::select! {
                    _ = &mut connection => return,
                    answered = pong => {
                        if !matches!(answered, Ok(Ok(_))) {
                            return;
                        }
                    }
                }
            }
        }
    }
}

fn is_tls(io: &hyper_rustls::MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>) -> bool {
    matches!(io, hyper_rustls::MaybeHttpsStream::Https(_))
}

/// The `h2` client settings: hyper's defaults (above), server push refused.
fn builder() -> h2::client::Builder {
    let mut builder = h2::client::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME_SIZE)
        .max_header_list_size(MAX_HEADER_LIST_SIZE)
        .initial_max_send_streams(INITIAL_MAX_SEND_STREAMS)
        .enable_push(false);
    builder
}

#[cfg(test)]
#[path = "../../tests/common/unconnectable.rs"]
mod unconnectable;

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_rustls::HttpsConnectorBuilder;
    use tokio::net::TcpListener;
    use unconnectable::unconnectable;

    /// An h2c server on loopback answering each request (with an empty 200) after `delay`;
    /// answers its address, the connections it accepted, and those that have ended.
    async fn server(delay: Duration) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = format!("http://{}/", listener.local_addr().expect("address"));
        let (accepted, ended) = (Arc::<AtomicUsize>::default(), Arc::<AtomicUsize>::default());
        let (accepting, ending) = (accepted.clone(), ended.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                accepting.fetch_add(1, Ordering::SeqCst);
                let ending = ending.clone();
                tokio::spawn(async move {
                    if let Ok(mut connection) = h2::server::handshake(tcp).await {
                        while let Some(Ok((_, mut respond))) = connection.accept().await {
                            tokio::spawn(async move {
                                tokio::time::sleep(delay).await;
                                let _ = respond.send_response(Response::new(()), true);
                            });
                        }
                    }
                    ending.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        (address, accepted, ended)
    }

    fn connector() -> HttpsConnector<HttpConnector> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http2()
            .wrap_connector(http)
    }

    async fn get(connections: &Connections, address: &str) -> http::StatusCode {
        let head = Request::get(address).body(()).expect("a request");
        let dialer = Dialer::new(ConnectTimeout::new(connector(), Duration::from_secs(5)));
        let queued = AtomicBool::new(false);
        match connections.send(&dialer, head, Bytes::new(), &queued).await {
            Ok(Sent::Answered(answer)) => answer.status,
            Ok(Sent::NotHttp2(..)) => panic!("h2c is HTTP/2"),
            Err(error) => panic!("{error:?}"),
        }
    }

    /// Waits (up to 5 s) until `counter` reaches `value`.
    async fn until(counter: &AtomicUsize, value: usize) {
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while counter.load(Ordering::SeqCst) < value {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "{} of {value}",
            counter.load(Ordering::SeqCst)
        );
    }

    /// Connections that send a `PING` every 100 ms while in use, each given 200 ms to be answered.
    fn pinging_fast() -> Connections {
        Connections::with_timers(Timers {
            ping_interval: Duration::from_millis(100),
            ping_timeout: Duration::from_millis(200),
            ..Timers::default()
        })
    }

    /// A request to `address` through `connections`, its error text if it failed before being sent.
    async fn not_sent(connections: &Connections, dialer: &Dialer, address: &str) -> String {
        let head = Request::post(address).body(()).expect("a request");
        let queued = AtomicBool::new(false);
        let sent = connections
            .send(dialer, head, Bytes::from_static(b"{}"), &queued)
            .await;
        assert!(
            !queued.load(Ordering::SeqCst),
            "no connection, nothing queued"
        );
        match sent {
            Err(TransportError::NotSent(text)) => text,
            Err(TransportError::Broken(text)) => panic!("broken, not unsent: {text}"),
            Ok(_) => panic!("sent"),
        }
    }

    #[tokio::test]
    async fn calls_waiting_behind_an_attempt_that_failed_fail_with_it() {
        // Each attempt to connect lasts until the connect timeout.
        let api = unconnectable().await;
        let address = format!("http://{}/", api.address);
        let dialer = Dialer::new(ConnectTimeout::new(connector(), Duration::from_millis(300)));
        let connections = Connections::default();
        let texts = tokio::join!(
            not_sent(&connections, &dialer, &address),
            not_sent(&connections, &dialer, &address),
            not_sent(&connections, &dialer, &address),
            not_sent(&connections, &dialer, &address),
        );
        for text in [texts.0, texts.1, texts.2, texts.3] {
            assert!(text.contains("connect timeout (300ms)"), "{text}");
        }
        // One attempt for the four calls: the three waiting behind it failed with it.
        assert_eq!(connections.failed_opens.load(Ordering::SeqCst), 1);
        drop(api);
    }

    #[tokio::test]
    async fn a_connection_that_stops_answering_pings_is_closed_and_the_next_call_opens_another() {
        // The first connection freezes after its handshake (a peer gone without a word: nothing
        // read, nothing answered, not even a PING); the next ones answer at once.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = format!("http://{}/", listener.local_addr().expect("address"));
        let accepted = Arc::<AtomicUsize>::default();
        let accepting = accepted.clone();
        tokio::spawn(async move {
            let mut frozen = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut connection) = h2::server::handshake(tcp).await else {
                    continue;
                };
                if accepting.fetch_add(1, Ordering::SeqCst) == 0 {
                    frozen.push(connection);
                    continue;
                }
                tokio::spawn(async move {
                    while let Some(Ok((_, mut respond))) = connection.accept().await {
                        let _ = respond.send_response(Response::new(()), true);
                    }
                });
            }
        });
        let connections = pinging_fast();
        let dialer = Dialer::new(ConnectTimeout::new(connector(), Duration::from_secs(5)));
        let head = Request::get(&address).body(()).expect("a request");
        let queued = AtomicBool::new(false);
        // The test's own bound, far above the probe's: the probe must end the call first.
        let first = tokio::time::timeout(
            Duration::from_secs(20),
            connections.send(&dialer, head, Bytes::new(), &queued),
        )
        .await
        .expect("the unanswered PING closed the connection");
        assert!(
            matches!(first, Err(TransportError::Broken(_))),
            "handed over, then broken: maybe sent"
        );
        assert_eq!(get(&connections, &address).await, http::StatusCode::OK);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_slow_answer_on_a_connection_that_answers_pings_is_waited_for() {
        let (address, accepted, ended) = server(Duration::from_millis(700)).await;
        let connections = pinging_fast();
        assert_eq!(get(&connections, &address).await, http::StatusCode::OK);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(ended.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_unused_connection_is_closed_and_the_next_call_opens_another() {
        let (address, accepted, ended) = server(Duration::ZERO).await;
        let connections = Connections::with_timers(Timers {
            idle: Duration::from_millis(100),
            ..Timers::default()
        });
        assert_eq!(get(&connections, &address).await, http::StatusCode::OK);
        until(&ended, 1).await;
        assert_eq!(get(&connections, &address).await, http::StatusCode::OK);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_with_a_call_in_progress_is_kept() {
        // The answer takes several idle checks' time; the connection stays for it.
        let (address, accepted, ended) = server(Duration::from_millis(450)).await;
        let connections = Connections::with_timers(Timers {
            idle: Duration::from_millis(100),
            ..Timers::default()
        });
        assert_eq!(get(&connections, &address).await, http::StatusCode::OK);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(ended.load(Ordering::SeqCst), 0);
    }
}
