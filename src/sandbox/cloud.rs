//! The Cloud API's endpoints: `POST /{version}/{phone_number_id}/messages` (send, or mark read
//! when the body has `"status": "read"`) and the probe `GET /{version}/{phone_number_id}`.
//!
//! `{version}` must look like a Graph API version (`v23.0`), which also keeps these patterns from
//! catching mistyped On-Premises or `/sandbox/` paths.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::answers::Flavor;
use super::ids;
use super::not_found;
use super::scenarios::{Failure, Outcome, Scenario, recipients};
use super::state::{Account, Sandbox};
use super::webhooks::Fate;

const FLAVOR: Flavor = Flavor::Cloud;

/// Whether `segment` is a Graph API version: `v`, digits, `.`, digits.
pub(super) fn is_graph_version(segment: &str) -> bool {
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| all_digits(major) && all_digits(minor))
}

/// The phone number id of a Cloud path, or `None` if the path is not a Cloud one.
fn phone_number_id(path: Result<Path<(String, String)>, PathRejection>) -> Option<String> {
    let Path((version, phone_number_id)) = path.ok()?;
    is_graph_version(&version).then_some(phone_number_id)
}

/// `POST /{version}/{phone_number_id}/messages`.
pub(crate) async fn messages(
    State(sandbox): State<Arc<Sandbox>>,
    path: Result<Path<(String, String)>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(phone_number_id) = phone_number_id(path) else {
        return not_found().await;
    };
    let account = Account::Cloud {
        phone_number_id: &phone_number_id,
    };
    let body = sandbox.receive(account, &method, &uri, &headers, &body);
    if let Some(refused) = sandbox.refuse_unauthorized(account, &headers) {
        return refused;
    }
    let Some(body) = body else {
        tracing::debug!("cloud messages: body is not JSON");
        return FLAVOR.not_json();
    };
    if body.get("status").and_then(Value::as_str) == Some("read") {
        tracing::debug!("cloud mark read: accepted");
        return (StatusCode::OK, Json(json!({"success": true}))).into_response();
    }
    // Only a group's messages are pinned.
    if body.get("type").and_then(Value::as_str) == Some("pin")
        && body.get("recipient_type").and_then(Value::as_str) != Some("group")
    {
        tracing::debug!("cloud send: pin outside a group");
        return FLAVOR.missing_parameter("A pin message is sent to a group only.");
    }
    // A business-scoped user ID (`recipient`) may stand for `to`, which wins when both are set.
    let Some(to) = ["to", "recipient"]
        .into_iter()
        .find_map(|key| body.get(key).and_then(Value::as_str))
    else {
        tracing::debug!("cloud send: no recipient");
        return FLAVOR.missing_parameter("The parameter to is required.");
    };
    if let Some(scenario) = Scenario::for_recipient(to) {
        tracing::debug!(scenario = scenario.name(), "cloud send: special recipient");
        if let Outcome::Answer(response) = scenario.play(FLAVOR, sandbox.config.slow_answer).await {
            return response;
        }
    }
    if let Some(id) = super::media::media_id_of(&body)
        && !sandbox.media.may_send(account, id)
    {
        tracing::debug!("cloud send: unknown media id");
        return super::media::unknown_media_in_message(FLAVOR);
    }
    let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
    tracing::debug!("cloud send: accepted");
    let message_id = ids::cloud_message_id();
    if let Some(webhooks) = &sandbox.webhooks {
        let fate = match wa_id.as_str() {
            recipients::FAILS_AFTER_ACCEPTANCE => Fate::Undeliverable,
            _ => Fate::Read,
        };
        // A full queue drops the webhooks (as an API outage would), not the send; without a
        // Cloud URL none is queued.
        let _ = webhooks.statuses(&phone_number_id, &message_id, &wa_id, fate);
    }
    let body = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": message_id, "message_status": "accepted"}],
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// `POST /{version}/{phone_number_id}/marketing_messages`: the Marketing Messages API, which takes
/// template messages only; otherwise answered like the messages endpoint.
pub(crate) async fn marketing_messages(
    State(sandbox): State<Arc<Sandbox>>,
    path: Result<Path<(String, String)>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_template = serde_json::from_slice::<Value>(&body)
        .ok()
        .is_some_and(|json| json.get("type").and_then(Value::as_str) == Some("template"));
    if !is_template {
        tracing::debug!("cloud marketing messages: not a template");
        return FLAVOR
            .missing_parameter("The Marketing Messages API sends template messages only.");
    }
    messages(State(sandbox), path, method, uri, headers, body).await
}

/// `GET /{version}/{phone_number_id}`: the phone number's details, or 503 when the sandbox is
/// set unhealthy.
pub(crate) async fn probe(
    State(sandbox): State<Arc<Sandbox>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Some(phone_number_id) = phone_number_id(path) else {
        return not_found().await;
    };
    sandbox.count_health_check();
    let account = Account::Cloud {
        phone_number_id: &phone_number_id,
    };
    if let Some(refused) = sandbox.refuse_unauthorized(account, &headers) {
        return refused;
    }
    if !sandbox.cloud_is_healthy() {
        tracing::debug!("cloud probe: unhealthy");
        return Failure::Unavailable.answer(FLAVOR);
    }
    tracing::debug!("cloud probe: healthy");
    let body = json!({
        "id": phone_number_id,
        "display_phone_number": "+1 555-000-0000",
        "verified_name": "Sandbox",
        "quality_rating": "GREEN",
    });
    (StatusCode::OK, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::is_graph_version;

    #[test]
    fn graph_versions() {
        assert!(is_graph_version("v23.0"));
        assert!(is_graph_version("v7.12"));
        for not_a_version in ["v1", "v23", "v.0", "v23.", "23.0", "sandbox", "v2x.0", ""] {
            assert!(!is_graph_version(not_a_version), "{not_a_version}");
        }
    }
}
