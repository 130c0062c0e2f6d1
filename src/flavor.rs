//! The two flavors of the WhatsApp Business API that the service can send to.

use std::fmt;

/// Which WhatsApp Business API the service talks to. The two take slightly different bodies for the
/// same message, and each has fields the other lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// The Cloud API, hosted by Meta: `POST /{version}/{phone-number-id}/messages`.
    Cloud,
    /// The On-Premises API, a client the business runs itself: `POST /v1/messages`.
    OnPremises,
}

impl Flavor {
    /// The flavor as `--flavor` spells it (`cloud`, `on-premises`): the value logs and spans carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Cloud => "cloud",
            Flavor::OnPremises => "on-premises",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Cloud => "Cloud API",
            Flavor::OnPremises => "On-Premises API",
        })
    }
}
