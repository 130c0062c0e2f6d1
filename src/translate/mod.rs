//! Translation of gRPC requests into the REST bodies of one flavor of the API.
//!
//! Each function checks its part of the request against the rules in [`crate::validate`] while it
//! builds the matching [`crate::wire`] value, so one pass over the request both validates and
//! translates. A part that breaks a rule is recorded and the walk goes on, so the caller learns every
//! violation at once; the body is returned only when there is none.

mod contacts;
mod interactive;
mod media;
mod template;

use crate::flavor::Flavor;
use crate::proto;
use crate::proto::send_message_request::Content;
use crate::validate::{InvalidRequest, Path, Rule, Validator, limits};
use crate::wire::mark_read::{MarkRead, ReadStatus, TypingIndicator, TypingIndicatorType};
use crate::wire::message::{self as msg, MessagingProduct, SendMessage};

/// Validates `request` for `flavor` and translates it into the body of the send call.
pub fn send_message(
    flavor: Flavor,
    request: &proto::SendMessageRequest,
) -> Result<SendMessage<'_>, InvalidRequest> {
    let mut v = Validator::new(flavor);
    let root = Path::ROOT;

    let recipient = non_empty(&request.recipient).inspect(|recipient| {
        let path = root.field("recipient");
        v.only_on(path, Flavor::Cloud);
        v.text(path, recipient);
    });
    // `to` may be left out when a business-scoped user ID names the customer.
    if recipient.is_none() {
        v.required_text(root.field("to"), &request.to);
    } else {
        v.text(root.field("to"), &request.to);
    }
    let recipient_type = recipient_type(&mut v, root.field("recipient_type"), request);
    if recipient_type == Some(msg::RecipientType::Group) {
        if recipient.is_some() {
            v.violation(
                root.field("recipient"),
                crate::validate::Rule::NotAllowed("a group is named by its id in to"),
            );
        }
        if let Some(content) = &request.content {
            group_content(&mut v, root, content);
        }
    } else if flavor == Flavor::Cloud && matches!(request.content, Some(Content::Pin(_))) {
        // On-Premises, `pin` is refused as Cloud-only already.
        v.violation(
            root.field("pin"),
            Rule::NotAllowed(
                "only a group's messages are pinned: set recipient_type to group and to to the group's id",
            ),
        );
    }
    let content = v.one_of(
        root.field("content"),
        request.content.as_ref(),
        "text, image, audio, document, video, sticker, contacts, location, template, interactive, reaction, pin",
    );
    let mut preview_url = None;
    let content =
        content.and_then(|content| self::content(&mut v, root, content, &mut preview_url));
    let context = request.context.as_ref().map(|context| {
        let path = root.field("context");
        v.only_on(path, Flavor::Cloud);
        v.required_text(path.field("message_id"), &context.message_id);
        msg::Context {
            message_id: &context.message_id,
        }
    });
    let biz_opaque_callback_data = non_empty(&request.biz_opaque_callback_data).inspect(|data| {
        let path = root.field("biz_opaque_callback_data");
        v.only_on(path, Flavor::Cloud);
        v.max_chars(path, data, limits::BIZ_OPAQUE_CALLBACK_DATA_MAX);
    });
    if !request.request_id.is_empty() {
        v.uuid(root.field("request_id"), &request.request_id);
    }
    let (endpoint, message_activity_sharing) = match &request.marketing_messages {
        None => (msg::Endpoint::Messages, None),
        Some(marketing) => {
            let path = root.field("marketing_messages");
            v.only_on(path, Flavor::Cloud);
            if recipient_type == Some(msg::RecipientType::Group) {
                v.violation(
                    path,
                    crate::validate::Rule::NotAllowed(
                        "the Marketing Messages API sends to individuals only",
                    ),
                );
            }
            if !matches!(request.content, Some(Content::Template(_)) | None) {
                v.violation(
                    path,
                    crate::validate::Rule::NotAllowed(
                        "the Marketing Messages API sends template messages only",
                    ),
                );
            }
            (
                msg::Endpoint::MarketingMessages,
                marketing.message_activity_sharing,
            )
        }
    };

    let body = match (content, recipient_type) {
        (Some(content), Some(recipient_type)) => Some(SendMessage {
            messaging_product: messaging_product(flavor),
            recipient_type,
            to: non_empty(&request.to),
            recipient,
            context,
            biz_opaque_callback_data,
            preview_url,
            message_activity_sharing,
            endpoint,
            content,
        }),
        _ => None,
    };
    v.finish(body)
}

/// Validates `request` for `flavor` and translates it into the body of the read receipt. On the
/// On-Premises API the message id goes in the path (`PUT /v1/messages/{message_id}`), not the body.
pub fn mark_message_read(
    flavor: Flavor,
    request: &proto::MarkMessageReadRequest,
) -> Result<MarkRead<'_>, InvalidRequest> {
    let mut v = Validator::new(flavor);
    let root = Path::ROOT;
    // On-Premises puts the id in the URL path: it must be one segment, and short.
    v.message_id(root.field("message_id"), &request.message_id);
    let typing_indicator = request.typing_indicator.as_ref().map(|indicator| {
        let path = root.field("typing_indicator");
        v.only_on(path, Flavor::Cloud);
        v.known_enum::<proto::TypingIndicatorType>(path.field("type"), indicator.r#type);
        TypingIndicator {
            kind: TypingIndicatorType::Text,
        }
    });
    let body = match flavor {
        Flavor::OnPremises => MarkRead::OnPremises {
            status: ReadStatus::Read,
        },
        Flavor::Cloud => MarkRead::Cloud {
            messaging_product: MessagingProduct::Whatsapp,
            status: ReadStatus::Read,
            message_id: &request.message_id,
            typing_indicator,
        },
    };
    v.finish(Some(body))
}

/// Refuses what a group does not take, at the member's path. Meta's Groups API takes "text, media,
/// text-based templates, and media-based templates"; it lists calling, authentication templates,
/// commerce and interactive messages as not supported, and contacts, locations and reactions are
/// not among the types it takes. `pin` is for groups only (its docs pin a group's message).
fn group_content(v: &mut Validator, root: Path<'_>, content: &Content) {
    const WHY: &str = "groups take text, media (image, audio, document, video, sticker) and text- or media-based template messages";
    let member = match content {
        Content::Text(_)
        | Content::Image(_)
        | Content::Audio(_)
        | Content::Document(_)
        | Content::Video(_)
        | Content::Sticker(_)
        | Content::Pin(_) => return,
        Content::Template(template) => {
            return template::refuse_commerce_in_group(v, root.field("template"), template);
        }
        Content::Contacts(_) => "contacts",
        Content::Location(_) => "location",
        Content::Interactive(_) => "interactive",
        Content::Reaction(_) => "reaction",
    };
    v.violation(root.field(member), Rule::NotAllowed(WHY));
}

/// `messaging_product`, which only the Cloud API takes.
fn messaging_product(flavor: Flavor) -> Option<MessagingProduct> {
    match flavor {
        Flavor::Cloud => Some(MessagingProduct::Whatsapp),
        Flavor::OnPremises => None,
    }
}

fn recipient_type(
    v: &mut Validator,
    path: Path<'_>,
    request: &proto::SendMessageRequest,
) -> Option<msg::RecipientType> {
    v.known_enum::<proto::RecipientType>(path, request.recipient_type)
        .map(|known| match known {
            proto::RecipientType::Unspecified | proto::RecipientType::Individual => {
                msg::RecipientType::Individual
            }
            proto::RecipientType::Group => {
                v.only_on(path, Flavor::Cloud);
                msg::RecipientType::Group
            }
        })
}

/// The message's content and its `type`. A text's `preview_url` is written into `preview_url` on
/// the On-Premises API, where it sits at the top level of the body.
fn content<'a>(
    v: &mut Validator,
    root: Path<'_>,
    content: &'a Content,
    top_level_preview_url: &mut Option<bool>,
) -> Option<msg::Content<'a>> {
    Some(match content {
        Content::Text(text) => {
            let path = root.field("text");
            v.required_max_chars(path.field("body"), &text.body, limits::TEXT_BODY_MAX);
            let preview_url = text.preview_url.then_some(true);
            let inner_preview_url = match v.flavor() {
                Flavor::Cloud => preview_url,
                Flavor::OnPremises => {
                    *top_level_preview_url = preview_url;
                    None
                }
            };
            msg::Content::Text {
                text: msg::Text {
                    preview_url: inner_preview_url,
                    body: &text.body,
                },
            }
        }
        Content::Image(image) => msg::Content::Image {
            image: media::image(v, root.field("image"), image, media::Place::Message)?,
        },
        Content::Audio(audio) => msg::Content::Audio {
            audio: media::audio(v, root.field("audio"), audio)?,
        },
        Content::Document(document) => msg::Content::Document {
            document: media::document(v, root.field("document"), document, media::Place::Message)?,
        },
        Content::Video(video) => msg::Content::Video {
            video: media::video(v, root.field("video"), video, media::Place::Message)?,
        },
        Content::Sticker(sticker) => msg::Content::Sticker {
            sticker: media::sticker(v, root.field("sticker"), sticker)?,
        },
        Content::Contacts(contacts) => msg::Content::Contacts {
            contacts: contacts::contacts(v, root.field("contacts"), contacts)?,
        },
        Content::Location(location) => msg::Content::Location {
            location: self::location(v, root.field("location"), location),
        },
        Content::Template(template) => msg::Content::Template {
            template: template::template(v, root.field("template"), template)?,
        },
        Content::Interactive(interactive) => msg::Content::Interactive {
            interactive: interactive::interactive(v, root.field("interactive"), interactive)?,
        },
        Content::Reaction(reaction) => {
            let path = root.field("reaction");
            v.only_on(path, Flavor::Cloud);
            v.required_text(path.field("message_id"), &reaction.message_id);
            v.text(path.field("emoji"), &reaction.emoji);
            msg::Content::Reaction {
                reaction: msg::Reaction {
                    message_id: &reaction.message_id,
                    emoji: &reaction.emoji,
                },
            }
        }
        Content::Pin(pin) => msg::Content::Pin {
            pin: self::pin(v, root.field("pin"), pin)?,
        },
    })
}

/// A group's `pin`: which message, and when pinning, for how many days (1 to 30); unpinning takes
/// no `expiration_days`.
fn pin<'a>(v: &mut Validator, path: Path<'_>, pin: &'a proto::Pin) -> Option<msg::Pin<'a>> {
    v.only_on(path, Flavor::Cloud);
    let kind = match v.known_enum::<proto::PinType>(path.field("type"), pin.r#type) {
        Some(proto::PinType::Pin) => Some(msg::PinType::Pin),
        Some(proto::PinType::Unpin) => Some(msg::PinType::Unpin),
        Some(proto::PinType::Unspecified) => {
            v.violation(path.field("type"), Rule::Required);
            None
        }
        None => None,
    };
    v.message_id(path.field("message_id"), &pin.message_id);
    let days = path.field("expiration_days");
    match (kind, pin.expiration_days) {
        (Some(msg::PinType::Pin), None) => v.violation(days, Rule::Required),
        (Some(msg::PinType::Pin), Some(n))
            if !(1..=limits::PIN_EXPIRATION_DAYS_MAX).contains(&n) =>
        {
            v.violation(
                days,
                Rule::OutOfRange {
                    min: "1".into(),
                    max: limits::PIN_EXPIRATION_DAYS_MAX.to_string(),
                },
            )
        }
        (Some(msg::PinType::Unpin), Some(_)) => {
            v.violation(days, Rule::NotAllowed("only pinning takes expiration_days"))
        }
        _ => {}
    }
    Some(msg::Pin {
        kind: kind?,
        message_id: &pin.message_id,
        expiration_days: pin.expiration_days,
    })
}

fn location<'a>(
    v: &mut Validator,
    path: Path<'_>,
    location: &'a proto::Location,
) -> msg::Location<'a> {
    in_range(v, path.field("latitude"), location.latitude, 90.0);
    in_range(v, path.field("longitude"), location.longitude, 180.0);
    v.text(path.field("name"), &location.name);
    v.text(path.field("address"), &location.address);
    msg::Location {
        longitude: location.longitude,
        latitude: location.latitude,
        name: non_empty(&location.name),
        address: non_empty(&location.address),
    }
}

/// Requires a finite number between `-limit` and `limit`.
fn in_range(v: &mut Validator, path: Path<'_>, value: f64, limit: f64) {
    if !(-limit..=limit).contains(&value) {
        v.violation(
            path,
            crate::validate::Rule::OutOfRange {
                min: format!("-{limit}"),
                max: limit.to_string(),
            },
        );
    }
}

/// `Some` for a non-empty string: proto3 has no absent strings, and the API takes an absent field
/// where the caller left one empty.
/// Checks the `card_index` of a carousel's card at `position`: at most `max`, and not the index of
/// an earlier card (`seen` holds each earlier index with its card's position; at most 10 cards).
fn card_index(
    v: &mut Validator,
    path: Path<'_>,
    index: u32,
    max: u32,
    position: usize,
    seen: &mut Vec<(u32, usize)>,
) {
    if index > max {
        v.violation(
            path,
            Rule::OutOfRange {
                min: "0".into(),
                max: max.to_string(),
            },
        );
    }
    match seen.iter().find(|(earlier, _)| *earlier == index) {
        Some((_, first)) => v.violation(
            path,
            Rule::Duplicate {
                first: format!("cards[{first}].card_index"),
            },
        ),
        None => seen.push((index, position)),
    }
}

fn non_empty(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}
