//! Hostile requests, from the faults found against the release binary: each is refused with a small,
//! typed `INVALID_ARGUMENT`, after work bounded by the limits, not by the request's size.

mod common;

use bytes::{Buf, BufMut};
use common::stack::Stack;
use common::*;
use prost::Message as _;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic_types::StatusExt;
use whatsapp_grpc::proto::{self, interactive::Kind};
use whatsapp_grpc::validate::limits::MAX_REQUEST_BYTES;
use whatsapp_grpc::validate::{
    FieldViolation, InvalidRequest, MAX_REPORTED_VIOLATIONS, Rule, duplicates,
};
use whatsapp_grpc::{Error, Flavor, translate};

const BOTH: [Flavor; 2] = [Flavor::Cloud, Flavor::OnPremises];

fn list(sections: Vec<proto::InteractiveListSection>) -> proto::SendMessageRequest {
    request(interactive(Kind::List(proto::InteractiveList {
        header: None,
        body: body("Pick one"),
        footer: None,
        button: "Options".into(),
        sections,
    })))
}

fn section(rows: Vec<proto::InteractiveListRow>) -> proto::InteractiveListSection {
    proto::InteractiveListSection {
        title: String::new(),
        rows,
    }
}

/// The status the caller gets for `invalid`, checked for its outcome and size.
#[track_caller]
fn status_of(invalid: InvalidRequest) -> tonic::Status {
    let total = invalid.total();
    let status = tonic::Status::from(Error::InvalidArgument(invalid));
    assert_eq!(status.code(), Code::InvalidArgument);
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.domain, "whatsapp-grpc");
    assert_eq!(info.metadata["outcome"], "not_sent");
    assert_eq!(info.metadata["violations"], total.to_string());
    let size = status_wire_size(&status);
    assert!(size < STATUS_HEADERS_MAX, "the status takes {size} bytes");
    status
}

#[test]
fn a_million_empty_rows_are_one_violation_and_ten_rows_walked() {
    let request = list(vec![section(vec![row("", "", ""); 1_000_000])]);
    for flavor in BOTH {
        let invalid = translate::send_message(flavor, &request).expect_err("too many rows");
        let too_many: Vec<&FieldViolation> = invalid
            .violations
            .iter()
            .filter(|v| matches!(v.rule, Rule::TooMany { .. } | Rule::TooManyInAll { .. }))
            .collect();
        assert_eq!(
            too_many,
            vec![&FieldViolation {
                field: "interactive.list.sections".into(),
                rule: Rule::TooManyInAll {
                    what: "rows",
                    max: 10,
                    actual: 1_000_000
                },
            }]
        );
        // The total comes first; then the first ten rows are walked: each lacks its id and title.
        assert_eq!(invalid.total(), 21, "{invalid:?}");
        assert_eq!(invalid.violations.len(), MAX_REPORTED_VIOLATIONS);
        assert_eq!(
            invalid.violations[1].field,
            "interactive.list.sections[0].rows[0].id"
        );
        assert!(
            invalid
                .violations
                .iter()
                .all(|v| !v.field.contains("rows[10]"))
        );
        let status = status_of(invalid);
        let bad_request = status.get_details_bad_request().expect("BadRequest");
        let last = bad_request.field_violations.last().expect("violations");
        assert_eq!(last.reason, "MORE_VIOLATIONS");
        assert_eq!(last.field, "");
        let omitted = format!("{} more", 21 - MAX_REPORTED_VIOLATIONS);
        assert!(last.description.contains(&omitted), "{}", last.description);
    }
}

#[test]
fn eighty_thousand_equal_row_ids_are_compared_in_linear_time() {
    let ids = vec!["same"; 80_000];
    let repeats = duplicates(ids.iter().copied());
    assert_eq!(repeats.len(), 79_999);
    assert_eq!(repeats.first(), Some(&(1, 0)));
    assert_eq!(repeats.last(), Some(&(79_999, 0)));

    // Through translation, only the ten rows a list may hold are compared.
    let request = list(vec![section(vec![row("same", "Title", ""); 80_000])]);
    let invalid = translate::send_message(Flavor::Cloud, &request).expect_err("repeats");
    let duplicates: Vec<&FieldViolation> = invalid
        .violations
        .iter()
        .filter(|v| matches!(v.rule, Rule::Duplicate { .. }))
        .collect();
    assert_eq!(duplicates.len(), 9, "{invalid:?}");
    assert_eq!(
        duplicates[8].rule,
        Rule::Duplicate {
            first: "sections[0].rows[0].id".into()
        }
    );
    status_of(invalid);
}

#[test]
fn forty_violations_are_capped_and_counted() {
    // Twenty rows with empty ids and titles, in two sections: the first ten rows are walked.
    let rows = list(vec![
        section(vec![row("", "", ""); 10]),
        section(vec![row("", "", ""); 10]),
    ]);
    let invalid = translate::send_message(Flavor::Cloud, &rows).expect_err("violations");
    assert_eq!(invalid.violations.len(), MAX_REPORTED_VIOLATIONS);
    assert!(invalid.omitted > 0, "{invalid:?}");

    // Ten contact cards without a name, each with three phones that hold neither a number nor a
    // WhatsApp id: 40 violations, 12 kept.
    let card = proto::Contact {
        phones: vec![proto::ContactPhone::default(); 3],
        ..Default::default()
    };
    let cards = request(proto::send_message_request::Content::Contacts(
        proto::Contacts {
            contacts: vec![card; 10],
        },
    ));
    let invalid = translate::send_message(Flavor::OnPremises, &cards).expect_err("violations");
    assert_eq!(invalid.violations.len(), MAX_REPORTED_VIOLATIONS);
    assert_eq!(invalid.total(), 40);
    let status = status_of(invalid);
    assert!(
        status
            .message()
            .starts_with("the request breaks 40 rule(s)"),
        "{}",
        status.message()
    );
    assert!(
        status.message().ends_with("; and 37 more"),
        "{}",
        status.message()
    );
    let bad_request = status.get_details_bad_request().expect("BadRequest");
    assert_eq!(
        bad_request.field_violations.len(),
        MAX_REPORTED_VIOLATIONS + 1
    );
    let last = bad_request.field_violations.last().expect("violations");
    assert_eq!(last.reason, "MORE_VIOLATIONS");
    let omitted = format!("{} more", 40 - MAX_REPORTED_VIOLATIONS);
    assert!(last.description.contains(&omitted), "{}", last.description);
}

/// The worst status any request can produce: as many violations as are kept, each with a path and
/// a description longer than any the model makes (non-ASCII, so the message is percent-encoded at
/// three bytes a byte), and a count of omitted ones with the most digits.
#[test]
fn the_largest_invalid_argument_status_fits_the_smallest_metadata_limit() {
    let long = "é".repeat(5_000);
    let invalid = InvalidRequest {
        violations: vec![
            FieldViolation {
                field: long.clone(),
                rule: Rule::OutOfRange {
                    min: long.clone(),
                    max: long,
                },
            };
            MAX_REPORTED_VIOLATIONS
        ],
        omitted: usize::MAX - MAX_REPORTED_VIOLATIONS,
    };
    let status = status_of(invalid);
    eprintln!(
        "the largest status takes {} bytes",
        status_wire_size(&status)
    );
}

#[test]
fn read_receipt_ids_that_are_long_or_dot_segments_are_refused() {
    for id in [&"w".repeat(70_000) as &str, ".", "..", "a b"] {
        let request = proto::MarkMessageReadRequest {
            message_id: id.into(),
            typing_indicator: None,
            sender: String::new(),
        };
        for flavor in BOTH {
            let invalid = translate::mark_message_read(flavor, &request).expect_err("refused");
            assert_eq!(invalid.violations.len(), 1, "{invalid:?}");
            assert_eq!(invalid.violations[0].field, "message_id");
            let status = status_of(invalid);
            if id.len() > 3 {
                assert!(!status.message().contains(id), "the id is echoed");
            }
        }
    }
}

// --- over a real gRPC call ------------------------------------------------------------------------

/// A codec that sends bytes as they are and reads the answer's bytes as they are.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// Calls `method` of the service with `bytes` as the request message.
async fn call_raw(channel: Channel, method: &'static str, bytes: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(method);
    match grpc.unary(tonic::Request::new(bytes), path, RawCodec).await {
        Ok(_) => panic!("{method}: the malformed request was accepted"),
        Err(status) => status,
    }
}

#[track_caller]
fn assert_malformed(status: &tonic::Status, message: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with(&format!(
            "the request is not a valid {message} protobuf message"
        )),
        "{}",
        status.message()
    );
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "MALFORMED_REQUEST");
    assert_eq!(info.domain, "whatsapp-grpc");
    assert_eq!(info.metadata["outcome"], "not_sent");
    assert!(status_wire_size(status) < STATUS_HEADERS_MAX);
}

/// `google.protobuf.Struct` nested `depth` deep.
fn nested_struct(depth: usize) -> prost_types::Struct {
    let mut inner = prost_types::Struct::default();
    for _ in 0..depth {
        let mut outer = prost_types::Struct::default();
        outer.fields.insert(
            "a".into(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(inner)),
            },
        );
        inner = outer;
    }
    inner
}

#[tokio::test]
async fn malformed_protobuf_is_an_invalid_argument_over_grpc() {
    const SEND: &str = "/whatsapp.v1.MessagingService/SendMessage";
    const READ: &str = "/whatsapp.v1.MessagingService/MarkMessageRead";
    let stack = Stack::start(Flavor::Cloud).await;

    // `to` (field 1) holding a byte that is not UTF-8.
    let mut not_utf8 = vec![0x0A, 0x03, b'1', 0xFF, b'2'];
    let status = call_raw(stack.channel.clone(), SEND, not_utf8.clone()).await;
    assert_malformed(&status, "whatsapp.v1.SendMessageRequest");
    // `message_id` (field 1) of a read receipt, the same way.
    let status = call_raw(stack.channel.clone(), READ, not_utf8.clone()).await;
    assert_malformed(&status, "whatsapp.v1.MarkMessageReadRequest");
    // Truncated: the length says five bytes, three follow.
    not_utf8[1] = 0x05;
    let status = call_raw(stack.channel.clone(), SEND, not_utf8).await;
    assert_malformed(&status, "whatsapp.v1.SendMessageRequest");

    // A flow's data nested 200 deep: beyond prost's recursion limit.
    let flow = proto::InteractiveFlow {
        body: body("Book a table"),
        flow_token: "flow-token".into(),
        flow_id: "1234567890".into(),
        flow_cta: "Book".into(),
        flow_action_payload: Some(proto::InteractiveFlowActionPayload {
            screen: "WELCOME".into(),
            data: Some(nested_struct(200)),
        }),
        ..Default::default()
    };
    let deep = request(interactive(Kind::Flow(flow))).encode_to_vec();
    let status = call_raw(stack.channel.clone(), SEND, deep).await;
    assert_malformed(&status, "whatsapp.v1.SendMessageRequest");

    // The generated client, which uses the same codec, still works.
    let mut client = stack.client.clone();
    let response = client
        .send_message(request(text("hello")))
        .await
        .expect("a valid request is sent");
    assert!(!response.into_inner().message_id.is_empty());
}

#[tokio::test]
async fn half_a_million_empty_rows_over_grpc_answer_a_small_invalid_argument() {
    let stack = Stack::start(Flavor::Cloud).await;
    let mut client = stack.client.clone();
    // Half a million rows (1 MB) are within MAX_REQUEST_BYTES but hold more fields than the server
    // decodes: refused before decoding.
    let request = list(vec![section(vec![row("", "", ""); 500_000])]);
    assert!(request.encoded_len() < MAX_REQUEST_BYTES);
    let status = client
        .send_message(request)
        .await
        .expect_err("too many fields");
    assert_malformed(&status, "whatsapp.v1.SendMessageRequest");
    assert!(status_wire_size(&status) < STATUS_HEADERS_MAX);

    // Twenty thousand are decoded, and validated with one violation for the count.
    let request = list(vec![section(vec![row("", "", ""); 20_000])]);
    let status = client
        .send_message(request)
        .await
        .expect_err("too many rows");
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    let bad_request = status.get_details_bad_request().expect("BadRequest");
    assert_eq!(
        bad_request.field_violations.len(),
        MAX_REPORTED_VIOLATIONS + 1
    );
    assert!(status_wire_size(&status) < STATUS_HEADERS_MAX);
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["violations"], "21");

    let read = proto::MarkMessageReadRequest {
        message_id: "..".into(),
        typing_indicator: None,
        sender: String::new(),
    };
    let status = client.mark_message_read(read).await.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let bad_request = status.get_details_bad_request().expect("BadRequest");
    assert_eq!(bad_request.field_violations[0].field, "message_id");
    assert_eq!(bad_request.field_violations[0].reason, "FORMAT");
    assert!(stack.received().await.is_empty(), "nothing was sent");
}
