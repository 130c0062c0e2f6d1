//! Caller authentication: with API keys on, a call must carry `authorization: Bearer <key>` with a
//! known key, or it is answered `UNAUTHENTICATED` (`ErrorInfo` reason `API_KEY_MISSING` or
//! `API_KEY_INVALID`, outcome `not_sent`) before anything else runs, so an unauthenticated call
//! takes no call slot. An authenticated call carries its [`Caller`] in the request's extensions.
//! Health checks (`grpc.health.v1.Health`) need no key, so probes keep working; everything else,
//! reflection included, does.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use http::{Request, Response};
use tonic::body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::Rejection;
use crate::api_keys::{ApiKeys, Caller};

/// Calls to these path prefixes need no key.
const OPEN: &str = "/grpc.health.v1.Health/";

/// The tower layer of caller authentication; `None` lets every call through (API keys off).
#[derive(Clone)]
pub struct AuthLayer {
    keys: Option<Arc<ApiKeys>>,
}

impl AuthLayer {
    pub fn new(keys: Option<Arc<ApiKeys>>) -> AuthLayer {
        AuthLayer { keys }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            keys: self.keys.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    keys: Option<Arc<ApiKeys>>,
}

impl<S, B> Service<Request<B>> for Auth<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let Some(keys) = &self.keys else {
            return Either::Right(self.inner.call(request));
        };
        if request.uri().path().starts_with(OPEN) {
            return Either::Right(self.inner.call(request));
        }
        match keys.authenticate(request.headers()) {
            Ok(caller) => {
                request.extensions_mut().insert::<Caller>(caller);
                Either::Right(self.inner.call(request))
            }
            Err(failure) => {
                tracing::debug!(
                    method = request.uri().path(),
                    reason = ?failure,
                    "call refused: no valid API key"
                );
                Either::Left(ready(Ok(
                    Rejection::Unauthenticated(failure).into_response()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;

    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;
    use crate::api_keys::{ApiKeysConfig, KeySet, hash_key};

    const KEY: &str = "the-billing-services-key";

    /// Answers OK with the caller's name in a header, if it has one.
    #[derive(Clone)]
    struct Echo;

    impl Service<Request<()>> for Echo {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<()>) -> Self::Future {
            let mut response = Response::new(Body::default());
            if let Some(caller) = request.extensions().get::<Caller>() {
                response
                    .headers_mut()
                    .insert("caller", caller.name.parse().expect("a header value"));
            }
            Box::pin(async move { Ok(response) })
        }
    }

    fn call_to(path: &str, authorization: Option<&str>) -> Request<()> {
        let mut request = Request::builder().uri(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.body(()).expect("a request")
    }

    fn keys() -> Option<Arc<ApiKeys>> {
        let text = format!(
            "[[key]]\nname = \"billing\"\nsha256 = \"{}\"\n",
            hash_key(KEY.as_bytes()).expect("a key")
        );
        Some(ApiKeys::new(ApiKeysConfig {
            path: "unused.toml".into(),
            keys: KeySet::parse(&text).expect("valid"),
        }))
    }

    #[tokio::test]
    async fn a_known_key_names_the_caller_and_anything_else_is_refused_but_health() {
        let mut service = AuthLayer::new(keys()).layer(Echo);
        let send = "/whatsapp.v1.MessagingService/SendMessage";

        let answer = service
            .call(call_to(send, Some(&format!("Bearer {KEY}"))))
            .await
            .expect("an answer");
        assert!(tonic::Status::from_header_map(answer.headers()).is_none());
        assert_eq!(answer.headers()["caller"], "billing");

        for (authorization, reason) in [
            (None, "API_KEY_MISSING"),
            (Some("Bearer not-the-key-at-all"), "API_KEY_INVALID"),
            (Some(KEY), "API_KEY_INVALID"),
        ] {
            for path in [
                send,
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            ] {
                let answer = service
                    .call(call_to(path, authorization))
                    .await
                    .expect("an answer");
                let status = tonic::Status::from_header_map(answer.headers()).expect("a status");
                assert_eq!(status.code(), Code::Unauthenticated, "{authorization:?}");
                let info = status.get_details_error_info().expect("ErrorInfo");
                assert_eq!(info.reason, reason);
                assert_eq!(info.metadata["outcome"], "not_sent");
                assert!(!status.message().contains("not-the-key"), "{status:?}");
                assert!(answer.headers().get("caller").is_none());
            }
        }

        let health = service
            .call(call_to("/grpc.health.v1.Health/Check", None))
            .await
            .expect("an answer");
        assert!(tonic::Status::from_header_map(health.headers()).is_none());
    }

    #[tokio::test]
    async fn without_keys_every_call_passes_anonymously() {
        let mut service = AuthLayer::new(None).layer(Echo);
        let answer = service
            .call(call_to("/whatsapp.v1.MessagingService/SendMessage", None))
            .await
            .expect("an answer");
        assert!(tonic::Status::from_header_map(answer.headers()).is_none());
        assert!(answer.headers().get("caller").is_none());
    }
}
