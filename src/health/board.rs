//! The statuses of a fixed set of health names, each a watch channel so `Watch` streams see every
//! change, and the drain that turns them all NOT_SERVING for good.

use tokio::sync::watch;
use tonic_health::ServingStatus;

/// The statuses the health service reports. Names are fixed at start: a caller can ask about
/// any name, but only these exist.
#[derive(Debug)]
pub struct HealthBoard {
    names: Vec<(&'static str, watch::Sender<ServingStatus>)>,
    draining: watch::Sender<bool>,
}

impl HealthBoard {
    /// A board with `names`, each starting at its given status.
    pub fn new(names: &[(&'static str, ServingStatus)]) -> HealthBoard {
        HealthBoard {
            names: names
                .iter()
                .map(|&(name, status)| (name, watch::channel(status).0))
                .collect(),
            draining: watch::channel(false).0,
        }
    }

    /// Sets `name`'s status; ignored for an unknown name and once draining has begun (a drained
    /// server never turns SERVING again). Returns whether the status changed.
    pub fn set(&self, name: &str, status: ServingStatus) -> bool {
        if self.is_draining() {
            return false;
        }
        self.sender(name).is_some_and(|sender| {
            sender.send_if_modified(|current| {
                let changed = *current != status;
                *current = status;
                changed
            })
        })
    }

    /// The current status of `name`, or `None` if there is no such name.
    pub fn status(&self, name: &str) -> Option<ServingStatus> {
        self.sender(name).map(|sender| *sender.borrow())
    }

    /// A receiver of `name`'s changes, or `None` if there is no such name.
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<ServingStatus>> {
        self.sender(name).map(watch::Sender::subscribe)
    }

    /// Turns every name NOT_SERVING for good and tells `Watch` streams to end.
    pub fn drain(&self) {
        for (_, sender) in &self.names {
            sender.send_replace(ServingStatus::NotServing);
        }
        self.draining.send_replace(true);
    }

    /// Whether [`drain`](Self::drain) was called.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// A receiver that sees `true` once the server drains.
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    fn sender(&self, name: &str) -> Option<&watch::Sender<ServingStatus>> {
        self.names
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, sender)| sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draining_is_final() {
        let board = HealthBoard::new(&[
            ("", ServingStatus::Serving),
            ("x", ServingStatus::NotServing),
        ]);
        assert!(board.set("x", ServingStatus::Serving));
        assert!(!board.set("x", ServingStatus::Serving), "no change");
        assert!(!board.set("unknown", ServingStatus::Serving));
        assert_eq!(board.status("unknown"), None);
        board.drain();
        assert_eq!(board.status(""), Some(ServingStatus::NotServing));
        assert_eq!(board.status("x"), Some(ServingStatus::NotServing));
        assert!(!board.set("x", ServingStatus::Serving));
        assert_eq!(board.status("x"), Some(ServingStatus::NotServing));
    }
}
