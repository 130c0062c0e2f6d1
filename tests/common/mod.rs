//! Builders shared by the tests: requests are written as a user of the generated types would.
#![allow(dead_code)]

pub mod cases;
pub mod doc_cases;
pub mod logs;
pub mod process;
pub mod redis_server;
pub mod soak;
pub mod stack;
pub mod subscriber;
pub mod unconnectable;
pub mod upstream;

use std::path::{Path, PathBuf};

/// Where a store keeps its state: tests of a store run once with each (see
/// [`with_memory_and_redis!`](crate::with_memory_and_redis)).
pub enum Kind {
    Memory,
    Redis,
}

/// Runs the async case `$case(kind: Kind)` as two tests: `$case::memory` and `$case::redis`.
#[macro_export]
macro_rules! with_memory_and_redis {
    ($case:ident) => {
        mod $case {
            #[tokio::test]
            async fn memory() {
                super::$case($crate::common::Kind::Memory).await;
            }
            #[tokio::test]
            async fn redis() {
                super::$case($crate::common::Kind::Redis).await;
            }
        }
    };
}

use whatsapp_grpc::proto::{self, send_message_request::Content};

pub const TO: &str = "15550001111";
pub const WAMID: &str = "wamid.HBgLMTU1NTAwMDExMTEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";

/// A request to [`TO`] carrying `content`.
pub fn request(content: Content) -> proto::SendMessageRequest {
    proto::SendMessageRequest {
        to: TO.into(),
        content: Some(content),
        ..Default::default()
    }
}

pub fn text(body: &str) -> Content {
    Content::Text(proto::Text {
        body: body.into(),
        preview_url: false,
    })
}

pub fn body(text: &str) -> Option<proto::InteractiveBody> {
    Some(proto::InteractiveBody { text: text.into() })
}

pub fn footer(text: &str) -> Option<proto::InteractiveFooter> {
    Some(proto::InteractiveFooter { text: text.into() })
}

pub fn text_header(text: &str) -> Option<proto::InteractiveTextHeader> {
    Some(proto::InteractiveTextHeader { text: text.into() })
}

pub fn reply(id: &str, title: &str) -> proto::InteractiveReplyButton {
    proto::InteractiveReplyButton {
        button: Some(proto::interactive_reply_button::Button::Reply(
            proto::InteractiveReply {
                id: id.into(),
                title: title.into(),
            },
        )),
    }
}

pub fn interactive(kind: proto::interactive::Kind) -> Content {
    Content::Interactive(proto::Interactive { kind: Some(kind) })
}

pub fn row(id: &str, title: &str, description: &str) -> proto::InteractiveListRow {
    proto::InteractiveListRow {
        id: id.into(),
        title: title.into(),
        description: description.into(),
    }
}

pub fn product_item(id: &str) -> proto::InteractiveProductItem {
    proto::InteractiveProductItem {
        product_retailer_id: id.into(),
    }
}

pub fn template_text(text: &str) -> proto::TemplateParameter {
    proto::TemplateParameter {
        parameter: Some(proto::template_parameter::Parameter::Text(text.into())),
        ..Default::default()
    }
}

pub fn template_component(
    component: proto::template_component::Component,
) -> proto::TemplateComponent {
    proto::TemplateComponent {
        component: Some(component),
    }
}

pub fn template_body(parameters: Vec<proto::TemplateParameter>) -> proto::TemplateComponent {
    template_component(proto::template_component::Component::Body(
        proto::TemplateBody { parameters },
    ))
}

pub fn template_button(
    index: u32,
    sub_type: proto::template_button::SubType,
) -> proto::TemplateComponent {
    template_component(proto::template_component::Component::Button(
        proto::TemplateButton {
            index,
            sub_type: Some(sub_type),
        },
    ))
}

pub fn quick_reply(payload: &str) -> proto::template_button::SubType {
    proto::template_button::SubType::QuickReply(proto::TemplateQuickReplyButton {
        payload: payload.into(),
    })
}

pub fn language(code: &str) -> Option<proto::TemplateLanguage> {
    Some(proto::TemplateLanguage {
        policy: proto::TemplateLanguagePolicy::Deterministic as i32,
        code: code.into(),
    })
}

pub fn provider(name: &str) -> Option<proto::MediaProvider> {
    Some(proto::MediaProvider { name: name.into() })
}

/// The project's copy of the conformance fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture file, parsed.
pub fn fixture(flavor: &str, name: &str) -> serde_json::Value {
    read_json(&fixtures_dir().join(flavor).join(format!("{name}.json")))
}

/// A fixture of `tests/fixtures_cloud_docs/` (flat: the flavor is in the file), parsed.
pub fn doc_fixture(name: &str) -> serde_json::Value {
    read_json(&doc_fixtures_dir().join(format!("{name}.json")))
}

/// The fixture file at `path`, parsed.
fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", path.display()))
}

/// The fixtures built from the Cloud API's current docs.
pub fn doc_fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(doc_cases::DIR)
}

/// The names of every fixture in `dir`.
pub fn json_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            path.file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The names of every fixture of a flavor.
pub fn fixture_names(flavor: &str) -> Vec<String> {
    json_names(&fixtures_dir().join(flavor))
}

/// The smallest metadata limit of common gRPC clients (grpc-go; grpcio allows 16 KiB): a status
/// whose headers are larger reaches the caller as `RESOURCE_EXHAUSTED` instead of itself.
pub const STATUS_HEADERS_MAX: usize = 8 * 1024;

/// The size of `status` on the wire: every header it becomes (`grpc-status`, the percent-encoded
/// `grpc-message`, the base64-encoded `grpc-status-details-bin`, and any metadata), names included.
pub fn status_wire_size(status: &tonic::Status) -> usize {
    status
        .clone()
        .into_http::<()>()
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}
