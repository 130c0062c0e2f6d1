//! The connect timeout over the whole of opening a connection: hyper's `HttpConnector` bounds the
//! TCP connect alone, so an API (or a middlebox) that accepts TCP and then never answers the TLS
//! handshake would hold the call until its deadline. Wrapped around the HTTPS connector, for both
//! hyper's HTTP/1.1 pool and the HTTP/2 connections.

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hyper_rustls::HttpsConnectorBuilder;
    use hyper_util::client::legacy::connect::HttpConnector;
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_tls_handshake_never_answered_ends_at_the_timeout() {
        // Accepts, then says nothing: the client's TLS hello is never answered.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let uri: Uri = format!("https://{}/", listener.local_addr().expect("address"))
            .parse()
            .expect("a URI");
        let held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
            }
        });
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector({
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http
            });
        let mut connector = ConnectTimeout::new(https, Duration::from_millis(300));
        // The test's own bound, far above the connect timeout: the attempt must end before it.
        let attempt = tokio::time::timeout(Duration::from_secs(20), connector.call(uri))
            .await
            .expect("the connect timeout ended the handshake");
        match attempt {
            Ok(_) => panic!("connected to a server that never answered"),
            Err(error) => assert_eq!(
                error.to_string(),
                "no connection within the connect timeout (300ms)"
            ),
        }
        held.abort();
    }
}
