//! The API's answers: success bodies and error bodies of both flavors, as the JSON is.

use serde::Deserialize;

/// The answer to a sent message (both flavors): `messages[0].id`, and on the Cloud API the
/// recipient's resolved `wa_id`.
#[derive(Debug, Default, Deserialize)]
pub struct SendAnswer {
    #[serde(default)]
    pub messages: Vec<SentMessage>,
    #[serde(default)]
    pub contacts: Vec<AnswerContact>,
}

/// `messages[]` of a send answer.
#[derive(Debug, Deserialize)]
pub struct SentMessage {
    pub id: String,
    /// Cloud: `accepted`, `held_for_quality_assessment` or `paused`; On-Premises: a sentence when
    /// the message was held for quality assessment.
    #[serde(default)]
    pub message_status: Option<String>,
}

/// `contacts[]` of a Cloud send answer.
#[derive(Debug, Deserialize)]
pub struct AnswerContact {
    #[serde(default)]
    pub wa_id: Option<String>,
}

/// A Cloud API error answer: `{"error": {...}}`.
#[derive(Debug, Deserialize)]
pub struct CloudErrorAnswer {
    pub error: CloudError,
}

/// The Cloud API's `error` object.
#[derive(Debug, Deserialize)]
pub struct CloudError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_data: Option<CloudErrorData>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// The Cloud API's `error.error_data`.
#[derive(Debug, Deserialize)]
pub struct CloudErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

/// An On-Premises error answer: `{"errors": [...]}`.
#[derive(Debug, Deserialize)]
pub struct OnPremisesErrorAnswer {
    pub errors: Vec<OnPremisesError>,
}

/// One of the On-Premises API's `errors[]`.
#[derive(Debug, Deserialize)]
pub struct OnPremisesError {
    pub code: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
}

/// The On-Premises login answer: `{"users": [{"token": ..., "expires_after": ...}]}`.
#[derive(Debug, Deserialize)]
pub struct LoginAnswer {
    pub users: Vec<LoginUser>,
}

/// `users[]` of a login answer.
#[derive(Debug, Deserialize)]
pub struct LoginUser {
    pub token: String,
    /// `YYYY-MM-DD HH:MM:SS+00:00`.
    pub expires_after: String,
}

/// The On-Premises health answer: `{"health": {"gateway_status": ...}}` for a single instance, or
/// one object per node (`{"health": {"node:container": {"gateway_status": ..., "role": ...}}}`) for a
/// multiconnect cluster.
#[derive(Debug, Deserialize)]
pub struct HealthAnswer {
    pub health: serde_json::Map<String, serde_json::Value>,
}

impl HealthAnswer {
    /// Whether the gateway is connected: on a cluster, every node that reports a gateway status.
    pub fn connected(&self) -> bool {
        let connected = |status: &serde_json::Value| status.as_str() == Some("connected");
        if let Some(status) = self.health.get("gateway_status") {
            return connected(status);
        }
        let mut statuses = self
            .health
            .values()
            .filter_map(|node| node.get("gateway_status"))
            .peekable();
        statuses.peek().is_some() && statuses.all(connected)
    }
}
