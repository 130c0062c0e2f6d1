//! The gRPC request for every fixture of `tests/fixtures_cloud_docs/` (bodies built from the
//! current Cloud API docs, each citing its source), as a user would build it.

use whatsapp_grpc::Flavor;
use whatsapp_grpc::proto::{
    self, interactive::Kind, send_message_request::Content, template_button::SubType,
    template_component::Component, template_parameter::Parameter,
};

use super::cases::{Case, json_struct};
use super::*;

/// The folder of the fixtures built from the Cloud API's current docs.
pub const DIR: &str = "tests/fixtures_cloud_docs";

fn send(template: proto::Template) -> Case {
    Case::Send(Box::new(request(Content::Template(template))))
}

fn template(name: &str, components: Vec<proto::TemplateComponent>) -> proto::Template {
    proto::Template {
        name: name.into(),
        language: language("en_US"),
        components,
        ..Default::default()
    }
}

/// `content` sent to the group of Meta's Groups API examples.
pub fn to_group(content: Content) -> proto::SendMessageRequest {
    proto::SendMessageRequest {
        to: "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD".into(),
        recipient_type: proto::RecipientType::Group as i32,
        content: Some(content),
        ..Default::default()
    }
}

pub fn parameter(parameter: Parameter) -> proto::TemplateParameter {
    proto::TemplateParameter {
        parameter: Some(parameter),
        ..Default::default()
    }
}

pub fn named(name: &str, text: &str) -> proto::TemplateParameter {
    proto::TemplateParameter {
        parameter: Some(Parameter::Text(text.into())),
        parameter_name: name.into(),
    }
}

pub fn header(parameter: proto::TemplateParameter) -> proto::TemplateComponent {
    template_component(Component::Header(proto::TemplateHeader {
        parameters: vec![parameter],
    }))
}

pub fn image_id(id: &str) -> proto::TemplateParameter {
    parameter(Parameter::Image(proto::Image {
        source: Some(proto::image::Source::Id(id.into())),
        ..Default::default()
    }))
}

pub fn url_button(text: &str) -> SubType {
    SubType::Url(proto::TemplateUrlButton { text: text.into() })
}

pub fn section(title: &str, ids: &[&str]) -> proto::InteractiveProductSection {
    proto::InteractiveProductSection {
        title: title.into(),
        product_items: ids.iter().map(|id| product_item(id)).collect(),
    }
}

pub fn card(
    card_index: u32,
    media: &str,
    values: [&str; 2],
    payload: &str,
    url: &str,
) -> proto::TemplateCarouselCard {
    proto::TemplateCarouselCard {
        card_index,
        header: Some(proto::TemplateHeader {
            parameters: vec![image_id(media)],
        }),
        body: Some(proto::TemplateBody {
            parameters: values.iter().map(|v| template_text(v)).collect(),
        }),
        buttons: vec![
            proto::TemplateButton {
                index: 0,
                sub_type: Some(quick_reply(payload)),
            },
            proto::TemplateButton {
                index: 1,
                sub_type: Some(url_button(url)),
            },
        ],
    }
}

/// The three plants of the media carousel example: each one's name in its URLs and its card text.
const PLANTS: [(&str, &str); 3] = [
    (
        "blue-echeveria",
        "*Blue Echeveria*\n\nA rosette-shaped succulent with powdery blue leaves, perfect for brightening up any space.",
    ),
    (
        "zebra-haworthia",
        "*Zebra Haworthia*\n\nStriking white stripes on deep green leaves give this compact succulent a bold, modern look.",
    ),
    (
        "panda-plant",
        "*Panda Plant*\n\nSoft, fuzzy leaves with chocolate-brown edges\u{2014}adorable and easy to care for.",
    ),
];

/// A media carousel card: the plant's image, its text and its button or buttons.
fn carousel_card(
    card_index: u32,
    plant: &str,
    text: &str,
    action: proto::interactive_carousel_card::Action,
) -> proto::InteractiveCarouselCard {
    proto::InteractiveCarouselCard {
        card_index,
        header: Some(proto::interactive_carousel_card::Header::Image(
            proto::Image {
                source: Some(proto::image::Source::Link(format!(
                    "https://www.luckyshrub.com/assets/{plant}.jpeg"
                ))),
                ..Default::default()
            },
        )),
        body: body(text),
        action: Some(action),
    }
}

/// The media carousel example, each plant's card given its button or buttons by `action`.
fn media_carousel(action: impl Fn(&str) -> proto::interactive_carousel_card::Action) -> Case {
    Case::Send(Box::new(request(interactive(Kind::Carousel(
        proto::InteractiveCarousel {
            body: body("Of course! Here are three of our latest arrivals, each under $25:"),
            cards: (0..)
                .zip(PLANTS)
                .map(|(i, (plant, text))| carousel_card(i, plant, text, action(plant)))
                .collect(),
        },
    )))))
}

/// Every fixture's name, the flavor it is for, and its request.
pub fn doc_cases() -> Vec<(&'static str, Flavor, Case)> {
    let cloud = |name, case| (name, Flavor::Cloud, case);
    let catalog_body = || {
        template_body(vec![
            template_text("100"),
            template_text("400"),
            template_text("3"),
        ])
    };
    let voice_call_body = || body("You can call us on WhatsApp now for faster service!");
    vec![
        cloud(
            "audio_voice_note",
            Case::Send(Box::new(request(Content::Audio(proto::Audio {
                source: Some(proto::audio::Source::Id("1013859600285441".into())),
                voice: true,
                ..Default::default()
            })))),
        ),
        cloud(
            "group_text",
            Case::Send(Box::new(proto::SendMessageRequest {
                to: "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD".into(),
                recipient_type: proto::RecipientType::Group as i32,
                content: Some(Content::Text(proto::Text {
                    body:
                        "This is another destination option: https://www.luckytravel.com/DDLmU5F1Pw"
                            .into(),
                    preview_url: true,
                })),
                ..Default::default()
            })),
        ),
        cloud(
            "group_pin",
            Case::Send(Box::new(to_group(Content::Pin(proto::Pin {
                r#type: proto::PinType::Pin as i32,
                message_id: WAMID.into(),
                expiration_days: Some(7),
            })))),
        ),
        cloud(
            "group_unpin",
            Case::Send(Box::new(to_group(Content::Pin(proto::Pin {
                r#type: proto::PinType::Unpin as i32,
                message_id: WAMID.into(),
                expiration_days: None,
            })))),
        ),
        cloud(
            "marketing_messages_template",
            Case::Send(Box::new(proto::SendMessageRequest {
                marketing_messages: Some(proto::MarketingMessages {
                    message_activity_sharing: Some(true),
                }),
                ..request(Content::Template(template(
                    "summer_sale",
                    vec![template_body(vec![template_text("20%")])],
                )))
            })),
        ),
        cloud(
            "recipient_bsuid",
            Case::Send(Box::new(proto::SendMessageRequest {
                recipient: "US.13491208655302741918".into(),
                content: Some(text("Your order has shipped.")),
                ..Default::default()
            })),
        ),
        cloud(
            "recipient_bsuid_and_to",
            Case::Send(Box::new(proto::SendMessageRequest {
                to: "14085551234".into(),
                recipient: "US.13491208655302741918".into(),
                content: Some(interactive(Kind::VoiceCall(proto::InteractiveVoiceCall {
                    body: voice_call_body(),
                    display_text: "Call on WhatsApp".into(),
                    ttl_minutes: Some(100),
                    payload: "payload data".into(),
                }))),
                ..Default::default()
            })),
        ),
        cloud(
            "interactive_call_permission_request",
            Case::Send(Box::new(request(interactive(Kind::CallPermissionRequest(
                proto::InteractiveCallPermissionRequest {
                    body: body(
                        "We would like to call you to help support your query on Order No: ON-12853.",
                    ),
                },
            ))))),
        ),
        cloud(
            "interactive_flow_by_name",
            Case::Send(Box::new(request(interactive(Kind::Flow(
                proto::InteractiveFlow {
                    header: text_header("Flow message header"),
                    body: body("Flow message body"),
                    footer: footer("Flow message footer"),
                    flow_message_version: "3".into(),
                    flow_token: "AQAAAAACS5FpgQ_cAAAAAD0QI3s.".into(),
                    flow_name: "appointment_booking_v1".into(),
                    flow_cta: "Book!".into(),
                    flow_action: proto::InteractiveFlowAction::Navigate as i32,
                    flow_action_payload: Some(proto::InteractiveFlowActionPayload {
                        screen: "WELCOME_SCREEN".into(),
                        data: Some(json_struct(serde_json::json!({
                            "product_name": "name",
                            "product_description": "description",
                            "product_price": 100
                        }))),
                    }),
                    ..Default::default()
                },
            ))))),
        ),
        cloud(
            "interactive_media_carousel",
            media_carousel(|plant| {
                proto::interactive_carousel_card::Action::CtaUrl(
                    proto::InteractiveCarouselUrlButton {
                        display_text: "Buy now".into(),
                        url: format!("https://shop.luckyshrub.com/latest/{plant}"),
                    },
                )
            }),
        ),
        cloud(
            "interactive_media_carousel_quick_replies",
            media_carousel(|plant| {
                let reply = |id: String, title: &str| proto::InteractiveCarouselQuickReply {
                    id,
                    title: title.into(),
                };
                proto::interactive_carousel_card::Action::QuickReplies(
                    proto::InteractiveCarouselQuickReplies {
                        buttons: vec![
                            reply(format!("learn-{plant}"), "Learn more"),
                            reply(format!("fav-{plant}"), "Add to favorites"),
                        ],
                    },
                )
            }),
        ),
        cloud(
            "interactive_voice_call",
            Case::Send(Box::new(request(interactive(Kind::VoiceCall(
                proto::InteractiveVoiceCall {
                    body: voice_call_body(),
                    display_text: "Call on WhatsApp".into(),
                    ttl_minutes: Some(100),
                    payload: "payload data".into(),
                },
            ))))),
        ),
        cloud(
            "interactive_voice_call_defaults",
            Case::Send(Box::new(request(interactive(Kind::VoiceCall(
                proto::InteractiveVoiceCall {
                    body: voice_call_body(),
                    ..Default::default()
                },
            ))))),
        ),
        (
            "on_premises_template_date_time_components",
            Flavor::OnPremises,
            send(template(
                "appointment_reminder",
                vec![template_body(vec![parameter(Parameter::DateTime(
                    proto::TemplateDateTime {
                        fallback_value: "February 25, 1977".into(),
                        day_of_week: proto::TemplateDayOfWeek::Friday as i32,
                        year: Some(1977),
                        month: Some(2),
                        day_of_month: Some(25),
                        hour: Some(15),
                        minute: Some(33),
                        calendar: proto::TemplateCalendar::Gregorian as i32,
                    },
                ))])],
            )),
        ),
        cloud(
            "template_authentication_copy_code",
            send(template(
                "verification_code",
                vec![
                    template_body(vec![template_text("J$FpnYnP")]),
                    template_button(0, url_button("J$FpnYnP")),
                ],
            )),
        ),
        cloud(
            "template_carousel",
            send(template(
                "summer_carousel_promo_2023",
                vec![
                    template_body(vec![template_text("20OFF"), template_text("20%")]),
                    template_component(Component::Carousel(proto::TemplateCarousel {
                        cards: vec![
                            card(
                                0,
                                "24230790383178626",
                                ["10OFF", "10%"],
                                "59NqSd",
                                "last_chance_2023",
                            ),
                            card(
                                1,
                                "1633234387441092",
                                ["15OFF", "15%"],
                                "7C4xhY",
                                "reminder_2023",
                            ),
                        ],
                    })),
                ],
            )),
        ),
        cloud(
            "template_catalog_button",
            send(template(
                "intro_catalog_offer",
                vec![
                    catalog_body(),
                    template_button(
                        0,
                        SubType::Catalog(proto::TemplateCatalogButton {
                            thumbnail_product_retailer_id: "2lc20305pt".into(),
                        }),
                    ),
                ],
            )),
        ),
        cloud(
            "template_catalog_button_no_thumbnail",
            send(template(
                "intro_catalog_offer",
                vec![
                    catalog_body(),
                    template_button(0, SubType::Catalog(proto::TemplateCatalogButton::default())),
                ],
            )),
        ),
        cloud(
            "template_flow_button",
            send(template(
                "flow_signup",
                vec![template_button(
                    0,
                    SubType::Flow(proto::TemplateFlowButton {
                        flow_token: "FLOW_TOKEN".into(),
                        flow_action_data: Some(json_struct(serde_json::json!({
                            "product_name": "name",
                            "product_description": "description",
                            "product_price": 100
                        }))),
                    }),
                )],
            )),
        ),
        cloud(
            "template_limited_time_offer",
            send(template(
                "limited_time_offer_caribbean_pkg_2023",
                vec![
                    header(image_id("1602186516975000")),
                    template_body(vec![template_text("Pablo"), template_text("CARIBE25")]),
                    template_component(Component::LimitedTimeOffer(
                        proto::TemplateLimitedTimeOffer {
                            expiration_time_ms: 1_209_600_000,
                        },
                    )),
                    template_button(
                        0,
                        SubType::CopyCode(proto::TemplateCopyCodeButton {
                            coupon_code: "CARIBE25".into(),
                        }),
                    ),
                    template_button(1, url_button("n3mtql")),
                ],
            )),
        ),
        cloud(
            "template_location_header",
            send(template(
                "order_delivery_update",
                vec![
                    header(parameter(Parameter::Location(proto::Location {
                        latitude: 37.483307,
                        longitude: -122.148981,
                        name: "Pablo Morales".into(),
                        address: "1 Hacker Way, Menlo Park, CA 94025".into(),
                    }))),
                    template_body(vec![template_text("Pablo"), template_text("566701")]),
                ],
            )),
        ),
        cloud(
            "template_mpm_button",
            send(template(
                "abandoned_cart",
                vec![
                    header(template_text("Pablo")),
                    template_body(vec![template_text("10OFF")]),
                    template_button(
                        0,
                        SubType::Mpm(proto::TemplateMultiProductButton {
                            thumbnail_product_retailer_id: "2lc20305pt".into(),
                            sections: vec![
                                section("Popular Bundles", &["2lc20305pt", "nseiw1x5ii"]),
                                section("Premium Packages", &["n6k6x0y7oe"]),
                            ],
                        }),
                    ),
                ],
            )),
        ),
        cloud(
            "template_named_parameters",
            send(template(
                "order_confirmation",
                vec![
                    header(named("order_id", "SKBUP2-4CPIG9")),
                    template_body(vec![
                        named("customer_name", "Jessica"),
                        named("order_number", "SKBUP2-4CPIG9"),
                    ]),
                ],
            )),
        ),
        cloud(
            "template_tap_target_configuration",
            send(proto::Template {
                language: language("en"),
                ..template(
                    "august_promotion",
                    vec![
                        header(parameter(Parameter::Image(proto::Image {
                            source: Some(proto::image::Source::Link(
                                "https://www.luckyshrubs.com".into(),
                            )),
                            ..Default::default()
                        }))),
                        template_body(vec![template_text("Hello Andy...")]),
                        template_component(Component::TapTargetConfiguration(
                            proto::TemplateTapTargetConfiguration {
                                url: "https://www.luckyshrubs.com/".into(),
                                title: "Offer Details".into(),
                            },
                        )),
                    ],
                )
            }),
        ),
        cloud(
            "template_product_header",
            send(template(
                "spm_template_named_params",
                vec![
                    header(parameter(Parameter::Product(proto::TemplateProduct {
                        product_retailer_id: "nqryix03ez".into(),
                        catalog_id: "194836987003835".into(),
                    }))),
                    template_body(vec![named("code", "25OFF"), named("percent", "25%")]),
                ],
            )),
        ),
    ]
}
