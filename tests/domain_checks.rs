//! The domain, CAA and drift checks of item 2-1.xv, judged on hand-built survey evidence:
//! no network, no clock. Every case starts from one healthy registrable domain with one
//! healthy host, changes one thing, and states the status of every 2-1.xv finding (by check
//! and subject) and of the item.
//!
//! Lookups are dated at [`AT`]; every other date is relative to it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use kensa::checks::CheckStatus::{self, Fail, Indeterminate, Info, Pass, Warn};
use kensa::checks::DomainExpiryThresholds;
use kensa::drift::{DomainSnapshot, Snapshot};
use kensa::evidence::domain::{
    CaaEvidence, CaaQuery, CaaRecord, CnameHop, DelegationEvidence, DnsOutcome, DnssecEvidence, DnssecStatus,
    DomainEvidence, DomainRole, DomainSurvey, HostDnsEvidence, HostTerminal, LookupAnswer, NsAnswer,
    RegistrationEvidence, RegistrationLookup, RegistrationRecord, RegistrationSource, SkippedHost, SoaRecord,
};
use kensa::evidence::{AddressFamily, ScanEvidence, ScanMode, ScanSettings, UnixSeconds, EVIDENCE_SCHEMA};
use kensa::profile::Profile;
use kensa::verdict::{Assessment, Finding, ItemStatus, JudgingOptions};
use serde_json::{json, Value};

/// When every lookup of the survey was made.
const AT: UnixSeconds = 1_790_000_000;
const DAY: UnixSeconds = 86_400;

const ITEM: &str = "2-1.xv";
const DOMAIN: &str = "example-clinic.jp";
const HOST: &str = "www.example-clinic.jp";
const NS1: &str = "ns1.example-dns.net";
const NS2: &str = "ns2.example-dns.net";

const EXPIRY: &str = "domain.expiry";
const LOCK: &str = "domain.transfer-lock";
const NS: &str = "domain.ns-consistency";
const DNSSEC: &str = "domain.dnssec";
const CAA: &str = "domain.caa";
const DANGLING: &str = "domain.dangling";
const DOMAIN_CHECKS: [&str; 6] = [EXPIRY, LOCK, NS, DNSSEC, CAA, DANGLING];

const DRIFT_REGISTRAR: &str = "drift.registrar";
const DRIFT_REREGISTRATION: &str = "drift.reregistration";
const DRIFT_REGISTRANT: &str = "drift.registrant";
const DRIFT_NAMESERVERS: &str = "drift.nameservers";
const DRIFT_DNSSEC: &str = "drift.dnssec";
const DRIFT_CHECKS: [&str; 5] =
    [DRIFT_REGISTRAR, DRIFT_REREGISTRATION, DRIFT_REGISTRANT, DRIFT_NAMESERVERS, DRIFT_DNSSEC];

// ---------------------------------------------------------------------------------------
// Evidence builders
// ---------------------------------------------------------------------------------------

fn ip(text: &str) -> IpAddr {
    text.parse().expect("IP address")
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn lookup(source: RegistrationSource, answer: LookupAnswer) -> RegistrationLookup {
    let (server, query) = match source {
        RegistrationSource::Rdap => {
            ("https://rdap.example/".to_string(), format!("https://rdap.example/domain/{DOMAIN}"))
        }
        RegistrationSource::Whois => ("whois.jprs.jp:43".to_string(), format!("{DOMAIN}/e")),
    };
    RegistrationLookup { source, server, query, at: AT, elapsed_ms: 120, answer }
}

fn found(record: RegistrationRecord) -> LookupAnswer {
    LookupAnswer::Found { record, raw: "{\"objectClassName\":\"domain\"}".to_string() }
}

/// A registration that is fine on every count.
fn healthy_record(domain: &str) -> RegistrationRecord {
    RegistrationRecord {
        domain: domain.to_string(),
        registrar: Some("Example Registrar".to_string()),
        registrar_iana_id: Some("9999".to_string()),
        registrant_organization: Some("Example Clinic".to_string()),
        created: Some(AT - 2_000 * DAY),
        expires: Some(AT + 400 * DAY),
        updated: Some(AT - 30 * DAY),
        transferred: None,
        statuses: names(&["client transfer prohibited", "active"]),
        locks: Vec::new(),
        nameservers: names(&[NS1, NS2]),
        delegation_signed: Some(true),
        ds: names(&["12345 13 2 0123456789ABCDEF"]),
        ..RegistrationRecord::default()
    }
}

fn ns_answer(server: &str, address: &str, set: &[&str]) -> NsAnswer {
    NsAnswer { server: server.to_string(), address: ip(address), answer: DnsOutcome::Answer { records: names(set) } }
}

fn ns_failed(server: &str, address: &str) -> NsAnswer {
    NsAnswer {
        server: server.to_string(),
        address: ip(address),
        answer: DnsOutcome::Failed { reason: "timeout".into() },
    }
}

fn delegation_to(set: &[&str]) -> DelegationEvidence {
    DelegationEvidence {
        parent_zone: Some("jp".to_string()),
        parent: vec![ns_answer("a.dns.jp", "203.119.1.1", set), ns_answer("b.dns.jp", "202.12.30.131", set)],
        child: vec![ns_answer(NS1, "192.0.2.53", set), ns_answer(NS2, "198.51.100.53", set)],
        soa: Some(DnsOutcome::Answer {
            records: SoaRecord { mname: NS1.to_string(), rname: "hostmaster.example-clinic.jp".into(), serial: 7 },
        }),
        error: None,
    }
}

fn healthy_domain() -> DomainEvidence {
    DomainEvidence {
        name: DOMAIN.to_string(),
        public_suffix: "jp".to_string(),
        role: DomainRole::Target,
        hosts: names(&[HOST]),
        registration: RegistrationEvidence {
            lookups: vec![lookup(RegistrationSource::Rdap, found(healthy_record(DOMAIN)))],
        },
        delegation: Some(delegation_to(&[NS1, NS2])),
        dnssec: Some(DnssecEvidence {
            status: DnssecStatus::Secure,
            ds: names(&["12345 13 2 0123456789ABCDEF"]),
            dnskey: names(&["257 3 13 12345"]),
            detail: "validated from the root KSK".to_string(),
        }),
    }
}

fn caa_record(flags: u8, tag: &str, value: &str) -> CaaRecord {
    CaaRecord { flags, tag: tag.to_string(), value: value.to_string() }
}

fn caa_query(name: &str, outcome: DnsOutcome<usize>) -> CaaQuery {
    CaaQuery { name: name.to_string(), outcome }
}

fn healthy_host() -> HostDnsEvidence {
    HostDnsEvidence {
        host: HOST.to_string(),
        registrable_domain: DOMAIN.to_string(),
        cname_chain: Vec::new(),
        terminal: HostTerminal::Addresses { name: HOST.to_string(), addresses: vec![ip("192.0.2.10")] },
        caa: CaaEvidence {
            relevant_name: Some(DOMAIN.to_string()),
            records: vec![caa_record(0, "issue", "letsencrypt.org")],
            queried: vec![caa_query(HOST, DnsOutcome::NoData), caa_query(DOMAIN, DnsOutcome::Answer { records: 1 })],
        },
    }
}

fn healthy_survey() -> DomainSurvey {
    DomainSurvey {
        public_suffix_list: "2026-11-01".to_string(),
        trust_anchor: "built-in root KSKs (20326, 38696)".to_string(),
        domains: vec![healthy_domain()],
        hosts: vec![healthy_host()],
        // Fields added later (where registration servers came from…) keep their defaults.
        ..DomainSurvey::default()
    }
}

/// A scan of no endpoint at all, with `domains` as its survey.
fn scan(domains: Option<DomainSurvey>) -> ScanEvidence {
    ScanEvidence {
        schema: EVIDENCE_SCHEMA.to_string(),
        kensa_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: AT,
        finished_at: AT + 60,
        settings: ScanSettings {
            timeout_ms: 5_000,
            address_family: AddressFamily::Any,
            resolver: None,
            pins: Vec::new(),
            mode: ScanMode::Full,
            parallel_per_ip: 1,
            delay_ms: 0,
            fetch: false,
            revocation: false,
        },
        extra_roots: Vec::new(),
        system_roots: Vec::new(),
        targets: Vec::new(),
        domains,
        baseline: None,
        service: None,
    }
}

fn healthy() -> ScanEvidence {
    scan(Some(healthy_survey()))
}

/// The healthy scan as a baseline taken 180 days before [`AT`].
fn baseline() -> Snapshot {
    let mut before = healthy();
    before.started_at = AT - 180 * DAY;
    Snapshot::of(&before, "baseline-2026.json")
}

// Mutators: the parts of a scan a case changes.

fn survey(e: &mut ScanEvidence) -> &mut DomainSurvey {
    e.domains.as_mut().expect("a survey")
}

fn domain(e: &mut ScanEvidence) -> &mut DomainEvidence {
    &mut survey(e).domains[0]
}

fn host(e: &mut ScanEvidence) -> &mut HostDnsEvidence {
    &mut survey(e).hosts[0]
}

fn record(e: &mut ScanEvidence) -> &mut RegistrationRecord {
    match &mut domain(e).registration.lookups[0].answer {
        LookupAnswer::Found { record, .. } => record,
        other => panic!("not a found registration: {other:?}"),
    }
}

fn delegation(e: &mut ScanEvidence) -> &mut DelegationEvidence {
    domain(e).delegation.as_mut().expect("a delegation")
}

fn set_answer(e: &mut ScanEvidence, answer: LookupAnswer) {
    domain(e).registration.lookups = vec![lookup(RegistrationSource::Rdap, answer)];
}

fn expires_in(e: &mut ScanEvidence, days: i64) {
    record(e).expires = Some(AT.checked_add_signed(days * DAY as i64).expect("date"));
}

fn dnssec_status(e: &mut ScanEvidence, status: DnssecStatus) {
    let dnssec = domain(e).dnssec.as_mut().expect("dnssec");
    dnssec.status = status;
    dnssec.detail = format!("{status:?} for test");
}

/// The host's CNAME chain is `hops` (each to the next) and ends in `terminal`.
fn cname(e: &mut ScanEvidence, hops: &[&str], terminal: HostTerminal) {
    let mut owner = HOST.to_string();
    let mut chain = Vec::new();
    for target in hops {
        chain.push(CnameHop { owner: owner.clone(), target: target.to_string() });
        owner = target.to_string();
    }
    let host = host(e);
    host.cname_chain = chain;
    host.terminal = terminal;
}

/// A registrable domain only the CNAME chain leads into.
fn add_cname_target(e: &mut ScanEvidence, name: &str, answer: LookupAnswer) {
    let mut lookup = lookup(RegistrationSource::Rdap, answer);
    lookup.query = format!("https://rdap.example/domain/{name}");
    survey(e).domains.push(DomainEvidence {
        name: name.to_string(),
        public_suffix: name.split_once('.').map(|(_, s)| s.to_string()).unwrap_or_default(),
        role: DomainRole::CnameTarget,
        hosts: names(&[HOST]),
        registration: RegistrationEvidence { lookups: vec![lookup] },
        delegation: None,
        dnssec: None,
    });
}

fn cname_target_expiring(e: &mut ScanEvidence, name: &str, days: i64) {
    let mut record = healthy_record(name);
    record.expires = Some(AT.checked_add_signed(days * DAY as i64).expect("date"));
    add_cname_target(e, name, found(record));
}

fn addresses(name: &str) -> HostTerminal {
    HostTerminal::Addresses { name: name.to_string(), addresses: vec![ip("203.0.113.7")] }
}

// ---------------------------------------------------------------------------------------
// Looking at an assessment
// ---------------------------------------------------------------------------------------

/// The subject a check's findings carry: the registrable domain, or the host.
fn subject_of(check: &str) -> &'static str {
    if check == CAA || check == DANGLING {
        HOST
    } else {
        DOMAIN
    }
}

fn finding<'a>(assessment: &'a Assessment, check: &str, subject: &str) -> &'a Finding {
    let matching: Vec<&Finding> = assessment
        .findings
        .iter()
        .filter(|f| f.item_id == ITEM && f.check_id == check && f.endpoint == subject)
        .collect();
    assert_eq!(matching.len(), 1, "exactly one {check} finding on {subject}: {matching:#?}");
    matching[0]
}

fn message<'a>(assessment: &'a Assessment, check: &str) -> &'a str {
    &finding(assessment, check, subject_of(check)).message.en
}

fn contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(haystack.contains(needle), "{needle:?} not in {haystack:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------

/// One case: a change to the healthy scan, and what 2-1.xv then shows.
struct Case {
    name: &'static str,
    mutate: fn(&mut ScanEvidence),
    /// Domain expiry thresholds other than the default.
    thresholds: Option<DomainExpiryThresholds>,
    /// Findings that differ from the healthy scan (every domain check passing, no drift
    /// check): `Some(status)` sets or adds one, `None` removes it.
    expect: &'static [(&'static str, Option<CheckStatus>)],
    item: ItemStatus,
    /// Further assertions on the assessment (messages, evidence).
    also: fn(&Assessment),
}

fn nothing(_: &Assessment) {}

const NO_DOMAIN_FINDINGS: &[(&str, Option<CheckStatus>)] =
    &[(EXPIRY, None), (LOCK, None), (NS, None), (DNSSEC, None), (CAA, None), (DANGLING, None)];

const ALL_DRIFT_PASS: &[(&str, Option<CheckStatus>)] = &[
    (DRIFT_REGISTRAR, Some(Pass)),
    (DRIFT_REREGISTRATION, Some(Pass)),
    (DRIFT_REGISTRANT, Some(Pass)),
    (DRIFT_NAMESERVERS, Some(Pass)),
    (DRIFT_DNSSEC, Some(Pass)),
];

const ALL_DRIFT_INFO: &[(&str, Option<CheckStatus>)] = &[
    (DRIFT_REGISTRAR, Some(Info)),
    (DRIFT_REREGISTRATION, Some(Info)),
    (DRIFT_REGISTRANT, Some(Info)),
    (DRIFT_NAMESERVERS, Some(Info)),
    (DRIFT_DNSSEC, Some(Info)),
];

fn cases() -> Vec<Case> {
    let case = |name, mutate: fn(&mut ScanEvidence), expect, item| Case {
        name,
        mutate,
        thresholds: None,
        expect,
        item,
        also: nothing,
    };
    let custom = DomainExpiryThresholds { warn_days: 10, fail_days: 5 };
    vec![
        Case {
            also: |a| {
                contains(message(a, EXPIRY), &["in 400 days"]);
                contains(message(a, CAA), &["issue letsencrypt.org"]);
                contains(message(a, DANGLING), &["has no CNAME"]);
            },
            ..case("healthy domain", |_| {}, &[], ItemStatus::DeclarationNeeded)
        },
        // --- domain.expiry ---
        Case {
            also: |a| {
                let f = finding(a, EXPIRY, DOMAIN);
                assert_eq!(f.evidence["days_remaining"], json!(20));
                assert_eq!(f.evidence["thresholds"], json!({"warn_days": 90, "fail_days": 30}));
                contains(&f.message.en, &["in 20 days", "fail at 30 days"]);
            },
            ..case("expires in 20 days", |e| expires_in(e, 20), &[(EXPIRY, Some(Fail))], ItemStatus::NonCompliant)
        },
        case("expires in exactly 30 days", |e| expires_in(e, 30), &[(EXPIRY, Some(Fail))], ItemStatus::NonCompliant),
        case("expires in 31 days", |e| expires_in(e, 31), &[(EXPIRY, Some(Warn))], ItemStatus::NeedsReview),
        Case {
            also: |a| contains(message(a, EXPIRY), &["in 60 days", "warn at 90 days"]),
            ..case("expires in 60 days", |e| expires_in(e, 60), &[(EXPIRY, Some(Warn))], ItemStatus::NeedsReview)
        },
        case("expires in exactly 90 days", |e| expires_in(e, 90), &[(EXPIRY, Some(Warn))], ItemStatus::NeedsReview),
        case("expires in 91 days", |e| expires_in(e, 91), &[], ItemStatus::DeclarationNeeded),
        Case {
            also: |a| contains(message(a, EXPIRY), &["expired on"]),
            ..case("expired 3 days ago", |e| expires_in(e, -3), &[(EXPIRY, Some(Fail))], ItemStatus::NonCompliant)
        },
        case(
            "expired an hour ago",
            |e| record(e).expires = Some(AT - 3_600),
            &[(EXPIRY, Some(Fail))],
            ItemStatus::NonCompliant,
        ),
        case(
            "no expiry date given",
            |e| record(e).expires = None,
            &[(EXPIRY, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        Case {
            thresholds: Some(custom),
            ..case("custom thresholds: 60 days passes", |e| expires_in(e, 60), &[], ItemStatus::DeclarationNeeded)
        },
        Case {
            thresholds: Some(custom),
            also: |a| contains(message(a, EXPIRY), &["warn at 10 days"]),
            ..case(
                "custom thresholds: 8 days warns",
                |e| expires_in(e, 8),
                &[(EXPIRY, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        Case {
            thresholds: Some(custom),
            also: |a| {
                assert_eq!(a.options.domain_expiry, DomainExpiryThresholds { warn_days: 10, fail_days: 5 });
                contains(message(a, EXPIRY), &["fail at 5 days"]);
            },
            ..case(
                "custom thresholds: 4 days fails",
                |e| expires_in(e, 4),
                &[(EXPIRY, Some(Fail))],
                ItemStatus::NonCompliant,
            )
        },
        // --- registration answers ---
        Case {
            also: |a| {
                let f = finding(a, EXPIRY, DOMAIN);
                assert_eq!(f.evidence["answer"]["kind"], json!("not_found"));
                contains(&f.message.en, &["not registered"]);
            },
            ..case(
                "registration not found",
                |e| set_answer(e, LookupAnswer::NotFound { raw: "404".into() }),
                &[(EXPIRY, Some(Fail)), (LOCK, Some(Fail))],
                ItemStatus::NonCompliant,
            )
        },
        Case {
            also: |a| {
                let f = finding(a, EXPIRY, DOMAIN);
                assert_eq!(f.evidence["answer"]["kind"], json!("unparsed"));
                assert_eq!(f.evidence["answer"]["reason"], json!("no [有効期限] line"));
                let excerpt = f.evidence["answer"]["raw_excerpt"].as_str().expect("raw excerpt");
                assert!(excerpt.starts_with("[ JPRS database provides information"), "{excerpt}");
                assert_eq!(excerpt.chars().count(), 400, "the excerpt is capped at 400 characters");
                contains(&f.message.en, &["raw text is kept"]);
            },
            ..case(
                "registration unparsed",
                |e| {
                    let raw = format!(
                        "[ JPRS database provides information on network administration. ]\n{}",
                        "x".repeat(600)
                    );
                    set_answer(e, LookupAnswer::Unparsed { reason: "no [有効期限] line".into(), raw });
                },
                &[(EXPIRY, Some(Indeterminate)), (LOCK, Some(Indeterminate))],
                ItemStatus::Indeterminate,
            )
        },
        Case {
            also: |a| contains(message(a, EXPIRY), &["could not be obtained", "rate limited"]),
            ..case(
                "registration lookup failed",
                |e| set_answer(e, LookupAnswer::Failed { reason: "rate limited (429)".into() }),
                &[(EXPIRY, Some(Indeterminate)), (LOCK, Some(Indeterminate))],
                ItemStatus::Indeterminate,
            )
        },
        Case {
            also: |a| {
                let f = finding(a, EXPIRY, DOMAIN);
                assert_eq!(f.evidence["registration"]["source"], json!("whois"));
                assert_eq!(f.evidence["registration"]["server"], json!("whois.jprs.jp:43"));
                contains(&f.message.en, &["WHOIS whois.jprs.jp:43"]);
            },
            ..case(
                "RDAP failed, then WHOIS found the record",
                |e| {
                    let mut record = healthy_record(DOMAIN);
                    record.expires = Some(AT + 20 * DAY);
                    record.statuses = names(&["Active"]);
                    record.locks = names(&["DomainTransferLocked"]);
                    domain(e).registration.lookups = vec![
                        lookup(RegistrationSource::Rdap, LookupAnswer::Failed { reason: "no RDAP server".into() }),
                        lookup(RegistrationSource::Whois, found(record)),
                    ];
                },
                // The WHOIS record's expiry (20 days) and lock are the ones judged.
                &[(EXPIRY, Some(Fail))],
                ItemStatus::NonCompliant,
            )
        },
        case(
            "WHOIS found the record, then a later RDAP lookup failed",
            |e| {
                let whois = lookup(RegistrationSource::Whois, found(healthy_record(DOMAIN)));
                let rdap = lookup(RegistrationSource::Rdap, LookupAnswer::Failed { reason: "timeout".into() });
                domain(e).registration.lookups = vec![whois, rdap];
            },
            &[],
            ItemStatus::DeclarationNeeded,
        ),
        case(
            "no registration lookup at all",
            |e| domain(e).registration.lookups.clear(),
            &[(EXPIRY, Some(Indeterminate)), (LOCK, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        // --- domain.transfer-lock ---
        case(
            "no transfer lock",
            |e| record(e).statuses = names(&["active", "client update prohibited"]),
            &[(LOCK, Some(Warn))],
            ItemStatus::NeedsReview,
        ),
        case(
            "serverTransferProhibited as an EPP code with its URL",
            |e| {
                record(e).statuses = names(&["serverTransferProhibited https://icann.org/epp#serverTransferProhibited"])
            },
            &[],
            ItemStatus::DeclarationNeeded,
        ),
        Case {
            also: |a| contains(message(a, LOCK), &["AgentChangeLocked", "no DomainTransferLocked"]),
            ..case(
                "JPRS AgentChangeLocked only",
                |e| {
                    record(e).statuses = names(&["Active"]);
                    record(e).locks = names(&["AgentChangeLocked"]);
                },
                &[(LOCK, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        Case {
            also: |a| {
                let f = finding(a, LOCK, DOMAIN);
                assert_eq!(f.evidence["transfer_locks"], json!(["DomainTransferLocked"]));
            },
            ..case(
                "JPRS DomainTransferLocked",
                |e| {
                    record(e).statuses = names(&["Active"]);
                    record(e).locks = names(&["DomainTransferLocked", "AgentChangeLocked"]);
                },
                &[],
                ItemStatus::DeclarationNeeded,
            )
        },
        // --- domain.ns-consistency ---
        Case {
            also: |a| {
                contains(
                    message(a, NS),
                    &["only at the parent: ns2.example-dns.net", "only at the child: ns3.example-dns.net"],
                );
            },
            ..case(
                "parent and child NS differ",
                |e| {
                    let child = [NS1, "ns3.example-dns.net"];
                    delegation(e).child =
                        vec![ns_answer(NS1, "192.0.2.53", &child), ns_answer(NS2, "198.51.100.53", &child)];
                },
                &[(NS, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        case(
            "NS names differ only in case and a trailing dot",
            |e| {
                let shouty = ["NS1.Example-DNS.net.", "ns2.example-dns.net."];
                delegation(e).child =
                    vec![ns_answer(NS1, "192.0.2.53", &shouty), ns_answer(NS2, "198.51.100.53", &shouty)];
            },
            &[],
            ItemStatus::DeclarationNeeded,
        ),
        Case {
            also: |a| contains(message(a, NS), &["lame delegation"]),
            ..case(
                "lame delegation: no child server answers",
                |e| delegation(e).child = vec![ns_failed(NS1, "192.0.2.53"), ns_failed(NS2, "198.51.100.53")],
                &[(NS, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        Case {
            also: |a| contains(message(a, NS), &["but:", "timeout"]),
            ..case(
                "one child server silent",
                |e| delegation(e).child[1] = ns_failed(NS2, "198.51.100.53"),
                &[(NS, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        case(
            "no parent server answers",
            |e| {
                delegation(e).parent =
                    vec![ns_failed("a.dns.jp", "203.119.1.1"), ns_failed("b.dns.jp", "202.12.30.131")]
            },
            &[(NS, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        case(
            "delegation not examined",
            |e| domain(e).delegation = None,
            &[(NS, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        // --- domain.dnssec ---
        case(
            "DNSSEC bogus",
            |e| dnssec_status(e, DnssecStatus::Bogus),
            &[(DNSSEC, Some(Fail))],
            ItemStatus::NonCompliant,
        ),
        Case {
            also: |a| assert_eq!(finding(a, DNSSEC, DOMAIN).evidence["registry_delegation_signed"], json!(false)),
            ..case(
                "DNSSEC insecure",
                |e| {
                    dnssec_status(e, DnssecStatus::Insecure);
                    record(e).delegation_signed = Some(false);
                },
                &[(DNSSEC, Some(Info))],
                ItemStatus::DeclarationNeeded,
            )
        },
        Case {
            also: |a| contains(message(a, DNSSEC), &["registry says", "signed"]),
            ..case(
                "DNSSEC insecure though the registry says signed",
                |e| dnssec_status(e, DnssecStatus::Insecure),
                &[(DNSSEC, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        case(
            "DNSSEC undecided",
            |e| dnssec_status(e, DnssecStatus::Indeterminate),
            &[(DNSSEC, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        // --- domain.caa ---
        Case {
            also: |a| contains(message(a, CAA), &["no CAA record", HOST, DOMAIN]),
            ..case(
                "CAA absent",
                |e| {
                    host(e).caa = CaaEvidence {
                        relevant_name: None,
                        records: Vec::new(),
                        queried: vec![caa_query(HOST, DnsOutcome::NoData), caa_query(DOMAIN, DnsOutcome::NoData)],
                    }
                },
                &[(CAA, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        Case {
            also: |a| contains(message(a, CAA), &["unknown critical", "\"tbs\""]),
            ..case(
                "CAA with an unknown critical property",
                |e| host(e).caa.records.push(caa_record(128, "tbs", "unknown")),
                &[(CAA, Some(Warn))],
                ItemStatus::NeedsReview,
            )
        },
        case(
            "CAA with an unknown property not marked critical",
            |e| host(e).caa.records.push(caa_record(0, "tbs", "unknown")),
            &[],
            ItemStatus::DeclarationNeeded,
        ),
        case(
            "CAA climb failed and nothing found",
            |e| {
                host(e).caa = CaaEvidence {
                    relevant_name: None,
                    records: Vec::new(),
                    queried: vec![
                        caa_query(HOST, DnsOutcome::Failed { reason: "SERVFAIL".into() }),
                        caa_query(DOMAIN, DnsOutcome::NoData),
                    ],
                }
            },
            &[(CAA, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        case(
            "CAA found above a failed query",
            |e| host(e).caa.queried[0].outcome = DnsOutcome::Failed { reason: "SERVFAIL".into() },
            &[],
            ItemStatus::DeclarationNeeded,
        ),
        // --- domain.dangling ---
        Case {
            also: |a| contains(message(a, DANGLING), &["dangling CNAME", "old-campaign.example.net does not exist"]),
            ..case(
                "CNAME into NXDOMAIN",
                |e| {
                    let gone = "old-campaign.example.net";
                    cname(e, &[gone], HostTerminal::NxDomain { name: gone.into() })
                },
                &[(DANGLING, Some(Fail))],
                ItemStatus::NonCompliant,
            )
        },
        Case {
            also: |a| {
                let f = finding(a, DANGLING, HOST);
                assert_eq!(f.evidence["registration:lapsed-cdn.com"]["answer"]["kind"], json!("not_found"));
                contains(&f.message.en, &["lapsed-cdn.com is not registered"]);
            },
            ..case(
                "CNAME into an unregistered domain",
                |e| {
                    cname(e, &["app.lapsed-cdn.com"], HostTerminal::NoData { name: "app.lapsed-cdn.com".into() });
                    add_cname_target(e, "lapsed-cdn.com", LookupAnswer::NotFound { raw: "404".into() });
                },
                // The CNAME target domain gets no finding of its own.
                &[(DANGLING, Some(Fail))],
                ItemStatus::NonCompliant,
            )
        },
        Case {
            also: |a| contains(message(a, DANGLING), &["short-lived.net expires in 10 days"]),
            ..case(
                "CNAME into a domain expiring in 10 days",
                |e| {
                    cname(e, &["app.short-lived.net"], addresses("app.short-lived.net"));
                    cname_target_expiring(e, "short-lived.net", 10);
                },
                &[(DANGLING, Some(Fail))],
                ItemStatus::NonCompliant,
            )
        },
        case(
            "CNAME into a domain expiring in 60 days",
            |e| {
                cname(e, &["app.short-lived.net"], addresses("app.short-lived.net"));
                cname_target_expiring(e, "short-lived.net", 60);
            },
            &[(DANGLING, Some(Warn))],
            ItemStatus::NeedsReview,
        ),
        case(
            "CNAME into a healthy domain",
            |e| {
                cname(e, &["app.cdn-provider.net"], addresses("app.cdn-provider.net"));
                cname_target_expiring(e, "cdn-provider.net", 400);
            },
            &[],
            ItemStatus::DeclarationNeeded,
        ),
        case(
            "CNAME into a domain whose registration could not be read, ending without an address",
            |e| {
                cname(e, &["app.mystery.net"], HostTerminal::NoData { name: "app.mystery.net".into() });
                add_cname_target(e, "mystery.net", LookupAnswer::Failed { reason: "timeout".into() });
            },
            &[(DANGLING, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        Case {
            also: |a| {
                let f = finding(a, DANGLING, HOST);
                contains(&f.message.en, &["dangling CNAME", "Microsoft Azure"]);
                assert!(f.evidence["takeover_service"].is_object(), "{}", f.evidence);
            },
            ..case(
                "CNAME to azurewebsites.net ending without an address",
                |e| {
                    let app = "x.azurewebsites.net";
                    cname(e, &[app], HostTerminal::NoData { name: app.into() })
                },
                &[(DANGLING, Some(Fail))],
                ItemStatus::NonCompliant,
            )
        },
        Case {
            also: |a| contains(message(a, DANGLING), &["GitHub Pages"]),
            ..case(
                "CNAME to github.io with addresses",
                |e| cname(e, &["foo.github.io"], addresses("foo.github.io")),
                &[(DANGLING, Some(Info))],
                ItemStatus::DeclarationNeeded,
            )
        },
        case(
            "CNAME loop",
            |e| {
                let back = "alias.example-clinic.jp";
                cname(e, &[back, HOST], HostTerminal::Loop { name: HOST.into() })
            },
            &[(DANGLING, Some(Warn))],
            ItemStatus::NeedsReview,
        ),
        case(
            "CNAME chain too long",
            |e| host(e).terminal = HostTerminal::TooLong { length: 17 },
            &[(DANGLING, Some(Warn))],
            ItemStatus::NeedsReview,
        ),
        case(
            "CNAME chain could not be followed",
            |e| {
                let next = "edge.example.net";
                cname(e, &[next], HostTerminal::Failed { name: next.into(), reason: "SERVFAIL".into() })
            },
            &[(DANGLING, Some(Indeterminate))],
            ItemStatus::Indeterminate,
        ),
        case(
            "plain host that does not exist",
            |e| host(e).terminal = HostTerminal::NxDomain { name: HOST.into() },
            &[(DANGLING, Some(Warn))],
            ItemStatus::NeedsReview,
        ),
        // --- worst of several ---
        case(
            "a failure outranks indeterminate and warn",
            |e| {
                dnssec_status(e, DnssecStatus::Bogus);
                domain(e).delegation = None;
                record(e).statuses.clear();
            },
            &[(DNSSEC, Some(Fail)), (NS, Some(Indeterminate)), (LOCK, Some(Warn))],
            ItemStatus::NonCompliant,
        ),
        case(
            "indeterminate outranks warn",
            |e| {
                domain(e).delegation = None;
                record(e).statuses.clear();
            },
            &[(NS, Some(Indeterminate)), (LOCK, Some(Warn))],
            ItemStatus::Indeterminate,
        ),
        // --- no signal gathered ---
        case(
            "a survey with only skipped hosts",
            |e| {
                *survey(e) = DomainSurvey {
                    skipped: vec![SkippedHost { host: "portal.local".into(), reason: "special-use name".into() }],
                    ..healthy_survey()
                };
                survey(e).domains.clear();
                survey(e).hosts.clear();
            },
            NO_DOMAIN_FINDINGS,
            ItemStatus::DeclarationNeeded,
        ),
        case("no domain survey", |e| e.domains = None, NO_DOMAIN_FINDINGS, ItemStatus::DeclarationNeeded),
        case(
            "a baseline but no domain survey",
            |e| {
                e.domains = None;
                e.baseline = Some(baseline());
            },
            NO_DOMAIN_FINDINGS,
            ItemStatus::DeclarationNeeded,
        ),
        // --- drift ---
        case(
            "baseline, nothing changed",
            |e| e.baseline = Some(baseline()),
            ALL_DRIFT_PASS,
            ItemStatus::DeclarationNeeded,
        ),
        Case {
            also: drift_before_after,
            ..case(
                "registrar, creation date and name servers changed",
                |e| {
                    e.baseline = Some(baseline());
                    let moved = ["ns1.elsewhere.example", "ns2.elsewhere.example"];
                    *delegation(e) = delegation_to(&moved);
                    let record = record(e);
                    record.registrar = Some("Other Registrar".into());
                    record.registrar_iana_id = Some("1234".into());
                    record.created = Some(AT - 10 * DAY);
                    record.nameservers = names(&moved);
                },
                &[
                    (DRIFT_REGISTRAR, Some(Fail)),
                    (DRIFT_REREGISTRATION, Some(Fail)),
                    (DRIFT_REGISTRANT, Some(Pass)),
                    (DRIFT_NAMESERVERS, Some(Warn)),
                    (DRIFT_DNSSEC, Some(Pass)),
                ],
                ItemStatus::NonCompliant,
            )
        },
        case(
            "registrant changed",
            |e| {
                e.baseline = Some(baseline());
                record(e).registrant_organization = Some("Someone Else K.K.".into());
            },
            &[
                (DRIFT_REGISTRAR, Some(Pass)),
                (DRIFT_REREGISTRATION, Some(Pass)),
                (DRIFT_REGISTRANT, Some(Warn)),
                (DRIFT_NAMESERVERS, Some(Pass)),
                (DRIFT_DNSSEC, Some(Pass)),
            ],
            ItemStatus::NeedsReview,
        ),
        case(
            "DNSSEC state changed (secure to insecure)",
            |e| {
                e.baseline = Some(baseline());
                dnssec_status(e, DnssecStatus::Insecure);
                record(e).delegation_signed = Some(false);
            },
            &[
                (DNSSEC, Some(Info)),
                (DRIFT_REGISTRAR, Some(Pass)),
                (DRIFT_REREGISTRATION, Some(Pass)),
                (DRIFT_REGISTRANT, Some(Pass)),
                (DRIFT_NAMESERVERS, Some(Pass)),
                (DRIFT_DNSSEC, Some(Warn)),
            ],
            ItemStatus::NeedsReview,
        ),
        case(
            "registrar no longer shown",
            |e| {
                e.baseline = Some(baseline());
                record(e).registrar = None;
                record(e).registrar_iana_id = None;
            },
            &[
                (DRIFT_REGISTRAR, Some(Indeterminate)),
                (DRIFT_REREGISTRATION, Some(Pass)),
                (DRIFT_REGISTRANT, Some(Pass)),
                (DRIFT_NAMESERVERS, Some(Pass)),
                (DRIFT_DNSSEC, Some(Pass)),
            ],
            ItemStatus::Indeterminate,
        ),
        Case {
            also: |a| contains(message(a, DRIFT_REGISTRAR), &["new since the baseline"]),
            ..case(
                "domain absent from the baseline",
                |e| {
                    let mut before = baseline();
                    before.domains = vec![DomainSnapshot { name: "old-clinic.jp".into(), ..before.domains[0].clone() }];
                    e.baseline = Some(before);
                },
                ALL_DRIFT_INFO,
                ItemStatus::DeclarationNeeded,
            )
        },
        Case {
            also: |a| contains(message(a, DRIFT_NAMESERVERS), &["no domain survey"]),
            ..case(
                "baseline without a domain survey",
                |e| e.baseline = Some(Snapshot { surveyed: false, domains: Vec::new(), ..baseline() }),
                ALL_DRIFT_INFO,
                ItemStatus::DeclarationNeeded,
            )
        },
    ]
}

/// The three changes are three findings, each with the baseline's value and today's.
fn drift_before_after(assessment: &Assessment) {
    let registrar = finding(assessment, DRIFT_REGISTRAR, DOMAIN);
    let created = finding(assessment, DRIFT_REREGISTRATION, DOMAIN);
    let nameservers = finding(assessment, DRIFT_NAMESERVERS, DOMAIN);
    assert_eq!(registrar.evidence["before"], json!("Example Registrar (IANA 9999)"));
    assert_eq!(registrar.evidence["after"], json!("Other Registrar (IANA 1234)"));
    assert_eq!(nameservers.evidence["before"], json!(format!("{NS1}, {NS2}")));
    assert_eq!(nameservers.evidence["after"], json!("ns1.elsewhere.example, ns2.elsewhere.example"));
    let (before, after) = (&created.evidence["before"], &created.evidence["after"]);
    assert!(before.is_string() && after.is_string() && before != after, "{}", created.evidence);
    for f in [registrar, created, nameservers] {
        assert_eq!(f.evidence["baseline"], json!("baseline-2026.json"), "{}", f.check_id);
        assert!(f.evidence["baseline_at"].is_string(), "{}", f.check_id);
        assert_ne!(f.evidence["before"], f.evidence["after"], "{}", f.check_id);
    }
    contains(&registrar.message.en, &["Example Registrar (IANA 9999) → Other Registrar (IANA 1234)"]);
    contains(&created.message.en, &["re-registration"]);
}

/// What the healthy scan shows, with a case's changes applied.
fn expected(case: &Case) -> BTreeMap<(String, String), CheckStatus> {
    let mut out: BTreeMap<(String, String), CheckStatus> =
        DOMAIN_CHECKS.iter().map(|c| ((c.to_string(), subject_of(c).to_string()), Pass)).collect();
    for (check, status) in case.expect {
        let key = (check.to_string(), subject_of(check).to_string());
        match status {
            Some(status) => out.insert(key, *status),
            None => out.remove(&key),
        };
    }
    out
}

fn assess(case: &Case) -> Assessment {
    let mut evidence = healthy();
    (case.mutate)(&mut evidence);
    let profile = Profile::embedded();
    match case.thresholds {
        Some(domain_expiry) => {
            Assessment::evaluate_with(&profile, &evidence, JudgingOptions { domain_expiry, ..Default::default() })
        }
        None => Assessment::evaluate(&profile, &evidence),
    }
}

/// Every case of the table, reporting every mismatch at once.
#[test]
fn domain_and_drift_checks_judge_each_case() {
    let mut mismatches = Vec::new();
    for case in cases() {
        let assessment = assess(&case);
        let mut actual: BTreeMap<(String, String), CheckStatus> = BTreeMap::new();
        for f in assessment.findings.iter().filter(|f| f.item_id == ITEM) {
            let key = (f.check_id.clone(), f.endpoint.clone());
            if actual.insert(key.clone(), f.status).is_some() {
                mismatches.push(format!("{}: two findings for {key:?}", case.name));
            }
            if f.raised_from.is_some() {
                mismatches.push(format!("{}: {key:?} raised by the profile", case.name));
            }
        }
        let expected = expected(&case);
        if actual != expected {
            mismatches.push(format!("{}:\n  expected {expected:?}\n  actual   {actual:?}", case.name));
        }
        // Domain and drift checks belong to 2-1.xv alone (cert.caa and endpoint drift have no
        // endpoint here).
        for f in assessment.findings.iter().filter(|f| f.item_id != ITEM) {
            if f.check_id.starts_with("domain.") || f.check_id.starts_with("drift.") || f.check_id == "cert.caa" {
                mismatches.push(format!("{}: unexpected {} finding under {}", case.name, f.check_id, f.item_id));
            }
        }
        let item = assessment.item(ITEM).expect("item 2-1.xv").status;
        if item != case.item {
            mismatches.push(format!("{}: 2-1.xv is {item:?}, expected {:?}", case.name, case.item));
        }
        let fails = actual.values().any(|s| *s == Fail);
        let code = assessment.exit_code();
        if fails != (code == 1) {
            mismatches.push(format!("{}: exit code {code} with a failure: {fails}", case.name));
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// The per-case assertions on messages and evidence.
#[test]
fn findings_carry_their_reasons_and_evidence() {
    for case in cases() {
        eprintln!("case: {}", case.name);
        (case.also)(&assess(&case));
    }
}

/// The table itself: case names are unique, so a failure points at one case.
#[test]
fn case_names_are_unique() {
    let mut names: Vec<&str> = cases().iter().map(|c| c.name).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count);
}

/// A failing 2-1.xv makes the whole run exit 1, even when every other item is only 判定不能.
#[test]
fn a_domain_failure_sets_exit_code_1() {
    let mut evidence = healthy();
    expires_in(&mut evidence, -1);
    let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
    assert_eq!(assessment.item(ITEM).map(|v| v.status), Some(ItemStatus::NonCompliant));
    assert_eq!(assessment.exit_code(), 1);
    // Without the failure, the endpoint-less scan is 判定不能 (exit 3), never 0.
    let assessment = Assessment::evaluate(&Profile::embedded(), &healthy());
    assert_eq!(assessment.exit_code(), 3);
}

/// Drift checks say nothing without a baseline, even on a domain that changed in every way.
#[test]
fn no_baseline_no_drift_finding() {
    let mut evidence = healthy();
    record(&mut evidence).registrar = Some("Other Registrar".into());
    record(&mut evidence).created = Some(AT - DAY);
    let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
    for check in DRIFT_CHECKS {
        assert!(assessment.findings.iter().all(|f| f.check_id != check), "{check} reported without a baseline");
    }
}

/// The survey evidence and its baseline go through JSON unchanged, so a stored report
/// judges the same.
#[test]
fn survey_evidence_round_trips_through_json() {
    let mut evidence = healthy();
    evidence.baseline = Some(baseline());
    cname(&mut evidence, &["app.lapsed-cdn.com"], HostTerminal::NoData { name: "app.lapsed-cdn.com".into() });
    add_cname_target(&mut evidence, "lapsed-cdn.com", LookupAnswer::NotFound { raw: "404".into() });
    let text = serde_json::to_string(&evidence).expect("serialise");
    let back: ScanEvidence = serde_json::from_str(&text).expect("deserialise");
    assert_eq!(back, evidence);
    let (a, b) =
        (Assessment::evaluate(&Profile::embedded(), &evidence), Assessment::evaluate(&Profile::embedded(), &back));
    let statuses = |a: &Assessment| a.findings.iter().map(|f| (f.check_id.clone(), f.status)).collect::<Vec<_>>();
    assert_eq!(statuses(&a), statuses(&b));
    let value: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(value["domains"]["domains"][1]["role"], json!("cname_target"));
}

// ---------------------------------------------------------------------------------------
// Suspected defects: these state the behaviour the documentation promises and fail today.
// Run with `cargo test --test domain_checks -- --ignored`.
// ---------------------------------------------------------------------------------------

/// `drift::registrar` says "the IANA ID survives a renamed registrar", yet it compares the
/// name and the ID together, so a registrar that only changed its name (same IANA ID)
/// fails 2-1.xv as a transfer.
#[test]
fn a_renamed_registrar_with_the_same_iana_id_is_not_a_transfer() {
    let mut evidence = healthy();
    evidence.baseline = Some(baseline());
    record(&mut evidence).registrar = Some("Example Registrar, Inc. (new trade name)".into());
    let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
    assert_ne!(finding(&assessment, DRIFT_REGISTRAR, DOMAIN).status, Fail);
}

/// The same: the baseline came over RDAP (name and IANA ID), today's answer over WHOIS
/// (name only); the registrar is the same, but drift.registrar fails.
#[test]
fn the_same_registrar_without_its_iana_id_is_not_a_transfer() {
    let mut evidence = healthy();
    evidence.baseline = Some(baseline());
    record(&mut evidence).registrar_iana_id = None;
    let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
    assert_ne!(finding(&assessment, DRIFT_REGISTRAR, DOMAIN).status, Fail);
}

/// `domain.caa` is titled "CAA records restrict which CAs may issue", but a CAA set with
/// only `iodef` restricts nothing (RFC 8659: no issue property, any CA may issue) and still
/// passes; it should be judged like an absent CAA (warn).
#[test]
fn a_caa_set_without_issue_does_not_restrict_issuance() {
    let mut evidence = healthy();
    host(&mut evidence).caa.records = vec![caa_record(0, "iodef", "mailto:security@example-clinic.jp")];
    let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
    assert_eq!(finding(&assessment, CAA, HOST).status, Warn);
}

// ---------------------------------------------------------------------------------------
// Monitoring: domain changes between runs become events once
// ---------------------------------------------------------------------------------------

/// The kinds of the events `kensa monitor` raises going from `previous` (newest first) to
/// `current`, sorted.
fn monitor_events(current: &ScanEvidence, previous: &[&ScanEvidence]) -> Vec<String> {
    use kensa::monitor::diff::{changes, AlertSettings, RunView};
    let profile = Profile::embedded();
    let judge = |e: &ScanEvidence| Assessment::evaluate(&profile, e);
    let now = judge(current);
    let before: Vec<Assessment> = previous.iter().map(|e| judge(e)).collect();
    let views: Vec<RunView<'_>> =
        previous.iter().zip(&before).map(|(evidence, assessment)| RunView { evidence, assessment }).collect();
    let mut kinds: Vec<String> =
        changes(RunView { evidence: current, assessment: &now }, &views, &AlertSettings::default())
            .iter()
            .map(|e| format!("{}{}", e.kind_word(), e.check_id.as_ref().map(|c| format!(":{c}")).unwrap_or_default()))
            .collect();
    kinds.sort();
    kinds
}

#[test]
fn monitor_reports_each_domain_change_once() {
    let first = healthy();
    assert_eq!(monitor_events(&first, &[&first]), Vec::<String>::new(), "no change, no event");

    let mut moved = healthy();
    record(&mut moved).registrar = Some("Other Registrar".to_string());
    record(&mut moved).registrar_iana_id = Some("1234".to_string());
    assert_eq!(monitor_events(&moved, &[&first]), ["registrar_changed"]);
    assert_eq!(monitor_events(&moved, &[&moved, &first]), Vec::<String>::new(), "said once");

    let mut unlocked = moved.clone();
    record(&mut unlocked).statuses = names(&["active"]);
    let kinds = monitor_events(&unlocked, &[&moved]);
    assert!(kinds.contains(&"locks_changed".to_string()), "{kinds:?}");

    let mut expiring = moved.clone();
    expires_in(&mut expiring, 29);
    let kinds = monitor_events(&expiring, &[&moved]);
    assert!(kinds.contains(&"domain_expiry".to_string()), "{kinds:?}");
    assert!(
        kinds.contains(&"new_failure:domain.expiry".to_string()),
        "29 days is within the 30-day failure line: {kinds:?}"
    );
    let mut later = expiring.clone();
    expires_in(&mut later, 28);
    assert_eq!(monitor_events(&later, &[&expiring]), Vec::<String>::new(), "the 30-day line is crossed once");

    // A registry that did not answer this time is not a registrar change.
    let mut silent = moved.clone();
    set_answer(&mut silent, LookupAnswer::Failed { reason: "timeout".to_string() });
    let kinds = monitor_events(&silent, &[&moved]);
    assert!(!kinds.iter().any(|k| k.starts_with("registrar")), "{kinds:?}");
}
