//! The On-Premises API's endpoints: `POST /v1/users/login`, `POST /v1/messages`,
//! `PUT /v1/messages/{message_id}` (mark read) and `GET /v1/health`, served for the root
//! installation and, under `/installations/{installation}`, for named ones (see `installations`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::answers::{Flavor, on_premises_access_denied, on_premises_meta};
use super::cloud_only;
use super::ids;
use super::installations::Target;
use super::scenarios::{Outcome, Scenario};
use super::state::{Account, Sandbox};

const FLAVOR: Flavor = Flavor::OnPremises;

/// `POST /v1/users/login`: issues a token of the installation to the configured user.
pub(crate) async fn login(
    State(sandbox): State<Arc<Sandbox>>,
    Target(installation): Target,
    headers: HeaderMap,
) -> Response {
    if !sandbox.basic_auth_matches(&headers) {
        sandbox.count_unauthorized();
        tracing::debug!("on-premises login refused");
        return on_premises_access_denied("Invalid credentials");
    }
    sandbox.count_login();
    let issued = sandbox.issue_token(&installation);
    tracing::debug!("on-premises login: token issued");
    let body = json!({"users": [{"token": issued.token, "expires_after": issued.expires_after}]});
    (StatusCode::OK, Json(body)).into_response()
}

/// `POST /v1/messages`: sends a message (201 with its id), or plays a special recipient's
/// scenario.
pub(crate) async fn send(
    State(sandbox): State<Arc<Sandbox>>,
    Target(installation): Target,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = Account::OnPremises(&installation);
    let body = sandbox.receive(account, &method, &uri, &headers, &body);
    if let Some(refused) = sandbox.refuse_unauthorized(account, &headers) {
        return refused;
    }
    let Some(body) = body else {
        tracing::debug!("on-premises send: body is not JSON");
        return FLAVOR.not_json();
    };
    if let Some(details) = cloud_only::shape(&body) {
        tracing::debug!("on-premises send: a Cloud API only shape");
        return FLAVOR.invalid_parameter(details);
    }
    let Some(to) = body.get("to").and_then(Value::as_str) else {
        tracing::debug!("on-premises send: no recipient");
        return FLAVOR.missing_parameter("Parameter 'to' is required");
    };
    if let Some(scenario) = Scenario::for_recipient(to) {
        tracing::debug!(
            scenario = scenario.name(),
            "on-premises send: special recipient"
        );
        if let Outcome::Answer(response) = scenario.play(FLAVOR, sandbox.config.slow_answer).await {
            return response;
        }
    }
    if let Some(id) = super::media::media_id_of(&body)
        && !sandbox.media.may_send(account, id)
    {
        tracing::debug!("on-premises send: unknown media id");
        return super::media::unknown_media_in_message(FLAVOR);
    }
    let id = ids::on_premises_message_id();
    tracing::debug!("on-premises send: accepted");
    if let Some(webhooks) = &sandbox.webhooks {
        let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
        // A full queue drops the webhooks (as an API outage would), not the send.
        let _ = webhooks.on_premises_statuses(installation.name.as_deref(), &id, &wa_id);
    }
    let body = json!({"messages": [{"id": id}], "meta": on_premises_meta()});
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `PUT /v1/messages/{message_id}` with `{"status": "read"}`: marks a message read.
pub(crate) async fn mark_read(
    State(sandbox): State<Arc<Sandbox>>,
    Target(installation): Target,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = Account::OnPremises(&installation);
    let body = sandbox.receive(account, &method, &uri, &headers, &body);
    if let Some(refused) = sandbox.refuse_unauthorized(account, &headers) {
        return refused;
    }
    let Some(body) = body else {
        tracing::debug!("on-premises mark read: body is not JSON");
        return FLAVOR.not_json();
    };
    if body.get("status").and_then(Value::as_str) != Some("read") {
        tracing::debug!("on-premises mark read: status is not \"read\"");
        return FLAVOR.missing_parameter("Parameter 'status' must be \"read\"");
    }
    tracing::debug!("on-premises mark read: accepted");
    (StatusCode::OK, Json(json!({"meta": on_premises_meta()}))).into_response()
}

/// `GET /v1/health`: whether the installation's gateway is connected (see `PUT /sandbox/health`
/// and `PUT /sandbox/installations/{installation}/health`).
pub(crate) async fn health(
    State(sandbox): State<Arc<Sandbox>>,
    Target(installation): Target,
    headers: HeaderMap,
) -> Response {
    sandbox.count_health_check();
    if let Some(refused) = sandbox.refuse_unauthorized(Account::OnPremises(&installation), &headers)
    {
        return refused;
    }
    let status = if installation.is_healthy() {
        "connected"
    } else {
        "disconnected"
    };
    tracing::debug!(gateway_status = status, "on-premises health");
    (
        StatusCode::OK,
        Json(json!({"health": {"gateway_status": status}})),
    )
        .into_response()
}
