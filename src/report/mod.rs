//! Reports: the same facts and verdicts, rendered for people (`text`, `html`, `md`) or
//! machines (`json`, `csv`, `junit`, `sarif`).
//!
//! [`Report`] gathers what every format shows — the profile, per-endpoint facts derived from
//! evidence, findings, item verdicts, the rows of the item table, the item × endpoint cases,
//! the scan's metadata — so the renderers only lay it out.

pub mod csv;
pub mod domains;
pub mod html;
pub mod json;
pub mod junit;
pub mod md;
pub mod sarif;
pub mod text;

use std::fmt::Write;

use serde::Serialize;

use crate::certificate::{format_time, CertificateFacts};
use crate::chain::{Origin, PathEnd, ServedCertificate};
use crate::checks::chain_review::{CertFinding, ChainView, Role};
use crate::checks::{protocol_support, CheckContext, CheckStatus, Support};
use crate::evidence::{EndpointEvidence, ScanEvidence, TlsVersion, VariantRequest};
use crate::i18n::Lang;
use crate::posture::Fact;
use crate::posture::{handshake_facts, HandshakeFacts, Preference, VersionPosture};
use crate::profile::Item;
use crate::profile::Profile;
use crate::suite_class::{classify, SuiteClass};
use crate::suite_class::{IpaClasses, Listing};
use crate::trust::{StoreJudgement, TrustVerdict};
use crate::verdict::{Assessment, Finding, ItemStatus, ItemVerdict, JudgingOptions};
use crate::wire::groups::group_name;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a terminal.
    Text,
    /// `kensa.report/2` (see `docs/json-report.md`).
    Json,
    /// One self-contained, printable HTML file (no scripts, no external assets).
    Html,
    /// Markdown (GitHub-flavoured tables).
    #[value(name = "md")]
    Md,
    /// One row per finding (RFC 4180).
    Csv,
    /// JUnit XML: one test case per item × endpoint.
    Junit,
    /// SARIF 2.1.0: one rule per check, one result per finding that is not a pass.
    Sarif,
}

impl Format {
    /// Every format, in `--format` order.
    pub const ALL: [Format; 7] =
        [Format::Text, Format::Json, Format::Html, Format::Md, Format::Csv, Format::Junit, Format::Sarif];

    /// The file name a report of this format gets in an output directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Text => "kensa-report.txt",
            Format::Json => "kensa-report.json",
            Format::Html => "kensa-report.html",
            Format::Md => "kensa-report.md",
            Format::Csv => "kensa-findings.csv",
            Format::Junit => "kensa-junit.xml",
            Format::Sarif => "kensa-report.sarif",
        }
    }
}

/// What an exit code means, in one phrase.
pub(crate) fn exit_meaning(lang: Lang, code: i32) -> &'static str {
    match code {
        0 => tr(lang, "every probed item is compliant", "検査した項目はすべて適合"),
        1 => tr(lang, "at least one item is non-compliant", "不適合の項目がある"),
        _ => tr(
            lang,
            "nothing non-compliant, but something could not be determined",
            "不適合はないが判定不能な項目がある",
        ),
    }
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

impl Report<'_> {
    /// Renders in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => text::render(self),
            Format::Json => json::render(self),
            Format::Html => html::render(self),
            Format::Md => md::render(self),
            Format::Csv => csv::render(self),
            Format::Junit => junit::render(self),
            Format::Sarif => sarif::render(self),
        }
    }

    /// Every item that has a verdict, in profile order, with what the item table shows.
    pub fn item_rows(&self) -> Vec<ItemRow<'_>> {
        let lang = self.lang;
        self.profile
            .items
            .iter()
            .filter_map(|item| {
                let verdict = self.assessment.item(&item.id)?;
                let section = self.profile.sections.iter().find(|s| s.id == item.section);
                Some(ItemRow {
                    item,
                    verdict,
                    section_title: section.map(|s| if lang == Lang::Ja { &s.title_ja } else { &s.title_en }),
                    obligation: match lang {
                        Lang::En => item.obligation.label_en(),
                        Lang::Ja => item.obligation.label_ja(),
                    },
                    summary: match lang {
                        Lang::En => &item.gloss_en,
                        Lang::Ja => &item.quote_ja,
                    },
                    reason: verdict.reason.get(lang),
                    remediation: match lang {
                        Lang::En => item.remediation_en.as_deref(),
                        Lang::Ja => item.remediation_ja.as_deref(),
                    },
                })
            })
            .collect()
    }

    /// What a finding-less case is about: the service's name when a manifest described
    /// it, else `scan`.
    pub fn scan_subject(&self) -> String {
        self.evidence.service.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "scan".to_string())
    }

    /// Every item × subject (endpoint, domain, host or unprobed target) the item was judged
    /// on, with the status the item has there; an item judged on nothing (declared, outside,
    /// or with no signal gathered) is one case on [`Report::scan_subject`] with its own
    /// status. In profile order, subjects in the order their findings were made.
    pub fn item_cases(&self) -> Vec<ItemCase<'_>> {
        let mut cases = Vec::new();
        for row in self.item_rows() {
            let own: Vec<&Finding> = self.assessment.findings.iter().filter(|f| f.item_id == row.item.id).collect();
            let mut subjects: Vec<&str> = Vec::new();
            for finding in &own {
                if !subjects.contains(&finding.endpoint.as_str()) {
                    subjects.push(&finding.endpoint);
                }
            }
            if subjects.is_empty() {
                cases.push(ItemCase {
                    item: row.item,
                    verdict: row.verdict,
                    subject: self.scan_subject(),
                    status: row.verdict.status,
                    findings: Vec::new(),
                });
                continue;
            }
            for subject in subjects {
                let status = self
                    .assessment
                    .item_status_for_endpoint(&row.item.id, subject, self.profile)
                    .unwrap_or(row.verdict.status);
                cases.push(ItemCase {
                    item: row.item,
                    verdict: row.verdict,
                    subject: subject.to_string(),
                    status,
                    findings: own.iter().copied().filter(|f| f.endpoint == subject).collect(),
                });
            }
        }
        cases
    }

    /// The scan's metadata as label/value pairs, in the report language: kensa version,
    /// profile and revision, start and end, options.
    pub fn scan_metadata(&self) -> Vec<(&'static str, String)> {
        let lang = self.lang;
        let meta = &self.profile.meta;
        let settings = &self.evidence.settings;
        let options = &self.assessment.options;
        let yes_no = |on: bool| tr(lang, if on { "yes" } else { "no" }, if on { "あり" } else { "なし" }).to_string();
        let mut rows = vec![
            ("kensa", env!("CARGO_PKG_VERSION").to_string()),
            (tr(lang, "Profile", "プロファイル"), format!("{} ({})", meta.id, self.profile.source)),
            (tr(lang, "Guideline", "指針"), meta.guideline.clone()),
            (
                tr(lang, "Revision", "改訂"),
                format!("{} ({} {})", meta.revision, tr(lang, "data version", "データ版"), meta.data_version),
            ),
            (tr(lang, "Profile SHA-256", "プロファイルSHA-256"), self.profile.sha256.clone()),
            (tr(lang, "Started", "開始"), format_time(to_i64(self.evidence.started_at))),
            (tr(lang, "Finished", "終了"), format_time(to_i64(self.evidence.finished_at))),
            (tr(lang, "Evidence recorded by", "証跡を記録したkensa"), self.evidence.kensa_version.clone()),
            (tr(lang, "Mode", "モード"), json_word(&settings.mode)),
            (tr(lang, "Timeout", "タイムアウト"), format!("{} ms", settings.timeout_ms)),
            (tr(lang, "Address family", "アドレスファミリ"), json_word(&settings.address_family)),
            (
                tr(lang, "Resolver", "リゾルバ"),
                settings.resolver.clone().unwrap_or_else(|| tr(lang, "system", "システム設定").to_string()),
            ),
            (tr(lang, "Connections per IP", "IPあたり同時接続"), settings.parallel_per_ip.to_string()),
            (tr(lang, "Delay", "接続間隔"), format!("{} ms", settings.delay_ms)),
            (tr(lang, "Fetches (AIA)", "外部取得（AIA）"), yes_no(settings.fetch)),
            (tr(lang, "Revocation", "失効確認"), yes_no(settings.revocation)),
            (
                tr(lang, "Certificate expiry", "証明書の有効期限"),
                match lang {
                    Lang::En => {
                        format!("warn {} days, fail {} days", options.expiry.warn_days, options.expiry.fail_days)
                    }
                    Lang::Ja => {
                        format!("警告 {}日前、不適合 {}日前", options.expiry.warn_days, options.expiry.fail_days)
                    }
                },
            ),
            (
                tr(lang, "Domain expiry", "ドメインの有効期限"),
                serde_json::to_string(&options.domain_expiry).unwrap_or_default(),
            ),
        ];
        if !settings.pins.is_empty() {
            rows.push(("--resolve", settings.pins.join(", ")));
        }
        if !self.evidence.extra_roots.is_empty() {
            rows.push(("--ca-file", format!("{}", self.evidence.extra_roots.len())));
        }
        rows.push((
            tr(lang, "Evidence bundle SHA-256", "証跡バンドルSHA-256"),
            self.bundle_sha256
                .clone()
                .unwrap_or_else(|| tr(lang, "(no bundle written)", "（バンドルなし）").to_string()),
        ));
        rows
    }

    /// A URI for a finding's subject, for consumers that need a location: `https://host:port/path`
    /// (or `wss://`) for a target and its endpoints, `dns:name` for a domain or host of the survey.
    pub fn subject_uri(&self, subject: &str) -> String {
        for target in &self.evidence.targets {
            let scheme = match target.scheme {
                crate::target::Scheme::Wss => "wss",
                _ => "https",
            };
            let host = if target.host.contains(':') { format!("[{}]", target.host) } else { target.host.clone() };
            let uri = format!("{scheme}://{host}:{}{}", target.port, target.path);
            if target.input == subject || target.endpoints.iter().any(|e| e.label() == subject) {
                return uri;
            }
        }
        let name: String =
            subject.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
        format!("dns:{name}")
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

/// The title of a check in `lang` (the ID itself for an unknown one).
pub fn check_title(check_id: &str, lang: Lang) -> String {
    if check_id == crate::verdict::TARGET_RESOLUTION_CHECK {
        return tr(lang, "Target resolved to an address to probe", "対象のアドレスを解決できる").to_string();
    }
    match crate::checks::find(check_id) {
        Some(def) => tr(lang, def.title_en, def.title_ja).to_string(),
        None => check_id.to_string(),
    }
}

/// One row of the item table.
#[derive(Clone, Debug)]
pub struct ItemRow<'a> {
    pub item: &'a Item,
    pub verdict: &'a ItemVerdict,
    /// The section's title in the report language.
    pub section_title: Option<&'a String>,
    /// 遵守/推奨 (or required/recommended).
    pub obligation: &'static str,
    /// The guideline's words (Japanese) or the English gloss.
    pub summary: &'a str,
    /// The verdict's one-line reason.
    pub reason: &'a str,
    pub remediation: Option<&'a str>,
}

/// One item on one subject.
#[derive(Clone, Debug)]
pub struct ItemCase<'a> {
    pub item: &'a Item,
    pub verdict: &'a ItemVerdict,
    /// An endpoint label, a domain or host, a target that was not probed, or the scan.
    pub subject: String,
    /// The item's status on this subject alone (the item's own status for a scan case).
    pub status: ItemStatus,
    /// The findings of the item on this subject.
    pub findings: Vec<&'a Finding>,
}

fn to_i64(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// A serde enum as its JSON word (`full`, `any`…).
pub(crate) fn json_word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
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
    /// The HTTP posture probe's exchanges, in order; empty when it did not run.
    pub http: Vec<HttpFact>,
}

/// One HTTP exchange of the posture probe, for people.
#[derive(Clone, Debug, Serialize)]
pub struct HttpFact {
    /// `plain` (a hop over plain HTTP), `entry` (the HTTPS entry page) or `websocket` (the
    /// cleartext WebSocket upgrade).
    pub kind: &'static str,
    pub url: String,
    /// `301 → https://…`, `200`, or the error.
    pub outcome: String,
    /// The headers the posture checks read, as received (cookie values were redacted when
    /// recorded).
    pub headers: Vec<(String, String)>,
}

impl HttpFact {
    /// The exchanges of `posture`: the plain-HTTP hops, the entry page, the WebSocket attempt.
    fn all(posture: &crate::evidence::http::HttpPosture) -> Vec<HttpFact> {
        use crate::evidence::http::HttpOutcome;
        const SHOWN: [&str; 4] = ["strict-transport-security", "set-cookie", "cache-control", "upgrade"];
        let plain = posture.plain.iter().flat_map(|chain| chain.hops.iter()).map(|hop| ("plain", hop));
        let entry = posture.entry.iter().map(|exchange| ("entry", exchange));
        let websocket = posture.cleartext_websocket.iter().map(|exchange| ("websocket", exchange));
        plain
            .chain(entry)
            .chain(websocket)
            .map(|(kind, exchange)| {
                let (outcome, headers) = match &exchange.outcome {
                    HttpOutcome::Response(head) => {
                        let outcome = match &head.location {
                            Some(location) => format!("{} → {location}", head.status),
                            None => head.status.to_string(),
                        };
                        let headers = head
                            .headers
                            .iter()
                            .filter(|h| SHOWN.contains(&h.name.to_ascii_lowercase().as_str()))
                            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
                            .collect();
                        (outcome, headers)
                    }
                    HttpOutcome::Error { error, reason } => (
                        format!(
                            "{}: {reason}",
                            serde_json::to_value(error).unwrap_or_default().as_str().unwrap_or("error")
                        ),
                        Vec::new(),
                    ),
                };
                HttpFact { kind, url: exchange.url.clone(), outcome, headers }
            })
            .collect()
    }
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
            http: endpoint.http.as_ref().map(HttpFact::all).unwrap_or_default(),
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

/// Picks the English or Japanese form of a label.
pub fn tr(lang: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

/// ` IPA:高/推奨` when the IPA data lists the suite in a profile's example, else nothing.
pub fn ipa_label(lang: Lang, ipa: &IpaClasses) -> String {
    let listed: Vec<&str> = [
        (ipa.high, tr(lang, "high", "高")),
        (ipa.recommended, tr(lang, "recommended", "推奨")),
        (ipa.exception, tr(lang, "exception", "例外")),
    ]
    .into_iter()
    .filter(|(l, _)| *l == Listing::Listed)
    .map(|(_, name)| name)
    .collect();
    if listed.is_empty() {
        String::new()
    } else {
        format!("  IPA:{}", listed.join("/"))
    }
}

/// Whether a chain is trusted, and by which stores, in one phrase.
pub fn trust_label(lang: Lang, chain: &ChainFacts) -> String {
    match &chain.trust {
        TrustVerdict::Trusted { .. } => {
            let stores: Vec<&str> = chain
                .stores
                .iter()
                .filter(|s| s.trusted)
                .map(|s| match lang {
                    Lang::En => s.store.name_en(),
                    Lang::Ja => s.store.name_ja(),
                })
                .collect();
            match lang {
                Lang::En => format!("trusted by {}", stores.join(", ")),
                Lang::Ja => format!("信頼済み（{}）", stores.join("、")),
            }
        }
        TrustVerdict::NotTrusted { reason, .. } => match lang {
            Lang::En => format!("NOT trusted: {}", reason.describe_en()),
            Lang::Ja => format!("信頼できない: {}", reason.describe_ja()),
        },
    }
}

/// A one-character mark for an item status.
pub fn status_mark(status: ItemStatus) -> &'static str {
    match status {
        ItemStatus::Compliant => "✔",
        ItemStatus::NonCompliant => "✘",
        ItemStatus::NeedsReview => "△",
        ItemStatus::Indeterminate => "?",
        ItemStatus::DeclarationNeeded => "…",
        ItemStatus::NotApplicable => "-",
    }
}

/// A one-character mark for a check status.
pub fn check_mark(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "✔",
        CheckStatus::NotRun => "-",
        CheckStatus::Info => "i",
        CheckStatus::Warn => "△",
        CheckStatus::Indeterminate => "?",
        CheckStatus::Fail => "✘",
    }
}

/// How a version's suites are ordered, in a few words (empty for a single suite).
pub fn order_label(lang: Lang, version: &VersionFacts) -> &'static str {
    match (version.preference.kind, lang) {
        ("server", Lang::En) if version.preference.complete => "server's order",
        ("server", Lang::En) => "server's order, partly ranked",
        ("server", Lang::Ja) if version.preference.complete => "サーバー優先順",
        ("server", Lang::Ja) => "サーバー優先順（一部のみ順位確定）",
        ("client", Lang::En) => "client's order honoured",
        ("client", Lang::Ja) => "クライアントの順序に従う",
        ("single", _) => "",
        (_, Lang::En) => "order undetermined",
        (_, Lang::Ja) => "優先順は判定できず",
    }
}

/// One line on a version's suites: how many, whose order, what was left untested, the groups.
pub fn suites_head(lang: Lang, version: &VersionFacts) -> String {
    let order = order_label(lang, version);
    let mut head = match lang {
        Lang::En => format!("{} suite(s)", version.suites.len()),
        Lang::Ja => format!("{}スイート", version.suites.len()),
    };
    if !order.is_empty() {
        let _ = write!(head, ", {order}");
    }
    if version.untested > 0 {
        let _ = match lang {
            Lang::En => write!(head, ", {} untested", version.untested),
            Lang::Ja => write!(head, "、未確認{}", version.untested),
        };
    }
    if let Some(groups) = &version.groups {
        let _ = write!(head, " · {} {}", tr(lang, "groups", "グループ"), groups.join(", "));
        if version.groups_untested > 0 {
            let _ = write!(head, " (+{} ?)", version.groups_untested);
        }
    }
    head
}

/// Short notes on a suite: `FS`, `AEAD`, `DH 2048`, then its weaknesses marked `⚠`.
pub fn suite_notes(suite: &SuiteFacts) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    if suite.class.forward_secrecy {
        notes.push("FS".to_string());
    }
    if suite.class.aead {
        notes.push("AEAD".to_string());
    }
    if let Some(bits) = suite.dh_bits {
        notes.push(format!("DH {bits}"));
    }
    notes.extend(suite.weaknesses.iter().map(|w| format!("⚠{w}")));
    notes
}

/// The handshake facts in one line (`fallback SCSV yes · … · ALPN h2`).
pub fn handshake_line(lang: Lang, h: &HandshakeFacts) -> String {
    let parts = [
        (tr(lang, "fallback SCSV", "フォールバックSCSV"), &h.fallback_scsv),
        (tr(lang, "secure renegotiation", "安全な再ネゴシエーション"), &h.secure_renegotiation),
        (tr(lang, "compression", "圧縮"), &h.compression),
        ("EMS", &h.extended_master_secret),
        (tr(lang, "OCSP stapling", "OCSPステープリング"), &h.ocsp_stapling),
        (tr(lang, "session tickets", "セッションチケット"), &h.session_tickets),
    ]
    .iter()
    .filter_map(|(name, fact)| {
        let word = match fact {
            Fact::Yes(_) => tr(lang, "yes", "あり"),
            Fact::No(_) => tr(lang, "no", "なし"),
            Fact::Unknown(_) => "?",
            Fact::NotApplicable(_) => return None,
        };
        Some(format!("{name} {word}"))
    })
    .collect::<Vec<_>>();
    let mut line = parts.join(" · ");
    if !h.alpn.is_empty() {
        let _ = write!(line, " · ALPN {}", h.alpn.join(", "));
    }
    line
}

/// Where a chain's path ends, when that is worth a line: a trust anchor that was not
/// served, or why no anchor was reached. A mark (`⚓`, `✘`, `?`) and the text.
pub fn chain_end(lang: Lang, chain: &ChainFacts) -> Option<(&'static str, String)> {
    match &chain.end {
        PathEnd::Anchor { store, subject } if chain.path.last().is_none_or(|top| &top.subject != subject) => {
            let store = match lang {
                Lang::En => store.name_en(),
                Lang::Ja => store.name_ja(),
            };
            Some(("⚓", format!("{subject} ({store})")))
        }
        PathEnd::Anchor { .. } => None,
        PathEnd::UntrustedRoot => Some((
            "✘",
            tr(lang, "self-signed root that no trust store holds", "どの信頼ストアにもない自己署名ルート").to_string(),
        )),
        PathEnd::IssuerMissing { issuer, ca_issuers } => {
            let aia = if ca_issuers.is_empty() { "-".to_string() } else { ca_issuers.join(", ") };
            Some(("✘", format!("{} {issuer} (AIA: {aia})", tr(lang, "missing issuer:", "発行者が欠けている:"))))
        }
        PathEnd::Unreadable { position, reason } => Some(("?", format!("#{position}: {reason}"))),
        PathEnd::TooLong => Some(("✘", tr(lang, "path too long", "パスが長すぎる").to_string())),
    }
}

/// The served certificates that are not on the path, one line each (`#3 CN=… (duplicate of #1)`).
pub fn off_path_lines(lang: Lang, chain: &ChainFacts) -> Vec<String> {
    chain
        .off_path
        .iter()
        .map(|extra| {
            let what = match extra.duplicate_of {
                Some(first) => match lang {
                    Lang::En => format!("duplicate of #{first}"),
                    Lang::Ja => format!("#{first}の重複"),
                },
                None => tr(lang, "not part of the path", "パスに含まれない").to_string(),
            };
            format!("#{} {} ({what})", extra.position, extra.subject)
        })
        .collect()
}

/// What decided an item's status, in a word.
pub fn basis_label(lang: Lang, basis: crate::verdict::Basis) -> &'static str {
    use crate::verdict::Basis;
    match basis {
        Basis::Measured => tr(lang, "measured", "検査"),
        Basis::Declared => tr(lang, "declared", "申告"),
        Basis::Profile => tr(lang, "item type", "項目の性質"),
    }
}

/// A CSS class name for an item status (`compliant`, `non_compliant`…).
pub fn status_class(status: ItemStatus) -> String {
    json_word(&status)
}
