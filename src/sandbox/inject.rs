//! `whatsapp-grpc sandbox inject-message`: asks a running sandbox to post the webhook of a
//! customer's message (`POST /sandbox/inject-message`), and prints the made-up message's id.

use serde_json::{Value, json};

use crate::config::InjectArgs;

/// The injected message's id, or a sentence saying why not.
pub async fn inject_message(args: InjectArgs) -> Result<String, String> {
    let mut body = json!({ "from": args.from });
    let object = body
        .as_object_mut()
        .ok_or("the request could not be built")?;
    if let Some(id) = &args.phone_number_id {
        object.insert("phone_number_id".into(), json!(id));
    }
    if let Some(context) = &args.context {
        object.insert("context".into(), json!(context));
    }
    if let Some(text) = &args.text {
        object.insert("text".into(), json!(text));
    }
    if let (Some(payload), Some(text)) = (&args.button_payload, &args.button_text) {
        object.insert("button".into(), json!({"payload": payload, "text": text}));
    }
    if let (Some(id), Some(title)) = (&args.reply_id, &args.reply_title) {
        let kind = if args.list {
            "list_reply"
        } else {
            "button_reply"
        };
        object.insert(kind.into(), json!({"id": id, "title": title}));
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let url = format!(
        "{}/sandbox/inject-message",
        args.sandbox_url.trim_end_matches('/')
    );
    let answer = client
        .post(&url)
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&body)
                .map_err(|e| format!("the request could not be built: {e}"))?,
        )
        .send()
        .await
        .map_err(|e| format!("the sandbox at {} did not answer: {e}", args.sandbox_url))?;
    let status = answer.status();
    let answer = answer
        .bytes()
        .await
        .map_err(|e| format!("the sandbox's answer ({status}) could not be read: {e}"))?;
    let answer: Value = serde_json::from_slice(&answer)
        .map_err(|e| format!("the sandbox answered {status} without JSON: {e}"))?;
    if !status.is_success() {
        let message = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return Err(format!(
            "the sandbox refused the message ({status}): {message}"
        ));
    }
    answer
        .get("message_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "the sandbox's answer names no message_id".into())
}
