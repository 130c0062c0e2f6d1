//! The service's errors, and their one mapping to `tonic::Status` as the caller sees it.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::validate::InvalidRequest;

/// Everything that can make an RPC fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request breaks one or more rules; nothing was sent.
    #[error("invalid request: {0}")]
    InvalidArgument(#[from] InvalidRequest),
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        // One exhaustive match: a new variant cannot be forgotten.
        match error {
            Error::InvalidArgument(invalid) => {
                let message = format!(
                    "the request breaks {} rule(s) of the WhatsApp Business API; nothing was sent: {invalid}",
                    invalid.violations.len()
                );
                let violations: Vec<FieldViolation> = invalid
                    .violations
                    .into_iter()
                    .map(|violation| {
                        let mut field_violation =
                            FieldViolation::new(violation.field, violation.rule.to_string());
                        field_violation.reason = violation.rule.reason().to_owned();
                        field_violation
                    })
                    .collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
        }
    }
}
