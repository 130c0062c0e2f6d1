//! The largest request that passes validation, for each kind of content and each flavor: every text
//! at its limit in 4-byte characters (limits count characters, so these are the most bytes a valid
//! field can take), every repeated field at its maximum, every optional part set. Each must encode
//! below `validate::limits::MAX_REQUEST_BYTES`, the decoding limit the server can apply without ever
//! refusing a valid request.

mod common;

use common::*;
use prost::Message as _;
use whatsapp_grpc::proto::{
    self, interactive::Kind, interactive_media_header::Kind as HeaderKind,
    send_message_request::Content, template_button::SubType, template_component::Component,
    template_parameter::Parameter,
};
use whatsapp_grpc::validate::limits::{self, MAX_REQUEST_BYTES};
use whatsapp_grpc::{Flavor, translate};

/// `n` characters of 4 bytes each (not emoji, not whitespace).
fn s(n: usize) -> String {
    "𝒜".repeat(n)
}

/// `n` characters of 4 bytes each, different for each `i` (for values that must be unique).
fn unique(i: usize, n: usize) -> String {
    let first = char::from_u32(0x1D400 + i as u32).expect("a letter");
    std::iter::once(first)
        .chain("𝒜".chars().cycle().take(n - 1))
        .collect()
}

/// An `https://` URL of `URL_MAX` characters.
fn url() -> String {
    format!("https://{}", s(limits::URL_MAX - 8))
}

fn provider(flavor: Flavor) -> Option<proto::MediaProvider> {
    (flavor == Flavor::OnPremises).then(|| proto::MediaProvider {
        name: s(limits::OTHER_TEXT_MAX),
    })
}

/// The largest document: a link, a caption where the place and flavor allow it, a filename, and a
/// provider on On-Premises.
fn document(flavor: Flavor, caption: bool) -> proto::Document {
    proto::Document {
        source: Some(proto::document::Source::Link(url())),
        caption: if caption && flavor == Flavor::Cloud {
            s(limits::CAPTION_MAX)
        } else {
            String::new()
        },
        filename: s(limits::OTHER_TEXT_MAX),
        provider: provider(flavor),
    }
}

fn media_header(flavor: Flavor) -> Option<proto::InteractiveMediaHeader> {
    Some(proto::InteractiveMediaHeader {
        kind: Some(HeaderKind::Document(document(flavor, false))),
    })
}

fn body() -> Option<proto::InteractiveBody> {
    Some(proto::InteractiveBody {
        text: s(limits::INTERACTIVE_BODY_TEXT_MAX),
    })
}

fn footer() -> Option<proto::InteractiveFooter> {
    Some(proto::InteractiveFooter {
        text: s(limits::INTERACTIVE_FOOTER_TEXT_MAX),
    })
}

fn text_header() -> Option<proto::InteractiveTextHeader> {
    Some(proto::InteractiveTextHeader {
        text: s(limits::INTERACTIVE_HEADER_TEXT_MAX),
    })
}

fn contact() -> proto::Contact {
    let n = limits::CONTACT_ITEMS_MAX;
    let text = || s(limits::OTHER_TEXT_MAX);
    proto::Contact {
        addresses: vec![
            proto::ContactAddress {
                street: text(),
                city: text(),
                state: text(),
                zip: text(),
                country: text(),
                country_code: text(),
                r#type: proto::ContactAddressType::Home as i32,
            };
            n
        ],
        birthday: "2012-08-18".into(),
        emails: vec![
            proto::ContactEmail {
                email: text(),
                r#type: proto::ContactEmailType::Work as i32,
            };
            n
        ],
        name: Some(proto::ContactName {
            formatted_name: text(),
            first_name: text(),
            last_name: text(),
            middle_name: text(),
            suffix: text(),
            prefix: text(),
        }),
        org: Some(proto::ContactOrg {
            company: text(),
            department: text(),
            title: text(),
        }),
        phones: vec![
            proto::ContactPhone {
                phone: text(),
                r#type: proto::ContactPhoneType::Iphone as i32,
                wa_id: text(),
            };
            n
        ],
        urls: vec![
            proto::ContactUrl {
                url: url(),
                r#type: proto::ContactUrlType::Work as i32,
            };
            n
        ],
    }
}

fn currency() -> proto::TemplateParameter {
    proto::TemplateParameter {
        parameter: Some(Parameter::Currency(proto::TemplateCurrency {
            fallback_value: s(limits::OTHER_TEXT_MAX),
            code: "USD".into(),
            amount_1000: i64::MIN,
        })),
        ..Default::default()
    }
}

fn text_parameter(n: usize) -> proto::TemplateParameter {
    proto::TemplateParameter {
        parameter: Some(Parameter::Text(s(n))),
        ..Default::default()
    }
}

/// The body's parameters: text up to the limit of all together, the rest currencies (the largest
/// parameter of no text).
fn body_parameters(text_max: usize) -> Vec<proto::TemplateParameter> {
    let texts = limits::TEMPLATE_BODY_TEXT_IN_ALL_MAX / text_max;
    let mut parameters = vec![text_parameter(text_max); texts];
    parameters.resize_with(limits::TEMPLATE_BODY_PARAMETERS_MAX, currency);
    parameters
}

fn template(flavor: Flavor, body_only: bool) -> proto::Template {
    let component = |component| proto::TemplateComponent {
        component: Some(component),
    };
    let mut components = Vec::new();
    if body_only {
        components.push(component(Component::Body(proto::TemplateBody {
            parameters: body_parameters(limits::TEMPLATE_BODY_ONLY_TEXT_PARAMETER_MAX),
        })));
    } else {
        components.push(component(Component::Header(proto::TemplateHeader {
            parameters: vec![proto::TemplateParameter {
                parameter: Some(Parameter::Document(document(flavor, false))),
                ..Default::default()
            }],
        })));
        components.push(component(Component::Body(proto::TemplateBody {
            parameters: body_parameters(limits::TEMPLATE_BODY_TEXT_PARAMETER_MAX),
        })));
        for index in 0..=limits::TEMPLATE_BUTTON_INDEX_MAX {
            components.push(component(Component::Button(proto::TemplateButton {
                index,
                sub_type: Some(SubType::Url(proto::TemplateUrlButton {
                    text: s(limits::OPAQUE_TEXT_MAX),
                })),
            })));
        }
    }
    proto::Template {
        namespace: if flavor == Flavor::OnPremises {
            s(limits::OTHER_TEXT_MAX)
        } else {
            String::new()
        },
        name: s(limits::OTHER_TEXT_MAX),
        language: language("en_US"),
        components,
    }
}

/// The largest template of the shapes only the Cloud API takes: the largest header and body with
/// every variable named at the name's limit, a limited-time offer, ten carousel cards at their limits,
/// and ten buttons: one Flow button with all the data the template's Flow buttons may hold together,
/// then multi-product buttons with 30 products each.
fn cloud_template() -> proto::Template {
    let component = |component| proto::TemplateComponent {
        component: Some(component),
    };
    let name = |i: usize| {
        format!(
            "v{}",
            "a".repeat(limits::TEMPLATE_PARAMETER_NAME_MAX - 4 - 1)
        ) + &format!("{i:03}")
    };
    let named = |mut parameters: Vec<proto::TemplateParameter>| {
        for (i, parameter) in parameters.iter_mut().enumerate() {
            parameter.parameter_name = name(i);
        }
        parameters
    };
    let image = || proto::TemplateParameter {
        parameter: Some(Parameter::Image(proto::Image {
            source: Some(proto::image::Source::Link(url())),
            ..Default::default()
        })),
        ..Default::default()
    };
    // A card body: all its text in one value, the rest currencies.
    let mut card_body = vec![text_parameter(limits::TEMPLATE_CARD_BODY_TEXT_MAX)];
    card_body.resize_with(limits::TEMPLATE_CARD_BODY_PARAMETERS_MAX, currency);
    let card_body = named(card_body);
    let cards = (0..limits::TEMPLATE_CARDS_MAX as u32)
        .map(|card_index| proto::TemplateCarouselCard {
            card_index,
            header: Some(proto::TemplateHeader {
                parameters: vec![image()],
            }),
            body: Some(proto::TemplateBody {
                parameters: card_body.clone(),
            }),
            buttons: (0..limits::TEMPLATE_CARD_BUTTONS_MAX as u32)
                .map(|index| proto::TemplateButton {
                    index,
                    sub_type: Some(SubType::Url(proto::TemplateUrlButton {
                        text: s(limits::OPAQUE_TEXT_MAX),
                    })),
                })
                .collect(),
        })
        .collect();
    let mut components = vec![
        component(Component::Header(proto::TemplateHeader {
            parameters: vec![proto::TemplateParameter {
                parameter: Some(Parameter::Document(document(Flavor::Cloud, false))),
                ..Default::default()
            }],
        })),
        component(Component::Body(proto::TemplateBody {
            parameters: named(body_parameters(limits::TEMPLATE_BODY_TEXT_PARAMETER_MAX)),
        })),
        component(Component::LimitedTimeOffer(
            proto::TemplateLimitedTimeOffer {
                expiration_time_ms: limits::TEMPLATE_EXPIRATION_TIME_MS_MAX,
            },
        )),
        component(Component::Carousel(proto::TemplateCarousel { cards })),
        component(Component::TapTargetConfiguration(
            proto::TemplateTapTargetConfiguration {
                url: url(),
                title: s(limits::TAP_TARGET_TITLE_MAX),
            },
        )),
        component(Component::Button(proto::TemplateButton {
            index: 0,
            sub_type: Some(SubType::Flow(proto::TemplateFlowButton {
                flow_token: s(limits::OPAQUE_TEXT_MAX),
                flow_action_data: Some(flow_data()),
            })),
        })),
    ];
    for index in 1..=limits::TEMPLATE_BUTTON_INDEX_MAX {
        components.push(component(Component::Button(proto::TemplateButton {
            index,
            sub_type: Some(SubType::Mpm(proto::TemplateMultiProductButton {
                thumbnail_product_retailer_id: s(limits::PRODUCT_RETAILER_ID_MAX),
                // 30 products in 10 sections: 3 each.
                sections: (0..limits::SECTIONS_MAX)
                    .map(|_| proto::InteractiveProductSection {
                        title: s(limits::SECTION_TITLE_MAX),
                        product_items: vec![
                            proto::InteractiveProductItem {
                                product_retailer_id: s(limits::PRODUCT_RETAILER_ID_MAX),
                            };
                            limits::PRODUCTS_MAX / limits::SECTIONS_MAX
                        ],
                    })
                    .collect(),
            })),
        })));
    }
    proto::Template {
        namespace: String::new(),
        name: s(limits::OTHER_TEXT_MAX),
        language: language("en_US"),
        components,
    }
}

/// Flow data of at most `FLOW_DATA_MAX_BYTES` encoded.
fn flow_data() -> prost_types::Struct {
    let mut data = prost_types::Struct::default();
    data.fields.insert(
        "k".into(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(s(
                (limits::FLOW_DATA_MAX_BYTES - 16) / 4,
            ))),
        },
    );
    assert!(data.encoded_len() <= limits::FLOW_DATA_MAX_BYTES);
    data
}

fn interactive(kind: Kind) -> Content {
    Content::Interactive(proto::Interactive { kind: Some(kind) })
}

/// The largest content of each kind the flavor takes.
fn contents(flavor: Flavor) -> Vec<(&'static str, Content)> {
    let link = url;
    let caption = || s(limits::CAPTION_MAX);
    let mut contents = vec![
        (
            "text",
            Content::Text(proto::Text {
                body: s(limits::TEXT_BODY_MAX),
                preview_url: true,
            }),
        ),
        (
            "image",
            Content::Image(proto::Image {
                source: Some(proto::image::Source::Link(link())),
                caption: caption(),
                provider: provider(flavor),
            }),
        ),
        (
            "audio",
            Content::Audio(proto::Audio {
                source: Some(proto::audio::Source::Link(link())),
                provider: provider(flavor),
                ..Default::default()
            }),
        ),
        ("document", Content::Document(document(flavor, true))),
        (
            "video",
            Content::Video(proto::Video {
                source: Some(proto::video::Source::Link(link())),
                caption: caption(),
                provider: provider(flavor),
            }),
        ),
        (
            "sticker",
            Content::Sticker(proto::Sticker {
                source: Some(proto::sticker::Source::Link(link())),
                provider: provider(flavor),
            }),
        ),
        (
            "contacts",
            Content::Contacts(proto::Contacts {
                contacts: vec![contact(); limits::CONTACTS_MAX],
            }),
        ),
        (
            "location",
            Content::Location(proto::Location {
                latitude: -89.999_999_999,
                longitude: 179.999_999_999,
                name: s(limits::OTHER_TEXT_MAX),
                address: s(limits::OTHER_TEXT_MAX),
            }),
        ),
        ("template", Content::Template(template(flavor, false))),
        (
            "template (body only)",
            Content::Template(template(flavor, true)),
        ),
        (
            "interactive list",
            interactive(Kind::List(proto::InteractiveList {
                header: text_header(),
                body: body(),
                footer: footer(),
                button: s(limits::LIST_BUTTON_MAX),
                sections: (0..limits::SECTIONS_MAX)
                    .map(|i| proto::InteractiveListSection {
                        title: s(limits::SECTION_TITLE_MAX),
                        rows: vec![proto::InteractiveListRow {
                            id: unique(i, limits::ROW_ID_MAX),
                            title: s(limits::ROW_TITLE_MAX),
                            description: s(limits::ROW_DESCRIPTION_MAX),
                        }],
                    })
                    .collect(),
            })),
        ),
        (
            "interactive button",
            interactive(Kind::Button(proto::InteractiveButton {
                header: media_header(flavor),
                body: body(),
                footer: footer(),
                buttons: (0..limits::REPLY_BUTTONS_MAX)
                    .map(|i| proto::InteractiveReplyButton {
                        button: Some(proto::interactive_reply_button::Button::Reply(
                            proto::InteractiveReply {
                                id: unique(i, limits::REPLY_ID_MAX),
                                title: unique(i, limits::REPLY_TITLE_MAX),
                            },
                        )),
                    })
                    .collect(),
            })),
        ),
        (
            "interactive product",
            interactive(Kind::Product(proto::InteractiveProduct {
                body: body(),
                footer: footer(),
                catalog_id: s(limits::OTHER_TEXT_MAX),
                product_retailer_id: s(limits::PRODUCT_RETAILER_ID_MAX),
            })),
        ),
        (
            "interactive product_list",
            interactive(Kind::ProductList(proto::InteractiveProductList {
                header: text_header(),
                body: body(),
                footer: footer(),
                catalog_id: s(limits::OTHER_TEXT_MAX),
                sections: (0..limits::SECTIONS_MAX)
                    .map(|_| proto::InteractiveProductSection {
                        title: s(limits::SECTION_TITLE_MAX),
                        product_items: vec![
                            proto::InteractiveProductItem {
                                product_retailer_id: s(limits::PRODUCT_RETAILER_ID_MAX),
                            };
                            limits::PRODUCTS_MAX / limits::SECTIONS_MAX
                        ],
                    })
                    .collect(),
            })),
        ),
        (
            "interactive catalog_message",
            interactive(Kind::CatalogMessage(proto::InteractiveCatalogMessage {
                body: body(),
                footer: footer(),
                thumbnail_product_retailer_id: s(limits::PRODUCT_RETAILER_ID_MAX),
            })),
        ),
        (
            "interactive flow",
            interactive(Kind::Flow(proto::InteractiveFlow {
                header: text_header(),
                body: body(),
                footer: footer(),
                mode: proto::InteractiveFlowMode::Published as i32,
                flow_message_version: limits::FLOW_MESSAGE_VERSION.into(),
                flow_token: s(limits::OPAQUE_TEXT_MAX),
                flow_id: s(limits::OTHER_TEXT_MAX),
                flow_cta: s(limits::FLOW_CTA_MAX),
                flow_action: proto::InteractiveFlowAction::Navigate as i32,
                flow_action_payload: Some(proto::InteractiveFlowActionPayload {
                    screen: s(limits::OTHER_TEXT_MAX),
                    data: Some(flow_data()),
                }),
                ..Default::default()
            })),
        ),
    ];
    if flavor == Flavor::Cloud {
        contents.push((
            "template (Cloud shapes)",
            Content::Template(cloud_template()),
        ));
        // Every card at its limits, each with the action `action` makes for its index.
        let carousel = |action: &dyn Fn(u32) -> proto::interactive_carousel_card::Action| {
            interactive(Kind::Carousel(proto::InteractiveCarousel {
                body: body(),
                cards: (0..limits::CAROUSEL_CARDS_MAX as u32)
                    .map(|card_index| proto::InteractiveCarouselCard {
                        card_index,
                        header: Some(proto::interactive_carousel_card::Header::Image(
                            proto::Image {
                                source: Some(proto::image::Source::Link(url())),
                                ..Default::default()
                            },
                        )),
                        body: Some(proto::InteractiveBody {
                            text: s(limits::CAROUSEL_CARD_BODY_MAX),
                        }),
                        action: Some(action(card_index)),
                    })
                    .collect(),
            }))
        };
        contents.push((
            "interactive carousel",
            carousel(&|_| {
                proto::interactive_carousel_card::Action::CtaUrl(
                    proto::InteractiveCarouselUrlButton {
                        display_text: s(limits::CTA_URL_DISPLAY_TEXT_MAX),
                        url: url(),
                    },
                )
            }),
        ));
        contents.push((
            "interactive carousel (quick replies)",
            carousel(&|card_index| {
                proto::interactive_carousel_card::Action::QuickReplies(
                    proto::InteractiveCarouselQuickReplies {
                        buttons: (0..limits::CAROUSEL_QUICK_REPLIES_MAX)
                            .map(|j| {
                                let i = card_index as usize * 3 + j;
                                proto::InteractiveCarouselQuickReply {
                                    id: unique(i, limits::CAROUSEL_QUICK_REPLY_ID_MAX),
                                    title: unique(j, limits::CAROUSEL_QUICK_REPLY_TITLE_MAX),
                                }
                            })
                            .collect(),
                    },
                )
            }),
        ));
        contents.push((
            "interactive voice_call",
            interactive(Kind::VoiceCall(proto::InteractiveVoiceCall {
                body: body(),
                display_text: s(limits::VOICE_CALL_DISPLAY_TEXT_MAX),
                ttl_minutes: Some(limits::VOICE_CALL_TTL_MINUTES_MAX),
                payload: s(limits::VOICE_CALL_PAYLOAD_MAX),
            })),
        ));
        contents.push((
            "audio (voice note)",
            Content::Audio(proto::Audio {
                source: Some(proto::audio::Source::Link(url())),
                provider: None,
                voice: true,
            }),
        ));
        contents.extend([
            (
                "interactive cta_url",
                interactive(Kind::CtaUrl(proto::InteractiveCtaUrl {
                    header: media_header(flavor),
                    body: body(),
                    footer: footer(),
                    display_text: s(limits::CTA_URL_DISPLAY_TEXT_MAX),
                    url: url(),
                })),
            ),
            (
                "interactive location_request_message",
                interactive(Kind::LocationRequestMessage(
                    proto::InteractiveLocationRequestMessage { body: body() },
                )),
            ),
            (
                "reaction",
                Content::Reaction(proto::Reaction {
                    message_id: s(limits::OTHER_TEXT_MAX),
                    emoji: s(limits::OTHER_TEXT_MAX),
                }),
            ),
        ]);
    }
    contents
}

/// The largest request around `content`: every top-level field the flavor takes, at its limit.
fn largest(flavor: Flavor, content: Content) -> proto::SendMessageRequest {
    let cloud = flavor == Flavor::Cloud;
    proto::SendMessageRequest {
        to: s(limits::OTHER_TEXT_MAX),
        recipient_type: proto::RecipientType::Individual as i32,
        content: Some(content),
        context: cloud.then(|| proto::Context {
            message_id: s(limits::OTHER_TEXT_MAX),
        }),
        biz_opaque_callback_data: if cloud {
            s(limits::BIZ_OPAQUE_CALLBACK_DATA_MAX)
        } else {
            String::new()
        },
        request_id: "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c".into(),
        sender: "x".repeat(whatsapp_grpc::senders::config::NAME_MAX),
        ..Default::default()
    }
}

#[test]
fn the_largest_valid_request_of_each_kind_encodes_below_the_limit() {
    let mut sizes = Vec::new();
    for flavor in [Flavor::Cloud, Flavor::OnPremises] {
        for (name, content) in contents(flavor) {
            let request = largest(flavor, content);
            if let Err(invalid) = translate::send_message(flavor, &request) {
                panic!("{flavor}: the largest {name} is refused: {invalid}");
            }
            sizes.push((request.encoded_len(), flavor, name));
            // Nor does it hold more fields than the server decodes.
            assert_eq!(
                whatsapp_grpc::codec::check_fields(
                    "whatsapp.v1.SendMessageRequest",
                    &request.encode_to_vec()
                ),
                Ok(()),
                "{flavor} {name}"
            );
        }
    }
    // Each limit is at its edge: one more element or character anywhere is refused (the boundary
    // tests in tests/limits.rs check each one).
    sizes.sort_by_key(|&(size, _, _)| std::cmp::Reverse(size));
    eprintln!("the largest valid request of each kind, encoded (bytes):");
    for (size, flavor, name) in &sizes {
        eprintln!("  {size:>9}  {flavor}  {name}");
    }
    for (size, flavor, name) in &sizes {
        assert!(
            *size < MAX_REQUEST_BYTES,
            "{flavor} {name}: {size} bytes, not below {MAX_REQUEST_BYTES}"
        );
    }
}

#[test]
fn the_largest_read_receipt_encodes_below_the_limit() {
    let request = proto::MarkMessageReadRequest {
        message_id: s(limits::MESSAGE_ID_MAX),
        typing_indicator: Some(proto::TypingIndicator { r#type: 1 }),
        sender: String::new(),
    };
    translate::mark_message_read(Flavor::Cloud, &request).expect("valid");
    assert!(request.encoded_len() < MAX_REQUEST_BYTES);
}

/// Flow data as dense in fields as 64 KiB allows: a list of nulls, two fields every four bytes.
fn densest_flow_data() -> prost_types::Struct {
    use prost_types::value::Kind as ValueKind;
    let null = prost_types::Value {
        kind: Some(ValueKind::NullValue(0)),
    };
    let mut count = limits::FLOW_DATA_MAX_BYTES / 4;
    loop {
        let mut data = prost_types::Struct::default();
        data.fields.insert(
            "k".into(),
            prost_types::Value {
                kind: Some(ValueKind::ListValue(prost_types::ListValue {
                    values: vec![null.clone(); count],
                })),
            },
        );
        if data.encoded_len() <= limits::FLOW_DATA_MAX_BYTES {
            return data;
        }
        count -= 16;
    }
}

#[test]
fn the_valid_request_with_the_most_fields_is_decoded() {
    for flavor in [Flavor::Cloud, Flavor::OnPremises] {
        let Some((_, Content::Interactive(mut flow))) = contents(flavor)
            .into_iter()
            .find(|(name, _)| *name == "interactive flow")
        else {
            panic!("a Flow case");
        };
        if let Some(Kind::Flow(flow)) = &mut flow.kind
            && let Some(payload) = &mut flow.flow_action_payload
        {
            payload.data = Some(densest_flow_data());
        }
        let request = largest(flavor, Content::Interactive(flow));
        let bytes = request.encode_to_vec();
        assert!(bytes.len() < MAX_REQUEST_BYTES);
        translate::send_message(flavor, &request).expect("valid");
        assert_eq!(
            whatsapp_grpc::codec::check_fields("whatsapp.v1.SendMessageRequest", &bytes),
            Ok(()),
            "{flavor}"
        );
    }
}
