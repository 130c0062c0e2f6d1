//! The special recipients: sending to one of these numbers makes the sandbox answer with one of the
//! API's documented failures (or answer late), so that clients can test their error handling.
//!
//! | to            | scenario                       | Cloud                         | On-Premises                 |
//! |---------------|--------------------------------|-------------------------------|-----------------------------|
//! | `15550000100` | parameter error                | 400, 100                      | 400, 1008                   |
//! | `15550000131` | not a WhatsApp user            | 400, 131026                   | 404, 1013                   |
//! | `15550000470` | customer-service window closed | 400, 131047                   | 400, 470                    |
//! | `15550000429` | rate limited                   | 429, 130429, `Retry-After: 7` | 429, 1015, `Retry-After: 7` |
//! | `15550000500` | internal error                 | 500, 131000                   | 500, 1000                   |
//! | `15550000503` | upstream not ready             | 503, 131016                   | 503, 1011                   |
//! | `15550000502` | a proxy's HTML error page      | 502 `text/html`               | 502 `text/html`             |
//! | `15550000408` | slow answer                    | success after `slow_answer`   | same                        |
//! | `15550000132` | undeliverable, later           | success, then a `failed` status webhook (131026) | success |
//!
//! The recipient is compared by its digits only, so `+1 555-000-0429` is the rate-limited number.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::answers::{ApiError, Flavor};

/// The seconds a rate-limited answer asks the client to wait.
const RETRY_AFTER_SECONDS: &str = "7";

/// The body of the 502 answered by a proxy in front of the API.
pub const BAD_GATEWAY_PAGE: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";

/// The special recipients (the `to` of a send) and what they make the sandbox answer.
pub mod recipients {
    /// Cloud 400 code 100; On-Premises 400 code 1008.
    pub const PARAMETER_ERROR: &str = "15550000100";
    /// Cloud 400 code 131026; On-Premises 404 code 1013.
    pub const NOT_A_WHATSAPP_USER: &str = "15550000131";
    /// Cloud 400 code 131047; On-Premises 400 code 470.
    pub const WINDOW_CLOSED: &str = "15550000470";
    /// 429 with `Retry-After: 7`; Cloud code 130429, On-Premises code 1015.
    pub const RATE_LIMITED: &str = "15550000429";
    /// 500; Cloud code 131000, On-Premises code 1000.
    pub const INTERNAL_ERROR: &str = "15550000500";
    /// 503; Cloud code 131016, On-Premises code 1011.
    pub const UNAVAILABLE: &str = "15550000503";
    /// 502 with a proxy's HTML page ([`BAD_GATEWAY_PAGE`](crate::sandbox::BAD_GATEWAY_PAGE)).
    pub const BAD_GATEWAY: &str = "15550000502";
    /// Success, after [`SandboxConfig::slow_answer`](crate::sandbox::SandboxConfig::slow_answer).
    pub const SLOW_ANSWER: &str = "15550000408";
    /// Cloud: accepted (200), then a `failed` status webhook with error 131026 (Message
    /// undeliverable) instead of `sent`/`delivered`/`read`; On-Premises: accepted.
    pub const FAILS_AFTER_ACCEPTANCE: &str = "15550000132";
}

/// What a special recipient makes the sandbox do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Answer one of the API's documented errors.
    Fail(Failure),
    /// Answer a proxy's HTML error page instead of the API's JSON.
    BadGateway,
    /// Wait `slow_answer`, then answer the success.
    SlowAnswer,
}

/// The API errors a special recipient triggers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    ParameterError,
    NotAWhatsAppUser,
    WindowClosed,
    RateLimited,
    InternalError,
    Unavailable,
}

/// What the handler does once a scenario has played.
pub(crate) enum Outcome {
    /// Answer this instead of the success.
    Answer(Response),
    /// Answer the success as usual.
    Proceed,
}

impl Scenario {
    /// The scenario `to` triggers, if any.
    pub(crate) fn for_recipient(to: &str) -> Option<Scenario> {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        Some(match digits.as_str() {
            recipients::PARAMETER_ERROR => Scenario::Fail(Failure::ParameterError),
            recipients::NOT_A_WHATSAPP_USER => Scenario::Fail(Failure::NotAWhatsAppUser),
            recipients::WINDOW_CLOSED => Scenario::Fail(Failure::WindowClosed),
            recipients::RATE_LIMITED => Scenario::Fail(Failure::RateLimited),
            recipients::INTERNAL_ERROR => Scenario::Fail(Failure::InternalError),
            recipients::UNAVAILABLE => Scenario::Fail(Failure::Unavailable),
            recipients::BAD_GATEWAY => Scenario::BadGateway,
            recipients::SLOW_ANSWER => Scenario::SlowAnswer,
            _ => return None,
        })
    }

    /// Plays the scenario: waits for the slow answer, or builds the failure `flavor` answers.
    pub(crate) async fn play(self, flavor: Flavor, slow_answer: Duration) -> Outcome {
        match self {
            Scenario::SlowAnswer => {
                tokio::time::sleep(slow_answer).await;
                Outcome::Proceed
            }
            Scenario::BadGateway => {
                Outcome::Answer((StatusCode::BAD_GATEWAY, Html(BAD_GATEWAY_PAGE)).into_response())
            }
            Scenario::Fail(failure) => Outcome::Answer(failure.answer(flavor)),
        }
    }

    /// A short name for logs (the recipient itself is never logged).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Fail(Failure::ParameterError) => "parameter error",
            Scenario::Fail(Failure::NotAWhatsAppUser) => "not a WhatsApp user",
            Scenario::Fail(Failure::WindowClosed) => "customer-service window closed",
            Scenario::Fail(Failure::RateLimited) => "rate limited",
            Scenario::Fail(Failure::InternalError) => "internal error",
            Scenario::Fail(Failure::Unavailable) => "upstream not ready",
            Scenario::BadGateway => "bad gateway",
            Scenario::SlowAnswer => "slow answer",
        }
    }
}

impl Failure {
    /// The failure as `flavor` answers it, headers included.
    pub(crate) fn answer(self, flavor: Flavor) -> Response {
        let mut response = flavor.error(self.api_error(flavor));
        if self == Failure::RateLimited {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }

    /// The documented error of this failure in `flavor`.
    fn api_error(self, flavor: Flavor) -> ApiError {
        let error = |status, code, title, details| ApiError {
            status,
            code,
            title,
            details,
        };
        match (self, flavor) {
            (Failure::ParameterError, Flavor::Cloud) => error(
                StatusCode::BAD_REQUEST,
                100,
                "Invalid parameter",
                "Parameter value is not valid",
            ),
            (Failure::ParameterError, Flavor::OnPremises) => error(
                StatusCode::BAD_REQUEST,
                1008,
                "Required parameter is missing",
                "A required parameter is missing or empty",
            ),
            (Failure::NotAWhatsAppUser, Flavor::Cloud) => error(
                StatusCode::BAD_REQUEST,
                131_026,
                "Message undeliverable",
                "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.",
            ),
            (Failure::NotAWhatsAppUser, Flavor::OnPremises) => error(
                StatusCode::NOT_FOUND,
                1013,
                "User is not valid",
                "The recipient is not a valid WhatsApp user",
            ),
            (Failure::WindowClosed, Flavor::Cloud) => error(
                StatusCode::BAD_REQUEST,
                131_047,
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ),
            (Failure::WindowClosed, Flavor::OnPremises) => error(
                StatusCode::BAD_REQUEST,
                470,
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number",
                "Use a message template to re-engage the customer",
            ),
            (Failure::RateLimited, Flavor::Cloud) => error(
                StatusCode::TOO_MANY_REQUESTS,
                130_429,
                "Rate limit hit",
                "Cloud API message throughput has been reached.",
            ),
            (Failure::RateLimited, Flavor::OnPremises) => error(
                StatusCode::TOO_MANY_REQUESTS,
                1015,
                "Too many requests",
                "Rate limit reached; retry later",
            ),
            (Failure::InternalError, Flavor::Cloud) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                131_000,
                "Something went wrong",
                "Message failed to send due to an unknown error.",
            ),
            (Failure::InternalError, Flavor::OnPremises) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                1000,
                "Generic error",
                "Internal error",
            ),
            (Failure::Unavailable, Flavor::Cloud) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                131_016,
                "Service unavailable",
                "A service is temporarily unavailable.",
            ),
            (Failure::Unavailable, Flavor::OnPremises) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                1011,
                "Service not ready",
                "The WhatsApp gateway is not ready",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_compared_by_digits() {
        assert_eq!(
            Scenario::for_recipient("+1 555-000-0429"),
            Some(Scenario::Fail(Failure::RateLimited))
        );
        assert_eq!(
            Scenario::for_recipient("15550000408"),
            Some(Scenario::SlowAnswer)
        );
        assert_eq!(Scenario::for_recipient("15550001111"), None);
        assert_eq!(Scenario::for_recipient(""), None);
    }
}
