//! The template object (`template`).

use serde::Serialize;

use super::media::Media;

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
    Header { parameters: Vec<Parameter<'a>> },
    Body { parameters: Vec<Parameter<'a>> },
    Button(Button<'a>),
}

/// A `button` component, by `sub_type`; each sub-type takes exactly one parameter of its own kind.
#[derive(Clone, Copy, Debug, Serialize)]
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
    Catalog {
        index: u32,
        parameters: [CatalogParameter<'a>; 1],
    },
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

/// A header or body `parameters[]` element, by `type`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Parameter<'a> {
    Text { text: &'a str },
    Currency { currency: Currency<'a> },
    DateTime { date_time: DateTime<'a> },
    Image { image: Media<'a> },
    Document { document: Media<'a> },
    Video { video: Media<'a> },
}

/// `currency`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Currency<'a> {
    pub fallback_value: &'a str,
    pub code: &'a str,
    pub amount_1000: i64,
}

/// `date_time`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct DateTime<'a> {
    pub fallback_value: &'a str,
}

/// A catalog button's `action`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CatalogAction<'a> {
    pub thumbnail_product_retailer_id: &'a str,
}
