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
