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
}

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
    if let Ok(Some(san)) = cert.subject_alternative_name() {
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
        .unwrap_or_else(|_| signature_oid.clone());
    let is_ca = cert.basic_constraints().ok().flatten().map(|bc| bc.value.ca).unwrap_or(false);
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
        sha256_fingerprint: hex::encode(ring::digest::digest(&ring::digest::SHA256, der)),
    })
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
