//! Several business numbers from one server: two Cloud senders with their own tokens and one
//! On-Premises sender, each on its own recording upstream (a sandbox that accepts only that
//! sender's credentials), as a caller sees them over gRPC.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::health::MESSAGING;
use whatsapp_grpc::idempotency::IdempotencyConfig;
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;
use whatsapp_grpc::proto::{self, SenderFlavor, SenderHealth};
use whatsapp_grpc::ratelimit::LimiterConfig;
use whatsapp_grpc::sandbox::{self, SandboxConfig};
use whatsapp_grpc::senders::{Reload, SenderConfig, health_name};
use whatsapp_grpc::server::{self, ServerConfig, ServerLimits, ShutdownConfig};
use whatsapp_grpc::upstream::{Credentials, Secret, UpstreamConfig};

const ID_A: &str = "100000000000001";
const ID_B: &str = "100000000000002";

/// One recording upstream: a sandbox of its own, with its own credentials.
struct Upstream {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    async fn start(config: SandboxConfig) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = sandbox::serve(listener, config, async {
                let _ = stopped.await;
            })
            .await;
        });
        Upstream {
            url,
            stop: Some(stop),
            task,
        }
    }

    async fn received(&self) -> Vec<Value> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let body = reqwest::get(format!("{}/sandbox/received", self.url))
            .await
            .expect("the sandbox answers")
            .bytes()
            .await
            .expect("a body");
        serde_json::from_slice(&body).expect("JSON")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

fn sandbox_with_token(token: &str) -> SandboxConfig {
    SandboxConfig {
        access_token: token.into(),
        ..Default::default()
    }
}

fn sender(
    name: &str,
    flavor: Flavor,
    id: &str,
    url: &str,
    credentials: Credentials,
) -> SenderConfig {
    SenderConfig {
        name: name.into(),
        display_phone_number: format!("+1 555 {name}"),
        max_messages_per_second: 0,
        upstream: UpstreamConfig {
            flavor,
            base_url: url.into(),
            api_version: "v24.0".into(),
            phone_number_id: id.into(),
            credentials,
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_in_flight: 16,
            max_queued: 64,
            max_attempts: 3,
            http2_prior_knowledge: false,
        },
    }
}

fn token(value: &str) -> Credentials {
    Credentials::AccessToken(Secret::new(value))
}

/// Two Cloud senders, `a` and `b`, with tokens `token-a` and `token-b`, and `c`, an On-Premises
/// installation that logs in; each on its own sandbox.
struct Fleet {
    a: Upstream,
    b: Upstream,
    c: Upstream,
}

impl Fleet {
    async fn start() -> Fleet {
        Fleet {
            a: Upstream::start(sandbox_with_token("token-a")).await,
            b: Upstream::start(sandbox_with_token("token-b")).await,
            c: Upstream::start(SandboxConfig {
                password: "password-c".into(),
                ..sandbox_with_token("token-c")
            })
            .await,
        }
    }

    fn senders(&self) -> Vec<SenderConfig> {
        vec![
            sender("a", Flavor::Cloud, ID_A, &self.a.url, token("token-a")),
            sender("b", Flavor::Cloud, ID_B, &self.b.url, token("token-b")),
            sender(
                "c",
                Flavor::OnPremises,
                "",
                &self.c.url,
                Credentials::Login {
                    username: "admin".into(),
                    password: Secret::new("password-c"),
                },
            ),
        ]
    }
}

/// A server of `senders` on loopback, with `reload` for SIGHUP; a client of it.
async fn serve(senders: Vec<SenderConfig>, reload: Option<Reload>) -> Channel {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = ServerConfig {
        senders,
        reload,
        health_interval: Duration::from_millis(100),
        limits: ServerLimits::default(),
        shutdown: ShutdownConfig::default(),
        idempotency: IdempotencyConfig::default(),
        rate_limit: LimiterConfig::Memory,
        events: Default::default(),
        security: Default::default(),
        webhooks: Default::default(),
        threads: 2,
    };
    tokio::spawn(async move {
        server::serve(listener, config, std::future::pending())
            .await
            .expect("serves");
    });
    tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .expect("connects")
}

fn from(sender: &str) -> proto::SendMessageRequest {
    let mut message = request(text("hello"));
    message.sender = sender.into();
    message
}

async fn wait_for_health(channel: &Channel, service: &str, wanted: ServingStatus) {
    let mut stream = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(answer)) = stream.next().await {
            if answer.status == wanted as i32 {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true), "{service:?} never became {wanted:?}");
}

#[tokio::test]
async fn each_message_reaches_its_senders_upstream_with_its_credentials() {
    let fleet = Fleet::start().await;
    let channel = serve(fleet.senders(), None).await;
    let mut client = MessagingServiceClient::new(channel.clone());

    // By name, and a Cloud sender by its phone number id too.
    for (requested, name) in [("a", "a"), (ID_B, "b"), ("c", "c"), (ID_A, "a")] {
        let answer = client
            .send_message(from(requested))
            .await
            .unwrap_or_else(|status| panic!("{requested}: {status:?}"))
            .into_inner();
        assert_eq!(answer.sender, name);
    }
    let (a, b, c) = (
        fleet.a.received().await,
        fleet.b.received().await,
        fleet.c.received().await,
    );
    assert_eq!((a.len(), b.len(), c.len()), (2, 1, 1), "{a:?} {b:?} {c:?}");
    assert_eq!(a[0]["path"], format!("/v24.0/{ID_A}/messages"));
    assert_eq!(b[0]["path"], format!("/v24.0/{ID_B}/messages"));
    assert_eq!(c[0]["path"], "/v1/messages");

    // A read receipt goes through its sender too.
    client
        .mark_message_read(proto::MarkMessageReadRequest {
            message_id: WAMID.into(),
            sender: "c".into(),
            ..Default::default()
        })
        .await
        .expect("marked read");
    assert_eq!(fleet.c.received().await.len(), 2);
}

#[tokio::test]
async fn a_request_must_name_a_configured_sender_when_there_are_several() {
    let fleet = Fleet::start().await;
    let channel = serve(fleet.senders(), None).await;
    let mut client = MessagingServiceClient::new(channel);

    let status = client.send_message(from("")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad = status.get_details_bad_request().expect("BadRequest");
    assert_eq!(bad.field_violations[0].field, "sender");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "SENDER_REQUIRED");
    assert_eq!(info.metadata["outcome"], "not_sent");

    let status = client.send_message(from("nobody")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "UNKNOWN_SENDER");
    assert!(
        !status.message().contains("nobody"),
        "the caller's text is not echoed"
    );

    // An On-Premises sender has no phone number id: an empty one names nobody either.
    let mut read = proto::MarkMessageReadRequest {
        message_id: WAMID.into(),
        ..Default::default()
    };
    read.sender = "c".into();
    client
        .mark_message_read(read)
        .await
        .expect("named by its name");
    let status = client
        .send_message(from("100000000000003"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    for upstream in [&fleet.a, &fleet.b] {
        assert!(upstream.received().await.is_empty(), "nothing was sent");
    }
    assert_eq!(fleet.c.received().await.len(), 1, "only the read receipt");
}

#[tokio::test]
async fn list_senders_names_each_with_its_flavor_and_health() {
    let fleet = Fleet::start().await;
    let channel = serve(fleet.senders(), None).await;
    for name in ["a", "b", "c"] {
        wait_for_health(&channel, &health_name(name), ServingStatus::Serving).await;
    }
    let senders = MessagingServiceClient::new(channel)
        .list_senders(proto::ListSendersRequest {})
        .await
        .expect("listed")
        .into_inner()
        .senders;
    let seen: Vec<_> = senders
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                SenderFlavor::try_from(s.flavor).unwrap(),
                s.phone_number_id.as_str(),
                SenderHealth::try_from(s.health).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a", SenderFlavor::Cloud, ID_A, SenderHealth::Serving),
            ("b", SenderFlavor::Cloud, ID_B, SenderHealth::Serving),
            ("c", SenderFlavor::OnPremises, "", SenderHealth::Serving),
        ]
    );
    assert_eq!(senders[0].display_phone_number, "+1 555 a");
}

#[tokio::test]
async fn one_senders_api_down_leaves_the_others_serving() {
    let fleet = Fleet::start().await;
    let channel = serve(fleet.senders(), None).await;
    for name in ["a", "b", "c"] {
        wait_for_health(&channel, &health_name(name), ServingStatus::Serving).await;
    }
    let Fleet { a, b, c } = fleet;
    b.stop().await;
    wait_for_health(&channel, &health_name("b"), ServingStatus::NotServing).await;

    let mut client = MessagingServiceClient::new(channel.clone());
    let status = client.send_message(from("b")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    for name in ["a", "c"] {
        client
            .send_message(from(name))
            .await
            .unwrap_or_else(|status| panic!("{name}: {status:?}"));
    }
    let mut health = HealthClient::new(channel);
    for (service, wanted) in [
        (health_name("a"), ServingStatus::Serving),
        (health_name("c"), ServingStatus::Serving),
        (health_name("b"), ServingStatus::NotServing),
        // While any sender's API is up, the messaging service is.
        (MESSAGING.to_owned(), ServingStatus::Serving),
        (String::new(), ServingStatus::Serving),
    ] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await
            .expect("checked")
            .into_inner();
        assert_eq!(answer.status, wanted as i32, "{service:?}");
    }
    assert_eq!(a.received().await.len(), 1);
    assert_eq!(c.received().await.len(), 1);
}

#[tokio::test]
async fn a_reload_adds_and_removes_senders_while_calls_are_in_flight() {
    let fleet = Fleet::start().await;
    let slow = Upstream::start(SandboxConfig {
        slow_answer: Duration::from_millis(800),
        ..sandbox_with_token("token-a")
    })
    .await;
    let mut configs = fleet.senders();
    // `a` answers slowly: a call to it is in flight while it is removed.
    configs[0] = sender("a", Flavor::Cloud, ID_A, &slow.url, token("token-a"));
    let next: Arc<Mutex<Result<Vec<SenderConfig>, String>>> =
        Arc::new(Mutex::new(Ok(configs.clone())));
    let reload = {
        let next = next.clone();
        Reload(Arc::new(move || next.lock().unwrap().clone()))
    };
    let channel = serve(configs.clone(), Some(reload)).await;
    let mut client = MessagingServiceClient::new(channel.clone());

    let mut in_flight = client.clone();
    let call = tokio::spawn(async move {
        let mut message = from("a");
        message.to = "15550000408".into();
        in_flight.send_message(message).await
    });
    let reached = tokio::time::timeout(Duration::from_secs(10), async {
        while slow.received().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "the slow call reached its upstream");

    // Remove `a`, add `d` (a second number on b's upstream, with b's token).
    let mut reloaded = configs[1..].to_vec();
    reloaded.push(sender(
        "d",
        Flavor::Cloud,
        "100000000000004",
        &fleet.b.url,
        token("token-b"),
    ));
    *next.lock().unwrap() = Ok(reloaded);
    hang_up();
    let added = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if client.send_message(from("d")).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(added.is_ok(), "sender d was never added");
    let status = client.send_message(from("a")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "a was removed");
    let answer = call
        .await
        .unwrap()
        .expect("the call in flight on a finished");
    assert_eq!(answer.into_inner().sender, "a");
    let check = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: health_name("a"),
        })
        .await
        .unwrap_err();
    assert_eq!(check.code(), Code::NotFound, "a's health name is gone");

    // A broken configuration is refused: the running senders stay.
    *next.lock().unwrap() = Err("senders.toml: sender[0]: broken".into());
    hang_up();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for name in ["b", "c", "d"] {
        client
            .send_message(from(name))
            .await
            .unwrap_or_else(|status| panic!("{name}: {status:?}"));
    }
}

/// Sends SIGHUP to this test process, as an operator does to the service.
fn hang_up() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}
