//! Drift against a baseline: the facts of a previous scan that matter for 2-1.xv and
//! 2-1.xii, reduced to a [`Snapshot`], so that a new scan can say what changed.

use serde::{Deserialize, Serialize};

use crate::evidence::domain::DnssecStatus;
use crate::evidence::{TlsVersion, UnixSeconds};

/// The facts drift is judged on, taken from one scan.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// When the scan the snapshot was taken from started.
    pub taken_at: UnixSeconds,
    /// Where it came from (the `--baseline` file as given).
    pub source: String,
    pub domains: Vec<DomainSnapshot>,
    pub endpoints: Vec<EndpointSnapshot>,
}

/// Registration and DNS facts of one registrable domain.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DomainSnapshot {
    pub name: String,
    pub registrar: Option<String>,
    pub registrar_iana_id: Option<String>,
    pub registrant_organization: Option<String>,
    pub created: Option<UnixSeconds>,
    /// Sorted, lower case.
    pub nameservers: Vec<String>,
    pub dnssec: Option<DnssecStatus>,
}

/// TLS facts of one endpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointSnapshot {
    /// The endpoint's label (`host [address]:port`).
    pub endpoint: String,
    /// The leaf certificate of the main chain.
    pub certificate: Option<CertificateSnapshot>,
    /// Protocol versions the endpoint accepted.
    pub accepted_versions: Vec<TlsVersion>,
}

/// What identifies a served certificate.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateSnapshot {
    pub issuer: String,
    /// SHA-256 of the SubjectPublicKeyInfo, hex.
    pub key_sha256: String,
    /// Serial number, hex.
    pub serial: String,
}
