//! The checks of an upstream's configuration that need no network, run when the configuration is
//! read (before anything listens), so that each problem can be named with its flag or file key
//! instead of surfacing later as the HTTP client's "builder error".

use reqwest::Url;
use reqwest::header::HeaderValue;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{self, PemObject};

use super::Credentials;
use super::redact::display_url;

/// Why extra CA certificates (PEM) cannot be trusted: a sentence to follow the file's name.
pub fn ca_certificates(pem: &[u8]) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    for (index, certificate) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let certificate = certificate.map_err(|error| {
            let what = match error {
                pem::Error::MissingSectionEnd { .. } => {
                    "has no -----END CERTIFICATE----- line".to_owned()
                }
                pem::Error::IllegalSectionStart { .. } => "has a broken BEGIN line".to_owned(),
                pem::Error::Base64Decode(_) => "is not valid base64".to_owned(),
                error => format!("is unreadable ({error})"),
            };
            format!(
                "is not whole: certificate {} {what}; the file may be cut short, copy it again",
                index + 1
            )
        })?;
        roots.add(certificate).map_err(|error| {
            format!(
                "certificate {} is not a readable CA certificate ({error}): the file may be damaged; copy it again whole",
                index + 1
            )
        })?;
    }
    if roots.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(())
}

/// Why `base` cannot be an API's base URL beyond [`crate::senders::check_base_url`]'s scheme and
/// userinfo: a space anywhere, no host, or no URL at all. The sentence quotes the URL without any
/// password.
pub fn base_url(base: &str) -> Result<(), String> {
    let shown = display_url(base);
    if base.chars().any(char::is_whitespace) {
        return Err(format!(
            "{shown:?} contains a space or line break: write the URL without it"
        ));
    }
    match Url::parse(base) {
        Ok(url) if url.host_str().is_some_and(|host| !host.is_empty()) => Ok(()),
        Ok(_) => Err(format!(
            "{shown:?} names no host, e.g. https://graph.facebook.com"
        )),
        Err(error) => Err(format!("{shown:?} is not a URL ({error})")),
    }
}

/// Why credentials cannot be sent in an HTTP header (a line break in a token, say). Never quotes
/// the secret.
pub fn credentials(credentials: &Credentials) -> Result<(), String> {
    let fits = |value: &str| {
        value
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
            && HeaderValue::from_str(value).is_ok()
    };
    match credentials {
        Credentials::AccessToken(token) if token.expose().trim() != token.expose() => {
            Err("the access token starts or ends with a space or line break: remove it".into())
        }
        Credentials::AccessToken(token) if !fits(token.expose()) => Err(
            "the access token holds characters an HTTP header cannot carry (a line break or non-ASCII): copy it again"
                .into(),
        ),
        Credentials::Login { username, .. } if username.contains(':') => {
            Err("the username cannot contain ':' (basic authentication splits on it)".into())
        }
        Credentials::AccessToken(_) | Credentials::Login { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Secret;

    fn certificate_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("a key");
        rcgen::CertificateParams::new(vec!["ca.internal".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("a certificate")
            .pem()
    }

    #[test]
    fn ca_certificates_must_be_whole() {
        let pem = certificate_pem();
        assert_eq!(ca_certificates(pem.as_bytes()), Ok(()));
        let two = format!("{pem}{pem}");
        assert_eq!(ca_certificates(two.as_bytes()), Ok(()));

        // Cut in the middle of the base64: no END line.
        let cut = &pem[..pem.len() / 2];
        let error = ca_certificates(cut.as_bytes()).unwrap_err();
        assert!(
            error.contains("cut short") && error.contains("END"),
            "{error}"
        );

        // PEM framing intact, the certificate inside damaged.
        let lines: Vec<&str> = pem.lines().collect();
        let damaged = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[lines.len() - 1]);
        let error = ca_certificates(damaged.as_bytes()).unwrap_err();
        assert!(error.contains("certificate 1"), "{error}");

        for empty in ["", "not a certificate at all\n"] {
            let error = ca_certificates(empty.as_bytes()).unwrap_err();
            assert!(error.contains("holds no PEM certificate"), "{error}");
        }
    }

    #[test]
    fn base_urls_have_no_space_and_a_host() {
        assert_eq!(base_url("https://graph.facebook.com"), Ok(()));
        assert_eq!(base_url("http://127.0.0.1:9090/prefix"), Ok(()));
        for bad in [
            "https://wa internal",
            "https://wa.internal ",
            "https://wa.internal/a b",
        ] {
            let error = base_url(bad).unwrap_err();
            assert!(error.contains("space"), "{bad}: {error}");
        }
        let error = base_url("https://wa.internal:99999").unwrap_err();
        assert!(error.contains("is not a URL"), "{error}");
        let error = base_url("https://user:hunter2@wa_internal:99999").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn credentials_fit_a_header_and_are_never_quoted() {
        let token = |value: &str| Credentials::AccessToken(Secret::new(value));
        assert_eq!(credentials(&token("EAAB-token")), Ok(()));
        for bad in ["EAAB-token\n", "EAAB\ntoken", "EAAB-tökën"] {
            let error = credentials(&token(bad)).unwrap_err();
            assert!(!error.contains("EAAB"), "{error}");
        }
        let login = |username: &str| Credentials::Login {
            username: username.into(),
            password: Secret::new("hunter2"),
        };
        assert_eq!(credentials(&login("admin")), Ok(()));
        assert!(credentials(&login("ad:min")).is_err());
    }
}
