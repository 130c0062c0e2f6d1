//! Who may call the API: the static access token (both flavors; a Cloud phone number id may have
//! its own instead), the On-Premises login with HTTP basic auth, and the login tokens each
//! installation issues, which live until they expire or are revoked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::installations::Installation;
use super::state::{Account, Sandbox, lock};
use super::{clock, ids};

/// The login tokens issued so far, each with the instant it stops working (`None`: a lifetime so
/// long that it never does).
#[derive(Default)]
pub(crate) struct Tokens {
    live: Mutex<HashMap<String, Option<Instant>>>,
}

/// A token issued by [`Tokens::issue`].
pub(crate) struct IssuedToken {
    pub token: String,
    /// `YYYY-MM-DD HH:MM:SS+00:00`, UTC.
    pub expires_after: String,
}

impl Tokens {
    /// Issues a new token for `username`, valid for the configured lifetime.
    pub(crate) fn issue(&self, username: &str, lifetime: Duration) -> IssuedToken {
        let now = SystemTime::now();
        let issued_at = clock::unix_seconds(now);
        let expires_at = clock::unix_seconds_after(now, lifetime);
        let token = ids::login_token(username, issued_at, expires_at);
        let deadline = Instant::now().checked_add(lifetime);
        {
            let mut live = lock(&self.live);
            // Forget the expired ones so the table does not grow without bound.
            let right_now = Instant::now();
            live.retain(|_, deadline| deadline.is_none_or(|d| d > right_now));
            live.insert(token.clone(), deadline);
        }
        IssuedToken {
            token,
            expires_after: clock::format_utc(expires_at),
        }
    }

    /// Whether `token` was issued and has neither expired nor been revoked.
    pub(crate) fn is_live(&self, token: &str) -> bool {
        let now = Instant::now();
        lock(&self.live)
            .get(token)
            .is_some_and(|deadline| deadline.is_none_or(|d| d > now))
    }

    /// Makes every token issued so far stop working.
    pub(crate) fn revoke_all(&self) {
        lock(&self.live).clear();
    }
}

/// The credentials of an `Authorization` header with `scheme` (case-insensitive), if any.
fn credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sandbox {
    /// Checks the bearer token of a request for `account`: `None` if it is accepted, else the 401
    /// to answer in its flavor's shape (counted in the stats).
    ///
    /// A Cloud phone number id listed in `cloud_tokens` accepts only its own token, any other one
    /// the static token; an installation accepts the static token and the login tokens it issued.
    pub(crate) fn refuse_unauthorized(
        &self,
        account: Account<'_>,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let flavor = account.flavor();
        let accepted = credentials(headers, "Bearer").is_some_and(|token| match account {
            Account::Cloud { phone_number_id } => {
                let expected = self
                    .config
                    .cloud_tokens
                    .get(phone_number_id)
                    .unwrap_or(&self.config.access_token);
                same_secret(token.as_bytes(), expected.as_bytes())
            }
            Account::OnPremises(installation) => {
                same_secret(token.as_bytes(), self.config.access_token.as_bytes())
                    || installation.tokens.is_live(token)
            }
        });
        if accepted {
            return None;
        }
        self.count_unauthorized();
        tracing::debug!(?flavor, "bearer token refused");
        Some(flavor.unauthorized())
    }

    /// Whether the request carries HTTP basic credentials of the configured login user.
    pub(crate) fn basic_auth_matches(&self, headers: &HeaderMap) -> bool {
        let Some(encoded) = credentials(headers, "Basic") else {
            return false;
        };
        let Some(decoded) = ids::decode_base64_standard(encoded) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&byte| byte == b':') else {
            return false;
        };
        let (username, password) = (&decoded[..colon], &decoded[colon + 1..]);
        // Both comparisons run, so the time taken does not tell which one failed.
        let username_ok = same_secret(username, self.config.username.as_bytes());
        let password_ok = same_secret(password, self.config.password.as_bytes());
        username_ok & password_ok
    }

    /// Issues a login token of `installation` with the configured lifetime.
    pub(crate) fn issue_token(&self, installation: &Installation) -> IssuedToken {
        installation
            .tokens
            .issue(&self.config.username, self.config.token_lifetime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_live_until_revoked() {
        let tokens = Tokens::default();
        let first = tokens.issue("admin", Duration::from_secs(3600));
        let second = tokens.issue("admin", Duration::MAX);
        assert_ne!(first.token, second.token);
        assert!(tokens.is_live(&first.token));
        assert!(tokens.is_live(&second.token));
        assert!(!tokens.is_live("not-a-token"));
        assert_eq!(second.expires_after, "9999-12-31 23:59:59+00:00");
        tokens.revoke_all();
        assert!(!tokens.is_live(&first.token));
        assert!(!tokens.is_live(&second.token));
    }

    #[test]
    fn a_zero_lifetime_token_is_dead_at_birth() {
        let tokens = Tokens::default();
        let issued = tokens.issue("admin", Duration::ZERO);
        assert!(!tokens.is_live(&issued.token));
    }

    #[test]
    fn authorization_schemes_are_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(credentials(&headers, "Bearer"), Some("abc"));
        assert_eq!(credentials(&headers, "Basic"), None);
        assert_eq!(credentials(&HeaderMap::new(), "Bearer"), None);
    }
}
