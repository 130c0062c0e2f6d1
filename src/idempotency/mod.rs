//! Idempotency of `SendMessage` by `request_id` (AIP-155): the first call with a key sends, every
//! later call with the same key and the same request gets the first call's answer, and a call with
//! the same key and another request is refused. Keys are scoped by sender (`{sender}:{request_id}`)
//! and, when callers authenticate with API keys, by caller too (`{sender}:{caller}:{request_id}`,
//! so two callers cannot replay or block each other's messages); a request's fingerprint is a
//! SHA-256 of its encoding with `request_id` cleared.
//!
//! A claim is pending until its claimant completes it. A claimant that dies leaves a pending claim
//! whose lease expires: a duplicate then learns that the outcome is unknown, and nothing is sent
//! again.

pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::proto::{SendMessageRequest, SendMessageResponse};

/// How long an answer is remembered unless `--idempotency-ttl` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);
/// How many keys the in-memory store keeps at most.
pub const DEFAULT_MEMORY_ENTRIES: usize = 100_000;
/// About how many bytes of keys and answers the in-memory store keeps at most.
pub const DEFAULT_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// The key of one request: the sender's name, the caller's name if callers authenticate, and the
/// caller's `request_id` (a UUID, never content). Names hold no `:`, so keys cannot collide.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    pub fn new(sender: &str, request_id: &str) -> Key {
        Key([sender, ":", request_id].concat())
    }

    /// The key of `request_id` sent by `caller` (if callers authenticate) from `sender`.
    pub fn scoped(sender: &str, caller: Option<&str>, request_id: &str) -> Key {
        match caller {
            Some(caller) => Key([sender, ":", caller, ":", request_id].concat()),
            None => Key::new(sender, request_id),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SHA-256 of the request as encoded, `request_id` cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

/// The field number of `SendMessageRequest.request_id`.
const REQUEST_ID_FIELD: u64 = 16;

impl Fingerprint {
    /// The SHA-256 of the request's encoding with `request_id` cleared. Prost writes each field
    /// on its own and leaves an empty string out, so that encoding is the request's own less its
    /// `request_id` field: the hash skips those bytes rather than clone the whole request.
    pub fn of(request: &SendMessageRequest) -> Fingerprint {
        let encoded = request.encode_to_vec();
        match field_range(&encoded, REQUEST_ID_FIELD) {
            Some(Some(range)) => {
                let mut hasher = Sha256::new();
                hasher.update(&encoded[..range.start]);
                hasher.update(&encoded[range.end..]);
                Fingerprint(hasher.finalize().into())
            }
            Some(None) => Fingerprint(Sha256::digest(&encoded).into()),
            // Not reached: prost's own encoding always walks.
            None => {
                let mut request = request.clone();
                request.request_id.clear();
                Fingerprint(Sha256::digest(request.encode_to_vec()).into())
            }
        }
    }
}

/// Where the top-level field `number` is in `encoded`: `Some(None)` when it is absent, `None`
/// when the bytes are not a well-formed message (they always are, from prost).
fn field_range(encoded: &[u8], number: u64) -> Option<Option<std::ops::Range<usize>>> {
    let mut at = 0;
    while at < encoded.len() {
        let start = at;
        let key = varint(encoded, &mut at)?;
        let size = match key & 7 {
            0 => {
                varint(encoded, &mut at)?;
                0
            }
            1 => 8,
            2 => usize::try_from(varint(encoded, &mut at)?).ok()?,
            5 => 4,
            _ => return None,
        };
        at = at.checked_add(size).filter(|&end| end <= encoded.len())?;
        if key >> 3 == number {
            return Some(Some(start..at));
        }
    }
    Some(None)
}

/// The varint at `encoded[*at..]`, moving `at` past it.
fn varint(encoded: &[u8], at: &mut usize) -> Option<u64> {
    let mut buf = encoded.get(*at..)?;
    let before = buf.len();
    let value = prost::encoding::decode_varint(&mut buf).ok()?;
    *at += before - buf.len();
    Some(value)
}

/// The answer a first call gave, kept to answer its duplicates.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// The `SendMessageResponse`, encoded.
    Response(Vec<u8>),
    /// The status the caller got.
    Failure {
        code: i32,
        message: String,
        details: Vec<u8>,
    },
}

impl Recorded {
    pub fn response(response: &SendMessageResponse) -> Recorded {
        Recorded::Response(response.encode_to_vec())
    }

    pub fn failure(status: &Status) -> Recorded {
        Recorded::Failure {
            code: status.code() as i32,
            message: status.message().to_owned(),
            details: status.details().to_vec(),
        }
    }
}

/// What a claim finds.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The key was free: the caller now holds it and must send, then [`Store::complete`] it.
    New,
    /// A call with this key and this request finished: its answer.
    Done(Recorded),
    /// A call with this key and this request is in progress.
    Pending,
    /// A call with this key and this request started, and its lease ran out before it finished
    /// (its process died): the message may have been sent.
    Abandoned,
    /// The key was used for another request.
    Mismatch,
}

/// The store could not be reached or answered nonsense: nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("the idempotency store is unavailable: {0}")]
pub struct StoreError(pub String);

/// Why a call with a `request_id` was answered without sending.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The store could not be reached: nothing was sent.
    #[error("{0}; nothing was sent: retry later with the same request_id")]
    Unavailable(#[from] StoreError),
    /// The key was used for another request: nothing was sent.
    #[error(
        "this request_id was already used for another request to this sender; nothing was sent: use a new request_id for a new message"
    )]
    Reused,
    /// The first call with this key is still in progress and outlived this call's wait.
    #[error(
        "a call with this request_id is still in progress and its outcome is not known yet: retry later with the same request_id"
    )]
    InProgress,
    /// The first call with this key never finished (cancelled, or its server stopped).
    #[error(
        "a call with this request_id started and never finished (it was cancelled or its server stopped): the message may have been sent, and it is not sent again with this request_id"
    )]
    Abandoned,
    /// The first call's failure, replayed.
    #[error("{message}")]
    Replayed {
        code: i32,
        message: String,
        details: Vec<u8>,
    },
}

/// Where keys, fingerprints and answers are kept.
#[tonic::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Takes `key` for a request with `fingerprint` if it is free, held pending for `lease`, or says
    /// what holds it.
    async fn claim(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        lease: Duration,
    ) -> Result<Claim, StoreError>;

    /// Records the answer of the call that claimed `key`, for `keep` (at most the store's TTL);
    /// then the key is free again.
    async fn complete(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        recorded: Recorded,
        keep: Duration,
    ) -> Result<(), StoreError>;

    /// Waits until `key` is no longer pending, or until `until`: then what [`Store::claim`] finds
    /// (`Pending` if the wait ended first). Never claims.
    async fn wait(
        &self,
        key: &Key,
        fingerprint: Fingerprint,
        until: Instant,
    ) -> Result<Claim, StoreError>;
}

/// Which store the server uses.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// In this process, at most `max_entries` keys.
    Memory { max_entries: usize },
    /// A Redis server, shared by every instance: `redis://host:port/db`.
    Redis { url: String },
}

/// Shown without the Redis URL's password.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Memory { max_entries } => f
                .debug_struct("Memory")
                .field("max_entries", max_entries)
                .finish(),
            StoreConfig::Redis { url } => f
                .debug_struct("Redis")
                .field("url", &crate::upstream::display_url(url))
                .finish(),
        }
    }
}

/// The store and how long it remembers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyConfig {
    pub store: StoreConfig,
    pub ttl: Duration,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            store: StoreConfig::Memory {
                max_entries: DEFAULT_MEMORY_ENTRIES,
            },
            ttl: DEFAULT_TTL,
        }
    }
}

impl IdempotencyConfig {
    /// The store this config names. A Redis store connects lazily: a Redis that is down makes calls
    /// with a `request_id` fail, not the server.
    pub fn build(&self) -> Result<Arc<dyn Store>, String> {
        match &self.store {
            StoreConfig::Memory { max_entries } => Ok(Arc::new(memory::MemoryStore::new(
                *max_entries,
                DEFAULT_MEMORY_BYTES,
                self.ttl,
            ))),
            StoreConfig::Redis { url } => {
                Ok(Arc::new(self::redis::RedisStore::new(url, self.ttl)?))
            }
        }
    }
}

/// Milliseconds since the Unix epoch (a lease's end is shared between instances).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One key's state as stored (in Redis, encoded).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StoredEntry {
    #[prost(bytes = "vec", tag = "1")]
    pub fingerprint: Vec<u8>,
    /// While pending: when the lease ends, in ms since the epoch.
    #[prost(uint64, tag = "2")]
    pub lease_until_ms: u64,
    /// 0 pending, 1 response, 2 failure.
    #[prost(uint32, tag = "3")]
    pub state: u32,
    #[prost(bytes = "vec", tag = "4")]
    pub response: Vec<u8>,
    #[prost(int32, tag = "5")]
    pub code: i32,
    #[prost(string, tag = "6")]
    pub message: String,
    #[prost(bytes = "vec", tag = "7")]
    pub details: Vec<u8>,
}

impl StoredEntry {
    pub fn pending(fingerprint: Fingerprint, lease: Duration) -> StoredEntry {
        StoredEntry {
            fingerprint: fingerprint.0.to_vec(),
            lease_until_ms: now_ms().saturating_add(lease.as_millis() as u64),
            ..Default::default()
        }
    }

    pub fn done(fingerprint: Vec<u8>, recorded: Recorded) -> StoredEntry {
        match recorded {
            Recorded::Response(response) => StoredEntry {
                fingerprint,
                state: 1,
                response,
                ..Default::default()
            },
            Recorded::Failure {
                code,
                message,
                details,
            } => StoredEntry {
                fingerprint,
                state: 2,
                code,
                message,
                details,
                ..Default::default()
            },
        }
    }

    /// What a claim (or a wait) with `fingerprint` finds in this entry.
    pub fn claim(&self, fingerprint: Fingerprint) -> Claim {
        if self.fingerprint != fingerprint.0 {
            return Claim::Mismatch;
        }
        match self.state {
            1 => Claim::Done(Recorded::Response(self.response.clone())),
            2 => Claim::Done(Recorded::Failure {
                code: self.code,
                message: self.message.clone(),
                details: self.details.clone(),
            }),
            _ if now_ms() >= self.lease_until_ms => Claim::Abandoned,
            _ => Claim::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::send_message_request::Content;

    /// The fingerprint as it was first defined: a clone of the request, `request_id` cleared,
    /// encoded and hashed. Stores shared by replicas (Redis) need every version to agree.
    fn cloned_fingerprint(request: &SendMessageRequest) -> Fingerprint {
        let mut request = request.clone();
        request.request_id.clear();
        Fingerprint(Sha256::digest(request.encode_to_vec()).into())
    }

    #[test]
    fn the_fingerprint_is_the_hash_of_the_request_without_its_request_id() {
        use crate::proto::{Context, Template, TemplateLanguage};
        let text = SendMessageRequest {
            to: "15550001111".into(),
            content: Some(Content::Text(crate::proto::Text {
                body: "x".repeat(300),
                preview_url: true,
            })),
            context: Some(Context {
                message_id: "wamid.1".into(),
            }),
            biz_opaque_callback_data: "tracking".into(),
            sender: "billing".into(),
            ..Default::default()
        };
        let template = SendMessageRequest {
            to: "15550001111".into(),
            content: Some(Content::Template(Template {
                name: "order_shipped".into(),
                language: Some(TemplateLanguage {
                    policy: 1,
                    code: "en_US".into(),
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        for request in [text, template, SendMessageRequest::default()] {
            for id in ["", "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c"] {
                let request = SendMessageRequest {
                    request_id: id.into(),
                    ..request.clone()
                };
                assert_eq!(
                    Fingerprint::of(&request),
                    cloned_fingerprint(&request),
                    "{request:?}"
                );
            }
        }
        assert_eq!(
            field_range(&[0x82, 0x01, 0x05, b'a'], 16),
            None,
            "truncated"
        );
        assert_eq!(field_range(&[0x0b], 1), None, "a group");
    }

    #[test]
    fn the_fingerprint_ignores_the_request_id_only() {
        let request = |id: &str, body: &str| SendMessageRequest {
            to: "15550001111".into(),
            request_id: id.into(),
            content: Some(Content::Text(crate::proto::Text {
                body: body.into(),
                preview_url: false,
            })),
            ..Default::default()
        };
        let a = Fingerprint::of(&request("4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c", "hi"));
        let b = Fingerprint::of(&request("00000000-8c3a-4e7b-9a1d-2c5e6f7a8b9c", "hi"));
        let c = Fingerprint::of(&request("4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c", "ho"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_redis_password_is_not_shown() {
        let config = StoreConfig::Redis {
            url: "redis://:s3cret@cache.internal:6379/0".into(),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("cache.internal:6379"), "{shown}");
    }

    #[test]
    fn an_entry_round_trips_and_answers_claims() {
        let fingerprint = Fingerprint([7; 32]);
        let pending = StoredEntry::pending(fingerprint, Duration::from_secs(60));
        let decoded = StoredEntry::decode(pending.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded.claim(fingerprint), Claim::Pending);
        assert_eq!(decoded.claim(Fingerprint([8; 32])), Claim::Mismatch);
        let expired = StoredEntry::pending(fingerprint, Duration::ZERO);
        assert_eq!(expired.claim(fingerprint), Claim::Abandoned);
        let failure = Recorded::Failure {
            code: 4,
            message: "m".into(),
            details: vec![1, 2],
        };
        let done = StoredEntry::done(fingerprint.0.to_vec(), failure.clone());
        assert_eq!(done.claim(fingerprint), Claim::Done(failure));
    }
}
