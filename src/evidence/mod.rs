//! Evidence: plain, serialisable records of what kensa offered and what came back.
//!
//! Probes write these and nothing else; checks read them and nothing else. Everything a
//! check needs to reach its verdict again later — offline, on another machine — is here:
//! raw certificate DER, the exact bytes sent and received by the hand-built hellos, the
//! extra trust anchors of the run, and the time each endpoint was probed (so certificate
//! validity is always judged at the moment of measurement, not at the moment of reading).

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

pub mod domain;
pub mod http;

/// Version tag of the evidence format. Bump on any incompatible change.
pub const EVIDENCE_SCHEMA: &str = "kensa.evidence/1";

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = u64;

/// Everything one `kensa scan` run measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScanEvidence {
    pub schema: String,
    pub kensa_version: String,
    pub started_at: UnixSeconds,
    pub finished_at: UnixSeconds,
    pub settings: ScanSettings,
    /// Trust anchors added with `--ca-file`, so that trust can be re-judged from the record.
    pub extra_roots: Vec<CertDer>,
    /// The operating system's roots, recorded when the run used `--trust system`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_roots: Vec<CertDer>,
    pub targets: Vec<TargetEvidence>,
    /// Registration, delegation, DNSSEC, CNAME and CAA facts of the targets' domains; absent
    /// when the survey was not run (`--no-domain`, or a library caller that did not ask).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<domain::DomainSurvey>,
    /// What a previous scan (`--baseline`) showed, reduced to the facts drift is judged on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::drift::Snapshot>,
    /// The service the scan covered, when it was described by a manifest (`--manifest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceInfo>,
}

/// The service a manifest describes, as recorded with the scan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceInfo {
    pub name: String,
    pub vendor: String,
    /// The manifest file, as given.
    pub manifest: String,
    /// SHA-256 of the manifest text.
    pub manifest_sha256: String,
    /// Whether the system can affect clinics' medical-information systems (selects the
    /// stricter profile).
    pub affects_clinic_systems: bool,
    /// Registrable domains the vendor declares as its own.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Endpoints of the manifest that produced nothing to probe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage_gaps: Vec<CoverageGap>,
}

/// A manifest endpoint kensa could not probe, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CoverageGap {
    pub endpoint: String,
    pub role: EndpointRole,
    pub reason: String,
}

/// What an endpoint is for, as a service manifest names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointRole {
    /// The patients' web application.
    PatientWeb,
    /// The clinicians' web application.
    ClinicianWeb,
    /// An API host.
    Api,
    /// WebSocket signalling.
    Websocket,
    /// TURN over TLS (media relay).
    Turn,
    /// Authentication / identity provider.
    Auth,
    /// Static assets or a CDN.
    Static,
}

impl EndpointRole {
    /// Every role, in manifest order.
    pub const ALL: [EndpointRole; 7] = [
        EndpointRole::PatientWeb,
        EndpointRole::ClinicianWeb,
        EndpointRole::Api,
        EndpointRole::Websocket,
        EndpointRole::Turn,
        EndpointRole::Auth,
        EndpointRole::Static,
    ];

    /// The manifest's spelling.
    pub fn key(self) -> &'static str {
        match self {
            EndpointRole::PatientWeb => "patient-web",
            EndpointRole::ClinicianWeb => "clinician-web",
            EndpointRole::Api => "api",
            EndpointRole::Websocket => "websocket",
            EndpointRole::Turn => "turn",
            EndpointRole::Auth => "auth",
            EndpointRole::Static => "static",
        }
    }

    /// A Japanese name for reports.
    pub fn label_ja(self) -> &'static str {
        match self {
            EndpointRole::PatientWeb => "患者向けWebアプリ",
            EndpointRole::ClinicianWeb => "医師向けWebアプリ",
            EndpointRole::Api => "API",
            EndpointRole::Websocket => "WebSocketシグナリング",
            EndpointRole::Turn => "TURN (TLS)",
            EndpointRole::Auth => "認証・IdP",
            EndpointRole::Static => "静的配信・CDN",
        }
    }

    /// An English name for reports.
    pub fn label_en(self) -> &'static str {
        match self {
            EndpointRole::PatientWeb => "patient web app",
            EndpointRole::ClinicianWeb => "clinician web app",
            EndpointRole::Api => "API",
            EndpointRole::Websocket => "WebSocket signalling",
            EndpointRole::Turn => "TURN over TLS",
            EndpointRole::Auth => "authentication / IdP",
            EndpointRole::Static => "static / CDN",
        }
    }

    /// Whether browsers load pages from it (so redirects, HSTS and cookies matter).
    pub fn serves_pages(self) -> bool {
        matches!(
            self,
            EndpointRole::PatientWeb | EndpointRole::ClinicianWeb | EndpointRole::Auth | EndpointRole::Static
        )
    }
}

/// The options that shaped a run, recorded for the report and for reproducibility.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScanSettings {
    pub timeout_ms: u64,
    pub address_family: AddressFamily,
    /// `--resolver`, if one was given; otherwise the system configuration was used.
    pub resolver: Option<String>,
    /// `--resolve HOST:PORT:ADDR` pins as given.
    pub pins: Vec<String>,
    /// How much was probed: `full` enumeration or the `minimal` set the 2-1.xii verdict needs.
    /// Evidence recorded before kensa had modes holds what minimal mode gathers.
    #[serde(default = "recorded_before_modes")]
    pub mode: ScanMode,
    /// Most connections open at once to one IP address.
    #[serde(default = "one")]
    pub parallel_per_ip: u32,
    /// Pause between two connections to the same IP address, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
    /// Outbound fetches were allowed (AIA caIssuers; OCSP and CRL with `revocation`).
    /// `--no-fetch` turns them off.
    #[serde(default)]
    pub fetch: bool,
    /// `--revocation`: OCSP responders (and CRLs as a fallback) were queried.
    #[serde(default)]
    pub revocation: bool,
}

fn one() -> u32 {
    1
}

fn recorded_before_modes() -> ScanMode {
    ScanMode::Minimal
}

/// How thoroughly each endpoint is probed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    /// Every version's accepted suites, the server's order, groups and handshake facts.
    #[default]
    Full,
    /// Only what the 2-1.xii verdict needs: one hello per version and the certificate, at
    /// most [`crate::probe::MINIMAL_CONNECTION_BUDGET`] connections per endpoint.
    Minimal,
}

/// Which address families were probed (`-4`, `-6`, or both).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    #[default]
    Any,
    V4,
    V6,
}

impl AddressFamily {
    /// Whether an address of this family is to be probed.
    pub fn admits(self, ip: &IpAddr) -> bool {
        match self {
            AddressFamily::Any => true,
            AddressFamily::V4 => ip.is_ipv4(),
            AddressFamily::V6 => ip.is_ipv6(),
        }
    }
}

/// One target as the user wrote it, and the endpoints it expanded to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetEvidence {
    pub input: String,
    /// Host name or IP literal.
    pub host: String,
    pub port: u16,
    /// The name sent as SNI and matched against the certificate; `None` for IP literals.
    pub server_name: Option<String>,
    /// The scheme the target was written with (`https`, `wss`, or `bare`).
    #[serde(default = "bare_scheme")]
    pub scheme: crate::target::Scheme,
    /// The URL path written with the target (`/` when none).
    #[serde(default = "root_path")]
    pub path: String,
    /// What the endpoint is for, from the service manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<EndpointRole>,
    pub resolution: ResolutionEvidence,
    pub endpoints: Vec<EndpointEvidence>,
}

fn bare_scheme() -> crate::target::Scheme {
    crate::target::Scheme::Bare
}

fn root_path() -> String {
    "/".to_string()
}

/// How a target's addresses were found.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResolutionEvidence {
    pub source: ResolutionSource,
    pub addresses: Vec<IpAddr>,
    /// Set when resolution failed or found no address of the admitted families.
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionSource {
    /// The target was an IP address.
    Literal,
    /// `--resolve` pinned the address.
    Pinned,
    /// Looked up with DNS (A and AAAA).
    Dns,
}

/// One address of one target, and every handshake attempted against it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EndpointEvidence {
    pub address: SocketAddr,
    pub server_name: Option<String>,
    /// When the probes of this endpoint started; the instant certificates are judged at.
    pub probed_at: UnixSeconds,
    /// Handshakes attempted with rustls: TLS 1.3, then TLS 1.2.
    pub modern: Vec<ModernAttempt>,
    /// Hand-built hellos, one entry per version: SSLv2, SSLv3, TLS 1.0 and TLS 1.1 always;
    /// TLS 1.2 and TLS 1.3 in full mode (suite, group and preference enumeration), and TLS 1.2
    /// in minimal mode when rustls could not agree on a suite (rustls offers only ECDHE with
    /// AEAD; a server may speak TLS 1.2 with CBC, RSA or DHE suites only).
    #[serde(alias = "legacy")]
    pub hand_built: Vec<HandBuiltAttempt>,
    /// A handshake repeated after the legacy hellos, made only when some of them were
    /// answered by a silent close or reset: if it fails too, the endpoint was blocking
    /// kensa rather than refusing those versions.
    #[serde(default)]
    pub health_check: Option<ModernAttempt>,
    /// TCP connections opened to this endpoint, counted by the connection gate (0 in
    /// evidence recorded before kensa counted them).
    #[serde(default)]
    pub connections: u32,
    /// The endpoint serves patients' browsers (`--patient-facing`): a chain trusted only
    /// through a private root is not enough there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub patient_facing: bool,
    /// Extra handshakes that ask for the certificate another kind of client would get (full
    /// mode): RSA-only and ECDSA-only signature algorithms, and no SNI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_variants: Vec<CertificateVariant>,
    /// Outbound HTTP fetches made for the certificates: missing intermediates (AIA
    /// caIssuers), and with `--revocation` OCSP queries and CRLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetches: Vec<Fetch>,
    /// Plain-HTTP redirect, HSTS, cookies and caching of the entry page, and cleartext
    /// WebSocket; absent when HTTP posture was not probed (`--no-http`, older evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<http::HttpPosture>,
}

/// A handshake that asks for a particular certificate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CertificateVariant {
    pub request: VariantRequest,
    pub attempt: ModernAttempt,
}

/// What a certificate variant handshake asked for.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VariantRequest {
    /// Only RSA signature schemes offered: a server holding RSA and ECDSA certificates
    /// chooses its RSA one.
    RsaSignatures,
    /// Only ECDSA signature schemes offered.
    EcdsaSignatures,
    /// No server_name extension: the certificate old clients and IP-based probes get.
    NoServerName,
}

impl VariantRequest {
    /// Every variant, in probing order.
    pub const ALL: [VariantRequest; 3] =
        [VariantRequest::RsaSignatures, VariantRequest::EcdsaSignatures, VariantRequest::NoServerName];

    /// A short English label.
    pub fn label_en(self) -> &'static str {
        match self {
            VariantRequest::RsaSignatures => "RSA signatures only",
            VariantRequest::EcdsaSignatures => "ECDSA signatures only",
            VariantRequest::NoServerName => "no SNI",
        }
    }

    /// A short Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            VariantRequest::RsaSignatures => "RSA署名のみ提示",
            VariantRequest::EcdsaSignatures => "ECDSA署名のみ提示",
            VariantRequest::NoServerName => "SNIなし",
        }
    }
}

/// One outbound HTTP request made on behalf of a certificate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Fetch {
    pub purpose: FetchPurpose,
    pub url: String,
    /// SHA-256 fingerprint (hex) of the certificate whose extension named the URL.
    pub certificate_sha256: String,
    /// The request body, for OCSP queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Bytes>,
    pub elapsed_ms: u64,
    pub outcome: FetchOutcome,
}

/// Why a fetch was made.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FetchPurpose {
    /// The issuer certificate named by the Authority Information Access caIssuers URL.
    CaIssuers,
    /// An OCSP query to the responder named in the AIA extension.
    Ocsp,
    /// The CRL named by the CRL distribution points extension.
    Crl,
    /// An RDAP query (RFC 9082) or the RDAP bootstrap file (RFC 9224), for the domain survey.
    Rdap,
}

/// How a fetch ended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FetchOutcome {
    /// An HTTP response arrived in full (any status code).
    Response {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        body: Bytes,
    },
    /// No usable response: bad URL, connection, timeout, TLS, or a body over the size cap.
    Failed { reason: String },
}

impl EndpointEvidence {
    /// An endpoint with nothing probed yet.
    pub fn new(address: SocketAddr, server_name: Option<String>, probed_at: UnixSeconds) -> EndpointEvidence {
        EndpointEvidence {
            address,
            server_name,
            probed_at,
            modern: Vec::new(),
            hand_built: Vec::new(),
            health_check: None,
            connections: 0,
            patient_facing: false,
            certificate_variants: Vec::new(),
            fetches: Vec::new(),
            http: None,
        }
    }

    /// Whether any attempt got a TLS answer (a hello or an alert): the endpoint is up.
    pub fn answered_tls(&self) -> bool {
        self.modern
            .iter()
            .map(|a| &a.outcome)
            .chain(self.hand_built.iter().map(|a| &a.outcome))
            .any(Outcome::is_tls_answer)
    }

    /// A display label such as `example.jp [192.0.2.1]:443`.
    pub fn label(&self) -> String {
        match &self.server_name {
            Some(name) => format!("{name} [{}]:{}", self.address.ip(), self.address.port()),
            None => self.address.to_string(),
        }
    }

    /// The attempt with a given modern version, if it was made.
    pub fn modern_attempt(&self, version: TlsVersion) -> Option<&ModernAttempt> {
        self.modern.iter().find(|a| a.version == version)
    }

    /// The attempt with a given legacy version, if it was made.
    pub fn hand_built_attempt(&self, version: TlsVersion) -> Option<&HandBuiltAttempt> {
        self.hand_built.iter().find(|a| a.version == version)
    }

    /// Every distinct certificate chain the endpoint served, newest protocol first: the
    /// TLS 1.3 and TLS 1.2 handshakes, then chains that came in plaintext after a hand-built
    /// hello. A server may give different clients different certificates; each is judged.
    pub fn served_chains<'a>(&'a self) -> Vec<ServedChain<'a>> {
        let mut chains: Vec<ServedChain<'a>> = Vec::new();
        let mut add = |chain: ServedChain<'a>| {
            if chain.certificates.is_empty() {
                return;
            }
            match chains.iter_mut().find(|c| c.certificates == chain.certificates) {
                // The same chain seen again may bring what the first capture lacked.
                Some(seen) => seen.absorb(&chain),
                None => chains.push(chain),
            }
        };
        let session_chain = |version: TlsVersion, variant: Option<VariantRequest>, session: &'a NegotiatedSession| {
            ServedChain {
                version,
                variant,
                certificates: &session.chain,
                possession: match &session.handshake_signature_error {
                    None => KeyPossession::Proven,
                    Some(error) => KeyPossession::Failed(error),
                },
                // rustls always sends status_request, never signed_certificate_timestamp.
                status_requested: true,
                ocsp_response: session.ocsp_response.as_ref().map(|b| b.0.as_slice()),
                scts_requested: false,
                sct_list: None,
            }
        };
        for version in TlsVersion::MODERN {
            if let Some(session) = self.modern_attempt(version).and_then(|a| a.session.as_ref()) {
                add(session_chain(version, None, session));
            }
        }
        for attempt in self.hand_built.iter().rev() {
            for exchange in &attempt.exchanges {
                if let HelloReply::ServerHello { chain, version, details, .. } = &exchange.reply {
                    add(ServedChain {
                        // Label with what the server spoke, which may be older than asked.
                        version: TlsVersion::from_wire(*version).unwrap_or(attempt.version),
                        variant: None,
                        certificates: chain,
                        possession: KeyPossession::NotTested,
                        status_requested: exchange.offered_extensions.contains(&EXTENSION_STATUS_REQUEST),
                        ocsp_response: details.ocsp_response.as_ref().map(|b| b.0.as_slice()),
                        scts_requested: exchange.offered_extensions.contains(&EXTENSION_SCT),
                        sct_list: details.sct_list.as_ref().map(|b| b.0.as_slice()),
                    });
                }
            }
        }
        for variant in &self.certificate_variants {
            if let Some(session) = &variant.attempt.session {
                add(session_chain(variant.attempt.version, Some(variant.request), session));
            }
        }
        chains
    }
}

/// TLS extension type status_request (RFC 6066).
const EXTENSION_STATUS_REQUEST: u16 = 5;
/// TLS extension type signed_certificate_timestamp (RFC 6962).
const EXTENSION_SCT: u16 = 18;

/// A chain as served, leaf first, and the protocol version it was captured with.
#[derive(Clone, Copy, Debug)]
pub struct ServedChain<'a> {
    pub version: TlsVersion,
    /// Set when only a certificate variant handshake saw this chain.
    pub variant: Option<VariantRequest>,
    pub certificates: &'a [CertDer],
    pub possession: KeyPossession<'a>,
    /// The hello asked for a stapled OCSP response (status_request).
    pub status_requested: bool,
    /// The stapled OCSP response, if one came.
    pub ocsp_response: Option<&'a [u8]>,
    /// The hello asked for SCTs in the TLS extension.
    pub scts_requested: bool,
    /// The SCT list from the TLS extension, if one came.
    pub sct_list: Option<&'a [u8]>,
}

impl<'a> ServedChain<'a> {
    /// Folds in what another capture of the same chain saw.
    fn absorb(&mut self, other: &ServedChain<'a>) {
        if self.possession == KeyPossession::NotTested {
            self.possession = other.possession;
        }
        self.status_requested |= other.status_requested;
        self.scts_requested |= other.scts_requested;
        self.ocsp_response = self.ocsp_response.or(other.ocsp_response);
        self.sct_list = self.sct_list.or(other.sct_list);
        if other.variant.is_none() {
            self.variant = None;
        }
    }
}

/// Whether the server proved it holds the leaf's private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPossession<'a> {
    /// The handshake signature verified with the leaf's key.
    Proven,
    /// The handshake signature did not verify: someone else's certificate, or a key kensa
    /// cannot verify with (e.g. RSA below 2048 bits).
    Failed(&'a str),
    /// Captured from a plaintext legacy flight; no signature was checked.
    NotTested,
}

/// Protocol versions kensa knows about.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsVersion {
    #[serde(rename = "SSLv2")]
    Ssl2,
    #[serde(rename = "SSLv3")]
    Ssl3,
    #[serde(rename = "TLSv1.0")]
    Tls10,
    #[serde(rename = "TLSv1.1")]
    Tls11,
    #[serde(rename = "TLSv1.2")]
    Tls12,
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl TlsVersion {
    /// The versions probed with hand-built hellos, oldest first.
    pub const LEGACY: [TlsVersion; 4] = [TlsVersion::Ssl2, TlsVersion::Ssl3, TlsVersion::Tls10, TlsVersion::Tls11];
    /// The versions probed with rustls, newest first.
    pub const MODERN: [TlsVersion; 2] = [TlsVersion::Tls13, TlsVersion::Tls12];
    /// Every version, oldest first.
    pub const ALL: [TlsVersion; 6] = [
        TlsVersion::Ssl2,
        TlsVersion::Ssl3,
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];

    /// The on-the-wire version number (SSLv2 uses 0x0002).
    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Ssl2 => 0x0002,
            TlsVersion::Ssl3 => 0x0300,
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
        }
    }

    /// The version with this wire number, if kensa knows it.
    pub fn from_wire(wire: u16) -> Option<TlsVersion> {
        TlsVersion::ALL.into_iter().find(|v| v.wire() == wire)
    }

    /// Human name: `SSLv3`, `TLS 1.2`…
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Ssl2 => "SSLv2",
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }
}

/// A handshake attempted with rustls for one version only.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModernAttempt {
    pub version: TlsVersion,
    pub elapsed_ms: u64,
    pub outcome: Outcome,
    /// Set when the handshake completed.
    pub session: Option<NegotiatedSession>,
}

/// What a completed rustls handshake negotiated.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NegotiatedSession {
    pub cipher_suite: u16,
    pub cipher_suite_name: String,
    pub key_exchange_group: Option<String>,
    pub alpn: Option<String>,
    /// The chain as the server sent it, leaf first.
    pub chain: Vec<CertDer>,
    /// A stapled OCSP response, if the server sent one.
    pub ocsp_response: Option<Bytes>,
    /// Why the server's handshake signature did not verify with the served key, if it did
    /// not. kensa completes the handshake anyway (it sends no data), so that a weak or
    /// broken certificate is still recorded and judged.
    pub handshake_signature_error: Option<String>,
}

/// How one attempt ended, in terms a check can interpret.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The server agreed to the offered version (a complete handshake for rustls attempts,
    /// a ServerHello for hand-built hellos).
    Accepted,
    /// The server answered with a TLS alert.
    Alert { description: u8, name: String },
    /// The server answered with a ServerHello for another version than the one offered.
    OtherVersion { version: u16 },
    /// The server answered in TLS, but no agreement was possible for this version (for
    /// example it chose a version or parameter that was not offered).
    Incompatible { reason: String },
    /// The server closed the connection without a reply.
    Closed,
    /// The connection was reset.
    Reset,
    /// No complete answer before the deadline.
    Timeout,
    /// The TCP connection could not be opened.
    ConnectFailed { reason: String },
    /// The reply was not valid TLS (or not what the protocol allows at this point).
    Malformed { reason: String },
    /// The handshake failed on the client side for a reason not listed above.
    Error { reason: String },
    /// Not attempted; the reason says why (for example an unresponsive endpoint).
    Skipped { reason: String },
}

impl Outcome {
    /// Whether the peer answered with something recognisably TLS (a hello or an alert).
    pub fn is_tls_answer(&self) -> bool {
        matches!(
            self,
            Outcome::Accepted | Outcome::Alert { .. } | Outcome::OtherVersion { .. } | Outcome::Incompatible { .. }
        )
    }

    /// Whether nothing at all came back in time, the sign of a tarpit or a dead host.
    pub fn is_unresponsive(&self) -> bool {
        matches!(self, Outcome::Timeout | Outcome::ConnectFailed { .. })
    }
}

/// One legacy version probed with hand-built hellos, possibly over several bundles of suites.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HandBuiltAttempt {
    pub version: TlsVersion,
    /// Overall result for this version.
    pub outcome: Outcome,
    /// Each hello sent and its reply, in order.
    pub exchanges: Vec<HelloExchange>,
}

/// One hand-built hello on its own connection, and the reply.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HelloExchange {
    /// What the hello was for; decides what a refusal means (see [`HelloPurpose`]).
    #[serde(default)]
    pub purpose: HelloPurpose,
    pub offered_suites: Vec<u16>,
    /// Named groups in supported_groups, in offered order (empty for SSLv2/SSLv3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_groups: Vec<u16>,
    /// Versions in supported_versions (TLS 1.3 hellos only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_versions: Vec<u16>,
    /// Extension types sent, in wire order (empty for SSLv2/SSLv3 hellos).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_extensions: Vec<u16>,
    /// Compression methods offered besides none (DEFLATE in enumeration hellos).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_compression: Vec<u8>,
    /// TLS_FALLBACK_SCSV was among the suites.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fallback_scsv: bool,
    /// The bytes sent.
    pub sent: Bytes,
    /// The bytes received (capped; see [`HelloExchange::received_truncated`]).
    pub received: Bytes,
    #[serde(default)]
    pub received_truncated: bool,
    pub elapsed_ms: u64,
    pub reply: HelloReply,
}

impl HelloExchange {
    /// An exchange with nothing offered or recorded yet besides its purpose and reply.
    pub fn new(purpose: HelloPurpose, reply: HelloReply) -> HelloExchange {
        HelloExchange {
            purpose,
            offered_suites: Vec::new(),
            offered_groups: Vec::new(),
            offered_versions: Vec::new(),
            offered_extensions: Vec::new(),
            offered_compression: Vec::new(),
            fallback_scsv: false,
            sent: Bytes::default(),
            received: Bytes::default(),
            received_truncated: false,
            elapsed_ms: 0,
            reply,
        }
    }
}

/// Why a hand-built hello was sent. The server's pick is evidence whatever the purpose; a
/// refusal only rules out what the hello was probing.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HelloPurpose {
    /// Suite enumeration (and version support): a "no suite in common" refusal rules out
    /// every offered suite. Every offered group is one the server could use.
    #[default]
    Suites,
    /// Group enumeration: only suites known to be accepted are offered, so a refusal rules
    /// out the offered groups.
    Groups,
    /// Server preference: accepted suites offered in an order that tells the server's own
    /// order apart from the client's.
    Preference,
    /// TLS_FALLBACK_SCSV at a version below the highest accepted (RFC 7507): the server
    /// should refuse with inappropriate_fallback.
    Fallback,
}

/// The parsed reply to a hand-built hello.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HelloReply {
    /// A ServerHello (SSLv3/TLS) or SERVER-HELLO (SSLv2). `chain` holds any certificates
    /// that followed in plaintext, leaf first.
    ServerHello {
        version: u16,
        cipher_suite: u16,
        chain: Vec<CertDer>,
        #[serde(flatten)]
        details: HelloDetails,
    },
    Alert {
        level: u8,
        description: u8,
    },
    /// An SSLv2 ERROR message (for example NO-CIPHER-ERROR): SSLv2 spoken, but refused.
    Sslv2Error {
        code: u16,
        name: String,
    },
    Closed,
    Reset,
    Timeout,
    ConnectFailed {
        reason: String,
    },
    Malformed {
        reason: String,
    },
}

/// What the rest of a ServerHello flight showed, beyond version, suite and chain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct HelloDetails {
    /// A TLS 1.3 HelloRetryRequest rather than a ServerHello.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retry_request: bool,
    /// The key-exchange group: TLS 1.3 key_share (or the HelloRetryRequest's selected group),
    /// or the named curve of a TLS 1.2 ECDHE ServerKeyExchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<u16>,
    /// Size in bits of the DHE prime in the ServerKeyExchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dh_bits: Option<u32>,
    /// The ServerHello random ends with the TLS 1.3 downgrade sentinel (RFC 8446 §4.1.3):
    /// a TLS 1.3 server answering an older hello says so.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub downgrade_sentinel: bool,
    /// The compression method chosen (0 = none).
    #[serde(skip_serializing_if = "is_zero")]
    pub compression: u8,
    /// Extension types in the ServerHello, in wire order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<u16>,
    /// The ALPN protocol selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// A CertificateStatus (stapled OCSP response) followed the Certificate.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ocsp_stapled: bool,
    /// Why the flight after the ServerHello could not be read to its end, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flight_error: Option<String>,
    /// The stapled OCSP response: the body of the CertificateStatus message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsp_response: Option<Bytes>,
    /// The body of the ServerHello's signed_certificate_timestamp extension (RFC 6962 §3.3):
    /// a TLS-encoded SignedCertificateTimestampList.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sct_list: Option<Bytes>,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// A DER certificate, serialised as base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertDer(pub Vec<u8>);

/// Arbitrary bytes, serialised as lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for CertDer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for CertDer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).map(CertDer).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text.as_bytes()).map(Bytes).map_err(serde::de::Error::custom)
    }
}

/// The current time as [`UnixSeconds`].
pub fn now_unix() -> UnixSeconds {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
