//! An upload, checked: its metadata before anything is sent, then its bytes as they stream from
//! the caller into the request to the API. The first chunk that breaks a rule (too large for its
//! kind, more or fewer bytes than declared, a second metadata, a broken caller stream) ends the
//! body with an error, which aborts the request mid-body, so the API never receives a whole file
//! and keeps nothing; the rule broken is kept in [`Progress`] for the caller's status.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tonic::Status;

use super::MediaError;
use super::kinds::{self, MIME_TYPE_MAX, WEBP_HEADER_LEN};
use crate::error::Error;
use crate::flavor::Flavor;
use crate::proto::upload_media_request::Part;
use crate::proto::{MediaKind, UploadMediaMetadata, UploadMediaRequest};
use crate::validate::{InvalidRequest, Path, Rule, Validator};

/// The most bytes one `chunk` may carry: 1 MiB, under the server's largest decoded message.
pub const CHUNK_MAX_BYTES: usize = 1024 * 1024;

/// The longest `file_name`, in characters.
pub const FILE_NAME_MAX: usize = 256;

/// An upload whose metadata passed: what to stream and against which limit.
#[derive(Clone, Debug)]
pub struct Checked {
    pub kind: MediaKind,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub declared: Option<u64>,
}

/// Checks an upload's metadata: every violation, with its field path under `metadata`.
pub fn check(metadata: &UploadMediaMetadata, flavor: Flavor) -> Result<Checked, InvalidRequest> {
    let root = Path::ROOT.field("metadata");
    let mut validator = Validator::new(flavor);
    let mime_path = root.field("mime_type");
    let mime_type = metadata.mime_type.as_str();
    let mut kind = None;
    if validator.required(mime_path, mime_type) {
        if mime_type.chars().count() > MIME_TYPE_MAX || !kinds::is_header_safe(mime_type) {
            validator.violation(
                mime_path,
                Rule::Format(
                    "a MIME type such as image/jpeg, at most 255 visible ASCII characters",
                ),
            );
        } else {
            kind = kinds::kind_of(mime_type);
            if kind.is_none() {
                validator.violation(
                    mime_path,
                    Rule::Format(concat!(
                        "a type the API takes: ",
                        "image/jpeg, image/png, image/webp (sticker), audio/aac, audio/amr, ",
                        "audio/mpeg, audio/mp4, audio/ogg, video/mp4, video/3gp, text/plain, ",
                        "application/pdf or an Office document type"
                    )),
                );
            }
        }
    }
    let name_path = root.field("file_name");
    let file_name = metadata.file_name.as_str();
    validator.max_chars(name_path, file_name, FILE_NAME_MAX);
    if file_name
        .chars()
        .any(|c| c.is_control() || matches!(c, '"' | '/' | '\\'))
    {
        validator.violation(
            name_path,
            Rule::Format("a file name without control characters, quotes or slashes"),
        );
    }
    let size_path = root.field("size_bytes");
    if let (Some(declared), Some(kind)) = (metadata.size_bytes, kind) {
        let max = kinds::max_bytes(kind, None);
        if declared == 0 {
            validator.violation(
                size_path,
                Rule::OutOfRange {
                    min: "1".into(),
                    max: max.to_string(),
                },
            );
        } else if declared > max {
            validator.violation(size_path, too_large(max, declared));
        }
    }
    let checked = kind.map(|kind| Checked {
        kind,
        mime_type: mime_type.to_owned(),
        file_name: (!file_name.is_empty()).then(|| file_name.to_owned()),
        declared: metadata.size_bytes,
    });
    validator.finish(checked)
}

fn too_large(max: u64, actual: u64) -> Rule {
    Rule::TooLarge {
        max_bytes: usize::try_from(max).unwrap_or(usize::MAX),
        actual: usize::try_from(actual).unwrap_or(usize::MAX),
    }
}

/// One violation at `field`, as the caller's error.
fn refused(field: &str, rule: Rule) -> Error {
    Error::InvalidArgument(InvalidRequest {
        violations: vec![crate::validate::FieldViolation {
            field: field.to_owned(),
            rule,
        }],
        omitted: 0,
    })
}

/// How an upload's stream is going: the bytes it carried, whether it ended as it should, and
/// the first failure, if any.
#[derive(Debug, Default)]
pub struct Progress {
    received: AtomicU64,
    complete: AtomicBool,
    failure: Mutex<Option<Error>>,
}

impl Progress {
    /// The bytes the caller streamed so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }

    /// Whether the caller's stream ended with every byte passed on.
    pub fn complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Takes the failure that ended the stream, if one did.
    pub fn take_failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Keeps the first failure.
    fn fail(&self, error: Error) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            *failure = Some(error);
        }
    }
}

/// The error a failed body ends with; the request to the API is aborted by it. The caller learns
/// why from [`Progress`].
#[derive(Debug, thiserror::Error)]
#[error("the upload was aborted: the caller's stream broke a rule or failed")]
pub struct Aborted;

/// The state of the body as it streams.
struct Body<S> {
    messages: S,
    checked: Checked,
    /// The bound that applies now (a sticker's is lowered once its header says it is static).
    limit: u64,
    /// A sticker's first bytes, until there are enough to read its animation flag.
    webp_header: Option<Vec<u8>>,
    received: u64,
    progress: Arc<Progress>,
    done: bool,
    /// The caller's stream was seen to end right after the declared bytes.
    ended: bool,
}

/// The body of the request to the API: the chunks of `messages` (the caller's stream after its
/// metadata), checked as they pass, and the [`Progress`] that says how it went.
pub fn body<S>(
    messages: S,
    checked: Checked,
) -> (
    impl Stream<Item = Result<Bytes, Aborted>> + Send + 'static,
    Arc<Progress>,
)
where
    S: Stream<Item = Result<UploadMediaRequest, Status>> + Send + Unpin + 'static,
{
    let progress = Arc::new(Progress::default());
    let state = Body {
        messages,
        limit: kinds::max_bytes(checked.kind, None),
        webp_header: (checked.kind == MediaKind::Sticker).then(Vec::new),
        checked,
        received: 0,
        progress: progress.clone(),
        done: false,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        match state.next().await {
            Ok(Some(bytes)) => Some((Ok(bytes), state)),
            Ok(None) => {
                state.done = true;
                state.progress.complete.store(true, Ordering::Release);
                None
            }
            Err(error) => {
                state.done = true;
                state.progress.fail(error);
                Some((Err(Aborted), state))
            }
        }
    });
    (stream, progress)
}

impl<S> Body<S>
where
    S: Stream<Item = Result<UploadMediaRequest, Status>> + Unpin,
{
    /// The next non-empty chunk, the end of the file, or the rule it breaks.
    async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        if self.ended {
            return Ok(None);
        }
        loop {
            let message = match self.messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(status)) => {
                    return Err(MediaError::UploadStream {
                        code: status.code(),
                        message: bounded(status.message(), 300).to_owned(),
                    }
                    .into());
                }
                None => return self.end().map(|()| None),
            };
            let chunk = match message.part {
                Some(Part::Chunk(chunk)) => chunk,
                Some(Part::Metadata(_)) => {
                    return Err(refused(
                        "metadata",
                        Rule::NotAllowed("only the first message of an upload carries metadata"),
                    ));
                }
                None => {
                    return Err(refused("chunk", Rule::OneOfRequired("metadata, chunk")));
                }
            };
            if chunk.len() > CHUNK_MAX_BYTES {
                return Err(refused(
                    "chunk",
                    Rule::TooLarge {
                        max_bytes: CHUNK_MAX_BYTES,
                        actual: chunk.len(),
                    },
                ));
            }
            if chunk.is_empty() {
                continue;
            }
            let received = self.received + chunk.len() as u64;
            if let Some(header) = &mut self.webp_header {
                let wanted = WEBP_HEADER_LEN
                    .saturating_sub(header.len())
                    .min(chunk.len());
                header.extend_from_slice(&chunk[..wanted]);
                if header.len() >= WEBP_HEADER_LEN {
                    let animated = kinds::webp_is_animated(header);
                    self.limit = kinds::max_bytes(MediaKind::Sticker, Some(animated));
                    self.webp_header = None;
                    if let Some(declared) = self.checked.declared
                        && declared > self.limit
                    {
                        return Err(refused(
                            "metadata.size_bytes",
                            too_large(self.limit, declared),
                        ));
                    }
                }
            }
            if received > self.limit {
                return Err(refused("chunk", too_large(self.limit, received)));
            }
            if let Some(declared) = self.checked.declared
                && received > declared
            {
                return Err(refused(
                    "metadata.size_bytes",
                    Rule::NotAllowed("the stream carries more bytes than it declares"),
                ));
            }
            self.received = received;
            self.progress.received.store(received, Ordering::Release);
            // With a declared size the request announces its length, and the HTTP client stops
            // reading the body once it has that many bytes: the caller's stream must be seen to
            // end here, before the last bytes go.
            if self.checked.declared == Some(received) {
                self.expect_end().await?;
            }
            return Ok(Some(Bytes::from(chunk)));
        }
    }

    /// The declared bytes have come: the caller's stream must end now (empty chunks aside).
    async fn expect_end(&mut self) -> Result<(), Error> {
        loop {
            match self.messages.next().await {
                None => {
                    self.ended = true;
                    self.progress.complete.store(true, Ordering::Release);
                    return Ok(());
                }
                Some(Ok(UploadMediaRequest {
                    part: Some(Part::Chunk(chunk)),
                })) if chunk.is_empty() => {}
                Some(Ok(_)) => {
                    return Err(refused(
                        "metadata.size_bytes",
                        Rule::NotAllowed("the stream carries more bytes than it declares"),
                    ));
                }
                Some(Err(status)) => {
                    return Err(MediaError::UploadStream {
                        code: status.code(),
                        message: bounded(status.message(), 300).to_owned(),
                    }
                    .into());
                }
            }
        }
    }

    /// The caller's stream ended: the file must hold something, and what it declared.
    fn end(&self) -> Result<(), Error> {
        if self.received == 0 {
            return Err(refused("chunk", Rule::Required));
        }
        if let Some(declared) = self.checked.declared
            && self.received < declared
        {
            return Err(refused(
                "metadata.size_bytes",
                Rule::NotAllowed("the stream ended before carrying the bytes it declares"),
            ));
        }
        Ok(())
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn bounded(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(mime_type: &str, size: Option<u64>) -> UploadMediaMetadata {
        UploadMediaMetadata {
            sender: String::new(),
            mime_type: mime_type.into(),
            file_name: "photo.jpg".into(),
            size_bytes: size,
        }
    }

    fn chunk(bytes: Vec<u8>) -> Result<UploadMediaRequest, Status> {
        Ok(UploadMediaRequest {
            part: Some(Part::Chunk(bytes)),
        })
    }

    async fn run(
        checked: Checked,
        messages: Vec<Result<UploadMediaRequest, Status>>,
    ) -> (Vec<Result<Bytes, Aborted>>, Arc<Progress>) {
        let (stream, progress) = body(futures_util::stream::iter(messages), checked);
        (stream.collect().await, progress)
    }

    fn field_of(progress: Arc<Progress>) -> String {
        match progress.take_failure() {
            Some(Error::InvalidArgument(invalid)) => invalid.violations[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn metadata_is_checked_with_field_paths() {
        let invalid = check(&metadata("image/gif", None), Flavor::Cloud).expect_err("gif");
        assert_eq!(invalid.violations[0].field, "metadata.mime_type");
        let invalid = check(&metadata("image/png", Some(6 << 20)), Flavor::Cloud).expect_err("big");
        assert_eq!(invalid.violations[0].field, "metadata.size_bytes");
        assert_eq!(invalid.violations[0].rule.reason(), "TOO_LARGE");
        let mut named = metadata("application/pdf", Some(10));
        named.file_name = "../etc".into();
        let invalid = check(&named, Flavor::Cloud).expect_err("slash");
        assert_eq!(invalid.violations[0].field, "metadata.file_name");
        let checked = check(&metadata("image/jpeg", Some(10)), Flavor::Cloud).expect("valid");
        assert_eq!(checked.kind, MediaKind::Image);
    }

    #[tokio::test]
    async fn bytes_over_the_kind_limit_abort_the_body() {
        let checked = check(&metadata("image/png", None), Flavor::Cloud).expect("valid");
        let (items, progress) = run(
            checked,
            vec![
                chunk(vec![0; CHUNK_MAX_BYTES]),
                chunk(vec![0; CHUNK_MAX_BYTES]),
                chunk(vec![0; CHUNK_MAX_BYTES]),
                chunk(vec![0; CHUNK_MAX_BYTES]),
                chunk(vec![0; CHUNK_MAX_BYTES]),
                chunk(vec![0; 1]),
            ],
        )
        .await;
        assert_eq!(items.len(), 6);
        assert!(items[..5].iter().all(Result::is_ok));
        assert!(items[5].is_err());
        assert!(!progress.complete());
        assert_eq!(field_of(progress), "chunk");
    }

    #[tokio::test]
    async fn a_truncated_stream_aborts_the_body() {
        let checked = check(&metadata("image/png", Some(10)), Flavor::Cloud).expect("valid");
        let (items, progress) = run(checked, vec![chunk(vec![1; 4])]).await;
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
        assert_eq!(field_of(progress), "metadata.size_bytes");
    }

    #[tokio::test]
    async fn a_static_sticker_over_100_kib_is_refused() {
        let checked = check(&metadata("image/webp", None), Flavor::Cloud).expect("valid");
        let mut file = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0".to_vec();
        file.resize(100 * 1024 + 1, 0);
        let (items, progress) = run(checked.clone(), vec![chunk(file.clone())]).await;
        assert!(items[0].is_err());
        assert_eq!(field_of(progress), "chunk");
        // The same size, animated, is taken.
        file[12..16].copy_from_slice(b"VP8X");
        file[20] = 0x02;
        let (items, progress) = run(checked, vec![chunk(file)]).await;
        assert!(items.iter().all(Result::is_ok));
        assert!(progress.complete());
    }
}
