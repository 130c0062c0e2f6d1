//! The facade a team would write in an afternoon, the reference the service is compared with:
//! tonic (default settings, tonic-prost's codec), the JSON built with `serde_json::json!`, sent with
//! a default `reqwest::Client`, the message id read back from the answer. No validation, no
//! tracing, no limits, no idempotency; text messages only (the only kind such a facade starts
//! with). The one thing it adds to "default" is the rustls provider reqwest needs in this workspace
//! (reqwest's `rustls-no-provider`, as the service builds it), which costs nothing over plain HTTP.

use crate::proto::{self, send_message_request::Content};
use serde_json::{Value, json};
use tonic::Status;

use crate::serve::SendOnly;

/// The token the facade sends (the stub accepts any).
pub const TOKEN_ENV: &str = "WHATSAPP_GRPC_BENCH_TOKEN";

struct Facade {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl SendOnly for Facade {
    async fn send(
        &self,
        request: proto::SendMessageRequest,
    ) -> Result<proto::SendMessageResponse, Status> {
        let Some(Content::Text(text)) = request.content else {
            return Err(Status::unimplemented("only text messages"));
        };
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": request.to,
            "type": "text",
            "text": { "body": text.body, "preview_url": text.preview_url },
        });
        let answer = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if !answer.status().is_success() {
            return Err(Status::internal(format!(
                "the API answered {}",
                answer.status()
            )));
        }
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let answer: Value =
            serde_json::from_slice(&bytes).map_err(|e| Status::internal(e.to_string()))?;
        let message_id = answer["messages"][0]["id"]
            .as_str()
            .ok_or_else(|| Status::internal("no message id"))?;
        Ok(proto::SendMessageResponse {
            message_id: message_id.to_string(),
            message_status: proto::MessageStatus::Accepted as i32,
            wa_id: answer["contacts"][0]["wa_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            ..Default::default()
        })
    }
}

pub async fn run(upstream: &str) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let facade = Facade {
        client: reqwest::Client::new(),
        url: format!("{upstream}/v24.0/{}/messages", crate::PHONE_NUMBER_ID),
        token: std::env::var(TOKEN_ENV).unwrap_or_default(),
    };
    crate::serve::messaging("the facade", facade).await
}
