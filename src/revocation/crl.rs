//! CRLs (RFC 5280 section 5): whether one certificate is listed, and whether the list can be
//! believed (signed by the certificate's issuer, current, complete in scope).

use serde::Serialize;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_CRL_NUMBER, OID_X509_EXT_DELTA_CRL_INDICATOR,
    OID_X509_EXT_ISSUER_DISTRIBUTION_POINT, OID_X509_EXT_REASON_CODE,
};
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Extension};

use super::{
    certificate_facts, judge_freshness, minimal_integer, serial_text, time_text, verify_with_key, CertificateFacts,
    Freshness, RevocationReason, SignatureCheck, SignatureFailure,
};
use crate::evidence::UnixSeconds;

/// Larger than any CRL worth reading in a scan; a few CAs publish CRLs of tens of
/// megabytes, and those are refused unread rather than parsed into memory.
pub const MAX_CRL_BYTES: usize = 64 << 20;

/// Whether the certificate is on the list.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CrlStatus {
    /// The serial number is not listed.
    NotListed,
    /// Listed as revoked.
    Revoked {
        /// revocationDate, seconds since the epoch.
        revoked_at: i64,
        /// The entry's reasonCode, when given and defined.
        reason: Option<RevocationReason>,
    },
}

/// The judgement of one CRL about one certificate.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CrlReview {
    /// `None` when the CRL could not be read or is not about the certificate's issuer.
    pub status: Option<CrlStatus>,
    /// thisUpdate, seconds since the epoch.
    pub this_update: Option<i64>,
    /// nextUpdate, seconds since the epoch.
    pub next_update: Option<i64>,
    /// Whether the CRL is current at the time of judging.
    pub freshness: Freshness,
    /// Whether the issuer signed the CRL.
    pub signature: SignatureCheck,
    /// English sentences on everything that is wrong or unusual.
    pub problems: Vec<String>,
}

impl CrlReview {
    /// A review that has learnt nothing yet.
    fn empty() -> CrlReview {
        CrlReview {
            status: None,
            this_update: None,
            next_update: None,
            freshness: Freshness::Unknown,
            signature: SignatureCheck::NotChecked { reason: "the CRL could not be read".to_string() },
            problems: Vec::new(),
        }
    }

    fn unparsed(problem: String) -> CrlReview {
        CrlReview { problems: vec![problem], ..CrlReview::empty() }
    }

    /// Whether the review can be relied on: a current CRL, signed by the issuer, that
    /// speaks about the certificate.
    pub fn is_trustworthy(&self) -> bool {
        self.status.is_some() && self.freshness == Freshness::Fresh && self.signature == SignatureCheck::Valid
    }
}

/// Parses and judges a DER CRL about `cert_der`, issued by `issuer_der` when known, at `at`.
pub fn judge_crl(crl_der: &[u8], cert_der: &[u8], issuer_der: Option<&[u8]>, at: UnixSeconds) -> CrlReview {
    if crl_der.len() > MAX_CRL_BYTES {
        return CrlReview::unparsed(format!(
            "the CRL is {} bytes, more than the {MAX_CRL_BYTES} kensa reads",
            crl_der.len()
        ));
    }
    let crl = match CertificateRevocationList::from_der(crl_der) {
        Ok((rest, _)) if !rest.is_empty() => {
            return CrlReview::unparsed(format!("{} bytes follow the CRL", rest.len()));
        }
        Ok((_, crl)) => crl,
        Err(e) => return CrlReview::unparsed(format!("the CRL cannot be parsed: {e}")),
    };
    let mut review = CrlReview::empty();
    let tbs = &crl.tbs_cert_list;
    review.this_update = Some(tbs.this_update.timestamp());
    review.next_update = tbs.next_update.map(|time| time.timestamp());
    review.freshness = judge_freshness(review.this_update, review.next_update, at);
    match review.freshness {
        Freshness::Stale => review.problems.push(match review.next_update {
            Some(next_update) => format!("the CRL is stale: nextUpdate was {}", time_text(next_update)),
            None => "the CRL is stale: it has no nextUpdate and is more than a week old".to_string(),
        }),
        Freshness::NotYetValid => review
            .problems
            .push(format!("the CRL is not yet valid: thisUpdate is {}", time_text(tbs.this_update.timestamp()))),
        Freshness::Fresh | Freshness::Unknown => {}
    }
    review.problems.extend(scope_notes(tbs.extensions()));

    let cert = certificate_facts(cert_der);
    let issuer = issuer_der.map(certificate_facts);
    let crl_issuer_der = tbs.issuer.as_raw();
    match &cert {
        Err(e) => review.problems.push(format!("cannot look the certificate up: {e}")),
        Ok(cert) if cert.issuer_name_der != crl_issuer_der => review.problems.push(format!(
            "the CRL is issued by {}, not by the certificate's issuer, so it says nothing about it",
            tbs.issuer
        )),
        Ok(cert) => review.status = Some(look_up(&crl, cert, &mut review.problems)),
    }

    review.signature = match &issuer {
        None => SignatureCheck::NotChecked {
            reason: "the issuer certificate is not known, so the signature cannot be checked".to_string(),
        },
        Some(Err(e)) => SignatureCheck::NotChecked { reason: format!("the issuer certificate: {e}") },
        Some(Ok(issuer)) => check_signature(&crl, issuer, &mut review.problems),
    };
    if let (SignatureCheck::Invalid { reason }, Some(_)) = (&review.signature, &issuer) {
        review.problems.push(format!("the CRL's signature is not acceptable: {reason}"));
    }
    review
}

fn look_up(crl: &CertificateRevocationList<'_>, cert: &CertificateFacts, problems: &mut Vec<String>) -> CrlStatus {
    let Some(entry) =
        crl.iter_revoked_certificates().find(|entry| minimal_integer(entry.raw_serial()) == cert.serial.as_slice())
    else {
        return CrlStatus::NotListed;
    };
    for extension in entry.extensions() {
        if extension.critical && extension.oid != OID_X509_EXT_REASON_CODE {
            problems.push(format!(
                "the entry for serial {} carries a critical extension {} that is not understood",
                serial_text(&cert.serial),
                extension.oid
            ));
        }
    }
    let reason = entry.reason_code().and_then(|(_, code)| {
        let known = RevocationReason::from_code(u32::from(code.0));
        if known.is_none() {
            problems.push(format!("the revocation reason code {} is not defined", code.0));
        }
        known
    });
    CrlStatus::Revoked { revoked_at: entry.revocation_date.timestamp(), reason }
}

/// Notes on CRL extensions that narrow what absence from the list proves.
fn scope_notes(extensions: &[X509Extension<'_>]) -> Vec<String> {
    let mut notes = Vec::new();
    for extension in extensions {
        if extension.oid == OID_X509_EXT_DELTA_CRL_INDICATOR {
            notes.push("this is a delta CRL: absence from it does not show a certificate is unrevoked".to_string());
        } else if let ParsedExtension::IssuingDistributionPoint(point) = extension.parsed_extension() {
            if point.only_some_reasons.is_some() {
                notes.push("the CRL covers only some revocation reasons".to_string());
            }
            if point.indirect_crl {
                notes.push("the CRL is indirect: its entries may be about other issuers' certificates".to_string());
            }
            if point.only_contains_ca_certs || point.only_contains_attribute_certs {
                notes.push("the CRL does not cover end-entity certificates".to_string());
            }
        } else if extension.critical
            && ![OID_X509_EXT_CRL_NUMBER, OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_ISSUER_DISTRIBUTION_POINT]
                .contains(&extension.oid)
        {
            notes.push(format!("the CRL carries a critical extension {} that is not understood", extension.oid));
        }
    }
    notes
}

fn check_signature(
    crl: &CertificateRevocationList<'_>,
    issuer: &CertificateFacts,
    problems: &mut Vec<String>,
) -> SignatureCheck {
    if issuer.subject_name_der != crl.tbs_cert_list.issuer.as_raw() {
        return SignatureCheck::Invalid {
            reason: format!("the issuer certificate given ({}) is not the CRL's issuer", issuer.subject),
        };
    }
    if issuer.crl_sign_key_usage == Some(false) {
        problems.push(format!("the issuer {} may not sign CRLs (its key usage lacks cRLSign)", issuer.subject));
    }
    match verify_with_key(&issuer.public_key_info_der, |key| crl.verify_signature(key), &crl.signature_algorithm) {
        Ok(()) => SignatureCheck::Valid,
        Err(SignatureFailure::Unsupported(reason)) => SignatureCheck::NotChecked { reason },
        Err(failure) => SignatureCheck::Invalid { reason: failure.describe() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::certificate_serial;
    use crate::revocation::ocsp::tests::{ca_params, pki, NOW};
    use crate::revocation::respond::{build_crl, CrlEntry};
    use rcgen::KeyPair;

    fn at(offset: i64) -> UnixSeconds {
        (NOW + offset) as UnixSeconds
    }

    fn crl_revoking(pki: &crate::revocation::ocsp::tests::Pki, serial: Vec<u8>, key: &KeyPair) -> Vec<u8> {
        let entry = CrlEntry { serial, revoked_at: NOW - 7200, reason: Some(RevocationReason::Superseded) };
        build_crl(&pki.ca_params, key, &[entry], NOW - 3600, NOW + 86_400 * 7).expect("CRL")
    }

    #[test]
    fn listed_certificate_is_revoked() {
        let pki = pki();
        let crl = crl_revoking(&pki, certificate_serial(&pki.leaf_der).expect("serial"), &pki.ca_key);
        let review = judge_crl(&crl, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(
            review.status,
            Some(CrlStatus::Revoked { revoked_at: NOW - 7200, reason: Some(RevocationReason::Superseded) })
        );
        assert_eq!(review.this_update, Some(NOW - 3600));
        assert_eq!(review.next_update, Some(NOW + 86_400 * 7));
        assert_eq!(review.signature, SignatureCheck::Valid);
        assert_eq!(review.freshness, Freshness::Fresh);
        assert!(review.problems.is_empty(), "{:?}", review.problems);
        assert!(review.is_trustworthy());
    }

    #[test]
    fn unlisted_certificate_is_not_listed() {
        let pki = pki();
        let crl = crl_revoking(&pki, certificate_serial(&pki.other_leaf_der).expect("serial"), &pki.ca_key);
        let review = judge_crl(&crl, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.status, Some(CrlStatus::NotListed));
        assert!(review.is_trustworthy(), "{:?}", review.problems);

        let empty = build_crl(&pki.ca_params, &pki.ca_key, &[], NOW - 3600, NOW + 3600).expect("CRL");
        let review = judge_crl(&empty, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.status, Some(CrlStatus::NotListed));
        assert_eq!(review.signature, SignatureCheck::Valid);
    }

    #[test]
    fn stale_crl() {
        let pki = pki();
        let crl = crl_revoking(&pki, vec![0x01], &pki.ca_key);
        let review = judge_crl(&crl, &pki.leaf_der, Some(&pki.ca_der), at(86_400 * 8));
        assert_eq!(review.freshness, Freshness::Stale);
        assert!(review.problems.iter().any(|p| p.contains("stale")));
        assert!(!review.is_trustworthy());
        let review = judge_crl(&crl, &pki.leaf_der, Some(&pki.ca_der), at(-86_400));
        assert_eq!(review.freshness, Freshness::NotYetValid);
    }

    #[test]
    fn crl_signed_by_another_key_is_invalid() {
        let pki = pki();
        let impostor = KeyPair::generate().expect("key");
        let crl = crl_revoking(&pki, vec![0x01], &impostor);
        let review = judge_crl(&crl, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.status, Some(CrlStatus::NotListed));
        assert!(matches!(review.signature, SignatureCheck::Invalid { .. }), "{:?}", review.signature);
        assert!(!review.is_trustworthy());
    }

    #[test]
    fn crl_of_another_issuer_says_nothing() {
        let pki = pki();
        let other_params = ca_params("someone else");
        let other_key = KeyPair::generate().expect("key");
        let crl = build_crl(&other_params, &other_key, &[], NOW - 60, NOW + 60).expect("CRL");
        let review = judge_crl(&crl, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.status, None);
        assert!(matches!(review.signature, SignatureCheck::Invalid { .. }));
    }

    #[test]
    fn without_issuer_the_signature_is_not_checked() {
        let pki = pki();
        let crl = crl_revoking(&pki, vec![0x01], &pki.ca_key);
        let review = judge_crl(&crl, &pki.leaf_der, None, at(0));
        assert_eq!(review.status, Some(CrlStatus::NotListed));
        assert!(matches!(review.signature, SignatureCheck::NotChecked { .. }));
        assert!(!review.is_trustworthy());
    }

    #[test]
    fn prefixes_and_garbage_are_survived() {
        let pki = pki();
        let crl = crl_revoking(&pki, certificate_serial(&pki.leaf_der).expect("serial"), &pki.ca_key);
        for end in 0..crl.len() {
            let review = judge_crl(&crl[..end], &pki.leaf_der, Some(&pki.ca_der), at(0));
            assert_eq!(review.status, None, "prefix of {end} bytes");
            assert!(!review.problems.is_empty());
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for index in 0..crl.len() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut mutated = crl.clone();
            mutated[index] ^= (state as u8) | 1;
            let review = judge_crl(&mutated, &pki.leaf_der, Some(&pki.ca_der), at(0));
            if review.is_trustworthy() {
                assert!(matches!(review.status, Some(CrlStatus::Revoked { .. })), "byte {index}");
            }
        }
        for garbage in [&b""[..], b"\x30", b"\x30\x80", b"\x30\x84\xff\xff\xff\xff", b"not a crl"] {
            assert_eq!(judge_crl(garbage, &pki.leaf_der, None, at(0)).status, None);
        }
        let review = judge_crl(&crl, b"junk", Some(b"junk"), at(0));
        assert_eq!(review.status, None);
        assert!(matches!(review.signature, SignatureCheck::NotChecked { .. }));
    }
}
