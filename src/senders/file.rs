//! The senders file (`--senders FILE`): a TOML list of senders, each with its flavor, its API's
//! address and where its credentials are, read and validated in full, every problem named.
//!
//! ```toml
//! [defaults]                        # optional: overrides the flags' values for every sender
//! api_version = "v24.0"
//! upstream_timeout = "30s"
//! max_messages_per_second = 80       # per sender; 0 = no limit
//!
//! [[sender]]
//! name = "brand-us"
//! flavor = "cloud"
//! phone_number_id = "100000000000001"
//! token_env = "BRAND_US_TOKEN"
//! ```
//!
//! A value is taken from the sender's own key, else the file's `[defaults]`, else the flag (or its
//! environment variable), else the flag's built-in default. Secrets are never written in the file:
//! a token or password comes from an environment variable (`*_env`) or a file (`*_file`, e.g. a
//! mounted Kubernetes Secret; a trailing newline is trimmed).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::parse_duration;
use crate::flavor::Flavor;
use crate::ratelimit::MAX_PER_SECOND;
use crate::sandbox::SandboxConfig;
use crate::upstream::{Credentials, MAX_ATTEMPTS, Secret, UpstreamConfig, check, display_url};

use super::config::{
    BaseUrlProblem, NAME_MAX, SenderConfig, check_base_url, valid_api_version, valid_name,
    valid_phone_number_id,
};
use super::registry::SENDERS_MAX;

/// The largest senders file, in bytes.
pub const FILE_MAX_BYTES: u64 = 1024 * 1024;
/// The largest token or password file, in bytes.
pub const SECRET_FILE_MAX_BYTES: u64 = 64 * 1024;
/// The largest CA file, in bytes.
pub const CA_FILE_MAX_BYTES: u64 = 1024 * 1024;
/// The longest display phone number, in characters.
pub const DISPLAY_PHONE_NUMBER_MAX: usize = 64;

/// The Graph API's public base URL, the Cloud senders' default.
const CLOUD_BASE_URL: &str = crate::config::CLOUD_BASE_URL;

/// The values a sender takes when neither it nor the file's `[defaults]` sets them: the flags'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    pub flavor: Flavor,
    pub api_version: String,
    pub upstream_timeout: Duration,
    pub upstream_connect_timeout: Duration,
    pub upstream_max_in_flight: usize,
    pub upstream_max_queued: usize,
    pub upstream_max_attempts: u32,
    pub max_messages_per_second: u32,
}

/// How to read a senders file.
#[derive(Clone, Debug)]
pub struct SendersFile {
    pub path: PathBuf,
    /// The flags' values, below the file's `[defaults]`.
    pub fallback: Fallback,
    /// `--sandbox`: no `base_url` (the in-process sandbox's is filled in later), and missing
    /// credentials are the sandbox's.
    pub sandbox: bool,
}

/// Looks up an environment variable; unset and empty are both `None`.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process's environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl SendersFile {
    /// Reads and validates the file: every sender, or every problem, one line each.
    pub fn read(&self, env: Env<'_>) -> Result<Vec<SenderConfig>, String> {
        let label = self.path.display().to_string();
        let bytes = read_bounded(&self.path, FILE_MAX_BYTES)
            .map_err(|problem| format!("{label}: {problem}"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{label}: is not UTF-8 text; write it as TOML"))?;
        parse(&text, &label, &self.fallback, self.sandbox, env)
    }
}

/// A file's contents, at most `max` bytes, or why not.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() as u64 > max {
        return Err(format!("is larger than {max} bytes"));
    }
    Ok(bytes)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    flavor: Option<FileFlavor>,
    api_version: Option<String>,
    upstream_timeout: Option<String>,
    upstream_connect_timeout: Option<String>,
    upstream_max_in_flight: Option<usize>,
    upstream_max_queued: Option<usize>,
    upstream_max_attempts: Option<u32>,
    max_messages_per_second: Option<u32>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FileFlavor {
    Cloud,
    OnPremises,
}

impl From<FileFlavor> for Flavor {
    fn from(flavor: FileFlavor) -> Flavor {
        match flavor {
            FileFlavor::Cloud => Flavor::Cloud,
            FileFlavor::OnPremises => Flavor::OnPremises,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<String>,
    flavor: Option<FileFlavor>,
    phone_number_id: Option<String>,
    display_phone_number: Option<String>,
    base_url: Option<String>,
    api_version: Option<String>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    upstream_timeout: Option<String>,
    upstream_connect_timeout: Option<String>,
    upstream_max_in_flight: Option<usize>,
    upstream_max_queued: Option<usize>,
    upstream_max_attempts: Option<u32>,
    max_messages_per_second: Option<u32>,
}

/// Keys that would hold a secret inline, refused with the keys to use instead.
const INLINE_SECRETS: [(&str, &str); 4] = [
    ("token", "token_env or token_file"),
    ("access_token", "token_env or token_file"),
    ("password", "password_env or password_file"),
    ("secret", "token_env or token_file"),
];

/// The problems found so far, one line each.
struct Problems {
    label: String,
    lines: Vec<String>,
}

impl Problems {
    fn add(&mut self, place: &str, problem: impl std::fmt::Display) {
        let mut line = format!("{}: ", self.label);
        if !place.is_empty() {
            let _ = write!(line, "{place}: ");
        }
        let _ = write!(line, "{problem}");
        // One line per problem, whatever a message holds.
        self.lines.push(line.replace(['\n', '\r'], " "));
    }
}

/// Validates the text of a senders file (`label` names it in problems).
pub fn parse(
    text: &str,
    label: &str,
    fallback: &Fallback,
    sandbox: bool,
    env: Env<'_>,
) -> Result<Vec<SenderConfig>, String> {
    let mut problems = Problems {
        label: label.to_owned(),
        lines: Vec::new(),
    };
    let mut top: toml::Table = toml::from_str(text).map_err(|error| {
        let line = error.span().map(|span| {
            let start = span.start.min(text.len());
            text.as_bytes()[..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        });
        let message = error.message().trim_end().replace(['\n', '\r'], " ");
        match line {
            Some(line) => format!("{label}: line {line}: {message}"),
            None => format!("{label}: {message}"),
        }
    })?;

    let defaults = match top.remove("defaults") {
        None => Defaults::default(),
        Some(toml::Value::Table(table)) => {
            typed::<Defaults>(table, "[defaults]", &mut problems).unwrap_or_default()
        }
        Some(_) => {
            problems.add("defaults", "must be a table: write it as [defaults]");
            Defaults::default()
        }
    };
    let entries = match top.remove("sender") {
        None => Vec::new(),
        Some(toml::Value::Array(entries)) => entries,
        Some(_) => {
            problems.add(
                "sender",
                "must be a list of tables: write each sender under [[sender]]",
            );
            Vec::new()
        }
    };
    for key in top.keys() {
        problems.add(
            "",
            format!("unknown key {key:?}: the file holds [defaults] and [[sender]] tables"),
        );
    }

    let base = Base::new(&defaults, fallback, &mut problems);
    if entries.is_empty() && problems.lines.is_empty() {
        problems.add("", "lists no sender: add a [[sender]] table");
    }
    if entries.len() > SENDERS_MAX {
        problems.add(
            "",
            format!(
                "lists {} senders; at most {SENDERS_MAX} are allowed",
                entries.len()
            ),
        );
    }

    let mut senders = Vec::with_capacity(entries.len());
    // Names and Cloud phone number ids, each to the sender that has it.
    let mut keys: HashMap<String, String> = HashMap::new();
    for (index, value) in entries.into_iter().enumerate() {
        let name = value
            .get("name")
            .and_then(toml::Value::as_str)
            .map(str::to_owned);
        let place = match &name {
            Some(name) => format!("sender[{index}] {name:?}"),
            None => format!("sender[{index}]"),
        };
        let toml::Value::Table(mut table) = value else {
            problems.add(&place, "must be a table: write it under [[sender]]");
            continue;
        };
        let before = problems.lines.len();
        for (key, instead) in INLINE_SECRETS {
            if table.remove(key).is_some() {
                problems.add(
                    &place,
                    format!("{key}: secrets are never written in the file; use {instead}"),
                );
            }
        }
        let Some(entry) = typed::<Entry>(table, &place, &mut problems) else {
            continue;
        };
        // Names and Cloud phone number ids must be unique, whatever else is wrong.
        let flavor = entry.flavor.map_or(base.flavor, Flavor::from);
        let mut own = Vec::new();
        if let Some(name) = entry.name.as_ref().filter(|name| valid_name(name)) {
            own.push(("name", name.clone()));
        }
        if flavor == Flavor::Cloud
            && let Some(id) = entry
                .phone_number_id
                .as_ref()
                .filter(|id| valid_phone_number_id(id))
        {
            own.push(("phone_number_id", id.clone()));
        }
        for (key, value) in own {
            match keys.get(&value) {
                Some(other) => problems.add(
                    &place,
                    format!(
                        "{key} {value:?} is already the name or phone number id of {other}; each must be unique"
                    ),
                ),
                None => {
                    keys.insert(value, place.clone());
                }
            }
        }
        if let Some(built) = sender(entry, &base, sandbox, env, &place, &mut problems)
            && problems.lines.len() == before
        {
            senders.push(built);
        }
    }

    if problems.lines.is_empty() {
        Ok(senders)
    } else {
        Err(problems.lines.join("\n"))
    }
}

/// The table as a `T` (whose fields are all optional), or a problem for each key that does not
/// fit, named.
fn typed<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    place: &str,
    problems: &mut Problems,
) -> Option<T> {
    let error = match table.clone().try_into::<T>() {
        Ok(value) => return Some(value),
        Err(error) => error,
    };
    // Which keys: each alone, as every field is optional.
    let before = problems.lines.len();
    for (key, value) in table {
        let mut alone = toml::Table::new();
        alone.insert(key.clone(), value);
        if let Err(error) = alone.try_into::<T>() {
            let message = error.message().trim_end();
            if message.starts_with("unknown field") {
                problems.add(place, message);
            } else {
                problems.add(place, format!("{key}: {message}"));
            }
        }
    }
    if problems.lines.len() == before {
        problems.add(place, error.message().trim_end());
    }
    None
}

/// The values every sender starts from: the file's `[defaults]` over the flags'.
struct Base {
    flavor: Flavor,
    api_version: String,
    upstream_timeout: Duration,
    upstream_connect_timeout: Duration,
    upstream_max_in_flight: usize,
    upstream_max_queued: usize,
    upstream_max_attempts: u32,
    max_messages_per_second: u32,
}

impl Base {
    fn new(defaults: &Defaults, fallback: &Fallback, problems: &mut Problems) -> Base {
        let place = "[defaults]";
        let api_version = defaults
            .api_version
            .clone()
            .unwrap_or_else(|| fallback.api_version.clone());
        if defaults.api_version.is_some() {
            check_api_version(&api_version, place, problems);
        }
        let max_in_flight = defaults
            .upstream_max_in_flight
            .unwrap_or(fallback.upstream_max_in_flight);
        if defaults.upstream_max_in_flight.is_some() {
            check_max_in_flight(max_in_flight, place, problems);
        }
        let max_attempts = defaults
            .upstream_max_attempts
            .unwrap_or(fallback.upstream_max_attempts);
        if defaults.upstream_max_attempts.is_some() {
            check_max_attempts(max_attempts, place, problems);
        }
        let max_messages_per_second = defaults
            .max_messages_per_second
            .unwrap_or(fallback.max_messages_per_second);
        if defaults.max_messages_per_second.is_some() {
            check_max_messages_per_second(max_messages_per_second, place, problems);
        }
        Base {
            max_messages_per_second,
            flavor: defaults.flavor.map_or(fallback.flavor, Flavor::from),
            api_version,
            upstream_timeout: duration(
                defaults.upstream_timeout.as_deref(),
                "upstream_timeout",
                fallback.upstream_timeout,
                place,
                problems,
            ),
            upstream_connect_timeout: duration(
                defaults.upstream_connect_timeout.as_deref(),
                "upstream_connect_timeout",
                fallback.upstream_connect_timeout,
                place,
                problems,
            ),
            upstream_max_in_flight: max_in_flight,
            upstream_max_queued: defaults
                .upstream_max_queued
                .unwrap_or(fallback.upstream_max_queued),
            upstream_max_attempts: max_attempts,
        }
    }
}

fn check_api_version(version: &str, place: &str, problems: &mut Problems) {
    if !valid_api_version(version) {
        problems.add(
            place,
            format!("api_version {version:?} is not a Graph API version: write it like v24.0"),
        );
    }
}

fn check_max_attempts(value: u32, place: &str, problems: &mut Problems) {
    if !(1..=MAX_ATTEMPTS).contains(&value) {
        problems.add(
            place,
            format!("upstream_max_attempts must be between 1 and {MAX_ATTEMPTS} (1 = no retry)"),
        );
    }
}

fn check_max_messages_per_second(value: u32, place: &str, problems: &mut Problems) {
    if value > MAX_PER_SECOND {
        problems.add(
            place,
            format!(
                "max_messages_per_second must be at most {MAX_PER_SECOND} (0 = no limit; the Cloud API allows 80 by default, up to 1,000 when upgraded)"
            ),
        );
    }
}

fn check_max_in_flight(value: usize, place: &str, problems: &mut Problems) {
    if value == 0 {
        problems.add(place, "upstream_max_in_flight must be at least 1");
    }
}

/// `text` as a duration longer than zero, else `fallback` (and a problem if `text` was bad).
fn duration(
    text: Option<&str>,
    key: &str,
    fallback: Duration,
    place: &str,
    problems: &mut Problems,
) -> Duration {
    let Some(text) = text else {
        return fallback;
    };
    match parse_duration(text) {
        Ok(value) if !value.is_zero() => value,
        Ok(_) => {
            problems.add(place, format!("{key} must be longer than zero, e.g. 5s"));
            fallback
        }
        Err(problem) => {
            problems.add(place, format!("{key}: {problem}"));
            fallback
        }
    }
}

/// One sender, or `None` once its problems are added.
fn sender(
    entry: Entry,
    base: &Base,
    sandbox: bool,
    env: Env<'_>,
    place: &str,
    problems: &mut Problems,
) -> Option<SenderConfig> {
    let before = problems.lines.len();
    let name = match entry.name {
        Some(name) if valid_name(&name) => name,
        Some(_) => {
            problems.add(
                place,
                format!(
                    "name must be lowercase letters, digits and '-', starting with a letter or digit, at most {NAME_MAX} characters"
                ),
            );
            String::new()
        }
        None => {
            problems.add(place, "name is required, e.g. name = \"brand-us\"");
            String::new()
        }
    };
    let flavor = entry.flavor.map_or(base.flavor, Flavor::from);

    let phone_number_id = match (flavor, entry.phone_number_id) {
        (Flavor::Cloud, Some(id)) if valid_phone_number_id(&id) => id,
        (Flavor::Cloud, Some(id)) => {
            problems.add(
                place,
                format!(
                    "phone_number_id {id:?} must be the numeric id of the business phone number (WhatsApp Manager > Phone numbers)"
                ),
            );
            String::new()
        }
        (Flavor::Cloud, None) => {
            problems.add(
                place,
                "phone_number_id is required for a Cloud sender: set it to the business phone number's id",
            );
            String::new()
        }
        (Flavor::OnPremises, Some(_)) => {
            problems.add(
                place,
                "phone_number_id is for Cloud senders only: an On-Premises installation sends from its own number; remove it",
            );
            String::new()
        }
        (Flavor::OnPremises, None) => String::new(),
    };

    let display_phone_number = entry.display_phone_number.unwrap_or_default();
    if display_phone_number.chars().count() > DISPLAY_PHONE_NUMBER_MAX {
        problems.add(
            place,
            format!("display_phone_number is longer than {DISPLAY_PHONE_NUMBER_MAX} characters"),
        );
    }

    let base_url = match (sandbox, flavor, entry.base_url) {
        (true, _, Some(_)) => {
            problems.add(
                place,
                "base_url: --sandbox runs its own API; remove base_url (or drop --sandbox)",
            );
            String::new()
        }
        // The sandbox's address is known once it listens; `main` fills it in.
        (true, _, None) => String::new(),
        (false, _, Some(url)) => {
            if let Err(problem) = check_base_url(&url) {
                let hint = match problem {
                    BaseUrlProblem::Scheme => "",
                    BaseUrlProblem::Userinfo => {
                        "; credentials go in token_env/token_file or username and password_env/password_file"
                    }
                };
                problems.add(
                    place,
                    format!("base_url {:?} {problem}{hint}", display_url(&url)),
                );
            } else if let Err(problem) = check::base_url(&url) {
                problems.add(place, format!("base_url {problem}"));
            }
            url
        }
        (false, Flavor::Cloud, None) => CLOUD_BASE_URL.to_owned(),
        (false, Flavor::OnPremises, None) => {
            problems.add(
                place,
                "base_url is required for an On-Premises sender: set it to the installation's base URL, e.g. https://wa.example.internal:9090",
            );
            String::new()
        }
    };

    let api_version = match entry.api_version {
        Some(version) => {
            check_api_version(&version, place, problems);
            version
        }
        None => base.api_version.clone(),
    };

    let credentials = credentials(
        flavor,
        Sources {
            token_env: entry.token_env,
            token_file: entry.token_file,
            username: entry.username,
            password_env: entry.password_env,
            password_file: entry.password_file,
        },
        sandbox,
        env,
        place,
        problems,
    )
    .filter(|credentials| match check::credentials(credentials) {
        Ok(()) => true,
        Err(problem) => {
            problems.add(place, problem);
            false
        }
    });

    let extra_ca_pem = entry.ca_file.and_then(|path| {
        match read_bounded(&path, CA_FILE_MAX_BYTES)
            .and_then(|pem| check::ca_certificates(&pem).map(|()| pem))
        {
            Ok(pem) => Some(pem),
            Err(problem) => {
                problems.add(
                    place,
                    format!(
                        "ca_file {}: {problem}; point it at a PEM file of CA certificates",
                        path.display()
                    ),
                );
                None
            }
        }
    });

    let request_timeout = duration(
        entry.upstream_timeout.as_deref(),
        "upstream_timeout",
        base.upstream_timeout,
        place,
        problems,
    );
    let connect_timeout = duration(
        entry.upstream_connect_timeout.as_deref(),
        "upstream_connect_timeout",
        base.upstream_connect_timeout,
        place,
        problems,
    );
    let max_in_flight = match entry.upstream_max_in_flight {
        Some(value) => {
            check_max_in_flight(value, place, problems);
            value
        }
        None => base.upstream_max_in_flight,
    };
    let max_queued = entry
        .upstream_max_queued
        .unwrap_or(base.upstream_max_queued);
    let max_attempts = match entry.upstream_max_attempts {
        Some(value) => {
            check_max_attempts(value, place, problems);
            value
        }
        None => base.upstream_max_attempts,
    };

    let max_messages_per_second = match entry.max_messages_per_second {
        Some(value) => {
            check_max_messages_per_second(value, place, problems);
            value
        }
        None => base.max_messages_per_second,
    };

    if problems.lines.len() != before {
        return None;
    }
    Some(SenderConfig {
        name,
        display_phone_number,
        max_messages_per_second,
        upstream: UpstreamConfig {
            flavor,
            base_url,
            api_version,
            phone_number_id,
            credentials: credentials?,
            extra_ca_pem,
            connect_timeout,
            request_timeout,
            max_in_flight,
            max_queued,
            max_attempts,
            // `--upstream-http2-prior-knowledge` is applied to every sender once they are read.
            http2_prior_knowledge: false,
        },
    })
}

/// Where a sender's credentials are to be found.
struct Sources {
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
}

fn credentials(
    flavor: Flavor,
    sources: Sources,
    sandbox: bool,
    env: Env<'_>,
    place: &str,
    problems: &mut Problems,
) -> Option<Credentials> {
    let before = problems.lines.len();
    let has_token = sources.token_env.is_some() || sources.token_file.is_some();
    let has_login = sources.username.is_some()
        || sources.password_env.is_some()
        || sources.password_file.is_some();
    if sources.token_env.is_some() && sources.token_file.is_some() {
        problems.add(place, "token_env and token_file: set one of them, not both");
    }
    if sources.password_env.is_some() && sources.password_file.is_some() {
        problems.add(
            place,
            "password_env and password_file: set one of them, not both",
        );
    }
    match flavor {
        Flavor::Cloud if has_login => problems.add(
            place,
            "username/password_env/password_file: a Cloud sender takes only a token (token_env or token_file)",
        ),
        Flavor::OnPremises if has_token && has_login => problems.add(
            place,
            "set a token (token_env or token_file) or a login (username and password_env or password_file), not both",
        ),
        Flavor::OnPremises if has_login && sources.username.is_none() => problems.add(
            place,
            "password_env/password_file is set but username is not: set both to log in",
        ),
        Flavor::OnPremises
            if sources.username.is_some()
                && sources.password_env.is_none()
                && sources.password_file.is_none() =>
        {
            problems.add(
                place,
                "username is set but its password is not: set password_env or password_file",
            )
        }
        _ => {}
    }
    if problems.lines.len() != before {
        return None;
    }
    if let Some(username) = &sources.username
        && username.is_empty()
    {
        problems.add(place, "username is empty");
        return None;
    }

    if has_token {
        let token = secret(
            ("token_env", sources.token_env),
            ("token_file", sources.token_file),
            env,
            place,
            problems,
        )?;
        return Some(Credentials::AccessToken(token));
    }
    if let Some(username) = sources.username {
        let password = secret(
            ("password_env", sources.password_env),
            ("password_file", sources.password_file),
            env,
            place,
            problems,
        )?;
        return Some(Credentials::Login { username, password });
    }
    if sandbox {
        let sandbox = SandboxConfig::default();
        return Some(match flavor {
            Flavor::Cloud => Credentials::AccessToken(Secret::new(sandbox.access_token)),
            // On-Premises logs in, as a real installation would.
            Flavor::OnPremises => Credentials::Login {
                username: sandbox.username,
                password: Secret::new(sandbox.password),
            },
        });
    }
    problems.add(
        place,
        match flavor {
            Flavor::Cloud => {
                "credentials are required: set token_env (an environment variable holding a system-user access token) or token_file"
            }
            Flavor::OnPremises => {
                "credentials are required: set username and password_env or password_file (or token_env or token_file)"
            }
        },
    );
    None
}

/// The longest environment variable name accepted in `*_env`.
const ENV_NAME_MAX: usize = 128;

/// Whether `name` can name an environment variable: `[A-Za-z_][A-Za-z0-9_]*`, not too long.
fn valid_env_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= ENV_NAME_MAX
        && !bytes[0].is_ascii_digit()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The secret from an environment variable or a file (whichever is set), or a problem.
fn secret(
    (env_key, variable): (&str, Option<String>),
    (file_key, path): (&str, Option<PathBuf>),
    env: Env<'_>,
    place: &str,
    problems: &mut Problems,
) -> Option<Secret> {
    if let Some(variable) = variable {
        // Never echoed unless it looks like a variable's name: it may be the secret itself,
        // written in the wrong place.
        if !valid_env_name(&variable) {
            problems.add(
                place,
                format!(
                    "{env_key} must name an environment variable (letters, digits and '_', at most {ENV_NAME_MAX} characters), not hold the secret itself"
                ),
            );
            return None;
        }
        return match env(&variable).filter(|value| !value.is_empty()) {
            Some(value) => Some(Secret::new(value)),
            None => {
                problems.add(place, format!("{env_key} {variable} is not set"));
                None
            }
        };
    }
    let path = path?;
    let bytes = match read_bounded(&path, SECRET_FILE_MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(problem) => {
            problems.add(place, format!("{file_key} {}: {problem}", path.display()));
            return None;
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        problems.add(
            place,
            format!("{file_key} {}: is not UTF-8 text", path.display()),
        );
        return None;
    };
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        problems.add(place, format!("{file_key} {}: is empty", path.display()));
        return None;
    }
    Some(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fallback() -> Fallback {
        Fallback {
            flavor: Flavor::Cloud,
            api_version: "v24.0".into(),
            upstream_timeout: Duration::from_secs(30),
            upstream_connect_timeout: Duration::from_secs(5),
            upstream_max_in_flight: 64,
            upstream_max_queued: 512,
            upstream_max_attempts: 3,
            max_messages_per_second: 80,
        }
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "BRAND_US_TOKEN" => Some("token-us".into()),
            "BRAND_EU_TOKEN" => Some("token-eu".into()),
            "LEGACY_PASSWORD" => Some("hunter2".into()),
            _ => None,
        }
    }

    fn read(text: &str) -> Result<Vec<SenderConfig>, String> {
        parse(text, "senders.toml", &fallback(), false, &env)
    }

    /// A file in the temporary directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &str) -> TempFile {
            let path = std::env::temp_dir().join(format!(
                "whatsapp-grpc-senders-{}-{name}",
                std::process::id()
            ));
            std::fs::write(&path, contents).expect("writes");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A CA certificate in PEM, readable as one.
    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("a key");
        rcgen::CertificateParams::new(vec!["wa.example.internal".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("a certificate")
            .pem()
    }

    #[test]
    fn a_complete_file_gives_every_sender() {
        let ca_pem = ca_pem();
        let ca = TempFile::new("ca.pem", &ca_pem);
        let text = format!(
            r#"
            [defaults]
            api_version = "v23.0"
            upstream_timeout = "20s"
            upstream_max_queued = 100
            upstream_max_attempts = 2
            max_messages_per_second = 250

            [[sender]]
            name = "brand-us"
            flavor = "cloud"
            phone_number_id = "100000000000001"
            display_phone_number = "+1 555 000 1111"
            token_env = "BRAND_US_TOKEN"

            [[sender]]
            name = "brand-eu"
            phone_number_id = "100000000000002"
            token_env = "BRAND_EU_TOKEN"
            api_version = "v24.0"

            [[sender]]
            name = "legacy"
            flavor = "on-premises"
            base_url = "https://wa.example.internal:9090"
            username = "admin"
            password_env = "LEGACY_PASSWORD"
            ca_file = {ca:?}
            upstream_timeout = "10s"
            upstream_max_in_flight = 8
            upstream_max_attempts = 1
            max_messages_per_second = 0
            "#,
            ca = ca.0.display().to_string()
        );
        let senders = read(&text).expect("valid");
        assert_eq!(senders.len(), 3);

        let us = &senders[0];
        assert_eq!(us.name, "brand-us");
        assert_eq!(us.display_phone_number, "+1 555 000 1111");
        assert_eq!(us.upstream.flavor, Flavor::Cloud);
        assert_eq!(us.upstream.base_url, CLOUD_BASE_URL);
        assert_eq!(us.upstream.phone_number_id, "100000000000001");
        assert_eq!(us.upstream.api_version, "v23.0");
        assert_eq!(
            us.upstream.credentials,
            Credentials::AccessToken(Secret::new("token-us"))
        );
        assert_eq!(us.upstream.request_timeout, Duration::from_secs(20));
        assert_eq!(us.upstream.connect_timeout, Duration::from_secs(5));
        assert_eq!(us.upstream.max_in_flight, 64);
        assert_eq!(us.upstream.max_queued, 100);
        assert_eq!(us.upstream.max_attempts, 2, "the file's default");
        assert_eq!(us.max_messages_per_second, 250, "the file's default");
        assert_eq!(us.upstream.extra_ca_pem, None);

        let eu = &senders[1];
        assert_eq!(eu.upstream.flavor, Flavor::Cloud, "the flag's flavor");
        assert_eq!(eu.upstream.api_version, "v24.0", "its own key first");
        assert_eq!(
            eu.upstream.credentials,
            Credentials::AccessToken(Secret::new("token-eu"))
        );

        let legacy = &senders[2];
        assert_eq!(legacy.upstream.flavor, Flavor::OnPremises);
        assert_eq!(legacy.upstream.base_url, "https://wa.example.internal:9090");
        assert_eq!(legacy.upstream.phone_number_id, "");
        assert_eq!(
            legacy.upstream.credentials,
            Credentials::Login {
                username: "admin".into(),
                password: Secret::new("hunter2"),
            }
        );
        assert_eq!(
            legacy.upstream.extra_ca_pem.as_deref(),
            Some(ca_pem.as_bytes())
        );
        assert_eq!(legacy.upstream.request_timeout, Duration::from_secs(10));
        assert_eq!(legacy.upstream.max_in_flight, 8);
        assert_eq!(legacy.upstream.max_attempts, 1, "its own key first");
        assert_eq!(
            legacy.max_messages_per_second, 0,
            "no limit, its own key first"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_place() {
        let error = read(
            r#"
            [defaults]
            upstream_connect_timeout = "0s"

            [[sender]]
            name = "Brand"
            phone_number_id = "12ab"
            token_env = "BRAND_US_TOKEN"

            [[sender]]
            name = "legacy"
            flavor = "on-premises"
            base_url = "https://admin:pw@wa.internal"
            username = "admin"
            password_env = "LEGACY_PASSWORD_MISSING"
            ca_file = "/nonexistent/ca.pem"

            [[sender]]
            phone_number_id = "3"
            upstream_timeout = "soon"
            upstream_max_in_flight = 0
            upstream_max_attempts = 0
            max_messages_per_second = 20000
            "#,
        )
        .unwrap_err();
        let lines: Vec<&str> = error.lines().collect();
        let expected = [
            "senders.toml: [defaults]: upstream_connect_timeout must be longer than zero",
            "senders.toml: sender[0] \"Brand\": name must be lowercase",
            "senders.toml: sender[0] \"Brand\": phone_number_id \"12ab\" must be the numeric id",
            "senders.toml: sender[1] \"legacy\": base_url \"https://***@wa.internal\" must not carry a user or password",
            "senders.toml: sender[1] \"legacy\": password_env LEGACY_PASSWORD_MISSING is not set",
            "senders.toml: sender[1] \"legacy\": ca_file /nonexistent/ca.pem: cannot be read",
            "senders.toml: sender[2]: name is required",
            "senders.toml: sender[2]: credentials are required",
            "senders.toml: sender[2]: upstream_timeout: \"soon\"",
            "senders.toml: sender[2]: upstream_max_in_flight must be at least 1",
            "senders.toml: sender[2]: upstream_max_attempts must be between 1 and 10",
            "senders.toml: sender[2]: max_messages_per_second must be at most 10000",
        ];
        assert_eq!(lines.len(), expected.len(), "{error}");
        for (line, start) in lines.iter().zip(expected) {
            assert!(line.starts_with(start), "{line:?} should start {start:?}");
        }
        assert!(!error.contains(":pw@"), "{error}");
    }

    #[test]
    fn a_secret_written_inline_is_refused() {
        let error = read(
            r#"
            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token = "EAAG-inline-secret"

            [[sender]]
            name = "legacy"
            flavor = "on-premises"
            base_url = "https://wa.internal"
            username = "admin"
            password = "hunter2"
            "#,
        )
        .unwrap_err();
        assert!(
            error.contains(
                "sender[0] \"brand-us\": token: secrets are never written in the file; use token_env or token_file"
            ),
            "{error}"
        );
        assert!(
            error.contains(
                "sender[1] \"legacy\": password: secrets are never written in the file; use password_env or password_file"
            ),
            "{error}"
        );
        assert!(
            !error.contains("EAAG-inline-secret") && !error.contains("hunter2"),
            "{error}"
        );
    }

    #[test]
    fn a_token_file_loses_its_trailing_newline() {
        let token = TempFile::new("token", "token-from-file\n");
        let text = format!(
            r#"
            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token_file = {:?}
            "#,
            token.0.display().to_string()
        );
        let senders = read(&text).expect("valid");
        assert_eq!(
            senders[0].upstream.credentials,
            Credentials::AccessToken(Secret::new("token-from-file"))
        );
        // The token does not show in Debug output.
        assert!(!format!("{senders:?}").contains("token-from-file"));

        let error = read(
            r#"
            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token_file = "/nonexistent/token"
            "#,
        )
        .unwrap_err();
        assert!(
            error.starts_with(
                "senders.toml: sender[0] \"brand-us\": token_file /nonexistent/token: cannot be read"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let error = read(
            r#"
            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token_env = "NOT_SET_TOKEN"
            "#,
        )
        .unwrap_err();
        assert_eq!(
            error,
            "senders.toml: sender[0] \"brand-us\": token_env NOT_SET_TOKEN is not set"
        );
    }

    #[test]
    fn names_and_phone_number_ids_are_unique() {
        let error = read(
            r#"
            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token_env = "BRAND_US_TOKEN"

            [[sender]]
            name = "brand-us"
            phone_number_id = "2"
            token_env = "BRAND_US_TOKEN"

            [[sender]]
            name = "brand-eu"
            phone_number_id = "1"
            token_env = "BRAND_EU_TOKEN"

            [[sender]]
            name = "2"
            flavor = "on-premises"
            base_url = "https://wa.internal"
            token_env = "BRAND_EU_TOKEN"
            "#,
        )
        .unwrap_err();
        assert_eq!(
            error.lines().collect::<Vec<_>>(),
            [
                "senders.toml: sender[1] \"brand-us\": name \"brand-us\" is already the name or phone number id of sender[0] \"brand-us\"; each must be unique",
                "senders.toml: sender[2] \"brand-eu\": phone_number_id \"1\" is already the name or phone number id of sender[0] \"brand-us\"; each must be unique",
                "senders.toml: sender[3] \"2\": name \"2\" is already the name or phone number id of sender[1] \"brand-us\"; each must be unique",
            ]
        );
    }

    #[test]
    fn bad_durations_are_named() {
        let error = read(
            r#"
            [defaults]
            upstream_timeout = "30"

            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token_env = "BRAND_US_TOKEN"
            upstream_connect_timeout = "0ms"
            "#,
        )
        .unwrap_err();
        assert_eq!(
            error.lines().collect::<Vec<_>>(),
            [
                "senders.toml: [defaults]: upstream_timeout: \"30\" needs a unit: ms, s, m, h or d (e.g. 30s)",
                "senders.toml: sender[0] \"brand-us\": upstream_connect_timeout must be longer than zero, e.g. 5s",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = read(
            r#"
            color = "blue"

            [defaults]
            timeout = "5s"

            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token_env = "BRAND_US_TOKEN"
            phone_number = "1"
            "#,
        )
        .unwrap_err();
        let lines: Vec<_> = error.lines().collect();
        assert_eq!(lines.len(), 3, "{error}");
        assert!(
            lines[0].starts_with("senders.toml: [defaults]: unknown field `timeout`"),
            "{error}"
        );
        assert!(
            lines[1].starts_with("senders.toml: unknown key \"color\""),
            "{error}"
        );
        assert!(
            lines[2]
                .starts_with("senders.toml: sender[0] \"brand-us\": unknown field `phone_number`"),
            "{error}"
        );
    }

    #[test]
    fn a_file_that_is_not_toml_names_its_line() {
        let error = read("[[sender]]\nname = \"a\"\nphone_number_id = 1 2\n").unwrap_err();
        assert!(error.starts_with("senders.toml: line 3: "), "{error}");
        assert_eq!(error.lines().count(), 1, "{error}");
        let error = read("").unwrap_err();
        assert_eq!(
            error,
            "senders.toml: lists no sender: add a [[sender]] table"
        );
    }

    #[test]
    fn credentials_take_one_form() {
        let error = read(
            r#"
            [[sender]]
            name = "cloud-login"
            phone_number_id = "1"
            username = "admin"
            password_env = "LEGACY_PASSWORD"

            [[sender]]
            name = "both"
            flavor = "on-premises"
            base_url = "https://wa.internal"
            token_env = "BRAND_US_TOKEN"
            username = "admin"
            password_env = "LEGACY_PASSWORD"

            [[sender]]
            name = "half"
            flavor = "on-premises"
            base_url = "https://wa.internal"
            username = "admin"
            "#,
        )
        .unwrap_err();
        let lines: Vec<_> = error.lines().collect();
        assert_eq!(lines.len(), 3, "{error}");
        assert!(lines[0].contains("\"cloud-login\": username/password_env/password_file: a Cloud sender takes only a token"), "{error}");
        assert!(lines[1].contains("\"both\": set a token"), "{error}");
        assert!(
            lines[2].contains("\"half\": username is set but its password is not"),
            "{error}"
        );
    }

    #[test]
    fn the_sandbox_fills_in_credentials_and_refuses_a_base_url() {
        let text = r#"
            [[sender]]
            name = "brand-us"
            phone_number_id = "1"

            [[sender]]
            name = "legacy"
            flavor = "on-premises"
        "#;
        let senders = parse(text, "senders.toml", &fallback(), true, &|_| None).expect("valid");
        let sandbox = SandboxConfig::default();
        assert_eq!(senders[0].upstream.base_url, "", "filled in by main");
        assert_eq!(
            senders[0].upstream.credentials,
            Credentials::AccessToken(Secret::new(sandbox.access_token))
        );
        assert_eq!(senders[1].upstream.base_url, "");
        assert_eq!(
            senders[1].upstream.credentials,
            Credentials::Login {
                username: sandbox.username,
                password: Secret::new(sandbox.password),
            }
        );

        let error = parse(
            r#"
            [[sender]]
            name = "brand-us"
            base_url = "https://graph.facebook.com"
            "#,
            "senders.toml",
            &fallback(),
            true,
            &|_| None,
        )
        .unwrap_err();
        let lines: Vec<_> = error.lines().collect();
        assert_eq!(lines.len(), 2, "{error}");
        assert!(lines[0].contains("phone_number_id is required"), "{error}");
        assert!(
            lines[1].contains("base_url: --sandbox runs its own API"),
            "{error}"
        );
    }

    #[test]
    fn a_file_is_read_within_its_bound() {
        let big = TempFile::new("big.toml", &"#".repeat(FILE_MAX_BYTES as usize + 1));
        let file = SendersFile {
            path: big.0.clone(),
            fallback: fallback(),
            sandbox: true,
        };
        let error = file.read(&env).unwrap_err();
        assert!(
            error.ends_with(&format!("is larger than {FILE_MAX_BYTES} bytes")),
            "{error}"
        );
    }

    #[test]
    fn the_readme_example_is_valid_but_for_its_files() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split_once("### Several senders")
            .expect("the README has the section")
            .1;
        let example = section
            .split_once("```toml\n")
            .and_then(|(_, rest)| rest.split_once("```"))
            .expect("the section has a TOML example")
            .0;
        let error = read(example).unwrap_err();
        let lines: Vec<_> = error.lines().collect();
        assert_eq!(lines.len(), 2, "{error}");
        assert!(
            lines[0].starts_with(
                "senders.toml: sender[1] \"brand-eu\": token_file /var/run/secrets/brand-eu/token: cannot be read"
            ),
            "{error}"
        );
        assert!(
            lines[1].starts_with(
                "senders.toml: sender[2] \"legacy\": ca_file /etc/ssl/private-ca.pem: cannot be read"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let error = read(
            r#"
            [defaults]
            flavor = "cloudy"

            [[sender]]
            name = "brand-us"
            phone_number_id = 100000000000001
            token_env = "BRAND_US_TOKEN"
            upstream_max_in_flight = "8"
            "#,
        )
        .unwrap_err();
        assert_eq!(
            error.lines().collect::<Vec<_>>(),
            [
                "senders.toml: [defaults]: flavor: unknown variant `cloudy`, expected `cloud` or `on-premises`",
                "senders.toml: sender[0] \"brand-us\": phone_number_id: invalid type: integer `100000000000001`, expected a string",
                "senders.toml: sender[0] \"brand-us\": upstream_max_in_flight: invalid type: string \"8\", expected usize",
            ]
        );
    }

    #[test]
    fn a_secret_in_place_of_a_variable_name_is_not_echoed() {
        let error = read(
            r#"
            [[sender]]
            name = "brand-us"
            phone_number_id = "1"
            token_env = "EAAG.secret-token|value"
            "#,
        )
        .unwrap_err();
        assert!(
            error.contains("token_env must name an environment variable"),
            "{error}"
        );
        assert!(!error.contains("secret-token"), "{error}");
        let error =
            read("[[sender]]\nname = \"a\"\nphone_number_id = \"1\"\ntoken_env = \"EAAG secret\n")
                .unwrap_err();
        assert!(!error.contains("EAAG"), "{error}");
    }
}
