//! The upstream stub: the smallest fast server that answers like the Cloud API's messages endpoint
//! (`POST /{version}/{phone-number-id}/messages` → a message id) and its health probe
//! (`GET /{version}/{phone-number-id}?fields=id`), over HTTP/1.1 and over HTTP/2 without TLS (h2c,
//! prior knowledge), whichever the client speaks. It reads every request body whole, as the API does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// The largest body read (the service's largest valid request is well below).
const MAX_BODY: usize = 4 * 1024 * 1024;

static SENT: AtomicU64 = AtomicU64::new(0);

pub async fn run() -> Result<(), String> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("the stub cannot listen: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    crate::children::announce(address);
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors, say: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    if Limited::new(body, MAX_BODY).collect().await.is_err() {
        return Ok(json(
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"error":{"code":100}}"#.into(),
        ));
    }
    let path = parts.uri.path();
    Ok(match parts.method {
        Method::POST if path.ends_with("/messages") => {
            let n = SENT.fetch_add(1, Ordering::Relaxed);
            json(
                StatusCode::OK,
                format!(
                    r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"15550001111","wa_id":"15550001111"}}],"messages":[{{"id":"wamid.BENCH{n:016X}","message_status":"accepted"}}]}}"#
                ),
            )
        }
        Method::GET => {
            let id = path.rsplit('/').next().unwrap_or_default();
            json(StatusCode::OK, format!(r#"{{"id":"{id}"}}"#))
        }
        _ => json(StatusCode::NOT_FOUND, r#"{"error":{"code":100}}"#.into()),
    })
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
