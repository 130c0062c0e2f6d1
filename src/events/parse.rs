//! Webhook payloads → typed [`Event`]s: the Cloud API's notification
//! (`entry[].changes[].value`, the business number named by `metadata.phone_number_id`) and the
//! On-Premises API's (`{contacts, messages, statuses, errors}` at the top, the business number
//! named by the URL it was posted to).
//!
//! Tolerant by design: a field of the wrong type reads as absent, an unknown message type becomes
//! [`Unsupported`], an unknown status [`DeliveryStatus::Unspecified`], and every object is kept
//! whole in [`Event::raw`]. Only a body that is not a JSON object, or one carrying more than
//! [`MAX_EVENTS`] events, is refused.

use std::collections::HashMap;

use prost_types::{Struct, Timestamp};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::proto::{
    ApiError, ButtonReplyAnswer, Contact, ContactAddress, ContactAddressType, ContactEmail,
    ContactEmailType, ContactName, ContactOrg, ContactPhone, ContactPhoneType, ContactUrl,
    ContactUrlType, Conversation, DeliveryStatus, Event, FlowAnswer, InboundContacts,
    InboundContext, InboundLocation, InboundMedia, InboundMessage, InboundOrder, InboundReaction,
    InboundText, InteractiveAnswer, ListReplyAnswer, OrderItem, Pricing, Referral, ReferredProduct,
    StatusUpdate, SystemNotice, TemplateButtonReply, Unsupported, event, inbound_message,
    interactive_answer,
};

/// The most events one webhook delivery may carry; the API sends a handful at a time.
pub const MAX_EVENTS: usize = 1000;

/// Ids longer than this are not used in an `event_id` as they are (its digest is).
const MAX_ID_CHARS: usize = 256;

/// Why a payload yields no events.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the body is not a JSON object")]
    NotJson,
    #[error("the body carries more than {MAX_EVENTS} events")]
    TooManyEvents,
}

/// What a payload yielded.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub events: Vec<Event>,
    /// Objects of a Cloud business number no sender is configured for: not stored.
    pub unknown_sender: usize,
    /// Changes of a webhook field other than `messages` (account updates, templates, …): not
    /// events of this model.
    pub other_fields: usize,
}

/// The events of a Cloud API notification; `sender_of` names the sender of a phone number id.
pub fn cloud(
    body: &[u8],
    sender_of: impl Fn(&str) -> Option<String>,
    now: Timestamp,
) -> Result<Parsed, ParseError> {
    let root = object(body)?;
    let mut parsed = Parsed::default();
    for entry in objects(&root, "entry") {
        for change in objects(entry, "changes") {
            let Some(value) = object_at(change, "value") else {
                continue;
            };
            if text(change, "field") != "messages" {
                parsed.other_fields += 1;
                continue;
            }
            let phone_number_id = object_at(value, "metadata")
                .map(|metadata| text(metadata, "phone_number_id"))
                .unwrap_or_default();
            match sender_of(&phone_number_id) {
                Some(sender) => add_value(&mut parsed, value, &sender, &now)?,
                None => parsed.unknown_sender += event_count(value),
            }
        }
    }
    Ok(parsed)
}

/// The events of an On-Premises notification posted for `sender`.
pub fn on_premises(body: &[u8], sender: &str, now: Timestamp) -> Result<Parsed, ParseError> {
    let root = object(body)?;
    let mut parsed = Parsed::default();
    add_value(&mut parsed, &root, sender, &now)?;
    Ok(parsed)
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ParseError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ParseError::NotJson),
    }
}

/// The `messages`, `statuses` and `errors` of one value (a Cloud change's, or an On-Premises
/// payload).
fn add_value(
    parsed: &mut Parsed,
    value: &Map<String, Value>,
    sender: &str,
    now: &Timestamp,
) -> Result<(), ParseError> {
    if parsed.events.len() + event_count(value) > MAX_EVENTS {
        return Err(ParseError::TooManyEvents);
    }
    let profiles: HashMap<String, String> = objects(value, "contacts")
        .map(|contact| {
            let name = object_at(contact, "profile")
                .map(|profile| text(profile, "name"))
                .unwrap_or_default();
            (text(contact, "wa_id"), name)
        })
        .collect();
    let mut push = |id: String, kind: event::Kind, object: &Map<String, Value>| {
        parsed.events.push(Event {
            event_id: id,
            sender: sender.to_owned(),
            event_time: timestamp(object.get("timestamp")),
            receive_time: Some(*now),
            kind: Some(kind),
            raw: Some(to_struct(object)),
        });
    };
    for message in objects(value, "messages") {
        let inbound = inbound_message(message, &profiles);
        let id = event_id("message", &inbound.message_id, message);
        push(id, event::Kind::Message(inbound), message);
    }
    for status in objects(value, "statuses") {
        let update = status_update(status);
        let id = if update.message_id.is_empty() || update.message_id.len() > MAX_ID_CHARS {
            format!("status/{}", digest(status))
        } else {
            format!(
                "status/{}/{}",
                update.message_id,
                truncated(&update.api_status, 64)
            )
        };
        push(id, event::Kind::Status(update), status);
    }
    for error in objects(value, "errors") {
        let id = format!("error/{}", digest(error));
        push(id, event::Kind::Error(api_error(error)), error);
    }
    Ok(())
}

fn inbound_message(
    message: &Map<String, Value>,
    profiles: &HashMap<String, String>,
) -> InboundMessage {
    let from = text(message, "from");
    let kind = text(message, "type");
    let part = |key: &str| object_at(message, key);
    let content = match (kind.as_str(), part(kind.as_str())) {
        ("text", Some(body)) => Some(inbound_message::Content::Text(InboundText {
            body: text(body, "body"),
        })),
        ("image", Some(media)) => Some(inbound_message::Content::Image(inbound_media(media))),
        ("audio", Some(media)) => Some(inbound_message::Content::Audio(inbound_media(media))),
        ("video", Some(media)) => Some(inbound_message::Content::Video(inbound_media(media))),
        ("document", Some(media)) => Some(inbound_message::Content::Document(inbound_media(media))),
        ("sticker", Some(media)) => Some(inbound_message::Content::Sticker(inbound_media(media))),
        ("location", Some(location)) => Some(inbound_message::Content::Location(InboundLocation {
            latitude: number(location, "latitude"),
            longitude: number(location, "longitude"),
            name: text(location, "name"),
            address: text(location, "address"),
            url: text(location, "url"),
        })),
        ("contacts", _) => Some(inbound_message::Content::Contacts(InboundContacts {
            contacts: objects(message, "contacts").map(contact).collect(),
        })),
        ("interactive", Some(interactive)) => Some(inbound_message::Content::Interactive(
            interactive_answer(interactive),
        )),
        ("button", Some(button)) => Some(inbound_message::Content::Button(TemplateButtonReply {
            payload: text(button, "payload"),
            text: text(button, "text"),
        })),
        ("reaction", Some(reaction)) => Some(inbound_message::Content::Reaction(InboundReaction {
            message_id: text(reaction, "message_id"),
            emoji: text(reaction, "emoji"),
        })),
        ("order", Some(order)) => Some(inbound_message::Content::Order(InboundOrder {
            catalog_id: text(order, "catalog_id"),
            text: text(order, "text"),
            product_items: objects(order, "product_items")
                .map(|item| OrderItem {
                    product_retailer_id: text(item, "product_retailer_id"),
                    quantity: integer(item, "quantity"),
                    item_price: number(item, "item_price"),
                    currency: text(item, "currency"),
                })
                .collect(),
        })),
        ("system", Some(system)) => Some(inbound_message::Content::System(SystemNotice {
            r#type: text(system, "type"),
            body: text(system, "body"),
            // Cloud says `wa_id`, On-Premises `new_wa_id`.
            new_wa_id: [text(system, "wa_id"), text(system, "new_wa_id")]
                .into_iter()
                .find(|id| !id.is_empty())
                .unwrap_or_default(),
            customer: text(system, "customer"),
        })),
        _ => None,
    };
    let content = content.or_else(|| {
        let named = part("unsupported")
            .map(|unsupported| text(unsupported, "type"))
            .filter(|named| !named.is_empty());
        Some(inbound_message::Content::Unsupported(Unsupported {
            r#type: named.unwrap_or_else(|| truncated(&kind, 64).to_owned()),
        }))
    });
    InboundMessage {
        message_id: text(message, "id"),
        profile_name: profiles.get(&from).cloned().unwrap_or_default(),
        from,
        r#type: truncated(&kind, 64).to_owned(),
        context: part("context").map(|context| InboundContext {
            message_id: text(context, "id"),
            from: text(context, "from"),
            forwarded: flag(context, "forwarded"),
            frequently_forwarded: flag(context, "frequently_forwarded"),
            referred_product: object_at(context, "referred_product").map(|product| {
                ReferredProduct {
                    catalog_id: text(product, "catalog_id"),
                    product_retailer_id: text(product, "product_retailer_id"),
                }
            }),
        }),
        referral: part("referral").map(|referral| Referral {
            source_url: text(referral, "source_url"),
            source_id: text(referral, "source_id"),
            source_type: text(referral, "source_type"),
            body: text(referral, "body"),
            headline: text(referral, "headline"),
            media_type: text(referral, "media_type"),
            image_url: text(referral, "image_url"),
            video_url: text(referral, "video_url"),
            thumbnail_url: text(referral, "thumbnail_url"),
            ctwa_clid: text(referral, "ctwa_clid"),
            welcome_message_text: object_at(referral, "welcome_message")
                .map(|welcome| text(welcome, "text"))
                .unwrap_or_default(),
        }),
        errors: api_errors(message),
        content,
    }
}

fn inbound_media(media: &Map<String, Value>) -> InboundMedia {
    InboundMedia {
        media_id: text(media, "id"),
        mime_type: text(media, "mime_type"),
        sha256: text(media, "sha256"),
        caption: text(media, "caption"),
        filename: text(media, "filename"),
        voice: flag(media, "voice"),
        animated: flag(media, "animated"),
    }
}

fn interactive_answer(interactive: &Map<String, Value>) -> InteractiveAnswer {
    let kind = text(interactive, "type");
    let part = object_at(interactive, &kind);
    let answer = match (kind.as_str(), part) {
        ("button_reply", Some(reply)) => {
            Some(interactive_answer::Answer::ButtonReply(ButtonReplyAnswer {
                id: text(reply, "id"),
                title: text(reply, "title"),
            }))
        }
        ("list_reply", Some(reply)) => {
            Some(interactive_answer::Answer::ListReply(ListReplyAnswer {
                id: text(reply, "id"),
                title: text(reply, "title"),
                description: text(reply, "description"),
            }))
        }
        ("nfm_reply", Some(reply)) => Some(interactive_answer::Answer::NfmReply(FlowAnswer {
            name: text(reply, "name"),
            body: text(reply, "body"),
            response_json: text(reply, "response_json"),
        })),
        _ => None,
    };
    InteractiveAnswer { answer }
}

fn contact(card: &Map<String, Value>) -> Contact {
    let kind = |object: &Map<String, Value>| text(object, "type").to_ascii_uppercase();
    Contact {
        addresses: objects(card, "addresses")
            .map(|address| ContactAddress {
                street: text(address, "street"),
                city: text(address, "city"),
                state: text(address, "state"),
                zip: text(address, "zip"),
                country: text(address, "country"),
                country_code: text(address, "country_code"),
                r#type: match kind(address).as_str() {
                    "HOME" => ContactAddressType::Home,
                    "WORK" => ContactAddressType::Work,
                    _ => ContactAddressType::Unspecified,
                } as i32,
            })
            .collect(),
        birthday: text(card, "birthday"),
        emails: objects(card, "emails")
            .map(|email| ContactEmail {
                email: text(email, "email"),
                r#type: match kind(email).as_str() {
                    "HOME" => ContactEmailType::Home,
                    "WORK" => ContactEmailType::Work,
                    _ => ContactEmailType::Unspecified,
                } as i32,
            })
            .collect(),
        name: object_at(card, "name").map(|name| ContactName {
            formatted_name: text(name, "formatted_name"),
            first_name: text(name, "first_name"),
            last_name: text(name, "last_name"),
            middle_name: text(name, "middle_name"),
            suffix: text(name, "suffix"),
            prefix: text(name, "prefix"),
        }),
        org: object_at(card, "org").map(|org| ContactOrg {
            company: text(org, "company"),
            department: text(org, "department"),
            title: text(org, "title"),
        }),
        phones: objects(card, "phones")
            .map(|phone| ContactPhone {
                phone: text(phone, "phone"),
                wa_id: text(phone, "wa_id"),
                r#type: match kind(phone).as_str() {
                    "CELL" => ContactPhoneType::Cell,
                    "MAIN" => ContactPhoneType::Main,
                    "IPHONE" => ContactPhoneType::Iphone,
                    "HOME" => ContactPhoneType::Home,
                    "WORK" => ContactPhoneType::Work,
                    _ => ContactPhoneType::Unspecified,
                } as i32,
            })
            .collect(),
        urls: objects(card, "urls")
            .map(|url| ContactUrl {
                url: text(url, "url"),
                r#type: match kind(url).as_str() {
                    "HOME" => ContactUrlType::Home,
                    "WORK" => ContactUrlType::Work,
                    _ => ContactUrlType::Unspecified,
                } as i32,
            })
            .collect(),
    }
}

fn status_update(status: &Map<String, Value>) -> StatusUpdate {
    let api_status = text(status, "status");
    StatusUpdate {
        message_id: text(status, "id"),
        recipient_id: text(status, "recipient_id"),
        status: match api_status.as_str() {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "failed" => DeliveryStatus::Failed,
            "deleted" => DeliveryStatus::Deleted,
            _ => DeliveryStatus::Unspecified,
        } as i32,
        api_status: truncated(&api_status, 64).to_owned(),
        errors: api_errors(status),
        pricing: object_at(status, "pricing").map(|pricing| Pricing {
            billable: flag(pricing, "billable"),
            pricing_model: text(pricing, "pricing_model"),
            category: text(pricing, "category"),
            r#type: text(pricing, "type"),
        }),
        conversation: object_at(status, "conversation").map(|conversation| Conversation {
            id: text(conversation, "id"),
            expiration_time: timestamp(conversation.get("expiration_timestamp")),
            origin_type: object_at(conversation, "origin")
                .map(|origin| text(origin, "type"))
                .unwrap_or_default(),
        }),
        biz_opaque_callback_data: text(status, "biz_opaque_callback_data"),
    }
}

fn api_errors(object: &Map<String, Value>) -> Vec<ApiError> {
    objects(object, "errors").map(api_error).collect()
}

fn api_error(error: &Map<String, Value>) -> ApiError {
    // Cloud nests the details in `error_data`; On-Premises has them at the top.
    let details = object_at(error, "error_data")
        .map(|data| text(data, "details"))
        .filter(|details| !details.is_empty())
        .unwrap_or_else(|| text(error, "details"));
    ApiError {
        code: integer(error, "code"),
        title: text(error, "title"),
        message: text(error, "message"),
        details,
        href: text(error, "href"),
    }
}

/// `{kind}/{id}`, or `{kind}/{digest of the object}` when the id is missing or too long.
fn event_id(kind: &str, id: &str, object: &Map<String, Value>) -> String {
    if id.is_empty() || id.len() > MAX_ID_CHARS {
        format!("{kind}/{}", digest(object))
    } else {
        format!("{kind}/{id}")
    }
}

/// The SHA-256 of an object's JSON (its keys sorted: serde_json's map is ordered), hex.
fn digest(object: &Map<String, Value>) -> String {
    let bytes = serde_json::to_vec(object).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How many events a value (a Cloud change's, or an On-Premises payload) carries: its
/// `messages`, `statuses` and `errors`, objects or not.
fn event_count(value: &Map<String, Value>) -> usize {
    ["messages", "statuses", "errors"]
        .iter()
        .map(|key| array(value, key).len())
        .sum()
}

fn array<'a>(object: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    object
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The objects of an array field; its other items are skipped.
fn objects<'a>(
    object: &'a Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    array(object, key).iter().filter_map(Value::as_object)
}

/// An object field; `None` when absent or of another type.
fn object_at<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    object.get(key).and_then(Value::as_object)
}

/// A string field (a number written as one too); empty when absent or of another type.
fn text(object: &Map<String, Value>, key: &str) -> String {
    match object.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

fn flag(object: &Map<String, Value>, key: &str) -> bool {
    matches!(object.get(key), Some(Value::Bool(true)))
}

/// A number field, also when written as a string.
fn number(object: &Map<String, Value>, key: &str) -> f64 {
    match object.get(key) {
        Some(Value::Number(number)) => number.as_f64().unwrap_or_default(),
        Some(Value::String(text)) => text.trim().parse().unwrap_or_default(),
        _ => 0.0,
    }
}

/// An integer field, also when written as a string.
fn integer(object: &Map<String, Value>, key: &str) -> i64 {
    match object.get(key) {
        Some(Value::Number(number)) => number.as_i64().unwrap_or_default(),
        Some(Value::String(text)) => text.trim().parse().unwrap_or_default(),
        _ => 0,
    }
}

/// Unix seconds, written as a string (Cloud, On-Premises) or a number.
fn timestamp(value: Option<&Value>) -> Option<Timestamp> {
    let seconds = match value? {
        Value::String(text) => text.trim().parse::<i64>().ok()?,
        Value::Number(number) => number.as_i64()?,
        _ => return None,
    };
    // Within what a Timestamp may hold (years 1 to 9999).
    (-62_135_596_800..=253_402_300_799)
        .contains(&seconds)
        .then_some(Timestamp { seconds, nanos: 0 })
}

/// A JSON object as a `google.protobuf.Struct`.
pub fn to_struct(object: &Map<String, Value>) -> Struct {
    Struct {
        fields: object
            .iter()
            .map(|(key, value)| (key.clone(), to_value(value)))
            .collect(),
    }
}

fn to_value(value: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(flag) => Kind::BoolValue(*flag),
        Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        Value::String(text) => Kind::StringValue(text.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Value::Object(object) => Kind::StructValue(to_struct(object)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp {
            seconds: 1_800_000_000,
            nanos: 0,
        }
    }

    fn known(id: &str) -> Option<String> {
        (id == "106540352242922").then(|| "default".to_owned())
    }

    #[test]
    fn anything_but_a_json_object_is_refused() {
        for body in [&b"not json"[..], b"[]", b"\"x\"", b"", b"{"] {
            assert_eq!(cloud(body, known, now()), Err(ParseError::NotJson));
            assert_eq!(
                on_premises(body, "default", now()),
                Err(ParseError::NotJson)
            );
        }
    }

    #[test]
    fn fields_of_the_wrong_type_read_as_absent() {
        let body = br#"{"entry": [1, {"changes": [null, {"field": "messages", "value": {
            "metadata": {"phone_number_id": "106540352242922"},
            "messages": [{"id": 5, "from": ["x"], "type": "text", "text": "not an object",
                          "timestamp": {"x": 1}}]}}]}]}"#;
        let parsed = cloud(body, known, now()).expect("parses");
        let [event] = parsed.events.as_slice() else {
            panic!("one event: {parsed:?}");
        };
        assert_eq!(event.event_id, "message/5");
        assert!(event.event_time.is_none());
        let Some(event::Kind::Message(message)) = &event.kind else {
            panic!("a message: {event:?}");
        };
        assert_eq!(message.from, "");
        assert!(matches!(
            message.content,
            Some(inbound_message::Content::Unsupported(_))
        ));
    }

    #[test]
    fn unknown_business_numbers_and_other_fields_are_counted_not_stored() {
        let body = br#"{"entry": [{"changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "999"},
             "statuses": [{"id": "wamid.a", "status": "sent"}]}},
            {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]}]}"#;
        let parsed = cloud(body, known, now()).expect("parses");
        assert!(parsed.events.is_empty());
        assert_eq!(parsed.unknown_sender, 1);
        assert_eq!(parsed.other_fields, 1);
    }

    #[test]
    fn too_many_events_are_refused() {
        let statuses: Vec<Value> = (0..=MAX_EVENTS)
            .map(|i| serde_json::json!({"id": format!("wamid.{i}"), "status": "sent"}))
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "statuses": statuses })).expect("json");
        assert_eq!(
            on_premises(&body, "default", now()),
            Err(ParseError::TooManyEvents)
        );
    }

    #[test]
    fn errors_are_identified_by_their_digest_and_long_ids_by_theirs() {
        let long = "w".repeat(MAX_ID_CHARS + 1);
        let body = serde_json::to_vec(&serde_json::json!({
            "errors": [{"code": 1014, "title": "Internal error"}],
            "messages": [{"id": long, "type": "text", "text": {"body": "hi"}}],
        }))
        .expect("json");
        let parsed = on_premises(&body, "default", now()).expect("parses");
        let ids: Vec<&str> = parsed.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids[0].starts_with("message/") && ids[0].len() == "message/".len() + 64);
        assert!(ids[1].starts_with("error/") && ids[1].len() == "error/".len() + 64);
        // The same object, the same id.
        let again = on_premises(&body, "default", now()).expect("parses");
        assert_eq!(again.events[1].event_id, parsed.events[1].event_id);
    }
}
