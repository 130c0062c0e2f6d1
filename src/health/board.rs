//! The statuses of the health names, each a watch channel so `Watch` streams see every change; the
//! aggregate name that follows its members (SERVING while any member is); and the drain that turns
//! them all NOT_SERVING for good.

use std::sync::RwLock;

use tokio::sync::watch;
use tonic_health::ServingStatus;

/// The statuses the health service reports. A caller can ask about any name, but only the names
/// the server put on the board exist.
#[derive(Debug)]
pub struct HealthBoard {
    names: RwLock<Vec<Entry>>,
    /// The name that is SERVING while any member is (members are added with
    /// [`add_member`](Self::add_member)).
    aggregate: Option<&'static str>,
    draining: watch::Sender<bool>,
}

#[derive(Debug)]
struct Entry {
    name: String,
    status: watch::Sender<ServingStatus>,
    member: bool,
}

impl HealthBoard {
    /// A board with `names`, each starting at its given status; `aggregate`, if given, must be one
    /// of them.
    pub fn new(names: &[(&str, ServingStatus)], aggregate: Option<&'static str>) -> HealthBoard {
        HealthBoard {
            names: RwLock::new(
                names
                    .iter()
                    .map(|&(name, status)| Entry {
                        name: name.to_owned(),
                        status: watch::channel(status).0,
                        member: false,
                    })
                    .collect(),
            ),
            aggregate,
            draining: watch::channel(false).0,
        }
    }

    /// Adds `name` (or resets it) as a member of the aggregate, NOT_SERVING until set.
    pub fn add_member(&self, name: &str) {
        {
            let mut names = self.write();
            match names.iter_mut().find(|entry| entry.name == name) {
                Some(entry) => {
                    entry.member = true;
                    if !self.is_draining() {
                        entry.status.send_replace(ServingStatus::NotServing);
                    }
                }
                None => names.push(Entry {
                    name: name.to_owned(),
                    status: watch::channel(ServingStatus::NotServing).0,
                    member: true,
                }),
            }
        }
        self.update_aggregate();
    }

    /// Removes `name`: it is unknown from now on, and `Watch` streams on it end.
    pub fn remove(&self, name: &str) {
        self.write().retain(|entry| entry.name != name);
        self.update_aggregate();
    }

    /// Sets `name`'s status; ignored for an unknown name and once draining has begun (a drained
    /// server never turns SERVING again). Returns whether the status changed.
    pub fn set(&self, name: &str, status: ServingStatus) -> bool {
        let (changed, member) = {
            // Under the lock, so a drain (which takes it to write) cannot come in between.
            let names = self.read();
            if self.is_draining() {
                return false;
            }
            match names.iter().find(|entry| entry.name == name) {
                Some(entry) => (
                    entry.status.send_if_modified(|current| {
                        let changed = *current != status;
                        *current = status;
                        changed
                    }),
                    entry.member,
                ),
                None => (false, false),
            }
        };
        if changed && member {
            self.update_aggregate();
        }
        changed
    }

    /// The current status of `name`, or `None` if there is no such name.
    pub fn status(&self, name: &str) -> Option<ServingStatus> {
        self.read()
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| *entry.status.borrow())
    }

    /// The members of the aggregate and their statuses, in the order they were added.
    pub fn members(&self) -> Vec<(String, ServingStatus)> {
        self.read()
            .iter()
            .filter(|entry| entry.member)
            .map(|entry| (entry.name.clone(), *entry.status.borrow()))
            .collect()
    }

    /// A receiver of `name`'s changes, or `None` if there is no such name.
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<ServingStatus>> {
        self.read()
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.status.subscribe())
    }

    /// Turns every name NOT_SERVING for good and tells `Watch` streams to end.
    pub fn drain(&self) {
        // Statuses first, then the drain: a `Watch` stream sees NOT_SERVING before it ends. Both
        // under the write lock, so no `set` comes in between.
        let names = self.write();
        for entry in names.iter() {
            entry.status.send_replace(ServingStatus::NotServing);
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

    /// The aggregate follows its members: SERVING while any is.
    fn update_aggregate(&self) {
        let Some(aggregate) = self.aggregate else {
            return;
        };
        let names = self.read();
        if self.is_draining() {
            return;
        }
        let any_serving = names
            .iter()
            .any(|entry| entry.member && *entry.status.borrow() == ServingStatus::Serving);
        let status = if any_serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if let Some(entry) = names.iter().find(|entry| entry.name == aggregate) {
            entry.status.send_if_modified(|current| {
                let changed = *current != status;
                *current = status;
                changed
            });
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        self.names
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Entry>> {
        self.names
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draining_is_final() {
        let board = HealthBoard::new(
            &[
                ("", ServingStatus::Serving),
                ("x", ServingStatus::NotServing),
            ],
            None,
        );
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

    #[test]
    fn the_aggregate_is_serving_while_any_member_is() {
        let board = HealthBoard::new(&[("all", ServingStatus::NotServing)], Some("all"));
        board.add_member("all/a");
        board.add_member("all/b");
        assert_eq!(board.status("all"), Some(ServingStatus::NotServing));
        board.set("all/a", ServingStatus::Serving);
        assert_eq!(board.status("all"), Some(ServingStatus::Serving));
        board.set("all/b", ServingStatus::NotServing);
        assert_eq!(board.status("all"), Some(ServingStatus::Serving));
        board.set("all/a", ServingStatus::NotServing);
        assert_eq!(board.status("all"), Some(ServingStatus::NotServing));
        board.set("all/b", ServingStatus::Serving);
        board.remove("all/b");
        assert_eq!(board.status("all/b"), None);
        assert_eq!(board.status("all"), Some(ServingStatus::NotServing));
    }
}
