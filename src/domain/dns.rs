//! DNS evidence for the domain survey: delegation (parent referral against the domain's own
//! name servers), DNSSEC validation from a trust anchor down, CNAME chains and CAA.
//!
//! Recursive questions go to the resolver kensa uses for everything else (the system's, or
//! `--resolver`); delegation questions go straight to the authoritative servers, without
//! recursion, because a recursive resolver hides exactly the disagreements looked for here.
//! DNSSEC is decided by hickory-resolver's own validator (verified against signed
//! hickory-server zones in `tests/dns.rs`), started from the root KSKs or `--dnssec-anchor`.
//!
//! Every question has a deadline and every failure becomes evidence; nothing here panics on
//! what a server sends.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS};
use hickory_resolver::proto::dnssec::{Algorithm, DigestType, Proof, PublicKey, PublicKeyBuf, TrustAnchors};
use hickory_resolver::proto::op::{Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::TokioResolver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

use crate::evidence::domain::{
    CaaEvidence, CaaQuery, CaaRecord, CnameHop, DelegationEvidence, DnsOutcome, DnssecEvidence, DnssecStatus,
    HostDnsEvidence, HostTerminal, NsAnswer, SoaRecord,
};
use crate::resolve::ResolverSettings;

/// At most this many servers are asked on each side of a delegation.
const MAX_SERVERS: usize = 8;
/// CNAME hops followed before the chain is called too long.
const MAX_CNAME_HOPS: usize = 10;
/// The largest trust anchor file read.
const MAX_ANCHOR_BYTES: u64 = 64 * 1024;

/// How the DNS survey asks its questions.
#[derive(Clone, Debug)]
pub struct DnsSettings {
    /// Recursive resolver (system or `--resolver`), with the per-query timeout and family.
    pub resolver: ResolverSettings,
    /// Port for querying authoritative servers directly (53; tests use the port of their servers).
    pub authoritative_port: u16,
    /// Where DNSSEC validation starts.
    pub trust_anchor: TrustAnchor,
}

/// Where DNSSEC validation starts.
#[derive(Clone, Debug)]
pub enum TrustAnchor {
    /// The IANA root KSKs built into hickory (2017's 20326 and 2024's 38696).
    Root,
    /// DS or DNSKEY records read from a file (`--dnssec-anchor FILE`, zone-file presentation format).
    Custom {
        /// Where the records came from, for the report.
        description: String,
        /// DNSKEY anchors: (owner, key).
        dnskeys: Vec<(Name, DNSKEY)>,
        /// DS anchors: (owner, digest); the owner's DNSKEYs matching one are trusted.
        ds: Vec<(Name, DS)>,
    },
}

impl TrustAnchor {
    /// Reads anchors from a zone-file-format file of DS and/or DNSKEY records.
    pub fn from_file(path: &Path) -> Result<TrustAnchor, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read trust anchor {shown}: {e}"))?;
        if !meta.is_file() || meta.len() > MAX_ANCHOR_BYTES {
            return Err(format!("trust anchor {shown}: not a regular file of at most {MAX_ANCHOR_BYTES} bytes"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read trust anchor {shown}: {e}"))?;
        Self::parse(&text, &shown.to_string())
    }

    /// Parses DS and/or DNSKEY records in zone-file presentation format (absolute owner names;
    /// TTL and class optional; comments and parentheses as in zone files). Other record types
    /// are ignored; no anchor at all is an error.
    pub fn parse(text: &str, description: &str) -> Result<TrustAnchor, String> {
        let mut dnskeys = Vec::new();
        let mut ds = Vec::new();
        for (line_no, entry) in anchor_entries(text) {
            let fail = |why: &str| format!("trust anchor {description}, line {line_no}: {why}");
            let mut tokens = entry.iter().map(String::as_str);
            let owner = tokens.next().ok_or_else(|| fail("empty record"))?;
            if owner.starts_with('$') {
                continue;
            }
            let owner = Name::from_ascii(owner).map_err(|e| fail(&format!("bad owner name: {e}")))?;
            if !owner.is_fqdn() {
                return Err(fail("the owner name must be absolute (end with a dot)"));
            }
            // Skip the optional TTL and class, in either order.
            let mut rtype = tokens.next().ok_or_else(|| fail("no record type"))?;
            for _ in 0..2 {
                if rtype.chars().all(|c| c.is_ascii_digit()) || rtype.eq_ignore_ascii_case("IN") {
                    rtype = tokens.next().ok_or_else(|| fail("no record type"))?;
                }
            }
            let rest: Vec<&str> = tokens.collect();
            let number = |i: usize, what: &str| -> Result<u16, String> {
                rest.get(i).and_then(|t| t.parse::<u16>().ok()).ok_or_else(|| fail(&format!("bad {what}")))
            };
            let byte = |i: usize, what: &str| -> Result<u8, String> {
                rest.get(i).and_then(|t| t.parse::<u8>().ok()).ok_or_else(|| fail(&format!("bad {what}")))
            };
            if rtype.eq_ignore_ascii_case("DS") {
                let (tag, algorithm, digest_type) =
                    (number(0, "key tag")?, byte(1, "algorithm")?, byte(2, "digest type")?);
                let digest = hex::decode(rest.get(3..).unwrap_or_default().concat())
                    .map_err(|_| fail("the digest is not hexadecimal"))?;
                if digest.is_empty() {
                    return Err(fail("no digest"));
                }
                ds.push((owner, DS::new(tag, Algorithm::from_u8(algorithm), DigestType::from(digest_type), digest)));
            } else if rtype.eq_ignore_ascii_case("DNSKEY") {
                let (flags, protocol, algorithm) = (number(0, "flags")?, byte(1, "protocol")?, byte(2, "algorithm")?);
                if protocol != 3 {
                    return Err(fail("the DNSKEY protocol must be 3"));
                }
                use base64::Engine;
                let key = base64::engine::general_purpose::STANDARD
                    .decode(rest.get(3..).unwrap_or_default().concat())
                    .map_err(|_| fail("the public key is not base64"))?;
                if key.is_empty() {
                    return Err(fail("no public key"));
                }
                let key = DNSKEY::with_flags(flags, PublicKeyBuf::new(key, Algorithm::from_u8(algorithm)));
                dnskeys.push((owner, key));
            }
        }
        if dnskeys.is_empty() && ds.is_empty() {
            return Err(format!("trust anchor {description}: no DS or DNSKEY record"));
        }
        Ok(TrustAnchor::Custom { description: description.to_string(), dnskeys, ds })
    }

    /// Whether validation of `domain` can start from this anchor: the anchor is for the
    /// domain itself or one of its ancestors. Outside every anchor, DNSSEC says nothing
    /// (RFC 4035 §4.3: neither secure nor bogus).
    pub fn covers(&self, domain: &str) -> bool {
        match self {
            TrustAnchor::Root => true,
            TrustAnchor::Custom { dnskeys, ds, .. } => {
                let domain = normalize(domain);
                dnskeys.iter().map(|(n, _)| n).chain(ds.iter().map(|(n, _)| n)).any(|owner| {
                    let owner = zone_text(owner);
                    owner == "." || domain == owner || domain.ends_with(&format!(".{owner}"))
                })
            }
        }
    }

    /// A one-line description for the report.
    pub fn describe(&self) -> String {
        match self {
            TrustAnchor::Root => "IANA root KSKs (built in: 20326, 38696)".to_string(),
            TrustAnchor::Custom { description, dnskeys, ds } => {
                let mut owners: BTreeSet<String> = dnskeys.iter().map(|(n, _)| zone_text(n)).collect();
                owners.extend(ds.iter().map(|(n, _)| zone_text(n)));
                let owners: Vec<String> = owners.into_iter().collect();
                format!("{description}: {} DNSKEY and {} DS for {}", dnskeys.len(), ds.len(), owners.join(", "))
            }
        }
    }
}

/// The validating resolver, built on first use (DS anchors need the keys they digest).
struct Validator {
    resolver: TokioResolver,
    /// Said about the anchor while building, e.g. that no key matched a DS anchor.
    note: Option<String>,
}

/// Asks the DNS questions of the domain survey.
pub struct DnsSurveyor {
    settings: DnsSettings,
    resolver: TokioResolver,
    validator: OnceCell<Result<Validator, String>>,
}

/// A resolver answer, reduced to what the survey needs.
enum Answer {
    Records(Vec<Record>),
    NoData,
    NxDomain,
    Failed(String),
}

impl DnsSurveyor {
    /// Builds the surveyor; fails only if the resolver cannot be configured.
    pub fn new(settings: DnsSettings) -> Result<DnsSurveyor, String> {
        let resolver = build_resolver(&settings.resolver, None)?;
        Ok(DnsSurveyor { settings, resolver, validator: OnceCell::new() })
    }

    fn timeout(&self) -> Duration {
        self.settings.resolver.timeout
    }

    async fn ask_with(&self, resolver: &TokioResolver, name: &str, rtype: RecordType) -> Result<Vec<Record>, NetError> {
        // The resolver has its own per-query timeout; this bounds its retries and fallbacks.
        let deadline = self.timeout() * 3;
        match tokio::time::timeout(deadline, resolver.lookup(fqdn_text(name), rtype)).await {
            Err(_) => Err(NetError::Msg(format!("timed out after {} ms", deadline.as_millis()))),
            Ok(Err(e)) => Err(e),
            Ok(Ok(lookup)) => Ok(lookup.answers().to_vec()),
        }
    }

    async fn ask(&self, name: &str, rtype: RecordType) -> Answer {
        match self.ask_with(&self.resolver, name, rtype).await {
            Ok(records) => {
                let records: Vec<Record> = records.into_iter().filter(|r| r.record_type() == rtype).collect();
                if records.is_empty() {
                    Answer::NoData
                } else {
                    Answer::Records(records)
                }
            }
            Err(e) => classify(&e),
        }
    }

    async fn addresses(&self, name: &str) -> Vec<IpAddr> {
        let family = self.settings.resolver.family;
        let (a, aaaa) = tokio::join!(self.ask(name, RecordType::A), self.ask(name, RecordType::AAAA));
        let mut out = BTreeSet::new();
        for answer in [a, aaaa] {
            if let Answer::Records(records) = answer {
                out.extend(records.iter().filter_map(|r| r.data.ip_addr()));
            }
        }
        out.into_iter().filter(|ip| family.admits(ip)).collect()
    }

    /// How `domain` is delegated: its parent zone's referral from each parent server, the NS
    /// set each of its own servers gives, and its SOA.
    pub async fn delegation(&self, domain: &str) -> DelegationEvidence {
        let domain = normalize(domain);
        let mut evidence = DelegationEvidence::default();
        let Ok(name) = Name::from_ascii(fqdn_text(&domain)) else {
            evidence.error = Some(format!("{domain:?} is not a domain name"));
            return evidence;
        };
        let soa_fn = async {
            match self.ask(&domain, RecordType::SOA).await {
                Answer::Records(records) => match records.iter().find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(SoaRecord {
                        mname: zone_text(&soa.mname),
                        rname: zone_text(&soa.rname),
                        serial: soa.serial,
                    }),
                    _ => None,
                }) {
                    Some(records) => DnsOutcome::Answer { records },
                    None => DnsOutcome::NoData,
                },
                other => outcome_without_records(other),
            }
        };
        let (soa, (parent, failures)) = tokio::join!(soa_fn, self.parent_zone(&name));
        evidence.soa = Some(soa);
        let Some((parent_zone, parent_ns)) = parent else {
            evidence.error = Some(match failures.is_empty() {
                true => format!("no parent zone of {domain} has name servers"),
                false => format!("could not find the parent zone of {domain}: {}", failures.join("; ")),
            });
            return evidence;
        };
        evidence.parent_zone = Some(parent_zone.clone());

        let mut unresolved = Vec::new();
        let parent_servers = self.servers(&parent_ns, &BTreeMap::new(), &mut unresolved).await;
        if parent_servers.is_empty() {
            evidence.error = Some(format!("no address for any name server of the parent zone {parent_zone}"));
            return evidence;
        }
        let asked =
            join_all(parent_servers.iter().map(|(server, ip)| self.ask_server(server, *ip, &name, false))).await;
        let mut child_names: BTreeSet<String> = BTreeSet::new();
        let mut glue: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
        for (answer, reply_glue) in asked {
            if let DnsOutcome::Answer { records } = &answer.answer {
                child_names.extend(records.iter().cloned());
            }
            for (n, ips) in reply_glue {
                glue.entry(n).or_default().extend(ips);
            }
            evidence.parent.push(answer);
        }
        if let Answer::Records(records) = self.ask(&domain, RecordType::NS).await {
            child_names.extend(ns_names(records.iter().filter(|r| r.name == name)));
        }
        let child_names: Vec<String> = child_names.into_iter().collect();
        let child_servers = self.servers(&child_names, &glue, &mut unresolved).await;
        let asked = join_all(child_servers.iter().map(|(server, ip)| self.ask_server(server, *ip, &name, true))).await;
        evidence.child = asked.into_iter().map(|(answer, _)| answer).collect();
        evidence.parent.sort_by(|a, b| (&a.server, a.address).cmp(&(&b.server, b.address)));
        evidence.child.sort_by(|a, b| (&a.server, a.address).cmp(&(&b.server, b.address)));
        if child_names.is_empty() {
            evidence.error =
                Some(format!("no name server of {domain} was found at the parent or through the resolver"));
        } else if !unresolved.is_empty() {
            evidence.error = Some(format!("no address for name server(s): {}", unresolved.join(", ")));
        }
        evidence
    }

    /// The nearest ancestor of `name` with its own NS set, and its NS names. A failed
    /// question ends the walk: the cut it might have shown is unknown.
    async fn parent_zone(&self, name: &Name) -> (Option<(String, Vec<String>)>, Vec<String>) {
        let mut failures = Vec::new();
        let mut ancestor = name.base_name();
        loop {
            let text = zone_text(&ancestor);
            match self.ask(&text, RecordType::NS).await {
                Answer::Records(records) => {
                    let names = ns_names(records.iter().filter(|r| r.name == ancestor));
                    if !names.is_empty() {
                        return (Some((text, names)), failures);
                    }
                }
                Answer::Failed(reason) => {
                    failures.push(format!("NS {text}: {reason}"));
                    return (None, failures);
                }
                Answer::NoData | Answer::NxDomain => {}
            }
            if ancestor.is_root() {
                return (None, failures);
            }
            ancestor = ancestor.base_name();
        }
    }

    /// Up to [`MAX_SERVERS`] (name, address) pairs for `names`, glue first, then the resolver.
    async fn servers(
        &self,
        names: &[String],
        glue: &BTreeMap<String, BTreeSet<IpAddr>>,
        unresolved: &mut Vec<String>,
    ) -> Vec<(String, IpAddr)> {
        let family = self.settings.resolver.family;
        let looked_up = join_all(names.iter().take(MAX_SERVERS).map(|n| self.addresses(n))).await;
        let mut out = Vec::new();
        for (name, resolved) in names.iter().zip(looked_up) {
            let mut ips: BTreeSet<IpAddr> =
                glue.get(name).map(|g| g.iter().copied().filter(|ip| family.admits(ip)).collect()).unwrap_or_default();
            ips.extend(resolved);
            if ips.is_empty() {
                unresolved.push(name.clone());
            }
            out.extend(ips.into_iter().map(|ip| (name.clone(), ip)));
        }
        out.truncate(MAX_SERVERS);
        out
    }

    /// Asks one server `NS name` without recursion. Returns its answer and any glue it gave.
    async fn ask_server(
        &self,
        server: &str,
        ip: IpAddr,
        name: &Name,
        must_be_authoritative: bool,
    ) -> (NsAnswer, BTreeMap<String, BTreeSet<IpAddr>>) {
        let addr = SocketAddr::new(ip, self.settings.authoritative_port);
        let mut glue: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
        let answer = match direct_query(addr, name, RecordType::NS, self.timeout()).await {
            Err(reason) => DnsOutcome::Failed { reason },
            Ok(reply) => {
                for record in &reply.additionals {
                    if let Some(ip) = record.data.ip_addr() {
                        glue.entry(zone_text(&record.name)).or_default().insert(ip);
                    }
                }
                let in_answer = ns_names(reply.answers.iter().filter(|r| &r.name == name));
                let in_authority = ns_names(reply.authorities.iter().filter(|r| &r.name == name));
                let code = reply.metadata.response_code;
                if !in_answer.is_empty() {
                    DnsOutcome::Answer { records: in_answer }
                } else if !in_authority.is_empty() && !must_be_authoritative {
                    DnsOutcome::Answer { records: in_authority }
                } else if !in_authority.is_empty() {
                    DnsOutcome::Failed { reason: format!("not authoritative: referred to {}", in_authority.join(", ")) }
                } else if code == ResponseCode::NXDomain {
                    DnsOutcome::NxDomain
                } else if code == ResponseCode::NoError {
                    if must_be_authoritative && !reply.metadata.authoritative {
                        DnsOutcome::Failed { reason: "not authoritative (no NS set, AA bit clear)".to_string() }
                    } else {
                        DnsOutcome::NoData
                    }
                } else {
                    DnsOutcome::Failed { reason: code.to_string() }
                }
            }
        };
        (NsAnswer { server: server.to_string(), address: ip, answer }, glue)
    }

    async fn validator(&self) -> &Result<Validator, String> {
        self.validator
            .get_or_init(|| async {
                let (anchors, note) = match &self.settings.trust_anchor {
                    TrustAnchor::Root => (TrustAnchors::default(), None),
                    TrustAnchor::Custom { dnskeys, ds, .. } => {
                        let mut anchors = TrustAnchors::empty();
                        for (owner, key) in dnskeys {
                            anchors.insert_with_name(key.public_key(), owner.into());
                        }
                        let mut note = None;
                        let mut owners: Vec<&Name> = ds.iter().map(|(n, _)| n).collect();
                        owners.dedup();
                        for owner in owners {
                            let keys = match self.ask(&zone_text(owner), RecordType::DNSKEY).await {
                                Answer::Records(records) => records,
                                _ => Vec::new(),
                            };
                            let mut matched = 0;
                            for key in keys.iter().filter_map(|r| match &r.data {
                                RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k),
                                _ => None,
                            }) {
                                let covered =
                                    ds.iter().any(|(n, d)| n == owner && d.covers(owner, key).unwrap_or(false));
                                if covered {
                                    anchors.insert_with_name(key.public_key(), owner.into());
                                    matched += 1;
                                }
                            }
                            if matched == 0 {
                                note = Some(format!("no DNSKEY of {} matches the DS trust anchor", zone_text(owner)));
                            }
                        }
                        (anchors, note)
                    }
                };
                build_resolver(&self.settings.resolver, Some(anchors)).map(|resolver| Validator { resolver, note })
            })
            .await
    }

    /// Whether `domain` validates from the trust anchor down, with its DS and DNSKEY sets.
    pub async fn dnssec(&self, domain: &str) -> DnssecEvidence {
        let domain = normalize(domain);
        // The listing and the validation are independent questions: ask them together.
        let listing = async { tokio::join!(self.ask(&domain, RecordType::DS), self.ask(&domain, RecordType::DNSKEY)) };
        let verdict = async {
            match self.validator().await {
                Ok(v) => {
                    let (status, detail) = self.validate(&v.resolver, &domain).await;
                    (status, detail, v.note.clone())
                }
                Err(e) => (DnssecStatus::Indeterminate, format!("no validating resolver: {e}"), None),
            }
        };
        let ((ds_answer, key_answer), (status, mut detail, note)) = tokio::join!(listing, verdict);
        let ds: Vec<DS> = match &ds_answer {
            Answer::Records(records) => records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let keys: Vec<DNSKEY> = match &key_answer {
            Answer::Records(records) => records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut evidence = DnssecEvidence {
            status: DnssecStatus::Indeterminate,
            ds: ds.iter().map(|d| d.to_string()).collect(),
            dnskey: keys.iter().map(describe_key).collect(),
            detail: String::new(),
        };
        evidence.ds.sort();
        evidence.dnskey.sort();
        if status == DnssecStatus::Bogus {
            if let Ok(name) = Name::from_ascii(fqdn_text(&domain)) {
                if !ds.is_empty()
                    && !keys.is_empty()
                    && !ds.iter().any(|d| keys.iter().any(|k| d.covers(&name, k).unwrap_or(false)))
                {
                    detail.push_str("; no DNSKEY of the zone matches a DS at the parent");
                }
            }
        }
        if status != DnssecStatus::Secure {
            if let Some(note) = &note {
                detail.push_str(&format!("; {note}"));
            }
        }
        evidence.status = status;
        evidence.detail = detail;
        evidence
    }

    async fn validate(&self, resolver: &TokioResolver, domain: &str) -> (DnssecStatus, String) {
        let anchor = self.settings.trust_anchor.describe();
        if !self.settings.trust_anchor.covers(domain) {
            return (DnssecStatus::Indeterminate, format!("no trust anchor covers {domain} ({anchor})"));
        }
        let proof = match self.ask_with(resolver, domain, RecordType::SOA).await {
            Ok(records) => {
                let proofs: BTreeSet<ProofOrder> = records
                    .iter()
                    .filter(|r| r.record_type() == RecordType::SOA)
                    .map(|r| ProofOrder(r.proof))
                    .collect();
                match proofs.into_iter().next() {
                    Some(p) => p.0,
                    None => return (DnssecStatus::Indeterminate, format!("no SOA for {domain} came back")),
                }
            }
            Err(NetError::Dns(DnsError::DnssecBogus)) => {
                return (
                    DnssecStatus::Bogus,
                    format!("the SOA of {domain} failed validation from the trust anchor ({anchor})"),
                )
            }
            Err(e) => return (DnssecStatus::Indeterminate, format!("the SOA of {domain} could not be validated: {e}")),
        };
        match proof {
            Proof::Secure => {
                (DnssecStatus::Secure, format!("the SOA of {domain} validates from the trust anchor ({anchor})"))
            }
            Proof::Bogus => {
                (DnssecStatus::Bogus, format!("the SOA of {domain} is bogus under the trust anchor ({anchor})"))
            }
            Proof::Indeterminate => {
                (DnssecStatus::Indeterminate, format!("the validator could not decide on the SOA of {domain}"))
            }
            Proof::Insecure => self.confirm_insecure(resolver, domain).await,
        }
    }

    /// An insecure SOA is only called Insecure when the parent shows, validated, that there
    /// is no DS: a missing answer is not proof.
    async fn confirm_insecure(&self, resolver: &TokioResolver, domain: &str) -> (DnssecStatus, String) {
        let Ok(name) = Name::from_ascii(fqdn_text(domain)) else {
            return (DnssecStatus::Indeterminate, format!("{domain:?} is not a domain name"));
        };
        match self.ask_with(resolver, domain, RecordType::DS).await {
            Ok(records) if records.iter().any(|r| r.record_type() == RecordType::DS) => (
                DnssecStatus::Indeterminate,
                format!("the SOA of {domain} validated as insecure, yet the parent has DS records for it"),
            ),
            Ok(_) => (DnssecStatus::Indeterminate, format!("the DS query for {domain} gave an empty answer")),
            Err(NetError::Dns(DnsError::NoRecordsFound(none))) if none.response_code == ResponseCode::NoError => {
                let authorities: Vec<Record> = none.authorities.as_deref().map(<[Record]>::to_vec).unwrap_or_default();
                let signed_denial = authorities.iter().any(|r| {
                    r.proof == Proof::Secure
                        && r.name == name
                        && matches!(&r.data, RData::DNSSEC(DNSSECRData::NSEC(nsec))
                            if nsec.type_set().contains(RecordType::NS) && !nsec.type_set().contains(RecordType::DS))
                });
                let secure_nodata = authorities.iter().any(|r| r.proof == Proof::Secure);
                let insecure_above = authorities.iter().any(|r| r.proof == Proof::Insecure)
                    || none.soa.as_ref().is_some_and(|s| s.proof == Proof::Insecure);
                if signed_denial {
                    (
                        DnssecStatus::Insecure,
                        format!("not signed: the parent zone proves with a signed NSEC record that there is no DS for {domain}"),
                    )
                } else if secure_nodata {
                    (
                        DnssecStatus::Insecure,
                        format!("not signed: the parent zone's signed answer has no DS for {domain}"),
                    )
                } else if insecure_above {
                    (DnssecStatus::Insecure, format!("not signed: the chain above {domain} is already unsigned"))
                } else {
                    (
                        DnssecStatus::Indeterminate,
                        format!("the SOA of {domain} is unsigned, but the absence of a DS could not be proven"),
                    )
                }
            }
            Err(NetError::Dns(DnsError::Nsec { proof, .. })) if proof.is_secure() || proof.is_insecure() => {
                (DnssecStatus::Insecure, format!("not signed: the parent zone proves there is no DS for {domain}"))
            }
            Err(NetError::Dns(DnsError::DnssecBogus)) => {
                (DnssecStatus::Bogus, format!("the parent's answer about a DS for {domain} failed validation"))
            }
            Err(e) => (
                DnssecStatus::Indeterminate,
                format!("the SOA of {domain} is unsigned, but the DS query at the parent failed: {e}"),
            ),
        }
    }

    /// Where `host`'s CNAME chain ends, and the CAA set that governs it.
    pub async fn host(&self, host: &str, registrable_domain: &str) -> HostDnsEvidence {
        let host = normalize(host);
        let registrable_domain = normalize(registrable_domain);
        let ((cname_chain, terminal), caa) = tokio::join!(self.chain(&host), self.caa(&host, &registrable_domain));
        HostDnsEvidence { host, registrable_domain, cname_chain, terminal, caa }
    }

    async fn chain(&self, host: &str) -> (Vec<CnameHop>, HostTerminal) {
        let mut hops: Vec<CnameHop> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::from([host.to_string()]);
        let mut name = host.to_string();
        loop {
            match self.ask(&name, RecordType::CNAME).await {
                Answer::Records(records) => {
                    let target = records.iter().find_map(|r| match &r.data {
                        RData::CNAME(c) => Some(zone_text(&c.0)),
                        _ => None,
                    });
                    let Some(target) = target else {
                        return (hops, HostTerminal::Failed { name, reason: "CNAME answer without a target".into() });
                    };
                    hops.push(CnameHop { owner: name.clone(), target: target.clone() });
                    if !seen.insert(target.clone()) {
                        return (hops, HostTerminal::Loop { name: target });
                    }
                    if hops.len() > MAX_CNAME_HOPS {
                        let length = hops.len();
                        return (hops, HostTerminal::TooLong { length });
                    }
                    name = target;
                }
                Answer::NxDomain => return (hops, HostTerminal::NxDomain { name }),
                Answer::Failed(reason) => return (hops, HostTerminal::Failed { name, reason }),
                Answer::NoData => return (hops.clone(), self.terminal(name).await),
            }
        }
    }

    async fn terminal(&self, name: String) -> HostTerminal {
        let (a, aaaa) = tokio::join!(self.ask(&name, RecordType::A), self.ask(&name, RecordType::AAAA));
        let mut addresses = BTreeSet::new();
        let mut failures = Vec::new();
        let mut nx = false;
        for answer in [a, aaaa] {
            match answer {
                Answer::Records(records) => addresses.extend(records.iter().filter_map(|r| r.data.ip_addr())),
                Answer::Failed(reason) => failures.push(reason),
                Answer::NxDomain => nx = true,
                Answer::NoData => {}
            }
        }
        if !addresses.is_empty() {
            HostTerminal::Addresses { name, addresses: addresses.into_iter().collect() }
        } else if failures.len() == 2 {
            HostTerminal::Failed { name, reason: failures.join("; ") }
        } else if nx {
            HostTerminal::NxDomain { name }
        } else {
            HostTerminal::NoData { name }
        }
    }

    /// RFC 8659 §3: climb from the host to the registrable domain; the first non-empty CAA
    /// set is the relevant one. A failed query stops the climb, since what it hid is unknown.
    async fn caa(&self, host: &str, registrable_domain: &str) -> CaaEvidence {
        let mut evidence = CaaEvidence::default();
        for name in climb(host, registrable_domain) {
            let answer = self.ask(&name, RecordType::CAA).await;
            let (outcome, stop) = match answer {
                Answer::Records(records) => {
                    let caa: Vec<CaaRecord> = records
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::CAA(c) => {
                                Some(CaaRecord { flags: c.flags(), tag: c.tag.clone(), value: presentation(&c.value) })
                            }
                            _ => None,
                        })
                        .collect();
                    let count = caa.len();
                    evidence.relevant_name = Some(name.clone());
                    evidence.records = caa;
                    (DnsOutcome::Answer { records: count }, true)
                }
                Answer::NoData => (DnsOutcome::NoData, false),
                Answer::NxDomain => (DnsOutcome::NxDomain, false),
                Answer::Failed(reason) => (DnsOutcome::Failed { reason }, true),
            };
            evidence.queried.push(CaaQuery { name, outcome });
            if stop {
                break;
            }
        }
        evidence
    }
}

/// Proofs ordered worst first, so that one bad record in a set decides for the set.
#[derive(PartialEq, Eq)]
struct ProofOrder(Proof);

impl ProofOrder {
    fn rank(&self) -> u8 {
        match self.0 {
            Proof::Bogus => 0,
            Proof::Indeterminate => 1,
            Proof::Insecure => 2,
            Proof::Secure => 3,
        }
    }
}

impl PartialOrd for ProofOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProofOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// Zone-file records as token lists with the line each starts on: comments dropped,
/// parenthesised continuations joined, quotes not needed for DS and DNSKEY.
fn anchor_entries(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut entries = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or_default();
        if depth == 0 {
            start = i + 1;
        }
        let spaced = line.replace('(', " ( ").replace(')', " ) ");
        for token in spaced.split_whitespace() {
            match token {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                t => current.push(t.to_string()),
            }
        }
        if depth == 0 && !current.is_empty() {
            entries.push((start, std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        entries.push((start, current));
    }
    entries
}

/// `host`, then each parent label up to and including `registrable_domain` (only `host` when
/// it is not under that domain).
fn climb(host: &str, registrable_domain: &str) -> Vec<String> {
    let mut names = vec![host.to_string()];
    if host == registrable_domain || !host.ends_with(&format!(".{registrable_domain}")) {
        return names;
    }
    let mut current = host;
    while let Some((_, rest)) = current.split_once('.') {
        names.push(rest.to_string());
        if rest == registrable_domain {
            break;
        }
        current = rest;
    }
    names
}

/// A CAA value as presentation text: printable ASCII kept, everything else `\DDD`.
fn presentation(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(*b as char);
            }
            0x20..=0x7e => out.push(*b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out
}

fn describe_key(key: &DNSKEY) -> String {
    let tag = key.calculate_key_tag().map(|t| t.to_string()).unwrap_or_else(|_| "?".to_string());
    format!("{} 3 {} tag={tag}", key.flags(), u8::from(key.public_key().algorithm()))
}

fn classify(e: &NetError) -> Answer {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(none)) => match none.response_code {
            ResponseCode::NXDomain => Answer::NxDomain,
            ResponseCode::NoError => Answer::NoData,
            code => Answer::Failed(code.to_string()),
        },
        NetError::Dns(DnsError::ResponseCode(code)) => Answer::Failed(code.to_string()),
        other => Answer::Failed(other.to_string()),
    }
}

fn outcome_without_records<T>(answer: Answer) -> DnsOutcome<T> {
    match answer {
        Answer::NoData | Answer::Records(_) => DnsOutcome::NoData,
        Answer::NxDomain => DnsOutcome::NxDomain,
        Answer::Failed(reason) => DnsOutcome::Failed { reason },
    }
}

fn ns_names<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<String> {
    let set: BTreeSet<String> = records
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(zone_text(&ns.0)),
            _ => None,
        })
        .collect();
    set.into_iter().collect()
}

/// Lower case, no trailing dot; the root is `.`.
fn zone_text(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    match text.trim_end_matches('.') {
        "" => ".".to_string(),
        t => t.to_string(),
    }
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn_text(name: &str) -> String {
    if name == "." || name.is_empty() {
        ".".to_string()
    } else {
        format!("{}.", name.trim_end_matches('.'))
    }
}

fn build_resolver(settings: &ResolverSettings, anchors: Option<TrustAnchors>) -> Result<TokioResolver, String> {
    let mut builder = crate::resolve::resolver_builder(settings)?;
    if let Some(anchors) = anchors {
        builder = builder.with_trust_anchor(Arc::new(anchors));
        builder.options_mut().validate = true;
    }
    builder.build().map_err(|e| format!("resolver: {e}"))
}

/// One question to one server, without recursion: UDP, then TCP if the reply is truncated.
async fn direct_query(addr: SocketAddr, name: &Name, rtype: RecordType, timeout: Duration) -> Result<Message, String> {
    let id = query_id();
    let mut query = Message::query();
    query.metadata.id = id;
    query.metadata.recursion_desired = false;
    query.add_query(Query::query(name.clone(), rtype));
    let bytes = query.to_vec().map_err(|e| format!("cannot encode the query: {e}"))?;
    let reply = tokio::time::timeout(timeout, udp_exchange(addr, &bytes, id))
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))??;
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    tokio::time::timeout(timeout, tcp_exchange(addr, &bytes, id))
        .await
        .map_err(|_| format!("no answer over TCP within {} ms", timeout.as_millis()))?
}

fn query_id() -> u16 {
    use ring::rand::SecureRandom;
    let mut id = [0u8; 2];
    // An unpredictable ID keeps off-path answers out; a fixed one would still work on loopback.
    let _ = ring::rand::SystemRandom::new().fill(&mut id);
    u16::from_be_bytes(id)
}

async fn udp_exchange(addr: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, String> {
    let local: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = tokio::net::UdpSocket::bind(local).await.map_err(|e| format!("UDP socket: {e}"))?;
    socket.connect(addr).await.map_err(|e| format!("UDP {addr}: {e}"))?;
    socket.send(bytes).await.map_err(|e| format!("UDP {addr}: {e}"))?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf).await.map_err(|e| format!("UDP {addr}: {e}"))?;
        let Some(data) = buf.get(..n) else { continue };
        match Message::from_vec(data) {
            Ok(reply) if reply.metadata.id == id => return Ok(reply),
            // Stray or spoofed datagrams are ignored; the deadline ends the wait.
            Ok(_) => continue,
            Err(e) => return Err(format!("malformed reply from {addr}: {e}")),
        }
    }
}

async fn tcp_exchange(addr: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("TCP {addr}: {e}"))?;
    let len = u16::try_from(bytes.len()).map_err(|_| "query too long".to_string())?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(|e| format!("TCP {addr}: {e}"))?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(|e| format!("TCP {addr}: {e}"))?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body).await.map_err(|e| format!("TCP {addr}: {e}"))?;
    let reply = Message::from_vec(&body).map_err(|e| format!("malformed reply from {addr}: {e}"))?;
    if reply.metadata.id != id {
        return Err(format!("reply from {addr} has the wrong ID"));
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caa_climb_stops_at_the_registrable_domain() {
        assert_eq!(
            climb("a.b.clinic.co.jp", "clinic.co.jp"),
            vec!["a.b.clinic.co.jp", "b.clinic.co.jp", "clinic.co.jp"]
        );
        assert_eq!(climb("clinic.co.jp", "clinic.co.jp"), vec!["clinic.co.jp"]);
        assert_eq!(climb("www.other.jp", "clinic.co.jp"), vec!["www.other.jp"]);
    }

    #[test]
    fn caa_values_are_presentation_text() {
        assert_eq!(
            presentation(b"letsencrypt.org; validationmethods=dns-01"),
            "letsencrypt.org; validationmethods=dns-01"
        );
        assert_eq!(presentation(b"a\"b\\\x00\xff"), "a\\\"b\\\\\\000\\255");
    }

    #[test]
    fn anchors_parse_ds_and_dnskey_and_reject_nothing() {
        let text = ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
                    jp. 3600 IN DNSKEY 257 3 15 ++x8sIBfkV2DUvtbbnksoxfHucL+nAeVnq7eLtjvfOI=\n";
        let anchor = TrustAnchor::parse(text, "test").expect("parses");
        let described = anchor.describe();
        assert!(described.contains("1 DNSKEY and 1 DS"), "{described}");
        assert!(described.contains("jp") && described.contains('.'), "{described}");
        assert!(TrustAnchor::parse("example. IN A 192.0.2.1\n", "x").is_err());
        assert!(TrustAnchor::parse("this is not a zone file", "x").is_err());
        assert!(TrustAnchor::Root.describe().contains("root"));
    }
}
