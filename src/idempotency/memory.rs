//! The in-memory store, the default: one process's keys, at most `max_entries` of them and about
//! `max_bytes` of keys and answers (the oldest
//! evicted first), each dropped once its TTL has passed. Duplicates waiting for a pending key are
//! woken when it completes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Claim, Fingerprint, Key, Recorded, Store, StoreError};

/// A bounded map of keys to answers.
pub struct MemoryStore {
    max_entries: usize,
    max_bytes: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Keys in the order they were written, with the generation written; a key written again
    /// appears twice, and only its last generation counts (at most two per key).
    order: VecDeque<(Instant, Key, u64)>,
    generation: u64,
    /// The sum of the entries' sizes.
    bytes: usize,
}

struct Entry {
    fingerprint: Fingerprint,
    expires: Instant,
    generation: u64,
    /// The bytes it holds, roughly: its key and answer, and a fixed overhead.
    size: usize,
    state: State,
}

/// What an entry costs beyond its key and answer (the map's slot, the queue's, the fingerprint).
const ENTRY_OVERHEAD: usize = 160;

fn size(key: &Key, recorded: Option<&Recorded>) -> usize {
    let answer = match recorded {
        None => 0,
        Some(Recorded::Response(bytes)) => bytes.len(),
        Some(Recorded::Failure {
            message, details, ..
        }) => message.len() + details.len(),
    };
    ENTRY_OVERHEAD + 2 * key.as_str().len() + answer
}

enum State {
    Pending {
        lease_until: Instant,
        /// Turns `true` when the key completes; waiters hold receivers.
        done: watch::Sender<bool>,
    },
    Done(Recorded),
}

impl Entry {
    fn claim(&self, fingerprint: Fingerprint, now: Instant) -> Claim {
        if self.fingerprint != fingerprint {
            return Claim::Mismatch;
        }
        match &self.state {
            State::Done(recorded) => Claim::Done(recorded.clone()),
            State::Pending { lease_until, .. } if now >= *lease_until => Claim::Abandoned,
            State::Pending { .. } => Claim::Pending,
        }
    }
}

impl MemoryStore {
    pub fn new(max_entries: usize, max_bytes: usize, ttl: Duration) -> MemoryStore {
        MemoryStore {
            max_entries: max_entries.max(1),
            max_bytes,
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many keys are kept now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent maps (no invariant spans two writes
        // that could be torn), so a poisoned lock is used as is.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// Drops the keys past their TTL, then the oldest while more than `room` keys or `max_bytes`
    /// are kept.
    fn purge(&mut self, now: Instant, room: usize, max_bytes: usize) {
        while let Some((expires, key, generation)) = self.order.front() {
            let current = self
                .entries
                .get(key)
                .is_some_and(|entry| entry.generation == *generation);
            if !current {
                self.order.pop_front();
                continue;
            }
            if *expires > now && self.entries.len() <= room && self.bytes <= max_bytes {
                break;
            }
            if let Some((_, key, _)) = self.order.pop_front()
                && let Some(entry) = self.entries.remove(&key)
            {
                self.bytes -= entry.size;
            }
        }
    }

    fn write(&mut self, key: &Key, entry_expires: Instant) -> u64 {
        self.generation += 1;
        self.order
            .push_back((entry_expires, key.clone(), self.generation));
        self.generation
    }
}

#[tonic::async_trait]
impl Store for MemoryStore {
    async fn claim(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.get(key)
            && entry.expires > now
        {
            return Ok(entry.claim(fingerprint, now));
        }
        let size = size(key, None);
        inner.purge(
            now,
            self.max_entries - 1,
            self.max_bytes.saturating_sub(size),
        );
        let expires = now + self.ttl;
        let generation = inner.write(key, expires);
        let (done, _) = watch::channel(false);
        inner.bytes += size;
        if let Some(replaced) = inner.entries.insert(
            key.clone(),
            Entry {
                fingerprint,
                expires,
                generation,
                size,
                state: State::Pending {
                    lease_until: now + lease,
                    done,
                },
            },
        ) {
            inner.bytes -= replaced.size;
        }
        Ok(Claim::New)
    }

    async fn complete(
        &self,
        key: &Key,
        _fingerprint: Fingerprint,
        recorded: Recorded,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let expires = now + keep.min(self.ttl);
        // Evicted meanwhile: nothing to complete (its duplicates learn the outcome is unknown).
        if !inner.entries.contains_key(key) {
            return Ok(());
        }
        let generation = inner.write(key, expires);
        let grown = size(key, Some(&recorded));
        if let Some(entry) = inner.entries.get_mut(key) {
            let shrunk = std::mem::replace(&mut entry.size, grown);
            let state = std::mem::replace(&mut entry.state, State::Done(recorded));
            entry.expires = expires;
            entry.generation = generation;
            if let State::Pending { done, .. } = state {
                done.send_replace(true);
            }
            inner.bytes = inner.bytes - shrunk + grown;
        }
        // A large answer may push the oldest keys out.
        inner.purge(now, self.max_entries, self.max_bytes);
        Ok(())
    }

    async fn wait(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        until: Instant,
    ) -> Result<Claim, StoreError> {
        loop {
            let mut done = {
                let now = Instant::now();
                let inner = self.lock();
                match inner.entries.get(key) {
                    // Evicted or expired while pending: whether it was sent is not known.
                    None => return Ok(Claim::Abandoned),
                    Some(entry) => match (&entry.state, entry.claim(fingerprint, now)) {
                        (State::Pending { done, .. }, Claim::Pending) => done.subscribe(),
                        (_, claim) => return Ok(claim),
                    },
                }
            };
            match tokio::time::timeout_at(until.into(), done.changed()).await {
                Err(_) => return Ok(Claim::Pending),
                // Completed, or the entry was replaced or dropped: look again.
                Ok(_) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> Key {
        Key::new("default", &format!("{n:08}-0000-4000-8000-000000000000"))
    }

    const FP: Fingerprint = Fingerprint([1; 32]);
    const LEASE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn it_keeps_at_most_max_entries_and_evicts_the_oldest() {
        let store = MemoryStore::new(100, usize::MAX, Duration::from_secs(3600));
        for n in 0..250 {
            assert_eq!(store.claim(&key(n), FP, LEASE).await.unwrap(), Claim::New);
            store
                .complete(&key(n), FP, Recorded::Response(vec![n as u8]), LEASE)
                .await
                .unwrap();
            assert!(store.len() <= 100, "{} keys kept", store.len());
            assert!(store.lock().order.len() <= 200);
        }
        assert_eq!(store.len(), 100);
        // The newest are kept, the oldest were evicted.
        assert_eq!(
            store.claim(&key(249), FP, LEASE).await.unwrap(),
            Claim::Done(Recorded::Response(vec![249]))
        );
        assert_eq!(store.claim(&key(0), FP, LEASE).await.unwrap(), Claim::New);
    }

    #[tokio::test]
    async fn it_keeps_at_most_max_bytes() {
        let max_bytes = 64 * 1024;
        let store = MemoryStore::new(1000, max_bytes, Duration::from_secs(3600));
        for n in 0..100 {
            store.claim(&key(n), FP, LEASE).await.unwrap();
            store
                .complete(&key(n), FP, Recorded::Response(vec![0; 4096]), LEASE)
                .await
                .unwrap();
            let bytes = store.lock().bytes;
            assert!(bytes <= max_bytes, "{bytes} bytes kept");
        }
        // 64 KiB hold fifteen 4 KiB answers with their keys, and no more.
        assert_eq!(store.len(), 15);
        let kept: usize = store.lock().entries.values().map(|entry| entry.size).sum();
        assert_eq!(kept, store.lock().bytes);
    }

    #[tokio::test]
    async fn keys_past_their_ttl_are_dropped() {
        let store = MemoryStore::new(100, usize::MAX, Duration::from_millis(20));
        for n in 0..10 {
            store.claim(&key(n), FP, LEASE).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(store.claim(&key(3), FP, LEASE).await.unwrap(), Claim::New);
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn a_waiter_is_woken_by_the_completion_and_bounded_by_its_deadline() {
        let store = std::sync::Arc::new(MemoryStore::new(10, usize::MAX, Duration::from_secs(60)));
        assert_eq!(store.claim(&key(1), FP, LEASE).await.unwrap(), Claim::New);
        let soon = Instant::now() + Duration::from_millis(50);
        assert_eq!(store.wait(&key(1), FP, soon).await.unwrap(), Claim::Pending);
        let waiter = {
            let store = store.clone();
            tokio::spawn(async move {
                let until = Instant::now() + Duration::from_secs(10);
                store.wait(&key(1), FP, until).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        store
            .complete(&key(1), FP, Recorded::Response(vec![9]), LEASE)
            .await
            .unwrap();
        assert_eq!(
            waiter.await.unwrap().unwrap(),
            Claim::Done(Recorded::Response(vec![9]))
        );
        assert_eq!(
            store
                .claim(&key(1), Fingerprint([2; 32]), LEASE)
                .await
                .unwrap(),
            Claim::Mismatch
        );
    }

    #[tokio::test]
    async fn an_expired_lease_is_abandoned() {
        let store = MemoryStore::new(10, usize::MAX, Duration::from_secs(60));
        store.claim(&key(1), FP, Duration::ZERO).await.unwrap();
        assert_eq!(
            store.claim(&key(1), FP, LEASE).await.unwrap(),
            Claim::Abandoned
        );
    }
}
