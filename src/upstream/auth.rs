//! Credentials for the API: a static bearer token, or the On-Premises login that the service performs
//! itself (`POST /v1/users/login` with basic auth), renewing the token before it expires and once
//! more when the API refuses it.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::error::UpstreamError;
use super::redact::Redactor;
use super::{BodyError, Budget, Observer, read_body};
use crate::wire::response::LoginAnswer;

/// A secret string that never shows in `Debug` output or logs, and is zeroed when dropped
/// (`secrecy`). Unlike `secrecy`'s own types it compares equal to the same secret, so that a
/// sender whose configuration did not change is kept on reload (and one whose password did is
/// restarted).
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the service authenticates to the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// A static bearer token (`WHATSAPP_GRPC_ACCESS_TOKEN`).
    AccessToken(Secret),
    /// On-Premises user and password (`WHATSAPP_GRPC_USERNAME`, `WHATSAPP_GRPC_PASSWORD`): the
    /// service logs in.
    Login { username: String, password: Secret },
}

/// A token that can be sent, with the generation that tells renewals apart.
#[derive(Clone, Debug)]
pub(super) struct Bearer {
    pub header: HeaderValue,
    pub generation: u64,
}

/// The `Authorization` header for each request.
pub(super) enum Auth {
    Static(HeaderValue),
    Login(Login),
}

pub(super) struct Login {
    url: String,
    /// `Basic ...`, built once.
    basic: HeaderValue,
    /// The password, and `user:password` in base64, to redact from anything the upstream says.
    secrets: [String; 2],
    current: RwLock<Option<Arc<Token>>>,
    /// Lets one task at a time log in; the others wait for its token.
    renewing: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Token {
    bearer: Bearer,
    /// When to log in again: ahead of the expiry, by an hour or half the lifetime if shorter.
    renew_at: SystemTime,
    expires_at: SystemTime,
}

impl Auth {
    pub(super) fn new(credentials: &Credentials, login_url: String) -> Result<Auth, String> {
        match credentials {
            Credentials::AccessToken(token) => Ok(Auth::Static(bearer_header(token.expose())?)),
            Credentials::Login { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                let encoded = BASE64.encode(pair.as_bytes());
                let mut basic = HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| "the username or password has characters a header cannot carry")?;
                basic.set_sensitive(true);
                Ok(Auth::Login(Login {
                    url: login_url,
                    basic,
                    secrets: [password.expose().to_owned(), encoded],
                    current: RwLock::new(None),
                    renewing: tokio::sync::Mutex::new(()),
                }))
            }
        }
    }

    /// The secrets to redact from what the upstream says: the static token, or the password, the
    /// basic credentials and the current token.
    pub(super) fn secrets(&self) -> Vec<String> {
        let token = |header: &HeaderValue| {
            header
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::to_owned)
        };
        match self {
            Auth::Static(header) => token(header).into_iter().collect(),
            Auth::Login(login) => login
                .secrets
                .iter()
                .cloned()
                .chain(
                    login
                        .token()
                        .and_then(|current| token(&current.bearer.header)),
                )
                .collect(),
        }
    }

    /// The bearer to send now, logging in first if there is no live token (`observer` hears of
    /// the login).
    pub(super) async fn bearer(
        &self,
        client: &reqwest::Client,
        budget: &Budget,
        observer: Option<&dyn Observer>,
    ) -> Result<Bearer, UpstreamError> {
        match self {
            Auth::Static(header) => Ok(Bearer {
                header: header.clone(),
                generation: 0,
            }),
            Auth::Login(login) => {
                let now = SystemTime::now();
                match login.token() {
                    Some(token) if token.renew_at > now => Ok(token.bearer.clone()),
                    Some(token) if token.expires_at > now => {
                        // Due for renewal but still valid: a failed renewal keeps it.
                        match login
                            .renew(client, token.bearer.generation, budget, observer)
                            .await
                        {
                            Ok(bearer) => Ok(bearer),
                            Err(error) => {
                                tracing::warn!(%error, "token renewal failed; the current token is still valid");
                                Ok(token.bearer.clone())
                            }
                        }
                    }
                    Some(token) => {
                        login
                            .renew(client, token.bearer.generation, budget, observer)
                            .await
                    }
                    None => login.renew(client, 0, budget, observer).await,
                }
            }
        }
    }

    /// A new bearer after the API refused `refused`, or `None` when a static token cannot be
    /// renewed.
    pub(super) async fn renew_after_refusal(
        &self,
        client: &reqwest::Client,
        refused: &Bearer,
        budget: &Budget,
        observer: Option<&dyn Observer>,
    ) -> Option<Result<Bearer, UpstreamError>> {
        match self {
            Auth::Static(_) => None,
            Auth::Login(login) => Some(
                login
                    .renew(client, refused.generation, budget, observer)
                    .await,
            ),
        }
    }
}

impl Login {
    fn token(&self) -> Option<Arc<Token>> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Logs in unless another task already replaced the token of generation `stale`. Waiting for
    /// another task's login ends by the caller's deadline (without one, after twice the request
    /// timeout, which that login cannot outlast). `observer` hears of the login, if one is made.
    ///
    /// Boxed: a login is rare, and its future inline would make every call's larger (and every
    /// call's future is moved as a whole).
    fn renew<'a>(
        &'a self,
        client: &'a reqwest::Client,
        stale: u64,
        budget: &'a Budget,
        observer: Option<&'a dyn Observer>,
    ) -> Pin<Box<dyn Future<Output = Result<Bearer, UpstreamError>> + Send + 'a>> {
        Box::pin(self.renew_now(client, stale, budget, observer))
    }

    async fn renew_now(
        &self,
        client: &reqwest::Client,
        stale: u64,
        budget: &Budget,
        observer: Option<&dyn Observer>,
    ) -> Result<Bearer, UpstreamError> {
        let (until, by_deadline) = budget.wait_until(budget.request_timeout.saturating_mul(2));
        let _one_at_a_time = match tokio::time::timeout_at(until, self.renewing.lock()).await {
            Ok(guard) => guard,
            Err(_elapsed) if by_deadline => {
                return Err(UpstreamError::DeadlineExceeded { sent: false });
            }
            Err(_elapsed) => {
                return Err(UpstreamError::Login {
                    message: "another task's login did not end in time".into(),
                    api_down: true,
                });
            }
        };
        if let Some(token) = self.token()
            && token.bearer.generation != stale
            && token.expires_at > SystemTime::now()
        {
            return Ok(token.bearer.clone());
        }
        let token = self.log_in(client, stale + 1, budget).await;
        if let Some(observer) = observer {
            observer.login_finished(token.as_ref().map(|_| ()));
        }
        let token = token?;
        let bearer = token.bearer.clone();
        match self.current.write() {
            Ok(mut current) => *current = Some(Arc::new(token)),
            Err(poisoned) => *poisoned.into_inner() = Some(Arc::new(token)),
        }
        tracing::debug!(
            generation = bearer.generation,
            "logged in to the On-Premises API"
        );
        Ok(bearer)
    }

    /// `POST /v1/users/login`, within `min(request timeout, what is left of the caller's
    /// deadline)`, its answer read up to the answer bound. Whatever fails, the message was not sent.
    async fn log_in(
        &self,
        client: &reqwest::Client,
        generation: u64,
        budget: &Budget,
    ) -> Result<Token, UpstreamError> {
        let slot = budget.slot()?;
        let failed = |message: String, api_down: bool| UpstreamError::Login { message, api_down };
        let out_of_time = || {
            if slot.by_deadline {
                UpstreamError::DeadlineExceeded { sent: false }
            } else {
                failed(
                    format!("no answer to the login within {:?}", slot.timeout),
                    true,
                )
            }
        };
        let transport = |error: reqwest::Error| {
            let redactor = Redactor::new(self.secrets.iter().cloned(), b"");
            if error.is_builder() {
                UpstreamError::Local(super::error_text(error, &redactor))
            } else if error.is_timeout() && !error.is_connect() {
                out_of_time()
            } else if error.is_connect() {
                UpstreamError::Unreachable(super::error_text(error, &redactor))
            } else {
                failed(
                    format!(
                        "the connection broke during the login: {}",
                        super::error_text(error, &redactor)
                    ),
                    true,
                )
            }
        };
        let exchange = async {
            let mut response = client
                .post(&self.url)
                .header(AUTHORIZATION, self.basic.clone())
                .timeout(slot.timeout)
                .send()
                .await
                .map_err(transport)?;
            let status = response.status();
            let body = match read_body(&mut response).await {
                Ok(body) => body,
                Err(BodyError::TooLarge) => {
                    return Err(failed(
                        format!(
                            "the login answered HTTP {} with more than {} bytes",
                            status.as_u16(),
                            super::MAX_ANSWER_BYTES
                        ),
                        status.is_server_error(),
                    ));
                }
                Err(BodyError::Transport(error)) => return Err(transport(error)),
            };
            Ok((status, body))
        };
        let (status, body) = match tokio::time::timeout_at(slot.until, exchange).await {
            Ok(result) => result?,
            Err(_elapsed) => return Err(out_of_time()),
        };
        if status == StatusCode::UNAUTHORIZED {
            // This service's configuration, not the API's health: the API that refused is up.
            return Err(failed(
                "the API refused the username and password (HTTP 401)".into(),
                false,
            ));
        }
        if !status.is_success() {
            return Err(failed(
                format!("the login answered HTTP {}", status.as_u16()),
                status.is_server_error(),
            ));
        }
        let answer: LoginAnswer = serde_json::from_slice(&body)
            .map_err(|_| failed("the login answer is not the API's JSON".into(), false))?;
        let user = answer
            .users
            .into_iter()
            .next()
            .ok_or_else(|| failed("the login answer holds no token".into(), false))?;
        let header = bearer_header(&user.token).map_err(|message| failed(message, false))?;
        let now = SystemTime::now();
        let expires_at = parse_expires_after(&user.expires_after).unwrap_or_else(|| {
            tracing::warn!(
                "the login answer's expires_after is unreadable; renewing within the hour"
            );
            now + Duration::from_secs(3600)
        });
        let lifetime = expires_at.duration_since(now).unwrap_or_default();
        let margin = (lifetime / 2).min(Duration::from_secs(3600));
        Ok(Token {
            bearer: Bearer { header, generation },
            renew_at: expires_at - margin,
            expires_at,
        })
    }
}

fn bearer_header(token: &str) -> Result<HeaderValue, String> {
    let mut header = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the access token has characters a header cannot carry".to_owned())?;
    header.set_sensitive(true);
    Ok(header)
}

/// `YYYY-MM-DD HH:MM:SS+00:00` (the On-Premises `expires_after`, in UTC; `T` and `Z` accepted
/// too) as a time. Another offset is refused, as the API never sends one.
pub(crate) fn parse_expires_after(value: &str) -> Option<SystemTime> {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let value = value.trim();
    if !(value.ends_with("+00:00") || value.ends_with('Z')) {
        return None;
    }
    // RFC 3339 with a space for the `T`, as its section 5.6 allows and the API writes it.
    let rfc3339 = value.replacen(' ', "T", 1);
    let at = OffsetDateTime::parse(&rfc3339, &Rfc3339).ok()?;
    let seconds = u64::try_from(at.unix_timestamp()).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("admin:sandbox-password", "YWRtaW46c2FuZGJveC1wYXNzd29yZA=="),
        ] {
            assert_eq!(BASE64.encode(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn reads_the_on_premises_expiry() {
        let at =
            |s| parse_expires_after(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(at("1970-01-01 00:00:00+00:00"), Some(0));
        assert_eq!(at("2018-03-01 15:29:26+00:00"), Some(1_519_918_166));
        assert_eq!(at("2024-02-29 00:00:00+00:00"), Some(1_709_164_800));
        assert_eq!(at("2026-11-27T10:00:00Z"), Some(1_795_773_600));
        assert_eq!(at("2018-03-01 15:29:26+02:00"), None);
        assert_eq!(at("2018-13-01 15:29:26+00:00"), None);
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let credentials = Credentials::Login {
            username: "admin".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }
}
