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
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if !self.metrics.is_enabled() {
            return Box::pin(self.inner.call(request));
        }
        let method = Method::from_path(request.uri().path());
        let slot = MessageTypeSlot::for_method(method);
        request.extensions_mut().insert(slot.clone());
        let call = Pending::start(self.metrics.clone(), method, slot);
        let response = self.inner.call(request);
        Box::pin(async move {
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
        })
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
