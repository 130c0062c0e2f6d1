//! The span fields of the JSON log lines, written straight into the span's JSON object as they are
//! recorded.
//!
//! `tracing-subscriber`'s own `JsonFields` gathers a span's fields into a map of
//! `serde_json::Value`s and serializes the map through a UTF-8-checking adapter, and, at every later
//! record, parses the object and writes it whole again: on a call that logs nothing, that was most
//! of the cost of its span. Here each field is appended once, as JSON, to the object's text; a field
//! recorded after the span was made is appended too, so it may appear twice, and a line written in
//! the span reads the object back (the JSON formatter parses it), where the last value wins.
//!
//! Values are written as `JsonFields` writes them: numbers and booleans as JSON numbers and
//! booleans (a float that is not finite as `null`), strings as strings, bytes as an array of
//! numbers, anything else as its `Debug` text; a raw identifier's `r#` is dropped. OpenTelemetry's
//! `otel.*` fields (the span's name, kind and status for the OpenTelemetry layer) are left out.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{FormatFields, Writer};

/// The [`FormatFields`] of the JSON log layer's spans.
pub struct AppendJsonFields;

impl<'writer> FormatFields<'writer> for AppendJsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Members::new();
        fields.record(&mut members);
        // One write, so that the span's text grows once.
        members.json.insert(0, b'{');
        members.json.push(b'}');
        writer.write_str(members.text()?)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let mut members = Members::new();
        fields.record(&mut members);
        let added = members.text()?;
        if added.is_empty() {
            return Ok(());
        }
        let current = &mut current.fields;
        match current.strip_suffix('}') {
            // `{"a":1}` and `"b":2` make `{"a":1,"b":2}`.
            Some(kept) if kept.len() > 1 => {
                current.truncate(kept.len());
                current.push(',');
            }
            // No field yet (`{}`, or nothing).
            _ => {
                current.clear();
                current.push('{');
            }
        }
        current.push_str(added);
        current.push('}');
        Ok(())
    }
}

/// The `"name":value` members of a JSON object, comma-separated, as JSON text.
struct Members {
    json: Vec<u8>,
    /// Set if a value could not be written (it cannot, into memory; kept to be honest).
    failed: bool,
}

impl Members {
    /// Room for an RPC span's fields (about 200 bytes), so that they take one allocation.
    fn new() -> Members {
        Members {
            json: Vec::with_capacity(256),
            failed: false,
        }
    }

    fn text(&self) -> Result<&str, fmt::Error> {
        if self.failed {
            return Err(fmt::Error);
        }
        std::str::from_utf8(&self.json).map_err(|_| fmt::Error)
    }

    /// Starts a member: a comma if one came before, then the name and a colon.
    /// Returns false, writing nothing, for OpenTelemetry's `otel.*` fields: they tell the
    /// OpenTelemetry layer the span's name, kind and status, which a log line says otherwise.
    #[must_use]
    fn name(&mut self, field: &Field) -> bool {
        let name = field.name();
        if name.starts_with("otel.") {
            return false;
        }
        if !self.json.is_empty() {
            self.json.push(b',');
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.string(name);
        self.json.push(b':');
        true
    }

    /// `value` as a JSON string: copied between quotes when nothing in it needs escaping (names,
    /// ids, enum names: nearly every value), else escaped by serde_json (the same text).
    fn string(&mut self, value: &str) {
        if value
            .bytes()
            .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
        {
            self.json.reserve(value.len() + 2);
            self.json.push(b'"');
            self.json.extend_from_slice(value.as_bytes());
            self.json.push(b'"');
        } else if serde_json::to_writer(&mut self.json, value).is_err() {
            self.failed = true;
        }
    }

    fn integer(&mut self, field: &Field, value: impl itoa::Integer) {
        if !self.name(field) {
            return;
        }
        self.json
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn number(&mut self, field: &Field, value: impl fmt::Display) {
        if !self.name(field) {
            return;
        }
        // Writing a number into memory cannot fail.
        let mut text = Text(&mut self.json);
        if write!(text, "{value}").is_err() {
            self.failed = true;
        }
    }
}

impl Visit for Members {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.number(field, value);
        } else if self.name(field) {
            self.json.extend_from_slice(b"null");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.integer(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.integer(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if !self.name(field) {
            return;
        }
        self.json
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.name(field) {
            self.string(value);
        }
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        if !self.name(field) {
            return;
        }
        if serde_json::to_writer(&mut self.json, value).is_err() {
            self.failed = true;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.name(field) {
            return;
        }
        let text = format!("{value:?}");
        self.string(&text);
    }
}

/// `fmt::Write` into bytes (numbers' text).
struct Text<'a>(&'a mut Vec<u8>);

impl fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::prelude::*;

    use super::*;

    /// A writer into a shared buffer, for the JSON lines of a test subscriber.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The JSON lines written by `body` with the service's JSON layer.
    fn lines(body: impl FnOnce()) -> Vec<serde_json::Value> {
        let lines = Lines::default();
        let writer = lines.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(AppendJsonFields);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, body);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    #[test]
    fn json_lines_carry_the_fields_recorded_later_the_last_value_winning() {
        let lines = lines(|| {
            let span = tracing::info_span!(
                "rpc",
                method = "SendMessage",
                sender = "default",
                http_status = tracing::field::Empty,
                message_id = tracing::field::Empty,
                latency_us = tracing::field::Empty,
                empty = tracing::field::Empty,
            );
            let _entered = span.enter();
            span.record("http_status", 500);
            span.record("message_id", "wamid.\"quoted\"");
            span.record("http_status", 200);
            span.record("latency_us", 17u64);
            tracing::warn!(answer = 1, "in the span");
            let bare = tracing::info_span!("bare", later = tracing::field::Empty);
            let _bare = bare.enter();
            bare.record("later", "set");
            tracing::warn!("in a span made without fields");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[0]["span"],
            serde_json::json!({
                "name": "rpc",
                "method": "SendMessage",
                "sender": "default",
                "http_status": 200,
                "message_id": "wamid.\"quoted\"",
                "latency_us": 17,
            })
        );
        assert_eq!(lines[0]["answer"], 1);
        assert_eq!(
            lines[1]["span"],
            serde_json::json!({"name": "bare", "later": "set"})
        );
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them_whether_copied_or_escaped() {
        for value in [
            "",
            "plain-id_0.9",
            "wamid.HBgLMTU1NTAwMDAwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
            "é 😀 \u{7f}",
            "quote\"",
            "back\\slash",
            "tab\t",
            "nul\u{0}",
            "unit separator\u{1f}",
        ] {
            let mut members = Members::new();
            members.string(value);
            assert_eq!(
                members.text().unwrap(),
                serde_json::to_string(value).unwrap(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn every_kind_of_value_is_written_as_json_fields_writes_it_otel_fields_left_out() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Shown {
            text: &'static str,
        }
        let lines = lines(|| {
            let span = tracing::info_span!(
                "kinds",
                negative = -3i64,
                ratio = 0.5f64,
                infinite = f64::INFINITY,
                yes = true,
                no = false,
                escaped = "tab\tnewline\nquote\"backslash\\ bell\u{7} é 😀",
                shown = ?Shown { text: "a \"quoted\" word" },
                displayed = %"shown as is",
                r#type = "raw",
                bytes = &b"\x00\xff"[..],
                otel.name = "for the OpenTelemetry layer",
                otel.kind = "server",
                otel.status_code = tracing::field::Empty,
            );
            span.record("otel.status_code", "ERROR");
            let _entered = span.enter();
            tracing::warn!("in the span");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(
            lines[0]["span"],
            serde_json::json!({
                "name": "kinds",
                "negative": -3,
                "ratio": 0.5,
                "infinite": null,
                "yes": true,
                "no": false,
                "escaped": "tab\tnewline\nquote\"backslash\\ bell\u{7} é 😀",
                "shown": "Shown { text: \"a \\\"quoted\\\" word\" }",
                "displayed": "shown as is",
                "type": "raw",
                "bytes": [0, 255],
            })
        );
    }
}
