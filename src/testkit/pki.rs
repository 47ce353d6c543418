//! A flexible throwaway PKI for the certificate tests: chains of any depth, with control over
//! every certificate's key, validity, basicConstraints, keyUsage, extendedKeyUsage, names,
//! AIA (caIssuers and OCSP), CRL distribution points, certificate policies and the TLS
//! feature (OCSP must-staple).
//!
//! Certificates are made with rcgen (ECDSA keys by default). What rcgen cannot make is made
//! with Debian's `openssl` command: RSA keys (ring, behind rcgen, cannot generate them),
//! certificates signed with SHA-1 ([`Authority::issue_with_openssl`]) and certificates for
//! RSA keys below 2048 bits (ring refuses to load them). Those calls fail with a
//! [`PkiError`] when `openssl` is missing; [`openssl_available`] tells callers to skip.
//!
//! Every authority keeps its rcgen [`KeyPair`] and its certificate, so callers can sign
//! more with it later (OCSP responses, CRLs).
//!
//! ```no_run
//! use kensa::testkit::pki::{CertSpec, Chain};
//!
//! // Root, two intermediates, and a leaf for web.clinic.example.
//! let chain = Chain::build(2, CertSpec::leaf(&["web.clinic.example"])).unwrap();
//! let identity = chain.identity(); // leaf + intermediates, to serve
//! let root = chain.root.evidence_der(); // to trust, as --ca-file would
//! # let _ = (identity, root);
//! ```

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SignatureAlgorithm,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use super::{pem_block, pem_encode, Identity, PkiError, TempDir, Validity};
use crate::evidence::CertDer;

/// OID of the Authority Information Access extension (RFC 5280 §4.2.2.1).
pub const OID_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";
/// AIA access method: the issuer's certificate.
pub const OID_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
/// AIA access method: an OCSP responder.
pub const OID_OCSP: &str = "1.3.6.1.5.5.7.48.1";
/// OID of the certificate policies extension (RFC 5280 §4.2.1.4).
pub const OID_CERTIFICATE_POLICIES: &str = "2.5.29.32";
/// OID of the CRL distribution points extension (RFC 5280 §4.2.1.13).
pub const OID_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
/// OID of the TLS feature extension (RFC 7633).
pub const OID_TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
/// CA/Browser Forum policy: domain validated.
pub const POLICY_DV: &str = "2.23.140.1.2.1";
/// CA/Browser Forum policy: organisation validated.
pub const POLICY_OV: &str = "2.23.140.1.2.2";
/// CA/Browser Forum policy: extended validation.
pub const POLICY_EV: &str = "2.23.140.1.1";

/// Longest an `openssl` command may run.
const OPENSSL_DEADLINE: Duration = Duration::from_secs(30);

/// The key a certificate is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeySpec {
    /// ECDSA on P-256, signing with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384, signing with SHA-384.
    EcdsaP384,
    /// RSA of `bits` bits, made by `openssl genpkey` (once per size and process, then reused).
    /// Below 2048 bits rcgen cannot sign with it or for it: use
    /// [`Authority::issue_with_openssl`].
    Rsa {
        /// Modulus size.
        bits: u32,
    },
}

impl KeySpec {
    /// RSA 2048.
    pub const RSA_2048: KeySpec = KeySpec::Rsa { bits: 2048 };
}

/// Everything that goes into one certificate. Start from [`CertSpec::leaf`] or
/// [`CertSpec::ca`] and adjust the fields or chain the `with_*` methods.
#[derive(Clone, Debug)]
pub struct CertSpec {
    /// The subject CN; `None` leaves the subject without one.
    pub common_name: Option<String>,
    /// The subject O.
    pub organization: Option<String>,
    /// subjectAltName DNS names (wildcards allowed). With no DNS name and no IP address the
    /// certificate has no subjectAltName extension at all (a CN-only certificate).
    pub dns_names: Vec<String>,
    /// subjectAltName IP addresses.
    pub ip_addresses: Vec<IpAddr>,
    /// The subject's key.
    pub key: KeySpec,
    /// notBefore and notAfter in days from [`CertSpec::anchor`].
    pub validity: Validity,
    /// The instant `validity` counts from; `None` is the moment the certificate is made.
    pub anchor: Option<OffsetDateTime>,
    /// basicConstraints: `NoCa` omits the extension, `ExplicitNoCa` writes CA:FALSE.
    pub basic_constraints: IsCa,
    /// keyUsage bits; empty omits the extension.
    pub key_usages: Vec<KeyUsagePurpose>,
    /// extendedKeyUsage purposes; empty omits the extension.
    pub extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
    /// AIA caIssuers URLs.
    pub ca_issuers: Vec<String>,
    /// AIA OCSP responder URLs.
    pub ocsp_responders: Vec<String>,
    /// CRL distribution point URLs (one distribution point each).
    pub crl_urls: Vec<String>,
    /// Certificate policy OIDs, dotted (e.g. [`POLICY_DV`]).
    pub policies: Vec<String>,
    /// Adds the TLS feature extension asking for status_request (OCSP must-staple).
    pub must_staple: bool,
}

impl CertSpec {
    /// A server certificate: CN is the first name, every name is a subjectAltName (IP
    /// literals as IP addresses), serverAuth, digitalSignature, no basicConstraints, ECDSA
    /// P-256, valid from yesterday for 90 days.
    pub fn leaf(names: &[&str]) -> CertSpec {
        let (ips, dns): (Vec<&str>, Vec<&str>) = names.iter().partition(|n| n.parse::<IpAddr>().is_ok());
        CertSpec {
            common_name: names.first().map(|n| n.to_string()),
            organization: None,
            dns_names: dns.into_iter().map(str::to_string).collect(),
            ip_addresses: ips.into_iter().filter_map(|ip| ip.parse().ok()).collect(),
            key: KeySpec::EcdsaP256,
            validity: Validity::CURRENT,
            anchor: None,
            basic_constraints: IsCa::NoCa,
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            extended_key_usages: vec![ExtendedKeyUsagePurpose::ServerAuth],
            ca_issuers: Vec::new(),
            ocsp_responders: Vec::new(),
            crl_urls: Vec::new(),
            policies: Vec::new(),
            must_staple: false,
        }
    }

    /// A CA certificate named `common_name`: CA:TRUE without a path length limit,
    /// keyCertSign, cRLSign and digitalSignature, no extendedKeyUsage, ECDSA P-256, valid
    /// from 30 days ago for ten years.
    pub fn ca(common_name: &str) -> CertSpec {
        CertSpec {
            common_name: Some(common_name.to_string()),
            organization: Some("kensa test PKI".to_string()),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            key: KeySpec::EcdsaP256,
            validity: Validity { from_days: -30, until_days: 3650 },
            anchor: None,
            basic_constraints: IsCa::Ca(BasicConstraints::Unconstrained),
            key_usages: vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature],
            extended_key_usages: Vec::new(),
            ca_issuers: Vec::new(),
            ocsp_responders: Vec::new(),
            crl_urls: Vec::new(),
            policies: Vec::new(),
            must_staple: false,
        }
    }

    /// A certificate whose only name is the subject CN `common_name`: no subjectAltName.
    pub fn cn_only(common_name: &str) -> CertSpec {
        CertSpec { dns_names: Vec::new(), ip_addresses: Vec::new(), ..CertSpec::leaf(&[common_name]) }
    }

    /// With this key.
    pub fn with_key(mut self, key: KeySpec) -> CertSpec {
        self.key = key;
        self
    }

    /// Valid from `from_days` to `until_days` (days from the anchor; negative: before it).
    pub fn with_validity(mut self, from_days: i64, until_days: i64) -> CertSpec {
        self.validity = Validity { from_days, until_days };
        self
    }

    /// Counting validity days from `anchor` instead of the moment the certificate is made.
    pub fn anchored_at(mut self, anchor: OffsetDateTime) -> CertSpec {
        self.anchor = Some(anchor);
        self
    }

    /// With these extendedKeyUsage purposes (empty: no extension).
    pub fn with_eku(mut self, purposes: Vec<ExtendedKeyUsagePurpose>) -> CertSpec {
        self.extended_key_usages = purposes;
        self
    }

    /// With these keyUsage bits (empty: no extension).
    pub fn with_key_usage(mut self, usages: Vec<KeyUsagePurpose>) -> CertSpec {
        self.key_usages = usages;
        self
    }

    /// With this basicConstraints.
    pub fn with_basic_constraints(mut self, basic_constraints: IsCa) -> CertSpec {
        self.basic_constraints = basic_constraints;
        self
    }

    /// With an AIA caIssuers URL.
    pub fn with_ca_issuers(mut self, url: &str) -> CertSpec {
        self.ca_issuers.push(url.to_string());
        self
    }

    /// With an AIA OCSP responder URL.
    pub fn with_ocsp(mut self, url: &str) -> CertSpec {
        self.ocsp_responders.push(url.to_string());
        self
    }

    /// With a CRL distribution point URL.
    pub fn with_crl(mut self, url: &str) -> CertSpec {
        self.crl_urls.push(url.to_string());
        self
    }

    /// With a certificate policy OID.
    pub fn with_policy(mut self, oid: &str) -> CertSpec {
        self.policies.push(oid.to_string());
        self
    }

    /// With the OCSP must-staple TLS feature.
    pub fn with_must_staple(mut self) -> CertSpec {
        self.must_staple = true;
        self
    }

    /// The rcgen parameters, for a certificate or (`for_request`) a certificate request:
    /// rcgen refuses serial numbers and CRL distribution points in a request, so there the
    /// serial is left out and the distribution points become a custom extension.
    fn params(&self, for_request: bool) -> Result<CertificateParams, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = &self.common_name {
            params.distinguished_name.push(DnType::CommonName, cn.as_str());
        }
        if let Some(organization) = &self.organization {
            params.distinguished_name.push(DnType::OrganizationName, organization.as_str());
        }
        for name in &self.dns_names {
            let ia5 = name.as_str().try_into().map_err(|e: rcgen::Error| PkiError(format!("SAN {name:?}: {e}")))?;
            params.subject_alt_names.push(SanType::DnsName(ia5));
        }
        params.subject_alt_names.extend(self.ip_addresses.iter().map(|ip| SanType::IpAddress(*ip)));
        let anchor = self.anchor.unwrap_or_else(OffsetDateTime::now_utc);
        params.not_before = anchor + time::Duration::days(self.validity.from_days);
        params.not_after = anchor + time::Duration::days(self.validity.until_days);
        if !for_request {
            params.serial_number = Some(random_serial()?.into());
        }
        params.is_ca = self.basic_constraints;
        params.key_usages = self.key_usages.clone();
        params.extended_key_usages = self.extended_key_usages.clone();
        if !self.ca_issuers.is_empty() || !self.ocsp_responders.is_empty() {
            params.custom_extensions.push(authority_info_access(&self.ca_issuers, &self.ocsp_responders)?);
        }
        if !self.crl_urls.is_empty() {
            if !for_request {
                params.crl_distribution_points =
                    self.crl_urls.iter().map(|url| CrlDistributionPoint { uris: vec![url.clone()] }).collect();
            } else {
                params.custom_extensions.push(crl_distribution_points(&self.crl_urls)?);
            }
        }
        if !self.policies.is_empty() {
            let oids: Vec<&str> = self.policies.iter().map(String::as_str).collect();
            params.custom_extensions.push(certificate_policies(&oids)?);
        }
        if self.must_staple {
            params.custom_extensions.push(must_staple()?);
        }
        Ok(params)
    }
}

/// A certificate made by this PKI, with its private key.
pub struct Issued {
    /// The certificate.
    pub der: CertificateDer<'static>,
    /// What it was made from.
    pub spec: CertSpec,
    /// The private key, PKCS#8 DER.
    key_pkcs8: Vec<u8>,
}

impl Issued {
    /// The certificate as kensa's evidence holds it.
    pub fn evidence_der(&self) -> CertDer {
        CertDer(self.der.to_vec())
    }

    /// The certificate as PEM.
    pub fn pem(&self) -> String {
        pem_encode(&self.der)
    }

    /// The private key, for a rustls server.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem_block("PRIVATE KEY", &self.key_pkcs8)
    }

    /// The private key for rcgen (to sign with it); fails for keys ring will not load, such
    /// as RSA below 2048 bits.
    pub fn key_pair(&self) -> Result<KeyPair, PkiError> {
        KeyPair::from_pem(&self.key_pem()).map_err(PkiError::from)
    }

    /// This certificate followed by `rest`, with its key: what a server serves.
    pub fn identity_with(&self, rest: &[CertificateDer<'static>]) -> Identity {
        let mut chain = vec![self.der.clone()];
        chain.extend(rest.iter().cloned());
        Identity { chain, key: self.key() }
    }
}

/// A certificate authority: its certificate and the key it signs with.
pub struct Authority {
    /// The CA certificate and its key.
    pub cert: Issued,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// A self-signed root made from `spec` (usually [`CertSpec::ca`]).
    pub fn root(spec: CertSpec) -> Result<Authority, PkiError> {
        let (key, key_pkcs8) = rcgen_key(spec.key)?;
        let params = spec.params(false)?;
        let der = params.self_signed(&key)?.der().clone();
        Ok(Authority { cert: Issued { der, spec, key_pkcs8 }, issuer: Issuer::new(params, key) })
    }

    /// The CA certificate.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.cert.der
    }

    /// The CA certificate as kensa's evidence holds it (e.g. in `extra_roots`).
    pub fn evidence_der(&self) -> CertDer {
        self.cert.evidence_der()
    }

    /// The CA certificate as PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA's signing key (for OCSP responses or CRLs).
    pub fn key_pair(&self) -> &KeyPair {
        self.issuer.key()
    }

    /// The rcgen issuer, to sign other kinds of objects with this CA.
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// A certificate made from `spec`, signed by this CA with rcgen (the hash follows this
    /// CA's key: SHA-256 for P-256 and RSA, SHA-384 for P-384).
    pub fn issue(&self, spec: CertSpec) -> Result<Issued, PkiError> {
        let (key, key_pkcs8) = rcgen_key(spec.key)?;
        let der = spec.params(false)?.signed_by(&key, &self.issuer)?.der().clone();
        Ok(Issued { der, spec, key_pkcs8 })
    }

    /// A subordinate CA made from `spec` (usually [`CertSpec::ca`]), signed by this CA.
    pub fn issue_ca(&self, spec: CertSpec) -> Result<Authority, PkiError> {
        let (key, key_pkcs8) = rcgen_key(spec.key)?;
        let params = spec.params(false)?;
        let der = params.signed_by(&key, &self.issuer)?.der().clone();
        Ok(Authority { cert: Issued { der, spec, key_pkcs8 }, issuer: Issuer::new(params, key) })
    }

    /// A certificate made from `spec` but signed by `openssl x509 -req -<digest>` (`sha1`,
    /// `sha256`…): for what rcgen cannot sign, such as a SHA-1 signature, or a subject key
    /// ring cannot load (RSA below 2048 bits). The extensions come from the request, as rcgen
    /// writes them. OpenSSL 3.0 takes no start date: the certificate is valid from now for
    /// `spec.validity.until_days` days (at least one), whatever `from_days` and `anchor` say.
    pub fn issue_with_openssl(&self, spec: CertSpec, digest: &str) -> Result<Issued, PkiError> {
        let dir = TempDir::new("pki-openssl").map_err(|e| PkiError(format!("temp dir: {e}")))?;
        let key_pem = match spec.key {
            KeySpec::Rsa { bits } => rsa_key_pem(bits)?,
            other => rcgen_key(other)?.0.serialize_pem(),
        };
        write(&dir, "subject.key", &key_pem)?;
        write(&dir, "ca.pem", &self.pem())?;
        write(&dir, "ca.key", &self.cert.key_pem())?;
        // The request: rcgen's when ring can load the key (so the subject is encoded exactly
        // as rcgen encodes the issuer name of what this CA signs later), openssl's otherwise.
        match KeyPair::from_pem(&key_pem) {
            Ok(key) => {
                let csr = spec.params(true)?.serialize_request(&key)?;
                write(&dir, "request.csr", &csr.pem()?)?;
            }
            Err(_) => openssl_request(&dir, &spec)?,
        }
        let days = spec.validity.until_days.max(1).to_string();
        let serial = format!("0x{}", hex::encode(random_serial()?));
        run_openssl(
            dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                "request.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                &format!("-{digest}"),
                "-days",
                &days,
                "-set_serial",
                &serial,
                "-copy_extensions",
                "copyall",
                "-outform",
                "DER",
                "-out",
                "certificate.der",
            ],
        )?;
        let der = std::fs::read(dir.path().join("certificate.der")).map_err(|e| PkiError(format!("read: {e}")))?;
        let key_pkcs8 = pem_body(&key_pem)?;
        Ok(Issued { der: CertificateDer::from(der), spec, key_pkcs8 })
    }

    /// [`Authority::issue_with_openssl`] for a subordinate CA (whose key rcgen can use, so
    /// that it can sign in turn), e.g. a SHA-1-signed intermediate.
    pub fn issue_ca_with_openssl(&self, spec: CertSpec, digest: &str) -> Result<Authority, PkiError> {
        let issued = self.issue_with_openssl(spec, digest)?;
        let key = issued.key_pair()?;
        let params = issued.spec.params(false)?;
        Ok(Authority { issuer: Issuer::new(params, key), cert: issued })
    }
}

/// A root, intermediates and a leaf.
pub struct Chain {
    /// The self-signed root.
    pub root: Authority,
    /// The intermediates, the leaf's issuer first (the order a server sends them).
    pub intermediates: Vec<Authority>,
    /// The server certificate.
    pub leaf: Issued,
}

impl Chain {
    /// A fresh root `kensa test root`, `depth` intermediates `kensa test intermediate N`
    /// (1 is the one under the root), and a leaf made from `leaf` by the last of them.
    pub fn build(depth: usize, leaf: CertSpec) -> Result<Chain, PkiError> {
        let root = Authority::root(CertSpec::ca("kensa test root"))?;
        let mut intermediates: Vec<Authority> = Vec::with_capacity(depth);
        for level in 1..=depth {
            let spec = CertSpec::ca(&format!("kensa test intermediate {level}"));
            let next = match intermediates.last() {
                Some(parent) => parent.issue_ca(spec)?,
                None => root.issue_ca(spec)?,
            };
            intermediates.push(next);
        }
        let leaf = match intermediates.last() {
            Some(parent) => parent.issue(leaf)?,
            None => root.issue(leaf)?,
        };
        intermediates.reverse();
        Ok(Chain { root, intermediates, leaf })
    }

    /// The leaf's issuer: the first intermediate, or the root.
    pub fn issuing(&self) -> &Authority {
        self.intermediates.first().unwrap_or(&self.root)
    }

    /// What a well-configured server sends: the leaf, then the intermediates up to (not
    /// including) the root.
    pub fn served(&self) -> Vec<CertificateDer<'static>> {
        std::iter::once(&self.leaf.der).chain(self.intermediates.iter().map(Authority::der)).cloned().collect()
    }

    /// [`Chain::served`] with the leaf's key.
    pub fn identity(&self) -> Identity {
        Identity { chain: self.served(), key: self.leaf.key() }
    }

    /// The root, to trust it (the `--ca-file` equivalent).
    pub fn roots(&self) -> Vec<CertDer> {
        vec![self.root.evidence_der()]
    }
}

/// Whether an `openssl` binary can be run here.
pub fn openssl_available() -> bool {
    super::OpenSslServer::available()
}

/// The AIA extension with `ca_issuers` and `ocsp` URLs, in that order.
pub fn authority_info_access(ca_issuers: &[String], ocsp: &[String]) -> Result<CustomExtension, PkiError> {
    let ca_issuers_oid = oid_der(OID_CA_ISSUERS)?;
    let ocsp_oid = oid_der(OID_OCSP)?;
    let mut descriptions = Vec::new();
    for (method, url) in ca_issuers.iter().map(|u| (&ca_issuers_oid, u)).chain(ocsp.iter().map(|u| (&ocsp_oid, u))) {
        // AccessDescription ::= SEQUENCE { accessMethod OID, accessLocation GeneralName }, the
        // location a uniformResourceIdentifier: [6] IMPLICIT IA5String.
        let mut description = method.clone();
        description.extend(tlv(0x86, url.as_bytes()));
        descriptions.extend(tlv(0x30, &description));
    }
    extension(OID_AUTHORITY_INFO_ACCESS, tlv(0x30, &descriptions))
}

/// The certificate policies extension listing `oids` without qualifiers.
pub fn certificate_policies(oids: &[&str]) -> Result<CustomExtension, PkiError> {
    let mut policies = Vec::new();
    for oid in oids {
        // PolicyInformation ::= SEQUENCE { policyIdentifier OID }
        policies.extend(tlv(0x30, &oid_der(oid)?));
    }
    extension(OID_CERTIFICATE_POLICIES, tlv(0x30, &policies))
}

/// The CRL distribution points extension, one distribution point per URL.
pub fn crl_distribution_points(urls: &[String]) -> Result<CustomExtension, PkiError> {
    let mut points = Vec::new();
    for url in urls {
        // DistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] GeneralNames } }
        let full_name = tlv(0xa0, &tlv(0x86, url.as_bytes()));
        points.extend(tlv(0x30, &tlv(0xa0, &full_name)));
    }
    extension(OID_CRL_DISTRIBUTION_POINTS, tlv(0x30, &points))
}

/// The TLS feature extension asking for status_request: SEQUENCE { INTEGER 5 }.
pub fn must_staple() -> Result<CustomExtension, PkiError> {
    extension(OID_TLS_FEATURE, tlv(0x30, &tlv(0x02, &[5])))
}

/// A "certs-only" PKCS#7 SignedData ContentInfo holding `certificates` in DER, as served
/// at `.p7c` caIssuers URLs.
pub fn pkcs7_certs_only(certificates: &[&[u8]]) -> Result<Vec<u8>, PkiError> {
    let mut set = Vec::new();
    for certificate in certificates {
        set.extend_from_slice(certificate);
    }
    let mut signed_data = tlv(0x02, &[1]); // version
    signed_data.extend(tlv(0x31, &[])); // digestAlgorithms
    signed_data.extend(tlv(0x30, &oid_der("1.2.840.113549.1.7.1")?)); // encapContentInfo: data
    signed_data.extend(tlv(0xa0, &set)); // certificates [0] IMPLICIT
    signed_data.extend(tlv(0x31, &[])); // signerInfos
    let mut content_info = oid_der("1.2.840.113549.1.7.2")?;
    content_info.extend(tlv(0xa0, &tlv(0x30, &signed_data)));
    Ok(tlv(0x30, &content_info))
}

/// PEM `CERTIFICATE` blocks of `certificates`, concatenated.
pub fn certificates_pem(certificates: &[&CertificateDer<'_>]) -> String {
    certificates.iter().map(|c| pem_encode(c)).collect()
}

/// A DER TLV with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    crate::certificate::der_tlv(tag, content)
}

/// A dotted OID as its arcs.
fn oid_arcs(oid: &str) -> Result<Vec<u64>, PkiError> {
    let arcs: Vec<u64> = oid
        .split('.')
        .map(|arc| arc.parse::<u64>().map_err(|_| PkiError(format!("bad OID {oid:?}"))))
        .collect::<Result<_, _>>()?;
    match arcs.as_slice() {
        [first, second, ..] if *first <= 2 && (*first == 2 || *second < 40) => Ok(arcs),
        _ => Err(PkiError(format!("bad OID {oid:?}"))),
    }
}

/// A dotted OID as a DER OBJECT IDENTIFIER.
fn oid_der(oid: &str) -> Result<Vec<u8>, PkiError> {
    let arcs = oid_arcs(oid)?;
    let mut content = Vec::new();
    let first = arcs.first().copied().unwrap_or_default() * 40 + arcs.get(1).copied().unwrap_or_default();
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        content.extend(groups.into_iter().rev());
    }
    Ok(tlv(0x06, &content))
}

fn extension(oid: &str, value: Vec<u8>) -> Result<CustomExtension, PkiError> {
    Ok(CustomExtension::from_oid_content(&oid_arcs(oid)?, value))
}

/// A positive random 64-bit serial number.
fn random_serial() -> Result<Vec<u8>, PkiError> {
    use ring::rand::SecureRandom;
    let mut serial = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut serial).map_err(|_| PkiError("no randomness".to_string()))?;
    serial[0] = (serial[0] & 0x7f) | 0x01;
    Ok(serial.to_vec())
}

/// A key rcgen can sign with, and its PKCS#8 DER.
fn rcgen_key(spec: KeySpec) -> Result<(KeyPair, Vec<u8>), PkiError> {
    let algorithm: &'static SignatureAlgorithm = match spec {
        KeySpec::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeySpec::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeySpec::Rsa { bits } => {
            let pem = rsa_key_pem(bits)?;
            let key = KeyPair::from_pem(&pem)
                .map_err(|e| PkiError(format!("RSA {bits} cannot be used by rcgen/ring ({e}); use openssl")))?;
            let der = key.serialize_der();
            return Ok((key, der));
        }
    };
    let key = KeyPair::generate_for(algorithm)?;
    let der = key.serialize_der();
    Ok((key, der))
}

/// An RSA key of `bits` as PKCS#8 PEM, made by `openssl genpkey` once per size and process.
fn rsa_key_pem(bits: u32) -> Result<String, PkiError> {
    static KEYS: OnceLock<Mutex<Vec<(u32, String)>>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| Mutex::new(Vec::new()));
    // A poisoned lock only means another test panicked while holding it; the list is plain.
    let mut keys = keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, pem)) = keys.iter().find(|(b, _)| *b == bits) {
        return Ok(pem.clone());
    }
    let dir = TempDir::new("pki-rsa").map_err(|e| PkiError(format!("temp dir: {e}")))?;
    run_openssl(
        dir.path(),
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", &format!("rsa_keygen_bits:{bits}"), "-out", "rsa.key"],
    )?;
    let pem = std::fs::read_to_string(dir.path().join("rsa.key")).map_err(|e| PkiError(format!("read: {e}")))?;
    keys.push((bits, pem.clone()));
    Ok(pem)
}

/// A request made by `openssl req` for `subject.key`, carrying `spec`'s names and usages
/// (for keys rcgen cannot sign a request with).
fn openssl_request(dir: &TempDir, spec: &CertSpec) -> Result<(), PkiError> {
    let subject = match &spec.common_name {
        Some(cn) => format!("/CN={cn}"),
        None => "/O=kensa test PKI".to_string(),
    };
    let mut args: Vec<String> =
        ["req", "-new", "-key", "subject.key", "-subj", &subject, "-out", "request.csr"].map(String::from).to_vec();
    let mut add = |extension: String| args.extend(["-addext".to_string(), extension]);
    let sans: Vec<String> = spec
        .dns_names
        .iter()
        .map(|n| format!("DNS:{n}"))
        .chain(spec.ip_addresses.iter().map(|ip| format!("IP:{ip}")))
        .collect();
    if !sans.is_empty() {
        add(format!("subjectAltName={}", sans.join(",")));
    }
    match spec.basic_constraints {
        IsCa::NoCa => {}
        IsCa::ExplicitNoCa => add("basicConstraints=critical,CA:FALSE".to_string()),
        IsCa::Ca(BasicConstraints::Unconstrained) => add("basicConstraints=critical,CA:TRUE".to_string()),
        IsCa::Ca(BasicConstraints::Constrained(n)) => add(format!("basicConstraints=critical,CA:TRUE,pathlen:{n}")),
    }
    let usages: Vec<&str> = spec
        .key_usages
        .iter()
        .filter_map(|u| match u {
            KeyUsagePurpose::DigitalSignature => Some("digitalSignature"),
            KeyUsagePurpose::KeyEncipherment => Some("keyEncipherment"),
            KeyUsagePurpose::KeyCertSign => Some("keyCertSign"),
            KeyUsagePurpose::CrlSign => Some("cRLSign"),
            _ => None,
        })
        .collect();
    if !usages.is_empty() {
        add(format!("keyUsage=critical,{}", usages.join(",")));
    }
    let purposes: Vec<&str> = spec
        .extended_key_usages
        .iter()
        .filter_map(|p| match p {
            ExtendedKeyUsagePurpose::ServerAuth => Some("serverAuth"),
            ExtendedKeyUsagePurpose::ClientAuth => Some("clientAuth"),
            _ => None,
        })
        .collect();
    if !purposes.is_empty() {
        add(format!("extendedKeyUsage={}", purposes.join(",")));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run_openssl(dir.path(), &refs)
}

/// Runs `openssl ARGS` in `dir`, killed after [`OPENSSL_DEADLINE`]; its stderr becomes the
/// error on failure.
fn run_openssl(dir: &Path, args: &[&str]) -> Result<(), PkiError> {
    let stderr_path = dir.join("openssl.stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| PkiError(format!("stderr file: {e}")))?;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| PkiError(format!("cannot run openssl: {e}")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < OPENSSL_DEADLINE => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PkiError(format!("openssl {} did not finish in time", args.join(" "))));
            }
        }
    };
    if status.success() {
        return Ok(());
    }
    let said = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    Err(PkiError(format!("openssl {} failed ({status}): {}", args.join(" "), said.trim())))
}

fn write(dir: &TempDir, name: &str, contents: &str) -> Result<(), PkiError> {
    dir.write(name, contents).map(|_| ()).map_err(|e| PkiError(format!("write {name}: {e}")))
}

/// The DER inside the first PEM block of `pem`.
fn pem_body(pem: &str) -> Result<Vec<u8>, PkiError> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| PkiError(format!("bad PEM: {e}")))
}
