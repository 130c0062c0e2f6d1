//! The rules a request must follow before anything is sent, and the violations that break them.
//!
//! Validation never stops at the first problem: a [`Validator`] walks the whole request, records every
//! [`FieldViolation`] with the path of the field (such as `interactive.button.buttons[3].reply.title`)
//! and the [`Rule`] it breaks, and the request is refused as a whole with an [`InvalidRequest`].
//! Paths are built on the stack and rendered only when a violation is recorded, so a valid request
//! costs no allocation here.
//!
//! Hostile input is bounded here too: a repeated field is counted against its maximum before its
//! elements are walked, and only its first `max` elements are walked ([`Validator::bounded`]), so the
//! work per request is linear in its size and the number of paths ever rendered is bounded by the
//! limits, not by the request; the validator keeps the first [`MAX_REPORTED_VIOLATIONS`] violations
//! and only counts the rest, so the status the caller gets stays small.

pub mod limits;

use std::collections::HashMap;
use std::fmt;

use crate::flavor::Flavor;

/// The path of a field inside a request, as a chain of segments that lives on the stack while the
/// validator descends.
#[derive(Clone, Copy, Debug)]
pub struct Path<'p> {
    parent: Option<&'p Path<'p>>,
    segment: Segment,
}

#[derive(Clone, Copy, Debug)]
enum Segment {
    Root,
    Field(&'static str),
    Index(usize),
}

impl Path<'static> {
    /// The request itself.
    pub const ROOT: Path<'static> = Path {
        parent: None,
        segment: Segment::Root,
    };
}

impl<'p> Path<'p> {
    /// The field `name` of the message at this path.
    pub fn field(&'p self, name: &'static str) -> Path<'p> {
        Path {
            parent: Some(self),
            segment: Segment::Field(name),
        }
    }

    /// The element `index` of the repeated field at this path.
    pub fn index(&'p self, index: usize) -> Path<'p> {
        Path {
            parent: Some(self),
            segment: Segment::Index(index),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.segment {
            Segment::Root => Ok(()),
            Segment::Field(name) => match self.parent {
                Some(Path {
                    segment: Segment::Root,
                    ..
                })
                | None => f.write_str(name),
                Some(_) => write!(f, ".{name}"),
            },
            Segment::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A rule of the API reference (or of this service) that a field breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The field must be set (non-empty).
    Required,
    /// The text is longer than the limit, in characters (Unicode scalar values).
    TooLong { max: usize, actual: usize },
    /// The value takes more bytes, encoded, than the maximum.
    TooLarge { max_bytes: usize, actual: usize },
    /// The repeated field has fewer elements than the minimum.
    TooFew { min: usize, actual: usize },
    /// The repeated field has more elements than the maximum.
    TooMany { max: usize, actual: usize },
    /// The sections hold more elements of a kind, all together, than the maximum.
    TooManyInAll {
        what: &'static str,
        max: usize,
        actual: usize,
    },
    /// Exactly one member of a oneof (or at least one of a group of fields) must be set.
    OneOfRequired(&'static str),
    /// The number is outside the allowed range.
    OutOfRange { min: String, max: String },
    /// The value must be exactly this.
    MustEqual(&'static str),
    /// The enum value is not one this version of the API knows.
    UnknownEnumValue(i32),
    /// The field exists on the other flavor of the API only.
    FlavorOnly(Flavor),
    /// The field is not allowed where it is; the text says why.
    NotAllowed(&'static str),
    /// The value must be unique within the message but repeats the one at `first`.
    Duplicate { first: String },
    /// The text must not begin or end with whitespace.
    Padded,
    /// The text must not contain emoji.
    Emoji,
    /// The message set must set at least one of its fields.
    Empty,
    /// The text does not have the required format; the text says which.
    Format(&'static str),
}

impl Rule {
    /// A stable, machine-readable name for the rule (`google.rpc.BadRequest.FieldViolation.reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            Rule::Required => "REQUIRED",
            Rule::TooLong { .. } => "TOO_LONG",
            Rule::TooLarge { .. } => "TOO_LARGE",
            Rule::TooFew { .. } => "TOO_FEW",
            Rule::TooMany { .. } => "TOO_MANY",
            Rule::TooManyInAll { .. } => "TOO_MANY_IN_ALL",
            Rule::OneOfRequired(_) => "ONE_OF_REQUIRED",
            Rule::OutOfRange { .. } => "OUT_OF_RANGE",
            Rule::MustEqual(_) => "MUST_EQUAL",
            Rule::UnknownEnumValue(_) => "UNKNOWN_ENUM_VALUE",
            Rule::FlavorOnly(_) => "FLAVOR_ONLY",
            Rule::NotAllowed(_) => "NOT_ALLOWED",
            Rule::Duplicate { .. } => "DUPLICATE",
            Rule::Padded => "PADDED",
            Rule::Emoji => "EMOJI",
            Rule::Empty => "EMPTY",
            Rule::Format(_) => "FORMAT",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Required => f.write_str("is required"),
            Rule::TooLong { max, actual } => {
                write!(f, "must be at most {max} characters (is {actual})")
            }
            Rule::TooLarge { max_bytes, actual } => {
                write!(f, "must take at most {max_bytes} bytes (takes {actual})")
            }
            Rule::TooFew { min, actual } => write!(f, "must have at least {min} (has {actual})"),
            Rule::TooMany { max, actual } => write!(f, "must have at most {max} (has {actual})"),
            Rule::TooManyInAll { what, max, actual } => write!(
                f,
                "must hold at most {max} {what} across all sections (holds {actual})"
            ),
            Rule::OneOfRequired(members) => write!(f, "must set one of: {members}"),
            Rule::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Rule::MustEqual(value) => write!(f, "must be \"{value}\""),
            Rule::UnknownEnumValue(value) => write!(f, "has unknown enum value {value}"),
            Rule::FlavorOnly(flavor) => write!(
                f,
                "is supported by the {flavor} only, and this service sends to the {}",
                other(*flavor)
            ),
            Rule::NotAllowed(why) => write!(f, "is not allowed: {why}"),
            Rule::Duplicate { first } => {
                write!(f, "must be unique within the message, but repeats {first}")
            }
            Rule::Padded => f.write_str("must not have leading or trailing whitespace"),
            Rule::Emoji => f.write_str("must not contain emoji"),
            Rule::Empty => f.write_str("must set at least one field, or be left unset"),
            Rule::Format(format) => write!(f, "must be {format}"),
        }
    }
}

fn other(flavor: Flavor) -> Flavor {
    match flavor {
        Flavor::Cloud => Flavor::OnPremises,
        Flavor::OnPremises => Flavor::Cloud,
    }
}

/// One field that breaks one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `interactive.list.sections[1].title`.
    pub field: String,
    /// The rule the field breaks.
    pub rule: Rule,
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.rule)
    }
}

/// How many violations a refused request reports at most; the rest are only counted
/// ([`InvalidRequest::omitted`]). Twelve keep the whole status (the percent-encoded `grpc-message`
/// and the base64-encoded `grpc-status-details-bin`) of the worst request under 8 KiB, the smallest
/// metadata limit of common gRPC clients (grpc-go; grpcio allows 16 KiB); a test in
/// `tests/hostile_requests.rs` builds that worst case (every kept path and description longer than
/// the status keeps, non-ASCII) and measures it: 7,093 bytes.
pub const MAX_REPORTED_VIOLATIONS: usize = 12;

/// A request that breaks one or more rules; nothing of it may be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct InvalidRequest {
    /// The first [`MAX_REPORTED_VIOLATIONS`] violations found, in the order of the request's fields
    /// (field numbers); checks that compare several fields (uniqueness, totals across sections) come
    /// after the fields they compare.
    pub violations: Vec<FieldViolation>,
    /// How many more violations were found and not kept.
    pub omitted: usize,
}

impl InvalidRequest {
    /// Every violation found, those kept and those omitted.
    pub fn total(&self) -> usize {
        self.violations.len() + self.omitted
    }
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, violation) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            violation.fmt(f)?;
        }
        if self.omitted > 0 {
            write!(f, "; and {} more", self.omitted)?;
        }
        Ok(())
    }
}

/// Walks a request for one flavor and collects the violations of every rule.
#[derive(Debug)]
pub struct Validator {
    flavor: Flavor,
    violations: Vec<FieldViolation>,
    omitted: usize,
}

impl Validator {
    /// A validator for requests sent to `flavor`.
    pub fn new(flavor: Flavor) -> Self {
        Validator {
            flavor,
            violations: Vec::new(),
            omitted: 0,
        }
    }

    /// The flavor the request is sent to.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Records that the field at `path` breaks `rule`: kept while fewer than
    /// [`MAX_REPORTED_VIOLATIONS`] are, counted (and its path never rendered) after that.
    pub fn violation(&mut self, path: Path<'_>, rule: Rule) {
        if self.violations.len() < MAX_REPORTED_VIOLATIONS {
            self.violations.push(FieldViolation {
                field: path.to_string(),
                rule,
            });
        } else {
            self.omitted += 1;
        }
    }

    /// `value` if no violation was recorded, the violations otherwise.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, InvalidRequest> {
        match value {
            Some(value) if self.violations.is_empty() => Ok(value),
            // A part that could not be built always records why; this keeps the promise even if
            // a future rule forgets to.
            None if self.violations.is_empty() => Err(InvalidRequest {
                violations: vec![FieldViolation {
                    field: String::new(),
                    rule: Rule::Required,
                }],
                omitted: 0,
            }),
            _ => Err(InvalidRequest {
                violations: self.violations,
                omitted: self.omitted,
            }),
        }
    }

    /// Requires a message field to be set; `None` (recorded as [`Rule::Required`]) if it is not.
    pub fn present<'a, T>(&mut self, path: Path<'_>, value: Option<&'a T>) -> Option<&'a T> {
        if value.is_none() {
            self.violation(path, Rule::Required);
        }
        value
    }

    /// Requires a oneof to be set; `None` (recorded as [`Rule::OneOfRequired`]) if it is not.
    pub fn one_of<'a, T>(
        &mut self,
        path: Path<'_>,
        value: Option<&'a T>,
        members: &'static str,
    ) -> Option<&'a T> {
        if value.is_none() {
            self.violation(path, Rule::OneOfRequired(members));
        }
        value
    }

    /// Requires a non-empty string. Returns whether it is.
    pub fn required(&mut self, path: Path<'_>, value: &str) -> bool {
        if value.is_empty() {
            self.violation(path, Rule::Required);
            return false;
        }
        true
    }

    /// Requires a non-empty string of at most `max` characters.
    pub fn required_max_chars(&mut self, path: Path<'_>, value: &str, max: usize) {
        if self.required(path, value) {
            self.max_chars(path, value, max);
        }
    }

    /// Limits a text the reference gives no limit for to [`limits::OTHER_TEXT_MAX`] characters.
    pub fn text(&mut self, path: Path<'_>, value: &str) {
        self.max_chars(path, value, limits::OTHER_TEXT_MAX);
    }

    /// Requires a non-empty text of at most [`limits::OTHER_TEXT_MAX`] characters. Returns whether
    /// it is set.
    pub fn required_text(&mut self, path: Path<'_>, value: &str) -> bool {
        let set = self.required(path, value);
        if set {
            self.text(path, value);
        }
        set
    }

    /// Limits a string to `max` characters (Unicode scalar values, not bytes).
    pub fn max_chars(&mut self, path: Path<'_>, value: &str, max: usize) {
        // A string of at most `max` bytes has at most `max` characters: skip the count.
        if value.len() <= max {
            return;
        }
        let actual = value.chars().count();
        if actual > max {
            self.violation(path, Rule::TooLong { max, actual });
        }
    }

    /// Requires between `min` and `max` elements in a repeated field.
    pub fn count(&mut self, path: Path<'_>, actual: usize, min: usize, max: usize) {
        if actual < min {
            self.violation(path, Rule::TooFew { min, actual });
        } else if actual > max {
            self.violation(path, Rule::TooMany { max, actual });
        }
    }

    /// Requires between `min` and `max` elements in a repeated field, and returns the elements to
    /// walk: all of them, or only the first `max` when there are more. A field far over its maximum
    /// thus costs one [`Rule::TooMany`] and the checks of `max` elements, however long it is.
    pub fn bounded<'a, T>(
        &mut self,
        path: Path<'_>,
        items: &'a [T],
        min: usize,
        max: usize,
    ) -> &'a [T] {
        self.count(path, items.len(), min, max);
        &items[..items.len().min(max)]
    }

    /// Allows a field that is set only on `flavor`.
    pub fn only_on(&mut self, path: Path<'_>, flavor: Flavor) {
        if self.flavor != flavor {
            self.violation(path, Rule::FlavorOnly(flavor));
        }
    }

    /// Decodes an enum field, recording [`Rule::UnknownEnumValue`] for a value the model lacks.
    pub fn known_enum<E: TryFrom<i32>>(&mut self, path: Path<'_>, value: i32) -> Option<E> {
        let known = E::try_from(value).ok();
        if known.is_none() {
            self.violation(path, Rule::UnknownEnumValue(value));
        }
        known
    }

    /// Requires an `http://` or `https://` URL with a host and no whitespace.
    pub fn http_url(&mut self, path: Path<'_>, value: &str) {
        if !is_http_url(value) {
            self.violation(
                path,
                Rule::Format("an http:// or https:// URL with a host and no whitespace"),
            );
        }
    }

    /// Requires text without leading or trailing whitespace.
    pub fn not_padded(&mut self, path: Path<'_>, value: &str) {
        if value.trim() != value {
            self.violation(path, Rule::Padded);
        }
    }

    /// Requires text without emoji.
    pub fn no_emoji(&mut self, path: Path<'_>, value: &str) {
        if has_emoji(value) {
            self.violation(path, Rule::Emoji);
        }
    }

    /// Requires a real calendar date written `YYYY-MM-DD`.
    pub fn date(&mut self, path: Path<'_>, value: &str) {
        if !is_date(value) {
            self.violation(path, Rule::Format("a calendar date written YYYY-MM-DD"));
        }
    }

    /// Requires a message id (as received in a webhook): non-empty, at most
    /// [`limits::MESSAGE_ID_MAX`] characters, and safe as one URL path segment ([`is_message_id`]).
    pub fn message_id(&mut self, path: Path<'_>, value: &str) {
        if !self.required(path, value) {
            return;
        }
        let before = self.violations.len() + self.omitted;
        self.max_chars(path, value, limits::MESSAGE_ID_MAX);
        if self.violations.len() + self.omitted == before && !is_message_id(value) {
            self.violation(
                path,
                Rule::Format(
                    "a message id: not \".\" or \"..\", without whitespace or control characters",
                ),
            );
        }
    }

    /// Requires a UUID in its canonical text form, such as `4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c`.
    pub fn uuid(&mut self, path: Path<'_>, value: &str) {
        if !is_uuid(value) {
            self.violation(
                path,
                Rule::Format("a UUID such as 4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c"),
            );
        }
    }
}

/// Whether `value` can be a message id: not `.` or `..` (which a URL path resolves, even
/// percent-encoded as one segment), and no whitespace or control character (ids are base64-like and
/// hold neither). `/`, `+` and `=` are allowed: they are in the base64 alphabet of `wamid.` ids, and
/// the On-Premises path percent-encodes the id as one segment. The length is checked apart.
pub fn is_message_id(value: &str) -> bool {
    value != "." && value != ".." && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The repeats in `values`: for each non-empty value equal to an earlier one, its index and the
/// earlier's. Empty values are left to [`Rule::Required`].
/// Linear in the number and length of the values (one hash lookup each).
pub fn duplicates<'v>(values: impl IntoIterator<Item = &'v str>) -> Vec<(usize, usize)> {
    let mut firsts: HashMap<&str, usize> = HashMap::new();
    let mut repeats = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        if value.is_empty() {
            continue;
        }
        let first = *firsts.entry(value).or_insert(index);
        if first != index {
            repeats.push((index, first));
        }
    }
    repeats
}

/// Whether `value` is an absolute `http://` or `https://` URL with a non-empty host and no
/// whitespace, control or invisible zero-width characters.
pub fn is_http_url(value: &str) -> bool {
    let lower_scheme = value.get(..8).map(str::to_ascii_lowercase);
    let rest = match lower_scheme.as_deref() {
        Some("https://") => &value[8..],
        _ => match value.get(..7).map(str::to_ascii_lowercase).as_deref() {
            Some("http://") => &value[7..],
            _ => return false,
        },
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with(':')
        && !value.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
        })
}

/// Whether `value` is a real calendar date written `YYYY-MM-DD`.
pub fn is_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &value[range];
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    // The calendar (month lengths, leap years) is `time`'s.
    let (Ok(year), Ok(month), Ok(day)) = (
        i32::try_from(year),
        u8::try_from(month).map(time::Month::try_from),
        u8::try_from(day),
    ) else {
        return false;
    };
    year >= 1
        && month
            .ok()
            .is_some_and(|month| time::Date::from_calendar_date(year, month, day).is_ok())
}

/// Whether `value` is a UUID in canonical 8-4-4-4-12 hexadecimal form.
pub fn is_uuid(value: &str) -> bool {
    // The hyphenated form is the only one 36 characters long (`uuid` also reads the simple,
    // braced and URN forms, which a request_id does not take).
    value.len() == 36 && uuid::Uuid::try_parse(value).is_ok()
}

/// Whether `text` shows an emoji: a character with the Unicode `Emoji_Presentation` property (such as
/// 😀, ◽ or a flag's regional indicators), or an emoji character turned into one by the emoji
/// variation selector U+FE0F (such as ❤️ or the keycap 1️⃣). Symbols that display as text, such as
/// → ★ ✓ or a plain digit, are not emoji.
pub fn has_emoji(text: &str) -> bool {
    use unicode_properties::{EmojiStatus, UnicodeEmoji};
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let status = c.emoji_status();
        let presentation = matches!(
            status,
            EmojiStatus::EmojiPresentation
                | EmojiStatus::EmojiPresentationAndModifierBase
                | EmojiStatus::EmojiPresentationAndEmojiComponent
                | EmojiStatus::EmojiPresentationAndModifierAndEmojiComponent
        );
        let selected = chars.peek() == Some(&'\u{FE0F}') && c.is_emoji_char_or_emoji_component();
        if presentation || selected {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_field_masks() {
        let root = Path::ROOT;
        let interactive = root.field("interactive");
        let button = interactive.field("button");
        let buttons = button.field("buttons");
        let third = buttons.index(3);
        let reply = third.field("reply");
        assert_eq!(
            reply.field("title").to_string(),
            "interactive.button.buttons[3].reply.title"
        );
        assert_eq!(root.field("to").to_string(), "to");
        assert_eq!(root.to_string(), "");
    }

    #[test]
    fn dates_must_exist_on_the_calendar() {
        for good in [
            "2012-08-18",
            "2024-02-29",
            "2000-02-29",
            "0001-01-01",
            "1999-12-31",
        ] {
            assert!(is_date(good), "{good}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2012-13-01",
            "2012-00-10",
            "2012-04-31",
            "2012-8-18",
            "20120818",
            "2012/08/18",
            "0000-01-01",
            "２０１２-08-18",
            "+012-08-18",
            "",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        for good in [
            "https://example.com/cat.jpg",
            "http://example.com",
            "HTTPS://EXAMPLE.COM/x?y#z",
            "https://user@host:8443/p",
        ] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in [
            "ftp://example.com/x",
            "https://",
            "https:///path",
            "https://:443/",
            "example.com/cat.jpg",
            "https://exa mple.com",
            "https://example.com/\n",
            "https://exa\u{200B}mple.com",
            "",
            "http:/example.com",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn uuids_are_canonical() {
        assert!(is_uuid("4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c"));
        assert!(is_uuid("4F0B6D1E-8C3A-4E7B-9A1D-2C5E6F7A8B9C"));
        assert!(!is_uuid("4f0b6d1e8c3a4e7b9a1d2c5e6f7a8b9c"));
        assert!(!is_uuid("4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9"));
        assert!(!is_uuid("4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9g"));
        assert!(!is_uuid("{4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9}"));
    }

    #[test]
    fn emoji_are_told_from_symbols() {
        for emoji in ["😀", "Book ◽", "🇧🇷", "I ❤️ it", "1️⃣", "👍🏽"] {
            assert!(has_emoji(emoji), "{emoji}");
        }
        for text in [
            "Book!",
            "Next →",
            "Rate ★",
            "Done ✓",
            "#1",
            "© 2026",
            "❤ plain",
        ] {
            assert!(!has_emoji(text), "{text}");
        }
    }

    #[test]
    fn duplicates_name_the_first_occurrence() {
        assert_eq!(
            duplicates(["a", "b", "", "a", "", "b", "a", "c"]),
            vec![(3, 0), (5, 1), (6, 0)]
        );
        assert!(duplicates(["", "", "x"]).is_empty());
        let many = vec!["same"; 80_000];
        let repeats = duplicates(many.iter().copied());
        assert_eq!(repeats.len(), 79_999);
        assert!(repeats.iter().enumerate().all(|(i, &r)| r == (i + 1, 0)));
    }

    #[test]
    fn violations_beyond_the_cap_are_counted_not_kept() {
        let mut v = Validator::new(Flavor::Cloud);
        let list = Path::ROOT.field("list");
        for i in 0..MAX_REPORTED_VIOLATIONS + 7 {
            v.violation(list.index(i), Rule::Required);
        }
        let invalid = v.finish(Some(())).expect_err("violations");
        assert_eq!(invalid.violations.len(), MAX_REPORTED_VIOLATIONS);
        assert_eq!(invalid.omitted, 7);
        assert_eq!(invalid.total(), MAX_REPORTED_VIOLATIONS + 7);
        assert!(invalid.to_string().ends_with("; and 7 more"));
    }

    #[test]
    fn bounded_walks_at_most_the_maximum() {
        let mut v = Validator::new(Flavor::Cloud);
        let items = vec![0u8; 1000];
        assert_eq!(v.bounded(Path::ROOT.field("x"), &items, 1, 10).len(), 10);
        assert_eq!(
            v.bounded(Path::ROOT.field("y"), &items[..3], 1, 10).len(),
            3
        );
        assert_eq!(
            v.violations,
            vec![FieldViolation {
                field: "x".into(),
                rule: Rule::TooMany {
                    max: 10,
                    actual: 1000
                }
            }]
        );
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let mut v = Validator::new(Flavor::Cloud);
        // 20 characters, 80 bytes.
        v.max_chars(Path::ROOT.field("t"), &"😀".repeat(20), 20);
        assert!(v.violations.is_empty());
        v.max_chars(Path::ROOT.field("t"), &"é".repeat(21), 20);
        assert_eq!(
            v.violations[0].rule,
            Rule::TooLong {
                max: 20,
                actual: 21
            }
        );
    }
}
