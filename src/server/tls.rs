//! TLS on the gRPC listener (`--tls-cert`, `--tls-key`; `--tls-client-ca` requires client
//! certificates signed by that CA, mTLS): the PEM files read and checked (a certificate, the key
//! that matches it, a CA bundle), the rustls configuration built from them (HTTP/2 negotiated by
//! ALPN `h2`), and kept current. The files are read again every `reload_interval`; when their
//! content changed and the new set is valid, new connections get it (open connections keep theirs);
//! a broken new set is refused with a warning, once, and the running one stays. Comparing content
//! rather than modification times follows both cert-manager's in-place rewrites and the symlink
//! swaps of Kubernetes' Secret volumes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore};

use crate::api_keys::Caller;

/// How often the files are read again unless `--tls-reload-interval` says otherwise.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// How long a client has to complete its TLS handshake; the connection is closed then.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest certificate, key or CA file, in bytes.
pub const PEM_MAX_BYTES: u64 = 1024 * 1024;

/// Where the listener's certificate, key and client CA are, and how they are kept current.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, PEM, the listener's certificate first (`--tls-cert`).
    pub cert: PathBuf,
    /// Its private key, PEM: PKCS#8, PKCS#1 or SEC1 (`--tls-key`).
    pub key: PathBuf,
    /// CA certificates, PEM: when set, clients must present a certificate one of them signed.
    pub client_ca: Option<PathBuf>,
    /// How often the files are read again.
    pub reload_interval: Duration,
    /// How long a client has to complete its handshake.
    pub handshake_timeout: Duration,
}

impl TlsConfig {
    /// A listener serving `cert` and `key`, with the default intervals and no client certificates.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Reads the files and builds the rustls configuration, or says in one line which flag's file
    /// is wrong and how to fix it.
    pub fn load(&self) -> Result<rustls::ServerConfig, String> {
        build(self, &self.read()?)
    }

    fn read(&self) -> Result<Files, String> {
        Ok(Files {
            cert: read_pem("--tls-cert", &self.cert)?,
            key: read_pem("--tls-key", &self.key)?,
            client_ca: match &self.client_ca {
                Some(path) => Some(read_pem("--tls-client-ca", path)?),
                None => None,
            },
        })
    }
}

/// The files' contents as last read.
struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl Files {
    /// A digest of every file, to notice any change without keeping the key's bytes around.
    fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()] {
            match part {
                Some(bytes) => {
                    hasher.update((bytes.len() as u64).to_be_bytes());
                    hasher.update(bytes);
                }
                None => hasher.update(u64::MAX.to_be_bytes()),
            }
        }
        hasher.finalize().into()
    }
}

fn read_pem(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    crate::senders::file::read_bounded(path, PEM_MAX_BYTES)
        .map_err(|problem| format!("{flag} {}: {problem}", path.display()))
}

fn build(config: &TlsConfig, files: &Files) -> Result<rustls::ServerConfig, String> {
    let cert_flag = format!("--tls-cert {}", config.cert.display());
    let key_flag = format!("--tls-key {}", config.key.display());
    let chain = certificates(&files.cert).map_err(|problem| format!("{cert_flag}: {problem}"))?;
    if chain.is_empty() {
        return Err(format!(
            "{cert_flag}: holds no certificate (-----BEGIN CERTIFICATE-----); point it at the PEM certificate chain, the server's certificate first"
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&files.key).map_err(|error| match error {
        pem::Error::NoItemsFound => format!(
            "{key_flag}: holds no private key (-----BEGIN PRIVATE KEY-----); point it at the PEM key of the certificate"
        ),
        error => format!("{key_flag}: is not a PEM private key ({error})"),
    })?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS cannot be set up: {error}"))?;
    let builder = match (&files.client_ca, &config.client_ca) {
        (Some(pem), Some(path)) => {
            let flag = format!("--tls-client-ca {}", path.display());
            let mut roots = RootCertStore::empty();
            for certificate in certificates(pem).map_err(|problem| format!("{flag}: {problem}"))? {
                roots.add(certificate).map_err(|error| {
                    format!("{flag}: holds a certificate that is not a usable CA ({error})")
                })?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "{flag}: holds no certificate (-----BEGIN CERTIFICATE-----); point it at the PEM certificates of the CA that signs the clients' certificates"
                ));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| format!("{flag}: {error}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|error| match error {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => format!(
                "{key_flag}: does not match the certificate of {cert_flag}; give the key the certificate was issued for"
            ),
            error => format!("{cert_flag} with {key_flag}: {error}"),
        })?;
    server.alpn_protocols = vec![b"h2".to_vec()];
    Ok(server)
}

/// Every certificate of a PEM text (other sections are skipped), or why it is not PEM.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("is not valid PEM ({error})"))
}

/// The caller a connection's client certificate names (mTLS): `cert-` and the certificate's first
/// DNS name (`cert-billing.internal`), or, without one, `cert-` and 16 hex digits of a SHA-256 of its
/// issuer and subject. Both stay the same when the certificate is renewed, so a `request_id` retried
/// over a renewed certificate still finds its first answer, and two clients never share one.
pub fn client_caller(session: &rustls::ServerConnection) -> Option<Caller> {
    certificate_caller(session.peer_certificates()?.first()?)
}

/// The caller client certificate `der` names (see [`client_caller`]).
fn certificate_caller(der: &CertificateDer<'_>) -> Option<Caller> {
    let cert = webpki::EndEntityCert::try_from(der).ok()?;
    let name = match cert.valid_dns_names().next() {
        Some(dns) => format!("cert-{}", dns.to_ascii_lowercase()),
        None => {
            let mut digest = Sha256::new();
            digest.update((cert.issuer().len() as u64).to_be_bytes());
            digest.update(cert.issuer());
            digest.update(cert.subject());
            format!("cert-{}", hex::encode(&digest.finalize()[..8]))
        }
    };
    Some(Caller { name: name.into() })
}

/// The listener's TLS: the configuration new connections get, replaced when the files change.
pub struct Tls {
    config: TlsConfig,
    current: ArcSwap<rustls::ServerConfig>,
    /// The digest of the files first loaded.
    loaded: [u8; 32],
}

impl Tls {
    /// Reads the files once; [`Tls::watch`] keeps them current.
    pub fn new(config: TlsConfig) -> Result<Arc<Tls>, String> {
        let files = config.read()?;
        let current = ArcSwap::from_pointee(build(&config, &files)?);
        Ok(Arc::new(Tls {
            config,
            current,
            loaded: files.digest(),
        }))
    }

    /// The acceptor for a new connection, with the current certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// How long a client has to complete its handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.config.handshake_timeout
    }

    /// Reads the files every `reload_interval` until the returned task is dropped, and switches to
    /// a new valid set as soon as one appears.
    pub fn watch(self: &Arc<Tls>) -> Watching {
        let tls = self.clone();
        let task = tokio::spawn(async move {
            let mut seen = Some(tls.loaded);
            let mut ticks = tokio::time::interval(tls.config.reload_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                tls.check(&mut seen).await;
            }
        });
        Watching { task }
    }

    /// Reloads if the files changed since `seen`; a broken set is reported once, not every tick.
    async fn check(&self, seen: &mut Option<[u8; 32]>) {
        let files = match self.read_off_thread().await {
            Ok(files) => files,
            Err(problem) => {
                // A file missing mid-rotation: reported once, until it changes again.
                let digest = Some(Sha256::digest(problem.as_bytes()).into());
                if *seen != digest {
                    *seen = digest;
                    tracing::warn!(%problem, "the TLS files were not reloaded; the running certificate stays");
                }
                return;
            }
        };
        let digest = Some(files.digest());
        if *seen == digest {
            return;
        }
        *seen = digest;
        match build(&self.config, &files) {
            Ok(server) => {
                self.current.store(Arc::new(server));
                tracing::info!(
                    cert = %self.config.cert.display(),
                    "TLS certificate reloaded: new connections use it"
                );
            }
            Err(problem) => tracing::warn!(
                %problem,
                "the new TLS files were refused; the running certificate stays"
            ),
        }
    }

    /// Reads the files on the blocking pool (file I/O blocks).
    async fn read_off_thread(&self) -> Result<Files, String> {
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || config.read())
            .await
            .map_err(|error| format!("reading the TLS files failed: {error}"))?
    }
}

/// Watches the TLS files until dropped.
pub struct Watching {
    task: JoinHandle<()>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, Issuer, KeyPair};

    /// A certificate for `names` (DNS), with `common_name`, signed by `issuer`, on a new key.
    fn certificate(issuer: &Issuer<'_, KeyPair>, names: &[&str], common_name: &str) -> Caller {
        let key = KeyPair::generate().expect("a key");
        let names = names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>();
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params.signed_by(&key, issuer).expect("a certificate");
        certificate_caller(cert.der()).expect("a caller")
    }

    fn issuer(name: &str) -> Issuer<'static, KeyPair> {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        Issuer::new(params, key)
    }

    #[test]
    fn a_client_certificate_names_its_caller_across_renewals() {
        let clients = issuer("clients CA");
        let named = certificate(&clients, &["Billing.Internal", "other.internal"], "billing");
        assert_eq!(&*named.name, "cert-billing.internal");
        // Without a DNS name: a digest of issuer and subject, the same on a new key.
        let unnamed = certificate(&clients, &[], "crm");
        assert!(unnamed.name.starts_with("cert-"), "{unnamed:?}");
        assert_eq!(unnamed.name.len(), "cert-".len() + 16, "{unnamed:?}");
        assert!(!unnamed.name.contains(':'));
        assert_eq!(certificate(&clients, &[], "crm"), unnamed);
        assert_ne!(certificate(&clients, &[], "crm2"), unnamed);
        assert_ne!(certificate(&issuer("another CA"), &[], "crm"), unnamed);
        assert!(certificate_caller(&CertificateDer::from(vec![0x30, 0x00])).is_none());
    }
}
