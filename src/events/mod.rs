//! The other half of the conversation: webhooks the WhatsApp Business API sends this service, turned
//! into typed [`Event`]s, stored durably in a [`store::EventStore`] and streamed to subscribers.
//!
//! The receiver ([`receiver`]) authenticates a webhook ([`signature`]), turns its payload into
//! events ([`parse`]) and publishes them to the store.
//!
//! [`Event`]: crate::proto::Event

pub mod memory;
pub mod parse;
pub mod receiver;
pub mod signature;
pub mod store;

use std::fmt;
use std::sync::Arc;

pub use receiver::WebhookConfig;

/// How many events the default in-memory store holds.
pub const DEFAULT_MEMORY_EVENTS: usize = 100_000;

/// The event store a server publishes webhooks' events to, chosen by the caller (a test keeps a
/// handle on it); the server builds an in-memory one of [`DEFAULT_MEMORY_EVENTS`] when given none.
#[derive(Clone)]
pub struct SharedStore(pub Arc<dyn store::EventStore>);

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedStore")
    }
}
