//! The webhooks a real Cloud API would send: after each accepted send, the message's `sent`,
//! `delivered` and `read` statuses (or `failed` with error 131026 for
//! [`recipients::FAILS_AFTER_ACCEPTANCE`](super::recipients::FAILS_AFTER_ACCEPTANCE)), and the
//! customer messages injected through `POST /sandbox/inject-message`, each signed
//! (`X-Hub-Signature-256`) with the app secret and posted to the configured callback URL.
//!
//! Bounded: at most [`QUEUE_MAX`] webhooks wait (more are dropped, and counted in the log at
//! debug); one is posted at a time, in order (so `sent` comes before `delivered`), each within
//! [`POST_TIMEOUT`], retried up to [`ATTEMPTS`] times with a doubling backoff from
//! [`FIRST_BACKOFF`] while the receiver does not answer 2xx, then dropped.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::clock;
use crate::events::signature;

/// Webhooks waiting to be posted, at most.
pub const QUEUE_MAX: usize = 1024;
/// How long one post may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(5);
/// Posts of one webhook, at most.
pub const ATTEMPTS: u32 = 5;
/// The wait before the first retry; doubled for each next one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// The business number's WhatsApp Business Account id in the sandbox's webhooks.
const SANDBOX_WABA_ID: &str = "100000000000000";
/// The business number's display number in the sandbox's webhooks.
const SANDBOX_DISPLAY_NUMBER: &str = "15550000000";

/// Where the sandbox posts its webhooks. Its `Debug` shows no secret.
#[derive(Clone)]
pub struct SandboxWebhook {
    /// The callback URL (a Cloud one: `POST`ed the `whatsapp_business_account` notifications).
    pub url: String,
    /// The app secret the notifications are signed with.
    pub app_secret: String,
}

impl fmt::Debug for SandboxWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxWebhook")
            .field("url", &crate::upstream::display_url(&self.url))
            .field("app_secret", &"<redacted>")
            .finish()
    }
}

/// What became of a sent message, as its webhooks say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// `sent`, `delivered`, then `read`.
    Read,
    /// `failed`, 131026 Message undeliverable.
    Undeliverable,
}

/// Why a webhook was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueueError {
    Full,
}

/// The queue of webhooks to post, and its worker (which stops once the queue is dropped).
pub(crate) struct Outbox {
    queue: mpsc::Sender<Vec<u8>>,
}

impl Outbox {
    /// Starts the worker posting to `webhook`. Needs a Tokio runtime.
    pub(crate) fn start(webhook: SandboxWebhook) -> Outbox {
        let (queue, waiting) = mpsc::channel(QUEUE_MAX);
        tokio::spawn(post_all(webhook, waiting));
        Outbox { queue }
    }

    /// Queues the status webhooks of message `message_id` sent from `phone_number_id` to
    /// `recipient` (its WhatsApp ID).
    pub(crate) fn statuses(
        &self,
        phone_number_id: &str,
        message_id: &str,
        recipient: &str,
        fate: Fate,
    ) -> Result<(), QueueError> {
        let now = clock::unix_seconds(SystemTime::now());
        let timestamp = now.to_string();
        let pricing = json!({
            "billable": true,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        });
        let status = |status: &str, extra: Value| {
            let mut object = json!({
                "id": message_id,
                "status": status,
                "timestamp": timestamp,
                "recipient_id": recipient,
            });
            if let (Some(object), Value::Object(extra)) = (object.as_object_mut(), extra) {
                object.extend(extra);
            }
            object
        };
        let statuses = match fate {
            Fate::Read => vec![
                status(
                    "sent",
                    json!({
                        "conversation": {
                            "id": format!("sandbox-conversation-{recipient}"),
                            "expiration_timestamp": (now + 24 * 3600).to_string(),
                            "origin": {"type": "service"},
                        },
                        "pricing": pricing,
                    }),
                ),
                status("delivered", json!({ "pricing": pricing })),
                status("read", json!({})),
            ],
            Fate::Undeliverable => vec![status(
                "failed",
                json!({
                    "errors": [{
                        "code": 131_026,
                        "title": "Message undeliverable",
                        "message": "Message undeliverable",
                        "error_data": {"details": "Message Undeliverable."},
                        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                    }],
                }),
            )],
        };
        for status in statuses {
            self.queue(notification(
                phone_number_id,
                json!({ "statuses": [status] }),
            ))?;
        }
        Ok(())
    }

    /// Queues the webhook of `message`, a customer's message to `phone_number_id`.
    pub(crate) fn message(
        &self,
        phone_number_id: &str,
        profile_name: &str,
        message: Value,
    ) -> Result<(), QueueError> {
        let from = message.get("from").cloned().unwrap_or(Value::Null);
        self.queue(notification(
            phone_number_id,
            json!({
                "contacts": [{"profile": {"name": profile_name}, "wa_id": from}],
                "messages": [message],
            }),
        ))
    }

    fn queue(&self, notification: Value) -> Result<(), QueueError> {
        let body = serde_json::to_vec(&notification).unwrap_or_default();
        self.queue.try_send(body).map_err(|_| {
            tracing::debug!(
                queue_max = QUEUE_MAX,
                "sandbox webhook dropped: the queue is full"
            );
            QueueError::Full
        })
    }
}

/// A Cloud notification for `phone_number_id` carrying `value`'s members.
fn notification(phone_number_id: &str, value: Value) -> Value {
    let mut full = json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": SANDBOX_DISPLAY_NUMBER,
            "phone_number_id": phone_number_id,
        },
    });
    if let (Some(full), Value::Object(value)) = (full.as_object_mut(), value) {
        full.extend(value);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": SANDBOX_WABA_ID, "changes": [{"value": full, "field": "messages"}]}],
    })
}

/// Posts every queued webhook, in order, until the queue is dropped.
async fn post_all(webhook: SandboxWebhook, mut waiting: mpsc::Receiver<Vec<u8>>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "the sandbox cannot post webhooks");
            return;
        }
    };
    while let Some(body) = waiting.recv().await {
        let signed = signature::sign(webhook.app_secret.as_bytes(), &body);
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let posted = client
                .post(&webhook.url)
                .header("content-type", "application/json")
                .header(signature::HEADER, &signed)
                .body(body.clone())
                .send()
                .await;
            match posted {
                Ok(answer) if answer.status().is_success() => break,
                Ok(answer) => {
                    tracing::debug!(
                        status = answer.status().as_u16(),
                        attempt,
                        "sandbox webhook not accepted"
                    )
                }
                Err(error) => tracing::debug!(%error, attempt, "sandbox webhook not posted"),
            }
            if attempt == ATTEMPTS {
                tracing::debug!(
                    attempts = ATTEMPTS,
                    "sandbox webhook dropped after its last attempt"
                );
            } else {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
        }
    }
}
