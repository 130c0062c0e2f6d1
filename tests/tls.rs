//! An upstream behind a private certificate authority, as On-Premises installations often are: the
//! service trusts it only when given the CA with `--upstream-ca-file`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::stack::{Options, Stack};
use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tonic::Code;
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;

/// A private CA, and a certificate for `localhost` it signed.
struct Pki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: PrivatePkcs8KeyDer<'static>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "whatsapp-grpc test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().expect("server key");
    let server_params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert: server_cert.der().clone(),
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
    }
}

/// Terminates TLS with `pki`'s certificate and forwards the bytes to `target`.
async fn tls_front(pki: &Pki, target: SocketAddr) -> SocketAddr {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.server_cert.clone()],
            PrivateKeyDer::Pkcs8(pki.server_key.clone_key()),
        )
        .expect("TLS config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    address
}

/// A sandbox reachable only through a TLS front at `https://localhost:PORT`, and a stack whose
/// service sends there (its own sandbox stays idle).
async fn stack_behind_tls(pki: &Pki, trust: Option<&str>) -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sandbox = listener.local_addr().expect("address");
    tokio::spawn(whatsapp_grpc::sandbox::serve(
        listener,
        Default::default(),
        std::future::pending(),
    ));
    let front = tls_front(pki, sandbox).await;
    Stack::start_with(Options {
        upstream_url: Some(format!("https://localhost:{}", front.port())),
        extra_ca_pem: trust.map(|pem| pem.as_bytes().to_vec()),
        ..Options::new(Flavor::OnPremises)
    })
    .await
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_given() {
    let pki = pki();

    let mut trusting = stack_behind_tls(&pki, Some(&pki.ca_pem)).await;
    let response = trusting
        .client
        .send_message(request(text("over TLS")))
        .await
        .expect("sent over TLS to a private CA's certificate")
        .into_inner();
    assert!(!response.message_id.is_empty());

    let mut distrusting = stack_behind_tls(&pki, None).await;
    let status = distrusting
        .client
        .send_message(request(text("over TLS")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "UPSTREAM_UNREACHABLE");
    assert_eq!(info.metadata["outcome"], "not_sent");
}
