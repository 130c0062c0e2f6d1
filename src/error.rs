//! The service's errors, and their one mapping to `tonic::Status` as the caller sees it: a code is
//! retryable only if a retry can succeed, and every failure says what became of the message.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message as _;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::api_keys::AuthFailure;
use crate::events::service::StreamError;
use crate::flavor::Flavor;
use crate::idempotency::IdempotencyError;
use crate::layers::Rejection;
use crate::media::MediaError;
use crate::ratelimit::RateLimitError;
use crate::senders::PickError;
use crate::upstream::{ApiError, UpstreamError, UpstreamFailure};
use crate::validate::InvalidRequest;

/// The `ErrorInfo.domain` of errors this service finds itself.
pub const DOMAIN: &str = "whatsapp-grpc";

/// Everything that can make an RPC fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request breaks one or more rules; nothing was sent.
    #[error("invalid request: {0}")]
    InvalidArgument(#[from] InvalidRequest),

    /// The call to the API failed, after `attempts` attempts (`ErrorInfo.metadata["attempts"]`).
    #[error(transparent)]
    Upstream(#[from] UpstreamFailure),

    /// The request names no configured sender; nothing was sent.
    #[error(transparent)]
    Sender(#[from] PickError),

    /// A fault of this service; nothing was sent.
    #[error("internal error: {0}")]
    Internal(String),

    /// The request's `request_id` answered the call without sending it (again).
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),

    /// The sender's send rate left no slot within the call's deadline; nothing was sent.
    #[error(transparent)]
    RateLimit(#[from] RateLimitError),

    /// A media call failed on the caller's side of the stream; nothing was kept.
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// The gRPC metadata (header or trailer) set on an answer replayed for a `request_id`.
pub const REPLAYED: &str = "replayed";

/// What became of the message, as `ErrorInfo.metadata["outcome"]` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The API did not take the message: sending it again cannot deliver it twice.
    NotSent,
    /// The request may have reached the API: the message may have been sent.
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NotSent => "not_sent",
            Outcome::Unknown => "unknown",
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        status(&error)
    }
}

/// The status the caller gets for `error`.
pub fn status(error: &Error) -> Status {
    readable_everywhere(status_of(error))
}

fn status_of(error: &Error) -> Status {
    // One exhaustive match: a new variant cannot be forgotten.
    match error {
        Error::InvalidArgument(invalid) => invalid_argument(invalid),
        Error::Upstream(UpstreamFailure {
            error: UpstreamError::Api(api),
            attempts,
        }) => api_error(api, *attempts),
        Error::Upstream(UpstreamFailure {
            error:
                error @ UpstreamError::UnexpectedAnswer {
                    http_status,
                    retry_after,
                    ..
                },
            attempts,
        }) => {
            let code = match http_status {
                429 => Code::ResourceExhausted,
                500..=599 => Code::Unavailable,
                _ => Code::Unknown,
            };
            // A 429 says the request was not processed, whatever its body; any other answer
            // that is not the API's (a 2xx without a message id, a redirect, a proxy's page)
            // may come after the API took the message.
            let outcome = match http_status {
                429 => Outcome::NotSent,
                _ => Outcome::Unknown,
            };
            own_error(
                code,
                "UNEXPECTED_ANSWER",
                outcome,
                error.to_string(),
                *retry_after,
                [
                    ("http_status", http_status.to_string()),
                    ("attempts", attempts.to_string()),
                ],
            )
        }
        Error::Upstream(UpstreamFailure {
            error: error @ UpstreamError::Unreachable(_),
            attempts,
        }) => own_error(
            Code::Unavailable,
            "UPSTREAM_UNREACHABLE",
            Outcome::NotSent,
            error.to_string(),
            None,
            [("attempts", attempts.to_string())],
        ),
        Error::Upstream(UpstreamFailure {
            error: error @ UpstreamError::TimedOut(_),
            attempts,
        }) => own_error(
            Code::DeadlineExceeded,
            "OUTCOME_UNKNOWN",
            Outcome::Unknown,
            error.to_string(),
            None,
            [("attempts", attempts.to_string())],
        ),
        Error::Upstream(UpstreamFailure {
            error: error @ UpstreamError::Interrupted(_),
            attempts,
        }) => own_error(
            Code::Unknown,
            "OUTCOME_UNKNOWN",
            Outcome::Unknown,
            error.to_string(),
            None,
            [("attempts", attempts.to_string())],
        ),
        Error::Sender(error @ PickError::Required { configured }) => {
            let mut details = ErrorDetails::with_bad_request(vec![{
                let mut violation = FieldViolation::new("sender", error.to_string());
                violation.reason = "REQUIRED".to_owned();
                violation
            }]);
            details.set_error_info(
                "SENDER_REQUIRED",
                DOMAIN,
                HashMap::from([
                    ("outcome".to_owned(), Outcome::NotSent.as_str().to_owned()),
                    ("senders".to_owned(), configured.to_string()),
                ]),
            );
            Status::with_error_details(Code::InvalidArgument, error.to_string(), details)
        }
        Error::Sender(error @ PickError::Unknown) => own_error(
            Code::NotFound,
            "UNKNOWN_SENDER",
            Outcome::NotSent,
            error.to_string(),
            None,
            [],
        ),
        Error::Internal(message) => own_error(
            Code::Internal,
            "INTERNAL",
            Outcome::NotSent,
            message.clone(),
            None,
            [],
        ),
        Error::Upstream(UpstreamFailure {
            error: error @ UpstreamError::Login { .. },
            attempts,
        }) => own_error(
            Code::Internal,
            "UPSTREAM_LOGIN_FAILED",
            Outcome::NotSent,
            error.to_string(),
            None,
            [("attempts", attempts.to_string())],
        ),
        Error::Upstream(UpstreamFailure {
            error: error @ UpstreamError::Busy { retry_after },
            attempts,
        }) => own_error(
            Code::ResourceExhausted,
            "UPSTREAM_BUSY",
            Outcome::NotSent,
            error.to_string(),
            Some(*retry_after),
            [("attempts", attempts.to_string())],
        ),
        Error::Upstream(UpstreamFailure {
            error: error @ UpstreamError::DeadlineExceeded { sent },
            attempts,
        }) => own_error(
            Code::DeadlineExceeded,
            "DEADLINE_EXCEEDED",
            if *sent {
                Outcome::Unknown
            } else {
                Outcome::NotSent
            },
            error.to_string(),
            None,
            [("attempts", attempts.to_string())],
        ),
        Error::Upstream(UpstreamFailure {
            error: error @ UpstreamError::Local(_),
            attempts,
        }) => own_error(
            Code::Internal,
            "REQUEST_NOT_BUILT",
            Outcome::NotSent,
            error.to_string(),
            None,
            [("attempts", attempts.to_string())],
        ),
        Error::Idempotency(error @ IdempotencyError::Unavailable(_)) => own_error(
            Code::Unavailable,
            "IDEMPOTENCY_STORE_UNAVAILABLE",
            Outcome::NotSent,
            error.to_string(),
            None,
            [],
        ),
        Error::Idempotency(error @ IdempotencyError::Reused) => own_error(
            Code::AlreadyExists,
            "REQUEST_ID_REUSED",
            Outcome::NotSent,
            error.to_string(),
            None,
            [],
        ),
        Error::Idempotency(error @ IdempotencyError::InProgress) => own_error(
            Code::Aborted,
            "REQUEST_IN_PROGRESS",
            Outcome::Unknown,
            error.to_string(),
            None,
            [],
        ),
        Error::Idempotency(error @ IdempotencyError::Abandoned) => replayed(own_error(
            Code::Unknown,
            "OUTCOME_UNKNOWN",
            Outcome::Unknown,
            error.to_string(),
            None,
            [(REPLAYED, "true".to_owned())],
        )),
        Error::Idempotency(IdempotencyError::Replayed {
            code,
            message,
            details,
        }) => replayed(Status::with_details(
            Code::from_i32(*code),
            message.clone(),
            details.clone().into(),
        )),
        Error::RateLimit(error @ RateLimitError::Exhausted { retry_after, .. }) => own_error(
            Code::ResourceExhausted,
            "SEND_RATE_LIMITED",
            Outcome::NotSent,
            error.to_string(),
            Some(*retry_after),
            [],
        ),
        Error::RateLimit(error @ RateLimitError::Unavailable(_)) => own_error(
            Code::Unavailable,
            "RATE_LIMIT_STORE_UNAVAILABLE",
            Outcome::NotSent,
            error.to_string(),
            None,
            [],
        ),
        // The caller's own stream failed (it cancelled, or sent what does not decode): its code
        // stands, and the upload was aborted before the API had the whole file.
        Error::Media(error @ MediaError::UploadStream { code, .. }) => own_error(
            *code,
            "UPLOAD_STREAM_FAILED",
            Outcome::NotSent,
            error.to_string(),
            None,
            [],
        ),
    }
}

/// The status of an event stream refused or ended with an error (`EventService.StreamEvents`). No
/// message is sent by a stream, so these carry no `outcome`.
pub fn stream_status(error: &StreamError) -> Status {
    let message = error.to_string();
    let info = |reason: &str| ErrorDetails::with_error_info(reason, DOMAIN, HashMap::new());
    // One exhaustive match: a new variant cannot be forgotten.
    let status = match error {
        StreamError::InvalidRequest { field, rule } => {
            let mut details =
                ErrorDetails::with_bad_request(vec![FieldViolation::new(*field, rule.clone())]);
            details.set_error_info("INVALID_REQUEST", DOMAIN, HashMap::new());
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        StreamError::NoSubscription(_) => {
            let mut details = ErrorDetails::with_bad_request(vec![FieldViolation::new(
                "consumer_group",
                "required in the stream's first request",
            )]);
            details.set_error_info("SUBSCRIPTION_MISSING", DOMAIN, HashMap::new());
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        StreamError::TooManySubscribers { .. } => {
            let mut details = info("TOO_MANY_SUBSCRIBERS");
            details.set_retry_info(Some(crate::layers::admit::RETRY_AFTER));
            Status::with_error_details(Code::ResourceExhausted, message, details)
        }
        StreamError::Store(_) => {
            Status::with_error_details(Code::Unavailable, message, info("EVENT_STORE_UNAVAILABLE"))
        }
    };
    readable_everywhere(status)
}

/// `status` with a message every gRPC client reads as written. tonic percent-encodes `grpc-message`
/// as the gRPC spec says, `#` and `?` included, but grpc-js decodes it with JavaScript's `decodeURI`,
/// which leaves `%23` and `%3F` as they are: a Node caller read the Graph API's `(#130429) Rate
/// limit hit` as `(%23130429) Rate limit hit`. So `#` before a digit (an API error code) becomes
/// `code `, and any other `#` or `?` its full-width form, which every client decodes. The details
/// (`ErrorInfo.metadata["title"]`) keep the API's text as it is. Error path only.
fn readable_everywhere(status: Status) -> Status {
    if !status.message().contains(['#', '?']) {
        return status;
    }
    let mut message = String::with_capacity(status.message().len() + 8);
    let mut chars = status.message().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if chars.peek().is_some_and(char::is_ascii_digit) => message.push_str("code "),
            '#' => message.push('\u{ff03}'),
            '?' => message.push('\u{ff1f}'),
            c => message.push(c),
        }
    }
    // The details are a google.rpc.Status that repeats the message: clients (grpcio-status)
    // check that both agree, so the details carry the new message too.
    let details = match tonic_types::pb::Status::decode(status.details()) {
        Ok(mut rpc) if !status.details().is_empty() => {
            rpc.message.clone_from(&message);
            bytes::Bytes::from(rpc.encode_to_vec())
        }
        _ => bytes::Bytes::copy_from_slice(status.details()),
    };
    Status::with_details_and_metadata(status.code(), message, details, status.metadata().clone())
}

/// What became of the message, as `status`'s `ErrorInfo` says (`None` if it says nothing).
pub fn outcome_of(status: &Status) -> Option<Outcome> {
    match status
        .get_details_error_info()?
        .metadata
        .get("outcome")?
        .as_str()
    {
        "not_sent" => Some(Outcome::NotSent),
        "unknown" => Some(Outcome::Unknown),
        _ => None,
    }
}

/// `status` marked as a replayed answer.
fn replayed(mut status: Status) -> Status {
    status.metadata_mut().insert(
        REPLAYED,
        tonic::metadata::MetadataValue::from_static("true"),
    );
    status
}

fn invalid_argument(invalid: &InvalidRequest) -> Status {
    /// How many violations the status message renders; the details carry every one kept.
    const IN_MESSAGE: usize = 3;
    /// The most bytes of a field path, of a description, and of a violation in the message. A bound
    /// by construction: the model's paths (bounded by its depth and limits) stay under 100 bytes and
    /// its descriptions (the model's names and numbers, never the request's text) under 140. With
    /// [`crate::validate::MAX_REPORTED_VIOLATIONS`] they keep the whole status under 8 KiB.
    const FIELD_MAX: usize = 100;
    const DESCRIPTION_MAX: usize = 140;
    const IN_MESSAGE_MAX: usize = 160;

    let total = invalid.total();
    let mut message = format!(
        "the request breaks {total} rule(s) of the WhatsApp Business API; nothing was sent: "
    );
    for (i, violation) in invalid.violations.iter().take(IN_MESSAGE).enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(at_most(&violation.to_string(), IN_MESSAGE_MAX));
    }
    let rendered = invalid.violations.len().min(IN_MESSAGE);
    if total > rendered {
        message.push_str(&format!("; and {} more", total - rendered));
    }
    let mut violations: Vec<FieldViolation> = invalid
        .violations
        .iter()
        .map(|violation| {
            let mut field_violation = FieldViolation::new(
                at_most(&violation.field, FIELD_MAX),
                at_most(&violation.rule.to_string(), DESCRIPTION_MAX),
            );
            field_violation.reason = violation.rule.reason().to_owned();
            field_violation
        })
        .collect();
    if invalid.omitted > 0 {
        let mut more = FieldViolation::new(
            "",
            format!(
                "and {} more violation(s), not listed; fix these and send again to see them",
                invalid.omitted
            ),
        );
        more.reason = "MORE_VIOLATIONS".to_owned();
        violations.push(more);
    }
    let mut details = ErrorDetails::with_bad_request(violations);
    details.set_error_info(
        "INVALID_REQUEST",
        DOMAIN,
        HashMap::from([
            ("outcome".to_owned(), Outcome::NotSent.as_str().to_owned()),
            ("violations".to_owned(), total.to_string()),
        ]),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn at_most(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The gRPC code for one of the API's errors: by its error code where the code says more than the
/// HTTP status, by the HTTP status otherwise.
pub fn api_code(error: &ApiError) -> Code {
    match error.code {
        // Parameters: the request is wrong, and sending it again will not help.
        Some(100 | 1008 | 1009 | 131008 | 131009 | 131051 | 132000 | 132005 | 132007 | 132012) => {
            Code::InvalidArgument
        }
        // The recipient cannot be messaged now: not a WhatsApp user, outside the customer-service
        // window, or the template is paused.
        Some(470 | 1013 | 131026 | 131047 | 132015 | 132016) => Code::FailedPrecondition,
        // The template does not exist in that language.
        Some(132001) => Code::NotFound,
        // Rate and spam limits: come back later.
        Some(4 | 1015 | 80007 | 130429 | 131048 | 131056 | 133016) => Code::ResourceExhausted,
        // The API (or its gateway) is not ready, or failed on its side.
        Some(1 | 2 | 1011 | 131000 | 131016) => Code::Unavailable,
        // This service's credentials or permissions: the caller cannot fix them.
        Some(0 | 190 | 1005) => Code::Internal,
        Some(3 | 10 | 200..=299) => Code::PermissionDenied,
        _ => match error.http_status {
            400 => Code::InvalidArgument,
            401 => Code::Internal,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            409 => Code::Aborted,
            429 => Code::ResourceExhausted,
            500..=599 => Code::Unavailable,
            _ => Code::Unknown,
        },
    }
}

/// The `ErrorInfo.domain` of the API's own errors.
pub fn api_domain(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Cloud => "graph.facebook.com",
        Flavor::OnPremises => "whatsapp-business-api.on-premises",
    }
}

fn api_error(error: &ApiError, attempts: u32) -> Status {
    let code = api_code(error);
    let reason = match error.code {
        Some(api_code) => api_code.to_string(),
        None => format!("HTTP_{}", error.http_status),
    };
    let mut metadata = HashMap::from([
        ("http_status".to_owned(), error.http_status.to_string()),
        ("title".to_owned(), error.title.clone()),
        ("details".to_owned(), error.details.clone()),
        ("outcome".to_owned(), Outcome::NotSent.as_str().to_owned()),
        ("attempts".to_owned(), attempts.to_string()),
    ]);
    if let Some(fbtrace_id) = &error.fbtrace_id {
        metadata.insert("fbtrace_id".to_owned(), fbtrace_id.clone());
    }
    if let Some(subcode) = error.subcode {
        metadata.insert("error_subcode".to_owned(), subcode.to_string());
    }
    let mut message = format!(
        "the {} refused the message with error {reason}: {}",
        error.flavor,
        error.title_after_code()
    );
    if !error.details.is_empty() {
        message.push_str(" (");
        message.push_str(&error.details);
        message.push(')');
    }
    let mut details = ErrorDetails::with_error_info(reason, api_domain(error.flavor), metadata);
    if let Some(retry_after) = error.retry_after {
        details.set_retry_info(Some(retry_after));
    }
    Status::with_error_details(code, message, details)
}

fn own_error<const N: usize>(
    code: Code,
    reason: &str,
    outcome: Outcome,
    message: String,
    retry_after: Option<Duration>,
    extra: [(&str, String); N],
) -> Status {
    let mut metadata = HashMap::from([("outcome".to_owned(), outcome.as_str().to_owned())]);
    metadata.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let mut details = ErrorDetails::with_error_info(reason, DOMAIN, metadata);
    if let Some(retry_after) = retry_after {
        details.set_retry_info(Some(retry_after));
    }
    Status::with_error_details(code, message, details)
}

/// The status of a request that is not valid Protobuf of the type `full_name` (or is larger than
/// the service reads): the caller's fault, and nothing was sent. `why` is bounded by the codec.
pub fn malformed_request_status(full_name: &str, why: &str) -> Status {
    own_error(
        Code::InvalidArgument,
        "MALFORMED_REQUEST",
        Outcome::NotSent,
        format!("the request is not a valid {full_name} protobuf message: {why}; nothing was sent"),
        None,
        [],
    )
}

/// The status of a call a layer answered itself.
pub fn rejection_status(rejection: Rejection) -> Status {
    readable_everywhere(rejection_status_of(rejection))
}

fn rejection_status_of(rejection: Rejection) -> Status {
    let message = rejection.to_string();
    // One exhaustive match: a new rejection cannot be forgotten.
    match rejection {
        Rejection::Overloaded { limit, retry_after } => own_error(
            Code::ResourceExhausted,
            "OVERLOADED",
            Outcome::NotSent,
            message,
            Some(retry_after),
            [("limit", limit.to_string())],
        ),
        Rejection::Draining => own_error(
            Code::Unavailable,
            "DRAINING",
            Outcome::NotSent,
            message,
            None,
            [],
        ),
        Rejection::DeadlineExceeded { timeout } => own_error(
            Code::DeadlineExceeded,
            "DEADLINE_EXCEEDED",
            Outcome::Unknown,
            message,
            None,
            [("grpc_timeout_ms", timeout.as_millis().to_string())],
        ),
        Rejection::Unauthenticated(failure) => own_error(
            Code::Unauthenticated,
            match failure {
                AuthFailure::Missing => "API_KEY_MISSING",
                AuthFailure::Invalid => "API_KEY_INVALID",
            },
            Outcome::NotSent,
            message,
            None,
            [],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream failure after one attempt.
    fn upstream(error: UpstreamError) -> Error {
        Error::Upstream(UpstreamFailure { error, attempts: 1 })
    }

    fn api(flavor: Flavor, http_status: u16, code: Option<i64>) -> ApiError {
        ApiError {
            flavor,
            http_status,
            code,
            subcode: None,
            title: "title".into(),
            details: String::new(),
            fbtrace_id: None,
            retry_after: None,
        }
    }

    #[test]
    fn messages_need_no_decoding_grpc_js_skips() {
        let mut error = api(Flavor::Cloud, 429, Some(130429));
        error.title = "(#130429) Rate limit hit? see #help".into();
        let status = status(&upstream(UpstreamError::Api(Box::new(error))));
        assert!(
            status
                .message()
                .ends_with("error 130429: Rate limit hit\u{ff1f} see \u{ff03}help"),
            "{status:?}"
        );
        // The details and their ErrorInfo title are the API's, untouched.
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(
            info.metadata["title"],
            "(#130429) Rate limit hit? see #help"
        );
        let http = status.into_http::<()>();
        let header = http.headers()["grpc-message"].to_str().expect("ASCII");
        assert!(
            !header.contains("%23") && !header.contains("%3F"),
            "{header}"
        );

        // A message without either character is left as it is.
        let plain = status_of(&upstream(UpstreamError::Api(Box::new(api(
            Flavor::Cloud,
            429,
            Some(4),
        )))));
        assert_eq!(
            readable_everywhere(plain.clone()).message(),
            plain.message()
        );
    }

    /// Every row of the README's error table.
    #[test]
    fn the_error_table() {
        let rows: &[(u16, Option<i64>, Code)] = &[
            (400, Some(100), Code::InvalidArgument),
            (400, Some(1008), Code::InvalidArgument),
            (400, Some(1009), Code::InvalidArgument),
            (400, Some(131008), Code::InvalidArgument),
            (400, Some(131009), Code::InvalidArgument),
            (404, Some(1013), Code::FailedPrecondition),
            (400, Some(470), Code::FailedPrecondition),
            (400, Some(131047), Code::FailedPrecondition),
            (400, Some(131026), Code::FailedPrecondition),
            (429, None, Code::ResourceExhausted),
            (429, Some(1015), Code::ResourceExhausted),
            (400, Some(130429), Code::ResourceExhausted),
            (400, Some(131048), Code::ResourceExhausted),
            (400, Some(131056), Code::ResourceExhausted),
            (503, Some(1011), Code::Unavailable),
            (500, None, Code::Unavailable),
            (502, Some(999_999), Code::Unavailable),
            (500, Some(131000), Code::Unavailable),
            (401, Some(190), Code::Internal),
            (401, Some(1005), Code::Internal),
            (403, Some(10), Code::PermissionDenied),
            (404, Some(132001), Code::NotFound),
            (400, Some(999_999), Code::InvalidArgument),
            (404, None, Code::NotFound),
            (418, None, Code::Unknown),
        ];
        for &(http_status, code, expected) in rows {
            let error = api(Flavor::Cloud, http_status, code);
            assert_eq!(
                api_code(&error),
                expected,
                "HTTP {http_status} code {code:?}"
            );
            let status = Status::from(upstream(UpstreamError::Api(Box::new(error))));
            assert_eq!(status.code(), expected);
            let info = status.get_details_error_info().expect("ErrorInfo");
            assert_eq!(info.domain, "graph.facebook.com");
            assert_eq!(info.metadata["outcome"], "not_sent");
            let reason = code.map_or(format!("HTTP_{http_status}"), |c| c.to_string());
            assert_eq!(info.reason, reason);
        }
    }

    #[test]
    fn retry_info_only_when_the_api_says_when() {
        let mut error = api(Flavor::OnPremises, 429, Some(1015));
        let status = Status::from(upstream(UpstreamError::Api(Box::new(error.clone()))));
        assert!(status.get_details_retry_info().is_none());
        error.retry_after = Some(Duration::from_secs(7));
        let status = Status::from(upstream(UpstreamError::Api(Box::new(error))));
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            status.get_details_error_info().expect("ErrorInfo").domain,
            "whatsapp-business-api.on-premises"
        );
    }

    #[test]
    fn failures_after_sending_say_the_outcome_is_unknown() {
        for (error, code) in [
            (
                UpstreamError::TimedOut(Duration::from_secs(1)),
                Code::DeadlineExceeded,
            ),
            (UpstreamError::Interrupted("reset".into()), Code::Unknown),
            (
                UpstreamError::UnexpectedAnswer {
                    http_status: 502,
                    content_type: "text/html".into(),
                    retry_after: None,
                },
                Code::Unavailable,
            ),
        ] {
            let status = Status::from(upstream(error));
            assert_eq!(status.code(), code);
            let info = status.get_details_error_info().expect("ErrorInfo");
            assert_eq!(info.metadata["outcome"], "unknown", "{status:?}");
        }
        let status = Status::from(upstream(UpstreamError::Unreachable("refused".into())));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.get_details_error_info().expect("ErrorInfo").metadata["outcome"],
            "not_sent"
        );
    }

    /// The rows of the errors this service finds itself about the upstream: code, reason, outcome.
    #[test]
    fn own_upstream_errors() {
        let rows: Vec<(UpstreamError, Code, &str, &str)> = vec![
            (
                UpstreamError::Busy {
                    retry_after: Duration::from_secs(1),
                },
                Code::ResourceExhausted,
                "UPSTREAM_BUSY",
                "not_sent",
            ),
            (
                UpstreamError::DeadlineExceeded { sent: false },
                Code::DeadlineExceeded,
                "DEADLINE_EXCEEDED",
                "not_sent",
            ),
            (
                UpstreamError::DeadlineExceeded { sent: true },
                Code::DeadlineExceeded,
                "DEADLINE_EXCEEDED",
                "unknown",
            ),
            (
                UpstreamError::Local("invalid URI".into()),
                Code::Internal,
                "REQUEST_NOT_BUILT",
                "not_sent",
            ),
            (
                UpstreamError::Login {
                    message: "refused".into(),
                    api_down: false,
                },
                Code::Internal,
                "UPSTREAM_LOGIN_FAILED",
                "not_sent",
            ),
            (
                UpstreamError::Login {
                    message: "no answer".into(),
                    api_down: true,
                },
                Code::Internal,
                "UPSTREAM_LOGIN_FAILED",
                "not_sent",
            ),
            (
                UpstreamError::UnexpectedAnswer {
                    http_status: 429,
                    content_type: "no content type".into(),
                    retry_after: None,
                },
                Code::ResourceExhausted,
                "UNEXPECTED_ANSWER",
                "not_sent",
            ),
            (
                UpstreamError::UnexpectedAnswer {
                    http_status: 307,
                    content_type: "a redirect, not followed".into(),
                    retry_after: None,
                },
                Code::Unknown,
                "UNEXPECTED_ANSWER",
                "unknown",
            ),
            (
                UpstreamError::UnexpectedAnswer {
                    http_status: 200,
                    content_type: "an answer larger than 65536 bytes".into(),
                    retry_after: None,
                },
                Code::Unknown,
                "UNEXPECTED_ANSWER",
                "unknown",
            ),
        ];
        for (error, code, reason, outcome) in rows {
            let shown = format!("{error:?}");
            let status = Status::from(upstream(error));
            assert_eq!(status.code(), code, "{shown}");
            let info = status.get_details_error_info().expect("ErrorInfo");
            assert_eq!(info.domain, DOMAIN, "{shown}");
            assert_eq!(info.reason, reason, "{shown}");
            assert_eq!(info.metadata["outcome"], outcome, "{shown}");
        }
    }

    /// Every failure of a call to the API says how many attempts it made.
    #[test]
    fn every_upstream_failure_says_how_many_attempts_were_made() {
        let errors = [
            UpstreamError::Api(Box::new(api(Flavor::Cloud, 429, Some(130429)))),
            UpstreamError::UnexpectedAnswer {
                http_status: 502,
                content_type: "text/html".into(),
                retry_after: None,
            },
            UpstreamError::Unreachable("refused".into()),
            UpstreamError::TimedOut(Duration::from_secs(1)),
            UpstreamError::Interrupted("reset".into()),
            UpstreamError::Login {
                message: "refused".into(),
                api_down: false,
            },
            UpstreamError::Busy {
                retry_after: Duration::from_secs(1),
            },
            UpstreamError::DeadlineExceeded { sent: true },
            UpstreamError::Local("invalid URI".into()),
        ];
        for (attempts, error) in (0..).zip(errors) {
            let shown = format!("{error:?}");
            let status = Status::from(Error::Upstream(UpstreamFailure { error, attempts }));
            let info = status.get_details_error_info().expect("ErrorInfo");
            assert_eq!(info.metadata["attempts"], attempts.to_string(), "{shown}");
        }
    }

    #[test]
    fn busy_and_rate_limited_answers_say_when_to_come_back() {
        let status = Status::from(upstream(UpstreamError::Busy {
            retry_after: Duration::from_secs(1),
        }));
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(1))
        );
        let status = Status::from(upstream(UpstreamError::UnexpectedAnswer {
            http_status: 429,
            content_type: "text/plain".into(),
            retry_after: Some(Duration::from_secs(30)),
        }));
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(30))
        );
    }
}
