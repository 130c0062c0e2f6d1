//! The Redis store, shared by every replica: one Redis stream holds the events, consumer groups
//! deliver them.
//!
//! - A publish is one script: the events past the retention are dropped (`XTRIM MINID`); the
//!   events whose `event_id` key (hashed) exists are duplicates; if the others do not fit in
//!   `--event-store-max-events`, the oldest events every consumer group acknowledged make room
//!   (`XTRIM MAXLEN`), and if that is not enough the publish is refused and nothing is stored (the
//!   webhook is answered 503 and the API delivers it again), as the memory store does, rather than
//!   trimming events a group still waits for; then, per new event, `SET PX <retention>` on its key
//!   and `XADD`. Atomic: an event is stored once and its id is remembered, or neither.
//! - A consumer group is created on its first subscription from the start of the stream
//!   (`XGROUP CREATE … 0 MKSTREAM`). Each stream is one consumer of it with a name of its own.
//! - A receive first takes over the group's events whose ack deadline passed (`XAUTOCLAIM` with the
//!   ack deadline as the minimum idle time, delivery counts read with `XPENDING`), then reads new
//!   ones with `XREADGROUP … BLOCK` on a connection of the consumer's own (a blocking read would
//!   hold up every other command on a shared connection), blocking at most [`MAX_BLOCK`].
//! - An acknowledgement is `XACK`; a consumer that closes makes its pending events idle for long
//!   enough that the next `XAUTOCLAIM` of any consumer takes them (`XCLAIM … IDLE … JUSTID`), or
//!   leaves the group if it has none.
//!
//! Every command is bounded in time; a Redis that does not answer fails the call, not the server.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, MultiplexedConnection};
use prost::Message;
use sha2::{Digest, Sha256};

use super::store::{
    AckError, BadAckId, Consumer, Delivery, EventStore, Published, StoreError, Subscription,
};
use crate::proto::Event;
use crate::redis_connection::{COMMAND_TIMEOUT, bounded};

/// The stream of events.
const STREAM: &str = "whatsapp-grpc:events";
/// The prefix of the keys that remember the `event_id`s stored.
const ID_PREFIX: &str = "whatsapp-grpc:event-id:";
/// The longest a blocking read waits for new events.
pub const MAX_BLOCK: Duration = Duration::from_secs(1);
/// The longest ack id this store hands out (`<ms>-<seq>`, two u64).
const ACK_ID_MAX: usize = 41;
/// How many pending events a closing consumer releases at most (more than a stream holds).
const RELEASE_MAX: usize = 2000;
/// A consumer of a group with nothing pending and idle for longer leaves the group.
const IDLE_CONSUMER: Duration = Duration::from_secs(600);

/// KEYS[1] the stream, KEYS[2..] the id keys; ARGV[1] the retention in ms, ARGV[2] the most events
/// kept, ARGV[i + 1] the event of KEYS[i]. Drops the events past the retention; then, if the new
/// events do not fit, the oldest events every group acknowledged make room, or, if they are not
/// enough, nothing is stored and the script fails (as the memory store refuses). Returns how many
/// were stored.
const PUBLISH: &str = r#"
redis.replicate_commands()
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)
  local am, aseq = parse(a)
  local bm, bseq = parse(b)
  return am < bm or (am == bm and aseq < bseq)
end
local full = 'the Redis event store is full (' .. ARGV[2] .. ' events): events are kept until every consumer group acknowledged them'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local minid = now - tonumber(ARGV[1])
if minid < 0 then minid = 0 end
redis.call('XTRIM', KEYS[1], 'MINID', minid)
local fresh, seen = {}, {}
for i = 2, #KEYS do
  if not seen[KEYS[i]] and redis.call('EXISTS', KEYS[i]) == 0 then
    seen[KEYS[i]] = true
    table.insert(fresh, i)
  end
end
if #fresh == 0 then return 0 end
local max = tonumber(ARGV[2])
local over = redis.call('XLEN', KEYS[1]) + #fresh - max
if over > 0 then
  if #fresh > max then return redis.error_reply(full) end
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  local last = oldest[#oldest][1]
  local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
  if #groups == 0 then return redis.error_reply(full) end
  for _, group in ipairs(groups) do
    local name, delivered
    for i = 1, #group, 2 do
      if group[i] == 'name' then name = group[i + 1] end
      if group[i] == 'last-delivered-id' then delivered = group[i + 1] end
    end
    if not name or not delivered or before(delivered, last) then return redis.error_reply(full) end
    if #redis.call('XPENDING', KEYS[1], name, '-', last, 1) > 0 then return redis.error_reply(full) end
  end
  redis.call('XTRIM', KEYS[1], 'MAXLEN', max - #fresh)
end
for _, i in ipairs(fresh) do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[1])
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1])
end
return #fresh
"#;

/// KEYS[1] the stream; ARGV the group, the consumer, the minimum idle time in ms, the cursor, the
/// count. Returns `{next cursor, {{id, delivery count, event}, ...}}`.
const CLAIM: &str = r#"
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local entries = {}
for _, entry in ipairs(claimed[2]) do
  local fields = entry[2]
  if fields then
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    local count = 1
    if pending[1] then count = pending[1][4] end
    local event = ''
    for i = 1, #fields, 2 do
      if fields[i] == 'e' then event = fields[i + 1] end
    end
    table.insert(entries, {entry[1], count, event})
  end
end
return {claimed[1], entries}
"#;

/// KEYS[1] the stream; ARGV the group, the consumer, the idle time to give its pending events, the
/// most to release. Returns how many were released.
const RELEASE: &str = r#"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[4], ARGV[2])
if #pending == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return 0
end
local claim = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
for _, entry in ipairs(pending) do table.insert(claim, entry[1]) end
table.insert(claim, 'IDLE')
table.insert(claim, ARGV[3])
table.insert(claim, 'JUSTID')
redis.call(unpack(claim))
return #pending
"#;

/// KEYS[1] the stream; ARGV the group, the idle time in ms past which a consumer with nothing
/// pending leaves it. Returns how many left.
const SWEEP: &str = r#"
local consumers = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
local removed = 0
for _, consumer in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #consumer, 2 do
    if consumer[i] == 'name' then name = consumer[i + 1] end
    if consumer[i] == 'pending' then pending = consumer[i + 1] end
    if consumer[i] == 'idle' then idle = consumer[i + 1] end
  end
  if name and pending == 0 and idle and idle > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed = removed + 1
  end
end
return removed
"#;

/// KEYS[1] the stream; ARGV[1] the group. Returns the age in ms of the oldest event the group has
/// not acknowledged (pending, or after its last delivered one), or -1 when there is none.
const OLDEST: &str = r#"
redis.replicate_commands()
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local last = nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, delivered
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then delivered = group[i + 1] end
  end
  if name == ARGV[1] then last = delivered end
end
if not last then return -1 end
local oldest = nil
local summary = redis.call('XPENDING', KEYS[1], ARGV[1])
if summary[1] > 0 then oldest = summary[2] end
if not oldest then
  local following = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
  if #following > 0 then oldest = following[1][1] end
end
if not oldest then return -1 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local age = now - tonumber(string.match(oldest, '^(%d+)'))
if age < 0 then age = 0 end
return age
"#;

pub struct RedisStore {
    client: ::redis::Client,
    connection: ConnectionManager,
    retention: Duration,
    max_events: usize,
    publish: ::redis::Script,
    claim: ::redis::Script,
    release: ::redis::Script,
    sweep: ::redis::Script,
    oldest: ::redis::Script,
}

impl RedisStore {
    /// A store on `url` (`redis://host:port/db`), connected on first use, keeping events for
    /// `retention` and at most `max_events` of them.
    pub fn new(url: &str, retention: Duration, max_events: usize) -> Result<RedisStore, String> {
        let connection = crate::redis_connection::connect(url, "--event-store")?;
        let client = ::redis::Client::open(url)
            .map_err(|error| format!("--event-store: {error}; use redis://host:port/db"))?;
        Ok(RedisStore {
            client,
            connection,
            retention,
            max_events,
            publish: ::redis::Script::new(PUBLISH),
            claim: ::redis::Script::new(CLAIM),
            release: ::redis::Script::new(RELEASE),
            sweep: ::redis::Script::new(SWEEP),
            oldest: ::redis::Script::new(OLDEST),
        })
    }

    fn retention_ms(&self) -> u64 {
        u64::try_from(self.retention.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    async fn query<T: ::redis::FromRedisValue>(
        &self,
        command: &::redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        bounded(command.query_async(&mut connection))
            .await
            .map_err(StoreError)
    }
}

fn id_key(event_id: &str) -> String {
    format!(
        "{ID_PREFIX}{}",
        hex::encode(Sha256::digest(event_id.as_bytes()))
    )
}

/// Whether `id` is a stream entry id (`<ms>-<seq>`).
fn valid_ack_id(id: &str) -> bool {
    id.len() <= ACK_ID_MAX
        && id.split_once('-').is_some_and(|(ms, seq)| {
            !ms.is_empty()
                && !seq.is_empty()
                && ms.bytes().all(|b| b.is_ascii_digit())
                && seq.bytes().all(|b| b.is_ascii_digit())
        })
}

#[tonic::async_trait]
impl EventStore for RedisStore {
    async fn publish(&self, events: Vec<Event>) -> Result<Published, StoreError> {
        if events.is_empty() {
            return Ok(Published::default());
        }
        let offered = events.len();
        let mut invocation = self.publish.prepare_invoke();
        invocation
            .key(STREAM)
            .arg(self.retention_ms())
            .arg(self.max_events);
        for event in &events {
            invocation.key(id_key(&event.event_id));
            invocation.arg(event.encode_to_vec());
        }
        let mut connection = self.connection.clone();
        let stored: usize = bounded(invocation.invoke_async(&mut connection))
            .await
            .map_err(StoreError)?;
        Ok(Published {
            stored,
            duplicates: offered.saturating_sub(stored),
        })
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>, StoreError> {
        let mut create = ::redis::cmd("XGROUP");
        create
            .arg("CREATE")
            .arg(STREAM)
            .arg(&subscription.group)
            .arg("0")
            .arg("MKSTREAM");
        if let Err(StoreError(error)) = self.query::<()>(&create).await
            && !error.contains("BUSYGROUP")
        {
            return Err(StoreError(error));
        }
        // Consumers of streams that ended without closing (a replica that died) and whose events
        // were taken over leave the group.
        let mut sweep = self.sweep.prepare_invoke();
        sweep
            .key(STREAM)
            .arg(&subscription.group)
            .arg(u64::try_from(IDLE_CONSUMER.as_millis()).unwrap_or(u64::MAX));
        let mut connection = self.connection.clone();
        bounded(sweep.invoke_async::<usize>(&mut connection))
            .await
            .map_err(StoreError)?;
        let config = ::redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(MAX_BLOCK + COMMAND_TIMEOUT));
        let reader = bounded(
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(StoreError)?;
        Ok(Box::new(RedisConsumer {
            name: format!("{:016x}", fastrand::u64(..)),
            subscription,
            reader,
            connection: self.connection.clone(),
            claim: self.claim.clone(),
            release: self.release.clone(),
            cursor: "0-0".to_owned(),
        }))
    }

    async fn ack(&self, group: &str, ack_ids: &[String]) -> Result<usize, AckError> {
        if let Some(bad) = ack_ids.iter().find(|id| !valid_ack_id(id)) {
            return Err(BadAckId(bad.clone()).into());
        }
        if ack_ids.is_empty() {
            return Ok(0);
        }
        let mut command = ::redis::cmd("XACK");
        command.arg(STREAM).arg(group).arg(ack_ids);
        Ok(self.query(&command).await?)
    }

    async fn oldest_unacked(&self, group: &str) -> Result<Option<Duration>, StoreError> {
        let mut invocation = self.oldest.prepare_invoke();
        invocation.key(STREAM).arg(group);
        let mut connection = self.connection.clone();
        let age: i64 = bounded(invocation.invoke_async(&mut connection))
            .await
            .map_err(StoreError)?;
        Ok(u64::try_from(age).ok().map(Duration::from_millis))
    }
}

/// One stream's consumer of a group in Redis.
struct RedisConsumer {
    name: String,
    subscription: Subscription,
    /// This consumer's own connection, for blocking reads.
    reader: MultiplexedConnection,
    connection: ConnectionManager,
    claim: ::redis::Script,
    release: ::redis::Script,
    /// Where the next `XAUTOCLAIM` scan of the group's pending events starts.
    cursor: String,
}

/// An `XREADGROUP` answer: per stream, its entries and their fields.
type ReadReply = Option<Vec<(String, Vec<(String, Vec<Vec<u8>>)>)>>;

impl RedisConsumer {
    /// Acknowledges events this subscription does not deliver (another sender's, or unreadable).
    async fn skip(&self, ids: Vec<String>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut command = ::redis::cmd("XACK");
        command.arg(STREAM).arg(&self.subscription.group).arg(ids);
        let mut connection = self.connection.clone();
        bounded(command.query_async::<usize>(&mut connection))
            .await
            .map(|_| ())
            .map_err(StoreError)
    }

    /// The deliveries among `entries` (id, attempt, encoded event); the others are acknowledged.
    async fn sort(
        &self,
        entries: Vec<(String, u32, Vec<u8>)>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut deliveries = Vec::with_capacity(entries.len());
        let mut skipped = Vec::new();
        for (id, attempt, bytes) in entries {
            match Event::decode(bytes.as_slice()) {
                Ok(event) if self.subscription.wants(&event) => deliveries.push(Delivery {
                    ack_id: id,
                    event,
                    attempt,
                }),
                Ok(_) => skipped.push(id),
                Err(error) => {
                    tracing::warn!(%error, id, "an event in the Redis stream does not decode: skipped");
                    skipped.push(id);
                }
            }
        }
        self.skip(skipped).await?;
        Ok(deliveries)
    }
}

#[tonic::async_trait]
impl Consumer for RedisConsumer {
    async fn receive(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, StoreError> {
        let max = max.max(1);
        // First the group's events whose ack deadline passed.
        let mut claim = self.claim.prepare_invoke();
        claim
            .key(STREAM)
            .arg(&self.subscription.group)
            .arg(&self.name)
            .arg(u64::try_from(self.subscription.ack_deadline.as_millis()).unwrap_or(u64::MAX))
            .arg(&self.cursor)
            .arg(max);
        let mut connection = self.connection.clone();
        let (cursor, claimed): (String, Vec<(String, u32, Vec<u8>)>) =
            bounded(claim.invoke_async(&mut connection))
                .await
                .map_err(StoreError)?;
        self.cursor = cursor;
        if !claimed.is_empty() {
            let deliveries = self.sort(claimed).await?;
            if !deliveries.is_empty() {
                return Ok(deliveries);
            }
        }
        // Then new ones, waiting for them at most MAX_BLOCK.
        let block = wait.clamp(Duration::from_millis(1), MAX_BLOCK);
        let mut read = ::redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(&self.subscription.group)
            .arg(&self.name)
            .arg("COUNT")
            .arg(max)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(1))
            .arg("STREAMS")
            .arg(STREAM)
            .arg(">");
        let reply: ReadReply =
            match tokio::time::timeout(block + COMMAND_TIMEOUT, read.query_async(&mut self.reader))
                .await
            {
                Ok(Ok(reply)) => reply,
                Ok(Err(error)) => return Err(StoreError(error.to_string())),
                Err(_) => {
                    return Err(StoreError(format!(
                        "Redis did not answer a read within {:?}",
                        block + COMMAND_TIMEOUT
                    )));
                }
            };
        let entries = reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .map(|(id, fields)| {
                let event = fields
                    .chunks(2)
                    .find(|pair| pair.first().is_some_and(|field| field == b"e"))
                    .and_then(|pair| pair.get(1).cloned())
                    .unwrap_or_default();
                (id, 1, event)
            })
            .collect();
        self.sort(entries).await
    }

    async fn close(self: Box<Self>) {
        let mut release = self.release.prepare_invoke();
        // Idle for the longest ack deadline and more: the next XAUTOCLAIM of any consumer takes them.
        let idle = Duration::from_secs(3600);
        release
            .key(STREAM)
            .arg(&self.subscription.group)
            .arg(&self.name)
            .arg(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX))
            .arg(RELEASE_MAX);
        let mut connection = self.connection.clone();
        if let Err(error) = bounded(release.invoke_async::<usize>(&mut connection)).await {
            tracing::warn!(
                %error,
                "could not release a closed stream's events: they are delivered again after their ack deadline"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids_are_stream_entry_ids() {
        assert!(valid_ack_id("1700000000000-0"));
        assert!(valid_ack_id("0-12"));
        for bad in ["", "1", "-1", "1-", "a-1", "1-1-1", "1 -1", &"1".repeat(40)] {
            assert!(!valid_ack_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn event_ids_become_bounded_keys() {
        let key = id_key(&"x".repeat(512));
        assert_eq!(key.len(), ID_PREFIX.len() + 64);
        assert_ne!(id_key("a"), id_key("b"));
    }
}
