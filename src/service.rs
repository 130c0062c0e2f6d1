//! The `whatsapp.v1.MessagingService` implementation: pick the sender, validate and translate the
//! request for its flavor, send it through the sender's upstream, and map the API's answer to the
//! response or to a `Status`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tonic::{Request, Response, Status};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::api_keys::Caller;
use crate::error::{self, Error, Outcome, REPLAYED, api_code};
use crate::flavor::Flavor;
use crate::idempotency::{Claim, Fingerprint, IdempotencyError, Key, Recorded, Store};
use crate::layers::{Deadline, MessageTypeSlot};
use crate::metrics::labels::{DuplicateReason, MessageType, ReplayedAnswer};
use crate::proto::messaging_service_server::MessagingService;
use crate::proto::{
    ListSendersRequest, ListSendersResponse, MarkMessageReadRequest, MarkMessageReadResponse,
    MessageStatus, SendMessageRequest, SendMessageResponse, SenderFlavor, SenderHealth,
};
use crate::ratelimit::RateLimitError;
use crate::senders::{PickError, Sender, Senders};
use crate::telemetry::TraceContext;
use crate::translate;
use crate::upstream::{UpstreamError, UpstreamFailure};
use crate::wire::message::Endpoint;
use crate::wire::response::SendAnswer;

/// What a claimant's lease adds to twice the upstream timeout (its wait for a slot and its request).
const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// How long a failure that sent nothing is remembered for its `request_id`: long enough for
/// duplicates in flight to share it, short enough that the caller's retry (after `RetryInfo`, say)
/// sends the message.
const NOT_SENT_REMEMBERED: Duration = Duration::from_secs(1);

/// The messaging service over the configured senders.
#[derive(Clone)]
pub struct Messaging {
    senders: Arc<Senders>,
    /// The `request_id`s seen and their answers.
    store: Arc<dyn Store>,
}

impl Messaging {
    pub fn new(senders: Arc<Senders>, store: Arc<dyn Store>) -> Messaging {
        Messaging { senders, store }
    }

    /// The sender `requested` names; picked before the RPC's span is made, which names it.
    fn pick(&self, requested: &str) -> Result<Arc<Sender>, PickError> {
        self.senders.pick(requested)
    }
}

#[tonic::async_trait]
impl MessagingService for Messaging {
    async fn send_message(
        &self,
        request: Request<SendMessageRequest>,
    ) -> Result<Response<SendMessageResponse>, Status> {
        let trace = TraceContext::from_metadata(request.metadata());
        let deadline = request.extensions().get::<Deadline>().copied();
        let caller = request.extensions().get::<Caller>().cloned();
        // One name for the message's kind in the span and in the metrics.
        let kind = MessageType::of(request.get_ref());
        if let Some(slot) = request.extensions().get::<MessageTypeSlot>() {
            slot.set(kind);
        }
        let request = request.into_inner();
        let sender = self.pick(&request.sender);
        let span = rpc_span(
            "SendMessage",
            "whatsapp.v1.MessagingService/SendMessage",
            kind.as_str(),
            caller.as_ref(),
            sender.as_deref().ok(),
            &trace,
        );
        trace.adopt(&span);
        async move {
            let call = Call::start("SendMessage");
            let result = self
                .send(sender, &request, &trace, deadline, caller.as_ref())
                .await;
            call.finish(&result);
            result
                .map(|(response, replayed)| {
                    let mut response = Response::new(response);
                    if replayed {
                        response.metadata_mut().insert(
                            REPLAYED,
                            tonic::metadata::MetadataValue::from_static("true"),
                        );
                    }
                    response
                })
                .map_err(Status::from)
        }
        .instrument(span)
        .await
    }

    async fn mark_message_read(
        &self,
        request: Request<MarkMessageReadRequest>,
    ) -> Result<Response<MarkMessageReadResponse>, Status> {
        let trace = TraceContext::from_metadata(request.metadata());
        let deadline = request.extensions().get::<Deadline>().copied();
        let caller = request.extensions().get::<Caller>().cloned();
        if let Some(slot) = request.extensions().get::<MessageTypeSlot>() {
            slot.set(MessageType::of_read(request.get_ref()));
        }
        let request = request.into_inner();
        let sender = self.pick(&request.sender);
        let span = rpc_span(
            "MarkMessageRead",
            "whatsapp.v1.MessagingService/MarkMessageRead",
            "read_receipt",
            caller.as_ref(),
            sender.as_deref().ok(),
            &trace,
        );
        trace.adopt(&span);
        async move {
            let call = Call::start("MarkMessageRead");
            let result = self.mark_read(sender, &request, &trace, deadline).await;
            call.finish(&result);
            result.map(Response::new).map_err(Status::from)
        }
        .instrument(span)
        .await
    }

    async fn list_senders(
        &self,
        _request: Request<ListSendersRequest>,
    ) -> Result<Response<ListSendersResponse>, Status> {
        let board = self.senders.board();
        let senders = self
            .senders
            .list()
            .iter()
            .map(|sender| crate::proto::Sender {
                name: sender.name.clone(),
                flavor: match sender.flavor {
                    Flavor::Cloud => SenderFlavor::Cloud,
                    Flavor::OnPremises => SenderFlavor::OnPremises,
                } as i32,
                phone_number_id: sender.phone_number_id.clone(),
                display_phone_number: sender.display_phone_number.clone(),
                health: match board.status(&sender.health_name) {
                    Some(tonic_health::ServingStatus::Serving) => SenderHealth::Serving,
                    Some(tonic_health::ServingStatus::NotServing) => SenderHealth::NotServing,
                    Some(tonic_health::ServingStatus::Unknown) | None => SenderHealth::Unspecified,
                } as i32,
            })
            .collect();
        Ok(Response::new(ListSendersResponse { senders }))
    }
}

impl Messaging {
    /// The response, and whether it is an earlier call's, replayed for its `request_id`.
    async fn send(
        &self,
        sender: Result<Arc<Sender>, PickError>,
        request: &SendMessageRequest,
        trace: &TraceContext,
        deadline: Option<Deadline>,
        caller: Option<&Caller>,
    ) -> Result<(SendMessageResponse, bool), Error> {
        let sender = sender?;
        // Dropped before the first await, so that the call's future does not carry it.
        let (json, endpoint) = {
            let body = translate::send_message(sender.flavor, request)?;
            (serialize(&body)?, body.endpoint)
        };
        // Without a request_id, sent as is; with one, claimed first (or answered from the store).
        let completion = match request.request_id.is_empty() {
            true => None,
            false => match self.claim(&sender, request, deadline, caller).await? {
                Claimed::New(completion) => Some(completion),
                Claimed::Answered(answer) => return answer,
            },
        };
        // The one call of `deliver`: its future is the largest part of this one's.
        let result = deliver(&sender, json, endpoint, trace, deadline).await;
        if let Some(completion) = completion {
            let (recorded, keep) = match &result {
                Ok(response) => (Recorded::response(response), Duration::MAX),
                Err(error) => {
                    let status = error::status(error);
                    // Nothing was sent: duplicates in flight share the failure, and a retry
                    // after a moment may send (it cannot deliver twice).
                    let keep = if error::outcome_of(&status) == Some(Outcome::NotSent) {
                        NOT_SENT_REMEMBERED
                    } else {
                        Duration::MAX
                    };
                    (Recorded::failure(&status), keep)
                }
            };
            completion.complete(recorded, keep).await;
        }
        Ok((result?, false))
    }

    /// Claims the request's `request_id`: the completion to record its answer with when it is
    /// new, else the answer this call gets (a replayed one, or why it is refused).
    async fn claim(
        &self,
        sender: &Sender,
        request: &SendMessageRequest,
        deadline: Option<Deadline>,
        caller: Option<&Caller>,
    ) -> Result<Claimed, Error> {
        // Scoped by caller when callers authenticate: one caller cannot replay another's answer.
        let key = Key::scoped(
            &sender.name,
            caller.map(|caller| &*caller.name),
            &request.request_id,
        );
        let fingerprint = Fingerprint::of(request);
        let lease = sender.upstream.request_timeout() * 2 + LEASE_MARGIN;
        let claim = self
            .store
            .claim(&key, fingerprint, lease)
            .await
            .map_err(IdempotencyError::from)?;
        let claim = match claim {
            // Wait for the first call, until this call's deadline, and no longer than a lease.
            Claim::Pending => {
                let most = Instant::now() + lease;
                let until = deadline.map_or(most, |deadline| deadline.at.into_std().min(most));
                self.store
                    .wait(&key, fingerprint, until)
                    .await
                    .map_err(IdempotencyError::from)?
            }
            claim => claim,
        };
        let metrics = &sender.metrics;
        match &claim {
            Claim::Done(Recorded::Response(_)) => metrics.replayed(ReplayedAnswer::Response),
            Claim::Done(Recorded::Failure { .. }) => metrics.replayed(ReplayedAnswer::Failure),
            Claim::Abandoned => metrics.replayed(ReplayedAnswer::Abandoned),
            Claim::Pending => metrics.duplicate_refused(DuplicateReason::InProgress),
            Claim::Mismatch => metrics.duplicate_refused(DuplicateReason::Reused),
            Claim::New => {}
        }
        Ok(Claimed::Answered(match claim {
            Claim::New => {
                return Ok(Claimed::New(Completion {
                    store: self.store.clone(),
                    key,
                    fingerprint,
                    done: false,
                }));
            }
            Claim::Done(Recorded::Response(bytes)) => SendMessageResponse::decode(bytes.as_slice())
                .map_err(|error| {
                    Error::Internal(format!("a remembered response does not decode: {error}"))
                })
                .map(|response| {
                    Span::current().record("message_id", response.message_id.as_str());
                    (response, true)
                }),
            Claim::Done(Recorded::Failure {
                code,
                message,
                details,
            }) => Err(IdempotencyError::Replayed {
                code,
                message,
                details,
            }
            .into()),
            Claim::Pending => Err(IdempotencyError::InProgress.into()),
            Claim::Abandoned => Err(IdempotencyError::Abandoned.into()),
            Claim::Mismatch => Err(IdempotencyError::Reused.into()),
        }))
    }

    async fn mark_read(
        &self,
        sender: Result<Arc<Sender>, PickError>,
        request: &MarkMessageReadRequest,
        trace: &TraceContext,
        deadline: Option<Deadline>,
    ) -> Result<MarkMessageReadResponse, Error> {
        let sender = sender?;
        let body = translate::mark_message_read(sender.flavor, request)?;
        let json = serialize(&body)?;
        sender
            .upstream
            .mark_read(&request.message_id, json, trace, deadline.map(|d| d.at))
            .await
            .inspect_err(|failure| record_error(&failure.error))?;
        Span::current().record("http_status", 200);
        Ok(MarkMessageReadResponse {})
    }
}

/// Waits for a slot of the sender's send rate, then sends `json` through its upstream; the response
/// names the message id.
async fn deliver(
    sender: &Sender,
    json: Vec<u8>,
    endpoint: Endpoint,
    trace: &TraceContext,
    deadline: Option<Deadline>,
) -> Result<SendMessageResponse, Error> {
    if let Some(limit) = &sender.limit {
        match limit.acquire(deadline.map(|d| d.at)).await {
            Ok(waited) if waited.is_zero() => {}
            Ok(waited) => sender.metrics.rate_limit_waited(waited),
            Err(error) => {
                if let RateLimitError::Exhausted { .. } = error {
                    sender.metrics.rate_limited();
                }
                return Err(error.into());
            }
        }
    }
    let answer = sender
        .upstream
        .send_message_to(endpoint, json, trace, deadline.map(|d| d.at))
        .await
        .inspect_err(|failure| record_error(&failure.error))?;
    let response = response(answer, &sender.name);
    record_sent(&Span::current(), &response.message_id);
    Ok(response)
}

/// What claiming a `request_id` decided.
enum Claimed {
    /// The first call with it: send, then record the answer.
    New(Completion),
    /// The answer this call gets without sending: a replayed one, or why it is refused.
    Answered(Result<(SendMessageResponse, bool), Error>),
}

/// A claimed `request_id` until its answer is recorded. Dropped unrecorded (the caller cancelled,
/// or its deadline passed, mid-send), it records that the outcome is unknown, so that a retry
/// learns so at once and nothing is sent twice.
struct Completion {
    store: Arc<dyn Store>,
    key: Key,
    fingerprint: Fingerprint,
    done: bool,
}

impl Completion {
    async fn complete(mut self, recorded: Recorded, keep: Duration) {
        self.done = true;
        if let Err(error) = self
            .store
            .complete(&self.key, self.fingerprint, recorded, keep)
            .await
        {
            // The claim stays pending until its lease ends; then duplicates learn the outcome is
            // unknown. Nothing is sent again either way.
            tracing::warn!(%error, "the answer could not be recorded for its request_id");
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let key = self.key.clone();
        let fingerprint = self.fingerprint;
        let recorded = Recorded::failure(&error::status(&Error::Idempotency(
            IdempotencyError::Abandoned,
        )));
        runtime.spawn(async move {
            if let Err(error) = store
                .complete(&key, fingerprint, recorded, Duration::MAX)
                .await
            {
                tracing::warn!(%error, "an abandoned call could not be recorded for its request_id");
            }
        });
    }
}

/// The JSON of a wire body. Wire structs have string keys and infallible `Serialize` impls, so this
/// does not fail; if it ever did, nothing is sent.
fn serialize<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, Error> {
    let mut json = Vec::with_capacity(512);
    serde_json::to_writer(&mut json, body).map_err(|error| {
        Error::Internal(format!("the request body failed to serialize: {error}"))
    })?;
    Ok(json)
}

/// The API's answer as the gRPC response.
fn response(answer: SendAnswer, sender: &str) -> SendMessageResponse {
    let wa_id = answer
        .contacts
        .into_iter()
        .next()
        .and_then(|contact| contact.wa_id)
        .unwrap_or_default();
    let (message_id, status) = answer
        .messages
        .into_iter()
        .next()
        .map(|message| (message.id, message.message_status))
        .unwrap_or_default();
    let message_status = match status.as_deref() {
        None => MessageStatus::Unspecified,
        Some("accepted") => MessageStatus::Accepted,
        Some("paused") => MessageStatus::Paused,
        // Cloud says `held_for_quality_assessment`; On-Premises says so in a sentence.
        Some(status) if status.to_ascii_lowercase().contains("held") => {
            MessageStatus::HeldForQualityAssessment
        }
        Some(_) => MessageStatus::Unspecified,
    };
    SendMessageResponse {
        message_id,
        message_status: message_status as i32,
        wa_id,
        sender: sender.to_owned(),
    }
}

/// One span per RPC. It names the method, the caller (its API key's name, when callers
/// authenticate), the sender and its flavor (none for a sender that does not exist), message type
/// and trace; the recipient, the text and the credentials never appear in it. Exported as an
/// OpenTelemetry server span (`otel.*`) whose attributes are these fields. What is known at the
/// start is given at the start: a JSON log layer re-reads every field of the span at each
/// `record`, so each one recorded later costs a parse and a write of them all.
fn rpc_span(
    method: &'static str,
    full_method: &'static str,
    message_type: &str,
    caller: Option<&Caller>,
    sender: Option<&Sender>,
    trace: &TraceContext,
) -> Span {
    tracing::info_span!(
        "rpc",
        otel.name = full_method,
        otel.kind = "server",
        otel.status_code = Empty,
        method,
        caller = caller.map(|caller| &*caller.name),
        sender = sender.map(|sender| sender.name.as_str()),
        flavor = sender.map(|sender| sender.flavor.as_str()),
        message_type,
        trace_id = trace.trace_id_text(),
        http_status = Empty,
        message_id = Empty,
        fbtrace_id = Empty,
        grpc_code = Empty,
        latency_us = Empty,
    )
}

/// Records a sent message's HTTP status (200) and id on the RPC's span, in one record.
fn record_sent(span: &Span, message_id: &str) {
    let Some(metadata) = span.metadata() else {
        return;
    };
    let fields = metadata.fields();
    let (Some(http_status), Some(id)) = (fields.field("http_status"), fields.field("message_id"))
    else {
        return;
    };
    span.record_all(&fields.value_set(&[
        (&http_status, Some(&200 as &dyn tracing::Value)),
        (&id, Some(&message_id as &dyn tracing::Value)),
    ]));
}

/// Records the API's view of a failure on the span.
fn record_error(error: &UpstreamError) {
    let span = Span::current();
    match error {
        UpstreamError::Api(api) => {
            span.record("http_status", api.http_status);
            if let Some(fbtrace_id) = &api.fbtrace_id {
                span.record("fbtrace_id", fbtrace_id.as_str());
            }
            span.record("grpc_code", tracing::field::debug(api_code(api)));
        }
        UpstreamError::UnexpectedAnswer { http_status, .. } => {
            span.record("http_status", *http_status);
        }
        UpstreamError::Unreachable(_)
        | UpstreamError::TimedOut(_)
        | UpstreamError::Interrupted(_)
        | UpstreamError::Login { .. }
        | UpstreamError::Busy { .. }
        | UpstreamError::DeadlineExceeded { .. }
        | UpstreamError::Local(_) => {}
    }
}

/// One RPC in progress. Finished, it records its latency and logs one line at debug (success) or
/// warn (failure); dropped unfinished (the caller cancelled, or its deadline passed and the call
/// was abandoned), it logs that at warn, since the message may have been sent.
struct Call {
    method: &'static str,
    started: Instant,
    finished: bool,
}

impl Call {
    fn start(method: &'static str) -> Call {
        Call {
            method,
            started: Instant::now(),
            finished: false,
        }
    }

    fn finish<T>(mut self, result: &Result<T, Error>) {
        self.finished = true;
        let latency = self.started.elapsed();
        let span = Span::current();
        span.record("latency_us", latency.as_micros() as u64);
        if result.as_ref().is_err_and(server_fault) {
            span.record("otel.status_code", "ERROR");
        }
        log_result(result);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.finished {
            tracing::warn!(
                method = self.method,
                latency_us = self.started.elapsed().as_micros() as u64,
                outcome = "unknown",
                "call abandoned before it finished (the caller cancelled or its deadline passed); the message may have been sent"
            );
        }
    }
}

/// Whether a failure is the service's side rather than the caller's, by its gRPC code as
/// OpenTelemetry's conventions for gRPC servers say: the span is then marked as an error.
fn server_fault(error: &Error) -> bool {
    use tonic::Code;
    matches!(
        error::status(error).code(),
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// One line at debug (success) or warn (failure) for a finished call.
fn log_result<T>(result: &Result<T, Error>) {
    match result {
        Ok(_) => tracing::debug!("rpc done"),
        Err(Error::InvalidArgument(invalid)) => {
            tracing::debug!(violations = invalid.total(), "request refused")
        }
        // The span may be filtered out (RUST_LOG=warn): the line carries what support needs.
        Err(Error::Upstream(UpstreamFailure {
            error: UpstreamError::Api(api),
            attempts,
        })) => tracing::warn!(
            attempts,
            http_status = api.http_status,
            code = api.code,
            fbtrace_id = api.fbtrace_id.as_deref(),
            title = %api.title,
            "upstream refused the call"
        ),
        Err(Error::Upstream(UpstreamFailure { error, attempts })) => {
            tracing::warn!(attempts, %error, "upstream call failed")
        }
        Err(Error::Sender(error)) => tracing::debug!(%error, "request refused"),
        Err(Error::Internal(error)) => tracing::error!(%error, "internal error"),
        Err(Error::Idempotency(error @ IdempotencyError::Unavailable(_))) => {
            tracing::warn!(%error, "request refused")
        }
        Err(Error::Idempotency(
            IdempotencyError::Reused
            | IdempotencyError::InProgress
            | IdempotencyError::Abandoned
            | IdempotencyError::Replayed { .. },
        )) => tracing::debug!("request answered for its request_id"),
        // Honest load: one line per refused message would flood the log when it matters least.
        Err(Error::RateLimit(error @ RateLimitError::Exhausted { .. })) => {
            tracing::debug!(%error, "request refused")
        }
        Err(Error::RateLimit(error @ RateLimitError::Unavailable(_))) => {
            tracing::warn!(%error, "request refused")
        }
        // Media calls have their own service; a message call never fails so.
        Err(Error::Media(error)) => tracing::debug!(%error, "request refused"),
    }
}
