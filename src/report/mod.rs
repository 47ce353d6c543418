//! Reports: the same facts and verdicts, rendered for people (`text`) or machines (`json`).
//!
//! [`Report`] gathers what both formats show — the profile, per-endpoint facts derived from
//! evidence, findings and item verdicts — so the renderers only lay it out.

pub mod json;
pub mod text;

use serde::Serialize;

use crate::certificate::{days_remaining, format_time, read_certificate, CertificateFacts};
use crate::checks::{protocol_support, Support};
use crate::evidence::{EndpointEvidence, ScanEvidence, TlsVersion};
use crate::i18n::Lang;
use crate::posture::{handshake_facts, HandshakeFacts, Preference, VersionPosture};
use crate::profile::Profile;
use crate::suite_class::{classify, SuiteClass};
use crate::trust::{judge_chain, TrustVerdict};
use crate::verdict::Assessment;
use crate::wire::groups::group_name;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Everything a report shows.
pub struct Report<'a> {
    pub profile: &'a Profile,
    pub evidence: &'a ScanEvidence,
    pub assessment: &'a Assessment,
    pub lang: Lang,
}

impl Report<'_> {
    /// Renders in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => text::render(self),
            Format::Json => json::render(self),
        }
    }

    /// Facts of every endpoint, in target order.
    pub fn endpoint_facts(&self) -> Vec<EndpointFacts> {
        self.evidence
            .targets
            .iter()
            .flat_map(|t| t.endpoints.iter().map(move |e| EndpointFacts::derive(&t.input, e, self.evidence)))
            .collect()
    }
}

/// What a reader wants to know about an endpoint, derived from its evidence.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointFacts {
    pub endpoint: String,
    pub target: String,
    pub address: std::net::SocketAddr,
    pub server_name: Option<String>,
    pub probed_at: String,
    /// Per version: accepted, refused or unknown, with how it was decided.
    pub protocols: Vec<ProtocolFact>,
    pub negotiated: Vec<NegotiatedFact>,
    /// The chain served over the newest protocol; null if none was captured.
    pub certificate: Option<CertificateSummary>,
    /// Other, different chains served over other protocols (usually empty).
    pub additional_certificates: Vec<CertificateSummary>,
    /// Per accepted version (newest first): the suites, whose order, the groups.
    pub suites: Vec<VersionFacts>,
    /// Handshake behaviour beyond versions and suites.
    pub handshake: HandshakeFacts,
    /// TCP connections kensa opened to the endpoint.
    pub connections: u32,
}

/// What one accepted version offers, for people.
#[derive(Clone, Debug, Serialize)]
pub struct VersionFacts {
    pub version: TlsVersion,
    /// Accepted suites: in the server's order when it has one, else in the order found.
    pub suites: Vec<SuiteFacts>,
    /// Suites kensa offered that were neither accepted nor refused (0 when complete).
    pub untested: usize,
    pub preference: PreferenceFacts,
    /// Group names in the order found; `None` where groups do not apply.
    pub groups: Option<Vec<String>>,
    pub groups_untested: usize,
}

/// One accepted suite and what it is made of.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteFacts {
    #[serde(flatten)]
    pub class: SuiteClass,
    /// Short labels of its weaknesses (`CBC`, `RC4`, `no-FS` …); empty for a clean suite.
    pub weaknesses: Vec<&'static str>,
    /// Size of the DHE prime the server used with it, if DHE.
    pub dh_bits: Option<u32>,
}

/// Whose order the server follows.
#[derive(Clone, Debug, Serialize)]
pub struct PreferenceFacts {
    /// `server`, `client`, `single`, `undetermined` or `inconsistent`.
    pub kind: &'static str,
    /// For `server`: whether every pair of suites was compared.
    pub complete: bool,
}

/// Short labels for a suite's weaknesses, worst first.
pub fn weakness_labels(class: &SuiteClass) -> Vec<&'static str> {
    let flags = [
        (class.null_cipher, "NULL"),
        (class.anonymous, "anon"),
        (class.export, "EXPORT"),
        (class.rc4, "RC4"),
        (class.weak_cipher, "DES/RC2/IDEA"),
        (class.triple_des, "3DES"),
        (class.static_rsa, "RSA-kx"),
        (class.known && !class.forward_secrecy && !class.static_rsa, "no-FS"),
        (class.cbc, "CBC"),
        (!class.known, "unknown"),
    ];
    flags.into_iter().filter(|(on, _)| *on).map(|(_, label)| label).collect()
}

impl VersionFacts {
    fn derive(posture: &VersionPosture) -> VersionFacts {
        let (kind, complete, order) = match &posture.preference {
            Preference::Server { order, complete } => ("server", *complete, order.clone()),
            Preference::Client => ("client", true, posture.accepted.clone()),
            Preference::Single => ("single", true, posture.accepted.clone()),
            Preference::Undetermined => ("undetermined", false, posture.accepted.clone()),
            Preference::Inconsistent => ("inconsistent", false, posture.accepted.clone()),
        };
        let suites = order
            .iter()
            .map(|id| {
                let class = classify(*id);
                SuiteFacts {
                    weaknesses: weakness_labels(&class),
                    dh_bits: posture.dh_bits.iter().find(|(s, _)| s == id).map(|(_, bits)| *bits),
                    class,
                }
            })
            .collect();
        VersionFacts {
            version: posture.version,
            suites,
            untested: posture.untested,
            preference: PreferenceFacts { kind, complete },
            groups: posture.groups.as_ref().map(|g| g.accepted.iter().map(|id| group_name(*id)).collect()),
            groups_untested: posture.groups.as_ref().map(|g| g.untested).unwrap_or(0),
        }
    }
}

/// Whether one protocol version is accepted.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolFact {
    pub version: TlsVersion,
    pub support: Support,
}

/// What a completed handshake negotiated.
#[derive(Clone, Debug, Serialize)]
pub struct NegotiatedFact {
    pub version: TlsVersion,
    pub cipher_suite: String,
    pub key_exchange_group: Option<String>,
    pub alpn: Option<String>,
}

/// The served chain in a few lines.
#[derive(Clone, Debug, Serialize)]
pub struct CertificateSummary {
    pub captured_with: TlsVersion,
    pub leaf: Option<CertificateFacts>,
    pub leaf_error: Option<String>,
    pub chain_length: usize,
    pub chain_subjects: Vec<String>,
    pub not_after: Option<String>,
    pub days_remaining: Option<i64>,
    pub trust: TrustVerdict,
}

impl EndpointFacts {
    fn derive(target: &str, endpoint: &EndpointEvidence, evidence: &ScanEvidence) -> EndpointFacts {
        let mut versions: Vec<TlsVersion> = TlsVersion::LEGACY.into_iter().chain(TlsVersion::MODERN).collect();
        versions.sort();
        let protocols = versions
            .into_iter()
            .map(|version| ProtocolFact { version, support: protocol_support(endpoint, version) })
            .collect();
        let negotiated = endpoint
            .modern
            .iter()
            .filter_map(|a| {
                a.session.as_ref().map(|s| NegotiatedFact {
                    version: a.version,
                    cipher_suite: s.cipher_suite_name.clone(),
                    key_exchange_group: s.key_exchange_group.clone(),
                    alpn: s.alpn.clone(),
                })
            })
            .collect();
        let mut chains = endpoint.served_chains().into_iter().map(|chain| {
            let leaf = chain.certificates.first().map(|c| read_certificate(&c.0));
            let chain_subjects = chain
                .certificates
                .iter()
                .map(|c| read_certificate(&c.0).map(|f| f.subject).unwrap_or_else(|e| format!("<unreadable: {e}>")))
                .collect();
            let (leaf, leaf_error) = match leaf {
                Some(Ok(facts)) => (Some(facts), None),
                Some(Err(e)) => (None, Some(e)),
                None => (None, Some("empty chain".to_string())),
            };
            CertificateSummary {
                captured_with: chain.version,
                not_after: leaf.as_ref().map(|f| format_time(f.not_after)),
                days_remaining: leaf.as_ref().map(|f| days_remaining(f, endpoint.probed_at)),
                leaf,
                leaf_error,
                chain_length: chain.certificates.len(),
                chain_subjects,
                trust: judge_chain(chain.certificates, &evidence.extra_roots, endpoint.probed_at),
            }
        });
        let certificate = chains.next();
        let additional_certificates = chains.collect();
        EndpointFacts {
            suites: crate::posture::versions(endpoint).iter().map(VersionFacts::derive).collect(),
            handshake: handshake_facts(endpoint),
            connections: endpoint.connections,
            endpoint: endpoint.label(),
            target: target.to_string(),
            address: endpoint.address,
            server_name: endpoint.server_name.clone(),
            probed_at: format_time(i64::try_from(endpoint.probed_at).unwrap_or(i64::MAX)),
            protocols,
            negotiated,
            certificate,
            additional_certificates,
        }
    }
}
