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
use tokio::sync::Semaphore;
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::Rejection;
use crate::error::rejection_status;

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
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.uri().path().starts_with(ALWAYS_ADMITTED) {
            return Box::pin(self.inner.call(request));
        }
        let refuse = |rejection| -> Self::Future {
            let response = rejection_status(rejection).into_http();
            Box::pin(async move { Ok(response) })
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
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await;
            drop(permit);
            response
        })
    }
}
