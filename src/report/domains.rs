//! The domain part of the terminal report: per registrable domain, who registered it and
//! until when, how it is delegated and signed, and per host where its CNAME chain ends and
//! which CAA records govern it; then the findings judged on each.

use std::fmt::Write;

use super::text::{check_mark, tr};
use super::Report;
use crate::certificate::format_time;
use crate::checks::CheckStatus;
use crate::evidence::domain::registry_day;
use crate::evidence::domain::{
    DnsOutcome, DnssecStatus, DomainEvidence, DomainRole, HostDnsEvidence, HostTerminal, LookupAnswer,
    RegistrationLookup, RegistrationSource,
};
use crate::i18n::{pad, Lang};

/// Writes the "Domains" section, if the survey ran.
pub fn render_text(out: &mut String, report: &Report<'_>) {
    let lang = report.lang;
    if let Some(baseline) = &report.evidence.baseline {
        let _ = writeln!(
            out,
            "\n{}: {} ({} {})",
            tr(lang, "Baseline", "ベースライン"),
            baseline.source,
            tr(lang, "scanned", "検査日時"),
            format_time(i64::try_from(baseline.taken_at).unwrap_or(0))
        );
    }
    let Some(survey) = &report.evidence.domains else { return };
    let _ = writeln!(out, "\n== {} ==", tr(lang, "Domains", "ドメイン"));
    let _ = writeln!(
        out,
        "{}: {} · {}: {}",
        tr(lang, "Public suffix list", "公開サフィックスリスト"),
        survey.public_suffix_list,
        tr(lang, "DNSSEC trust anchor", "DNSSECトラストアンカー"),
        survey.trust_anchor
    );
    for domain in survey.domains.iter().filter(|d| d.role == DomainRole::Target) {
        render_domain(out, report, domain);
        for host in survey.hosts.iter().filter(|h| h.registrable_domain == domain.name) {
            render_host(out, report, host);
        }
    }
    let others: Vec<&DomainEvidence> = survey.domains.iter().filter(|d| d.role == DomainRole::CnameTarget).collect();
    if !others.is_empty() {
        let _ = writeln!(out, "\n{}", tr(lang, "Domains CNAMEs lead into", "CNAME先のドメイン"));
        for domain in others {
            let _ = writeln!(out, "  {} ({} {})", domain.name, tr(lang, "from", "参照元"), domain.hosts.join(", "));
            let _ = writeln!(out, "    {}", registration_line(lang, domain));
        }
    }
    for skipped in &survey.skipped {
        let _ = writeln!(out, "\n{}\n  ! {}: {}", skipped.host, tr(lang, "not surveyed", "調査対象外"), skipped.reason);
    }
}

fn source(lookup: &RegistrationLookup) -> String {
    let protocol = match lookup.source {
        RegistrationSource::Rdap => "RDAP",
        RegistrationSource::Whois => "WHOIS",
    };
    format!("{protocol} {}", lookup.server)
}

/// One line on who registered the domain, until when, and how it is locked.
fn registration_line(lang: Lang, domain: &DomainEvidence) -> String {
    let Some(lookup) = domain.registration.decisive() else {
        return tr(lang, "registration: not looked up", "登録情報: 未照会").to_string();
    };
    let from = source(lookup);
    match &lookup.answer {
        LookupAnswer::Found { record, .. } => {
            let mut parts = Vec::new();
            if let Some(registrar) = &record.registrar {
                let id = record.registrar_iana_id.as_deref().map(|id| format!(" (IANA {id})")).unwrap_or_default();
                parts.push(format!("{} {registrar}{id}", tr(lang, "registrar", "レジストラ")));
            }
            if let Some(organization) = &record.registrant_organization {
                parts.push(format!("{} {organization}", tr(lang, "registrant", "登録者")));
            }
            if let Some(created) = record.created {
                parts.push(format!("{} {}", tr(lang, "created", "登録"), registry_day(created, &domain.name)));
            }
            if let Some(expires) = record.expires {
                let days = (i64::try_from(expires).unwrap_or(i64::MAX) - i64::try_from(lookup.at).unwrap_or(0))
                    .div_euclid(86_400);
                parts.push(match lang {
                    Lang::En => format!("expires {} ({days} days)", registry_day(expires, &domain.name)),
                    Lang::Ja => format!("有効期限 {}（残り{days}日）", registry_day(expires, &domain.name)),
                });
            }
            let locks: Vec<&String> = record.statuses.iter().chain(&record.locks).collect();
            if !locks.is_empty() {
                let shown: Vec<&str> = locks.iter().map(|s| s.as_str()).collect();
                parts.push(format!("{} {}", tr(lang, "status", "状態"), shown.join(", ")));
            }
            format!("{}: {} [{from}]", tr(lang, "registration", "登録情報"), parts.join(" · "))
        }
        LookupAnswer::NotFound { .. } => {
            format!("{}: {} [{from}]", tr(lang, "registration", "登録情報"), tr(lang, "NOT REGISTERED", "未登録"))
        }
        LookupAnswer::Unparsed { reason, .. } => format!(
            "{}: {} ({reason}) [{from}]",
            tr(lang, "registration", "登録情報"),
            tr(lang, "answer not understood, raw text kept", "応答を解釈できず（原文を保存）")
        ),
        LookupAnswer::Failed { reason } => format!(
            "{}: {} ({reason}) [{from}]",
            tr(lang, "registration", "登録情報"),
            tr(lang, "no answer", "取得できず")
        ),
    }
}

fn ns_set(outcome: &DnsOutcome<Vec<String>>) -> String {
    match outcome {
        DnsOutcome::Answer { records } => records.join(", "),
        DnsOutcome::NoData => "NODATA".to_string(),
        DnsOutcome::NxDomain => "NXDOMAIN".to_string(),
        DnsOutcome::Failed { reason } => format!("({reason})"),
    }
}

fn render_domain(out: &mut String, report: &Report<'_>, domain: &DomainEvidence) {
    let lang = report.lang;
    let _ = writeln!(
        out,
        "\n{}  ({} {})",
        domain.name,
        tr(lang, "public suffix", "公開サフィックス"),
        domain.public_suffix
    );
    let _ = writeln!(out, "  {}", registration_line(lang, domain));
    if let Some(delegation) = &domain.delegation {
        let zone = delegation.parent_zone.as_deref().unwrap_or("?");
        let _ = writeln!(out, "  {} {zone}", pad(tr(lang, "Delegated by", "委任元ゾーン"), 14));
        let sides = [(tr(lang, "parent", "親"), &delegation.parent), (tr(lang, "child ", "子"), &delegation.child)];
        for (side, answers) in sides {
            for answer in answers {
                let _ = writeln!(out, "    {side} {} ({}): {}", answer.server, answer.address, ns_set(&answer.answer));
            }
        }
        if let Some(error) = &delegation.error {
            let _ = writeln!(out, "    ! {error}");
        }
    }
    if let Some(dnssec) = &domain.dnssec {
        let status = match (dnssec.status, lang) {
            (DnssecStatus::Secure, Lang::En) => "signed, validates",
            (DnssecStatus::Secure, Lang::Ja) => "署名あり・検証成功",
            (DnssecStatus::Insecure, Lang::En) => "unsigned",
            (DnssecStatus::Insecure, Lang::Ja) => "未署名",
            (DnssecStatus::Bogus, Lang::En) => "BOGUS (validation fails)",
            (DnssecStatus::Bogus, Lang::Ja) => "検証失敗（bogus）",
            (DnssecStatus::Indeterminate, Lang::En) => "undetermined",
            (DnssecStatus::Indeterminate, Lang::Ja) => "判定できず",
        };
        let _ = writeln!(out, "  {} {status} — {}", pad("DNSSEC", 14), dnssec.detail);
    }
    render_findings(out, report, &domain.name);
}

fn render_host(out: &mut String, report: &Report<'_>, host: &HostDnsEvidence) {
    let lang = report.lang;
    let mut chain: Vec<String> = vec![host.host.clone()];
    chain.extend(host.cname_chain.iter().map(|hop| hop.target.clone()));
    let end = match &host.terminal {
        HostTerminal::Addresses { addresses, .. } => {
            addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
        HostTerminal::NoData { .. } => tr(lang, "no address", "アドレスなし").to_string(),
        HostTerminal::NxDomain { .. } => "NXDOMAIN".to_string(),
        HostTerminal::Loop { name } => format!("{} ({name})", tr(lang, "loop", "ループ")),
        HostTerminal::TooLong { length } => format!("{} ({length})", tr(lang, "too long", "長すぎる")),
        HostTerminal::Failed { reason, .. } => format!("({reason})"),
    };
    let _ = writeln!(out, "  {}", host.host);
    let _ = writeln!(out, "    {} {} ⇒ {end}", pad("DNS", 6), chain.join(" → "));
    let caa = match &host.caa.relevant_name {
        Some(name) => {
            let records: Vec<String> = host.caa.records.iter().map(|r| format!("{} \"{}\"", r.tag, r.value)).collect();
            format!("{name}: {}", records.join(", "))
        }
        None => tr(lang, "none", "なし").to_string(),
    };
    let _ = writeln!(out, "    {} {caa}", pad("CAA", 6));
    render_findings(out, report, &host.host);
}

/// The findings judged on a domain or host that are not a plain pass.
fn render_findings(out: &mut String, report: &Report<'_>, subject: &str) {
    let lang = report.lang;
    let mut seen: Vec<&str> = Vec::new();
    for finding in report.assessment.findings.iter().filter(|f| f.endpoint == subject) {
        // A check feeding two items is listed once.
        if finding.status == CheckStatus::Pass || seen.contains(&finding.check_id.as_str()) {
            continue;
        }
        seen.push(&finding.check_id);
        let _ =
            writeln!(out, "    {} {:<22} {}", check_mark(finding.status), finding.check_id, finding.message.get(lang));
    }
}
