//! The subscriber side of the event soaks (`tests/event_stream.rs`, `tests/events_end_to_end.rs`):
//! subscribers of two groups crashing and restarting until each group has acknowledged every
//! event, what they saw, and the check of it (none lost, an event delivered again only after a
//! delivery on a stream that crashed). Each test publishes its events its own way.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::stack::Stack;
use super::subscriber::{id, subscribe};

/// The groups of the soak: [`Soak::subscribers`] runs three competing subscribers of the first and
/// one of the second.
pub const GROUPS: [&str; 2] = ["soak-a", "soak-b"];

/// The soak's seed: `WHATSAPP_GRPC_SOAK_SEED` if set (to replay a run), else a random one; printed
/// as `{name} seed …`.
pub fn seed(name: &str) -> u64 {
    let seed = std::env::var("WHATSAPP_GRPC_SOAK_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{name} seed {seed} (WHATSAPP_GRPC_SOAK_SEED={seed} replays it)");
    seed
}

/// What the soak's subscribers saw: every delivery per (group, event id) with the stream it came
/// on and its attempt, the streams that crashed, and what each group acknowledged.
#[derive(Default)]
struct Seen {
    deliveries: HashMap<(String, String), Vec<(u64, i32)>>,
    crashed_streams: HashSet<u64>,
    acked: HashMap<String, HashSet<String>>,
}

/// The subscribers of a soak of `events` events, and what they saw.
pub struct Soak {
    events: usize,
    seen: Mutex<Seen>,
    next_stream: AtomicU64,
}

/// What [`Soak::check`] counted, for the test to print.
pub struct Outcome {
    /// Streams opened.
    pub streams: u64,
    /// Of those, the ones that crashed.
    pub crashed: usize,
    /// Deliveries of an event to its group after its first (each after a crash).
    pub redelivered: usize,
}

impl Soak {
    pub fn new(events: usize) -> Self {
        Soak {
            events,
            seen: Mutex::new(Seen::default()),
            next_stream: AtomicU64::new(0),
        }
    }

    /// Three competing subscribers of [`GROUPS`]`[0]` and one of [`GROUPS`]`[1]`, spread over
    /// `stacks`, until each group has acknowledged every event.
    pub async fn subscribers(&self, stacks: &[Stack], seed: u64) {
        let run = |group: &'static str, n: usize| {
            self.subscriber(&stacks[n % stacks.len()], group, seed ^ (n as u64 + 1))
        };
        tokio::join!(
            run(GROUPS[0], 0),
            run(GROUPS[0], 1),
            run(GROUPS[0], 2),
            run(GROUPS[1], 3)
        );
    }

    /// Whether `group` has acknowledged every event.
    fn done(&self, group: &str) -> bool {
        self.seen
            .lock()
            .expect("not poisoned")
            .acked
            .get(group)
            .is_some_and(|acked| acked.len() == self.events)
    }

    /// One subscriber of `group` on `stack`: sessions of a random length, each ending in a crash
    /// (the stream dropped with its batch in hand unacknowledged) or a clean close, until the group
    /// has acknowledged every event.
    async fn subscriber(&self, stack: &Stack, group: &str, seed: u64) {
        let mut rng = fastrand::Rng::with_seed(seed);
        while !self.done(group) {
            let stream = self.next_stream.fetch_add(1, Ordering::Relaxed);
            // A 600 s deadline: only a crash, never the deadline, makes an event come again.
            let mut subscriber = subscribe(stack, group, 600, rng.i32(5..=50)).await;
            let session = rng.usize(20..300);
            let crash = rng.bool();
            let mut handled = 0;
            while handled < session && !self.done(group) {
                let batch = match tokio::time::timeout(
                    Duration::from_millis(500),
                    subscriber.responses.message(),
                )
                .await
                {
                    Err(_) => continue, // nothing for now: look whether the group is done
                    Ok(Ok(Some(batch))) => batch.received_events,
                    Ok(Ok(None)) => break, // the call's deadline: reopen
                    Ok(Err(status)) => panic!("the stream failed: {status:?}"),
                };
                {
                    let mut seen = self.seen.lock().expect("not poisoned");
                    for received in &batch {
                        seen.deliveries
                            .entry((group.to_owned(), id(received)))
                            .or_default()
                            .push((stream, received.delivery_attempt));
                    }
                }
                handled += batch.len();
                if crash && handled >= session {
                    break; // crashes with this batch in hand, unacknowledged
                }
                subscriber.ack(&batch).await;
                let mut seen = self.seen.lock().expect("not poisoned");
                let acked = seen.acked.entry(group.to_owned()).or_default();
                acked.extend(batch.iter().map(id));
            }
            if crash {
                self.seen
                    .lock()
                    .expect("not poisoned")
                    .crashed_streams
                    .insert(stream);
                drop(subscriber);
            } else {
                subscriber.close().await;
            }
        }
    }

    /// Asserts that each group acknowledged exactly `all` (the ids of every event), none lost, and
    /// that an event was delivered to its group more than once only after a delivery on a stream
    /// that crashed.
    pub fn check(self, all: &HashSet<String>) -> Outcome {
        let seen = self.seen.into_inner().expect("not poisoned");
        let mut redelivered = 0;
        for group in GROUPS {
            assert_eq!(
                &seen.acked[group], all,
                "{group}: every event acknowledged, none lost"
            );
            for event in all {
                let deliveries = &seen.deliveries[&(group.to_owned(), event.clone())];
                let (last, earlier) = deliveries.split_last().expect("delivered");
                assert!(
                    earlier
                        .iter()
                        .all(|(stream, _)| seen.crashed_streams.contains(stream)),
                    "{group} {event}: delivered again after a delivery that was acknowledged: {deliveries:?}"
                );
                // Deliveries the subscribers never saw (sent as a stream ended) count too.
                assert!(
                    last.1 as usize >= deliveries.len(),
                    "{group} {event}: {deliveries:?}"
                );
                redelivered += earlier.len();
            }
        }
        Outcome {
            streams: self.next_stream.into_inner(),
            crashed: seen.crashed_streams.len(),
            redelivered,
        }
    }
}
