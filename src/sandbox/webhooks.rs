//! The webhooks a real API would send: after each accepted Cloud send, the message's `sent`,
//! `delivered` and `read` statuses (or `failed` with error 131026 for
//! [`recipients::FAILS_AFTER_ACCEPTANCE`](super::recipients::FAILS_AFTER_ACCEPTANCE)), and the
//! customer messages injected through `POST /sandbox/inject-message`, each signed
//! (`X-Hub-Signature-256`) with the app secret and posted to the configured callback URL; after
//! each accepted On-Premises send, its statuses in the On-Premises shape, posted to the
//! installation's URL ([`SandboxWebhook::on_premises_url`]), unsigned as that API's are.
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
    /// The callback URL (a Cloud one: `POST`ed the `whatsapp_business_account` notifications);
    /// empty: Cloud sends get none, and no message can be injected.
    pub url: String,
    /// The app secret the notifications are signed with.
    pub app_secret: String,
    /// The On-Premises installations' callback URL, `{installation}` standing for the
    /// installation's name (`default` for the root one); `None`: On-Premises sends get none.
    pub on_premises_url: Option<String>,
}

impl fmt::Debug for SandboxWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxWebhook")
            .field("url", &crate::upstream::display_url(&self.url))
            .field("app_secret", &"<redacted>")
            // Its path may hold a shared secret: only whether it is set.
            .field("on_premises_url", &self.on_premises_url.is_some())
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
    /// No Cloud callback URL.
    NoUrl,
}

/// One webhook to post.
struct Delivery {
    /// `None`: the Cloud callback URL, signed; else this On-Premises URL, unsigned.
    on_premises_url: Option<String>,
    body: Vec<u8>,
}

/// The queue of webhooks to post, and its worker (which stops once the queue is dropped).
pub(crate) struct Outbox {
    queue: mpsc::Sender<Delivery>,
    on_premises_url: Option<String>,
    /// Whether a Cloud callback URL is configured.
    cloud: bool,
}

impl Outbox {
    /// Starts the worker posting to `webhook`. Needs a Tokio runtime.
    pub(crate) fn start(webhook: SandboxWebhook) -> Outbox {
        let (queue, waiting) = mpsc::channel(QUEUE_MAX);
        let on_premises_url = webhook.on_premises_url.clone();
        let cloud = !webhook.url.is_empty();
        tokio::spawn(post_all(webhook, waiting));
        Outbox {
            queue,
            on_premises_url,
            cloud,
        }
    }

    /// Queues the On-Premises status webhooks (`sent`, `delivered`, `read`) of message
    /// `message_id` sent by `installation` (`None`: the root one) to `recipient`, if On-Premises
    /// webhooks are configured.
    pub(crate) fn on_premises_statuses(
        &self,
        installation: Option<&str>,
        message_id: &str,
        recipient: &str,
    ) -> Result<(), QueueError> {
        let Some(template) = &self.on_premises_url else {
            // No On-Premises URL: none is sent, as an installation without webhooks.
            return Ok(());
        };
        let url = template.replace("{installation}", installation.unwrap_or("default"));
        let now = clock::unix_seconds(SystemTime::now());
        for status in ["sent", "delivered", "read"] {
            let mut object = json!({
                "id": message_id,
                "recipient_id": recipient,
                "status": status,
                "timestamp": now.to_string(),
            });
            if status != "read"
                && let Some(object) = object.as_object_mut()
            {
                object.insert(
                    "pricing".into(),
                    json!({"billable": true, "pricing_model": "CBP", "category": "service"}),
                );
            }
            let body = serde_json::to_vec(&json!({ "statuses": [object] })).unwrap_or_default();
            self.send(Delivery {
                on_premises_url: Some(url.clone()),
                body,
            })?;
        }
        Ok(())
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
        if !self.cloud {
            return Err(QueueError::NoUrl);
        }
        let body = serde_json::to_vec(&notification).unwrap_or_default();
        self.send(Delivery {
            on_premises_url: None,
            body,
        })
    }

    fn send(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.queue.try_send(delivery).map_err(|_| {
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
async fn post_all(webhook: SandboxWebhook, mut waiting: mpsc::Receiver<Delivery>) {
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
    while let Some(Delivery {
        on_premises_url,
        body,
    }) = waiting.recv().await
    {
        let signed = signature::sign(webhook.app_secret.as_bytes(), &body);
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let request = match &on_premises_url {
                None => client.post(&webhook.url).header(signature::HEADER, &signed),
                Some(url) => client.post(url),
            };
            let posted = request
                .header("content-type", "application/json")
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
