//! A `StreamEvents` subscriber as a client holds one: the request side to send acknowledgements on,
//! the response stream, and the events received and not yet handed out.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use whatsapp_grpc::proto::event_service_client::EventServiceClient;
use whatsapp_grpc::proto::{ReceivedEvent, StreamEventsRequest, StreamEventsResponse};

use super::stack::Stack;

/// How long a subscriber waits for an event or for the end of its stream.
pub const WITHIN: Duration = Duration::from_secs(20);

/// One subscription stream, as a client holds it.
pub struct Subscriber {
    pub requests: mpsc::Sender<StreamEventsRequest>,
    pub responses: Streaming<StreamEventsResponse>,
    /// Received and not yet handed out by [`Subscriber::next`].
    buffered: Vec<ReceivedEvent>,
}

pub fn first(
    group: &str,
    ack_deadline_seconds: i32,
    max_outstanding_events: i32,
) -> StreamEventsRequest {
    StreamEventsRequest {
        consumer_group: group.into(),
        ack_deadline_seconds,
        max_outstanding_events,
        ..StreamEventsRequest::default()
    }
}

pub async fn open(stack: &Stack, first: StreamEventsRequest) -> Result<Subscriber, tonic::Status> {
    let (requests, outbound) = mpsc::channel(16);
    requests
        .send(first)
        .await
        .expect("the request stream is open");
    let responses = EventServiceClient::new(stack.channel.clone())
        .stream_events(ReceiverStream::new(outbound))
        .await?
        .into_inner();
    Ok(Subscriber {
        requests,
        responses,
        buffered: Vec::new(),
    })
}

pub async fn subscribe(stack: &Stack, group: &str, ack_deadline: i32, window: i32) -> Subscriber {
    open(stack, first(group, ack_deadline, window))
        .await
        .expect("subscribed")
}

impl Subscriber {
    /// The next event, waiting at most [`WITHIN`].
    pub async fn next(&mut self) -> ReceivedEvent {
        if self.buffered.is_empty() {
            let batch = tokio::time::timeout(WITHIN, self.responses.message())
                .await
                .expect("an event within the wait")
                .expect("the stream is healthy")
                .expect("the stream is open");
            assert!(!batch.received_events.is_empty(), "an empty batch");
            self.buffered = batch.received_events;
            self.buffered.reverse();
        }
        self.buffered.pop().expect("buffered")
    }

    pub async fn take(&mut self, count: usize) -> Vec<ReceivedEvent> {
        let mut taken = Vec::with_capacity(count);
        for _ in 0..count {
            taken.push(self.next().await);
        }
        taken
    }

    pub async fn ack(&self, received: &[ReceivedEvent]) {
        self.requests
            .send(StreamEventsRequest {
                ack_ids: received.iter().map(|r| r.ack_id.clone()).collect(),
                ..StreamEventsRequest::default()
            })
            .await
            .expect("the request stream is open");
    }

    /// Closes the stream as a subscriber that stops does: half-closes its side, so the server ends
    /// the stream once it has read every acknowledgement sent before, and waits for that end.
    pub async fn close(self) {
        let Subscriber {
            requests,
            mut responses,
            ..
        } = self;
        drop(requests);
        let ended = tokio::time::timeout(WITHIN, async {
            while let Ok(Some(_)) = responses.message().await {}
        })
        .await;
        assert!(ended.is_ok(), "the server never ended the stream");
    }

    /// The status the stream ends with.
    pub async fn ended(mut self) -> tonic::Status {
        loop {
            match tokio::time::timeout(WITHIN, self.responses.message())
                .await
                .expect("the stream ends within the wait")
            {
                Ok(Some(_)) => continue,
                Ok(None) => return tonic::Status::ok(""),
                Err(status) => return status,
            }
        }
    }
}

pub fn id(received: &ReceivedEvent) -> String {
    received.event.as_ref().expect("an event").event_id.clone()
}

pub fn ids(received: &[ReceivedEvent]) -> Vec<String> {
    received.iter().map(id).collect()
}
