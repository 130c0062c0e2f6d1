//! The one redactor for everything the upstream says that can reach a status, `ErrorInfo` or a log
//! line: error titles and details, trace ids, content types and transport error texts. Whatever the
//! upstream (or a proxy in front of it) echoes, the service's own secrets, credentials in
//! `Authorization` form, phone-number-like digit runs and the values of the request that was sent
//! (the recipient, the message text) do not come out in clear.

/// The most characters of upstream text that reach a status, `ErrorInfo` or a log line.
pub const MAX_TEXT_CHARS: usize = 300;

/// How many characters of upstream text are examined at most, beyond the longest value to redact:
/// the work per text stays bounded whatever the upstream sends.
const WORK_CHARS: usize = 4 * MAX_TEXT_CHARS;

/// Dropped at the end of an examined prefix that cut the text, beyond the longest value: room for
/// a credential or a phone number the cut would leave too short to recognise.
const CUT_MARGIN_CHARS: usize = 64;

/// The shortest value of the sent body that is looked for (shorter ones would blank ordinary words).
const MIN_VALUE_CHARS: usize = 4;

/// The fewest digits that make a run look like a phone number.
const MIN_PHONE_DIGITS: usize = 6;

/// The most separator characters allowed between two digits of one phone-number-like run.
const MAX_SEPARATORS: usize = 3;

/// Values the service fills in itself: they are not personal, and blanking them would hide what an
/// error is about (`Invalid parameter: text`).
const OWN_WORDS: &[&str] = &[
    "whatsapp",
    "individual",
    "group",
    "text",
    "image",
    "audio",
    "document",
    "video",
    "sticker",
    "contacts",
    "location",
    "template",
    "interactive",
    "reaction",
    "pin",
    "unpin",
    "read",
];

const REDACTED: &str = "[redacted]";
const CREDENTIAL: &str = "[credential]";
const NUMBER: &str = "[number]";
const TRUNCATED: &str = "…";

/// Redacts upstream text: knows the service's secrets and, on a message call, the body it sent.
#[derive(Default)]
pub struct Redactor {
    /// Secrets and sent values, longest first, so a value inside a longer one cannot leave the rest.
    needles: Vec<String>,
    longest: usize,
    /// Digit runs shown as they are: the API's own error code and subcode of the answer (the Graph
    /// API writes them in its titles, `(#130429) Rate limit hit`).
    codes: Vec<String>,
}

/// The most digits of an API error code or subcode kept in clear (the Graph API's codes have at most
/// six); a longer "code" is redacted like any number (an upstream could echo a phone number there),
/// and stays readable in `ErrorInfo` as the reason or `error_subcode`.
const CODE_MAX_DIGITS: usize = 6;

impl Redactor {
    /// A redactor for `secrets` (tokens, passwords, header values) and the string values of the JSON
    /// `sent_body` (if it is JSON; parsed here, on the error path only).
    pub fn new(secrets: impl IntoIterator<Item = String>, sent_body: &[u8]) -> Redactor {
        let mut needles: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        if !sent_body.is_empty()
            && let Ok(value) = serde_json::from_slice::<serde_json::Value>(sent_body)
        {
            collect_strings(&value, &mut needles);
        }
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        let longest = needles.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        Redactor {
            needles,
            longest,
            codes: Vec::new(),
        }
    }

    /// This redactor, showing the API's error `codes` (code and subcode of the answer) in clear
    /// where they are short enough to be codes.
    pub fn keeping_codes(&self, codes: &[Option<i64>]) -> Redactor {
        Redactor {
            needles: self.needles.clone(),
            longest: self.longest,
            codes: codes
                .iter()
                .flatten()
                .map(|code| code.unsigned_abs().to_string())
                .filter(|code| code.len() <= CODE_MAX_DIGITS)
                .collect(),
        }
    }

    /// `text` as it may be shown: bounded to [`MAX_TEXT_CHARS`], with secrets, credentials, sent
    /// values and phone-number-like digit runs replaced.
    pub fn redact(&self, text: &str) -> String {
        // Look at a bounded prefix only. If the text goes on beyond it, a value could straddle the
        // cut, so the last `longest` characters of the prefix are dropped as well (and a margin
        // for a credential or a phone number): anything that starts in them is cut away rather
        // than left half-shown.
        let work = WORK_CHARS + self.longest + CUT_MARGIN_CHARS;
        let (mut work_text, cut) = prefix_chars(text, work);
        if cut {
            work_text = prefix_chars(work_text, work - self.longest - CUT_MARGIN_CHARS).0;
        }
        let mut out = work_text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        let out = replace_credentials(&out);
        let out = replace_phone_numbers(&out, &self.codes);
        let (shown, shortened) = prefix_chars(&out, MAX_TEXT_CHARS);
        if cut || shortened {
            format!("{shown}{TRUNCATED}")
        } else {
            shown.to_owned()
        }
    }

    /// An upstream trace id, kept only if it looks like one (short, `[A-Za-z0-9_-]`) and nothing in
    /// it needs redacting.
    pub fn trace_id(&self, id: &str) -> Option<String> {
        let looks_like_an_id = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        (looks_like_an_id && self.redact(id) == id).then(|| id.to_owned())
    }
}

/// The string values of a JSON document worth looking for, in both their raw and JSON-escaped form
/// (an upstream that echoes the raw request body shows the escaped form).
fn collect_strings(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => {
            if s.chars().count() >= MIN_VALUE_CHARS && !OWN_WORDS.contains(&s.as_str()) {
                if let Ok(escaped) = serde_json::to_string(s) {
                    let escaped = escaped[1..escaped.len() - 1].to_owned();
                    if escaped != *s {
                        into.push(escaped);
                    }
                }
                into.push(s.clone());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, into)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, into)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

/// The first `max` characters of `text` (cut on a char boundary), and whether anything was cut.
fn prefix_chars(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

/// `Bearer …` and `Basic …` credentials (any case) replaced, scheme word included (a token already
/// replaced by `[redacted]` too).
fn replace_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, scheme_len)) = find_scheme(rest) {
        out.push_str(&rest[..start]);
        let after = &rest[start + scheme_len..];
        let spaces = after.len() - after.trim_start_matches([' ', '\t']).len();
        let token = &after[spaces..];
        let token_len = token
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-._~+/=[]".contains(c)))
            .unwrap_or(token.len());
        if spaces > 0 && token_len > 0 {
            out.push_str(CREDENTIAL);
            rest = &token[token_len..];
        } else {
            out.push_str(&rest[start..start + scheme_len]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Where the next `bearer` or `basic` word starts in `text` (any case), and its length.
fn find_scheme(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|i| {
        ["bearer", "basic"].into_iter().find_map(|scheme| {
            let end = i + scheme.len();
            (end <= bytes.len() && bytes[i..end].eq_ignore_ascii_case(scheme.as_bytes()))
                .then_some((i, scheme.len()))
        })
    })
}

/// Runs of at least [`MIN_PHONE_DIGITS`] digits, with `+`, spaces, dashes, dots and parentheses
/// allowed between them, replaced.
fn replace_phone_numbers(text: &str, codes: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_separator = |c: char| matches!(c, '+' | ' ' | '-' | '.' | '(' | ')');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A run from a digit to the last digit reachable over short separator gaps.
        let mut digits = 0;
        let mut end = i;
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
            } else {
                let gap = chars[j..]
                    .iter()
                    .take(MAX_SEPARATORS + 1)
                    .take_while(|c| is_separator(**c))
                    .count();
                if gap == 0
                    || gap > MAX_SEPARATORS
                    || !chars.get(j + gap).is_some_and(|c| c.is_ascii_digit())
                {
                    break;
                }
                j += gap;
            }
        }
        let is_code = || {
            let run: String = chars[i..end].iter().collect();
            codes.contains(&run)
        };
        if digits >= MIN_PHONE_DIGITS && !is_code() {
            // A leading `+` or `(` belongs to the number.
            while out.ends_with(['+', '(']) {
                out.pop();
            }
            out.push_str(NUMBER);
        } else {
            out.extend(&chars[i..end]);
        }
        i = end;
    }
    out
}

/// A URL as it may be printed: anything up to the last `@` (a user and password) hidden, no query or
/// fragment, bounded. Works on the text as given, so even a URL that does not parse (a password with
/// `/`, `?` or `#` in it) shows no userinfo.
pub fn display_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (Some(scheme), rest)
        }
        _ => (None, url),
    };
    let (hidden, rest) = match rest.rsplit_once('@') {
        Some((_, host)) => ("***@", host),
        None => ("", rest),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let shown = match scheme {
        Some(scheme) => format!("{scheme}://{hidden}{rest}"),
        None => format!("{hidden}{rest}"),
    };
    prefix_chars(&shown, MAX_TEXT_CHARS).0.to_owned()
}

/// The credentials of the proxy `matcher` sends calls to `url` through (`HTTPS_PROXY=
/// http://user:password@proxy:3128`): the password, and the `Basic` token that carries it, are
/// secrets the redactor must know, since a proxy's own error page may echo them.
pub fn proxy_secrets(
    matcher: &hyper_util::client::proxy::matcher::Matcher,
    url: &str,
) -> Vec<String> {
    use base64::Engine;
    let Some(intercept) = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| matcher.intercept(&uri))
    else {
        return Vec::new();
    };
    let mut secrets = Vec::new();
    if let Some((_, password)) = intercept.raw_auth() {
        secrets.push(password.to_owned());
    }
    if let Some(token) = intercept
        .basic_auth()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
    {
        secrets.push(token.to_owned());
        if let Some((_, password)) = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|pair| String::from_utf8(pair).ok())
            .as_deref()
            .and_then(|pair| pair.split_once(':'))
        {
            secrets.push(password.to_owned());
        }
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"messaging_product":"whatsapp","to":"15557654321","type":"text","text":{"body":"my \"secret\" order\ndetails"}}"#;

    #[test]
    fn a_proxys_password_is_a_secret() {
        use hyper_util::client::proxy::matcher::Matcher;
        let matcher = Matcher::builder()
            .all("http://ops:pr0xy-Passw0rd@proxy.internal:3128")
            .no("localhost")
            .build();
        let secrets = proxy_secrets(&matcher, "https://graph.facebook.com/v24.0/1/messages");
        assert!(
            secrets.contains(&"pr0xy-Passw0rd".to_owned()),
            "{secrets:?}"
        );
        let shown = Redactor::new(secrets, b"")
            .redact("407 from proxy: user ops, password pr0xy-Passw0rd rejected");
        assert!(!shown.contains("pr0xy-Passw0rd"), "{shown}");
        // An upstream the proxy does not apply to, or no proxy: nothing to add.
        assert!(proxy_secrets(&matcher, "http://localhost:8080").is_empty());
        assert!(
            proxy_secrets(&Matcher::builder().build(), "https://graph.facebook.com").is_empty()
        );
    }

    fn redactor() -> Redactor {
        Redactor::new(
            ["t0ken-value".to_owned(), "pa55word".to_owned()],
            BODY.as_bytes(),
        )
    }

    #[test]
    fn an_echoed_request_comes_out_blank() {
        let echo = format!(
            "bad request: Authorization: Bearer t0ken-value; body {BODY}; basic YWRtaW46cGE1NXdvcmQ="
        );
        let shown = redactor().redact(&echo);
        for leak in [
            "t0ken-value",
            "15557654321",
            "secret",
            "order",
            "Bearer",
            "YWRtaW46",
        ] {
            assert!(!shown.contains(leak), "{leak:?} in {shown:?}");
        }
        // What the service filled in itself stays readable.
        assert!(shown.contains("whatsapp"), "{shown}");
        assert!(shown.starts_with("bad request: Authorization: [credential]"));
    }

    #[test]
    fn the_unescaped_text_is_redacted_too() {
        let shown = redactor().redact("you sent my \"secret\" order\ndetails to +1 555-765-4321");
        assert_eq!(shown, "you sent [redacted] to [number]");
    }

    #[test]
    fn phone_like_runs_go_short_numbers_stay() {
        let r = Redactor::default();
        assert_eq!(r.redact("call (555) 123-4567 now"), "call [number] now");
        assert_eq!(r.redact("+44 20 7946 0958"), "[number]");
        assert_eq!(
            r.redact("error 100, http 400, 12345"),
            "error 100, http 400, 12345"
        );
        assert_eq!(r.redact("id 1234567"), "id [number]");
        assert_eq!(r.redact("a-b 12 - 34"), "a-b 12 - 34");
    }

    #[test]
    fn the_apis_own_code_stays_readable_and_nothing_else_does() {
        let r = Redactor::default().keeping_codes(&[Some(130429), Some(2494010)]);
        assert_eq!(
            r.redact("(#130429) Rate limit hit, subcode 2494010"),
            "(#130429) Rate limit hit, subcode [number]"
        );
        // Another number, a longer run holding the code, or a code too long to be one: redacted.
        assert_eq!(r.redact("to 15551304290"), "to [number]");
        assert_eq!(r.redact("130429 1234"), "[number]");
        let long = Redactor::default().keeping_codes(&[Some(15550001111)]);
        assert_eq!(long.redact("(#15550001111)"), "(#[number])");
    }

    #[test]
    fn output_is_bounded_and_cut_on_a_char_boundary() {
        let r = Redactor::default();
        let long = "é".repeat(100_000);
        let shown = r.redact(&long);
        assert_eq!(shown.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(shown.ends_with(TRUNCATED));
    }

    #[test]
    fn a_value_straddling_the_examined_prefix_is_not_half_shown() {
        let secret = "x".repeat(50) + "SECRETTAIL";
        let block = "y".repeat(100);
        let r = Redactor::new([secret.clone(), block.clone()], b"");
        // Blocks that shrink to `[redacted]` bring the end of the examined prefix into what is
        // shown; the secret starts 20 characters before that end and goes on past it.
        let examined = WORK_CHARS + secret.len().max(block.len()) + CUT_MARGIN_CHARS;
        let mut text = block.repeat(13);
        text.push_str(&"a".repeat(examined - 20 - text.len()));
        text.push_str(&secret);
        text.push_str("zzz");
        let shown = r.redact(&text);
        assert!(shown.chars().count() < MAX_TEXT_CHARS, "{shown}");
        assert!(!shown.contains('x'), "{shown}");
        assert!(shown.ends_with(TRUNCATED), "{shown}");
    }

    #[test]
    fn credentials_in_any_case() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("authorization: BEARER abc.def-ghi"),
            "authorization: [credential]"
        );
        assert_eq!(r.redact("basically fine"), "basically fine");
    }

    #[test]
    fn trace_ids_are_kept_only_when_they_look_like_one() {
        let r = redactor();
        assert_eq!(r.trace_id("AbC_d-9xYz").as_deref(), Some("AbC_d-9xYz"));
        assert_eq!(r.trace_id("Ab 9"), None);
        assert_eq!(r.trace_id("15557654321"), None);
        assert_eq!(r.trace_id(&"a".repeat(65)), None);
        assert_eq!(r.trace_id(""), None);
    }

    #[test]
    fn urls_are_shown_without_userinfo() {
        assert_eq!(
            display_url("https://user:hunter2@wa.example:9090/base?token=x"),
            "https://***@wa.example:9090/base"
        );
        assert_eq!(
            display_url("https://graph.facebook.com"),
            "https://graph.facebook.com"
        );
        assert_eq!(display_url("http://u:12?x@host/v1"), "http://***@host/v1");
        assert_eq!(display_url("ftp//user:hunter2@host/path"), "***@host/path");
        assert!(!display_url("http://a:hunter2@[bad/x").contains("hunter2"));
    }
}
