//! Evidence about the domains behind the targets, for item 2-1.xv (and CAA for 2-1.xii):
//! who registered each registrable domain and until when, how it is delegated, whether it
//! is signed, where each host's CNAME chain ends, and which CAs its CAA records permit.
//!
//! As with TLS evidence, the raw answers are kept next to what kensa understood of them,
//! so that an auditor can read the registry's own words and a later kensa can re-read them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::UnixSeconds;

/// Everything the domain survey measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DomainSurvey {
    /// The public suffix list snapshot used to find registrable domains (its date).
    pub public_suffix_list: String,
    /// The DNSSEC trust anchor the validation started from (a description: the built-in
    /// root KSKs, or the file given with `--dnssec-anchor`).
    pub trust_anchor: String,
    /// Where RDAP servers came from: the bootstrap's publication date, or the server forced
    /// with `--rdap-url`.
    #[serde(default)]
    pub rdap_servers: String,
    /// The WHOIS server forced with `--whois-server`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whois_server: Option<String>,
    /// One entry per registrable domain: the targets' own, then those CNAME chains lead to.
    pub domains: Vec<DomainEvidence>,
    /// One entry per target host name (IP literals have none).
    pub hosts: Vec<HostDnsEvidence>,
    /// Target hosts that were not surveyed, and why (special-use names, no registrable
    /// domain under the public suffix list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedHost>,
}

/// A target host the survey left out.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SkippedHost {
    pub host: String,
    pub reason: String,
}

/// Why a registrable domain is in the survey.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DomainRole {
    /// A target host lives under it.
    Target,
    /// Only a CNAME chain of a target host leads into it.
    CnameTarget,
}

/// One registrable domain (public suffix plus one label).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DomainEvidence {
    /// A-label form, lower case, without the trailing dot: `example.co.jp`.
    pub name: String,
    /// Its public suffix: `co.jp`.
    pub public_suffix: String,
    pub role: DomainRole,
    /// The hosts (targets, or CNAME owners for [`DomainRole::CnameTarget`]) that brought it in.
    pub hosts: Vec<String>,
    pub registration: RegistrationEvidence,
    /// Absent for [`DomainRole::CnameTarget`] domains, whose delegation is not examined.
    pub delegation: Option<DelegationEvidence>,
    pub dnssec: Option<DnssecEvidence>,
}

/// Every registration lookup made for a domain, in order; the last one that answered counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RegistrationEvidence {
    pub lookups: Vec<RegistrationLookup>,
}

impl RegistrationEvidence {
    /// The lookup whose answer counts: the last one where a registry said whether the
    /// domain is registered; else the last lookup made, whose failure (or unreadable
    /// answer, or referral) explains why nothing is known.
    pub fn decisive(&self) -> Option<&RegistrationLookup> {
        self.lookups
            .iter()
            .rev()
            .find(|l| matches!(l.answer, LookupAnswer::Found { .. } | LookupAnswer::NotFound { .. }))
            .or(self.lookups.last())
    }

    /// The parsed registration record, if a lookup found one.
    pub fn record(&self) -> Option<&RegistrationRecord> {
        match &self.decisive()?.answer {
            LookupAnswer::Found { record, .. } => Some(record),
            _ => None,
        }
    }
    /// Whole days from the registry's answer to the registration's expiry, rounded towards
    /// the past (negative once expired); `None` without a record or an expiry date. Counted
    /// from the answer, not the clock, so a stored scan is judged as it was measured.
    pub fn days_to_expiry(&self) -> Option<i64> {
        let (lookup, expires) = (self.decisive()?, self.record()?.expires?);
        Some(days_between(lookup.at, expires))
    }
}

/// Whole days from `from` to `to`, rounded towards the past.
pub fn days_between(from: UnixSeconds, to: UnixSeconds) -> i64 {
    (i64::try_from(to).unwrap_or(i64::MAX) - i64::try_from(from).unwrap_or(i64::MAX)).div_euclid(86_400)
}

/// Which protocol answered.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationSource {
    /// RDAP (RFC 9082/9083), JSON over HTTPS.
    Rdap,
    /// WHOIS (RFC 3912), text over TCP port 43.
    Whois,
}

/// One RDAP or WHOIS query and what came back.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RegistrationLookup {
    pub source: RegistrationSource,
    /// The server asked: an RDAP URL, or a WHOIS `host:port`.
    pub server: String,
    /// The exact query: the RDAP URL fetched, or the WHOIS query line (e.g. `example.jp/e`).
    pub query: String,
    pub at: UnixSeconds,
    pub elapsed_ms: u64,
    pub answer: LookupAnswer,
}

/// What a registration lookup returned.
// A scan holds a handful of these; boxing the record would only make them harder to build
// and match.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LookupAnswer {
    /// The registry knows the domain.
    Found { record: RegistrationRecord, raw: String },
    /// The registry says the domain is not registered (RDAP 404, WHOIS "No match").
    NotFound { raw: String },
    /// An answer came back that kensa could not read; the raw text is kept, nothing guessed.
    Unparsed { reason: String, raw: String },
    /// No usable answer: connection refused, timeout, rate limited, over the size cap.
    Failed { reason: String },
}

/// What a registry says about a domain. Every field is optional: registries differ, and
/// many redact.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RegistrationRecord {
    /// The domain as the registry spells it, lower case.
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrar_iana_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrant_organization: Option<String>,
    /// Registration (creation) date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<UnixSeconds>,
    /// Expiry date. For .jp organisational names, the date inside `[状態] Connected (…)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<UnixSeconds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<UnixSeconds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred: Option<UnixSeconds>,
    /// Status values as the registry wrote them: RDAP (`client transfer prohibited`),
    /// EPP codes from WHOIS (`clientTransferProhibited`), or JPRS `[状態]` (`Active`,
    /// `Connected (2025/09/30)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<String>,
    /// JPRS `[ロック状態]` values (`DomainTransferLocked`, `AgentChangeLocked`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<String>,
    /// Name servers, lower case, no trailing dot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// RDAP `secureDNS.delegationSigned`, or whether a .jp `[署名鍵]` is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_signed: Option<bool>,
    /// DS / signing-key data as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ds: Vec<String>,
    /// Fields the registry marked as redacted (RDAP `redacted`, RFC 9537).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

/// One DNS query's outcome, as far as the checks care.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DnsOutcome<T> {
    /// Records came back.
    Answer { records: T },
    /// The name exists but has no record of the type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// SERVFAIL, REFUSED, timeout, malformed reply… with the resolver's words.
    Failed { reason: String },
}

/// How a registrable domain is delegated.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DelegationEvidence {
    /// The zone that delegates the domain (`jp`, `com`), found by walking up the labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_zone: Option<String>,
    /// The NS set each parent-zone server returned for the domain (its referral).
    pub parent: Vec<NsAnswer>,
    /// The NS set each of the domain's own name servers returned, authoritatively.
    pub child: Vec<NsAnswer>,
    /// The domain's SOA, through the resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soa: Option<DnsOutcome<SoaRecord>>,
    /// Why the delegation could not be examined, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One name server's answer to `NS <domain>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NsAnswer {
    /// The server's host name (`ns1.example.net`).
    pub server: String,
    pub address: IpAddr,
    /// Name server names, lower case, no trailing dot, sorted.
    pub answer: DnsOutcome<Vec<String>>,
}

/// An SOA record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SoaRecord {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
}

/// The DNSSEC state of a registrable domain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DnssecEvidence {
    pub status: DnssecStatus,
    /// DS records at the parent, as presentation text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ds: Vec<String>,
    /// DNSKEY records of the zone, as `flags protocol algorithm key-tag`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dnskey: Vec<String>,
    /// What the validator said, in its words.
    pub detail: String,
}

/// DNSSEC validation result for a zone.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DnssecStatus {
    /// Signed, and the signatures validate from the trust anchor down.
    Secure,
    /// Provably unsigned (no DS at the parent).
    Insecure,
    /// Signed, but validation fails: a broken signature, expired RRSIG, DS without a key…
    Bogus,
    /// Could not be decided (no answer, timeout).
    Indeterminate,
}

/// What DNS says about one target host.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HostDnsEvidence {
    /// A-label, lower case, no trailing dot.
    pub host: String,
    /// The registrable domain the host lives under.
    pub registrable_domain: String,
    /// Every CNAME from the host onwards, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cname_chain: Vec<CnameHop>,
    /// Where the chain ends.
    pub terminal: HostTerminal,
    pub caa: CaaEvidence,
}

/// One CNAME record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CnameHop {
    pub owner: String,
    pub target: String,
}

/// The end of a host's CNAME chain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostTerminal {
    /// The last name has addresses.
    Addresses { name: String, addresses: Vec<IpAddr> },
    /// The last name exists but has no address.
    NoData { name: String },
    /// The last name does not exist: a CNAME into nothing is dangling.
    NxDomain { name: String },
    /// The chain loops back on itself.
    Loop { name: String },
    /// The chain is longer than kensa follows.
    TooLong { length: usize },
    /// The lookup failed.
    Failed { name: String, reason: String },
}

/// The CAA records that govern a host (RFC 8659: the first non-empty set climbing from the
/// host towards its registrable domain).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CaaEvidence {
    /// The name whose CAA set is relevant; `None` when no name up to the registrable domain
    /// has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant_name: Option<String>,
    pub records: Vec<CaaRecord>,
    /// Each name asked, in order, and what came back (`records` when found).
    pub queried: Vec<CaaQuery>,
}

/// One CAA lookup during the climb.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CaaQuery {
    pub name: String,
    pub outcome: DnsOutcome<usize>,
}

/// A CAA record (RFC 8659).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaaRecord {
    /// Bit 128 is the critical flag.
    pub flags: u8,
    /// `issue`, `issuewild`, `iodef`, or another tag as given.
    pub tag: String,
    /// The value as presentation text (`letsencrypt.org; validationmethods=dns-01`).
    pub value: String,
}

/// `seconds` as the calendar day a registry means: JPRS writes .jp dates in Japan time, so
/// a .jp date is shown as the JST day (`2029-11-22 (JST)`); other registries' as the UTC day.
pub fn registry_day(seconds: UnixSeconds, domain: &str) -> String {
    let japan = domain.trim_end_matches('.').to_ascii_lowercase().ends_with(".jp");
    let offset = if japan { 9 * 3600 } else { 0 };
    let day = i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .zip(time::UtcOffset::from_whole_seconds(offset).ok())
        .map(|(at, offset)| at.to_offset(offset).date())
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|| format!("@{seconds}"));
    if japan {
        format!("{day} (JST)")
    } else {
        day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_days_are_the_registrys_calendar_days() {
        // 2029-11-22 00:00 JST is 2029-11-21 15:00 UTC.
        assert_eq!(registry_day(1_889_967_600, "clinic-example.co.jp"), "2029-11-22 (JST)");
        assert_eq!(registry_day(1_889_967_600, "vendor-example.com"), "2029-11-21");
    }
}
