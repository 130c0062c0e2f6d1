//! The business numbers this service sends from. Each sender has a name, a flavor, its API's address
//! and credentials, and owns its own upstream client, login, health and limits, so one sender's
//! sick API never slows another's calls.

pub mod config;
pub mod registry;

pub use config::{Reload, SenderConfig, valid_name};
pub use registry::{PickError, Sender, Senders, health_name};
