//! The Protobuf codec of `whatsapp.v1.MessagingService`: tonic-prost's, except that a request that
//! cannot be decoded is the caller's fault and is answered `INVALID_ARGUMENT`, not `INTERNAL`.
//!
//! `tonic_prost::ProstCodec` maps every `prost::DecodeError` (a string that is not UTF-8, a message
//! nested deeper than prost's recursion limit, truncated or garbage bytes) to `Status::internal`.
//! [`Codec`] encodes with tonic-prost's encoder and decodes with its decoder, and turns a decode
//! error of a request into `INVALID_ARGUMENT` with `google.rpc.ErrorInfo` (reason
//! `MALFORMED_REQUEST`, domain [`crate::error::DOMAIN`], `outcome` `not_sent`). A response that
//! cannot be decoded (on the client side) stays `INTERNAL`, as tonic has it. `build.rs` generates the
//! service and the client with this codec.
//!
//! A request larger than [`MAX_REQUEST_BYTES`] (the largest valid request plus a margin) is refused
//! the same way, unread; the server stops reading at twice that (tonic's `OUT_OF_RANGE`). Before a
//! request is decoded, [`fields`] counts its fields in one linear pass and refuses more
//! than [`MAX_FIELDS`] (same status), so no request within the size limit decodes to more than a
//! few megabytes.

mod fields;

use std::marker::PhantomData;
use std::sync::OnceLock;

use bytes::Buf;
use prost_reflect::MessageDescriptor;
use tonic::Status;
use tonic::codec::{self, BufferSettings, DecodeBuf};
use tonic_prost::ProstEncoder;

use crate::proto;
use crate::validate::limits::MAX_REQUEST_BYTES;

pub use fields::{MAX_FIELDS, ScanError, check_named as check_fields};

/// The buffers of one call's messages: 1 KiB to start (tonic's default is 8 KiB), which holds a
/// typical request or answer whole and grows for the rare large one. Thousands of calls in flight
/// each hold two, so their size is most of the memory one call costs.
fn buffers() -> BufferSettings {
    BufferSettings::new(1024, 32 * 1024)
}

/// The longest decode error text put in a status (prost's text names the fields it was in, one per
/// nesting level, and a message nested 100 deep makes it long). It never holds the request's data.
const DECODE_ERROR_MAX: usize = 300;

/// A message of the service, with its Protobuf name and whether the server decodes it.
pub trait ServiceMessage: prost::Message + Default + Send + 'static {
    /// The fully-qualified Protobuf name, such as `whatsapp.v1.SendMessageRequest`.
    const FULL_NAME: &'static str;
    /// Whether this is a request (decoded by the server from the caller's bytes).
    const IS_REQUEST: bool;
    /// Its descriptor, looked up by name once.
    fn descriptor() -> Option<&'static MessageDescriptor>;
}

macro_rules! service_messages {
    ($($name:ident: $is_request:expr),* $(,)?) => {
        $(impl ServiceMessage for proto::$name {
            const FULL_NAME: &'static str = concat!("whatsapp.v1.", stringify!($name));
            const IS_REQUEST: bool = $is_request;
            fn descriptor() -> Option<&'static MessageDescriptor> {
                static DESCRIPTOR: OnceLock<Option<MessageDescriptor>> = OnceLock::new();
                DESCRIPTOR
                    .get_or_init(|| fields::descriptor(Self::FULL_NAME))
                    .as_ref()
            }
        })*
    };
}

service_messages! {
    SendMessageRequest: true,
    MarkMessageReadRequest: true,
    SendMessageResponse: false,
    MarkMessageReadResponse: false,
    ListSendersRequest: true,
    ListSendersResponse: false,
    UploadMediaRequest: true,
    UploadMediaResponse: false,
    GetMediaRequest: true,
    GetMediaResponse: false,
    DownloadMediaRequest: true,
    DownloadMediaResponse: false,
    DeleteMediaRequest: true,
    DeleteMediaResponse: false,
    StreamEventsRequest: true,
    StreamEventsResponse: false,
}

/// The codec: encodes `T`, decodes `U`.
#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec {
            _types: PhantomData,
        }
    }
}

impl<T, U> codec::Codec for Codec<T, U>
where
    T: prost::Message + Send + 'static,
    U: ServiceMessage,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = Decoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(buffers())
    }

    fn decoder(&mut self) -> Self::Decoder {
        Decoder {
            _type: PhantomData,
            buffer_settings: buffers(),
        }
    }
}

/// tonic-prost's decoder (`prost::Message::decode`, default buffer settings), with decode errors
/// of requests mapped to `INVALID_ARGUMENT`. It decodes itself rather than wrap
/// `tonic_prost::ProstDecoder`, which turns prost's typed error into an `INTERNAL` status.
#[derive(Debug, Clone)]
pub struct Decoder<U> {
    _type: PhantomData<U>,
    buffer_settings: BufferSettings,
}

impl<U: ServiceMessage> codec::Decoder for Decoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        if U::IS_REQUEST {
            if buf.remaining() > MAX_REQUEST_BYTES {
                return Err(malformed_request(
                    U::FULL_NAME,
                    &format_args!(
                        "it is {} bytes, and the largest valid request is below {MAX_REQUEST_BYTES}",
                        buf.remaining()
                    ),
                ));
            }
            // The buffer holds the whole message, in one piece: tonic collects it before decoding.
            let bytes = buf.chunk();
            if bytes.len() == buf.remaining()
                && let Some(descriptor) = U::descriptor()
                && let Err(error) = fields::check(bytes, descriptor)
            {
                return Err(malformed_request(U::FULL_NAME, &error));
            }
        }
        match <U as prost::Message>::decode(buf) {
            Ok(item) => Ok(Some(item)),
            Err(error) if U::IS_REQUEST => Err(malformed_request(U::FULL_NAME, &error)),
            Err(error) => Err(Status::internal(format!(
                "the response is not a valid {} protobuf message: {}",
                U::FULL_NAME,
                bounded(&error.to_string())
            ))),
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.buffer_settings
    }
}

/// The status for a request that is not valid Protobuf of the type `full_name`, or holds more than
/// the service decodes (mapped with the service's other errors, in `error.rs`).
pub fn malformed_request(full_name: &str, error: &dyn std::fmt::Display) -> Status {
    crate::error::malformed_request_status(full_name, bounded(&error.to_string()))
}

/// `text` cut to at most [`DECODE_ERROR_MAX`] bytes, at a character boundary.
fn bounded(text: &str) -> &str {
    let mut end = text.len().min(DECODE_ERROR_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;
    use crate::error::DOMAIN;

    #[test]
    fn a_request_with_a_string_that_is_not_utf8_is_an_invalid_argument() {
        // Field 1 (`to`), length-delimited, holding 0xFF.
        let bytes = [0x0A, 0x01, 0xFF];
        let error = proto::SendMessageRequest::decode(&bytes[..]).expect_err("not UTF-8");
        let status = malformed_request(proto::SendMessageRequest::FULL_NAME, &error);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("the request is not a valid whatsapp.v1.SendMessageRequest"),
            "{}",
            status.message()
        );
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "MALFORMED_REQUEST");
        assert_eq!(info.domain, DOMAIN);
        assert_eq!(info.metadata["outcome"], "not_sent");
    }

    #[test]
    fn long_decode_errors_are_cut() {
        assert_eq!(bounded(&"é".repeat(400)).len(), DECODE_ERROR_MAX);
        assert_eq!(bounded("short"), "short");
    }
}
