//! The guarantees together, under load: two instances of the service share one Redis (for
//! `request_id`s and the sender's send rate) in front of an API that fails at random. Every message
//! is sent twice under one `request_id`, once to each instance, faster than the sender's rate, and
//! each copy is retried as a careful caller would (on `not_sent`, after `RetryInfo`). Then: nothing
//! was delivered twice, every OK answer is a message the API accepted, both copies got the same
//! answer, and every message ended delivered or honestly `unknown`, none silently lost.
//!
//! Bounded: a few hundred messages, a few seconds, loopback only. The faults are random from a
//! seed, printed; `WHATSAPP_GRPC_SOAK_SEED` replays one.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::redis_server::RedisServer;
use common::stack::{Options, Stack};
use common::upstream::read_request_and_body;
use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::idempotency::{IdempotencyConfig, StoreConfig};
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;
use whatsapp_grpc::ratelimit::LimiterConfig;

const MESSAGES: usize = 300;
/// The sender's rate (the Cloud API's default): the 600 calls come far faster.
const PER_SECOND: u32 = 80;
/// Each call's deadline: short enough that some callers find no slot before it.
const DEADLINE: Duration = Duration::from_secs(3);
/// How long a failure that sent nothing stays answered for its request_id (the service's 1 s).
const NOT_SENT_REMEMBERED: Duration = Duration::from_secs(1);
/// A caller gives up retrying `not_sent` after this many calls (it never should have to).
const TRIES: usize = 40;

/// What the API did with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Fault {
    /// Accepted: recorded, answered with a message id.
    None,
    /// 429 with the API's rate-limit error: not processed.
    RateLimited,
    /// 503 "not ready": not processed.
    NotReady,
    /// 500 with the API's generic error: not processed.
    ServerError,
    /// The connection closed before the request was processed.
    DropBefore,
    /// Processed (accepted, recorded), then the connection closed before the answer.
    DropAfter,
}

fn pick(rng: &mut fastrand::Rng) -> Fault {
    match rng.u32(0..100) {
        0..60 => Fault::None,
        60..72 => Fault::RateLimited,
        72..82 => Fault::NotReady,
        82..87 => Fault::ServerError,
        87..94 => Fault::DropBefore,
        _ => Fault::DropAfter,
    }
}

/// The API as the soak sees it: what it accepted, by message, and how often each fault struck.
#[derive(Default)]
struct Api {
    /// Each message's marker to the ids of every time it was accepted.
    accepted: HashMap<String, Vec<String>>,
    faults: HashMap<Fault, usize>,
}

async fn start_api(seed: u64) -> (String, Arc<Mutex<Api>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = Arc::new(Mutex::new(Api::default()));
    let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed)));
    let shared = api.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, shared.clone(), rng.clone()));
        }
    });
    (url, api)
}

async fn serve(mut stream: TcpStream, api: Arc<Mutex<Api>>, rng: Arc<Mutex<fastrand::Rng>>) {
    let mut buffer = Vec::new();
    while let Ok(Some((head, body))) = read_request_and_body(&mut stream, &mut buffer).await {
        if !head.starts_with("post ") {
            // Health probes.
            if answer(&mut stream, 200, "{}").await.is_err() {
                return;
            }
            continue;
        }
        let fault = pick(&mut rng.lock().unwrap());
        let marker = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|body| body["text"]["body"].as_str().map(str::to_owned))
            .expect("a text message");
        let accepted_id = {
            let mut api = api.lock().unwrap();
            *api.faults.entry(fault).or_default() += 1;
            matches!(fault, Fault::None | Fault::DropAfter).then(|| {
                let id = format!("wamid.soak-{marker}-{}", api.accepted.len());
                api.accepted.entry(marker).or_default().push(id.clone());
                id
            })
        };
        let sent = match (fault, accepted_id) {
            (Fault::None, Some(id)) => {
                let json = format!(
                    r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"15550001111","wa_id":"15550001111"}}],"messages":[{{"id":"{id}"}}]}}"#
                );
                answer(&mut stream, 200, &json).await
            }
            (Fault::RateLimited, _) => {
                answer(&mut stream, 429, &api_error(130429, "Rate limit hit")).await
            }
            (Fault::NotReady, _) => {
                answer(&mut stream, 503, &api_error(131016, "Service unavailable")).await
            }
            (Fault::ServerError, _) => {
                answer(&mut stream, 500, &api_error(131000, "Something went wrong")).await
            }
            _ => return, // DropBefore, DropAfter: the connection closes unanswered.
        };
        if sent.is_err() {
            return;
        }
    }
}

fn api_error(code: u32, title: &str) -> String {
    format!(
        r#"{{"error":{{"message":"(#{code}) {title}","type":"OAuthException","code":{code},"fbtrace_id":"AbCdEf"}}}}"#
    )
}

async fn answer(stream: &mut TcpStream, status: u16, json: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        json.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(json.as_bytes()).await
}

/// How one copy of a message ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    Sent(String),
    Unknown,
}

/// What the callers saw along the way.
#[derive(Default)]
struct Seen {
    rate_limited: usize,
    not_sent: usize,
    replayed: usize,
    /// Calls whose deadline passed on the caller's side before any answer came.
    timed_out: usize,
    /// Calls answered `unknown` because their deadline passed while the message was being sent
    /// (on a loaded machine the service, not the caller, sees the deadline pass first).
    deadline_mid_send: usize,
    /// Why each `unknown` answer was given (its ErrorInfo reason), for the failure message.
    unknown_reasons: std::collections::BTreeMap<String, usize>,
}

/// One copy: sent, and on `not_sent`, on a duplicate still in progress, or on a deadline that passed
/// on the caller's side, sent again after the status's `RetryInfo` (at least 100 ms), as a careful
/// caller does.
async fn send_copy(
    mut client: MessagingServiceClient<Channel>,
    marker: String,
    request_id: String,
    seen: Arc<Mutex<Seen>>,
) -> End {
    for _ in 0..TRIES {
        let mut message = request(text(&marker));
        message.request_id = request_id.clone();
        let mut call = tonic::Request::new(message);
        call.set_timeout(DEADLINE);
        let status = match client.send_message(call).await {
            Ok(answer) => {
                if answer.metadata().get("replayed").is_some() {
                    seen.lock().unwrap().replayed += 1;
                }
                return End::Sent(answer.into_inner().message_id);
            }
            Err(status) => status,
        };
        // The caller's own deadline passed (a loaded machine): it cannot know what happened, and
        // asks again with the same request_id.
        if status.get_details_error_info().is_none()
            && matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded)
        {
            seen.lock().unwrap().timed_out += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let info = status
            .get_details_error_info()
            .unwrap_or_else(|| panic!("every failure carries ErrorInfo: {status:?}"));
        let retry = match (status.code(), info.metadata["outcome"].as_str()) {
            (Code::Aborted, _) => None, // REQUEST_IN_PROGRESS: the first copy is still sending.
            (_, "not_sent") => {
                let mut seen = seen.lock().unwrap();
                seen.not_sent += 1;
                if info.reason == "SEND_RATE_LIMITED" {
                    seen.rate_limited += 1;
                }
                let retry = status.get_details_retry_info().and_then(|r| r.retry_delay);
                // A replayed `not_sent` means the request_id still holds that failure (for a
                // second, the README says): coming back sooner only replays it again.
                if status.metadata().get("replayed").is_some() {
                    Some(retry.unwrap_or_default().max(NOT_SENT_REMEMBERED))
                } else {
                    retry
                }
            }
            (code, "unknown") => {
                let mut seen = seen.lock().unwrap();
                *seen.unknown_reasons.entry(info.reason.clone()).or_default() += 1;
                if code == Code::DeadlineExceeded {
                    seen.deadline_mid_send += 1;
                }
                return End::Unknown;
            }
            (_, outcome) => panic!("outcome {outcome:?}: {status:?}"),
        };
        let pause = retry.unwrap_or_default().max(Duration::from_millis(100));
        tokio::time::sleep(pause.min(Duration::from_secs(2))).await;
    }
    panic!("{marker}: still not sent after {TRIES} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_and_faults_nothing_is_sent_twice_and_nothing_is_lost() {
    let seed = std::env::var("WHATSAPP_GRPC_SOAK_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("soak seed {seed} (WHATSAPP_GRPC_SOAK_SEED={seed} replays it)");
    let redis = RedisServer::start();
    let (url, api) = start_api(seed).await;
    let options = || Options {
        upstream_url: Some(url.clone()),
        idempotency: IdempotencyConfig {
            store: StoreConfig::Redis { url: redis.url() },
            ..IdempotencyConfig::default()
        },
        rate_limit: LimiterConfig::Redis { url: redis.url() },
        max_messages_per_second: PER_SECOND,
        max_queued: 1024,
        ..Options::new(Flavor::Cloud)
    };
    let instances = [
        Arc::new(Stack::start_with(options()).await),
        Arc::new(Stack::start_with(options()).await),
    ];

    // Each instance over 4 connections, as a client pool would: 300 calls at once are more than
    // one connection's 128 streams, and calls queued in the client would spend their deadline
    // before the server sees them.
    let mut clients = Vec::new();
    for instance in &instances {
        let mut pool = Vec::new();
        for _ in 0..4 {
            let channel = Endpoint::from_shared(format!("http://{}", instance.grpc_address))
                .unwrap()
                .connect()
                .await
                .expect("connects");
            pool.push(MessagingServiceClient::new(channel));
        }
        clients.push(pool);
    }

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut copies = Vec::new();
    for i in 0..MESSAGES {
        let marker = format!("m{i:04}");
        let request_id = uuid_like(seed, i);
        for pool in &clients {
            copies.push((
                marker.clone(),
                tokio::spawn(send_copy(
                    pool[i % pool.len()].clone(),
                    marker.clone(),
                    request_id.clone(),
                    seen.clone(),
                )),
            ));
        }
    }
    let mut ends: HashMap<String, Vec<End>> = HashMap::new();
    for (marker, copy) in copies {
        ends.entry(marker)
            .or_default()
            .push(copy.await.expect("the copy ran"));
    }

    let api = api.lock().unwrap();
    let seen = seen.lock().unwrap();
    let (mut sent, mut unknown) = (0, 0);
    for (marker, ends) in &ends {
        // Both copies got the same answer.
        assert_eq!(ends[0], ends[1], "{marker}: the two copies differ");
        let accepted = api.accepted.get(marker).map_or(&[][..], Vec::as_slice);
        // Nothing was delivered twice.
        assert!(
            accepted.len() <= 1,
            "{marker} was accepted {} times",
            accepted.len()
        );
        match &ends[0] {
            // An OK answer is a message the API accepted, with the id it gave.
            End::Sent(id) => {
                assert_eq!(accepted, std::slice::from_ref(id), "{marker}");
                sent += 1;
            }
            // The API may have taken it, and the caller was told so.
            End::Unknown => unknown += 1,
        }
    }
    let dropped = api.faults.get(&Fault::DropBefore).unwrap_or(&0)
        + api.faults.get(&Fault::DropAfter).unwrap_or(&0);
    eprintln!(
        "{MESSAGES} messages × 2 copies: {sent} sent, {unknown} unknown; faults {:?}; callers saw {} not_sent ({} for the send rate), {} replayed answers, {} deadlines passed on their side",
        api.faults, seen.not_sent, seen.rate_limited, seen.replayed, seen.timed_out
    );
    assert_eq!(ends.len(), MESSAGES, "every message ended");
    assert_eq!(sent + unknown, MESSAGES);
    // Unknown only where a connection dropped mid-request or a deadline passed mid-send.
    assert!(
        unknown <= dropped + seen.timed_out + seen.deadline_mid_send,
        "{unknown} unknown ({:?}), {dropped} dropped connections, {} calls timed out, {} deadlines passed mid-send",
        seen.unknown_reasons,
        seen.timed_out,
        seen.deadline_mid_send
    );
    // Every message the API accepted was answered OK, or its caller was told it may have been.
    let accepted: usize = api.accepted.values().map(Vec::len).sum();
    assert!(accepted >= sent && accepted <= sent + unknown);
    // The load was really above the rate, and the faults really struck.
    assert!(seen.rate_limited > 0, "no caller ever met the send rate");
    assert!(
        seen.replayed > 0,
        "no duplicate was ever answered from the store"
    );
    for fault in [Fault::RateLimited, Fault::NotReady, Fault::DropBefore] {
        assert!(api.faults.contains_key(&fault), "{fault:?} never struck");
    }
}

/// A UUID-shaped request id, distinct per message and per run.
fn uuid_like(seed: u64, i: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0x1000),
        rng.u16(..0x1000),
        rng.u64(..1 << 48)
    )
}
