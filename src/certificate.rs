//! Certificate facts read from DER with x509-parser: names, validity, key, signature.
//!
//! Pure functions of the bytes; checks and reports call them on recorded chains.

use std::net::IpAddr;

use serde::Serialize;
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::evidence::UnixSeconds;

/// What kensa reads out of one certificate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CertificateFacts {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// Seconds since the epoch; may be negative for odd certificates.
    pub not_before: i64,
    pub not_after: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub key: PublicKeyFacts,
    /// Short name of the signature algorithm, e.g. `sha256WithRSAEncryption`.
    pub signature_algorithm: String,
    pub signature_hash: SignatureHash,
    /// Subject and issuer are the same name.
    pub self_issued: bool,
    pub is_ca: bool,
    pub sha256_fingerprint: String,
    /// Common names in the subject; browsers ignore them for matching.
    pub common_names: Vec<String>,
    /// The certificate carries a subjectAltName extension.
    pub has_san: bool,
    /// basicConstraints, if present.
    pub basic_constraints: Option<BasicConstraintsFacts>,
    /// keyUsage bits that are set (`digital_signature`, `key_cert_sign`…), if the extension
    /// is present.
    pub key_usage: Option<Vec<&'static str>>,
    /// extendedKeyUsage, if present.
    pub extended_key_usage: Option<ExtendedKeyUsageFacts>,
    /// Certificate policy OIDs.
    pub policies: Vec<String>,
    /// The validation level the CA/Browser Forum policy OIDs declare.
    pub validation: ValidationLevel,
    /// Authority Information Access: where the issuer certificate can be fetched.
    pub ca_issuers: Vec<String>,
    /// Authority Information Access: OCSP responders.
    pub ocsp_responders: Vec<String>,
    /// CRL distribution point URLs.
    pub crl_urls: Vec<String>,
    /// The TLS feature extension asks for status_request (OCSP must-staple, RFC 7633).
    pub must_staple: bool,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
    /// Extensions that could not be parsed.
    pub extension_errors: Vec<String>,
    /// The raw subject and issuer names, for path building.
    #[serde(skip)]
    pub subject_raw: Vec<u8>,
    #[serde(skip)]
    pub issuer_raw: Vec<u8>,
}

/// basicConstraints.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct BasicConstraintsFacts {
    pub ca: bool,
    pub path_len: Option<u32>,
}

/// extendedKeyUsage purposes.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExtendedKeyUsageFacts {
    pub server_auth: bool,
    pub client_auth: bool,
    pub ocsp_signing: bool,
    /// anyExtendedKeyUsage.
    pub any: bool,
    /// Other purposes, as OIDs or short names.
    pub others: Vec<String>,
}

/// Validation level declared through the CA/Browser Forum's reserved policy OIDs.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ValidationLevel {
    /// Domain validated (2.23.140.1.2.1).
    Dv,
    /// Organisation validated (2.23.140.1.2.2).
    Ov,
    /// Individual validated (2.23.140.1.2.3).
    Iv,
    /// Extended validation (2.23.140.1.1).
    Ev,
    /// No CA/Browser Forum policy OID.
    Unknown,
}

impl ValidationLevel {
    /// `DV`, `OV`, `IV`, `EV` or `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            ValidationLevel::Dv => "DV",
            ValidationLevel::Ov => "OV",
            ValidationLevel::Iv => "IV",
            ValidationLevel::Ev => "EV",
            ValidationLevel::Unknown => "unknown",
        }
    }

    fn from_policies(policies: &[String]) -> ValidationLevel {
        let has = |oid: &str| policies.iter().any(|p| p == oid);
        if has("2.23.140.1.1") {
            ValidationLevel::Ev
        } else if has("2.23.140.1.2.2") {
            ValidationLevel::Ov
        } else if has("2.23.140.1.2.3") {
            ValidationLevel::Iv
        } else if has("2.23.140.1.2.1") {
            ValidationLevel::Dv
        } else {
            ValidationLevel::Unknown
        }
    }
}

/// OID of the TLS feature extension (RFC 7633).
const OID_TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";
/// TLS feature value for status_request: OCSP must-staple.
const TLS_FEATURE_STATUS_REQUEST: u64 = 5;

/// The public key's type and size.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PublicKeyFacts {
    Rsa { bits: usize },
    Ec { bits: usize, curve: String },
    Ed25519,
    Ed448,
    Dsa { bits: usize },
    Other { oid: String },
}

impl PublicKeyFacts {
    /// A short label such as `RSA 2048` or `EC P-256 (256)`.
    pub fn label(&self) -> String {
        match self {
            PublicKeyFacts::Rsa { bits } => format!("RSA {bits}"),
            PublicKeyFacts::Ec { bits, curve } => format!("EC {curve} ({bits})"),
            PublicKeyFacts::Ed25519 => "Ed25519".to_string(),
            PublicKeyFacts::Ed448 => "Ed448".to_string(),
            PublicKeyFacts::Dsa { bits } => format!("DSA {bits}"),
            PublicKeyFacts::Other { oid } => format!("unknown key ({oid})"),
        }
    }
}

/// The hash inside a signature algorithm, for weak-hash checks.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SignatureHash {
    Md2,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    /// EdDSA signs the message itself.
    Intrinsic,
    Unknown,
}

impl SignatureHash {
    /// MD2, MD5 and SHA-1 are broken for certificate signatures.
    pub fn is_weak(self) -> bool {
        matches!(self, SignatureHash::Md2 | SignatureHash::Md5 | SignatureHash::Sha1)
    }
}

/// Reads a DER certificate. Errors are values with a readable reason.
pub fn read_certificate(der: &[u8]) -> Result<CertificateFacts, String> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes of trailing data after the certificate", rest.len()));
    }
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    let mut extension_errors = Vec::new();
    let san = cert.subject_alternative_name().unwrap_or_else(|e| {
        extension_errors.push(format!("subjectAltName: {e}"));
        None
    });
    let has_san = san.is_some();
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push(dns.to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(octets) = <[u8; 4]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(octets));
                    } else if let Ok(octets) = <[u8; 16]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(octets));
                    }
                }
                _ => {}
            }
        }
    }
    let signature_oid = cert.signature_algorithm.algorithm.to_id_string();
    let signature_algorithm = x509_parser::objects::oid2sn(&cert.signature_algorithm.algorithm, oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| signature_name(&signature_oid));
    let basic_constraints = match cert.basic_constraints() {
        Ok(bc) => bc.map(|bc| BasicConstraintsFacts { ca: bc.value.ca, path_len: bc.value.path_len_constraint }),
        Err(e) => {
            extension_errors.push(format!("basicConstraints: {e}"));
            None
        }
    };
    let is_ca = basic_constraints.is_some_and(|bc| bc.ca);
    let key_usage = match cert.key_usage() {
        Ok(ku) => ku.map(|ku| key_usage_names(ku.value)),
        Err(e) => {
            extension_errors.push(format!("keyUsage: {e}"));
            None
        }
    };
    let extended_key_usage = match cert.extended_key_usage() {
        Ok(eku) => eku.map(|eku| ExtendedKeyUsageFacts {
            server_auth: eku.value.server_auth,
            client_auth: eku.value.client_auth,
            ocsp_signing: eku.value.ocsp_signing,
            any: eku.value.any,
            others: eku.value.other.iter().map(|oid| oid.to_id_string()).collect(),
        }),
        Err(e) => {
            extension_errors.push(format!("extendedKeyUsage: {e}"));
            None
        }
    };
    let mut links = ExtensionLinks::default();
    for extension in cert.extensions() {
        links.read(extension);
    }
    extension_errors.extend(links.errors);
    let common_names = cert
        .subject()
        .iter_common_name()
        .map(|cn| cn.as_str().map(str::to_string).unwrap_or_else(|_| String::from_utf8_lossy(cn.as_slice()).into()))
        .collect();
    Ok(CertificateFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        dns_names,
        ip_addresses,
        key: key_facts(cert.public_key()),
        signature_hash: hash_of(&signature_oid),
        signature_algorithm,
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        is_ca,
        sha256_fingerprint: sha256_hex(der),
        common_names,
        has_san,
        basic_constraints,
        key_usage,
        extended_key_usage,
        validation: ValidationLevel::from_policies(&links.policies),
        policies: links.policies,
        ca_issuers: links.ca_issuers,
        ocsp_responders: links.ocsp_responders,
        crl_urls: links.crl_urls,
        must_staple: links.must_staple,
        subject_key_id: links.subject_key_id,
        authority_key_id: links.authority_key_id,
        extension_errors,
        subject_raw: cert.subject().as_raw().to_vec(),
        issuer_raw: cert.issuer().as_raw().to_vec(),
    })
}

/// The SHA-256 fingerprint of DER bytes, in lowercase hex: how evidence names a certificate.
pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, der))
}

fn key_usage_names(ku: &KeyUsage) -> Vec<&'static str> {
    [
        (ku.digital_signature(), "digital_signature"),
        (ku.non_repudiation(), "non_repudiation"),
        (ku.key_encipherment(), "key_encipherment"),
        (ku.data_encipherment(), "data_encipherment"),
        (ku.key_agreement(), "key_agreement"),
        (ku.key_cert_sign(), "key_cert_sign"),
        (ku.crl_sign(), "crl_sign"),
        (ku.encipher_only(), "encipher_only"),
        (ku.decipher_only(), "decipher_only"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// The extensions that point elsewhere or name identifiers: AIA, CRL distribution points,
/// key identifiers, policies and the TLS feature.
#[derive(Default)]
struct ExtensionLinks {
    policies: Vec<String>,
    ca_issuers: Vec<String>,
    ocsp_responders: Vec<String>,
    crl_urls: Vec<String>,
    must_staple: bool,
    subject_key_id: Option<String>,
    authority_key_id: Option<String>,
    errors: Vec<String>,
}

impl ExtensionLinks {
    fn read(&mut self, extension: &X509Extension<'_>) {
        let uri = |name: &GeneralName<'_>| match name {
            GeneralName::URI(uri) => Some(uri.to_string()),
            _ => None,
        };
        match extension.parsed_extension() {
            ParsedExtension::CertificatePolicies(policies) => {
                self.policies.extend(policies.iter().map(|p| p.policy_id.to_id_string()));
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for access in &aia.accessdescs {
                    match access.access_method.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.48.2" => self.ca_issuers.extend(uri(&access.access_location)),
                        "1.3.6.1.5.5.7.48.1" => self.ocsp_responders.extend(uri(&access.access_location)),
                        _ => {}
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                        self.crl_urls.extend(names.iter().filter_map(uri));
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(id) => self.subject_key_id = Some(hex::encode(id.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                self.authority_key_id = aki.key_identifier.as_ref().map(|id| hex::encode(id.0));
            }
            ParsedExtension::ParseError { error } => {
                self.errors.push(format!("{}: {error}", extension.oid.to_id_string()));
            }
            _ if extension.oid.to_id_string() == OID_TLS_FEATURE => match tls_features(extension.value) {
                Ok(features) => self.must_staple = features.contains(&TLS_FEATURE_STATUS_REQUEST),
                Err(e) => self.errors.push(format!("TLS feature: {e}")),
            },
            _ => {}
        }
    }
}

/// The TLS feature extension's value: a SEQUENCE OF INTEGER.
fn tls_features(value: &[u8]) -> Result<Vec<u64>, String> {
    let (rest, sequence) = der_parser::der::parse_der_sequence(value).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing data".to_string());
    }
    let items = sequence.as_sequence().map_err(|e| e.to_string())?;
    items.iter().map(|item| item.as_u64().map_err(|e| e.to_string())).collect()
}

fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> PublicKeyFacts {
    let oid = spki.algorithm.algorithm.to_id_string();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => PublicKeyFacts::Rsa { bits: rsa.key_size() },
        Ok(PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|curve| curve_name(&curve.to_id_string()))
                .unwrap_or_else(|| "unknown curve".to_string());
            PublicKeyFacts::Ec { bits: point.key_size(), curve }
        }
        Ok(PublicKey::DSA(_)) => PublicKeyFacts::Dsa { bits: spki.subject_public_key.data.len() * 8 },
        _ => match oid.as_str() {
            "1.3.101.112" => PublicKeyFacts::Ed25519,
            "1.3.101.113" => PublicKeyFacts::Ed448,
            _ => PublicKeyFacts::Other { oid },
        },
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".to_string(),
        "1.3.132.0.34" => "P-384".to_string(),
        "1.3.132.0.35" => "P-521".to_string(),
        "1.3.132.0.10" => "secp256k1".to_string(),
        other => other.to_string(),
    }
}

fn hash_of(signature_oid: &str) -> SignatureHash {
    match signature_oid {
        "1.2.840.113549.1.1.2" => SignatureHash::Md2,
        "1.2.840.113549.1.1.4" => SignatureHash::Md5,
        "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" | "1.2.840.10040.4.3" | "1.3.14.3.2.29" => SignatureHash::Sha1,
        "1.2.840.113549.1.1.14" | "1.2.840.10045.4.3.1" => SignatureHash::Sha224,
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" | "2.16.840.1.101.3.4.3.2" => SignatureHash::Sha256,
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => SignatureHash::Sha384,
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => SignatureHash::Sha512,
        // RSASSA-PSS carries its hash in parameters; every PSS profile in use is SHA-2.
        "1.2.840.113549.1.1.10" => SignatureHash::Unknown,
        "1.3.101.112" | "1.3.101.113" => SignatureHash::Intrinsic,
        _ => SignatureHash::Unknown,
    }
}

/// A DER TLV with a definite, minimal length (for the few places kensa writes DER itself).
pub fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Names for signature OIDs the registry lacks.
fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1".to_string(),
        "1.2.840.10040.4.3" => "dsa-with-SHA1".to_string(),
        other => other.to_string(),
    }
}

/// Whole days from `at` until `not_after` (negative once expired).
pub fn days_remaining(facts: &CertificateFacts, at: UnixSeconds) -> i64 {
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    facts.not_after.saturating_sub(at).div_euclid(86_400)
}

/// Formats epoch seconds as an RFC 3339 UTC date-time.
pub fn format_time(seconds: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&::time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("@{seconds}"))
}
