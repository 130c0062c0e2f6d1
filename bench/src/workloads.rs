//! The messages the load is made of: a short text (the common case), and, for how cost grows with
//! work, a text at its 4,096-character limit, a full interactive list (10 sections holding the 10
//! rows a list may have, every text at its limit) and a template with every kind of parameter and
//! button the Cloud API takes in one template. The bench does not link the service, so its tests
//! check, against the service's library, that every shape passes the service's validation and that
//! the JSON the stub is sent directly is the body the service sends for the same message.

use serde_json::json;

use crate::proto::{
    self, interactive::Kind, send_message_request::Content, template_button::SubType,
    template_component::Component, template_parameter::Parameter,
};

/// The service's limits, at which the shapes are built: the service's own file, compiled here too
/// (it holds constants only), so the bench cannot drift from them and still does not link the
/// service's library.
#[path = "../../src/validate/limits.rs"]
#[allow(dead_code)]
mod limits;

/// One kind of message.
#[derive(Clone)]
pub struct Shape {
    pub name: &'static str,
    pub request: proto::SendMessageRequest,
}

impl Shape {
    /// The JSON the API receives for it, what the stub is sent when called directly: the stub is
    /// called directly with text messages only (the other shapes measure the service's own work).
    pub fn cloud_json(&self) -> Result<Vec<u8>, String> {
        let Some(Content::Text(text)) = &self.request.content else {
            return Err(format!(
                "the {} shape is not sent to the stub directly: text only",
                self.name
            ));
        };
        // As the service sends it: `preview_url` only when set.
        let text = if text.preview_url {
            json!({ "preview_url": true, "body": text.body })
        } else {
            json!({ "body": text.body })
        };
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": self.request.to,
            "type": "text",
            "text": text,
        });
        serde_json::to_vec(&body).map_err(|e| e.to_string())
    }
}

/// The recipient of every message (a fictitious number).
const TO: &str = "15550001111";

fn request(content: Content) -> proto::SendMessageRequest {
    proto::SendMessageRequest {
        to: TO.into(),
        content: Some(content),
        ..Default::default()
    }
}

/// `n` ASCII characters.
fn text(n: usize) -> String {
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
        .chars()
        .cycle()
        .take(n)
        .collect()
}

pub fn short_text() -> Shape {
    Shape {
        name: "short text",
        request: request(Content::Text(proto::Text {
            body: "Your order #12345 has shipped and will arrive on Thursday.".into(),
            preview_url: false,
        })),
    }
}

pub fn long_text() -> Shape {
    Shape {
        name: "4,096-char text",
        request: request(Content::Text(proto::Text {
            body: text(limits::TEXT_BODY_MAX),
            preview_url: false,
        })),
    }
}

pub fn full_list() -> Shape {
    let rows_per_section = limits::LIST_ROWS_MAX / limits::SECTIONS_MAX;
    let list = proto::InteractiveList {
        header: Some(proto::InteractiveTextHeader {
            text: text(limits::INTERACTIVE_HEADER_TEXT_MAX),
        }),
        body: Some(proto::InteractiveBody {
            text: text(limits::INTERACTIVE_BODY_TEXT_MAX),
        }),
        footer: Some(proto::InteractiveFooter {
            text: text(limits::INTERACTIVE_FOOTER_TEXT_MAX),
        }),
        button: text(limits::LIST_BUTTON_MAX),
        sections: (0..limits::SECTIONS_MAX)
            .map(|section| proto::InteractiveListSection {
                title: format!("{section:02}{}", text(limits::SECTION_TITLE_MAX - 2)),
                rows: (0..rows_per_section)
                    .map(|row| proto::InteractiveListRow {
                        id: format!("{section:02}{row:02}{}", text(limits::ROW_ID_MAX - 4)),
                        title: format!("{section:02}{row:02}{}", text(limits::ROW_TITLE_MAX - 4)),
                        description: text(limits::ROW_DESCRIPTION_MAX),
                    })
                    .collect(),
            })
            .collect(),
    };
    Shape {
        name: "full list",
        request: request(Content::Interactive(proto::Interactive {
            kind: Some(Kind::List(list)),
        })),
    }
}

/// A template with a document header, a body of text, currency and date-time parameters (every
/// date-time field set), and a quick-reply, a URL, a copy-code and a Flow button (with data).
/// A template has one header parameter, so the other header kinds (image, video, location, product)
/// are alternatives to the document, of the same cost.
pub fn full_template() -> Shape {
    let component = |component| proto::TemplateComponent {
        component: Some(component),
    };
    let parameter = |parameter| proto::TemplateParameter {
        parameter: Some(parameter),
        ..Default::default()
    };
    let flow_data = prost_types_struct();
    let template = proto::Template {
        namespace: String::new(),
        name: "order_update_v2".into(),
        language: Some(proto::TemplateLanguage {
            policy: proto::TemplateLanguagePolicy::Deterministic as i32,
            code: "en_US".into(),
        }),
        components: vec![
            component(Component::Header(proto::TemplateHeader {
                parameters: vec![parameter(Parameter::Document(proto::Document {
                    source: Some(proto::document::Source::Link(
                        "https://example.com/invoices/12345.pdf".into(),
                    )),
                    filename: "invoice-12345.pdf".into(),
                    ..Default::default()
                }))],
            })),
            component(Component::Body(proto::TemplateBody {
                parameters: vec![
                    parameter(Parameter::Text("Ana".into())),
                    parameter(Parameter::Text("#12345".into())),
                    parameter(Parameter::Currency(proto::TemplateCurrency {
                        fallback_value: "$100.99".into(),
                        code: "USD".into(),
                        amount_1000: 100_990,
                    })),
                    parameter(Parameter::DateTime(proto::TemplateDateTime {
                        fallback_value: "Thursday, February 25, 2027 10:30".into(),
                        day_of_week: proto::TemplateDayOfWeek::Thursday as i32,
                        year: Some(2027),
                        month: Some(2),
                        day_of_month: Some(25),
                        hour: Some(10),
                        minute: Some(30),
                        calendar: proto::TemplateCalendar::Gregorian as i32,
                    })),
                    parameter(Parameter::Text(text(200))),
                ],
            })),
            component(Component::Button(proto::TemplateButton {
                index: 0,
                sub_type: Some(SubType::QuickReply(proto::TemplateQuickReplyButton {
                    payload: "track-12345".into(),
                })),
            })),
            component(Component::Button(proto::TemplateButton {
                index: 1,
                sub_type: Some(SubType::Url(proto::TemplateUrlButton {
                    text: "orders/12345".into(),
                })),
            })),
            component(Component::Button(proto::TemplateButton {
                index: 2,
                sub_type: Some(SubType::CopyCode(proto::TemplateCopyCodeButton {
                    coupon_code: "SAVE25".into(),
                })),
            })),
            component(Component::Button(proto::TemplateButton {
                index: 3,
                sub_type: Some(SubType::Flow(proto::TemplateFlowButton {
                    flow_token: "flow-token-12345".into(),
                    flow_action_data: Some(flow_data),
                })),
            })),
        ],
    };
    Shape {
        name: "full template",
        request: request(Content::Template(template)),
    }
}

/// Flow data: a few fields of each JSON kind.
fn prost_types_struct() -> prost_types::Struct {
    use prost_types::{Value, value::Kind as V};
    let value = |kind| Value { kind: Some(kind) };
    let mut data = prost_types::Struct::default();
    data.fields
        .insert("order".into(), value(V::StringValue("12345".into())));
    data.fields
        .insert("total".into(), value(V::NumberValue(100.99)));
    data.fields
        .insert("gift".into(), value(V::BoolValue(false)));
    data.fields.insert(
        "items".into(),
        value(V::ListValue(prost_types::ListValue {
            values: vec![
                value(V::StringValue("book".into())),
                value(V::NumberValue(2.0)),
            ],
        })),
    );
    data
}

/// Every shape, the short text first.
pub fn all() -> Vec<Shape> {
    vec![short_text(), long_text(), full_list(), full_template()]
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use whatsapp_grpc::{Flavor, translate};

    use super::*;

    /// The shape as the service's own request type: the same bytes on the wire.
    fn as_service_request(shape: &Shape) -> whatsapp_grpc::proto::SendMessageRequest {
        whatsapp_grpc::proto::SendMessageRequest::decode(shape.request.encode_to_vec().as_slice())
            .expect("the service decodes the bench's message")
    }

    #[test]
    fn every_shape_passes_the_services_validation() {
        for shape in all() {
            let request = as_service_request(&shape);
            let body = translate::send_message(Flavor::Cloud, &request)
                .unwrap_or_else(|invalid| panic!("{} is refused: {invalid}", shape.name));
            let json = serde_json::to_vec(&body).expect("serializes");
            assert!(json.len() > 40, "{}", shape.name);
        }
    }

    #[test]
    fn the_json_sent_to_the_stub_directly_is_the_services_body() {
        let mut previewed = short_text();
        if let Some(Content::Text(text)) = &mut previewed.request.content {
            text.preview_url = true;
        }
        for shape in [short_text(), long_text(), previewed] {
            let request = as_service_request(&shape);
            let service = translate::send_message(Flavor::Cloud, &request).expect("valid");
            let ours: serde_json::Value =
                serde_json::from_slice(&shape.cloud_json().expect("text")).expect("JSON");
            assert_eq!(
                ours,
                serde_json::to_value(&service).expect("JSON"),
                "{}",
                shape.name
            );
        }
        assert!(full_list().cloud_json().is_err());
    }

    #[test]
    fn the_shapes_are_at_their_limits() {
        let Some(Content::Text(long)) = long_text().request.content else {
            panic!("a text")
        };
        assert_eq!(long.body.chars().count(), limits::TEXT_BODY_MAX);
        let Some(Content::Interactive(proto::Interactive {
            kind: Some(Kind::List(list)),
        })) = full_list().request.content
        else {
            panic!("a list")
        };
        assert_eq!(list.sections.len(), limits::SECTIONS_MAX);
        let rows: usize = list.sections.iter().map(|s| s.rows.len()).sum();
        assert_eq!(rows, limits::LIST_ROWS_MAX);
    }
}
