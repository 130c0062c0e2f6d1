//! The message path's HTTP/2 connections, driven with `h2` directly: a request's head and body are
//! queued on the connection at once, from the call's own task, and its answer read there too.
//! hyper's client, for the same request, hands it to the connection's task over a channel and
//! spawns one more task to feed the body, which then waits for the stream to open before it may
//! use the window: two tasks, their wake-ups, and a second `writev` for the body when calls arrive
//! one at a time.
//!
//! Connections are kept per event loop (see [`crate::lanes`]) and shared by its calls: a call
//! takes the first live connection with a stream free (by the count the peer allows), and a new
//! one is opened, one at a time, only when none has. A connection the peer closed or broke is
//! dropped at the next call that looks at it.
//!
//! A request that fails before it is queued on a connection (the connection closed in the
//! meantime), or whose stream the API refused unprocessed (`REFUSED_STREAM`, or above the last
//! stream of its `GOAWAY`), was not sent ([`TransportError::NotSent`]: the retry layer may send it
//! again); any other failure once it is queued is [`TransportError::Broken`]: the API may have
//! received it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tower_service::Service;

use super::direct::{TransportError, error_text};
use super::{MAX_ANSWER_BYTES, RawAnswer};

/// hyper's client defaults, kept: the windows it offers the API (5 MiB for the connection, 2 MiB a
/// stream), the frame size, the head size it accepts, and the streams it assumes the API allows
/// before the API's settings arrive.
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const MAX_FRAME_SIZE: u32 = 16 * 1024;
const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
const INITIAL_MAX_SEND_STREAMS: usize = 100;

/// What happened to a request offered to HTTP/2.
pub(super) enum Sent {
    /// The API answered.
    Answered(RawAnswer),
    /// The API chose HTTP/1.1 in the TLS handshake: nothing was sent; HTTP/1.1 must carry the
    /// request, given back.
    NotHttp2(Request<()>, Bytes),
}

/// The HTTP/2 connections of one sender on one event loop.
#[derive(Default)]
pub(super) struct Connections {
    live: Mutex<Vec<Live>>,
    /// Held while a connection is being opened, so that the calls that found none wait for it
    /// rather than each open its own.
    opening: tokio::sync::Mutex<()>,
}

/// One open connection.
#[derive(Clone)]
struct Live {
    send: SendRequest<Bytes>,
    /// Its streams in use (each request holds one until its answer is read).
    streams: Arc<AtomicUsize>,
}

/// A stream counted on its connection until dropped.
struct StreamHeld(Arc<AtomicUsize>);

impl Drop for StreamHeld {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Live {
    /// Whether the connection still takes requests (a closed or broken one does not).
    fn is_open(&mut self) -> bool {
        let mut context = Context::from_waker(Waker::noop());
        !matches!(self.send.poll_ready(&mut context), Poll::Ready(Err(_)))
    }

    /// A stream on it, if one is free.
    fn take_stream(&self) -> Option<(SendRequest<Bytes>, StreamHeld)> {
        let allowed = self.send.current_max_send_streams().max(1);
        let streams = &self.streams;
        streams
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < allowed).then_some(n + 1)
            })
            .ok()
            .map(|_| (self.send.clone(), StreamHeld(streams.clone())))
    }
}

impl Connections {
    /// A stream on a live connection with one free, dropping the closed ones met on the way.
    fn free_stream(&self) -> Option<(SendRequest<Bytes>, StreamHeld)> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain_mut(Live::is_open);
        live.iter().find_map(Live::take_stream)
    }

    /// Sends `head` and `body` over one of these connections, opening one if need be with
    /// `connector`, and reads the answer (up to [`MAX_ANSWER_BYTES`]). The caller bounds it in
    /// time.
    pub async fn send(
        &self,
        connector: &HttpsConnector<HttpConnector>,
        builder: &h2::client::Builder,
        head: Request<()>,
        body: Bytes,
    ) -> Result<Sent, TransportError> {
        let (mut send, held) = match self.free_stream() {
            Some(stream) => stream,
            // Boxed: opening a connection (TCP, TLS, the HTTP/2 handshake) is a large future,
            // and a call's future is moved whole at each layer; this path is rare.
            None => match Box::pin(self.open(connector, builder, head.uri())).await? {
                Some(stream) => stream,
                None => return Ok(Sent::NotHttp2(head, body)),
            },
        };
        let end_of_stream = body.is_empty();
        // Refused before it was queued (the connection closed since it was looked at): nothing
        // was sent.
        let (response, mut stream) = send
            .send_request(head, end_of_stream)
            .map_err(|error| TransportError::NotSent(error_text(&error)))?;
        if !end_of_stream {
            // Queued whole, behind the head: the connection sends it as the window allows.
            stream
                .send_data(body, true)
                .map_err(|error| TransportError::Broken(error_text(&error)))?;
        }
        let response = response.await.map_err(|error| {
            let text = error_text(&error);
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
    /// stream on it; `None` when the API chose HTTP/1.1.
    async fn open(
        &self,
        connector: &HttpsConnector<HttpConnector>,
        builder: &h2::client::Builder,
        uri: &Uri,
    ) -> Result<Option<(SendRequest<Bytes>, StreamHeld)>, TransportError> {
        let _opening = self.opening.lock().await;
        if let Some(stream) = self.free_stream() {
            return Ok(Some(stream));
        }
        let Some(send) = connect(connector, builder, uri.clone()).await? else {
            return Ok(None);
        };
        let live = Live {
            send,
            streams: Arc::default(),
        };
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

/// The answer's status, head and body, the body read up to [`MAX_ANSWER_BYTES`] (`None` when it
/// is, or its `Content-Length` announces it is, larger).
async fn read(response: Response<h2::RecvStream>) -> Result<RawAnswer, TransportError> {
    let (parts, mut body) = response.into_parts();
    let announced = announced_length(&parts.headers);
    let mut answer = RawAnswer {
        status: parts.status,
        headers: parts.headers,
        body: None,
    };
    if announced > MAX_ANSWER_BYTES as u64 {
        return Ok(answer);
    }
    // `announced` is at most the bound here.
    let mut read = BytesMut::with_capacity(announced as usize);
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|error| TransportError::Broken(error_text(&error)))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        if read.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Ok(answer);
        }
        read.extend_from_slice(&chunk);
    }
    answer.body = Some(read.freeze());
    Ok(answer)
}

/// The `Content-Length` an answer announces (0 when it announces none).
pub(super) fn announced_length(headers: &HeaderMap) -> u64 {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Connects to `uri`'s host (TCP, then TLS when `https`), and shakes hands in HTTP/2 unless the
/// TLS handshake chose HTTP/1.1 (`None`). The connection is driven by a task on this thread's
/// runtime.
async fn connect(
    connector: &HttpsConnector<HttpConnector>,
    builder: &h2::client::Builder,
    uri: Uri,
) -> Result<Option<SendRequest<Bytes>>, TransportError> {
    let mut connector = connector.clone();
    let io = connector
        .call(uri)
        .await
        .map_err(|error| TransportError::NotSent(error_text(&*error)))?;
    let connected = io.connected();
    if connected.is_negotiated_h2() || !is_tls(&io) {
        let (send, connection) = builder
            .handshake::<_, Bytes>(TokioIo::new(io))
            .await
            .map_err(|error| TransportError::NotSent(error_text(&error)))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        return Ok(Some(send));
    }
    Ok(None)
}

fn is_tls(io: &hyper_rustls::MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>) -> bool {
    matches!(io, hyper_rustls::MaybeHttpsStream::Https(_))
}

/// The `h2` client settings: hyper's defaults (above), server push refused.
pub(super) fn builder() -> h2::client::Builder {
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
