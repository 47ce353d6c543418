//! Monitoring events: what changed between two runs, said once per change.

use serde::{Deserialize, Serialize};

use crate::evidence::UnixSeconds;
use crate::i18n::Text;

/// How urgent an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something got better or changed harmlessly (resolved, renewed).
    Info,
    /// Needs a look (a new 要確認, a replaced certificate, expiry within 30 days).
    Warning,
    /// Needs action now (a new 不適合, an endpoint down, expiry within 7 days).
    Critical,
}

/// What kind of change an event reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A finding became 不適合 (fail).
    NewFailure,
    /// A finding that was 不適合 or 判定不能 or 要確認 no longer is.
    Resolved,
    /// A finding became 判定不能 (its endpoint still reachable, or past the flapping guard).
    NewIndeterminate,
    /// A finding became 要確認 (warn).
    NewWarning,
    /// An item's status changed.
    ItemChanged,
    /// A protocol version is accepted that was refused before.
    ProtocolEnabled { version: String },
    /// A protocol version is refused that was accepted before.
    ProtocolDisabled { version: String },
    /// Cipher suites accepted that were not before.
    SuitesAdded { version: String, suites: Vec<String> },
    /// A new leaf certificate from the same issuer with the same public key (a renewal).
    CertificateRenewed,
    /// A new leaf certificate from another issuer or with another key.
    CertificateReplaced,
    /// The registrar of a domain changed.
    RegistrarChanged,
    /// The delegated name servers of a domain changed.
    NameserversChanged,
    /// The transfer locks or statuses of a domain changed.
    LocksChanged,
    /// A certificate's remaining days crossed a threshold (30, 14, 7).
    CertificateExpiry { threshold_days: i64 },
    /// A domain registration's remaining days crossed a threshold (30, 14, 7).
    DomainExpiry { threshold_days: i64 },
    /// An endpoint gave no TLS answer on the configured number of consecutive runs.
    Unreachable { consecutive_runs: u32 },
    /// An endpoint reported unreachable answers again.
    Recovered,
}

/// One change, ready for the sinks (event log, webhook, command hook).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(flatten)]
    pub kind: EventKind,
    pub severity: Severity,
    /// The endpoint label, registrable domain or host the change is about.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_id: Option<String>,
    /// The value or status before, and after, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// One sentence in English and Japanese.
    pub message: Text,
    /// When the run that found it finished.
    pub at: UnixSeconds,
}

impl Event {
    /// The event's kind as a stable snake_case word (`new_failure`, `protocol_enabled`…).
    pub fn kind_word(&self) -> String {
        serde_json::to_value(&self.kind)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
            .unwrap_or_default()
    }
}
