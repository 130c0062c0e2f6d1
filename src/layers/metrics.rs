//! RPC metrics: every call counted by method, message type and gRPC status code, timed from its
//! arrival to its status, and counted in flight meanwhile; calls another layer answered itself
//! (a [`Rejection`] in the response's extensions) counted by reason.
//!
//! The method comes from the path (a closed set, `other` for any other path). The status comes
//! from the `grpc-status` header of an answer that is only headers (tonic's immediate errors and
//! the layers' rejections), else from the trailers that end the body; a body that ends without
//! them counts as `UNKNOWN` (what a gRPC client reads), one dropped before its end (the caller
//! cancelled, or the connection broke) as `CANCELLED`. The message type is what the service writes
//! in the [`MessageTypeSlot`] it finds in the request's extensions; a message call the service
//! never read stays `unknown`, a call that carries no message is `none`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::Either;
use http::{HeaderMap, Request, Response};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::Rejection;
use crate::metrics::Metrics;
use crate::metrics::labels::{GrpcCode, MessageType, Method, RejectReason};

/// Where the service writes the message type of the call it serves, for the metrics.
#[derive(Clone, Debug, Default)]
pub struct MessageTypeSlot(Arc<AtomicU8>);

impl MessageTypeSlot {
    /// The slot of a call to `method`: `unknown` until the service reads a message call's
    /// request, `none` for the methods that carry no message.
    pub fn for_method(method: Method) -> MessageTypeSlot {
        let slot = MessageTypeSlot::default();
        match method {
            Method::SendMessage | Method::MarkMessageRead => {}
            Method::ListSenders
            | Method::UploadMedia
            | Method::GetMedia
            | Method::DownloadMedia
            | Method::DeleteMedia
            | Method::StreamEvents
            | Method::HealthCheck
            | Method::HealthWatch
            | Method::ReflectionV1
            | Method::ReflectionV1Alpha
            | Method::Other => slot.set(MessageType::None),
        }
        slot
    }

    pub fn set(&self, message_type: MessageType) {
        self.0.store(message_type.to_u8(), Ordering::Relaxed);
    }

    pub fn get(&self) -> MessageType {
        MessageType::from_u8(self.0.load(Ordering::Relaxed))
    }
}

/// The tower layer of the RPC metrics; passes calls through untouched when metrics are disabled.
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    pub fn new(metrics: Metrics) -> MetricsLayer {
        MetricsLayer { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, B> Service<Request<B>> for MetricsService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    /// The call itself when metrics are off; boxed with its observation when they are on.
    type Future =
        Either<S::Future, Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if !self.metrics.is_enabled() {
            return Either::Left(self.inner.call(request));
        }
        let method = Method::from_path(request.uri().path());
        let slot = MessageTypeSlot::for_method(method);
        request.extensions_mut().insert(slot.clone());
        let call = Pending::start(self.metrics.clone(), method, slot);
        let response = self.inner.call(request);
        Either::Right(Box::pin(async move {
            let response = response.await?;
            if let Some(rejection) = response.extensions().get::<Rejection>() {
                call.metrics.call_rejected(RejectReason::of(rejection));
            }
            if let Some(code) = grpc_status(response.headers()) {
                call.finish(code);
                return Ok(response);
            }
            Ok(response.map(|body| {
                Body::new(ObservedBody {
                    inner: body,
                    call: Some(call),
                })
            }))
        }))
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<GrpcCode> {
    headers
        .get("grpc-status")
        .map(|value| GrpcCode::from_header(value.as_bytes()))
}

/// A call whose status is not known yet. Dropped unfinished, it counts as `CANCELLED`.
struct Pending {
    metrics: Metrics,
    method: Method,
    slot: MessageTypeSlot,
    started: Instant,
    finished: bool,
}

impl Pending {
    fn start(metrics: Metrics, method: Method, slot: MessageTypeSlot) -> Pending {
        metrics.call_started(method);
        Pending {
            metrics,
            method,
            slot,
            started: Instant::now(),
            finished: false,
        }
    }

    fn finish(mut self, code: GrpcCode) {
        self.record(code);
    }

    fn record(&mut self, code: GrpcCode) {
        if !std::mem::replace(&mut self.finished, true) {
            self.metrics
                .call_finished(self.method, self.slot.get(), code, self.started.elapsed());
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.record(GrpcCode(tonic::Code::Cancelled));
    }
}

/// A response body that records its call's status when its trailers pass, or when it ends.
struct ObservedBody {
    inner: Body,
    call: Option<Pending>,
}

impl HttpBody for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame
                .trailers_ref()
                .map(|trailers| grpc_status(trailers).unwrap_or(GrpcCode(tonic::Code::Unknown))),
            Poll::Ready(Some(Err(status))) => Some(GrpcCode(status.code())),
            Poll::Ready(None) => Some(GrpcCode(tonic::Code::Unknown)),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(call) = this.call.take()
        {
            call.finish(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        // Ended without trailers (a gRPC client reads UNKNOWN), else cut short (cancelled: the
        // pending call's own drop says so).
        if let Some(call) = self.call.take()
            && self.inner.is_end_stream()
        {
            call.finish(GrpcCode(tonic::Code::Unknown));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use http::HeaderValue;
    use prometheus_client::encoding::prometheus_text;

    use super::*;

    /// A body of the given frames, then its end.
    struct Frames(VecDeque<Frame<Bytes>>);

    impl HttpBody for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_empty()
        }
    }

    fn trailers(code: &'static str) -> Frame<Bytes> {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static(code));
        Frame::trailers(trailers)
    }

    /// Answers every call with a clone of the response it was given.
    #[derive(Clone)]
    struct Answer(fn() -> Response<Body>);

    impl Service<Request<()>> for Answer {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok((self.0)()))
        }
    }

    fn call_to(path: &str) -> Request<()> {
        Request::builder().uri(path).body(()).expect("a request")
    }

    /// The scrape's line for `calls_total` of `method` with `code`, if any.
    fn calls(metrics: &Metrics, method: &str, message_type: &str, code: &str) -> Option<String> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &metrics.registry().expect("enabled")).expect("encodes");
        let prefix = format!(
            "whatsapp_grpc_calls_total{{method=\"{method}\",message_type=\"{message_type}\",grpc_code=\"{code}\"}} "
        );
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
    }

    async fn drain(body: Body) {
        let mut body = std::pin::pin!(body);
        while std::future::poll_fn(|cx| body.as_mut().poll_frame(cx))
            .await
            .is_some()
        {}
    }

    const SEND: &str = "/whatsapp.v1.MessagingService/SendMessage";
    const SEND_LABEL: &str = "whatsapp.v1.MessagingService/SendMessage";

    #[tokio::test]
    async fn the_status_is_read_from_headers_or_trailers_or_their_absence() {
        let metrics = Metrics::new();
        let layer = MetricsLayer::new(metrics.clone());

        // Trailers-only: the status is in the headers.
        let mut headers_only =
            layer.layer(Answer(|| tonic::Status::invalid_argument("no").into_http()));
        let response = headers_only.call(call_to(SEND)).await.expect("answers");
        drop(response);
        assert_eq!(
            calls(&metrics, SEND_LABEL, "unknown", "INVALID_ARGUMENT").as_deref(),
            Some("1")
        );

        // The status in the trailers after the message.
        let mut streamed = layer.layer(Answer(|| {
            Response::new(Body::new(Frames(VecDeque::from([
                Frame::data(Bytes::from_static(b"message")),
                trailers("0"),
            ]))))
        }));
        let response = streamed.call(call_to(SEND)).await.expect("answers");
        assert_eq!(
            calls(&metrics, SEND_LABEL, "unknown", "OK"),
            None,
            "not yet"
        );
        drain(response.into_body()).await;
        assert_eq!(
            calls(&metrics, SEND_LABEL, "unknown", "OK").as_deref(),
            Some("1")
        );

        // A body that ends without trailers: UNKNOWN, as a client reads it.
        let mut no_trailers = layer.layer(Answer(|| {
            Response::new(Body::new(Frames(VecDeque::from([Frame::data(
                Bytes::from_static(b"message"),
            )]))))
        }));
        let response = no_trailers.call(call_to(SEND)).await.expect("answers");
        drain(response.into_body()).await;
        assert_eq!(
            calls(&metrics, SEND_LABEL, "unknown", "UNKNOWN").as_deref(),
            Some("1")
        );

        // A body dropped before its end: the caller went away.
        let response = streamed.call(call_to(SEND)).await.expect("answers");
        drop(response);
        assert_eq!(
            calls(&metrics, SEND_LABEL, "unknown", "CANCELLED").as_deref(),
            Some("1")
        );

        // Another path is `other`, with no message.
        let response = headers_only
            .call(call_to("/some.Service/Guess"))
            .await
            .expect("answers");
        drop(response);
        assert_eq!(
            calls(&metrics, "other", "none", "INVALID_ARGUMENT").as_deref(),
            Some("1")
        );
    }

    #[tokio::test]
    async fn a_call_another_layer_answered_is_counted_by_its_reason() {
        let metrics = Metrics::new();
        let mut service = MetricsLayer::new(metrics.clone()).layer(Answer(|| {
            Rejection::DeadlineExceeded {
                timeout: std::time::Duration::from_secs(1),
            }
            .into_response()
        }));
        let response = service.call(call_to(SEND)).await.expect("answers");
        drop(response);
        let mut text = String::new();
        prometheus_text::encode(&mut text, &metrics.registry().expect("enabled")).expect("encodes");
        assert!(
            text.lines()
                .any(|line| line
                    == "whatsapp_grpc_calls_rejected_total{reason=\"deadline_exceeded\"} 1"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|line| line == "whatsapp_grpc_calls_rejected_total{reason=\"overloaded\"} 0"),
            "{text}"
        );
        assert_eq!(
            calls(&metrics, SEND_LABEL, "unknown", "DEADLINE_EXCEEDED").as_deref(),
            Some("1")
        );
    }

    #[tokio::test]
    async fn disabled_metrics_pass_calls_through() {
        let mut service = MetricsLayer::new(Metrics::disabled())
            .layer(Answer(|| tonic::Status::invalid_argument("no").into_http()));
        let response = service.call(call_to(SEND)).await.expect("answers");
        assert_eq!(response.headers()["grpc-status"], "3");
        assert!(Metrics::disabled().registry().is_none());
    }
}
