//! The connect timeout over the whole of opening a connection: hyper's `HttpConnector` bounds the
//! TCP connect alone, so an API (or a middlebox) that accepts TCP and then never answers the TLS
//! handshake would hold the call until its deadline. Wrapped around the HTTPS connector, for both
//! hyper's HTTP/1.1 pool and the HTTP/2 connections (tested end to end in
//! `tests/sick_upstream.rs`).

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use tower_service::Service;

type BoxError = Box<dyn Error + Send + Sync>;

/// `inner`, each connection it opens given up at `timeout`.
#[derive(Clone)]
pub(super) struct ConnectTimeout<C> {
    inner: C,
    timeout: Duration,
}

impl<C> ConnectTimeout<C> {
    pub(super) fn new(inner: C, timeout: Duration) -> ConnectTimeout<C> {
        ConnectTimeout { inner, timeout }
    }
}

impl<C> Service<Uri> for ConnectTimeout<C>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let timeout = self.timeout;
        let connecting = self.inner.call(uri);
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(format!(
                    "no connection within the connect timeout ({})",
                    humantime::format_duration(timeout)
                )
                .into()),
            }
        })
    }
}
