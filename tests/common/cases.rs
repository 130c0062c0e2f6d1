//! The gRPC request for every conformance fixture, as a user would build it.

use serde_json::json;
use whatsapp_grpc::proto::{
    self, interactive::Kind, send_message_request::Content, template_button::SubType,
    template_component::Component, template_parameter::Parameter,
};

use super::*;

/// The request behind one fixture.
pub enum Case {
    Send(Box<proto::SendMessageRequest>),
    MarkRead(proto::MarkMessageReadRequest),
}

pub fn on_premises_cases() -> Vec<(&'static str, Case)> {
    use Case::MarkRead;
    #[allow(non_snake_case)]
    let Send = |request| Case::Send(Box::new(request));
    vec![
        (
            "audio_id",
            Send(request(Content::Audio(proto::Audio {
                source: Some(proto::audio::Source::Id("your-media-id".into())),
                provider: None,
                ..Default::default()
            }))),
        ),
        ("contacts_full", Send(request(contacts_full()))),
        (
            "contacts_minimal",
            Send(request(Content::Contacts(proto::Contacts {
                contacts: vec![proto::Contact {
                    name: Some(proto::ContactName {
                        formatted_name: "Ana Silva".into(),
                        first_name: "Ana".into(),
                        ..Default::default()
                    }),
                    phones: vec![proto::ContactPhone {
                        phone: "+1 555 000 2222".into(),
                        r#type: proto::ContactPhoneType::Cell as i32,
                        wa_id: String::new(),
                    }],
                    ..Default::default()
                }],
            }))),
        ),
        (
            "document_id_filename",
            Send(request(Content::Document(proto::Document {
                source: Some(proto::document::Source::Id("your-media-id".into())),
                filename: "your-document-filename".into(),
                ..Default::default()
            }))),
        ),
        (
            "document_link_provider",
            Send(request(Content::Document(proto::Document {
                source: Some(proto::document::Source::Link(
                    "https://example.com/invoice.pdf".into(),
                )),
                provider: provider("provider-name"),
                ..Default::default()
            }))),
        ),
        (
            "image_link_caption",
            Send(request(Content::Image(proto::Image {
                source: Some(proto::image::Source::Link(
                    "https://example.com/cat.jpg".into(),
                )),
                caption: "A cat".into(),
                provider: None,
            }))),
        ),
        (
            "interactive_button_document_header",
            Send(request(interactive(Kind::Button(
                proto::InteractiveButton {
                    header: Some(proto::InteractiveMediaHeader {
                        kind: Some(proto::interactive_media_header::Kind::Document(
                            proto::Document {
                                source: Some(proto::document::Source::Link(
                                    "https://example.com/menu.pdf".into(),
                                )),
                                provider: provider("provider-name"),
                                filename: "menu.pdf".into(),
                                ..Default::default()
                            },
                        )),
                    }),
                    body: body("Pick one"),
                    footer: None,
                    buttons: vec![reply("a", "A")],
                },
            )))),
        ),
        (
            "interactive_button_image_header",
            Send(request(interactive(Kind::Button(
                proto::InteractiveButton {
                    header: Some(proto::InteractiveMediaHeader {
                        kind: Some(proto::interactive_media_header::Kind::Image(proto::Image {
                            source: Some(proto::image::Source::Id("your-media-id".into())),
                            ..Default::default()
                        })),
                    }),
                    body: body("your-text-body-content"),
                    footer: footer("your-text-footer-content"),
                    buttons: vec![
                        reply("unique-postback-id", "First Button's Title"),
                        reply("unique-postback-id-2", "Second Button"),
                    ],
                },
            )))),
        ),
        (
            "interactive_button_text_header",
            Send(request(interactive(Kind::Button(
                proto::InteractiveButton {
                    header: Some(proto::InteractiveMediaHeader {
                        kind: Some(proto::interactive_media_header::Kind::Text(
                            "Delivery window".into(),
                        )),
                    }),
                    body: body("When should we deliver your order?"),
                    footer: footer("You can change this later"),
                    buttons: vec![
                        reply("slot-am", "Morning"),
                        reply("slot-pm", "Afternoon"),
                        reply("slot-eve", "Evening"),
                    ],
                },
            )))),
        ),
        (
            "interactive_catalog_message",
            Send(request(interactive(Kind::CatalogMessage(
                proto::InteractiveCatalogMessage {
                    body: body("text-body-content"),
                    footer: None,
                    thumbnail_product_retailer_id: "product-SKU-in-catalog".into(),
                },
            )))),
        ),
        (
            "interactive_flow",
            Send(request(interactive(Kind::Flow(proto::InteractiveFlow {
                header: text_header("Flow message header"),
                body: body("Flow message body"),
                footer: footer("Flow message footer"),
                mode: proto::InteractiveFlowMode::Unspecified as i32,
                flow_message_version: "3".into(),
                flow_token: "AQAAAAACS5FpgQ_cAAAAAD0QI3s".into(),
                flow_id: "1234567890".into(),
                flow_cta: "Book!".into(),
                flow_action: proto::InteractiveFlowAction::Navigate as i32,
                flow_action_payload: Some(proto::InteractiveFlowActionPayload {
                    screen: "WELCOME_SCREEN".into(),
                    data: Some(json_struct(json!({"user_name": "name", "user_age": 25}))),
                }),
                ..Default::default()
            })))),
        ),
        (
            "interactive_flow_data_exchange_draft",
            Send(request(interactive(Kind::Flow(proto::InteractiveFlow {
                header: None,
                body: body("Let us find a time that suits you."),
                footer: None,
                mode: proto::InteractiveFlowMode::Draft as i32,
                // Left empty: the service fills in "3", the only version.
                flow_message_version: String::new(),
                flow_token: "AQAAAAACS5FpgQ_cAAAAAD0QI3s".into(),
                flow_id: "1234567890".into(),
                flow_cta: "Book".into(),
                flow_action: proto::InteractiveFlowAction::DataExchange as i32,
                flow_action_payload: None,
                ..Default::default()
            })))),
        ),
        (
            "interactive_list",
            Send(request(interactive(Kind::List(proto::InteractiveList {
                header: text_header("your-header-content-here"),
                body: body("your-text-message-content-here"),
                footer: footer("your-footer-content-here"),
                button: "Choose".into(),
                sections: vec![
                    proto::InteractiveListSection {
                        title: "Section A".into(),
                        rows: vec![row(
                            "unique-row-identifier-here",
                            "row-title-content-here",
                            "row-description-content-here",
                        )],
                    },
                    proto::InteractiveListSection {
                        title: "Section B".into(),
                        rows: vec![row(
                            "unique-row-identifier-here-2",
                            "row-title-content-here",
                            "row-description-content-here",
                        )],
                    },
                ],
            })))),
        ),
        (
            "interactive_product",
            Send(request(interactive(Kind::Product(
                proto::InteractiveProduct {
                    body: body("body text"),
                    footer: footer("footer text"),
                    catalog_id: "catalog-ID".into(),
                    product_retailer_id: "product-ID".into(),
                },
            )))),
        ),
        (
            "interactive_product_list",
            Send(request(interactive(Kind::ProductList(
                proto::InteractiveProductList {
                    header: text_header("text-header-content"),
                    body: body("text-body-content"),
                    footer: footer("text-footer-content"),
                    catalog_id: "catalog-ID".into(),
                    sections: vec![
                        proto::InteractiveProductSection {
                            title: "section-title".into(),
                            product_items: vec![
                                product_item("product-SKU-in-catalog"),
                                product_item("product-SKU-in-catalog-2"),
                            ],
                        },
                        proto::InteractiveProductSection {
                            title: "the-section-title".into(),
                            product_items: vec![product_item("product-SKU-in-catalog-3")],
                        },
                    ],
                },
            )))),
        ),
        (
            "location",
            Send(request(Content::Location(proto::Location {
                latitude: 37.758056,
                longitude: -122.425332,
                name: "Facebook HQ".into(),
                address: "1 Hacker Way, Menlo Park, CA 94025".into(),
            }))),
        ),
        (
            "mark_read",
            MarkRead(proto::MarkMessageReadRequest {
                message_id: "gBEGkYiEB1VXAglK1ZEqA1YKPrU".into(),
                typing_indicator: None,
                sender: String::new(),
            }),
        ),
        (
            "sticker_id",
            Send(request(Content::Sticker(proto::Sticker {
                source: Some(proto::sticker::Source::Id("sticker-media-id".into())),
                provider: None,
            }))),
        ),
        (
            "template_body_params",
            Send(request(Content::Template(proto::Template {
                name: "order_update".into(),
                language: language("en_US"),
                components: vec![template_body(vec![
                    template_text("name"),
                    template_text("Hi there"),
                ])],
                ..Default::default()
            }))),
        ),
        (
            "template_copy_code_button",
            Send(request(Content::Template(proto::Template {
                name: "promo".into(),
                language: language("en_US"),
                components: vec![template_button(
                    0,
                    SubType::CopyCode(proto::TemplateCopyCodeButton {
                        coupon_code: "DISCOUNT20".into(),
                    }),
                )],
                ..Default::default()
            }))),
        ),
        (
            "template_header_image_body_buttons",
            Send(request(Content::Template(proto::Template {
                namespace: "d7b7a2f8_2c0f_4c4c_9a35_8f7c9d0e1a2b".into(),
                name: "order_shipped".into(),
                language: language("en_US"),
                components: vec![
                    template_component(Component::Header(proto::TemplateHeader {
                        parameters: vec![proto::TemplateParameter {
                            parameter: Some(Parameter::Image(proto::Image {
                                source: Some(proto::image::Source::Link(
                                    "https://example.com/img/parcel.png".into(),
                                )),
                                ..Default::default()
                            })),
                            ..Default::default()
                        }],
                    })),
                    template_body(vec![template_text("Ana"), template_text("#12345")]),
                    template_button(0, quick_reply("track-12345")),
                    template_button(
                        1,
                        SubType::Url(proto::TemplateUrlButton {
                            text: "12345".into(),
                        }),
                    ),
                ],
            }))),
        ),
        (
            "template_namespace_onprem",
            Send(request(Content::Template(proto::Template {
                namespace: "business_a_namespace".into(),
                name: "shipping_update".into(),
                language: language("en"),
                components: vec![template_body(vec![template_text("Alice")])],
            }))),
        ),
        (
            "template_quick_reply_button",
            Send(request(Content::Template(proto::Template {
                name: "confirm_visit".into(),
                language: language("en_US"),
                components: vec![template_button(0, quick_reply("Yes-Button-Payload"))],
                ..Default::default()
            }))),
        ),
        (
            "template_url_button_and_document_header",
            Send(request(Content::Template(proto::Template {
                name: "invoice_ready".into(),
                language: language("en"),
                components: vec![
                    template_component(Component::Header(proto::TemplateHeader {
                        parameters: vec![proto::TemplateParameter {
                            parameter: Some(Parameter::Document(proto::Document {
                                source: Some(proto::document::Source::Id("doc_id".into())),
                                filename: "doc_name".into(),
                                ..Default::default()
                            })),
                            ..Default::default()
                        }],
                    })),
                    template_button(
                        1,
                        SubType::Url(proto::TemplateUrlButton {
                            text: "invoice/42".into(),
                        }),
                    ),
                ],
                ..Default::default()
            }))),
        ),
        ("text", Send(request(text("your-message-content")))),
        (
            "text_preview_url_onprem",
            Send(request(Content::Text(proto::Text {
                body: "See https://example.com/order/42".into(),
                preview_url: true,
            }))),
        ),
        (
            "video_id_caption",
            Send(request(Content::Video(proto::Video {
                source: Some(proto::video::Source::Id(
                    "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68".into(),
                )),
                caption: "Assembly guide, part 1".into(),
                provider: None,
            }))),
        ),
        (
            "video_link_provider",
            Send(request(Content::Video(proto::Video {
                source: Some(proto::video::Source::Link(
                    "https://example.com/clip.mp4".into(),
                )),
                caption: String::new(),
                provider: provider("provider-name"),
            }))),
        ),
    ]
}

pub fn cloud_cases() -> Vec<(&'static str, Case)> {
    use Case::MarkRead;
    #[allow(non_snake_case)]
    let Send = |request| Case::Send(Box::new(request));
    vec![
        (
            "image_link",
            Send(request(Content::Image(proto::Image {
                source: Some(proto::image::Source::Link(
                    "https://example.com/cat.jpg".into(),
                )),
                caption: "A cat".into(),
                provider: None,
            }))),
        ),
        (
            "interactive_button_reply_context",
            Send(proto::SendMessageRequest {
                context: Some(proto::Context {
                    message_id: WAMID.into(),
                }),
                ..request(interactive(Kind::Button(proto::InteractiveButton {
                    header: None,
                    body: body("Did this answer your question?"),
                    footer: None,
                    buttons: vec![reply("yes", "Yes"), reply("no", "No")],
                })))
            }),
        ),
        (
            "interactive_cta_url",
            Send(request(interactive(Kind::CtaUrl(
                proto::InteractiveCtaUrl {
                    header: Some(proto::InteractiveMediaHeader {
                        kind: Some(proto::interactive_media_header::Kind::Text(
                            "Available dates".into(),
                        )),
                    }),
                    body: body("Tap the button below to see available dates."),
                    footer: footer("Dates subject to change."),
                    display_text: "See dates".into(),
                    url: "https://example.com/dates?ref=wa".into(),
                },
            )))),
        ),
        (
            "interactive_list",
            Send(request(interactive(Kind::List(proto::InteractiveList {
                header: None,
                body: body("Choose a slot"),
                footer: None,
                button: "Slots".into(),
                sections: vec![proto::InteractiveListSection {
                    title: String::new(),
                    rows: vec![
                        row("slot-9", "9:00", ""),
                        row("slot-10", "10:00", "Morning"),
                    ],
                }],
            })))),
        ),
        (
            "interactive_location_request",
            Send(request(interactive(Kind::LocationRequestMessage(
                proto::InteractiveLocationRequestMessage {
                    body: body("Where should we pick you up? Tap to share your location."),
                },
            )))),
        ),
        (
            "location",
            Send(request(Content::Location(proto::Location {
                latitude: 37.758056,
                longitude: -122.425332,
                name: "Philz Coffee".into(),
                address: "101 Forest Ave, Palo Alto, CA 94301".into(),
            }))),
        ),
        (
            "mark_read",
            MarkRead(proto::MarkMessageReadRequest {
                message_id: WAMID.into(),
                typing_indicator: None,
                sender: String::new(),
            }),
        ),
        (
            "mark_read_typing_indicator",
            MarkRead(proto::MarkMessageReadRequest {
                message_id: WAMID.into(),
                typing_indicator: Some(proto::TypingIndicator {
                    r#type: proto::TypingIndicatorType::Text as i32,
                }),
                sender: String::new(),
            }),
        ),
        (
            "reaction",
            Send(request(Content::Reaction(proto::Reaction {
                message_id: WAMID.into(),
                emoji: "👍".into(),
            }))),
        ),
        (
            "reaction_remove",
            Send(request(Content::Reaction(proto::Reaction {
                message_id: WAMID.into(),
                emoji: String::new(),
            }))),
        ),
        (
            "sticker_id",
            Send(request(Content::Sticker(proto::Sticker {
                source: Some(proto::sticker::Source::Id("sticker-media-id".into())),
                provider: None,
            }))),
        ),
        (
            "template_currency_date_time",
            Send(request(Content::Template(proto::Template {
                name: "payment_due".into(),
                language: language("en_US"),
                components: vec![template_body(vec![
                    proto::TemplateParameter {
                        parameter: Some(Parameter::Currency(proto::TemplateCurrency {
                            fallback_value: "$100.99".into(),
                            code: "USD".into(),
                            amount_1000: 100990,
                        })),
                        ..Default::default()
                    },
                    proto::TemplateParameter {
                        parameter: Some(Parameter::DateTime(proto::TemplateDateTime {
                            fallback_value: "February 25, 1977".into(),
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                ])],
                ..Default::default()
            }))),
        ),
        (
            "template_header_video_quick_reply",
            Send(request(Content::Template(proto::Template {
                name: "product_launch".into(),
                language: language("pt_BR"),
                components: vec![
                    template_component(Component::Header(proto::TemplateHeader {
                        parameters: vec![proto::TemplateParameter {
                            parameter: Some(Parameter::Video(proto::Video {
                                source: Some(proto::video::Source::Id("1166846181421424".into())),
                                ..Default::default()
                            })),
                            ..Default::default()
                        }],
                    })),
                    template_button(0, quick_reply("notify-me")),
                ],
                ..Default::default()
            }))),
        ),
        (
            "text_preview_url",
            Send(request(Content::Text(proto::Text {
                body: "See https://example.com/order/42".into(),
                preview_url: true,
            }))),
        ),
        (
            "text_reply_with_callback_data",
            Send(proto::SendMessageRequest {
                context: Some(proto::Context {
                    message_id: "wamid.HBgLMTU1NTAwMDExMTEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA".into(),
                }),
                biz_opaque_callback_data: "campaign=spring-2026;template=order_update".into(),
                // Idempotency key: validated, never sent in the body.
                request_id: "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c".into(),
                ..request(text("Thanks!"))
            }),
        ),
    ]
}

fn contacts_full() -> Content {
    use proto::{ContactAddressType as A, ContactEmailType as E, ContactPhoneType as P};
    let address = |street: &str| proto::ContactAddress {
        street: street.into(),
        city: "Menlo Park".into(),
        state: "CA".into(),
        zip: "94025".into(),
        country: "United States".into(),
        country_code: "us".into(),
        r#type: 0,
    };
    Content::Contacts(proto::Contacts {
        contacts: vec![proto::Contact {
            addresses: vec![
                proto::ContactAddress {
                    r#type: A::Home as i32,
                    ..address("1 Hacker Way")
                },
                proto::ContactAddress {
                    r#type: A::Work as i32,
                    ..address("200 Jefferson Dr")
                },
            ],
            birthday: "2012-08-18".into(),
            emails: vec![
                proto::ContactEmail {
                    email: "test@fb.com".into(),
                    r#type: E::Work as i32,
                },
                proto::ContactEmail {
                    email: "test@whatsapp.com".into(),
                    r#type: E::Work as i32,
                },
            ],
            name: Some(proto::ContactName {
                formatted_name: "John Smith".into(),
                first_name: "John".into(),
                last_name: "Smith".into(),
                suffix: "Jr".into(),
                ..Default::default()
            }),
            org: Some(proto::ContactOrg {
                company: "WhatsApp".into(),
                department: "Design".into(),
                title: "Manager".into(),
            }),
            phones: vec![
                proto::ContactPhone {
                    phone: "+1 (940) 555-1234".into(),
                    r#type: P::Home as i32,
                    wa_id: String::new(),
                },
                proto::ContactPhone {
                    phone: "+1 (650) 555-1234".into(),
                    r#type: P::Work as i32,
                    wa_id: "16505551234".into(),
                },
            ],
            urls: vec![proto::ContactUrl {
                url: "https://www.facebook.com".into(),
                r#type: proto::ContactUrlType::Work as i32,
            }],
        }],
    })
}

/// A JSON object as the `google.protobuf.Struct` a caller would send.
pub fn json_struct(value: serde_json::Value) -> prost_types::Struct {
    fn to_value(value: serde_json::Value) -> prost_types::Value {
        use prost_types::value::Kind;
        let kind = match value {
            serde_json::Value::Null => Kind::NullValue(0),
            serde_json::Value::Bool(b) => Kind::BoolValue(b),
            serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().expect("number")),
            serde_json::Value::String(s) => Kind::StringValue(s),
            serde_json::Value::Array(values) => Kind::ListValue(prost_types::ListValue {
                values: values.into_iter().map(to_value).collect(),
            }),
            serde_json::Value::Object(_) => Kind::StructValue(json_struct(value)),
        };
        prost_types::Value { kind: Some(kind) }
    }
    let serde_json::Value::Object(map) = value else {
        panic!("not an object")
    };
    prost_types::Struct {
        fields: map.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
    }
}
