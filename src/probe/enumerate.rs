//! Full enumeration of one version with hand-built hellos, in close to the fewest
//! connections.
//!
//! Suites by iterative removal: offer every suite not yet accepted or refused (at most
//! [`MAX_SUITES_PER_HELLO`] per hello), record the pick, repeat until the server refuses,
//! then move on to the next untested suites. Each accepted suite costs one hello, and each
//! refusal rules out up to 128 suites at once.
//!
//! Groups ride along: suite hellos list the groups not yet seen first, so a server that
//! follows the client's group order reveals a new group with every pick, for free. What is
//! left is enumerated with group hellos (accepted suites only, untested groups only), which
//! list the accepted suites in reverse order of discovery and so also tell the server's
//! suite order from the client's. Only if that is still open does a dedicated preference
//! hello follow.
//!
//! Progress is judged by [`crate::posture`] from the recorded exchanges alone: a hello that
//! neither accepts nor refuses anything ends the loop, so a broken or hostile server costs
//! one connection more, never an endless loop.

use std::time::Duration;

use super::gate::EndpointGate;
use super::hand_built::send_tls_hello;
use crate::evidence::{HandBuiltAttempt, HelloExchange, HelloPurpose, Outcome, TlsVersion};
use crate::posture::{group_candidates, group_ledger, preference, suite_candidates, suite_ledger};
use crate::suite_class::classify;
use crate::wire::client_hello::{ClientHello, HelloOptions};

/// Most suites offered in one hello. With the renegotiation SCSV that makes 128 entries:
/// some old stacks fail on longer lists (testssl.sh's experience), and the hello stays far
/// below the record limit.
pub const MAX_SUITES_PER_HELLO: usize = 127;

/// A bound on hellos per version whatever the server does: every candidate once, every
/// group once, and a few more.
const MAX_HELLOS_PER_VERSION: usize = 400;

/// The endpoint the hellos go to, through its gate, and how long each may take.
pub struct Peer<'a> {
    pub gate: &'a EndpointGate,
    pub server_name: Option<&'a str>,
    pub timeout: Duration,
}

impl Peer<'_> {
    async fn send(
        &self,
        version: TlsVersion,
        purpose: HelloPurpose,
        suites: &[u16],
        groups: &[u16],
        fallback: bool,
    ) -> HelloExchange {
        let options = HelloOptions {
            server_name: self.server_name,
            groups: Some(groups),
            alpn: &[],
            fallback_scsv: fallback,
            ask_features: true,
        };
        let hello = match version {
            TlsVersion::Tls13 => ClientHello::tls13(suites, &options),
            other => ClientHello::tls(other.wire(), suites, &options),
        };
        match hello {
            Ok(hello) => send_tls_hello(self.gate, self.timeout, purpose, &hello).await,
            Err(e) => HelloExchange::new(
                purpose,
                crate::evidence::HelloReply::Malformed { reason: format!("hello not built: {e}") },
            ),
        }
    }
}

/// Enumerates the suites `version` accepts (SSLv3 to TLS 1.3), and for TLS 1.2 and 1.3 the
/// groups too. The attempt's outcome says whether the version is accepted at all.
pub async fn enumerate_version(peer: &Peer<'_>, version: TlsVersion) -> HandBuiltAttempt {
    let mut exchanges: Vec<HelloExchange> = Vec::new();
    let suites = suite_candidates(version);
    let with_groups = matches!(version, TlsVersion::Tls12 | TlsVersion::Tls13);
    let groups = group_candidates(version);

    // Suites, with unseen groups first.
    while exchanges.len() < MAX_HELLOS_PER_VERSION {
        let before = suite_ledger(version, &exchanges);
        let untested = before.untested(&suites);
        if untested.is_empty() {
            break;
        }
        let offer: Vec<u16> = untested.into_iter().take(MAX_SUITES_PER_HELLO).collect();
        let seen = group_ledger(version, &exchanges).accepted;
        let group_order: Vec<u16> =
            groups.iter().copied().filter(|g| !seen.contains(g)).chain(seen.iter().copied()).collect();
        exchanges.push(peer.send(version, HelloPurpose::Suites, &offer, &group_order, false).await);
        if suite_ledger(version, &exchanges) == before {
            break; // neither a pick nor a refusal: stop rather than knock again
        }
    }
    let accepted = suite_ledger(version, &exchanges).accepted;

    // Groups, over the accepted suites that use one, listed newest first.
    let group_suites: Vec<u16> = accepted
        .iter()
        .rev()
        .copied()
        .filter(|s| version == TlsVersion::Tls13 || classify(*s).ephemeral_ec)
        .take(MAX_SUITES_PER_HELLO)
        .collect();
    if with_groups && !group_suites.is_empty() {
        while exchanges.len() < MAX_HELLOS_PER_VERSION {
            let before = group_ledger(version, &exchanges);
            let untested = before.untested(&groups);
            if untested.is_empty() {
                break;
            }
            exchanges.push(peer.send(version, HelloPurpose::Groups, &group_suites, &untested, false).await);
            if group_ledger(version, &exchanges) == before {
                break;
            }
        }
    }

    // Whose order: one hello with the accepted suites reversed, if still open.
    if preference(version, &exchanges, &accepted).is_open() {
        let reversed: Vec<u16> = accepted.iter().rev().copied().take(MAX_SUITES_PER_HELLO).collect();
        exchanges.push(peer.send(version, HelloPurpose::Preference, &reversed, &groups, false).await);
    }

    let outcome = crate::probe::legacy::overall_outcome(version, &exchanges);
    HandBuiltAttempt { version, outcome, exchanges }
}

/// Sends TLS_FALLBACK_SCSV at `version` (below the highest accepted), offering `suites`
/// that the server accepts there; the exchange is added to `attempt`.
pub async fn test_fallback_scsv(peer: &Peer<'_>, attempt: &mut HandBuiltAttempt) {
    let accepted = suite_ledger(attempt.version, &attempt.exchanges).accepted;
    if accepted.is_empty() {
        return;
    }
    // The fallback SCSV takes one of the 128 entries.
    let suites: Vec<u16> = accepted.into_iter().take(MAX_SUITES_PER_HELLO - 1).collect();
    let groups = group_candidates(attempt.version);
    let exchange = peer.send(attempt.version, HelloPurpose::Fallback, &suites, &groups, true).await;
    attempt.exchanges.push(exchange);
}

/// Whether `attempt` settled its version: accepted, or refused in a way that speaks TLS.
pub fn answered(attempt: &HandBuiltAttempt) -> bool {
    matches!(attempt.outcome, Outcome::Accepted | Outcome::Alert { .. } | Outcome::OtherVersion { .. })
}
