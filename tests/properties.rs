//! Property tests of the translation of gRPC requests into REST bodies.
//!
//! 1. Arbitrary requests, of every content kind and on both flavors, never make the translation (or
//!    the serialization of its body) panic.
//! 2. Whatever passes validation is a body the API would accept, as judged by an independent
//!    checker written below from the API reference's limits (it never calls the crate's validation
//!    code).
//! 3. Translating the same request twice gives byte-identical JSON (or the same violations).
//!
//! The generators run in three modes: *clean*, in which every field stays within the limits (at
//! them at most); *slight*, in which a field steps outside them once in a while, so that a broken
//! request usually breaks a single rule (the case where a forgotten check lets a body through); and
//! *dirty*, in which anything goes. Two fifths of the cases are clean, so the second property has
//! plenty of accepted bodies to check; a deterministic test counts, per content kind, how many
//! generated requests pass validation, so that the property cannot become vacuous unnoticed. Two
//! more tests keep the checker honest: it accepts every conformance fixture, and it refuses
//! fixtures edited to break a rule.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::ops::RangeInclusive;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
use prost_types::value::Kind as JsonKind;
use serde_json::{Map, Value};
use whatsapp_grpc::proto::{
    self, interactive::Kind, interactive_media_header::Kind as HeaderKind,
    interactive_reply_button::Button as ReplyKind, send_message_request::Content,
    template_button::SubType, template_component::Component, template_parameter::Parameter,
};
use whatsapp_grpc::{Flavor, translate};

const FLAVORS: [Flavor; 2] = [Flavor::Cloud, Flavor::OnPremises];

type S<T> = BoxedStrategy<T>;

// ------------------------------------------------------------------------------------------------
// Generators
// ------------------------------------------------------------------------------------------------

/// The generators' mode: how often a field breaks a rule.
#[derive(Clone, Copy, Debug)]
struct G {
    /// 0: never. Otherwise a field breaks a rule about once in `odds + 1` draws.
    odds: u32,
    /// Whether the structural fix-ups run (unique ids, at most 10 rows in all, a name part...).
    fix: bool,
}

/// Every field within the limits (at them at most).
const CLEAN: G = G { odds: 0, fix: true };
/// Mostly valid: a broken request usually breaks one rule only, so a rule the validator forgets
/// lets a broken body through, for the checker to see.
const SLIGHT: G = G {
    odds: 24,
    fix: true,
};
/// Anything goes: many rules broken at once, repeated fields of any size.
const DIRTY: G = G {
    odds: 3,
    fix: false,
};

/// `good` options, and when the mode allows, sometimes one of the `bad` ones (which break a rule).
fn choose<T: Debug + 'static>(g: G, good: Vec<(u32, S<T>)>, bad: Vec<(u32, S<T>)>) -> S<T> {
    let bad: Vec<(u32, S<T>)> = bad.into_iter().filter(|(w, _)| *w > 0).collect();
    if g.odds == 0 || bad.is_empty() {
        pick(good)
    } else {
        pick(vec![(g.odds, pick(good)), (1, pick(bad))])
    }
}

/// Whether to break a structural rule this time (never when clean).
fn breaks(g: G) -> S<bool> {
    choose(g, vec![(1, just(false))], vec![(1, just(true))])
}

/// A weighted choice among the options whose weight is not zero.
fn pick<T: Debug + 'static>(options: Vec<(u32, S<T>)>) -> S<T> {
    let options: Vec<(u32, S<T>)> = options.into_iter().filter(|(w, _)| *w > 0).collect();
    Union::new_weighted(options).boxed()
}

fn just<T: Clone + Debug + 'static>(value: T) -> S<T> {
    Just(value).boxed()
}

fn one_of_values<T: Clone + Debug + 'static>(values: &[T]) -> S<T> {
    select(values.to_vec()).boxed()
}

/// What a string field allows.
#[derive(Clone, Copy, Debug)]
struct Str {
    required: bool,
    max: Option<usize>,
    emoji: bool,
    padded: bool,
}

/// A required string of at most `max` characters.
fn req(max: usize) -> Str {
    Str {
        required: true,
        max: Some(max),
        emoji: true,
        padded: true,
    }
}

/// An optional string of at most `max` characters.
fn opt(max: usize) -> Str {
    Str {
        required: false,
        ..req(max)
    }
}

/// A required string without a documented length limit (the service bounds it at 256 characters).
fn free() -> Str {
    Str {
        max: None,
        ..req(0)
    }
}

impl Str {
    fn optional(self) -> Str {
        Str {
            required: false,
            ..self
        }
    }
    fn no_emoji(self) -> Str {
        Str {
            emoji: false,
            ..self
        }
    }
    fn no_pad(self) -> Str {
        Str {
            padded: false,
            ..self
        }
    }
}

/// Multi-byte letters on purpose (and a combining accent, a character of its own): limits count
/// characters (Unicode scalar values), not bytes or graphemes.
const LETTERS: &[char] = &[
    'a', 'b', 'z', 'Q', '0', '7', '-', '_', '.', 'é', 'ß', 'ж', '中', '\u{301}',
];
const EMOJI: &[char] = &['😀', '👍', '🎉', '🚀'];

fn alphabet(emoji: bool, space: bool) -> Vec<char> {
    let mut chars = LETTERS.to_vec();
    if emoji {
        chars.extend_from_slice(EMOJI);
    }
    if space {
        chars.push(' ');
    }
    chars
}

fn chars(alphabet: Vec<char>, len: RangeInclusive<usize>) -> S<String> {
    vec(select(alphabet), len)
        .prop_map(|chars| chars.into_iter().collect())
        .boxed()
}

/// A string of exactly `n` characters: a short random chunk, repeated.
fn exactly(alphabet: Vec<char>, n: usize) -> S<String> {
    chars(alphabet, 1..=4)
        .prop_map(move |chunk| chunk.chars().cycle().take(n).collect())
        .boxed()
}

/// A string for a field of kind `s`: mostly short, sometimes exactly at the limit, empty, padded
/// with whitespace or whitespace only; when the mode allows, also one character over the limit,
/// empty where required, padded where that is not allowed, or with an emoji where none is allowed.
fn string(g: G, s: Str) -> S<String> {
    let base = alphabet(s.emoji, s.padded);
    let solid = alphabet(s.emoji, false);
    let short_max = s.max.unwrap_or(16).min(16);
    let mut good = vec![(8, chars(base.clone(), 1..=short_max))];
    let mut bad = Vec::new();
    match s.max {
        Some(max) => {
            good.push((2, exactly(base.clone(), max)));
            bad.push((2, exactly(base, max + 1)));
        }
        // Texts without a documented limit are bounded by the service at 256 characters (links and
        // opaque values at 2048): long, but within every bound.
        None => good.push((1, chars(base, 200..=256))),
    }
    if s.required {
        bad.push((2, just(String::new())));
    } else {
        good.push((3, just(String::new())));
    }
    let padded = chars(solid, 1..=short_max - 2)
        .prop_map(|text| format!(" {text}\t"))
        .boxed();
    if s.padded {
        good.push((1, padded));
        good.push((1, just("   ".to_owned())));
    } else {
        bad.push((1, padded));
    }
    if !s.emoji {
        bad.push((1, just("Go 🚀".to_owned())));
    }
    choose(g, good, bad)
}

/// An enum field: one of the `known` values, or sometimes a value the model lacks.
fn enumeration(g: G, known: &[i32]) -> S<i32> {
    let unknown = vec![-1, known.len() as i32, 99, i32::MIN, i32::MAX];
    choose(
        g,
        vec![(1, one_of_values(known))],
        vec![(1, select(unknown).boxed())],
    )
}

/// A required sub-message: present, or sometimes absent.
fn required<T: Clone + Debug + 'static>(g: G, item: S<T>) -> S<Option<T>> {
    choose(
        g,
        vec![(1, item.prop_map(Some).boxed())],
        vec![(1, just(None))],
    )
}

/// An optional sub-message: present or absent.
fn optional<T: Debug + 'static>(item: S<T>) -> S<Option<T>> {
    proptest::option::of(item).boxed()
}

/// A repeated field: `clean` elements, or sometimes `dirty` elements.
fn many<T: Debug + 'static>(
    g: G,
    item: S<T>,
    clean: RangeInclusive<usize>,
    dirty: RangeInclusive<usize>,
) -> S<Vec<T>> {
    choose(
        g,
        vec![(1, vec(item.clone(), clean).boxed())],
        vec![(1, vec(item, dirty).boxed())],
    )
}

/// A latitude (`limit` 90) or longitude (`limit` 180); sometimes NaN, infinite or out of range.
fn coordinate(g: G, limit: f64) -> S<f64> {
    choose(
        g,
        vec![
            (6, (-limit..=limit).boxed()),
            (2, one_of_values(&[limit, -limit, 0.0, -0.0, 1e-300])),
        ],
        vec![(
            1,
            one_of_values(&[
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                limit + 1e-9,
                -limit - 0.5,
                f64::MAX,
                -f64::MAX,
                limit * 2.0,
            ]),
        )],
    )
}

fn url(g: G) -> S<String> {
    choose(
        g,
        vec![(
            4,
            one_of_values(&[
                "https://example.com/cat.jpg",
                "http://example.com",
                "https://user@host:8443/p?q=1#f",
                "HTTPS://EXAMPLE.COM/x",
                "https://例え.jp/ファイル.pdf",
            ])
            .prop_map(String::from)
            .boxed(),
        )],
        vec![(
            1,
            one_of_values(&[
                "",
                "ftp://example.com/x",
                "https://",
                "https:///path",
                "example.com/cat.jpg",
                "https://exa mple.com",
                "http:/example.com",
                " https://example.com",
                "😀",
            ])
            .prop_map(String::from)
            .boxed(),
        )],
    )
}

// --- media ---------------------------------------------------------------------------------------

/// Where a media object appears: captions are allowed on media messages only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Message,
    Inner,
}

#[derive(Clone, Debug)]
enum Source {
    Id(String),
    Link(String),
}

#[derive(Clone, Debug)]
struct MediaParts {
    source: Option<Source>,
    caption: String,
    filename: String,
    provider: Option<proto::MediaProvider>,
}

fn media_parts(g: G, place: Place, document: bool) -> S<MediaParts> {
    let source = pick(vec![
        (4, string(g, free().no_pad()).prop_map(Source::Id).boxed()),
        (4, url(g).prop_map(Source::Link).boxed()),
    ]);
    // Sometimes neither id nor link.
    let source_present = choose(g, vec![(1, just(true))], vec![(1, just(false))]);
    let caption = match place {
        // The On-Premises API refuses document captions: keep most documents without one.
        Place::Message if document => {
            pick(vec![(2, just(String::new())), (1, string(g, opt(1024)))])
        }
        Place::Message => string(g, opt(1024)),
        Place::Inner => choose(
            g,
            vec![(1, just(String::new()))],
            vec![(1, string(g, req(1024)))],
        ),
    };
    let filename = string(g, free().optional());
    let provider = pick(vec![
        (3, just(None)),
        (
            1,
            string(g, free())
                .prop_map(|name| Some(proto::MediaProvider { name }))
                .boxed(),
        ),
    ]);
    (
        source,
        source_present,
        caption,
        filename,
        provider,
        breaks(g),
    )
        .prop_map(
            move |(source, present, caption, filename, mut provider, broken)| {
                // A provider serves a link: media sent by id have none, unless this case breaks
                // that rule.
                if g.fix && !broken && matches!(source, Source::Id(_)) {
                    provider = None;
                }
                MediaParts {
                    source: present.then_some(source),
                    caption,
                    filename,
                    provider,
                }
            },
        )
        .boxed()
}

fn image(g: G, place: Place) -> S<proto::Image> {
    media_parts(g, place, false)
        .prop_map(|p| proto::Image {
            source: p.source.map(|s| match s {
                Source::Id(id) => proto::image::Source::Id(id),
                Source::Link(link) => proto::image::Source::Link(link),
            }),
            caption: p.caption,
            provider: p.provider,
        })
        .boxed()
}

fn audio(g: G) -> S<proto::Audio> {
    media_parts(g, Place::Message, false)
        .prop_map(|p| proto::Audio {
            source: p.source.map(|s| match s {
                Source::Id(id) => proto::audio::Source::Id(id),
                Source::Link(link) => proto::audio::Source::Link(link),
            }),
            provider: p.provider,
            ..Default::default()
        })
        .boxed()
}

fn document(g: G, place: Place) -> S<proto::Document> {
    media_parts(g, place, true)
        .prop_map(|p| proto::Document {
            source: p.source.map(|s| match s {
                Source::Id(id) => proto::document::Source::Id(id),
                Source::Link(link) => proto::document::Source::Link(link),
            }),
            caption: p.caption,
            filename: p.filename,
            provider: p.provider,
        })
        .boxed()
}

fn video(g: G, place: Place) -> S<proto::Video> {
    media_parts(g, place, false)
        .prop_map(|p| proto::Video {
            source: p.source.map(|s| match s {
                Source::Id(id) => proto::video::Source::Id(id),
                Source::Link(link) => proto::video::Source::Link(link),
            }),
            caption: p.caption,
            provider: p.provider,
        })
        .boxed()
}

fn sticker(g: G) -> S<proto::Sticker> {
    media_parts(g, Place::Message, false)
        .prop_map(|p| proto::Sticker {
            source: p.source.map(|s| match s {
                Source::Id(id) => proto::sticker::Source::Id(id),
                Source::Link(link) => proto::sticker::Source::Link(link),
            }),
            provider: p.provider,
        })
        .boxed()
}

// --- contacts ------------------------------------------------------------------------------------

fn contact_name(g: G) -> S<proto::ContactName> {
    let part = || string(g, free().optional());
    (
        string(g, free()),
        (part(), part(), part(), part(), part()),
        breaks(g),
    )
        .prop_map(
            move |(formatted_name, (first, last, middle, suffix, prefix), broken)| {
                let mut name = proto::ContactName {
                    formatted_name,
                    first_name: first,
                    last_name: last,
                    middle_name: middle,
                    suffix,
                    prefix,
                };
                let parts = [
                    &name.first_name,
                    &name.last_name,
                    &name.middle_name,
                    &name.suffix,
                    &name.prefix,
                ];
                if g.fix && !broken && parts.iter().all(|p| p.is_empty()) {
                    name.first_name = "Ana".into();
                }
                name
            },
        )
        .boxed()
}

fn contact_org(g: G) -> S<proto::ContactOrg> {
    let part = || string(g, free().optional());
    (part(), part(), part(), breaks(g))
        .prop_map(move |(company, department, title, broken)| {
            let mut org = proto::ContactOrg {
                company,
                department,
                title,
            };
            if g.fix
                && !broken
                && org.company.is_empty()
                && org.department.is_empty()
                && org.title.is_empty()
            {
                org.title = "Manager".into();
            }
            org
        })
        .boxed()
}

fn contact_address(g: G) -> S<proto::ContactAddress> {
    let part = || string(g, free().optional());
    (
        (part(), part(), part()),
        (part(), part(), part()),
        enumeration(g, &[0, 1, 2]),
        breaks(g),
    )
        .prop_map(
            move |((street, city, state), (zip, country, country_code), r#type, broken)| {
                let mut address = proto::ContactAddress {
                    street,
                    city,
                    state,
                    zip,
                    country,
                    country_code,
                    r#type,
                };
                let fields = [
                    &address.street,
                    &address.city,
                    &address.state,
                    &address.zip,
                    &address.country,
                    &address.country_code,
                ];
                if g.fix && !broken && fields.iter().all(|f| f.is_empty()) {
                    address.city = "Menlo Park".into();
                }
                address
            },
        )
        .boxed()
}

fn contact(g: G) -> S<proto::Contact> {
    let birthday = choose(
        g,
        vec![
            (3, just(String::new())),
            (
                2,
                one_of_values(&["2012-08-18", "2024-02-29", "2000-02-29", "0001-01-01"])
                    .prop_map(String::from)
                    .boxed(),
            ),
        ],
        vec![(
            1,
            one_of_values(&[
                "2023-02-29",
                "2012-8-18",
                "18/08/2012",
                "0000-01-01",
                "２０１２-08-18",
            ])
            .prop_map(String::from)
            .boxed(),
        )],
    );
    let email = (string(g, free()), enumeration(g, &[0, 1, 2]))
        .prop_map(|(email, r#type)| proto::ContactEmail { email, r#type })
        .boxed();
    let phone = (
        string(g, free().optional()),
        enumeration(g, &[0, 1, 2, 3, 4, 5]),
        string(g, free().optional()),
        breaks(g),
    )
        .prop_map(move |(phone, r#type, wa_id, broken)| {
            let mut phone = proto::ContactPhone {
                phone,
                r#type,
                wa_id,
            };
            if g.fix && !broken && phone.phone.is_empty() && phone.wa_id.is_empty() {
                phone.wa_id = "16505551234".into();
            }
            phone
        })
        .boxed();
    let url = (string(g, free()), enumeration(g, &[0, 1, 2]))
        .prop_map(|(url, r#type)| proto::ContactUrl { url, r#type })
        .boxed();
    (
        many(g, contact_address(g), 0..=2, 0..=12),
        birthday,
        many(g, email, 0..=2, 0..=12),
        required(g, contact_name(g)),
        optional(contact_org(g)),
        many(g, phone, 0..=2, 0..=12),
        many(g, url, 0..=2, 0..=12),
    )
        .prop_map(
            |(addresses, birthday, emails, name, org, phones, urls)| proto::Contact {
                addresses,
                birthday,
                emails,
                name,
                org,
                phones,
                urls,
            },
        )
        .boxed()
}

fn contacts(g: G) -> S<proto::Contacts> {
    many(g, contact(g), 1..=3, 0..=12)
        .prop_map(|contacts| proto::Contacts { contacts })
        .boxed()
}

// --- template ------------------------------------------------------------------------------------

/// Where a generated template parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Header,
    Body,
    CardHeader,
    CardBody,
}

fn template_parameter(g: G, at: At) -> S<proto::TemplateParameter> {
    let currency_code = choose(
        g,
        vec![(
            4,
            one_of_values(&["USD", "EUR", "BRL"])
                .prop_map(String::from)
                .boxed(),
        )],
        vec![(
            1,
            one_of_values(&["", "usd", "US", "USDX", "ÉUR", "U D"])
                .prop_map(String::from)
                .boxed(),
        )],
    );
    let currency = (string(g, free()), currency_code, any::<i64>())
        .prop_map(|(fallback_value, code, amount_1000)| {
            Parameter::Currency(proto::TemplateCurrency {
                fallback_value,
                code,
                amount_1000,
            })
        })
        .boxed();
    let in_range = |min: u32, max: u32| {
        choose(
            g,
            vec![(3, just(None)), (2, (min..=max).prop_map(Some).boxed())],
            vec![(1, one_of_values(&[Some(max + 1), Some(u32::MAX)]))],
        )
    };
    let date_time = (
        string(g, free()),
        enumeration(g, &[0, 1, 2, 3, 4, 5, 6, 7]),
        (
            in_range(1, 9999),
            in_range(1, 12),
            in_range(1, 31),
            in_range(0, 23),
            in_range(0, 59),
        ),
        enumeration(g, &[0, 1, 2]),
    )
        .prop_map(
            |(fallback_value, day_of_week, (year, month, day_of_month, hour, minute), calendar)| {
                Parameter::DateTime(proto::TemplateDateTime {
                    fallback_value,
                    day_of_week,
                    year,
                    month,
                    day_of_month,
                    hour,
                    minute,
                    calendar,
                })
            },
        )
        .boxed();
    let location = (
        coordinate(g, 90.0),
        coordinate(g, 180.0),
        string(g, free().optional()),
        string(g, free().optional()),
    )
        .prop_map(|(latitude, longitude, name, address)| {
            Parameter::Location(proto::Location {
                latitude,
                longitude,
                name,
                address,
            })
        })
        .boxed();
    let product = (string(g, req(100)), string(g, free()))
        .prop_map(|(product_retailer_id, catalog_id)| {
            Parameter::Product(proto::TemplateProduct {
                product_retailer_id,
                catalog_id,
            })
        })
        .boxed();
    let text = || string(g, free()).prop_map(Parameter::Text).boxed();
    let variables = vec![(3, text()), (1, currency), (1, date_time)];
    let image = || (1, image(g, Place::Inner).prop_map(Parameter::Image).boxed());
    let video = || (1, video(g, Place::Inner).prop_map(Parameter::Video).boxed());
    let document = (
        1,
        document(g, Place::Inner)
            .prop_map(Parameter::Document)
            .boxed(),
    );
    // Media, locations and products belong in the header; a card's header is an image or video.
    let parameter = match at {
        At::Header => {
            let mut good = variables;
            good.extend([image(), document, video(), (1, location), (1, product)]);
            choose(g, good, vec![])
        }
        At::CardHeader => choose(g, vec![image(), video()], vec![(1, text()), document]),
        At::Body | At::CardBody => choose(g, variables, vec![image(), document, (1, location)]),
    };
    required(g, parameter)
        .prop_map(|parameter| proto::TemplateParameter {
            parameter,
            ..Default::default()
        })
        .boxed()
}

fn template_header(g: G) -> S<proto::TemplateComponent> {
    many(g, template_parameter(g, At::Header), 1..=1, 0..=3)
        .prop_map(|parameters| proto::TemplateComponent {
            component: Some(Component::Header(proto::TemplateHeader { parameters })),
        })
        .boxed()
}

fn template_body(g: G) -> S<proto::TemplateComponent> {
    many(g, template_parameter(g, At::Body), 1..=5, 0..=12)
        .prop_map(|parameters| proto::TemplateComponent {
            component: Some(Component::Body(proto::TemplateBody { parameters })),
        })
        .boxed()
}

fn template_sub_type(g: G) -> S<Option<SubType>> {
    let flow = (string(g, free().optional()), optional(flow_data(g)))
        .prop_map(|(flow_token, flow_action_data)| {
            SubType::Flow(proto::TemplateFlowButton {
                flow_token,
                flow_action_data,
            })
        })
        .boxed();
    let mpm = (string(g, req(100)), product_sections(g))
        .prop_map(|(thumbnail_product_retailer_id, sections)| {
            SubType::Mpm(proto::TemplateMultiProductButton {
                thumbnail_product_retailer_id,
                sections,
            })
        })
        .boxed();
    required(
        g,
        pick(vec![
            (2, card_sub_type(g)),
            (
                1,
                string(g, free())
                    .prop_map(|coupon_code| {
                        SubType::CopyCode(proto::TemplateCopyCodeButton { coupon_code })
                    })
                    .boxed(),
            ),
            (
                1,
                string(g, opt(100))
                    .prop_map(|thumbnail_product_retailer_id| {
                        SubType::Catalog(proto::TemplateCatalogButton {
                            thumbnail_product_retailer_id,
                        })
                    })
                    .boxed(),
            ),
            (1, flow),
            (1, mpm),
        ]),
    )
}

/// The buttons a carousel card takes: quick reply and URL.
fn card_sub_type(g: G) -> S<SubType> {
    pick(vec![
        (
            1,
            string(g, free())
                .prop_map(|payload| {
                    SubType::QuickReply(proto::TemplateQuickReplyButton { payload })
                })
                .boxed(),
        ),
        (
            1,
            string(g, free())
                .prop_map(|text| SubType::Url(proto::TemplateUrlButton { text }))
                .boxed(),
        ),
    ])
}

fn template_button(index: u32, sub_type: Option<SubType>) -> proto::TemplateComponent {
    proto::TemplateComponent {
        component: Some(Component::Button(proto::TemplateButton { index, sub_type })),
    }
}

fn limited_time_offer(g: G) -> S<proto::TemplateComponent> {
    choose(
        g,
        vec![
            (3, (1..=253_402_300_799_999i64).boxed()),
            (1, one_of_values(&[1, 253_402_300_799_999])),
        ],
        vec![(1, one_of_values(&[0, -1, i64::MIN, 253_402_300_800_000]))],
    )
    .prop_map(|expiration_time_ms| proto::TemplateComponent {
        component: Some(Component::LimitedTimeOffer(
            proto::TemplateLimitedTimeOffer { expiration_time_ms },
        )),
    })
    .boxed()
}

fn tap_target(g: G) -> S<proto::TemplateComponent> {
    (url(g), string(g, req(256)))
        .prop_map(|(url, title)| proto::TemplateComponent {
            component: Some(Component::TapTargetConfiguration(
                proto::TemplateTapTargetConfiguration { url, title },
            )),
        })
        .boxed()
}

fn carousel_card(g: G) -> S<proto::TemplateCarouselCard> {
    let header = many(g, template_parameter(g, At::CardHeader), 1..=1, 0..=2)
        .prop_map(|parameters| proto::TemplateHeader { parameters })
        .boxed();
    let body = many(g, template_parameter(g, At::CardBody), 1..=3, 0..=12)
        .prop_map(|parameters| proto::TemplateBody { parameters })
        .boxed();
    let index = choose(
        g,
        vec![(1, (0..=1u32).boxed())],
        vec![(1, one_of_values(&[2, 9]))],
    );
    let sub_type = choose(
        g,
        vec![(1, card_sub_type(g).prop_map(Some).boxed())],
        vec![(1, template_sub_type(g))],
    );
    let button = (index, sub_type)
        .prop_map(|(index, sub_type)| proto::TemplateButton { index, sub_type })
        .boxed();
    (
        required(g, header),
        optional(body),
        many(g, button, 0..=2, 0..=4),
        breaks(g),
    )
        .prop_map(move |(header, body, mut buttons, repeat)| {
            // Distinct button indexes 0 and 1, unless a rule is to be broken.
            if g.fix && !repeat {
                for (i, button) in buttons.iter_mut().enumerate() {
                    button.index = i as u32;
                }
            }
            proto::TemplateCarouselCard {
                card_index: 0,
                header,
                body,
                buttons,
            }
        })
        .boxed()
}

fn carousel(g: G) -> S<proto::TemplateComponent> {
    (many(g, carousel_card(g), 1..=3, 0..=12), breaks(g))
        .prop_map(move |(mut cards, repeat)| {
            // Distinct card indexes, unless a rule is to be broken.
            for (i, card) in cards.iter_mut().enumerate() {
                card.card_index = if g.fix && !repeat {
                    i as u32
                } else {
                    (i % 4) as u32
                };
            }
            proto::TemplateComponent {
                component: Some(Component::Carousel(proto::TemplateCarousel { cards })),
            }
        })
        .boxed()
}

fn template_components(g: G) -> S<Vec<proto::TemplateComponent>> {
    // At most one header, body, offer, carousel and tap target, and buttons at distinct indexes
    // 0–9, in any order.
    let shaped = (
        (optional(template_header(g)), optional(template_body(g))),
        (
            proptest::option::weighted(0.15, limited_time_offer(g)),
            proptest::option::weighted(0.15, carousel(g)),
            proptest::option::weighted(0.15, tap_target(g)),
        ),
        subsequence((0..=9).collect::<Vec<u32>>(), 0..=4),
        vec(template_sub_type(g), 4),
    )
        .prop_map(
            |((header, body), (offer, carousel, tap_target), indexes, sub_types)| {
                let mut components: Vec<proto::TemplateComponent> = header
                    .into_iter()
                    .chain(body)
                    .chain(offer)
                    .chain(carousel)
                    .chain(tap_target)
                    .collect();
                components.extend(
                    indexes
                        .into_iter()
                        .zip(sub_types)
                        .map(|(index, sub_type)| template_button(index, sub_type)),
                );
                components
            },
        )
        .prop_shuffle()
        .boxed();
    let index = pick(vec![
        (5, (0..=9u32).boxed()),
        (1, one_of_values(&[10, 11, u32::MAX])),
    ]);
    let button = (index, template_sub_type(g))
        .prop_map(|(index, sub_type)| template_button(index, sub_type))
        .boxed();
    let any_component = pick(vec![
        (2, template_header(g)),
        (2, template_body(g)),
        (4, button),
        (1, limited_time_offer(g)),
        (1, carousel(g)),
        (1, tap_target(g)),
        (1, just(proto::TemplateComponent { component: None })),
    ]);
    choose(
        g,
        vec![(1, shaped)],
        vec![(1, vec(any_component, 0..=16).boxed())],
    )
}

/// Every variable of the template (text, currency, date and time, in its body, header and cards).
fn template_variables(
    components: &mut [proto::TemplateComponent],
) -> impl Iterator<Item = &mut proto::TemplateParameter> {
    components
        .iter_mut()
        .flat_map(|component| {
            let lists: Vec<&mut Vec<proto::TemplateParameter>> = match &mut component.component {
                Some(Component::Header(header)) => vec![&mut header.parameters],
                Some(Component::Body(body)) => vec![&mut body.parameters],
                Some(Component::Carousel(carousel)) => carousel
                    .cards
                    .iter_mut()
                    .flat_map(|card| {
                        card.header
                            .iter_mut()
                            .map(|h| &mut h.parameters)
                            .chain(card.body.iter_mut().map(|b| &mut b.parameters))
                    })
                    .collect(),
                _ => vec![],
            };
            lists
        })
        .flat_map(|list| list.iter_mut())
        .filter(|p| {
            matches!(
                p.parameter,
                Some(Parameter::Text(_) | Parameter::Currency(_) | Parameter::DateTime(_))
            )
        })
}

/// Replaces what only the Cloud API takes (named parameters, location and product headers, offers,
/// carousels, Flow and multi-product buttons, catalog buttons without thumbnail) with shapes both
/// flavors take, so that the template kind is accepted on both about as often as before.
fn without_cloud_shapes(template: &mut proto::Template) {
    template.components.retain(|c| {
        !matches!(
            c.component,
            Some(
                Component::LimitedTimeOffer(_)
                    | Component::Carousel(_)
                    | Component::TapTargetConfiguration(_)
            )
        )
    });
    for component in &mut template.components {
        match &mut component.component {
            Some(Component::Header(proto::TemplateHeader { parameters }))
            | Some(Component::Body(proto::TemplateBody { parameters })) => {
                for parameter in parameters {
                    parameter.parameter_name.clear();
                    if matches!(
                        parameter.parameter,
                        Some(Parameter::Location(_) | Parameter::Product(_))
                    ) {
                        parameter.parameter = Some(Parameter::Text("Ana".into()));
                    }
                }
            }
            Some(Component::Button(button)) => match &mut button.sub_type {
                Some(SubType::Flow(_) | SubType::Mpm(_)) => {
                    button.sub_type = Some(SubType::QuickReply(proto::TemplateQuickReplyButton {
                        payload: "yes".into(),
                    }));
                }
                Some(SubType::Catalog(catalog))
                    if catalog.thumbnail_product_retailer_id.is_empty() =>
                {
                    catalog.thumbnail_product_retailer_id = "sku-1".into();
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// Adds `offer` unless the template already has an offer or a carousel, so that it always holds a
/// shape only the Cloud API takes.
fn with_a_cloud_shape(template: &mut proto::Template, offer: proto::TemplateComponent) {
    let has_one = template.components.iter().any(|c| {
        matches!(
            c.component,
            Some(
                Component::LimitedTimeOffer(_)
                    | Component::Carousel(_)
                    | Component::TapTargetConfiguration(_)
            )
        )
    });
    if !has_one {
        template.components.push(offer);
    }
}

fn template(g: G) -> S<proto::Template> {
    let namespace = pick(vec![(3, just(String::new())), (1, string(g, free()))]);
    let code = choose(
        g,
        vec![(
            4,
            one_of_values(&["en", "en_US", "pt_BR", "fil", "zh_Hant", "es_419"])
                .prop_map(String::from)
                .boxed(),
        )],
        vec![(
            1,
            one_of_values(&["", "EN", "en-US", "e", "english", "en_", "en_USAXX", "é"])
                .prop_map(String::from)
                .boxed(),
        )],
    );
    let language = (enumeration(g, &[0, 1]), code)
        .prop_map(|(policy, code)| proto::TemplateLanguage { policy, code })
        .boxed();
    // Named parameters: none, all (named after their position, so unique in their component), or
    // when a rule may break, names of any shape on some of them.
    let naming = choose(
        g,
        vec![(3, just(0u8)), (1, just(1u8))],
        vec![(1, just(2u8))],
    );
    let bad_name = one_of_values(&["", "Name", "1st", "a b", "ok_name", "é", "_x"]);
    (
        namespace,
        string(g, free()),
        required(g, language),
        template_components(g),
        (naming, vec(bad_name, 4)),
    )
        .prop_map(
            |(namespace, name, language, mut components, (naming, bad_names))| {
                match naming {
                    0 => {}
                    1 => {
                        for (i, parameter) in template_variables(&mut components).enumerate() {
                            parameter.parameter_name = format!("var_{i}");
                        }
                    }
                    _ => {
                        for (parameter, name) in template_variables(&mut components).zip(bad_names)
                        {
                            parameter.parameter_name = name.into();
                        }
                    }
                }
                proto::Template {
                    namespace,
                    name,
                    language,
                    components,
                }
            },
        )
        .boxed()
}

// --- interactive ---------------------------------------------------------------------------------

fn body_message(g: G) -> S<proto::InteractiveBody> {
    string(g, req(1024))
        .prop_map(|text| proto::InteractiveBody { text })
        .boxed()
}

fn body(g: G) -> S<Option<proto::InteractiveBody>> {
    required(g, body_message(g))
}

fn footer(g: G) -> S<Option<proto::InteractiveFooter>> {
    optional(
        string(g, req(60))
            .prop_map(|text| proto::InteractiveFooter { text })
            .boxed(),
    )
}

fn text_header(g: G) -> S<proto::InteractiveTextHeader> {
    string(g, req(60))
        .prop_map(|text| proto::InteractiveTextHeader { text })
        .boxed()
}

fn media_header(g: G) -> S<proto::InteractiveMediaHeader> {
    let kind = pick(vec![
        (3, string(g, req(60)).prop_map(HeaderKind::Text).boxed()),
        (
            1,
            image(g, Place::Inner).prop_map(HeaderKind::Image).boxed(),
        ),
        (
            1,
            video(g, Place::Inner).prop_map(HeaderKind::Video).boxed(),
        ),
        (
            1,
            document(g, Place::Inner)
                .prop_map(HeaderKind::Document)
                .boxed(),
        ),
    ]);
    required(g, kind)
        .prop_map(|kind| proto::InteractiveMediaHeader { kind })
        .boxed()
}

/// Makes the values unique while keeping their length: a repeat gets a new first character.
fn uniquify<'a>(values: impl Iterator<Item = &'a mut String>) {
    const MARKERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut seen = HashSet::new();
    for value in values {
        let mut marker = 0;
        while !seen.insert(value.clone()) {
            let rest: String = value.chars().skip(1).collect();
            *value = format!("{}{rest}", MARKERS[marker % MARKERS.len()] as char);
            marker += 1;
        }
    }
}

/// Trims the sections' items to `max` in all, keeping at least one per section (there are at most
/// `max` sections), and names every section when there are several.
fn fit_sections<T, I>(
    sections: &mut [T],
    max: usize,
    items: fn(&mut T) -> &mut Vec<I>,
    title: fn(&mut T) -> &mut String,
) {
    let mut total: usize = sections.iter_mut().map(|s| items(s).len()).sum();
    for section in sections.iter_mut().rev() {
        while total > max && items(section).len() > 1 {
            items(section).pop();
            total -= 1;
        }
    }
    if sections.len() > 1 {
        for (i, section) in sections.iter_mut().enumerate() {
            let title = title(section);
            if title.is_empty() {
                *title = format!("Section {i}");
            }
        }
    }
}

fn list(g: G) -> S<Kind> {
    let row = (string(g, req(200)), string(g, req(24)), string(g, opt(72)))
        .prop_map(|(id, title, description)| proto::InteractiveListRow {
            id,
            title,
            description,
        })
        .boxed();
    let section = (string(g, opt(24)), many(g, row, 1..=3, 0..=12))
        .prop_map(|(title, rows)| proto::InteractiveListSection { title, rows })
        .boxed();
    (
        optional(text_header(g)),
        body(g),
        footer(g),
        string(g, req(20)),
        many(g, section, 1..=10, 0..=12),
        (breaks(g), breaks(g)),
    )
        .prop_map(
            move |(header, body, footer, button, mut sections, (overflow, repeat))| {
                if g.fix && !overflow {
                    fit_sections(&mut sections, 10, |s| &mut s.rows, |s| &mut s.title);
                }
                fn ids(
                    sections: &mut [proto::InteractiveListSection],
                ) -> impl Iterator<Item = &mut String> {
                    sections
                        .iter_mut()
                        .flat_map(|s| s.rows.iter_mut().map(|r| &mut r.id))
                }
                if g.fix {
                    uniquify(ids(&mut sections));
                }
                if repeat {
                    // The last row repeats the first one's id.
                    let first = ids(&mut sections).next().cloned();
                    if let (Some(first), Some(last)) = (first, ids(&mut sections).last()) {
                        *last = first;
                    }
                }
                Kind::List(proto::InteractiveList {
                    header,
                    body,
                    footer,
                    button,
                    sections,
                })
            },
        )
        .boxed()
}

fn button(g: G) -> S<Kind> {
    let reply = (string(g, req(256).no_pad()), string(g, req(20)))
        .prop_map(|(id, title)| Some(ReplyKind::Reply(proto::InteractiveReply { id, title })))
        .boxed();
    let reply_button = choose(g, vec![(1, reply)], vec![(1, just(None))])
        .prop_map(|button| proto::InteractiveReplyButton { button })
        .boxed();
    (
        optional(media_header(g)),
        body(g),
        footer(g),
        many(g, reply_button, 1..=3, 0..=12),
        (breaks(g), any::<bool>()),
    )
        .prop_map(
            move |(header, body, footer, mut buttons, (repeat, title))| {
                fn replies(
                    buttons: &mut [proto::InteractiveReplyButton],
                ) -> impl Iterator<Item = &mut proto::InteractiveReply> {
                    buttons
                        .iter_mut()
                        .filter_map(|b| b.button.as_mut().map(|ReplyKind::Reply(reply)| reply))
                }
                if g.fix {
                    uniquify(replies(&mut buttons).map(|r| &mut r.id));
                    uniquify(replies(&mut buttons).map(|r| &mut r.title));
                }
                if repeat {
                    // The last button repeats the first one's title or id.
                    let field = |r: &mut proto::InteractiveReply| -> String {
                        if title { r.title.clone() } else { r.id.clone() }
                    };
                    let first = replies(&mut buttons).next().map(field);
                    if let (Some(first), Some(last)) = (first, replies(&mut buttons).last()) {
                        if title {
                            last.title = first;
                        } else {
                            last.id = first;
                        }
                    }
                }
                Kind::Button(proto::InteractiveButton {
                    header,
                    body,
                    footer,
                    buttons,
                })
            },
        )
        .boxed()
}

fn product(g: G) -> S<Kind> {
    (
        optional(body_message(g)),
        footer(g),
        string(g, free()),
        string(g, req(100)),
    )
        .prop_map(|(body, footer, catalog_id, product_retailer_id)| {
            Kind::Product(proto::InteractiveProduct {
                body,
                footer,
                catalog_id,
                product_retailer_id,
            })
        })
        .boxed()
}

/// The sections of a multi-product message or button: up to 10, about 30 products in all.
fn product_sections(g: G) -> S<Vec<proto::InteractiveProductSection>> {
    let item = string(g, req(100))
        .prop_map(|product_retailer_id| proto::InteractiveProductItem {
            product_retailer_id,
        })
        .boxed();
    let section = |items: S<Vec<proto::InteractiveProductItem>>| {
        (string(g, opt(24)), items)
            .prop_map(|(title, product_items)| proto::InteractiveProductSection {
                title,
                product_items,
            })
            .boxed()
    };
    let sections = pick(vec![
        (
            4,
            many(
                g,
                section(many(g, item.clone(), 1..=4, 0..=12)),
                1..=10,
                0..=12,
            ),
        ),
        // Around the limit of 30 products in all, and sometimes above it.
        (
            1,
            vec(section(many(g, item, 25..=30, 29..=35)), 1..=2).boxed(),
        ),
    ]);
    (sections, breaks(g))
        .prop_map(move |(mut sections, overflow)| {
            if g.fix && !overflow {
                fit_sections(
                    &mut sections,
                    30,
                    |s| &mut s.product_items,
                    |s| &mut s.title,
                );
            }
            sections
        })
        .boxed()
}

fn product_list(g: G) -> S<Kind> {
    (
        required(g, text_header(g)),
        body(g),
        footer(g),
        string(g, free()),
        product_sections(g),
    )
        .prop_map(|(header, body, footer, catalog_id, sections)| {
            Kind::ProductList(proto::InteractiveProductList {
                header,
                body,
                footer,
                catalog_id,
                sections,
            })
        })
        .boxed()
}

fn catalog_message(g: G) -> S<Kind> {
    (body(g), footer(g), string(g, opt(100)))
        .prop_map(|(body, footer, thumbnail_product_retailer_id)| {
            Kind::CatalogMessage(proto::InteractiveCatalogMessage {
                body,
                footer,
                thumbnail_product_retailer_id,
            })
        })
        .boxed()
}

fn json_number(g: G) -> S<f64> {
    choose(
        g,
        vec![
            (4, (-1e6..1e6f64).boxed()),
            (2, any::<i32>().prop_map(f64::from).boxed()),
            (
                1,
                one_of_values(&[
                    0.0,
                    -0.0,
                    0.1,
                    9_007_199_254_740_992.0,
                    9_007_199_254_740_994.0,
                    -9_007_199_254_740_992.0,
                    1e300,
                    f64::MIN_POSITIVE,
                ]),
            ),
        ],
        vec![(
            2,
            one_of_values(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        )],
    )
}

fn json_key() -> S<String> {
    pick(vec![
        (
            3,
            one_of_values(&["a", "user_name", "user_age", "", "é", "😀", "nested"])
                .prop_map(String::from)
                .boxed(),
        ),
        (1, chars(alphabet(true, true), 1..=8)),
    ])
}

fn json_fields(
    value: S<prost_types::Value>,
    len: RangeInclusive<usize>,
) -> S<BTreeMap<String, prost_types::Value>> {
    btree_map(json_key(), value, len).boxed()
}

/// Any JSON value, nested up to three levels, sometimes with NaN and infinities.
fn json_value(g: G) -> S<prost_types::Value> {
    let value = |kind| prost_types::Value { kind };
    let leaf = pick(vec![
        (1, just(value(Some(JsonKind::NullValue(0))))),
        (1, just(value(None))),
        (
            2,
            any::<bool>()
                .prop_map(move |b| value(Some(JsonKind::BoolValue(b))))
                .boxed(),
        ),
        (
            3,
            json_number(g)
                .prop_map(move |n| value(Some(JsonKind::NumberValue(n))))
                .boxed(),
        ),
        (
            3,
            string(g, free().optional())
                .prop_map(move |s| value(Some(JsonKind::StringValue(s))))
                .boxed(),
        ),
    ]);
    leaf.prop_recursive(3, 32, 4, move |inner| {
        pick(vec![
            (
                1,
                vec(inner.clone(), 0..=4)
                    .prop_map(move |values| {
                        value(Some(JsonKind::ListValue(prost_types::ListValue { values })))
                    })
                    .boxed(),
            ),
            (
                1,
                json_fields(inner, 0..=4)
                    .prop_map(move |fields| {
                        value(Some(JsonKind::StructValue(prost_types::Struct { fields })))
                    })
                    .boxed(),
            ),
        ])
    })
    .boxed()
}

fn flow_data(g: G) -> S<prost_types::Struct> {
    choose(
        g,
        vec![(1, json_fields(json_value(g), 1..=5))],
        vec![(1, just(BTreeMap::new()))],
    )
    .prop_map(|fields| prost_types::Struct { fields })
    .boxed()
}

fn media_carousel(g: G) -> S<Kind> {
    use proto::interactive_carousel_card::{Action, Header};
    let header = pick(vec![
        (
            1,
            image(g, Place::Inner)
                .prop_map(|image| Some(Header::Image(image)))
                .boxed(),
        ),
        (
            1,
            video(g, Place::Inner)
                .prop_map(|video| Some(Header::Video(video)))
                .boxed(),
        ),
    ]);
    let header = choose(g, vec![(1, header)], vec![(1, just(None))]);
    let url_button = (string(g, req(20)), url(g))
        .prop_map(|(display_text, url)| {
            Some(Action::CtaUrl(proto::InteractiveCarouselUrlButton {
                display_text,
                url,
            }))
        })
        .boxed();
    let quick_reply = (string(g, req(256).no_pad()), string(g, req(20)))
        .prop_map(|(id, title)| proto::InteractiveCarouselQuickReply { id, title })
        .boxed();
    let quick_replies = many(g, quick_reply, 1..=3, 0..=5)
        .prop_map(|buttons| {
            Some(Action::QuickReplies(
                proto::InteractiveCarouselQuickReplies { buttons },
            ))
        })
        .boxed();
    let button = pick(vec![(1, url_button), (1, quick_replies)]);
    let card_body = optional(
        string(g, req(160))
            .prop_map(|text| proto::InteractiveBody { text })
            .boxed(),
    );
    let card = (
        header,
        card_body,
        choose(g, vec![(1, button)], vec![(1, just(None))]),
    )
        .prop_map(|(header, body, action)| proto::InteractiveCarouselCard {
            card_index: 0,
            header,
            body,
            action,
        })
        .boxed();
    (body(g), many(g, card, 2..=4, 0..=12), breaks(g))
        .prop_map(move |(body, mut cards, mismatch)| {
            for (i, card) in cards.iter_mut().enumerate() {
                card.card_index = if g.fix && !mismatch {
                    i as u32
                } else {
                    (i % 3) as u32
                };
            }
            // Every card's header of the first card's type, unless this case breaks that rule.
            if g.fix && !mismatch {
                let first_is_image = matches!(
                    cards.first().and_then(|c| c.header.as_ref()),
                    Some(Header::Image(_))
                );
                for card in &mut cards {
                    card.header = card
                        .header
                        .take()
                        .map(|header| match (header, first_is_image) {
                            (Header::Video(video), true) => Header::Image(proto::Image {
                                source: video.source.map(|s| match s {
                                    proto::video::Source::Id(id) => proto::image::Source::Id(id),
                                    proto::video::Source::Link(l) => proto::image::Source::Link(l),
                                }),
                                caption: video.caption,
                                provider: video.provider,
                            }),
                            (Header::Image(image), false) => Header::Video(proto::Video {
                                source: image.source.map(|s| match s {
                                    proto::image::Source::Id(id) => proto::video::Source::Id(id),
                                    proto::image::Source::Link(l) => proto::video::Source::Link(l),
                                }),
                                caption: image.caption,
                                provider: image.provider,
                            }),
                            (header, _) => header,
                        });
                }
            }
            // Every card's buttons of the first card's kind and number, quick-reply ids unique
            // in the message and labels within their card, unless this case breaks those rules.
            if g.fix && !mismatch {
                let first = cards.first().and_then(|c| c.action.clone());
                for card in &mut cards {
                    match (&first, &mut card.action) {
                        (Some(Action::QuickReplies(first)), Some(Action::QuickReplies(this))) => {
                            let n = first.buttons.len();
                            while this.buttons.len() < n {
                                let copy = first.buttons[this.buttons.len()].clone();
                                this.buttons.push(copy);
                            }
                            this.buttons.truncate(n);
                        }
                        (Some(Action::CtaUrl(_)), Some(Action::CtaUrl(_)))
                        | (None, _)
                        | (_, None) => {}
                        (Some(first), this) => *this = Some(first.clone()),
                    }
                }
                uniquify(
                    cards
                        .iter_mut()
                        .filter_map(|c| match c.action.as_mut() {
                            Some(Action::QuickReplies(r)) => Some(r.buttons.iter_mut()),
                            _ => None,
                        })
                        .flatten()
                        .map(|b| &mut b.id),
                );
                for card in &mut cards {
                    if let Some(Action::QuickReplies(r)) = card.action.as_mut() {
                        uniquify(r.buttons.iter_mut().map(|b| &mut b.title));
                    }
                }
            }
            Kind::Carousel(proto::InteractiveCarousel { body, cards })
        })
        .boxed()
}

fn voice_call(g: G) -> S<Kind> {
    let ttl = choose(
        g,
        vec![
            (2, just(None)),
            (2, (1..=43_200u32).prop_map(Some).boxed()),
            (1, one_of_values(&[Some(1), Some(43_200)])),
        ],
        vec![(1, one_of_values(&[Some(0), Some(43_201), Some(u32::MAX)]))],
    );
    (body(g), string(g, opt(20)), ttl, string(g, opt(512)))
        .prop_map(|(body, display_text, ttl_minutes, payload)| {
            Kind::VoiceCall(proto::InteractiveVoiceCall {
                body,
                display_text,
                ttl_minutes,
                payload,
            })
        })
        .boxed()
}

fn flow(g: G) -> S<Kind> {
    let version = choose(
        g,
        vec![(3, just(String::new())), (3, just("3".to_owned()))],
        vec![(
            1,
            one_of_values(&["2", "3.0", " 3", "4", "３"])
                .prop_map(String::from)
                .boxed(),
        )],
    );
    let payload = (string(g, free()), optional(flow_data(g)))
        .prop_map(|(screen, data)| proto::InteractiveFlowActionPayload { screen, data })
        .boxed();
    (
        (optional(text_header(g)), body(g), footer(g)),
        (enumeration(g, &[0, 1, 2]), version),
        (
            string(g, free()),
            string(g, free()),
            string(g, req(20).no_emoji()),
        ),
        (enumeration(g, &[0, 1, 2]), payload, breaks(g)),
    )
        .prop_map(
            move |(
                (header, body, footer),
                (mode, flow_message_version),
                (flow_token, flow_id, flow_cta),
                (flow_action, payload, mismatch),
            )| {
                let data_exchange =
                    flow_action == proto::InteractiveFlowAction::DataExchange as i32;
                // The payload exactly when the first screen is named (navigate), unless this case
                // breaks that rule.
                let flow_action_payload = (data_exchange == mismatch).then_some(payload);
                Kind::Flow(proto::InteractiveFlow {
                    header,
                    body,
                    footer,
                    mode,
                    flow_message_version,
                    flow_token,
                    flow_id,
                    flow_cta,
                    flow_action,
                    flow_action_payload,
                    ..Default::default()
                })
            },
        )
        .boxed()
}

fn cta_url(g: G) -> S<Kind> {
    (
        optional(media_header(g)),
        body(g),
        footer(g),
        string(g, req(20)),
        url(g),
    )
        .prop_map(|(header, body, footer, display_text, url)| {
            Kind::CtaUrl(proto::InteractiveCtaUrl {
                header,
                body,
                footer,
                display_text,
                url,
            })
        })
        .boxed()
}

fn location_request(g: G) -> S<Kind> {
    body(g)
        .prop_map(|body| {
            Kind::LocationRequestMessage(proto::InteractiveLocationRequestMessage { body })
        })
        .boxed()
}

// --- the request ---------------------------------------------------------------------------------

fn text(g: G) -> S<Content> {
    (string(g, req(4096)), any::<bool>())
        .prop_map(|(body, preview_url)| Content::Text(proto::Text { body, preview_url }))
        .boxed()
}

fn location(g: G) -> S<Content> {
    (
        coordinate(g, 90.0),
        coordinate(g, 180.0),
        string(g, free().optional()),
        string(g, free().optional()),
    )
        .prop_map(|(latitude, longitude, name, address)| {
            Content::Location(proto::Location {
                latitude,
                longitude,
                name,
                address,
            })
        })
        .boxed()
}

fn reaction(g: G) -> S<Content> {
    let emoji = pick(vec![
        (2, just(String::new())),
        (
            3,
            one_of_values(&["👍", "❤️", "😀", "🇧🇷", "👍🏽"])
                .prop_map(String::from)
                .boxed(),
        ),
        (1, string(g, free().optional())),
    ]);
    (string(g, free()), emoji)
        .prop_map(|(message_id, emoji)| Content::Reaction(proto::Reaction { message_id, emoji }))
        .boxed()
}

/// A group's `pin`: pin (with 1 to 30 days) or unpin (with none); broken, an unknown or unset
/// operation, days out of range, or days where the operation takes none (or none where it takes
/// them).
fn pin(g: G) -> S<Content> {
    let kind = choose(
        g,
        vec![(
            1,
            one_of_values(&[proto::PinType::Pin as i32, proto::PinType::Unpin as i32]),
        )],
        vec![(1, one_of_values(&[0, 3, -1, i32::MAX]))],
    );
    let days = choose(
        g,
        vec![(3, (1u32..=30).boxed()), (1, one_of_values(&[1, 30]))],
        vec![(1, one_of_values(&[0, 31, u32::MAX]))],
    );
    (kind, string(g, req(256).no_pad()), days, breaks(g))
        .prop_map(|(r#type, message_id, days, swapped)| {
            let takes_days = r#type == proto::PinType::Pin as i32;
            Content::Pin(proto::Pin {
                r#type,
                message_id,
                expiration_days: (takes_days != swapped).then_some(days),
            })
        })
        .boxed()
}

fn interactive(kind: S<Kind>) -> S<Content> {
    kind.prop_map(|kind| Content::Interactive(proto::Interactive { kind: Some(kind) }))
        .boxed()
}

/// Every content kind (interactive by kind), each with a generator of its own.
fn content_kinds(g: G) -> Vec<(&'static str, S<Content>)> {
    vec![
        ("text", text(g)),
        (
            "image",
            image(g, Place::Message).prop_map(Content::Image).boxed(),
        ),
        ("audio", audio(g).prop_map(Content::Audio).boxed()),
        (
            "audio (voice note)",
            audio(g)
                .prop_map(|audio| {
                    Content::Audio(proto::Audio {
                        voice: true,
                        ..audio
                    })
                })
                .boxed(),
        ),
        (
            "document",
            document(g, Place::Message)
                .prop_map(Content::Document)
                .boxed(),
        ),
        (
            "video",
            video(g, Place::Message).prop_map(Content::Video).boxed(),
        ),
        ("sticker", sticker(g).prop_map(Content::Sticker).boxed()),
        ("contacts", contacts(g).prop_map(Content::Contacts).boxed()),
        ("location", location(g)),
        (
            "template",
            template(g)
                .prop_map(|mut template| {
                    without_cloud_shapes(&mut template);
                    Content::Template(template)
                })
                .boxed(),
        ),
        (
            "template (Cloud shapes)",
            (template(g), limited_time_offer(g))
                .prop_map(|(mut template, offer)| {
                    with_a_cloud_shape(&mut template, offer);
                    Content::Template(template)
                })
                .boxed(),
        ),
        ("interactive/list", interactive(list(g))),
        ("interactive/button", interactive(button(g))),
        ("interactive/product", interactive(product(g))),
        ("interactive/product_list", interactive(product_list(g))),
        (
            "interactive/catalog_message",
            interactive(catalog_message(g)),
        ),
        ("interactive/flow", interactive(flow(g))),
        (
            "interactive/flow (by name)",
            interactive(
                flow(g)
                    .prop_map(|kind| match kind {
                        Kind::Flow(mut flow) => {
                            flow.flow_name = std::mem::take(&mut flow.flow_id);
                            Kind::Flow(flow)
                        }
                        other => other,
                    })
                    .boxed(),
            ),
        ),
        ("interactive/voice_call", interactive(voice_call(g))),
        ("interactive/carousel", interactive(media_carousel(g))),
        (
            "interactive/call_permission_request",
            interactive(
                optional(body_message(g))
                    .prop_map(|body| {
                        Kind::CallPermissionRequest(proto::InteractiveCallPermissionRequest {
                            body,
                        })
                    })
                    .boxed(),
            ),
        ),
        ("interactive/cta_url", interactive(cta_url(g))),
        (
            "interactive/location_request_message",
            interactive(location_request(g)),
        ),
        ("reaction", reaction(g)),
        ("pin", pin(g)),
    ]
}

fn content(g: G) -> S<Option<Content>> {
    let kinds: Vec<(u32, S<Option<Content>>)> = content_kinds(g)
        .into_iter()
        .map(|(_, content)| (1, content.prop_map(Some).boxed()))
        .collect();
    choose(
        g,
        vec![(1, pick(kinds))],
        vec![
            (1, just(None)),
            (
                1,
                just(Some(Content::Interactive(proto::Interactive {
                    kind: None,
                }))),
            ),
        ],
    )
}

fn request(g: G, content: S<Option<Content>>) -> S<proto::SendMessageRequest> {
    // Now and then one Cloud-only recipient or endpoint: a group, a business-scoped user ID (with
    // or without `to`), or the Marketing Messages API (templates only).
    type Extras = (i32, String, Option<proto::MarketingMessages>);
    let extras: S<Extras> = pick(vec![
        (
            24,
            enumeration(g, &[0, 1])
                .prop_map(|recipient_type| (recipient_type, String::new(), None))
                .boxed(),
        ),
        (
            1,
            just((proto::RecipientType::Group as i32, String::new(), None)),
        ),
        (
            1,
            string(g, free().no_pad())
                .prop_map(|recipient| (0, recipient, None))
                .boxed(),
        ),
        (
            1,
            proptest::option::of(any::<bool>())
                .prop_map(|message_activity_sharing| {
                    let marketing = proto::MarketingMessages {
                        message_activity_sharing,
                    };
                    (0, String::new(), Some(marketing))
                })
                .boxed(),
        ),
    ]);
    let context = pick(vec![
        (3, just(None)),
        (
            1,
            string(g, free())
                .prop_map(|message_id| Some(proto::Context { message_id }))
                .boxed(),
        ),
    ]);
    let callback_data = pick(vec![(3, just(String::new())), (1, string(g, req(512)))]);
    let request_id = choose(
        g,
        vec![(
            4,
            one_of_values(&[
                "",
                "",
                "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c",
                "4F0B6D1E-8C3A-4E7B-9A1D-2C5E6F7A8B9C",
            ])
            .prop_map(String::from)
            .boxed(),
        )],
        vec![(
            1,
            one_of_values(&[
                "nope",
                "4f0b6d1e8c3a4e7b9a1d2c5e6f7a8b9c",
                "{4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9}",
                "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9é",
            ])
            .prop_map(String::from)
            .boxed(),
        )],
    );
    // A pin is for a group: most pins go to one, the rest keep the recipient drawn above.
    let pin_to_group = pick(vec![(9, just(true)), (1, just(false))]);
    (
        (
            pick(vec![
                (11, string(g, free().no_pad())),
                (1, just(String::new())),
            ]),
            extras,
            pin_to_group,
        ),
        content,
        context,
        callback_data,
        request_id,
    )
        .prop_map(
            |(
                (to, (recipient_type, recipient, marketing_messages), pin_to_group),
                content,
                context,
                biz_opaque_callback_data,
                request_id,
            )| {
                let (recipient_type, recipient, marketing_messages) =
                    if pin_to_group && matches!(content, Some(Content::Pin(_))) {
                        (proto::RecipientType::Group as i32, String::new(), None)
                    } else {
                        (recipient_type, recipient, marketing_messages)
                    };
                proto::SendMessageRequest {
                    to,
                    recipient,
                    marketing_messages,
                    recipient_type,
                    content,
                    context,
                    biz_opaque_callback_data,
                    request_id,
                    // Which sender sends is the service's choice, not translation's.
                    sender: String::new(),
                }
            },
        )
        .boxed()
}

/// Any send request: two fifths clean, two fifths slightly broken, one fifth dirty.
fn send_requests() -> S<proto::SendMessageRequest> {
    pick(vec![
        (2, request(CLEAN, content(CLEAN))),
        (2, request(SLIGHT, content(SLIGHT))),
        (1, request(DIRTY, content(DIRTY))),
    ])
}

fn mark_read(g: G) -> S<proto::MarkMessageReadRequest> {
    let indicator = enumeration(g, &[0, 1])
        .prop_map(|r#type| proto::TypingIndicator { r#type })
        .boxed();
    // At most 256 characters; whitespace is refused (the id is a URL path segment On-Premises).
    (string(g, req(256).no_pad()), optional(indicator))
        .prop_map(
            |(message_id, typing_indicator)| proto::MarkMessageReadRequest {
                message_id,
                typing_indicator,
                sender: String::new(),
            },
        )
        .boxed()
}

fn mark_read_requests() -> S<proto::MarkMessageReadRequest> {
    pick(vec![
        (1, mark_read(CLEAN)),
        (1, mark_read(SLIGHT)),
        (1, mark_read(DIRTY)),
    ])
}

// ------------------------------------------------------------------------------------------------
// The independent checker: what the API accepts, written from the reference's limits as a walk of
// the JSON body.
// ------------------------------------------------------------------------------------------------

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

const TYPES: &[&str] = &[
    "text",
    "image",
    "audio",
    "document",
    "video",
    "sticker",
    "contacts",
    "location",
    "template",
    "interactive",
    "reaction",
    "pin",
];

fn length(s: &str) -> usize {
    s.chars().count()
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{path} is not an object: {value}"))
}

fn array<'v>(value: &'v Value, path: &str) -> Result<&'v Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{path} is not an array: {value}"))
}

fn only_keys(o: &Map<String, Value>, allowed: &[&str], path: &str) -> Check {
    for key in o.keys() {
        ensure!(
            allowed.contains(&key.as_str()),
            "{path}.{key} is not a field the API knows here"
        );
    }
    Ok(())
}

/// The string field `key` of `o`: present, and `min..=max` characters long.
fn text_field<'v>(
    o: &'v Map<String, Value>,
    key: &str,
    min: usize,
    max: usize,
    path: &str,
) -> Result<&'v str, String> {
    let value = o
        .get(key)
        .ok_or_else(|| format!("{path}.{key} is missing"))?;
    let text = value
        .as_str()
        .ok_or_else(|| format!("{path}.{key} is not a string: {value}"))?;
    let n = length(text);
    ensure!(
        (min..=max).contains(&n),
        "{path}.{key} has {n} characters, not {min} to {max}"
    );
    Ok(text)
}

/// Like [`text_field`], for a field that may be absent.
fn optional_text_field(
    o: &Map<String, Value>,
    key: &str,
    min: usize,
    max: usize,
    path: &str,
) -> Check {
    if o.contains_key(key) {
        text_field(o, key, min, max, path)?;
    }
    Ok(())
}

fn equals(o: &Map<String, Value>, key: &str, expected: &str, path: &str) -> Check {
    ensure!(
        o.get(key).and_then(Value::as_str) == Some(expected),
        "{path}.{key} is {:?}, not {expected:?}",
        o.get(key)
    );
    Ok(())
}

fn is_http_url(link: &str) -> bool {
    let scheme = |prefix: &str| {
        link.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            && link.len() > prefix.len()
    };
    (scheme("http://") || scheme("https://")) && !link.chars().any(char::is_whitespace)
}

fn all_unique<'v>(values: impl IntoIterator<Item = &'v str>) -> bool {
    let mut seen = HashSet::new();
    values.into_iter().all(|v| seen.insert(v))
}

/// No empty object, array or string anywhere, except `reaction.emoji` (an empty emoji removes a
/// reaction) and inside `flow_action_payload.data` (free-form JSON).
fn no_empties(value: &Value, path: &str) -> Check {
    match value {
        Value::String(s) => ensure!(
            !s.is_empty() || path == "reaction.emoji",
            "{path} is an empty string"
        ),
        Value::Array(items) => {
            ensure!(!items.is_empty(), "{path} is an empty array");
            for (i, item) in items.iter().enumerate() {
                no_empties(item, &format!("{path}[{i}]"))?;
            }
        }
        Value::Object(map) => {
            ensure!(!map.is_empty(), "{path} is an empty object");
            for (key, child) in map {
                if (key == "data" && path.ends_with("flow_action_payload"))
                    || key == "flow_action_data"
                {
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                no_empties(child, &child_path)?;
            }
        }
        Value::Null => return Err(format!("{path} is null")),
        Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// A send body for `flavor`.
fn check_send(flavor: Flavor, body: &Value) -> Check {
    no_empties(body, "")?;
    let top = object(body, "body")?;
    let kind = top
        .get("type")
        .and_then(Value::as_str)
        .ok_or("type is missing or not a string")?;
    ensure!(TYPES.contains(&kind), "unknown type {kind:?}");
    ensure!(
        top.contains_key(kind),
        "type is {kind} but {kind} is missing"
    );
    for other in TYPES {
        ensure!(
            *other == kind || !top.contains_key(*other),
            "type is {kind} but {other} is present too"
        );
    }
    let cloud = flavor == Flavor::Cloud;
    let mut allowed = vec!["recipient_type", "to", "type", kind];
    if cloud {
        allowed.extend([
            "messaging_product",
            "context",
            "biz_opaque_callback_data",
            "recipient",
        ]);
        if kind == "template" {
            allowed.push("message_activity_sharing");
        }
        ensure!(
            !top.contains_key("preview_url"),
            "Cloud bodies have no top-level preview_url"
        );
        equals(top, "messaging_product", "whatsapp", "")?;
    } else {
        allowed.push("preview_url");
        for cloud_only in [
            "messaging_product",
            "context",
            "biz_opaque_callback_data",
            "recipient",
        ] {
            ensure!(
                !top.contains_key(cloud_only),
                "On-Premises bodies have no {cloud_only}"
            );
        }
        ensure!(kind != "reaction", "On-Premises has no reactions");
        ensure!(kind != "pin", "On-Premises has no groups to pin in");
    }
    only_keys(top, &allowed, "")?;
    // An individual (by `to`, or on the Cloud API by a business-scoped user ID), or on the Cloud
    // API a group by its id, which takes text, media and templates only.
    match top.get("recipient_type").and_then(Value::as_str) {
        Some("individual") => ensure!(kind != "pin", "only a group's messages are pinned"),
        Some("group") => {
            ensure!(cloud, "groups are Cloud API only");
            ensure!(!top.contains_key("recipient"), "a group is named by to");
            ensure!(
                matches!(
                    kind,
                    "text"
                        | "image"
                        | "audio"
                        | "document"
                        | "video"
                        | "sticker"
                        | "template"
                        | "pin"
                ),
                "groups take no {kind} messages"
            );
            // Text- and media-based templates: no commerce (catalog, multi-product, product).
            if let Some(components) = top
                .get("template")
                .and_then(|t| t.get("components"))
                .and_then(Value::as_array)
            {
                for component in components {
                    let sub_type = component.get("sub_type").and_then(Value::as_str);
                    ensure!(
                        !matches!(sub_type, Some("catalog" | "mpm")),
                        "groups take no {sub_type:?} template buttons"
                    );
                    let product = component
                        .get("parameters")
                        .and_then(Value::as_array)
                        .is_some_and(|p| {
                            p.iter()
                                .any(|p| p.get("type") == Some(&Value::from("product")))
                        });
                    ensure!(!product, "groups take no product templates");
                }
            }
        }
        other => return Err(format!("recipient_type is {other:?}")),
    }
    if top.contains_key("recipient") {
        text_field(top, "recipient", 1, usize::MAX, "")?;
        optional_text_field(top, "to", 1, usize::MAX, "")?;
    } else {
        text_field(top, "to", 1, usize::MAX, "")?;
    }
    if let Some(context) = top.get("context") {
        let context = object(context, "context")?;
        only_keys(context, &["message_id"], "context")?;
        text_field(context, "message_id", 1, usize::MAX, "context")?;
    }
    optional_text_field(top, "biz_opaque_callback_data", 1, 512, "")?;
    if let Some(sharing) = top.get("message_activity_sharing") {
        ensure!(
            sharing.is_boolean(),
            "message_activity_sharing is {sharing}"
        );
    }
    if let Some(preview_url) = top.get("preview_url") {
        ensure!(
            preview_url.is_boolean() && kind == "text",
            "preview_url is {preview_url} on a {kind} message"
        );
    }

    let content = &top[kind];
    match kind {
        "text" => check_text(flavor, content),
        "image" | "audio" | "document" | "video" | "sticker" => {
            check_media(flavor, kind, content, kind, true)
        }
        "contacts" => check_contacts(content),
        "location" => check_location(content),
        "template" => check_template(flavor, content),
        "interactive" => check_interactive(flavor, content),
        "reaction" => check_reaction(content),
        "pin" => check_pin(content),
        _ => unreachable!("checked above"),
    }
}

fn check_text(flavor: Flavor, text: &Value) -> Check {
    let text = object(text, "text")?;
    only_keys(text, &["body", "preview_url"], "text")?;
    text_field(text, "body", 1, 4096, "text")?;
    if let Some(preview_url) = text.get("preview_url") {
        ensure!(
            flavor == Flavor::Cloud && preview_url.is_boolean(),
            "text.preview_url is {preview_url} on the {flavor}"
        );
    }
    Ok(())
}

/// A media object of `kind` at `path`; captions only where `caption_allowed` (media messages).
fn check_media(
    flavor: Flavor,
    kind: &str,
    media: &Value,
    path: &str,
    caption_allowed: bool,
) -> Check {
    let media = object(media, path)?;
    only_keys(
        media,
        &["id", "link", "caption", "filename", "provider", "voice"],
        path,
    )?;
    if let Some(voice) = media.get("voice") {
        ensure!(
            kind == "audio" && flavor == Flavor::Cloud && voice == &Value::Bool(true),
            "{path}.voice is {voice}: only a Cloud API audio is a voice note"
        );
    }
    match (media.get("id"), media.get("link")) {
        (Some(_), None) => {
            text_field(media, "id", 1, usize::MAX, path)?;
        }
        (None, Some(_)) => {
            let link = text_field(media, "link", 1, usize::MAX, path)?;
            ensure!(
                is_http_url(link),
                "{path}.link {link:?} is not an http(s) URL"
            );
        }
        _ => return Err(format!("{path} must have exactly one of id and link")),
    }
    if media.contains_key("caption") {
        ensure!(
            !matches!(kind, "audio" | "sticker"),
            "{path}: {kind} takes no caption"
        );
        ensure!(
            caption_allowed,
            "{path}: no caption in a header or template parameter"
        );
        ensure!(
            !(kind == "document" && flavor == Flavor::OnPremises),
            "{path}: the On-Premises API takes no document caption"
        );
        text_field(media, "caption", 1, 1024, path)?;
    }
    if media.contains_key("filename") {
        ensure!(kind == "document", "{path}: filename is for documents only");
        text_field(media, "filename", 1, usize::MAX, path)?;
    }
    if let Some(provider) = media.get("provider") {
        ensure!(
            flavor == Flavor::OnPremises,
            "{path}.provider is On-Premises only"
        );
        ensure!(
            media.contains_key("link"),
            "{path}.provider serves a link, not an id"
        );
        let provider = object(provider, path)?;
        only_keys(provider, &["name"], path)?;
        text_field(provider, "name", 1, usize::MAX, path)?;
    }
    Ok(())
}

fn check_contacts(contacts: &Value) -> Check {
    let contacts = array(contacts, "contacts")?;
    ensure!(!contacts.is_empty(), "contacts is empty");
    for (i, contact) in contacts.iter().enumerate() {
        let path = format!("contacts[{i}]");
        let contact = object(contact, &path)?;
        only_keys(
            contact,
            &[
                "addresses",
                "birthday",
                "emails",
                "name",
                "org",
                "phones",
                "urls",
            ],
            &path,
        )?;
        let name_path = format!("{path}.name");
        let name = object(
            contact
                .get("name")
                .ok_or_else(|| format!("{name_path} is missing"))?,
            &name_path,
        )?;
        text_field(name, "formatted_name", 1, usize::MAX, &name_path)?;
        ensure!(
            ["first_name", "last_name", "middle_name", "suffix", "prefix"]
                .iter()
                .any(|part| name.contains_key(*part)),
            "{name_path} has formatted_name only"
        );
        for phone in contact
            .get("phones")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let phone = object(phone, &path)?;
            ensure!(
                phone.contains_key("phone") || phone.contains_key("wa_id"),
                "{path}: a phone needs phone or wa_id"
            );
        }
    }
    Ok(())
}

fn check_location(location: &Value) -> Check {
    let location = object(location, "location")?;
    only_keys(
        location,
        &["latitude", "longitude", "name", "address"],
        "location",
    )?;
    for (key, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
        let value = location.get(key).and_then(Value::as_f64);
        ensure!(
            value.is_some_and(|v| (-limit..=limit).contains(&v)),
            "location.{key} is {:?}, not a number from -{limit} to {limit}",
            location.get(key)
        );
    }
    Ok(())
}

fn check_reaction(reaction: &Value) -> Check {
    let reaction = object(reaction, "reaction")?;
    only_keys(reaction, &["message_id", "emoji"], "reaction")?;
    text_field(reaction, "message_id", 1, usize::MAX, "reaction")?;
    text_field(reaction, "emoji", 0, usize::MAX, "reaction")?;
    Ok(())
}

/// A group's `pin` (Meta's Groups API messaging docs): `pin` with `expiration_days` 1 to 30, or
/// `unpin` without it, of one message.
fn check_pin(pin: &Value) -> Check {
    let pin = object(pin, "pin")?;
    only_keys(pin, &["type", "message_id", "expiration_days"], "pin")?;
    text_field(pin, "message_id", 1, usize::MAX, "pin")?;
    match pin.get("type").and_then(Value::as_str) {
        Some("pin") => {
            let days = pin.get("expiration_days").and_then(Value::as_u64);
            ensure!(
                days.is_some_and(|days| (1..=30).contains(&days)),
                "pin.expiration_days is {:?}, not a number of days from 1 to 30",
                pin.get("expiration_days")
            );
        }
        Some("unpin") => ensure!(
            !pin.contains_key("expiration_days"),
            "unpinning takes no expiration_days"
        ),
        other => return Err(format!("pin.type is {other:?}")),
    }
    Ok(())
}

fn check_template(flavor: Flavor, template: &Value) -> Check {
    let template = object(template, "template")?;
    only_keys(
        template,
        &["namespace", "name", "language", "components"],
        "template",
    )?;
    ensure!(
        flavor == Flavor::OnPremises || !template.contains_key("namespace"),
        "template.namespace is On-Premises only"
    );
    text_field(template, "name", 1, usize::MAX, "template")?;
    let language = object(
        template
            .get("language")
            .ok_or("template.language is missing")?,
        "template.language",
    )?;
    only_keys(language, &["policy", "code"], "template.language")?;
    equals(language, "policy", "deterministic", "template.language")?;
    text_field(language, "code", 1, usize::MAX, "template.language")?;

    let Some(components) = template.get("components") else {
        return Ok(());
    };
    let mut named = HashSet::new();
    check_template_components(
        flavor,
        array(components, "template.components")?,
        "template.components",
        false,
        &mut named,
    )?;
    ensure!(
        named.len() <= 1,
        "a template mixes named and positional parameters"
    );
    Ok(())
}

/// The components of a template (or, with `card`, of a carousel card). `named` collects, for every
/// variable, whether it is named.
fn check_template_components(
    flavor: Flavor,
    components: &[Value],
    list: &str,
    card: bool,
    named: &mut HashSet<bool>,
) -> Check {
    let (mut headers, mut bodies, mut offers, mut carousels, mut indexes) =
        (0, 0, 0, 0, Vec::new());
    let mut tap_targets = 0;
    let max_index = if card { 1 } else { 9 };
    for (i, component) in components.iter().enumerate() {
        let path = format!("{list}[{i}]");
        let component = object(component, &path)?;
        let kind = component.get("type").and_then(Value::as_str);
        if kind == Some("carousel") {
            ensure!(!card, "{path}: a card holds no carousel");
            ensure!(
                flavor == Flavor::Cloud,
                "{path}: carousels are Cloud API only"
            );
            carousels += 1;
            only_keys(component, &["type", "cards"], &path)?;
            let cards = array(
                component
                    .get("cards")
                    .ok_or_else(|| format!("{path}.cards is missing"))?,
                &path,
            )?;
            ensure!(
                (1..=10).contains(&cards.len()),
                "{path} has {} cards",
                cards.len()
            );
            let mut card_indexes = HashSet::new();
            for (j, one) in cards.iter().enumerate() {
                let path = format!("{path}.cards[{j}]");
                let one = object(one, &path)?;
                only_keys(one, &["card_index", "components"], &path)?;
                let index = one.get("card_index").and_then(Value::as_u64);
                ensure!(
                    index.is_some_and(|index| index <= 9 && card_indexes.insert(index)),
                    "{path}.card_index is {index:?}: not 0 to 9, or repeated"
                );
                let inner = array(
                    one.get("components")
                        .ok_or_else(|| format!("{path}.components is missing"))?,
                    &path,
                )?;
                ensure!(
                    inner
                        .first()
                        .and_then(|c| c.get("type"))
                        .and_then(Value::as_str)
                        == Some("header"),
                    "{path}: a card starts with its header"
                );
                check_template_components(
                    flavor,
                    inner,
                    &format!("{path}.components"),
                    true,
                    named,
                )?;
            }
            continue;
        }
        let parameters = component
            .get("parameters")
            .ok_or_else(|| format!("{path}.parameters is missing"))
            .and_then(|parameters| array(parameters, &path));
        match kind {
            Some(kind @ ("header" | "body")) => {
                let parameters = parameters?;
                only_keys(component, &["type", "parameters"], &path)?;
                let header = kind == "header";
                if header {
                    headers += 1;
                    ensure!(parameters.len() == 1, "{path}: a header has one parameter");
                } else {
                    bodies += 1;
                    ensure!(!parameters.is_empty(), "{path}: a body has parameters");
                    if card {
                        ensure!(parameters.len() <= 10, "{path}: a card body has at most 10");
                    }
                }
                let names: Vec<&str> = parameters
                    .iter()
                    .filter_map(|p| p.get("parameter_name").and_then(Value::as_str))
                    .collect();
                ensure!(all_unique(names), "{path}: parameter names repeat");
                for (j, parameter) in parameters.iter().enumerate() {
                    check_template_parameter(
                        flavor,
                        parameter,
                        &format!("{path}.parameters[{j}]"),
                        match (header, card) {
                            (true, false) => Slot::Header,
                            (true, true) => Slot::CardHeader,
                            (false, _) => Slot::Body,
                        },
                        named,
                    )?;
                }
            }
            Some("limited_time_offer") => {
                let parameters = parameters?;
                ensure!(!card, "{path}: a card holds no offer");
                ensure!(flavor == Flavor::Cloud, "{path}: offers are Cloud API only");
                offers += 1;
                only_keys(component, &["type", "parameters"], &path)?;
                ensure!(parameters.len() == 1, "{path}: an offer has one parameter");
                let parameter = object(&parameters[0], &path)?;
                only_keys(parameter, &["type", "limited_time_offer"], &path)?;
                equals(parameter, "type", "limited_time_offer", &path)?;
                let offer = object(&parameter["limited_time_offer"], &path)?;
                only_keys(offer, &["expiration_time_ms"], &path)?;
                ensure!(
                    offer
                        .get("expiration_time_ms")
                        .and_then(Value::as_i64)
                        .is_some_and(|ms| ms > 0),
                    "{path}: the expiration is not a positive integer"
                );
            }
            Some("tap_target_configuration") => {
                let parameters = parameters?;
                ensure!(!card, "{path}: a card holds no tap target");
                ensure!(
                    flavor == Flavor::Cloud,
                    "{path}: tap targets are Cloud API only"
                );
                tap_targets += 1;
                only_keys(component, &["type", "parameters"], &path)?;
                ensure!(
                    parameters.len() == 1,
                    "{path}: a tap target has one parameter"
                );
                let parameter = object(&parameters[0], &path)?;
                only_keys(parameter, &["type", "tap_target_configuration"], &path)?;
                equals(parameter, "type", "tap_target_configuration", &path)?;
                let targets = array(&parameter["tap_target_configuration"], &path)?;
                ensure!(targets.len() == 1, "{path}: one tap target");
                let target = object(&targets[0], &path)?;
                only_keys(target, &["url", "title"], &path)?;
                text_field(target, "title", 1, usize::MAX, &path)?;
                let url = text_field(target, "url", 1, usize::MAX, &path)?;
                ensure!(
                    is_http_url(url),
                    "{path}: tap target url {url:?} is not http(s)"
                );
            }
            Some("button") => {
                only_keys(
                    component,
                    &["type", "sub_type", "index", "parameters"],
                    &path,
                )?;
                let index = component.get("index").and_then(Value::as_u64);
                ensure!(
                    index.is_some_and(|index| index <= max_index),
                    "{path}.index is {:?}, not 0 to {max_index}",
                    component.get("index")
                );
                indexes.push(index);
                let sub_type = component.get("sub_type").and_then(Value::as_str);
                if card {
                    ensure!(
                        matches!(sub_type, Some("quick_reply" | "url")),
                        "{path}: a card's buttons are quick reply or URL"
                    );
                }
                if sub_type == Some("catalog") && !component.contains_key("parameters") {
                    ensure!(
                        flavor == Flavor::Cloud,
                        "{path}: a catalog button without thumbnail is Cloud API only"
                    );
                    continue;
                }
                let parameters = parameters?;
                ensure!(parameters.len() == 1, "{path}: a button has one parameter");
                let parameter = object(&parameters[0], &path)?;
                let (parameter_type, key) = match sub_type {
                    Some("quick_reply") => ("payload", "payload"),
                    Some("url") => ("text", "text"),
                    Some("copy_code") => ("coupon_code", "coupon_code"),
                    Some("catalog" | "flow" | "mpm") => ("action", "action"),
                    other => return Err(format!("{path}.sub_type is {other:?}")),
                };
                ensure!(
                    flavor == Flavor::Cloud || !matches!(sub_type, Some("flow" | "mpm")),
                    "{path}: {sub_type:?} buttons are Cloud API only"
                );
                only_keys(parameter, &["type", key], &path)?;
                equals(parameter, "type", parameter_type, &path)?;
                if key != "action" {
                    text_field(parameter, key, 1, usize::MAX, &path)?;
                    continue;
                }
                let action = object(&parameter["action"], &path)?;
                match sub_type {
                    Some("catalog") => {
                        only_keys(action, &["thumbnail_product_retailer_id"], &path)?;
                        text_field(action, "thumbnail_product_retailer_id", 1, 100, &path)?;
                    }
                    Some("flow") => {
                        only_keys(action, &["flow_token", "flow_action_data"], &path)?;
                        if action.contains_key("flow_token") {
                            text_field(action, "flow_token", 1, usize::MAX, &path)?;
                        }
                        if let Some(data) = action.get("flow_action_data") {
                            ensure!(
                                data.as_object().is_some_and(|data| !data.is_empty()),
                                "{path}.flow_action_data is {data}, not a non-empty object"
                            );
                        }
                    }
                    _ => {
                        only_keys(
                            action,
                            &["thumbnail_product_retailer_id", "sections"],
                            &path,
                        )?;
                        text_field(action, "thumbnail_product_retailer_id", 1, 100, &path)?;
                        check_product_sections(action, &format!("{path}.action"))?;
                    }
                }
            }
            other => return Err(format!("{path}.type is {other:?}")),
        }
    }
    ensure!(headers <= 1, "{list} has {headers} header components");
    ensure!(bodies <= 1, "{list} has {bodies} body components");
    ensure!(offers <= 1, "{list} has {offers} offers");
    ensure!(carousels <= 1, "{list} has {carousels} carousels");
    ensure!(tap_targets <= 1, "{list} has {tap_targets} tap targets");
    if card {
        ensure!(headers == 1, "{list}: a card has a header");
        ensure!(indexes.len() <= 2, "{list}: a card has at most 2 buttons");
    }
    ensure!(
        indexes.iter().collect::<HashSet<_>>().len() == indexes.len(),
        "{list}: button indexes repeat: {indexes:?}"
    );
    Ok(())
}

/// Where a template parameter is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Header,
    CardHeader,
    Body,
}

fn check_template_parameter(
    flavor: Flavor,
    parameter: &Value,
    path: &str,
    slot: Slot,
    named: &mut HashSet<bool>,
) -> Check {
    let parameter = object(parameter, path)?;
    let kind = parameter
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}.type is missing"))?;
    only_keys(parameter, &["type", "parameter_name", kind], path)?;
    let value = parameter
        .get(kind)
        .ok_or_else(|| format!("{path}.{kind} is missing"))?;
    let inner = format!("{path}.{kind}");
    if matches!(kind, "text" | "currency" | "date_time") {
        named.insert(parameter.contains_key("parameter_name"));
    }
    if let Some(name) = parameter.get("parameter_name") {
        ensure!(
            flavor == Flavor::Cloud,
            "{path}: named parameters are Cloud API only"
        );
        ensure!(
            matches!(kind, "text" | "currency" | "date_time"),
            "{path}: a {kind} parameter has no name"
        );
        let name = name.as_str().unwrap_or_default();
        ensure!(
            name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && length(name) <= 256,
            "{path}.parameter_name {name:?} is not a variable name"
        );
    }
    match kind {
        "text" => {
            ensure!(slot != Slot::CardHeader, "{path}: a card header is media");
            text_field(parameter, "text", 1, usize::MAX, path)?;
        }
        "currency" => {
            ensure!(slot != Slot::CardHeader, "{path}: a card header is media");
            let currency = object(value, &inner)?;
            only_keys(currency, &["fallback_value", "code", "amount_1000"], &inner)?;
            text_field(currency, "fallback_value", 1, usize::MAX, &inner)?;
            let code = text_field(currency, "code", 3, 3, &inner)?;
            ensure!(
                code.bytes().all(|b| b.is_ascii_uppercase()),
                "{inner}.code {code:?} is not an ISO 4217 code"
            );
            ensure!(
                currency.get("amount_1000").is_some_and(Value::is_i64),
                "{inner}.amount_1000 is not an integer"
            );
        }
        "date_time" => {
            ensure!(slot != Slot::CardHeader, "{path}: a card header is media");
            let date_time = object(value, &inner)?;
            // The localizable components are the On-Premises API's; the Cloud API takes the
            // fallback value only.
            let components: &[&str] = match flavor {
                Flavor::Cloud => &["fallback_value"],
                Flavor::OnPremises => &[
                    "fallback_value",
                    "day_of_week",
                    "year",
                    "month",
                    "day_of_month",
                    "hour",
                    "minute",
                    "calendar",
                ],
            };
            only_keys(date_time, components, &inner)?;
            text_field(date_time, "fallback_value", 1, usize::MAX, &inner)?;
            for (key, min, max) in [
                ("day_of_week", 1, 7),
                ("year", 1, 9999),
                ("month", 1, 12),
                ("day_of_month", 1, 31),
                ("hour", 0, 23),
                ("minute", 0, 59),
            ] {
                if let Some(value) = date_time.get(key) {
                    ensure!(
                        value.as_u64().is_some_and(|v| (min..=max).contains(&v)),
                        "{inner}.{key} is {value}, not {min} to {max}"
                    );
                }
            }
            if date_time.contains_key("calendar") {
                let calendar = text_field(date_time, "calendar", 1, usize::MAX, &inner)?;
                ensure!(
                    matches!(calendar, "GREGORIAN" | "SOLAR_HIJRI"),
                    "{inner}.calendar is {calendar:?}"
                );
            }
        }
        "image" | "document" | "video" => {
            ensure!(
                slot != Slot::Body,
                "{path}: media parameters belong in the header"
            );
            ensure!(
                slot != Slot::CardHeader || kind != "document",
                "{path}: a card header is an image or a video"
            );
            check_media(flavor, kind, value, &inner, false)?;
        }
        "location" | "product" => {
            ensure!(
                slot == Slot::Header,
                "{path}: a {kind} is a template header"
            );
            ensure!(
                flavor == Flavor::Cloud,
                "{path}: {kind} headers are Cloud API only"
            );
            if kind == "location" {
                check_location(value)?;
            } else {
                let product = object(value, &inner)?;
                only_keys(product, &["product_retailer_id", "catalog_id"], &inner)?;
                text_field(product, "product_retailer_id", 1, 100, &inner)?;
                text_field(product, "catalog_id", 1, usize::MAX, &inner)?;
            }
        }
        other => return Err(format!("{path}.type is {other:?}")),
    }
    Ok(())
}

const INTERACTIVE_TYPES: &[&str] = &[
    "list",
    "button",
    "product",
    "product_list",
    "catalog_message",
    "flow",
    "cta_url",
    "location_request_message",
    "voice_call",
    "call_permission_request",
    "carousel",
];

fn check_interactive(flavor: Flavor, interactive: &Value) -> Check {
    let path = "interactive";
    let i = object(interactive, path)?;
    only_keys(i, &["type", "header", "body", "footer", "action"], path)?;
    let kind = i
        .get("type")
        .and_then(Value::as_str)
        .ok_or("interactive.type is missing")?;
    ensure!(
        INTERACTIVE_TYPES.contains(&kind),
        "unknown interactive type {kind:?}"
    );
    ensure!(
        flavor == Flavor::Cloud
            || !matches!(
                kind,
                "cta_url"
                    | "location_request_message"
                    | "voice_call"
                    | "call_permission_request"
                    | "carousel"
            ),
        "{kind} is Cloud API only"
    );

    // Header.
    match (kind, i.get("header")) {
        (
            "product"
            | "catalog_message"
            | "location_request_message"
            | "voice_call"
            | "call_permission_request"
            | "carousel",
            Some(_),
        ) => {
            return Err(format!("a {kind} message has no header"));
        }
        ("product_list", None) => return Err("a product_list message needs a header".into()),
        (_, Some(header)) => {
            let header = object(header, "interactive.header")?;
            let header_type = header.get("type").and_then(Value::as_str);
            match header_type {
                Some("text") => {
                    only_keys(header, &["type", "text"], "interactive.header")?;
                    text_field(header, "text", 1, 60, "interactive.header")?;
                }
                Some(media @ ("image" | "video" | "document")) => {
                    ensure!(
                        matches!(kind, "button" | "cta_url"),
                        "a {kind} message takes a text header only"
                    );
                    only_keys(header, &["type", media], "interactive.header")?;
                    let inner = format!("interactive.header.{media}");
                    check_media(flavor, media, &header[media], &inner, false)?;
                }
                other => return Err(format!("interactive.header.type is {other:?}")),
            }
        }
        (_, None) => {}
    }

    // Body and footer.
    match i.get("body") {
        Some(body) => {
            let body = object(body, "interactive.body")?;
            only_keys(body, &["text"], "interactive.body")?;
            text_field(body, "text", 1, 1024, "interactive.body")?;
        }
        None => ensure!(
            matches!(kind, "product" | "call_permission_request"),
            "a {kind} message needs a body"
        ),
    }
    if let Some(footer) = i.get("footer") {
        ensure!(
            !matches!(
                kind,
                "location_request_message" | "voice_call" | "call_permission_request" | "carousel"
            ),
            "a {kind} message has no footer"
        );
        let footer = object(footer, "interactive.footer")?;
        only_keys(footer, &["text"], "interactive.footer")?;
        text_field(footer, "text", 1, 60, "interactive.footer")?;
    }

    let action = object(
        i.get("action").ok_or("interactive.action is missing")?,
        "interactive.action",
    )?;
    let path = "interactive.action";
    match kind {
        "list" => check_list_action(action),
        "button" => check_button_action(action),
        "product" => {
            only_keys(action, &["catalog_id", "product_retailer_id"], path)?;
            text_field(action, "catalog_id", 1, usize::MAX, path)?;
            text_field(action, "product_retailer_id", 1, 100, path)?;
            Ok(())
        }
        "product_list" => check_product_list_action(action),
        "catalog_message" => {
            only_keys(action, &["name", "parameters"], path)?;
            equals(action, "name", "catalog_message", path)?;
            if let Some(parameters) = action.get("parameters") {
                let parameters = object(parameters, path)?;
                only_keys(parameters, &["thumbnail_product_retailer_id"], path)?;
                text_field(parameters, "thumbnail_product_retailer_id", 1, 100, path)?;
            }
            Ok(())
        }
        "flow" => check_flow_action(flavor, action),
        "cta_url" => {
            only_keys(action, &["name", "parameters"], path)?;
            equals(action, "name", "cta_url", path)?;
            let parameters = object(
                action
                    .get("parameters")
                    .ok_or("cta_url parameters missing")?,
                path,
            )?;
            only_keys(parameters, &["display_text", "url"], path)?;
            text_field(parameters, "display_text", 1, 20, path)?;
            let url = text_field(parameters, "url", 1, usize::MAX, path)?;
            ensure!(
                is_http_url(url),
                "cta_url url {url:?} is not an http(s) URL"
            );
            Ok(())
        }
        "location_request_message" => {
            only_keys(action, &["name"], path)?;
            equals(action, "name", "send_location", path)
        }
        "voice_call" => {
            only_keys(action, &["name", "parameters"], path)?;
            equals(action, "name", "voice_call", path)?;
            if let Some(parameters) = action.get("parameters") {
                let parameters = object(parameters, path)?;
                only_keys(
                    parameters,
                    &["display_text", "ttl_minutes", "payload"],
                    path,
                )?;
                if parameters.contains_key("display_text") {
                    text_field(parameters, "display_text", 1, 20, path)?;
                }
                if parameters.contains_key("payload") {
                    text_field(parameters, "payload", 1, 512, path)?;
                }
                if let Some(ttl) = parameters.get("ttl_minutes") {
                    ensure!(
                        ttl.as_u64().is_some_and(|ttl| (1..=43_200).contains(&ttl)),
                        "{path}.ttl_minutes is {ttl}, not 1 to 43200"
                    );
                }
            }
            Ok(())
        }
        "call_permission_request" => {
            only_keys(action, &["name"], path)?;
            equals(action, "name", "call_permission_request", path)
        }
        "carousel" => check_carousel_action(flavor, action),
        _ => unreachable!("checked above"),
    }
}

/// A media carousel's cards: 2 to 10 at distinct indexes 0–9, all with the same header type, each
/// an image or video header, an optional body of at most 160 characters and a URL button or 1 to 3
/// quick-reply buttons (as many on every card, ids unique in the message, labels in the card).
fn check_carousel_action(flavor: Flavor, action: &Map<String, Value>) -> Check {
    let path = "interactive.action";
    only_keys(action, &["cards"], path)?;
    let cards = array(action.get("cards").ok_or("carousel cards missing")?, path)?;
    ensure!(
        (2..=10).contains(&cards.len()),
        "a carousel has {} cards",
        cards.len()
    );
    let (mut indexes, mut header_types) = (HashSet::new(), HashSet::new());
    // Each card's buttons: `None` for a URL button, the number of its quick-reply buttons.
    let mut button_kinds: HashSet<Option<usize>> = HashSet::new();
    let mut ids = Vec::new();
    for (i, card) in cards.iter().enumerate() {
        let path = format!("interactive.action.cards[{i}]");
        let card = object(card, &path)?;
        only_keys(
            card,
            &["card_index", "type", "header", "body", "action"],
            &path,
        )?;
        let index = card.get("card_index").and_then(Value::as_u64);
        ensure!(
            index.is_some_and(|index| index <= 9 && indexes.insert(index)),
            "{path}.card_index is {index:?}: not 0 to 9, or repeated"
        );
        equals(card, "type", "cta_url", &path)?;
        let header = object(
            card.get("header")
                .ok_or_else(|| format!("{path}.header is missing"))?,
            &path,
        )?;
        let media = header
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        ensure!(
            matches!(media, "image" | "video"),
            "{path}.header is a {media:?}"
        );
        header_types.insert(media);
        only_keys(header, &["type", media], &path)?;
        check_media(
            flavor,
            media,
            &header[media],
            &format!("{path}.header"),
            false,
        )?;
        if let Some(body) = card.get("body") {
            let body = object(body, &path)?;
            only_keys(body, &["text"], &path)?;
            text_field(body, "text", 1, 160, &path)?;
        }
        let action = object(
            card.get("action")
                .ok_or_else(|| format!("{path}.action is missing"))?,
            &path,
        )?;
        // One URL button, or one or more quick-reply buttons ("Button types and numbers must
        // match across all cards").
        if let Some(buttons) = action.get("buttons") {
            only_keys(action, &["buttons"], &path)?;
            let buttons = array(buttons, &path)?;
            ensure!(
                (1..=3).contains(&buttons.len()),
                "{path} has {} quick-reply buttons, not 1 to 3",
                buttons.len()
            );
            button_kinds.insert(Some(buttons.len()));
            let mut titles = Vec::new();
            for (j, button) in buttons.iter().enumerate() {
                let path = format!("{path}.action.buttons[{j}]");
                let button = object(button, &path)?;
                only_keys(button, &["type", "quick_reply"], &path)?;
                equals(button, "type", "quick_reply", &path)?;
                let reply = object(
                    button
                        .get("quick_reply")
                        .ok_or_else(|| format!("{path}.quick_reply is missing"))?,
                    &path,
                )?;
                only_keys(reply, &["id", "title"], &path)?;
                let id = text_field(reply, "id", 1, 256, &path)?;
                ensure!(id.trim() == id, "{path}.quick_reply.id {id:?} is padded");
                ids.push(id);
                titles.push(text_field(reply, "title", 1, 20, &path)?);
            }
            ensure!(
                all_unique(titles.iter().copied()),
                "{path} quick-reply titles repeat: {titles:?}"
            );
        } else {
            button_kinds.insert(None);
            only_keys(action, &["name", "parameters"], &path)?;
            equals(action, "name", "cta_url", &path)?;
            let parameters = object(
                action.get("parameters").ok_or("card parameters missing")?,
                &path,
            )?;
            only_keys(parameters, &["display_text", "url"], &path)?;
            text_field(parameters, "display_text", 1, 20, &path)?;
            let url = text_field(parameters, "url", 1, usize::MAX, &path)?;
            ensure!(is_http_url(url), "{path} url {url:?} is not an http(s) URL");
        }
    }
    ensure!(
        header_types.len() == 1,
        "carousel cards mix header types: {header_types:?}"
    );
    ensure!(
        button_kinds.len() == 1,
        "carousel cards differ in their buttons: {button_kinds:?}"
    );
    ensure!(
        all_unique(ids.iter().copied()),
        "carousel quick-reply ids repeat: {ids:?}"
    );
    Ok(())
}

/// The title of a section: at most 24 characters, required when there are several sections.
fn check_section_title(section: &Map<String, Value>, several: bool, path: &str) -> Check {
    if several {
        text_field(section, "title", 1, 24, path)?;
    } else {
        optional_text_field(section, "title", 1, 24, path)?;
    }
    Ok(())
}

fn check_list_action(action: &Map<String, Value>) -> Check {
    let path = "interactive.action";
    only_keys(action, &["button", "sections"], path)?;
    text_field(action, "button", 1, 20, path)?;
    let sections = array(action.get("sections").ok_or("list sections missing")?, path)?;
    ensure!(
        (1..=10).contains(&sections.len()),
        "a list has {} sections, not 1 to 10",
        sections.len()
    );
    let mut ids = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let path = format!("interactive.action.sections[{i}]");
        let section = object(section, &path)?;
        only_keys(section, &["title", "rows"], &path)?;
        check_section_title(section, sections.len() > 1, &path)?;
        let rows = array(
            section
                .get("rows")
                .ok_or_else(|| format!("{path}.rows is missing"))?,
            &path,
        )?;
        ensure!(!rows.is_empty(), "{path} has no rows");
        for (j, row) in rows.iter().enumerate() {
            let path = format!("{path}.rows[{j}]");
            let row = object(row, &path)?;
            only_keys(row, &["id", "title", "description"], &path)?;
            ids.push(text_field(row, "id", 1, 200, &path)?);
            text_field(row, "title", 1, 24, &path)?;
            optional_text_field(row, "description", 1, 72, &path)?;
        }
    }
    ensure!(ids.len() <= 10, "a list has {} rows in all", ids.len());
    ensure!(
        all_unique(ids.iter().copied()),
        "list row ids repeat: {ids:?}"
    );
    Ok(())
}

fn check_button_action(action: &Map<String, Value>) -> Check {
    let path = "interactive.action";
    only_keys(action, &["buttons"], path)?;
    let buttons = array(action.get("buttons").ok_or("buttons missing")?, path)?;
    ensure!(
        (1..=3).contains(&buttons.len()),
        "{} reply buttons, not 1 to 3",
        buttons.len()
    );
    let (mut ids, mut titles) = (Vec::new(), Vec::new());
    for (i, button) in buttons.iter().enumerate() {
        let path = format!("interactive.action.buttons[{i}]");
        let button = object(button, &path)?;
        only_keys(button, &["type", "reply"], &path)?;
        equals(button, "type", "reply", &path)?;
        let reply = object(
            button
                .get("reply")
                .ok_or_else(|| format!("{path}.reply is missing"))?,
            &path,
        )?;
        only_keys(reply, &["id", "title"], &path)?;
        let id = text_field(reply, "id", 1, 256, &path)?;
        ensure!(id.trim() == id, "{path}.reply.id {id:?} is padded");
        ids.push(id);
        titles.push(text_field(reply, "title", 1, 20, &path)?);
    }
    ensure!(all_unique(ids.iter().copied()), "reply ids repeat: {ids:?}");
    ensure!(
        all_unique(titles.iter().copied()),
        "reply titles repeat: {titles:?}"
    );
    Ok(())
}

fn check_product_list_action(action: &Map<String, Value>) -> Check {
    let path = "interactive.action";
    only_keys(action, &["catalog_id", "sections"], path)?;
    text_field(action, "catalog_id", 1, usize::MAX, path)?;
    check_product_sections(action, path)
}

/// The `sections` of a multi-product message or button.
fn check_product_sections(action: &Map<String, Value>, path: &str) -> Check {
    let sections = array(
        action.get("sections").ok_or("product sections missing")?,
        path,
    )?;
    ensure!(
        (1..=10).contains(&sections.len()),
        "a product list has {} sections, not 1 to 10",
        sections.len()
    );
    let mut products = 0;
    for (i, section) in sections.iter().enumerate() {
        let path = format!("{path}.sections[{i}]");
        let section = object(section, &path)?;
        only_keys(section, &["title", "product_items"], &path)?;
        check_section_title(section, sections.len() > 1, &path)?;
        let items = array(
            section
                .get("product_items")
                .ok_or_else(|| format!("{path}.product_items is missing"))?,
            &path,
        )?;
        ensure!(!items.is_empty(), "{path} has no products");
        products += items.len();
        for (j, item) in items.iter().enumerate() {
            let path = format!("{path}.product_items[{j}]");
            let item = object(item, &path)?;
            only_keys(item, &["product_retailer_id"], &path)?;
            text_field(item, "product_retailer_id", 1, 100, &path)?;
        }
    }
    ensure!(
        products <= 30,
        "a product list has {products} products in all"
    );
    Ok(())
}

fn check_flow_action(flavor: Flavor, action: &Map<String, Value>) -> Check {
    let path = "interactive.action";
    only_keys(action, &["name", "parameters"], path)?;
    equals(action, "name", "flow", path)?;
    let path = "interactive.action.parameters";
    let parameters = object(
        action.get("parameters").ok_or("flow parameters missing")?,
        path,
    )?;
    only_keys(
        parameters,
        &[
            "mode",
            "flow_message_version",
            "flow_token",
            "flow_id",
            "flow_name",
            "flow_cta",
            "flow_action",
            "flow_action_payload",
        ],
        path,
    )?;
    equals(parameters, "flow_message_version", "3", path)?;
    text_field(parameters, "flow_token", 1, usize::MAX, path)?;
    // The Flow by its id, or on the Cloud API by its name: exactly one.
    match (
        parameters.contains_key("flow_id"),
        parameters.contains_key("flow_name"),
    ) {
        (true, false) => {
            text_field(parameters, "flow_id", 1, usize::MAX, path)?;
        }
        (false, true) => {
            ensure!(
                flavor == Flavor::Cloud,
                "{path}.flow_name is Cloud API only"
            );
            text_field(parameters, "flow_name", 1, usize::MAX, path)?;
        }
        _ => return Err(format!("{path} needs exactly one of flow_id and flow_name")),
    }
    text_field(parameters, "flow_cta", 1, 20, path)?;
    if let Some(mode) = parameters.get("mode") {
        ensure!(
            matches!(mode.as_str(), Some("draft" | "published")),
            "{path}.mode is {mode}"
        );
    }
    let data_exchange = match parameters.get("flow_action") {
        None => false,
        Some(action) => match action.as_str() {
            Some("navigate") => false,
            Some("data_exchange") => true,
            _ => return Err(format!("{path}.flow_action is {action}")),
        },
    };
    match parameters.get("flow_action_payload") {
        Some(_) if data_exchange => {
            return Err("a data_exchange flow takes no flow_action_payload".into());
        }
        None if !data_exchange => {
            return Err("a navigate flow needs a flow_action_payload".into());
        }
        None => {}
        Some(payload) => {
            let path = "interactive.action.parameters.flow_action_payload";
            let payload = object(payload, path)?;
            only_keys(payload, &["screen", "data"], path)?;
            text_field(payload, "screen", 1, usize::MAX, path)?;
            if let Some(data) = payload.get("data") {
                ensure!(
                    data.as_object().is_some_and(|data| !data.is_empty()),
                    "{path}.data is {data}, not a non-empty object"
                );
            }
        }
    }
    Ok(())
}

/// A read-receipt body for `flavor`.
fn check_mark_read(flavor: Flavor, body: &Value) -> Check {
    let top = object(body, "body")?;
    equals(top, "status", "read", "")?;
    match flavor {
        Flavor::OnPremises => only_keys(top, &["status"], ""),
        Flavor::Cloud => {
            only_keys(
                top,
                &[
                    "messaging_product",
                    "status",
                    "message_id",
                    "typing_indicator",
                ],
                "",
            )?;
            equals(top, "messaging_product", "whatsapp", "")?;
            let id = text_field(top, "message_id", 1, 256, "")?;
            ensure!(
                id != "."
                    && id != ".."
                    && !id.contains(|c: char| c.is_whitespace() || c.is_control()),
                "message_id must be one URL path segment: {id:?}"
            );
            if let Some(indicator) = top.get("typing_indicator") {
                let indicator = object(indicator, "typing_indicator")?;
                only_keys(indicator, &["type"], "typing_indicator")?;
                equals(indicator, "type", "text", "typing_indicator")?;
            }
            Ok(())
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The properties
// ------------------------------------------------------------------------------------------------

/// `cases` per property, unless `PROPTEST_CASES` asks for another number (for a longer hunt).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// 1. Arbitrary send requests never panic, on either flavor, and an accepted body serializes.
    #[test]
    fn send_message_never_panics(request in send_requests()) {
        for flavor in FLAVORS {
            if let Ok(body) = translate::send_message(flavor, &request) {
                prop_assert!(serde_json::to_vec(&body).is_ok());
            }
        }
    }

    /// 1. Arbitrary read receipts never panic either.
    #[test]
    fn mark_message_read_never_panics(request in mark_read_requests()) {
        for flavor in FLAVORS {
            if let Ok(body) = translate::mark_message_read(flavor, &request) {
                prop_assert!(serde_json::to_vec(&body).is_ok());
            }
        }
    }

    /// 2. Whatever passes validation is a body the API accepts.
    #[test]
    fn accepted_send_bodies_follow_the_api_rules(request in send_requests()) {
        for flavor in FLAVORS {
            if let Ok(body) = translate::send_message(flavor, &request) {
                let json = serde_json::to_value(&body).expect("body serializes");
                if let Err(broken) = check_send(flavor, &json) {
                    prop_assert!(
                        false,
                        "{flavor} accepted a body the API refuses: {broken}\n{json:#}"
                    );
                }
            }
        }
    }

    /// 2. Whatever read receipt passes validation is one the API accepts.
    #[test]
    fn accepted_read_receipts_follow_the_api_rules(request in mark_read_requests()) {
        for flavor in FLAVORS {
            if let Ok(body) = translate::mark_message_read(flavor, &request) {
                let json = serde_json::to_value(body).expect("body serializes");
                if let Err(broken) = check_mark_read(flavor, &json) {
                    prop_assert!(
                        false,
                        "{flavor} accepted a read receipt the API refuses: {broken}\n{json:#}"
                    );
                }
            }
        }
    }

    /// 3. The same request translates to the same bytes (or the same violations), every time.
    #[test]
    fn translation_is_deterministic(request in send_requests(), read in mark_read_requests()) {
        let copy = request.clone();
        for flavor in FLAVORS {
            let first = translate::send_message(flavor, &request);
            let second = translate::send_message(flavor, &request);
            let third = translate::send_message(flavor, &copy);
            match (first, second, third) {
                (Ok(a), Ok(b), Ok(c)) => {
                    let a = serde_json::to_vec(&a).expect("serializes");
                    prop_assert_eq!(&a, &serde_json::to_vec(&b).expect("serializes"));
                    prop_assert_eq!(&a, &serde_json::to_vec(&c).expect("serializes"));
                }
                (Err(a), Err(b), Err(c)) => {
                    prop_assert_eq!(&a, &b);
                    prop_assert_eq!(&a, &c);
                }
                (a, b, c) => prop_assert!(
                    false,
                    "{flavor}: outcomes differ: {a:?} / {b:?} / {c:?}"
                ),
            }
            let first = translate::mark_message_read(flavor, &read)
                .map(|body| serde_json::to_vec(&body).expect("serializes"));
            let second = translate::mark_message_read(flavor, &read)
                .map(|body| serde_json::to_vec(&body).expect("serializes"));
            prop_assert_eq!(first, second);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Non-vacuity: the generators produce accepted requests of every kind, and the checker is neither
// too strict (it accepts every conformance fixture) nor toothless (it refuses broken bodies).
// ------------------------------------------------------------------------------------------------

/// Cloud-only content kinds, which the On-Premises flavor must refuse.
const CLOUD_ONLY: &[&str] = &[
    "reaction",
    "pin",
    "audio (voice note)",
    "interactive/flow (by name)",
    "interactive/voice_call",
    "interactive/call_permission_request",
    "interactive/carousel",
    "template (Cloud shapes)",
    "interactive/cta_url",
    "interactive/location_request_message",
];

#[test]
fn generators_produce_accepted_and_refused_requests_of_every_kind() {
    const PER_KIND: usize = 250;
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let mut report = Vec::new();
    let kinds = content_kinds(CLEAN)
        .into_iter()
        .zip(content_kinds(SLIGHT))
        .zip(content_kinds(DIRTY));
    for (((name, clean), (_, slight)), (_, dirty)) in kinds {
        // The same mix as `send_requests`, one content kind at a time.
        let requests = pick(vec![
            (2, request(CLEAN, clean.prop_map(Some).boxed())),
            (2, request(SLIGHT, slight.prop_map(Some).boxed())),
            (1, request(DIRTY, dirty.prop_map(Some).boxed())),
        ]);
        let mut accepted = [0usize; 2];
        for _ in 0..PER_KIND {
            let request = requests.new_tree(&mut runner).expect("a request").current();
            for (n, flavor) in FLAVORS.into_iter().enumerate() {
                if let Ok(body) = translate::send_message(flavor, &request) {
                    accepted[n] += 1;
                    // The checker runs here too: these accepted bodies come from a fixed seed.
                    let json = serde_json::to_value(&body).expect("body serializes");
                    if let Err(broken) = check_send(flavor, &json) {
                        panic!(
                            "{name}: {flavor} accepted a body the API refuses: {broken}\n{json:#}"
                        );
                    }
                }
            }
        }
        report.push((name, accepted));
    }
    eprintln!("accepted of {PER_KIND} generated requests per kind (Cloud, On-Premises):");
    for (name, [cloud, on_premises]) in &report {
        eprintln!("  {name:<40} {cloud:>4} {on_premises:>4}");
    }
    for (name, [cloud, on_premises]) in report {
        // At least a fifth accepted where the flavor supports the kind, and at least a tenth
        // refused, so that both sides of the limits are exercised.
        let enough = PER_KIND / 5;
        assert!(
            (enough..=PER_KIND - PER_KIND / 10).contains(&cloud),
            "{name}: Cloud accepted {cloud} of {PER_KIND}"
        );
        if CLOUD_ONLY.contains(&name) {
            assert_eq!(on_premises, 0, "{name} is Cloud only");
        } else {
            assert!(
                (enough..=PER_KIND - PER_KIND / 10).contains(&on_premises),
                "{name}: On-Premises accepted {on_premises} of {PER_KIND}"
            );
        }
    }
}

#[test]
fn checker_accepts_every_conformance_fixture() {
    for (dir, flavor) in [
        ("cloud", Flavor::Cloud),
        ("on_premises", Flavor::OnPremises),
    ] {
        for name in common::fixture_names(dir) {
            let body = &common::fixture(dir, &name)["body"];
            let verdict = if name.starts_with("mark_read") {
                check_mark_read(flavor, body)
            } else {
                check_send(flavor, body)
            };
            assert_eq!(verdict, Ok(()), "{dir}/{name}");
        }
    }
}

/// The checker takes every body built from the Cloud API's current docs, for its flavor, and
/// refuses the Cloud-only ones on On-Premises and each edited to break one rule.
#[test]
fn checker_accepts_the_doc_fixtures_and_refuses_them_broken() {
    let flavor_of = |fixture: &Value| match fixture["flavor"].as_str() {
        Some("cloud") => Flavor::Cloud,
        _ => Flavor::OnPremises,
    };
    let dir = common::doc_fixtures_dir();
    for name in common::json_names(&dir) {
        let fixture = common::doc_fixture(&name);
        let flavor = flavor_of(&fixture);
        assert_eq!(check_send(flavor, &fixture["body"]), Ok(()), "{name}");
    }
    let on_premises = |name: &str| {
        let mut body = common::doc_fixture(name)["body"].clone();
        body.as_object_mut().unwrap().remove("messaging_product");
        check_send(Flavor::OnPremises, &body)
    };
    for name in [
        "audio_voice_note",
        "marketing_messages_template",
        "group_text",
        "group_pin",
        "group_unpin",
        "recipient_bsuid",
        "interactive_media_carousel",
        "interactive_media_carousel_quick_replies",
        "interactive_call_permission_request",
        "interactive_flow_by_name",
        "interactive_voice_call",
        "interactive_voice_call_defaults",
        "template_carousel",
        "template_flow_button",
        "template_limited_time_offer",
        "template_location_header",
        "template_mpm_button",
        "template_named_parameters",
        "template_product_header",
        "template_tap_target_configuration",
        "template_catalog_button_no_thumbnail",
    ] {
        assert!(on_premises(name).is_err(), "{name} passed on On-Premises");
    }
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit)] = &[
        ("interactive_voice_call", |b| {
            b["interactive"]["action"]["parameters"]["ttl_minutes"] = Value::from(0);
        }),
        ("interactive_voice_call", |b| {
            b["interactive"]["action"]["parameters"]["display_text"] = Value::from("ж".repeat(21));
        }),
        ("interactive_voice_call", |b| {
            b["interactive"]["footer"] = serde_json::json!({"text": "f"});
        }),
        ("interactive_media_carousel", |b| {
            b["interactive"]["action"]["cards"][1]["card_index"] = Value::from(0);
        }),
        ("interactive_media_carousel", |b| {
            b["interactive"]["action"]["cards"][1]["header"] = serde_json::json!({"type": "video", "video": {"link": "https://example.com/v.mp4"}});
        }),
        ("interactive_media_carousel", |b| {
            b["interactive"]["action"]["cards"][0]["body"]["text"] = Value::from("ж".repeat(161));
        }),
        ("interactive_media_carousel", |b| {
            let cards = b["interactive"]["action"]["cards"].as_array_mut().unwrap();
            cards.truncate(1);
        }),
        ("group_text", |b| {
            b["recipient"] = Value::from("US.13491208655302741918");
        }),
        ("group_text", |b| {
            b["type"] = Value::from("location");
            b.as_object_mut().unwrap().remove("text");
            b["location"] = serde_json::json!({"latitude": 1.0, "longitude": 2.0});
        }),
        ("recipient_bsuid", |b| {
            b.as_object_mut().unwrap().remove("recipient");
        }),
        ("group_pin", |b| {
            b["recipient_type"] = Value::from("individual");
        }),
        ("group_pin", |b| {
            b["pin"]["expiration_days"] = Value::from(31);
        }),
        ("group_pin", |b| {
            b["pin"]["expiration_days"] = Value::from(0);
        }),
        ("group_pin", |b| {
            b["pin"].as_object_mut().unwrap().remove("expiration_days");
        }),
        ("group_pin", |b| {
            b["pin"]["type"] = Value::from("pinned");
        }),
        ("group_pin", |b| {
            b["pin"]["message_id"] = Value::from("");
        }),
        ("group_unpin", |b| {
            b["pin"]["expiration_days"] = Value::from(7);
        }),
        ("interactive_flow_by_name", |b| {
            b["interactive"]["action"]["parameters"]["flow_id"] = Value::from("1234");
        }),
        ("interactive_call_permission_request", |b| {
            b["interactive"]["body"]["text"] = Value::from("ж".repeat(1025));
        }),
        ("interactive_media_carousel_quick_replies", |b| {
            let buttons = b["interactive"]["action"]["cards"][2]["action"]["buttons"]
                .as_array_mut()
                .unwrap();
            buttons.truncate(1);
        }),
        ("interactive_media_carousel_quick_replies", |b| {
            b["interactive"]["action"]["cards"][1]["action"]["buttons"][0]["quick_reply"]["id"] =
                Value::from("learn-blue-echeveria");
        }),
        ("interactive_media_carousel_quick_replies", |b| {
            b["interactive"]["action"]["cards"][0]["action"]["buttons"][1]["quick_reply"]["title"] =
                Value::from("Learn more");
        }),
        ("interactive_media_carousel_quick_replies", |b| {
            b["interactive"]["action"]["cards"][1]["action"] = serde_json::json!({
                "name": "cta_url",
                "parameters": {"display_text": "Buy now", "url": "https://example.com"}
            });
        }),
        ("template_tap_target_configuration", |b| {
            b["template"]["components"][2]["parameters"][0]["tap_target_configuration"][0]
                .as_object_mut()
                .unwrap()
                .remove("title");
        }),
        ("template_tap_target_configuration", |b| {
            b["template"]["components"][2]["parameters"][0]["tap_target_configuration"][0]["url"] =
                Value::from("ftp://example.com");
        }),
        ("group_text", |b| {
            b["type"] = Value::from("template");
            b.as_object_mut().unwrap().remove("text");
            b["template"] = serde_json::json!({
                "name": "intro_catalog_offer",
                "language": {"code": "en_US", "policy": "deterministic"},
                "components": [{"type": "button", "sub_type": "catalog", "index": 0}]
            });
        }),
        ("audio_voice_note", |b| {
            b["audio"]["voice"] = Value::from(false);
        }),
        ("template_named_parameters", |b| {
            b["template"]["components"][1]["parameters"][1]["parameter_name"] =
                Value::from("customer_name");
        }),
        ("template_named_parameters", |b| {
            b["template"]["components"][1]["parameters"][1]
                .as_object_mut()
                .unwrap()
                .remove("parameter_name");
        }),
        ("template_named_parameters", |b| {
            b["template"]["components"][0]["parameters"][0]["parameter_name"] =
                Value::from("Order-Id");
        }),
        ("template_carousel", |b| {
            b["template"]["components"][1]["cards"][1]["card_index"] = Value::from(0);
        }),
        ("template_carousel", |b| {
            b["template"]["components"][1]["cards"][0]["components"][0]["parameters"][0] =
                serde_json::json!({"type": "document", "document": {"id": "d"}});
        }),
        ("template_carousel", |b| {
            b["template"]["components"][1]["cards"][0]["components"][2]["index"] = Value::from(2);
        }),
        ("template_limited_time_offer", |b| {
            b["template"]["components"][2]["parameters"][0]["limited_time_offer"]["expiration_time_ms"] =
                Value::from(0);
        }),
        ("template_mpm_button", |b| {
            b["template"]["components"][2]["parameters"][0]["action"]["sections"][1]
                .as_object_mut()
                .unwrap()
                .remove("title");
        }),
        ("template_location_header", |b| {
            b["template"]["components"][0]["parameters"][0]["location"]["latitude"] =
                Value::from(91.0);
        }),
        ("template_product_header", |b| {
            b["template"]["components"][1]["parameters"][0] = serde_json::json!(
                {"type": "product", "product": {"product_retailer_id": "p", "catalog_id": "c"}}
            );
        }),
        ("on_premises_template_date_time_components", |b| {
            b["template"]["components"][0]["parameters"][0]["date_time"]["month"] = Value::from(13);
        }),
    ];
    for (name, edit) in cases {
        let fixture = common::doc_fixture(name);
        let mut body = fixture["body"].clone();
        edit(&mut body);
        assert!(
            check_send(flavor_of(&fixture), &body).is_err(),
            "the checker took a broken {name}: {body:#}"
        );
    }
    // The Cloud API takes the date's fallback value only.
    let mut body = common::doc_fixture("on_premises_template_date_time_components")["body"].clone();
    body["messaging_product"] = Value::from("whatsapp");
    assert!(check_send(Flavor::Cloud, &body).is_err());
}

#[test]
fn checker_refuses_bodies_that_break_a_rule() {
    type Edit = fn(&mut Value);
    let cases: &[(&str, &str, Flavor, Edit)] = &[
        ("cloud", "text_preview_url", Flavor::Cloud, |b| {
            b["text"]["body"] = Value::from("é".repeat(4097));
        }),
        ("cloud", "text_preview_url", Flavor::Cloud, |b| {
            b["preview_url"] = Value::from(true);
        }),
        ("cloud", "text_preview_url", Flavor::Cloud, |b| {
            b["image"] = serde_json::json!({"id": "x"});
        }),
        ("cloud", "text_preview_url", Flavor::Cloud, |b| {
            b["biz_opaque_callback_data"] = Value::from("😀".repeat(513));
        }),
        ("cloud", "reaction", Flavor::OnPremises, |b| {
            b.as_object_mut().unwrap().remove("messaging_product");
        }),
        ("on_premises", "text", Flavor::OnPremises, |b| {
            b["messaging_product"] = Value::from("whatsapp");
        }),
        ("on_premises", "text", Flavor::OnPremises, |b| {
            b["text"]["body"] = Value::from("");
        }),
        (
            "on_premises",
            "image_link_caption",
            Flavor::OnPremises,
            |b| {
                b["image"]["id"] = Value::from("media-id");
            },
        ),
        (
            "on_premises",
            "image_link_caption",
            Flavor::OnPremises,
            |b| {
                b["image"]["link"] = Value::from("ftp://example.com/cat.jpg");
            },
        ),
        ("on_premises", "audio_id", Flavor::OnPremises, |b| {
            b["audio"]["caption"] = Value::from("a song");
        }),
        (
            "on_premises",
            "image_link_caption",
            Flavor::OnPremises,
            |b| {
                b["image"]["filename"] = Value::from("cat.jpg");
            },
        ),
        ("cloud", "image_link", Flavor::Cloud, |b| {
            b["image"]["provider"] = serde_json::json!({"name": "p"});
        }),
        ("on_premises", "contacts_full", Flavor::OnPremises, |b| {
            b["contacts"][0]["org"] = serde_json::json!({});
        }),
        ("cloud", "interactive_list", Flavor::Cloud, |b| {
            b["interactive"]["header"]["text"] = Value::from("ж".repeat(61));
        }),
        ("cloud", "interactive_list", Flavor::Cloud, |b| {
            b["interactive"]["action"]["button"] = Value::from("ж".repeat(21));
        }),
        (
            "on_premises",
            "interactive_button_text_header",
            Flavor::OnPremises,
            |b| {
                let buttons = b["interactive"]["action"]["buttons"]
                    .as_array_mut()
                    .unwrap();
                buttons
                    .push(serde_json::json!({"type": "reply", "reply": {"id": "d", "title": "D"}}));
            },
        ),
        (
            "on_premises",
            "interactive_button_text_header",
            Flavor::OnPremises,
            |b| {
                b["interactive"]["action"]["buttons"][1]["reply"]["title"] = Value::from("Morning");
            },
        ),
        (
            "on_premises",
            "interactive_product",
            Flavor::OnPremises,
            |b| {
                b["interactive"]["header"] = serde_json::json!({"type": "text", "text": "x"});
            },
        ),
        (
            "on_premises",
            "interactive_product_list",
            Flavor::OnPremises,
            |b| {
                b["interactive"].as_object_mut().unwrap().remove("header");
            },
        ),
        (
            "on_premises",
            "interactive_product_list",
            Flavor::OnPremises,
            |b| {
                let items: Vec<Value> = (0..30)
                    .map(|i| serde_json::json!({"product_retailer_id": format!("sku-{i}")}))
                    .collect();
                b["interactive"]["action"]["sections"][0]["product_items"] = Value::from(items);
            },
        ),
        (
            "on_premises",
            "interactive_catalog_message",
            Flavor::OnPremises,
            |b| {
                b["interactive"]["action"]["name"] = Value::from("catalog");
            },
        ),
        ("on_premises", "interactive_flow", Flavor::OnPremises, |b| {
            b["interactive"]["action"]["parameters"]["flow_message_version"] = Value::from("2");
        }),
        ("cloud", "interactive_cta_url", Flavor::OnPremises, |b| {
            b.as_object_mut().unwrap().remove("messaging_product");
        }),
        (
            "on_premises",
            "template_quick_reply_button",
            Flavor::OnPremises,
            |b| {
                let components = b["template"]["components"].as_array_mut().unwrap();
                let button = components
                    .iter_mut()
                    .find(|c| c["type"] == "button")
                    .unwrap();
                button["index"] = Value::from(10);
            },
        ),
    ];
    for (dir, name, flavor, edit) in cases {
        let mut body = common::fixture(dir, name)["body"].clone();
        edit(&mut body);
        assert!(
            check_send(*flavor, &body).is_err(),
            "{dir}/{name} edited for the {flavor} passed the checker:\n{body:#}"
        );
    }
    // And the limits themselves are allowed.
    let mut body = common::fixture("cloud", "text_preview_url")["body"].clone();
    body["text"]["body"] = Value::from("é".repeat(4096));
    assert_eq!(check_send(Flavor::Cloud, &body), Ok(()));
}
