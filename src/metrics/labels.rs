//! The label values of the metrics: closed sets of `&'static str`, each derived from something the
//! service decided (the method it routed, the oneof a request carried, the code it answered), never
//! from a string a caller or the upstream chose, so no series can be created at will and nothing
//! personal (a phone number, a text, a token, a request id) becomes a label.

use std::fmt::Write;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

use crate::layers::Rejection;
use crate::proto::interactive::Kind;
use crate::proto::send_message_request::Content;
use crate::proto::{MarkMessageReadRequest, SendMessageRequest};
use crate::upstream::RetryReason;

/// Implements `EncodeLabelValue` by the type's `as_str`.
macro_rules! label_value {
    ($($ty:ty),*) => {$(
        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    )*};
}

label_value!(
    Method,
    MessageType,
    GrpcCode,
    RejectReason,
    RequestError,
    RetryReasonLabel,
    LoginResult,
    ReplayedAnswer,
    DuplicateReason
);

/// The RPC a call is to, from its path; `other` for any path the server does not serve.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Method {
    SendMessage,
    MarkMessageRead,
    ListSenders,
    UploadMedia,
    GetMedia,
    DownloadMedia,
    DeleteMedia,
    StreamEvents,
    HealthCheck,
    HealthWatch,
    ReflectionV1,
    ReflectionV1Alpha,
    Other,
}

impl Method {
    /// The method of a request's path.
    pub fn from_path(path: &str) -> Method {
        match path {
            "/whatsapp.v1.MessagingService/SendMessage" => Method::SendMessage,
            "/whatsapp.v1.MessagingService/MarkMessageRead" => Method::MarkMessageRead,
            "/whatsapp.v1.MessagingService/ListSenders" => Method::ListSenders,
            "/whatsapp.v1.MediaService/UploadMedia" => Method::UploadMedia,
            "/whatsapp.v1.MediaService/GetMedia" => Method::GetMedia,
            "/whatsapp.v1.MediaService/DownloadMedia" => Method::DownloadMedia,
            "/whatsapp.v1.MediaService/DeleteMedia" => Method::DeleteMedia,
            "/whatsapp.v1.EventService/StreamEvents" => Method::StreamEvents,
            "/grpc.health.v1.Health/Check" => Method::HealthCheck,
            "/grpc.health.v1.Health/Watch" => Method::HealthWatch,
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo" => Method::ReflectionV1,
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo" => {
                Method::ReflectionV1Alpha
            }
            _ => Method::Other,
        }
    }

    /// The full gRPC method name, as the path has it without its leading `/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::SendMessage => "whatsapp.v1.MessagingService/SendMessage",
            Method::MarkMessageRead => "whatsapp.v1.MessagingService/MarkMessageRead",
            Method::ListSenders => "whatsapp.v1.MessagingService/ListSenders",
            Method::UploadMedia => "whatsapp.v1.MediaService/UploadMedia",
            Method::GetMedia => "whatsapp.v1.MediaService/GetMedia",
            Method::DownloadMedia => "whatsapp.v1.MediaService/DownloadMedia",
            Method::DeleteMedia => "whatsapp.v1.MediaService/DeleteMedia",
            Method::StreamEvents => "whatsapp.v1.EventService/StreamEvents",
            Method::HealthCheck => "grpc.health.v1.Health/Check",
            Method::HealthWatch => "grpc.health.v1.Health/Watch",
            Method::ReflectionV1 => "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            Method::ReflectionV1Alpha => {
                "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
            }
            Method::Other => "other",
        }
    }
}

/// What a call carried: the message type of a `SendMessage` (from its `content` oneof, and for
/// interactive messages their `kind`), `read_receipt` for `MarkMessageRead`, `none` for a call that
/// carries no message (or a `SendMessage` without content), `unknown` when the service never read
/// the request (refused before it, or not valid Protobuf).
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    #[default]
    Unknown,
    None,
    Text,
    Image,
    Audio,
    Document,
    Video,
    Sticker,
    Contacts,
    Location,
    Template,
    Reaction,
    Pin,
    Interactive,
    InteractiveList,
    InteractiveButton,
    InteractiveProduct,
    InteractiveProductList,
    InteractiveCatalogMessage,
    InteractiveFlow,
    InteractiveCtaUrl,
    InteractiveLocationRequest,
    InteractiveVoiceCall,
    InteractiveCallPermissionRequest,
    InteractiveCarousel,
    ReadReceipt,
}

impl MessageType {
    const ALL: [MessageType; 26] = [
        MessageType::Unknown,
        MessageType::None,
        MessageType::Text,
        MessageType::Image,
        MessageType::Audio,
        MessageType::Document,
        MessageType::Video,
        MessageType::Sticker,
        MessageType::Contacts,
        MessageType::Location,
        MessageType::Template,
        MessageType::Reaction,
        MessageType::Pin,
        MessageType::Interactive,
        MessageType::InteractiveList,
        MessageType::InteractiveButton,
        MessageType::InteractiveProduct,
        MessageType::InteractiveProductList,
        MessageType::InteractiveCatalogMessage,
        MessageType::InteractiveFlow,
        MessageType::InteractiveCtaUrl,
        MessageType::InteractiveLocationRequest,
        MessageType::InteractiveVoiceCall,
        MessageType::InteractiveCallPermissionRequest,
        MessageType::InteractiveCarousel,
        MessageType::ReadReceipt,
    ];

    /// The type of a `SendMessage` request.
    pub fn of(request: &SendMessageRequest) -> MessageType {
        match &request.content {
            None => MessageType::None,
            Some(Content::Text(_)) => MessageType::Text,
            Some(Content::Image(_)) => MessageType::Image,
            Some(Content::Audio(_)) => MessageType::Audio,
            Some(Content::Document(_)) => MessageType::Document,
            Some(Content::Video(_)) => MessageType::Video,
            Some(Content::Sticker(_)) => MessageType::Sticker,
            Some(Content::Contacts(_)) => MessageType::Contacts,
            Some(Content::Location(_)) => MessageType::Location,
            Some(Content::Template(_)) => MessageType::Template,
            Some(Content::Reaction(_)) => MessageType::Reaction,
            Some(Content::Pin(_)) => MessageType::Pin,
            Some(Content::Interactive(interactive)) => match &interactive.kind {
                None => MessageType::Interactive,
                Some(Kind::List(_)) => MessageType::InteractiveList,
                Some(Kind::Button(_)) => MessageType::InteractiveButton,
                Some(Kind::Product(_)) => MessageType::InteractiveProduct,
                Some(Kind::ProductList(_)) => MessageType::InteractiveProductList,
                Some(Kind::CatalogMessage(_)) => MessageType::InteractiveCatalogMessage,
                Some(Kind::Flow(_)) => MessageType::InteractiveFlow,
                Some(Kind::CtaUrl(_)) => MessageType::InteractiveCtaUrl,
                Some(Kind::LocationRequestMessage(_)) => MessageType::InteractiveLocationRequest,
                Some(Kind::VoiceCall(_)) => MessageType::InteractiveVoiceCall,
                Some(Kind::CallPermissionRequest(_)) => {
                    MessageType::InteractiveCallPermissionRequest
                }
                Some(Kind::Carousel(_)) => MessageType::InteractiveCarousel,
            },
        }
    }

    /// The type of a `MarkMessageRead` request.
    pub fn of_read(_request: &MarkMessageReadRequest) -> MessageType {
        MessageType::ReadReceipt
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Unknown => "unknown",
            MessageType::None => "none",
            MessageType::Text => "text",
            MessageType::Image => "image",
            MessageType::Audio => "audio",
            MessageType::Document => "document",
            MessageType::Video => "video",
            MessageType::Sticker => "sticker",
            MessageType::Contacts => "contacts",
            MessageType::Location => "location",
            MessageType::Template => "template",
            MessageType::Reaction => "reaction",
            MessageType::Pin => "pin",
            MessageType::Interactive => "interactive",
            MessageType::InteractiveList => "interactive_list",
            MessageType::InteractiveButton => "interactive_button",
            MessageType::InteractiveProduct => "interactive_product",
            MessageType::InteractiveProductList => "interactive_product_list",
            MessageType::InteractiveCatalogMessage => "interactive_catalog_message",
            MessageType::InteractiveFlow => "interactive_flow",
            MessageType::InteractiveCtaUrl => "interactive_cta_url",
            MessageType::InteractiveLocationRequest => "interactive_location_request",
            MessageType::InteractiveVoiceCall => "interactive_voice_call",
            MessageType::InteractiveCallPermissionRequest => "interactive_call_permission_request",
            MessageType::InteractiveCarousel => "interactive_carousel",
            MessageType::ReadReceipt => "read_receipt",
        }
    }

    /// The type stored as `u8` by [`MessageType::to_u8`]; `Unknown` for any other number.
    pub fn from_u8(value: u8) -> MessageType {
        MessageType::ALL
            .get(usize::from(value))
            .copied()
            .unwrap_or_default()
    }

    pub fn to_u8(self) -> u8 {
        self as u8
    }
}

/// A gRPC status code by its canonical name (`OK`, `INVALID_ARGUMENT`, ...).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct GrpcCode(pub tonic::Code);

impl GrpcCode {
    /// The code of a `grpc-status` value; a value that is not a code is `UNKNOWN`, as gRPC reads it.
    pub fn from_header(value: &[u8]) -> GrpcCode {
        GrpcCode(tonic::Code::from_bytes(value))
    }

    pub fn as_str(self) -> &'static str {
        use tonic::Code;
        match self.0 {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

/// Why a layer answered a call itself: one per [`Rejection`].
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct RejectReason(pub &'static str);

impl RejectReason {
    pub const ALL: [RejectReason; 4] = [
        RejectReason("overloaded"),
        RejectReason("draining"),
        RejectReason("deadline_exceeded"),
        RejectReason("unauthenticated"),
    ];

    pub fn of(rejection: &Rejection) -> RejectReason {
        // One exhaustive match: a new rejection cannot be forgotten.
        match rejection {
            Rejection::Overloaded { .. } => RejectReason::ALL[0],
            Rejection::Draining => RejectReason::ALL[1],
            Rejection::DeadlineExceeded { .. } => RejectReason::ALL[2],
            Rejection::Unauthenticated(_) => RejectReason::ALL[3],
        }
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// An HTTP status of the upstream's answer: its three digits for a status in 100..=599 (the ones
/// HTTP defines), `other` beyond.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct HttpStatus(u16);

impl HttpStatus {
    pub fn new(status: u16) -> HttpStatus {
        HttpStatus(if (100..=599).contains(&status) {
            status
        } else {
            0
        })
    }
}

impl std::fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => f.write_str("other"),
            status => write!(f, "{status}"),
        }
    }
}

impl EncodeLabelValue for HttpStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        write!(encoder, "{self}")
    }
}

/// The API's error codes kept as labels: those this service maps or retries (see
/// [`crate::error::api_code`] and [`crate::upstream::RetryReason`]) and the other common ones of
/// Meta's published error-code lists (Cloud and On-Premises). Any other code is `other`, so a
/// misbehaving upstream cannot create series at will.
#[rustfmt::skip]
const KNOWN_API_CODES: [i64; 56] = [
    // Graph API and authorization.
    0, 1, 2, 3, 4, 10, 100, 190, 200, 368,
    // On-Premises.
    470, 1000, 1005, 1008, 1009, 1011, 1013, 1015, 1026,
    // Rate limits.
    80007, 130429, 131048, 131056, 133016,
    // Delivery and the recipient.
    130472, 130497, 131000, 131005, 131008, 131009, 131016, 131021, 131026, 131031, 131037,
    131042, 131045, 131047, 131049, 131051, 131052, 131053, 131057,
    // Templates and flows.
    132000, 132001, 132005, 132007, 132012, 132015, 132016, 132068, 132069,
    // Registration.
    133000, 133004, 133010, 135000,
];

/// The API's error code of an answer: `none` when it named none (a success, or an answer that is
/// not the API's JSON), the code for a known one, `other` otherwise.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ApiCode {
    None,
    Known(i64),
    Other,
}

impl ApiCode {
    pub fn new(code: Option<i64>) -> ApiCode {
        match code {
            None => ApiCode::None,
            Some(code) if KNOWN_API_CODES.contains(&code) => ApiCode::Known(code),
            Some(_) => ApiCode::Other,
        }
    }
}

impl std::fmt::Display for ApiCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiCode::None => f.write_str("none"),
            ApiCode::Known(code) => write!(f, "{code}"),
            ApiCode::Other => f.write_str("other"),
        }
    }
}

impl EncodeLabelValue for ApiCode {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        write!(encoder, "{self}")
    }
}

/// Why a request to the upstream got no answer.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct RequestError(pub &'static str);

impl RequestError {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Why a message call was sent again.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct RetryReasonLabel(pub RetryReason);

impl RetryReasonLabel {
    pub fn as_str(self) -> &'static str {
        match self.0 {
            RetryReason::Unreachable => "unreachable",
            RetryReason::RateLimited => "rate_limited",
            RetryReason::NotReady => "not_ready",
        }
    }
}

/// How a login to the On-Premises API ended: `ok`; `refused` (the API refused the user and
/// password, or answered without a token); `failed` (no answer, a broken connection, a 5xx);
/// `deadline_exceeded` (the caller's deadline came first).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct LoginResult(pub &'static str);

impl LoginResult {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// What a call answered from the idempotency store carried: the earlier `response`, its
/// `failure`, or `abandoned` (the earlier call ended without an answer: outcome unknown).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ReplayedAnswer {
    Response,
    Failure,
    Abandoned,
}

impl ReplayedAnswer {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayedAnswer::Response => "response",
            ReplayedAnswer::Failure => "failure",
            ReplayedAnswer::Abandoned => "abandoned",
        }
    }
}

/// Why a call was refused for its `request_id`: `in_progress` (the first call with it has not
/// finished) or `reused` (the id came with a different request).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum DuplicateReason {
    InProgress,
    Reused,
}

impl DuplicateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateReason::InProgress => "in_progress",
            DuplicateReason::Reused => "reused",
        }
    }
}

/// A sender's name: operator-defined, at most `SENDERS_MAX` of them, a fine label. Shared, so a
/// label set is built without allocating.
pub type SenderName = Arc<str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub method: Method,
    pub message_type: MessageType,
    pub grpc_code: GrpcCode,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: Method,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub reason: RejectReason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SenderLabels {
    pub sender: SenderName,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabels {
    pub sender: SenderName,
    pub http_status: HttpStatus,
    pub api_code: ApiCode,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestErrorLabels {
    pub sender: SenderName,
    pub error: RequestError,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    pub sender: SenderName,
    pub reason: RetryReasonLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    pub sender: SenderName,
    pub result: LoginResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplayLabels {
    pub sender: SenderName,
    pub answer: ReplayedAnswer,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DuplicateLabels {
    pub sender: SenderName,
    pub reason: DuplicateReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_round_trip_through_u8() {
        for message_type in MessageType::ALL {
            assert_eq!(MessageType::from_u8(message_type.to_u8()), message_type);
        }
        assert_eq!(MessageType::from_u8(200), MessageType::Unknown);
    }

    #[test]
    fn a_group_pin_is_labelled_pin() {
        let request = SendMessageRequest {
            content: Some(Content::Pin(crate::proto::Pin {
                r#type: crate::proto::PinType::Unpin as i32,
                message_id: "wamid.1".into(),
                expiration_days: None,
            })),
            ..Default::default()
        };
        let pin = MessageType::of(&request);
        assert_eq!(pin.as_str(), "pin");
        assert_eq!(MessageType::from_u8(pin.to_u8()), MessageType::Pin);
    }

    #[test]
    fn statuses_and_codes_stay_in_closed_sets() {
        assert_eq!(HttpStatus::new(200).to_string(), "200");
        assert_eq!(HttpStatus::new(429).to_string(), "429");
        assert_eq!(HttpStatus::new(599).to_string(), "599");
        assert_eq!(HttpStatus::new(600).to_string(), "other");
        assert_eq!(HttpStatus::new(99).to_string(), "other");
        assert_eq!(ApiCode::new(Some(130429)).to_string(), "130429");
        assert_eq!(ApiCode::new(None).to_string(), "none");
        assert_eq!(ApiCode::new(Some(15550001111)).to_string(), "other");
        // Every code crate::error::api_code maps, and every code retry.rs retries, is its own label.
        for code in [
            100, 1008, 1009, 131008, 131009, 131051, 132000, 132005, 132007, 132012, 470, 1013,
            131026, 131047, 132015, 132016, 132001, 4, 1015, 80007, 130429, 131048, 131056, 133016,
            1, 2, 1011, 131000, 131016, 0, 190, 1005, 3, 10, 200,
        ] {
            assert_eq!(ApiCode::new(Some(code)), ApiCode::Known(code), "{code}");
        }
        assert_eq!(GrpcCode::from_header(b"3").as_str(), "INVALID_ARGUMENT");
        assert_eq!(GrpcCode::from_header(b"x").as_str(), "UNKNOWN");
        assert_eq!(Method::from_path("/evil/15550001111").as_str(), "other");
        // Every RPC of the package has a label of its own, which names it back.
        let set = <prost_types::FileDescriptorSet as prost::Message>::decode(
            crate::proto::FILE_DESCRIPTOR_SET,
        )
        .expect("the descriptor set decodes");
        let mut rpcs = 0;
        for file in set.file.iter().filter(|f| f.package() == "whatsapp.v1") {
            for service in &file.service {
                for rpc in &service.method {
                    let path = format!("/whatsapp.v1.{}/{}", service.name(), rpc.name());
                    let method = Method::from_path(&path);
                    assert_eq!(format!("/{}", method.as_str()), path);
                    rpcs += 1;
                }
            }
        }
        assert!(rpcs >= 8, "{rpcs} RPCs found");
    }
}
