//! The other half of the conversation: webhooks the WhatsApp Business API sends this service, turned
//! into typed [`Event`]s, stored durably in a [`store::EventStore`] and streamed to subscribers.
//!
//! [`Event`]: crate::proto::Event

pub mod memory;
pub mod store;
