//! The sandbox's own control endpoints under `/sandbox/` (no authentication): the received log,
//! the stats, token revocation and the health switches (all at once, or one installation's).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::answers::neutral_error;
use super::state::Sandbox;
use super::webhooks::QueueError;

/// `GET /sandbox/received`: every request received on the messages endpoints, oldest first.
pub(crate) async fn received(State(sandbox): State<Arc<Sandbox>>) -> Response {
    Json(sandbox.received()).into_response()
}

/// `DELETE /sandbox/received`: empties the received log.
pub(crate) async fn clear_received(State(sandbox): State<Arc<Sandbox>>) -> StatusCode {
    sandbox.clear_received();
    tracing::debug!("received log cleared");
    StatusCode::NO_CONTENT
}

/// `GET /sandbox/stats`.
pub(crate) async fn stats(State(sandbox): State<Arc<Sandbox>>) -> Response {
    Json(sandbox.stats()).into_response()
}

/// `POST /sandbox/revoke-tokens`: every login token issued so far, by any installation, stops
/// working.
pub(crate) async fn revoke_tokens(State(sandbox): State<Arc<Sandbox>>) -> StatusCode {
    sandbox.installations.revoke_all_tokens();
    tracing::debug!("login tokens revoked");
    StatusCode::NO_CONTENT
}

/// The body of `PUT /sandbox/health`.
#[derive(Deserialize)]
struct HealthSwitch {
    healthy: bool,
}

/// The switch of a `PUT` body `{"healthy": true|false}`, if it is one.
fn health_switch(body: &[u8]) -> Option<bool> {
    serde_json::from_slice::<HealthSwitch>(body)
        .ok()
        .map(|HealthSwitch { healthy }| healthy)
}

/// The answer to a health switch body that is not `{"healthy": true|false}`.
fn bad_health_switch() -> Response {
    neutral_error(
        StatusCode::BAD_REQUEST,
        "expected a JSON body {\"healthy\": true|false}",
    )
}

/// `PUT /sandbox/health` with `{"healthy": true|false}`: sets the Cloud probe and every
/// On-Premises installation (the root one, the named ones tracked so far and those tracked later).
pub(crate) async fn set_health(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Response {
    let Some(healthy) = health_switch(&body) else {
        return bad_health_switch();
    };
    sandbox.set_all_healthy(healthy);
    tracing::debug!(healthy, "health switched");
    StatusCode::NO_CONTENT.into_response()
}

/// `PUT /sandbox/installations/{installation}/health` with `{"healthy": true|false}`: sets that
/// installation only (tracking it, if it is not yet, within the bound).
pub(crate) async fn set_installation_health(
    State(sandbox): State<Arc<Sandbox>>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    let Some(healthy) = health_switch(&body) else {
        return bad_health_switch();
    };
    let Some(installation) = path
        .ok()
        .and_then(|Path(name)| sandbox.installations.named(&name))
    else {
        return neutral_error(
            StatusCode::NOT_FOUND,
            "unknown installation: names are 1 to 64 letters, digits, '-' or '_', and the sandbox tracks at most 64",
        );
    };
    installation.set_healthy(healthy);
    tracing::debug!(healthy, "installation health switched");
    StatusCode::NO_CONTENT.into_response()
}

/// The body of `POST /sandbox/inject-message`: a customer's message to a Cloud business number,
/// exactly one of `text`, `button` (a template quick-reply tap), `button_reply` or `list_reply`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectMessage {
    /// The business number's phone number id (the sandbox's default when absent).
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The customer's WhatsApp ID: 5 to 20 digits.
    pub from: String,
    /// The customer's profile name.
    #[serde(default)]
    pub profile_name: Option<String>,
    /// The id of the message replied to (`context.id`).
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub button: Option<InjectButton>,
    #[serde(default)]
    pub button_reply: Option<InjectReply>,
    #[serde(default)]
    pub list_reply: Option<InjectReply>,
}

/// A template quick-reply tap.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectButton {
    pub payload: String,
    pub text: String,
}

/// A reply button or list row choice.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectReply {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// The most characters of any injected string.
const INJECT_TEXT_MAX: usize = 4096;

/// `POST /sandbox/inject-message`: queues the webhook of a customer's message (see
/// [`InjectMessage`]); answers 202 `{"message_id": …}`, 400 for a bad body, 409 without a
/// webhook URL, 503 when the webhook queue is full.
pub(crate) async fn inject_message(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Response {
    let Some(webhooks) = &sandbox.webhooks else {
        return neutral_error(
            StatusCode::CONFLICT,
            "the sandbox has no webhook URL: start it with one to inject messages",
        );
    };
    let request = match serde_json::from_slice::<InjectMessage>(&body) {
        Ok(request) => request,
        Err(_) => {
            return neutral_error(
                StatusCode::BAD_REQUEST,
                "expected a JSON body {\"from\": digits, and one of \"text\", \"button\" {payload, text}, \"button_reply\" or \"list_reply\" {id, title}}",
            );
        }
    };
    let Some(message) = inject_message_json(&request) else {
        return neutral_error(
            StatusCode::BAD_REQUEST,
            "from must be 5 to 20 digits, exactly one of text, button, button_reply and list_reply set, and every string at most 4096 characters",
        );
    };
    let message_id = message
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let phone_number_id = request
        .phone_number_id
        .as_deref()
        .unwrap_or(crate::config::SANDBOX_PHONE_NUMBER_ID);
    let profile_name = request
        .profile_name
        .as_deref()
        .unwrap_or("Sandbox Customer");
    match webhooks.message(phone_number_id, profile_name, message) {
        Ok(()) => {
            tracing::debug!("customer message injected");
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "message_id": message_id })),
            )
                .into_response()
        }
        Err(QueueError::NoUrl) => neutral_error(
            StatusCode::CONFLICT,
            "the sandbox has no Cloud webhook URL: start it with one to inject messages",
        ),
        Err(QueueError::Full) => neutral_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the webhook queue is full: try again later",
        ),
    }
}

/// The webhook `messages[]` entry of an injected message, if the request is a valid one.
fn inject_message_json(request: &InjectMessage) -> Option<serde_json::Value> {
    use serde_json::json;
    let digits = request.from.bytes().all(|b| b.is_ascii_digit());
    if !digits || !(5..=20).contains(&request.from.len()) {
        return None;
    }
    let strings = [
        request.profile_name.as_deref(),
        request.context.as_deref(),
        request.text.as_deref(),
        request.button.as_ref().map(|b| b.payload.as_str()),
        request.button.as_ref().map(|b| b.text.as_str()),
    ]
    .into_iter()
    .chain(
        [&request.button_reply, &request.list_reply]
            .into_iter()
            .flatten()
            .flat_map(|reply| {
                [
                    Some(reply.id.as_str()),
                    Some(reply.title.as_str()),
                    reply.description.as_deref(),
                ]
            }),
    );
    if strings
        .flatten()
        .any(|text| text.chars().count() > INJECT_TEXT_MAX)
    {
        return None;
    }
    let reply = |reply: &InjectReply| {
        let mut object = json!({"id": reply.id, "title": reply.title});
        if let (Some(description), Some(object)) = (&reply.description, object.as_object_mut()) {
            object.insert("description".into(), json!(description));
        }
        object
    };
    let (kind, content) = match (
        &request.text,
        &request.button,
        &request.button_reply,
        &request.list_reply,
    ) {
        (Some(text), None, None, None) => ("text", json!({ "body": text })),
        (None, Some(button), None, None) => (
            "button",
            json!({"payload": button.payload, "text": button.text}),
        ),
        (None, None, Some(chosen), None) => (
            "interactive",
            json!({"type": "button_reply", "button_reply": reply(chosen)}),
        ),
        (None, None, None, Some(chosen)) => (
            "interactive",
            json!({"type": "list_reply", "list_reply": reply(chosen)}),
        ),
        _ => return None,
    };
    let mut message = json!({
        "from": request.from,
        "id": super::ids::cloud_message_id(),
        "timestamp": super::clock::unix_seconds(std::time::SystemTime::now()).to_string(),
        "type": kind,
    });
    let object = message.as_object_mut()?;
    object.insert(kind.to_owned(), content);
    if let Some(context) = &request.context {
        object.insert(
            "context".into(),
            json!({"from": "15550000000", "id": context}),
        );
    }
    Some(message)
}
