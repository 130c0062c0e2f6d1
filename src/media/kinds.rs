//! The kinds of media the API takes, their MIME types and their size limits, as the Cloud API's
//! "Supported media types" table documents them:
//!
//! | kind     | MIME types                                                      | limit   |
//! |----------|-----------------------------------------------------------------|---------|
//! | audio    | `audio/aac`, `audio/amr`, `audio/mpeg`, `audio/mp4`, `audio/ogg` (OPUS only) | 16 MB |
//! | document | `text/plain`, `application/pdf`, Word, Excel, PowerPoint (old and Office Open XML) | 100 MB |
//! | image    | `image/jpeg`, `image/png`                                      | 5 MB    |
//! | sticker  | `image/webp`                                                    | 100 KB static, 500 KB animated |
//! | video    | `video/mp4`, `video/3gp` (`video/3gpp` too)                     | 16 MB   |
//!
//! The table's MB and KB are read as binary units (MiB, KiB): a file the API may take is never
//! refused here; one the API refuses past the decimal bound is refused by the API.

use crate::proto::MediaKind;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// The most bytes an image may take.
pub const IMAGE_MAX_BYTES: u64 = 5 * MIB;
/// The most bytes audio may take.
pub const AUDIO_MAX_BYTES: u64 = 16 * MIB;
/// The most bytes a video may take.
pub const VIDEO_MAX_BYTES: u64 = 16 * MIB;
/// The most bytes a document may take.
pub const DOCUMENT_MAX_BYTES: u64 = 100 * MIB;
/// The most bytes a static sticker may take.
pub const STATIC_STICKER_MAX_BYTES: u64 = 100 * KIB;
/// The most bytes an animated sticker may take.
pub const ANIMATED_STICKER_MAX_BYTES: u64 = 500 * KIB;

/// The longest MIME type taken.
pub const MIME_TYPE_MAX: usize = 255;

/// Each supported MIME type (lowercase, without parameters) and its kind.
const TYPES: &[(&str, MediaKind)] = &[
    ("image/jpeg", MediaKind::Image),
    ("image/png", MediaKind::Image),
    ("image/webp", MediaKind::Sticker),
    ("audio/aac", MediaKind::Audio),
    ("audio/amr", MediaKind::Audio),
    ("audio/mpeg", MediaKind::Audio),
    ("audio/mp4", MediaKind::Audio),
    ("audio/ogg", MediaKind::Audio),
    ("video/mp4", MediaKind::Video),
    ("video/3gp", MediaKind::Video),
    ("video/3gpp", MediaKind::Video),
    ("text/plain", MediaKind::Document),
    ("application/pdf", MediaKind::Document),
    ("application/msword", MediaKind::Document),
    ("application/vnd.ms-excel", MediaKind::Document),
    ("application/vnd.ms-powerpoint", MediaKind::Document),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        MediaKind::Document,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        MediaKind::Document,
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        MediaKind::Document,
    ),
];

/// The supported types, for messages that list them.
pub const SUPPORTED: &str = "image/jpeg, image/png, image/webp (sticker), audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg, video/mp4, video/3gp, text/plain, application/pdf or an Office document type";

/// The kind of media `mime_type` stands for (its parameters and case ignored), if supported.
pub fn kind_of(mime_type: &str) -> Option<MediaKind> {
    let essence = mime_type.split(';').next().unwrap_or_default().trim();
    TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(essence))
        .map(|&(_, kind)| kind)
}

/// Whether `mime_type` can go in a header as it is: visible ASCII and spaces, a `type/subtype`.
pub fn is_header_safe(mime_type: &str) -> bool {
    mime_type.contains('/') && mime_type.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// The most bytes media of `kind` may take; for a sticker, whether it is animated, if known (the
/// larger bound until then).
pub fn max_bytes(kind: MediaKind, animated: Option<bool>) -> u64 {
    match kind {
        MediaKind::Image => IMAGE_MAX_BYTES,
        MediaKind::Audio => AUDIO_MAX_BYTES,
        MediaKind::Video => VIDEO_MAX_BYTES,
        MediaKind::Document => DOCUMENT_MAX_BYTES,
        MediaKind::Sticker => match animated {
            Some(false) => STATIC_STICKER_MAX_BYTES,
            Some(true) | None => ANIMATED_STICKER_MAX_BYTES,
        },
        // Never built from a MIME type.
        MediaKind::Unspecified => 0,
    }
}

/// How many leading bytes of a WebP file say whether it is animated.
pub const WEBP_HEADER_LEN: usize = 21;

/// Whether a WebP file whose first [`WEBP_HEADER_LEN`] bytes are `header` is animated: an
/// extended file (`VP8X` chunk) with the animation flag. A simple (`VP8 `/`VP8L`) file is static.
pub fn webp_is_animated(header: &[u8]) -> bool {
    header.len() >= WEBP_HEADER_LEN && &header[12..16] == b"VP8X" && header[20] & 0x02 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_mime_type() {
        assert_eq!(kind_of("image/jpeg"), Some(MediaKind::Image));
        assert_eq!(kind_of("IMAGE/PNG"), Some(MediaKind::Image));
        assert_eq!(kind_of("audio/ogg; codecs=opus"), Some(MediaKind::Audio));
        assert_eq!(kind_of("image/webp"), Some(MediaKind::Sticker));
        assert_eq!(kind_of("application/pdf"), Some(MediaKind::Document));
        assert_eq!(kind_of("video/3gpp"), Some(MediaKind::Video));
        assert_eq!(kind_of("image/gif"), None);
        assert_eq!(kind_of(""), None);
    }

    #[test]
    fn limits() {
        assert_eq!(max_bytes(MediaKind::Image, None), 5 * 1024 * 1024);
        assert_eq!(max_bytes(MediaKind::Sticker, Some(false)), 100 * 1024);
        assert_eq!(max_bytes(MediaKind::Sticker, Some(true)), 500 * 1024);
        assert_eq!(max_bytes(MediaKind::Sticker, None), 500 * 1024);
        assert_eq!(max_bytes(MediaKind::Document, None), 100 * 1024 * 1024);
    }

    #[test]
    fn webp_animation_flag() {
        let mut animated = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
        animated.push(0x02);
        assert!(webp_is_animated(&animated));
        let mut still = animated.clone();
        still[20] = 0;
        assert!(!webp_is_animated(&still));
        assert!(!webp_is_animated(b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0"));
        assert!(!webp_is_animated(b"RIFF"));
    }
}
