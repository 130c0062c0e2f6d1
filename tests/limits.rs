//! Boundary tests for every limit the service enforces: the largest valid value passes, and the
//! smallest invalid value fails with exactly the expected violation (field path and rule).
//!
//! Limits are written as literal numbers on purpose: a wrong constant in `validate::limits` must
//! make a test here fail. Lengths count Unicode scalar values, so several cases use multi-byte
//! characters whose byte length exceeds the limit while their character count does not.

mod common;

use common::*;
use whatsapp_grpc::proto::{
    self, interactive::Kind, interactive_media_header::Kind as HeaderKind,
    send_message_request::Content, template_button::SubType, template_component::Component,
    template_parameter::Parameter,
};
use whatsapp_grpc::validate::{FieldViolation, InvalidRequest, Rule};
use whatsapp_grpc::{Flavor, translate};

const BOTH: [Flavor; 2] = [Flavor::Cloud, Flavor::OnPremises];
const UUID: &str = "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c";

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

fn fv(field: &str, rule: Rule) -> FieldViolation {
    FieldViolation {
        field: field.into(),
        rule,
    }
}

fn check(flavor: Flavor, request: &proto::SendMessageRequest) -> Result<(), Vec<FieldViolation>> {
    translate::send_message(flavor, request)
        .map(|_| ())
        .map_err(|invalid| invalid.violations)
}

#[track_caller]
fn assert_ok(flavor: Flavor, request: &proto::SendMessageRequest) {
    if let Err(violations) = check(flavor, request) {
        panic!("{flavor:?}: expected the request to pass, got {violations:#?}");
    }
}

#[track_caller]
fn assert_ok_both(request: &proto::SendMessageRequest) {
    for flavor in BOTH {
        assert_ok(flavor, request);
    }
}

/// The request fails with exactly `expected`, in this order.
#[track_caller]
fn assert_violations(
    flavor: Flavor,
    request: &proto::SendMessageRequest,
    expected: Vec<FieldViolation>,
) {
    assert_eq!(check(flavor, request), Err(expected), "{flavor:?}");
}

/// The request fails with exactly one violation: `rule` at `field`.
#[track_caller]
fn assert_violation(flavor: Flavor, request: &proto::SendMessageRequest, field: &str, rule: Rule) {
    assert_violations(flavor, request, vec![fv(field, rule)]);
}

#[track_caller]
fn assert_violation_both(request: &proto::SendMessageRequest, field: &str, rule: Rule) {
    for flavor in BOTH {
        assert_violation(flavor, request, field, rule.clone());
    }
}

/// The request fails with exactly one violation: a [`Rule::Format`] at `field`.
#[track_caller]
fn assert_format(flavor: Flavor, request: &proto::SendMessageRequest, field: &str) {
    let violations = check(flavor, request).expect_err("expected a format violation");
    assert_eq!(violations.len(), 1, "{flavor:?}: {violations:#?}");
    assert_eq!(violations[0].field, field, "{flavor:?}: {violations:#?}");
    assert!(
        matches!(violations[0].rule, Rule::Format(_)),
        "{flavor:?}: {violations:#?}"
    );
}

fn too_long(max: usize, actual: usize) -> Rule {
    Rule::TooLong { max, actual }
}

fn too_few(min: usize, actual: usize) -> Rule {
    Rule::TooFew { min, actual }
}

fn too_many(max: usize, actual: usize) -> Rule {
    Rule::TooMany { max, actual }
}

fn out_of_range(min: &str, max: &str) -> Rule {
    Rule::OutOfRange {
        min: min.into(),
        max: max.into(),
    }
}

fn duplicate(first: &str) -> Rule {
    Rule::Duplicate {
        first: first.into(),
    }
}

/// `s` repeated `n` times.
fn rep(s: &str, n: usize) -> String {
    s.repeat(n)
}

// ---------------------------------------------------------------------------------------------
// Builders: a valid message of each kind, edited by a closure
// ---------------------------------------------------------------------------------------------

fn image(source: proto::image::Source) -> proto::Image {
    proto::Image {
        source: Some(source),
        caption: String::new(),
        provider: None,
    }
}

fn image_link() -> proto::Image {
    image(proto::image::Source::Link(
        "https://example.com/cat.jpg".into(),
    ))
}

fn image_id() -> proto::Image {
    image(proto::image::Source::Id("media-id".into()))
}

fn video_link() -> proto::Video {
    proto::Video {
        source: Some(proto::video::Source::Link(
            "https://example.com/clip.mp4".into(),
        )),
        ..Default::default()
    }
}

fn document_link() -> proto::Document {
    proto::Document {
        source: Some(proto::document::Source::Link(
            "https://example.com/invoice.pdf".into(),
        )),
        ..Default::default()
    }
}

fn section(title: &str, rows: Vec<proto::InteractiveListRow>) -> proto::InteractiveListSection {
    proto::InteractiveListSection {
        title: title.into(),
        rows,
    }
}

/// `n` rows with ids `{prefix}-0`, `{prefix}-1`, ...
fn rows(prefix: &str, n: usize) -> Vec<proto::InteractiveListRow> {
    (0..n)
        .map(|i| row(&format!("{prefix}-{i}"), &format!("Row {i}"), ""))
        .collect()
}

fn list_request(edit: impl FnOnce(&mut proto::InteractiveList)) -> proto::SendMessageRequest {
    let mut list = proto::InteractiveList {
        header: None,
        body: body("Choose a slot"),
        footer: None,
        button: "Slots".into(),
        sections: vec![section("", rows("r", 1))],
    };
    edit(&mut list);
    request(interactive(Kind::List(list)))
}

fn button_request(edit: impl FnOnce(&mut proto::InteractiveButton)) -> proto::SendMessageRequest {
    let mut button = proto::InteractiveButton {
        header: None,
        body: body("Pick one"),
        footer: None,
        buttons: vec![reply("a", "A")],
    };
    edit(&mut button);
    request(interactive(Kind::Button(button)))
}

fn product_request(edit: impl FnOnce(&mut proto::InteractiveProduct)) -> proto::SendMessageRequest {
    let mut product = proto::InteractiveProduct {
        body: None,
        footer: None,
        catalog_id: "catalog-1".into(),
        product_retailer_id: "sku-1".into(),
    };
    edit(&mut product);
    request(interactive(Kind::Product(product)))
}

fn product_section(title: &str, ids: &[String]) -> proto::InteractiveProductSection {
    proto::InteractiveProductSection {
        title: title.into(),
        product_items: ids.iter().map(|id| product_item(id)).collect(),
    }
}

/// `n` product ids `{prefix}-0`, `{prefix}-1`, ...
fn skus(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn product_list_request(
    edit: impl FnOnce(&mut proto::InteractiveProductList),
) -> proto::SendMessageRequest {
    let mut list = proto::InteractiveProductList {
        header: text_header("Our picks"),
        body: body("Have a look"),
        footer: None,
        catalog_id: "catalog-1".into(),
        sections: vec![product_section("", &skus("sku", 1))],
    };
    edit(&mut list);
    request(interactive(Kind::ProductList(list)))
}

fn catalog_request(
    edit: impl FnOnce(&mut proto::InteractiveCatalogMessage),
) -> proto::SendMessageRequest {
    let mut catalog = proto::InteractiveCatalogMessage {
        body: body("Browse our catalog"),
        footer: None,
        thumbnail_product_retailer_id: String::new(),
    };
    edit(&mut catalog);
    request(interactive(Kind::CatalogMessage(catalog)))
}

fn flow_request(edit: impl FnOnce(&mut proto::InteractiveFlow)) -> proto::SendMessageRequest {
    let mut flow = proto::InteractiveFlow {
        header: None,
        body: body("Book a table"),
        footer: None,
        mode: proto::InteractiveFlowMode::Unspecified as i32,
        flow_message_version: String::new(),
        flow_token: "flow-token".into(),
        flow_id: "1234567890".into(),
        flow_cta: "Book".into(),
        flow_action: proto::InteractiveFlowAction::Unspecified as i32,
        flow_action_payload: Some(proto::InteractiveFlowActionPayload {
            screen: "WELCOME".into(),
            data: None,
        }),
        ..Default::default()
    };
    edit(&mut flow);
    request(interactive(Kind::Flow(flow)))
}

fn cta_url_request(edit: impl FnOnce(&mut proto::InteractiveCtaUrl)) -> proto::SendMessageRequest {
    let mut cta_url = proto::InteractiveCtaUrl {
        header: None,
        body: body("Tap to see the dates"),
        footer: None,
        display_text: "See dates".into(),
        url: "https://example.com/dates".into(),
    };
    edit(&mut cta_url);
    request(interactive(Kind::CtaUrl(cta_url)))
}

fn location_request_request(
    edit: impl FnOnce(&mut proto::InteractiveLocationRequestMessage),
) -> proto::SendMessageRequest {
    let mut message = proto::InteractiveLocationRequestMessage {
        body: body("Where should we pick you up?"),
    };
    edit(&mut message);
    request(interactive(Kind::LocationRequestMessage(message)))
}

fn template_request(edit: impl FnOnce(&mut proto::Template)) -> proto::SendMessageRequest {
    let mut template = proto::Template {
        namespace: String::new(),
        name: "order_update".into(),
        language: language("en_US"),
        components: vec![],
    };
    edit(&mut template);
    request(Content::Template(template))
}

fn template_header(parameters: Vec<proto::TemplateParameter>) -> proto::TemplateComponent {
    template_component(Component::Header(proto::TemplateHeader { parameters }))
}

fn parameter(parameter: Parameter) -> proto::TemplateParameter {
    proto::TemplateParameter {
        parameter: Some(parameter),
        ..Default::default()
    }
}

fn currency(code: &str) -> proto::TemplateParameter {
    parameter(Parameter::Currency(proto::TemplateCurrency {
        fallback_value: "$100.99".into(),
        code: code.into(),
        amount_1000: 100_990,
    }))
}

fn catalog_button(thumbnail: &str) -> SubType {
    SubType::Catalog(proto::TemplateCatalogButton {
        thumbnail_product_retailer_id: thumbnail.into(),
    })
}

fn contact_name(formatted_name: &str, first_name: &str) -> Option<proto::ContactName> {
    Some(proto::ContactName {
        formatted_name: formatted_name.into(),
        first_name: first_name.into(),
        ..Default::default()
    })
}

/// A request with one valid contact card, edited by `edit`.
fn contact_request(edit: impl FnOnce(&mut proto::Contact)) -> proto::SendMessageRequest {
    let mut contact = proto::Contact {
        name: contact_name("Ana Silva", "Ana"),
        ..Default::default()
    };
    edit(&mut contact);
    request(Content::Contacts(proto::Contacts {
        contacts: vec![contact],
    }))
}

fn location(latitude: f64, longitude: f64) -> proto::SendMessageRequest {
    request(Content::Location(proto::Location {
        latitude,
        longitude,
        name: String::new(),
        address: String::new(),
    }))
}

fn mark_read(
    flavor: Flavor,
    request: &proto::MarkMessageReadRequest,
) -> Result<(), Vec<FieldViolation>> {
    translate::mark_message_read(flavor, request)
        .map(|_| ())
        .map_err(|invalid| invalid.violations)
}

/// A request builder that puts a text into one field of one kind of message.
type WithText = fn(&str) -> proto::SendMessageRequest;

/// One place a text limit applies: the field's path, the flavors that have it, and a request
/// with a given text in that field.
struct TextField {
    path: &'static str,
    flavors: &'static [Flavor],
    build: WithText,
}

const CLOUD: &[Flavor] = &[Flavor::Cloud];
const ON_PREMISES: &[Flavor] = &[Flavor::OnPremises];

/// Checks `max` characters pass and `max + 1` fail with `TooLong`, in ASCII and in multi-byte
/// characters, and that an empty text is `Required` when `required`.
#[track_caller]
fn check_text_limit(field: &TextField, max: usize, required: bool) {
    for &flavor in field.flavors {
        for unit in ["a", "é", "😀"] {
            assert_ok(flavor, &(field.build)(&rep(unit, max)));
            assert_violation(
                flavor,
                &(field.build)(&rep(unit, max + 1)),
                field.path,
                too_long(max, max + 1),
            );
        }
        if required {
            assert_violation(flavor, &(field.build)(""), field.path, Rule::Required);
        } else {
            assert_ok(flavor, &(field.build)(""));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The request itself
// ---------------------------------------------------------------------------------------------

#[test]
fn to_is_required() {
    assert_ok_both(&proto::SendMessageRequest {
        to: "1".into(),
        ..request(text("hi"))
    });
    assert_violation_both(
        &proto::SendMessageRequest {
            to: String::new(),
            ..request(text("hi"))
        },
        "to",
        Rule::Required,
    );
}

#[test]
fn request_id_is_empty_or_a_uuid() {
    let with = |id: &str| proto::SendMessageRequest {
        request_id: id.into(),
        ..request(text("hi"))
    };
    for flavor in BOTH {
        assert_ok(flavor, &with(""));
        assert_ok(flavor, &with(UUID));
        assert_ok(flavor, &with(&UUID.to_uppercase()));
        for bad in [
            "not-a-uuid",
            // One hex digit short, one too many, no dashes, a non-hex digit.
            "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9",
            "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c0",
            "4f0b6d1e8c3a4e7b9a1d2c5e6f7a8b9c",
            "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9g",
        ] {
            assert_format(flavor, &with(bad), "request_id");
        }
    }
}

#[test]
fn biz_opaque_callback_data_is_at_most_512_characters() {
    let with = |data: &str| proto::SendMessageRequest {
        biz_opaque_callback_data: data.into(),
        ..request(text("hi"))
    };
    for unit in ["a", "é", "😀"] {
        assert_ok(Flavor::Cloud, &with(&rep(unit, 512)));
        assert_violation(
            Flavor::Cloud,
            &with(&rep(unit, 513)),
            "biz_opaque_callback_data",
            too_long(512, 513),
        );
    }
}

#[test]
fn context_and_callback_data_are_cloud_only() {
    let with_context = proto::SendMessageRequest {
        context: Some(proto::Context {
            message_id: WAMID.into(),
        }),
        ..request(text("hi"))
    };
    assert_ok(Flavor::Cloud, &with_context);
    assert_violation(
        Flavor::OnPremises,
        &with_context,
        "context",
        Rule::FlavorOnly(Flavor::Cloud),
    );

    let with_data = proto::SendMessageRequest {
        biz_opaque_callback_data: "campaign=spring".into(),
        ..request(text("hi"))
    };
    assert_ok(Flavor::Cloud, &with_data);
    assert_violation(
        Flavor::OnPremises,
        &with_data,
        "biz_opaque_callback_data",
        Rule::FlavorOnly(Flavor::Cloud),
    );
}

#[test]
fn context_message_id_is_required() {
    let request = proto::SendMessageRequest {
        context: Some(proto::Context {
            message_id: String::new(),
        }),
        ..request(text("hi"))
    };
    assert_violation(
        Flavor::Cloud,
        &request,
        "context.message_id",
        Rule::Required,
    );
}

#[test]
fn content_is_required() {
    let request = proto::SendMessageRequest {
        to: TO.into(),
        ..Default::default()
    };
    assert_violation_both(
        &request,
        "content",
        Rule::OneOfRequired(
            "text, image, audio, document, video, sticker, contacts, location, template, interactive, reaction, pin",
        ),
    );
}

#[test]
fn recipient_type_must_be_a_known_value() {
    let with = |recipient_type: i32| proto::SendMessageRequest {
        recipient_type,
        ..request(text("hi"))
    };
    assert_ok_both(&with(proto::RecipientType::Unspecified as i32));
    assert_ok_both(&with(proto::RecipientType::Individual as i32));
    assert_violation_both(&with(3), "recipient_type", Rule::UnknownEnumValue(3));
    assert_violation_both(&with(-1), "recipient_type", Rule::UnknownEnumValue(-1));
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

#[test]
fn text_body_is_1_to_4096_characters() {
    check_text_limit(
        &TextField {
            path: "text.body",
            flavors: &BOTH,
            build: |body| request(text(body)),
        },
        4096,
        true,
    );
}

#[test]
fn text_body_counts_characters_not_bytes() {
    // 4096 characters in 12288 bytes: a byte count would refuse it.
    let mixed: String = "aé😀".repeat(1365) + "a";
    assert_eq!(mixed.chars().count(), 4096);
    assert!(mixed.len() > 4096);
    assert_ok_both(&request(text(&mixed)));
    assert_violation_both(
        &request(text(&(mixed + "é"))),
        "text.body",
        too_long(4096, 4097),
    );
}

// ---------------------------------------------------------------------------------------------
// Media
// ---------------------------------------------------------------------------------------------

#[test]
fn media_needs_an_id_or_a_link() {
    let cases: Vec<(&str, Content)> = vec![
        (
            "image.source",
            Content::Image(proto::Image {
                source: None,
                ..Default::default()
            }),
        ),
        (
            "audio.source",
            Content::Audio(proto::Audio {
                source: None,
                provider: None,
                ..Default::default()
            }),
        ),
        (
            "document.source",
            Content::Document(proto::Document {
                source: None,
                ..Default::default()
            }),
        ),
        (
            "video.source",
            Content::Video(proto::Video {
                source: None,
                ..Default::default()
            }),
        ),
        (
            "sticker.source",
            Content::Sticker(proto::Sticker {
                source: None,
                provider: None,
            }),
        ),
    ];
    for (path, content) in cases {
        assert_violation_both(&request(content), path, Rule::OneOfRequired("id, link"));
    }
}

#[test]
fn media_id_must_not_be_empty() {
    assert_ok_both(&request(Content::Image(image_id())));
    assert_violation_both(
        &request(Content::Image(image(proto::image::Source::Id(
            String::new(),
        )))),
        "image.id",
        Rule::Required,
    );
    assert_violation_both(
        &request(Content::Document(proto::Document {
            source: Some(proto::document::Source::Id(String::new())),
            ..Default::default()
        })),
        "document.id",
        Rule::Required,
    );
}

#[test]
fn media_link_must_be_http_or_https() {
    let with = |link: &str| {
        request(Content::Image(image(proto::image::Source::Link(
            link.into(),
        ))))
    };
    for good in [
        "https://example.com/cat.jpg",
        "http://example.com/cat.jpg",
        "HTTPS://EXAMPLE.COM/CAT.JPG",
    ] {
        assert_ok_both(&with(good));
    }
    for bad in [
        "ftp://example.com/cat.jpg",
        "example.com/cat.jpg",
        "file:///etc/passwd",
        "https://",
        "https://exa mple.com/cat.jpg",
    ] {
        for flavor in BOTH {
            assert_format(flavor, &with(bad), "image.link");
        }
    }
    let audio = request(Content::Audio(proto::Audio {
        source: Some(proto::audio::Source::Link("ftp://example.com/a.ogg".into())),
        provider: None,
        ..Default::default()
    }));
    assert_format(Flavor::Cloud, &audio, "audio.link");
}

#[test]
fn image_caption_is_at_most_1024_characters() {
    check_text_limit(
        &TextField {
            path: "image.caption",
            flavors: &BOTH,
            build: |caption| {
                request(Content::Image(proto::Image {
                    caption: caption.into(),
                    ..image_link()
                }))
            },
        },
        1024,
        false,
    );
}

#[test]
fn video_caption_is_at_most_1024_characters() {
    check_text_limit(
        &TextField {
            path: "video.caption",
            flavors: &BOTH,
            build: |caption| {
                request(Content::Video(proto::Video {
                    caption: caption.into(),
                    ..video_link()
                }))
            },
        },
        1024,
        false,
    );
}

#[test]
fn document_caption_is_at_most_1024_characters_on_cloud() {
    check_text_limit(
        &TextField {
            path: "document.caption",
            flavors: CLOUD,
            build: |caption| {
                request(Content::Document(proto::Document {
                    caption: caption.into(),
                    ..document_link()
                }))
            },
        },
        1024,
        false,
    );
}

#[test]
fn document_caption_is_cloud_only() {
    let request = request(Content::Document(proto::Document {
        caption: "Your invoice".into(),
        ..document_link()
    }));
    assert_ok(Flavor::Cloud, &request);
    assert_violation(
        Flavor::OnPremises,
        &request,
        "document.caption",
        Rule::FlavorOnly(Flavor::Cloud),
    );
    // The On-Premises API takes captions on images and videos.
    assert_ok(
        Flavor::OnPremises,
        &request_with_image_caption("A cat", image_link()),
    );
}

fn request_with_image_caption(caption: &str, image: proto::Image) -> proto::SendMessageRequest {
    request(Content::Image(proto::Image {
        caption: caption.into(),
        ..image
    }))
}

#[test]
fn provider_is_on_premises_only() {
    let request = request(Content::Video(proto::Video {
        provider: provider("my-provider"),
        ..video_link()
    }));
    assert_ok(Flavor::OnPremises, &request);
    assert_violation(
        Flavor::Cloud,
        &request,
        "video.provider",
        Rule::FlavorOnly(Flavor::OnPremises),
    );
}

#[test]
fn provider_serves_links_only() {
    let request = request(Content::Image(proto::Image {
        provider: provider("my-provider"),
        ..image_id()
    }));
    assert_violation(
        Flavor::OnPremises,
        &request,
        "image.provider",
        Rule::NotAllowed("a provider serves a link, and this media is sent by id"),
    );
}

#[test]
fn provider_name_is_required() {
    let request = request(Content::Sticker(proto::Sticker {
        source: Some(proto::sticker::Source::Link(
            "https://example.com/s.webp".into(),
        )),
        provider: provider(""),
    }));
    assert_violation(
        Flavor::OnPremises,
        &request,
        "sticker.provider.name",
        Rule::Required,
    );
}

const NO_HEADER_CAPTION: Rule = Rule::NotAllowed(
    "captions are shown on media messages only, not in a header or a template parameter",
);

#[test]
fn caption_is_not_allowed_in_an_interactive_header() {
    let image_header = button_request(|b| {
        b.header = Some(proto::InteractiveMediaHeader {
            kind: Some(HeaderKind::Image(proto::Image {
                caption: "A cat".into(),
                ..image_id()
            })),
        });
    });
    assert_violation_both(
        &image_header,
        "interactive.button.header.image.caption",
        NO_HEADER_CAPTION,
    );
    // A document caption in a header is refused for being in a header, on either flavor.
    let document_header = button_request(|b| {
        b.header = Some(proto::InteractiveMediaHeader {
            kind: Some(HeaderKind::Document(proto::Document {
                caption: "Menu".into(),
                ..document_link()
            })),
        });
    });
    assert_violation_both(
        &document_header,
        "interactive.button.header.document.caption",
        NO_HEADER_CAPTION,
    );
    let video_header = cta_url_request(|c| {
        c.header = Some(proto::InteractiveMediaHeader {
            kind: Some(HeaderKind::Video(proto::Video {
                caption: "x".into(),
                ..video_link()
            })),
        });
    });
    assert_violation(
        Flavor::Cloud,
        &video_header,
        "interactive.cta_url.header.video.caption",
        NO_HEADER_CAPTION,
    );
    // Without a caption the same headers pass.
    assert_ok_both(&button_request(|b| {
        b.header = Some(proto::InteractiveMediaHeader {
            kind: Some(HeaderKind::Image(image_id())),
        });
    }));
}

#[test]
fn caption_is_not_allowed_in_a_template_header_parameter() {
    let request = template_request(|t| {
        t.components = vec![template_header(vec![parameter(Parameter::Video(
            proto::Video {
                caption: "Launch".into(),
                ..video_link()
            },
        ))])];
    });
    assert_violation_both(
        &request,
        "template.components[0].header.parameters[0].video.caption",
        NO_HEADER_CAPTION,
    );
}

// ---------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------

#[test]
fn contacts_needs_at_least_one_contact() {
    assert_ok_both(&contact_request(|_| {}));
    assert_violation_both(
        &request(Content::Contacts(proto::Contacts { contacts: vec![] })),
        "contacts.contacts",
        too_few(1, 0),
    );
}

#[test]
fn contact_name_is_required() {
    assert_violation_both(
        &contact_request(|c| c.name = None),
        "contacts.contacts[0].name",
        Rule::Required,
    );
    // The path names the contact that lacks it.
    let second_without_name = request(Content::Contacts(proto::Contacts {
        contacts: vec![
            proto::Contact {
                name: contact_name("Ana Silva", "Ana"),
                ..Default::default()
            },
            proto::Contact::default(),
        ],
    }));
    assert_violation_both(
        &second_without_name,
        "contacts.contacts[1].name",
        Rule::Required,
    );
}

#[test]
fn contact_formatted_name_is_required() {
    assert_violation_both(
        &contact_request(|c| c.name = contact_name("", "Ana")),
        "contacts.contacts[0].name.formatted_name",
        Rule::Required,
    );
}

#[test]
fn contact_name_needs_a_part_besides_formatted_name() {
    assert_violation_both(
        &contact_request(|c| c.name = contact_name("Ana Silva", "")),
        "contacts.contacts[0].name",
        Rule::OneOfRequired(
            "first_name, last_name, middle_name, suffix, prefix (besides formatted_name)",
        ),
    );
    let base = proto::ContactName {
        formatted_name: "Ana Silva".into(),
        ..Default::default()
    };
    let one_part_each = [
        proto::ContactName {
            first_name: "Ana".into(),
            ..base.clone()
        },
        proto::ContactName {
            last_name: "Silva".into(),
            ..base.clone()
        },
        proto::ContactName {
            middle_name: "M".into(),
            ..base.clone()
        },
        proto::ContactName {
            suffix: "Jr".into(),
            ..base.clone()
        },
        proto::ContactName {
            prefix: "Dr".into(),
            ..base.clone()
        },
    ];
    for name in one_part_each {
        assert_ok_both(&contact_request(|c| c.name = Some(name)));
    }
}

#[test]
fn contact_birthday_is_a_real_date() {
    for good in ["", "2024-02-29", "2000-02-29", "1999-12-31", "2012-08-18"] {
        assert_ok_both(&contact_request(|c| c.birthday = good.into()));
    }
    for bad in [
        "2023-02-29",
        "1900-02-29",
        "2024-04-31",
        "2024-13-01",
        "2024-2-29",
        "29-02-2024",
        "20240229",
    ] {
        for flavor in BOTH {
            assert_format(
                flavor,
                &contact_request(|c| c.birthday = bad.into()),
                "contacts.contacts[0].birthday",
            );
        }
    }
}

#[test]
fn contact_org_must_not_be_empty() {
    assert_violation_both(
        &contact_request(|c| c.org = Some(proto::ContactOrg::default())),
        "contacts.contacts[0].org",
        Rule::Empty,
    );
    assert_ok_both(&contact_request(|c| {
        c.org = Some(proto::ContactOrg {
            title: "Manager".into(),
            ..Default::default()
        })
    }));
}

#[test]
fn contact_address_needs_more_than_a_type() {
    assert_violation_both(
        &contact_request(|c| {
            c.addresses = vec![proto::ContactAddress {
                r#type: proto::ContactAddressType::Home as i32,
                ..Default::default()
            }]
        }),
        "contacts.contacts[0].addresses[0]",
        Rule::Empty,
    );
    assert_ok_both(&contact_request(|c| {
        c.addresses = vec![proto::ContactAddress {
            zip: "94025".into(),
            r#type: proto::ContactAddressType::Home as i32,
            ..Default::default()
        }]
    }));
}

/// A contact's address, email, phone and URL `type` is one of the reference's standard values
/// (or none); any other number is refused, never sent as a label of its own.
#[test]
fn contact_types_are_the_standard_values() {
    let with = |address: i32, email: i32, phone: i32, url: i32| {
        contact_request(|c| {
            c.addresses = vec![proto::ContactAddress {
                city: "Menlo Park".into(),
                r#type: address,
                ..Default::default()
            }];
            c.emails = vec![proto::ContactEmail {
                email: "ana@example.com".into(),
                r#type: email,
            }];
            c.phones = vec![proto::ContactPhone {
                phone: "+1 555 000 1111".into(),
                r#type: phone,
                ..Default::default()
            }];
            c.urls = vec![proto::ContactUrl {
                url: "https://example.com".into(),
                r#type: url,
            }];
        })
    };
    for phone in 0..=5 {
        for other in 0..=2 {
            assert_ok_both(&with(other, other, phone, other));
        }
    }
    let contact = "contacts.contacts[0]";
    assert_violation_both(
        &with(3, 0, 0, 0),
        &format!("{contact}.addresses[0].type"),
        Rule::UnknownEnumValue(3),
    );
    assert_violation_both(
        &with(0, 3, 0, 0),
        &format!("{contact}.emails[0].type"),
        Rule::UnknownEnumValue(3),
    );
    assert_violation_both(
        &with(0, 0, 6, 0),
        &format!("{contact}.phones[0].type"),
        Rule::UnknownEnumValue(6),
    );
    assert_violation_both(
        &with(0, 0, 0, -1),
        &format!("{contact}.urls[0].type"),
        Rule::UnknownEnumValue(-1),
    );
}

#[test]
fn contact_email_and_url_need_their_value() {
    assert_violation_both(
        &contact_request(|c| {
            c.emails = vec![proto::ContactEmail {
                email: String::new(),
                r#type: proto::ContactEmailType::Work as i32,
            }]
        }),
        "contacts.contacts[0].emails[0].email",
        Rule::Required,
    );
    assert_violation_both(
        &contact_request(|c| {
            c.urls = vec![proto::ContactUrl {
                url: String::new(),
                r#type: proto::ContactUrlType::Work as i32,
            }]
        }),
        "contacts.contacts[0].urls[0].url",
        Rule::Required,
    );
}

#[test]
fn contact_phone_needs_a_phone_or_a_wa_id() {
    let with = |phone: &str, wa_id: &str| {
        contact_request(|c| {
            c.phones = vec![proto::ContactPhone {
                phone: phone.into(),
                r#type: proto::ContactPhoneType::Cell as i32,
                wa_id: wa_id.into(),
            }]
        })
    };
    assert_ok_both(&with("+1 555 000 2222", ""));
    assert_ok_both(&with("", "15550002222"));
    assert_ok_both(&with("+1 555 000 2222", "15550002222"));
    assert_violation_both(
        &with("", ""),
        "contacts.contacts[0].phones[0]",
        Rule::OneOfRequired("phone, wa_id"),
    );
}

#[test]
fn contact_phone_type_must_be_a_known_value() {
    let with = |kind: i32| {
        contact_request(|c| {
            c.phones = vec![proto::ContactPhone {
                phone: "+1 555 000 2222".into(),
                r#type: kind,
                wa_id: String::new(),
            }]
        })
    };
    assert_ok_both(&with(proto::ContactPhoneType::Work as i32));
    assert_violation_both(
        &with(6),
        "contacts.contacts[0].phones[0].type",
        Rule::UnknownEnumValue(6),
    );
}

#[test]
fn contact_address_email_and_url_types_must_be_known_values() {
    assert_violation_both(
        &contact_request(|c| {
            c.addresses = vec![proto::ContactAddress {
                city: "Menlo Park".into(),
                r#type: 3,
                ..Default::default()
            }]
        }),
        "contacts.contacts[0].addresses[0].type",
        Rule::UnknownEnumValue(3),
    );
    assert_violation_both(
        &contact_request(|c| {
            c.emails = vec![proto::ContactEmail {
                email: "ana@example.com".into(),
                r#type: 3,
            }]
        }),
        "contacts.contacts[0].emails[0].type",
        Rule::UnknownEnumValue(3),
    );
    assert_violation_both(
        &contact_request(|c| {
            c.urls = vec![proto::ContactUrl {
                url: "https://example.com".into(),
                r#type: -1,
            }]
        }),
        "contacts.contacts[0].urls[0].type",
        Rule::UnknownEnumValue(-1),
    );
}

// ---------------------------------------------------------------------------------------------
// Location
// ---------------------------------------------------------------------------------------------

#[test]
fn latitude_is_between_minus_90_and_90() {
    for good in [90.0, -90.0, 0.0, 89.999999] {
        assert_ok_both(&location(good, 0.0));
    }
    for bad in [90.000001, -90.000001, 180.0, f64::NAN, f64::INFINITY] {
        assert_violation_both(
            &location(bad, 0.0),
            "location.latitude",
            out_of_range("-90", "90"),
        );
    }
}

#[test]
fn longitude_is_between_minus_180_and_180() {
    for good in [180.0, -180.0, 0.0] {
        assert_ok_both(&location(0.0, good));
    }
    for bad in [180.000001, -180.000001, f64::NAN, f64::NEG_INFINITY] {
        assert_violation_both(
            &location(0.0, bad),
            "location.longitude",
            out_of_range("-180", "180"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

#[test]
fn template_name_and_language_are_required() {
    assert_ok_both(&template_request(|_| {}));
    assert_violation_both(
        &template_request(|t| t.name = String::new()),
        "template.name",
        Rule::Required,
    );
    assert_violation_both(
        &template_request(|t| t.language = None),
        "template.language",
        Rule::Required,
    );
}

#[test]
fn template_language_code_is_a_locale() {
    for good in ["en", "en_US", "pt_BR", "es_419", "fil", "zh_Hant"] {
        assert_ok_both(&template_request(|t| t.language = language(good)));
    }
    assert_violation_both(
        &template_request(|t| t.language = language("")),
        "template.language.code",
        Rule::Required,
    );
    for bad in ["EN", "en-US", "english", "e", "en_", "en_U", "en_US_POSIX"] {
        for flavor in BOTH {
            assert_format(
                flavor,
                &template_request(|t| t.language = language(bad)),
                "template.language.code",
            );
        }
    }
}

#[test]
fn template_language_policy_must_be_a_known_value() {
    let with = |policy: i32| {
        template_request(|t| {
            t.language = Some(proto::TemplateLanguage {
                policy,
                code: "en".into(),
            })
        })
    };
    assert_ok_both(&with(proto::TemplateLanguagePolicy::Unspecified as i32));
    assert_ok_both(&with(proto::TemplateLanguagePolicy::Deterministic as i32));
    assert_violation_both(
        &with(7),
        "template.language.policy",
        Rule::UnknownEnumValue(7),
    );
}

#[test]
fn template_namespace_is_on_premises_only() {
    let request = template_request(|t| t.namespace = "business_a_namespace".into());
    assert_ok(Flavor::OnPremises, &request);
    assert_violation(
        Flavor::Cloud,
        &request,
        "template.namespace",
        Rule::FlavorOnly(Flavor::OnPremises),
    );
}

#[test]
fn template_button_index_is_0_to_9() {
    for index in [0, 9] {
        assert_ok_both(&template_request(|t| {
            t.components = vec![template_button(index, quick_reply("yes"))]
        }));
    }
    for index in [10, u32::MAX] {
        assert_violation_both(
            &template_request(|t| t.components = vec![template_button(index, quick_reply("yes"))]),
            "template.components[0].button.index",
            out_of_range("0", "9"),
        );
    }
}

#[test]
fn template_button_indexes_are_unique() {
    assert_ok_both(&template_request(|t| {
        t.components = vec![
            template_button(0, quick_reply("yes")),
            template_button(1, quick_reply("no")),
        ]
    }));
    assert_violation_both(
        &template_request(|t| {
            t.components = vec![
                template_button(1, quick_reply("yes")),
                template_body(vec![template_text("Ana")]),
                template_button(1, quick_reply("no")),
            ]
        }),
        "template.components[2].button.index",
        duplicate("components[0].button.index"),
    );
}

#[test]
fn template_has_one_header_and_one_body_at_most() {
    assert_violation_both(
        &template_request(|t| {
            t.components = vec![
                template_body(vec![template_text("Ana")]),
                template_body(vec![template_text("Bob")]),
            ]
        }),
        "template.components[1]",
        duplicate("components[0]"),
    );
    assert_violation_both(
        &template_request(|t| {
            t.components = vec![
                template_header(vec![template_text("Hi")]),
                template_body(vec![template_text("Ana")]),
                template_header(vec![template_text("Hello")]),
            ]
        }),
        "template.components[2]",
        duplicate("components[0]"),
    );
}

#[test]
fn template_header_has_exactly_one_parameter() {
    assert_ok_both(&template_request(|t| {
        t.components = vec![template_header(vec![template_text("Hi")])]
    }));
    assert_violation_both(
        &template_request(|t| t.components = vec![template_header(vec![])]),
        "template.components[0].header.parameters",
        too_few(1, 0),
    );
    assert_violation_both(
        &template_request(|t| {
            t.components = vec![template_header(vec![
                template_text("Hi"),
                template_text("there"),
            ])]
        }),
        "template.components[0].header.parameters",
        too_many(1, 2),
    );
}

#[test]
fn template_body_has_at_least_one_parameter() {
    assert_ok_both(&template_request(|t| {
        t.components = vec![template_body(vec![template_text("Ana")])]
    }));
    assert_violation_both(
        &template_request(|t| t.components = vec![template_body(vec![])]),
        "template.components[0].body.parameters",
        too_few(1, 0),
    );
}

#[test]
fn template_media_parameters_belong_in_the_header() {
    assert_ok_both(&template_request(|t| {
        t.components = vec![template_header(vec![parameter(Parameter::Image(
            image_link(),
        ))])]
    }));
    assert_violation_both(
        &template_request(|t| {
            t.components = vec![template_body(vec![
                template_text("Ana"),
                parameter(Parameter::Image(image_link())),
            ])]
        }),
        "template.components[0].body.parameters[1].image",
        Rule::NotAllowed("media parameters belong in the header component"),
    );
    assert_violation_both(
        &template_request(|t| {
            t.components = vec![template_body(vec![parameter(Parameter::Document(
                document_link(),
            ))])]
        }),
        "template.components[0].body.parameters[0].document",
        Rule::NotAllowed("media parameters belong in the header component"),
    );
}

#[test]
fn template_currency_code_is_three_uppercase_letters() {
    assert_ok_both(&template_request(|t| {
        t.components = vec![template_body(vec![currency("USD")])]
    }));
    assert_violation_both(
        &template_request(|t| t.components = vec![template_body(vec![currency("")])]),
        "template.components[0].body.parameters[0].currency.code",
        Rule::Required,
    );
    for bad in ["usd", "US", "USDX", "U5D", "ÜSD"] {
        for flavor in BOTH {
            assert_format(
                flavor,
                &template_request(|t| t.components = vec![template_body(vec![currency(bad)])]),
                "template.components[0].body.parameters[0].currency.code",
            );
        }
    }
}

#[test]
fn template_button_parameters_are_required() {
    let cases: Vec<(SubType, &str)> = vec![
        (
            quick_reply(""),
            "template.components[0].button.quick_reply.payload",
        ),
        (
            SubType::Url(proto::TemplateUrlButton {
                text: String::new(),
            }),
            "template.components[0].button.url.text",
        ),
        (
            SubType::CopyCode(proto::TemplateCopyCodeButton {
                coupon_code: String::new(),
            }),
            "template.components[0].button.copy_code.coupon_code",
        ),
    ];
    for (sub_type, path) in cases {
        assert_violation_both(
            &template_request(|t| t.components = vec![template_button(0, sub_type)]),
            path,
            Rule::Required,
        );
    }
}

#[test]
fn template_catalog_thumbnail_is_at_most_100_characters_and_required_on_premises() {
    // The Cloud API shows the catalog's first item when no thumbnail is named.
    for (flavors, required) in [(ON_PREMISES, true), (CLOUD, false)] {
        check_text_limit(
            &TextField {
                path: "template.components[0].button.catalog.thumbnail_product_retailer_id",
                flavors,
                build: |thumbnail| {
                    template_request(|t| {
                        t.components = vec![template_button(0, catalog_button(thumbnail))]
                    })
                },
            },
            100,
            required,
        );
    }
}

#[test]
fn template_parameter_values_are_required() {
    let date_time = |fallback_value: &str| {
        parameter(Parameter::DateTime(proto::TemplateDateTime {
            fallback_value: fallback_value.into(),
            ..Default::default()
        }))
    };
    let currency_without_fallback = parameter(Parameter::Currency(proto::TemplateCurrency {
        fallback_value: String::new(),
        code: "EUR".into(),
        amount_1000: 0,
    }));
    assert_ok_both(&template_request(|t| {
        t.components = vec![template_body(vec![
            template_text("Ana"),
            date_time("May 1"),
            currency("EUR"),
        ])]
    }));
    for flavor in BOTH {
        assert_violations(
            flavor,
            &template_request(|t| {
                t.components = vec![template_body(vec![
                    template_text(""),
                    date_time(""),
                    currency_without_fallback.clone(),
                    proto::TemplateParameter {
                        parameter: None,
                        ..Default::default()
                    },
                ])]
            }),
            vec![
                fv(
                    "template.components[0].body.parameters[0].text",
                    Rule::Required,
                ),
                fv(
                    "template.components[0].body.parameters[1].date_time.fallback_value",
                    Rule::Required,
                ),
                fv(
                    "template.components[0].body.parameters[2].currency.fallback_value",
                    Rule::Required,
                ),
                fv(
                    "template.components[0].body.parameters[3].parameter",
                    Rule::OneOfRequired(
                        "text, currency, date_time, image, document, video, location, product",
                    ),
                ),
            ],
        );
    }
}

#[test]
fn template_component_and_button_kind_are_required() {
    assert_violation_both(
        &template_request(|t| t.components = vec![proto::TemplateComponent { component: None }]),
        "template.components[0].component",
        Rule::OneOfRequired(
            "header, body, button, limited_time_offer, carousel, tap_target_configuration",
        ),
    );
    assert_violation_both(
        &template_request(|t| {
            t.components = vec![template_component(Component::Button(
                proto::TemplateButton {
                    index: 0,
                    sub_type: None,
                },
            ))]
        }),
        "template.components[0].button.sub_type",
        Rule::OneOfRequired("quick_reply, url, copy_code, catalog, flow, mpm"),
    );
}

// ---------------------------------------------------------------------------------------------
// Interactive: header, body and footer of every kind
// ---------------------------------------------------------------------------------------------

fn media_text_header(text: &str) -> Option<proto::InteractiveMediaHeader> {
    Some(proto::InteractiveMediaHeader {
        kind: Some(HeaderKind::Text(text.into())),
    })
}

#[test]
fn interactive_header_text_is_1_to_60_characters() {
    let fields = [
        TextField {
            path: "interactive.list.header.text",
            flavors: &BOTH,
            build: |t| list_request(|l| l.header = text_header(t)),
        },
        TextField {
            path: "interactive.button.header.text",
            flavors: &BOTH,
            build: |t| button_request(|b| b.header = media_text_header(t)),
        },
        TextField {
            path: "interactive.product_list.header.text",
            flavors: &BOTH,
            build: |t| product_list_request(|l| l.header = text_header(t)),
        },
        TextField {
            path: "interactive.flow.header.text",
            flavors: &BOTH,
            build: |t| flow_request(|f| f.header = text_header(t)),
        },
        TextField {
            path: "interactive.cta_url.header.text",
            flavors: CLOUD,
            build: |t| cta_url_request(|c| c.header = media_text_header(t)),
        },
    ];
    for field in &fields {
        check_text_limit(field, 60, true);
    }
}

#[test]
fn interactive_body_text_is_1_to_1024_characters() {
    let fields = [
        TextField {
            path: "interactive.list.body.text",
            flavors: &BOTH,
            build: |t| list_request(|l| l.body = body(t)),
        },
        TextField {
            path: "interactive.button.body.text",
            flavors: &BOTH,
            build: |t| button_request(|b| b.body = body(t)),
        },
        TextField {
            path: "interactive.product.body.text",
            flavors: &BOTH,
            build: |t| product_request(|p| p.body = body(t)),
        },
        TextField {
            path: "interactive.product_list.body.text",
            flavors: &BOTH,
            build: |t| product_list_request(|l| l.body = body(t)),
        },
        TextField {
            path: "interactive.catalog_message.body.text",
            flavors: &BOTH,
            build: |t| catalog_request(|c| c.body = body(t)),
        },
        TextField {
            path: "interactive.flow.body.text",
            flavors: &BOTH,
            build: |t| flow_request(|f| f.body = body(t)),
        },
        TextField {
            path: "interactive.cta_url.body.text",
            flavors: CLOUD,
            build: |t| cta_url_request(|c| c.body = body(t)),
        },
        TextField {
            path: "interactive.location_request_message.body.text",
            flavors: CLOUD,
            build: |t| location_request_request(|m| m.body = body(t)),
        },
    ];
    for field in &fields {
        check_text_limit(field, 1024, true);
    }
}

#[test]
fn interactive_footer_text_is_1_to_60_characters() {
    let fields = [
        TextField {
            path: "interactive.list.footer.text",
            flavors: &BOTH,
            build: |t| list_request(|l| l.footer = footer(t)),
        },
        TextField {
            path: "interactive.button.footer.text",
            flavors: &BOTH,
            build: |t| button_request(|b| b.footer = footer(t)),
        },
        TextField {
            path: "interactive.product.footer.text",
            flavors: &BOTH,
            build: |t| product_request(|p| p.footer = footer(t)),
        },
        TextField {
            path: "interactive.product_list.footer.text",
            flavors: &BOTH,
            build: |t| product_list_request(|l| l.footer = footer(t)),
        },
        TextField {
            path: "interactive.catalog_message.footer.text",
            flavors: &BOTH,
            build: |t| catalog_request(|c| c.footer = footer(t)),
        },
        TextField {
            path: "interactive.flow.footer.text",
            flavors: &BOTH,
            build: |t| flow_request(|f| f.footer = footer(t)),
        },
        TextField {
            path: "interactive.cta_url.footer.text",
            flavors: CLOUD,
            build: |t| cta_url_request(|c| c.footer = footer(t)),
        },
    ];
    for field in &fields {
        check_text_limit(field, 60, true);
    }
}

#[test]
fn interactive_body_is_required_except_on_product() {
    let cases: [(&str, &[Flavor], proto::SendMessageRequest); 7] = [
        (
            "interactive.list.body",
            &BOTH,
            list_request(|l| l.body = None),
        ),
        (
            "interactive.button.body",
            &BOTH,
            button_request(|b| b.body = None),
        ),
        (
            "interactive.product_list.body",
            &BOTH,
            product_list_request(|l| l.body = None),
        ),
        (
            "interactive.catalog_message.body",
            &BOTH,
            catalog_request(|c| c.body = None),
        ),
        (
            "interactive.flow.body",
            &BOTH,
            flow_request(|f| f.body = None),
        ),
        (
            "interactive.cta_url.body",
            CLOUD,
            cta_url_request(|c| c.body = None),
        ),
        (
            "interactive.location_request_message.body",
            CLOUD,
            location_request_request(|m| m.body = None),
        ),
    ];
    for (path, flavors, request) in &cases {
        for &flavor in *flavors {
            assert_violation(flavor, request, path, Rule::Required);
        }
    }
    assert_ok_both(&product_request(|p| p.body = None));
}

#[test]
fn interactive_kind_is_required() {
    assert_violation_both(
        &request(Content::Interactive(proto::Interactive { kind: None })),
        "interactive.kind",
        Rule::OneOfRequired(
            "list, button, product, product_list, catalog_message, flow, cta_url, location_request_message, voice_call, call_permission_request, carousel",
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Interactive: list
// ---------------------------------------------------------------------------------------------

#[test]
fn list_button_is_1_to_20_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.list.button",
            flavors: &BOTH,
            build: |t| list_request(|l| l.button = t.into()),
        },
        20,
        true,
    );
}

#[test]
fn list_has_1_to_10_sections() {
    let sections = |n: usize| -> Vec<proto::InteractiveListSection> {
        (0..n)
            .map(|i| section(&format!("Section {i}"), rows(&format!("s{i}"), 1)))
            .collect()
    };
    assert_ok_both(&list_request(|l| l.sections = sections(1)));
    assert_ok_both(&list_request(|l| l.sections = sections(10)));
    assert_violation_both(
        &list_request(|l| l.sections = vec![]),
        "interactive.list.sections",
        too_few(1, 0),
    );
    // Eleven sections of one row each also hold eleven rows in all.
    for flavor in BOTH {
        assert_violations(
            flavor,
            &list_request(|l| l.sections = sections(11)),
            vec![
                fv("interactive.list.sections", too_many(10, 11)),
                fv(
                    "interactive.list.sections",
                    Rule::TooManyInAll {
                        what: "rows",
                        max: 10,
                        actual: 11,
                    },
                ),
            ],
        );
    }
}

#[test]
fn list_section_title_is_at_most_24_characters() {
    // With one section the title is optional, and limited.
    check_text_limit(
        &TextField {
            path: "interactive.list.sections[0].title",
            flavors: &BOTH,
            build: |t| list_request(|l| l.sections[0].title = t.into()),
        },
        24,
        false,
    );
    // With several sections every title is required, and limited.
    check_text_limit(
        &TextField {
            path: "interactive.list.sections[1].title",
            flavors: &BOTH,
            build: |t| {
                list_request(|l| {
                    l.sections = vec![section("First", rows("a", 1)), section(t, rows("b", 1))]
                })
            },
        },
        24,
        true,
    );
}

#[test]
fn list_holds_at_most_10_rows_across_sections() {
    assert_ok_both(&list_request(|l| {
        l.sections = vec![section("A", rows("a", 6)), section("B", rows("b", 4))]
    }));
    assert_ok_both(&list_request(|l| {
        l.sections = vec![section("", rows("a", 10))]
    }));
    assert_violation_both(
        &list_request(|l| {
            l.sections = vec![section("A", rows("a", 6)), section("B", rows("b", 5))]
        }),
        "interactive.list.sections",
        Rule::TooManyInAll {
            what: "rows",
            max: 10,
            actual: 11,
        },
    );
    assert_violation_both(
        &list_request(|l| l.sections = vec![section("", rows("a", 11))]),
        "interactive.list.sections",
        Rule::TooManyInAll {
            what: "rows",
            max: 10,
            actual: 11,
        },
    );
}

#[test]
fn list_section_has_at_least_one_row() {
    assert_violation_both(
        &list_request(|l| l.sections = vec![section("A", rows("a", 1)), section("B", vec![])]),
        "interactive.list.sections[1].rows",
        too_few(1, 0),
    );
}

#[test]
fn list_row_title_is_1_to_24_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.list.sections[0].rows[0].title",
            flavors: &BOTH,
            build: |t| list_request(|l| l.sections[0].rows[0].title = t.into()),
        },
        24,
        true,
    );
}

#[test]
fn list_row_id_is_1_to_200_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.list.sections[0].rows[0].id",
            flavors: &BOTH,
            build: |t| list_request(|l| l.sections[0].rows[0].id = t.into()),
        },
        200,
        true,
    );
}

#[test]
fn list_row_description_is_at_most_72_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.list.sections[0].rows[0].description",
            flavors: &BOTH,
            build: |t| list_request(|l| l.sections[0].rows[0].description = t.into()),
        },
        72,
        false,
    );
}

#[test]
fn list_row_ids_are_unique_across_sections() {
    assert_violation_both(
        &list_request(|l| {
            l.sections = vec![
                section("A", vec![row("same", "One", ""), row("other", "Two", "")]),
                section("B", vec![row("same", "Three", "")]),
            ]
        }),
        "interactive.list.sections[1].rows[0].id",
        duplicate("sections[0].rows[0].id"),
    );
    // Equal titles are fine: only ids come back in the webhook.
    assert_ok_both(&list_request(|l| {
        l.sections = vec![section(
            "",
            vec![row("a", "Same", ""), row("b", "Same", "")],
        )]
    }));
}

// ---------------------------------------------------------------------------------------------
// Interactive: reply buttons
// ---------------------------------------------------------------------------------------------

#[test]
fn reply_buttons_are_1_to_3() {
    assert_ok_both(&button_request(|b| {
        b.buttons = vec![reply("a", "A"), reply("b", "B"), reply("c", "C")]
    }));
    assert_violation_both(
        &button_request(|b| b.buttons = vec![]),
        "interactive.button.buttons",
        too_few(1, 0),
    );
    assert_violation_both(
        &button_request(|b| {
            b.buttons = vec![
                reply("a", "A"),
                reply("b", "B"),
                reply("c", "C"),
                reply("d", "D"),
            ]
        }),
        "interactive.button.buttons",
        too_many(3, 4),
    );
}

#[test]
fn reply_button_must_be_set() {
    assert_violation_both(
        &button_request(|b| {
            b.buttons = vec![
                reply("a", "A"),
                proto::InteractiveReplyButton { button: None },
            ]
        }),
        "interactive.button.buttons[1].button",
        Rule::OneOfRequired("reply"),
    );
}

#[test]
fn reply_title_is_1_to_20_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.button.buttons[0].reply.title",
            flavors: &BOTH,
            build: |t| button_request(|b| b.buttons = vec![reply("a", t)]),
        },
        20,
        true,
    );
}

#[test]
fn reply_titles_are_unique() {
    assert_violation_both(
        &button_request(|b| {
            b.buttons = vec![reply("a", "Yes"), reply("b", "No"), reply("c", "Yes")]
        }),
        "interactive.button.buttons[2].reply.title",
        duplicate("buttons[0].reply.title"),
    );
}

#[test]
fn reply_id_is_1_to_256_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.button.buttons[0].reply.id",
            flavors: &BOTH,
            build: |t| button_request(|b| b.buttons = vec![reply(t, "A")]),
        },
        256,
        true,
    );
}

#[test]
fn reply_ids_are_unique() {
    assert_violation_both(
        &button_request(|b| b.buttons = vec![reply("same", "Yes"), reply("same", "No")]),
        "interactive.button.buttons[1].reply.id",
        duplicate("buttons[0].reply.id"),
    );
}

#[test]
fn reply_id_has_no_leading_or_trailing_whitespace() {
    assert_ok_both(&button_request(|b| b.buttons = vec![reply("a b", "A")]));
    for padded in [" a", "a ", "\ta", "a\n", "\u{a0}a", "   "] {
        assert_violation_both(
            &button_request(|b| b.buttons = vec![reply(padded, "A")]),
            "interactive.button.buttons[0].reply.id",
            Rule::Padded,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Interactive: products and catalog
// ---------------------------------------------------------------------------------------------

#[test]
fn product_list_header_is_required() {
    assert_violation_both(
        &product_list_request(|l| l.header = None),
        "interactive.product_list.header",
        Rule::Required,
    );
}

#[test]
fn product_list_catalog_id_is_required() {
    assert_violation_both(
        &product_list_request(|l| l.catalog_id = String::new()),
        "interactive.product_list.catalog_id",
        Rule::Required,
    );
}

#[test]
fn product_list_has_1_to_10_sections() {
    let sections = |n: usize| -> Vec<proto::InteractiveProductSection> {
        (0..n)
            .map(|i| product_section(&format!("Section {i}"), &skus(&format!("s{i}"), 1)))
            .collect()
    };
    assert_ok_both(&product_list_request(|l| l.sections = sections(10)));
    assert_violation_both(
        &product_list_request(|l| l.sections = sections(11)),
        "interactive.product_list.sections",
        too_many(10, 11),
    );
    assert_violation_both(
        &product_list_request(|l| l.sections = vec![]),
        "interactive.product_list.sections",
        too_few(1, 0),
    );
}

#[test]
fn product_list_section_title_is_required_with_several_sections() {
    assert_violation_both(
        &product_list_request(|l| {
            l.sections = vec![
                product_section("A", &skus("a", 1)),
                product_section("", &skus("b", 1)),
            ]
        }),
        "interactive.product_list.sections[1].title",
        Rule::Required,
    );
    assert_violation_both(
        &product_list_request(|l| l.sections[0].title = rep("é", 25)),
        "interactive.product_list.sections[0].title",
        too_long(24, 25),
    );
}

#[test]
fn product_list_section_has_at_least_one_product() {
    assert_violation_both(
        &product_list_request(|l| {
            l.sections = vec![
                product_section("A", &skus("a", 1)),
                product_section("B", &[]),
            ]
        }),
        "interactive.product_list.sections[1].product_items",
        too_few(1, 0),
    );
}

#[test]
fn product_list_holds_at_most_30_products_across_sections() {
    assert_ok_both(&product_list_request(|l| {
        l.sections = vec![
            product_section("A", &skus("a", 10)),
            product_section("B", &skus("b", 10)),
            product_section("C", &skus("c", 10)),
        ]
    }));
    assert_violation_both(
        &product_list_request(|l| {
            l.sections = vec![
                product_section("A", &skus("a", 10)),
                product_section("B", &skus("b", 10)),
                product_section("C", &skus("c", 11)),
            ]
        }),
        "interactive.product_list.sections",
        Rule::TooManyInAll {
            what: "products",
            max: 30,
            actual: 31,
        },
    );
}

#[test]
fn product_list_product_retailer_id_is_1_to_100_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.product_list.sections[0].product_items[0].product_retailer_id",
            flavors: &BOTH,
            build: |t| product_list_request(|l| l.sections[0].product_items[0] = product_item(t)),
        },
        100,
        true,
    );
}

#[test]
fn product_retailer_id_is_1_to_100_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.product.product_retailer_id",
            flavors: &BOTH,
            build: |t| product_request(|p| p.product_retailer_id = t.into()),
        },
        100,
        true,
    );
}

#[test]
fn product_catalog_id_is_required() {
    assert_violation_both(
        &product_request(|p| p.catalog_id = String::new()),
        "interactive.product.catalog_id",
        Rule::Required,
    );
}

#[test]
fn catalog_message_thumbnail_is_at_most_100_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.catalog_message.thumbnail_product_retailer_id",
            flavors: &BOTH,
            build: |t| catalog_request(|c| c.thumbnail_product_retailer_id = t.into()),
        },
        100,
        false,
    );
}

// ---------------------------------------------------------------------------------------------
// Interactive: Flows
// ---------------------------------------------------------------------------------------------

#[test]
fn flow_message_version_is_empty_or_3() {
    for good in ["", "3"] {
        assert_ok_both(&flow_request(|f| f.flow_message_version = good.into()));
    }
    for bad in ["4", "2", "3.0", " 3"] {
        assert_violation_both(
            &flow_request(|f| f.flow_message_version = bad.into()),
            "interactive.flow.flow_message_version",
            Rule::MustEqual("3"),
        );
    }
}

#[test]
fn flow_cta_is_1_to_20_characters() {
    let field = TextField {
        path: "interactive.flow.flow_cta",
        flavors: &BOTH,
        build: |t| flow_request(|f| f.flow_cta = t.into()),
    };
    for flavor in BOTH {
        // Multi-byte letters that are not emoji count one each.
        for unit in ["a", "é", "ü"] {
            assert_ok(flavor, &(field.build)(&rep(unit, 20)));
            assert_violation(
                flavor,
                &(field.build)(&rep(unit, 21)),
                field.path,
                too_long(20, 21),
            );
        }
        assert_violation(flavor, &(field.build)(""), field.path, Rule::Required);
    }
}

#[test]
fn flow_cta_has_no_emoji() {
    for cta in ["Book 😀", "👍", "Go ⭐", "Book ❤\u{fe0f}"] {
        assert_violation_both(
            &flow_request(|f| f.flow_cta = cta.into()),
            "interactive.flow.flow_cta",
            Rule::Emoji,
        );
    }
    // Too long and with an emoji: both are reported.
    assert_violations(
        Flavor::Cloud,
        &flow_request(|f| f.flow_cta = rep("😀", 21)),
        vec![
            fv("interactive.flow.flow_cta", too_long(20, 21)),
            fv("interactive.flow.flow_cta", Rule::Emoji),
        ],
    );
}

#[test]
fn flow_token_and_flow_id_are_required() {
    assert_violation_both(
        &flow_request(|f| f.flow_token = String::new()),
        "interactive.flow.flow_token",
        Rule::Required,
    );
    assert_violation_both(
        &flow_request(|f| f.flow_id = String::new()),
        "interactive.flow.flow_id",
        Rule::Required,
    );
}

#[test]
fn flow_action_payload_is_required_to_navigate() {
    for action in [
        proto::InteractiveFlowAction::Unspecified,
        proto::InteractiveFlowAction::Navigate,
    ] {
        assert_ok_both(&flow_request(|f| f.flow_action = action as i32));
        assert_violation_both(
            &flow_request(|f| {
                f.flow_action = action as i32;
                f.flow_action_payload = None;
            }),
            "interactive.flow.flow_action_payload",
            Rule::Required,
        );
    }
}

#[test]
fn flow_action_payload_is_not_allowed_with_data_exchange() {
    let data_exchange = proto::InteractiveFlowAction::DataExchange as i32;
    assert_ok_both(&flow_request(|f| {
        f.flow_action = data_exchange;
        f.flow_action_payload = None;
    }));
    assert_violation_both(
        &flow_request(|f| f.flow_action = data_exchange),
        "interactive.flow.flow_action_payload",
        Rule::NotAllowed("with data_exchange the endpoint provides the first screen"),
    );
}

#[test]
fn flow_action_payload_screen_is_required() {
    assert_violation_both(
        &flow_request(|f| {
            f.flow_action_payload = Some(proto::InteractiveFlowActionPayload {
                screen: String::new(),
                data: None,
            })
        }),
        "interactive.flow.flow_action_payload.screen",
        Rule::Required,
    );
}

#[test]
fn flow_action_payload_data_is_not_empty_when_present() {
    let with = |data: prost_types::Struct| {
        flow_request(|f| {
            f.flow_action_payload = Some(proto::InteractiveFlowActionPayload {
                screen: "WELCOME".into(),
                data: Some(data),
            })
        })
    };
    assert_violation_both(
        &with(prost_types::Struct::default()),
        "interactive.flow.flow_action_payload.data",
        Rule::Empty,
    );
    let one_field = prost_types::Struct {
        fields: [(
            "user_name".to_string(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("Ana".into())),
            },
        )]
        .into_iter()
        .collect(),
    };
    assert_ok_both(&with(one_field));
}

#[test]
fn flow_mode_and_action_must_be_known_values() {
    for mode in [
        proto::InteractiveFlowMode::Draft,
        proto::InteractiveFlowMode::Published,
    ] {
        assert_ok_both(&flow_request(|f| f.mode = mode as i32));
    }
    assert_violation_both(
        &flow_request(|f| f.mode = 3),
        "interactive.flow.mode",
        Rule::UnknownEnumValue(3),
    );
    assert_violation_both(
        &flow_request(|f| f.flow_action = 3),
        "interactive.flow.flow_action",
        Rule::UnknownEnumValue(3),
    );
}

#[test]
fn flow_action_payload_data_numbers_are_finite() {
    use prost_types::value::Kind as JsonKind;
    let number = |n: f64| prost_types::Value {
        kind: Some(JsonKind::NumberValue(n)),
    };
    let with = |value: prost_types::Value| {
        flow_request(|f| {
            f.flow_action_payload = Some(proto::InteractiveFlowActionPayload {
                screen: "WELCOME".into(),
                data: Some(prost_types::Struct {
                    fields: [("n".to_string(), value)].into_iter().collect(),
                }),
            })
        })
    };
    assert_ok_both(&with(number(f64::MAX)));
    let nested = |n: f64| prost_types::Value {
        kind: Some(JsonKind::ListValue(prost_types::ListValue {
            values: vec![number(1.0), number(n)],
        })),
    };
    for bad in [
        number(f64::NAN),
        number(f64::INFINITY),
        nested(f64::NEG_INFINITY),
    ] {
        for flavor in BOTH {
            assert_format(
                flavor,
                &with(bad.clone()),
                "interactive.flow.flow_action_payload.data",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Interactive: Cloud-only kinds
// ---------------------------------------------------------------------------------------------

#[test]
fn cta_url_display_text_is_1_to_20_characters() {
    check_text_limit(
        &TextField {
            path: "interactive.cta_url.display_text",
            flavors: CLOUD,
            build: |t| cta_url_request(|c| c.display_text = t.into()),
        },
        20,
        true,
    );
}

#[test]
fn cta_url_url_is_http_or_https() {
    assert_ok(
        Flavor::Cloud,
        &cta_url_request(|c| c.url = "http://example.com".into()),
    );
    assert_violation(
        Flavor::Cloud,
        &cta_url_request(|c| c.url = String::new()),
        "interactive.cta_url.url",
        Rule::Required,
    );
    for bad in [
        "ftp://example.com",
        "example.com",
        "javascript:alert(1)",
        "https://",
    ] {
        assert_format(
            Flavor::Cloud,
            &cta_url_request(|c| c.url = bad.into()),
            "interactive.cta_url.url",
        );
    }
}

#[test]
fn cta_url_and_location_request_are_cloud_only() {
    let cta_url = cta_url_request(|_| {});
    assert_ok(Flavor::Cloud, &cta_url);
    assert_violation(
        Flavor::OnPremises,
        &cta_url,
        "interactive.cta_url",
        Rule::FlavorOnly(Flavor::Cloud),
    );
    let location_request = location_request_request(|_| {});
    assert_ok(Flavor::Cloud, &location_request);
    assert_violation(
        Flavor::OnPremises,
        &location_request,
        "interactive.location_request_message",
        Rule::FlavorOnly(Flavor::Cloud),
    );
}

// ---------------------------------------------------------------------------------------------
// Reactions
// ---------------------------------------------------------------------------------------------

fn reaction(message_id: &str, emoji: &str) -> proto::SendMessageRequest {
    request(Content::Reaction(proto::Reaction {
        message_id: message_id.into(),
        emoji: emoji.into(),
    }))
}

#[test]
fn reaction_is_cloud_only() {
    assert_ok(Flavor::Cloud, &reaction(WAMID, "👍"));
    assert_violation(
        Flavor::OnPremises,
        &reaction(WAMID, "👍"),
        "reaction",
        Rule::FlavorOnly(Flavor::Cloud),
    );
}

#[test]
fn reaction_message_id_is_required_and_emoji_may_be_empty() {
    assert_violation(
        Flavor::Cloud,
        &reaction("", "👍"),
        "reaction.message_id",
        Rule::Required,
    );
    // An empty emoji removes an earlier reaction.
    assert_ok(Flavor::Cloud, &reaction(WAMID, ""));
}

// ---------------------------------------------------------------------------------------------
// Pinning a group's message (Cloud API only, groups only)
// ---------------------------------------------------------------------------------------------

fn pin(kind: proto::PinType, message_id: &str, days: Option<u32>) -> Content {
    Content::Pin(proto::Pin {
        r#type: kind as i32,
        message_id: message_id.into(),
        expiration_days: days,
    })
}

const PIN_GROUPS_ONLY: &str =
    "only a group's messages are pinned: set recipient_type to group and to to the group's id";

#[test]
fn pin_is_for_groups_on_the_cloud_api_only() {
    let pinning = pin(proto::PinType::Pin, WAMID, Some(7));
    let unpinning = pin(proto::PinType::Unpin, WAMID, None);
    for content in [pinning.clone(), unpinning] {
        assert_ok(Flavor::Cloud, &to_group(content.clone()));
        // An individual, named by phone number or by business-scoped user ID, is refused at `pin`.
        assert_violation(
            Flavor::Cloud,
            &request(content.clone()),
            "pin",
            Rule::NotAllowed(PIN_GROUPS_ONLY),
        );
        let to_bsuid = proto::SendMessageRequest {
            to: String::new(),
            recipient: "US.13491208655302741918".into(),
            ..request(content.clone())
        };
        assert_violation(
            Flavor::Cloud,
            &to_bsuid,
            "pin",
            Rule::NotAllowed(PIN_GROUPS_ONLY),
        );
        // On-Premises has neither groups nor pins: each is named Cloud-only, nothing else.
        assert_violations(
            Flavor::OnPremises,
            &to_group(content.clone()),
            vec![
                fv("recipient_type", Rule::FlavorOnly(Flavor::Cloud)),
                fv("pin", Rule::FlavorOnly(Flavor::Cloud)),
            ],
        );
        assert_violation(
            Flavor::OnPremises,
            &request(content),
            "pin",
            Rule::FlavorOnly(Flavor::Cloud),
        );
    }
    // The Marketing Messages API sends templates to individuals: a pin is refused there twice over.
    let marketing = proto::SendMessageRequest {
        marketing_messages: Some(proto::MarketingMessages::default()),
        ..to_group(pinning)
    };
    let refused = check(Flavor::Cloud, &marketing).expect_err("refused");
    assert_eq!(
        refused.iter().map(|v| v.field.as_str()).collect::<Vec<_>>(),
        ["marketing_messages", "marketing_messages"]
    );
}

#[test]
fn pin_type_is_required_and_known() {
    assert_violation(
        Flavor::Cloud,
        &to_group(pin(proto::PinType::Unspecified, WAMID, None)),
        "pin.type",
        Rule::Required,
    );
    for unknown in [3, -1, i32::MAX] {
        let content = Content::Pin(proto::Pin {
            r#type: unknown,
            message_id: WAMID.into(),
            expiration_days: None,
        });
        assert_violation(
            Flavor::Cloud,
            &to_group(content),
            "pin.type",
            Rule::UnknownEnumValue(unknown),
        );
    }
}

#[test]
fn pin_message_id_is_required_at_most_256_characters_and_one_path_segment() {
    for kind in [proto::PinType::Pin, proto::PinType::Unpin] {
        let days = (kind == proto::PinType::Pin).then_some(30);
        let with = |message_id: &str| to_group(pin(kind, message_id, days));
        assert_ok(Flavor::Cloud, &with(&"ж".repeat(256)));
        assert_violation(
            Flavor::Cloud,
            &with(&"ж".repeat(257)),
            "pin.message_id",
            too_long(256, 257),
        );
        assert_violation(Flavor::Cloud, &with(""), "pin.message_id", Rule::Required);
        for not_an_id in ["wamid. 1", "wamid.\n1", "..", "\u{7}"] {
            assert_format(Flavor::Cloud, &with(not_an_id), "pin.message_id");
        }
    }
}

#[test]
fn pinning_takes_1_to_30_expiration_days_and_unpinning_none() {
    let pinning = |days: Option<u32>| to_group(pin(proto::PinType::Pin, WAMID, days));
    for days in [1, 7, 30] {
        assert_ok(Flavor::Cloud, &pinning(Some(days)));
    }
    for days in [0, 31, u32::MAX] {
        assert_violation(
            Flavor::Cloud,
            &pinning(Some(days)),
            "pin.expiration_days",
            out_of_range("1", "30"),
        );
    }
    assert_violation(
        Flavor::Cloud,
        &pinning(None),
        "pin.expiration_days",
        Rule::Required,
    );
    let unpinning = |days: Option<u32>| to_group(pin(proto::PinType::Unpin, WAMID, days));
    assert_ok(Flavor::Cloud, &unpinning(None));
    for days in [1, 30, 0] {
        assert_violation(
            Flavor::Cloud,
            &unpinning(Some(days)),
            "pin.expiration_days",
            Rule::NotAllowed("only pinning takes expiration_days"),
        );
    }
    // Every broken part is named at once.
    assert_violations(
        Flavor::Cloud,
        &request(pin(proto::PinType::Pin, "", Some(31))),
        vec![
            fv("pin", Rule::NotAllowed(PIN_GROUPS_ONLY)),
            fv("pin.message_id", Rule::Required),
            fv("pin.expiration_days", out_of_range("1", "30")),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Read receipts
// ---------------------------------------------------------------------------------------------

#[test]
fn mark_read_message_id_is_required() {
    for flavor in BOTH {
        let good = proto::MarkMessageReadRequest {
            message_id: WAMID.into(),
            typing_indicator: None,
            sender: String::new(),
        };
        assert_eq!(mark_read(flavor, &good), Ok(()), "{flavor:?}");
        let bad = proto::MarkMessageReadRequest {
            message_id: String::new(),
            typing_indicator: None,
            sender: String::new(),
        };
        assert_eq!(
            mark_read(flavor, &bad),
            Err(vec![fv("message_id", Rule::Required)]),
            "{flavor:?}"
        );
    }
}

#[test]
fn typing_indicator_is_cloud_only_and_known() {
    let with = |kind: i32| proto::MarkMessageReadRequest {
        message_id: WAMID.into(),
        typing_indicator: Some(proto::TypingIndicator { r#type: kind }),
        sender: String::new(),
    };
    for kind in [
        proto::TypingIndicatorType::Unspecified as i32,
        proto::TypingIndicatorType::Text as i32,
    ] {
        assert_eq!(mark_read(Flavor::Cloud, &with(kind)), Ok(()));
        assert_eq!(
            mark_read(Flavor::OnPremises, &with(kind)),
            Err(vec![fv(
                "typing_indicator",
                Rule::FlavorOnly(Flavor::Cloud)
            )])
        );
    }
    assert_eq!(
        mark_read(Flavor::Cloud, &with(2)),
        Err(vec![fv("typing_indicator.type", Rule::UnknownEnumValue(2))])
    );
}

// ---------------------------------------------------------------------------------------------
// Several violations at once
// ---------------------------------------------------------------------------------------------

#[test]
fn every_violation_is_reported_in_field_order() {
    let request = proto::SendMessageRequest {
        to: String::new(),
        recipient_type: 9,
        ..list_request(|l| {
            l.header = text_header(&rep("h", 61));
            l.body = None;
            l.button = String::new();
            l.sections = vec![
                section("A", vec![row("same", &rep("t", 25), "")]),
                section("", vec![row("same", "Two", &rep("d", 73))]),
            ];
        })
    };
    for flavor in BOTH {
        assert_violations(
            flavor,
            &request,
            vec![
                fv("to", Rule::Required),
                fv("recipient_type", Rule::UnknownEnumValue(9)),
                fv("interactive.list.header.text", too_long(60, 61)),
                fv("interactive.list.body", Rule::Required),
                fv("interactive.list.button", Rule::Required),
                fv(
                    "interactive.list.sections[0].rows[0].title",
                    too_long(24, 25),
                ),
                fv("interactive.list.sections[1].title", Rule::Required),
                fv(
                    "interactive.list.sections[1].rows[0].description",
                    too_long(72, 73),
                ),
                fv(
                    "interactive.list.sections[1].rows[0].id",
                    duplicate("sections[0].rows[0].id"),
                ),
            ],
        );
    }
}

#[test]
fn every_violation_of_a_template_is_reported() {
    let request = template_request(|t| {
        t.namespace = "ns".into();
        t.name = String::new();
        t.language = Some(proto::TemplateLanguage {
            policy: 7,
            code: "EN".into(),
        });
        t.components = vec![
            template_header(vec![]),
            template_body(vec![parameter(Parameter::Image(image_link()))]),
            template_button(10, quick_reply("")),
        ];
    });
    let violations = check(Flavor::Cloud, &request).expect_err("invalid");
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "template.namespace",
            "template.name",
            "template.language.policy",
            "template.language.code",
            "template.components[0].header.parameters",
            "template.components[1].body.parameters[0].image",
            "template.components[2].button.index",
            "template.components[2].button.quick_reply.payload",
        ],
        "{violations:#?}"
    );
    assert_eq!(violations[0].rule, Rule::FlavorOnly(Flavor::OnPremises));
    assert_eq!(violations[1].rule, Rule::Required);
    assert_eq!(violations[2].rule, Rule::UnknownEnumValue(7));
    assert!(matches!(violations[3].rule, Rule::Format(_)));
    assert_eq!(violations[4].rule, too_few(1, 0));
    assert!(matches!(violations[5].rule, Rule::NotAllowed(_)));
    assert_eq!(violations[6].rule, out_of_range("0", "9"));
    assert_eq!(violations[7].rule, Rule::Required);
}

// ---------------------------------------------------------------------------------------------
// The violations as the gRPC caller sees them
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_request_becomes_invalid_argument_with_bad_request_details() {
    use tonic_types::StatusExt;

    let request = proto::SendMessageRequest {
        to: String::new(),
        ..request(text(&rep("é", 4097)))
    };
    let invalid: InvalidRequest =
        translate::send_message(Flavor::Cloud, &request).expect_err("invalid");
    let expected = invalid.violations.clone();
    assert_eq!(
        expected,
        vec![
            fv("to", Rule::Required),
            fv("text.body", too_long(4096, 4097)),
        ]
    );

    let status: tonic::Status = whatsapp_grpc::Error::InvalidArgument(invalid).into();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("2 rule(s)"),
        "{}",
        status.message()
    );
    let bad_request = status
        .get_details_bad_request()
        .expect("the status carries a google.rpc.BadRequest");
    assert_eq!(bad_request.field_violations.len(), expected.len());
    for (detail, violation) in bad_request.field_violations.iter().zip(&expected) {
        assert_eq!(detail.field, violation.field);
        assert_eq!(detail.reason, violation.rule.reason());
        assert_eq!(detail.description, violation.rule.to_string());
        assert!(!detail.description.is_empty());
    }
    assert_eq!(bad_request.field_violations[0].reason, "REQUIRED");
    assert_eq!(bad_request.field_violations[1].reason, "TOO_LONG");
    assert_eq!(
        bad_request.field_violations[1].description,
        "must be at most 4096 characters (is 4097)"
    );
}

// ---------------------------------------------------------------------------------------------
// Bugs found in src/ (ignored until fixed; each asserts the documented behaviour)
// ---------------------------------------------------------------------------------------------

#[test]
fn broken_button_header_does_not_hide_other_violations() {
    let request = button_request(|b| {
        b.header = Some(proto::InteractiveMediaHeader {
            kind: Some(HeaderKind::Image(proto::Image::default())),
        });
        b.body = None;
        b.buttons = vec![];
    });
    assert_violations(
        Flavor::Cloud,
        &request,
        vec![
            fv(
                "interactive.button.header.image.source",
                Rule::OneOfRequired("id, link"),
            ),
            fv("interactive.button.body", Rule::Required),
            fv("interactive.button.buttons", too_few(1, 0)),
        ],
    );
}

#[test]
fn broken_cta_url_header_does_not_hide_other_violations() {
    let request = cta_url_request(|c| {
        c.header = Some(proto::InteractiveMediaHeader { kind: None });
        c.body = None;
        c.display_text = rep("x", 21);
        c.url = "ftp://example.com".into();
    });
    let violations = check(Flavor::Cloud, &request).expect_err("invalid");
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "interactive.cta_url.header.kind",
            "interactive.cta_url.body",
            "interactive.cta_url.display_text",
            "interactive.cta_url.url",
        ],
        "{violations:#?}"
    );
}

#[test]
fn top_level_violations_follow_field_order() {
    let request = proto::SendMessageRequest {
        to: String::new(),
        context: Some(proto::Context {
            message_id: WAMID.into(),
        }),
        biz_opaque_callback_data: "campaign".into(),
        request_id: "not-a-uuid".into(),
        ..request(text(""))
    };
    let violations = check(Flavor::OnPremises, &request).expect_err("invalid");
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    // Field numbers: to = 1, content = 3..13 (text = 3), context = 14,
    // biz_opaque_callback_data = 15, request_id = 16.
    assert_eq!(
        fields,
        [
            "to",
            "text.body",
            "context",
            "biz_opaque_callback_data",
            "request_id",
        ],
        "{violations:#?}"
    );
}

#[test]
fn contact_violations_follow_field_order() {
    let request = contact_request(|c| {
        c.addresses = vec![proto::ContactAddress {
            r#type: proto::ContactAddressType::Work as i32,
            ..Default::default()
        }];
        c.birthday = "2023-02-29".into();
        c.emails = vec![proto::ContactEmail::default()];
        c.name = None;
        c.org = Some(proto::ContactOrg::default());
    });
    let violations = check(Flavor::Cloud, &request).expect_err("invalid");
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "contacts.contacts[0].addresses[0]",
            "contacts.contacts[0].birthday",
            "contacts.contacts[0].emails[0].email",
            "contacts.contacts[0].name",
            "contacts.contacts[0].org",
        ],
        "{violations:#?}"
    );
}

#[test]
fn flow_cta_allows_symbols_that_are_not_emoji() {
    for cta in ["Next →", "Rate ★", "Done ✓"] {
        assert_ok_both(&flow_request(|f| f.flow_cta = cta.into()));
    }
}

#[test]
fn unset_reply_button_is_not_a_duplicate_target() {
    let request = button_request(|b| {
        b.buttons = vec![
            proto::InteractiveReplyButton { button: None },
            reply("", ""),
        ]
    });
    // `buttons[0].reply.id` does not exist: there is nothing for buttons[1] to duplicate.
    assert_violations(
        Flavor::Cloud,
        &request,
        vec![
            fv(
                "interactive.button.buttons[0].button",
                Rule::OneOfRequired("reply"),
            ),
            fv("interactive.button.buttons[1].reply.id", Rule::Required),
            fv("interactive.button.buttons[1].reply.title", Rule::Required),
        ],
    );
}

#[test]
fn flow_cta_refuses_emoji_presentation_squares() {
    for cta in ["Book \u{25fd}", "Book \u{25fe}"] {
        assert_violation_both(
            &flow_request(|f| f.flow_cta = cta.into()),
            "interactive.flow.flow_cta",
            Rule::Emoji,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bounds of this service on repeated fields the reference leaves open, and on read-receipt ids
// ---------------------------------------------------------------------------------------------

#[test]
fn contacts_holds_at_most_10_cards() {
    let card = |n: usize| {
        request(Content::Contacts(proto::Contacts {
            contacts: vec![
                proto::Contact {
                    name: contact_name("Ana Silva", "Ana"),
                    ..Default::default()
                };
                n
            ],
        }))
    };
    assert_ok_both(&card(10));
    assert_violation_both(&card(11), "contacts.contacts", too_many(10, 11));
    // Far over: one violation, and only the first ten cards are walked.
    let mut far = card(100_000);
    if let Some(Content::Contacts(contacts)) = &mut far.content {
        contacts.contacts[10].name = None;
    }
    assert_violation_both(&far, "contacts.contacts", too_many(10, 100_000));
}

#[test]
fn contact_addresses_emails_phones_and_urls_are_at_most_5_each() {
    let address = proto::ContactAddress {
        city: "Menlo Park".into(),
        ..Default::default()
    };
    let email = proto::ContactEmail {
        email: "ana@example.com".into(),
        r#type: 0,
    };
    let phone = proto::ContactPhone {
        wa_id: "16505551234".into(),
        ..Default::default()
    };
    let url = proto::ContactUrl {
        url: "https://example.com".into(),
        r#type: 0,
    };
    assert_ok_both(&contact_request(|c| {
        c.addresses = vec![address.clone(); 5];
        c.emails = vec![email.clone(); 5];
        c.phones = vec![phone.clone(); 5];
        c.urls = vec![url.clone(); 5];
    }));
    assert_violation_both(
        &contact_request(|c| c.addresses = vec![address.clone(); 6]),
        "contacts.contacts[0].addresses",
        too_many(5, 6),
    );
    assert_violation_both(
        &contact_request(|c| c.emails = vec![email.clone(); 6]),
        "contacts.contacts[0].emails",
        too_many(5, 6),
    );
    assert_violation_both(
        &contact_request(|c| c.phones = vec![phone.clone(); 6]),
        "contacts.contacts[0].phones",
        too_many(5, 6),
    );
    assert_violation_both(
        &contact_request(|c| c.urls = vec![url.clone(); 6]),
        "contacts.contacts[0].urls",
        too_many(5, 6),
    );
}

#[test]
fn template_body_has_at_most_100_parameters() {
    assert_ok_both(&template_request(|t| {
        t.components = vec![template_body(vec![template_text("Ana"); 100])]
    }));
    assert_violation_both(
        &template_request(|t| t.components = vec![template_body(vec![template_text("Ana"); 101])]),
        "template.components[0].body.parameters",
        too_many(100, 101),
    );
}

#[test]
fn mark_read_message_id_is_at_most_256_characters_and_not_a_dot_segment() {
    let read = |id: &str| proto::MarkMessageReadRequest {
        message_id: id.into(),
        typing_indicator: None,
        sender: String::new(),
    };
    let format = |flavor, id: &str| {
        let violations = mark_read(flavor, &read(id)).expect_err(id);
        assert_eq!(violations.len(), 1, "{id:?}: {violations:?}");
        assert_eq!(violations[0].field, "message_id");
        assert!(
            matches!(violations[0].rule, Rule::Format(_)),
            "{id:?}: {violations:?}"
        );
    };
    for flavor in BOTH {
        // 256 characters of 4 bytes each pass: the limit counts characters.
        assert_eq!(mark_read(flavor, &read(&rep("😀", 256))), Ok(()));
        assert_eq!(mark_read(flavor, &read("wamid.a.b..c=")), Ok(()));
        // The base64 alphabet of wamids holds `/` and `+`; the path percent-encodes them.
        assert_eq!(mark_read(flavor, &read("wamid.HBgL+/x/..=")), Ok(()));
        assert_eq!(mark_read(flavor, &read("../..")), Ok(()));
        assert_eq!(
            mark_read(flavor, &read(&rep("a", 257))),
            Err(vec![fv("message_id", too_long(256, 257))])
        );
        assert_eq!(
            mark_read(flavor, &read(&rep("a", 70_000))),
            Err(vec![fv("message_id", too_long(256, 70_000))])
        );
        for bad in [".", "..", "a b", "a\tb", "a\u{0}b", "a\nb", "a\u{85}b", " "] {
            format(flavor, bad);
        }
    }
}

#[test]
fn texts_without_a_documented_limit_are_at_most_256_characters() {
    let to = |n: usize| proto::SendMessageRequest {
        to: rep("中", n),
        ..request(text("hi"))
    };
    assert_ok_both(&to(256));
    assert_violation_both(&to(257), "to", too_long(256, 257));
    check_text_limit(
        &TextField {
            path: "contacts.contacts[0].name.first_name",
            flavors: &BOTH,
            build: |t| {
                contact_request(|c| {
                    c.name = Some(proto::ContactName {
                        formatted_name: "Ana".into(),
                        first_name: t.into(),
                        last_name: "Silva".into(),
                        ..Default::default()
                    })
                })
            },
        },
        256,
        false,
    );
}

#[test]
fn links_and_opaque_values_are_at_most_2048_characters() {
    let link = |n: usize| {
        request(Content::Image(image(proto::image::Source::Link(format!(
            "https://{}",
            rep("é", n - 8)
        )))))
    };
    assert_ok_both(&link(2048));
    assert_violation_both(&link(2049), "image.link", too_long(2048, 2049));
    let payload = |n: usize| {
        template_request(|t| t.components = vec![template_button(0, quick_reply(&rep("é", n)))])
    };
    assert_ok_both(&payload(2048));
    assert_violation_both(
        &payload(2049),
        "template.components[0].button.quick_reply.payload",
        too_long(2048, 2049),
    );
}

#[test]
fn template_text_parameters_are_60_in_the_header_and_1024_or_32768_in_the_body() {
    let header = |n: usize| {
        template_request(|t| {
            t.components = vec![template_header(vec![template_text(&rep("é", n))])]
        })
    };
    assert_ok_both(&header(60));
    assert_violation_both(
        &header(61),
        "template.components[0].header.parameters[0].text",
        too_long(60, 61),
    );
    // With another component, a body parameter holds at most 1024 characters.
    let with_button = |n: usize| {
        template_request(|t| {
            t.components = vec![
                template_body(vec![template_text(&rep("é", n))]),
                template_button(0, quick_reply("yes")),
            ]
        })
    };
    assert_ok_both(&with_button(1024));
    assert_violation_both(
        &with_button(1025),
        "template.components[0].body.parameters[0].text",
        too_long(1024, 1025),
    );
    // A body that is the only component: 32768.
    let body_only = |n: usize| {
        template_request(|t| t.components = vec![template_body(vec![template_text(&rep("é", n))])])
    };
    assert_ok_both(&body_only(32768));
    // One parameter over 32768 also puts all of them over 32768 (checked first).
    for flavor in BOTH {
        assert_violations(
            flavor,
            &body_only(32769),
            vec![
                fv(
                    "template.components[0].body.parameters",
                    too_long(32768, 32769),
                ),
                fv(
                    "template.components[0].body.parameters[0].text",
                    too_long(32768, 32769),
                ),
            ],
        );
    }
}

#[test]
fn template_body_parameters_hold_at_most_32768_characters_in_all() {
    let body = |last: usize| {
        template_request(|t| {
            t.components = vec![template_body(vec![
                template_text(&rep("é", 32000)),
                template_text(&rep("é", last)),
            ])]
        })
    };
    assert_ok_both(&body(768));
    assert_violation_both(
        &body(769),
        "template.components[0].body.parameters",
        too_long(32768, 32769),
    );
}

#[test]
fn flow_data_takes_at_most_64_kib() {
    let data = |n: usize| {
        flow_request(|f| {
            f.flow_action_payload = Some(proto::InteractiveFlowActionPayload {
                screen: "WELCOME".into(),
                data: Some(common::cases::json_struct(
                    serde_json::json!({ "k": "a".repeat(n) }),
                )),
            })
        })
    };
    // One field "k" holding n bytes encodes in n + 15 bytes (for n of three length bytes).
    assert_ok_both(&data(65536 - 15));
    assert_violation_both(
        &data(65536 - 14),
        "interactive.flow.flow_action_payload.data",
        Rule::TooLarge {
            max_bytes: 65536,
            actual: 65537,
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Cloud-only template shapes: named parameters, location and product headers, limited-time
// offers, carousels, Flow and multi-product buttons, localizable date and time
// ---------------------------------------------------------------------------------------------

fn named(name: &str, text: &str) -> proto::TemplateParameter {
    proto::TemplateParameter {
        parameter: Some(Parameter::Text(text.into())),
        parameter_name: name.into(),
    }
}

fn offer(expiration_time_ms: i64) -> proto::TemplateComponent {
    template_component(Component::LimitedTimeOffer(
        proto::TemplateLimitedTimeOffer { expiration_time_ms },
    ))
}

fn image_parameter() -> proto::TemplateParameter {
    parameter(Parameter::Image(image_link()))
}

/// A valid card at `card_index`: an image header, one body value and a quick reply button.
fn card(card_index: u32) -> proto::TemplateCarouselCard {
    proto::TemplateCarouselCard {
        card_index,
        header: Some(proto::TemplateHeader {
            parameters: vec![image_parameter()],
        }),
        body: Some(proto::TemplateBody {
            parameters: vec![template_text("10%")],
        }),
        buttons: vec![proto::TemplateButton {
            index: 0,
            sub_type: Some(quick_reply("buy")),
        }],
    }
}

fn carousel(cards: Vec<proto::TemplateCarouselCard>) -> proto::TemplateComponent {
    template_component(Component::Carousel(proto::TemplateCarousel { cards }))
}

fn carousel_request(cards: Vec<proto::TemplateCarouselCard>) -> proto::SendMessageRequest {
    template_request(|t| {
        t.components = vec![template_body(vec![template_text("Ana")]), carousel(cards)]
    })
}

fn mpm(sections: Vec<proto::InteractiveProductSection>) -> SubType {
    SubType::Mpm(proto::TemplateMultiProductButton {
        thumbnail_product_retailer_id: "sku-1".into(),
        sections,
    })
}

fn products_section(title: &str, n: usize) -> proto::InteractiveProductSection {
    proto::InteractiveProductSection {
        title: title.into(),
        product_items: (0..n).map(|i| product_item(&format!("sku-{i}"))).collect(),
    }
}

#[test]
fn cloud_only_template_shapes_are_refused_on_premises() {
    let cases: Vec<(proto::SendMessageRequest, &str)> = vec![
        (
            template_request(|t| t.components = vec![template_body(vec![named("name", "Ana")])]),
            "template.components[0].body.parameters[0].parameter_name",
        ),
        (
            template_request(|t| {
                t.components = vec![template_header(vec![parameter(Parameter::Location(
                    proto::Location {
                        latitude: 37.48,
                        longitude: -122.14,
                        ..Default::default()
                    },
                ))])]
            }),
            "template.components[0].header.parameters[0].location",
        ),
        (
            template_request(|t| {
                t.components = vec![template_header(vec![parameter(Parameter::Product(
                    proto::TemplateProduct {
                        product_retailer_id: "sku-1".into(),
                        catalog_id: "194836987003835".into(),
                    },
                ))])]
            }),
            "template.components[0].header.parameters[0].product",
        ),
        (
            template_request(|t| t.components = vec![offer(1)]),
            "template.components[0].limited_time_offer",
        ),
        (
            carousel_request(vec![card(0)]),
            "template.components[1].carousel",
        ),
        (
            template_request(|t| {
                t.components = vec![template_button(
                    0,
                    SubType::Flow(proto::TemplateFlowButton {
                        flow_token: "t".into(),
                        flow_action_data: None,
                    }),
                )]
            }),
            "template.components[0].button.flow",
        ),
        (
            template_request(|t| {
                t.components = vec![template_button(0, mpm(vec![products_section("", 1)]))]
            }),
            "template.components[0].button.mpm",
        ),
    ];
    for (request, path) in cases {
        assert_ok(Flavor::Cloud, &request);
        assert_violation(
            Flavor::OnPremises,
            &request,
            path,
            Rule::FlavorOnly(Flavor::Cloud),
        );
    }
}

#[test]
fn named_parameters_are_variable_names_up_to_256_characters() {
    let with_name = |name: &str| {
        template_request(|t| t.components = vec![template_body(vec![named(name, "Ana")])])
    };
    let path = "template.components[0].body.parameters[0].parameter_name";
    for good in ["a", "first_name", "x9", &format!("a{}", rep("b", 255))] {
        assert_ok(Flavor::Cloud, &with_name(good));
    }
    assert_violation(
        Flavor::Cloud,
        &with_name(&format!("a{}", rep("b", 256))),
        path,
        too_long(256, 257),
    );
    for bad in ["Name", "1st", "_x", "first-name", "a b", "é"] {
        assert_format(Flavor::Cloud, &with_name(bad), path);
    }
}

#[test]
fn named_parameters_are_unique_in_a_component_and_never_mixed_with_positional_ones() {
    assert_ok(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![
                template_header(vec![named("name", "Hi")]),
                template_body(vec![named("name", "Ana"), named("order", "#1")]),
            ]
        }),
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![template_body(vec![
                named("name", "Ana"),
                named("name", "Bob"),
            ])]
        }),
        "template.components[0].body.parameters[1].parameter_name",
        duplicate("parameters[0].parameter_name"),
    );
    let mixed = Rule::NotAllowed(
        "a template's parameters are either all named or all positional, as the template was created",
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![
                template_header(vec![named("name", "Hi")]),
                template_body(vec![template_text("Ana")]),
            ]
        }),
        "template.components[1].body.parameters[0].parameter_name",
        mixed,
    );
    // A media header is no variable: it has no name, and does not count as positional.
    assert_ok(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![
                template_header(vec![image_parameter()]),
                template_body(vec![named("name", "Ana")]),
            ]
        }),
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![template_header(vec![proto::TemplateParameter {
                parameter_name: "banner".into(),
                ..image_parameter()
            }])]
        }),
        "template.components[0].header.parameters[0].parameter_name",
        Rule::NotAllowed("only text, currency and date_time parameters are named"),
    );
}

#[test]
fn location_and_product_parameters_belong_in_the_header() {
    let location = || {
        parameter(Parameter::Location(proto::Location {
            latitude: 90.0,
            longitude: -180.0,
            ..Default::default()
        }))
    };
    assert_ok(
        Flavor::Cloud,
        &template_request(|t| t.components = vec![template_header(vec![location()])]),
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| t.components = vec![template_body(vec![location()])]),
        "template.components[0].body.parameters[0].location",
        Rule::NotAllowed("media parameters belong in the header component"),
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![template_header(vec![parameter(Parameter::Location(
                proto::Location {
                    latitude: 90.5,
                    ..Default::default()
                },
            ))])]
        }),
        "template.components[0].header.parameters[0].location.latitude",
        out_of_range("-90", "90"),
    );
}

#[test]
fn product_header_names_a_product_of_at_most_100_characters_and_its_catalog() {
    check_text_limit(
        &TextField {
            path: "template.components[0].header.parameters[0].product.product_retailer_id",
            flavors: CLOUD,
            build: |id| {
                template_request(|t| {
                    t.components = vec![template_header(vec![parameter(Parameter::Product(
                        proto::TemplateProduct {
                            product_retailer_id: id.into(),
                            catalog_id: "194836987003835".into(),
                        },
                    ))])]
                })
            },
        },
        100,
        true,
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![template_header(vec![parameter(Parameter::Product(
                proto::TemplateProduct {
                    product_retailer_id: "sku-1".into(),
                    catalog_id: String::new(),
                },
            ))])]
        }),
        "template.components[0].header.parameters[0].product.catalog_id",
        Rule::Required,
    );
}

#[test]
fn limited_time_offer_expires_within_year_9999_and_appears_once() {
    for good in [1, 253_402_300_799_999] {
        assert_ok(
            Flavor::Cloud,
            &template_request(|t| t.components = vec![offer(good)]),
        );
    }
    for bad in [0, -1, 253_402_300_800_000, i64::MIN] {
        assert_violation(
            Flavor::Cloud,
            &template_request(|t| t.components = vec![offer(bad)]),
            "template.components[0].limited_time_offer.expiration_time_ms",
            out_of_range("1", "253402300799999"),
        );
    }
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| t.components = vec![offer(1), offer(2)]),
        "template.components[1]",
        duplicate("components[0]"),
    );
}

#[test]
fn template_holds_at_most_15_components() {
    let full = |extra: bool| {
        template_request(|t| {
            t.components = vec![
                template_header(vec![image_parameter()]),
                template_body(vec![template_text("Ana")]),
                offer(1),
                carousel(vec![card(0)]),
                tap_target("https://example.com/offer", "Offer Details"),
            ];
            t.components
                .extend((0..10).map(|index| template_button(index, quick_reply("yes"))));
            if extra {
                t.components.push(template_button(0, quick_reply("yes")));
            }
        })
    };
    assert_ok(Flavor::Cloud, &full(false));
    // A sixteenth component is refused as one too many, not walked (its duplicate index would
    // otherwise be reported too). On-Premises also refuses the Cloud-only offer, carousel and tap
    // target.
    for flavor in BOTH {
        let violations = check(flavor, &full(true)).expect_err("16 components");
        assert_eq!(
            violations[0],
            fv("template.components", too_many(15, 16)),
            "{violations:#?}"
        );
        assert!(
            !violations.iter().any(|v| v.field.ends_with(".index")),
            "{violations:#?}"
        );
    }
}

fn tap_target(url: &str, title: &str) -> proto::TemplateComponent {
    template_component(Component::TapTargetConfiguration(
        proto::TemplateTapTargetConfiguration {
            url: url.into(),
            title: title.into(),
        },
    ))
}

#[test]
fn tap_target_has_an_http_url_and_a_title_of_256_characters_once_on_the_cloud_api_only() {
    let with = |components: Vec<proto::TemplateComponent>| {
        template_request(|t| {
            t.components = vec![template_body(vec![template_text("Andy")])];
            t.components.extend(components);
        })
    };
    let url = format!("https://example.com/{}", rep("a", 2048 - 20));
    assert_ok(Flavor::Cloud, &with(vec![tap_target(&url, &rep("é", 256))]));
    assert_violation(
        Flavor::Cloud,
        &with(vec![tap_target(&format!("{url}a"), "Offer")]),
        "template.components[1].tap_target_configuration.url",
        too_long(2048, 2049),
    );
    assert_violation(
        Flavor::Cloud,
        &with(vec![tap_target("https://example.com", &rep("é", 257))]),
        "template.components[1].tap_target_configuration.title",
        too_long(256, 257),
    );
    assert_violations(
        Flavor::Cloud,
        &with(vec![tap_target("", "")]),
        vec![
            fv(
                "template.components[1].tap_target_configuration.url",
                Rule::Required,
            ),
            fv(
                "template.components[1].tap_target_configuration.title",
                Rule::Required,
            ),
        ],
    );
    assert_format(
        Flavor::Cloud,
        &with(vec![tap_target("javascript:alert(1)", "Offer")]),
        "template.components[1].tap_target_configuration.url",
    );
    assert_violation(
        Flavor::Cloud,
        &with(vec![
            tap_target("https://example.com/a", "A"),
            tap_target("https://example.com/b", "B"),
        ]),
        "template.components[2]",
        duplicate("components[1]"),
    );
    assert_violation(
        Flavor::OnPremises,
        &with(vec![tap_target("https://example.com", "Offer")]),
        "template.components[1].tap_target_configuration",
        Rule::FlavorOnly(Flavor::Cloud),
    );
}

#[test]
fn carousel_holds_1_to_10_cards_at_distinct_indexes_0_to_9() {
    assert_ok(
        Flavor::Cloud,
        &carousel_request((0..10).map(card).collect()),
    );
    assert_violation(
        Flavor::Cloud,
        &carousel_request(vec![]),
        "template.components[1].carousel.cards",
        too_few(1, 0),
    );
    assert_violation(
        Flavor::Cloud,
        &carousel_request((0..11).map(|i| card(i % 10)).collect()),
        "template.components[1].carousel.cards",
        too_many(10, 11),
    );
    assert_violation(
        Flavor::Cloud,
        &carousel_request(vec![card(0), card(10)]),
        "template.components[1].carousel.cards[1].card_index",
        out_of_range("0", "9"),
    );
    assert_violation(
        Flavor::Cloud,
        &carousel_request(vec![card(3), card(3)]),
        "template.components[1].carousel.cards[1].card_index",
        duplicate("cards[0].card_index"),
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![carousel(vec![card(0)]), carousel(vec![card(0)])]
        }),
        "template.components[1]",
        duplicate("components[0]"),
    );
}

#[test]
fn carousel_card_header_is_one_image_or_video() {
    let with_header = |parameters: Vec<proto::TemplateParameter>| {
        carousel_request(vec![proto::TemplateCarouselCard {
            header: Some(proto::TemplateHeader { parameters }),
            ..card(0)
        }])
    };
    let path = "template.components[1].carousel.cards[0].header";
    assert_ok(
        Flavor::Cloud,
        &with_header(vec![parameter(Parameter::Video(proto::Video {
            source: Some(proto::video::Source::Id("video-id".into())),
            ..Default::default()
        }))]),
    );
    let not_media = Rule::NotAllowed("a carousel card's header is an image or a video");
    assert_violation(
        Flavor::Cloud,
        &with_header(vec![parameter(Parameter::Document(document_link()))]),
        &format!("{path}.parameters[0].document"),
        not_media.clone(),
    );
    assert_violation(
        Flavor::Cloud,
        &with_header(vec![template_text("Hi")]),
        &format!("{path}.parameters[0].text"),
        not_media,
    );
    assert_violation(
        Flavor::Cloud,
        &with_header(vec![image_parameter(), image_parameter()]),
        &format!("{path}.parameters"),
        too_many(1, 2),
    );
    assert_violation(
        Flavor::Cloud,
        &carousel_request(vec![proto::TemplateCarouselCard {
            header: None,
            ..card(0)
        }]),
        path,
        Rule::Required,
    );
}

#[test]
fn carousel_card_body_holds_1_to_10_values_of_1024_characters_in_all() {
    let with_body = |parameters: Vec<proto::TemplateParameter>| {
        carousel_request(vec![proto::TemplateCarouselCard {
            body: Some(proto::TemplateBody { parameters }),
            ..card(0)
        }])
    };
    let path = "template.components[1].carousel.cards[0].body.parameters";
    assert_ok(Flavor::Cloud, &with_body(vec![template_text("a"); 10]));
    assert_violation(
        Flavor::Cloud,
        &with_body(vec![template_text("a"); 11]),
        path,
        too_many(10, 11),
    );
    assert_violation(Flavor::Cloud, &with_body(vec![]), path, too_few(1, 0));
    assert_ok(
        Flavor::Cloud,
        &with_body(vec![
            template_text(&rep("😀", 512)),
            template_text(&rep("é", 512)),
        ]),
    );
    assert_violation(
        Flavor::Cloud,
        &with_body(vec![
            template_text(&rep("😀", 512)),
            template_text(&rep("é", 513)),
        ]),
        path,
        too_long(1024, 1025),
    );
    assert_violation(
        Flavor::Cloud,
        &with_body(vec![image_parameter()]),
        &format!("{path}[0].image"),
        Rule::NotAllowed("media parameters belong in the header component"),
    );
}

#[test]
fn carousel_card_has_at_most_2_quick_reply_or_url_buttons_at_indexes_0_and_1() {
    let with_buttons = |buttons: Vec<(u32, SubType)>| {
        carousel_request(vec![proto::TemplateCarouselCard {
            buttons: buttons
                .into_iter()
                .map(|(index, sub_type)| proto::TemplateButton {
                    index,
                    sub_type: Some(sub_type),
                })
                .collect(),
            ..card(0)
        }])
    };
    let url = |text: &str| SubType::Url(proto::TemplateUrlButton { text: text.into() });
    let path = "template.components[1].carousel.cards[0].buttons";
    assert_ok(
        Flavor::Cloud,
        &with_buttons(vec![(0, quick_reply("a")), (1, url("b"))]),
    );
    assert_ok(Flavor::Cloud, &with_buttons(vec![]));
    assert_violation(
        Flavor::Cloud,
        &with_buttons(vec![(0, quick_reply("a")), (1, url("b")), (1, url("c"))]),
        path,
        too_many(2, 3),
    );
    assert_violation(
        Flavor::Cloud,
        &with_buttons(vec![(2, quick_reply("a"))]),
        &format!("{path}[0].index"),
        out_of_range("0", "1"),
    );
    assert_violation(
        Flavor::Cloud,
        &with_buttons(vec![(1, quick_reply("a")), (1, quick_reply("b"))]),
        &format!("{path}[1].index"),
        duplicate("buttons[0].index"),
    );
    assert_violation(
        Flavor::Cloud,
        &with_buttons(vec![(0, catalog_button("sku-1"))]),
        &format!("{path}[0].sub_type"),
        Rule::NotAllowed("a carousel card's buttons are quick reply or URL buttons"),
    );
}

#[test]
fn flow_button_token_is_at_most_2048_characters_and_its_data_64_kib() {
    let flow = |flow_token: &str, data: Option<prost_types::Struct>| {
        template_request(|t| {
            t.components = vec![template_button(
                0,
                SubType::Flow(proto::TemplateFlowButton {
                    flow_token: flow_token.into(),
                    flow_action_data: data,
                }),
            )]
        })
    };
    let path = "template.components[0].button.flow";
    assert_violation(Flavor::Cloud, &flow("", None), path, Rule::Empty);
    assert_ok(Flavor::Cloud, &flow("t", None));
    assert_ok(Flavor::Cloud, &flow(&rep("😀", 2048), None));
    assert_violation(
        Flavor::Cloud,
        &flow(&rep("😀", 2049), None),
        &format!("{path}.flow_token"),
        too_long(2048, 2049),
    );
    assert_violation(
        Flavor::Cloud,
        &flow("t", Some(prost_types::Struct::default())),
        &format!("{path}.flow_action_data"),
        Rule::Empty,
    );
    let mut big = prost_types::Struct::default();
    big.fields.insert(
        "k".into(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(rep("a", 65_536))),
        },
    );
    let size = prost::Message::encoded_len(&big);
    assert_violation(
        Flavor::Cloud,
        &flow("t", Some(big)),
        &format!("{path}.flow_action_data"),
        Rule::TooLarge {
            max_bytes: 65_536,
            actual: size,
        },
    );
}

#[test]
fn flow_buttons_data_is_at_most_64_kib_in_all() {
    let data = |n: usize| {
        let mut data = prost_types::Struct::default();
        data.fields.insert(
            "k".into(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue(rep("a", n))),
            },
        );
        data
    };
    let buttons = |sizes: &[usize]| {
        template_request(|t| {
            t.components = sizes
                .iter()
                .enumerate()
                .map(|(index, &n)| {
                    template_button(
                        index as u32,
                        SubType::Flow(proto::TemplateFlowButton {
                            flow_token: String::new(),
                            flow_action_data: Some(data(n)),
                        }),
                    )
                })
                .collect()
        })
    };
    // The longest strings whose data fits: half the bound each, then the rest for the second.
    let size = |n: usize| prost::Message::encoded_len(&data(n));
    let fits = |budget: usize| {
        (0..budget)
            .rev()
            .find(|&n| size(n) <= budget)
            .expect("fits")
    };
    let first = fits(32_768);
    let second = fits(65_536 - size(first));
    assert_ok(Flavor::Cloud, &buttons(&[first, second]));
    assert_violation(
        Flavor::Cloud,
        &buttons(&[first, second + 1]),
        "template.components",
        Rule::TooLarge {
            max_bytes: 65_536,
            actual: size(first) + size(second + 1),
        },
    );
    assert!(size(first) + size(second + 1) > 65_536);
}

#[test]
fn mpm_button_holds_1_to_10_sections_of_at_most_30_products_in_all() {
    let with = |sections: Vec<proto::InteractiveProductSection>| {
        template_request(|t| t.components = vec![template_button(0, mpm(sections))])
    };
    let path = "template.components[0].button.mpm.sections";
    assert_ok(Flavor::Cloud, &with(vec![products_section("", 30)]));
    assert_ok(
        Flavor::Cloud,
        &with(
            (0..10)
                .map(|i| products_section(&format!("S{i}"), 3))
                .collect(),
        ),
    );
    assert_violation(Flavor::Cloud, &with(vec![]), path, too_few(1, 0));
    assert_violation(
        Flavor::Cloud,
        &with(vec![products_section("", 31)]),
        path,
        Rule::TooManyInAll {
            what: "products",
            max: 30,
            actual: 31,
        },
    );
    assert_violation(
        Flavor::Cloud,
        &with(vec![products_section("A", 1), products_section("", 1)]),
        &format!("{path}[1].title"),
        Rule::Required,
    );
    assert_violation(
        Flavor::Cloud,
        &template_request(|t| {
            t.components = vec![template_button(
                0,
                SubType::Mpm(proto::TemplateMultiProductButton {
                    thumbnail_product_retailer_id: rep("a", 101),
                    sections: vec![products_section("", 1)],
                }),
            )]
        }),
        "template.components[0].button.mpm.thumbnail_product_retailer_id",
        too_long(100, 101),
    );
}

#[test]
fn date_time_components_are_in_range_and_sent_on_premises_only() {
    let date_time = |edit: fn(&mut proto::TemplateDateTime)| {
        let mut value = proto::TemplateDateTime {
            fallback_value: "February 25, 1977".into(),
            ..Default::default()
        };
        edit(&mut value);
        template_request(|t| {
            t.components = vec![template_body(vec![parameter(Parameter::DateTime(value))])]
        })
    };
    let path = "template.components[0].body.parameters[0].date_time";
    let ok = date_time(|d| {
        d.day_of_week = proto::TemplateDayOfWeek::Sunday as i32;
        d.year = Some(9999);
        d.month = Some(12);
        d.day_of_month = Some(31);
        d.hour = Some(23);
        d.minute = Some(59);
        d.calendar = proto::TemplateCalendar::SolarHijri as i32;
    });
    assert_ok_both(&ok);
    let cloud =
        serde_json::to_value(translate::send_message(Flavor::Cloud, &ok).expect("valid")).unwrap();
    assert_eq!(
        cloud["template"]["components"][0]["parameters"][0]["date_time"],
        serde_json::json!({"fallback_value": "February 25, 1977"}),
        "the Cloud API takes the fallback value only"
    );
    assert_ok_both(&date_time(|d| {
        d.year = Some(1);
        d.month = Some(1);
        d.day_of_month = Some(1);
        d.hour = Some(0);
        d.minute = Some(0);
    }));
    type Edit = fn(&mut proto::TemplateDateTime);
    let cases: [(Edit, &str, &str, &str); 7] = [
        (|d| d.year = Some(0), "year", "1", "9999"),
        (|d| d.year = Some(10_000), "year", "1", "9999"),
        (|d| d.month = Some(13), "month", "1", "12"),
        (|d| d.month = Some(0), "month", "1", "12"),
        (|d| d.day_of_month = Some(32), "day_of_month", "1", "31"),
        (|d| d.hour = Some(24), "hour", "0", "23"),
        (|d| d.minute = Some(60), "minute", "0", "59"),
    ];
    for (edit, field, min, max) in cases {
        assert_violation_both(
            &date_time(edit),
            &format!("{path}.{field}"),
            out_of_range(min, max),
        );
    }
    assert_violation_both(
        &date_time(|d| d.day_of_week = 8),
        &format!("{path}.day_of_week"),
        Rule::UnknownEnumValue(8),
    );
    assert_violation_both(
        &date_time(|d| d.calendar = 3),
        &format!("{path}.calendar"),
        Rule::UnknownEnumValue(3),
    );
}

// ---------------------------------------------------------------------------------------------
// Cloud-only interactive and audio shapes: call buttons, call permission requests, Flows by name,
// voice notes
// ---------------------------------------------------------------------------------------------

fn voice_call_request(
    edit: impl FnOnce(&mut proto::InteractiveVoiceCall),
) -> proto::SendMessageRequest {
    let mut call = proto::InteractiveVoiceCall {
        body: body("Call us"),
        ..Default::default()
    };
    edit(&mut call);
    request(interactive(Kind::VoiceCall(call)))
}

#[test]
fn cloud_only_interactive_and_audio_shapes_are_refused_on_premises() {
    let flow_by_name = request(interactive(Kind::Flow(proto::InteractiveFlow {
        body: body("Book"),
        flow_token: "t".into(),
        flow_name: "booking".into(),
        flow_cta: "Book!".into(),
        flow_action: proto::InteractiveFlowAction::DataExchange as i32,
        ..Default::default()
    })));
    let cases = [
        (voice_call_request(|_| {}), "interactive.voice_call"),
        (
            request(interactive(Kind::CallPermissionRequest(
                proto::InteractiveCallPermissionRequest {
                    body: body("May we call you?"),
                },
            ))),
            "interactive.call_permission_request",
        ),
        (flow_by_name, "interactive.flow.flow_name"),
        (
            request(Content::Audio(proto::Audio {
                source: Some(proto::audio::Source::Id("media-id".into())),
                voice: true,
                ..Default::default()
            })),
            "audio.voice",
        ),
    ];
    for (request, path) in cases {
        assert_ok(Flavor::Cloud, &request);
        assert_violation(
            Flavor::OnPremises,
            &request,
            path,
            Rule::FlavorOnly(Flavor::Cloud),
        );
    }
}

#[test]
fn voice_call_text_is_at_most_20_characters_ttl_1_to_43200_minutes_payload_512() {
    check_text_limit(
        &TextField {
            path: "interactive.voice_call.display_text",
            flavors: CLOUD,
            build: |text| voice_call_request(|c| c.display_text = text.into()),
        },
        20,
        false,
    );
    check_text_limit(
        &TextField {
            path: "interactive.voice_call.payload",
            flavors: CLOUD,
            build: |payload| voice_call_request(|c| c.payload = payload.into()),
        },
        512,
        false,
    );
    for ttl in [1, 43_200] {
        assert_ok(
            Flavor::Cloud,
            &voice_call_request(|c| c.ttl_minutes = Some(ttl)),
        );
    }
    for ttl in [0, 43_201, u32::MAX] {
        assert_violation(
            Flavor::Cloud,
            &voice_call_request(|c| c.ttl_minutes = Some(ttl)),
            "interactive.voice_call.ttl_minutes",
            out_of_range("1", "43200"),
        );
    }
    assert_violation(
        Flavor::Cloud,
        &voice_call_request(|c| c.body = None),
        "interactive.voice_call.body",
        Rule::Required,
    );
}

#[test]
fn call_permission_request_body_is_optional_and_1_to_1024_characters() {
    let with = |body: Option<proto::InteractiveBody>| {
        request(interactive(Kind::CallPermissionRequest(
            proto::InteractiveCallPermissionRequest { body },
        )))
    };
    // "Although a text body will be optional, you should send one."
    assert_ok(Flavor::Cloud, &with(None));
    assert_ok(Flavor::Cloud, &with(body(&rep("é", 1024))));
    assert_violation(
        Flavor::Cloud,
        &with(body("")),
        "interactive.call_permission_request.body.text",
        Rule::Required,
    );
    assert_violation(
        Flavor::Cloud,
        &with(body(&rep("é", 1025))),
        "interactive.call_permission_request.body.text",
        too_long(1024, 1025),
    );
}

#[test]
fn flow_is_named_by_flow_id_or_flow_name_not_both() {
    let flow = |flow_id: &str, flow_name: &str| {
        request(interactive(Kind::Flow(proto::InteractiveFlow {
            body: body("Book"),
            flow_token: "t".into(),
            flow_id: flow_id.into(),
            flow_name: flow_name.into(),
            flow_cta: "Book!".into(),
            flow_action: proto::InteractiveFlowAction::DataExchange as i32,
            ..Default::default()
        })))
    };
    assert_ok(Flavor::Cloud, &flow("", &rep("é", 256)));
    assert_violation(
        Flavor::Cloud,
        &flow("", &rep("é", 257)),
        "interactive.flow.flow_name",
        too_long(256, 257),
    );
    assert_violation(
        Flavor::Cloud,
        &flow("1234", "booking"),
        "interactive.flow.flow_name",
        Rule::NotAllowed("a Flow is named by flow_id or flow_name, not both"),
    );
    assert_violation_both(&flow("", ""), "interactive.flow.flow_id", Rule::Required);
}

fn carousel_card_image(card_index: u32) -> proto::InteractiveCarouselCard {
    proto::InteractiveCarouselCard {
        card_index,
        header: Some(proto::interactive_carousel_card::Header::Image(image_link())),
        body: body("A card"),
        action: Some(proto::interactive_carousel_card::Action::CtaUrl(
            proto::InteractiveCarouselUrlButton {
                display_text: "Buy now".into(),
                url: "https://example.com/p".into(),
            },
        )),
    }
}

fn media_carousel(cards: Vec<proto::InteractiveCarouselCard>) -> proto::SendMessageRequest {
    request(interactive(Kind::Carousel(proto::InteractiveCarousel {
        body: body("Our latest arrivals"),
        cards,
    })))
}

#[test]
fn media_carousel_holds_2_to_10_cards_at_distinct_indexes_0_to_9() {
    let path = "interactive.carousel.cards";
    assert_ok(
        Flavor::Cloud,
        &media_carousel((0..10).map(carousel_card_image).collect()),
    );
    assert_ok(
        Flavor::Cloud,
        &media_carousel((0..2).map(carousel_card_image).collect()),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![carousel_card_image(0)]),
        path,
        too_few(2, 1),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel((0..11).map(|i| carousel_card_image(i % 10)).collect()),
        path,
        too_many(10, 11),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![carousel_card_image(0), carousel_card_image(10)]),
        "interactive.carousel.cards[1].card_index",
        out_of_range("0", "9"),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![carousel_card_image(4), carousel_card_image(4)]),
        "interactive.carousel.cards[1].card_index",
        duplicate("cards[0].card_index"),
    );
    assert_violation(
        Flavor::OnPremises,
        &media_carousel((0..2).map(carousel_card_image).collect()),
        "interactive.carousel",
        Rule::FlavorOnly(Flavor::Cloud),
    );
}

#[test]
fn media_carousel_cards_share_their_header_type_and_need_header_and_button() {
    let video = proto::InteractiveCarouselCard {
        header: Some(proto::interactive_carousel_card::Header::Video(
            proto::Video {
                source: Some(proto::video::Source::Id("video-id".into())),
                ..Default::default()
            },
        )),
        ..carousel_card_image(1)
    };
    assert_ok(
        Flavor::Cloud,
        &media_carousel(vec![
            proto::InteractiveCarouselCard {
                card_index: 0,
                ..video.clone()
            },
            video.clone(),
        ]),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![carousel_card_image(0), video]),
        "interactive.carousel.cards[1].video",
        Rule::NotAllowed("every card's header is of the same type as the first card's"),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![
            carousel_card_image(0),
            proto::InteractiveCarouselCard {
                header: None,
                ..carousel_card_image(1)
            },
        ]),
        "interactive.carousel.cards[1].header",
        Rule::OneOfRequired("image, video"),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![
            carousel_card_image(0),
            proto::InteractiveCarouselCard {
                action: None,
                ..carousel_card_image(1)
            },
        ]),
        "interactive.carousel.cards[1].action",
        Rule::OneOfRequired("cta_url, quick_replies"),
    );
    assert_violation(
        Flavor::Cloud,
        &request(interactive(Kind::Carousel(proto::InteractiveCarousel {
            body: None,
            cards: (0..2).map(carousel_card_image).collect(),
        }))),
        "interactive.carousel.body",
        Rule::Required,
    );
}

#[test]
fn media_carousel_card_body_is_160_characters_and_its_button_20_and_a_url() {
    let with = |edit: fn(&mut proto::InteractiveCarouselCard)| {
        let mut card = carousel_card_image(1);
        edit(&mut card);
        media_carousel(vec![carousel_card_image(0), card])
    };
    check_text_limit(
        &TextField {
            path: "interactive.carousel.cards[1].body.text",
            flavors: CLOUD,
            build: |text| {
                media_carousel(vec![
                    carousel_card_image(0),
                    proto::InteractiveCarouselCard {
                        body: body(text),
                        ..carousel_card_image(1)
                    },
                ])
            },
        },
        160,
        true,
    );
    assert_ok(Flavor::Cloud, &with(|c| c.body = None));
    check_text_limit(
        &TextField {
            path: "interactive.carousel.cards[1].cta_url.display_text",
            flavors: CLOUD,
            build: |text| {
                media_carousel(vec![
                    carousel_card_image(0),
                    proto::InteractiveCarouselCard {
                        action: Some(proto::interactive_carousel_card::Action::CtaUrl(
                            proto::InteractiveCarouselUrlButton {
                                display_text: text.into(),
                                url: "https://example.com/p".into(),
                            },
                        )),
                        ..carousel_card_image(1)
                    },
                ])
            },
        },
        20,
        true,
    );
    for flavor in CLOUD {
        assert_format(
            *flavor,
            &with(|c| {
                c.action = Some(proto::interactive_carousel_card::Action::CtaUrl(
                    proto::InteractiveCarouselUrlButton {
                        display_text: "Buy".into(),
                        url: "ftp://example.com/p".into(),
                    },
                ))
            }),
            "interactive.carousel.cards[1].cta_url.url",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Recipients: groups and business-scoped user IDs (Cloud API only)
// ---------------------------------------------------------------------------------------------

fn to_group(content: Content) -> proto::SendMessageRequest {
    proto::SendMessageRequest {
        to: "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD".into(),
        recipient_type: proto::RecipientType::Group as i32,
        content: Some(content),
        ..Default::default()
    }
}

const GROUPS_TAKE: &str = "groups take text, media (image, audio, document, video, sticker) and text- or media-based template messages";
const GROUPS_TAKE_NO_COMMERCE: &str =
    "groups take text-based and media-based templates, not commerce messages";

#[test]
fn groups_take_text_media_and_templates_on_the_cloud_api_only() {
    let template = |components: Vec<proto::TemplateComponent>| {
        Content::Template(proto::Template {
            name: "order_update".into(),
            language: language("en_US"),
            components,
            ..Default::default()
        })
    };
    for content in [
        text("Hi all"),
        Content::Image(image_link()),
        Content::Audio(proto::Audio {
            source: Some(proto::audio::Source::Id("audio-id".into())),
            voice: true,
            ..Default::default()
        }),
        Content::Document(document_link()),
        Content::Video(proto::Video {
            source: Some(proto::video::Source::Id("video-id".into())),
            ..Default::default()
        }),
        Content::Sticker(proto::Sticker {
            source: Some(proto::sticker::Source::Id("sticker-id".into())),
            ..Default::default()
        }),
        template(vec![]),
        template(vec![
            template_header(vec![image_parameter()]),
            template_body(vec![template_text("Ana")]),
            template_button(0, quick_reply("yes")),
            template_button(
                1,
                SubType::Url(proto::TemplateUrlButton {
                    text: "order/42".into(),
                }),
            ),
        ]),
    ] {
        let request = to_group(content);
        assert_ok(Flavor::Cloud, &request);
        let refused = check(Flavor::OnPremises, &request).expect_err("On-Premises");
        assert!(
            refused.contains(&fv("recipient_type", Rule::FlavorOnly(Flavor::Cloud))),
            "{refused:#?}"
        );
    }
    // Each kind groups do not take is refused at its own field.
    for (content, field) in [
        (
            contact_request(|_| {}).content.expect("content"),
            "contacts",
        ),
        (Content::Location(proto::Location::default()), "location"),
        (
            Content::Reaction(proto::Reaction {
                message_id: WAMID.into(),
                emoji: "👍".into(),
            }),
            "reaction",
        ),
        (
            voice_call_request(|_| {}).content.expect("content"),
            "interactive",
        ),
        (
            media_carousel((0..2).map(carousel_card_image).collect())
                .content
                .expect("content"),
            "interactive",
        ),
    ] {
        assert_violation(
            Flavor::Cloud,
            &to_group(content),
            field,
            Rule::NotAllowed(GROUPS_TAKE),
        );
    }
    // Commerce templates: catalog and multi-product buttons, product headers.
    let product = proto::TemplateParameter {
        parameter: Some(Parameter::Product(proto::TemplateProduct {
            product_retailer_id: "2lc20305pt".into(),
            catalog_id: "194836987003835".into(),
        })),
        ..Default::default()
    };
    assert_violations(
        Flavor::Cloud,
        &to_group(template(vec![
            template_header(vec![product]),
            template_body(vec![template_text("Ana")]),
            template_button(
                0,
                SubType::Catalog(proto::TemplateCatalogButton {
                    thumbnail_product_retailer_id: "2lc20305pt".into(),
                }),
            ),
            template_button(
                1,
                SubType::Mpm(proto::TemplateMultiProductButton {
                    thumbnail_product_retailer_id: "2lc20305pt".into(),
                    sections: vec![proto::InteractiveProductSection {
                        title: String::new(),
                        product_items: vec![product_item("2lc20305pt")],
                    }],
                }),
            ),
        ])),
        vec![
            fv(
                "template.components[0].header.parameters[0].product",
                Rule::NotAllowed(GROUPS_TAKE_NO_COMMERCE),
            ),
            fv(
                "template.components[2].button.catalog",
                Rule::NotAllowed(GROUPS_TAKE_NO_COMMERCE),
            ),
            fv(
                "template.components[3].button.mpm",
                Rule::NotAllowed(GROUPS_TAKE_NO_COMMERCE),
            ),
        ],
    );
    assert_violation(
        Flavor::Cloud,
        &proto::SendMessageRequest {
            recipient: "US.13491208655302741918".into(),
            ..to_group(text("Hi all"))
        },
        "recipient",
        Rule::NotAllowed("a group is named by its id in to"),
    );
}

#[test]
fn a_business_scoped_user_id_stands_for_to_on_the_cloud_api_only() {
    let with = |to: &str, recipient: &str| proto::SendMessageRequest {
        to: to.into(),
        recipient: recipient.into(),
        content: Some(text("Hi")),
        ..Default::default()
    };
    assert_ok(Flavor::Cloud, &with("", "US.13491208655302741918"));
    assert_ok(Flavor::Cloud, &with(TO, "US.13491208655302741918"));
    assert_ok(Flavor::Cloud, &with("", &rep("é", 256)));
    assert_violation(
        Flavor::Cloud,
        &with("", &rep("é", 257)),
        "recipient",
        too_long(256, 257),
    );
    assert_violation_both(&with("", ""), "to", Rule::Required);
    assert_violation(
        Flavor::OnPremises,
        &with(TO, "US.13491208655302741918"),
        "recipient",
        Rule::FlavorOnly(Flavor::Cloud),
    );
}

#[test]
fn marketing_messages_send_templates_on_the_cloud_api_only() {
    let marketing = |content: Content| proto::SendMessageRequest {
        marketing_messages: Some(proto::MarketingMessages {
            message_activity_sharing: Some(false),
        }),
        ..request(content)
    };
    let template = marketing(Content::Template(proto::Template {
        name: "summer_sale".into(),
        language: language("en_US"),
        ..Default::default()
    }));
    assert_ok(Flavor::Cloud, &template);
    assert_violation(
        Flavor::OnPremises,
        &template,
        "marketing_messages",
        Rule::FlavorOnly(Flavor::Cloud),
    );
    assert_violation(
        Flavor::Cloud,
        &marketing(text("Hi")),
        "marketing_messages",
        Rule::NotAllowed("the Marketing Messages API sends template messages only"),
    );
    assert_violation(
        Flavor::Cloud,
        &proto::SendMessageRequest {
            recipient_type: proto::RecipientType::Group as i32,
            ..template
        },
        "marketing_messages",
        Rule::NotAllowed("the Marketing Messages API sends to individuals only"),
    );
}

fn quick_replies(card_index: u32, ids: &[&str]) -> proto::InteractiveCarouselCard {
    proto::InteractiveCarouselCard {
        action: Some(proto::interactive_carousel_card::Action::QuickReplies(
            proto::InteractiveCarouselQuickReplies {
                buttons: ids
                    .iter()
                    .enumerate()
                    .map(|(j, id)| proto::InteractiveCarouselQuickReply {
                        id: (*id).into(),
                        title: format!("Choice {j}"),
                    })
                    .collect(),
            },
        )),
        ..carousel_card_image(card_index)
    }
}

#[test]
fn media_carousel_quick_replies_are_1_to_3_and_as_many_on_every_card() {
    let path = "interactive.carousel.cards[1].quick_replies.buttons";
    assert_ok(
        Flavor::Cloud,
        &media_carousel(vec![
            quick_replies(0, &["a0", "b0", "c0"]),
            quick_replies(1, &["a1", "b1", "c1"]),
        ]),
    );
    assert_ok(
        Flavor::Cloud,
        &media_carousel(
            (0..10)
                .map(|i| quick_replies(i, &[&format!("card-{i}")]))
                .collect(),
        ),
    );
    assert_violations(
        Flavor::Cloud,
        &media_carousel(vec![quick_replies(0, &[]), quick_replies(1, &[])]),
        vec![
            fv(
                "interactive.carousel.cards[0].quick_replies.buttons",
                too_few(1, 0),
            ),
            fv(path, too_few(1, 0)),
        ],
    );
    let four = |card: u32| {
        let ids: Vec<String> = (0..4).map(|j| format!("{card}-{j}")).collect();
        quick_replies(card, &ids.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_violations(
        Flavor::Cloud,
        &media_carousel(vec![four(0), four(1)]),
        vec![
            fv(
                "interactive.carousel.cards[0].quick_replies.buttons",
                too_many(3, 4),
            ),
            fv(path, too_many(3, 4)),
        ],
    );
    // "Button types and numbers must match across all cards."
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![
            quick_replies(0, &["a0", "b0"]),
            quick_replies(1, &["a1"]),
        ]),
        path,
        Rule::NotAllowed("every card has as many quick-reply buttons as the first card"),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![quick_replies(0, &["a0"]), carousel_card_image(1)]),
        "interactive.carousel.cards[1].cta_url",
        Rule::NotAllowed("every card's buttons are of the same kind as the first card's"),
    );
    assert_violation(
        Flavor::Cloud,
        &media_carousel(vec![carousel_card_image(0), quick_replies(1, &["a1"])]),
        "interactive.carousel.cards[1].quick_replies",
        Rule::NotAllowed("every card's buttons are of the same kind as the first card's"),
    );
    assert_violation(
        Flavor::OnPremises,
        &media_carousel(vec![quick_replies(0, &["a0"]), quick_replies(1, &["a1"])]),
        "interactive.carousel",
        Rule::FlavorOnly(Flavor::Cloud),
    );
}

#[test]
fn media_carousel_quick_reply_ids_are_256_characters_unique_in_the_message_and_titles_20_unique_in_the_card()
 {
    let with = |edit: fn(&mut proto::InteractiveCarouselQuickReply)| {
        let mut card = quick_replies(1, &["a1", "b1"]);
        if let Some(proto::interactive_carousel_card::Action::QuickReplies(replies)) =
            card.action.as_mut()
        {
            edit(&mut replies.buttons[1]);
        }
        media_carousel(vec![quick_replies(0, &["a0", "b0"]), card])
    };
    let button = "interactive.carousel.cards[1].quick_replies.buttons[1]";
    assert_ok(Flavor::Cloud, &with(|b| b.id = rep("é", 256)));
    assert_ok(Flavor::Cloud, &with(|b| b.title = rep("é", 20)));
    assert_violation(
        Flavor::Cloud,
        &with(|b| b.id = rep("é", 257)),
        &format!("{button}.id"),
        too_long(256, 257),
    );
    assert_violation(
        Flavor::Cloud,
        &with(|b| b.title = rep("é", 21)),
        &format!("{button}.title"),
        too_long(20, 21),
    );
    assert_violation(
        Flavor::Cloud,
        &with(|b| b.id.clear()),
        &format!("{button}.id"),
        Rule::Required,
    );
    assert_violation(
        Flavor::Cloud,
        &with(|b| b.title.clear()),
        &format!("{button}.title"),
        Rule::Required,
    );
    assert_violation(
        Flavor::Cloud,
        &with(|b| b.id = " b1".into()),
        &format!("{button}.id"),
        Rule::Padded,
    );
    // The webhook names a tapped button by its id only: ids are unique across all the cards.
    assert_violation(
        Flavor::Cloud,
        &with(|b| b.id = "a0".into()),
        &format!("{button}.id"),
        duplicate("cards[0].quick_replies.buttons[0].id"),
    );
    // Labels repeat from card to card ("Learn more" on each), but not within a card.
    assert_ok(Flavor::Cloud, &with(|b| b.title = "Choice 1".into()));
    assert_violation(
        Flavor::Cloud,
        &with(|b| b.title = "Choice 0".into()),
        &format!("{button}.title"),
        duplicate("quick_replies.buttons[0].title"),
    );
}
