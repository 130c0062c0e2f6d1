//! The media object (`image`, `audio`, `document`, `video`, `sticker`).

use serde::Serialize;

/// A media object: an uploaded media `id` or a `link`, with what the media kind allows.
#[derive(Clone, Debug, Serialize)]
pub struct Media<'a> {
    /// `id` or `link`.
    #[serde(flatten)]
    pub source: MediaSource<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<&'a str>,
    /// On-Premises only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider<'a>>,
    /// Audio only, Cloud only: a voice note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<bool>,
}

/// Where the media comes from: exactly one of `id` and `link`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource<'a> {
    /// `"id": "..."`: an uploaded media id.
    Id(&'a str),
    /// `"link": "..."`: an http(s) URL.
    Link(&'a str),
}

/// `provider`: an On-Premises media provider.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Provider<'a> {
    pub name: &'a str,
}
