//! The Redis limiter, shared by every replica: one atomic script per reservation, on Redis's own
//! clock (`TIME`), so replicas whose clocks differ still share one pace. Every command is bounded
//! by a short timeout; a Redis that does not answer in time fails the send before anything is sent.

use std::time::Duration;

use crate::redis_connection::Connections;

use super::{Limiter, LimiterError, Rate, Reservation, micros};
use crate::redis_connection::bounded;

/// The prefix of every key this limiter writes.
const PREFIX: &str = "whatsapp-grpc:rate:";
/// GCRA with reservation, as [`super::decide`]: KEYS[1] holds the theoretical arrival time in µs
/// on Redis's clock; ARGV are the interval, the burst tolerance and the longest wait, in µs.
/// Returns `{1, wait}` for a slot `wait` µs from now, `{0, retry_after}` for a refusal.
const RESERVE: &str = r#"
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, wait} end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
return {1, wait}
"#;

pub struct RedisLimiter {
    connections: Connections,
    script: ::redis::Script,
}

impl RedisLimiter {
    /// A limiter on `url` (`redis://host:port/db`), connected on first use.
    pub fn new(url: &str) -> Result<RedisLimiter, String> {
        let connections = Connections::new(url, "--rate-limit-store")?;
        Ok(RedisLimiter {
            connections,
            script: ::redis::Script::new(RESERVE),
        })
    }
}

#[tonic::async_trait]
impl Limiter for RedisLimiter {
    async fn reserve(
        &self,
        key: &str,
        rate: Rate,
        max_wait: Duration,
    ) -> Result<Reservation, LimiterError> {
        let mut connection = self.connections.get();
        let mut invocation = self.script.key(format!("{PREFIX}{key}"));
        invocation
            .arg(micros(rate.interval()))
            .arg(micros(rate.burst_tolerance()))
            .arg(micros(max_wait));
        let answer = bounded(invocation.invoke_async::<(u8, u64)>(&mut connection))
            .await
            .map_err(LimiterError)?;
        Ok(match answer {
            (1, wait) => Reservation::Granted {
                wait: Duration::from_micros(wait),
            },
            (_, retry_after) => Reservation::Refused {
                retry_after: Duration::from_micros(retry_after),
            },
        })
    }
}
