//! CAA (RFC 8659): which CAs a domain permits, and whether the certificates an endpoint
//! actually serves came from one of them.
//!
//! A CAA record names a CA by an issuer domain name (`letsencrypt.org`), a certificate by
//! its organisation (`O=Let's Encrypt`); `probes/caa-identifiers.toml` joins the two.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::json;

use super::certificate::{each_chain, leaf_summary, result, unreadable, wildcard_covers};
use super::{CheckContext, CheckResult, CheckStatus};
use crate::chain::PathCertificate;
use crate::evidence::domain::{CaaEvidence, CaaRecord, DnsOutcome, HostDnsEvidence};
use crate::evidence::EndpointEvidence;

const IDENTIFIERS_TEXT: &str = include_str!("../../probes/caa-identifiers.toml");

/// The CAA properties kensa knows; an unknown one marked critical forbids issuance.
const KNOWN_TAGS: &[&str] = &["issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail", "contactphone"];

/// Bit of the CAA flags octet that marks a property critical.
const CRITICAL: u8 = 0x80;

/// The table of CA organisations and the CAA issuer domain names they honour.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaaIdentifiers {
    /// What the table is and when it was made.
    pub snapshot: String,
    #[serde(rename = "ca")]
    cas: Vec<CaEntry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaEntry {
    organizations: Vec<String>,
    identifiers: Vec<String>,
}

impl CaaIdentifiers {
    /// The bundled table.
    pub fn embedded() -> &'static CaaIdentifiers {
        static TABLE: OnceLock<CaaIdentifiers> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The bundled file is tested to parse; an empty table would only make cert.caa
            // indeterminate, never a pass.
            CaaIdentifiers::parse(IDENTIFIERS_TEXT)
                .unwrap_or_else(|_| CaaIdentifiers { snapshot: String::new(), cas: Vec::new() })
        })
    }

    /// Parses a table in the format of `probes/caa-identifiers.toml`.
    pub fn parse(text: &str) -> Result<CaaIdentifiers, String> {
        toml::from_str(text).map_err(|e| format!("CAA identifier table: {e}"))
    }

    /// The issuer domain names of every CA among `organizations`, lower case, sorted.
    pub fn identifiers_for(&self, organizations: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self
            .cas
            .iter()
            .filter(|ca| ca.organizations.iter().any(|o| organizations.iter().any(|n| n.eq_ignore_ascii_case(o))))
            .flat_map(|ca| ca.identifiers.iter().map(|i| i.to_ascii_lowercase()))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// What a CAA record set says about a CA.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaaPermission {
    /// No `issue` (or, for a wildcard, `issuewild`/`issue`) property: any CA may issue.
    Unrestricted,
    /// The set names this identifier of the CA.
    Permitted { identifier: String },
    /// The set names other CAs only (or none, with `issue ";"`).
    Forbidden { permitted: Vec<String> },
    /// A critical property kensa does not know: RFC 8659 forbids every CA to issue.
    UnknownCritical { tag: String },
}

/// Whether `records` (a relevant CAA set) let a CA known by `identifiers` issue a
/// certificate; `wildcard` when the certificate covers the name through a wildcard.
pub fn permission(records: &[CaaRecord], identifiers: &[String], wildcard: bool) -> CaaPermission {
    if let Some(unknown) =
        records.iter().find(|r| r.flags & CRITICAL != 0 && !KNOWN_TAGS.iter().any(|t| r.tag.eq_ignore_ascii_case(t)))
    {
        return CaaPermission::UnknownCritical { tag: unknown.tag.clone() };
    }
    let of_tag =
        |tag: &str| -> Vec<&CaaRecord> { records.iter().filter(|r| r.tag.eq_ignore_ascii_case(tag)).collect() };
    // RFC 8659 §4.3: issuewild, when present, governs wildcard certificates alone.
    let governing = match (wildcard, of_tag("issuewild")) {
        (true, wild) if !wild.is_empty() => wild,
        _ => of_tag("issue"),
    };
    if governing.is_empty() {
        return CaaPermission::Unrestricted;
    }
    let permitted: Vec<String> = governing.iter().filter_map(|r| issuer_domain(&r.value)).collect();
    match permitted.iter().find(|p| identifiers.iter().any(|i| i == *p)) {
        Some(identifier) => CaaPermission::Permitted { identifier: identifier.clone() },
        None => CaaPermission::Forbidden { permitted },
    }
}

/// The issuer domain name of an `issue`/`issuewild` value (`ca.example; key=value`), lower
/// case; `None` for the empty name (`;`), which permits no CA.
fn issuer_domain(value: &str) -> Option<String> {
    let name = value.split(';').next().unwrap_or("").trim().trim_matches('"').trim_end_matches('.');
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

/// The organisations of the CAs on a path: the leaf's issuer, and every CA certificate's
/// subject and issuer.
fn ca_organizations(path: &[PathCertificate]) -> Vec<String> {
    let mut out = Vec::new();
    for (index, certificate) in path.iter().enumerate() {
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(&certificate.der.0) else { continue };
        let mut names: Vec<&x509_parser::x509::X509Name<'_>> = vec![parsed.issuer()];
        if index > 0 {
            names.push(parsed.subject());
        }
        for name in names {
            out.extend(name.iter_organization().filter_map(|o| o.as_str().ok()).map(str::to_string));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Describes a CAA set for a message: `issue letsencrypt.org, iodef mailto:…`.
fn describe(records: &[CaaRecord]) -> String {
    records.iter().map(|r| format!("{} {}", r.tag, r.value)).collect::<Vec<_>>().join(", ")
}

/// Whether some CAA query of the climb failed without a set being found, so the absence of
/// CAA is not proven.
fn climb_failed(caa: &CaaEvidence) -> Option<String> {
    if caa.relevant_name.is_some() {
        return None;
    }
    caa.queried.iter().find_map(|q| match &q.outcome {
        DnsOutcome::Failed { reason } => Some(format!("CAA lookup of {} failed: {reason}", q.name)),
        _ => None,
    })
}

/// `domain.caa`: the host's name (or a parent up to the registrable domain) has CAA records
/// that restrict which CAs may issue for it.
pub(super) fn caa_present(host: &HostDnsEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let caa = &host.caa;
    let evidence = json!({"host": host.host, "caa": caa});
    if let Some(reason) = climb_failed(caa) {
        return result(CheckStatus::Indeterminate, reason.clone(), format!("CAAを確認できない: {reason}"), evidence);
    }
    let Some(name) = &caa.relevant_name else {
        return result(
            CheckStatus::Warn,
            format!(
                "no CAA record from {} up to {}: any CA may issue certificates for it",
                host.host, host.registrable_domain
            ),
            format!(
                "{}から{}までCAAレコードがなく、どの認証局でも証明書を発行できる",
                host.host, host.registrable_domain
            ),
            evidence,
        );
    };
    match permission(&caa.records, &[], false) {
        CaaPermission::UnknownCritical { tag } => {
            return result(
                CheckStatus::Warn,
                format!("CAA at {name} carries the unknown critical property {tag:?}: no CA may issue"),
                format!("{name}のCAAに未知の重要（critical）プロパティ{tag:?}があり、どの認証局も発行できない"),
                evidence,
            )
        }
        CaaPermission::Unrestricted => {
            return result(
                CheckStatus::Warn,
                format!(
                    "CAA at {name} ({}) has no issue property: any CA may still issue certificates",
                    describe(&caa.records)
                ),
                format!("{name}のCAA（{}）にissueがなく、どの認証局でも発行できる", describe(&caa.records)),
                evidence,
            )
        }
        CaaPermission::Permitted { .. } | CaaPermission::Forbidden { .. } => {}
    }
    result(
        CheckStatus::Pass,
        format!("CAA at {name}: {}", describe(&caa.records)),
        format!("{name}のCAA: {}", describe(&caa.records)),
        evidence,
    )
}

/// `cert.caa`: where CAA restricts issuance, every served certificate comes from a CA the
/// records permit.
pub(super) fn served_issuer_permitted(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    let Some(host) = endpoint.server_name.as_deref().and_then(|name| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        context.survey.and_then(|s| s.hosts.iter().find(|h| h.host == name))
    }) else {
        return result(
            CheckStatus::Info,
            "no CAA looked up for this endpoint (an IP address, or a name outside the domain survey)",
            "このエンドポイントのCAAは確認していない（IPアドレス、またはドメイン調査の対象外の名前）",
            json!(null),
        );
    };
    let caa = &host.caa;
    if let Some(reason) = climb_failed(caa) {
        return result(
            CheckStatus::Indeterminate,
            reason.clone(),
            format!("CAAを確認できない: {reason}"),
            json!({"host": host.host, "caa": caa}),
        );
    }
    let Some(relevant) = caa.relevant_name.clone() else {
        return result(
            CheckStatus::Info,
            format!("no CAA record for {}: any CA may issue (see domain.caa)", host.host),
            format!("{}にCAAレコードがなく、どの認証局でも発行できる（domain.caaを参照）", host.host),
            json!({"host": host.host, "caa": caa}),
        );
    };
    let table = CaaIdentifiers::embedded();
    each_chain(endpoint, context, |view| {
        if let Some(unreadable) = unreadable(view) {
            return unreadable;
        }
        let organizations = ca_organizations(&view.analysis.path);
        let identifiers = table.identifiers_for(&organizations);
        let wildcard = view.leaf().is_some_and(|leaf| {
            !leaf.facts.dns_names.iter().any(|n| n.eq_ignore_ascii_case(&host.host))
                && leaf.facts.dns_names.iter().any(|n| wildcard_covers(n, &host.host))
        });
        let evidence = json!({
            "host": host.host,
            "caa_at": relevant,
            "caa": caa.records,
            "leaf": leaf_summary(view),
            "ca_organizations": organizations,
            "ca_identifiers": identifiers,
            "wildcard": wildcard,
            "table": table.snapshot,
        });
        let records = describe(&caa.records);
        match permission(&caa.records, &identifiers, wildcard) {
            CaaPermission::Unrestricted => result(
                CheckStatus::Pass,
                format!("CAA at {relevant} ({records}) does not restrict issuance of this certificate"),
                format!("{relevant}のCAA（{records}）はこの証明書の発行を制限していない"),
                evidence,
            ),
            CaaPermission::Permitted { identifier } => result(
                CheckStatus::Pass,
                format!("the issuing CA ({identifier}) is permitted by CAA at {relevant}"),
                format!("発行した認証局（{identifier}）は{relevant}のCAAで許可されている"),
                evidence,
            ),
            CaaPermission::UnknownCritical { tag } => result(
                CheckStatus::Fail,
                format!("CAA at {relevant} carries the unknown critical property {tag:?}, which forbids every CA, yet a certificate is served"),
                format!("{relevant}のCAAに未知の重要プロパティ{tag:?}があり全認証局の発行を禁じているが、証明書が提示されている"),
                evidence,
            ),
            CaaPermission::Forbidden { .. } if identifiers.is_empty() => result(
                CheckStatus::Indeterminate,
                format!(
                    "CAA at {relevant} restricts issuance ({records}), but kensa's table does not know the CAA identifier of {}",
                    if organizations.is_empty() { "the issuing CA".to_string() } else { organizations.join(" / ") }
                ),
                format!(
                    "{relevant}のCAAは発行を制限している（{records}）が、{}のCAA識別子がkensaの表にない",
                    if organizations.is_empty() { "発行認証局".to_string() } else { organizations.join(" / ") }
                ),
                evidence,
            ),
            CaaPermission::Forbidden { permitted } => {
                let allowed = if permitted.is_empty() { "no CA".to_string() } else { permitted.join(", ") };
                result(
                    CheckStatus::Fail,
                    format!(
                        "the served certificate comes from {} ({}), but CAA at {relevant} permits {allowed}",
                        organizations.join(" / "),
                        identifiers.join(", ")
                    ),
                    format!(
                        "提示された証明書は{}（{}）の発行だが、{relevant}のCAAが許可するのは{allowed}",
                        organizations.join(" / "),
                        identifiers.join(", ")
                    ),
                    evidence,
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(flags: u8, tag: &str, value: &str) -> CaaRecord {
        CaaRecord { flags, tag: tag.to_string(), value: value.to_string() }
    }

    #[test]
    fn the_bundled_table_parses_and_knows_the_big_cas() {
        let table = CaaIdentifiers::parse(IDENTIFIERS_TEXT).expect("bundled table");
        assert_eq!(table.identifiers_for(&["Let's Encrypt".to_string()]), vec!["letsencrypt.org"]);
        assert!(table
            .identifiers_for(&["SECOM Trust Systems CO.,LTD.".to_string()])
            .contains(&"secomtrust.net".into()));
        assert!(table.identifiers_for(&["Nobody".to_string()]).is_empty());
    }

    #[test]
    fn issue_and_issuewild_follow_rfc_8659() {
        let le = vec!["letsencrypt.org".to_string()];
        let set =
            vec![record(0, "issue", "letsencrypt.org; validationmethods=dns-01"), record(0, "iodef", "mailto:x@y")];
        assert_eq!(permission(&set, &le, false), CaaPermission::Permitted { identifier: "letsencrypt.org".into() });
        // issuewild governs wildcards alone; issue still governs the rest.
        let set = vec![record(0, "issue", "letsencrypt.org"), record(0, "issuewild", "digicert.com")];
        assert!(matches!(permission(&set, &le, true), CaaPermission::Forbidden { .. }));
        assert!(matches!(permission(&set, &le, false), CaaPermission::Permitted { .. }));
        // Without issuewild, issue governs wildcards too.
        assert!(matches!(
            permission(&[record(0, "issue", "letsencrypt.org")], &le, true),
            CaaPermission::Permitted { .. }
        ));
        // issue ";" permits nobody; iodef alone restricts nothing.
        assert_eq!(permission(&[record(0, "issue", ";")], &le, false), CaaPermission::Forbidden { permitted: vec![] });
        assert_eq!(permission(&[record(0, "iodef", "mailto:a@b")], &le, false), CaaPermission::Unrestricted);
        // Case and a trailing dot do not matter.
        assert!(matches!(
            permission(&[record(0, "ISSUE", "LetsEncrypt.org.")], &le, false),
            CaaPermission::Permitted { .. }
        ));
        // An unknown critical property forbids everyone; a non-critical one is ignored.
        assert_eq!(
            permission(&[record(128, "tbs", "x"), record(0, "issue", "letsencrypt.org")], &le, false),
            CaaPermission::UnknownCritical { tag: "tbs".into() }
        );
        assert!(matches!(
            permission(&[record(0, "tbs", "x"), record(0, "issue", "letsencrypt.org")], &le, false),
            CaaPermission::Permitted { .. }
        ));
    }
}
