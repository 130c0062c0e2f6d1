//! What can go wrong between the facade and the API, said from the point of view of what became of
//! the message.

use std::time::Duration;

use crate::flavor::Flavor;

/// A failed call to the API.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The API answered with one of its documented errors: it did not take the message.
    #[error("the {} answered HTTP {} with error {}: {}", .0.flavor, .0.http_status, .0.code.map_or("(none)".to_owned(), |c| c.to_string()), .0.title_after_code())]
    Api(Box<ApiError>),

    /// Something answered that is not the API's JSON (a proxy's HTML page, an empty body, a
    /// redirect, which is never followed, or an answer larger than [`super::MAX_ANSWER_BYTES`]).
    /// The message may or may not have reached the API, except on a 429: a rate limit says the
    /// request was not processed. `content_type` says what the answer was (redacted and bounded).
    #[error(
        "the upstream answered HTTP {http_status} with a body that is not the API's JSON ({content_type})"
    )]
    UnexpectedAnswer {
        http_status: u16,
        content_type: String,
        retry_after: Option<Duration>,
    },

    /// The request never left: the API could not be reached (connection refused, DNS, TLS
    /// handshake), or its connection failed before the request was written on it (over HTTP/2:
    /// not yet queued, or its stream refused unprocessed; over HTTP/1.1: its body not yet asked
    /// for). Nothing was processed; a retry is safe.
    #[error("the upstream could not be reached: {0}")]
    Unreachable(String),

    /// The request was sent but no answer came in time. The API may have taken the message.
    #[error("no answer from the upstream within {0:?}; the message may have been sent")]
    TimedOut(Duration),

    /// The connection broke after the request was sent. The API may have taken the message.
    #[error("the connection to the upstream broke after the request was sent: {0}")]
    Interrupted(String),

    /// The service could not get a token: the login failed or was refused. The message was not
    /// sent. `api_down` says whether the failure is evidence about the API itself (no answer in
    /// time, a broken connection, a 5xx) rather than about this service's configuration (a refused
    /// password, another 4xx, an answer without a token).
    #[error("the service could not log in to the On-Premises API: {message}")]
    Login { message: String, api_down: bool },

    /// This service already has as many calls in flight to the API as it allows, and as many
    /// callers waiting as it lets wait (or the wait for a slot ran out). Nothing was sent.
    #[error("too many calls to the upstream in flight; retry in {retry_after:?}")]
    Busy { retry_after: Duration },

    /// The caller's deadline ran out. `sent` says whether the request had been written to the API
    /// (the outcome is then unknown) or the call was still waiting for a slot or a login.
    #[error("the caller's deadline ran out {}", if *.sent { "after the request was sent; the message may have been sent" } else { "before anything was sent" })]
    DeadlineExceeded { sent: bool },

    /// The request could not be built here (a URL the HTTP stack refuses, for instance). Nothing
    /// was sent.
    #[error("the request to the upstream could not be built: {0}")]
    Local(String),
}

impl UpstreamError {
    /// Whether this failure is evidence that the API itself is down or sick, rather than a refusal
    /// of one message, a fault of this service's configuration, or this service being busy.
    ///
    /// True for: unreachable, no answer within `--upstream-timeout`, a broken connection, HTTP 5xx
    /// (the API's JSON or not), the API's codes 1, 2, 1011, 131000, 131016, and a login that failed
    /// the same ways. False for: this service busy, the caller's deadline, a request that could not
    /// be built, 4xx answers, and a refused login password (that is this service's configuration,
    /// and the API that refused it is evidently up).
    pub fn says_api_is_down(&self) -> bool {
        match self {
            UpstreamError::Api(api) => {
                api.http_status >= 500 || matches!(api.code, Some(1 | 2 | 1011 | 131000 | 131016))
            }
            UpstreamError::UnexpectedAnswer { http_status, .. } => *http_status >= 500,
            UpstreamError::Unreachable(_)
            | UpstreamError::TimedOut(_)
            | UpstreamError::Interrupted(_) => true,
            UpstreamError::Login { api_down, .. } => *api_down,
            UpstreamError::Busy { .. }
            | UpstreamError::DeadlineExceeded { .. }
            | UpstreamError::Local(_) => false,
        }
    }
}

impl UpstreamError {
    /// Whether this failure says nothing about the API either way: no answer of the API was
    /// judged (this service was busy, the caller's deadline ran out first, or the request could
    /// not be built). Health should neither count it as up nor as down.
    pub fn is_inconclusive(&self) -> bool {
        match self {
            UpstreamError::Busy { .. }
            | UpstreamError::DeadlineExceeded { .. }
            | UpstreamError::Local(_) => true,
            UpstreamError::Api(_)
            | UpstreamError::UnexpectedAnswer { .. }
            | UpstreamError::Unreachable(_)
            | UpstreamError::TimedOut(_)
            | UpstreamError::Interrupted(_)
            | UpstreamError::Login { .. } => false,
        }
    }
}

/// A failed message call: the last error, and how many attempts the call made (requests sent to
/// the API, or connections tried: the renewal after a refused On-Premises token is not one). Zero
/// when nothing was tried (no slot, no login, the deadline passed first).
///
/// The count travels beside the error rather than in each [`UpstreamError`] variant, so the
/// variants stay what the API said and the count is added once, to every upstream status.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct UpstreamFailure {
    pub error: UpstreamError,
    pub attempts: u32,
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

impl ApiError {
    /// The title without the code the Graph API writes at its start (`(#130429) Rate limit hit`),
    /// which the error's message already gives: `error 130429: Rate limit hit`.
    pub fn title_after_code(&self) -> &str {
        let title = self.title.as_str();
        self.code
            .and_then(|code| {
                title
                    .strip_prefix("(#")?
                    .strip_prefix(code.to_string().as_str())?
                    .strip_prefix(')')
            })
            .map_or(title, str::trim_start)
    }
}

#[cfg(test)]
impl UpstreamError {
    /// A Cloud API error answer with only a status, a code and a `Retry-After`, for tests.
    pub(crate) fn api_for_test(
        http_status: u16,
        code: Option<i64>,
        retry_after: Option<Duration>,
    ) -> UpstreamError {
        UpstreamError::Api(Box::new(ApiError {
            flavor: Flavor::Cloud,
            http_status,
            code,
            subcode: None,
            title: String::new(),
            details: String::new(),
            fbtrace_id: None,
            retry_after,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(http_status: u16, code: Option<i64>) -> UpstreamError {
        UpstreamError::api_for_test(http_status, code, None)
    }

    #[test]
    fn the_message_gives_the_code_once() {
        let with_title = |code, title: &str| match api(429, code) {
            UpstreamError::Api(mut error) => {
                error.title = title.to_owned();
                UpstreamError::Api(error).to_string()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            with_title(Some(130429), "(#130429) Rate limit hit"),
            "the Cloud API answered HTTP 429 with error 130429: Rate limit hit"
        );
        // Another code in the title, or none, is the API's text as it is.
        assert!(
            with_title(Some(130429), "(#80007) Rate limit hit")
                .ends_with(": (#80007) Rate limit hit")
        );
        assert!(
            with_title(None, "(#130429) Rate limit hit")
                .ends_with("(none): (#130429) Rate limit hit")
        );
        assert!(with_title(Some(1), "(#1)").ends_with("error 1: "));
    }

    #[test]
    fn only_evidence_about_the_api_says_it_is_down() {
        let unexpected = |http_status| UpstreamError::UnexpectedAnswer {
            http_status,
            content_type: String::new(),
            retry_after: None,
        };
        let login = |api_down| UpstreamError::Login {
            message: String::new(),
            api_down,
        };
        for down in [
            api(500, None),
            api(503, Some(1011)),
            api(400, Some(131016)),
            api(400, Some(1)),
            unexpected(502),
            UpstreamError::Unreachable(String::new()),
            UpstreamError::TimedOut(Duration::from_secs(30)),
            UpstreamError::Interrupted(String::new()),
            login(true),
        ] {
            assert!(down.says_api_is_down(), "{down:?}");
        }
        for up in [
            api(400, Some(100)),
            api(401, Some(190)),
            api(429, Some(130429)),
            unexpected(429),
            unexpected(307),
            unexpected(200),
            login(false),
            UpstreamError::Busy {
                retry_after: Duration::from_secs(1),
            },
            UpstreamError::DeadlineExceeded { sent: true },
            UpstreamError::DeadlineExceeded { sent: false },
            UpstreamError::Local(String::new()),
        ] {
            assert!(!up.says_api_is_down(), "{up:?}");
            let inconclusive = matches!(
                up,
                UpstreamError::Busy { .. }
                    | UpstreamError::DeadlineExceeded { .. }
                    | UpstreamError::Local(_)
            );
            assert_eq!(up.is_inconclusive(), inconclusive, "{up:?}");
        }
    }
}

/// How a request of the message path's own clients failed before an answer was read whole, as
/// text not yet redacted.
#[derive(Debug)]
pub(super) enum TransportError {
    /// Nothing was sent: the connection (TCP, TLS, HTTP/2) could not be made, or it failed before
    /// the request was written on it, or the API refused the request's HTTP/2 stream unprocessed.
    NotSent(String),
    /// The request could have reached the API (sent whole or in part, or the answer broke off).
    Broken(String),
}

/// An error's text with its causes (a client's error says what failed, its causes why), not yet
/// redacted.
pub(super) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
