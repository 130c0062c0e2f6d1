//! Identifiers the sandbox makes up: login tokens, message ids and trace ids.
//!
//! They only have to look like the real API's and never repeat within one process; they are not
//! secrets, so `fastrand` is random enough, and a process-wide sequence makes them unique.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Counts every identifier made in this process; part of each one, so none repeats.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// The next value of [`SEQUENCE`].
fn next_sequence() -> u64 {
    SEQUENCE.fetch_add(1, Ordering::Relaxed)
}

/// `len` random bytes.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    fastrand::fill(&mut bytes);
    bytes
}

/// A bijection of `u64` (the SplitMix64 finalizer): distinct sequence numbers give distinct,
/// random-looking values.
fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// 8 bytes that are unique in this process, followed by `random` random bytes.
fn unique_bytes(random: usize) -> Vec<u8> {
    let mut bytes = scramble(next_sequence()).to_be_bytes().to_vec();
    bytes.extend(random_bytes(random));
    bytes
}

/// An On-Premises message id, e.g. `gBEGkYiEB1VXAglK1ZEqA1YKPrU` (27 characters).
pub(crate) fn on_premises_message_id() -> String {
    format!("gBEG{}", base64_url(&unique_bytes(9)))
}

/// A Cloud message id, e.g. `wamid.HBgLMTU1NTAwMDExMTEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=`.
pub(crate) fn cloud_message_id() -> String {
    // The real ids are base64 of a small binary record ending in a 20-character hex id.
    let mut record = vec![0x15, 0x02, 0x00, 0x12, 0x18, 0x14];
    for byte in unique_bytes(2) {
        record.extend(format!("{byte:02X}").bytes());
    }
    record.push(0x00);
    format!("wamid.{}", base64_standard(&record))
}

/// The first digits of every Cloud media id the sandbox issues: 16 digits in all, like the real
/// ones. A message naming an id of this shape that the sandbox does not hold is refused.
pub(crate) const CLOUD_MEDIA_ID_PREFIX: &str = "990";

/// A Cloud media id, e.g. `9904417262719312`.
pub(crate) fn cloud_media_id() -> String {
    // Random rather than sequential: the documentation's example ids never match by chance. The
    // store draws again on the rare repeat.
    let number = fastrand::u64(..10_000_000_000_000);
    format!("{CLOUD_MEDIA_ID_PREFIX}{number:013}")
}

/// The start of the last group of every On-Premises media id the sandbox issues, which tells its
/// UUIDs apart from others (the documentation's examples).
pub(crate) const ON_PREMISES_MEDIA_ID_MARK: &str = "5a4db0";

/// An On-Premises media id: a UUID like the real ones, e.g. `f043afd0-f0ae-4b9c-ab3d-5a4db0c8cd68`.
pub(crate) fn on_premises_media_id() -> String {
    let bytes = unique_bytes(8);
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-4{}-a{}-{ON_PREMISES_MEDIA_ID_MARK}{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[26..32]
    )
}

/// Whether `id` has the shape of the media ids the sandbox issues for `flavor`.
pub(crate) fn is_sandbox_media_id(cloud: bool, id: &str) -> bool {
    if cloud {
        id.len() == 16
            && id.starts_with(CLOUD_MEDIA_ID_PREFIX)
            && id.bytes().all(|b| b.is_ascii_digit())
    } else {
        let groups: Vec<&str> = id.split('-').collect();
        groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|group| group.bytes().all(|b| b.is_ascii_hexdigit()))
            && groups[4].starts_with(ON_PREMISES_MEDIA_ID_MARK)
    }
}

/// A Graph API trace id, e.g. `AbRz3xK2Qn8_Lc1vWq9eT0y` (23 characters).
pub(crate) fn fbtrace_id() -> String {
    base64_url(&random_bytes(17))
}

/// A JWT-shaped On-Premises login token. The signature is random: nothing verifies it, the
/// sandbox looks tokens up in its own table.
pub(crate) fn login_token(username: &str, issued_at: u64, expires_at: u64) -> String {
    let header = base64_url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "user": username,
        "iat": issued_at,
        "exp": expires_at,
        "jti": base64_url(&unique_bytes(8)),
    });
    let payload = base64_url(claims.to_string().as_bytes());
    let signature = base64_url(&random_bytes(32));
    format!("{header}.{payload}.{signature}")
}

/// Unpadded base64url (RFC 4648 §5), as in JWTs.
pub(crate) fn base64_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Padded standard base64 (RFC 4648 §4).
pub(crate) fn base64_standard(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64, padded or not; `None` if `text` is not base64.
pub(crate) fn decode_base64_standard(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_standard(plain.as_bytes()), encoded);
            assert_eq!(
                decode_base64_standard(encoded).as_deref(),
                Some(plain.as_bytes())
            );
            assert_eq!(base64_url(plain.as_bytes()), encoded.trim_end_matches('='));
        }
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode_base64_standard("Zm9v!"), None);
        assert_eq!(decode_base64_standard("Zm9vY"), None);
    }

    #[test]
    fn ids_look_real_and_do_not_repeat() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let id = on_premises_message_id();
            assert_eq!(id.len(), 27, "{id}");
            assert!(id.starts_with("gBEG"));
            assert!(seen.insert(id));
            let wamid = cloud_message_id();
            assert!(wamid.starts_with("wamid."));
            assert!(seen.insert(wamid));
            assert_eq!(fbtrace_id().len(), 23);
        }
    }
}
