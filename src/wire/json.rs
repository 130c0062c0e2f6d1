//! Arbitrary JSON carried in a request as a `google.protobuf.Struct`, serialized as the JSON object it
//! stands for (a Flow's `flow_action_payload.data`).

use prost_types::{Struct, Value, value::Kind};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// The largest integer an `f64` holds exactly, 2^53.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A `google.protobuf.Struct` serialized as a JSON object.
#[derive(Clone, Copy, Debug)]
pub struct JsonObject<'a>(pub &'a Struct);

impl Serialize for JsonObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.fields.len()))?;
        for (key, value) in &self.0.fields {
            map.serialize_entry(key, &JsonValue(value))?;
        }
        map.end()
    }
}

/// A `google.protobuf.Value` serialized as the JSON value it stands for. A whole number is written
/// as an integer (`25`, not `25.0`), as the Protobuf JSON mapping does; a value with no kind is
/// written as `null`.
struct JsonValue<'a>(&'a Value);

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0.kind {
            None | Some(Kind::NullValue(_)) => serializer.serialize_unit(),
            Some(Kind::BoolValue(b)) => serializer.serialize_bool(*b),
            Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INTEGER => {
                // Exact: a whole number within ±2^53 converts to i64 without loss.
                serializer.serialize_i64(*n as i64)
            }
            Some(Kind::NumberValue(n)) => serializer.serialize_f64(*n),
            Some(Kind::StringValue(s)) => serializer.serialize_str(s),
            Some(Kind::StructValue(object)) => JsonObject(object).serialize(serializer),
            Some(Kind::ListValue(list)) => {
                let mut seq = serializer.serialize_seq(Some(list.values.len()))?;
                for value in &list.values {
                    seq.serialize_element(&JsonValue(value))?;
                }
                seq.end()
            }
        }
    }
}
