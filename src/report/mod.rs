//! Reports: the same facts and verdicts, rendered for people (`text`) or machines (`json`).
//!
//! [`Report`] gathers what both formats show — the profile, per-endpoint facts derived from
//! evidence, findings and item verdicts — so the renderers only lay it out.

pub mod domains;
pub mod json;
pub mod text;

use serde::Serialize;

use crate::certificate::{format_time, CertificateFacts};
use crate::chain::{Origin, PathEnd, ServedCertificate};
use crate::checks::chain_review::{CertFinding, ChainView, Role};
use crate::checks::{protocol_support, CheckContext, CheckStatus, Support};
use crate::evidence::{EndpointEvidence, ScanEvidence, TlsVersion, VariantRequest};
use crate::i18n::Lang;
use crate::posture::{handshake_facts, HandshakeFacts, Preference, VersionPosture};
use crate::profile::Profile;
use crate::suite_class::{classify, SuiteClass};
use crate::trust::{StoreJudgement, TrustVerdict};
use crate::verdict::{Assessment, JudgingOptions};
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
    /// SHA-256 of the evidence bundle's manifest, when `--evidence` wrote one.
    pub bundle_sha256: Option<String>,
}

impl Format {
    /// The file a format is written to under `--out-dir`.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Text => "kensa-report.txt",
            Format::Json => "kensa-report.json",
        }
    }
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
        let stores = JudgingOptions::stores(self.evidence);
        let context = self.assessment.options.context(self.evidence, &stores);
        self.evidence
            .targets
            .iter()
            .flat_map(|t| t.endpoints.iter().map(|e| EndpointFacts::derive(&t.input, e, &context)))
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
    /// Every distinct chain served, the one of the newest protocol first; empty if none was
    /// captured.
    pub chains: Vec<ChainFacts>,
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

/// One served chain as a short tree: the path from the leaf up, each certificate with its
/// own verdict, and what was served besides.
#[derive(Clone, Debug, Serialize)]
pub struct ChainFacts {
    /// `TLS 1.3`, or `TLS 1.2, RSA signatures only`.
    pub captured_with: String,
    pub version: TlsVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<VariantRequest>,
    pub served_count: usize,
    pub trust: TrustVerdict,
    /// Every store's judgement.
    pub stores: Vec<StoreJudgement>,
    pub in_order: bool,
    pub completed_through_aia: bool,
    pub root_served: bool,
    pub end: PathEnd,
    /// Leaf first.
    pub path: Vec<PathEntryFacts>,
    /// Served certificates that are not on the path (duplicates and unrelated ones).
    pub off_path: Vec<ServedCertificate>,
    /// All facts of the leaf.
    pub leaf: Option<CertificateFacts>,
}

/// One certificate of the path, with its verdict.
#[derive(Clone, Debug, Serialize)]
pub struct PathEntryFacts {
    pub subject: String,
    pub issuer: String,
    pub role: Role,
    pub origin: Origin,
    pub key: String,
    pub signature_algorithm: String,
    pub not_after: String,
    pub days_remaining: i64,
    /// The worst of its findings (`pass` when none).
    pub status: CheckStatus,
    pub findings: Vec<CertFinding>,
}

impl ChainFacts {
    fn derive(view: &ChainView<'_>) -> ChainFacts {
        let captured_with = match view.chain.variant {
            Some(variant) => format!("{}, {}", view.chain.version.name(), variant.label_en()),
            None => view.chain.version.name().to_string(),
        };
        let path = view
            .analysis
            .path
            .iter()
            .zip(&view.reviews)
            .map(|(cert, review)| PathEntryFacts {
                subject: cert.facts.subject.clone(),
                issuer: cert.facts.issuer.clone(),
                role: review.role,
                origin: cert.origin,
                key: cert.facts.key.label(),
                signature_algorithm: cert.facts.signature_algorithm.clone(),
                not_after: format_time(cert.facts.not_after),
                days_remaining: review.days_remaining,
                status: review.status(),
                findings: review.findings.clone(),
            })
            .collect();
        ChainFacts {
            captured_with,
            version: view.chain.version,
            variant: view.chain.variant,
            served_count: view.chain.certificates.len(),
            trust: view.trust.verdict.clone(),
            stores: view.trust.stores.clone(),
            in_order: view.analysis.in_order,
            completed_through_aia: view.analysis.completed_through_aia,
            root_served: view.analysis.root_served,
            end: view.analysis.end.clone(),
            path,
            off_path: view.analysis.served.iter().filter(|c| !c.on_path).cloned().collect(),
            leaf: view.leaf().map(|l| l.facts.clone()),
        }
    }
}

impl EndpointFacts {
    fn derive(target: &str, endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> EndpointFacts {
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
        let chains = endpoint
            .served_chains()
            .into_iter()
            .map(|chain| ChainFacts::derive(&ChainView::new(endpoint, chain, context)))
            .collect();
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
            chains,
        }
    }
}
