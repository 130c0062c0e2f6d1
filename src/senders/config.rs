//! What one sender is made of, as validated configuration.

use std::fmt;
use std::sync::Arc;

use crate::upstream::UpstreamConfig;

/// The longest sender name.
pub const NAME_MAX: usize = 63;

/// One business number the service sends from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// Unique among the senders; lowercase letters, digits and `-`, at most [`NAME_MAX`]
    /// characters, starting with a letter or digit ([`valid_name`]). It appears in health names,
    /// logs and metrics.
    pub name: String,
    /// The API it sends to, and how.
    pub upstream: UpstreamConfig,
    /// The number as people see it (e.g. `+1 555 000 1111`), for `ListSenders`; may be empty.
    pub display_phone_number: String,
}

/// Whether `name` can name a sender.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= NAME_MAX
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Reads the senders again (on SIGHUP): the whole new list, validated, or a sentence per problem.
#[derive(Clone)]
pub struct Reload(pub Arc<dyn Fn() -> Result<Vec<SenderConfig>, String> + Send + Sync>);

impl fmt::Debug for Reload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reload(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        for good in ["default", "brand-us", "a", "9", &"x".repeat(NAME_MAX)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "Brand",
            "a_b",
            "a.b",
            "a b",
            &"x".repeat(NAME_MAX + 1),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
