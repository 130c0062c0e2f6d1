//! The event loops that serve gRPC connections: a few OS threads, each running its own
//! single-threaded tokio runtime. Every accepted connection is handed to one loop, in turn, and
//! everything it does runs there: its HTTP/2 frames, its calls, and their requests to the API,
//! over that loop's own connection pool (see [`current`]). A message never changes threads, so
//! serving it takes no wake-up of another thread and no work stealing: in the benchmark, about a
//! sixth less CPU per message at full load than tokio's work-stealing runtime with as many
//! workers, and no `futex` call at all.
//!
//! The price is that a connection cannot move: loops balance by connection count, not by load.
//! A gRPC client sends all the calls of a channel over one connection, so one caller with one
//! channel is served by one loop (about 30,000 messages/s on the 2-core benchmark machine); many
//! callers, or a caller with several channels (the benchmark uses four), spread over all loops.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

/// Each loop keeps a timer due within this long. Tokio wakes its own loop, by writing to the
/// loop's eventfd, whenever a new timer is due before the next wake-up it planned when it last
/// went to sleep; with only far timers pending (keep-alives, idle pools), every call's deadline
/// (the 1 s bound of each Redis command, say) was such a timer: about two writes per message with
/// Redis stores. With this one pending, a deadline further away than it never is.
const NEXT_WAKE_WITHIN: std::time::Duration = std::time::Duration::from_millis(250);

/// Never returns: keeps a timer due within [`NEXT_WAKE_WITHIN`] on the runtime that polls it.
async fn wake_within() {
    let mut tick = tokio::time::interval(NEXT_WAKE_WITHIN);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

/// A timer kept due within [`NEXT_WAKE_WITHIN`] on the runtime [`keep_a_wake_due`] was called on,
/// until this is dropped.
pub struct WakeDue(tokio::task::JoinHandle<()>);

impl Drop for WakeDue {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What each loop does for itself, for the runtime this is called on: the main thread's, which
/// accepts the connections, answers the probes and receives the webhooks (each of which publishes
/// to the event store with a bounded wait).
pub fn keep_a_wake_due() -> WakeDue {
    WakeDue(tokio::spawn(wake_within()))
}

/// The most loops a [`Lanes`] may run (`--threads`).
pub const MAX_LANES: usize = 256;

thread_local! {
    /// The index of the loop this thread runs, if it runs one.
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The most loops any [`Lanes`] of this process has run: what per-loop pools are sized for.
static MOST: AtomicUsize = AtomicUsize::new(0);

/// The index of the loop running on this thread (`0..threads`), or `None` off the loops.
pub fn current() -> Option<usize> {
    CURRENT.get()
}

/// How many loops a per-loop resource needs slots for: the most any [`Lanes`] started so far
/// has run (an index at or above it gets the shared slot).
fn most() -> usize {
    MOST.load(Ordering::Relaxed)
}

/// A resource kept per loop: one for each loop started so far (make it after them, as `serve` does),
/// then one for every other thread, the last.
pub struct PerLane<T> {
    slots: Box<[T]>,
}

impl<T> PerLane<T> {
    /// `make()` for each loop started so far, and once more for the other threads.
    pub fn new(make: impl FnMut() -> T) -> PerLane<T> {
        PerLane {
            slots: std::iter::repeat_with(make).take(most() + 1).collect(),
        }
    }

    /// This thread's: its loop's, else the shared one (also for a loop started after it was made).
    pub fn get(&self) -> &T {
        let shared = self.shared_index();
        &self.slots[current().map_or(shared, |lane| lane.min(shared))]
    }

    /// The one for threads that run no loop.
    pub fn shared(&self) -> &T {
        &self.slots[self.shared_index()]
    }

    fn shared_index(&self) -> usize {
        self.slots.len() - 1
    }
}

/// The running loops; they stop when this is dropped, and the tasks still on them are dropped.
#[derive(Debug)]
pub struct Lanes {
    lanes: Vec<Lane>,
    next: AtomicUsize,
}

#[derive(Debug)]
struct Lane {
    handle: Handle,
    _stop: oneshot::Sender<()>,
}

impl Lanes {
    /// Starts `threads` loops (at least one).
    pub fn start(threads: usize) -> io::Result<Lanes> {
        let threads = threads.max(1);
        MOST.fetch_max(threads, Ordering::Relaxed);
        let mut lanes = Vec::with_capacity(threads);
        for index in 0..threads {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("grpc-loop-{index}"))
                .spawn(move || {
                    CURRENT.set(Some(index));
                    // Runs the loop's tasks until the `Lanes` is dropped, with a timer always due
                    // within `NEXT_WAKE_WITHIN` (see there).
                    runtime.block_on(async {
                        tokio::select! {
                            _ = stopped => {}
                            () = wake_within() => {}
                        }
                    });
                })?;
            lanes.push(Lane {
                handle,
                _stop: stop,
            });
        }
        Ok(Lanes {
            lanes,
            next: AtomicUsize::new(0),
        })
    }

    /// How many loops run.
    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    /// Always false: there is at least one loop.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Runs `task` on the next loop, in turn. It is created here but first polled there: I/O
    /// objects must be made inside it (for a socket, `TcpStream::from_std`), so that they
    /// register with that loop's reactor.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        drop(self.lanes[index].handle.spawn(task));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_kept_wake_runs_until_dropped() {
        let alive = || Handle::current().metrics().num_alive_tasks();
        let before = alive();
        let wake = keep_a_wake_due();
        tokio::task::yield_now().await;
        assert_eq!(alive(), before + 1);
        drop(wake);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(alive(), before);
    }

    #[tokio::test]
    async fn tasks_run_on_each_loop_in_turn_each_knowing_its_index() {
        let lanes = Lanes::start(3).expect("start");
        assert_eq!(lanes.len(), 3);
        assert!(most() >= 3);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (tx, rx) = oneshot::channel();
            lanes.spawn(async move {
                let _ = tx.send((current(), std::thread::current().name().map(String::from)));
            });
            seen.push(rx.await.expect("the task ran"));
        }
        let indices: Vec<_> = seen.iter().map(|(index, _)| *index).collect();
        assert_eq!(
            indices,
            [Some(0), Some(1), Some(2), Some(0), Some(1), Some(2)]
        );
        assert_eq!(seen[1].1.as_deref(), Some("grpc-loop-1"));
        // Off the loops, no index.
        assert_eq!(current(), None);
    }

    #[tokio::test]
    async fn dropping_the_lanes_drops_their_tasks() {
        let lanes = Lanes::start(1).expect("start");
        let (tx, rx) = oneshot::channel::<()>();
        lanes.spawn(async move {
            std::future::pending::<()>().await;
            drop(tx);
        });
        drop(lanes);
        // The task (and the sender it holds) is dropped with its loop, never completed.
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(10), rx)
                .await
                .expect("the task was dropped in time")
                .is_err()
        );
    }
}
