//! HTTP/2 towards the API: an `https://` upstream that offers `h2` in the TLS handshake (ALPN), as
//! the Cloud API does, is spoken to in HTTP/2; one that offers only HTTP/1.1 still gets HTTP/1.1;
//! a plaintext upstream gets HTTP/1.1 unless `--upstream-http2-prior-knowledge` says it speaks
//! h2c. Each test runs the real binary against a real HTTP server on loopback that records the
//! protocol version of every request it receives.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{BINARY, Service};
use common::*;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{CertificateParams, KeyPair};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;

const SENT: &str = r#"{"messaging_product":"whatsapp","contacts":[{"input":"15550001111","wa_id":"15550001111"}],"messages":[{"id":"wamid.h2","message_status":"accepted"}]}"#;

/// The method, path and HTTP version of each request an upstream received.
type Seen = Arc<Mutex<Vec<(String, String, http::Version)>>>;

/// A Cloud API stand-in on loopback that answers every request as a sent message, speaking
/// HTTP/1.1 and HTTP/2 (h2c with prior knowledge in plaintext; over TLS, whatever ALPN chose,
/// among the protocols `alpn` offers). Answers its base URL and what it saw.
async fn upstream(tls: Option<(&Pki, &[&[u8]])>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let acceptor = tls.map(|(pki, alpn)| {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let mut config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![pki.cert.clone()],
                PrivateKeyDer::Pkcs8(pki.key.clone_key()),
            )
            .expect("TLS config");
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    });
    let url = match acceptor {
        Some(_) => format!("https://localhost:{port}"),
        None => format!("http://127.0.0.1:{port}"),
    };
    let seen = Seen::default();
    let recorded = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = recorded.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        seen.lock().expect("the record").push((
                            request.method().to_string(),
                            request.uri().path().to_owned(),
                            request.version(),
                        ));
                        async {
                            http::Response::builder()
                                .header("content-type", "application/json")
                                .body(SENT.to_owned())
                        }
                    },
                );
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = match acceptor {
                    Some(acceptor) => {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        builder.serve_connection(TokioIo::new(tls), service).await
                    }
                    None => builder.serve_connection(TokioIo::new(tcp), service).await,
                };
            });
        }
    });
    (url, seen)
}

/// A self-signed certificate for `localhost`, and its PEM to trust.
struct Pki {
    pem: String,
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn pki() -> Pki {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    Pki {
        pem: cert.pem(),
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// Starts the binary sending to `url` with `extra` flags, sends one text message through it over
/// gRPC, and answers the versions of the message requests the upstream saw.
async fn send_one(url: &str, extra: &[&str], seen: &Seen) -> Vec<http::Version> {
    let mut command = cloud_service(url);
    command.args(extra);
    let service = Service::launch(command).await;
    send_text(&service, "hello over HTTP/2").await;
    message_posts(seen)
}

/// `whatsapp-grpc serve` for the Cloud number `1234567890` of the API at `url`, with a token.
fn cloud_service(url: &str) -> std::process::Command {
    let mut command = std::process::Command::new(BINARY);
    command
        .args([
            "serve",
            "--flavor",
            "cloud",
            "--phone-number-id",
            "1234567890",
            "--upstream-url",
            url,
        ])
        .env("WHATSAPP_GRPC_ACCESS_TOKEN", "test-token");
    command
}

/// Sends one text message through `service` over gRPC; the upstream stand-in must have taken it.
async fn send_text(service: &Service, body: &str) {
    let mut client = MessagingServiceClient::new(service.channel().await);
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        client.send_message(request(text(body))),
    )
    .await
    .expect("an answer in time")
    .unwrap_or_else(|status| panic!("sent: {status:?}\n{}", service.log()))
    .into_inner();
    assert_eq!(response.message_id, "wamid.h2");
}

/// The HTTP versions of the message requests an upstream saw.
fn message_posts(seen: &Seen) -> Vec<http::Version> {
    let seen = seen.lock().expect("the record");
    seen.iter()
        .filter(|(method, path, _)| method == "POST" && path == "/v24.0/1234567890/messages")
        .map(|(_, _, version)| *version)
        .collect()
}

#[tokio::test]
async fn a_tls_upstream_that_offers_h2_is_spoken_to_in_http2() {
    let pki = pki();
    let (url, seen) = upstream(Some((&pki, &[b"h2", b"http/1.1"]))).await;
    let ca = tempfile_with(&pki.pem);
    let versions = send_one(&url, &["--upstream-ca-file", ca.path()], &seen).await;
    assert_eq!(versions, [http::Version::HTTP_2]);
}

#[tokio::test]
async fn a_tls_upstream_that_offers_only_http1_gets_http1() {
    let pki = pki();
    let (url, seen) = upstream(Some((&pki, &[b"http/1.1"]))).await;
    let ca = tempfile_with(&pki.pem);
    let versions = send_one(&url, &["--upstream-ca-file", ca.path()], &seen).await;
    assert_eq!(versions, [http::Version::HTTP_11]);
}

#[tokio::test]
async fn a_plaintext_upstream_gets_http1_unless_told_it_speaks_h2c() {
    let (url, seen) = upstream(None).await;
    let versions = send_one(&url, &[], &seen).await;
    assert_eq!(versions, [http::Version::HTTP_11]);

    let (url, seen) = upstream(None).await;
    let versions = send_one(&url, &["--upstream-http2-prior-knowledge"], &seen).await;
    assert_eq!(versions, [http::Version::HTTP_2]);

    // The same from the environment.
    let (url, seen) = upstream(None).await;
    let service = {
        let mut command = cloud_service(&url);
        command.env("WHATSAPP_GRPC_UPSTREAM_HTTP2_PRIOR_KNOWLEDGE", "true");
        Service::launch(command).await
    };
    send_text(&service, "hello over h2c").await;
    assert_eq!(message_posts(&seen), [http::Version::HTTP_2]);
}

#[test]
fn prior_knowledge_is_refused_for_https_and_the_sandbox() {
    for (args, named) in [
        (
            vec![
                "--flavor",
                "cloud",
                "--phone-number-id",
                "1234567890",
                "--upstream-url",
                "https://graph.example.com",
                "--upstream-http2-prior-knowledge",
            ],
            "graph.example.com",
        ),
        // Without --upstream-url, a Cloud sender sends to the Graph API over TLS.
        (
            vec![
                "--flavor",
                "cloud",
                "--phone-number-id",
                "1234567890",
                "--upstream-http2-prior-knowledge",
            ],
            "https://",
        ),
        (
            vec!["--sandbox", "--upstream-http2-prior-knowledge"],
            "sandbox",
        ),
    ] {
        let output = std::process::Command::new(BINARY)
            .arg("serve")
            .args(&args)
            .args(["--listen", "127.0.0.1:0"])
            .env("WHATSAPP_ACCESS_TOKEN", "test-token")
            .output()
            .expect("the binary runs");
        assert!(!output.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--upstream-http2-prior-knowledge") && stderr.contains(named),
            "{args:?}: {stderr}"
        );
    }
}

/// A file holding `text`, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tempfile_with(text: &str) -> TempFile {
    let path = std::env::temp_dir().join(format!(
        "whatsapp-grpc-h2-{}-{}.pem",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&path, text).expect("written");
    TempFile(path)
}

/// With a proxy named in the environment (`HTTP_PROXY` here, `HTTPS_PROXY` for an https:// API),
/// the calls go through it, as they did before the message path had its own client: the service
/// leaves such an upstream to `reqwest`, which speaks to proxies.
#[tokio::test]
async fn a_proxy_named_in_the_environment_carries_the_calls() {
    // The proxy answers as the API would; the API's own address has nothing listening.
    let (proxy, seen) = upstream(None).await;
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let service = {
        let mut command = cloud_service(&api);
        command
            .env("HTTP_PROXY", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("REQUEST_METHOD");
        Service::launch(command).await
    };
    send_text(&service, "hello through a proxy").await;
    assert_eq!(message_posts(&seen), [http::Version::HTTP_11]);
}

/// What an HTTP/2 upstream written with `h2` directly does with the message requests it gets.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Allows `max_streams` streams at once on a connection, and answers each after `delay`.
    Slow { max_streams: u32, delay: Duration },
    /// Resets the first message request's stream with `REFUSED_STREAM` (unprocessed, RFC 9113),
    /// then answers.
    RefusesTheFirst,
    /// Answers one request per connection, then closes it gracefully (`GOAWAY`).
    OneAnswerPerConnection,
}

/// What such an upstream saw: its connections, the message requests it received, and those it
/// answered.
#[derive(Default)]
struct Counted {
    connections: std::sync::atomic::AtomicUsize,
    received: std::sync::atomic::AtomicUsize,
    answered: std::sync::atomic::AtomicUsize,
    /// The connections (by order of arrival) that carried message requests.
    carrying_messages: Mutex<std::collections::BTreeSet<usize>>,
}

impl Counted {
    fn get(counter: &std::sync::atomic::AtomicUsize) -> usize {
        counter.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// An h2c upstream on loopback behaving as `behaviour`; answers its base URL and its counts.
async fn h2_upstream(behaviour: Behaviour) -> (String, Arc<Counted>) {
    use std::sync::atomic::Ordering::SeqCst;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let counted = Arc::new(Counted::default());
    let counts = counted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let connection_number = counts.connections.fetch_add(1, SeqCst);
            let counts = counts.clone();
            tokio::spawn(async move {
                let mut builder = h2::server::Builder::new();
                let mut delay = Duration::ZERO;
                if let Behaviour::Slow {
                    max_streams,
                    delay: slow,
                } = behaviour
                {
                    builder.max_concurrent_streams(max_streams);
                    delay = slow;
                }
                let Ok(mut connection) = builder.handshake::<_, bytes::Bytes>(tcp).await else {
                    return;
                };
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    let message = request.method() == http::Method::POST;
                    if message {
                        counts
                            .carrying_messages
                            .lock()
                            .expect("the record")
                            .insert(connection_number);
                        let received = counts.received.fetch_add(1, SeqCst) + 1;
                        if matches!(behaviour, Behaviour::RefusesTheFirst) && received == 1 {
                            respond.send_reset(h2::Reason::REFUSED_STREAM);
                            continue;
                        }
                    }
                    let counts = counts.clone();
                    let answer = async move {
                        let mut body = request.into_body();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        tokio::time::sleep(delay).await;
                        let head = http::Response::builder()
                            .header("content-type", "application/json")
                            .body(())
                            .expect("a response head");
                        if let Ok(mut stream) = respond.send_response(head, false) {
                            let sent =
                                stream.send_data(bytes::Bytes::from_static(SENT.as_bytes()), true);
                            if sent.is_ok() && message {
                                counts.answered.fetch_add(1, SeqCst);
                            }
                        }
                    };
                    if let Behaviour::OneAnswerPerConnection = behaviour {
                        answer.await;
                        if message {
                            connection.graceful_shutdown();
                        }
                    } else {
                        tokio::spawn(answer);
                    }
                }
            });
        }
    });
    (url, counted)
}

/// The service sending to `url` in h2c.
async fn h2c_service(url: &str) -> Service {
    let mut command = cloud_service(url);
    command.arg("--upstream-http2-prior-knowledge");
    Service::launch(command).await
}

/// An API that allows one stream per connection gets the calls that find its connection busy on
/// another connection, rather than queued behind one another (hyper's client, which the message
/// path used before, never opens a second HTTP/2 connection to a host).
#[tokio::test]
async fn calls_beyond_the_streams_a_connection_allows_go_over_another() {
    let (url, counted) = h2_upstream(Behaviour::Slow {
        max_streams: 1,
        delay: Duration::from_millis(300),
    })
    .await;
    let service = h2c_service(&url).await;
    // The first call opens a connection and learns the API's settings.
    send_text(&service, "first").await;
    let calls = (0..4).map(|i| {
        let service = &service;
        async move { send_text(service, &format!("at once {i}")).await }
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(Counted::get(&counted.received), 5);
    assert_eq!(Counted::get(&counted.answered), 5);
    assert!(
        Counted::get(&counted.connections) >= 2,
        "{} connection(s) for 4 calls at once, 1 stream each",
        Counted::get(&counted.connections)
    );
}

/// A stream the API resets with `REFUSED_STREAM` was not processed (RFC 9113 §8.7): the call is
/// sent again and succeeds, and the API answered it once.
#[tokio::test]
async fn a_stream_the_api_refuses_unprocessed_is_sent_again() {
    let (url, counted) = h2_upstream(Behaviour::RefusesTheFirst).await;
    let service = h2c_service(&url).await;
    send_text(&service, "refused, then sent").await;
    assert_eq!(Counted::get(&counted.received), 2);
    assert_eq!(Counted::get(&counted.answered), 1);
}

/// An API that closes its connection after each answer (as servers do to idle or old ones) gets
/// each call on a new one; none is lost or sent twice.
#[tokio::test]
async fn a_connection_the_api_closed_is_replaced() {
    let (url, counted) = h2_upstream(Behaviour::OneAnswerPerConnection).await;
    let service = h2c_service(&url).await;
    for i in 0..3 {
        send_text(&service, &format!("call {i}")).await;
    }
    assert_eq!(Counted::get(&counted.answered), 3);
    assert_eq!(Counted::get(&counted.received), 3);
    assert!(Counted::get(&counted.connections) >= 3);
}

/// Senders on the same API share its HTTP/2 connections: two numbers' calls, made one after the
/// other over one gRPC connection (so on one event loop), go over one connection to the API.
#[tokio::test]
async fn senders_on_the_same_api_share_its_connections() {
    let (url, counted) = h2_upstream(Behaviour::Slow {
        max_streams: 100,
        delay: Duration::ZERO,
    })
    .await;
    let senders = tempfile_with(&format!(
        "[[sender]]\nname = \"first\"\nflavor = \"cloud\"\nphone_number_id = \"1234567890\"\n\
         base_url = \"{url}\"\ntoken_env = \"WHATSAPP_GRPC_ACCESS_TOKEN\"\n\n\
         [[sender]]\nname = \"second\"\nflavor = \"cloud\"\nphone_number_id = \"1234567891\"\n\
         base_url = \"{url}\"\ntoken_env = \"WHATSAPP_GRPC_ACCESS_TOKEN\"\n"
    ));
    let mut command = std::process::Command::new(BINARY);
    command
        .args([
            "serve",
            "--senders",
            senders.path(),
            "--upstream-http2-prior-knowledge",
        ])
        .env("WHATSAPP_GRPC_ACCESS_TOKEN", "test-token");
    let service = Service::launch(command).await;
    let mut client = MessagingServiceClient::new(service.channel().await);
    for sender in ["first", "second", "first", "second"] {
        let mut message = request(text("shared"));
        message.sender = sender.into();
        let sent = tokio::time::timeout(Duration::from_secs(10), client.send_message(message))
            .await
            .expect("an answer in time")
            .unwrap_or_else(|status| panic!("sent: {status:?}\n{}", service.log()));
        assert_eq!(sent.into_inner().message_id, "wamid.h2");
    }
    assert_eq!(Counted::get(&counted.answered), 4);
    let carrying = counted.carrying_messages.lock().expect("the record").len();
    assert_eq!(
        carrying, 1,
        "the two senders' messages went over {carrying} connections"
    );
}
