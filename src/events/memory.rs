//! Events kept in this process, for one replica: bounded, deduplicated by `event_id`, delivered to
//! consumer groups with acknowledgements and redelivery.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::store::{
    AckError, BadAckId, Consumer, Delivery, EventStore, Published, StoreError, Subscription,
};
use crate::proto::Event;

/// How long events are kept when the store is built with [`MemoryStore::new`].
pub use super::config::DEFAULT_RETENTION;

/// Events in memory, at most `capacity` of them, each for at most the retention. When full, the
/// oldest events every consumer group has acknowledged make room; if that is not enough, a publish
/// is refused (and the webhook is not acknowledged, so the API delivers it again later) rather
/// than dropping events a group still waits for. The `event_id` of an event dropped to make room
/// is remembered until its retention ends (at most `capacity` such ids), so a webhook the API
/// redelivers after that is still recognised and not stored again.
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    capacity: usize,
    retention: Duration,
    state: Mutex<State>,
    /// Bumped when there is something new to deliver (a publish, a consumer's released events).
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// The events kept, oldest first; `log[0]` has the number `first`.
    log: VecDeque<Stored>,
    first: u64,
    /// The `event_id`s of the events kept, and of those in [`State::remembered`].
    ids: HashSet<String>,
    /// The `event_id`s of events dropped to make room before their retention ended, oldest first,
    /// with when they were stored: remembered until their retention ends (at most `capacity` of
    /// them), so a webhook redelivered after its event was dropped is still a duplicate.
    remembered: VecDeque<(String, Instant)>,
    groups: HashMap<String, Group>,
    next_consumer: u64,
}

struct Stored {
    event: Event,
    at: Instant,
}

#[derive(Default)]
struct Group {
    /// The number of the first event never delivered to the group.
    next: u64,
    /// Delivered and not acknowledged, by event number.
    pending: BTreeMap<u64, Pending>,
}

struct Pending {
    consumer: u64,
    /// When it is delivered again if not acknowledged.
    due: Instant,
    attempts: u32,
}

impl MemoryStore {
    /// A store that holds at most `capacity` events, each for at most [`DEFAULT_RETENTION`].
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore::with_retention(capacity, DEFAULT_RETENTION)
    }

    /// A store that holds at most `capacity` events, each for at most `retention`.
    pub fn with_retention(capacity: usize, retention: Duration) -> MemoryStore {
        MemoryStore {
            shared: Arc::new(Shared {
                capacity,
                retention,
                state: Mutex::new(State::default()),
                changed: watch::Sender::new(0),
            }),
        }
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.shared.lock().log.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored events, oldest first.
    pub fn events(&self) -> Vec<Event> {
        let state = self.shared.lock();
        state
            .log
            .iter()
            .map(|stored| stored.event.clone())
            .collect()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change keeps the state consistent between two statements that cannot panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wake_consumers(&self) {
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }
}

impl State {
    fn end(&self) -> u64 {
        self.first + self.log.len() as u64
    }

    /// Drops the oldest event; its `event_id` is remembered for the rest of its retention when
    /// `remember` (it made room), forgotten otherwise (its retention ended).
    fn pop_front(&mut self, remember: bool) {
        if let Some(stored) = self.log.pop_front() {
            if remember {
                self.remembered
                    .push_back((stored.event.event_id, stored.at));
            } else {
                self.ids.remove(&stored.event.event_id);
            }
            let number = self.first;
            self.first += 1;
            for group in self.groups.values_mut() {
                group.pending.remove(&number);
                group.next = group.next.max(self.first);
            }
        }
    }

    /// Drops the events older than `retention`, acknowledged or not.
    fn expire(&mut self, retention: Duration, now: Instant) {
        while self
            .log
            .front()
            .is_some_and(|stored| now.saturating_duration_since(stored.at) > retention)
        {
            self.pop_front(false);
        }
        self.forget(retention, now, usize::MAX);
    }

    /// Forgets the remembered `event_id`s whose retention ended, and the oldest beyond `most`.
    fn forget(&mut self, retention: Duration, now: Instant, most: usize) {
        while let Some((id, at)) = self.remembered.front() {
            if self.remembered.len() <= most && now.saturating_duration_since(*at) <= retention {
                break;
            }
            self.ids.remove(id);
            self.remembered.pop_front();
        }
    }

    /// Whether every group (there is at least one) has acknowledged the oldest event.
    fn oldest_acknowledged(&self) -> bool {
        !self.groups.is_empty()
            && self
                .groups
                .values()
                .all(|group| group.next > self.first && !group.pending.contains_key(&self.first))
    }

    /// Up to `max` events for `consumer` of `subscription`, and when the next one of the group's
    /// pending events is due (to wake up then).
    fn take(
        &mut self,
        consumer: u64,
        subscription: &Subscription,
        max: usize,
        now: Instant,
    ) -> (Vec<Delivery>, Option<Instant>) {
        let first = self.first;
        let end = self.end();
        let log = &self.log;
        let group = self.groups.entry(subscription.group.clone()).or_default();
        let mut batch = Vec::new();
        let mut next_due: Option<Instant> = None;
        // Those whose deadline passed first, then new ones.
        for (&number, pending) in group.pending.range_mut(first..) {
            if pending.due > now {
                next_due = Some(next_due.map_or(pending.due, |due| due.min(pending.due)));
                continue;
            }
            if batch.len() >= max {
                next_due = Some(now);
                break;
            }
            let Some(stored) = log.get((number - first) as usize) else {
                continue;
            };
            pending.consumer = consumer;
            pending.due = now + subscription.ack_deadline;
            pending.attempts = pending.attempts.saturating_add(1);
            batch.push(Delivery {
                ack_id: number.to_string(),
                event: stored.event.clone(),
                attempt: pending.attempts,
            });
        }
        group.next = group.next.max(first);
        while batch.len() < max && group.next < end {
            let number = group.next;
            group.next += 1;
            let Some(stored) = log.get((number - first) as usize) else {
                continue;
            };
            if !subscription.wants(&stored.event) {
                continue; // acknowledged for the group unseen
            }
            group.pending.insert(
                number,
                Pending {
                    consumer,
                    due: now + subscription.ack_deadline,
                    attempts: 1,
                },
            );
            batch.push(Delivery {
                ack_id: number.to_string(),
                event: stored.event.clone(),
                attempt: 1,
            });
        }
        if !batch.is_empty() {
            let due = now + subscription.ack_deadline;
            next_due = Some(next_due.map_or(due, |next| next.min(due)));
        }
        (batch, next_due)
    }
}

#[tonic::async_trait]
impl EventStore for MemoryStore {
    async fn publish(&self, events: Vec<Event>) -> Result<Published, StoreError> {
        let offered = events.len();
        let shared = &self.shared;
        let published = {
            let mut state = shared.lock();
            state.expire(shared.retention, Instant::now());
            let fresh: Vec<Event> = {
                let mut seen = HashSet::new();
                events
                    .into_iter()
                    .filter(|event| {
                        !state.ids.contains(&event.event_id) && seen.insert(event.event_id.clone())
                    })
                    .collect()
            };
            while state.log.len() + fresh.len() > shared.capacity && state.oldest_acknowledged() {
                state.pop_front(true);
            }
            state.forget(shared.retention, Instant::now(), shared.capacity);
            if state.log.len() + fresh.len() > shared.capacity {
                return Err(StoreError(format!(
                    "the in-memory event store is full ({} events): events are kept until every consumer group acknowledged them",
                    shared.capacity
                )));
            }
            let mut published = Published {
                stored: 0,
                duplicates: offered - fresh.len(),
            };
            let at = Instant::now();
            for event in fresh {
                state.ids.insert(event.event_id.clone());
                state.log.push_back(Stored { event, at });
                published.stored += 1;
            }
            published
        };
        if published.stored > 0 {
            shared.wake_consumers();
        }
        Ok(published)
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>, StoreError> {
        let id = {
            let mut state = self.shared.lock();
            // A new group starts at the oldest event kept.
            let first = state.first;
            state
                .groups
                .entry(subscription.group.clone())
                .or_insert_with(|| Group {
                    next: first,
                    pending: BTreeMap::new(),
                });
            state.next_consumer += 1;
            state.next_consumer
        };
        Ok(Box::new(MemoryConsumer {
            shared: self.shared.clone(),
            id,
            changed: self.shared.changed.subscribe(),
            subscription,
        }))
    }

    async fn ack(&self, group: &str, ack_ids: &[String]) -> Result<usize, AckError> {
        let numbers = ack_ids
            .iter()
            .map(|id| match id.parse::<u64>() {
                Ok(number) if id.bytes().all(|b| b.is_ascii_digit()) => Ok(number),
                _ => Err(BadAckId(id.clone())),
            })
            .collect::<Result<Vec<u64>, BadAckId>>()?;
        let mut state = self.shared.lock();
        let Some(group) = state.groups.get_mut(group) else {
            return Ok(0);
        };
        Ok(numbers
            .iter()
            .filter(|number| group.pending.remove(number).is_some())
            .count())
    }

    async fn oldest_unacked(&self, group: &str) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        let mut state = self.shared.lock();
        state.expire(self.shared.retention, now);
        let Some(group) = state.groups.get(group) else {
            return Ok(None);
        };
        let first = state.first;
        let oldest_pending = group.pending.range(first..).next().map(|(&n, _)| n);
        let oldest_new = (group.next < state.end()).then_some(group.next.max(first));
        let oldest = match (oldest_pending, oldest_new) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(oldest
            .and_then(|number| state.log.get((number - first) as usize))
            .map(|stored| now.saturating_duration_since(stored.at)))
    }
}

/// One stream's consumer of a group in a [`MemoryStore`].
struct MemoryConsumer {
    shared: Arc<Shared>,
    id: u64,
    changed: watch::Receiver<u64>,
    subscription: Subscription,
}

#[tonic::async_trait]
impl Consumer for MemoryConsumer {
    async fn receive(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, StoreError> {
        let until = Instant::now() + wait;
        loop {
            // Marks the current version seen before looking, so a publish after the look wakes us.
            self.changed.borrow_and_update();
            let now = Instant::now();
            let (batch, next_due) = {
                let mut state = self.shared.lock();
                state.expire(self.shared.retention, now);
                state.take(self.id, &self.subscription, max, now)
            };
            if !batch.is_empty() || now >= until {
                return Ok(batch);
            }
            let wake = next_due.map_or(until, |due| due.min(until));
            if let Ok(Err(_)) = tokio::time::timeout_at(wake, self.changed.changed()).await {
                // The store is gone (cannot happen while this consumer holds it): just wait.
                tokio::time::sleep_until(wake).await;
            }
        }
    }

    async fn close(self: Box<Self>) {
        let now = Instant::now();
        let released = {
            let mut state = self.shared.lock();
            let Some(group) = state.groups.get_mut(&self.subscription.group) else {
                return;
            };
            let mut released = 0;
            for pending in group.pending.values_mut() {
                if pending.consumer == self.id {
                    pending.due = now;
                    released += 1;
                }
            }
            released
        };
        if released > 0 {
            self.shared.wake_consumers();
        }
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

    fn subscription(group: &str) -> Subscription {
        Subscription {
            group: group.into(),
            sender: None,
            ack_deadline: Duration::from_secs(600),
        }
    }

    #[tokio::test]
    async fn when_full_the_events_every_group_acknowledged_make_room() {
        let store = MemoryStore::new(2);
        let mut consumer = store
            .subscribe(subscription("g"))
            .await
            .expect("a consumer");
        assert!(store.publish(vec![event("a"), event("b")]).await.is_ok());
        let received = consumer
            .receive(10, Duration::ZERO)
            .await
            .expect("received");
        assert_eq!(received.len(), 2);
        // Delivered, not acknowledged: no room.
        assert!(store.publish(vec![event("c")]).await.is_err());
        let acked = store
            .ack("g", &[received[0].ack_id.clone()])
            .await
            .expect("acknowledged");
        assert_eq!(acked, 1);
        assert!(store.publish(vec![event("c")]).await.is_ok());
        let ids: Vec<String> = store.events().into_iter().map(|e| e.event_id).collect();
        assert_eq!(ids, ["b", "c"]);
        // A group that has not acknowledged "b" keeps it.
        let _late = store
            .subscribe(subscription("late"))
            .await
            .expect("a consumer");
        let again = store
            .ack("g", &[received[1].ack_id.clone()])
            .await
            .expect("acknowledged");
        assert_eq!(again, 1);
        assert!(store.publish(vec![event("d")]).await.is_err());
    }

    #[tokio::test]
    async fn an_event_dropped_to_make_room_is_still_a_duplicate_within_its_retention() {
        let store = MemoryStore::new(2);
        let mut consumer = store
            .subscribe(subscription("g"))
            .await
            .expect("a consumer");
        assert!(store.publish(vec![event("a"), event("b")]).await.is_ok());
        let received = consumer
            .receive(10, Duration::ZERO)
            .await
            .expect("received");
        let ack_ids: Vec<String> = received.iter().map(|d| d.ack_id.clone()).collect();
        assert_eq!(store.ack("g", &ack_ids).await.ok(), Some(2));
        // "a" and "b" make room for "c" and "d"...
        assert!(store.publish(vec![event("c"), event("d")]).await.is_ok());
        let ids: Vec<String> = store.events().into_iter().map(|e| e.event_id).collect();
        assert_eq!(ids, ["c", "d"]);
        // ...and their webhooks, delivered again, are recognised: not stored, not delivered.
        assert_eq!(
            store.publish(vec![event("a"), event("b")]).await.ok(),
            Some(Published {
                stored: 0,
                duplicates: 2
            })
        );
        let next = consumer
            .receive(10, Duration::ZERO)
            .await
            .expect("received");
        let next: Vec<String> = next.into_iter().map(|d| d.event.event_id).collect();
        assert_eq!(next, ["c", "d"]);
    }

    #[tokio::test]
    async fn remembered_ids_are_bounded_by_the_capacity_and_the_retention() {
        let store = MemoryStore::with_retention(1, Duration::from_secs(600));
        let mut consumer = store
            .subscribe(subscription("g"))
            .await
            .expect("a consumer");
        for id in ["a", "b", "c"] {
            assert!(store.publish(vec![event(id)]).await.is_ok(), "{id}");
            let received = consumer.receive(1, Duration::ZERO).await.expect("received");
            let ack_ids: Vec<String> = received.iter().map(|d| d.ack_id.clone()).collect();
            assert_eq!(store.ack("g", &ack_ids).await.ok(), Some(1));
        }
        {
            let state = store.shared.lock();
            // "c" kept, "b" remembered, "a" forgotten: at most `capacity` remembered.
            assert_eq!(state.log.len(), 1);
            assert_eq!(state.remembered.len(), 1);
            assert_eq!(state.ids.len(), 2);
        }
        assert_eq!(
            store
                .publish(vec![event("b")])
                .await
                .ok()
                .map(|p| p.duplicates),
            Some(1)
        );

        let short = MemoryStore::with_retention(1, Duration::from_secs(2));
        let mut consumer = short
            .subscribe(subscription("g"))
            .await
            .expect("a consumer");
        assert!(short.publish(vec![event("a")]).await.is_ok());
        let received = consumer.receive(1, Duration::ZERO).await.expect("received");
        assert_eq!(
            short.ack("g", &[received[0].ack_id.clone()]).await.ok(),
            Some(1)
        );
        assert!(short.publish(vec![event("b")]).await.is_ok());
        assert_eq!(short.shared.lock().remembered.len(), 1);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // Past its retention, "a" is forgotten: a new delivery of it is stored again.
        assert_eq!(
            short.publish(vec![event("a")]).await.ok().map(|p| p.stored),
            Some(1)
        );
        assert!(short.shared.lock().remembered.is_empty());
    }

    #[tokio::test]
    async fn events_older_than_the_retention_are_dropped() {
        let store = MemoryStore::with_retention(10, Duration::from_millis(1));
        assert!(store.publish(vec![event("a")]).await.is_ok());
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(store.publish(vec![event("b")]).await.is_ok());
        let ids: Vec<String> = store.events().into_iter().map(|e| e.event_id).collect();
        assert_eq!(ids, ["b"]);
    }

    #[tokio::test]
    async fn ack_ids_this_store_never_handed_out_are_refused() {
        let store = MemoryStore::new(10);
        for bad in ["", "x", "-1", "+1", "1-0"] {
            assert!(
                matches!(
                    store.ack("g", &[bad.to_owned()]).await,
                    Err(AckError::BadAckId(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(store.ack("g", &["7".to_owned()]).await.ok(), Some(0));
    }
}
