//! Callers' API keys (`--api-keys FILE`): who may call the service. The file names each caller and
//! holds the SHA-256 of its key, never the key itself:
//!
//! ```toml
//! [[key]]
//! name = "billing"
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! ```
//!
//! (`whatsapp-grpc hash-key < key.txt` prints a key's digest; so does
//! `printf %s "$KEY" | sha256sum`.) A caller sends `authorization: Bearer <key>`; the key's digest
//! is compared with every digest of the file in constant time, and the call carries the key's name
//! as its [`Caller`] (in the request's extensions) for logs, metrics and idempotency. The file is
//! read again on SIGHUP; a broken file leaves the running keys in place.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::senders::config::{NAME_MAX, valid_name};

/// The largest keys file, in bytes.
pub const FILE_MAX_BYTES: u64 = 1024 * 1024;
/// The most keys a file may hold.
pub const KEYS_MAX: usize = 1024;
/// The shortest key `hash-key` accepts, in bytes.
pub const KEY_MIN_BYTES: usize = 16;

/// Who made a call: the name of the API key it presented, or, without API keys, the identity of its
/// connection's client certificate (mTLS, [`crate::server::tls::client_caller`]). Found in the
/// request's extensions when either is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: Arc<str>,
}

/// Why a call was not authenticated. Neither says anything about the key presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No `authorization` metadata.
    #[error("this service requires an API key: send the metadata `authorization: Bearer <key>`")]
    Missing,
    /// `authorization` is not `Bearer <key>`, or the key is not one of the file's.
    #[error(
        "the API key is not valid: send `authorization: Bearer <key>` with a key this service knows"
    )]
    Invalid,
}

/// One caller's name and its key's digest.
#[derive(Clone)]
struct Entry {
    name: Arc<str>,
    digest: [u8; 32],
}

/// The keys of a file, validated: at least one, names and digests unique.
#[derive(Clone)]
pub struct KeySet {
    entries: Vec<Entry>,
}

/// Names only: digests are not secrets, but they are noise.
impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|entry| &entry.name))
            .finish()
    }
}

impl KeySet {
    /// Reads and validates the file at `path`; a problem is one line that names the flag, the file
    /// and the fix.
    pub fn read(path: &Path) -> Result<KeySet, String> {
        let label = format!("--api-keys {}", path.display());
        let bytes = crate::senders::file::read_bounded(path, FILE_MAX_BYTES)
            .map_err(|problem| format!("{label}: {problem}"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{label}: is not UTF-8 text; write it as TOML"))?;
        KeySet::parse(&text).map_err(|problem| format!("{label}: {problem}"))
    }

    /// Validates the text of a keys file. Problems never quote a value other than a valid name, so
    /// a key written in clear by mistake is not echoed.
    pub fn parse(text: &str) -> Result<KeySet, String> {
        let mut top: toml::Table = toml::from_str(text).map_err(|error| {
            let message = error.message().trim_end().replace(['\n', '\r'], " ");
            match error.span() {
                Some(span) => {
                    let start = span.start.min(text.len());
                    let line = text.as_bytes()[..start]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1;
                    format!("line {line}: {message}")
                }
                None => message,
            }
        })?;
        let tables = match top.remove("key") {
            None => Vec::new(),
            Some(toml::Value::Array(tables)) => tables,
            Some(_) => {
                return Err("key must be a list of tables: write each key under [[key]]".into());
            }
        };
        if let Some(unknown) = top.keys().next() {
            return Err(format!(
                "unknown key {unknown:?}: the file holds [[key]] tables, each with name and sha256"
            ));
        }
        if tables.is_empty() {
            return Err(
                "lists no key: add a [[key]] table with name and sha256 (see whatsapp-grpc hash-key)"
                    .into(),
            );
        }
        if tables.len() > KEYS_MAX {
            return Err(format!(
                "lists {} keys; at most {KEYS_MAX} are allowed",
                tables.len()
            ));
        }
        let mut entries = Vec::with_capacity(tables.len());
        let mut names = HashSet::new();
        let mut digests = HashSet::new();
        for (index, table) in tables.into_iter().enumerate() {
            let place = format!("key[{index}]");
            let toml::Value::Table(mut table) = table else {
                return Err(format!("{place}: must be a table: write it under [[key]]"));
            };
            let name = match table.remove("name") {
                Some(toml::Value::String(name)) if valid_name(&name) => name,
                Some(_) => {
                    return Err(format!(
                        "{place}: name must be lowercase letters, digits and '-', starting with a letter or digit, at most {NAME_MAX} characters"
                    ));
                }
                None => return Err(format!("{place}: name is missing")),
            };
            let place = format!("{place} {name:?}");
            let digest = match table.remove("sha256") {
                Some(toml::Value::String(hex)) => parse_digest(&hex).ok_or_else(|| {
                    format!(
                        "{place}: sha256 must be 64 hex digits, the SHA-256 of the key (whatsapp-grpc hash-key prints it), not the key itself"
                    )
                })?,
                Some(_) => return Err(format!("{place}: sha256 must be a string of 64 hex digits")),
                None => {
                    return Err(format!(
                        "{place}: sha256 is missing: add the SHA-256 of the key (whatsapp-grpc hash-key prints it)"
                    ));
                }
            };
            if let Some(unknown) = table.keys().next() {
                return Err(format!(
                    "{place}: unknown key {unknown:?}: a [[key]] holds name and sha256 only (never the key itself)"
                ));
            }
            if !names.insert(name.clone()) {
                return Err(format!(
                    "{place}: the name is used twice; give each key its own name"
                ));
            }
            if !digests.insert(digest) {
                return Err(format!(
                    "{place}: the same sha256 is listed for another key; give each caller its own key"
                ));
            }
            entries.push(Entry {
                name: name.into(),
                digest,
            });
        }
        Ok(KeySet { entries })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller whose key `headers` present as `authorization: Bearer <key>`.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthFailure> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .ok_or(AuthFailure::Missing)?;
        let key = bearer(value.as_bytes()).ok_or(AuthFailure::Invalid)?;
        let digest: [u8; 32] = Sha256::digest(key).into();
        // Every digest is compared, each in constant time.
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(entry);
            }
        }
        found
            .map(|entry| Caller {
                name: entry.name.clone(),
            })
            .ok_or(AuthFailure::Invalid)
    }
}

/// The key of an `authorization` value `Bearer <key>` (the scheme in any case), if it is one.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    if value.len() <= SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let key = value[SCHEME.len()..].trim_ascii();
    (!key.is_empty()).then_some(key)
}

/// 64 hex digits (either case) as 32 bytes.
fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    Some(digest)
}

/// The line of the keys file's `sha256` for `key`: its SHA-256 in lowercase hex. The key is what
/// callers send after `Bearer `: printable ASCII without spaces at its ends, at least
/// [`KEY_MIN_BYTES`] long. A trailing newline (as `echo` and editors add) is not part of it.
pub fn hash_key(key: &[u8]) -> Result<String, String> {
    let key = key
        .strip_suffix(b"\n")
        .map(|key| key.strip_suffix(b"\r").unwrap_or(key))
        .unwrap_or(key);
    if key.len() < KEY_MIN_BYTES {
        return Err(format!(
            "the key is shorter than {KEY_MIN_BYTES} characters: use a long random one, e.g. `head -c 32 /dev/urandom | base64`"
        ));
    }
    if !key.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
        || key.first() == Some(&b' ')
        || key.last() == Some(&b' ')
    {
        return Err(
            "the key must be printable ASCII without spaces at its ends, as it is sent in the authorization metadata"
                .into(),
        );
    }
    Ok(hex::encode(Sha256::digest(key)))
}

/// Where the keys come from, and the keys as first read.
#[derive(Clone, Debug)]
pub struct ApiKeysConfig {
    pub path: PathBuf,
    pub keys: KeySet,
}

impl ApiKeysConfig {
    /// Reads and validates the file at `path`.
    pub fn read(path: PathBuf) -> Result<ApiKeysConfig, String> {
        let keys = KeySet::read(&path)?;
        Ok(ApiKeysConfig { path, keys })
    }
}

/// The running keys, replaced by [`ApiKeys::reload`]; read once per call without a lock.
pub struct ApiKeys {
    path: PathBuf,
    current: ArcSwap<KeySet>,
}

impl ApiKeys {
    pub fn new(config: ApiKeysConfig) -> Arc<ApiKeys> {
        Arc::new(ApiKeys {
            path: config.path,
            current: ArcSwap::from_pointee(config.keys),
        })
    }

    /// The caller whose key `headers` present.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthFailure> {
        self.current.load().authenticate(headers)
    }

    /// Reads the file again and replaces the running keys, or keeps them and says why.
    pub async fn reload(&self) {
        let path = self.path.clone();
        match tokio::task::spawn_blocking(move || KeySet::read(&path)).await {
            Ok(Ok(keys)) => {
                let count = keys.len();
                self.current.store(Arc::new(keys));
                tracing::info!(keys = count, "API keys reloaded");
            }
            Ok(Err(problem)) => {
                tracing::warn!(%problem, "the API keys were not reloaded; the running keys stay")
            }
            Err(error) => {
                tracing::warn!(%error, "reading the API keys failed; the running keys stay")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y-of-the-billing-service";

    fn file(entries: &[(&str, &str)]) -> String {
        entries
            .iter()
            .map(|(name, sha256)| format!("[[key]]\nname = \"{name}\"\nsha256 = \"{sha256}\"\n\n"))
            .collect()
    }

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            authorization.parse().expect("a header value"),
        );
        headers
    }

    #[test]
    fn the_digest_is_what_sha256sum_prints() {
        // printf %s 'k3y-of-the-billing-service' | sha256sum
        let digest = hash_key(KEY.as_bytes()).expect("a key");
        assert_eq!(digest, hash_key(format!("{KEY}\n").as_bytes()).unwrap());
        assert_eq!(digest, hash_key(format!("{KEY}\r\n").as_bytes()).unwrap());
        assert_eq!(
            digest,
            "4d28667760e371db69ab5e2f5b38936037789430a446b49f18e382624442ab0d"
        );
        assert!(hash_key(b"short").is_err());
        assert!(hash_key(b"tab\tinside-a-long-key").is_err());
        assert!(hash_key(b" leading-space-long-key").is_err());
    }

    #[test]
    fn the_right_key_names_its_caller() {
        let keys = KeySet::parse(&file(&[
            ("billing", &hash_key(KEY.as_bytes()).unwrap()),
            ("crm", &hash_key(b"another-key-of-the-crm").unwrap()),
        ]))
        .expect("valid");
        assert_eq!(keys.len(), 2);
        let caller = keys
            .authenticate(&headers(&format!("Bearer {KEY}")))
            .expect("known");
        assert_eq!(&*caller.name, "billing");
        let caller = keys
            .authenticate(&headers(&format!("bearer   {KEY} ")))
            .expect("the scheme in any case");
        assert_eq!(&*caller.name, "billing");
        assert_eq!(
            keys.authenticate(&HeaderMap::new()),
            Err(AuthFailure::Missing)
        );
        for wrong in [
            format!("Bearer {KEY}x"),
            format!("Basic {KEY}"),
            KEY.to_owned(),
            "Bearer ".to_owned(),
            "Bearer".to_owned(),
        ] {
            assert_eq!(
                keys.authenticate(&headers(&wrong)),
                Err(AuthFailure::Invalid),
                "{wrong}"
            );
        }
    }

    #[test]
    fn a_broken_file_says_what_to_fix_without_echoing_values() {
        let digest = hash_key(KEY.as_bytes()).unwrap();
        let cases: &[(String, &str)] = &[
            (String::new(), "lists no key"),
            ("# nothing\n".into(), "lists no key"),
            ("[[key]]\nname = \"a\"\n".into(), "sha256 is missing"),
            (
                format!("[[key]]\nsha256 = \"{digest}\"\n"),
                "name is missing",
            ),
            (
                format!("[[key]]\nname = \"Billing\"\nsha256 = \"{digest}\"\n"),
                "name must be lowercase",
            ),
            (
                format!("[[key]]\nname = \"billing\"\nsha256 = \"{KEY}\"\n"),
                "64 hex digits",
            ),
            (
                format!("[[key]]\nname = \"billing\"\nsha256 = \"{digest}\"\nkey = \"{KEY}\"\n"),
                "unknown key \"key\"",
            ),
            (
                file(&[
                    ("a", &digest),
                    ("a", &hash_key(b"another-long-key-value").unwrap()),
                ]),
                "used twice",
            ),
            (
                file(&[("a", &digest), ("b", &digest.to_uppercase())]),
                "same sha256",
            ),
            ("[[key]\nname = 1".into(), "line 1"),
            ("key = 1\n".into(), "list of tables"),
            (
                format!("other = 1\n{}", file(&[("a", &digest)])),
                "unknown key \"other\"",
            ),
        ];
        for (text, expected) in cases {
            let problem = KeySet::parse(text).unwrap_err();
            assert!(problem.contains(expected), "{text:?}: {problem}");
            assert!(!problem.contains(KEY), "the key is echoed: {problem}");
            assert!(!problem.contains('\n'), "one line: {problem}");
        }
        let many: Vec<(String, String)> = (0..=KEYS_MAX)
            .map(|i| {
                (
                    format!("k{i}"),
                    hash_key(format!("key-number-{i:08}").as_bytes()).unwrap(),
                )
            })
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, d)| (n.as_str(), d.as_str())).collect();
        let problem = KeySet::parse(&file(&many)).unwrap_err();
        assert!(problem.contains("at most"), "{problem}");
    }

    #[test]
    fn a_missing_file_names_the_flag() {
        let problem = KeySet::read(Path::new("/nonexistent/keys.toml")).unwrap_err();
        assert!(
            problem.starts_with("--api-keys /nonexistent/keys.toml: cannot be read"),
            "{problem}"
        );
    }
}
