//! The TLS posture an endpoint's evidence shows: per version, which suites the server
//! accepted and refused, whose order it follows, which groups it uses and how large its DHE
//! primes are; and the handshake facts (fallback SCSV, renegotiation, compression, extended
//! master secret, OCSP stapling, session tickets, ALPN).
//!
//! Pure functions of recorded hellos. The probe consults the same functions while it
//! enumerates (what is still untested? is the order settled?), so what it decides to send
//! and what the report concludes are one piece of logic.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::evidence::{EndpointEvidence, HelloExchange, HelloPurpose, HelloReply, TlsVersion};
use crate::wire::client_hello::{
    EXT_EXTENDED_MASTER_SECRET, EXT_RENEGOTIATION_INFO, EXT_SESSION_TICKET, EXT_STATUS_REQUEST,
};
use crate::wire::groups::{tls12_groups, tls13_groups};
use crate::wire::server_reply::{
    alert_name, ALERT_HANDSHAKE_FAILURE, ALERT_INAPPROPRIATE_FALLBACK, ALERT_INSUFFICIENT_SECURITY,
};
use crate::wire::suites::suites_for;

/// Whether a reply says "nothing you offered is acceptable" (so other offers may still be).
pub fn is_no_common_suite(reply: &HelloReply) -> bool {
    matches!(reply, HelloReply::Alert { description: ALERT_HANDSHAKE_FAILURE | ALERT_INSUFFICIENT_SECURITY, .. })
}

/// The suite the server picked in `exchange` at `version`, if it picked one it was offered.
pub fn pick(version: TlsVersion, exchange: &HelloExchange) -> Option<u16> {
    match &exchange.reply {
        HelloReply::ServerHello { version: spoken, cipher_suite, .. }
            if *spoken == version.wire() && exchange.offered_suites.contains(cipher_suite) =>
        {
            Some(*cipher_suite)
        }
        _ => None,
    }
}

/// Accepted and refused values (suites or groups) of one version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Values the server picked, in the order it first picked them.
    pub accepted: Vec<u16>,
    /// Values offered in a hello the server refused for want of a common one.
    pub refused: BTreeSet<u16>,
}

impl Ledger {
    fn accept(&mut self, value: u16) {
        if !self.accepted.contains(&value) {
            self.accepted.push(value);
        }
    }

    /// Candidates neither accepted nor refused, in candidate order.
    pub fn untested(&self, candidates: &[u16]) -> Vec<u16> {
        candidates.iter().copied().filter(|c| !self.accepted.contains(c) && !self.refused.contains(c)).collect()
    }
}

/// A hello refused outright: an alert saying nothing offered fits, or — once the version
/// is known to be accepted — a silent close or reset, which is how some servers say it.
fn is_refusal(reply: &HelloReply, version_accepted: bool) -> bool {
    is_no_common_suite(reply) || (version_accepted && matches!(reply, HelloReply::Closed | HelloReply::Reset))
}

/// The suites the hellos at `version` show.
pub fn suite_ledger(version: TlsVersion, exchanges: &[HelloExchange]) -> Ledger {
    let mut ledger = Ledger::default();
    for exchange in exchanges {
        if let Some(suite) = pick(version, exchange) {
            ledger.accept(suite);
        }
    }
    let accepted = !ledger.accepted.is_empty();
    for exchange in exchanges.iter().filter(|e| e.purpose == HelloPurpose::Suites) {
        if is_refusal(&exchange.reply, accepted) {
            ledger.refused.extend(exchange.offered_suites.iter().filter(|s| !ledger.accepted.contains(s)));
        }
    }
    ledger
}

/// The groups the hellos at `version` show: the group of every pick (TLS 1.3 key_share or
/// HelloRetryRequest; TLS 1.2 ECDHE curve), and the groups of refused group hellos.
pub fn group_ledger(version: TlsVersion, exchanges: &[HelloExchange]) -> Ledger {
    let mut ledger = Ledger::default();
    for exchange in exchanges {
        if let (Some(_), HelloReply::ServerHello { details, .. }) = (pick(version, exchange), &exchange.reply) {
            if let Some(group) = details.group.filter(|g| exchange.offered_groups.contains(g)) {
                ledger.accept(group);
            }
        }
    }
    for exchange in exchanges.iter().filter(|e| e.purpose == HelloPurpose::Groups) {
        if is_refusal(&exchange.reply, true) {
            ledger.refused.extend(exchange.offered_groups.iter().filter(|g| !ledger.accepted.contains(g)));
        }
    }
    ledger
}

/// The suites kensa offers at `version`: what completeness is measured against.
pub fn suite_candidates(version: TlsVersion) -> Vec<u16> {
    suites_for(version)
}

/// The groups kensa offers at `version`.
pub fn group_candidates(version: TlsVersion) -> Vec<u16> {
    match version {
        TlsVersion::Tls13 => tls13_groups(),
        _ => tls12_groups(),
    }
}

/// Whose cipher-suite order the server follows at one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Preference {
    /// The server imposes its own order. `order` lists the accepted suites most preferred
    /// first; `complete` is false when some suites were never offered side by side, so their
    /// relative rank is not known (they are listed in the order found).
    Server { order: Vec<u16>, complete: bool },
    /// The server takes the first suite of the client's list that it accepts.
    Client,
    /// Fewer than two suites accepted: there is no order to follow.
    Single,
    /// The picks fit both explanations; no hello told them apart.
    Undetermined,
    /// The picks fit neither (a load balancer with differently configured backends?).
    Inconsistent,
}

impl Preference {
    /// Whether a further hello could tell server order from client order.
    pub fn is_open(&self) -> bool {
        matches!(self, Preference::Undetermined)
    }
}

/// Decides whose order the picks at `version` follow, given the accepted suites.
///
/// A server honouring the client's order picks the first accepted suite of each hello; a
/// server with its own order picks its favourite, so each pick ranks above every other
/// accepted suite offered with it. The first is refuted by any other pick, the second by
/// a cycle in those rankings.
pub fn preference(version: TlsVersion, exchanges: &[HelloExchange], accepted: &[u16]) -> Preference {
    if accepted.len() < 2 {
        return Preference::Single;
    }
    let picks: Vec<(Vec<u16>, u16)> = exchanges
        .iter()
        .filter_map(|e| {
            let chosen = pick(version, e)?;
            let offered: Vec<u16> = e.offered_suites.iter().copied().filter(|s| accepted.contains(s)).collect();
            Some((offered, chosen))
        })
        .collect();
    let client_order = picks.iter().all(|(offered, chosen)| offered.first() == Some(chosen));
    let mut beats: BTreeMap<u16, BTreeSet<u16>> = BTreeMap::new();
    for (offered, chosen) in &picks {
        for other in offered.iter().filter(|s| *s != chosen) {
            beats.entry(*chosen).or_default().insert(*other);
        }
    }
    let server_order = rank(accepted, &beats);
    match (client_order, server_order) {
        (true, Some(_)) => Preference::Undetermined,
        (true, None) => Preference::Client,
        (false, Some((order, complete))) => Preference::Server { order, complete },
        (false, None) => Preference::Inconsistent,
    }
}

/// A total order of `items` consistent with `beats` (Kahn's algorithm, ties broken by the
/// order of `items`), and whether it is the only one; `None` if `beats` has a cycle.
fn rank(items: &[u16], beats: &BTreeMap<u16, BTreeSet<u16>>) -> Option<(Vec<u16>, bool)> {
    let mut beaten_by: BTreeMap<u16, usize> = items.iter().map(|i| (*i, 0)).collect();
    for losers in beats.values() {
        for loser in losers {
            if let Some(count) = beaten_by.get_mut(loser) {
                *count += 1;
            }
        }
    }
    let mut order = Vec::with_capacity(items.len());
    let mut unique = true;
    let mut placed: BTreeSet<u16> = BTreeSet::new();
    while order.len() < items.len() {
        let ready: Vec<u16> =
            items.iter().copied().filter(|i| !placed.contains(i) && beaten_by.get(i) == Some(&0)).collect();
        let next = *ready.first()?;
        unique &= ready.len() == 1;
        placed.insert(next);
        order.push(next);
        for loser in beats.get(&next).into_iter().flatten() {
            if let Some(count) = beaten_by.get_mut(loser) {
                *count = count.saturating_sub(1);
            }
        }
    }
    Some((order, unique))
}

/// What the evidence shows about one accepted version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionPosture {
    pub version: TlsVersion,
    /// Accepted suites, in the order found.
    pub accepted: Vec<u16>,
    /// Offered suites never accepted nor refused (enumeration stopped, or minimal mode).
    pub untested: usize,
    pub preference: Preference,
    /// Groups (TLS 1.3, and TLS 1.2 when an ECDHE suite was accepted), in the order found.
    pub groups: Option<GroupPosture>,
    /// DHE prime sizes seen, per suite.
    pub dh_bits: Vec<(u16, u32)>,
}

impl VersionPosture {
    /// Every offered suite was either accepted or refused.
    pub fn complete(&self) -> bool {
        self.untested == 0
    }
}

/// The groups of one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupPosture {
    pub accepted: Vec<u16>,
    /// Offered groups never accepted nor refused.
    pub untested: usize,
}

/// The posture of every version at which the endpoint picked a suite in a hand-built hello
/// (SSLv2, which has no suites of this kind, excluded).
pub fn versions(endpoint: &EndpointEvidence) -> Vec<VersionPosture> {
    let mut out = Vec::new();
    for attempt in &endpoint.hand_built {
        if attempt.version == TlsVersion::Ssl2 {
            continue;
        }
        let version = attempt.version;
        let suites = suite_ledger(version, &attempt.exchanges);
        if suites.accepted.is_empty() {
            continue;
        }
        let untested = suites.untested(&suite_candidates(version)).len();
        let preference = preference(version, &attempt.exchanges, &suites.accepted);
        let ecdhe = suites.accepted.iter().any(|s| crate::suite_class::classify(*s).ephemeral_ec);
        let groups = (version == TlsVersion::Tls13 || (version == TlsVersion::Tls12 && ecdhe)).then(|| {
            let ledger = group_ledger(version, &attempt.exchanges);
            let untested = ledger.untested(&group_candidates(version)).len();
            GroupPosture { accepted: ledger.accepted, untested }
        });
        let mut dh_bits: Vec<(u16, u32)> = attempt
            .exchanges
            .iter()
            .filter_map(|e| match (&e.reply, pick(version, e)) {
                (HelloReply::ServerHello { details, .. }, Some(suite)) => details.dh_bits.map(|bits| (suite, bits)),
                _ => None,
            })
            .collect();
        dh_bits.sort_unstable();
        dh_bits.dedup();
        out.push(VersionPosture { version, accepted: suites.accepted, untested, preference, groups, dh_bits });
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.version));
    out
}

/// A yes/no fact about the handshake, or why it is not known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Fact {
    Yes(String),
    No(String),
    Unknown(String),
    NotApplicable(String),
}

/// Handshake behaviour beyond versions and suites.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandshakeFacts {
    /// The server refuses a downgraded hello carrying TLS_FALLBACK_SCSV (RFC 7507).
    pub fallback_scsv: Fact,
    /// The server supports secure renegotiation (RFC 5746).
    pub secure_renegotiation: Fact,
    /// The server agreed to TLS compression (CRIME).
    pub compression: Fact,
    /// The server supports the extended master secret (RFC 7627).
    pub extended_master_secret: Fact,
    /// The server staples an OCSP response.
    pub ocsp_stapling: Fact,
    /// The server offers TLS 1.2 session tickets (RFC 5077).
    pub session_tickets: Fact,
    /// ALPN protocols the server selected (kensa offers h2 and http/1.1).
    pub alpn: Vec<String>,
}

/// The TLS 1.2-and-older ServerHellos (not SSLv2), with the hello that drew each.
fn classic_hellos(endpoint: &EndpointEvidence) -> Vec<(&HelloExchange, &crate::evidence::HelloDetails)> {
    endpoint
        .hand_built
        .iter()
        .flat_map(|a| &a.exchanges)
        .filter_map(|e| match &e.reply {
            HelloReply::ServerHello { version: 0x0300..=0x0303, details, .. } if !details.retry_request => {
                Some((e, details))
            }
            _ => None,
        })
        .collect()
}

/// Whether the server echoed extension `typ` in the hellos that offered it.
fn echoed(hellos: &[(&HelloExchange, &crate::evidence::HelloDetails)], typ: u16, what: &str) -> Fact {
    let asked: Vec<_> = hellos.iter().filter(|(e, _)| e.offered_extensions.contains(&typ)).collect();
    let answered = asked.iter().filter(|(_, d)| d.extensions.contains(&typ)).count();
    match (asked.len(), answered) {
        (0, _) => Fact::Unknown(format!("no TLS 1.2-or-older hello asked for {what}")),
        (n, 0) => Fact::No(format!("absent from {n} ServerHello(s) that were asked")),
        (n, k) => Fact::Yes(format!("in {k} of {n} ServerHello(s) that were asked")),
    }
}

/// The handshake facts of one endpoint.
pub fn handshake_facts(endpoint: &EndpointEvidence) -> HandshakeFacts {
    let hellos = classic_hellos(endpoint);
    let only_tls13 = hellos.is_empty();
    let not_applicable = || Fact::NotApplicable("no TLS 1.2-or-older handshake".to_string());

    let fallback_scsv = endpoint
        .hand_built
        .iter()
        .flat_map(|a| a.exchanges.iter().map(move |e| (a.version, e)))
        .find(|(_, e)| e.purpose == HelloPurpose::Fallback)
        .map(|(version, e)| match &e.reply {
            HelloReply::Alert { description: ALERT_INAPPROPRIATE_FALLBACK, .. } => {
                Fact::Yes(format!("a {} hello with the SCSV was refused with inappropriate_fallback", version.name()))
            }
            HelloReply::ServerHello { details, .. } if details.downgrade_sentinel => Fact::No(format!(
                "a {} hello with the SCSV was accepted; the server marks such downgrades with the TLS 1.3 \
                 sentinel (RFC 8446 §4.1.3), which protects TLS 1.3 clients only",
                version.name()
            )),
            HelloReply::ServerHello { .. } => {
                Fact::No(format!("a {} hello with the SCSV was accepted", version.name()))
            }
            HelloReply::Alert { description, .. } => {
                Fact::Unknown(format!("answered with alert {}", alert_name(*description)))
            }
            other => Fact::Unknown(format!("no usable answer ({other:?})")),
        })
        .unwrap_or_else(|| Fact::NotApplicable("not tested: needs two accepted versions (full mode)".to_string()));

    let secure_renegotiation = if only_tls13 {
        not_applicable()
    } else {
        let with = hellos.iter().filter(|(_, d)| d.extensions.contains(&EXT_RENEGOTIATION_INFO)).count();
        if with > 0 {
            Fact::Yes(format!("renegotiation_info in {with} of {} ServerHello(s)", hellos.len()))
        } else {
            Fact::No(format!("no renegotiation_info in {} ServerHello(s)", hellos.len()))
        }
    };

    let compression = if only_tls13 {
        not_applicable()
    } else {
        let asked: Vec<_> = hellos.iter().filter(|(e, _)| !e.offered_compression.is_empty()).collect();
        let compressed: Vec<u8> =
            asked.iter().map(|(_, d)| d.compression).filter(|c| *c != 0).collect::<BTreeSet<_>>().into_iter().collect();
        match (asked.len(), compressed.first()) {
            (0, _) => Fact::Unknown("compression was not offered (minimal mode)".to_string()),
            (_, Some(method)) => Fact::Yes(format!("the server chose compression method {method}")),
            (n, None) => Fact::No(format!("no compression in {n} ServerHello(s) offered DEFLATE")),
        }
    };

    let extended_master_secret = if only_tls13 {
        not_applicable()
    } else {
        echoed(&hellos, EXT_EXTENDED_MASTER_SECRET, "the extended master secret")
    };

    let rustls_staple = endpoint.modern.iter().filter_map(|a| a.session.as_ref()).any(|s| s.ocsp_response.is_some());
    let ocsp_stapling = {
        let asked: Vec<_> = hellos.iter().filter(|(e, _)| e.offered_extensions.contains(&EXT_STATUS_REQUEST)).collect();
        let stapled = asked.iter().filter(|(_, d)| d.ocsp_stapled).count();
        let completed = endpoint.modern.iter().filter(|a| a.session.is_some()).count();
        if rustls_staple || stapled > 0 {
            Fact::Yes("a CertificateStatus was sent".to_string())
        } else if asked.is_empty() && completed == 0 {
            Fact::Unknown("no handshake asked for a stapled response".to_string())
        } else {
            Fact::No(format!("no stapled response in {} handshake(s) that asked", asked.len() + completed))
        }
    };

    let session_tickets =
        if only_tls13 { not_applicable() } else { echoed(&hellos, EXT_SESSION_TICKET, "session tickets") };

    let mut alpn: Vec<String> = hellos
        .iter()
        .filter_map(|(_, d)| d.alpn.clone())
        .chain(endpoint.modern.iter().filter_map(|a| a.session.as_ref()?.alpn.clone()))
        .collect();
    alpn.sort();
    alpn.dedup();

    HandshakeFacts {
        fallback_scsv,
        secure_renegotiation,
        compression,
        extended_master_secret,
        ocsp_stapling,
        session_tickets,
        alpn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::HelloDetails;

    fn hello(purpose: HelloPurpose, offered: &[u16], reply: HelloReply) -> HelloExchange {
        let mut e = HelloExchange::new(purpose, reply);
        e.offered_suites = offered.to_vec();
        e
    }

    fn picked(suite: u16) -> HelloReply {
        HelloReply::ServerHello {
            version: 0x0303,
            cipher_suite: suite,
            chain: vec![],
            details: HelloDetails::default(),
        }
    }

    fn refused() -> HelloReply {
        HelloReply::Alert { level: 2, description: 40 }
    }

    const V: TlsVersion = TlsVersion::Tls12;

    #[test]
    fn ledger_counts_picks_and_refusals() {
        let exchanges = vec![
            hello(HelloPurpose::Suites, &[1, 2, 3], picked(2)),
            hello(HelloPurpose::Suites, &[1, 3], picked(1)),
            hello(HelloPurpose::Suites, &[3], refused()),
            // A group hello's refusal says nothing about suites; a pick of something not
            // offered is no pick at all.
            hello(HelloPurpose::Groups, &[4], refused()),
            hello(HelloPurpose::Suites, &[5], picked(6)),
        ];
        let ledger = suite_ledger(V, &exchanges);
        assert_eq!(ledger.accepted, vec![2, 1]);
        assert_eq!(ledger.refused, BTreeSet::from([3]));
        assert_eq!(ledger.untested(&[1, 2, 3, 4, 5]), vec![4, 5]);
        // Picks at another version do not count.
        assert!(suite_ledger(TlsVersion::Tls11, &exchanges).accepted.is_empty());
    }

    #[test]
    fn silent_close_refuses_only_once_the_version_is_accepted() {
        let closed = vec![hello(HelloPurpose::Suites, &[1], HelloReply::Closed)];
        assert!(suite_ledger(V, &closed).refused.is_empty());
        let mut with_pick = closed.clone();
        with_pick.push(hello(HelloPurpose::Suites, &[2], picked(2)));
        assert_eq!(suite_ledger(V, &with_pick).refused, BTreeSet::from([1]));
    }

    #[test]
    fn client_order_server_order_and_undetermined() {
        // Picks always the first accepted suite offered, and a reversed hello confirms it.
        let client = vec![
            hello(HelloPurpose::Suites, &[1, 2, 3], picked(1)),
            hello(HelloPurpose::Suites, &[2, 3], picked(2)),
            hello(HelloPurpose::Preference, &[3, 2, 1], picked(3)),
        ];
        assert_eq!(preference(V, &client, &[1, 2, 3]), Preference::Client);
        // Without the reversed hello, its own order could be 1 > 2 > 3 as well.
        assert_eq!(preference(V, &client[..2], &[1, 2, 3]), Preference::Undetermined);
        // Picks 3 although 1 came first: its own order, fully ranked.
        let server =
            vec![hello(HelloPurpose::Suites, &[1, 2, 3], picked(3)), hello(HelloPurpose::Suites, &[1, 2], picked(1))];
        assert_eq!(preference(V, &server, &[3, 1, 2]), Preference::Server { order: vec![3, 1, 2], complete: true });
        // Suites never offered together cannot be ranked against each other.
        let split = vec![
            hello(HelloPurpose::Suites, &[1, 2], picked(2)),
            hello(HelloPurpose::Suites, &[1], picked(1)),
            hello(HelloPurpose::Suites, &[3], picked(3)),
        ];
        assert!(matches!(preference(V, &split, &[2, 1, 3]), Preference::Server { complete: false, .. }));
        // 2 over 1, then 1 over 2: no single order explains it.
        let flapping =
            vec![hello(HelloPurpose::Suites, &[1, 2], picked(2)), hello(HelloPurpose::Preference, &[2, 1], picked(1))];
        assert_eq!(preference(V, &flapping, &[2, 1]), Preference::Inconsistent);
        assert_eq!(preference(V, &client, &[1]), Preference::Single);
    }
}
