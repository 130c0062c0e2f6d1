//! The floor of any facade on this machine: a tonic server (default settings, one thread) that
//! forwards every `SendMessage` to the stub as one constant JSON body, over hyper's pooled HTTP/1.1
//! client, and answers a constant message id. No JSON is built or read, nothing is validated,
//! traced or limited. What a facade adds (validation, JSON, tracing, limits, idempotency) is above
//! this; what no facade can avoid (a gRPC call in, an HTTP call out, the reads, writes and
//! wake-ups of both) is in it. Opt-in (`--only ...,floor`): it tells whether a CPU target is
//! reachable at all, not how the service compares.

use crate::proto;
use bytes::Bytes;
use http::{HeaderValue, Method, Request as HttpRequest, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::Status;

use crate::serve::SendOnly;

/// The one body the floor sends: a short text, as the facade would write it.
const BODY: &[u8] = br#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"15550001234","type":"text","text":{"body":"hello","preview_url":false}}"#;

struct Floor {
    client: Client<HttpConnector, Full<Bytes>>,
    url: http::Uri,
    authorization: HeaderValue,
}

impl SendOnly for Floor {
    async fn send(
        &self,
        _request: proto::SendMessageRequest,
    ) -> Result<proto::SendMessageResponse, Status> {
        let mut request = HttpRequest::new(Full::new(Bytes::from_static(BODY)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.url.clone();
        let headers = request.headers_mut();
        headers.insert(header::AUTHORIZATION, self.authorization.clone());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let answer = self
            .client
            .request(request)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let status = answer.status();
        // Read to the end, so that the connection goes back to the pool.
        answer
            .into_body()
            .collect()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if !status.is_success() {
            return Err(Status::internal(format!("the API answered {status}")));
        }
        Ok(proto::SendMessageResponse {
            message_id: "wamid.FLOOR".into(),
            message_status: proto::MessageStatus::Accepted as i32,
            ..Default::default()
        })
    }
}

pub async fn run(upstream: &str) -> Result<(), String> {
    let url = format!("{upstream}/v24.0/{}/messages", crate::PHONE_NUMBER_ID)
        .parse()
        .map_err(|e| format!("--upstream {upstream}: {e}"))?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let token = std::env::var(crate::facade::TOKEN_ENV).unwrap_or_default();
    let floor = Floor {
        client: Client::builder(TokioExecutor::new()).build(connector),
        url,
        authorization: HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|e| format!("the token: {e}"))?,
    };
    crate::serve::messaging("the floor", floor).await
}
