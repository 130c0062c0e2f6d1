//! How each flavor of the API shapes its answers: the Cloud API's Graph error object (with its
//! `fbtrace_id`, repeated in the `x-fb-trace-id` header) and the On-Premises API's `errors` list
//! and `meta` block.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ids;

/// The On-Premises API version the sandbox claims to be.
const ON_PREMISES_VERSION: &str = "2.53.2";

/// The header carrying a Cloud error's trace id.
pub(crate) const FB_TRACE_ID_HEADER: &str = "x-fb-trace-id";

/// Which API a path belongs to; it decides the shape of errors and which tokens are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    Cloud,
    OnPremises,
}

/// An API error, shaped per flavor by [`Flavor::error`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub title: &'static str,
    pub details: &'static str,
}

/// The On-Premises `meta` block.
pub(crate) fn on_premises_meta() -> Value {
    json!({"api_status": "stable", "version": ON_PREMISES_VERSION})
}

impl Flavor {
    /// `error` in this flavor's shape.
    pub(crate) fn error(self, error: ApiError) -> Response {
        match self {
            Flavor::Cloud => {
                let trace_id = ids::fbtrace_id();
                let body = json!({"error": {
                    "message": format!("(#{}) {}", error.code, error.title),
                    "type": "OAuthException",
                    "code": error.code,
                    "error_data": {"messaging_product": "whatsapp", "details": error.details},
                    "fbtrace_id": trace_id,
                }});
                with_trace_id((error.status, Json(body)).into_response(), &trace_id)
            }
            Flavor::OnPremises => {
                let body = json!({
                    "errors": [{"code": error.code, "title": error.title, "details": error.details}],
                    "meta": on_premises_meta(),
                });
                (error.status, Json(body)).into_response()
            }
        }
    }

    /// The answer to a request without a valid bearer token.
    pub(crate) fn unauthorized(self) -> Response {
        match self {
            Flavor::Cloud => {
                let trace_id = ids::fbtrace_id();
                let message = "Invalid OAuth access token - Cannot parse access token";
                let body = json!({"error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": 190,
                    "fbtrace_id": trace_id,
                }});
                let mut response = with_trace_id(
                    (StatusCode::UNAUTHORIZED, Json(body)).into_response(),
                    &trace_id,
                );
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token - Cannot parse access token\"",
                    ),
                );
                response
            }
            Flavor::OnPremises => on_premises_access_denied("Invalid or expired token"),
        }
    }

    /// The answer to a body that is not JSON.
    pub(crate) fn not_json(self) -> Response {
        self.error(match self {
            Flavor::Cloud => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: 100,
                title: "Invalid parameter",
                details: "The request body is not valid JSON",
            },
            Flavor::OnPremises => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: 1000,
                title: "Generic error",
                details: "The request body is not valid JSON",
            },
        })
    }

    /// The answer to a parameter whose value the API refuses.
    pub(crate) fn invalid_parameter(self, details: &'static str) -> Response {
        self.parameter_error((1009, "Parameter value is not valid"), details)
    }

    /// The answer to a JSON body lacking a parameter the sandbox needs.
    pub(crate) fn missing_parameter(self, details: &'static str) -> Response {
        self.parameter_error((1008, "Required parameter is missing"), details)
    }

    /// A 400 about a parameter: Cloud's one code for all of them (100), or On-Premises' own.
    fn parameter_error(
        self,
        (on_premises_code, on_premises_title): (u32, &'static str),
        details: &'static str,
    ) -> Response {
        self.error(match self {
            Flavor::Cloud => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: 100,
                title: "Invalid parameter",
                details,
            },
            Flavor::OnPremises => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: on_premises_code,
                title: on_premises_title,
                details,
            },
        })
    }
}

/// The On-Premises 401 (`errors` without `meta`, as the API answers it).
pub(crate) fn on_premises_access_denied(details: &'static str) -> Response {
    let body = json!({"errors": [{"code": 1005, "title": "Access denied", "details": details}]});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// Sets the `x-fb-trace-id` header of a Cloud error.
fn with_trace_id(mut response: Response, trace_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(trace_id) {
        response.headers_mut().insert(FB_TRACE_ID_HEADER, value);
    }
    response
}

/// The sandbox's own, flavor-neutral errors (unknown path, bad control request).
pub(crate) fn neutral_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}
