//! Media over gRPC: `whatsapp.v1.MediaService` uploads, looks up, downloads and deletes media on
//! the API's media endpoint for the sender a request names, streaming the bytes both ways.
//!
//! [`kinds`] holds the MIME types and size limits the API documents, [`upload`] checks an
//! upload's metadata and then its bytes as they stream into the request (aborting it on the
//! first broken rule), [`service`] is the gRPC service; the HTTP side is
//! `crate::upstream`'s media calls.

pub mod kinds;
pub mod service;
pub mod upload;

pub use service::Media;

use crate::error::Error;
use crate::validate::{FieldViolation, InvalidRequest, Rule};

/// The longest media id taken.
pub const MEDIA_ID_MAX: usize = 256;

/// Failures of media calls that are neither a broken rule nor the API's.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The caller's upload stream failed (cancelled, or a message that does not decode); the
    /// request to the API was aborted, so it keeps nothing.
    #[error(
        "the upload stream failed ({code:?}: {message}); the upload was aborted and nothing was kept"
    )]
    UploadStream { code: tonic::Code, message: String },
}

/// Checks a `media_id` that goes into a URL path: required, at most [`MEDIA_ID_MAX`] characters,
/// one plain path segment.
pub fn check_media_id(media_id: &str) -> Result<(), Error> {
    let rule = if media_id.is_empty() {
        Some(Rule::Required)
    } else if media_id.chars().count() > MEDIA_ID_MAX {
        Some(Rule::TooLong {
            max: MEDIA_ID_MAX,
            actual: media_id.chars().count(),
        })
    } else if media_id == "."
        || media_id == ".."
        || media_id.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '?' | '#' | '%')
        })
    {
        Some(Rule::Format(
            "a media id: no whitespace, control characters, /, \\, ?, # or %, and not . or ..",
        ))
    } else {
        None
    };
    match rule {
        None => Ok(()),
        Some(rule) => Err(Error::InvalidArgument(InvalidRequest {
            violations: vec![FieldViolation {
                field: "media_id".to_owned(),
                rule,
            }],
            omitted: 0,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_ids() {
        assert!(check_media_id("1037543291543636").is_ok());
        assert!(check_media_id("f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "a%2F", "a?x", &"1".repeat(257)] {
            assert!(check_media_id(bad).is_err(), "{bad}");
        }
    }
}
