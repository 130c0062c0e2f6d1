//! The one way this service connects to Redis (for `request_id`s, send-rate slots and events):
//! lazily, every command bounded by [`COMMAND_TIMEOUT`], so a Redis that is down fails calls
//! quickly, not the server. The stores on a message's path keep one connection per event loop
//! ([`Connections`]).

use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::lanes::PerLane;

/// How long one command (connecting included) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// What `command` answers, or why not: its error, or that Redis did not answer within
/// [`COMMAND_TIMEOUT`].
pub async fn bounded<T>(command: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("Redis did not answer within {COMMAND_TIMEOUT:?}")),
    }
}

/// A connection to `url` (`redis://host:port/db`), made on first use; `flag` names the setting in
/// problems.
pub fn connect(url: &str, flag: &str) -> Result<ConnectionManager, String> {
    let client = client(url, flag)?;
    manager(client).map_err(|error| format!("{flag}: {error}"))
}

fn client(url: &str, flag: &str) -> Result<redis::Client, String> {
    redis::Client::open(url).map_err(|error| format!("{flag}: {error}; use redis://host:port/db"))
}

fn manager(client: redis::Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config)
}

/// Connections to one Redis: one per event loop ([`crate::lanes`]), made on that loop's first
/// command so that the connection's task runs there and a command never wakes another thread, and
/// one shared by every other thread. A fleet of `n` instances of `t` loops holds up to `n × (t + 1)`
/// connections per store.
pub struct Connections {
    client: redis::Client,
    shared: ConnectionManager,
    managers: PerLane<OnceLock<ConnectionManager>>,
}

impl Connections {
    /// Connections to `url` (`redis://host:port/db`), each made on first use; `flag` names the
    /// setting in problems. Made after the loops start, as [`PerLane`] is.
    pub fn new(url: &str, flag: &str) -> Result<Connections, String> {
        let client = client(url, flag)?;
        let shared = manager(client.clone()).map_err(|error| format!("{flag}: {error}"))?;
        let managers = PerLane::new(OnceLock::new);
        let _ = managers.shared().set(shared.clone());
        Ok(Connections {
            client,
            shared,
            managers,
        })
    }

    /// The connection of the loop running this thread, or the shared one off the loops.
    pub fn get(&self) -> ConnectionManager {
        self.managers
            .get()
            .get_or_init(|| manager(self.client.clone()).unwrap_or_else(|_| self.shared.clone()))
            .clone()
    }
}
