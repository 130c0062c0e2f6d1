//! The load generator: gRPC calls over several connections (tonic channels, one HTTP/2 connection
//! each) or JSON posts over HTTP, in a closed loop (every worker sends its next call when the last
//! one is answered: full throughput) or an open loop (calls sent at a fixed rate whatever the
//! answers, latency counted from when each call was due, so a stall is not hidden).
//!
//! Every answer is checked: a gRPC status other than OK, an OK without a message id, an HTTP status
//! other than 200 or no answer within [`CALL_TIMEOUT`] is an error, counted by kind and never as
//! throughput. Every loop stops at its end time and after at most [`MAX_CALLS`] calls.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::proto::{self, messaging_service_client::MessagingServiceClient};
use bytes::Bytes;
use hdrhistogram::Histogram;
use tonic::transport::Channel;

/// How long a call may take before it counts as an error.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most calls one loop sends, whatever its duration.
pub const MAX_CALLS: u64 = 50_000_000;
/// The highest latency recorded, in microseconds (longer ones are clamped to it).
const HIGHEST_US: u64 = 60_000_000;

/// Where the calls go.
pub enum Target {
    /// `SendMessage` over these connections, round robin; each call names one of `senders` in turn
    /// (none when empty).
    Grpc {
        channels: Vec<Channel>,
        senders: Vec<String>,
    },
    /// A POST of the JSON body to this URL.
    Http {
        client: reqwest::Client,
        url: String,
    },
}

/// What each call sends.
pub enum Payload {
    Grpc(Box<proto::SendMessageRequest>),
    Http(Bytes),
}

/// Unique `request_id`s: a random prefix per run, then a counter, in UUID form.
pub struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new() -> RequestIds {
        RequestIds {
            prefix: fastrand::u64(..),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let p = self.prefix;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            p >> 32,
            (p >> 16) & 0xffff,
            p & 0xfff,
            (n >> 48) & 0xfff,
            n & 0xffff_ffff_ffff
        )
    }
}

/// The schedule of one measurement: calls from `start`, counted from `window_start` to `window_end`.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub start: Instant,
    pub window_start: Instant,
    pub window_end: Instant,
}

impl Schedule {
    pub fn new(warmup: Duration, window: Duration) -> Schedule {
        // A moment to set up before the first call.
        let start = Instant::now() + Duration::from_millis(50);
        Schedule {
            start,
            window_start: start + warmup,
            window_end: start + warmup + window,
        }
    }

    pub fn window(&self) -> Duration {
        self.window_end - self.window_start
    }

    fn in_window(&self, at: Instant) -> bool {
        at >= self.window_start && at <= self.window_end
    }
}

/// What a measurement counted.
pub struct Tally {
    /// OK answers counted in the window.
    pub ok: u64,
    /// Every answer that was not OK, warm-up included, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Open loop: calls not sent because too many were already waiting for an answer.
    pub not_sent: u64,
    /// Latencies of the OK answers counted, in microseconds.
    pub latency: Histogram<u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            ok: 0,
            errors: BTreeMap::new(),
            not_sent: 0,
            latency: Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid bounds"),
        }
    }

    fn record(&mut self, result: Result<(), String>, latency: Duration, counted: bool) {
        match result {
            Ok(()) if counted => {
                self.ok += 1;
                let us = (latency.as_micros() as u64).clamp(1, HIGHEST_US);
                self.latency.saturating_record(us);
            }
            Ok(()) => {}
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.not_sent += other.not_sent;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        let _ = self.latency.add(&other.latency);
    }
}

/// One call; `Err` names what went wrong.
async fn call(target: &Target, payload: &Payload, n: u64, ids: &RequestIds) -> Result<(), String> {
    match (target, payload) {
        (Target::Grpc { channels, senders }, Payload::Grpc(request)) => {
            let mut request = (**request).clone();
            request.request_id = ids.next();
            if !senders.is_empty() {
                request.sender = senders[(n % senders.len() as u64) as usize].clone();
            }
            let channel = channels[(n % channels.len() as u64) as usize].clone();
            let mut request = tonic::Request::new(request);
            request.set_timeout(CALL_TIMEOUT);
            let answer = tokio::time::timeout(
                CALL_TIMEOUT + Duration::from_secs(1),
                MessagingServiceClient::new(channel).send_message(request),
            )
            .await;
            match answer {
                Ok(Ok(answer)) if !answer.get_ref().message_id.is_empty() => Ok(()),
                Ok(Ok(_)) => Err("OK without a message id".into()),
                Ok(Err(status)) => Err(format!("{:?}", status.code())),
                Err(_) => Err("no answer in time".into()),
            }
        }
        (Target::Http { client, url }, Payload::Http(body)) => {
            let post = async {
                let answer = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("authorization", "Bearer bench-token")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| format!("HTTP error: {e}"))?;
                let status = answer.status();
                let body = answer
                    .bytes()
                    .await
                    .map_err(|e| format!("HTTP error: {e}"))?;
                if status != reqwest::StatusCode::OK || body.is_empty() {
                    return Err(format!("HTTP {}", status.as_u16()));
                }
                Ok(())
            };
            tokio::time::timeout(CALL_TIMEOUT, post)
                .await
                .unwrap_or_else(|_| Err("no answer in time".into()))
        }
        _ => Err("a payload of the wrong kind for the target".into()),
    }
}

/// `workers` calls in flight at all times until the window ends.
pub async fn closed_loop(
    target: Arc<Target>,
    payload: Arc<Payload>,
    ids: Arc<RequestIds>,
    workers: usize,
    schedule: Schedule,
) -> Result<Tally, String> {
    tokio::time::sleep_until(schedule.start.into()).await;
    let per_worker = MAX_CALLS / workers.max(1) as u64;
    let tasks: Vec<_> = (0..workers as u64)
        .map(|worker| {
            let (target, payload, ids) = (target.clone(), payload.clone(), ids.clone());
            tokio::spawn(async move {
                let mut tally = Tally::new();
                let mut n = worker;
                for _ in 0..per_worker {
                    let sent = Instant::now();
                    if sent >= schedule.window_end {
                        break;
                    }
                    let result = call(&target, &payload, n, &ids).await;
                    let done = Instant::now();
                    tally.record(result, done - sent, schedule.in_window(done));
                    n += workers as u64;
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::new();
    let deadline = schedule.window_end + CALL_TIMEOUT + Duration::from_secs(5);
    for task in tasks {
        let tally = tokio::time::timeout_at(deadline.into(), task)
            .await
            .map_err(|_| "a load worker did not finish in time".to_string())?
            .map_err(|e| format!("a load worker failed: {e}"))?;
        total.merge(tally);
    }
    Ok(total)
}

/// Calls sent at `rate` per second, each when it is due (a thread keeps the time: tokio's timer
/// has a millisecond's granularity, as long as a call at 1,000 per second), at most `max_in_flight`
/// waiting for an answer at once (past that, calls are not sent and counted as `not_sent`: the
/// target cannot keep up with the rate). Latency is counted from when a call was due.
pub async fn open_loop(
    target: Arc<Target>,
    payload: Arc<Payload>,
    ids: Arc<RequestIds>,
    rate: f64,
    max_in_flight: usize,
    schedule: Schedule,
) -> Result<Tally, String> {
    let runtime = tokio::runtime::Handle::current();
    let tally = Arc::new(Mutex::new(Tally::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let total =
        (((schedule.window_end - schedule.start).as_secs_f64() * rate) as u64).min(MAX_CALLS);
    let pacer = std::thread::spawn({
        let (tally, in_flight) = (tally.clone(), in_flight.clone());
        move || {
            let mut not_sent = 0;
            for n in 0..total {
                let due = schedule.start + Duration::from_secs_f64(n as f64 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if in_flight.load(Ordering::Acquire) >= max_in_flight {
                    if schedule.in_window(due) {
                        not_sent += 1;
                    }
                    continue;
                }
                in_flight.fetch_add(1, Ordering::AcqRel);
                let (target, payload, ids) = (target.clone(), payload.clone(), ids.clone());
                let (tally, in_flight) = (tally.clone(), in_flight.clone());
                runtime.spawn(async move {
                    let result = call(&target, &payload, n, &ids).await;
                    let latency = Instant::now().saturating_duration_since(due);
                    if let Ok(mut tally) = tally.lock() {
                        tally.record(result, latency, schedule.in_window(due));
                    }
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                });
            }
            not_sent
        }
    });
    let deadline = schedule.window_end + CALL_TIMEOUT + Duration::from_secs(5);
    let not_sent = tokio::time::timeout_at(
        deadline.into(),
        tokio::task::spawn_blocking(move || pacer.join()),
    )
    .await
    .map_err(|_| "the pacing thread did not finish in time".to_string())?
    .map_err(|e| format!("the pacing thread: {e}"))?
    .map_err(|_| "the pacing thread panicked".to_string())?;
    while in_flight.load(Ordering::Acquire) > 0 {
        if Instant::now() > deadline {
            return Err("calls were still unanswered past their timeout".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut total = std::mem::replace(
        &mut *tally.lock().map_err(|_| "the tally's lock")?,
        Tally::new(),
    );
    total.not_sent = not_sent;
    Ok(total)
}
