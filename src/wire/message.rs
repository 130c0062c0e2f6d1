//! The body of `POST /v1/messages` (On-Premises) and `POST /{version}/{phone-number-id}/messages`
//! (Cloud) for a message, with the small objects that have no module of their own.

use serde::Serialize;

use super::contacts::Contact;
use super::interactive::Interactive;
use super::media::Media;
use super::template::Template;

/// A message to send. The `type` tag and the object it names come from [`Content`].
#[derive(Clone, Debug, Serialize)]
pub struct SendMessage<'a> {
    /// Cloud only: always `"whatsapp"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<MessagingProduct>,
    pub recipient_type: RecipientType,
    /// Absent only when `recipient` names the customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<&'a str>,
    /// Cloud only: a business-scoped user ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<&'a str>,
    /// Cloud only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Context<'a>>,
    /// Cloud only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<&'a str>,
    /// On-Premises only: the text preview flag sits at the top level there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
    /// Cloud only, Marketing Messages API only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_activity_sharing: Option<bool>,
    /// Where the body goes; not part of the body.
    #[serde(skip)]
    pub endpoint: Endpoint,
    #[serde(flatten)]
    pub content: Content<'a>,
}

/// The endpoint a message is sent to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Endpoint {
    /// The messages endpoint.
    #[default]
    Messages,
    /// The Cloud API's Marketing Messages API (`/{phone-number-id}/marketing_messages`).
    MarketingMessages,
}

/// `messaging_product` (Cloud only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingProduct {
    Whatsapp,
}

/// `recipient_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientType {
    Individual,
    /// Cloud only.
    Group,
}

/// `context`: the message this one replies to (Cloud only).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Context<'a> {
    pub message_id: &'a str,
}

/// The `type` of the message and the object of that name.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content<'a> {
    Text { text: Text<'a> },
    Image { image: Media<'a> },
    Audio { audio: Media<'a> },
    Document { document: Media<'a> },
    Video { video: Media<'a> },
    Sticker { sticker: Media<'a> },
    Contacts { contacts: Vec<Contact<'a>> },
    Location { location: Location<'a> },
    Template { template: Template<'a> },
    Interactive { interactive: Interactive<'a> },
    Reaction { reaction: Reaction<'a> },
    Pin { pin: Pin<'a> },
}

/// `text`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Text<'a> {
    /// Cloud only: the text preview flag sits inside `text` there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
    pub body: &'a str,
}

/// `location`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Location<'a> {
    pub longitude: f64,
    pub latitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<&'a str>,
}

/// `reaction` (Cloud only). An empty `emoji` removes the reaction.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Reaction<'a> {
    pub message_id: &'a str,
    pub emoji: &'a str,
}

/// `pin` (Cloud only, groups only): pins or unpins a message of the group.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Pin<'a> {
    #[serde(rename = "type")]
    pub kind: PinType,
    pub message_id: &'a str,
    /// Pinning only: 1 to 30 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<u32>,
}

/// `pin.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinType {
    Pin,
    Unpin,
}
