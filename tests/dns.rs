//! The DNS part of the domain survey against an in-process DNS world (`testkit::dns`):
//! a signed `jp.` zone on two servers delegating clinic domains to servers of their own,
//! all on loopback addresses sharing one port, and a resolver view on 127.0.0.1.

use std::time::{Duration, Instant};

use kensa::domain::dns::{DnsSettings, DnsSurveyor, TrustAnchor};
use kensa::evidence::domain::{DnsOutcome, DnssecStatus, HostTerminal};
use kensa::evidence::AddressFamily;
use kensa::resolve::ResolverSettings;
use kensa::testkit::dns::{DnsWorld, Signing};

const JP: &str = "$TTL 3600
@ IN SOA a.dns.jp. hostmaster.jp. 1 3600 900 604800 300
@ IN NS a.dns.jp.
@ IN NS b.dns.jp.
a.dns IN A 127.0.0.2
b.dns IN A 127.0.0.3
; a well-kept delegation
clinic-example.co IN NS ns1.clinic-example.co.jp.
clinic-example.co IN NS ns2.clinic-example.co.jp.
ns1.clinic-example.co IN A 127.0.0.4
ns2.clinic-example.co IN A 127.0.0.5
; the registry was told ns1+ns2, the zone itself says ns1+ns3
mismatch-example.co IN NS ns1.mismatch-example.co.jp.
mismatch-example.co IN NS ns2.mismatch-example.co.jp.
ns1.mismatch-example.co IN A 127.0.0.6
ns2.mismatch-example.co IN A 127.0.0.7
; one server refuses, the other address has nothing listening
lame-example.co IN NS ns1.lame-example.co.jp.
lame-example.co IN NS ns2.lame-example.co.jp.
ns1.lame-example.co IN A 127.0.0.9
ns2.lame-example.co IN A 127.0.0.10
broken-example.co IN NS ns1.broken-example.co.jp.
ns1.broken-example.co IN A 127.0.0.4
rollover-example.co IN NS ns1.rollover-example.co.jp.
ns1.rollover-example.co IN A 127.0.0.4
";

fn clinic_zone() -> String {
    let mut zone = String::from(
        "$TTL 3600
@ IN SOA ns1.clinic-example.co.jp. hostmaster.clinic-example.co.jp. 2024040101 3600 900 604800 300
@ IN NS ns1
@ IN NS ns2
ns1 IN A 127.0.0.4
ns2 IN A 127.0.0.5
@ IN CAA 0 issue \"letsencrypt.org; validationmethods=dns-01\"
@ IN CAA 0 issuewild \";\"
@ IN CAA 0 iodef \"mailto:security@clinic-example.co.jp\"
www IN A 192.0.2.10
www IN AAAA 2001:db8::10
app IN CAA 0 issue \"sectigo.com\"
www.app IN A 192.0.2.11
api IN A 192.0.2.12
api IN CAA 128 tbs \"unknown-critical\"
api IN CAA 0 issue \"pki.goog\"
c1 IN CNAME c2
c2 IN CNAME c3
c3 IN CNAME www
dangling IN CNAME gone.clinic-example.co.jp.
loop1 IN CNAME loop2
loop2 IN CNAME loop1
",
    );
    for i in 0..12 {
        zone.push_str(&format!("l{i} IN CNAME l{}\n", i + 1));
    }
    zone.push_str("l12 IN A 192.0.2.13\nbig IN A 192.0.2.14\n");
    for i in 0..150 {
        zone.push_str(&format!("big IN CAA 0 issue \"ca{i:03}.example-authority-with-a-long-name.test\"\n"));
        zone.push_str(&format!("big IN TXT \"{i:03}-{}\"\n", "x".repeat(200)));
    }
    zone
}

fn child_zone(origin: &str, ns: &[(&str, &str)]) -> String {
    let mut zone = format!("$TTL 3600\n@ IN SOA {}.{origin}. hostmaster.{origin}. 7 3600 900 604800 300\n", ns[0].0);
    for (name, ip) in ns {
        zone.push_str(&format!("@ IN NS {name}\n{name} IN A {ip}\n"));
    }
    zone.push_str("www IN A 192.0.2.20\n");
    zone
}

async fn world() -> DnsWorld {
    DnsWorld::builder()
        .zone("jp.", JP, Signing::Signed)
        .zone("clinic-example.co.jp.", &clinic_zone(), Signing::Signed)
        .zone(
            "mismatch-example.co.jp.",
            // ns2 still has its address here (hickory-server sends glue for the first NS name
            // only, so the survey finds ns2's address through the resolver).
            &(child_zone("mismatch-example.co.jp", &[("ns1", "127.0.0.6"), ("ns3", "127.0.0.8")])
                + "ns2 IN A 127.0.0.7\n"),
            Signing::Unsigned,
        )
        .zone(
            "lame-example.co.jp.",
            &child_zone("lame-example.co.jp", &[("ns1", "127.0.0.9"), ("ns2", "127.0.0.10")]),
            Signing::Unsigned,
        )
        .zone(
            "broken-example.co.jp.",
            &child_zone("broken-example.co.jp", &[("ns1", "127.0.0.4")]),
            Signing::CorruptSignatures,
        )
        .zone(
            "rollover-example.co.jp.",
            &child_zone("rollover-example.co.jp", &[("ns1", "127.0.0.4")]),
            Signing::MismatchedDs,
        )
        .server("127.0.0.2", &["jp."])
        .server("127.0.0.3", &["jp."])
        .server("127.0.0.4", &["clinic-example.co.jp.", "broken-example.co.jp.", "rollover-example.co.jp."])
        .server("127.0.0.5", &["clinic-example.co.jp."])
        .server("127.0.0.6", &["mismatch-example.co.jp."])
        .server("127.0.0.7", &["mismatch-example.co.jp."])
        .server("127.0.0.8", &["mismatch-example.co.jp."])
        .server("127.0.0.9", &[])
        .start()
        .await
        .expect("DNS world starts")
}

fn surveyor(world: &DnsWorld, anchor: TrustAnchor) -> DnsSurveyor {
    DnsSurveyor::new(DnsSettings {
        resolver: ResolverSettings {
            server: Some(world.resolver),
            timeout: Duration::from_millis(500),
            family: AddressFamily::Any,
        },
        authoritative_port: world.port,
        trust_anchor: anchor,
    })
    .expect("surveyor")
}

fn anchored(world: &DnsWorld) -> DnsSurveyor {
    surveyor(world, TrustAnchor::parse(&world.trust_anchor, "test world").expect("anchor parses"))
}

fn names(outcome: &DnsOutcome<Vec<String>>) -> Vec<&str> {
    match outcome {
        DnsOutcome::Answer { records } => records.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn matching_delegation_and_soa() {
    let world = world().await;
    let dns = anchored(&world);
    let d = dns.delegation("Clinic-Example.co.jp.").await;
    assert_eq!(d.parent_zone.as_deref(), Some("jp"), "{d:?}");
    assert_eq!(d.error, None, "{d:?}");
    let expected = vec!["ns1.clinic-example.co.jp", "ns2.clinic-example.co.jp"];
    assert_eq!(d.parent.iter().map(|a| a.server.as_str()).collect::<Vec<_>>(), vec!["a.dns.jp", "b.dns.jp"]);
    for answer in d.parent.iter().chain(d.child.iter()) {
        assert_eq!(names(&answer.answer), expected, "{answer:?}");
    }
    assert_eq!(d.child.len(), 2);
    assert_eq!(d.child[0].address.to_string(), "127.0.0.4");
    match d.soa {
        Some(DnsOutcome::Answer { records }) => {
            assert_eq!(records.mname, "ns1.clinic-example.co.jp");
            assert_eq!(records.rname, "hostmaster.clinic-example.co.jp");
            assert!(records.serial >= 2024040101);
        }
        other => panic!("SOA: {other:?}"),
    }
    world.shutdown().await;
}

#[tokio::test]
async fn mismatching_delegation() {
    let world = world().await;
    let d = anchored(&world).delegation("mismatch-example.co.jp").await;
    for answer in &d.parent {
        assert_eq!(names(&answer.answer), vec!["ns1.mismatch-example.co.jp", "ns2.mismatch-example.co.jp"]);
    }
    // Every server named on either side is asked, and each says ns1+ns3.
    let servers: Vec<&str> = d.child.iter().map(|a| a.server.as_str()).collect();
    assert_eq!(servers, vec!["ns1.mismatch-example.co.jp", "ns2.mismatch-example.co.jp", "ns3.mismatch-example.co.jp"]);
    for answer in &d.child {
        assert_eq!(names(&answer.answer), vec!["ns1.mismatch-example.co.jp", "ns3.mismatch-example.co.jp"]);
    }
    assert_eq!(d.error, None);
}

#[tokio::test]
async fn lame_servers_are_failed_entries() {
    let world = world().await;
    let started = Instant::now();
    let d = anchored(&world).delegation("lame-example.co.jp").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(d.child.len(), 2, "{d:?}");
    for answer in &d.child {
        match &answer.answer {
            DnsOutcome::Failed { reason } => assert!(!reason.is_empty()),
            other => panic!("{}: {other:?}", answer.server),
        }
    }
    let refused = d.child.iter().find(|a| a.server == "ns1.lame-example.co.jp").expect("ns1");
    assert!(matches!(&refused.answer, DnsOutcome::Failed { reason } if reason.contains("Refused")), "{refused:?}");
}

#[tokio::test]
async fn not_a_domain_name_is_an_error() {
    let world = world().await;
    let d = anchored(&world).delegation("bad..name").await;
    assert!(d.error.is_some());
    let d = anchored(&world).delegation("unknown-example.co.jp").await;
    assert!(d.child.is_empty());
    assert!(d.error.is_some(), "{d:?}");
    assert_eq!(d.soa, Some(DnsOutcome::NxDomain));
}

#[tokio::test]
async fn caa_at_host_parent_label_and_absent() {
    let world = world().await;
    let dns = anchored(&world);

    let apex = dns.host("www.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert_eq!(apex.caa.relevant_name.as_deref(), Some("clinic-example.co.jp"));
    let tags: Vec<&str> = apex.caa.records.iter().map(|r| r.tag.as_str()).collect();
    assert!(tags.contains(&"issue") && tags.contains(&"issuewild") && tags.contains(&"iodef"), "{tags:?}");
    let issue = apex.caa.records.iter().find(|r| r.tag == "issue").expect("issue");
    assert_eq!(issue.value, "letsencrypt.org; validationmethods=dns-01");
    let iodef = apex.caa.records.iter().find(|r| r.tag == "iodef").expect("iodef");
    assert_eq!(iodef.value, "mailto:security@clinic-example.co.jp");
    assert_eq!(apex.caa.queried.len(), 2);
    assert_eq!(apex.caa.queried[0].outcome, DnsOutcome::NoData);
    assert_eq!(apex.caa.queried[1].outcome, DnsOutcome::Answer { records: 3 });

    let parent = dns.host("www.app.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert_eq!(parent.caa.relevant_name.as_deref(), Some("app.clinic-example.co.jp"));
    assert_eq!(parent.caa.records.len(), 1);
    assert_eq!(parent.caa.records[0].value, "sectigo.com");

    let own = dns.host("api.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert_eq!(own.caa.relevant_name.as_deref(), Some("api.clinic-example.co.jp"));
    let critical = own.caa.records.iter().find(|r| r.tag == "tbs").expect("unknown tag kept");
    assert_eq!(critical.flags, 128);
    assert_eq!(own.caa.queried.len(), 1);

    let none = dns.host("www.mismatch-example.co.jp", "mismatch-example.co.jp").await;
    assert_eq!(none.caa.relevant_name, None);
    assert!(none.caa.records.is_empty());
    assert_eq!(
        none.caa.queried.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
        vec!["www.mismatch-example.co.jp", "mismatch-example.co.jp"]
    );
}

#[tokio::test]
async fn dnssec_secure_bogus_insecure() {
    let world = world().await;
    let dns = anchored(&world);
    let secure = dns.dnssec("clinic-example.co.jp").await;
    assert_eq!(secure.status, DnssecStatus::Secure, "{secure:?}");
    assert_eq!(secure.ds.len(), 1, "{secure:?}");
    assert!(secure.dnskey[0].starts_with("257 3 15 tag="), "{secure:?}");

    let bogus = dns.dnssec("broken-example.co.jp").await;
    assert_eq!(bogus.status, DnssecStatus::Bogus, "{bogus:?}");

    let rollover = dns.dnssec("rollover-example.co.jp").await;
    assert_eq!(rollover.status, DnssecStatus::Bogus, "{rollover:?}");
    assert!(rollover.detail.contains("no DNSKEY of the zone matches a DS"), "{rollover:?}");

    let insecure = dns.dnssec("mismatch-example.co.jp").await;
    assert_eq!(insecure.status, DnssecStatus::Insecure, "{insecure:?}");
    assert!(insecure.ds.is_empty() && insecure.dnskey.is_empty());
    assert!(insecure.detail.contains("no DS"), "{insecure:?}");
}

#[tokio::test]
async fn dnssec_from_a_ds_anchor() {
    let world = world().await;
    let jp_ds = world.ds_records.lines().find(|l| l.starts_with("jp. ")).expect("DS of jp");
    let dns = surveyor(&world, TrustAnchor::parse(jp_ds, "jp DS").expect("DS anchor"));
    assert_eq!(dns.dnssec("clinic-example.co.jp").await.status, DnssecStatus::Secure);
}

#[tokio::test]
async fn unmatched_trust_anchors_are_never_secure() {
    let world = world().await;
    let other = "jp. 3600 IN DNSKEY 257 3 15 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let dns = surveyor(&world, TrustAnchor::parse(other, "someone else's key").expect("anchor"));
    let result = dns.dnssec("clinic-example.co.jp").await;
    assert_ne!(result.status, DnssecStatus::Secure, "{result:?}");
    assert_ne!(result.status, DnssecStatus::Insecure, "{result:?}");
    let root = surveyor(&world, TrustAnchor::Root).dnssec("clinic-example.co.jp").await;
    assert_ne!(root.status, DnssecStatus::Secure, "{root:?}");
}

#[tokio::test]
async fn cname_chains() {
    let world = world().await;
    let dns = anchored(&world);
    let three = dns.host("c1.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert_eq!(three.cname_chain.len(), 3, "{three:?}");
    assert_eq!(three.cname_chain[2].target, "www.clinic-example.co.jp");
    match &three.terminal {
        HostTerminal::Addresses { name, addresses } => {
            assert_eq!(name, "www.clinic-example.co.jp");
            assert_eq!(addresses.len(), 2);
        }
        other => panic!("{other:?}"),
    }

    let dangling = dns.host("dangling.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert_eq!(dangling.terminal, HostTerminal::NxDomain { name: "gone.clinic-example.co.jp".into() });

    let looped = dns.host("loop1.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert_eq!(looped.terminal, HostTerminal::Loop { name: "loop1.clinic-example.co.jp".into() });
    assert_eq!(looped.cname_chain.len(), 2);

    let long = dns.host("l0.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert!(matches!(long.terminal, HostTerminal::TooLong { length } if length > 10), "{:?}", long.terminal);

    let nothing = dns.host("nothing.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert_eq!(nothing.terminal, HostTerminal::NxDomain { name: "nothing.clinic-example.co.jp".into() });
    assert!(nothing.cname_chain.is_empty());
}

#[tokio::test]
async fn oversized_record_sets_end_as_evidence() {
    let world = world().await;
    let dns = anchored(&world);
    let big = dns.host("big.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert!(matches!(big.terminal, HostTerminal::Addresses { .. }), "{:?}", big.terminal);
    assert_eq!(big.caa.relevant_name.as_deref(), Some("big.clinic-example.co.jp"), "{:?}", big.caa.queried);
    assert_eq!(big.caa.records.len(), 150);
}

#[tokio::test]
async fn nothing_listening_is_prompt_and_indeterminate() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("port").port();
    let dns = DnsSurveyor::new(DnsSettings {
        resolver: ResolverSettings {
            server: Some(([127, 0, 0, 1], port).into()),
            timeout: Duration::from_millis(500),
            family: AddressFamily::Any,
        },
        authoritative_port: port,
        trust_anchor: TrustAnchor::Root,
    })
    .expect("surveyor");
    let started = Instant::now();
    let host = dns.host("www.clinic-example.co.jp", "clinic-example.co.jp").await;
    assert!(matches!(host.terminal, HostTerminal::Failed { .. }), "{:?}", host.terminal);
    assert!(matches!(host.caa.queried.first().map(|q| &q.outcome), Some(DnsOutcome::Failed { .. })));
    let sec = dns.dnssec("clinic-example.co.jp").await;
    assert_eq!(sec.status, DnssecStatus::Indeterminate, "{sec:?}");
    let d = dns.delegation("clinic-example.co.jp").await;
    assert!(d.error.is_some(), "{d:?}");
    assert!(matches!(d.soa, Some(DnsOutcome::Failed { .. })));
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
}

#[tokio::test]
async fn anchor_files() {
    let dir = kensa::testkit::TempDir::new("dns-anchor").expect("tempdir");
    let path = dir
        .write(
            "anchor.txt",
            ". 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
        )
        .expect("write");
    let anchor = TrustAnchor::from_file(&path).expect("reads");
    assert!(anchor.describe().contains("anchor.txt"));
    assert!(TrustAnchor::from_file(&dir.path().join("missing")).is_err());
    assert!(TrustAnchor::from_file(dir.path()).is_err());
}
