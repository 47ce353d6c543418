//! Protocol-version checks for 2-1.xii: TLS 1.2 or higher, and nothing older.

use serde_json::json;

use super::{CheckContext, CheckResult, CheckStatus};
use crate::evidence::{EndpointEvidence, HelloPurpose, Outcome, TlsVersion};
use crate::i18n::Text;

/// What the evidence says about one version on one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "lowercase")]
pub enum Support {
    Accepted,
    Refused(String),
    Unknown(String),
}

/// Interprets the attempts for `version`.
///
/// An alert, a ServerHello for another version or a failed negotiation is a refusal. A
/// silent close or reset counts as a refusal only when the same endpoint answered some
/// other hello in TLS — many servers drop hellos they won't serve, but a peer that never
/// speaks TLS proves nothing. Timeouts, garbage and failed connections prove nothing.
pub fn support(endpoint: &EndpointEvidence, version: TlsVersion) -> Support {
    let modern = endpoint.modern_attempt(version).map(|a| &a.outcome);
    let raw = endpoint.hand_built_attempt(version).map(|a| &a.outcome);
    // For TLS 1.2 both may exist: rustls first, then (if rustls could not agree on a suite)
    // a hand-built hello offering every TLS 1.2 suite, which has the last word.
    let outcome = match (modern, raw) {
        (Some(Outcome::Accepted), _) => &Outcome::Accepted,
        (_, Some(raw)) => raw,
        (Some(modern), None) => modern,
        (None, None) => return Support::Unknown("not probed".to_string()),
    };
    match outcome {
        Outcome::Accepted => Support::Accepted,
        Outcome::Alert { description, name } => {
            // A "no suite in common" alert refuses only what was offered; say how much that was
            // when it was not every suite (minimal mode sends one hello per version).
            let offered: usize = endpoint
                .hand_built_attempt(version)
                .map(|a| {
                    a.exchanges
                        .iter()
                        .filter(|e| e.purpose == HelloPurpose::Suites)
                        .map(|e| e.offered_suites.len())
                        .sum()
                })
                .unwrap_or(0);
            let total = crate::posture::suite_candidates(version).len();
            if offered > 0 && offered < total {
                Support::Refused(format!("alert {name} ({description}) to {offered} of {total} suites"))
            } else {
                Support::Refused(format!("alert {name} ({description})"))
            }
        }
        Outcome::OtherVersion { version: other } => Support::Refused(format!(
            "answered with {}",
            TlsVersion::from_wire(*other).map(TlsVersion::name).unwrap_or("another version")
        )),
        Outcome::Incompatible { reason } => Support::Refused(reason.clone()),
        Outcome::Closed | Outcome::Reset => {
            let what = if *outcome == Outcome::Closed { "connection closed" } else { "connection reset" };
            if !speaks_tls(endpoint) {
                Support::Unknown(format!("{what}, and the endpoint never answered in TLS"))
            } else if stopped_answering(endpoint) {
                Support::Unknown(format!(
                    "{what}, and the endpoint stopped answering afterwards (rate limit or block?)"
                ))
            } else {
                Support::Refused(what.to_string())
            }
        }
        Outcome::Timeout => Support::Unknown("no answer before the deadline".to_string()),
        Outcome::ConnectFailed { reason } => Support::Unknown(format!("could not connect: {reason}")),
        Outcome::Malformed { reason } => Support::Unknown(format!("malformed reply: {reason}")),
        Outcome::Error { reason } => Support::Unknown(reason.clone()),
        Outcome::Skipped { reason } => Support::Unknown(format!("skipped: {reason}")),
    }
}

fn speaks_tls(endpoint: &EndpointEvidence) -> bool {
    endpoint
        .modern
        .iter()
        .map(|a| &a.outcome)
        .chain(endpoint.hand_built.iter().map(|a| &a.outcome))
        .any(Outcome::is_tls_answer)
}

/// The health check after the legacy hellos failed: silent closes may have been a block.
fn stopped_answering(endpoint: &EndpointEvidence) -> bool {
    endpoint.health_check.as_ref().is_some_and(|check| check.outcome != Outcome::Accepted)
}

/// The attempts behind a version's verdict: the rustls handshake and/or the hand-built hellos.
fn attempt_evidence(endpoint: &EndpointEvidence, version: TlsVersion) -> serde_json::Value {
    let rustls = endpoint.modern_attempt(version).map(|a| json!({"outcome": a.outcome, "elapsed_ms": a.elapsed_ms}));
    let hand_built = endpoint.hand_built_attempt(version).map(|a| {
        json!({
            "outcome": a.outcome,
            "hellos_sent": a.exchanges.len(),
            "suites_offered": a.exchanges.iter().map(|e| e.offered_suites.len()).sum::<usize>(),
        })
    });
    json!({
        "version": version,
        "rustls": rustls,
        "hand_built_hello": hand_built,
        "health_check": endpoint.health_check.as_ref().map(|h| &h.outcome),
    })
}

fn must_refuse(endpoint: &EndpointEvidence, version: TlsVersion) -> CheckResult {
    let name = version.name();
    let evidence = attempt_evidence(endpoint, version);
    match support(endpoint, version) {
        Support::Accepted => CheckResult::new(
            CheckStatus::Fail,
            Text::new(
                format!("{name} is accepted; the guideline requires TLS 1.2 or higher"),
                format!("{name}で接続できる（指針はTLS1.2以上を求める）"),
            ),
            evidence,
        ),
        Support::Refused(how) => CheckResult::new(
            CheckStatus::Pass,
            Text::new(format!("{name} refused ({how})"), format!("{name}は拒否された（{how}）")),
            evidence,
        ),
        Support::Unknown(why) => CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new(format!("{name} support unknown: {why}"), format!("{name}への対応を判定できない: {why}")),
            evidence,
        ),
    }
}

pub(super) fn no_sslv2(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    must_refuse(endpoint, TlsVersion::Ssl2)
}

pub(super) fn no_sslv3(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    must_refuse(endpoint, TlsVersion::Ssl3)
}

pub(super) fn no_tls10(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    must_refuse(endpoint, TlsVersion::Tls10)
}

pub(super) fn no_tls11(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    must_refuse(endpoint, TlsVersion::Tls11)
}

pub(super) fn tls12_or_13(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    let evidence =
        json!([attempt_evidence(endpoint, TlsVersion::Tls13), attempt_evidence(endpoint, TlsVersion::Tls12)]);
    let tls13 = support(endpoint, TlsVersion::Tls13);
    let tls12 = support(endpoint, TlsVersion::Tls12);
    match (&tls13, &tls12) {
        (Support::Accepted, _) | (_, Support::Accepted) => {
            let list = [(TlsVersion::Tls13, &tls13), (TlsVersion::Tls12, &tls12)]
                .iter()
                .filter(|(_, s)| **s == Support::Accepted)
                .map(|(v, _)| v.name())
                .collect::<Vec<_>>()
                .join(", ");
            CheckResult::new(
                CheckStatus::Pass,
                Text::new(format!("accepts {list}"), format!("{list}で接続できる")),
                evidence,
            )
        }
        (Support::Refused(a), Support::Refused(b)) => CheckResult::new(
            CheckStatus::Fail,
            Text::new(
                format!("neither TLS 1.3 ({a}) nor TLS 1.2 ({b}) is accepted"),
                format!("TLS 1.3（{a}）もTLS 1.2（{b}）も受け付けない"),
            ),
            evidence,
        ),
        (Support::Unknown(why), _) | (_, Support::Unknown(why)) => CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new(
                format!("could not establish TLS 1.2 or 1.3: {why}"),
                format!("TLS 1.2/1.3での接続を判定できない: {why}"),
            ),
            evidence,
        ),
    }
}

/// TLS 1.3 is not required by the guideline; this check informs and never fails.
pub(super) fn tls13(endpoint: &EndpointEvidence, _: &CheckContext<'_>) -> CheckResult {
    let evidence = attempt_evidence(endpoint, TlsVersion::Tls13);
    match support(endpoint, TlsVersion::Tls13) {
        Support::Accepted => {
            CheckResult::new(CheckStatus::Pass, Text::new("TLS 1.3 offered", "TLS 1.3に対応"), evidence)
        }
        Support::Refused(how) => CheckResult::new(
            CheckStatus::Info,
            Text::new(
                format!("TLS 1.3 not offered ({how}); recommended by the IPA TLS guidelines"),
                format!("TLS 1.3に未対応（{how}）。IPA TLS暗号設定ガイドラインでは推奨"),
            ),
            evidence,
        ),
        Support::Unknown(why) => CheckResult::new(
            CheckStatus::Info,
            Text::new(format!("TLS 1.3 support unknown: {why}"), format!("TLS 1.3への対応を判定できない: {why}")),
            evidence,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{HandBuiltAttempt, ModernAttempt};

    fn endpoint(modern: [Outcome; 2], legacy: [Outcome; 4]) -> EndpointEvidence {
        EndpointEvidence {
            modern: TlsVersion::MODERN
                .into_iter()
                .zip(modern)
                .map(|(version, outcome)| ModernAttempt { version, elapsed_ms: 1, outcome, session: None })
                .collect(),
            hand_built: TlsVersion::LEGACY
                .into_iter()
                .zip(legacy)
                .map(|(version, outcome)| HandBuiltAttempt { version, outcome, exchanges: Vec::new() })
                .collect(),
            health_check: None,
            connections: 6,
            ..EndpointEvidence::new(
                "127.0.0.1:443".parse().expect("address"),
                Some("a.example".to_string()),
                1_800_000_000,
            )
        }
    }

    fn alert() -> Outcome {
        Outcome::Alert { description: 70, name: "protocol_version".to_string() }
    }

    #[test]
    fn silent_refusals_count_only_from_an_endpoint_that_speaks_tls() {
        let speaks = endpoint([Outcome::Accepted, alert()], [Outcome::Reset, Outcome::Closed, alert(), alert()]);
        assert_eq!(support(&speaks, TlsVersion::Ssl2), Support::Refused("connection reset".to_string()));
        assert_eq!(support(&speaks, TlsVersion::Ssl3), Support::Refused("connection closed".to_string()));
        let mute = endpoint(
            [Outcome::Closed, Outcome::Reset],
            [Outcome::Reset, Outcome::Closed, Outcome::Closed, Outcome::Closed],
        );
        assert!(matches!(support(&mute, TlsVersion::Ssl2), Support::Unknown(_)));
        assert!(matches!(support(&mute, TlsVersion::Tls12), Support::Unknown(_)));
        assert_eq!(tls12_or_13(&mute, &CheckContext::default()).status, CheckStatus::Indeterminate);
    }

    #[test]
    fn legacy_acceptance_fails_and_unknowns_are_indeterminate() {
        let sslv3 =
            endpoint([Outcome::Accepted, Outcome::Accepted], [alert(), Outcome::Accepted, alert(), Outcome::Timeout]);
        let context = CheckContext::default();
        assert_eq!(no_sslv3(&sslv3, &context).status, CheckStatus::Fail);
        assert_eq!(no_tls10(&sslv3, &context).status, CheckStatus::Pass);
        assert_eq!(no_tls11(&sslv3, &context).status, CheckStatus::Indeterminate);
        assert_eq!(tls12_or_13(&sslv3, &context).status, CheckStatus::Pass);
        let downgraded = endpoint(
            [alert(), Outcome::OtherVersion { version: 0x0301 }],
            [alert(), alert(), Outcome::Accepted, Outcome::OtherVersion { version: 0x0301 }],
        );
        assert_eq!(tls12_or_13(&downgraded, &context).status, CheckStatus::Fail);
        assert_eq!(no_tls11(&downgraded, &context).status, CheckStatus::Pass);
        assert_eq!(tls13(&downgraded, &context).status, CheckStatus::Info);
    }

    #[test]
    fn missing_attempts_are_never_a_pass() {
        let mut none = endpoint([Outcome::Accepted, Outcome::Accepted], [alert(), alert(), alert(), alert()]);
        none.hand_built.clear();
        assert_eq!(no_tls10(&none, &CheckContext::default()).status, CheckStatus::Indeterminate);
        let skipped = endpoint(
            [Outcome::Timeout, Outcome::Timeout],
            std::array::from_fn(|_| Outcome::Skipped { reason: "unresponsive".to_string() }),
        );
        assert_eq!(no_sslv2(&skipped, &CheckContext::default()).status, CheckStatus::Indeterminate);
    }
}
