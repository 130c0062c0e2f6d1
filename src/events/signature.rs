//! The Cloud API's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the
//! raw body keyed with the app secret; and the constant-time comparison of shared secrets.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header the Cloud API signs its notifications with.
pub const HEADER: &str = "x-hub-signature-256";

/// The header value signing `body` with `app_secret`: `sha256=` and 64 hex digits.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(app_secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` (the `X-Hub-Signature-256` value) signs `body` with `app_secret`, compared in
/// constant time.
pub fn verify(app_secret: &[u8], body: &[u8], header: &[u8]) -> bool {
    let Some(hex) = header.strip_prefix(b"sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let mut mac = mac(app_secret);
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Whether `given` is `secret`, in time independent of where they differ (and, both hashed first,
/// of their lengths).
pub fn same_secret(secret: &[u8], given: &[u8]) -> bool {
    Sha256::digest(secret)
        .as_slice()
        .ct_eq(Sha256::digest(given).as_slice())
        .into()
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// 64 hex digits (either case) as 32 bytes.
fn decode_hex(hex: &[u8]) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex, &mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_its_body_only() {
        let signed = sign(b"app-secret", b"{\"a\":1}");
        assert_eq!(signed.len(), 7 + 64);
        assert!(verify(b"app-secret", b"{\"a\":1}", signed.as_bytes()));
        assert!(verify(
            b"app-secret",
            b"{\"a\":1}",
            signed
                .to_ascii_uppercase()
                .replace("SHA256=", "sha256=")
                .as_bytes()
        ));
        assert!(!verify(b"app-secret", b"{\"a\":2}", signed.as_bytes()));
        assert!(!verify(b"other-secret", b"{\"a\":1}", signed.as_bytes()));
        for bad in [
            "",
            "sha256=",
            "sha1=00",
            &signed[7..],
            &signed[..70],
            "sha256=zz",
        ] {
            assert!(
                !verify(b"app-secret", b"{\"a\":1}", bad.as_bytes()),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3cre"));
        assert!(!same_secret(b"s3cret", b""));
    }
}
