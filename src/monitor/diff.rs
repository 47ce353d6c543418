//! What changed between runs, as [`Event`]s: pure functions of the current run and the
//! previous complete runs of the same monitor (newest first).
//!
//! Each change is reported once: a run is compared with the runs before it, so the run after
//! a change sees nothing new. Two rules keep a network blip quiet:
//! - an endpoint that gives no TLS answer is reported unreachable only when it has been so
//!   on [`AlertSettings::unreachable_after`] consecutive runs, and its recovery only if that
//!   alert was given;
//! - an endpoint is compared with the latest earlier run in which it answered, so the
//!   判定不能 findings of a blip neither alert nor "resolve" afterwards.

use std::collections::{BTreeMap, BTreeSet};

use crate::certificate::{days_remaining, read_certificate};
use crate::checks::CheckStatus;
use crate::drift::{DomainSnapshot, EndpointSnapshot};
use crate::evidence::{EndpointEvidence, ScanEvidence, TlsVersion};
use crate::i18n::Text;
use crate::monitor::event::{Event, EventKind, Severity};
use crate::verdict::Assessment;

/// One run as the comparison sees it.
#[derive(Clone, Copy, Debug)]
pub struct RunView<'a> {
    pub evidence: &'a ScanEvidence,
    pub assessment: &'a Assessment,
}

/// How eagerly the monitor alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertSettings {
    /// Consecutive runs without a TLS answer before an endpoint is reported unreachable.
    pub unreachable_after: u32,
    /// Remaining days whose crossing is reported (certificates and domains), largest first.
    pub expiry_thresholds: Vec<i64>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings { unreachable_after: 2, expiry_thresholds: vec![30, 14, 7] }
    }
}

/// Every change from `previous` (newest first) to `current`, each once.
pub fn changes(current: RunView<'_>, previous: &[RunView<'_>], settings: &AlertSettings) -> Vec<Event> {
    let at = current.evidence.finished_at;
    let mut events = Vec::new();
    let now_reachable = reachability(current.evidence);
    let history: Vec<BTreeMap<String, bool>> = previous.iter().map(|r| reachability(r.evidence)).collect();
    let threshold = settings.unreachable_after.max(1);

    // Subjects whose findings are not compared in this run: down, alerted or not yet.
    let mut quiet: BTreeSet<String> = BTreeSet::new();
    for (subject, reachable) in &now_reachable {
        let earlier_streak = history.iter().take_while(|h| h.get(subject) == Some(&false)).count() as u32;
        if !reachable {
            quiet.insert(subject.clone());
            if earlier_streak + 1 == threshold {
                events.push(event(
                    EventKind::Unreachable { consecutive_runs: threshold },
                    Severity::Critical,
                    subject,
                    at,
                    Text::new(
                        format!("{subject}: no TLS answer on {threshold} consecutive runs"),
                        format!("{subject}: {threshold}回連続でTLSの応答がない"),
                    ),
                ));
            }
        } else if earlier_streak >= threshold {
            events.push(event(
                EventKind::Recovered,
                Severity::Info,
                subject,
                at,
                Text::new(
                    format!("{subject}: answers again after {earlier_streak} runs without a TLS answer"),
                    format!("{subject}: {earlier_streak}回応答がなかった後、再び応答した"),
                ),
            ));
        }
    }

    // A target that resolved to nothing was tracked by its input; once it resolves, its
    // endpoints carry their own labels, so its recovery is said here.
    for target in &current.evidence.targets {
        let subject = &target.input;
        if now_reachable.contains_key(subject) || !target.endpoints.iter().any(|e| e.answered_tls()) {
            continue;
        }
        let earlier_streak = history.iter().take_while(|h| h.get(subject) == Some(&false)).count() as u32;
        if earlier_streak >= threshold {
            events.push(event(
                EventKind::Recovered,
                Severity::Info,
                subject,
                at,
                Text::new(
                    format!("{subject}: resolves and answers again after {earlier_streak} runs that found no address"),
                    format!("{subject}: {earlier_streak}回解決できなかった後、再び応答した"),
                ),
            ));
        }
    }

    // The run each subject is compared with: the latest earlier run in which it answered
    // (`None`: no such run, so whatever is wrong now is new).
    let baseline_for = |subject: &str| -> Option<usize> {
        match now_reachable.contains_key(subject) {
            true => history.iter().position(|h| h.get(subject) == Some(&true)),
            false => (!previous.is_empty()).then_some(0),
        }
    };

    events.extend(finding_changes(current, previous, &quiet, &baseline_for, at));
    events.extend(endpoint_changes(current, previous, &quiet, &baseline_for, settings, at));
    if let Some(last) = previous.first() {
        events.extend(domain_changes(current.evidence, last.evidence, settings, at));
    }
    events
}

/// Whether each endpoint (by label), and each target that gave no endpoint (by input),
/// answered in TLS.
fn reachability(evidence: &ScanEvidence) -> BTreeMap<String, bool> {
    let mut map = BTreeMap::new();
    for target in &evidence.targets {
        if target.endpoints.is_empty() {
            map.insert(target.input.clone(), false);
        }
        for endpoint in &target.endpoints {
            map.insert(endpoint.label(), endpoint.answered_tls());
        }
    }
    map
}

fn event(kind: EventKind, severity: Severity, subject: &str, at: u64, message: Text) -> Event {
    Event {
        kind,
        severity,
        subject: subject.to_string(),
        item_id: None,
        check_id: None,
        before: None,
        after: None,
        message,
        at,
    }
}

type FindingKey = (String, String, String);

fn finding_statuses(assessment: &Assessment) -> BTreeMap<FindingKey, (CheckStatus, &Text)> {
    assessment
        .findings
        .iter()
        // Drift findings compare with the previous run already; their changes are the
        // evidence events below.
        .filter(|f| !f.check_id.starts_with("drift."))
        .map(|f| ((f.item_id.clone(), f.check_id.clone(), f.endpoint.clone()), (f.status, &f.message)))
        .collect()
}

fn finding_changes(
    current: RunView<'_>,
    previous: &[RunView<'_>],
    quiet: &BTreeSet<String>,
    baseline_for: &dyn Fn(&str) -> Option<usize>,
    at: u64,
) -> Vec<Event> {
    let now = finding_statuses(current.assessment);
    let before: Vec<BTreeMap<FindingKey, (CheckStatus, &Text)>> =
        previous.iter().map(|r| finding_statuses(r.assessment)).collect();
    let mut events = Vec::new();
    for ((item, check, subject), (status, message)) in &now {
        if quiet.contains(subject) {
            continue;
        }
        let was = baseline_for(subject)
            .and_then(|base| before[base].get(&(item.clone(), check.clone(), subject.clone())))
            .map(|(s, _)| *s);
        let rank = |s: Option<CheckStatus>| match s {
            Some(CheckStatus::Fail) => 3,
            Some(CheckStatus::Indeterminate) => 2,
            Some(CheckStatus::Warn) => 1,
            _ => 0,
        };
        let (kind, severity) = match (rank(was), rank(Some(*status))) {
            (w, 3) if w < 3 => (EventKind::NewFailure, Severity::Critical),
            (w, 2) if w < 2 => (EventKind::NewIndeterminate, Severity::Warning),
            (0, 1) => (EventKind::NewWarning, Severity::Warning),
            (w, n) if w > 0 && n < w => (EventKind::Resolved, Severity::Info),
            _ => continue,
        };
        let word = |s: Option<CheckStatus>| s.map_or("none", CheckStatus::as_str).to_string();
        let lead = match kind {
            EventKind::Resolved => Text::new("resolved", "解消"),
            EventKind::NewFailure => Text::new("now fails", "不適合になった"),
            EventKind::NewIndeterminate => Text::new("could not be determined", "判定不能になった"),
            _ => Text::new("needs review", "要確認になった"),
        };
        events.push(Event {
            item_id: Some(item.clone()),
            check_id: Some(check.clone()),
            before: Some(word(was)),
            after: Some(word(Some(*status))),
            ..event(
                kind,
                severity,
                subject,
                at,
                Text::new(
                    format!("{subject}: {check} ({item}) {}: {}", lead.en, message.en),
                    format!("{subject}: {check}（{item}）{}: {}", lead.ja, message.ja),
                ),
            )
        });
    }
    events
}

fn endpoints(evidence: &ScanEvidence) -> BTreeMap<String, &EndpointEvidence> {
    evidence.targets.iter().flat_map(|t| &t.endpoints).map(|e| (e.label(), e)).collect()
}

/// Days until the earliest notAfter among the certificates the endpoint served.
fn earliest_expiry_days(endpoint: &EndpointEvidence) -> Option<i64> {
    endpoint
        .served_chains()
        .iter()
        .flat_map(|c| c.certificates.iter())
        .filter_map(|der| read_certificate(&der.0).ok())
        .map(|facts| days_remaining(&facts, endpoint.probed_at))
        .min()
}

/// The smallest threshold crossed going from `before` to `now` days, if any.
fn crossed(thresholds: &[i64], before: i64, now: i64) -> Option<i64> {
    thresholds.iter().copied().filter(|t| before > *t && now <= *t).min()
}

fn expiry_severity(threshold: i64) -> Severity {
    if threshold <= 7 {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

fn endpoint_changes(
    current: RunView<'_>,
    previous: &[RunView<'_>],
    quiet: &BTreeSet<String>,
    baseline_for: &dyn Fn(&str) -> Option<usize>,
    settings: &AlertSettings,
    at: u64,
) -> Vec<Event> {
    let mut events = Vec::new();
    let earlier: Vec<BTreeMap<String, &EndpointEvidence>> = previous.iter().map(|r| endpoints(r.evidence)).collect();
    for (label, endpoint) in endpoints(current.evidence) {
        if quiet.contains(&label) {
            continue;
        }
        let Some(base) = baseline_for(&label) else { continue };
        let Some(old) = earlier[base].get(&label) else { continue };
        let (now_snapshot, old_snapshot) = (EndpointSnapshot::of(endpoint), EndpointSnapshot::of(old));
        for version in TlsVersion::ALL {
            let name = version.name().to_string();
            if now_snapshot.accepted_versions.contains(&version) && old_snapshot.refused_versions.contains(&version) {
                let severity = if version < TlsVersion::Tls12 { Severity::Critical } else { Severity::Info };
                events.push(Event {
                    before: Some("refused".into()),
                    after: Some("accepted".into()),
                    ..event(
                        EventKind::ProtocolEnabled { version: name.clone() },
                        severity,
                        &label,
                        at,
                        Text::new(
                            format!("{label}: {name} is accepted again"),
                            format!("{label}: {name}を受け付けるようになった"),
                        ),
                    )
                });
            }
            if now_snapshot.refused_versions.contains(&version) && old_snapshot.accepted_versions.contains(&version) {
                let severity = if version >= TlsVersion::Tls12 { Severity::Warning } else { Severity::Info };
                events.push(Event {
                    before: Some("accepted".into()),
                    after: Some("refused".into()),
                    ..event(
                        EventKind::ProtocolDisabled { version: name.clone() },
                        severity,
                        &label,
                        at,
                        Text::new(
                            format!("{label}: {name} is no longer accepted"),
                            format!("{label}: {name}を受け付けなくなった"),
                        ),
                    )
                });
            }
        }
        events.extend(suite_changes(&label, endpoint, old, at));
        match (&now_snapshot.certificate, &old_snapshot.certificate) {
            (Some(now), Some(was)) if now != was => {
                let renewed = now.issuer == was.issuer && now.key_sha256 == was.key_sha256;
                let (kind, severity, en, ja) = if renewed {
                    (
                        EventKind::CertificateRenewed,
                        Severity::Info,
                        "renewed by the same issuer, same key",
                        "同じ発行者・同じ鍵で更新された",
                    )
                } else {
                    (
                        EventKind::CertificateReplaced,
                        Severity::Warning,
                        "replaced (another issuer or another key)",
                        "別の発行者または別の鍵の証明書に置き換わった",
                    )
                };
                events.push(Event {
                    before: Some(format!("{} serial {}", was.issuer, was.serial)),
                    after: Some(format!("{} serial {}", now.issuer, now.serial)),
                    ..event(
                        kind,
                        severity,
                        &label,
                        at,
                        Text::new(format!("{label}: certificate {en}"), format!("{label}: 証明書が{ja}")),
                    )
                });
            }
            _ => {}
        }
        if let (Some(now_days), Some(old_days)) = (earliest_expiry_days(endpoint), earliest_expiry_days(old)) {
            if let Some(threshold) = crossed(&settings.expiry_thresholds, old_days, now_days) {
                events.push(Event {
                    before: Some(format!("{old_days} days")),
                    after: Some(format!("{now_days} days")),
                    ..event(
                        EventKind::CertificateExpiry { threshold_days: threshold },
                        expiry_severity(threshold),
                        &label,
                        at,
                        Text::new(
                            format!("{label}: a served certificate expires in {now_days} days (within {threshold})"),
                            format!("{label}: 提示された証明書の有効期限まで{now_days}日（{threshold}日以内）"),
                        ),
                    )
                });
            }
        }
    }
    events
}

/// Suites accepted now, per version, that the comparison run did not see accepted.
fn suite_changes(label: &str, now: &EndpointEvidence, old: &EndpointEvidence, at: u64) -> Vec<Event> {
    let old_versions = crate::posture::versions(old);
    let mut events = Vec::new();
    for posture in crate::posture::versions(now) {
        let Some(was) = old_versions.iter().find(|p| p.version == posture.version) else { continue };
        // Only a comparison of complete enumerations is meaningful.
        if posture.untested > 0 || was.untested > 0 {
            continue;
        }
        let added: Vec<u16> = posture.accepted.iter().copied().filter(|s| !was.accepted.contains(s)).collect();
        if added.is_empty() {
            continue;
        }
        let classes: Vec<_> = added.iter().map(|s| crate::suite_class::classify(*s)).collect();
        let weak = classes.iter().any(|c| !crate::report::weakness_labels(c).is_empty());
        let names: Vec<String> = classes.iter().map(|c| c.name.to_string()).collect();
        let version = posture.version.name().to_string();
        events.push(Event {
            after: Some(names.join(", ")),
            ..event(
                EventKind::SuitesAdded { version: version.clone(), suites: names.clone() },
                if weak { Severity::Warning } else { Severity::Info },
                label,
                at,
                Text::new(
                    format!("{label}: {version} accepts new suites: {}", names.join(", ")),
                    format!("{label}: {version}で新たな暗号スイートを受け付ける: {}", names.join(", ")),
                ),
            )
        });
    }
    events
}

fn domain_changes(now: &ScanEvidence, was: &ScanEvidence, settings: &AlertSettings, at: u64) -> Vec<Event> {
    let (Some(now_survey), Some(old_survey)) = (&now.domains, &was.domains) else { return Vec::new() };
    let mut events = Vec::new();
    for domain in &now_survey.domains {
        let Some(old) = old_survey.domains.iter().find(|d| d.name == domain.name) else { continue };
        let name = &domain.name;
        let (now_record, old_record) = (domain.registration.record(), old.registration.record());
        let (now_facts, old_facts) = (DomainSnapshot::of(domain), DomainSnapshot::of(old));
        // Only answers on both sides are compared: a registry that did not answer this
        // time is not a change of registrar.
        if let (Some(now_record), Some(old_record)) = (now_record, old_record) {
            if now_facts.registrar != old_facts.registrar || now_facts.registrar_iana_id != old_facts.registrar_iana_id
            {
                let show = |f: &DomainSnapshot| f.registrar.clone().unwrap_or_else(|| "(none)".into());
                events.push(Event {
                    before: Some(show(&old_facts)),
                    after: Some(show(&now_facts)),
                    ..event(
                        EventKind::RegistrarChanged,
                        Severity::Critical,
                        name,
                        at,
                        Text::new(
                            format!("{name}: registrar changed from {} to {}", show(&old_facts), show(&now_facts)),
                            format!("{name}: レジストラが{}から{}に変わった", show(&old_facts), show(&now_facts)),
                        ),
                    )
                });
            }
            let locks = |r: &crate::evidence::domain::RegistrationRecord| {
                let mut all: Vec<String> = r.statuses.iter().chain(&r.locks).cloned().collect();
                all.sort();
                all.dedup();
                all
            };
            if locks(now_record) != locks(old_record) {
                events.push(Event {
                    before: Some(locks(old_record).join(", ")),
                    after: Some(locks(now_record).join(", ")),
                    ..event(
                        EventKind::LocksChanged,
                        Severity::Warning,
                        name,
                        at,
                        Text::new(
                            format!("{name}: registry statuses or locks changed"),
                            format!("{name}: 登録状態・ロックが変わった"),
                        ),
                    )
                });
            }
            if let (Some(now_days), Some(old_days)) =
                (domain.registration.days_to_expiry(), old.registration.days_to_expiry())
            {
                if let Some(threshold) = crossed(&settings.expiry_thresholds, old_days, now_days) {
                    events.push(Event {
                        before: Some(format!("{old_days} days")),
                        after: Some(format!("{now_days} days")),
                        ..event(
                            EventKind::DomainExpiry { threshold_days: threshold },
                            expiry_severity(threshold),
                            name,
                            at,
                            Text::new(
                                format!("{name}: the registration expires in {now_days} days (within {threshold})"),
                                format!("{name}: ドメイン登録の有効期限まで{now_days}日（{threshold}日以内）"),
                            ),
                        )
                    });
                }
            }
        }
        if !now_facts.nameservers.is_empty()
            && !old_facts.nameservers.is_empty()
            && now_facts.nameservers != old_facts.nameservers
        {
            events.push(Event {
                before: Some(old_facts.nameservers.join(", ")),
                after: Some(now_facts.nameservers.join(", ")),
                ..event(
                    EventKind::NameserversChanged,
                    Severity::Warning,
                    name,
                    at,
                    Text::new(
                        format!("{name}: name servers changed to {}", now_facts.nameservers.join(", ")),
                        format!("{name}: ネームサーバーが{}に変わった", now_facts.nameservers.join(", ")),
                    ),
                )
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn kinds(current: &ScanEvidence, previous: &[&ScanEvidence]) -> Vec<String> {
        let profile = Profile::embedded();
        let now = Assessment::evaluate(&profile, current);
        let before: Vec<Assessment> = previous.iter().map(|e| Assessment::evaluate(&profile, e)).collect();
        let views: Vec<RunView<'_>> =
            previous.iter().zip(&before).map(|(evidence, assessment)| RunView { evidence, assessment }).collect();
        changes(RunView { evidence: current, assessment: &now }, &views, &AlertSettings::default())
            .iter()
            .map(Event::kind_word)
            .collect()
    }

    #[test]
    fn a_target_that_stops_resolving_is_reported_after_two_runs_and_its_return_once() {
        let up: ScanEvidence =
            serde_json::from_str(include_str!("../../fixtures/evidence/compliant-tls12-tls13.json")).unwrap();
        let mut gone = up.clone();
        for target in &mut gone.targets {
            target.endpoints.clear();
            target.resolution.error = Some("NXDOMAIN".to_string());
        }
        assert_eq!(kinds(&gone, &[&up]), Vec::<String>::new(), "one run without an address is not an outage");
        assert_eq!(kinds(&gone, &[&gone, &up]), ["unreachable"]);
        assert_eq!(kinds(&gone, &[&gone, &gone, &up]), Vec::<String>::new(), "said once");
        assert_eq!(kinds(&up, &[&gone, &gone, &up]), ["recovered"], "and its return once, with no finding noise");
        assert_eq!(kinds(&up, &[&gone, &up]), Vec::<String>::new(), "a blip's return is not news");
    }

    #[test]
    fn the_smallest_crossed_threshold_is_reported_once() {
        let thresholds = [30, 14, 7];
        assert_eq!(crossed(&thresholds, 40, 31), None);
        assert_eq!(crossed(&thresholds, 31, 30), Some(30));
        assert_eq!(crossed(&thresholds, 30, 29), None, "already past 30");
        assert_eq!(crossed(&thresholds, 40, 5), Some(7), "a jump reports the tightest threshold");
        assert_eq!(crossed(&thresholds, 5, 90), None, "a renewal crosses nothing");
    }
}
