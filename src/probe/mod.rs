//! Probes: the only code that touches the network. Each returns evidence, never a verdict.
//!
//! Every connection goes through a [`gate::Gates`]: by default one connection at a time per
//! IP address (a scanner that opens dozens of parallel connections gets blocked by WAFs),
//! optionally with a delay between them. Up to `concurrency` endpoints are probed at once.
//!
//! Two modes: [`ScanMode::Full`] enumerates every version's suites, the server's order, the
//! groups and the handshake facts ([`enumerate`]); [`ScanMode::Minimal`] asks each version
//! once and captures the certificate, within [`MINIMAL_CONNECTION_BUDGET`] connections.

pub mod enumerate;
pub mod fetch;
pub mod gate;
pub mod hand_built;
pub mod http_posture;
pub mod legacy;
pub mod modern;
pub mod net;
pub mod pki;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::evidence::{
    now_unix, CertDer, CertificateVariant, EndpointEvidence, HandBuiltAttempt, ModernAttempt, Outcome, ScanEvidence,
    ScanMode, ScanSettings, TargetEvidence, TlsVersion, VariantRequest, EVIDENCE_SCHEMA,
};
use crate::posture::suite_ledger;
use crate::resolve::{EndpointResolver, Pin, ResolverSettings};
use crate::target::Target;
use crate::trust::TrustStores;
use gate::{EndpointGate, Gates, Politeness};

/// Most connections minimal mode opens to one endpoint, the final health check included.
pub const MINIMAL_CONNECTION_BUDGET: u32 = 8;

/// Default number of endpoints probed at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Progress of a scan, for a progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Targets are resolved; this many endpoints will be probed.
    Planned { endpoints: usize },
    /// One endpoint is done.
    EndpointDone { label: String, connections: u32 },
}

/// Receives [`Progress`] events; called from the scan's tasks.
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Fn(Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// Everything a scan needs to know before it starts.
#[derive(Clone, Debug)]
pub struct ScanRequest {
    pub targets: Vec<Target>,
    pub pins: Vec<Pin>,
    pub resolver: ResolverSettings,
    /// Deadline for each network operation (a connect, a handshake, a hello's reply).
    pub timeout: Duration,
    /// Roots from `--ca-file`, recorded with the evidence.
    pub extra_roots: Vec<CertDer>,
    pub mode: ScanMode,
    pub politeness: Politeness,
    /// Most endpoints probed at once (at least 1).
    pub concurrency: usize,
    pub progress: Option<ProgressSink>,
    /// Outbound fetches for certificates (AIA caIssuers; OCSP and CRL with `revocation`).
    pub fetch: bool,
    /// Query OCSP responders (and CRLs as a fallback).
    pub revocation: bool,
    /// The operating system's roots (`--trust system`), recorded with the evidence.
    pub system_roots: Vec<CertDer>,
    /// Hosts that serve patients' browsers (`--patient-facing`).
    pub patient_facing: Vec<String>,
    /// The domain survey of the targets' host names (2-1.xv); `None` skips it.
    pub survey: Option<crate::domain::SurveySettings>,
    /// Names surveyed besides the targets' host names (a manifest's `domains`).
    pub survey_names: Vec<String>,
    /// The HTTP posture probe (plain-HTTP redirect, HSTS, cookies, cleartext WebSocket).
    pub http: http_posture::HttpSettings,
}

impl ScanRequest {
    /// A full-mode request with default politeness and concurrency.
    pub fn new(targets: Vec<Target>, resolver: ResolverSettings, timeout: Duration) -> ScanRequest {
        ScanRequest {
            targets,
            pins: Vec::new(),
            resolver,
            timeout,
            extra_roots: Vec::new(),
            mode: ScanMode::Full,
            politeness: Politeness::default(),
            concurrency: DEFAULT_CONCURRENCY,
            progress: None,
            fetch: true,
            revocation: false,
            system_roots: Vec::new(),
            patient_facing: Vec::new(),
            survey: None,
            survey_names: Vec::new(),
            http: http_posture::HttpSettings::default(),
        }
    }
}

impl ScanRequest {
    /// Whether `target` was named with `--patient-facing` (or `*` was).
    pub fn is_patient_facing(&self, target: &Target) -> bool {
        let host = target.host.to_string();
        self.patient_facing.iter().any(|p| p == "*" || p.trim_end_matches('.').eq_ignore_ascii_case(&host))
    }
}

/// Resolves every target and probes every endpoint.
pub async fn scan(request: &ScanRequest) -> ScanEvidence {
    let started_at = now_unix();
    let resolver = EndpointResolver::new(request.resolver.clone(), request.pins.clone());
    let resolutions = futures::future::join_all(request.targets.iter().map(|t| resolver.resolve(t))).await;

    let jobs: Vec<(usize, SocketAddr, Option<String>)> = request
        .targets
        .iter()
        .zip(&resolutions)
        .enumerate()
        .flat_map(|(index, (target, resolution))| {
            let server_name = target.server_name().map(str::to_string);
            resolution.addresses.iter().map(move |ip| (index, SocketAddr::new(*ip, target.port), server_name.clone()))
        })
        .collect();
    if let Some(sink) = &request.progress {
        (sink.0)(Progress::Planned { endpoints: jobs.len() });
    }
    let gates = Gates::new(request.politeness);
    let stores = TrustStores::new(&request.system_roots, &request.extra_roots);
    // Without a working HTTP client nothing is fetched, and the evidence says so.
    let fetcher = if request.fetch { fetch::Fetcher::with_extra_roots(&request.extra_roots).ok() } else { None };
    let policy = fetcher.as_ref().map(|fetcher| pki::FetchPolicy {
        fetcher,
        stores: &stores,
        revocation: request.revocation,
        timeout: request.timeout,
    });
    // The HTTPS entry page is fetched with the trust the run's checks use.
    let http_roots: Vec<CertDer> = request.extra_roots.iter().chain(&request.system_roots).cloned().collect();
    let slots = Semaphore::new(request.concurrency.max(1));
    let probing = futures::future::join_all(jobs.into_iter().map(|(index, addr, server_name)| {
        let (gates, slots, policy, http_roots) = (&gates, &slots, &policy, &http_roots);
        async move {
            let _slot = slots.acquire().await.ok();
            let gate = gates.endpoint(addr);
            let mut endpoint = probe_endpoint(&gate, server_name, request.timeout, request.mode).await;
            endpoint.patient_facing = request.targets.get(index).is_some_and(|t| request.is_patient_facing(t));
            if let Some(policy) = policy {
                endpoint.fetches = pki::follow_certificates(&endpoint, policy).await;
            }
            if let Some(target) = request.targets.get(index).filter(|_| request.http.enabled) {
                let port = request.http.plain_port_for(target);
                endpoint.http = Some(http_posture::probe(&gate, target, port, http_roots, request.timeout).await);
            }
            if let Some(sink) = &request.progress {
                (sink.0)(Progress::EndpointDone { label: endpoint.label(), connections: endpoint.connections });
            }
            (index, endpoint)
        }
    }));
    // The survey asks other servers (DNS, registries) than the endpoints, so it runs
    // beside the probes rather than after them.
    let host_names: Vec<String> = request
        .targets
        .iter()
        .filter_map(|t| match &t.host {
            crate::target::Host::Name(name) => Some(name.clone()),
            crate::target::Host::Ip(_) => None,
        })
        .chain(request.survey_names.iter().cloned())
        .collect();
    let surveying = async {
        match &request.survey {
            Some(settings) => Some(crate::domain::survey(&host_names, settings).await),
            None => None,
        }
    };
    let (probed, domains) = tokio::join!(probing, surveying);

    let mut targets: Vec<TargetEvidence> = request
        .targets
        .iter()
        .zip(resolutions)
        .map(|(target, resolution)| TargetEvidence {
            input: target.input.clone(),
            host: target.host.to_string(),
            port: target.port,
            server_name: target.server_name().map(str::to_string),
            scheme: target.scheme,
            path: target.path.clone(),
            role: target.role,
            resolution,
            endpoints: Vec::new(),
        })
        .collect();
    for (index, endpoint) in probed {
        if let Some(target) = targets.get_mut(index) {
            target.endpoints.push(endpoint);
        }
    }
    for target in &mut targets {
        target.endpoints.sort_by_key(|e| e.address);
    }

    ScanEvidence {
        schema: EVIDENCE_SCHEMA.to_string(),
        kensa_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        finished_at: now_unix(),
        settings: ScanSettings {
            timeout_ms: u64::try_from(request.timeout.as_millis()).unwrap_or(u64::MAX),
            address_family: request.resolver.family,
            resolver: request.resolver.server.map(|s| s.to_string()),
            pins: request.pins.iter().map(|p| p.input.clone()).collect(),
            mode: request.mode,
            parallel_per_ip: request.politeness.parallel_per_ip.max(1),
            delay_ms: u64::try_from(request.politeness.delay.as_millis()).unwrap_or(u64::MAX),
            fetch: fetcher.is_some(),
            revocation: fetcher.is_some() && request.revocation,
        },
        extra_roots: request.extra_roots.clone(),
        system_roots: request.system_roots.clone(),
        targets,
        domains,
        baseline: None,
        service: None,
    }
}

/// Probes one endpoint in `mode`.
pub async fn probe_endpoint(
    gate: &EndpointGate,
    server_name: Option<String>,
    timeout: Duration,
    mode: ScanMode,
) -> EndpointEvidence {
    let probed_at = now_unix();
    let name = server_name.as_deref();
    let (modern, mut hand_built) = match mode {
        ScanMode::Full => probe_full(gate, name, timeout).await,
        ScanMode::Minimal => probe_minimal(gate, name, timeout).await,
    };
    let certificate_variants = match mode {
        ScanMode::Full => probe_variants(gate, name, &modern, timeout).await,
        ScanMode::Minimal => Vec::new(),
    };
    let silent_refusals = hand_built.iter().any(|a| matches!(a.outcome, Outcome::Closed | Outcome::Reset));
    let accepted = modern.iter().find(|a| a.outcome == Outcome::Accepted).map(|a| a.version);
    let health_check = match (silent_refusals, accepted) {
        (true, Some(version)) => Some(modern::probe_modern_version(gate, name, version, timeout).await),
        _ => None,
    };
    hand_built.sort_by_key(|a| a.version);
    EndpointEvidence {
        address: gate.addr(),
        server_name,
        probed_at,
        modern,
        hand_built,
        health_check,
        connections: gate.connections(),
        patient_facing: false,
        certificate_variants,
        fetches: Vec::new(),
        http: None,
    }
}

/// Full mode: the certificates RSA-only and ECDSA-only clients get, and the one served
/// without SNI, at the newest version rustls completed. An endpoint rustls cannot complete
/// a handshake with has no variants (its certificate comes from the hand-built hellos).
async fn probe_variants(
    gate: &EndpointGate,
    name: Option<&str>,
    modern: &[ModernAttempt],
    timeout: Duration,
) -> Vec<CertificateVariant> {
    let Some(version) = modern.iter().find(|a| a.outcome == Outcome::Accepted).map(|a| a.version) else {
        return Vec::new();
    };
    let mut variants = Vec::with_capacity(VariantRequest::ALL.len());
    for request in VariantRequest::ALL {
        // Without a name, every handshake already went without SNI.
        if request == VariantRequest::NoServerName && name.is_none() {
            continue;
        }
        variants.push(modern::probe_certificate_variant(gate, name, version, request, timeout).await);
    }
    variants
}

/// Minimal mode: TLS 1.3 and 1.2 with rustls, a hand-built TLS 1.2 hello when rustls found
/// no common suite, then TLS 1.1, 1.0, SSLv3 and SSLv2 — one hello each, offering the
/// first [`enumerate::MAX_SUITES_PER_HELLO`] suites (certificate-authenticated ones first).
///
/// If neither modern attempt gets any answer at all (a tarpit, a filtered port), the legacy
/// hellos are recorded as skipped rather than waited out: the endpoint's verdict is
/// indeterminate either way, and a scanner should not keep knocking on a door nobody answers.
async fn probe_minimal(
    gate: &EndpointGate,
    name: Option<&str>,
    timeout: Duration,
) -> (Vec<ModernAttempt>, Vec<HandBuiltAttempt>) {
    let mut modern: Vec<ModernAttempt> = Vec::with_capacity(TlsVersion::MODERN.len());
    for version in TlsVersion::MODERN {
        modern.push(modern::probe_modern_version(gate, name, version, timeout).await);
    }
    if let Some(skipped) = skip_if_unresponsive(modern.iter().map(|a| &a.outcome)) {
        return (modern, skipped);
    }
    // One hello per version: with the two handshakes above, a hand-built TLS 1.2 hello and
    // the health check, at most 8 connections.
    let mut hand_built: Vec<HandBuiltAttempt> = Vec::with_capacity(TlsVersion::LEGACY.len() + 1);
    if modern.iter().any(|a| a.version == TlsVersion::Tls12 && needs_raw_tls12(&a.outcome)) {
        hand_built.push(legacy::probe_legacy_version(gate, name, TlsVersion::Tls12, timeout, 1).await);
    }
    for version in TlsVersion::LEGACY.into_iter().rev() {
        hand_built.push(legacy::probe_legacy_version(gate, name, version, timeout, 1).await);
    }
    (modern, hand_built)
}

/// Full mode: every version enumerated with hand-built hellos (TLS 1.3 and 1.2 first, so an
/// endpoint that answers neither is not asked further), rustls handshakes for what only a
/// completed handshake shows (the TLS 1.3 chain, key possession, ALPN, stapled OCSP), and
/// the fallback SCSV test.
async fn probe_full(
    gate: &EndpointGate,
    name: Option<&str>,
    timeout: Duration,
) -> (Vec<ModernAttempt>, Vec<HandBuiltAttempt>) {
    let peer = enumerate::Peer { gate, server_name: name, timeout };
    let (tls13, tls12) = futures::join!(
        enumerate::enumerate_version(&peer, TlsVersion::Tls13),
        enumerate::enumerate_version(&peer, TlsVersion::Tls12)
    );
    if let Some(mut skipped) = skip_if_unresponsive([&tls13.outcome, &tls12.outcome]) {
        skipped.extend([tls13, tls12]);
        return (Vec::new(), skipped);
    }
    // rustls for TLS 1.3 unless the server plainly refused it: the chain is encrypted there.
    let tls13_refused = matches!(tls13.outcome, Outcome::Alert { .. } | Outcome::OtherVersion { .. });
    let rustls13 = async {
        if tls13_refused {
            None
        } else {
            Some(modern::probe_modern_version(gate, name, TlsVersion::Tls13, timeout).await)
        }
    };
    let (rustls13, tls11, tls10, ssl3, ssl2) = futures::join!(
        rustls13,
        enumerate::enumerate_version(&peer, TlsVersion::Tls11),
        enumerate::enumerate_version(&peer, TlsVersion::Tls10),
        enumerate::enumerate_version(&peer, TlsVersion::Ssl3),
        legacy::probe_legacy_version(gate, name, TlsVersion::Ssl2, timeout, 1),
    );
    let mut modern: Vec<ModernAttempt> = rustls13.into_iter().collect();
    // rustls for TLS 1.2 only where it adds something: key possession for a chain not
    // already proven over TLS 1.3, when TLS 1.2 accepts a suite rustls can complete.
    let proven13 = modern.iter().find(|a| a.outcome == Outcome::Accepted).and_then(|a| a.session.as_ref());
    let chain12 = served_chain(&tls12);
    let rustls_can = suite_ledger(TlsVersion::Tls12, &tls12.exchanges).accepted.iter().any(|s| rustls_suite(*s));
    if rustls_can && proven13.is_none_or(|session| chain12.is_none_or(|chain| chain != session.chain.as_slice())) {
        modern.push(modern::probe_modern_version(gate, name, TlsVersion::Tls12, timeout).await);
    }
    let mut hand_built = vec![tls13, tls12, tls11, tls10, ssl3, ssl2];
    // TLS_FALLBACK_SCSV at the second-highest accepted version.
    let mut accepted: Vec<&mut HandBuiltAttempt> =
        hand_built.iter_mut().filter(|a| a.version != TlsVersion::Ssl2 && a.outcome == Outcome::Accepted).collect();
    accepted.sort_by_key(|a| std::cmp::Reverse(a.version));
    if let Some(below_highest) = accepted.into_iter().nth(1) {
        enumerate::test_fallback_scsv(&peer, below_highest).await;
    }
    (modern, hand_built)
}

/// The chain captured by the first pick of a hand-built attempt.
fn served_chain(attempt: &HandBuiltAttempt) -> Option<&[CertDer]> {
    attempt.exchanges.iter().find_map(|e| match &e.reply {
        crate::evidence::HelloReply::ServerHello { chain, .. } if !chain.is_empty() => Some(chain.as_slice()),
        _ => None,
    })
}

/// Whether rustls (ring provider) can complete a TLS 1.2 handshake with this suite.
fn rustls_suite(id: u16) -> bool {
    modern::provider().cipher_suites.iter().any(|s| u16::from(s.suite()) == id)
}

/// When the first answers are all silence (timeouts, failed connects), the legacy versions
/// recorded as skipped rather than waited out.
fn skip_if_unresponsive<'a>(first: impl IntoIterator<Item = &'a Outcome>) -> Option<Vec<HandBuiltAttempt>> {
    let first: Vec<&Outcome> = first.into_iter().collect();
    if !first.iter().all(|o| o.is_unresponsive()) {
        return None;
    }
    let cause = match first.first() {
        Some(Outcome::ConnectFailed { reason }) => format!("could not connect: {reason}"),
        _ => "no answer before the deadline".to_string(),
    };
    let reason = format!("no answer to TLS 1.3 or TLS 1.2 ({cause})");
    Some(
        TlsVersion::LEGACY
            .into_iter()
            .map(|version| HandBuiltAttempt {
                version,
                outcome: Outcome::Skipped { reason: reason.clone() },
                exchanges: Vec::new(),
            })
            .collect(),
    )
}

/// Whether a failed rustls TLS 1.2 attempt leaves TLS 1.2 support open: rustls offers only
/// ECDHE with AEAD, so anything but a clear "wrong version" answer (or no answer at all)
/// calls for a hand-built hello offering every TLS 1.2 suite.
fn needs_raw_tls12(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Accepted
        | Outcome::OtherVersion { .. }
        | Outcome::Timeout
        | Outcome::ConnectFailed { .. }
        | Outcome::Skipped { .. } => false,
        Outcome::Alert { description, .. } => *description != crate::wire::server_reply::ALERT_PROTOCOL_VERSION,
        Outcome::Incompatible { .. }
        | Outcome::Closed
        | Outcome::Reset
        | Outcome::Malformed { .. }
        | Outcome::Error { .. } => true,
    }
}
