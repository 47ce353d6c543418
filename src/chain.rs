//! The chain as served, and the certification path built from it.
//!
//! Servers send their certificates in any order, with duplicates, stray extras, the root,
//! or without the intermediate a client needs. Browsers cope in different ways (some fetch a
//! missing intermediate through AIA, some don't), so kensa reports the served list as it
//! came and the path it leads to: each step found by issuer name and a verified signature,
//! from the served certificates first, then from certificates fetched through AIA, ending
//! at a trust anchor, an untrusted self-signed root, or a missing issuer.
//!
//! Pure: the trust verdict itself comes from webpki ([`crate::trust`]); this module
//! explains the shape.

use serde::Serialize;
use x509_parser::prelude::*;

use crate::certificate::{read_certificate, CertificateFacts};
use crate::evidence::CertDer;
use crate::trust::{TrustStore, TrustStores};

/// Most certificates a path may hold; real ones have 2 to 4.
pub const MAX_PATH_LENGTH: usize = 10;

/// Where a certificate on the path came from.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    /// Sent by the server, at this position (0 = first).
    Served { position: usize },
    /// Fetched through the AIA caIssuers URL of the certificate below it.
    Fetched,
}

/// One certificate on the path.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PathCertificate {
    pub origin: Origin,
    pub facts: CertificateFacts,
    /// The DER, for the checks that need more than the facts.
    #[serde(skip)]
    pub der: CertDer,
}

/// How the path ends.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PathEnd {
    /// The top certificate is, or is issued by, a trust anchor of `store` (the first store
    /// that holds one, in judging order).
    Anchor { store: TrustStore, subject: String },
    /// The top certificate is self-signed and no store holds it.
    UntrustedRoot,
    /// The top certificate's issuer was neither served, nor fetched, nor an anchor.
    IssuerMissing { issuer: String, ca_issuers: Vec<String> },
    /// A certificate could not be parsed.
    Unreadable { position: usize, reason: String },
    /// The path grew beyond [`MAX_PATH_LENGTH`] (a loop or a hostile server).
    TooLong,
}

/// One certificate as served, in the order served.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ServedCertificate {
    pub position: usize,
    pub sha256: String,
    pub subject: String,
    /// The certificate is on the path.
    pub on_path: bool,
    /// The same certificate was already served at this earlier position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<usize>,
    /// Why the certificate could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// The served list and the path built from it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChainAnalysis {
    pub served: Vec<ServedCertificate>,
    /// Leaf first.
    pub path: Vec<PathCertificate>,
    pub end: PathEnd,
    /// Each served certificate on the path is followed by its issuer, leaf first
    /// (RFC 8446 §4.4.2 and RFC 5246 §7.4.2 order).
    pub in_order: bool,
    /// The path needed a certificate fetched through AIA.
    pub completed_through_aia: bool,
    /// The server sent the self-signed root of the path (harmless, but wasted bytes).
    pub root_served: bool,
}

impl ChainAnalysis {
    /// Served positions that are not on the path and are not duplicates.
    pub fn unrelated(&self) -> Vec<&ServedCertificate> {
        self.served.iter().filter(|c| !c.on_path && c.duplicate_of.is_none()).collect()
    }

    /// Served positions that repeat an earlier certificate.
    pub fn duplicates(&self) -> Vec<&ServedCertificate> {
        self.served.iter().filter(|c| c.duplicate_of.is_some()).collect()
    }

    /// The path reaches a trust anchor of some store.
    pub fn reaches_anchor(&self) -> bool {
        matches!(self.end, PathEnd::Anchor { .. })
    }
}

/// A candidate issuer: a readable certificate with where it came from.
struct Candidate {
    origin: Origin,
    der: CertDer,
    facts: CertificateFacts,
}

/// Builds the path for `served` (leaf first), using `fetched` certificates as further
/// candidates and `stores` for the anchors.
pub fn analyse(served: &[CertDer], fetched: &[CertDer], stores: &TrustStores) -> ChainAnalysis {
    let mut listing: Vec<ServedCertificate> = Vec::with_capacity(served.len());
    let mut candidates: Vec<Candidate> = Vec::new();
    for (position, der) in served.iter().enumerate() {
        let duplicate_of = served[..position].iter().position(|earlier| earlier == der);
        let facts = read_certificate(&der.0);
        listing.push(ServedCertificate {
            position,
            sha256: crate::certificate::sha256_hex(&der.0),
            subject: facts.as_ref().map(|f| f.subject.clone()).unwrap_or_default(),
            on_path: false,
            duplicate_of,
            unreadable: facts.as_ref().err().cloned(),
        });
        if let (Ok(facts), None) = (facts, duplicate_of) {
            candidates.push(Candidate { origin: Origin::Served { position }, der: der.clone(), facts });
        }
    }
    for der in fetched {
        if let Ok(facts) = read_certificate(&der.0) {
            if !candidates.iter().any(|c| c.der == *der) {
                candidates.push(Candidate { origin: Origin::Fetched, der: der.clone(), facts });
            }
        }
    }

    let mut path: Vec<PathCertificate> = Vec::new();
    let end = build_path(served, &mut candidates, &mut path, stores);
    for link in &path {
        if let Origin::Served { position } = link.origin {
            if let Some(entry) = listing.get_mut(position) {
                entry.on_path = true;
            }
        }
    }
    let served_positions: Vec<usize> = path
        .iter()
        .map_while(|link| match link.origin {
            Origin::Served { position } => Some(position),
            Origin::Fetched => None,
        })
        .collect();
    let in_order = served_positions.iter().enumerate().all(|(index, position)| index == *position)
        && path.iter().skip(served_positions.len()).all(|link| link.origin == Origin::Fetched);
    let completed_through_aia = path.iter().any(|link| link.origin == Origin::Fetched);
    let root_served = path.last().is_some_and(|top| {
        matches!(top.origin, Origin::Served { position } if position > 0) && is_self_signed(&top.der, &top.facts)
    });
    ChainAnalysis { served: listing, path, end, in_order, completed_through_aia, root_served }
}

fn build_path(
    served: &[CertDer],
    candidates: &mut Vec<Candidate>,
    path: &mut Vec<PathCertificate>,
    stores: &TrustStores,
) -> PathEnd {
    let Some(leaf) = served.first() else {
        return PathEnd::Unreadable { position: 0, reason: "no certificate was served".to_string() };
    };
    let leaf_facts = match read_certificate(&leaf.0) {
        Ok(facts) => facts,
        Err(reason) => return PathEnd::Unreadable { position: 0, reason },
    };
    candidates.retain(|c| c.origin != Origin::Served { position: 0 });
    path.push(PathCertificate { origin: Origin::Served { position: 0 }, facts: leaf_facts, der: leaf.clone() });
    let anchors = stores.stores();
    loop {
        let Some(current) = path.last() else {
            return PathEnd::TooLong;
        };
        if path.len() > 1 {
            if let Some(store) = anchor_holding(&current.facts, &current.der, &anchors) {
                return PathEnd::Anchor { store, subject: current.facts.subject.clone() };
            }
        }
        if is_self_signed(&current.der, &current.facts) {
            return match anchor_holding(&current.facts, &current.der, &anchors) {
                Some(store) => PathEnd::Anchor { store, subject: current.facts.subject.clone() },
                None => PathEnd::UntrustedRoot,
            };
        }
        if path.len() >= MAX_PATH_LENGTH {
            return PathEnd::TooLong;
        }
        // Served certificates first (in served order), then fetched ones.
        let next = candidates.iter().position(|c| {
            c.facts.subject_raw == current.facts.issuer_raw && may_have_signed(&current.der, &c.facts_spki_der())
        });
        if let Some(index) = next {
            let issuer = candidates.remove(index);
            path.push(PathCertificate { origin: issuer.origin, facts: issuer.facts, der: issuer.der });
            continue;
        }
        if let Some((store, subject)) = anchor_issuing(&current.facts, &current.der, &anchors) {
            return PathEnd::Anchor { store, subject };
        }
        return PathEnd::IssuerMissing {
            issuer: current.facts.issuer.clone(),
            ca_issuers: current.facts.ca_issuers.clone(),
        };
    }
}

impl Candidate {
    fn facts_spki_der(&self) -> Vec<u8> {
        spki_der(&self.der).unwrap_or_default()
    }
}

/// The DER SubjectPublicKeyInfo of a certificate.
fn spki_der(cert: &CertDer) -> Option<Vec<u8>> {
    let (_, parsed) = X509Certificate::from_der(&cert.0).ok()?;
    Some(parsed.tbs_certificate.subject_pki.raw.to_vec())
}

/// What checking `cert`'s signature with a candidate issuer's key showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignatureLink {
    Verified,
    /// The algorithm cannot be verified here (ring has no ECDSA with SHA-1, for example):
    /// the issuer name alone links them, and the signature-hash rule reports the algorithm.
    Unverifiable,
    Mismatch,
}

fn signature_link(cert: &CertDer, issuer_spki: &[u8]) -> SignatureLink {
    let Ok((_, parsed)) = X509Certificate::from_der(&cert.0) else {
        return SignatureLink::Mismatch;
    };
    let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(issuer_spki) else {
        return SignatureLink::Mismatch;
    };
    match parsed.verify_signature(Some(&spki)) {
        Ok(()) => SignatureLink::Verified,
        Err(X509Error::SignatureUnsupportedAlgorithm) => SignatureLink::Unverifiable,
        Err(_) => SignatureLink::Mismatch,
    }
}

/// Whether `cert`'s signature verifies with the public key in `issuer_spki` (DER).
fn signed_by(cert: &CertDer, issuer_spki: &[u8]) -> bool {
    signature_link(cert, issuer_spki) == SignatureLink::Verified
}

/// Whether the key in `issuer_spki` signed `cert`, or may have (an algorithm that cannot be
/// verified here is not taken as proof of a different issuer).
fn may_have_signed(cert: &CertDer, issuer_spki: &[u8]) -> bool {
    signature_link(cert, issuer_spki) != SignatureLink::Mismatch
}

/// Self-issued and signed with its own key.
pub fn is_self_signed(der: &CertDer, facts: &CertificateFacts) -> bool {
    facts.self_issued && spki_der(der).is_some_and(|spki| signed_by(der, &spki))
}

/// The first store holding this very certificate as an anchor (same subject and key).
fn anchor_holding(
    facts: &CertificateFacts,
    der: &CertDer,
    anchors: &[(TrustStore, &[rustls::pki_types::TrustAnchor<'static>])],
) -> Option<TrustStore> {
    let spki = spki_der(der)?;
    let subject = der_content(&facts.subject_raw)?;
    let spki_value = der_content(&spki)?;
    anchors.iter().find_map(|(store, list)| {
        list.iter()
            .any(|a| a.subject.as_ref() == subject && a.subject_public_key_info.as_ref() == spki_value)
            .then_some(*store)
    })
}

/// The first anchor (in store order) named as this certificate's issuer whose key verifies
/// its signature.
fn anchor_issuing(
    facts: &CertificateFacts,
    der: &CertDer,
    anchors: &[(TrustStore, &[rustls::pki_types::TrustAnchor<'static>])],
) -> Option<(TrustStore, String)> {
    let issuer = der_content(&facts.issuer_raw)?;
    anchors.iter().find_map(|(store, list)| {
        list.iter().find_map(|anchor| {
            if anchor.subject.as_ref() != issuer {
                return None;
            }
            let spki = sequence(anchor.subject_public_key_info.as_ref());
            may_have_signed(der, &spki).then(|| (*store, facts.issuer.clone()))
        })
    })
}

/// The content of a DER SEQUENCE (trust anchors keep names and keys without the outer tag).
fn der_content(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        (bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), rest)
    };
    (rest.len() == length).then_some(rest)
}

/// Wraps content in a DER SEQUENCE header.
fn sequence(content: &[u8]) -> Vec<u8> {
    crate::certificate::der_tlv(0x30, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_headers_round_trip() {
        for size in [0usize, 5, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; size];
            let wrapped = sequence(&content);
            assert_eq!(der_content(&wrapped), Some(content.as_slice()), "size {size}");
        }
        assert_eq!(der_content(&[0x31, 0]), None);
        assert_eq!(der_content(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_content(&[0x30, 3, 1]), None);
    }
}
