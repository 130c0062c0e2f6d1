//! Where received events wait for their subscribers: the contract between the webhook receiver
//! (which publishes) and the event stream (which delivers and takes acknowledgements).

use crate::proto::Event;

/// What a [`EventStore::publish`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Events stored for the first time.
    pub stored: usize,
    /// Events whose `event_id` was already stored within the retention (a webhook redelivered):
    /// not stored again.
    pub duplicates: usize,
}

/// The store could not be reached or refused the write: nothing can be assumed stored, and the
/// webhook must not be acknowledged (the API then delivers it again).
#[derive(Debug, thiserror::Error)]
#[error("the event store is unavailable: {0}")]
pub struct StoreError(pub String);

/// Durable storage of events, in memory for one replica or shared through Redis by a fleet.
#[tonic::async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores `events` durably, skipping those whose `event_id` is already stored; returns once they
    /// are stored, so a webhook is answered 200 only after this succeeds.
    async fn publish(&self, events: Vec<Event>) -> Result<Published, StoreError>;

    /// A new consumer of `subscription.group`, creating the group (to receive every event kept,
    /// from the start of the retention) if it does not exist yet.
    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>, StoreError>;

    /// Acknowledges `ack_ids` for `group`: those events are not delivered to it again. Unknown or
    /// already acknowledged ids are no error. Returns how many were acknowledged now.
    async fn ack(&self, group: &str, ack_ids: &[String]) -> Result<usize, AckError>;

    /// How long the oldest event `group` has not acknowledged (delivered or not) has been stored;
    /// `None` when it has acknowledged every event kept.
    async fn oldest_unacked(&self, group: &str) -> Result<Option<std::time::Duration>, StoreError>;
}

/// The longest a consumer group's name may be.
pub const GROUP_MAX_CHARS: usize = 64;

/// Who receives and how: one stream of one consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// The consumer group: the caller's (1 to [`GROUP_MAX_CHARS`] of `[A-Za-z0-9._-]`, starting with
    /// a letter or a digit), followed by `/` and the sender when the stream filters one, so that a
    /// filter only ever acknowledges events unseen for subscribers that name it too.
    pub group: String,
    /// Only this sender's events; the others are acknowledged for the group without delivery.
    pub sender: Option<String>,
    /// How long an event delivered to this consumer waits for its acknowledgement before it is
    /// delivered again.
    pub ack_deadline: std::time::Duration,
}

impl Subscription {
    /// Whether `event` is delivered on this subscription (else it is acknowledged unseen).
    pub fn wants(&self, event: &Event) -> bool {
        self.sender
            .as_deref()
            .is_none_or(|sender| sender == event.sender)
    }
}

/// One event delivered to a consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// What acknowledges it for the group: the same on every delivery of the event to the group.
    pub ack_id: String,
    pub event: Event,
    /// 1 on its first delivery to the group, one more on each redelivery.
    pub attempt: u32,
}

/// An ack id that this store never hands out.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an ack id of this service: acknowledge with the ack_id of a ReceivedEvent")]
pub struct BadAckId(pub String);

/// Why an acknowledgement failed.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error(transparent)]
    BadAckId(#[from] BadAckId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One consumer of a group: what one stream receives. Dropping it without [`Consumer::close`]
/// leaves its unacknowledged events to be delivered again after their ack deadline.
#[tonic::async_trait]
pub trait Consumer: Send + 'static {
    /// Up to `max` events for this consumer, oldest first: those of the group whose ack deadline
    /// passed (delivered again), then new ones. Waits at most about `wait` for one to come; an
    /// empty batch when none did.
    async fn receive(
        &mut self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// The stream ended: makes this consumer's unacknowledged events available to the group at
    /// once, and forgets the consumer. Best effort, bounded in time.
    async fn close(self: Box<Self>);
}
