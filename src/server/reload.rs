//! Reloading the senders and the API keys on SIGHUP: the configuration is read again and, if it is
//! valid and every sender can start, replaces the running senders without dropping calls in
//! flight; otherwise the running senders stay and the problem is logged at `warn`. The API keys
//! file, if any, is read again likewise.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::api_keys::ApiKeys;
use crate::senders::{Reload, Senders};

/// Reloads on every SIGHUP until dropped.
pub struct Reloading {
    task: JoinHandle<()>,
}

impl Drop for Reloading {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens for SIGHUP and reloads the senders with `reload`, and the API keys, on each. With
/// neither (the senders come from flags, no API keys) a SIGHUP is logged and ignored, rather than
/// ending the process as it would by default.
pub fn on_sighup(
    reload: Option<Reload>,
    senders: Arc<Senders>,
    api_keys: Option<Arc<ApiKeys>>,
) -> Reloading {
    let task = tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = match signal(SignalKind::hangup()) {
                Ok(hangups) => hangups,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGHUP: the senders will not be reloaded");
                    return;
                }
            };
            while hangups.recv().await.is_some() {
                if let Some(api_keys) = &api_keys {
                    api_keys.reload().await;
                }
                match &reload {
                    Some(reload) => reload_now(reload, &senders).await,
                    None if api_keys.is_some() => {}
                    None => tracing::warn!(
                        "SIGHUP: nothing to reload, the senders come from flags (use --senders FILE)"
                    ),
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (reload, senders, api_keys);
        }
    });
    Reloading { task }
}

/// Reads the senders again and replaces the running ones, or keeps them and says why.
pub async fn reload_now(reload: &Reload, senders: &Senders) {
    let read = reload.0.clone();
    // Reading files is blocking I/O: off the async workers.
    let configs = match tokio::task::spawn_blocking(move || read()).await {
        Ok(Ok(configs)) => configs,
        Ok(Err(problems)) => {
            tracing::warn!(%problems, "the senders' configuration was not reloaded; the running senders stay");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "reading the senders' configuration failed; the running senders stay");
            return;
        }
    };
    let count = configs.len();
    match senders.replace(configs) {
        Ok(()) => tracing::info!(senders = count, "senders reloaded"),
        Err(problem) => {
            tracing::warn!(%problem, "the new senders could not start; the running senders stay")
        }
    }
}
