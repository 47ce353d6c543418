//! The domain survey (item 2-1.xv): registrable domains from the public suffix list,
//! registration data over RDAP or WHOIS, and DNS delegation, DNSSEC, CNAME chains and CAA.
//!
//! Like the TLS probes, everything here only gathers evidence
//! ([`crate::evidence::domain`]); the checks in `checks::domain` judge it.

pub mod dns;
pub mod psl;
pub mod rdap;
pub mod whois;
pub mod whois_text;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::evidence::domain::{
    DomainEvidence, DomainRole, DomainSurvey, HostDnsEvidence, HostTerminal, LookupAnswer, RegistrationEvidence,
    RegistrationLookup, RegistrationSource, SkippedHost,
};
use crate::probe::fetch::Fetcher;

use self::dns::{DnsSettings, DnsSurveyor};
use self::psl::PublicSuffixList;
use self::rdap::RdapBootstrap;
use self::whois::WhoisServer;

/// Most registrable domains surveyed at once; each costs a handful of DNS queries and one
/// or two registry lookups, and registries rate-limit.
const PARALLEL_DOMAINS: usize = 8;

/// How the survey asks its questions.
#[derive(Clone, Debug)]
pub struct SurveySettings {
    pub dns: DnsSettings,
    /// The RDAP bootstrap (`--rdap-bootstrap`); the bundled snapshot otherwise.
    pub rdap_bootstrap: Option<RdapBootstrap>,
    /// `--rdap-url BASE`: ask this RDAP server for every domain.
    pub rdap_url: Option<String>,
    /// `--whois-server HOST[:PORT]`: ask this WHOIS server instead of the registry's.
    pub whois_server: Option<WhoisServer>,
    /// Roots trusted for `https` RDAP servers besides Mozilla's (`--ca-file`).
    pub extra_roots: Vec<crate::evidence::CertDer>,
    /// Deadline of each lookup.
    pub timeout: Duration,
}

/// Surveys the domains behind `hosts` (target host names; IP literals are ignored).
pub async fn survey(hosts: &[String], settings: &SurveySettings) -> DomainSurvey {
    let list = PublicSuffixList::embedded();
    let mut skipped = Vec::new();
    // Registrable domain → the target hosts under it, both in order of first appearance.
    let mut by_domain: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut names: Vec<(String, String)> = Vec::new();
    for host in hosts {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.parse::<IpAddr>().is_ok() || names.iter().any(|(h, _)| *h == host) {
            continue;
        }
        if let Some(why) = psl::special_use(&host) {
            skipped.push(SkippedHost { host, reason: why.to_string() });
            continue;
        }
        let Some(registrable) = list.registrable_domain(&host) else {
            skipped
                .push(SkippedHost { host, reason: "no registrable domain: the name is a public suffix".to_string() });
            continue;
        };
        let entry =
            by_domain.entry(registrable.name.clone()).or_insert_with(|| (registrable.suffix.clone(), Vec::new()));
        entry.1.push(host.clone());
        names.push((host, registrable.name));
    }

    let surveyor = DnsSurveyor::new(settings.dns.clone());
    let fetcher = Fetcher::with_extra_roots(&settings.extra_roots);
    let slots = Semaphore::new(PARALLEL_DOMAINS);
    let registry = Registry { settings, fetcher: fetcher.as_ref().map_err(String::as_str) };

    let host_evidence: Vec<HostDnsEvidence> =
        futures::future::join_all(names.iter().map(|(host, registrable)| async {
            let _slot = slots.acquire().await.ok();
            match &surveyor {
                Ok(surveyor) => surveyor.host(host, registrable).await,
                Err(reason) => unresolvable_host(host, registrable, reason),
            }
        }))
        .await;

    let mut domains: Vec<DomainEvidence> =
        futures::future::join_all(by_domain.iter().map(|(name, (suffix, members))| async {
            let _slot = slots.acquire().await.ok();
            let (registration, delegation, dnssec) = match &surveyor {
                Ok(surveyor) => {
                    let (registration, delegation, dnssec) =
                        tokio::join!(registry.lookup(name), surveyor.delegation(name), surveyor.dnssec(name));
                    (registration, Some(delegation), Some(dnssec))
                }
                Err(_) => (registry.lookup(name).await, None, None),
            };
            DomainEvidence {
                name: name.clone(),
                public_suffix: suffix.clone(),
                role: DomainRole::Target,
                hosts: members.clone(),
                registration,
                delegation,
                dnssec,
            }
        }))
        .await;

    // The registrable domains CNAME chains lead into, other than the targets' own: if one
    // is unregistered or lapses, whoever registers it receives the traffic.
    let mut cname_targets: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for host in &host_evidence {
        for hop in &host.cname_chain {
            let Some(registrable) = list.registrable_domain(&hop.target) else { continue };
            if by_domain.contains_key(&registrable.name) {
                continue;
            }
            cname_targets
                .entry(registrable.name.clone())
                .or_insert_with(|| (registrable.suffix.clone(), BTreeSet::new()))
                .1
                .insert(host.host.clone());
        }
    }
    let more = futures::future::join_all(cname_targets.iter().map(|(name, (suffix, owners))| async {
        let _slot = slots.acquire().await.ok();
        DomainEvidence {
            name: name.clone(),
            public_suffix: suffix.clone(),
            role: DomainRole::CnameTarget,
            hosts: owners.iter().cloned().collect(),
            registration: registry.lookup(name).await,
            delegation: None,
            dnssec: None,
        }
    }))
    .await;
    domains.extend(more);

    DomainSurvey {
        public_suffix_list: list.snapshot().to_string(),
        trust_anchor: settings.dns.trust_anchor.describe(),
        rdap_servers: match &settings.rdap_url {
            Some(url) => format!("forced: {url}"),
            None => format!(
                "IANA bootstrap published {}",
                settings.rdap_bootstrap.as_ref().unwrap_or_else(|| RdapBootstrap::embedded()).publication()
            ),
        },
        whois_server: settings.whois_server.as_ref().map(ToString::to_string),
        domains,
        hosts: host_evidence,
        skipped,
    }
}

/// A host whose DNS could not be asked at all (the resolver could not be built).
fn unresolvable_host(host: &str, registrable: &str, reason: &str) -> HostDnsEvidence {
    HostDnsEvidence {
        host: host.to_string(),
        registrable_domain: registrable.to_string(),
        cname_chain: Vec::new(),
        terminal: HostTerminal::Failed { name: host.to_string(), reason: reason.to_string() },
        caa: Default::default(),
    }
}

/// Chooses RDAP or WHOIS for a domain and asks.
struct Registry<'a> {
    settings: &'a SurveySettings,
    /// The HTTP client for RDAP, or why none could be built.
    fetcher: Result<&'a Fetcher, &'a str>,
}

impl Registry<'_> {
    /// RDAP where a server is known (forced with `--rdap-url`, else from the bootstrap);
    /// WHOIS where none is, or where no RDAP server gave an answer.
    async fn lookup(&self, domain: &str) -> RegistrationEvidence {
        let settings = self.settings;
        let bases: Vec<String> = match &settings.rdap_url {
            Some(base) => vec![base.clone()],
            None => settings.rdap_bootstrap.as_ref().unwrap_or_else(|| RdapBootstrap::embedded()).servers_for(domain),
        };
        let mut lookups = Vec::new();
        match (bases.first(), self.fetcher) {
            (None, _) => {}
            (Some(_), Ok(fetcher)) => lookups.extend(rdap::lookup(domain, &bases, fetcher, settings.timeout).await),
            // Say so in the evidence rather than skip RDAP silently.
            (Some(base), Err(reason)) => lookups.push(RegistrationLookup {
                source: RegistrationSource::Rdap,
                server: base.clone(),
                query: format!("{base}domain/{domain}"),
                at: crate::evidence::now_unix(),
                elapsed_ms: 0,
                answer: LookupAnswer::Failed { reason: format!("no HTTP client: {reason}") },
            }),
        }
        // Only a registry that said registered or not has answered; an unreadable answer
        // leaves WHOIS worth asking (its own record keeps the RDAP text).
        let answered =
            lookups.iter().any(|l| matches!(l.answer, LookupAnswer::Found { .. } | LookupAnswer::NotFound { .. }));
        // A forced RDAP server is the user's choice of source; WHOIS is only the fallback
        // for registries RDAP does not reach.
        if !answered && (settings.rdap_url.is_none() || settings.whois_server.is_some()) {
            lookups.extend(whois::lookup(domain, settings.whois_server.as_ref(), settings.timeout).await);
        }
        RegistrationEvidence { lookups }
    }
}
