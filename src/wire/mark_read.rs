//! The body that marks a received message as read.

use serde::Serialize;

use super::message::MessagingProduct;

/// A read receipt. On-Premises sends `{"status":"read"}` to `PUT /v1/messages/{message_id}`; Cloud
/// sends the message id in the body of `POST /{version}/{phone-number-id}/messages`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(untagged)]
pub enum MarkRead<'a> {
    OnPremises {
        status: ReadStatus,
    },
    Cloud {
        messaging_product: MessagingProduct,
        status: ReadStatus,
        message_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        typing_indicator: Option<TypingIndicator>,
    },
}

/// `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadStatus {
    Read,
}

/// `typing_indicator` (Cloud only).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TypingIndicator {
    #[serde(rename = "type")]
    pub kind: TypingIndicatorType,
}

/// `typing_indicator.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypingIndicatorType {
    Text,
}
