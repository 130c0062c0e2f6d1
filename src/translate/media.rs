//! Media objects: `id` xor `link`, captions where the place and flavor allow them, the On-Premises
//! `provider`.

use crate::flavor::Flavor;
use crate::proto;
use crate::validate::{Path, Rule, Validator, limits};
use crate::wire::media::{Media, MediaSource, Provider};

use super::non_empty;

/// Where a media object appears: captions are shown on media messages only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    /// The message itself (`type: image` and so on).
    Message,
    /// An interactive message's header.
    Header,
    /// A template header parameter.
    TemplateParameter,
}

/// The fields every media kind shares, borrowed from its own proto message.
struct Parts<'a> {
    /// The `source` oneof.
    source: Option<MediaSource<'a>>,
    caption: &'a str,
    filename: &'a str,
    provider: Option<&'a proto::MediaProvider>,
}

macro_rules! source {
    ($media:expr, $module:ident) => {
        $media.source.as_ref().map(|source| match source {
            proto::$module::Source::Id(id) => MediaSource::Id(id),
            proto::$module::Source::Link(link) => MediaSource::Link(link),
        })
    };
}

pub(super) fn image<'a>(
    v: &mut Validator,
    path: Path<'_>,
    image: &'a proto::Image,
    place: Place,
) -> Option<Media<'a>> {
    let parts = Parts {
        source: source!(image, image),
        caption: &image.caption,
        filename: "",
        provider: image.provider.as_ref(),
    };
    media(v, path, parts, place, Kind::Other)
}

pub(super) fn audio<'a>(
    v: &mut Validator,
    path: Path<'_>,
    audio: &'a proto::Audio,
) -> Option<Media<'a>> {
    let parts = Parts {
        source: source!(audio, audio),
        caption: "",
        filename: "",
        provider: audio.provider.as_ref(),
    };
    if audio.voice {
        v.only_on(path.field("voice"), Flavor::Cloud);
    }
    let mut media = media(v, path, parts, Place::Message, Kind::Other)?;
    media.voice = audio.voice.then_some(true);
    Some(media)
}

pub(super) fn document<'a>(
    v: &mut Validator,
    path: Path<'_>,
    document: &'a proto::Document,
    place: Place,
) -> Option<Media<'a>> {
    let parts = Parts {
        source: source!(document, document),
        caption: &document.caption,
        filename: &document.filename,
        provider: document.provider.as_ref(),
    };
    media(v, path, parts, place, Kind::Document)
}

pub(super) fn video<'a>(
    v: &mut Validator,
    path: Path<'_>,
    video: &'a proto::Video,
    place: Place,
) -> Option<Media<'a>> {
    let parts = Parts {
        source: source!(video, video),
        caption: &video.caption,
        filename: "",
        provider: video.provider.as_ref(),
    };
    media(v, path, parts, place, Kind::Other)
}

pub(super) fn sticker<'a>(
    v: &mut Validator,
    path: Path<'_>,
    sticker: &'a proto::Sticker,
) -> Option<Media<'a>> {
    let parts = Parts {
        source: source!(sticker, sticker),
        caption: "",
        filename: "",
        provider: sticker.provider.as_ref(),
    };
    media(v, path, parts, Place::Message, Kind::Other)
}

/// Documents are the one kind whose caption the On-Premises API refuses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Document,
    Other,
}

fn media<'a>(
    v: &mut Validator,
    path: Path<'_>,
    parts: Parts<'a>,
    place: Place,
    kind: Kind,
) -> Option<Media<'a>> {
    let source = v
        .one_of(path.field("source"), parts.source.as_ref(), "id, link")
        .copied();
    match source {
        Some(MediaSource::Id(id)) => {
            v.required_text(path.field("id"), id);
        }
        Some(MediaSource::Link(link)) if v.required(path.field("link"), link) => {
            v.http_url(path.field("link"), link);
            v.max_chars(path.field("link"), link, limits::URL_MAX);
        }
        Some(MediaSource::Link(_)) => {}
        None => {}
    }

    let caption = non_empty(parts.caption);
    if let Some(caption) = caption {
        let caption_path = path.field("caption");
        if place != Place::Message {
            v.violation(
                caption_path,
                Rule::NotAllowed("captions are shown on media messages only, not in a header or a template parameter"),
            );
        } else if kind == Kind::Document {
            v.only_on(caption_path, Flavor::Cloud);
        }
        v.max_chars(caption_path, caption, limits::CAPTION_MAX);
    }

    v.text(path.field("filename"), parts.filename);

    let provider = parts.provider.map(|provider| {
        let provider_path = path.field("provider");
        v.only_on(provider_path, Flavor::OnPremises);
        if let Some(MediaSource::Id(_)) = source {
            v.violation(
                provider_path,
                Rule::NotAllowed("a provider serves a link, and this media is sent by id"),
            );
        }
        v.required_text(provider_path.field("name"), &provider.name);
        Provider {
            name: &provider.name,
        }
    });

    Some(Media {
        source: source?,
        caption,
        filename: non_empty(parts.filename),
        provider,
        voice: None,
    })
}
