//! The other half of the conversation: webhooks the WhatsApp Business API sends this service, turned
//! into typed [`Event`]s, stored durably in a [`store::EventStore`] and streamed to subscribers by
//! [`service`] (`EventService.StreamEvents`). Stores: [`memory`] (one replica) and [`redis`]
//! (Redis Streams, shared by every replica); [`config`] says which.
//!
//! The receiver ([`receiver`]) authenticates a webhook ([`signature`]), turns its payload into
//! events ([`parse`]) and publishes them to the store.
//!
//! [`Event`]: crate::proto::Event

pub mod config;
pub mod memory;
pub mod parse;
pub mod receiver;
pub mod redis;
pub mod service;
pub mod signature;
pub mod store;

pub use receiver::WebhookConfig;
