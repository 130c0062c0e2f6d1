//! A linear pass over a request's Protobuf bytes, before it is decoded, that bounds how many fields
//! it holds at every depth. Decoding multiplies memory: an empty list row is 2 bytes on the wire
//! and about 72 in memory, so a request within the size limit could still decode to tens of
//! megabytes. [`MAX_FIELDS`] is above what any valid request holds and keeps any decoded request to
//! a few megabytes. Which length-delimited fields are messages (and so are walked into) comes from the
//! service's own descriptors.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

/// The most fields, counted at every depth (each element of a repeated field is one), a request may
/// hold. A field takes at least 2 bytes on the wire, so a Flow's 64 KiB of data (the most densely
/// fielded valid content) holds at most 32,768; everything else in a valid request holds a few
/// thousand. Decoded, 65,536 fields take a few megabytes at most.
pub const MAX_FIELDS: usize = 65_536;

/// The deepest nesting walked; prost's own recursion limit is 100.
const MAX_DEPTH: u32 = 100;

/// Why the bytes were refused before decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("it holds more than {MAX_FIELDS} fields in all, more than any valid request")]
    TooManyFields,
    #[error("it nests messages deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("its bytes are not Protobuf wire format")]
    Malformed,
}

/// The descriptor of the message named `full_name` (e.g. `whatsapp.v1.SendMessageRequest`).
pub fn descriptor(full_name: &str) -> Option<MessageDescriptor> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()?
        .get_message_by_name(full_name)
}

/// Checks that `bytes`, an encoded message of the type named `full_name`, holds at most
/// [`MAX_FIELDS`] fields at every depth. A type this service does not define is not checked.
pub fn check_named(full_name: &str, bytes: &[u8]) -> Result<(), ScanError> {
    match descriptor(full_name) {
        Some(message) => check(bytes, &message),
        None => Ok(()),
    }
}

/// Checks that `bytes`, a `message`, holds at most [`MAX_FIELDS`] fields at every depth.
pub fn check(bytes: &[u8], message: &MessageDescriptor) -> Result<(), ScanError> {
    let mut budget = MAX_FIELDS;
    walk(bytes, message, 0, &mut budget)
}

fn walk(
    mut bytes: &[u8],
    message: &MessageDescriptor,
    depth: u32,
    budget: &mut usize,
) -> Result<(), ScanError> {
    if depth > MAX_DEPTH {
        return Err(ScanError::TooDeep);
    }
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        *budget = budget.checked_sub(1).ok_or(ScanError::TooManyFields)?;
        match key & 7 {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..).ok_or(ScanError::Malformed)?,
            5 => bytes = bytes.get(4..).ok_or(ScanError::Malformed)?,
            2 => {
                let length =
                    usize::try_from(varint(&mut bytes)?).map_err(|_| ScanError::Malformed)?;
                if length > bytes.len() {
                    return Err(ScanError::Malformed);
                }
                let (value, rest) = bytes.split_at(length);
                bytes = rest;
                let number = u32::try_from(key >> 3).map_err(|_| ScanError::Malformed)?;
                if let Some(Kind::Message(inner)) =
                    message.get_field(number).map(|field| field.kind())
                {
                    walk(value, &inner, depth + 1, budget)?;
                }
            }
            // Groups (3, 4) are not in this API; anything else is not Protobuf.
            _ => return Err(ScanError::Malformed),
        }
    }
    Ok(())
}

/// Reads one base-128 varint.
fn varint(bytes: &mut &[u8]) -> Result<u64, ScanError> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Ok(value);
        }
    }
    Err(ScanError::Malformed)
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::proto;

    fn request_descriptor() -> MessageDescriptor {
        descriptor("whatsapp.v1.SendMessageRequest").expect("the service's own descriptor")
    }

    fn list_with_rows(rows: usize) -> Vec<u8> {
        use proto::send_message_request::Content;
        proto::SendMessageRequest {
            to: "15550001111".into(),
            content: Some(Content::Interactive(proto::Interactive {
                kind: Some(proto::interactive::Kind::List(proto::InteractiveList {
                    sections: vec![proto::InteractiveListSection {
                        rows: vec![proto::InteractiveListRow::default(); rows],
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
            })),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn counts_fields_at_every_depth() {
        // to, content, kind, sections[0]: 4 fields, then one per row.
        let bytes = list_with_rows(MAX_FIELDS - 4);
        assert_eq!(check(&bytes, &request_descriptor()), Ok(()));
        let bytes = list_with_rows(MAX_FIELDS - 3);
        assert_eq!(
            check(&bytes, &request_descriptor()),
            Err(ScanError::TooManyFields)
        );
    }

    #[test]
    fn refuses_what_is_not_wire_format() {
        for bytes in [&[0x0A, 0x05, b'a'][..], &[0x80], &[0x0B], &[0x09, 1, 2]] {
            assert_eq!(
                check(bytes, &request_descriptor()),
                Err(ScanError::Malformed),
                "{bytes:?}"
            );
        }
        assert_eq!(check(&[], &request_descriptor()), Ok(()));
    }
}
