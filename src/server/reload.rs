//! Reloading the senders on SIGHUP: the configuration is read again and, if it is valid and every
//! sender can start, replaces the running senders without dropping calls in flight; otherwise the
//! running senders stay and the problem is logged at `warn`.

use std::sync::Arc;

use tokio::task::JoinHandle;

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

/// Listens for SIGHUP and reloads the senders with `reload` on each. Without `reload` (the senders
/// come from flags) a SIGHUP is logged and ignored, rather than ending the process as it would by
/// default.
pub fn on_sighup(reload: Option<Reload>, senders: Arc<Senders>) -> Reloading {
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
                match &reload {
                    Some(reload) => reload_now(reload, &senders).await,
                    None => tracing::warn!(
                        "SIGHUP: nothing to reload, the senders come from flags (use --senders FILE)"
                    ),
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (reload, senders);
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
