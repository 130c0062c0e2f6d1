//! The in-memory store, the default: one process's keys, at most `max_entries` of them and about
//! `max_bytes` of answers and bookkeeping (the oldest evicted first), each dropped once its TTL has
//! passed. Duplicates waiting for a pending key are woken when it completes.
//!
//! A key is kept as a 128-bit keyed hash of its text (two SipHash-1-3 with random keys drawn at
//! start), not as the text: an entry is then a few fixed-size fields and its answer, one
//! allocation, where keeping the text (in the map and in the eviction queue) cost three and twice
//! the memory. Two keys share a hash with probability 2^-128 per pair, and a shared hash still
//! needs the same request (fingerprint) to replay an answer.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Claim, Fingerprint, Key, Recorded, Store, StoreError};

/// A bounded map of keys to answers.
pub struct MemoryStore {
    max_entries: usize,
    max_bytes: usize,
    ttl: Duration,
    /// Where the store's clock starts: times are kept as milliseconds since, in 8 bytes.
    epoch: Instant,
    /// The two hashes of a key's [`KeyId`].
    hashes: (RandomState, RandomState),
    inner: Mutex<Inner>,
}

/// A key, as its 128-bit keyed hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct KeyId(u64, u64);

/// Hashes a [`KeyId`] as what it already is: its halves are keyed hashes (of a per-process
/// random key) that no caller can steer, so hashing them again would only cost time.
#[derive(Default)]
struct KeyIdHasher(u64);

impl Hasher for KeyIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not what a `KeyId` writes; folded in all the same.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, half: u64) {
        self.0 = self.0.rotate_left(32) ^ half;
    }
}

struct Inner {
    entries: HashMap<KeyId, Entry, BuildHasherDefault<KeyIdHasher>>,
    /// Keys in the order they were claimed, with the generation claimed; a key claimed again (after
    /// its TTL) appears again, and only its last generation counts.
    order: VecDeque<(KeyId, u64)>,
    generation: u64,
    /// The sum of the entries' sizes.
    bytes: usize,
}

/// 56 bytes: the map holds `max_entries` of them (and their keys) from the start.
struct Entry {
    /// The first half of the request's fingerprint (a different request with the same key
    /// matches it with probability 2^-128).
    fingerprint: [u8; 16],
    /// When it expires, in milliseconds of the store's clock.
    expires: u64,
    generation: u64,
    state: State,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 56);

/// What an entry costs beyond its answer: its slot in the map (with the map's slack) and in the
/// queue, and the answer's allocation.
const ENTRY_OVERHEAD: usize = 256;

/// The most entries the map and queue are sized for at start.
const PRESIZED_ENTRIES: usize = 1 << 20;

enum State {
    Pending {
        /// In milliseconds of the store's clock.
        lease_until: u64,
        /// Turns `true` when the key completes; made when the first duplicate waits.
        done: Option<watch::Sender<bool>>,
    },
    Done(Kept),
}

/// A recorded answer as kept: one allocation, no spare capacity.
enum Kept {
    Response(Box<[u8]>),
    Failure(Box<(i32, String, Vec<u8>)>),
}

impl Kept {
    fn new(recorded: Recorded) -> Kept {
        match recorded {
            Recorded::Response(bytes) => Kept::Response(bytes.into_boxed_slice()),
            Recorded::Failure {
                code,
                message,
                details,
            } => Kept::Failure(Box::new((code, message, details))),
        }
    }

    /// The bytes of its answer.
    fn len(&self) -> usize {
        match self {
            Kept::Response(bytes) => bytes.len(),
            Kept::Failure(failure) => failure.1.len() + failure.2.len(),
        }
    }

    fn recorded(&self) -> Recorded {
        match self {
            Kept::Response(bytes) => Recorded::Response(bytes.to_vec()),
            Kept::Failure(failure) => {
                let (code, message, details) = &**failure;
                Recorded::Failure {
                    code: *code,
                    message: message.clone(),
                    details: details.clone(),
                }
            }
        }
    }
}

/// The half of a fingerprint an entry keeps.
fn half(fingerprint: Fingerprint) -> [u8; 16] {
    let mut half = [0; 16];
    half.copy_from_slice(&fingerprint.0[..16]);
    half
}

impl Entry {
    /// The bytes it holds, roughly: its answer, and a fixed overhead.
    fn size(&self) -> usize {
        match &self.state {
            State::Pending { .. } => ENTRY_OVERHEAD,
            State::Done(kept) => ENTRY_OVERHEAD + kept.len(),
        }
    }

    fn claim(&self, fingerprint: Fingerprint, now: u64) -> Claim {
        if self.fingerprint != half(fingerprint) {
            return Claim::Mismatch;
        }
        match &self.state {
            State::Done(kept) => Claim::Done(kept.recorded()),
            State::Pending { lease_until, .. } if now >= *lease_until => Claim::Abandoned,
            State::Pending { .. } => Claim::Pending,
        }
    }
}

impl MemoryStore {
    pub fn new(max_entries: usize, max_bytes: usize, ttl: Duration) -> MemoryStore {
        let max_entries = max_entries.max(1);
        // Room for every key from the start: the map never doubles (for a moment both tables are
        // resident, and the old one's memory is seldom given back), and its pages become resident
        // only as keys fill them.
        let room = max_entries.min(PRESIZED_ENTRIES);
        MemoryStore {
            max_entries,
            max_bytes,
            ttl,
            epoch: Instant::now(),
            hashes: (RandomState::new(), RandomState::new()),
            inner: Mutex::new(Inner {
                entries: HashMap::with_capacity_and_hasher(room, Default::default()),
                order: VecDeque::with_capacity(room),
                generation: 0,
                bytes: 0,
            }),
        }
    }

    /// How many keys are kept now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Now, in milliseconds of the store's clock.
    fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    fn id(&self, key: &Key) -> KeyId {
        let text = key.as_str();
        KeyId(self.hashes.0.hash_one(text), self.hashes.1.hash_one(text))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent maps (no invariant spans two writes
        // that could be torn), so a poisoned lock is used as is.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A duration in whole milliseconds (saturating: 584 million years).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Inner {
    /// Drops the oldest keys while the oldest is past its TTL, or more than `room` keys or
    /// `max_bytes` are kept. A key past its TTL behind a younger one is found by its own expiry
    /// when looked up, and dropped when its turn comes.
    fn purge(&mut self, now: u64, room: usize, max_bytes: usize) {
        while let Some(&(id, generation)) = self.order.front() {
            let current = self
                .entries
                .get(&id)
                .filter(|entry| entry.generation == generation);
            if let Some(entry) = current
                && entry.expires > now
                && self.entries.len() <= room
                && self.bytes <= max_bytes
            {
                break;
            }
            self.order.pop_front();
            if current.is_some()
                && let Some(entry) = self.entries.remove(&id)
            {
                self.bytes -= entry.size();
            }
        }
        // Claims of keys claimed before leave their earlier turns behind; when those outnumber
        // the keys, drop them (each pass removes more than it keeps, so it costs O(1) a claim).
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order.retain(|(id, generation)| {
                entries
                    .get(id)
                    .is_some_and(|entry| entry.generation == *generation)
            });
        }
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
        let id = self.id(key);
        let now = self.now();
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.get(&id)
            && entry.expires > now
        {
            return Ok(entry.claim(fingerprint, now));
        }
        // A pending entry holds no answer yet.
        let size = ENTRY_OVERHEAD;
        inner.purge(
            now,
            self.max_entries - 1,
            self.max_bytes.saturating_sub(size),
        );
        inner.generation += 1;
        let generation = inner.generation;
        inner.order.push_back((id, generation));
        inner.bytes += size;
        if let Some(replaced) = inner.entries.insert(
            id,
            Entry {
                fingerprint: half(fingerprint),
                expires: now.saturating_add(millis(self.ttl)),
                generation,
                state: State::Pending {
                    lease_until: now.saturating_add(millis(lease)),
                    done: None,
                },
            },
        ) {
            inner.bytes -= replaced.size();
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
        let id = self.id(key);
        let now = self.now();
        let kept = Kept::new(recorded);
        let grown = ENTRY_OVERHEAD + kept.len();
        let mut inner = self.lock();
        // Evicted meanwhile: nothing to complete (its duplicates learn the outcome is unknown).
        let Some(entry) = inner.entries.get_mut(&id) else {
            return Ok(());
        };
        let shrunk = entry.size();
        let state = std::mem::replace(&mut entry.state, State::Done(kept));
        entry.expires = now.saturating_add(millis(keep.min(self.ttl)));
        if let State::Pending {
            done: Some(done), ..
        } = state
        {
            done.send_replace(true);
        }
        inner.bytes = inner.bytes - shrunk + grown;
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
        let id = self.id(key);
        loop {
            let mut done = {
                let now = self.now();
                let mut inner = self.lock();
                let Some(entry) = inner.entries.get_mut(&id) else {
                    // Evicted or expired while pending: whether it was sent is not known.
                    return Ok(Claim::Abandoned);
                };
                match entry.claim(fingerprint, now) {
                    Claim::Pending => match &mut entry.state {
                        State::Pending { done, .. } => done
                            .get_or_insert_with(|| watch::channel(false).0)
                            .subscribe(),
                        State::Done(_) => continue,
                    },
                    claim => return Ok(claim),
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
            assert!(store.lock().order.len() <= 100 + 64);
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
        // 64 KiB hold fifteen 4 KiB answers with their bookkeeping, and no more.
        assert_eq!(store.len(), 15);
        let kept: usize = store
            .lock()
            .entries
            .values()
            .map(|entry| entry.size())
            .sum();
        assert_eq!(kept, store.lock().bytes);
    }

    #[tokio::test]
    async fn a_key_claimed_again_and_again_behind_a_kept_one_does_not_grow_the_queue() {
        let store = MemoryStore::new(10, usize::MAX, Duration::from_secs(3600));
        store.claim(&key(0), FP, LEASE).await.unwrap();
        store
            .complete(&key(0), FP, Recorded::Response(vec![0]), Duration::MAX)
            .await
            .unwrap();
        for n in 0..1000 {
            // Not sent, so forgotten at once: the next call claims it anew.
            assert_eq!(store.claim(&key(1), FP, LEASE).await.unwrap(), Claim::New);
            store
                .complete(&key(1), FP, Recorded::Response(vec![1]), Duration::ZERO)
                .await
                .unwrap();
            let order = store.lock().order.len();
            assert!(order <= 2 * 2 + 64, "{order} turns queued after {n} claims");
        }
        assert_eq!(
            store.claim(&key(0), FP, LEASE).await.unwrap(),
            Claim::Done(Recorded::Response(vec![0]))
        );
    }

    #[tokio::test]
    async fn distinct_keys_are_distinct_entries() {
        let store = MemoryStore::new(1000, usize::MAX, Duration::from_secs(3600));
        for n in 0..500 {
            assert_eq!(store.claim(&key(n), FP, LEASE).await.unwrap(), Claim::New);
        }
        assert_eq!(store.len(), 500);
        // The same request_id from another sender is another key.
        let other = Key::new("other", &format!("{:08}-0000-4000-8000-000000000000", 7));
        assert_eq!(store.claim(&other, FP, LEASE).await.unwrap(), Claim::New);
        assert_eq!(
            store.claim(&key(7), FP, LEASE).await.unwrap(),
            Claim::Pending
        );
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
