//! The `whatsapp.v1.MediaService` implementation: pick the sender, check the request, stream the
//! bytes through the sender's upstream, and map the API's answer to the response or a `Status`.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::{Request, Response, Status, Streaming};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::upload::{self, Checked};
use super::{MediaError, check_media_id};
use crate::error::Error;
use crate::layers::Deadline;
use crate::proto::media_service_server::MediaService;
use crate::proto::upload_media_request::Part;
use crate::proto::{
    DeleteMediaRequest, DeleteMediaResponse, DownloadMediaMetadata, DownloadMediaRequest,
    DownloadMediaResponse, GetMediaRequest, GetMediaResponse, UploadMediaRequest,
    UploadMediaResponse, download_media_response,
};
use crate::senders::{Sender, Senders};
use crate::telemetry::TraceContext;
use crate::upstream::{DownloadPart, MEDIA_TRANSFER_TIMEOUT, MediaFile, UpstreamFailure};
use crate::validate::{FieldViolation, InvalidRequest, Rule};

/// How many download messages wait for the caller at most: with [`crate::upstream::DOWNLOAD_CHUNK_MAX`]
/// bytes each, a slow caller holds a download to about a megabyte in memory.
const DOWNLOAD_QUEUE: usize = 4;

/// The media service over the configured senders.
#[derive(Clone)]
pub struct Media {
    senders: Arc<Senders>,
}

impl Media {
    pub fn new(senders: Arc<Senders>) -> Media {
        Media { senders }
    }

    /// The sender `requested` names, recorded on the RPC's span.
    fn pick(&self, requested: &str) -> Result<Arc<Sender>, Error> {
        let sender = self.senders.pick(requested)?;
        let span = Span::current();
        span.record("sender", sender.name.as_str());
        span.record("flavor", sender.flavor.as_str());
        Ok(sender)
    }
}

/// The caller's deadline, or the longest a media call may take without one.
fn deadline_of<T>(request: &Request<T>) -> Instant {
    request
        .extensions()
        .get::<Deadline>()
        .map(|deadline| deadline.at)
        .unwrap_or_else(|| Instant::now() + MEDIA_TRANSFER_TIMEOUT)
}

/// The span of one media RPC; the media's bytes, the token and the file name never appear in it.
fn rpc_span(method: &'static str, full_method: &'static str) -> Span {
    tracing::info_span!(
        "rpc",
        otel.name = full_method,
        otel.kind = "server",
        method,
        sender = Empty,
        flavor = Empty,
        bytes = Empty,
    )
}

/// Logs how a media call ended: at debug, or at warn when the API or the transport failed.
fn log_result<T>(result: &Result<T, Error>) {
    match result {
        Ok(_) => tracing::debug!("rpc done"),
        Err(Error::Upstream(UpstreamFailure { error, attempts })) => {
            tracing::warn!(attempts, %error, "media call to the upstream failed")
        }
        Err(Error::Internal(error)) => tracing::error!(%error, "internal error"),
        Err(error) => tracing::debug!(%error, "media request refused"),
    }
}

#[tonic::async_trait]
impl MediaService for Media {
    async fn upload_media(
        &self,
        request: Request<Streaming<UploadMediaRequest>>,
    ) -> Result<Response<UploadMediaResponse>, Status> {
        let trace = TraceContext::from_metadata(request.metadata());
        let deadline = deadline_of(&request);
        let span = rpc_span("UploadMedia", "whatsapp.v1.MediaService/UploadMedia");
        trace.continue_in(&span);
        async move {
            let result = self.upload(request.into_inner(), &trace, deadline).await;
            log_result(&result);
            result.map(Response::new).map_err(Status::from)
        }
        .instrument(span)
        .await
    }

    async fn get_media(
        &self,
        request: Request<GetMediaRequest>,
    ) -> Result<Response<GetMediaResponse>, Status> {
        let trace = TraceContext::from_metadata(request.metadata());
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let span = rpc_span("GetMedia", "whatsapp.v1.MediaService/GetMedia");
        trace.continue_in(&span);
        async move {
            let result = async {
                let sender = self.pick(&request.sender)?;
                check_media_id(&request.media_id)?;
                let info = sender
                    .upstream
                    .media_info(&request.media_id, &trace, Some(deadline))
                    .await?;
                Ok(GetMediaResponse {
                    media_id: request.media_id.clone(),
                    mime_type: info.mime_type,
                    size_bytes: info.size_bytes.unwrap_or(0),
                    sha256: info.sha256,
                    url: info.url,
                    sender: sender.name.clone(),
                })
            }
            .await;
            log_result(&result);
            result.map(Response::new).map_err(Status::from)
        }
        .instrument(span)
        .await
    }

    type DownloadMediaStream =
        Pin<Box<dyn Stream<Item = Result<DownloadMediaResponse, Status>> + Send + 'static>>;

    async fn download_media(
        &self,
        request: Request<DownloadMediaRequest>,
    ) -> Result<Response<Self::DownloadMediaStream>, Status> {
        let trace = TraceContext::from_metadata(request.metadata());
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let span = rpc_span("DownloadMedia", "whatsapp.v1.MediaService/DownloadMedia");
        trace.continue_in(&span);
        let entered = span.enter();
        let start = (|| {
            let sender = self.pick(&request.sender)?;
            check_media_id(&request.media_id)?;
            Ok::<_, Error>(sender)
        })();
        let sender = match start {
            Ok(sender) => sender,
            Err(error) => {
                tracing::debug!(%error, "media request refused");
                return Err(Status::from(error));
            }
        };
        let (tx, rx) = mpsc::channel::<Result<DownloadMediaResponse, Status>>(DOWNLOAD_QUEUE);
        let name = sender.name.clone();
        let task = async move {
            let result = sender
                .upstream
                .download_media(&request.media_id, &trace, Some(deadline), |part| {
                    let tx = tx.clone();
                    let message = match part {
                        DownloadPart::Metadata {
                            mime_type,
                            size_bytes,
                        } => download_media_response::Part::Metadata(DownloadMediaMetadata {
                            mime_type,
                            size_bytes: size_bytes.unwrap_or(0),
                            sender: name.clone(),
                        }),
                        DownloadPart::Chunk(bytes) => {
                            download_media_response::Part::Chunk(bytes.to_vec())
                        }
                    };
                    async move {
                        tx.send(Ok(DownloadMediaResponse {
                            part: Some(message),
                        }))
                        .await
                        .is_ok()
                    }
                })
                .await
                .map_err(Error::from);
            log_result(&result);
            if let Err(error) = result {
                let _ = tx.send(Err(Status::from(error))).await;
            }
        };
        drop(entered);
        tokio::spawn(task.instrument(span));
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn delete_media(
        &self,
        request: Request<DeleteMediaRequest>,
    ) -> Result<Response<DeleteMediaResponse>, Status> {
        let trace = TraceContext::from_metadata(request.metadata());
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let span = rpc_span("DeleteMedia", "whatsapp.v1.MediaService/DeleteMedia");
        trace.continue_in(&span);
        async move {
            let result = async {
                let sender = self.pick(&request.sender)?;
                check_media_id(&request.media_id)?;
                sender
                    .upstream
                    .delete_media(&request.media_id, &trace, Some(deadline))
                    .await?;
                Ok(DeleteMediaResponse {})
            }
            .await;
            log_result(&result);
            result.map(Response::new).map_err(Status::from)
        }
        .instrument(span)
        .await
    }
}

impl Media {
    /// An upload: the metadata (within the deadline), checked; then the bytes, streamed into the
    /// request to the API through [`upload::body`], which aborts it on the first broken rule.
    async fn upload(
        &self,
        mut messages: Streaming<UploadMediaRequest>,
        trace: &TraceContext,
        deadline: Instant,
    ) -> Result<UploadMediaResponse, Error> {
        let first = match tokio::time::timeout_at(deadline, messages.message()).await {
            Ok(Ok(first)) => first,
            Ok(Err(status)) => {
                return Err(MediaError::UploadStream {
                    code: status.code(),
                    message: status.message().chars().take(300).collect(),
                }
                .into());
            }
            Err(_elapsed) => {
                return Err(Error::Upstream(UpstreamFailure {
                    error: crate::upstream::UpstreamError::DeadlineExceeded { sent: false },
                    attempts: 0,
                }));
            }
        };
        let Some(UploadMediaRequest {
            part: Some(Part::Metadata(metadata)),
        }) = first
        else {
            return Err(Error::InvalidArgument(InvalidRequest {
                violations: vec![FieldViolation {
                    field: "metadata".to_owned(),
                    rule: Rule::NotAllowed(
                        "the first message of an upload must carry the metadata",
                    ),
                }],
                omitted: 0,
            }));
        };
        let sender = self.pick(&metadata.sender)?;
        let Checked {
            kind,
            mime_type,
            file_name,
            declared,
        } = upload::check(&metadata, sender.flavor)?;
        let checked = Checked {
            kind,
            mime_type: mime_type.clone(),
            file_name: file_name.clone(),
            declared,
        };
        let (body, progress) = upload::body(messages, checked);
        let file = MediaFile {
            mime_type,
            file_name,
            size: declared,
            body: reqwest::Body::wrap_stream(body),
        };
        let result = sender
            .upstream
            .upload_media(file, trace, Some(deadline))
            .await;
        Span::current().record("bytes", progress.received());
        // A broken rule or a broken caller stream aborted the request: that is the answer, not
        // the transport error the abort caused.
        if let Some(failure) = progress.take_failure() {
            return Err(failure);
        }
        let media_id = result?;
        if !progress.complete() {
            // The API answered before it had the whole file: it did not take this file.
            return Err(Error::Upstream(UpstreamFailure {
                error: crate::upstream::UpstreamError::UnexpectedAnswer {
                    http_status: 200,
                    content_type: "a success before the whole file was sent".to_owned(),
                    retry_after: None,
                },
                attempts: 1,
            }));
        }
        Ok(UploadMediaResponse {
            media_id,
            sender: sender.name.clone(),
            kind: kind as i32,
            size_bytes: progress.received(),
        })
    }
}
