//! Events kept in this process, for one replica: bounded, deduplicated by `event_id`.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use super::store::{EventStore, Published, StoreError};
use crate::proto::Event;

/// Events in memory, at most `capacity` of them. When full, a publish is refused (and the webhook
/// is not acknowledged, so the API delivers it again later) rather than dropping stored events.
pub struct MemoryStore {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    events: VecDeque<Event>,
    ids: HashSet<String>,
}

impl MemoryStore {
    /// A store that holds at most `capacity` events.
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore {
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored events, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent (every change is one push).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[tonic::async_trait]
impl EventStore for MemoryStore {
    async fn publish(&self, events: Vec<Event>) -> Result<Published, StoreError> {
        let offered = events.len();
        let mut state = self.lock();
        let fresh: Vec<Event> = {
            let mut seen = HashSet::new();
            events
                .into_iter()
                .filter(|event| {
                    !state.ids.contains(&event.event_id) && seen.insert(event.event_id.clone())
                })
                .collect()
        };
        if state.events.len() + fresh.len() > self.capacity {
            return Err(StoreError(format!(
                "the in-memory event store is full ({} events): events are kept until they are acknowledged",
                self.capacity
            )));
        }
        let mut published = Published {
            stored: 0,
            duplicates: offered - fresh.len(),
        };
        for event in fresh {
            state.ids.insert(event.event_id.clone());
            state.events.push_back(event);
            published.stored += 1;
        }
        Ok(published)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Event {
        Event {
            event_id: id.to_owned(),
            sender: "default".to_owned(),
            ..Event::default()
        }
    }

    #[tokio::test]
    async fn stores_each_event_id_once() {
        let store = MemoryStore::new(10);
        let first = store
            .publish(vec![event("a"), event("b"), event("a")])
            .await;
        assert_eq!(
            first.ok(),
            Some(Published {
                stored: 2,
                duplicates: 1
            })
        );
        let again = store.publish(vec![event("b"), event("c")]).await;
        assert_eq!(
            again.ok(),
            Some(Published {
                stored: 1,
                duplicates: 1
            })
        );
        let ids: Vec<String> = store.events().into_iter().map(|e| e.event_id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn refuses_a_publish_that_does_not_fit_and_keeps_what_it_has() {
        let store = MemoryStore::new(2);
        assert!(store.publish(vec![event("a")]).await.is_ok());
        assert!(store.publish(vec![event("b"), event("c")]).await.is_err());
        assert_eq!(store.len(), 1);
        // A redelivery of what is stored still succeeds: nothing new to keep.
        assert_eq!(
            store.publish(vec![event("a")]).await.ok(),
            Some(Published {
                stored: 0,
                duplicates: 1
            })
        );
    }
}
