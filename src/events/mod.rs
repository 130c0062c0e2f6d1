//! The other half of the conversation: webhooks the WhatsApp Business API sends this service, turned
//! into typed [`Event`]s, stored durably in a [`store::EventStore`] and streamed to subscribers by
//! [`service`] (`EventService.StreamEvents`). Stores: [`memory`] (one replica) and [`redis`]
//! (Redis Streams, shared by every replica); [`config`] says which.
//!
//! [`Event`]: crate::proto::Event

pub mod config;
pub mod memory;
pub mod redis;
pub mod service;
pub mod store;
