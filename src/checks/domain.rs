//! Domain checks for 2-1.xv: a lapsed, unlocked, inconsistently delegated or dangling
//! domain lets someone else receive patients' traffic and obtain certificates for it.
//!
//! Each judges the survey's evidence of one registrable domain or one host, at the time the
//! evidence was gathered.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::certificate::result;
use super::{CheckContext, CheckResult, CheckStatus};
use crate::certificate::format_time;
use crate::evidence::domain::{
    DnsOutcome, DnssecStatus, DomainEvidence, DomainRole, HostDnsEvidence, HostTerminal, LookupAnswer, NsAnswer,
    RegistrationLookup, RegistrationRecord, RegistrationSource,
};
use crate::evidence::UnixSeconds;

const FINGERPRINTS_TEXT: &str = include_str!("../../probes/takeover-fingerprints.toml");

/// Days before a domain's expiry from which kensa warns, and from which it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainExpiryThresholds {
    pub warn_days: i64,
    pub fail_days: i64,
}

impl Default for DomainExpiryThresholds {
    /// Warn 90 days ahead (a quarter to renew through a procurement cycle), fail at 30.
    fn default() -> Self {
        DomainExpiryThresholds { warn_days: 90, fail_days: 30 }
    }
}

/// Hosted services known to allow a subdomain takeover (`probes/takeover-fingerprints.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeoverFingerprints {
    /// What the table is and when it was made.
    pub snapshot: String,
    #[serde(rename = "service")]
    services: Vec<TakeoverService>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TakeoverService {
    name: String,
    suffixes: Vec<String>,
    signal: TakeoverSignal,
}

/// How a deleted resource shows.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum TakeoverSignal {
    /// The service's name stops resolving.
    Nxdomain,
    /// Only the service's error page tells.
    Http,
}

impl TakeoverFingerprints {
    /// The bundled table.
    pub fn embedded() -> &'static TakeoverFingerprints {
        static TABLE: OnceLock<TakeoverFingerprints> = OnceLock::new();
        TABLE.get_or_init(|| {
            TakeoverFingerprints::parse(FINGERPRINTS_TEXT)
                .unwrap_or_else(|_| TakeoverFingerprints { snapshot: String::new(), services: Vec::new() })
        })
    }

    /// Parses a table in the format of `probes/takeover-fingerprints.toml`.
    pub fn parse(text: &str) -> Result<TakeoverFingerprints, String> {
        toml::from_str(text).map_err(|e| format!("takeover fingerprint table: {e}"))
    }

    /// The service whose suffix `name` is, or lives under.
    fn matching(&self, name: &str) -> Option<&TakeoverService> {
        self.services.iter().find(|s| s.suffixes.iter().any(|suffix| is_under(name, suffix)))
    }
}

/// `name` equals `suffix` or is a subdomain of it (case-insensitive).
fn is_under(name: &str, suffix: &str) -> bool {
    let (name, suffix) =
        (name.trim_end_matches('.').to_ascii_lowercase(), suffix.trim_end_matches('.').to_ascii_lowercase());
    name == suffix || name.ends_with(&format!(".{suffix}"))
}

fn date(seconds: UnixSeconds) -> String {
    format_time(i64::try_from(seconds).unwrap_or(i64::MAX))
}

fn source_label(lookup: &RegistrationLookup) -> String {
    let protocol = match lookup.source {
        RegistrationSource::Rdap => "RDAP",
        RegistrationSource::Whois => "WHOIS",
    };
    format!("{protocol} {}", lookup.server)
}

/// The lookup the registration checks stand on, in evidence form.
fn lookup_evidence(lookup: &RegistrationLookup) -> serde_json::Value {
    let answer = match &lookup.answer {
        LookupAnswer::Found { record, .. } => json!({"kind": "found", "record": record}),
        LookupAnswer::NotFound { .. } => json!({"kind": "not_found"}),
        LookupAnswer::Unparsed { reason, raw } => {
            json!({"kind": "unparsed", "reason": reason, "raw_excerpt": raw.chars().take(400).collect::<String>()})
        }
        LookupAnswer::Failed { reason } => json!({"kind": "failed", "reason": reason}),
    };
    json!({"source": lookup.source, "server": lookup.server, "query": lookup.query, "at": date(lookup.at), "answer": answer})
}

/// The registration record of a domain and the lookup it came from, or the result that
/// explains why there is none.
fn registration(domain: &DomainEvidence) -> Result<(&RegistrationLookup, &RegistrationRecord), CheckResult> {
    let Some(lookup) = domain.registration.decisive() else {
        return Err(result(
            CheckStatus::Indeterminate,
            format!("{}: no registration lookup was made", domain.name),
            format!("{}: 登録情報を照会していない", domain.name),
            json!(null),
        ));
    };
    let evidence = lookup_evidence(lookup);
    let from = source_label(lookup);
    match &lookup.answer {
        LookupAnswer::Found { record, .. } => Ok((lookup, record)),
        LookupAnswer::NotFound { .. } => Err(result(
            CheckStatus::Fail,
            format!("{from} says {} is not registered: anyone can register it", domain.name),
            format!("{from}によると{}は登録されていない（誰でも登録できる状態）", domain.name),
            evidence,
        )),
        LookupAnswer::Unparsed { reason, .. } => Err(result(
            CheckStatus::Indeterminate,
            format!("the answer of {from} could not be read ({reason}); the raw text is kept in the evidence"),
            format!("{from}の応答を解釈できない（{reason}）。原文は証跡に保存"),
            evidence,
        )),
        LookupAnswer::Failed { reason } => Err(result(
            CheckStatus::Indeterminate,
            format!("registration data of {} could not be obtained: {reason}", domain.name),
            format!("{}の登録情報を取得できない: {reason}", domain.name),
            evidence,
        )),
    }
}

/// `domain.expiry`: the registration does not lapse soon.
pub(super) fn expiry(domain: &DomainEvidence, context: &CheckContext<'_>) -> CheckResult {
    let (lookup, record) = match registration(domain) {
        Ok(found) => found,
        Err(result) => return result,
    };
    let evidence = lookup_evidence(lookup);
    let from = source_label(lookup);
    if let Some(deleting) = deletion_status(record) {
        return result(
            CheckStatus::Fail,
            format!(
                "{} is being deleted: status {deleting} ({from}); once deleted anyone can register it",
                domain.name
            ),
            format!("{}は削除手続き中（状態 {deleting}、{from}）。削除後は誰でも登録できる", domain.name),
            evidence,
        );
    }
    let Some(expires) = record.expires else {
        return result(
            CheckStatus::Indeterminate,
            format!("{from} gives no expiry date for {}", domain.name),
            format!("{from}の応答に{}の有効期限がない", domain.name),
            evidence,
        );
    };
    let days = crate::evidence::domain::days_between(lookup.at, expires);
    let thresholds = context.domain_expiry;
    let when = crate::evidence::domain::registry_day(expires, &domain.name);
    let (status, en, ja) = if days < 0 {
        (
            CheckStatus::Fail,
            format!("{} expired on {when} ({from})", domain.name),
            format!("{}は{when}に期限切れ（{from}）", domain.name),
        )
    } else if days <= thresholds.fail_days {
        (
            CheckStatus::Fail,
            format!(
                "{} expires on {when}, in {days} days (fail at {} days; {from})",
                domain.name, thresholds.fail_days
            ),
            format!(
                "{}の有効期限は{when}で残り{days}日（{}日以内は不適合。{from}）",
                domain.name, thresholds.fail_days
            ),
        )
    } else if days <= thresholds.warn_days {
        (
            CheckStatus::Warn,
            format!(
                "{} expires on {when}, in {days} days (warn at {} days; {from})",
                domain.name, thresholds.warn_days
            ),
            format!(
                "{}の有効期限は{when}で残り{days}日（{}日以内は要確認。{from}）",
                domain.name, thresholds.warn_days
            ),
        )
    } else {
        (
            CheckStatus::Pass,
            format!("{} expires on {when}, in {days} days ({from})", domain.name),
            format!("{}の有効期限は{when}で残り{days}日（{from}）", domain.name),
        )
    };
    result(status, en, ja, json!({"registration": evidence, "days_remaining": days, "thresholds": thresholds}))
}

/// A status that says the registration is on its way out (EPP/RDAP `pendingDelete`,
/// `redemptionPeriod`), as the registry wrote it.
fn deletion_status(record: &RegistrationRecord) -> Option<&str> {
    record.statuses.iter().map(String::as_str).find(|s| {
        let squashed: String = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        squashed.starts_with("pendingdelete") || squashed.starts_with("redemptionperiod")
    })
}

/// A transfer lock among a record's statuses and locks, as the registry wrote it.
fn transfer_locks(record: &RegistrationRecord) -> Vec<String> {
    let squash = |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let status_locks = record.statuses.iter().filter(|s| {
        let s = squash(s);
        // RDAP (RFC 9083) also has a bare "transfer prohibited".
        s.starts_with("clienttransferprohibited")
            || s.starts_with("servertransferprohibited")
            || s.starts_with("transferprohibited")
    });
    // JPRS: DomainTransferLocked is the transfer lock; the registry lock service shows as
    // a lock whose name says so. AgentChangeLocked guards only a change of registrar agent.
    let jprs_locks = record.locks.iter().filter(|l| {
        let l = squash(l);
        l.contains("transferlock") || l.contains("registrylock") || l.contains("serverlock")
    });
    status_locks.chain(jprs_locks).cloned().collect()
}

/// `domain.transfer-lock`: the registration is locked against transfer.
pub(super) fn transfer_lock(domain: &DomainEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let (lookup, record) = match registration(domain) {
        Ok(found) => found,
        Err(result) => return result,
    };
    let locks = transfer_locks(record);
    let from = source_label(lookup);
    let evidence = json!({
        "registration": lookup_evidence(lookup),
        "statuses": record.statuses,
        "locks": record.locks,
        "transfer_locks": locks,
    });
    if !locks.is_empty() {
        return result(
            CheckStatus::Pass,
            format!("{} is locked against transfer: {} ({from})", domain.name, locks.join(", ")),
            format!("{}は移転ロックされている: {}（{from}）", domain.name, locks.join(", ")),
            evidence,
        );
    }
    let agent_only = record.locks.iter().any(|l| l.eq_ignore_ascii_case("AgentChangeLocked"));
    let (en, ja) = if agent_only {
        (
            format!(
                "{} has AgentChangeLocked (registrar-agent change lock) but no DomainTransferLocked or registry lock ({from})",
                domain.name
            ),
            format!(
                "{}はAgentChangeLocked（指定事業者変更ロック）のみで、DomainTransferLocked（移転ロック）やレジストリロックがない（{from}）",
                domain.name
            ),
        )
    } else {
        (
            format!(
                "{} has no transfer lock (clientTransferProhibited, serverTransferProhibited or DomainTransferLocked; {from})",
                domain.name
            ),
            format!(
                "{}に移転ロック（clientTransferProhibited・serverTransferProhibited・DomainTransferLocked）がない（{from}）",
                domain.name
            ),
        )
    };
    result(CheckStatus::Warn, en, ja, evidence)
}

/// The union of the NS sets that answered, and the servers that did not answer.
fn ns_union(answers: &[NsAnswer]) -> (BTreeSet<String>, Vec<String>) {
    let mut names = BTreeSet::new();
    let mut silent = Vec::new();
    for answer in answers {
        match &answer.answer {
            DnsOutcome::Answer { records } => {
                names.extend(records.iter().map(|n| n.trim_end_matches('.').to_ascii_lowercase()))
            }
            DnsOutcome::NoData => silent.push(format!("{} ({}): no NS records", answer.server, answer.address)),
            DnsOutcome::NxDomain => silent.push(format!("{} ({}): NXDOMAIN", answer.server, answer.address)),
            DnsOutcome::Failed { reason } => silent.push(format!("{} ({}): {reason}", answer.server, answer.address)),
        }
    }
    (names, silent)
}

/// Whether the servers of one side disagree among themselves.
fn disagreeing(answers: &[NsAnswer]) -> bool {
    let sets: BTreeSet<Vec<String>> = answers
        .iter()
        .filter_map(|a| match &a.answer {
            DnsOutcome::Answer { records } => Some(records.clone()),
            _ => None,
        })
        .collect();
    sets.len() > 1
}

fn join(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// `domain.ns-consistency`: the parent zone delegates to the name servers the domain itself
/// names, and every one of them answers.
pub(super) fn ns_consistency(domain: &DomainEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let Some(delegation) = &domain.delegation else {
        return result(
            CheckStatus::Indeterminate,
            format!("the delegation of {} was not examined", domain.name),
            format!("{}の委任を調べていない", domain.name),
            json!(null),
        );
    };
    let evidence =
        json!({"delegation": delegation, "registry_nameservers": domain.registration.record().map(|r| &r.nameservers)});
    let (parent, parent_silent) = ns_union(&delegation.parent);
    let (child, child_silent) = ns_union(&delegation.child);
    let zone = delegation.parent_zone.as_deref().unwrap_or("the parent zone");
    let not_delegated = delegation.parent.iter().any(|a| a.answer == DnsOutcome::NxDomain);
    if parent.is_empty() && not_delegated {
        return result(
            CheckStatus::Warn,
            format!("{zone} says {} does not exist (NXDOMAIN): the domain is not delegated", domain.name),
            format!("{zone}によると{}は存在しない（NXDOMAIN）。委任されていない", domain.name),
            evidence,
        );
    }
    if parent.is_empty() {
        let why = delegation
            .error
            .clone()
            .or_else(|| parent_silent.first().cloned())
            .unwrap_or_else(|| "no parent server answered".into());
        return result(
            CheckStatus::Indeterminate,
            format!("the delegation of {} at {zone} could not be read: {why}", domain.name),
            format!("{zone}における{}の委任を確認できない: {why}", domain.name),
            evidence,
        );
    }
    if child.is_empty() {
        let why = child_silent.first().cloned().unwrap_or_else(|| "no name server answered".into());
        return result(
            CheckStatus::Warn,
            format!(
                "none of the name servers {zone} delegates {} to answers for it (lame delegation: {why})",
                domain.name
            ),
            format!("{zone}が委任する{}のネームサーバーがどれも応答しない（lame delegation: {why}）", domain.name),
            evidence,
        );
    }
    if parent != child {
        let only_parent: BTreeSet<String> = parent.difference(&child).cloned().collect();
        let only_child: BTreeSet<String> = child.difference(&parent).cloned().collect();
        return result(
            CheckStatus::Warn,
            format!(
                "{zone} delegates {} to {} but its own servers list {} (only at the parent: {}; only at the child: {})",
                domain.name,
                join(&parent),
                join(&child),
                join(&only_parent),
                join(&only_child)
            ),
            format!(
                "{zone}は{}を{}に委任しているが、自身のネームサーバーは{}を返す（親のみ: {}、子のみ: {}）",
                domain.name,
                join(&parent),
                join(&child),
                join(&only_parent),
                join(&only_child)
            ),
            evidence,
        );
    }
    if !child_silent.is_empty() || disagreeing(&delegation.child) || disagreeing(&delegation.parent) {
        let detail = if child_silent.is_empty() {
            "the servers give different NS sets".to_string()
        } else {
            child_silent.join("; ")
        };
        return result(
            CheckStatus::Warn,
            format!("parent and child agree on {} for {}, but: {detail}", join(&parent), domain.name),
            format!("{}のNSは親子で一致（{}）しているが、問題がある: {detail}", domain.name, join(&parent)),
            evidence,
        );
    }
    result(
        CheckStatus::Pass,
        format!("{zone} and {}'s own servers agree: {}", domain.name, join(&parent)),
        format!("{zone}と{}自身のネームサーバーのNSが一致: {}", domain.name, join(&parent)),
        evidence,
    )
}

/// `domain.dnssec`: the zone validates from the trust anchor; unsigned is information only.
pub(super) fn dnssec(domain: &DomainEvidence, context: &CheckContext<'_>) -> CheckResult {
    let Some(dnssec) = &domain.dnssec else {
        return result(
            CheckStatus::Indeterminate,
            format!("DNSSEC of {} was not examined", domain.name),
            format!("{}のDNSSECを調べていない", domain.name),
            json!(null),
        );
    };
    let anchor = context.survey.map(|s| s.trust_anchor.clone()).unwrap_or_default();
    let registry_signed = domain.registration.record().and_then(|r| r.delegation_signed);
    let evidence = json!({"dnssec": dnssec, "trust_anchor": anchor, "registry_delegation_signed": registry_signed});
    let detail = &dnssec.detail;
    match dnssec.status {
        DnssecStatus::Secure => result(
            CheckStatus::Pass,
            format!("{} is signed and validates ({detail})", domain.name),
            format!("{}は署名済みで検証に成功（{detail}）", domain.name),
            evidence,
        ),
        DnssecStatus::Bogus => result(
            CheckStatus::Fail,
            format!("{} is signed but does not validate (bogus): {detail}", domain.name),
            format!("{}は署名されているが検証に失敗（bogus）: {detail}", domain.name),
            evidence,
        ),
        DnssecStatus::Insecure if registry_signed == Some(true) => result(
            CheckStatus::Warn,
            format!("the registry says {} is signed, but DNS shows no signed delegation ({detail})", domain.name),
            format!("レジストリでは{}は署名済みだが、DNS上は署名された委任がない（{detail}）", domain.name),
            evidence,
        ),
        DnssecStatus::Insecure => result(
            CheckStatus::Info,
            format!("{} is not signed with DNSSEC ({detail})", domain.name),
            format!("{}はDNSSEC署名されていない（{detail}）", domain.name),
            evidence,
        ),
        DnssecStatus::Indeterminate => result(
            CheckStatus::Indeterminate,
            format!("DNSSEC of {} could not be decided: {detail}", domain.name),
            format!("{}のDNSSECを判定できない: {detail}", domain.name),
            evidence,
        ),
    }
}

/// The survey's entry for the registrable domain `name` lives under, among those only CNAME
/// chains lead to.
fn cname_target_domain<'a>(context: &CheckContext<'a>, name: &str) -> Option<&'a DomainEvidence> {
    context.survey?.domains.iter().filter(|d| d.role == DomainRole::CnameTarget).find(|d| is_under(name, &d.name))
}

/// `domain.dangling`: the host's CNAME chain ends somewhere that exists, is registered and
/// cannot be claimed by someone else.
pub(super) fn dangling(host: &HostDnsEvidence, context: &CheckContext<'_>) -> CheckResult {
    let fingerprints = TakeoverFingerprints::embedded();
    let chain: Vec<String> = host.cname_chain.iter().map(|hop| format!("{} → {}", hop.owner, hop.target)).collect();
    let service = host.cname_chain.iter().find_map(|hop| fingerprints.matching(&hop.target));
    let mut evidence = json!({
        "host": host.host,
        "cname_chain": host.cname_chain,
        "terminal": host.terminal,
        "takeover_service": service,
        "fingerprints": fingerprints.snapshot,
    });
    let path = if chain.is_empty() { host.host.clone() } else { chain.join(", ") };
    let resolves = matches!(host.terminal, HostTerminal::Addresses { .. });
    match &host.terminal {
        HostTerminal::NxDomain { name } if !host.cname_chain.is_empty() => {
            let (en_service, ja_service) = match service {
                Some(s) => (
                    format!(" on {} (a service known to allow takeover)", s.name),
                    format!("（乗っ取り事例のある{}）", s.name),
                ),
                None => (String::new(), String::new()),
            };
            return result(
                CheckStatus::Fail,
                format!("dangling CNAME: {path}, and {name} does not exist{en_service}; whoever creates it receives the traffic"),
                format!("ダングリングCNAME: {path}。{name}が存在しない{ja_service}ため、それを作成した第三者に通信が渡る"),
                evidence,
            );
        }
        HostTerminal::NxDomain { name } => {
            return result(
                CheckStatus::Warn,
                format!("{name} does not exist in DNS (NXDOMAIN)"),
                format!("{name}はDNSに存在しない（NXDOMAIN）"),
                evidence,
            );
        }
        HostTerminal::Loop { name } => {
            return result(
                CheckStatus::Warn,
                format!("the CNAME chain of {} loops at {name}: {path}", host.host),
                format!("{}のCNAMEがループしている（{name}）: {path}", host.host),
                evidence,
            );
        }
        HostTerminal::TooLong { length } => {
            return result(
                CheckStatus::Warn,
                format!("the CNAME chain of {} is longer than kensa follows ({length} hops)", host.host),
                format!("{}のCNAMEチェーンが長すぎる（{length}段）", host.host),
                evidence,
            );
        }
        HostTerminal::Failed { name, reason } => {
            return result(
                CheckStatus::Indeterminate,
                format!("the CNAME chain of {} could not be followed at {name}: {reason}", host.host),
                format!("{}のCNAMEチェーンを{name}で追跡できない: {reason}", host.host),
                evidence,
            );
        }
        HostTerminal::Addresses { .. } | HostTerminal::NoData { .. } => {}
    }
    // Every other registrable domain the chain enters must be registered and not lapse.
    let mut unknown = Vec::new();
    let mut checked = Vec::new();
    for hop in &host.cname_chain {
        let Some(target) = cname_target_domain(context, &hop.target) else { continue };
        if checked.contains(&target.name) {
            continue;
        }
        checked.push(target.name.clone());
        let lookup = target.registration.decisive();
        evidence[format!("registration:{}", target.name)] = lookup.map(lookup_evidence).unwrap_or(json!(null));
        match (lookup.map(|l| &l.answer), target.registration.record()) {
            (Some(LookupAnswer::NotFound { .. }), _) => {
                return result(
                    CheckStatus::Fail,
                    format!("dangling CNAME: {path}; {} is not registered, so anyone can register it and receive the traffic", target.name),
                    format!("ダングリングCNAME: {path}。{}は未登録のため、誰でも登録して通信を受け取れる", target.name),
                    evidence,
                );
            }
            (_, Some(record)) => {
                let days = match (record.expires, lookup) {
                    (Some(expires), Some(lookup)) => Some(crate::evidence::domain::days_between(lookup.at, expires)),
                    _ => None,
                };
                let thresholds = context.domain_expiry;
                if let Some(days) = days.filter(|d| *d < 0) {
                    return result(
                        CheckStatus::Fail,
                        format!(
                            "{path}: the CNAME target's domain {} expired {} days ago; anyone may soon register it",
                            target.name, -days
                        ),
                        format!(
                            "{path}: CNAME先のドメイン{}は{}日前に期限切れ。まもなく誰でも登録できる",
                            target.name, -days
                        ),
                        evidence,
                    );
                }
                if let Some(days) = days.filter(|d| *d <= thresholds.fail_days) {
                    return result(
                        CheckStatus::Fail,
                        format!("{path}: the CNAME target's domain {} expires in {days} days; once it lapses anyone can register it", target.name),
                        format!("{path}: CNAME先のドメイン{}の有効期限まで残り{days}日。失効すると誰でも登録できる", target.name),
                        evidence,
                    );
                }
                if let Some(days) = days.filter(|d| *d <= thresholds.warn_days) {
                    return result(
                        CheckStatus::Warn,
                        format!("{path}: the CNAME target's domain {} expires in {days} days", target.name),
                        format!("{path}: CNAME先のドメイン{}の有効期限まで残り{days}日", target.name),
                        evidence,
                    );
                }
            }
            _ => unknown.push(target.name.clone()),
        }
    }
    if let Some(service) = service {
        let status = match (service.signal, resolves) {
            (TakeoverSignal::Nxdomain, false) => CheckStatus::Fail,
            _ => CheckStatus::Info,
        };
        let (en, ja) = if status == CheckStatus::Fail {
            (
                format!(
                    "dangling CNAME: {path} points at {} and the name has no address; the resource can be claimed",
                    service.name
                ),
                format!("ダングリングCNAME: {path}は{}を指すが名前にアドレスがなく、第三者が取得できる", service.name),
            )
        } else {
            (
                format!("{path} is served by {}, where a deleted resource behind a remaining CNAME can be claimed by others; remove the CNAME with the resource", service.name),
                format!("{path}は{}で提供されている。リソース削除後にCNAMEが残ると第三者に取得され得るため、リソースと同時にCNAMEを削除すること", service.name),
            )
        };
        return result(status, en, ja, evidence);
    }
    if !unknown.is_empty() && !resolves {
        return result(
            CheckStatus::Indeterminate,
            format!("{path} has no address, and the registration of {} could not be read", unknown.join(", ")),
            format!("{path}にアドレスがなく、{}の登録情報も確認できない", unknown.join(", ")),
            evidence,
        );
    }
    if host.cname_chain.is_empty() {
        return result(
            CheckStatus::Pass,
            format!("{} has no CNAME", host.host),
            format!("{}にCNAMEはない", host.host),
            evidence,
        );
    }
    result(
        CheckStatus::Pass,
        format!("{path}: every name on the chain exists{}", if resolves { " and the last has addresses" } else { "" }),
        format!("{path}: チェーン上の名前はすべて存在する"),
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_fingerprints_parse() {
        let table = TakeoverFingerprints::parse(FINGERPRINTS_TEXT).expect("bundled table");
        assert_eq!(table.matching("x.azurewebsites.net").map(|s| s.signal), Some(TakeoverSignal::Nxdomain));
        assert!(table.matching("EXAMPLE.GITHUB.IO.").is_some());
        assert!(table.matching("notgithub.io").is_none());
    }

    #[test]
    fn transfer_locks_are_read_from_every_registry_dialect() {
        let record = |statuses: &[&str], locks: &[&str]| RegistrationRecord {
            statuses: statuses.iter().map(|s| s.to_string()).collect(),
            locks: locks.iter().map(|s| s.to_string()).collect(),
            ..RegistrationRecord::default()
        };
        assert_eq!(transfer_locks(&record(&["client transfer prohibited"], &[])).len(), 1);
        assert_eq!(transfer_locks(&record(&["serverTransferProhibited https://icann.org/epp#x"], &[])).len(), 1);
        assert_eq!(transfer_locks(&record(&["Active"], &["DomainTransferLocked", "AgentChangeLocked"])).len(), 1);
        assert!(transfer_locks(&record(&["client update prohibited"], &["AgentChangeLocked"])).is_empty());
    }
}
