//! A small bounded HTTP/1.1 listener for the side ports (metrics, webhooks): at most
//! `max_connections` open at once (one more is closed at once), each request's headers read within
//! `header_read_timeout`, request heads of at most `max_buf_bytes`, each connection closed after
//! `connection_lifetime` (a client simply reconnects). It stops, its connections with it, when the
//! [`Running`] guard is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

/// What one listener allows.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long a connection lives, however busy.
    pub connection_lifetime: Duration,
    /// The largest request head read.
    pub max_buf_bytes: usize,
}

/// A listener serving; dropping it stops the listener and closes its connections.
#[derive(Debug)]
pub struct Running {
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `answer` on `listener` within `bounds` until the returned guard is dropped; `name` says
/// which listener in its logs.
pub fn start<A, F>(listener: TcpListener, name: &'static str, bounds: Bounds, answer: A) -> Running
where
    A: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<String>> + Send + 'static,
{
    Running {
        task: tokio::spawn(accept(listener, name, bounds, Arc::new(answer))),
    }
}

async fn accept<A, F>(listener: TcpListener, name: &'static str, bounds: Bounds, answer: Arc<A>)
where
    A: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<String>> + Send + 'static,
{
    let open = Arc::new(Semaphore::new(bounds.max_connections));
    // Owned here: aborting this task drops the set, which aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, listener = name, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::debug!(
                listener = name,
                max_connections = bounds.max_connections,
                "connection refused: at the limit"
            );
            drop(stream);
            continue;
        };
        let answer = answer.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let answered = answer(request);
                async move { Ok::<_, Infallible>(answered.await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(bounds.header_read_timeout)
                .max_buf_size(bounds.max_buf_bytes)
                .serve_connection(TokioIo::new(stream), service);
            if let Ok(Err(error)) =
                tokio::time::timeout(bounds.connection_lifetime, connection).await
            {
                tracing::debug!(%error, listener = name, "connection ended with an error");
            }
            drop(permit);
        });
    }
}
