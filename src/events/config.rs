//! Which event store the server uses, and its bounds.

use std::sync::Arc;
use std::time::Duration;

use super::memory::MemoryStore;
use super::store::EventStore;

/// How long events are kept by default (unacknowledged, and their `event_id`s for deduplication).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest retention that can be configured.
pub const MIN_RETENTION: Duration = Duration::from_secs(60);
/// The longest retention that can be configured.
pub const MAX_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How many events are kept by default.
pub const DEFAULT_MAX_EVENTS: usize = 100_000;
/// The most events that can be configured.
pub const MAX_MAX_EVENTS: usize = 10_000_000;

/// Where events wait for their subscribers.
#[derive(Clone)]
pub enum EventStoreKind {
    /// In this process: for one replica.
    Memory,
    /// A Redis server shared by every replica: `redis://host:port/db`.
    Redis { url: String },
    /// A store built by the program that embeds the server (tests publish into it directly).
    Given(Arc<dyn EventStore>),
}

/// The event store and its bounds.
#[derive(Clone)]
pub struct EventStoreConfig {
    pub kind: EventStoreKind,
    /// How long an event is kept (acknowledged or not), and its `event_id` remembered.
    pub retention: Duration,
    /// The most events kept: a publish that does not fit is refused once the oldest events every
    /// group acknowledged are dropped (in memory and in Redis).
    pub max_events: usize,
}

impl Default for EventStoreConfig {
    fn default() -> Self {
        EventStoreConfig {
            kind: EventStoreKind::Memory,
            retention: DEFAULT_RETENTION,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

impl EventStoreConfig {
    /// The store, already built, in memory.
    pub fn given(store: Arc<dyn EventStore>) -> EventStoreConfig {
        EventStoreConfig {
            kind: EventStoreKind::Given(store),
            ..EventStoreConfig::default()
        }
    }

    /// The store this config names. A Redis one connects lazily: a Redis that is down fails
    /// publishes and subscriptions, not the server.
    pub fn build(&self) -> Result<Arc<dyn EventStore>, String> {
        Ok(match &self.kind {
            EventStoreKind::Memory => {
                Arc::new(MemoryStore::with_retention(self.max_events, self.retention))
            }
            EventStoreKind::Redis { url } => Arc::new(super::redis::RedisStore::new(
                url,
                self.retention,
                self.max_events,
            )?),
            EventStoreKind::Given(store) => store.clone(),
        })
    }
}

/// Shown without the Redis URL's password.
impl std::fmt::Debug for EventStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            EventStoreKind::Memory => "memory".to_owned(),
            EventStoreKind::Redis { url } => crate::upstream::display_url(url),
            EventStoreKind::Given(_) => "given".to_owned(),
        };
        f.debug_struct("EventStoreConfig")
            .field("kind", &kind)
            .field("retention", &self.retention)
            .field("max_events", &self.max_events)
            .finish()
    }
}

impl PartialEq for EventStoreConfig {
    fn eq(&self, other: &Self) -> bool {
        let same_kind = match (&self.kind, &other.kind) {
            (EventStoreKind::Memory, EventStoreKind::Memory) => true,
            (EventStoreKind::Redis { url: a }, EventStoreKind::Redis { url: b }) => a == b,
            (EventStoreKind::Given(a), EventStoreKind::Given(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_kind && self.retention == other.retention && self.max_events == other.max_events
    }
}
