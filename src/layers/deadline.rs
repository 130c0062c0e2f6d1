//! The caller's deadline: the `grpc-timeout` header read once, as a [`Deadline`] (a little before
//! the caller's own) in the request's extensions for the service to bound its work with (waiting
//! for a slot, the login, the request to the API). A backstop answers `DEADLINE_EXCEEDED` (with `ErrorInfo`, logged at `warn`) shortly
//! after the deadline if the call has still not finished; the service normally answers first, with
//! the precise outcome.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Timeout};
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::Rejection;

/// How long after the deadline the backstop answers, leaving the service time to answer first.
pub const BACKSTOP_GRACE: Duration = Duration::from_millis(50);

/// How much earlier than the caller the service ends its work: a tenth of the timeout, at most
/// this. The caller's own timer started before the call crossed the network, so without a margin
/// it would always give up first and never see the service's status and its outcome.
pub const MAX_MARGIN: Duration = Duration::from_millis(100);

/// When the service stops working for a call: the time it arrived plus its `grpc-timeout`, less a
/// margin (a tenth of the timeout, at most [`MAX_MARGIN`]) so that the caller, whose timer started
/// earlier, still receives the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    /// The `grpc-timeout` as the caller sent it.
    pub timeout: Duration,
}

impl Deadline {
    /// The time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// Reads `grpc-timeout`: at most 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`). A malformed
/// value is ignored, as gRPC servers do.
pub fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(number * 3600),
        b'M' => Duration::from_secs(number * 60),
        b'S' => Duration::from_secs(number),
        b'm' => Duration::from_millis(number),
        b'u' => Duration::from_micros(number),
        b'n' => Duration::from_nanos(number),
        _ => return None,
    })
}

/// Puts the caller's [`Deadline`] in each request (or `default` for a caller that sets none) and
/// answers for calls that overrun it.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeadlineLayer {
    default: Option<Duration>,
}

impl DeadlineLayer {
    /// Calls without a `grpc-timeout` get `default`, if any.
    pub fn new(default: Option<Duration>) -> DeadlineLayer {
        DeadlineLayer { default }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            default: self.default,
        }
    }
}

#[derive(Clone, Debug)]
pub struct DeadlineService<S> {
    inner: S,
    default: Option<Duration>,
}

impl<S, B> Service<Request<B>> for DeadlineService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| parse_grpc_timeout(value.as_bytes()))
            .or(self.default);
        // A timeout too far to represent (99,999,999 hours) is no deadline at all.
        let at = timeout.and_then(|timeout| {
            Instant::now().checked_add(timeout - (timeout / 10).min(MAX_MARGIN))
        });
        let (Some(timeout), Some(at)) = (timeout, at) else {
            return DeadlineFuture::Unbounded {
                call: self.inner.call(request),
            };
        };
        let deadline = Deadline { at, timeout };
        request.extensions_mut().insert(deadline);
        // The URI shares the request's buffer: no copy of the path unless the warning is written.
        let uri = request.uri().clone();
        let call = self.inner.call(request);
        DeadlineFuture::Bounded {
            call: tokio::time::timeout_at(deadline.at + BACKSTOP_GRACE, call),
            uri,
            timeout,
        }
    }
}

pin_project! {
    /// A call, with the backstop when it has a deadline: held in place by the connection's task
    /// rather than boxed.
    #[project = DeadlineFutureProj]
    pub enum DeadlineFuture<F> {
        /// No deadline: the call as it is.
        Unbounded { #[pin] call: F },
        /// Answered `DEADLINE_EXCEEDED` if it has not finished shortly after its deadline.
        Bounded { #[pin] call: Timeout<F>, uri: Uri, timeout: Duration },
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            DeadlineFutureProj::Unbounded { call } => call.poll(cx),
            DeadlineFutureProj::Bounded { call, uri, timeout } => match call.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                Poll::Ready(Err(_elapsed)) => {
                    tracing::warn!(
                        method = uri.path(),
                        ?timeout,
                        "call abandoned: the caller's deadline passed before it finished"
                    );
                    Poll::Ready(Ok(
                        Rejection::DeadlineExceeded { timeout: *timeout }.into_response()
                    ))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_unit_and_refuses_garbage() {
        assert_eq!(parse_grpc_timeout(b"1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout(b"2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout(b"3S"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_grpc_timeout(b"250m"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_grpc_timeout(b"99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_grpc_timeout(b"5n"), Some(Duration::from_nanos(5)));
        for bad in [
            &b""[..],
            b"S",
            b"123456789S",
            b"1x",
            b"-1S",
            b"1.5S",
            b" 1S",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
