//! Accepting gRPC connections with bounds: at most `max_connections` open at once (one more is
//! accepted and closed at once, so its client fails fast instead of hanging in the backlog), each
//! closed when its peer sends nothing for `idle_timeout` (a connection that never starts HTTP/2, or
//! a half-open one; live clients answer the HTTP/2 keep-alive pings and stay), each served by hyper
//! with the HTTP/2 limits of [`ConnectionLimits`]. With TLS, a connection counts toward the limit
//! from the moment it is accepted, and is closed if its handshake has not completed within the
//! handshake timeout. Shutdown is graceful: every connection gets a GOAWAY, so calls in flight
//! finish and new ones are refused.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::tls::{Tls, client_caller};
use crate::api_keys::Caller;
use crate::lanes::Lanes;

/// The bounds of the gRPC side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`: calls at once on one connection.
    pub max_concurrent_streams: u32,
    /// How often an idle connection is pinged.
    pub keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
    /// How long a peer may send nothing before its connection is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 flow-control windows: what a peer may send before the server reads it.
    pub stream_window: u32,
    pub connection_window: u32,
    /// HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`.
    pub max_header_list_size: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            max_concurrent_streams: 128,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            stream_window: 256 * 1024,
            connection_window: 1024 * 1024,
            max_header_list_size: 16 * 1024,
        }
    }
}

type GrpcRequest = http::Request<hyper::body::Incoming>;
type GrpcResponse = http::Response<tonic::body::Body>;

/// The service a connection serves: the layered gRPC routes (a name for the bounds, implemented
/// by every service that has them).
pub trait GrpcService:
    Service<GrpcRequest, Response = GrpcResponse, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S> GrpcService for S where
    S: Service<GrpcRequest, Response = GrpcResponse, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// Serves `service` on every connection `listener` accepts (over TLS when `tls` is set; each on one
/// of `lanes`, in turn, or on this runtime when there are none) until
/// `stop` completes, then shuts the connections down gracefully; returns once they have all closed
/// (the caller bounds the wait).
pub async fn accept<S: GrpcService>(
    listener: TcpListener,
    limits: ConnectionLimits,
    tls: Option<Arc<Tls>>,
    lanes: Option<&Lanes>,
    service: S,
    stop: impl Future<Output = ()>,
) -> Drained {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(limits.keepalive_interval)
        .keep_alive_timeout(limits.keepalive_timeout)
        .initial_stream_window_size(limits.stream_window)
        .initial_connection_window_size(limits.connection_window)
        .max_header_list_size(limits.max_header_list_size)
        .max_pending_accept_reset_streams(Some(64))
        .max_local_error_reset_streams(Some(256));
    let builder = Arc::new(builder.http2_only());
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accepting a gRPC connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::debug!(
                max_connections = limits.max_connections,
                "connection refused: at the limit of open connections"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Taken now, so that a connection still in its handshake is waited for when draining.
        let watcher = graceful.watcher();
        let connection = Connection {
            idle_timeout: limits.idle_timeout,
            builder: builder.clone(),
            service: service.clone(),
            tls: tls.clone(),
            watcher,
            permit,
        };
        let Some(lanes) = lanes else {
            tokio::spawn(connection.serve(stream));
            continue;
        };
        // Moved to a loop: it must register there, so it leaves this reactor first.
        match stream.into_std() {
            Ok(stream) => lanes.spawn(async move {
                match TcpStream::from_std(stream) {
                    Ok(stream) => connection.serve(stream).await,
                    Err(error) => tracing::warn!(%error, "moving a gRPC connection failed"),
                }
            }),
            Err(error) => tracing::warn!(%error, "moving a gRPC connection failed"),
        }
    }
    // Stop listening at once: new clients are refused by the kernel instead of queued.
    drop(listener);
    Drained { graceful }
}

/// One accepted connection and what serving it takes.
struct Connection<S> {
    idle_timeout: Duration,
    builder: Arc<Builder<TokioExecutor>>,
    service: S,
    tls: Option<Arc<Tls>>,
    watcher: Watcher,
    permit: OwnedSemaphorePermit,
}

impl<S: GrpcService> Connection<S> {
    /// Serves the connection until it ends (the permit is released as its socket closes).
    async fn serve(self, stream: TcpStream) {
        let Connection {
            idle_timeout,
            builder,
            service,
            tls,
            watcher,
            permit,
        } = self;
        let io = IdleTimeout::new(stream, idle_timeout, permit);
        let Some(tls) = tls else {
            let service = WithCaller {
                inner: service,
                caller: None,
            };
            return serve_http2(&builder, io, service, watcher).await;
        };
        let handshake = tls.acceptor().accept(io);
        match tokio::time::timeout(tls.handshake_timeout(), handshake).await {
            Ok(Ok(io)) => {
                let service = WithCaller {
                    inner: service,
                    caller: client_caller(io.get_ref().1),
                };
                serve_http2(&builder, io, service, watcher).await
            }
            Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
            Err(_) => tracing::debug!(
                timeout = ?tls.handshake_timeout(),
                "TLS handshake not completed in time: connection closed"
            ),
        }
    }
}

/// Serves HTTP/2 on `io` until the connection ends, or the shutdown has closed it.
async fn serve_http2<I, S>(
    builder: &Builder<TokioExecutor>,
    io: I,
    service: WithCaller<S>,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: GrpcService,
{
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "gRPC connection ended with an error");
    }
}

/// `inner` with the caller its connection's client certificate names (mTLS) in every request's
/// extensions, so that `request_id`s are scoped by it; the API keys layer, when on, puts the key's
/// caller in its place.
#[derive(Clone)]
struct WithCaller<S> {
    inner: S,
    caller: Option<Caller>,
}

impl<S: GrpcService> Service<GrpcRequest> for WithCaller<S> {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: GrpcRequest) -> S::Future {
        if let Some(caller) = &self.caller {
            request.extensions_mut().insert(caller.clone());
        }
        self.inner.call(request)
    }
}

/// Connections told to finish: [`Drained::wait`] completes when every one has closed.
pub struct Drained {
    graceful: GracefulShutdown,
}

impl Drained {
    /// Sends every connection a GOAWAY and waits until they have all closed.
    pub async fn wait(self) {
        self.graceful.shutdown().await;
    }
}

/// A connection that fails its read once the peer has sent nothing for `timeout`, and that holds
/// the connection's slot for as long as its socket is open.
struct IdleTimeout {
    /// Declared before `stream`, so dropped first: the slot is free before the socket closes, and
    /// a peer that sees its connection closed (an idle timeout, a handshake never completed) and
    /// connects again at once is never refused for the slot it held.
    _slot: OwnedSemaphorePermit,
    stream: TcpStream,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl IdleTimeout {
    fn new(stream: TcpStream, timeout: Duration, slot: OwnedSemaphorePermit) -> IdleTimeout {
        IdleTimeout {
            _slot: slot,
            stream,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl AsyncRead for IdleTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.timeout;
                    self.sleep.as_mut().reset(next);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                ready!(self.sleep.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer sent nothing for too long",
                )))
            }
        }
    }
}

impl AsyncWrite for IdleTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
