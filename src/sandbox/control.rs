//! The sandbox's own control endpoints under `/sandbox/` (no authentication): the received log,
//! the stats, token revocation and the health switch.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
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

/// `POST /sandbox/revoke-tokens`: every login token issued so far stops working.
pub(crate) async fn revoke_tokens(State(sandbox): State<Arc<Sandbox>>) -> StatusCode {
    sandbox.tokens.revoke_all();
    tracing::debug!("login tokens revoked");
    StatusCode::NO_CONTENT
}

/// The body of `PUT /sandbox/health`.
#[derive(Deserialize)]
struct HealthSwitch {
    healthy: bool,
}

/// `PUT /sandbox/health` with `{"healthy": true|false}`.
pub(crate) async fn set_health(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Response {
    match serde_json::from_slice::<HealthSwitch>(&body) {
        Ok(HealthSwitch { healthy }) => {
            sandbox.set_healthy(healthy);
            tracing::debug!(healthy, "health switched");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => neutral_error(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"healthy\": true|false}",
        ),
    }
}
