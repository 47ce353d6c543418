//! Probes: the only code that touches the network. Each returns evidence, never a verdict.
//!
//! One endpoint is probed with one connection at a time (politeness: a scanner that opens
//! dozens of parallel connections gets blocked by WAFs). Different IP addresses are probed
//! concurrently.

pub mod legacy;
pub mod modern;
pub mod net;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::evidence::{
    now_unix, CertDer, EndpointEvidence, LegacyAttempt, ModernAttempt, Outcome, ScanEvidence, ScanSettings,
    TargetEvidence, TlsVersion, EVIDENCE_SCHEMA,
};
use crate::resolve::{EndpointResolver, Pin, ResolverSettings};
use crate::target::Target;

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
}

/// Resolves every target and probes every endpoint.
pub async fn scan(request: &ScanRequest) -> ScanEvidence {
    let started_at = now_unix();
    let resolver = EndpointResolver::new(request.resolver.clone(), request.pins.clone());
    let resolutions = futures::future::join_all(request.targets.iter().map(|t| resolver.resolve(t))).await;

    // Group endpoints by IP so each address sees one connection at a time.
    let mut by_ip: BTreeMap<IpAddr, Vec<(usize, SocketAddr, Option<String>)>> = BTreeMap::new();
    for (index, (target, resolution)) in request.targets.iter().zip(&resolutions).enumerate() {
        for ip in &resolution.addresses {
            let server_name = target.server_name().map(str::to_string);
            by_ip.entry(*ip).or_default().push((index, SocketAddr::new(*ip, target.port), server_name));
        }
    }
    let timeout = request.timeout;
    let probed = futures::future::join_all(by_ip.into_values().map(|jobs| async move {
        let mut done = Vec::with_capacity(jobs.len());
        for (index, addr, server_name) in jobs {
            done.push((index, probe_endpoint(addr, server_name, timeout).await));
        }
        done
    }))
    .await;

    let mut targets: Vec<TargetEvidence> = request
        .targets
        .iter()
        .zip(resolutions)
        .map(|(target, resolution)| TargetEvidence {
            input: target.input.clone(),
            host: target.host.to_string(),
            port: target.port,
            server_name: target.server_name().map(str::to_string),
            resolution,
            endpoints: Vec::new(),
        })
        .collect();
    for (index, endpoint) in probed.into_iter().flatten() {
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
        },
        extra_roots: request.extra_roots.clone(),
        targets,
    }
}

/// Probes one address: TLS 1.3 and 1.2 with rustls, then TLS 1.1, 1.0, SSLv3 and SSLv2
/// with hand-built hellos, one connection at a time. A hand-built TLS 1.2 hello follows when
/// rustls failed to agree on TLS 1.2 parameters, and a final handshake checks the endpoint
/// still answers when some hellos met a silent close or reset.
///
/// If neither modern attempt gets any answer at all (a tarpit, a filtered port), the legacy
/// hellos are recorded as skipped rather than waited out: the endpoint's verdict is indeterminate
/// either way, and a scanner should not keep knocking on a door nobody answers.
pub async fn probe_endpoint(addr: SocketAddr, server_name: Option<String>, timeout: Duration) -> EndpointEvidence {
    let probed_at = now_unix();
    let name = server_name.as_deref();
    let mut modern: Vec<ModernAttempt> = Vec::with_capacity(TlsVersion::MODERN.len());
    for version in TlsVersion::MODERN {
        modern.push(modern::probe_modern_version(addr, name, version, timeout).await);
    }
    let unresponsive = modern.iter().all(|a| a.outcome.is_unresponsive());
    let mut legacy: Vec<LegacyAttempt> = Vec::with_capacity(TlsVersion::LEGACY.len() + 1);
    if !unresponsive && modern.iter().any(|a| a.version == TlsVersion::Tls12 && needs_raw_tls12(&a.outcome)) {
        legacy.push(legacy::probe_legacy_version(addr, name, TlsVersion::Tls12, timeout).await);
    }
    for version in TlsVersion::LEGACY.into_iter().rev() {
        legacy.push(if unresponsive {
            let cause = match modern.first().map(|a| &a.outcome) {
                Some(Outcome::ConnectFailed { reason }) => format!("could not connect: {reason}"),
                _ => "no answer before the deadline".to_string(),
            };
            let reason = format!("no answer to TLS 1.3 or TLS 1.2 ({cause})");
            LegacyAttempt { version, outcome: Outcome::Skipped { reason }, exchanges: Vec::new() }
        } else {
            legacy::probe_legacy_version(addr, name, version, timeout).await
        });
    }
    let silent_refusals = legacy.iter().any(|a| matches!(a.outcome, Outcome::Closed | Outcome::Reset));
    let accepted = modern.iter().find(|a| a.outcome == Outcome::Accepted).map(|a| a.version);
    let health_check = match (silent_refusals, accepted) {
        (true, Some(version)) => Some(modern::probe_modern_version(addr, name, version, timeout).await),
        _ => None,
    };
    legacy.sort_by_key(|a| a.version);
    EndpointEvidence { address: addr, server_name, probed_at, modern, legacy, health_check }
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
        Outcome::Alert { description, .. } => *description != PROTOCOL_VERSION_ALERT,
        Outcome::Incompatible { .. }
        | Outcome::Closed
        | Outcome::Reset
        | Outcome::Malformed { .. }
        | Outcome::Error { .. } => true,
    }
}

/// The alert a server sends for a version it does not speak (RFC 5246 §7.2.2).
const PROTOCOL_VERSION_ALERT: u8 = 70;
