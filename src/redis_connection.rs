//! The one way this service connects to Redis (for `request_id`s and for send-rate slots): lazily,
//! every command bounded by [`COMMAND_TIMEOUT`], so a Redis that is down fails calls quickly, not
//! the server.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

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
    let client = redis::Client::open(url)
        .map_err(|error| format!("{flag}: {error}; use redis://host:port/db"))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config)
        .map_err(|error| format!("{flag}: {error}"))
}
