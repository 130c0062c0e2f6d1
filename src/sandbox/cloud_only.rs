//! The shapes of a send that only the Cloud API takes, as the sandbox's On-Premises endpoint
//! recognizes them in the raw JSON to refuse them the way the On-Premises API does (an unknown
//! parameter value). Written from the Cloud API's docs, independently of the facade's model.

use serde_json::Value;

/// The first Cloud-only shape in a send body, named for the error's details, or `None`.
pub(crate) fn shape(body: &Value) -> Option<&'static str> {
    // Pinning a group's message: only the Cloud API's groups take it.
    if body.get("type").and_then(Value::as_str) == Some("pin") {
        return Some("Unknown message type pin");
    }
    if body.get("recipient_type").and_then(Value::as_str) == Some("group") {
        return Some("Unknown recipient_type group");
    }
    if body.get("recipient").is_some() {
        return Some("Unknown parameter recipient");
    }
    if body.pointer("/audio/voice").is_some() {
        return Some("Unknown parameter voice");
    }
    if let Some(interactive) = body.get("interactive") {
        return match interactive.get("type").and_then(Value::as_str) {
            Some("voice_call") => Some("Unknown interactive type voice_call"),
            Some("call_permission_request") => {
                Some("Unknown interactive type call_permission_request")
            }
            Some("carousel") => Some("Unknown interactive type carousel"),
            _ if interactive
                .pointer("/action/parameters/flow_name")
                .is_some() =>
            {
                Some("Unknown parameter flow_name")
            }
            _ => None,
        };
    }
    let components = body
        .get("template")
        .and_then(|template| template.get("components"))
        .and_then(Value::as_array)?;
    components.iter().find_map(component)
}

fn component(component: &Value) -> Option<&'static str> {
    match component.get("type").and_then(Value::as_str) {
        Some("limited_time_offer") => return Some("Unknown component type limited_time_offer"),
        Some("carousel") => return Some("Unknown component type carousel"),
        Some("tap_target_configuration") => {
            return Some("Unknown component type tap_target_configuration");
        }
        _ => {}
    }
    match component.get("sub_type").and_then(Value::as_str) {
        Some("flow") => return Some("Unknown button sub_type flow"),
        Some("mpm") => return Some("Unknown button sub_type mpm"),
        // Only the Cloud API falls back to the catalog's first item.
        Some("catalog") if component.get("parameters").is_none() => {
            return Some("Catalog button without parameters");
        }
        _ => {}
    }
    let parameters = component.get("parameters").and_then(Value::as_array)?;
    parameters.iter().find_map(|parameter| {
        if parameter.get("parameter_name").is_some() {
            return Some("Unknown parameter parameter_name");
        }
        match parameter.get("type").and_then(Value::as_str) {
            Some("location") => Some("Unknown parameter type location"),
            Some("product") => Some("Unknown parameter type product"),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::shape;

    fn template(components: Value) -> Value {
        json!({"to": "1", "type": "template", "template": {"name": "t", "components": components}})
    }

    #[test]
    fn finds_each_cloud_only_shape() {
        let cases = [
            (
                json!([{"type": "limited_time_offer", "parameters": []}]),
                "limited_time_offer",
            ),
            (json!([{"type": "carousel", "cards": []}]), "carousel"),
            (
                json!([{"type": "tap_target_configuration", "parameters": []}]),
                "tap_target_configuration",
            ),
            (
                json!([{"type": "button", "sub_type": "flow", "index": 0}]),
                "flow",
            ),
            (
                json!([{"type": "button", "sub_type": "mpm", "index": 0}]),
                "mpm",
            ),
            (
                json!([{"type": "button", "sub_type": "catalog", "index": 0}]),
                "without parameters",
            ),
            (
                json!([{"type": "body", "parameters": [{"type": "text", "text": "a", "parameter_name": "n"}]}]),
                "parameter_name",
            ),
            (
                json!([{"type": "header", "parameters": [{"type": "location", "location": {}}]}]),
                "location",
            ),
            (
                json!([{"type": "header", "parameters": [{"type": "product", "product": {}}]}]),
                "product",
            ),
        ];
        for (components, what) in cases {
            let found = shape(&template(components)).expect(what);
            assert!(found.ends_with(what), "{found} for {what}");
        }
    }

    #[test]
    fn finds_the_cloud_only_interactive_and_audio_shapes() {
        let cases = [
            (
                json!({"type": "audio", "audio": {"id": "a", "voice": true}}),
                "voice",
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "voice_call"}}),
                "voice_call",
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "call_permission_request"}}),
                "call_permission_request",
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "carousel"}}),
                "carousel",
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "flow",
                    "action": {"name": "flow", "parameters": {"flow_name": "f"}}}}),
                "flow_name",
            ),
        ];
        for (body, what) in cases {
            let found = shape(&body).expect(what);
            assert!(found.ends_with(what), "{found} for {what}");
        }
        let flow_by_id = json!({"type": "interactive", "interactive": {"type": "flow",
            "action": {"name": "flow", "parameters": {"flow_id": "1"}}}});
        assert_eq!(shape(&flow_by_id), None);
    }

    #[test]
    fn finds_groups_and_business_scoped_user_ids() {
        let group = json!({"recipient_type": "group", "to": "g", "type": "text"});
        assert!(shape(&group).is_some_and(|s| s.ends_with("group")));
        let pin = json!({"recipient_type": "group", "to": "g", "type": "pin",
            "pin": {"type": "unpin", "message_id": "wamid.1"}});
        assert!(shape(&pin).is_some_and(|s| s.ends_with("type pin")));
        let bsuid = json!({"recipient": "US.1", "type": "text"});
        assert!(shape(&bsuid).is_some_and(|s| s.ends_with("recipient")));
    }

    #[test]
    fn passes_what_both_flavors_take() {
        let body = template(json!([
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "a"}]},
            {"type": "button", "sub_type": "quick_reply", "index": 0, "parameters": [{"type": "payload", "payload": "p"}]},
        ]));
        assert_eq!(shape(&body), None);
        assert_eq!(
            shape(&json!({"to": "1", "type": "text", "text": {"body": "hi"}})),
            None
        );
    }
}
