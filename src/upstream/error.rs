//! What can go wrong between the facade and the API, said from the point of view of what became of
//! the message.

use std::time::Duration;

use crate::flavor::Flavor;

/// A failed call to the API.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The API answered with one of its documented errors: it did not take the message.
    #[error("the {} answered HTTP {} with error {}: {}", .0.flavor, .0.http_status, .0.code.map_or("(none)".to_owned(), |c| c.to_string()), .0.title)]
    Api(Box<ApiError>),

    /// Something answered that is not the API's JSON (a proxy's HTML page, an empty body). The
    /// message may or may not have reached the API.
    #[error(
        "the upstream answered HTTP {http_status} with a body that is not the API's JSON ({content_type})"
    )]
    UnexpectedAnswer {
        http_status: u16,
        content_type: String,
        retry_after: Option<Duration>,
    },

    /// The request never left: the API could not be reached (connection refused, DNS, TLS
    /// handshake). Nothing was sent; a retry is safe.
    #[error("the upstream could not be reached: {0}")]
    Unreachable(String),

    /// The request was sent but no answer came in time. The API may have taken the message.
    #[error("no answer from the upstream within {0:?}; the message may have been sent")]
    TimedOut(Duration),

    /// The connection broke after the request was sent. The API may have taken the message.
    #[error("the connection to the upstream broke after the request was sent: {0}")]
    Interrupted(String),

    /// The service could not get a token: the login failed or was refused.
    #[error("the service could not log in to the On-Premises API: {0}")]
    Login(String),
}

/// One of the API's error answers, whichever the flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub flavor: Flavor,
    pub http_status: u16,
    /// The API's error code (`error.code` on Cloud, `errors[0].code` on On-Premises).
    pub code: Option<i64>,
    /// Cloud `error.error_subcode`.
    pub subcode: Option<i64>,
    pub title: String,
    pub details: String,
    /// Cloud `fbtrace_id` (or the `x-fb-trace-id` header): what Meta support asks for.
    pub fbtrace_id: Option<String>,
    /// From a `Retry-After` header.
    pub retry_after: Option<Duration>,
}

impl UpstreamError {
    /// Whether this failure is news that the API itself is down, rather than a refusal of one
    /// message or a failure of this service.
    pub fn says_api_is_down(&self) -> bool {
        match self {
            UpstreamError::Api(api) => {
                api.http_status >= 500 || matches!(api.code, Some(1 | 2 | 1011 | 131000 | 131016))
            }
            UpstreamError::UnexpectedAnswer { http_status, .. } => *http_status >= 500,
            UpstreamError::Unreachable(_)
            | UpstreamError::TimedOut(_)
            | UpstreamError::Interrupted(_) => true,
            UpstreamError::Login(_) => false,
        }
    }
}
