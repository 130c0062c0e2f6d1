//! Message templates: language, one header and one body at most, buttons at distinct indexes 0–9,
//! media parameters in the header only.

use crate::flavor::Flavor;
use crate::proto;
use crate::proto::template_button::SubType;
use crate::proto::template_component::Component as ProtoComponent;
use crate::proto::template_parameter::Parameter as ProtoParameter;
use crate::validate::{Path, Rule, Validator, limits};
use crate::wire::template::{
    Button, CatalogAction, CatalogParameter, Component, CopyCodeParameter, Currency, DateTime,
    Language, LanguagePolicy, Parameter, QuickReplyParameter, Template, UrlParameter,
};

use super::media::{self, Place};
use super::non_empty;

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
    let mut button_indexes: Vec<(u32, usize)> = Vec::new();
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
    let mut components = Vec::with_capacity(walked.len());
    for (i, component) in walked.iter().enumerate() {
        let path = list.index(i);
        let Some(component) = v.one_of(
            path.field("component"),
            component.component.as_ref(),
            "header, body, button",
        ) else {
            continue;
        };
        let translated = match component {
            ProtoComponent::Header(header) => {
                once(v, path, &mut header_at, i);
                let header_path = path.field("header");
                let parameters_path = header_path.field("parameters");
                let walked = v.bounded(
                    parameters_path,
                    &header.parameters,
                    limits::TEMPLATE_HEADER_PARAMETERS,
                    limits::TEMPLATE_HEADER_PARAMETERS,
                );
                let slot = Slot::Header {
                    text_max: limits::TEMPLATE_HEADER_TEXT_PARAMETER_MAX,
                };
                parameters(v, parameters_path, walked, slot)
                    .map(|parameters| Component::Header { parameters })
            }
            ProtoComponent::Body(body) => {
                once(v, path, &mut body_at, i);
                let body_path = path.field("body");
                let parameters_path = body_path.field("parameters");
                let walked = v.bounded(
                    parameters_path,
                    &body.parameters,
                    1,
                    limits::TEMPLATE_BODY_PARAMETERS_MAX,
                );
                let in_all: usize = walked
                    .iter()
                    .map(|p| match &p.parameter {
                        Some(ProtoParameter::Text(text)) => text.chars().count(),
                        _ => 0,
                    })
                    .sum();
                if in_all > limits::TEMPLATE_BODY_TEXT_IN_ALL_MAX {
                    v.violation(
                        parameters_path,
                        Rule::TooLong {
                            max: limits::TEMPLATE_BODY_TEXT_IN_ALL_MAX,
                            actual: in_all,
                        },
                    );
                }
                let slot = Slot::Body {
                    text_max: body_text_max,
                };
                parameters(v, parameters_path, walked, slot)
                    .map(|parameters| Component::Body { parameters })
            }
            ProtoComponent::Button(button) => {
                let button_path = path.field("button");
                if button.index > limits::TEMPLATE_BUTTON_INDEX_MAX {
                    v.violation(
                        button_path.field("index"),
                        Rule::OutOfRange {
                            min: "0".into(),
                            max: limits::TEMPLATE_BUTTON_INDEX_MAX.to_string(),
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
                            first: format!("components[{first}].button.index"),
                        },
                    ),
                    None => button_indexes.push((button.index, i)),
                }
                self::button(v, button_path, button).map(Component::Button)
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

/// Records a second header (or body) component as a duplicate of the first.
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

/// The component a parameter belongs to: media is allowed in the header only, and each limits its
/// text parameters to `text_max` characters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Header { text_max: usize },
    Body { text_max: usize },
}

fn parameters<'a>(
    v: &mut Validator,
    path: Path<'_>,
    parameters: &'a [proto::TemplateParameter],
    slot: Slot,
) -> Option<Vec<Parameter<'a>>> {
    let translated: Vec<Option<Parameter<'a>>> = parameters
        .iter()
        .enumerate()
        .map(|(i, parameter)| self::parameter(v, path.index(i), parameter, slot))
        .collect();
    translated.into_iter().collect()
}

/// One header or body parameter.
fn parameter<'a>(
    v: &mut Validator,
    path: Path<'_>,
    parameter: &'a proto::TemplateParameter,
    slot: Slot,
) -> Option<Parameter<'a>> {
    let parameter = v.one_of(
        path.field("parameter"),
        parameter.parameter.as_ref(),
        "text, currency, date_time, image, document, video",
    )?;
    let media_in_body = |v: &mut Validator, path: Path<'_>| {
        if !matches!(slot, Slot::Header { .. }) {
            v.violation(
                path,
                Rule::NotAllowed("media parameters belong in the header component"),
            );
        }
    };
    Some(match parameter {
        ProtoParameter::Text(text) => {
            let (Slot::Header { text_max } | Slot::Body { text_max }) = slot;
            v.required_max_chars(path.field("text"), text, text_max);
            Parameter::Text { text }
        }
        ProtoParameter::Currency(currency) => {
            let path = path.field("currency");
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
            Parameter::Currency {
                currency: Currency {
                    fallback_value: &currency.fallback_value,
                    code: &currency.code,
                    amount_1000: currency.amount_1000,
                },
            }
        }
        ProtoParameter::DateTime(date_time) => {
            v.required_text(
                path.field("date_time").field("fallback_value"),
                &date_time.fallback_value,
            );
            Parameter::DateTime {
                date_time: DateTime {
                    fallback_value: &date_time.fallback_value,
                },
            }
        }
        ProtoParameter::Image(image) => {
            let path = path.field("image");
            media_in_body(v, path);
            Parameter::Image {
                image: media::image(v, path, image, Place::TemplateParameter)?,
            }
        }
        ProtoParameter::Document(document) => {
            let path = path.field("document");
            media_in_body(v, path);
            Parameter::Document {
                document: media::document(v, path, document, Place::TemplateParameter)?,
            }
        }
        ProtoParameter::Video(video) => {
            let path = path.field("video");
            media_in_body(v, path);
            Parameter::Video {
                video: media::video(v, path, video, Place::TemplateParameter)?,
            }
        }
    })
}

fn button<'a>(
    v: &mut Validator,
    path: Path<'_>,
    button: &'a proto::TemplateButton,
) -> Option<Button<'a>> {
    let sub_type = v.one_of(
        path.field("sub_type"),
        button.sub_type.as_ref(),
        "quick_reply, url, copy_code, catalog",
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
            v.required_max_chars(
                path.field("catalog").field("thumbnail_product_retailer_id"),
                &catalog.thumbnail_product_retailer_id,
                limits::PRODUCT_RETAILER_ID_MAX,
            );
            Button::Catalog {
                index,
                parameters: [CatalogParameter::Action {
                    action: CatalogAction {
                        thumbnail_product_retailer_id: &catalog.thumbnail_product_retailer_id,
                    },
                }],
            }
        }
    })
}
