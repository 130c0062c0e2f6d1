//! The interactive object (`interactive`), by `type`. Each kind holds only the header, body, footer
//! and action it allows, and fixed action names are single-value enums.

use serde::Serialize;

use super::json::JsonObject;
use super::media::Media;

/// An interactive message, by `type`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interactive<'a> {
    List {
        #[serde(skip_serializing_if = "Option::is_none")]
        header: Option<Header<'a>>,
        body: Body<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<Footer<'a>>,
        action: ListAction<'a>,
    },
    Button {
        #[serde(skip_serializing_if = "Option::is_none")]
        header: Option<Header<'a>>,
        body: Body<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<Footer<'a>>,
        action: ButtonAction<'a>,
    },
    Product {
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Body<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<Footer<'a>>,
        action: ProductAction<'a>,
    },
    ProductList {
        header: Header<'a>,
        body: Body<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<Footer<'a>>,
        action: ProductListAction<'a>,
    },
    CatalogMessage {
        body: Body<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<Footer<'a>>,
        action: CatalogMessageAction<'a>,
    },
    Flow {
        #[serde(skip_serializing_if = "Option::is_none")]
        header: Option<Header<'a>>,
        body: Body<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<Footer<'a>>,
        action: FlowAction<'a>,
    },
    CtaUrl {
        #[serde(skip_serializing_if = "Option::is_none")]
        header: Option<Header<'a>>,
        body: Body<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<Footer<'a>>,
        action: CtaUrlAction<'a>,
    },
    LocationRequestMessage {
        body: Body<'a>,
        action: LocationRequestAction,
    },
    VoiceCall {
        body: Body<'a>,
        action: VoiceCallAction<'a>,
    },
    CallPermissionRequest {
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Body<'a>>,
        action: CallPermissionRequestAction,
    },
    Carousel {
        body: Body<'a>,
        action: CarouselAction<'a>,
    },
}

/// `header`, by `type`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Header<'a> {
    Text { text: &'a str },
    Image { image: Media<'a> },
    Video { video: Media<'a> },
    Document { document: Media<'a> },
}

/// `body`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Body<'a> {
    pub text: &'a str,
}

/// `footer`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Footer<'a> {
    pub text: &'a str,
}

/// A list message's `action`.
#[derive(Clone, Debug, Serialize)]
pub struct ListAction<'a> {
    pub button: &'a str,
    pub sections: Vec<ListSection<'a>>,
}

/// `sections[]` of a list message.
#[derive(Clone, Debug, Serialize)]
pub struct ListSection<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub rows: Vec<Row<'a>>,
}

/// `rows[]`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Row<'a> {
    pub id: &'a str,
    pub title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
}

/// A reply-buttons message's `action`.
#[derive(Clone, Debug, Serialize)]
pub struct ButtonAction<'a> {
    pub buttons: Vec<ReplyButton<'a>>,
}

/// `buttons[]`, by `type`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyButton<'a> {
    Reply { reply: Reply<'a> },
}

/// `reply`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Reply<'a> {
    pub id: &'a str,
    pub title: &'a str,
}

/// A single-product message's `action`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ProductAction<'a> {
    pub catalog_id: &'a str,
    pub product_retailer_id: &'a str,
}

/// A multi-product message's `action`.
#[derive(Clone, Debug, Serialize)]
pub struct ProductListAction<'a> {
    pub catalog_id: &'a str,
    pub sections: Vec<ProductSection<'a>>,
}

/// `sections[]` of a multi-product message.
#[derive(Clone, Debug, Serialize)]
pub struct ProductSection<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub product_items: Vec<ProductItem<'a>>,
}

/// `product_items[]`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ProductItem<'a> {
    pub product_retailer_id: &'a str,
}

/// A catalog message's `action`: `name` is always `catalog_message`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CatalogMessageAction<'a> {
    pub name: CatalogMessageName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<CatalogMessageParameters<'a>>,
}

/// The fixed `name` of a catalog message's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogMessageName {
    CatalogMessage,
}

/// A catalog message's `action.parameters`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CatalogMessageParameters<'a> {
    pub thumbnail_product_retailer_id: &'a str,
}

/// A Flows message's `action`: `name` is always `flow`.
#[derive(Clone, Debug, Serialize)]
pub struct FlowAction<'a> {
    pub name: FlowName,
    pub parameters: FlowParameters<'a>,
}

/// The fixed `name` of a Flows message's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowName {
    Flow,
}

/// A Flows message's `action.parameters`.
#[derive(Clone, Debug, Serialize)]
pub struct FlowParameters<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<FlowMode>,
    pub flow_message_version: &'a str,
    pub flow_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<&'a str>,
    /// Cloud only; instead of `flow_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_name: Option<&'a str>,
    pub flow_cta: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_action: Option<FlowActionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_action_payload: Option<FlowActionPayload<'a>>,
}

/// `mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowMode {
    Draft,
    Published,
}

/// `flow_action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowActionKind {
    Navigate,
    DataExchange,
}

/// `flow_action_payload`.
#[derive(Clone, Debug, Serialize)]
pub struct FlowActionPayload<'a> {
    pub screen: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<JsonObject<'a>>,
}

/// A call-to-action URL message's `action`: `name` is always `cta_url`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CtaUrlAction<'a> {
    pub name: CtaUrlName,
    pub parameters: CtaUrlParameters<'a>,
}

/// The fixed `name` of a call-to-action URL message's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CtaUrlName {
    CtaUrl,
}

/// A call-to-action URL message's `action.parameters`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CtaUrlParameters<'a> {
    pub display_text: &'a str,
    pub url: &'a str,
}

/// A location request's `action`: `name` is always `send_location`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LocationRequestAction {
    pub name: LocationRequestName,
}

/// The fixed `name` of a location request's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationRequestName {
    SendLocation,
}

/// A call button's `action`: `name` is always `voice_call`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct VoiceCallAction<'a> {
    pub name: VoiceCallName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<VoiceCallParameters<'a>>,
}

/// The fixed `name` of a call button's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceCallName {
    VoiceCall,
}

/// A call button's `action.parameters`, each optional.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct VoiceCallParameters<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'a str>,
}

/// A call permission request's `action`: `name` is always `call_permission_request`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CallPermissionRequestAction {
    pub name: CallPermissionRequestName,
}

/// The fixed `name` of a call permission request's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPermissionRequestName {
    CallPermissionRequest,
}

/// A media carousel's `action`: its cards.
#[derive(Clone, Debug, Serialize)]
pub struct CarouselAction<'a> {
    pub cards: Vec<CarouselCard<'a>>,
}

/// A media carousel's `cards[]`: an image or video header, an optional body and a URL button or
/// quick-reply buttons.
#[derive(Clone, Debug, Serialize)]
pub struct CarouselCard<'a> {
    pub card_index: u32,
    #[serde(rename = "type")]
    pub kind: CarouselCardType,
    pub header: Header<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Body<'a>>,
    pub action: CarouselCardAction<'a>,
}

/// A carousel card's `type`: Meta's docs write `cta_url` for quick-reply cards too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CarouselCardType {
    CtaUrl,
}

/// A carousel card's `action`: a URL button (`name` and `parameters`) or quick-reply `buttons`.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum CarouselCardAction<'a> {
    CtaUrl(CtaUrlAction<'a>),
    QuickReplies { buttons: Vec<CarouselButton<'a>> },
}

/// A carousel card's `buttons[]`, by `type`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CarouselButton<'a> {
    QuickReply { quick_reply: Reply<'a> },
}
