//! Admission: at most `limit` calls in progress on this server (health checks aside, so probes keep
//! answering under load). A call beyond it is answered at once `RESOURCE_EXHAUSTED` with `RetryInfo`
//! and outcome `not_sent`, without decoding its body, so memory stays flat however many arrive.
//! Once the server drains, new calls are answered `UNAVAILABLE` (outcome `not_sent`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::Rejection;

/// Calls to these path prefixes are always admitted.
const ALWAYS_ADMITTED: &str = "/grpc.health.v1.Health/";

/// When a refused caller should try again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The calls in progress and whether the server drains; shared by the layer and the server.
#[derive(Debug)]
pub struct Admission {
    calls: Arc<Semaphore>,
    limit: usize,
    draining: AtomicBool,
}

impl Admission {
    /// Admits at most `limit` calls at once.
    pub fn new(limit: usize) -> Arc<Admission> {
        Arc::new(Admission {
            calls: Arc::new(Semaphore::new(limit)),
            limit,
            draining: AtomicBool::new(false),
        })
    }

    /// From now on, new calls are refused with `UNAVAILABLE`.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// How many calls are in progress.
    pub fn in_progress(&self) -> usize {
        self.limit - self.calls.available_permits()
    }
}

/// The tower layer of [`Admission`].
#[derive(Clone, Debug)]
pub struct AdmitLayer {
    admission: Arc<Admission>,
}

impl AdmitLayer {
    pub fn new(admission: Arc<Admission>) -> AdmitLayer {
        AdmitLayer { admission }
    }
}

impl<S> Layer<S> for AdmitLayer {
    type Service = Admit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admit {
            inner,
            admission: self.admission.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Admit<S> {
    inner: S,
    admission: Arc<Admission>,
}

impl<S, B> Service<Request<B>> for Admit<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = AdmitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.uri().path().starts_with(ALWAYS_ADMITTED) {
            return AdmitFuture::Admitted {
                call: self.inner.call(request),
                permit: None,
            };
        }
        let refuse = |rejection: Rejection| AdmitFuture::Refused {
            response: Some(rejection.into_response()),
        };
        if self.admission.draining.load(Ordering::Relaxed) {
            return refuse(Rejection::Draining);
        }
        let Ok(permit) = self.admission.calls.clone().try_acquire_owned() else {
            tracing::debug!(
                limit = self.admission.limit,
                "call refused: server at its limit"
            );
            return refuse(Rejection::Overloaded {
                limit: self.admission.limit,
                retry_after: RETRY_AFTER,
            });
        };
        AdmitFuture::Admitted {
            call: self.inner.call(request),
            permit: Some(permit),
        }
    }
}

pin_project! {
    /// An admitted call holding its place until it has its answer, or a refusal: held in place by
    /// the connection's task rather than boxed.
    #[project = AdmitFutureProj]
    pub enum AdmitFuture<F> {
        /// The call; `permit` is its place (none for health checks), given back with the answer.
        Admitted { #[pin] call: F, permit: Option<OwnedSemaphorePermit> },
        /// The refusal, answered at once.
        Refused { response: Option<Response<Body>> },
    }
}

impl<F, E> Future for AdmitFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AdmitFutureProj::Admitted { call, permit } => {
                let answer = std::task::ready!(call.poll(cx));
                drop(permit.take());
                Poll::Ready(answer)
            }
            AdmitFutureProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after its answer: as a finished future may, it never answers twice.
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    /// Answers OK once `release` has a permit for it.
    #[derive(Clone)]
    struct Held {
        release: Arc<Semaphore>,
    }

    impl Service<Request<()>> for Held {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            let release = self.release.clone();
            Box::pin(async move {
                let _ = release.acquire().await;
                Ok(Response::new(Body::default()))
            })
        }
    }

    fn call_to(path: &str) -> Request<()> {
        Request::builder().uri(path).body(()).expect("a request")
    }

    /// The gRPC status of a response the layer answered itself.
    fn status(response: &Response<Body>) -> Option<tonic::Status> {
        tonic::Status::from_header_map(response.headers())
    }

    #[tokio::test]
    async fn refuses_calls_beyond_the_limit_and_while_draining_but_never_health() {
        let admission = Admission::new(1);
        let release = Arc::new(Semaphore::new(0));
        let mut service = AdmitLayer::new(admission.clone()).layer(Held {
            release: release.clone(),
        });
        let first =
            tokio::spawn(service.call(call_to("/whatsapp.v1.MessagingService/SendMessage")));
        tokio::task::yield_now().await;
        assert_eq!(admission.in_progress(), 1);

        let refused = service
            .call(call_to("/whatsapp.v1.MessagingService/SendMessage"))
            .await
            .expect("an answer");
        let refused = status(&refused).expect("a status");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        let info = refused.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "OVERLOADED");
        assert_eq!(info.metadata["outcome"], "not_sent");
        assert_eq!(
            refused.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(RETRY_AFTER)
        );

        // Health checks are admitted at the limit.
        let health = tokio::spawn(service.call(call_to("/grpc.health.v1.Health/Check")));
        release.add_permits(2);
        let answered = first.await.expect("joined").expect("an answer");
        assert!(status(&answered).is_none(), "the first call was served");
        let health = health.await.expect("joined").expect("an answer");
        assert!(status(&health).is_none(), "the health check was served");
        assert_eq!(admission.in_progress(), 0);

        admission.drain();
        let refused = service
            .call(call_to("/whatsapp.v1.MessagingService/SendMessage"))
            .await
            .expect("an answer");
        let refused = status(&refused).expect("a status");
        assert_eq!(refused.code(), Code::Unavailable);
        assert_eq!(
            refused.get_details_error_info().expect("ErrorInfo").reason,
            "DRAINING"
        );
    }
}
