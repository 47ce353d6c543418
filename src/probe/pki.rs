//! Fetches made on behalf of the served certificates, after the handshakes: the missing
//! intermediate a browser would download through AIA, and with `--revocation` the OCSP
//! responder's (or the CRL's) answer. Every fetch is recorded whole in the evidence; what
//! it means is decided later by the checks, from the same bytes.

use std::time::Duration;

use super::fetch::{FetchLimits, Fetcher};
use crate::chain::{analyse, PathEnd};
use crate::checks::chain_review::fetched_certificates;
use crate::evidence::{CertDer, EndpointEvidence, Fetch, FetchOutcome, FetchPurpose};
use crate::trust::TrustStores;

/// Most AIA downloads made to complete one chain (a leaf, up to three missing CAs).
pub const MAX_AIA_FETCHES_PER_CHAIN: usize = 4;

/// What the fetching stage may do.
pub struct FetchPolicy<'a> {
    pub fetcher: &'a Fetcher,
    pub stores: &'a TrustStores,
    pub revocation: bool,
    pub timeout: Duration,
}

/// Completes every served chain through AIA, then (with `revocation`) asks about each
/// certificate of each path whose issuer is known. Returns the fetches to record.
pub async fn follow_certificates(endpoint: &EndpointEvidence, policy: &FetchPolicy<'_>) -> Vec<Fetch> {
    let mut record = EndpointEvidence::new(endpoint.address, endpoint.server_name.clone(), endpoint.probed_at);
    let chains: Vec<Vec<CertDer>> = endpoint.served_chains().iter().map(|c| c.certificates.to_vec()).collect();
    for served in &chains {
        complete_through_aia(served, &mut record, policy).await;
    }
    if policy.revocation {
        for served in &chains {
            ask_about_revocation(served, &mut record, policy).await;
        }
    }
    record.fetches
}

async fn complete_through_aia(served: &[CertDer], record: &mut EndpointEvidence, policy: &FetchPolicy<'_>) {
    let limits = FetchLimits::for_purpose(FetchPurpose::CaIssuers, policy.timeout);
    for _ in 0..MAX_AIA_FETCHES_PER_CHAIN {
        let fetched = fetched_certificates(record);
        let analysis = analyse(served, &fetched, policy.stores);
        let PathEnd::IssuerMissing { ca_issuers, .. } = &analysis.end else {
            return;
        };
        let Some(top) = analysis.path.last() else {
            return;
        };
        // One try per URL: a URL that failed once (or gave nothing useful) is not retried.
        let Some(url) = ca_issuers.iter().find(|url| !record.fetches.iter().any(|f| &f.url == *url)) else {
            return;
        };
        let fetch = policy.fetcher.get(FetchPurpose::CaIssuers, url, &top.facts.sha256_fingerprint, &limits).await;
        record.fetches.push(fetch);
    }
}

async fn ask_about_revocation(served: &[CertDer], record: &mut EndpointEvidence, policy: &FetchPolicy<'_>) {
    let fetched = fetched_certificates(record);
    let analysis = analyse(served, &fetched, policy.stores);
    for pair in analysis.path.windows(2) {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let subject = &cert.facts.sha256_fingerprint;
        if record.fetches.iter().any(|f| f.purpose != FetchPurpose::CaIssuers && &f.certificate_sha256 == subject) {
            continue;
        }
        let mut answered = false;
        if let Some(url) = cert.facts.ocsp_responders.first() {
            let limits = FetchLimits::for_purpose(FetchPurpose::Ocsp, policy.timeout);
            let fetch = match crate::revocation::ocsp::build_request(&cert.der.0, &issuer.der.0) {
                Ok(request) => {
                    policy
                        .fetcher
                        .post(FetchPurpose::Ocsp, url, subject, "application/ocsp-request", request, &limits)
                        .await
                }
                Err(reason) => Fetch {
                    purpose: FetchPurpose::Ocsp,
                    url: url.clone(),
                    certificate_sha256: subject.clone(),
                    request: None,
                    elapsed_ms: 0,
                    outcome: FetchOutcome::Failed { reason: format!("no OCSP request could be built: {reason}") },
                },
            };
            answered = matches!(&fetch.outcome, FetchOutcome::Response { status: 200, body, .. }
                if crate::revocation::ocsp::judge_response(&body.0, &cert.der.0, Some(&issuer.der.0), record.probed_at)
                    .cert_status
                    .is_some());
            record.fetches.push(fetch);
        }
        // The CRL is the fallback when OCSP is absent or gave no usable answer.
        if !answered {
            if let Some(url) = cert.facts.crl_urls.first() {
                let limits = FetchLimits::for_purpose(FetchPurpose::Crl, policy.timeout);
                record.fetches.push(policy.fetcher.get(FetchPurpose::Crl, url, subject, &limits).await);
            }
        }
    }
}
