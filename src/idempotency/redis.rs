//! The Redis store, shared by every instance of the service: a claim is one atomic script (take
//! the key if free, else read it), a completion overwrites the key with the answer and the TTL, and
//! duplicates waiting on a pending key poll it with backoff. Every command is bounded by a short
//! timeout; a Redis that does not answer in time fails the call before anything is sent.

use std::time::{Duration, Instant};

use crate::redis_connection::Connections;
use prost::Message;

use super::{Claim, Fingerprint, Key, Recorded, Store, StoreError, StoredEntry};

/// The prefix of every key this service writes.
const PREFIX: &str = "whatsapp-grpc:idempotency:";
/// Takes the key if it is free (for the TTL), else returns what it holds.
const CLAIM: &str = "local held = redis.call('GET', KEYS[1]) \
    if held then return held end \
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
    return false";
/// The first and the longest pause between two polls of a pending key.
const POLL_FIRST: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(250);

pub struct RedisStore {
    connections: Connections,
    /// [`CLAIM`], sent by its SHA-1 (`EVALSHA`; loaded again if Redis has lost it).
    claim: ::redis::Script,
    ttl: Duration,
}

impl RedisStore {
    /// A store on `url` (`redis://host:port/db`), connected on first use.
    pub fn new(url: &str, ttl: Duration) -> Result<RedisStore, String> {
        let connections = Connections::new(url, "--idempotency-store")?;
        Ok(RedisStore {
            connections,
            claim: ::redis::Script::new(CLAIM),
            ttl,
        })
    }

    fn ttl_ms(&self) -> u64 {
        (self.ttl.as_millis() as u64).max(1)
    }

    /// Runs `command`, bounded by [`crate::redis_connection::COMMAND_TIMEOUT`].
    async fn query<T: ::redis::FromRedisValue>(
        &self,
        command: ::redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut connection = self.connections.get();
        crate::redis_connection::bounded(command.query_async(&mut connection))
            .await
            .map_err(StoreError)
    }

    async fn read(&self, key: &Key) -> Result<Option<StoredEntry>, StoreError> {
        let held: Option<Vec<u8>> = self
            .query(::redis::cmd("GET").arg(redis_key(key)).clone())
            .await?;
        held.map(|bytes| decode(&bytes)).transpose()
    }
}

fn redis_key(key: &Key) -> String {
    format!("{PREFIX}{}", key.as_str())
}

fn decode(bytes: &[u8]) -> Result<StoredEntry, StoreError> {
    StoredEntry::decode(bytes)
        .map_err(|error| StoreError(format!("a stored entry does not decode: {error}")))
}

#[tonic::async_trait]
impl Store for RedisStore {
    async fn claim(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let entry = StoredEntry::pending(fingerprint, lease).encode_to_vec();
        let mut invocation = self.claim.key(redis_key(key));
        invocation.arg(entry).arg(self.ttl_ms());
        let mut connection = self.connections.get();
        let held: Option<Vec<u8>> =
            crate::redis_connection::bounded(invocation.invoke_async(&mut connection))
                .await
                .map_err(StoreError)?;
        match held {
            None => Ok(Claim::New),
            Some(bytes) => Ok(decode(&bytes)?.claim(fingerprint)),
        }
    }

    async fn complete(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        recorded: Recorded,
        keep: Duration,
    ) -> Result<(), StoreError> {
        let entry = StoredEntry::done(fingerprint.0.to_vec(), recorded).encode_to_vec();
        let mut command = ::redis::cmd("SET");
        command
            .arg(redis_key(key))
            .arg(entry)
            .arg("PX")
            .arg((keep.min(self.ttl).as_millis() as u64).max(1));
        self.query::<()>(command).await
    }

    async fn wait(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        until: Instant,
    ) -> Result<Claim, StoreError> {
        let mut pause = POLL_FIRST;
        loop {
            match self.read(key).await? {
                // Expired while pending: whether it was sent is not known.
                None => return Ok(Claim::Abandoned),
                Some(entry) => match entry.claim(fingerprint) {
                    Claim::Pending => {}
                    claim => return Ok(claim),
                },
            }
            let now = Instant::now();
            if now >= until {
                return Ok(Claim::Pending);
            }
            tokio::time::sleep(pause.min(until - now)).await;
            pause = (pause * 2).min(POLL_MAX);
        }
    }
}
