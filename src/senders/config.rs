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
    /// Messages sent per second at most (evenly paced, see [`crate::ratelimit`]); 0 for no limit.
    pub max_messages_per_second: u32,
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

/// Why a base URL cannot be an API's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseUrlProblem {
    /// It does not start with `http://` or `https://`.
    Scheme,
    /// It carries a user or password (`https://user:pass@host`).
    Userinfo,
}

impl fmt::Display for BaseUrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BaseUrlProblem::Scheme => "must start with http:// or https://",
            BaseUrlProblem::Userinfo => "must not carry a user or password",
        })
    }
}

/// Checks an API base URL: http(s), and no userinfo (credentials are configured apart, and never
/// in a URL that may be logged).
pub fn check_base_url(url: &str) -> Result<(), BaseUrlProblem> {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return Err(BaseUrlProblem::Scheme);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(BaseUrlProblem::Userinfo);
    }
    Ok(())
}

/// Whether `id` can be a Cloud phone number id: digits only.
pub fn valid_phone_number_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `version` can be a Graph API version, e.g. `v24.0`.
pub fn valid_api_version(version: &str) -> bool {
    version.starts_with('v') && !version.contains('/')
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
    fn base_urls_are_http_without_userinfo() {
        assert_eq!(check_base_url("https://wa.internal:9090/x"), Ok(()));
        assert_eq!(check_base_url("http://127.0.0.1"), Ok(()));
        assert_eq!(check_base_url("wa.internal"), Err(BaseUrlProblem::Scheme));
        assert_eq!(
            check_base_url("ftp://wa.internal"),
            Err(BaseUrlProblem::Scheme)
        );
        assert_eq!(
            check_base_url("https://u:p@wa.internal"),
            Err(BaseUrlProblem::Userinfo)
        );
        // An '@' after the authority is part of the path.
        assert_eq!(check_base_url("https://wa.internal/a@b"), Ok(()));
    }

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
