//! Drift against a baseline: the facts of a previous scan that matter for 2-1.xv and
//! 2-1.xii, reduced to a [`Snapshot`], so that a new scan can say what changed.
//!
//! The snapshot of the baseline is stored inside the new scan's evidence, and the drift
//! checks compare it with the same reduction of the new evidence. Both sides are made by
//! one function, so a change in how kensa reads evidence cannot pose as drift, and a
//! recheck of the new report gives the same findings without the old file.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::checks::{protocol_support, Support};
use crate::evidence::domain::{DnsOutcome, DnssecStatus, DomainEvidence, DomainRole};
use crate::evidence::{EndpointEvidence, ScanEvidence, TlsVersion, UnixSeconds};

/// The facts drift is judged on, taken from one scan.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// When the scan the snapshot was taken from started.
    pub taken_at: UnixSeconds,
    /// Where it came from (the `--baseline` file as given).
    pub source: String,
    /// The baseline scan ran the domain survey; without it, domain drift is not judged.
    pub surveyed: bool,
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
    /// The delegation as the parent zone gives it (the registry's list when no parent
    /// server answered), sorted, lower case.
    pub nameservers: Vec<String>,
    pub dnssec: Option<DnssecStatus>,
}

/// TLS facts of one endpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointSnapshot {
    /// The endpoint's label (`host [address]:port`).
    pub endpoint: String,
    /// The leaf certificate of the first chain served.
    pub certificate: Option<CertificateSnapshot>,
    /// Versions the endpoint accepted.
    pub accepted_versions: Vec<TlsVersion>,
    /// Versions the endpoint refused (a version in neither list was not determined).
    pub refused_versions: Vec<TlsVersion>,
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

impl Snapshot {
    /// Reduces a scan's evidence to the facts drift is judged on.
    pub fn of(evidence: &ScanEvidence, source: &str) -> Snapshot {
        Snapshot {
            taken_at: evidence.started_at,
            source: source.to_string(),
            surveyed: evidence.domains.is_some(),
            domains: evidence
                .domains
                .iter()
                .flat_map(|s| &s.domains)
                .filter(|d| d.role == DomainRole::Target)
                .map(DomainSnapshot::of)
                .collect(),
            endpoints: evidence.targets.iter().flat_map(|t| &t.endpoints).map(EndpointSnapshot::of).collect(),
        }
    }

    /// The baseline's facts of the domain `name`.
    pub fn domain(&self, name: &str) -> Option<&DomainSnapshot> {
        self.domains.iter().find(|d| d.name == name)
    }

    /// The baseline's facts of the endpoint labelled `label`.
    pub fn endpoint(&self, label: &str) -> Option<&EndpointSnapshot> {
        self.endpoints.iter().find(|e| e.endpoint == label)
    }
}

impl DomainSnapshot {
    /// The drift-relevant facts of one surveyed domain.
    pub fn of(domain: &DomainEvidence) -> DomainSnapshot {
        let record = domain.registration.record();
        let mut delegated: BTreeSet<String> = BTreeSet::new();
        for answer in domain.delegation.iter().flat_map(|d| &d.parent) {
            if let DnsOutcome::Answer { records } = &answer.answer {
                delegated.extend(records.iter().map(|n| n.trim_end_matches('.').to_ascii_lowercase()));
            }
        }
        if delegated.is_empty() {
            delegated.extend(
                record.iter().flat_map(|r| &r.nameservers).map(|n| n.trim_end_matches('.').to_ascii_lowercase()),
            );
        }
        DomainSnapshot {
            name: domain.name.clone(),
            registrar: record.and_then(|r| r.registrar.clone()),
            registrar_iana_id: record.and_then(|r| r.registrar_iana_id.clone()),
            registrant_organization: record.and_then(|r| r.registrant_organization.clone()),
            created: record.and_then(|r| r.created),
            nameservers: delegated.into_iter().collect(),
            dnssec: domain.dnssec.as_ref().map(|d| d.status).filter(|s| *s != DnssecStatus::Indeterminate),
        }
    }
}

impl EndpointSnapshot {
    /// The drift-relevant facts of one probed endpoint.
    pub fn of(endpoint: &EndpointEvidence) -> EndpointSnapshot {
        let certificate = endpoint
            .served_chains()
            .into_iter()
            .find(|c| c.variant.is_none())
            .and_then(|c| c.certificates.first())
            .and_then(|der| certificate_snapshot(&der.0));
        let mut accepted_versions = Vec::new();
        let mut refused_versions = Vec::new();
        for version in TlsVersion::ALL {
            match protocol_support(endpoint, version) {
                Support::Accepted => accepted_versions.push(version),
                Support::Refused(_) => refused_versions.push(version),
                Support::Unknown(_) => {}
            }
        }
        EndpointSnapshot { endpoint: endpoint.label(), certificate, accepted_versions, refused_versions }
    }
}

fn certificate_snapshot(der: &[u8]) -> Option<CertificateSnapshot> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(CertificateSnapshot {
        issuer: certificate.issuer().to_string(),
        key_sha256: crate::certificate::sha256_hex(certificate.public_key().raw),
        serial: certificate.raw_serial_as_string().replace(':', ""),
    })
}
