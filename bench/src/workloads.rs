//! The messages the load is made of: a short text (the common case), and, for how cost grows with
//! work, a text at its 4,096-character limit, a full interactive list (10 sections holding the 10
//! rows a list may have, every text at its limit) and a template with every kind of parameter and
//! button the Cloud API takes in one template. Each is checked against the service's own
//! validation before a run, so a refused shape fails the bench rather than measuring errors.

use whatsapp_grpc::proto::{
    self, interactive::Kind, send_message_request::Content, template_button::SubType,
    template_component::Component, template_parameter::Parameter,
};
use whatsapp_grpc::validate::limits;
use whatsapp_grpc::{Flavor, translate};

/// One kind of message.
#[derive(Clone)]
pub struct Shape {
    pub name: &'static str,
    pub request: proto::SendMessageRequest,
}

impl Shape {
    /// The JSON the API receives for it (what the stub is sent when called directly).
    pub fn cloud_json(&self) -> Result<Vec<u8>, String> {
        let body = translate::send_message(Flavor::Cloud, &self.request)
            .map_err(|invalid| format!("the {} shape is refused: {invalid}", self.name))?;
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
    use super::*;

    #[test]
    fn every_shape_passes_the_services_validation() {
        for shape in all() {
            let json = shape.cloud_json().expect("valid");
            assert!(json.len() > 40, "{}", shape.name);
        }
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
