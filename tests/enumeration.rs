//! Full enumeration checked against OpenSSL's own view of the same configuration.
//!
//! Each test starts `openssl s_server` with one configuration, scans it in-process in full
//! mode, and compares what kensa found per version with what `openssl ciphers -V -s` says the
//! same cipher string accepts at that version — as sets, after removing what the server
//! cannot negotiate without more configuration (PSK and SRP suites, suites for another kind
//! of certificate). TLS 1.3 suites and groups likewise; the server's order where it imposes
//! one; and the handshake facts any OpenSSL server shows (fallback SCSV honoured, secure
//! renegotiation, no compression).

use std::collections::BTreeSet;

use kensa::evidence::TlsVersion;
use kensa::posture::Preference;
use support::{
    assert_common_facts, assert_groups, assert_order_agrees, assert_suites, negotiable, openssl_ciphers,
    openssl_tls13_suites, posture, scan_server, start_server, CertKind,
};

/// Helpers: certificates, OpenSSL's expected lists, and the scan.
mod support {
    use std::collections::BTreeSet;
    use std::net::SocketAddr;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use kensa::evidence::{AddressFamily, EndpointEvidence, ScanEvidence, TlsVersion};
    use kensa::posture::{handshake_facts, pick, versions, Fact, VersionPosture};
    use kensa::probe::{scan, ScanRequest};
    use kensa::resolve::{Pin, ResolverSettings};
    use kensa::testkit::OpenSslServer;

    /// Deadline for each network operation; loopback answers in milliseconds.
    const TIMEOUT: Duration = Duration::from_secs(5);

    /// Whether the tests can run here; says so when they cannot.
    pub fn openssl_available() -> bool {
        let available = OpenSslServer::available();
        if !available {
            eprintln!("note: openssl is missing; skipping the enumeration tests");
        }
        available
    }

    /// The key type of the served certificate, which decides the usable suites.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum CertKind {
        Rsa2048,
        EcdsaP256,
    }

    impl CertKind {
        /// OpenSSL's `Au=` column for suites this certificate can sign for.
        fn au(self) -> &'static str {
            match self {
                CertKind::Rsa2048 => "RSA",
                CertKind::EcdsaP256 => "ECDSA",
            }
        }
    }

    /// A self-signed certificate for `localhost` made by `openssl req`, as (cert, key) PEM.
    fn make_cert(kind: CertKind) -> (String, String) {
        let newkey: &[&str] = match kind {
            CertKind::Rsa2048 => &["-newkey", "rsa:2048"],
            CertKind::EcdsaP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        };
        OpenSslServer::self_signed("localhost", newkey, &["-days", "2"]).expect("openssl req")
    }

    /// `openssl s_server` with a fresh certificate of `kind` and `args`.
    pub fn start_server(kind: CertKind, args: &[&str]) -> OpenSslServer {
        let (cert, key) = make_cert(kind);
        OpenSslServer::start_with_files(&cert, &key, args).expect("start openssl s_server")
    }

    /// One line of `openssl ciphers -V -s`: the suite id and its `Kx=` and `Au=` columns.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct OpenSslSuite {
        pub id: u16,
        pub name: String,
        pub kx: String,
        pub au: String,
    }

    /// `openssl ciphers -V -s <args>`, parsed, in OpenSSL's order (the server's preference).
    fn run_ciphers(args: &[&str]) -> Vec<OpenSslSuite> {
        let output = Command::new("openssl")
            .args(["ciphers", "-V", "-s"])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .expect("run openssl ciphers");
        assert!(output.status.success(), "openssl ciphers {args:?} failed");
        String::from_utf8_lossy(&output.stdout).lines().filter_map(parse_line).collect()
    }

    /// Parses `0xC0,0x2F - ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 Kx=ECDH Au=RSA Enc=… Mac=…`.
    fn parse_line(line: &str) -> Option<OpenSslSuite> {
        let mut words = line.split_whitespace();
        let (hi, lo) = words.next()?.split_once(',')?;
        let byte = |text: &str| u8::from_str_radix(text.strip_prefix("0x")?, 16).ok();
        let id = u16::from_be_bytes([byte(hi)?, byte(lo)?]);
        let rest: Vec<&str> = words.collect();
        let name = rest.get(1)?.to_string();
        let column = |key: &str| rest.iter().find_map(|w| w.strip_prefix(key)).map(str::to_string);
        Some(OpenSslSuite { id, name, kx: column("Kx=")?, au: column("Au=")? })
    }

    /// What OpenSSL accepts with `cipher_string` at one TLS 1.2-or-older version
    /// (`version_flag` is `-tls1`, `-tls1_1` or `-tls1_2`). OpenSSL prints its TLS 1.3 suites
    /// too; they are dropped here.
    pub fn openssl_ciphers(version_flag: &str, cipher_string: &str) -> Vec<OpenSslSuite> {
        run_ciphers(&[version_flag, cipher_string]).into_iter().filter(|s| s.id >> 8 != 0x13).collect()
    }

    /// The TLS 1.3 suites of a `-ciphersuites` list, in OpenSSL's order.
    pub fn openssl_tls13_suites(ciphersuites: &str) -> Vec<u16> {
        run_ciphers(&["-tls1_3", "-ciphersuites", ciphersuites])
            .into_iter()
            .map(|s| s.id)
            .filter(|id| id >> 8 == 0x13)
            .collect()
    }

    /// The suites of `list` a server with a certificate of `kind` and no other setup can
    /// negotiate, in OpenSSL's order: no pre-shared-key or SRP suites (no PSK callback or SRP
    /// database is configured), and only suites signed with the certificate's key type or
    /// anonymous ones (`Au=None`).
    pub fn negotiable(list: &[OpenSslSuite], kind: CertKind) -> Vec<u16> {
        const NEEDS_SETUP: [&str; 5] = ["PSK", "ECDHEPSK", "DHEPSK", "RSAPSK", "SRP"];
        list.iter()
            .filter(|s| !NEEDS_SETUP.contains(&s.kx.as_str()))
            .filter(|s| s.au == kind.au() || s.au == "None")
            .map(|s| s.id)
            .collect()
    }

    /// IANA code points of the group names `-groups` takes.
    pub fn group_id(name: &str) -> u16 {
        match name {
            "X25519" => 0x001d,
            "P-256" => 0x0017,
            "P-384" => 0x0018,
            "P-521" => 0x0019,
            "X448" => 0x001e,
            "ffdhe2048" => 0x0100,
            "ffdhe3072" => 0x0101,
            "ffdhe4096" => 0x0102,
            "ffdhe6144" => 0x0103,
            "ffdhe8192" => 0x0104,
            other => panic!("no code point known for group {other}"),
        }
    }

    /// Scans `server` in full mode as `localhost:PORT`, pinned to its address, the way
    /// `kensa scan --resolve` would.
    pub async fn scan_server(addr: SocketAddr) -> ScanEvidence {
        let target = format!("localhost:{}", addr.port()).parse().expect("target");
        let pin: Pin = format!("localhost:{}:{}", addr.port(), addr.ip()).parse().expect("pin");
        let resolver = ResolverSettings { server: None, timeout: TIMEOUT, family: AddressFamily::Any };
        let mut request = ScanRequest::new(vec![target], resolver, TIMEOUT);
        request.pins = vec![pin];
        let evidence = scan(&request).await;
        assert_eq!(evidence.targets.len(), 1);
        assert_eq!(evidence.targets[0].endpoints.len(), 1, "{:?}", evidence.targets[0].resolution);
        evidence
    }

    /// The one endpoint of a scan.
    pub fn endpoint(evidence: &ScanEvidence) -> &EndpointEvidence {
        &evidence.targets[0].endpoints[0]
    }

    /// What kensa found at `version`, if the version was accepted.
    pub fn posture(evidence: &ScanEvidence, version: TlsVersion) -> Option<VersionPosture> {
        versions(endpoint(evidence)).into_iter().find(|p| p.version == version)
    }

    /// Hex for messages: `[0xC02F, 0x009E]`.
    pub fn hex(ids: &BTreeSet<u16>) -> String {
        let items: Vec<String> = ids.iter().map(|id| format!("0x{id:04X}")).collect();
        format!("[{}]", items.join(", "))
    }

    /// Asserts that kensa's accepted suites at `version` equal `expected` as sets, that every
    /// candidate was settled, and returns kensa's posture for further checks.
    pub fn assert_suites(evidence: &ScanEvidence, version: TlsVersion, expected: &[u16]) -> VersionPosture {
        let Some(found) = posture(evidence, version) else {
            panic!("{} not accepted; OpenSSL expects {}", version.name(), hex(&expected.iter().copied().collect()))
        };
        let kensa: BTreeSet<u16> = found.accepted.iter().copied().collect();
        let openssl: BTreeSet<u16> = expected.iter().copied().collect();
        assert_eq!(found.accepted.len(), kensa.len(), "{}: a suite accepted twice", version.name());
        assert!(
            kensa == openssl,
            "{}: kensa and OpenSSL differ\n  only kensa:   {}\n  only OpenSSL: {}",
            version.name(),
            hex(&kensa.difference(&openssl).copied().collect()),
            hex(&openssl.difference(&kensa).copied().collect()),
        );
        assert_eq!(found.untested, 0, "{}: enumeration left suites untested", version.name());
        found
    }

    /// Asserts that kensa's groups at `version` equal the `-groups` names given to s_server
    /// (at TLS 1.2 only the elliptic curves: finite-field groups are not negotiated there).
    pub fn assert_groups(found: &VersionPosture, names: &[&str]) {
        let ffdhe = |id: &u16| id >> 8 == 0x01;
        let tls13 = found.version == TlsVersion::Tls13;
        let expected: BTreeSet<u16> = names.iter().map(|n| group_id(n)).filter(|id| tls13 || !ffdhe(id)).collect();
        let groups = found.groups.as_ref().unwrap_or_else(|| panic!("{}: no groups recorded", found.version.name()));
        let kensa: BTreeSet<u16> = groups.accepted.iter().copied().collect();
        assert_eq!(hex(&kensa), hex(&expected), "{} groups", found.version.name());
        assert_eq!(groups.untested, 0, "{}: groups left untested", found.version.name());
    }

    /// Asserts that every ranking the scan has evidence for agrees with `openssl_order` (the
    /// server's preference, most preferred first): each pick at `version` is the suite
    /// OpenSSL ranks first among the accepted suites offered with it, and `order` puts the
    /// pick before each of them. Suites never offered side by side are not ranked by kensa
    /// (`complete: false`) and so not compared.
    pub fn assert_order_agrees(evidence: &ScanEvidence, version: TlsVersion, openssl_order: &[u16], order: &[u16]) {
        let position = |list: &[u16], id: u16| list.iter().position(|s| *s == id);
        let attempt = endpoint(evidence).hand_built_attempt(version).expect("attempt");
        let mut compared = 0;
        for exchange in &attempt.exchanges {
            let Some(chosen) = pick(version, exchange) else { continue };
            let others = exchange.offered_suites.iter().copied().filter(|s| *s != chosen && order.contains(s));
            for other in others {
                compared += 1;
                let (c, o) = (position(openssl_order, chosen), position(openssl_order, other));
                assert!(
                    c < o,
                    "{}: picked 0x{chosen:04X} over 0x{other:04X}, OpenSSL ranks them {c:?}, {o:?}",
                    version.name()
                );
                let (c, o) = (position(order, chosen), position(order, other));
                assert!(c < o, "{}: kensa's order puts 0x{other:04X} before 0x{chosen:04X}", version.name());
            }
        }
        assert!(compared > 0, "{}: no two accepted suites were ever compared", version.name());
    }

    /// What every OpenSSL server shows, and a bound on the connections the scan cost: each
    /// accepted suite costs a hello, plus refusals, groups, preference and the rustls
    /// handshakes — 16 covers the rest.
    pub fn assert_common_facts(evidence: &ScanEvidence) {
        let endpoint = endpoint(evidence);
        let postures = versions(endpoint);
        let facts = handshake_facts(endpoint);
        if postures.len() >= 2 {
            assert!(matches!(facts.fallback_scsv, Fact::Yes(_)), "fallback SCSV: {:?}", facts.fallback_scsv);
        } else {
            assert!(matches!(facts.fallback_scsv, Fact::NotApplicable(_)), "fallback SCSV: {:?}", facts.fallback_scsv);
        }
        if postures.iter().any(|p| p.version < TlsVersion::Tls13) {
            assert!(
                matches!(facts.secure_renegotiation, Fact::Yes(_)),
                "renegotiation: {:?}",
                facts.secure_renegotiation
            );
            assert!(matches!(facts.compression, Fact::No(_)), "compression: {:?}", facts.compression);
        } else {
            // Neither exists in TLS 1.3.
            assert!(matches!(facts.secure_renegotiation, Fact::NotApplicable(_)), "{:?}", facts.secure_renegotiation);
            assert!(matches!(facts.compression, Fact::NotApplicable(_)), "{:?}", facts.compression);
        }
        let pairs: usize = postures.iter().map(|p| p.accepted.len()).sum();
        let connections = endpoint.connections as usize;
        // 16 for refusals, groups, order, fallback and handshakes; 3 for the certificate
        // variants (RSA-only, ECDSA-only, no SNI).
        assert!(connections <= pairs + 19, "{connections} connections for {pairs} accepted (version, suite) pairs");
        eprintln!("{pairs} accepted (version, suite) pairs in {connections} connections");
    }
}

/// A modern server: ECDHE with AEAD at TLS 1.2, three TLS 1.3 suites, three groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_rsa_server() {
    if !support::openssl_available() {
        return;
    }
    const CIPHERS: &str = "ECDHE+AESGCM:ECDHE+CHACHA20";
    const SUITES13: &str = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
    const GROUPS: [&str; 3] = ["X25519", "P-256", "P-384"];
    let groups = GROUPS.join(":");
    // An explicit minimum, so that TLS 1.0/1.1 being refused does not depend on openssl.cnf.
    let server = start_server(
        CertKind::Rsa2048,
        &["-min_protocol", "TLSv1.2", "-cipher", CIPHERS, "-ciphersuites", SUITES13, "-groups", &groups],
    );
    let evidence = scan_server(server.addr).await;

    let tls12 = assert_suites(
        &evidence,
        TlsVersion::Tls12,
        &negotiable(&openssl_ciphers("-tls1_2", CIPHERS), CertKind::Rsa2048),
    );
    assert_groups(&tls12, &GROUPS);
    let tls13 = assert_suites(&evidence, TlsVersion::Tls13, &openssl_tls13_suites(SUITES13));
    assert_groups(&tls13, &GROUPS);
    // No -serverpref: the client's order wins at both versions.
    assert_eq!(tls12.preference, Preference::Client);
    assert_eq!(tls13.preference, Preference::Client);
    for version in [TlsVersion::Tls11, TlsVersion::Tls10, TlsVersion::Ssl3] {
        assert!(posture(&evidence, version).is_none(), "{} accepted", version.name());
    }
    assert_common_facts(&evidence);
}

/// The cipher string of the legacy servers: everything OpenSSL still has.
const LEGACY_CIPHERS: &str = "ALL:@SECLEVEL=0";
/// TLS 1.0 to 1.2, each with the OpenSSL flag that restricts `openssl ciphers` to it.
const LEGACY_VERSIONS: [(TlsVersion, &str); 3] =
    [(TlsVersion::Tls12, "-tls1_2"), (TlsVersion::Tls11, "-tls1_1"), (TlsVersion::Tls10, "-tls1")];

/// A permissive legacy server following the client's order: every version's suites as
/// OpenSSL lists them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_permissive_server() {
    if !support::openssl_available() {
        return;
    }
    let server = start_server(
        CertKind::Rsa2048,
        &["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2", "-cipher", LEGACY_CIPHERS],
    );
    let evidence = scan_server(server.addr).await;

    for (version, flag) in LEGACY_VERSIONS {
        let expected = negotiable(&openssl_ciphers(flag, LEGACY_CIPHERS), CertKind::Rsa2048);
        let found = assert_suites(&evidence, version, &expected);
        // Without -serverpref OpenSSL takes the client's first acceptable suite.
        assert_eq!(found.preference, Preference::Client, "{}", version.name());
        eprintln!("{}: {} suites, as OpenSSL says", version.name(), found.accepted.len());
    }
    let tls12 = posture(&evidence, TlsVersion::Tls12).expect("TLS 1.2");
    assert!(tls12.accepted.len() >= 40, "only {} suites at TLS 1.2", tls12.accepted.len());
    for version in [TlsVersion::Tls13, TlsVersion::Ssl3] {
        assert!(posture(&evidence, version).is_none(), "{} accepted", version.name());
    }
    assert_common_facts(&evidence);
}

/// The same server with `-serverpref`: kensa sees OpenSSL's own order, which is the order
/// `openssl ciphers` prints. Suites found in different bundles of the enumeration are never
/// offered side by side, so kensa's order may be partial (`complete: false`); then every
/// ranking it has evidence for is checked against OpenSSL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_server_preference() {
    if !support::openssl_available() {
        return;
    }
    let server = start_server(
        CertKind::Rsa2048,
        &["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2", "-cipher", LEGACY_CIPHERS, "-serverpref"],
    );
    let evidence = scan_server(server.addr).await;

    for (version, flag) in LEGACY_VERSIONS {
        let expected = negotiable(&openssl_ciphers(flag, LEGACY_CIPHERS), CertKind::Rsa2048);
        let found = assert_suites(&evidence, version, &expected);
        let Preference::Server { order, complete } = &found.preference else {
            panic!("{}: expected the server's order, got {:?}", version.name(), found.preference)
        };
        let as_set: BTreeSet<u16> = order.iter().copied().collect();
        assert_eq!(order.len(), found.accepted.len(), "{}: order has duplicates", version.name());
        assert_eq!(
            as_set,
            found.accepted.iter().copied().collect(),
            "{}: order is not the accepted set",
            version.name()
        );
        assert_eq!(order.first(), expected.first(), "{}: most preferred suite", version.name());
        assert_order_agrees(&evidence, version, &expected, order);
        if *complete {
            // A fully ranked order must be OpenSSL's, suite for suite.
            assert_eq!(order, &expected, "{}: server order", version.name());
        }
        eprintln!("{}: server order of {} suites (complete: {complete})", version.name(), order.len());
    }
    assert_common_facts(&evidence);
}

/// An ECDSA certificate: the DHE-RSA suite in the cipher string cannot be used, so only the
/// two ECDSA suites are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_server() {
    if !support::openssl_available() {
        return;
    }
    const CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA:DHE-RSA-AES128-GCM-SHA256";
    let server = start_server(CertKind::EcdsaP256, &["-tls1_2", "-cipher", CIPHERS]);
    let evidence = scan_server(server.addr).await;

    let expected = negotiable(&openssl_ciphers("-tls1_2", CIPHERS), CertKind::EcdsaP256);
    assert_eq!(expected.iter().copied().collect::<BTreeSet<u16>>(), BTreeSet::from([0xC02B, 0xC00A]));
    let tls12 = assert_suites(&evidence, TlsVersion::Tls12, &expected);
    assert_eq!(tls12.preference, Preference::Client);
    for version in [TlsVersion::Tls13, TlsVersion::Tls11, TlsVersion::Tls10] {
        assert!(posture(&evidence, version).is_none(), "{} accepted", version.name());
    }
    assert_common_facts(&evidence);
}

/// RFC 2409 group 2 (the 1024-bit Oakley MODP group), as `openssl dhparam` writes it:
/// fixed, so no test waits for a prime search.
const MODP_1024_PEM: &str = "-----BEGIN DH PARAMETERS-----
MIGHAoGBAP//////////yQ/aoiFowjTExmKLgNwc0SkCTgiKZ8x0Agu+pjsTmyJR
Sgh5jjQE3e+VGbPNOkMbMCsKbfJfFDdP4TVtbVHCReSFtXZiXn7G9ExC6aY37WsL
/1y29Aa37e44a/taiZ+lrp8kEXxLH+ZJKGZR7OZTgf//////////AgEC
-----END DH PARAMETERS-----
";

/// RFC 7919 ffdhe2048, as `openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048`
/// writes it.
const FFDHE_2048_PEM: &str = "-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
";

/// DHE prime sizes: kensa reads 1024 and 2048 bits off the ServerKeyExchange, and the
/// `kex.dhe-strength` check warns below 2048 bits and passes at 2048.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhe_prime_sizes() {
    use kensa::checks::CheckStatus;
    use kensa::profile::Profile;
    use kensa::testkit::TempDir;
    use kensa::verdict::Assessment;

    if !support::openssl_available() {
        return;
    }
    const SUITE: u16 = 0x009E; // DHE-RSA-AES128-GCM-SHA256
    let dir = TempDir::new("enum-dh").expect("temp dir");
    // OpenSSL refuses primes below 2048 bits from security level 2 up, hence level 0 there.
    let cases = [
        (MODP_1024_PEM, "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0", 1024, CheckStatus::Warn),
        (FFDHE_2048_PEM, "DHE-RSA-AES128-GCM-SHA256", 2048, CheckStatus::Pass),
    ];
    for (pem, ciphers, bits, status) in cases {
        let file = dir.write(&format!("dh{bits}.pem"), pem).expect("write DH parameters");
        let file = file.to_str().expect("UTF-8 path");
        let server = start_server(CertKind::Rsa2048, &["-tls1_2", "-cipher", ciphers, "-dhparam", file]);
        let evidence = scan_server(server.addr).await;

        let found = assert_suites(&evidence, TlsVersion::Tls12, &[SUITE]);
        assert_eq!(found.dh_bits, vec![(SUITE, bits)]);
        let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
        let finding = assessment
            .findings
            .iter()
            .find(|f| f.check_id == "kex.dhe-strength")
            .expect("the embedded profile runs kex.dhe-strength");
        assert_eq!(finding.status, status, "{bits}-bit prime: {:?}", finding.message);
        assert_common_facts(&evidence);
    }
}

/// TLS 1.3 only, with a subset of its suites and groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_only_server() {
    if !support::openssl_available() {
        return;
    }
    const SUITES13: &str = "TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256";
    const GROUPS: [&str; 2] = ["P-384", "X25519"];
    let groups = GROUPS.join(":");
    let server =
        start_server(CertKind::Rsa2048, &["-min_protocol", "TLSv1.3", "-ciphersuites", SUITES13, "-groups", &groups]);
    let evidence = scan_server(server.addr).await;

    let expected = openssl_tls13_suites(SUITES13);
    assert_eq!(expected.iter().copied().collect::<BTreeSet<u16>>(), BTreeSet::from([0x1301, 0x1304]));
    let tls13 = assert_suites(&evidence, TlsVersion::Tls13, &expected);
    assert_groups(&tls13, &GROUPS);
    assert_eq!(tls13.preference, Preference::Client);
    let versions: Vec<TlsVersion> =
        kensa::posture::versions(support::endpoint(&evidence)).iter().map(|p| p.version).collect();
    assert_eq!(versions, vec![TlsVersion::Tls13], "TLS 1.2 and older must be refused");
    // One version: no fallback to test, and no renegotiation or compression in TLS 1.3.
    assert_common_facts(&evidence);
}
