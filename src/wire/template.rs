//! The template object (`template`).

use serde::Serialize;

use super::interactive::ProductSection;
use super::json::JsonObject;
use super::media::Media;
use super::message::Location;

/// A message template and the values of its variables.
#[derive(Clone, Debug, Serialize)]
pub struct Template<'a> {
    /// On-Premises only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub language: Language<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component<'a>>,
}

/// `language`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Language<'a> {
    pub policy: LanguagePolicy,
    pub code: &'a str,
}

/// `language.policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguagePolicy {
    Deterministic,
}

/// `components[]`, by `type`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Component<'a> {
    Header {
        parameters: Vec<Parameter<'a>>,
    },
    Body {
        parameters: Vec<Parameter<'a>>,
    },
    Button(Button<'a>),
    /// Cloud only: `{"type": "limited_time_offer", "parameters": [{"type": "limited_time_offer", ...}]}`.
    LimitedTimeOffer {
        parameters: [LimitedTimeOfferParameter; 1],
    },
    /// Cloud only: `{"type": "carousel", "cards": [...]}`.
    Carousel {
        cards: Vec<Card<'a>>,
    },
    /// Cloud only: `{"type": "tap_target_configuration", "parameters": [{"type":
    /// "tap_target_configuration", "tap_target_configuration": [{"url": ..., "title": ...}]}]}`.
    TapTargetConfiguration {
        parameters: [TapTargetParameter<'a>; 1],
    },
}

/// A `tap_target_configuration` component's parameter.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TapTargetParameter<'a> {
    TapTargetConfiguration {
        tap_target_configuration: [TapTarget<'a>; 1],
    },
}

/// A tap target's `url` and `title`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TapTarget<'a> {
    pub url: &'a str,
    pub title: &'a str,
}

/// A `limited_time_offer` component's parameter.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LimitedTimeOfferParameter {
    LimitedTimeOffer {
        limited_time_offer: LimitedTimeOffer,
    },
}

/// `limited_time_offer`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LimitedTimeOffer {
    pub expiration_time_ms: i64,
}

/// A carousel's `cards[]`: its index and its own components (header, body, buttons).
#[derive(Clone, Debug, Serialize)]
pub struct Card<'a> {
    pub card_index: u32,
    pub components: Vec<Component<'a>>,
}

/// A `button` component, by `sub_type`; each sub-type takes exactly one parameter of its own kind.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "sub_type", rename_all = "snake_case")]
pub enum Button<'a> {
    QuickReply {
        index: u32,
        parameters: [QuickReplyParameter<'a>; 1],
    },
    Url {
        index: u32,
        parameters: [UrlParameter<'a>; 1],
    },
    CopyCode {
        index: u32,
        parameters: [CopyCodeParameter<'a>; 1],
    },
    /// Without `parameters` when no thumbnail is named (Cloud: the catalog's first item).
    Catalog {
        index: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<[CatalogParameter<'a>; 1]>,
    },
    Flow {
        index: u32,
        parameters: [FlowParameter<'a>; 1],
    },
    Mpm {
        index: u32,
        parameters: [MpmParameter<'a>; 1],
    },
}

/// A `flow` button's parameter: `{"type": "action", "action": {...}}`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowParameter<'a> {
    Action { action: FlowAction<'a> },
}

/// A Flow button's `action`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FlowAction<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_action_data: Option<JsonObject<'a>>,
}

/// An `mpm` button's parameter: `{"type": "action", "action": {...}}`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MpmParameter<'a> {
    Action { action: MpmAction<'a> },
}

/// A multi-product button's `action`.
#[derive(Clone, Debug, Serialize)]
pub struct MpmAction<'a> {
    pub thumbnail_product_retailer_id: &'a str,
    pub sections: Vec<ProductSection<'a>>,
}

/// A `quick_reply` button's parameter: `{"type": "payload", "payload": ...}`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuickReplyParameter<'a> {
    Payload { payload: &'a str },
}

/// A `url` button's parameter: `{"type": "text", "text": ...}`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UrlParameter<'a> {
    Text { text: &'a str },
}

/// A `copy_code` button's parameter: `{"type": "coupon_code", "coupon_code": ...}`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CopyCodeParameter<'a> {
    CouponCode { coupon_code: &'a str },
}

/// A `catalog` button's parameter: `{"type": "action", "action": {...}}`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CatalogParameter<'a> {
    Action { action: CatalogAction<'a> },
}

/// A header or body `parameters[]` element: its value, and the variable's name in a template with
/// named parameters (Cloud only).
#[derive(Clone, Debug, Serialize)]
pub struct Parameter<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_name: Option<&'a str>,
    #[serde(flatten)]
    pub value: Value<'a>,
}

/// A parameter's value, by `type`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value<'a> {
    Text {
        text: &'a str,
    },
    Currency {
        currency: Currency<'a>,
    },
    DateTime {
        date_time: DateTime<'a>,
    },
    Image {
        image: Media<'a>,
    },
    Document {
        document: Media<'a>,
    },
    Video {
        video: Media<'a>,
    },
    /// Cloud only.
    Location {
        location: Location<'a>,
    },
    /// Cloud only.
    Product {
        product: Product<'a>,
    },
}

/// A header's `product`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Product<'a> {
    pub product_retailer_id: &'a str,
    pub catalog_id: &'a str,
}

/// `currency`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Currency<'a> {
    pub fallback_value: &'a str,
    pub code: &'a str,
    pub amount_1000: i64,
}

/// `date_time`: the localizable components are sent to the On-Premises API only.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct DateTime<'a> {
    pub fallback_value: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_of_week: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hour: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar: Option<Calendar>,
}

/// `date_time.calendar`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Calendar {
    Gregorian,
    SolarHijri,
}

/// A catalog button's `action`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CatalogAction<'a> {
    pub thumbnail_product_retailer_id: &'a str,
}
