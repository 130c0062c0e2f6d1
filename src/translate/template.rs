//! Message templates: language, one header, one body, one limited-time offer, one carousel and one
//! tap-target configuration at most, buttons at distinct indexes 0–9, media parameters in the
//! header only, and parameters all named or all positional.

use crate::flavor::Flavor;
use crate::proto;
use crate::proto::template_button::SubType;
use crate::proto::template_component::Component as ProtoComponent;
use crate::proto::template_parameter::Parameter as ProtoParameter;
use crate::validate::{Path, Rule, Validator, duplicates, limits};
use crate::wire::template::{
    Button, Calendar, Card, CatalogAction, CatalogParameter, Component, CopyCodeParameter,
    Currency, DateTime, FlowAction, FlowParameter, Language, LanguagePolicy, LimitedTimeOffer,
    LimitedTimeOfferParameter, MpmAction, MpmParameter, Parameter, Product, QuickReplyParameter,
    TapTarget, TapTargetParameter, Template, UrlParameter, Value,
};

use super::interactive::{flow_data, product_sections};
use super::media::{self, Place};
use super::{card_index, non_empty};

pub(super) fn template<'a>(
    v: &mut Validator,
    path: Path<'_>,
    template: &'a proto::Template,
) -> Option<Template<'a>> {
    let namespace = non_empty(&template.namespace).inspect(|namespace| {
        v.only_on(path.field("namespace"), Flavor::OnPremises);
        v.text(path.field("namespace"), namespace);
    });
    v.required_text(path.field("name"), &template.name);
    let language = v
        .present(path.field("language"), template.language.as_ref())
        .and_then(|language| self::language(v, path.field("language"), language));

    let list = path.field("components");
    let mut header_at = None;
    let mut body_at = None;
    let mut offer_at = None;
    let mut carousel_at = None;
    let mut tap_target_at = None;
    let mut button_indexes: Vec<(u32, usize)> = Vec::new();
    let mut naming = Naming::default();
    let walked = v.bounded(
        list,
        &template.components,
        0,
        limits::TEMPLATE_COMPONENTS_MAX,
    );
    // "1024 characters if other component types are included, 32768 characters if body is the only
    // component type included."
    let body_only = walked
        .iter()
        .all(|c| matches!(c.component, Some(ProtoComponent::Body(_))));
    let body_text_max = if body_only {
        limits::TEMPLATE_BODY_ONLY_TEXT_PARAMETER_MAX
    } else {
        limits::TEMPLATE_BODY_TEXT_PARAMETER_MAX
    };
    // The data of all the Flow buttons together is bounded, like one Flow's (one button over the
    // bound is reported at its own field).
    let (flow_data_in_all, flow_data_largest) = walked
        .iter()
        .filter_map(|c| match &c.component {
            Some(ProtoComponent::Button(proto::TemplateButton {
                sub_type: Some(SubType::Flow(flow)),
                ..
            })) => flow
                .flow_action_data
                .as_ref()
                .map(prost::Message::encoded_len),
            _ => None,
        })
        .fold((0, 0), |(sum, largest), size| {
            (sum + size, size.max(largest))
        });
    if flow_data_in_all > limits::FLOW_DATA_MAX_BYTES
        && flow_data_largest <= limits::FLOW_DATA_MAX_BYTES
    {
        v.violation(
            list,
            Rule::TooLarge {
                max_bytes: limits::FLOW_DATA_MAX_BYTES,
                actual: flow_data_in_all,
            },
        );
    }
    let mut components = Vec::with_capacity(walked.len());
    for (i, component) in walked.iter().enumerate() {
        let path = list.index(i);
        let Some(component) = v.one_of(
            path.field("component"),
            component.component.as_ref(),
            "header, body, button, limited_time_offer, carousel, tap_target_configuration",
        ) else {
            continue;
        };
        let translated = match component {
            ProtoComponent::Header(header) => {
                once(v, path, &mut header_at, i);
                self::header(v, path.field("header"), header, Slot::Header, &mut naming)
            }
            ProtoComponent::Body(body) => {
                once(v, path, &mut body_at, i);
                let slot = Slot::Body {
                    text_max: body_text_max,
                };
                self::body(v, path.field("body"), body, slot, &mut naming)
            }
            ProtoComponent::Button(button) => {
                let button_path = path.field("button");
                index(
                    v,
                    button_path,
                    button.index,
                    limits::TEMPLATE_BUTTON_INDEX_MAX,
                    &mut button_indexes,
                    i,
                    "components",
                );
                self::button(v, button_path, button).map(Component::Button)
            }
            ProtoComponent::LimitedTimeOffer(offer) => {
                let path = path.field("limited_time_offer");
                v.only_on(path, Flavor::Cloud);
                once(v, list.index(i), &mut offer_at, i);
                let expiration = offer.expiration_time_ms;
                if !(1..=limits::TEMPLATE_EXPIRATION_TIME_MS_MAX).contains(&expiration) {
                    v.violation(
                        path.field("expiration_time_ms"),
                        Rule::OutOfRange {
                            min: "1".into(),
                            max: limits::TEMPLATE_EXPIRATION_TIME_MS_MAX.to_string(),
                        },
                    );
                }
                Some(Component::LimitedTimeOffer {
                    parameters: [LimitedTimeOfferParameter::LimitedTimeOffer {
                        limited_time_offer: LimitedTimeOffer {
                            expiration_time_ms: expiration,
                        },
                    }],
                })
            }
            ProtoComponent::Carousel(carousel) => {
                let path = path.field("carousel");
                v.only_on(path, Flavor::Cloud);
                once(v, list.index(i), &mut carousel_at, i);
                self::carousel(v, path, carousel, &mut naming)
            }
            ProtoComponent::TapTargetConfiguration(tap_target) => {
                let path = path.field("tap_target_configuration");
                v.only_on(path, Flavor::Cloud);
                once(v, list.index(i), &mut tap_target_at, i);
                let url = path.field("url");
                if v.required(url, &tap_target.url) {
                    v.http_url(url, &tap_target.url);
                    v.max_chars(url, &tap_target.url, limits::URL_MAX);
                }
                v.required_max_chars(
                    path.field("title"),
                    &tap_target.title,
                    limits::TAP_TARGET_TITLE_MAX,
                );
                Some(Component::TapTargetConfiguration {
                    parameters: [TapTargetParameter::TapTargetConfiguration {
                        tap_target_configuration: [TapTarget {
                            url: &tap_target.url,
                            title: &tap_target.title,
                        }],
                    }],
                })
            }
        };
        components.extend(translated);
    }

    Some(Template {
        namespace,
        name: &template.name,
        language: language?,
        components,
    })
}

/// Records a second header (or body, offer, carousel, tap target) component as a duplicate of the
/// first.
fn once(v: &mut Validator, path: Path<'_>, first: &mut Option<usize>, i: usize) {
    match first {
        Some(first) => v.violation(
            path,
            Rule::Duplicate {
                first: format!("components[{first}]"),
            },
        ),
        None => *first = Some(i),
    }
}

/// Checks a button's `index` (0 to `max`, distinct among the buttons of `list`, the repeated field
/// holding the button at position `i`).
fn index(
    v: &mut Validator,
    button_path: Path<'_>,
    index: u32,
    max: u32,
    seen: &mut Vec<(u32, usize)>,
    i: usize,
    list: &str,
) {
    if index > max {
        v.violation(
            button_path.field("index"),
            Rule::OutOfRange {
                min: "0".into(),
                max: max.to_string(),
            },
        );
    }
    match seen.iter().find(|(seen, _)| *seen == index) {
        Some((_, first)) => v.violation(
            button_path.field("index"),
            Rule::Duplicate {
                first: format!("{list}[{first}].button.index"),
            },
        ),
        None => seen.push((index, i)),
    }
}

fn language<'a>(
    v: &mut Validator,
    path: Path<'_>,
    language: &'a proto::TemplateLanguage,
) -> Option<Language<'a>> {
    let policy = v
        .known_enum::<proto::TemplateLanguagePolicy>(path.field("policy"), language.policy)
        .map(|policy| match policy {
            proto::TemplateLanguagePolicy::Unspecified
            | proto::TemplateLanguagePolicy::Deterministic => LanguagePolicy::Deterministic,
        });
    let code_path = path.field("code");
    if v.required(code_path, &language.code) && !is_language_code(&language.code) {
        v.violation(
            code_path,
            Rule::Format("a language or locale code such as en or en_US"),
        );
    }
    Some(Language {
        policy: policy?,
        code: &language.code,
    })
}

/// `ll`, `lll`, `ll_CC`: a lowercase language, then optionally `_` and a 2–4 letter or digit region.
fn is_language_code(code: &str) -> bool {
    let (language, region) = match code.split_once('_') {
        Some((language, region)) => (language, Some(region)),
        None => (code, None),
    };
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|region| {
            (2..=4).contains(&region.len()) && region.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Where a parameter is: it decides which kinds of value it may hold and how long its text may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The template's header: text, media, a location or a product.
    Header,
    /// The template's body: text, currency, date and time, each text at most `text_max`.
    Body { text_max: usize },
    /// A carousel card's header: an image or a video.
    CardHeader,
    /// A carousel card's body: like the template's body, with the card's limits.
    CardBody,
}

impl Slot {
    fn text_max(self) -> usize {
        match self {
            Slot::Header | Slot::CardHeader => limits::TEMPLATE_HEADER_TEXT_PARAMETER_MAX,
            Slot::Body { text_max } => text_max,
            Slot::CardBody => limits::TEMPLATE_CARD_BODY_TEXT_MAX,
        }
    }
}

/// Whether the template's variables are named (`parameter_name`) or positional: the first variable
/// decides, and every other must follow it.
#[derive(Default)]
struct Naming {
    named: Option<bool>,
}

fn header<'a>(
    v: &mut Validator,
    path: Path<'_>,
    header: &'a proto::TemplateHeader,
    slot: Slot,
    naming: &mut Naming,
) -> Option<Component<'a>> {
    let parameters_path = path.field("parameters");
    let walked = v.bounded(
        parameters_path,
        &header.parameters,
        limits::TEMPLATE_HEADER_PARAMETERS,
        limits::TEMPLATE_HEADER_PARAMETERS,
    );
    parameters(v, parameters_path, walked, slot, naming)
        .map(|parameters| Component::Header { parameters })
}

fn body<'a>(
    v: &mut Validator,
    path: Path<'_>,
    body: &'a proto::TemplateBody,
    slot: Slot,
    naming: &mut Naming,
) -> Option<Component<'a>> {
    let parameters_path = path.field("parameters");
    let (max, in_all_max) = match slot {
        Slot::CardBody => (
            limits::TEMPLATE_CARD_BODY_PARAMETERS_MAX,
            limits::TEMPLATE_CARD_BODY_TEXT_MAX,
        ),
        _ => (
            limits::TEMPLATE_BODY_PARAMETERS_MAX,
            limits::TEMPLATE_BODY_TEXT_IN_ALL_MAX,
        ),
    };
    let walked = v.bounded(parameters_path, &body.parameters, 1, max);
    let in_all: usize = walked
        .iter()
        .map(|p| match &p.parameter {
            Some(ProtoParameter::Text(text)) => text.chars().count(),
            _ => 0,
        })
        .sum();
    if in_all > in_all_max {
        v.violation(
            parameters_path,
            Rule::TooLong {
                max: in_all_max,
                actual: in_all,
            },
        );
    }
    parameters(v, parameters_path, walked, slot, naming)
        .map(|parameters| Component::Body { parameters })
}

fn parameters<'a>(
    v: &mut Validator,
    path: Path<'_>,
    parameters: &'a [proto::TemplateParameter],
    slot: Slot,
    naming: &mut Naming,
) -> Option<Vec<Parameter<'a>>> {
    // Names are unique within a component (`{{name}}` has one value).
    if parameters.iter().any(|p| !p.parameter_name.is_empty()) {
        for (repeat, first) in duplicates(parameters.iter().map(|p| p.parameter_name.as_str())) {
            v.violation(
                path.index(repeat).field("parameter_name"),
                Rule::Duplicate {
                    first: format!("parameters[{first}].parameter_name"),
                },
            );
        }
    }
    let translated: Vec<Option<Parameter<'a>>> = parameters
        .iter()
        .enumerate()
        .map(|(i, parameter)| self::parameter(v, path.index(i), parameter, slot, naming))
        .collect();
    translated.into_iter().collect()
}

/// Whether `name` can be a named parameter: a lowercase letter, then lowercase letters, digits and
/// underscores.
fn is_parameter_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One header or body parameter.
fn parameter<'a>(
    v: &mut Validator,
    path: Path<'_>,
    parameter: &'a proto::TemplateParameter,
    slot: Slot,
    naming: &mut Naming,
) -> Option<Parameter<'a>> {
    let name = &parameter.parameter_name;
    let name_path = path.field("parameter_name");
    let value = v.one_of(
        path.field("parameter"),
        parameter.parameter.as_ref(),
        "text, currency, date_time, image, document, video, location, product",
    );
    // Only variables (text, currency, date and time) have a name; media, locations and products
    // fill the header's slot.
    let variable = matches!(
        value,
        Some(ProtoParameter::Text(_) | ProtoParameter::Currency(_) | ProtoParameter::DateTime(_))
    );
    if variable {
        let named = !name.is_empty();
        match naming.named {
            None => naming.named = Some(named),
            Some(first) if first != named => v.violation(
                name_path,
                Rule::NotAllowed(
                    "a template's parameters are either all named or all positional, as the template was created",
                ),
            ),
            Some(_) => {}
        }
    }
    if !name.is_empty() {
        v.only_on(name_path, Flavor::Cloud);
        v.max_chars(name_path, name, limits::TEMPLATE_PARAMETER_NAME_MAX);
        if !is_parameter_name(name) {
            v.violation(
                name_path,
                Rule::Format("lowercase letters, digits and underscores, starting with a letter"),
            );
        }
        if value.is_some() && !variable {
            v.violation(
                name_path,
                Rule::NotAllowed("only text, currency and date_time parameters are named"),
            );
        }
    }
    let value = value?;
    let media = |v: &mut Validator, path: Path<'_>, video_or_image: bool| match slot {
        Slot::Header => {}
        Slot::CardHeader if video_or_image => {}
        Slot::CardHeader => v.violation(
            path,
            Rule::NotAllowed("a carousel card's header is an image or a video"),
        ),
        Slot::Body { .. } | Slot::CardBody => v.violation(
            path,
            Rule::NotAllowed("media parameters belong in the header component"),
        ),
    };
    let value = match value {
        ProtoParameter::Text(text) => {
            if slot == Slot::CardHeader {
                v.violation(
                    path.field("text"),
                    Rule::NotAllowed("a carousel card's header is an image or a video"),
                );
            }
            v.required_max_chars(path.field("text"), text, slot.text_max());
            Value::Text { text }
        }
        ProtoParameter::Currency(currency) => {
            let path = path.field("currency");
            if slot == Slot::CardHeader {
                v.violation(
                    path,
                    Rule::NotAllowed("a carousel card's header is an image or a video"),
                );
            }
            v.required_text(path.field("fallback_value"), &currency.fallback_value);
            let code = path.field("code");
            if v.required(code, &currency.code)
                && !(currency.code.len() == 3
                    && currency.code.bytes().all(|b| b.is_ascii_uppercase()))
            {
                v.violation(
                    code,
                    Rule::Format("an ISO 4217 code of three uppercase letters such as USD"),
                );
            }
            Value::Currency {
                currency: Currency {
                    fallback_value: &currency.fallback_value,
                    code: &currency.code,
                    amount_1000: currency.amount_1000,
                },
            }
        }
        ProtoParameter::DateTime(date_time) => {
            let path = path.field("date_time");
            if slot == Slot::CardHeader {
                v.violation(
                    path,
                    Rule::NotAllowed("a carousel card's header is an image or a video"),
                );
            }
            Value::DateTime {
                date_time: self::date_time(v, path, date_time)?,
            }
        }
        ProtoParameter::Image(image) => {
            let path = path.field("image");
            media(v, path, true);
            Value::Image {
                image: media::image(v, path, image, Place::TemplateParameter)?,
            }
        }
        ProtoParameter::Document(document) => {
            let path = path.field("document");
            media(v, path, false);
            Value::Document {
                document: media::document(v, path, document, Place::TemplateParameter)?,
            }
        }
        ProtoParameter::Video(video) => {
            let path = path.field("video");
            media(v, path, true);
            Value::Video {
                video: media::video(v, path, video, Place::TemplateParameter)?,
            }
        }
        ProtoParameter::Location(location) => {
            let path = path.field("location");
            v.only_on(path, Flavor::Cloud);
            media(v, path, false);
            Value::Location {
                location: super::location(v, path, location),
            }
        }
        ProtoParameter::Product(product) => {
            let path = path.field("product");
            v.only_on(path, Flavor::Cloud);
            media(v, path, false);
            v.required_max_chars(
                path.field("product_retailer_id"),
                &product.product_retailer_id,
                limits::PRODUCT_RETAILER_ID_MAX,
            );
            v.required_text(path.field("catalog_id"), &product.catalog_id);
            Value::Product {
                product: Product {
                    product_retailer_id: &product.product_retailer_id,
                    catalog_id: &product.catalog_id,
                },
            }
        }
    };
    Some(Parameter {
        parameter_name: non_empty(name),
        value,
    })
}

/// A localizable date and time: its components go to the On-Premises API only, since the Cloud
/// API renders `fallback_value` as given.
fn date_time<'a>(
    v: &mut Validator,
    path: Path<'_>,
    date_time: &'a proto::TemplateDateTime,
) -> Option<DateTime<'a>> {
    v.required_text(path.field("fallback_value"), &date_time.fallback_value);
    let mut in_range = |field: &'static str, value: Option<u32>, min: u32, max: u32| {
        if let Some(value) = value
            && !(min..=max).contains(&value)
        {
            v.violation(
                path.field(field),
                Rule::OutOfRange {
                    min: min.to_string(),
                    max: max.to_string(),
                },
            );
        }
        value
    };
    let year = in_range("year", date_time.year, 1, limits::DATE_TIME_YEAR_MAX);
    let month = in_range("month", date_time.month, 1, 12);
    let day_of_month = in_range("day_of_month", date_time.day_of_month, 1, 31);
    let hour = in_range("hour", date_time.hour, 0, 23);
    let minute = in_range("minute", date_time.minute, 0, 59);
    let day_of_week = v
        .known_enum::<proto::TemplateDayOfWeek>(path.field("day_of_week"), date_time.day_of_week)
        .map(|day| match day {
            proto::TemplateDayOfWeek::Unspecified => None,
            day => Some(day as u32),
        });
    let calendar = v
        .known_enum::<proto::TemplateCalendar>(path.field("calendar"), date_time.calendar)
        .map(|calendar| match calendar {
            proto::TemplateCalendar::Unspecified => None,
            proto::TemplateCalendar::Gregorian => Some(Calendar::Gregorian),
            proto::TemplateCalendar::SolarHijri => Some(Calendar::SolarHijri),
        });
    let (day_of_week, calendar) = (day_of_week?, calendar?);
    let on_premises = v.flavor() == Flavor::OnPremises;
    let keep = |value: Option<u32>| value.filter(|_| on_premises);
    Some(DateTime {
        fallback_value: &date_time.fallback_value,
        day_of_week: keep(day_of_week),
        year: keep(year),
        month: keep(month),
        day_of_month: keep(day_of_month),
        hour: keep(hour),
        minute: keep(minute),
        calendar: calendar.filter(|_| on_premises),
    })
}

/// A carousel's cards: 1 to 10 at distinct indexes 0–9, each an image or video header, an
/// optional body and at most two quick reply or URL buttons.
fn carousel<'a>(
    v: &mut Validator,
    path: Path<'_>,
    carousel: &'a proto::TemplateCarousel,
    naming: &mut Naming,
) -> Option<Component<'a>> {
    let cards_path = path.field("cards");
    let walked = v.bounded(cards_path, &carousel.cards, 1, limits::TEMPLATE_CARDS_MAX);
    let mut indexes: Vec<(u32, usize)> = Vec::with_capacity(walked.len());
    let mut cards = Vec::with_capacity(walked.len());
    for (i, card) in walked.iter().enumerate() {
        let path = cards_path.index(i);
        card_index(
            v,
            path.field("card_index"),
            card.card_index,
            limits::TEMPLATE_CARD_INDEX_MAX,
            i,
            &mut indexes,
        );
        let header_path = path.field("header");
        let header = v
            .present(header_path, card.header.as_ref())
            .and_then(|header| self::header(v, header_path, header, Slot::CardHeader, naming));
        let body = card
            .body
            .as_ref()
            .map(|body| self::body(v, path.field("body"), body, Slot::CardBody, naming));
        let buttons_path = path.field("buttons");
        let walked = v.bounded(
            buttons_path,
            &card.buttons,
            0,
            limits::TEMPLATE_CARD_BUTTONS_MAX,
        );
        let mut button_indexes = Vec::with_capacity(walked.len());
        let mut components = Vec::with_capacity(2 + walked.len());
        let mut buttons_ok = true;
        for (j, button) in walked.iter().enumerate() {
            let button_path = buttons_path.index(j);
            // `index` reports a repeat as `buttons[j].button.index`; a card's buttons are the
            // buttons themselves, so the path is built here.
            if button.index > (limits::TEMPLATE_CARD_BUTTONS_MAX - 1) as u32 {
                v.violation(
                    button_path.field("index"),
                    Rule::OutOfRange {
                        min: "0".into(),
                        max: (limits::TEMPLATE_CARD_BUTTONS_MAX - 1).to_string(),
                    },
                );
            }
            match button_indexes
                .iter()
                .find(|(index, _)| *index == button.index)
            {
                Some((_, first)) => v.violation(
                    button_path.field("index"),
                    Rule::Duplicate {
                        first: format!("buttons[{first}].index"),
                    },
                ),
                None => button_indexes.push((button.index, j)),
            }
            if let Some(sub_type) = &button.sub_type
                && !matches!(sub_type, SubType::QuickReply(_) | SubType::Url(_))
            {
                v.violation(
                    button_path.field("sub_type"),
                    Rule::NotAllowed("a carousel card's buttons are quick reply or URL buttons"),
                );
            }
            match self::button(v, button_path, button) {
                Some(button) => components.push(Component::Button(button)),
                None => buttons_ok = false,
            }
        }
        let Some(header) = header else { continue };
        let body = match body {
            Some(Some(body)) => Some(body),
            Some(None) => continue,
            None => None,
        };
        if !buttons_ok {
            continue;
        }
        let mut all = Vec::with_capacity(2 + components.len());
        all.push(header);
        all.extend(body);
        all.append(&mut components);
        cards.push(Card {
            card_index: card.card_index,
            components: all,
        });
    }
    Some(Component::Carousel { cards })
}

fn button<'a>(
    v: &mut Validator,
    path: Path<'_>,
    button: &'a proto::TemplateButton,
) -> Option<Button<'a>> {
    let sub_type = v.one_of(
        path.field("sub_type"),
        button.sub_type.as_ref(),
        "quick_reply, url, copy_code, catalog, flow, mpm",
    )?;
    let index = button.index;
    Some(match sub_type {
        SubType::QuickReply(quick_reply) => {
            v.required_max_chars(
                path.field("quick_reply").field("payload"),
                &quick_reply.payload,
                limits::OPAQUE_TEXT_MAX,
            );
            Button::QuickReply {
                index,
                parameters: [QuickReplyParameter::Payload {
                    payload: &quick_reply.payload,
                }],
            }
        }
        SubType::Url(url) => {
            v.required_max_chars(
                path.field("url").field("text"),
                &url.text,
                limits::OPAQUE_TEXT_MAX,
            );
            Button::Url {
                index,
                parameters: [UrlParameter::Text { text: &url.text }],
            }
        }
        SubType::CopyCode(copy_code) => {
            v.required_text(
                path.field("copy_code").field("coupon_code"),
                &copy_code.coupon_code,
            );
            Button::CopyCode {
                index,
                parameters: [CopyCodeParameter::CouponCode {
                    coupon_code: &copy_code.coupon_code,
                }],
            }
        }
        SubType::Catalog(catalog) => {
            let catalog_path = path.field("catalog");
            let thumbnail_path = catalog_path.field("thumbnail_product_retailer_id");
            let thumbnail = &catalog.thumbnail_product_retailer_id;
            // The Cloud API shows the catalog's first item when no thumbnail is named.
            match v.flavor() {
                Flavor::OnPremises => {
                    v.required_max_chars(thumbnail_path, thumbnail, limits::PRODUCT_RETAILER_ID_MAX)
                }
                Flavor::Cloud => {
                    v.max_chars(thumbnail_path, thumbnail, limits::PRODUCT_RETAILER_ID_MAX)
                }
            }
            Button::Catalog {
                index,
                parameters: non_empty(thumbnail).map(|thumbnail| {
                    [CatalogParameter::Action {
                        action: CatalogAction {
                            thumbnail_product_retailer_id: thumbnail,
                        },
                    }]
                }),
            }
        }
        SubType::Flow(flow) => {
            let path = path.field("flow");
            v.only_on(path, Flavor::Cloud);
            // An empty `action` says nothing: without either, the component is left out and the
            // API's defaults apply.
            if flow.flow_token.is_empty() && flow.flow_action_data.is_none() {
                v.violation(path, Rule::Empty);
            }
            let flow_token = non_empty(&flow.flow_token).inspect(|token| {
                v.max_chars(path.field("flow_token"), token, limits::OPAQUE_TEXT_MAX);
            });
            let flow_action_data = flow
                .flow_action_data
                .as_ref()
                .map(|data| flow_data(v, path.field("flow_action_data"), data));
            Button::Flow {
                index,
                parameters: [FlowParameter::Action {
                    action: FlowAction {
                        flow_token,
                        flow_action_data,
                    },
                }],
            }
        }
        SubType::Mpm(mpm) => {
            let path = path.field("mpm");
            v.only_on(path, Flavor::Cloud);
            v.required_max_chars(
                path.field("thumbnail_product_retailer_id"),
                &mpm.thumbnail_product_retailer_id,
                limits::PRODUCT_RETAILER_ID_MAX,
            );
            let sections = product_sections(v, path.field("sections"), &mpm.sections);
            Button::Mpm {
                index,
                parameters: [MpmParameter::Action {
                    action: MpmAction {
                        thumbnail_product_retailer_id: &mpm.thumbnail_product_retailer_id,
                        sections,
                    },
                }],
            }
        }
    })
}

/// Refuses the parts of a template that a group does not take: Meta's Groups API takes text-based
/// and media-based templates, not commerce messages (catalog and multi-product buttons, product
/// headers). Authentication templates are refused by the API too, but nothing in the request tells
/// them apart (their code goes in a URL button like any other).
pub(super) fn refuse_commerce_in_group(
    v: &mut Validator,
    path: Path<'_>,
    template: &proto::Template,
) {
    const WHY: &str = "groups take text-based and media-based templates, not commerce messages";
    let list = path.field("components");
    // Only the components validation walks (at most its bound).
    let walked = template
        .components
        .iter()
        .take(limits::TEMPLATE_COMPONENTS_MAX);
    for (i, component) in walked.enumerate() {
        let path = list.index(i);
        match &component.component {
            Some(ProtoComponent::Button(proto::TemplateButton {
                sub_type: Some(SubType::Catalog(_)),
                ..
            })) => v.violation(path.field("button").field("catalog"), Rule::NotAllowed(WHY)),
            Some(ProtoComponent::Button(proto::TemplateButton {
                sub_type: Some(SubType::Mpm(_)),
                ..
            })) => v.violation(path.field("button").field("mpm"), Rule::NotAllowed(WHY)),
            Some(ProtoComponent::Header(header)) => {
                let header_path = path.field("header");
                let parameters = header_path.field("parameters");
                let walked = header
                    .parameters
                    .iter()
                    .take(limits::TEMPLATE_HEADER_PARAMETERS);
                for (j, parameter) in walked.enumerate() {
                    if let Some(ProtoParameter::Product(_)) = parameter.parameter {
                        v.violation(parameters.index(j).field("product"), Rule::NotAllowed(WHY));
                    }
                }
            }
            _ => {}
        }
    }
}
