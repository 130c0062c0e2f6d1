//! The On-Premises installations one sandbox emulates: the root one (`/v1/…`) and named ones
//! (`/installations/{installation}/v1/…`), each with its own login tokens and health switch, so
//! that `http://SANDBOX` and `http://SANDBOX/installations/NAME` are separate installations.
//!
//! A named installation is tracked from the first request that names it; at most
//! [`MAX_INSTALLATIONS`] are, so a client cannot grow the sandbox's memory by inventing names.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;

use super::answers::{ApiError, Flavor};
use super::auth::Tokens;
use super::state::{Sandbox, lock};

/// How many named installations one sandbox tracks (the root one aside). Requests naming another
/// one are answered 404.
pub const MAX_INSTALLATIONS: usize = 64;

/// The longest installation name, in bytes.
pub const MAX_INSTALLATION_NAME_LEN: usize = 64;

/// The path prefix of the named installations' endpoints.
pub(crate) const PREFIX: &str = "/installations/";

/// One On-Premises installation.
pub(crate) struct Installation {
    /// `None` for the root installation.
    pub name: Option<String>,
    /// The login tokens it issued.
    pub tokens: Tokens,
    healthy: AtomicBool,
}

impl Installation {
    fn new(name: Option<String>, healthy: bool) -> Installation {
        Installation {
            name,
            tokens: Tokens::default(),
            healthy: AtomicBool::new(healthy),
        }
    }

    /// Whether its gateway is connected.
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub(crate) fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }
}

/// Every installation: the root one and the named ones tracked so far.
pub(crate) struct Installations {
    root: Arc<Installation>,
    named: Mutex<HashMap<String, Arc<Installation>>>,
    /// The health a named installation starts with: the last value of `PUT /sandbox/health`.
    default_healthy: AtomicBool,
}

/// Whether `name` may name an installation: 1 to [`MAX_INSTALLATION_NAME_LEN`] ASCII letters,
/// digits, `-` or `_`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    (1..=MAX_INSTALLATION_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Installations {
    pub(crate) fn new() -> Installations {
        Installations {
            root: Arc::new(Installation::new(None, true)),
            named: Mutex::new(HashMap::new()),
            default_healthy: AtomicBool::new(true),
        }
    }

    /// The root installation (`/v1/…`).
    pub(crate) fn root(&self) -> Arc<Installation> {
        Arc::clone(&self.root)
    }

    /// The installation `name`, tracked from now on if it was not yet; `None` if the name is not
    /// valid or [`MAX_INSTALLATIONS`] others are tracked already.
    pub(crate) fn named(&self, name: &str) -> Option<Arc<Installation>> {
        if !is_valid_name(name) {
            return None;
        }
        let mut named = lock(&self.named);
        if let Some(installation) = named.get(name) {
            return Some(Arc::clone(installation));
        }
        if named.len() >= MAX_INSTALLATIONS {
            tracing::debug!(
                max = MAX_INSTALLATIONS,
                "installation refused: too many tracked"
            );
            return None;
        }
        let installation = Arc::new(Installation::new(
            Some(name.to_owned()),
            self.default_healthy.load(Ordering::Relaxed),
        ));
        named.insert(name.to_owned(), Arc::clone(&installation));
        Some(installation)
    }

    /// Sets the health of every installation, and of those tracked later.
    pub(crate) fn set_all_healthy(&self, healthy: bool) {
        // Under the lock, so an installation tracked meanwhile cannot miss the change.
        let named = lock(&self.named);
        self.default_healthy.store(healthy, Ordering::Relaxed);
        self.root.set_healthy(healthy);
        for installation in named.values() {
            installation.set_healthy(healthy);
        }
    }

    /// Makes every login token issued so far, by any installation, stop working.
    pub(crate) fn revoke_all_tokens(&self) {
        self.root.tokens.revoke_all();
        for installation in lock(&self.named).values() {
            installation.tokens.revoke_all();
        }
    }
}

/// The On-Premises 404 for a path naming an installation the sandbox does not track.
fn unknown_installation() -> Response {
    Flavor::OnPremises.error(ApiError {
        status: StatusCode::NOT_FOUND,
        code: 1006,
        title: "Resource not found",
        details: "Unknown installation: names are 1 to 64 letters, digits, '-' or '_', and the sandbox tracks at most 64",
    })
}

/// The installation an On-Premises request is for: the root one for `/v1/…`, the named one for
/// `/installations/{installation}/v1/…`. A name that is not valid, or one more than the sandbox
/// tracks, is answered [`unknown_installation`] before the handler runs.
pub(crate) struct Target(pub Arc<Installation>);

impl FromRequestParts<Arc<Sandbox>> for Target {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        sandbox: &Arc<Sandbox>,
    ) -> Result<Self, Self::Rejection> {
        if !parts.uri.path().starts_with(PREFIX) {
            return Ok(Target(sandbox.installations.root()));
        }
        let params = RawPathParams::from_request_parts(parts, sandbox)
            .await
            .map_err(|_| unknown_installation())?;
        params
            .iter()
            .find(|(key, _)| *key == "installation")
            .and_then(|(_, name)| sandbox.installations.named(name))
            .map(Target)
            .ok_or_else(unknown_installation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for valid in [
            "legacy",
            "eu-1",
            "A_b",
            &"x".repeat(MAX_INSTALLATION_NAME_LEN),
        ] {
            assert!(is_valid_name(valid), "{valid}");
        }
        let too_long = "x".repeat(MAX_INSTALLATION_NAME_LEN + 1);
        for invalid in ["", "a b", "a/b", "..", "é", "a.b", too_long.as_str()] {
            assert!(!is_valid_name(invalid), "{invalid}");
        }
    }

    #[test]
    fn at_most_the_bound_is_tracked_and_known_ones_stay_reachable() {
        let installations = Installations::new();
        let first = installations.named("n0").expect("first");
        for i in 1..MAX_INSTALLATIONS {
            assert!(installations.named(&format!("n{i}")).is_some(), "{i}");
        }
        assert!(installations.named("one-too-many").is_none());
        let again = installations.named("n0").expect("known");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(lock(&installations.named).len(), MAX_INSTALLATIONS);
    }

    #[test]
    fn the_global_switch_reaches_every_installation_and_later_ones() {
        let installations = Installations::new();
        let legacy = installations.named("legacy").expect("legacy");
        let other = installations.named("other").expect("other");
        other.set_healthy(false);
        assert!(legacy.is_healthy() && !other.is_healthy());
        installations.set_all_healthy(false);
        assert!(!legacy.is_healthy() && !installations.root().is_healthy());
        assert!(!installations.named("later").expect("later").is_healthy());
        installations.set_all_healthy(true);
        assert!(other.is_healthy() && installations.root().is_healthy());
    }
}
