//! The API's media endpoint, streamed: an upload's bytes go into the request body as they arrive,
//! a download's bytes go to the caller as they come, so no call holds more than a few chunks.
//!
//! | call     | Cloud API                                               | On-Premises API             |
//! |----------|---------------------------------------------------------|-----------------------------|
//! | upload   | `POST /{version}/{phone-number-id}/media`, multipart     | `POST /v1/media`, raw bytes |
//! | look up  | `GET /{version}/{media-id}?phone_number_id=…`           | `GET /v1/media/{media-id}`, headers only |
//! | download | the look-up's `url`, with the same bearer token          | `GET /v1/media/{media-id}`  |
//! | delete   | `DELETE /{version}/{media-id}?phone_number_id=…`        | `DELETE /v1/media/{media-id}` |
//!
//! Media calls take a call slot like messages, end by the caller's deadline (without one, after
//! [`MEDIA_TRANSFER_TIMEOUT`]; a login or a look-up within `--upstream-timeout` as usual), are not
//! retried (an upload's body cannot be sent twice) except once after a refused token when nothing
//! was streamed yet, and are not reported to the observers, whose metrics and health are about
//! messages.

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

use super::Address;
use super::{
    Answer, BodyError, Budget, RawAnswer, Slot, Upstream, UpstreamError, UpstreamFailure, read_body,
};
use crate::flavor::Flavor;
use crate::telemetry::TraceContext;

/// How long an upload or a download may take when the caller sets no deadline (the server always
/// sets one: `--default-deadline`).
pub const MEDIA_TRANSFER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The largest piece of a download handed on at once: a bigger chunk from the network is split.
pub const DOWNLOAD_CHUNK_MAX: usize = 256 * 1024;

/// The longest media URL taken from the Cloud API's answer.
const MEDIA_URL_MAX: usize = 2048;

/// A file to upload: its type, name and size as the caller said, and its bytes as a stream that
/// fails (aborting the request, so the API keeps nothing) when the file breaks a rule.
pub struct MediaFile {
    /// The MIME type, sent as the Cloud `type` and file part's type, or the On-Premises
    /// `Content-Type`.
    pub mime_type: String,
    /// The Cloud file part's `filename`.
    pub file_name: Option<String>,
    /// The size the caller declared: announced as the length of the body when known.
    pub size: Option<u64>,
    pub body: reqwest::Body,
}

/// What the API says of an uploaded media.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaInfo {
    pub mime_type: String,
    pub size_bytes: Option<u64>,
    /// Cloud only: the SHA-256 of the bytes, in hex.
    pub sha256: String,
    /// Cloud only: where to fetch the bytes (with the bearer token), for a few minutes.
    pub url: String,
}

/// One piece of a download as it is handed on.
#[derive(Debug)]
pub enum DownloadPart {
    /// First: what the API says the bytes are.
    Metadata {
        mime_type: String,
        size_bytes: Option<u64>,
    },
    /// Then: the next bytes, at most [`DOWNLOAD_CHUNK_MAX`].
    Chunk(Bytes),
}

impl Upstream {
    /// The time budget of a media call with `deadline`, and one of the sender's call slots, waited
    /// for within it (nothing is sent without one).
    async fn media_slot(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(Budget, tokio::sync::SemaphorePermit<'_>), UpstreamFailure> {
        let budget = Budget::new(deadline, self.request_timeout);
        let (until, by_deadline) = budget.wait_until(self.request_timeout);
        let slot = self
            .call_slots
            .enter(until, by_deadline)
            .await
            .map_err(not_sent)?;
        Ok((budget, slot))
    }

    /// Uploads `file`; the API's media id. The body is streamed: if it fails, the request is
    /// aborted and the failure is [`UpstreamError::Interrupted`] (the caller knows why).
    pub async fn upload_media(
        &self,
        file: MediaFile,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<String, UpstreamFailure> {
        let url = self.media_collection_url().map_err(not_sent)?;
        let (budget, _slot) = self.media_slot(deadline).await?;
        let observer = self.observer.get().map(|observer| observer.as_ref());
        let bearer = self
            .auth
            .bearer(&self.client, &budget, observer)
            .await
            .map_err(not_sent)?;
        let request = self
            .client
            .request(Method::POST, url)
            .header(AUTHORIZATION, bearer.header);
        let request = match self.flavor {
            Flavor::Cloud => {
                let part = match file.size {
                    Some(size) => reqwest::multipart::Part::stream_with_length(file.body, size),
                    None => reqwest::multipart::Part::stream(file.body),
                };
                let part = part
                    .file_name(file.file_name.unwrap_or_else(|| "file".to_owned()))
                    .mime_str(&file.mime_type)
                    .map_err(|error| {
                        not_sent(UpstreamError::Local(format!(
                            "the MIME type cannot be a part's type: {}",
                            error.without_url()
                        )))
                    })?;
                let form = reqwest::multipart::Form::new()
                    .text("messaging_product", "whatsapp")
                    .text("type", file.mime_type)
                    .part("file", part);
                request.multipart(form)
            }
            Flavor::OnPremises => {
                let request = request.header(CONTENT_TYPE, file.mime_type).body(file.body);
                match file.size {
                    Some(size) => request.header(CONTENT_LENGTH, size),
                    None => request,
                }
            }
        };
        let transfer = Budget::new(deadline, MEDIA_TRANSFER_TIMEOUT)
            .slot()
            .map_err(not_sent)?;
        let answer = self
            .media_exchange(request, trace, "POST", &transfer)
            .await
            .map_err(|error| UpstreamFailure { error, attempts: 1 })?;
        let answer = self.read(answer, &[]).map_err(sent)?;
        let json: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| sent(unexpected(&answer, "a success without the API's JSON")))?;
        let id = match self.flavor {
            Flavor::Cloud => json.get("id"),
            Flavor::OnPremises => json.pointer("/media/0/id"),
        };
        match id.and_then(Value::as_str) {
            Some(id) if !id.is_empty() && id.len() <= 256 => Ok(id.to_owned()),
            _ => Err(sent(unexpected(&answer, "a success without a media id"))),
        }
    }

    /// What the API says of media `id`. On-Premises has no look-up: the download's headers say
    /// the type and size, and the body is not read.
    pub async fn media_info(
        &self,
        id: &str,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<MediaInfo, UpstreamFailure> {
        match self.flavor {
            Flavor::Cloud => self.cloud_media_info(id, trace, deadline).await,
            Flavor::OnPremises => {
                let mut info = None;
                self.download_media_with(id, trace, deadline, true, |part| {
                    if let DownloadPart::Metadata {
                        mime_type,
                        size_bytes,
                    } = part
                    {
                        info = Some(MediaInfo {
                            mime_type,
                            size_bytes,
                            ..MediaInfo::default()
                        });
                    }
                    std::future::ready(false)
                })
                .await?;
                Ok(info.unwrap_or_default())
            }
        }
    }

    /// Downloads media `id`, handing each part to `sink` in order; `sink` answers whether to go
    /// on (false: the caller left, the download stops).
    pub async fn download_media<F, Fut>(
        &self,
        id: &str,
        trace: &TraceContext,
        deadline: Option<Instant>,
        sink: F,
    ) -> Result<(), UpstreamFailure>
    where
        F: FnMut(DownloadPart) -> Fut,
        Fut: Future<Output = bool>,
    {
        self.download_media_with(id, trace, deadline, false, sink)
            .await
    }

    /// Deletes media `id`.
    pub async fn delete_media(
        &self,
        id: &str,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<(), UpstreamFailure> {
        let url = self.media_item_url(id).map_err(not_sent)?;
        self.media_call(Method::DELETE, url, trace, deadline)
            .await?;
        Ok(())
    }

    async fn cloud_media_info(
        &self,
        id: &str,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<MediaInfo, UpstreamFailure> {
        let url = self.media_item_url(id).map_err(not_sent)?;
        let answer = self.media_call(Method::GET, url, trace, deadline).await?;
        let json: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| sent(unexpected(&answer, "a success without the API's JSON")))?;
        let text = |key: &str| json.get(key).and_then(Value::as_str).unwrap_or_default();
        let url = text("url");
        if url.is_empty() || url.len() > MEDIA_URL_MAX {
            return Err(sent(unexpected(
                &answer,
                "a media answer without a usable url",
            )));
        }
        // `file_size` is a number, or a string of digits.
        let size_bytes = json.get("file_size").and_then(|size| match size {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        });
        Ok(MediaInfo {
            mime_type: bounded(text("mime_type"), 255).to_owned(),
            size_bytes,
            sha256: bounded(text("sha256"), 128).to_owned(),
            url: url.to_owned(),
        })
    }

    /// A look-up or a deletion: one slot, the usual call (its answer bounded, a refused token
    /// renewed once), not observed.
    async fn media_call(
        &self,
        method: Method,
        url: Url,
        trace: &TraceContext,
        deadline: Option<Instant>,
    ) -> Result<Answer, UpstreamFailure> {
        let (budget, _slot) = self.media_slot(deadline).await?;
        let mut started = false;
        self.call(
            method,
            &Address::new(url),
            Bytes::new(),
            Some(trace),
            &budget,
            &mut started,
            false,
        )
        .await
        .map_err(|error| UpstreamFailure {
            error,
            attempts: u32::from(started),
        })
    }

    /// A download (or, with `headers_only`, its metadata): Cloud looks the media up and fetches its
    /// URL, On-Premises fetches `/v1/media/{id}`; a refused token is renewed once, before any
    /// byte was handed on.
    async fn download_media_with<F, Fut>(
        &self,
        id: &str,
        trace: &TraceContext,
        deadline: Option<Instant>,
        headers_only: bool,
        mut sink: F,
    ) -> Result<(), UpstreamFailure>
    where
        F: FnMut(DownloadPart) -> Fut,
        Fut: Future<Output = bool>,
    {
        let url = match self.flavor {
            Flavor::Cloud => {
                let info = self.cloud_media_info(id, trace, deadline).await?;
                self.checked_media_url(&info.url).map_err(sent)?
            }
            Flavor::OnPremises => self.media_item_url(id).map_err(not_sent)?,
        };
        let (budget, _slot) = self.media_slot(deadline).await?;
        let observer = self.observer.get().map(|observer| observer.as_ref());
        let mut bearer = self
            .auth
            .bearer(&self.client, &budget, observer)
            .await
            .map_err(not_sent)?;
        let transfer = Budget::new(deadline, MEDIA_TRANSFER_TIMEOUT);
        let mut renewed = false;
        let mut response = loop {
            let slot = transfer.slot().map_err(not_sent)?;
            let request = self
                .client
                .get(url.clone())
                .header(AUTHORIZATION, bearer.header.clone());
            let response = self.media_send(request, trace, "GET", &slot).await?;
            if response.status() == StatusCode::UNAUTHORIZED
                && !renewed
                && let Some(fresh) = self
                    .auth
                    .renew_after_refusal(&self.client, &bearer, &budget, observer)
                    .await
            {
                renewed = true;
                bearer = fresh.map_err(sent)?;
                continue;
            }
            if !response.status().is_success() {
                let answer = self.raw_answer(response, &slot).await?;
                return Err(sent(match self.read(answer, &[]) {
                    Ok(answer) => unexpected(&answer, "a success that is not the media"),
                    Err(error) => error,
                }));
            }
            break (response, slot);
        };
        let (response, slot) = &mut response;
        let mime_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| bounded(value, 255).to_owned())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let metadata = DownloadPart::Metadata {
            mime_type,
            size_bytes: response.content_length(),
        };
        // A caller that stops reading holds the download no longer than the deadline either.
        let handed = tokio::time::timeout_at(slot.until, sink(metadata))
            .await
            .map_err(|_elapsed| sent(slot.expired(true)))?;
        if !handed || headers_only {
            return Ok(());
        }
        loop {
            let chunk = tokio::time::timeout_at(slot.until, response.chunk())
                .await
                .map_err(|_elapsed| sent(slot.expired(true)))?
                .map_err(|error| sent(self.send_error(error, slot, &[])))?;
            let Some(mut chunk) = chunk else {
                return Ok(());
            };
            while !chunk.is_empty() {
                let piece = chunk.split_to(chunk.len().min(DOWNLOAD_CHUNK_MAX));
                let handed = tokio::time::timeout_at(slot.until, sink(DownloadPart::Chunk(piece)))
                    .await
                    .map_err(|_elapsed| sent(slot.expired(true)))?;
                if !handed {
                    return Ok(());
                }
            }
        }
    }

    /// Sends a media request within `slot` and reads its bounded answer.
    async fn media_exchange(
        &self,
        request: RequestBuilder,
        trace: &TraceContext,
        method: &'static str,
        slot: &Slot,
    ) -> Result<RawAnswer, UpstreamError> {
        let response = self
            .media_send(request, trace, method, slot)
            .await
            .map_err(|failure| failure.error)?;
        self.raw_answer(response, slot)
            .await
            .map_err(|failure| failure.error)
    }

    /// Sends a media request within `slot`, with the trace's `traceparent`; the response, its
    /// body unread.
    async fn media_send(
        &self,
        request: RequestBuilder,
        trace: &TraceContext,
        method: &'static str,
        slot: &Slot,
    ) -> Result<Response, UpstreamFailure> {
        let span = tracing::debug_span!(
            "upstream media request",
            otel.name = method,
            otel.kind = "client",
            http.request.method = method,
        );
        let mut headers = HeaderMap::with_capacity(2);
        trace.inject(&span, &mut headers);
        let request = request.headers(headers).timeout(slot.timeout);
        match tokio::time::timeout_at(slot.until, request.send().instrument(span)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                let attempts = u32::from(!error.is_builder());
                Err(UpstreamFailure {
                    error: self.send_error(error, slot, &[]),
                    attempts,
                })
            }
            Err(_elapsed) => Err(sent(slot.expired(true))),
        }
    }

    /// Reads a response's bounded body within `slot`.
    async fn raw_answer(
        &self,
        mut response: Response,
        slot: &Slot,
    ) -> Result<RawAnswer, UpstreamFailure> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = match tokio::time::timeout_at(slot.until, read_body(&mut response)).await {
            Ok(Ok(body)) => Some(body),
            Ok(Err(BodyError::TooLarge)) => None,
            Ok(Err(BodyError::Transport(error))) => {
                return Err(sent(self.send_error(error, slot, &[])));
            }
            Err(_elapsed) => return Err(sent(slot.expired(true))),
        };
        Ok(RawAnswer {
            status,
            headers,
            body,
        })
    }

    /// The upload endpoint: the messages URL with `media` for its last segment.
    fn media_collection_url(&self) -> Result<Url, UpstreamError> {
        let mut url = self.messages.url.clone();
        url.path_segments_mut()
            .map_err(|()| UpstreamError::Local("the API URL cannot take a path".into()))?
            .pop()
            .push("media");
        Ok(url)
    }

    /// One media's URL: Cloud `/{version}/{id}?phone_number_id=…` (the API refuses media of
    /// another number), On-Premises `/v1/media/{id}`; the id percent-encoded as one segment.
    fn media_item_url(&self, id: &str) -> Result<Url, UpstreamError> {
        let mut url = self.messages.url.clone();
        let phone_number_id = {
            let mut segments = url
                .path_segments()
                .ok_or_else(|| UpstreamError::Local("the API URL cannot take a path".into()))?
                .rev();
            segments.next();
            segments.next().unwrap_or_default().to_owned()
        };
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| UpstreamError::Local("the API URL cannot take a path".into()))?;
            match self.flavor {
                Flavor::Cloud => segments.pop().pop().push(id),
                Flavor::OnPremises => segments.pop().push("media").push(id),
            };
        }
        if self.flavor == Flavor::Cloud {
            url.query_pairs_mut()
                .append_pair("phone_number_id", &phone_number_id);
        }
        Ok(url)
    }

    /// The Cloud API's media URL, if this service may send the token there: an `https` URL (or
    /// `http` when the API itself is reached over `http`, as in tests).
    fn checked_media_url(&self, url: &str) -> Result<Url, UpstreamError> {
        let refused = |what: &str| UpstreamError::UnexpectedAnswer {
            http_status: 200,
            content_type: format!("a media url that is {what}"),
            retry_after: None,
        };
        let parsed = Url::parse(url).map_err(|_| refused("not a URL"))?;
        let allowed = match parsed.scheme() {
            "https" => true,
            "http" => self.messages.url.scheme() == "http",
            _ => false,
        };
        if !allowed || parsed.host_str().is_none() {
            return Err(refused("not https"));
        }
        Ok(parsed)
    }
}

fn unexpected(answer: &Answer, what: &str) -> UpstreamError {
    UpstreamError::UnexpectedAnswer {
        http_status: answer.status.as_u16(),
        content_type: what.to_owned(),
        retry_after: None,
    }
}

/// A failure before anything was sent.
fn not_sent(error: UpstreamError) -> UpstreamFailure {
    UpstreamFailure { error, attempts: 0 }
}

/// A failure after one request.
fn sent(error: UpstreamError) -> UpstreamFailure {
    UpstreamFailure { error, attempts: 1 }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn bounded(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
