//! The contacts object (`contacts[]`).

use serde::Serialize;

/// A contact card.
#[derive(Clone, Debug, Serialize)]
pub struct Contact<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Email<'a>>,
    pub name: Name<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<Org<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<Url<'a>>,
}

/// `addresses[]`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Address<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<AddressType>,
}

/// `addresses[].type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddressType {
    Home,
    Work,
}

/// `emails[]`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Email<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<EmailType>,
}

/// `emails[].type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EmailType {
    Home,
    Work,
}

/// `name`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Name<'a> {
    pub formatted_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<&'a str>,
}

/// `org`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Org<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
}

/// `phones[]`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Phone<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<PhoneType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<&'a str>,
}

/// `phones[].type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PhoneType {
    Cell,
    Main,
    Iphone,
    Home,
    Work,
}

/// `urls[]`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Url<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<UrlType>,
}

/// `urls[].type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum UrlType {
    Home,
    Work,
}
