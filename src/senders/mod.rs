//! The business numbers this service sends from. Each sender has a name, a flavor, its API's address
//! and credentials, and owns its own upstream client, login, health and limits, so one sender's
//! sick API never slows another's calls.

pub mod config;
pub mod file;
pub mod registry;

pub use config::{
    BaseUrlProblem, Reload, SenderConfig, check_base_url, valid_api_version, valid_name,
    valid_phone_number_id,
};
pub use registry::{PickError, Sender, Senders, health_name};
