//! TLS and caller authentication on the service's own gRPC listener (`--tls-cert`, `--tls-key`,
//! `--tls-client-ca`, `--api-keys`), with certificates generated for each test and real TLS
//! connections. (`tests/tls.rs` is about the upstream's TLS.)

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::process::{BINARY, Service};
use common::stack::{Options, Stack};
use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::api_keys::{ApiKeysConfig, hash_key};
use whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient;
use whatsapp_grpc::proto::{SendMessageRequest, SendMessageResponse};
use whatsapp_grpc::server::{ConnectionLimits, SecurityConfig, ServerLimits, TlsConfig};

/// A certificate authority of its own.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A certificate and its key, PEM.
struct Pair {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost`.
    fn server(&self) -> Pair {
        self.issue("localhost", ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate naming `name`.
    fn client(&self, name: &str) -> Pair {
        self.issue(name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, name: &str, purpose: ExtendedKeyUsagePurpose) -> Pair {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec![name.to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![purpose];
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// A directory laid out as Kubernetes mounts a Secret: `tls.crt` and `tls.key` are symlinks
/// through `..data`, itself a symlink to the current version's directory, swapped atomically on
/// each update. Removed when dropped.
struct SecretVolume(PathBuf);

impl SecretVolume {
    fn new(test: &str, pair: &Pair) -> SecretVolume {
        let dir = std::env::temp_dir().join(format!(
            "whatsapp-grpc-server-tls-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a directory");
        let volume = SecretVolume(dir);
        volume.publish("v1", pair);
        for file in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{file}"), volume.0.join(file))
                .expect("a symlink");
        }
        volume
    }

    /// Writes `pair` as a new version and swaps `..data` to it in one rename.
    fn publish(&self, version: &str, pair: &Pair) {
        let dir = self.0.join(version);
        std::fs::create_dir_all(&dir).expect("a directory");
        std::fs::write(dir.join("tls.crt"), &pair.cert_pem).expect("writes");
        std::fs::write(dir.join("tls.key"), &pair.key_pem).expect("writes");
        let swap = self.0.join("..data_tmp");
        let _ = std::fs::remove_file(&swap);
        std::os::unix::fs::symlink(version, &swap).expect("a symlink");
        std::fs::rename(&swap, self.0.join("..data")).expect("the swap");
    }

    /// Writes a file of the volume, as a program writing in place would.
    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("writes");
        path
    }

    fn cert(&self) -> PathBuf {
        self.0.join("tls.crt")
    }

    fn key(&self) -> PathBuf {
        self.0.join("tls.key")
    }

    fn tls(&self) -> TlsConfig {
        TlsConfig {
            reload_interval: Duration::from_millis(50),
            ..TlsConfig::new(self.cert(), self.key())
        }
    }
}

impl Drop for SecretVolume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A client's TLS: the CA it trusts and, for mTLS, its certificate.
fn client_tls(trusted: &Ca, identity: Option<&Pair>) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&trusted.pem))
        .domain_name("localhost");
    match identity {
        Some(pair) => tls.identity(Identity::from_pem(&pair.cert_pem, &pair.key_pem)),
        None => tls,
    }
}

/// A new connection to `address` over TLS.
async fn connect(address: SocketAddr, tls: ClientTlsConfig) -> Result<Channel, String> {
    Endpoint::from_shared(format!("https://{address}"))
        .and_then(|endpoint| endpoint.tls_config(tls))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))
}

/// `message` with `authorization: Bearer <key>`, if a key is given.
fn authorized<T>(message: T, key: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(key) = key {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {key}").parse().expect("a metadata value"),
        );
    }
    request
}

/// Sends a text on a new TLS connection; any failure, connecting or calling, as text.
async fn send_over(
    address: SocketAddr,
    tls: ClientTlsConfig,
) -> Result<SendMessageResponse, String> {
    let channel = connect(address, tls).await?;
    MessagingServiceClient::new(channel)
        .send_message(request(text("over TLS")))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("{status:?}"))
}

/// The certificate the server presents to a new connection, checked against `trusted` and with
/// HTTP/2 negotiated by ALPN.
async fn presented_certificate(address: SocketAddr, trusted: &Ca) -> CertificateDer<'static> {
    let mut roots = RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(trusted.pem.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("a CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(address).await.expect("connects");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("a name"), tcp)
        .await
        .expect("a TLS handshake");
    let (_, session) = tls.get_ref();
    assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
    session.peer_certificates().expect("a certificate")[0].clone()
}

/// A stack serving over TLS with `security`, its own client trusting `ca` (with `identity`).
async fn tls_stack(
    security: SecurityConfig,
    ca: &Ca,
    identity: Option<&Pair>,
    limits: ServerLimits,
) -> Stack {
    Stack::start_with(Options {
        security,
        client_tls: Some(client_tls(ca, identity)),
        limits,
        ..Options::new(Flavor::Cloud)
    })
    .await
}

#[tokio::test]
async fn a_client_that_trusts_the_ca_is_served_over_tls_and_others_are_not() {
    let ca = Ca::new("server CA");
    let volume = SecretVolume::new("trust", &ca.server());
    let security = SecurityConfig {
        tls: Some(volume.tls()),
        api_keys: None,
    };
    let mut stack = tls_stack(security, &ca, None, ServerLimits::default()).await;

    let sent = stack
        .client
        .send_message(request(text("over TLS")))
        .await
        .expect("sent over TLS")
        .into_inner();
    assert!(sent.message_id.starts_with("wamid."), "{sent:?}");
    assert_eq!(
        stack.health("").await,
        ServingStatus::Serving,
        "health over TLS"
    );

    let stranger = Ca::new("another CA");
    let refused = send_over(stack.grpc_address, client_tls(&stranger, None)).await;
    assert!(refused.is_err(), "a client that does not trust the CA");

    // A client speaking plaintext HTTP/2 to the TLS port gets nowhere either.
    let plaintext = async {
        let channel = Endpoint::from_shared(format!("http://{}", stack.grpc_address))
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        MessagingServiceClient::new(channel)
            .send_message(request(text("in clear")))
            .await
            .map_err(|status| status.to_string())
    }
    .await;
    assert!(plaintext.is_err(), "plaintext to the TLS port");
    assert_eq!(stack.received().await.len(), 1, "only the TLS client sent");
}

/// A stack serving over TLS from `volume`, requiring client certificates of `clients` (mTLS), no
/// API keys; its own client trusts `ca` and presents `identity`.
async fn mtls_stack(volume: &SecretVolume, ca: &Ca, clients: &Ca, identity: &Pair) -> Stack {
    let client_ca = volume.write("clients-ca.pem", &clients.pem);
    let security = SecurityConfig {
        tls: Some(TlsConfig {
            client_ca: Some(client_ca),
            ..volume.tls()
        }),
        api_keys: None,
    };
    tls_stack(security, ca, Some(identity), ServerLimits::default()).await
}

#[tokio::test]
async fn mtls_serves_only_clients_with_a_certificate_of_the_client_ca() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("clients CA");
    let volume = SecretVolume::new("mtls", &ca.server());
    let billing = clients.client("billing");
    let mut stack = mtls_stack(&volume, &ca, &clients, &billing).await;

    stack
        .client
        .send_message(request(text("with a good certificate")))
        .await
        .expect("a client certificate of the client CA is served");

    let stranger = Ca::new("another CA").client("billing");
    let other_ca = send_over(stack.grpc_address, client_tls(&ca, Some(&stranger))).await;
    assert!(
        other_ca.is_err(),
        "a client certificate of another CA: {other_ca:?}"
    );
    let none = send_over(stack.grpc_address, client_tls(&ca, None)).await;
    assert!(none.is_err(), "no client certificate: {none:?}");
    let again = send_over(stack.grpc_address, client_tls(&ca, Some(&billing))).await;
    assert!(
        again.is_ok(),
        "a new connection with the good one: {again:?}"
    );
    assert_eq!(stack.received().await.len(), 2, "only the good client sent");
}

/// With mTLS and no API keys, the client certificate names the caller: two clients using one
/// `request_id` each send their own message, and a renewed certificate (a new key, the same name)
/// still finds its first answer.
#[tokio::test]
async fn request_ids_are_scoped_by_client_certificate() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("clients CA");
    let volume = SecretVolume::new("mtls-scoped", &ca.server());
    let billing = clients.client("billing.internal");
    let mut stack = mtls_stack(&volume, &ca, &clients, &billing).await;
    const REQUEST_ID: &str = "6c4d2f3b-9e5a-4d7c-8b8f-1e2a3b4c5d6e";
    let message = |body: &str| SendMessageRequest {
        request_id: REQUEST_ID.into(),
        ..request(text(body))
    };
    let over = |pair: &Pair| {
        let address = stack.grpc_address;
        let tls = client_tls(&ca, Some(pair));
        async move { MessagingServiceClient::new(connect(address, tls).await.expect("connects")) }
    };

    let first = stack
        .client
        .send_message(message("from billing"))
        .await
        .expect("billing sends")
        .into_inner();
    let mut crm = over(&clients.client("crm.internal")).await;
    let crms = crm
        .send_message(message("from the CRM"))
        .await
        .expect("the CRM sends its own message with the same request_id")
        .into_inner();
    assert_ne!(first.message_id, crms.message_id);
    let reused = crm
        .send_message(message("from billing"))
        .await
        .expect_err("the CRM's request_id is taken by its own message");
    assert_eq!(reused.code(), Code::AlreadyExists, "{reused:?}");
    let renewed = over(&clients.client("billing.internal"))
        .await
        .send_message(message("from billing"))
        .await
        .expect("billing's duplicate, over a renewed certificate")
        .into_inner();
    assert_eq!(renewed.message_id, first.message_id);
    assert_eq!(stack.received().await.len(), 2);
}

#[tokio::test]
async fn a_rotated_certificate_reaches_new_connections_while_open_ones_keep_working() {
    let captured = common::logs::capture("whatsapp_grpc=info");
    let ca = Ca::new("server CA");
    let first = ca.server();
    let volume = SecretVolume::new("rotation", &first);
    let security = SecurityConfig {
        tls: Some(volume.tls()),
        api_keys: None,
    };
    let mut stack = tls_stack(security, &ca, None, ServerLimits::default()).await;
    stack
        .client
        .send_message(request(text("before")))
        .await
        .expect("sent");
    assert_eq!(
        presented_certificate(stack.grpc_address, &ca).await,
        first.der
    );

    // Half a rotation, written in place: the new certificate with the old key. It is refused,
    // with a warning that names the files, and the running certificate stays.
    let second = ca.server();
    volume.write("v1/tls.crt", &second.cert_pem);
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let logs = captured.text();
            if logs.lines().any(|line| {
                line.contains("the new TLS files were refused")
                    && line.contains(&volume.key().display().to_string())
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "no warning for a mismatched pair");
    assert_eq!(
        presented_certificate(stack.grpc_address, &ca).await,
        first.der,
        "the running certificate stays"
    );

    // The whole new pair, swapped in as Kubernetes updates a Secret volume.
    volume.publish("v2", &second);
    let rotated = tokio::time::timeout(Duration::from_secs(10), async {
        while presented_certificate(stack.grpc_address, &ca).await != second.der {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        rotated.is_ok(),
        "new connections never got the new certificate"
    );

    // The connection opened before the rotation still serves calls; so does a new one.
    stack
        .client
        .send_message(request(text("after, on the old connection")))
        .await
        .expect("the open connection keeps working");
    send_over(stack.grpc_address, client_tls(&ca, None))
        .await
        .expect("a new connection works");
    assert_eq!(stack.received().await.len(), 3);
}

#[tokio::test]
async fn a_handshake_that_never_completes_holds_a_connection_slot_until_it_is_closed() {
    let ca = Ca::new("server CA");
    let volume = SecretVolume::new("handshake", &ca.server());
    let security = SecurityConfig {
        tls: Some(TlsConfig {
            handshake_timeout: Duration::from_secs(3),
            ..volume.tls()
        }),
        api_keys: None,
    };
    // Two connections: the stack's own client holds one.
    let limits = ServerLimits {
        connections: ConnectionLimits {
            max_connections: 2,
            // Far beyond the test's wait: only the handshake timeout can close the silent peer.
            idle_timeout: Duration::from_secs(600),
            ..ConnectionLimits::default()
        },
        ..ServerLimits::default()
    };
    let mut stack = tls_stack(security, &ca, None, limits).await;

    let mut silent = TcpStream::connect(stack.grpc_address)
        .await
        .expect("connects");
    let refused = send_over(stack.grpc_address, client_tls(&ca, None)).await;
    assert!(
        refused.is_err(),
        "a third connection while the silent peer holds the second: {refused:?}"
    );

    let mut buffer = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(30), silent.read(&mut buffer)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the silent peer was not closed: {closed:?}"
    );
    send_over(stack.grpc_address, client_tls(&ca, None))
        .await
        .expect("its slot is free again");
    stack
        .client
        .send_message(request(text("still here")))
        .await
        .expect("the first connection was never disturbed");
}

const BILLING_KEY: &str = "billing-key-0123456789abcdef";
const CRM_KEY: &str = "crm-key-fedcba9876543210";

/// A keys file with `keys` (name, key), written to `path`.
fn write_keys(path: &Path, keys: &[(&str, &str)]) {
    let text: String = keys
        .iter()
        .map(|(name, key)| {
            format!(
                "[[key]]\nname = \"{name}\"\nsha256 = \"{}\"\n\n",
                hash_key(key.as_bytes()).expect("a key")
            )
        })
        .collect();
    std::fs::write(path, text).expect("writes");
}

/// A stack over TLS whose callers need the billing or the CRM key.
async fn keyed_stack(volume: &SecretVolume, ca: &Ca) -> Stack {
    let path = volume.0.join("keys.toml");
    write_keys(&path, &[("billing", BILLING_KEY), ("crm", CRM_KEY)]);
    let security = SecurityConfig {
        tls: Some(volume.tls()),
        api_keys: Some(ApiKeysConfig::read(path).expect("valid keys")),
    };
    tls_stack(security, ca, None, ServerLimits::default()).await
}

#[tokio::test]
async fn api_keys_guard_every_call_but_health() {
    let ca = Ca::new("server CA");
    let volume = SecretVolume::new("keys", &ca.server());
    let mut stack = keyed_stack(&volume, &ca).await;

    for (key, reason) in [
        (None, "API_KEY_MISSING"),
        (Some("not-a-key-of-this-service"), "API_KEY_INVALID"),
    ] {
        let status = stack
            .client
            .send_message(authorized(request(text("hi")), key))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, reason);
        assert_eq!(info.metadata["outcome"], "not_sent");
        assert!(!format!("{status:?}").contains("not-a-key"), "{status:?}");
    }
    assert_eq!(stack.received().await.len(), 0, "nothing was sent");

    let sent = stack
        .client
        .send_message(authorized(request(text("hi")), Some(BILLING_KEY)))
        .await
        .expect("the right key")
        .into_inner();
    assert!(sent.message_id.starts_with("wamid."));
    assert_eq!(stack.received().await.len(), 1);

    // Probes need no key.
    let health = HealthClient::new(stack.channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health without a key")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    // Reflection is part of the API: it needs a key.
    use tonic_reflection::pb::v1;
    let list = || {
        tokio_stream::iter(vec![v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        }])
    };
    let mut reflection =
        v1::server_reflection_client::ServerReflectionClient::new(stack.channel.clone());
    let status = reflection
        .server_reflection_info(authorized(list(), None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    reflection
        .server_reflection_info(authorized(list(), Some(CRM_KEY)))
        .await
        .expect("reflection with a key");
}

#[tokio::test]
async fn request_ids_are_scoped_by_caller() {
    let ca = Ca::new("server CA");
    let volume = SecretVolume::new("scoped", &ca.server());
    let mut stack = keyed_stack(&volume, &ca).await;
    const REQUEST_ID: &str = "5b3c1e2a-8f4d-4c6b-9a7e-0d1f2e3a4b5c";
    let message = |body: &str| SendMessageRequest {
        request_id: REQUEST_ID.into(),
        ..request(text(body))
    };

    let billing = stack
        .client
        .send_message(authorized(message("from billing"), Some(BILLING_KEY)))
        .await
        .expect("billing sends")
        .into_inner();
    // The same request_id from another caller, for another message: its own, and sent.
    let crm = stack
        .client
        .send_message(authorized(message("from the CRM"), Some(CRM_KEY)))
        .await
        .expect("the CRM sends too")
        .into_inner();
    assert_ne!(billing.message_id, crm.message_id);
    // Each caller's duplicate still gets its own first answer, without sending.
    let replayed = stack
        .client
        .send_message(authorized(message("from billing"), Some(BILLING_KEY)))
        .await
        .expect("billing's duplicate")
        .into_inner();
    assert_eq!(replayed.message_id, billing.message_id);
    let reused = stack
        .client
        .send_message(authorized(message("from billing"), Some(CRM_KEY)))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists, "{reused:?}");
    assert_eq!(stack.received().await.len(), 2);
}

/// Waits (at most 10 s) until the service's log has a line containing every one of `words`.
async fn wait_for_log(service: &Service, words: &[&str]) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if service
                .log()
                .lines()
                .any(|line| words.iter().all(|word| line.contains(word)))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no log line with {words:?}:\n{}",
        service.log()
    );
}

#[tokio::test]
async fn the_binary_logs_the_callers_name_and_reloads_the_keys_on_sighup() {
    let dir = std::env::temp_dir().join(format!("whatsapp-grpc-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let keys = dir.join("keys.toml");
    write_keys(&keys, &[("billing", BILLING_KEY)]);
    let service = Service::start(&["--sandbox", "--api-keys", keys.to_str().expect("UTF-8")]).await;
    let mut client = MessagingServiceClient::new(service.channel().await);
    let send = |key: &'static str, to: &str| {
        let mut message = request(text("hi"));
        message.to = to.into();
        authorized(message, Some(key))
    };

    client
        .send_message(send(BILLING_KEY, TO))
        .await
        .expect("billing's key");
    // A failure is logged at warn, in the call's span: the caller's name is there, the key is not.
    let refused = client
        .send_message(send(
            BILLING_KEY,
            whatsapp_grpc::sandbox::recipients::NOT_A_WHATSAPP_USER,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    wait_for_log(
        &service,
        &["upstream refused the call", "\"caller\":\"billing\""],
    )
    .await;

    // The CRM replaces billing: after SIGHUP, billing's key is refused and the CRM's works.
    write_keys(&keys, &[("crm", CRM_KEY)]);
    service.signal("HUP");
    wait_for_log(&service, &["API keys reloaded"]).await;
    let status = client
        .send_message(send(BILLING_KEY, TO))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    client
        .send_message(send(CRM_KEY, TO))
        .await
        .expect("the CRM's key after the reload");

    // A broken file is refused with a warning; the running keys stay.
    std::fs::write(&keys, "[[key]]\nname = \"crm\"\n").expect("writes");
    service.signal("HUP");
    wait_for_log(
        &service,
        &["the API keys were not reloaded", "sha256 is missing"],
    )
    .await;
    client
        .send_message(send(CRM_KEY, TO))
        .await
        .expect("the CRM's key is still valid");

    let (_, log) = service.terminate().await;
    for key in [BILLING_KEY, CRM_KEY] {
        assert!(!log.contains(key), "a key is in the log");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the binary with `args` and `stdin`, off the runtime: (success, stdout, stderr).
async fn run(args: Vec<String>, stdin: &'static str) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = Command::new(BINARY)
            .args(&args)
            .env("WHATSAPP_GRPC_ACCESS_TOKEN", "test-token")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("writes");
        let output = child.wait_with_output().expect("exits");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("joined")
}

#[tokio::test]
async fn the_binary_serves_tls_and_refuses_a_key_that_does_not_match_before_listening() {
    let ca = Ca::new("server CA");
    let volume = SecretVolume::new("binary", &ca.server());
    let other_key = volume.write("other.key", &ca.server().key_pem);
    let (cert, key) = (volume.cert(), volume.key());
    let path = |path: &Path| path.to_str().expect("UTF-8").to_owned();

    let (ok, _, stderr) = run(
        vec![
            "serve".into(),
            "--sandbox".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--tls-cert".into(),
            path(&cert),
            "--tls-key".into(),
            path(&other_key),
        ],
        "",
    )
    .await;
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("--tls-key") && stderr.contains("does not match"),
        "{stderr}"
    );
    assert!(!stderr.contains("serving"), "{stderr}");

    let service = Service::start(&[
        "--sandbox",
        "--tls-cert",
        &path(&cert),
        "--tls-key",
        &path(&key),
    ])
    .await;
    let address: SocketAddr = service.address.parse().expect("an address");
    let channel = connect(address, client_tls(&ca, None))
        .await
        .expect("connects over TLS");
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health over TLS")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);
    assert!(service.log().contains("tls=true"), "{}", service.log());
}

#[tokio::test]
async fn hash_key_prints_what_the_keys_file_holds() {
    let (ok, stdout, stderr) = run(vec!["hash-key".into()], "billing-key-0123456789abcdef\n").await;
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.trim(),
        hash_key(BILLING_KEY.as_bytes()).expect("a key")
    );
    let (ok, _, stderr) = run(vec!["hash-key".into()], "short\n").await;
    assert!(!ok);
    assert!(stderr.contains("shorter than"), "{stderr}");
}

#[tokio::test]
async fn an_unauthenticated_call_is_refused_before_it_takes_a_call_slot() {
    let dir = std::env::temp_dir().join(format!("whatsapp-grpc-slots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let keys = dir.join("keys.toml");
    write_keys(&keys, &[("billing", BILLING_KEY)]);
    let stack = Stack::start_with(Options {
        security: SecurityConfig {
            tls: None,
            api_keys: Some(ApiKeysConfig::read(keys).expect("valid keys")),
        },
        limits: ServerLimits {
            max_calls: 1,
            ..ServerLimits::default()
        },
        sandbox: whatsapp_grpc::sandbox::SandboxConfig {
            slow_answer: Duration::from_secs(60),
            ..Default::default()
        },
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);

    // The one call slot, held by a slow call (started again if a probe took the slot first).
    let slow_call = || {
        let mut slow = request(text("slow"));
        slow.to = whatsapp_grpc::sandbox::recipients::SLOW_ANSWER.into();
        let mut client = stack.client.clone();
        tokio::spawn(async move {
            client
                .send_message(authorized(slow, Some(BILLING_KEY)))
                .await
        })
    };
    let mut held = slow_call();
    let full = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if held.is_finished() {
                held = slow_call();
            }
            // An invalid request: refused at once if admitted, so it frees the slot at once.
            let probe = stack
                .client
                .clone()
                .send_message(authorized(request(text("")), Some(BILLING_KEY)))
                .await;
            if probe.is_err_and(|status| status.code() == Code::ResourceExhausted)
                && !held.is_finished()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(full.is_ok(), "the slow call never held the slot");

    // At the limit, a call without a key learns that it needs one, not that the server is busy.
    let status = stack
        .client
        .clone()
        .send_message(authorized(request(text("hi")), None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    held.abort();
}

/// `send` as a person runs it against a service with TLS and API keys: the CA to trust and the key
/// from the environment; without the key it is told so, and the key never shows in what it prints.
#[tokio::test]
async fn the_cli_sends_over_tls_with_the_api_key_from_its_environment() {
    let ca = Ca::new("server CA");
    let volume = SecretVolume::new("cli", &ca.server());
    let stack = keyed_stack(&volume, &ca).await;
    let ca_file = volume.write("ca.pem", &ca.pem);
    let server = format!("https://localhost:{}", stack.grpc_address.port());
    let send = |key: Option<&'static str>| {
        let args: Vec<String> = [
            "send",
            "--server",
            &server,
            "--server-ca",
            ca_file.to_str().expect("UTF-8"),
            "--to",
            "15550001111",
            "--text",
            "hi",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        tokio::task::spawn_blocking(move || {
            let mut command = Command::new(BINARY);
            command.args(&args).env_remove("WHATSAPP_GRPC_API_KEY");
            if let Some(key) = key {
                command.env("WHATSAPP_GRPC_API_KEY", key);
            }
            let output = command.output().expect("the binary runs");
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        })
    };

    let (ok, stdout, stderr) = send(Some(BILLING_KEY)).await.expect("joined");
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("wamid."), "{stdout}");
    assert_eq!(stack.received().await.len(), 1);

    let (ok, _, stderr) = send(None).await.expect("joined");
    assert!(!ok);
    assert!(stderr.contains("Unauthenticated"), "{stderr}");
    let (ok, _, stderr) = send(Some("not-a-key-of-this-service"))
        .await
        .expect("joined");
    assert!(!ok);
    assert!(stderr.contains("Unauthenticated"), "{stderr}");
    assert!(
        !stderr.contains("not-a-key"),
        "the key is never printed: {stderr}"
    );
    assert_eq!(stack.received().await.len(), 1, "nothing more was sent");
}

/// Beside a TLS listener, `--health-listen` serves health alone in plaintext, as the kubelet's gRPC
/// probe needs: the same answers as the TLS listener, and nothing else.
#[tokio::test]
async fn the_plaintext_health_listener_answers_probes_and_nothing_else() {
    let ca = Ca::new("server CA");
    let volume = SecretVolume::new("probes", &ca.server());
    let stack = Stack::start_with(Options {
        security: SecurityConfig {
            tls: Some(volume.tls()),
            api_keys: None,
        },
        client_tls: Some(client_tls(&ca, None)),
        health_listener: true,
        ..Options::new(Flavor::Cloud)
    })
    .await;
    let probes = Endpoint::from_shared(format!(
        "http://{}",
        stack.health_address.expect("a health listener")
    ))
    .unwrap()
    .connect()
    .await
    .expect("plaintext connects");
    let health = HealthClient::new(probes.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health in plaintext")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);
    // The same board as the TLS listener's: a sender's name is known here too.
    HealthClient::new(probes.clone())
        .check(HealthCheckRequest {
            service: "whatsapp.v1.MessagingService/default".into(),
        })
        .await
        .expect("a sender's health name");
    // The API is not served there.
    let status = MessagingServiceClient::new(probes)
        .send_message(request(text("hi")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert_eq!(stack.received().await.len(), 0);
}
