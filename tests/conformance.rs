//! Every conformance fixture has a gRPC request here, and translating it for the fixture's flavor
//! gives exactly the fixture's body (compared as JSON values).

mod common;

use common::cases::{Case, cloud_cases, json_struct, on_premises_cases};
use common::doc_cases;
use common::*;
use serde_json::json;
use whatsapp_grpc::proto::{self, interactive::Kind, send_message_request::Content};
use whatsapp_grpc::{Flavor, translate};

/// Translates `case` for `flavor` and checks the body equals the fixture's.
fn check(flavor: Flavor, dir: &str, name: &str, case: &Case) {
    let fixture = fixture(dir, name);
    assert_eq!(fixture["flavor"], dir, "{dir}/{name}: flavor");
    check_body(flavor, dir, name, case, &fixture);
}

/// Translates `case` for `flavor` and checks the body equals `fixture`'s.
fn check_body(flavor: Flavor, dir: &str, name: &str, case: &Case, fixture: &serde_json::Value) {
    let translated = match case {
        Case::Send(request) => {
            let body = translate::send_message(flavor, request)
                .unwrap_or_else(|e| panic!("{dir}/{name} was refused: {e}"));
            assert_eq!(fixture.get("method"), None, "{dir}/{name}: sends are POSTs");
            serde_json::to_value(&body).expect("serializes")
        }
        Case::MarkRead(request) => {
            let body = translate::mark_message_read(flavor, request)
                .unwrap_or_else(|e| panic!("{dir}/{name} was refused: {e}"));
            serde_json::to_value(body).expect("serializes")
        }
    };
    assert_eq!(
        translated, fixture["body"],
        "{dir}/{name}: translated body (left) differs from the fixture (right)"
    );
}

fn check_all(flavor: Flavor, dir: &str, cases: Vec<(&'static str, Case)>) {
    let mut covered: Vec<String> = cases.iter().map(|(name, _)| name.to_string()).collect();
    covered.sort();
    assert_eq!(
        covered,
        fixture_names(dir),
        "every {dir} fixture needs exactly one case"
    );
    for (name, case) in &cases {
        check(flavor, dir, name, case);
    }
}

#[test]
fn on_premises_fixtures_translate_exactly() {
    check_all(Flavor::OnPremises, "on_premises", on_premises_cases());
}

#[test]
fn cloud_fixtures_translate_exactly() {
    check_all(Flavor::Cloud, "cloud", cloud_cases());
}

/// The fixtures built from the Cloud API's current docs (`tests/fixtures_cloud_docs/`): each cites
/// its source, and each translates exactly, for the flavor it names.
#[test]
fn cloud_docs_fixtures_translate_exactly() {
    let cases = doc_cases::doc_cases();
    let mut covered: Vec<String> = cases.iter().map(|(name, ..)| name.to_string()).collect();
    covered.sort();
    assert_eq!(
        covered,
        json_names(&doc_fixtures_dir()),
        "every fixture of {} needs exactly one case",
        doc_cases::DIR
    );
    for (name, flavor, case) in &cases {
        let fixture = doc_fixture(name);
        let expected = match flavor {
            Flavor::Cloud => "cloud",
            Flavor::OnPremises => "on_premises",
        };
        assert_eq!(fixture["flavor"], expected, "{name}: flavor");
        assert!(
            fixture["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("https://")),
            "{name}: cites no source"
        );
        check_body(*flavor, doc_cases::DIR, name, case, &fixture);
    }
}

/// The same messages are refused on the On-Premises API, each Cloud-only part named with its path.
#[test]
fn cloud_docs_templates_are_refused_on_premises() {
    let expected: &[(&str, &[&str])] = &[
        ("audio_voice_note", &["audio.voice"]),
        (
            "interactive_call_permission_request",
            &["interactive.call_permission_request"],
        ),
        ("interactive_flow_by_name", &["interactive.flow.flow_name"]),
        ("group_text", &["recipient_type"]),
        ("group_pin", &["pin", "recipient_type"]),
        ("group_unpin", &["pin", "recipient_type"]),
        ("marketing_messages_template", &["marketing_messages"]),
        ("recipient_bsuid", &["recipient"]),
        ("interactive_media_carousel", &["interactive.carousel"]),
        (
            "interactive_media_carousel_quick_replies",
            &["interactive.carousel"],
        ),
        ("interactive_voice_call", &["interactive.voice_call"]),
        (
            "interactive_voice_call_defaults",
            &["interactive.voice_call"],
        ),
        ("template_carousel", &["template.components[1].carousel"]),
        (
            "template_flow_button",
            &["template.components[0].button.flow"],
        ),
        (
            "template_limited_time_offer",
            &["template.components[2].limited_time_offer"],
        ),
        (
            "template_location_header",
            &["template.components[0].header.parameters[0].location"],
        ),
        (
            "template_mpm_button",
            &["template.components[2].button.mpm"],
        ),
        (
            "template_named_parameters",
            &[
                "template.components[0].header.parameters[0].parameter_name",
                "template.components[1].body.parameters[0].parameter_name",
                "template.components[1].body.parameters[1].parameter_name",
            ],
        ),
        (
            "template_product_header",
            &[
                "template.components[0].header.parameters[0].product",
                "template.components[1].body.parameters[0].parameter_name",
                "template.components[1].body.parameters[1].parameter_name",
            ],
        ),
        (
            "template_tap_target_configuration",
            &["template.components[2].tap_target_configuration"],
        ),
        (
            "template_catalog_button_no_thumbnail",
            &["template.components[1].button.catalog.thumbnail_product_retailer_id"],
        ),
    ];
    let cases = doc_cases::doc_cases();
    for (name, fields) in expected {
        let Some((_, _, Case::Send(request))) = cases.iter().find(|(n, ..)| n == name) else {
            panic!("no case {name}")
        };
        let refused = translate::send_message(Flavor::OnPremises, request)
            .expect_err(&format!("{name} was taken on On-Premises"));
        let mut got: Vec<(&str, &str)> = refused
            .violations
            .iter()
            .map(|v| (v.field.as_str(), v.rule.reason()))
            .collect();
        got.sort();
        let want: Vec<(&str, &str)> = fields
            .iter()
            .map(|field| {
                let reason = if field.ends_with("thumbnail_product_retailer_id") {
                    "REQUIRED"
                } else {
                    "FLAVOR_ONLY"
                };
                (*field, reason)
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

/// The same message differs between flavors only where the API reference says it does.
#[test]
fn text_preview_url_moves_between_flavors() {
    let request = request(Content::Text(proto::Text {
        body: "See https://example.com/order/42".into(),
        preview_url: true,
    }));
    let on_premises =
        serde_json::to_value(translate::send_message(Flavor::OnPremises, &request).unwrap())
            .unwrap();
    let cloud =
        serde_json::to_value(translate::send_message(Flavor::Cloud, &request).unwrap()).unwrap();
    assert_eq!(on_premises["preview_url"], true);
    assert_eq!(on_premises["text"].get("preview_url"), None);
    assert_eq!(on_premises.get("messaging_product"), None);
    assert_eq!(cloud["text"]["preview_url"], true);
    assert_eq!(cloud.get("preview_url"), None);
    assert_eq!(cloud["messaging_product"], "whatsapp");
}

/// Numbers in a Flow's data keep their JSON type: a whole number is written as an integer.
#[test]
fn flow_data_numbers_keep_their_type() {
    let mut request = match on_premises_cases()
        .into_iter()
        .find(|(name, _)| *name == "interactive_flow")
    {
        Some((_, Case::Send(request))) => *request,
        _ => unreachable!(),
    };
    let Some(Content::Interactive(proto::Interactive {
        kind: Some(Kind::Flow(flow)),
    })) = request.content.as_mut()
    else {
        unreachable!()
    };
    flow.flow_action_payload.as_mut().unwrap().data = Some(json_struct(json!({
        "whole": 25, "fraction": 2.5, "negative": -3, "big": 9007199254740992u64,
        "nested": {"list": [1, 1.5, "x", true, null]}
    })));
    let body =
        serde_json::to_string(&translate::send_message(Flavor::Cloud, &request).unwrap()).unwrap();
    assert!(
        body.contains(r#""whole":25,"#) || body.contains(r#""whole":25}"#),
        "{body}"
    );
    assert!(body.contains(r#""fraction":2.5"#), "{body}");
    assert!(body.contains(r#""negative":-3"#), "{body}");
    assert!(body.contains(r#""big":9007199254740992"#), "{body}");
    assert!(body.contains(r#""list":[1,1.5,"x",true,null]"#), "{body}");
}
