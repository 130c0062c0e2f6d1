//! Interactive messages: each kind's header, body, footer and action limits, the fixed action names,
//! and the Cloud-only kinds.

use prost_types::value::Kind as JsonKind;

use crate::flavor::Flavor;
use crate::proto;
use crate::proto::interactive::Kind;
use crate::proto::interactive_carousel_card::{
    Action as ProtoCardAction, Header as ProtoCardHeader,
};
use crate::proto::interactive_media_header::Kind as ProtoHeader;
use crate::proto::interactive_reply_button::Button as ProtoButton;
use crate::validate::{Path, Rule, Validator, duplicates, limits};
use crate::wire::interactive::{
    Body, ButtonAction, CallPermissionRequestAction, CallPermissionRequestName,
    CatalogMessageAction, CatalogMessageName, CatalogMessageParameters, CtaUrlAction, CtaUrlName,
    CtaUrlParameters, FlowAction, FlowActionKind, FlowActionPayload, FlowMode, FlowName,
    FlowParameters, Footer, Header, Interactive, ListAction, ListSection, LocationRequestAction,
    LocationRequestName, ProductAction, ProductItem, ProductListAction, ProductSection, Reply,
    ReplyButton, Row, VoiceCallAction, VoiceCallName, VoiceCallParameters,
};
use crate::wire::interactive::{
    CarouselAction, CarouselButton, CarouselCard, CarouselCardAction, CarouselCardType,
};
use crate::wire::json::JsonObject;

use super::media::{self, Place};
use super::{card_index, non_empty};

pub(super) fn interactive<'a>(
    v: &mut Validator,
    path: Path<'_>,
    interactive: &'a proto::Interactive,
) -> Option<Interactive<'a>> {
    let kind = v.one_of(
        path.field("kind"),
        interactive.kind.as_ref(),
        "list, button, product, product_list, catalog_message, flow, cta_url, location_request_message, voice_call, call_permission_request, carousel",
    )?;
    match kind {
        Kind::List(list) => self::list(v, path.field("list"), list),
        Kind::Button(button) => self::button(v, path.field("button"), button),
        Kind::Product(product) => self::product(v, path.field("product"), product),
        Kind::ProductList(list) => self::product_list(v, path.field("product_list"), list),
        Kind::CatalogMessage(catalog) => {
            self::catalog_message(v, path.field("catalog_message"), catalog)
        }
        Kind::Flow(flow) => self::flow(v, path.field("flow"), flow),
        Kind::CtaUrl(cta_url) => {
            let path = path.field("cta_url");
            v.only_on(path, Flavor::Cloud);
            self::cta_url(v, path, cta_url)
        }
        Kind::LocationRequestMessage(request) => {
            let path = path.field("location_request_message");
            v.only_on(path, Flavor::Cloud);
            let body = body(v, path.field("body"), request.body.as_ref());
            Some(Interactive::LocationRequestMessage {
                body: body?,
                action: LocationRequestAction {
                    name: LocationRequestName::SendLocation,
                },
            })
        }
        Kind::VoiceCall(call) => {
            let path = path.field("voice_call");
            v.only_on(path, Flavor::Cloud);
            self::voice_call(v, path, call)
        }
        Kind::Carousel(carousel) => {
            let path = path.field("carousel");
            v.only_on(path, Flavor::Cloud);
            self::carousel(v, path, carousel)
        }
        Kind::CallPermissionRequest(request) => {
            let path = path.field("call_permission_request");
            v.only_on(path, Flavor::Cloud);
            // "Although a text body will be optional, you should send one."
            let body = request
                .body
                .as_ref()
                .map(|body| body_text(v, path.field("body"), body));
            Some(Interactive::CallPermissionRequest {
                body,
                action: CallPermissionRequestAction {
                    name: CallPermissionRequestName::CallPermissionRequest,
                },
            })
        }
    }
}

/// A media carousel: a body and 2 to 10 cards at distinct indexes, all with the same header type.
fn carousel<'a>(
    v: &mut Validator,
    path: Path<'_>,
    carousel: &'a proto::InteractiveCarousel,
) -> Option<Interactive<'a>> {
    let body = body(v, path.field("body"), carousel.body.as_ref());
    let cards_path = path.field("cards");
    let walked = v.bounded(
        cards_path,
        &carousel.cards,
        limits::CAROUSEL_CARDS_MIN,
        limits::CAROUSEL_CARDS_MAX,
    );
    let mut indexes: Vec<(u32, usize)> = Vec::with_capacity(walked.len());
    // Whether the first card's header is an image: every other card's must be of its type.
    let mut first_is_image: Option<bool> = None;
    // The first card's buttons: every other card's must be of their kind and number.
    let mut first_buttons: Option<CardButtons> = None;
    // Each quick-reply id walked, with its card and button: ids are unique within the message.
    let mut quick_reply_ids: Vec<(&'a str, usize, usize)> = Vec::new();
    let mut cards = Vec::with_capacity(walked.len());
    for (i, card) in walked.iter().enumerate() {
        let path = cards_path.index(i);
        card_index(
            v,
            path.field("card_index"),
            card.card_index,
            limits::CAROUSEL_CARD_INDEX_MAX,
            i,
            &mut indexes,
        );
        let header = v
            .one_of(path.field("header"), card.header.as_ref(), "image, video")
            .and_then(|header| {
                let image = matches!(header, ProtoCardHeader::Image(_));
                match first_is_image {
                    None => first_is_image = Some(image),
                    Some(first) if first != image => v.violation(
                        path.field(if image { "image" } else { "video" }),
                        Rule::NotAllowed(
                            "every card's header is of the same type as the first card's",
                        ),
                    ),
                    Some(_) => {}
                }
                Some(match header {
                    ProtoCardHeader::Image(image) => Header::Image {
                        image: media::image(v, path.field("image"), image, Place::Header)?,
                    },
                    ProtoCardHeader::Video(video) => Header::Video {
                        video: media::video(v, path.field("video"), video, Place::Header)?,
                    },
                })
            });
        let card_body = card.body.as_ref().map(|body| {
            v.required_max_chars(
                path.field("body").field("text"),
                &body.text,
                limits::CAROUSEL_CARD_BODY_MAX,
            );
            Body { text: &body.text }
        });
        let action = v
            .one_of(
                path.field("action"),
                card.action.as_ref(),
                "cta_url, quick_replies",
            )
            .and_then(|action| {
                let kind = CardButtons::of(action);
                match first_buttons {
                    None => first_buttons = Some(kind),
                    Some(first) => first.check(v, path, kind),
                }
                card_action(v, path, i, action, &mut quick_reply_ids)
            });
        if let (Some(header), Some(action)) = (header, action) {
            cards.push(CarouselCard {
                card_index: card.card_index,
                kind: CarouselCardType::CtaUrl,
                header,
                body: card_body,
                action,
            });
        }
    }
    // The webhook names a tapped quick reply by its id only: two equal ids could not be told apart.
    for (repeat, first) in duplicates(quick_reply_ids.iter().map(|(id, ..)| *id)) {
        let (_, card, button) = quick_reply_ids[repeat];
        let (_, first_card, first_button) = quick_reply_ids[first];
        v.violation(
            cards_path
                .index(card)
                .field("quick_replies")
                .field("buttons")
                .index(button)
                .field("id"),
            Rule::Duplicate {
                first: format!("cards[{first_card}].quick_replies.buttons[{first_button}].id"),
            },
        );
    }
    Some(Interactive::Carousel {
        body: body?,
        action: CarouselAction { cards },
    })
}

/// The kind and number of a carousel card's buttons, which every card repeats: "Button types and
/// numbers must match across all cards".
#[derive(Clone, Copy, PartialEq, Eq)]
enum CardButtons {
    Url,
    QuickReplies(usize),
}

impl CardButtons {
    fn of(action: &ProtoCardAction) -> Self {
        match action {
            ProtoCardAction::CtaUrl(_) => CardButtons::Url,
            ProtoCardAction::QuickReplies(replies) => {
                CardButtons::QuickReplies(replies.buttons.len())
            }
        }
    }

    /// Records a violation at the card at `path` when its buttons (`kind`) differ from the first
    /// card's (`self`).
    fn check(self, v: &mut Validator, path: Path<'_>, kind: CardButtons) {
        match (self, kind) {
            (CardButtons::Url, CardButtons::Url) => {}
            (CardButtons::QuickReplies(first), CardButtons::QuickReplies(this)) => {
                if first != this {
                    v.violation(
                        path.field("quick_replies").field("buttons"),
                        Rule::NotAllowed(
                            "every card has as many quick-reply buttons as the first card",
                        ),
                    );
                }
            }
            (_, CardButtons::Url) => v.violation(
                path.field("cta_url"),
                Rule::NotAllowed("every card's buttons are of the same kind as the first card's"),
            ),
            (_, CardButtons::QuickReplies(_)) => v.violation(
                path.field("quick_replies"),
                Rule::NotAllowed("every card's buttons are of the same kind as the first card's"),
            ),
        }
    }
}

/// The URL button or quick-reply buttons of the carousel card at `path`, the `card`th (its
/// quick-reply ids recorded in `ids`, with the card's position and each button's).
fn card_action<'a>(
    v: &mut Validator,
    path: Path<'_>,
    card: usize,
    action: &'a ProtoCardAction,
    ids: &mut Vec<(&'a str, usize, usize)>,
) -> Option<CarouselCardAction<'a>> {
    match action {
        ProtoCardAction::CtaUrl(button) => {
            let path = path.field("cta_url");
            v.required_max_chars(
                path.field("display_text"),
                &button.display_text,
                limits::CTA_URL_DISPLAY_TEXT_MAX,
            );
            let url = path.field("url");
            if v.required(url, &button.url) {
                v.http_url(url, &button.url);
                v.max_chars(url, &button.url, limits::URL_MAX);
            }
            Some(CarouselCardAction::CtaUrl(CtaUrlAction {
                name: CtaUrlName::CtaUrl,
                parameters: CtaUrlParameters {
                    display_text: &button.display_text,
                    url: &button.url,
                },
            }))
        }
        ProtoCardAction::QuickReplies(replies) => {
            let quick_replies = path.field("quick_replies");
            let buttons_path = quick_replies.field("buttons");
            let walked = v.bounded(
                buttons_path,
                &replies.buttons,
                1,
                limits::CAROUSEL_QUICK_REPLIES_MAX,
            );
            let mut buttons = Vec::with_capacity(walked.len());
            for (j, reply) in walked.iter().enumerate() {
                let path = buttons_path.index(j);
                let id = path.field("id");
                if v.required(id, &reply.id) {
                    v.max_chars(id, &reply.id, limits::CAROUSEL_QUICK_REPLY_ID_MAX);
                    v.not_padded(id, &reply.id);
                    ids.push((&reply.id, card, j));
                }
                v.required_max_chars(
                    path.field("title"),
                    &reply.title,
                    limits::CAROUSEL_QUICK_REPLY_TITLE_MAX,
                );
                buttons.push(CarouselButton::QuickReply {
                    quick_reply: Reply {
                        id: &reply.id,
                        title: &reply.title,
                    },
                });
            }
            // Labels are what the customer taps: two equal labels on a card could not be told
            // apart.
            for (repeat, first) in duplicates(walked.iter().map(|r| r.title.as_str())) {
                if walked[repeat].title.is_empty() {
                    continue;
                }
                v.violation(
                    buttons_path.index(repeat).field("title"),
                    Rule::Duplicate {
                        first: format!("quick_replies.buttons[{first}].title"),
                    },
                );
            }
            Some(CarouselCardAction::QuickReplies { buttons })
        }
    }
}

/// A call button: a body, and the button's optional text, time to live and payload.
fn voice_call<'a>(
    v: &mut Validator,
    path: Path<'_>,
    call: &'a proto::InteractiveVoiceCall,
) -> Option<Interactive<'a>> {
    let body = body(v, path.field("body"), call.body.as_ref());
    let display_text = non_empty(&call.display_text).inspect(|text| {
        v.max_chars(
            path.field("display_text"),
            text,
            limits::VOICE_CALL_DISPLAY_TEXT_MAX,
        );
    });
    if let Some(ttl) = call.ttl_minutes
        && !(1..=limits::VOICE_CALL_TTL_MINUTES_MAX).contains(&ttl)
    {
        v.violation(
            path.field("ttl_minutes"),
            Rule::OutOfRange {
                min: "1".into(),
                max: limits::VOICE_CALL_TTL_MINUTES_MAX.to_string(),
            },
        );
    }
    let payload = non_empty(&call.payload).inspect(|payload| {
        v.max_chars(
            path.field("payload"),
            payload,
            limits::VOICE_CALL_PAYLOAD_MAX,
        );
    });
    let parameters = (display_text.is_some() || call.ttl_minutes.is_some() || payload.is_some())
        .then_some(VoiceCallParameters {
            display_text,
            ttl_minutes: call.ttl_minutes,
            payload,
        });
    Some(Interactive::VoiceCall {
        body: body?,
        action: VoiceCallAction {
            name: VoiceCallName::VoiceCall,
            parameters,
        },
    })
}

fn list<'a>(
    v: &mut Validator,
    path: Path<'_>,
    list: &'a proto::InteractiveList,
) -> Option<Interactive<'a>> {
    let header = text_header(v, path.field("header"), list.header.as_ref());
    let body = body(v, path.field("body"), list.body.as_ref());
    let footer = footer(v, path.field("footer"), list.footer.as_ref());
    v.required_max_chars(path.field("button"), &list.button, limits::LIST_BUTTON_MAX);

    let sections_path = path.field("sections");
    let sections = sections(
        v,
        sections_path,
        &list.sections,
        Items {
            field: "rows",
            what: "rows",
            max_in_all: limits::LIST_ROWS_MAX,
            title: |section| &section.title,
            items: |section| &section.rows,
        },
        |v, path, row: &'a proto::InteractiveListRow| {
            v.required_max_chars(path.field("id"), &row.id, limits::ROW_ID_MAX);
            v.required_max_chars(path.field("title"), &row.title, limits::ROW_TITLE_MAX);
            v.max_chars(
                path.field("description"),
                &row.description,
                limits::ROW_DESCRIPTION_MAX,
            );
            Row {
                id: &row.id,
                title: &row.title,
                description: non_empty(&row.description),
            }
        },
    )
    .map(|(title, rows)| ListSection { title, rows })
    .collect::<Vec<_>>();
    // Row ids come back in the webhook: two equal ids could not be told apart. Only the rows the
    // sections walked are compared (at most the limit across all sections).
    let positions: Vec<(usize, usize)> = sections
        .iter()
        .enumerate()
        .flat_map(|(i, section)| (0..section.rows.len()).map(move |j| (i, j)))
        .collect();
    let ids = sections.iter().flat_map(|s| s.rows.iter().map(|r| r.id));
    for (repeat, first) in duplicates(ids) {
        let (i, j) = positions[repeat];
        let (fi, fj) = positions[first];
        v.violation(
            sections_path.index(i).field("rows").index(j).field("id"),
            Rule::Duplicate {
                first: format!("sections[{fi}].rows[{fj}].id"),
            },
        );
    }

    Some(Interactive::List {
        header,
        body: body?,
        footer,
        action: ListAction {
            button: &list.button,
            sections,
        },
    })
}

fn button<'a>(
    v: &mut Validator,
    path: Path<'_>,
    button: &'a proto::InteractiveButton,
) -> Option<Interactive<'a>> {
    let header = button
        .header
        .as_ref()
        .and_then(|header| media_header(v, path.field("header"), header));
    let body = body(v, path.field("body"), button.body.as_ref());
    let footer = footer(v, path.field("footer"), button.footer.as_ref());

    let buttons_path = path.field("buttons");
    let walked = v.bounded(buttons_path, &button.buttons, 1, limits::REPLY_BUTTONS_MAX);
    let buttons: Vec<Option<ReplyButton<'a>>> = walked
        .iter()
        .enumerate()
        .map(|(i, button)| {
            let path = buttons_path.index(i);
            let ProtoButton::Reply(reply) =
                v.one_of(path.field("button"), button.button.as_ref(), "reply")?;
            let path = path.field("reply");
            let id = path.field("id");
            if v.required(id, &reply.id) {
                v.max_chars(id, &reply.id, limits::REPLY_ID_MAX);
                v.not_padded(id, &reply.id);
            }
            v.required_max_chars(path.field("title"), &reply.title, limits::REPLY_TITLE_MAX);
            Some(ReplyButton::Reply {
                reply: Reply {
                    id: &reply.id,
                    title: &reply.title,
                },
            })
        })
        .collect();
    // Ids come back in the webhook and titles are what the customer taps: both must be unique.
    // An unset button holds neither, so it stands for an empty value (never a duplicate).
    let replies = || {
        walked
            .iter()
            .map(|b| b.button.as_ref().map(|ProtoButton::Reply(reply)| reply))
    };
    let ids = duplicates(replies().map(|r| r.map_or("", |r| r.id.as_str())));
    let titles = duplicates(replies().map(|r| r.map_or("", |r| r.title.as_str())));
    for (field, repeats) in [("id", ids), ("title", titles)] {
        for (repeat, first) in repeats {
            v.violation(
                buttons_path.index(repeat).field("reply").field(field),
                Rule::Duplicate {
                    first: format!("buttons[{first}].reply.{field}"),
                },
            );
        }
    }

    Some(Interactive::Button {
        header,
        body: body?,
        footer,
        action: ButtonAction {
            buttons: buttons.into_iter().collect::<Option<_>>()?,
        },
    })
}

fn product<'a>(
    v: &mut Validator,
    path: Path<'_>,
    product: &'a proto::InteractiveProduct,
) -> Option<Interactive<'a>> {
    let body = product
        .body
        .as_ref()
        .map(|body| body_text(v, path.field("body"), body));
    let footer = footer(v, path.field("footer"), product.footer.as_ref());
    v.required_text(path.field("catalog_id"), &product.catalog_id);
    v.required_max_chars(
        path.field("product_retailer_id"),
        &product.product_retailer_id,
        limits::PRODUCT_RETAILER_ID_MAX,
    );
    Some(Interactive::Product {
        body,
        footer,
        action: ProductAction {
            catalog_id: &product.catalog_id,
            product_retailer_id: &product.product_retailer_id,
        },
    })
}

fn product_list<'a>(
    v: &mut Validator,
    path: Path<'_>,
    list: &'a proto::InteractiveProductList,
) -> Option<Interactive<'a>> {
    let header_path = path.field("header");
    let header = v
        .present(header_path, list.header.as_ref())
        .and_then(|header| text_header(v, header_path, Some(header)));
    let body = body(v, path.field("body"), list.body.as_ref());
    let footer = footer(v, path.field("footer"), list.footer.as_ref());
    v.required_text(path.field("catalog_id"), &list.catalog_id);

    let sections = product_sections(v, path.field("sections"), &list.sections);

    Some(Interactive::ProductList {
        header: header?,
        body: body?,
        footer,
        action: ProductListAction {
            catalog_id: &list.catalog_id,
            sections,
        },
    })
}

/// The product sections of a multi-product message (or a multi-product template button).
pub(super) fn product_sections<'a>(
    v: &mut Validator,
    path: Path<'_>,
    sections: &'a [proto::InteractiveProductSection],
) -> Vec<ProductSection<'a>> {
    self::sections(
        v,
        path,
        sections,
        Items {
            field: "product_items",
            what: "products",
            max_in_all: limits::PRODUCTS_MAX,
            title: |section| &section.title,
            items: |section| &section.product_items,
        },
        |v, path, item: &'a proto::InteractiveProductItem| {
            v.required_max_chars(
                path.field("product_retailer_id"),
                &item.product_retailer_id,
                limits::PRODUCT_RETAILER_ID_MAX,
            );
            ProductItem {
                product_retailer_id: &item.product_retailer_id,
            }
        },
    )
    .map(|(title, product_items)| ProductSection {
        title,
        product_items,
    })
    .collect()
}

fn catalog_message<'a>(
    v: &mut Validator,
    path: Path<'_>,
    catalog: &'a proto::InteractiveCatalogMessage,
) -> Option<Interactive<'a>> {
    let body = body(v, path.field("body"), catalog.body.as_ref());
    let footer = footer(v, path.field("footer"), catalog.footer.as_ref());
    let parameters = non_empty(&catalog.thumbnail_product_retailer_id).map(|thumbnail| {
        v.max_chars(
            path.field("thumbnail_product_retailer_id"),
            thumbnail,
            limits::PRODUCT_RETAILER_ID_MAX,
        );
        CatalogMessageParameters {
            thumbnail_product_retailer_id: thumbnail,
        }
    });
    Some(Interactive::CatalogMessage {
        body: body?,
        footer,
        action: CatalogMessageAction {
            name: CatalogMessageName::CatalogMessage,
            parameters,
        },
    })
}

fn flow<'a>(
    v: &mut Validator,
    path: Path<'_>,
    flow: &'a proto::InteractiveFlow,
) -> Option<Interactive<'a>> {
    let header = text_header(v, path.field("header"), flow.header.as_ref());
    let body = body(v, path.field("body"), flow.body.as_ref());
    let footer = footer(v, path.field("footer"), flow.footer.as_ref());

    let mode = v
        .known_enum::<proto::InteractiveFlowMode>(path.field("mode"), flow.mode)
        .map(|mode| match mode {
            proto::InteractiveFlowMode::Unspecified => None,
            proto::InteractiveFlowMode::Draft => Some(FlowMode::Draft),
            proto::InteractiveFlowMode::Published => Some(FlowMode::Published),
        });
    let flow_message_version = match flow.flow_message_version.as_str() {
        "" => limits::FLOW_MESSAGE_VERSION,
        version => {
            if version != limits::FLOW_MESSAGE_VERSION {
                v.violation(
                    path.field("flow_message_version"),
                    Rule::MustEqual(limits::FLOW_MESSAGE_VERSION),
                );
            }
            version
        }
    };
    v.required_max_chars(
        path.field("flow_token"),
        &flow.flow_token,
        limits::OPAQUE_TEXT_MAX,
    );
    // The Flow by its id or (Cloud) by its name: exactly one.
    let flow_name = non_empty(&flow.flow_name).inspect(|name| {
        let name_path = path.field("flow_name");
        v.only_on(name_path, Flavor::Cloud);
        v.text(name_path, name);
        if !flow.flow_id.is_empty() {
            v.violation(
                name_path,
                Rule::NotAllowed("a Flow is named by flow_id or flow_name, not both"),
            );
        }
    });
    if flow_name.is_none() {
        v.required_text(path.field("flow_id"), &flow.flow_id);
    }
    let cta = path.field("flow_cta");
    if v.required(cta, &flow.flow_cta) {
        v.max_chars(cta, &flow.flow_cta, limits::FLOW_CTA_MAX);
        v.no_emoji(cta, &flow.flow_cta);
    }

    let flow_action = v
        .known_enum::<proto::InteractiveFlowAction>(path.field("flow_action"), flow.flow_action)
        .map(|action| match action {
            proto::InteractiveFlowAction::Unspecified => None,
            proto::InteractiveFlowAction::Navigate => Some(FlowActionKind::Navigate),
            proto::InteractiveFlowAction::DataExchange => Some(FlowActionKind::DataExchange),
        });
    let payload_path = path.field("flow_action_payload");
    let navigates = !matches!(flow_action, Some(Some(FlowActionKind::DataExchange)));
    let flow_action_payload = match (flow.flow_action_payload.as_ref(), navigates) {
        (Some(payload), true) => Some(self::flow_action_payload(v, payload_path, payload)),
        (Some(_), false) => {
            v.violation(
                payload_path,
                Rule::NotAllowed("with data_exchange the endpoint provides the first screen"),
            );
            None
        }
        (None, true) => {
            // `navigate` is the API's default: it needs the screen to open.
            v.violation(payload_path, Rule::Required);
            None
        }
        (None, false) => None,
    };

    Some(Interactive::Flow {
        header,
        body: body?,
        footer,
        action: FlowAction {
            name: FlowName::Flow,
            parameters: FlowParameters {
                mode: mode?,
                flow_message_version,
                flow_token: &flow.flow_token,
                flow_id: non_empty(&flow.flow_id),
                flow_name,
                flow_cta: &flow.flow_cta,
                flow_action: flow_action?,
                flow_action_payload,
            },
        },
    })
}

fn flow_action_payload<'a>(
    v: &mut Validator,
    path: Path<'_>,
    payload: &'a proto::InteractiveFlowActionPayload,
) -> FlowActionPayload<'a> {
    v.required_text(path.field("screen"), &payload.screen);
    let data = payload
        .data
        .as_ref()
        .map(|data| flow_data(v, path.field("data"), data));
    FlowActionPayload {
        screen: &payload.screen,
        data,
    }
}

/// Data for a Flow's first screen: not empty, at most [`limits::FLOW_DATA_MAX_BYTES`] encoded,
/// numbers finite.
pub(super) fn flow_data<'a>(
    v: &mut Validator,
    path: Path<'_>,
    data: &'a prost_types::Struct,
) -> JsonObject<'a> {
    if data.fields.is_empty() {
        v.violation(path, Rule::Empty);
    }
    let size = prost::Message::encoded_len(data);
    if size > limits::FLOW_DATA_MAX_BYTES {
        v.violation(
            path,
            Rule::TooLarge {
                max_bytes: limits::FLOW_DATA_MAX_BYTES,
                actual: size,
            },
        );
    }
    if !all_numbers_finite(data) {
        v.violation(path, Rule::Format("JSON: numbers must be finite"));
    }
    JsonObject(data)
}

/// Whether every number in `object`, however deep, is finite (JSON has no NaN or infinity).
fn all_numbers_finite(object: &prost_types::Struct) -> bool {
    fn finite(value: &prost_types::Value) -> bool {
        match &value.kind {
            Some(JsonKind::NumberValue(n)) => n.is_finite(),
            Some(JsonKind::StructValue(object)) => all_numbers_finite(object),
            Some(JsonKind::ListValue(list)) => list.values.iter().all(finite),
            _ => true,
        }
    }
    object.fields.values().all(finite)
}

fn cta_url<'a>(
    v: &mut Validator,
    path: Path<'_>,
    cta_url: &'a proto::InteractiveCtaUrl,
) -> Option<Interactive<'a>> {
    let header = cta_url
        .header
        .as_ref()
        .and_then(|header| media_header(v, path.field("header"), header));
    let body = body(v, path.field("body"), cta_url.body.as_ref());
    let footer = footer(v, path.field("footer"), cta_url.footer.as_ref());
    v.required_max_chars(
        path.field("display_text"),
        &cta_url.display_text,
        limits::CTA_URL_DISPLAY_TEXT_MAX,
    );
    let url = path.field("url");
    if v.required(url, &cta_url.url) {
        v.http_url(url, &cta_url.url);
        v.max_chars(url, &cta_url.url, limits::URL_MAX);
    }
    Some(Interactive::CtaUrl {
        header,
        body: body?,
        footer,
        action: CtaUrlAction {
            name: CtaUrlName::CtaUrl,
            parameters: CtaUrlParameters {
                display_text: &cta_url.display_text,
                url: &cta_url.url,
            },
        },
    })
}

/// An optional text header: required non-empty text of at most 60 characters when present.
fn text_header<'a>(
    v: &mut Validator,
    path: Path<'_>,
    header: Option<&'a proto::InteractiveTextHeader>,
) -> Option<Header<'a>> {
    let header = header?;
    v.required_max_chars(
        path.field("text"),
        &header.text,
        limits::INTERACTIVE_HEADER_TEXT_MAX,
    );
    Some(Header::Text { text: &header.text })
}

/// A header that is text or media. Media headers take no caption.
fn media_header<'a>(
    v: &mut Validator,
    path: Path<'_>,
    header: &'a proto::InteractiveMediaHeader,
) -> Option<Header<'a>> {
    let header = v.one_of(
        path.field("kind"),
        header.kind.as_ref(),
        "text, image, video, document",
    )?;
    Some(match header {
        ProtoHeader::Text(text) => {
            v.required_max_chars(
                path.field("text"),
                text,
                limits::INTERACTIVE_HEADER_TEXT_MAX,
            );
            Header::Text { text }
        }
        ProtoHeader::Image(image) => Header::Image {
            image: media::image(v, path.field("image"), image, Place::Header)?,
        },
        ProtoHeader::Video(video) => Header::Video {
            video: media::video(v, path.field("video"), video, Place::Header)?,
        },
        ProtoHeader::Document(document) => Header::Document {
            document: media::document(v, path.field("document"), document, Place::Header)?,
        },
    })
}

/// A required body.
fn body<'a>(
    v: &mut Validator,
    path: Path<'_>,
    body: Option<&'a proto::InteractiveBody>,
) -> Option<Body<'a>> {
    let body = v.present(path, body)?;
    Some(body_text(v, path, body))
}

fn body_text<'a>(v: &mut Validator, path: Path<'_>, body: &'a proto::InteractiveBody) -> Body<'a> {
    v.required_max_chars(
        path.field("text"),
        &body.text,
        limits::INTERACTIVE_BODY_TEXT_MAX,
    );
    Body { text: &body.text }
}

/// An optional footer: required non-empty text of at most 60 characters when present.
fn footer<'a>(
    v: &mut Validator,
    path: Path<'_>,
    footer: Option<&'a proto::InteractiveFooter>,
) -> Option<Footer<'a>> {
    let footer = footer?;
    v.required_max_chars(
        path.field("text"),
        &footer.text,
        limits::INTERACTIVE_FOOTER_TEXT_MAX,
    );
    Some(Footer { text: &footer.text })
}

/// What the sections of a list or multi-product message hold.
struct Items<S, I> {
    /// The repeated field of a section that holds the items (`rows`, `product_items`).
    field: &'static str,
    /// What the items are called in a violation (`rows`, `products`).
    what: &'static str,
    /// How many items all the sections may hold together.
    max_in_all: usize,
    title: fn(&S) -> &String,
    items: fn(&S) -> &Vec<I>,
}

/// The sections of a list or multi-product message: 1 to 10, each titled in at most 24 characters
/// (required when there is more than one section) and holding at least one item, with at most
/// `max_in_all` items across all of them. Each item is translated by `item`.
///
/// The counts are checked first: the number of sections, then the items across all of them
/// (counted over every section). Only the first 10 sections, and in them only the first
/// `max_in_all` items all together, are walked, so a request far over a limit costs one
/// [`Rule::TooMany`] or [`Rule::TooManyInAll`] and the checks of a bounded number of elements.
fn sections<'a, S, I: 'a, W>(
    v: &mut Validator,
    path: Path<'_>,
    sections: &'a [S],
    items: Items<S, I>,
    mut item: impl FnMut(&mut Validator, Path<'_>, &'a I) -> W,
) -> impl Iterator<Item = (Option<&'a str>, Vec<W>)> {
    let several = sections.len() > 1;
    let walked = v.bounded(path, sections, 1, limits::SECTIONS_MAX);
    // The total is checked before the items are walked, so that it is reported whatever the cap on
    // violations keeps.
    let in_all: usize = sections.iter().map(|s| (items.items)(s).len()).sum();
    if in_all > items.max_in_all {
        v.violation(
            path,
            Rule::TooManyInAll {
                what: items.what,
                max: items.max_in_all,
                actual: in_all,
            },
        );
    }
    let mut budget = items.max_in_all;
    let translated: Vec<_> = walked
        .iter()
        .enumerate()
        .map(|(i, section)| {
            let path = path.index(i);
            let title_path = path.field("title");
            let title = (items.title)(section);
            if several {
                v.required(title_path, title);
            }
            v.max_chars(title_path, title, limits::SECTION_TITLE_MAX);
            let list = (items.items)(section);
            let items_path = path.field(items.field);
            v.count(items_path, list.len(), 1, usize::MAX);
            let walk = &list[..list.len().min(budget)];
            budget -= walk.len();
            let translated = walk
                .iter()
                .enumerate()
                .map(|(j, one)| item(v, items_path.index(j), one))
                .collect();
            (non_empty(title), translated)
        })
        .collect();
    translated.into_iter()
}
