//! WHOIS: every fixture in `fixtures/whois/` read field by field (JPRS in Japanese and
//! English, ISO-2022-JP, the ICANN layout), answers kensa must not guess at, the client
//! against a loopback WHOIS server (referrals, IANA fallback) and hostile servers, and the
//! public suffix list cases the survey relies on.

use std::path::Path;
use std::time::Duration;

use kensa::domain::psl::{special_use, PublicSuffixList};
use kensa::domain::whois::{lookup, lookup_with_iana, WhoisServer as Server};
use kensa::domain::whois_text::{decode, parse_answer};
use kensa::evidence::domain::{
    LookupAnswer, RegistrationEvidence, RegistrationLookup, RegistrationRecord, RegistrationSource,
};
use kensa::testkit::whois::{Hostile, WhoisServer};
use time::macros::datetime;

const TIMEOUT: Duration = Duration::from_secs(2);
/// Short enough to keep the hostile tests quick, long enough for a loopback answer.
const SHORT: Duration = Duration::from_millis(400);

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/whois").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(name: &str) -> String {
    decode(&fixture(name)).0
}

fn unix(at: time::OffsetDateTime) -> Option<u64> {
    u64::try_from(at.unix_timestamp()).ok()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn found(answer: &LookupAnswer) -> &RegistrationRecord {
    match answer {
        LookupAnswer::Found { record, .. } => record,
        other => panic!("expected a record, got {other:?}"),
    }
}

fn parsed(domain: &str, name: &str) -> RegistrationRecord {
    found(&parse_answer(domain, &text(name))).clone()
}

fn google_jp(registrant: &str) -> RegistrationRecord {
    RegistrationRecord {
        domain: "google.jp".into(),
        registrar: None,
        registrar_iana_id: None,
        registrant_organization: Some(registrant.into()),
        created: unix(datetime!(2005-05-30 0:00 +9)),
        expires: unix(datetime!(2026-05-31 0:00 +9)),
        updated: unix(datetime!(2025-06-01 01:05:04 +9)),
        transferred: None,
        statuses: strings(&["Active"]),
        locks: strings(&["DomainTransferLocked", "AgentChangeLocked"]),
        nameservers: strings(&["ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"]),
        delegation_signed: Some(false),
        ds: vec![],
        redacted: vec![],
    }
}

fn yahoo_co_jp(organisation: &str) -> RegistrationRecord {
    RegistrationRecord {
        domain: "yahoo.co.jp".into(),
        registrant_organization: Some(organisation.into()),
        created: unix(datetime!(2019-09-27 0:00 +9)),
        expires: unix(datetime!(2025-09-30 0:00 +9)),
        updated: unix(datetime!(2024-10-01 01:00:44 +9)),
        statuses: strings(&["Connected (2025/09/30)"]),
        locks: strings(&["AgentChangeLocked"]),
        nameservers: strings(&["ns01.yahoo.co.jp", "ns02.yahoo.co.jp", "ns11.yahoo.co.jp", "ns12.yahoo.co.jp"]),
        delegation_signed: Some(false),
        ..RegistrationRecord::default()
    }
}

fn jprs_co_jp(organisation: &str) -> RegistrationRecord {
    RegistrationRecord {
        domain: "jprs.co.jp".into(),
        registrant_organization: Some(organisation.into()),
        created: unix(datetime!(2001-01-22 0:00 +9)),
        expires: unix(datetime!(2027-01-31 0:00 +9)),
        updated: unix(datetime!(2026-02-01 01:02:04 +9)),
        statuses: strings(&["Connected (2027/01/31)"]),
        locks: strings(&["AgentChangeLocked"]),
        nameservers: strings(&["ns1.jprs.co.jp", "ns2.jprs.co.jp"]),
        delegation_signed: Some(true),
        ds: strings(&["63574 8 2 5D5518EC26E3D8EED9411BA2373A0B9D"]),
        ..RegistrationRecord::default()
    }
}

const GOOGLE_COM_STATUSES: [&str; 6] = [
    "clientDeleteProhibited",
    "clientTransferProhibited",
    "clientUpdateProhibited",
    "serverDeleteProhibited",
    "serverTransferProhibited",
    "serverUpdateProhibited",
];

fn google_com_thin() -> RegistrationRecord {
    RegistrationRecord {
        domain: "google.com".into(),
        registrar: Some("MarkMonitor Inc.".into()),
        registrar_iana_id: Some("292".into()),
        created: unix(datetime!(1997-09-15 04:00 UTC)),
        expires: unix(datetime!(2028-09-14 04:00 UTC)),
        updated: unix(datetime!(2019-09-09 15:39:04 UTC)),
        statuses: strings(&GOOGLE_COM_STATUSES),
        nameservers: strings(&["ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com"]),
        delegation_signed: Some(false),
        ..RegistrationRecord::default()
    }
}

fn google_com_thick() -> RegistrationRecord {
    RegistrationRecord {
        registrar: Some("MarkMonitor, Inc.".into()),
        registrant_organization: Some("Google LLC".into()),
        created: unix(datetime!(1997-09-15 07:00 UTC)),
        expires: unix(datetime!(2028-09-13 07:00 UTC)),
        updated: unix(datetime!(2024-08-02 02:17:33 UTC)),
        ..google_com_thin()
    }
}

// ---- the parsers on the fixtures ---------------------------------------------------------

#[test]
fn jprs_general_use_in_japanese() {
    // 登録者名 comes first in a Japanese answer, so it is the one kept.
    assert_eq!(parsed("google.jp", "jprs-general-google.jp.txt"), google_jp("Google LLC"));
    // The name may be asked in any case, with a trailing dot.
    assert_eq!(parsed("GOOGLE.JP.", "jprs-general-google.jp.txt"), google_jp("Google LLC"));
}

#[test]
fn jprs_general_use_in_english() {
    assert_eq!(parsed("google.jp", "jprs-general-google.jp-e.txt"), google_jp("Google LLC"));
}

#[test]
fn jprs_organisational_in_japanese() {
    // 組織名 (Japanese) comes before g. [Organization] and wins.
    assert_eq!(parsed("yahoo.co.jp", "jprs-organization-yahoo.co.jp.txt"), yahoo_co_jp("LINEヤフー株式会社"));
    assert_eq!(parsed("jprs.co.jp", "jprs-organization-jprs.co.jp.txt"), jprs_co_jp("株式会社日本レジストリサービス"));
}

#[test]
fn jprs_organisational_in_english() {
    assert_eq!(parsed("yahoo.co.jp", "jprs-organization-yahoo.co.jp-e.txt"), yahoo_co_jp("LY Corporation"));
    assert_eq!(
        parsed("jprs.co.jp", "jprs-organization-jprs.co.jp-e.txt"),
        jprs_co_jp("Japan Registry Services Co.,Ltd.")
    );
}

#[test]
fn jprs_expiring_and_unlocked() {
    let expiring = parsed("kensa-expiring.jp", "jprs-general-expiring.jp.txt");
    assert_eq!(
        expiring,
        RegistrationRecord {
            domain: "kensa-expiring.jp".into(),
            registrant_organization: Some("Kensa Test Clinic".into()),
            created: unix(datetime!(2016-06-15 0:00 +9)),
            expires: unix(datetime!(2026-06-15 0:00 +9)),
            updated: unix(datetime!(2025-06-01 01:05:04 +9)),
            statuses: strings(&["Active"]),
            locks: strings(&["DomainTransferLocked", "AgentChangeLocked"]),
            nameservers: strings(&["ns1.kensa-expiring.jp", "ns2.kensa-expiring.jp"]),
            delegation_signed: Some(false),
            ..RegistrationRecord::default()
        }
    );
    // Judged against a fixed day, never today: 14 days left on 2026-06-01 JST.
    let now = unix(datetime!(2026-06-01 0:00 +9)).unwrap_or_default();
    let left = expiring.expires.unwrap_or_default().saturating_sub(now);
    assert_eq!(left, 14 * 86_400);

    let unlocked = parsed("kensa-unlocked.jp", "jprs-general-unlocked.jp.txt");
    assert!(unlocked.locks.is_empty());
    assert_eq!(unlocked.expires, unix(datetime!(2027-03-31 0:00 +9)));
    assert_eq!(unlocked.statuses, strings(&["Active"]));
}

#[test]
fn iso_2022_jp_answer_decodes_to_the_utf8_one() {
    let bytes = fixture("jprs-general-google.jp.iso2022jp.txt");
    assert!(bytes.is_ascii() && bytes.contains(&0x1b), "the fixture is 7-bit with escapes");
    let (decoded, encoding) = decode(&bytes);
    assert_eq!(encoding, "iso-2022-jp");
    assert_eq!(decoded, text("jprs-general-google.jp.txt"));
    assert_eq!(found(&parse_answer("google.jp", &decoded)), &google_jp("Google LLC"));
    assert_eq!(decode(&fixture("jprs-general-google.jp.txt")).1, "utf-8");
}

#[test]
fn icann_thin_and_thick() {
    assert_eq!(parsed("google.com", "verisign-thin-google.com.txt"), google_com_thin());
    assert_eq!(parsed("google.com", "markmonitor-thick-google.com.txt"), google_com_thick());
}

#[test]
fn not_registered() {
    let raw = text("jprs-no-match.txt");
    assert_eq!(parse_answer("kensa-not-registered.jp", &raw), LookupAnswer::NotFound { raw: raw.clone() });
    for raw in [
        "No match for \"KENSA-NOT-REGISTERED.COM\".\r\n>>> Last update of whois database: 2026-11-23T00:00:00Z <<<\r\n",
        "NOT FOUND\n",
        "No Data Found\n",
        "Domain not found.\n",
    ] {
        assert_eq!(
            parse_answer("kensa-not-registered.com", raw),
            LookupAnswer::NotFound { raw: raw.to_string() },
            "{raw}"
        );
    }
}

#[test]
fn nothing_is_guessed() {
    let unparsed = |domain: &str, raw: &str| match parse_answer(domain, raw) {
        LookupAnswer::Unparsed { reason, raw: kept } => {
            assert_eq!(kept, raw, "the raw answer is kept whole");
            reason
        }
        other => panic!("expected Unparsed for {raw:?}, got {other:?}"),
    };
    let garbage = "SSH-2.0-OpenSSH_9.2\r\n\u{fffd}\u{fffd} random words: here\r\n";
    assert_eq!(unparsed("example-clinic.jp", garbage), "the answer names no domain");
    assert_eq!(unparsed("example-clinic.com", "lorem ipsum\n"), "the answer is in no layout kensa reads");
    // A real answer, but about another name: not the queried domain's record.
    let other = unparsed("google.co.jp", &text("jprs-general-google.jp.txt"));
    assert_eq!(other, "the answer is about google.jp, not google.co.jp");
    // The domain alone, with no fact about it.
    let bare = unparsed("google.com", "Domain Name: GOOGLE.COM\r\nRegistrar URL: http://x\r\n");
    assert!(bare.contains("no registration fact"), "{bare}");
    // Rate limits say so.
    for raw in
        ["WHOIS LIMIT EXCEEDED - SEE WWW.PIR.ORG/WHOIS FOR DETAILS\r\n", "Query rate limit reached, retry later\n"]
    {
        assert!(unparsed("example.org", raw).contains("rate limited"), "{raw}");
    }
    assert_eq!(unparsed("example.jp", " \r\n"), "the answer is empty");
}

// ---- the client against loopback servers -------------------------------------------------

fn only(lookups: &[RegistrationLookup]) -> &RegistrationLookup {
    assert_eq!(lookups.len(), 1, "{lookups:#?}");
    &lookups[0]
}

#[tokio::test]
async fn jp_lookup_sends_the_plain_name_and_reads_the_answer() {
    let server = WhoisServer::new()
        .answer("google.jp", fixture("jprs-general-google.jp.txt"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("Google.JP.", Some(&server.target()), TIMEOUT).await;
    let first = only(&lookups);
    assert_eq!(first.source, RegistrationSource::Whois);
    assert_eq!(first.server, format!("127.0.0.1:{}", server.addr().port()));
    assert_eq!(first.query, "google.jp");
    assert!(first.at > 1_700_000_000);
    assert_eq!(found(&first.answer), &google_jp("Google LLC"));
    assert_eq!(server.queries(), strings(&["google.jp"]));
}

#[tokio::test]
async fn iso_2022_jp_over_the_wire() {
    let server = WhoisServer::new()
        .answer("google.jp", fixture("jprs-general-google.jp.iso2022jp.txt"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("google.jp", Some(&server.target()), TIMEOUT).await;
    let LookupAnswer::Found { record, raw } = &only(&lookups).answer else { panic!("{lookups:?}") };
    assert_eq!(record, &google_jp("Google LLC"));
    assert!(raw.contains("[登録者名]"), "the raw answer is kept decoded");
}

#[tokio::test]
async fn not_registered_over_the_wire() {
    let server = WhoisServer::new().start().await.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("kensa-not-registered.com", Some(&server.target()), TIMEOUT).await;
    assert!(matches!(only(&lookups).answer, LookupAnswer::NotFound { .. }), "{lookups:?}");
}

#[tokio::test]
async fn thin_registry_referral_is_followed_once() {
    let registrar = WhoisServer::new()
        .answer("google.com", fixture("markmonitor-thick-google.com.txt"))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The registry's answer points at the loopback registrar; the registrar's own answer
    // names whois.markmonitor.com again, which must not be asked.
    let thin = text("verisign-thin-google.com.txt")
        .replace("whois.markmonitor.com", &format!("127.0.0.1:{}", registrar.addr().port()));
    let registry = WhoisServer::new().answer("google.com", thin).start().await.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("google.com", Some(&registry.target()), TIMEOUT).await;
    assert_eq!(lookups.len(), 2, "{lookups:#?}");
    assert_eq!(lookups[0].server, registry.target().to_string());
    assert_eq!(found(&lookups[0].answer), &google_com_thin());
    assert_eq!(lookups[1].server, registrar.target().to_string());
    assert_eq!(lookups[1].query, "google.com");
    assert_eq!(found(&lookups[1].answer), &google_com_thick());
    assert_eq!(registry.queries(), strings(&["google.com"]));
    assert_eq!(registrar.queries(), strings(&["google.com"]));
    // The registrar's answer is the one that counts.
    let evidence = RegistrationEvidence { lookups };
    assert_eq!(evidence.record(), Some(&google_com_thick()));
}

#[tokio::test]
async fn a_failing_registrar_leaves_the_registry_answer_decisive() {
    let dead = dead_port().await;
    let thin = text("verisign-thin-google.com.txt").replace("whois.markmonitor.com", &format!("127.0.0.1:{dead}"));
    let registry = WhoisServer::new().answer("google.com", thin).start().await.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("google.com", Some(&registry.target()), TIMEOUT).await;
    assert_eq!(lookups.len(), 2);
    assert!(matches!(&lookups[1].answer, LookupAnswer::Failed { reason } if reason.contains("cannot connect")));
    assert_eq!(RegistrationEvidence { lookups }.record(), Some(&google_com_thin()));
}

#[tokio::test]
async fn unknown_tld_asks_iana_then_the_named_server() {
    let registry = WhoisServer::new()
        .answer(
            "kensa-clinic.zzzunknown",
            b"Domain Name: KENSA-CLINIC.ZZZUNKNOWN\r\nCreation Date: 2020-01-02T03:04:05Z\r\n".to_vec(),
        )
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let iana_text = format!(
        "% IANA WHOIS server\r\n\r\ndomain:       ZZZUNKNOWN\r\n\r\nwhois:        127.0.0.1:{}\r\n",
        registry.addr().port()
    );
    let iana = WhoisServer::new().answer("zzzunknown", iana_text).start().await.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup_with_iana("kensa-clinic.zzzunknown", None, &iana.target(), TIMEOUT).await;
    assert_eq!(lookups.len(), 2, "{lookups:#?}");
    assert_eq!(lookups[0].query, "zzzunknown");
    assert!(matches!(&lookups[0].answer, LookupAnswer::Unparsed { reason, .. } if reason.contains("IANA's referral")));
    assert_eq!(found(&lookups[1].answer).created, unix(datetime!(2020-01-02 03:04:05 UTC)));

    // IANA naming no server ends the lookup there.
    let silent_iana = WhoisServer::new().fallback(b"% IANA WHOIS server\r\ndomain: X\r\n".to_vec()).start().await;
    let silent_iana = silent_iana.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup_with_iana("kensa-clinic.zzzother", None, &silent_iana.target(), TIMEOUT).await;
    assert!(
        matches!(&only(&lookups).answer, LookupAnswer::Unparsed { reason, .. } if reason.contains("names no WHOIS server"))
    );
}

#[tokio::test]
async fn a_query_line_cannot_be_smuggled() {
    let server = WhoisServer::new().start().await.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("a.jp\r\nother.jp", Some(&server.target()), TIMEOUT).await;
    assert!(matches!(&only(&lookups).answer, LookupAnswer::Failed { .. }));
    assert!(server.queries().is_empty());
}

// ---- hostile servers ---------------------------------------------------------------------

async fn hostile_reason(behaviour: Hostile, timeout: Duration) -> String {
    let server = WhoisServer::new().hostile(behaviour).start().await.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("google.jp", Some(&server.target()), timeout).await;
    match &only(&lookups).answer {
        LookupAnswer::Failed { reason } => reason.clone(),
        other => panic!("{behaviour:?}: expected Failed, got {other:?}"),
    }
}

/// A loopback port nothing listens on.
async fn dead_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn endless_and_huge_answers_hit_the_size_cap() {
    assert_eq!(hostile_reason(Hostile::Endless, TIMEOUT).await, "answer exceeded 256 KiB");
    assert_eq!(hostile_reason(Hostile::Huge { size: 300 * 1024 }, TIMEOUT).await, "answer exceeded 256 KiB");
    // Just under the cap is read whole, and then not understood.
    let server = WhoisServer::new().hostile(Hostile::Huge { size: 200 * 1024 }).start().await;
    let server = server.unwrap_or_else(|e| panic!("{e}"));
    let lookups = lookup("google.jp", Some(&server.target()), TIMEOUT).await;
    assert!(matches!(&only(&lookups).answer, LookupAnswer::Unparsed { raw, .. } if raw.len() == 200 * 1024));
}

#[tokio::test]
async fn a_tarpit_ends_at_the_deadline() {
    let reason = hostile_reason(Hostile::Tarpit, SHORT).await;
    assert!(reason.ends_with("sent no answer within 400 ms"), "{reason}");
}

#[tokio::test]
async fn a_trickle_ends_at_the_deadline() {
    let reason = hostile_reason(Hostile::Trickle { interval: Duration::from_millis(100) }, SHORT).await;
    assert!(reason.contains("bytes but not finished its answer within 400 ms"), "{reason}");
}

#[tokio::test]
async fn closes_resets_and_refusals_fail_clearly() {
    let closed = hostile_reason(Hostile::Close, TIMEOUT).await;
    assert!(closed.ends_with("closed the connection without answering"), "{closed}");
    let reset = hostile_reason(Hostile::Reset, TIMEOUT).await;
    assert!(
        reset.contains("broke after 0 bytes") || reset.contains("closed the connection without answering"),
        "{reset}"
    );
    let dead = Server { host: "127.0.0.1".into(), port: dead_port().await };
    let lookups = lookup("google.jp", Some(&dead), TIMEOUT).await;
    assert!(
        matches!(&only(&lookups).answer, LookupAnswer::Failed { reason } if reason.starts_with("cannot connect to 127.0.0.1:")),
        "{lookups:?}"
    );
}

// ---- the public suffix list --------------------------------------------------------------

#[test]
fn public_suffix_cases_for_the_survey() {
    let psl = PublicSuffixList::embedded();
    assert!(psl.snapshot().starts_with("2026-10-22 (PyPI publicsuffixlist"), "{}", psl.snapshot());
    let registrable = |host: &str| psl.registrable_domain(host).map(|d| (d.name, d.suffix));
    let pair = |n: &str, s: &str| Some((n.to_string(), s.to_string()));
    assert_eq!(registrable("www.clinic.co.jp"), pair("clinic.co.jp", "co.jp"));
    assert_eq!(registrable("portal.clinic.or.jp"), pair("clinic.or.jp", "or.jp"));
    assert_eq!(registrable("x.isp.ne.jp"), pair("isp.ne.jp", "ne.jp"));
    assert_eq!(registrable("www.mhlw.go.jp"), pair("mhlw.go.jp", "go.jp"));
    assert_eq!(registrable("www.city.shibuya.tokyo.jp"), pair("city.shibuya.tokyo.jp", "shibuya.tokyo.jp"));
    assert_eq!(registrable("www.pref.hokkaido.lg.jp"), pair("hokkaido.lg.jp", "lg.jp"));
    assert_eq!(registrable("a.b.c.kawasaki.jp"), pair("b.c.kawasaki.jp", "c.kawasaki.jp"));
    assert_eq!(registrable("www.city.kawasaki.jp"), pair("city.kawasaki.jp", "kawasaki.jp"));
    assert_eq!(registrable("foo.osaka.jp"), pair("foo.osaka.jp", "osaka.jp"));
    assert_eq!(registrable("診療.jp"), pair("xn--lvyx93b.jp", "jp"));
    assert_eq!(registrable("example.東京.jp"), pair("example.xn--1lqs71d.jp", "xn--1lqs71d.jp"));
    assert_eq!(registrable("WWW.Google.COM."), pair("google.com", "com"));
    assert_eq!(registrable("host.clinic.zzzunknown"), pair("clinic.zzzunknown", "zzzunknown"));
    assert_eq!(registrable("co.jp"), None);
    assert_eq!(registrable("192.0.2.1"), None);
    assert_eq!(registrable("foo.github.io"), pair("github.io", "io"));
    assert_eq!(psl.platform_suffix("foo.github.io").as_deref(), Some("github.io"));
    assert!(psl.is_public_suffix("co.jp") && psl.is_public_suffix("jp") && psl.is_public_suffix("github.io"));
    assert!(!psl.is_public_suffix("google.co.jp"));
    assert!(special_use("clinic.test").is_some() && special_use("www.example.com").is_some());
    assert_eq!(special_use("clinic.co.jp"), None);
}
