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
}
