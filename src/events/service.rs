//! `EventService.StreamEvents`: the subscription stream. The first request names the consumer group
//! and the stream's settings; then two loops share the stream until it ends: one reads the
//! client's acknowledgements, the other receives events from the [`EventStore`] while this stream
//! has room (at most `max_outstanding_events` unacknowledged) and sends them. The stream ends when
//! the client closes it or goes away, at the call's deadline (with `OK`: the client reopens it), or
//! on an error; its unacknowledged events are then released to the group at once.
//!
//! Bounds: [`MAX_SUBSCRIBERS`] streams per replica, [`MAX_OUTSTANDING`] events per stream (a slow
//! subscriber holds at most those, plus one batch waiting in the channel to the transport), at most
//! [`MAX_ACK_IDS`] ack ids per request; every wait is bounded (the first request, each receive,
//! the store's commands).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;
use tracing::field::Empty;

use super::store::{AckError, Consumer, EventStore, GROUP_MAX_CHARS, StoreError, Subscription};
use crate::layers::Deadline;
use crate::metrics::EventMetrics;
use crate::proto::event_service_server::EventService;
use crate::proto::{ReceivedEvent, StreamEventsRequest, StreamEventsResponse};

/// Subscription streams one replica serves at once; more are refused (`RESOURCE_EXHAUSTED`).
pub const MAX_SUBSCRIBERS: usize = 256;
/// The ack deadline of a stream that names none.
pub const DEFAULT_ACK_DEADLINE_SECONDS: i32 = 30;
/// The longest ack deadline a stream may ask for.
pub const MAX_ACK_DEADLINE_SECONDS: i32 = 600;
/// The flow-control window of a stream that names none.
pub const DEFAULT_MAX_OUTSTANDING: i32 = 100;
/// The largest flow-control window a stream may ask for.
pub const MAX_OUTSTANDING: i32 = 1000;
/// Ack ids one request may carry.
pub const MAX_ACK_IDS: usize = 1000;
/// The longest ack id.
pub const ACK_ID_MAX_CHARS: usize = 64;
/// The longest sender filter.
pub const SENDER_MAX_CHARS: usize = 64;
/// Events in one response.
pub const MAX_BATCH: usize = 100;
/// How long the server waits for a stream's first request.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request the service reads (1,000 ack ids of 64 characters fit).
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;
/// The longest one receive from the store waits before the loop looks at its room again.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);
/// How often a stream samples its group's oldest unacknowledged event for the metrics.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How long an ending stream waits for its receive in progress (and the batch it sends) to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(4);
/// How long the server tries to hand a final error to a stream's transport.
const FINAL_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a stream was refused or ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A request broke a rule of `event_service.proto`.
    #[error("{field}: {rule}")]
    InvalidRequest { field: &'static str, rule: String },
    /// The stream ended, or its first request did not come in time, before it subscribed.
    #[error(
        "the stream's first request must name the consumer_group (none came within {0:?}): send it first"
    )]
    NoSubscription(Duration),
    /// This replica serves its maximum of streams.
    #[error(
        "this replica serves its maximum of {limit} event streams: retry later, or on another replica"
    )]
    TooManySubscribers { limit: usize },
    /// The event store could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AckError> for StreamError {
    fn from(error: AckError) -> StreamError {
        match error {
            AckError::BadAckId(bad) => StreamError::InvalidRequest {
                field: "ack_ids",
                rule: bad.to_string(),
            },
            AckError::Store(error) => StreamError::Store(error),
        }
    }
}

impl From<StreamError> for Status {
    fn from(error: StreamError) -> Status {
        crate::error::stream_status(&error)
    }
}

/// The event service: streams of the events in `store`.
pub struct Events {
    store: Arc<dyn EventStore>,
    subscribers: Arc<Semaphore>,
    metrics: EventMetrics,
    closing: watch::Sender<bool>,
}

impl Events {
    pub fn new(store: Arc<dyn EventStore>, metrics: EventMetrics) -> Events {
        Events {
            store,
            subscribers: Arc::new(Semaphore::new(MAX_SUBSCRIBERS)),
            metrics,
            closing: watch::Sender::new(false),
        }
    }

    /// What ends every stream (with `OK`, their events released) when the server drains, so
    /// subscribers reopen them on another replica instead of holding the shutdown.
    pub fn closer(&self) -> Closer {
        Closer(self.closing.clone())
    }
}

/// Ends the streams of an [`Events`]; see [`Events::closer`].
#[derive(Clone)]
pub struct Closer(watch::Sender<bool>);

impl Closer {
    pub fn close(&self) {
        self.0.send_replace(true);
    }
}

/// What the first request asked for.
struct Settings {
    subscription: Subscription,
    max_outstanding: usize,
}

fn invalid(field: &'static str, rule: impl Into<String>) -> StreamError {
    StreamError::InvalidRequest {
        field,
        rule: rule.into(),
    }
}

fn valid_group(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= GROUP_MAX_CHARS
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The group a stream receives from in the store: the caller's `consumer_group`, or, when the
/// stream filters one sender, `group/sender`. A filter acknowledges the other senders' events unseen,
/// so a group and a filter make one group together: subscribers of one `consumer_group` with
/// different filters (or none) never take events from each other. A group name has no `/`, so no two
/// pairs share a name.
fn store_group(group: &str, sender: Option<&str>) -> String {
    match sender {
        Some(sender) => format!("{group}/{sender}"),
        None => group.to_owned(),
    }
}

impl Settings {
    fn of(first: &StreamEventsRequest) -> Result<Settings, StreamError> {
        if !valid_group(&first.consumer_group) {
            return Err(invalid(
                "consumer_group",
                format!(
                    "required in the first request: 1 to {GROUP_MAX_CHARS} ASCII letters, digits, '-', '_' or '.', starting with a letter or a digit"
                ),
            ));
        }
        if first.sender.chars().count() > SENDER_MAX_CHARS
            || first.sender.chars().any(char::is_control)
        {
            return Err(invalid(
                "sender",
                format!("at most {SENDER_MAX_CHARS} characters, no control characters"),
            ));
        }
        let ack_deadline = match first.ack_deadline_seconds {
            0 => DEFAULT_ACK_DEADLINE_SECONDS,
            seconds @ 1..=MAX_ACK_DEADLINE_SECONDS => seconds,
            _ => {
                return Err(invalid(
                    "ack_deadline_seconds",
                    format!(
                        "0 (the default, {DEFAULT_ACK_DEADLINE_SECONDS}) or 1 to {MAX_ACK_DEADLINE_SECONDS}"
                    ),
                ));
            }
        };
        let max_outstanding = match first.max_outstanding_events {
            0 => DEFAULT_MAX_OUTSTANDING,
            events @ 1..=MAX_OUTSTANDING => events,
            _ => {
                return Err(invalid(
                    "max_outstanding_events",
                    format!("0 (the default, {DEFAULT_MAX_OUTSTANDING}) or 1 to {MAX_OUTSTANDING}"),
                ));
            }
        };
        let sender = (!first.sender.is_empty()).then(|| first.sender.clone());
        Ok(Settings {
            subscription: Subscription {
                group: store_group(&first.consumer_group, sender.as_deref()),
                sender,
                ack_deadline: Duration::from_secs(ack_deadline.unsigned_abs().into()),
            },
            max_outstanding: max_outstanding.unsigned_abs() as usize,
        })
    }
}

/// The ack ids of a request, bounded.
fn checked_ack_ids(request: &StreamEventsRequest) -> Result<(), StreamError> {
    if request.ack_ids.len() > MAX_ACK_IDS {
        return Err(invalid(
            "ack_ids",
            format!(
                "at most {MAX_ACK_IDS} per request, got {}",
                request.ack_ids.len()
            ),
        ));
    }
    if let Some(long) = request
        .ack_ids
        .iter()
        .find(|id| id.len() > ACK_ID_MAX_CHARS)
    {
        return Err(invalid(
            "ack_ids",
            format!(
                "an ack id has at most {ACK_ID_MAX_CHARS} characters, one has {}",
                long.chars().count()
            ),
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl EventService for Events {
    type StreamEventsStream = Outbound;

    async fn stream_events(
        &self,
        request: Request<Streaming<StreamEventsRequest>>,
    ) -> Result<Response<Outbound>, Status> {
        let deadline = request.extensions().get::<Deadline>().map(|d| d.at);
        let permit = self.subscribers.clone().try_acquire_owned().map_err(|_| {
            StreamError::TooManySubscribers {
                limit: MAX_SUBSCRIBERS,
            }
        })?;
        let mut inbound = request.into_inner();
        let first = match tokio::time::timeout(FIRST_REQUEST_TIMEOUT, inbound.message()).await {
            Ok(Ok(Some(first))) => first,
            Ok(Err(status)) => return Err(status),
            Ok(Ok(None)) | Err(_) => {
                return Err(StreamError::NoSubscription(FIRST_REQUEST_TIMEOUT).into());
            }
        };
        let settings = Settings::of(&first)?;
        checked_ack_ids(&first)?;
        let group = settings.subscription.group.clone();
        let consumer = self
            .store
            .subscribe(settings.subscription.clone())
            .await
            .map_err(StreamError::from)?;
        let metrics = self.metrics.group(&group);
        let mut acknowledged = 0;
        if !first.ack_ids.is_empty() {
            let acked = self
                .store
                .ack(&group, &first.ack_ids)
                .await
                .map_err(StreamError::from)?;
            metrics.acknowledged(acked);
            acknowledged = acked;
        }
        // One span per stream, with what it delivered: the group is the caller's name for its
        // subscription (no personal data).
        let span = tracing::info_span!(
            "stream_events",
            otel.name = "whatsapp.v1.EventService/StreamEvents",
            otel.kind = "server",
            group = group.as_str(),
            delivered = Empty,
            redelivered = Empty,
            acknowledged = Empty,
        );
        let (sender, receiver) = mpsc::channel(1);
        let stream = Stream {
            store: self.store.clone(),
            settings,
            outstanding: Mutex::new(HashMap::new()),
            room: Notify::new(),
            stopping: AtomicBool::new(false),
            metrics,
            counts: Counts {
                acknowledged: AtomicUsize::new(acknowledged),
                ..Counts::default()
            },
            _permit: permit,
        };
        let closing = self.closing.subscribe();
        tokio::spawn(
            stream
                .run(consumer, inbound, sender, deadline, closing)
                .instrument(span),
        );
        Ok(Response::new(Outbound(receiver)))
    }
}

/// The responses of one stream, as the transport takes them.
pub struct Outbound(mpsc::Receiver<Result<StreamEventsResponse, Status>>);

impl futures_util::Stream for Outbound {
    type Item = Result<StreamEventsResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// One subscription stream's state.
struct Stream {
    store: Arc<dyn EventStore>,
    settings: Settings,
    /// The ack ids sent on this stream and not acknowledged, with their ack deadlines.
    outstanding: Mutex<HashMap<String, Instant>>,
    /// Signalled when acknowledgements free room, or when the stream stops.
    room: Notify,
    /// Set when the stream ends: the delivery loop stops after the receive in progress.
    stopping: AtomicBool,
    metrics: crate::metrics::GroupMetrics,
    /// What this stream did, for its span.
    counts: Counts,
    _permit: OwnedSemaphorePermit,
}

/// Events delivered (redelivered among them) and acknowledged on one stream.
#[derive(Default)]
struct Counts {
    delivered: AtomicUsize,
    redelivered: AtomicUsize,
    acknowledged: AtomicUsize,
}

impl Stream {
    async fn run(
        self,
        mut consumer: Box<dyn Consumer>,
        inbound: Streaming<StreamEventsRequest>,
        sender: mpsc::Sender<Result<StreamEventsResponse, Status>>,
        deadline: Option<Instant>,
        mut closing: watch::Receiver<bool>,
    ) {
        self.metrics.subscriber_connected();
        let ended = {
            let end = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let deliver = self.deliver(consumer.as_mut(), &sender);
            tokio::pin!(deliver);
            let (ended, delivering) = tokio::select! {
                ended = self.read_acks(inbound) => (ended, true),
                ended = &mut deliver => (ended, false),
                () = end => (Ok(()), true),
                () = sender.closed() => (Ok(()), true),
                _ = closing.wait_for(|closing| *closing) => (Ok(()), true),
            };
            if delivering {
                // Let a receive in progress finish, so that what it took is released below (a
                // read cut short could still hand events to this consumer after the release).
                self.stopping.store(true, Ordering::Relaxed);
                self.room.notify_one();
                let _ = tokio::time::timeout(STOP_TIMEOUT, &mut deliver).await;
            }
            ended
        };
        consumer.close().await;
        self.metrics.subscriber_disconnected();
        let span = tracing::Span::current();
        span.record("delivered", self.counts.delivered.load(Ordering::Relaxed));
        span.record(
            "redelivered",
            self.counts.redelivered.load(Ordering::Relaxed),
        );
        span.record(
            "acknowledged",
            self.counts.acknowledged.load(Ordering::Relaxed),
        );
        match ended {
            Ok(()) => {}
            Err(error) => {
                tracing::debug!(%error, "event stream ended with an error");
                let _ =
                    tokio::time::timeout(FINAL_SEND_TIMEOUT, sender.send(Err(Status::from(error))))
                        .await;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.outstanding
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the client's requests until it closes its side or goes away.
    async fn read_acks(
        &self,
        mut inbound: Streaming<StreamEventsRequest>,
    ) -> Result<(), StreamError> {
        // An error reading means the client went away: the stream just ends.
        while let Ok(Some(request)) = inbound.message().await {
            if !request.consumer_group.is_empty()
                || !request.sender.is_empty()
                || request.ack_deadline_seconds != 0
                || request.max_outstanding_events != 0
            {
                return Err(invalid(
                    "consumer_group",
                    "the subscription (consumer_group, sender, ack_deadline_seconds, max_outstanding_events) is set in the first request only",
                ));
            }
            checked_ack_ids(&request)?;
            if request.ack_ids.is_empty() {
                continue;
            }
            let acked = self
                .store
                .ack(&self.settings.subscription.group, &request.ack_ids)
                .await?;
            self.metrics.acknowledged(acked);
            self.counts.acknowledged.fetch_add(acked, Ordering::Relaxed);
            {
                let mut outstanding = self.lock();
                for id in &request.ack_ids {
                    outstanding.remove(id);
                }
            }
            self.room.notify_one();
        }
        Ok(())
    }

    /// Receives events while there is room and sends them, until the client goes away.
    async fn deliver(
        &self,
        consumer: &mut dyn Consumer,
        sender: &mpsc::Sender<Result<StreamEventsResponse, Status>>,
    ) -> Result<(), StreamError> {
        let ack_deadline = self.settings.subscription.ack_deadline;
        let mut next_sample = Instant::now();
        while !self.stopping.load(Ordering::Relaxed) {
            let now = Instant::now();
            if self.metrics.is_enabled() && now >= next_sample {
                next_sample = now + SAMPLE_EVERY;
                if let Ok(age) = self
                    .store
                    .oldest_unacked(&self.settings.subscription.group)
                    .await
                {
                    self.metrics.oldest_unacked(age);
                }
            }
            let (room, next_due) = {
                let mut outstanding = self.lock();
                // Those past their deadline are the group's again: they no longer take room here.
                outstanding.retain(|_, due| *due > now);
                (
                    self.settings
                        .max_outstanding
                        .saturating_sub(outstanding.len()),
                    outstanding.values().min().copied(),
                )
            };
            if room == 0 {
                let wake = next_due
                    .unwrap_or(now + RECEIVE_WAIT)
                    .min(now + RECEIVE_WAIT);
                let _ = tokio::time::timeout_at(wake, self.room.notified()).await;
                continue;
            }
            let batch = consumer.receive(room.min(MAX_BATCH), RECEIVE_WAIT).await?;
            if batch.is_empty() {
                continue;
            }
            let due = Instant::now() + ack_deadline;
            {
                let mut outstanding = self.lock();
                for delivery in &batch {
                    outstanding.insert(delivery.ack_id.clone(), due);
                }
            }
            let redelivered = batch.iter().filter(|d| d.attempt > 1).count();
            self.metrics.delivered(batch.len(), redelivered);
            self.counts
                .delivered
                .fetch_add(batch.len(), Ordering::Relaxed);
            self.counts
                .redelivered
                .fetch_add(redelivered, Ordering::Relaxed);
            let response = StreamEventsResponse {
                received_events: batch
                    .into_iter()
                    .map(|delivery| ReceivedEvent {
                        ack_id: delivery.ack_id,
                        event: Some(delivery.event),
                        delivery_attempt: i32::try_from(delivery.attempt).unwrap_or(i32::MAX),
                    })
                    .collect(),
            };
            if sender.send(Ok(response)).await.is_err() {
                return Ok(()); // the client went away
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(group: &str) -> StreamEventsRequest {
        StreamEventsRequest {
            consumer_group: group.into(),
            ..StreamEventsRequest::default()
        }
    }

    #[test]
    fn the_first_request_is_validated_and_defaults_apply() {
        let settings = Settings::of(&first("billing.v2_a-1")).expect("valid");
        assert_eq!(settings.subscription.ack_deadline, Duration::from_secs(30));
        assert_eq!(settings.max_outstanding, 100);
        assert_eq!(settings.subscription.sender, None);
        for bad in ["", "-x", "a b", "ü", &"a".repeat(65)] {
            assert!(Settings::of(&first(bad)).is_err(), "{bad:?}");
        }
        for (deadline, outstanding) in [(-1, 0), (601, 0), (0, -1), (0, 1001)] {
            let request = StreamEventsRequest {
                ack_deadline_seconds: deadline,
                max_outstanding_events: outstanding,
                ..first("g")
            };
            assert!(Settings::of(&request).is_err(), "{deadline} {outstanding}");
        }
    }

    #[test]
    fn a_filter_makes_its_own_group() {
        let filtered = |sender: &str| {
            let request = StreamEventsRequest {
                sender: sender.into(),
                ..first("billing")
            };
            Settings::of(&request).expect("valid").subscription
        };
        assert_eq!(
            Settings::of(&first("billing"))
                .expect("valid")
                .subscription
                .group,
            "billing"
        );
        let sales = filtered("sales");
        assert_eq!(sales.group, "billing/sales");
        assert_eq!(sales.sender.as_deref(), Some("sales"));
        // A sender's name may hold a `/`: the group's never does, so the pairs stay apart.
        assert_eq!(filtered("a/b").group, "billing/a/b");
        assert_ne!(filtered("a/b").group, filtered("b").group);
    }

    #[test]
    fn ack_ids_are_bounded() {
        let many = StreamEventsRequest {
            ack_ids: vec!["1".into(); MAX_ACK_IDS + 1],
            ..StreamEventsRequest::default()
        };
        assert!(checked_ack_ids(&many).is_err());
        let long = StreamEventsRequest {
            ack_ids: vec!["1".repeat(65)],
            ..StreamEventsRequest::default()
        };
        assert!(checked_ack_ids(&long).is_err());
    }
}
