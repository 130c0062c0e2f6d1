//! The REST wire model: serde structs named and shaped exactly as the JSON bodies of the WhatsApp
//! Business API messages endpoint. They borrow their strings from the gRPC request, so a body is
//! serialized straight from the caller's data with no copy and no `serde_json::Value`.
//!
//! Fixed strings (`"whatsapp"`, `"individual"`, a `type` or an action `name`) are enums or serde
//! tags, never loose strings, so a body can only say what the API accepts.

pub mod contacts;
pub mod interactive;
pub mod json;
pub mod mark_read;
pub mod media;
pub mod message;
pub mod response;
pub mod template;

pub use mark_read::MarkRead;
pub use message::SendMessage;
