//! Signed OCSP responses and CRLs made on the spot, for `kensa demo` and the tests.
//!
//! This is the responder's half of OCSP as a pure function (request bytes in, response bytes
//! out); serving it over HTTP is someone else's job. Keys come as [`rcgen::KeyPair`]s and are
//! used through ring, so whatever rcgen can hold (ECDSA P-256/P-384, Ed25519, RSA loaded from
//! PKCS#8) can sign.

use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use rcgen::{CertificateParams, CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevokedCertParams};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId, ResponseData, RevokedInfo,
    SingleResponse, Version,
};

use super::ocsp::{cert_id, ID_OCSP_SCT_LIST, ID_PKIX_OCSP_NONCE};
use super::RevocationReason;
use super::{certificate_facts, issuer_key_hash, issuer_name_hash, minimal_integer, CertIdHash, CertificateFacts};

/// Requests larger than this are malformed on their face (a request for one certificate is
/// under 100 bytes).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// How many certificates one request may ask about.
pub const MAX_CERTIFICATES_PER_REQUEST: usize = 16;

/// The validity of answers made by [`OcspResponder::answer`]: one day, as a responder that
/// signs on demand might choose.
pub const ANSWER_VALIDITY_SECONDS: i64 = 24 * 60 * 60;

/// The status a responder states for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponderStatus {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// revocationTime, seconds since the epoch.
        revoked_at: i64,
        /// revocationReason, if stated.
        reason: Option<RevocationReason>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// The unsuccessful OCSPResponseStatus values, which carry no response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspErrorStatus {
    /// malformedRequest (1).
    MalformedRequest,
    /// internalError (2).
    InternalError,
    /// tryLater (3).
    TryLater,
    /// sigRequired (5).
    SigRequired,
    /// unauthorized (6).
    Unauthorized,
}

impl OcspErrorStatus {
    fn code(self) -> u8 {
        match self {
            OcspErrorStatus::MalformedRequest => 1,
            OcspErrorStatus::InternalError => 2,
            OcspErrorStatus::TryLater => 3,
            OcspErrorStatus::SigRequired => 5,
            OcspErrorStatus::Unauthorized => 6,
        }
    }
}

/// A DER OCSPResponse with an error status and no body.
pub fn error_response(status: OcspErrorStatus) -> Vec<u8> {
    // SEQUENCE { ENUMERATED status }: fixed bytes, so this cannot fail the way an encoder
    // call formally can.
    vec![0x30, 0x03, 0x0a, 0x01, status.code()]
}

/// Makes signed OCSP responses for the certificates of one issuer.
pub struct OcspResponder {
    issuer: CertificateFacts,
    signer: ResponseSigner,
    /// The DER Name written into the ResponderID.
    responder_name_der: Vec<u8>,
    /// A delegated responder's certificate, sent along so clients can check it.
    responder_certificate_der: Option<Vec<u8>>,
}

impl OcspResponder {
    /// A responder that signs as the issuer itself. The key is not checked against the
    /// certificate, so tests can make responses a wrong key signed.
    pub fn new(issuer_der: Vec<u8>, issuer_key: &KeyPair) -> Result<Self, String> {
        let issuer = certificate_facts(&issuer_der).map_err(|e| format!("issuer certificate: {e}"))?;
        Ok(OcspResponder {
            responder_name_der: issuer.subject_name_der.clone(),
            issuer,
            signer: ResponseSigner::new(issuer_key)?,
            responder_certificate_der: None,
        })
    }

    /// A delegated responder (RFC 6960 4.2.2.2): signs with `responder_key`, names
    /// `responder_der` as ResponderID and embeds it. Whether it is authorised (issued by the
    /// issuer, OCSPSigning) is up to the certificate given, so tests can make bad ones.
    pub fn delegated(issuer_der: Vec<u8>, responder_der: Vec<u8>, responder_key: &KeyPair) -> Result<Self, String> {
        let issuer = certificate_facts(&issuer_der).map_err(|e| format!("issuer certificate: {e}"))?;
        let responder = certificate_facts(&responder_der).map_err(|e| format!("responder certificate: {e}"))?;
        Ok(OcspResponder {
            issuer,
            signer: ResponseSigner::new(responder_key)?,
            responder_name_der: responder.subject_name_der,
            responder_certificate_der: Some(responder_der),
        })
    }

    /// A signed BasicOCSPResponse wrapped in OCSPResponse(successful) about `cert_der`, with a
    /// SHA-1 CertID, producedAt = `this_update`, and optionally an SCT list extension
    /// (`sct_list` is the TLS-encoded SignedCertificateTimestampList).
    pub fn respond(
        &self,
        cert_der: &[u8],
        status: ResponderStatus,
        this_update: i64,
        next_update: Option<i64>,
        sct_list: Option<&[u8]>,
    ) -> Result<Vec<u8>, String> {
        let cert = certificate_facts(cert_der).map_err(|e| format!("certificate: {e}"))?;
        let id = cert_id(CertIdHash::Sha1, &cert.serial, &self.issuer)?;
        let single = single_response(id, status, this_update, next_update, sct_list)?;
        self.sign(vec![single], this_update, None)
    }

    /// Answers a DER OCSPRequest as an HTTP responder would, at time `at`: each CertID must
    /// name this issuer (else `unauthorized`), and `lookup` gives the status for a serial
    /// number (minimal INTEGER content bytes, as [`super::certificate_serial`] returns).
    /// A request nonce is echoed. Unreadable requests get `malformedRequest`.
    pub fn answer(&self, request_der: &[u8], lookup: &dyn Fn(&[u8]) -> ResponderStatus, at: i64) -> Vec<u8> {
        if request_der.len() > MAX_REQUEST_BYTES {
            return error_response(OcspErrorStatus::MalformedRequest);
        }
        let Ok(request) = OcspRequest::from_der(request_der) else {
            return error_response(OcspErrorStatus::MalformedRequest);
        };
        let asked = &request.tbs_request.request_list;
        if asked.is_empty() || asked.len() > MAX_CERTIFICATES_PER_REQUEST {
            return error_response(OcspErrorStatus::MalformedRequest);
        }
        let mut responses = Vec::with_capacity(asked.len());
        for single_request in asked {
            let id = &single_request.req_cert;
            if !self.is_own_cert_id(id) {
                return error_response(OcspErrorStatus::Unauthorized);
            }
            let status = lookup(minimal_integer(id.serial_number.as_bytes()));
            match single_response(id.clone(), status, at, Some(at.saturating_add(ANSWER_VALIDITY_SECONDS)), None) {
                Ok(single) => responses.push(single),
                Err(_) => return error_response(OcspErrorStatus::InternalError),
            }
        }
        let nonce = request
            .tbs_request
            .request_extensions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|ext| ext.extn_id == ID_PKIX_OCSP_NONCE)
            .map(|nonce| vec![nonce.clone()]);
        self.sign(responses, at, nonce).unwrap_or_else(|_| error_response(OcspErrorStatus::InternalError))
    }

    fn is_own_cert_id(&self, id: &CertId) -> bool {
        let Some(hash) = CertIdHash::from_oid(&id.hash_algorithm.oid.to_string()) else {
            return false;
        };
        id.issuer_name_hash.as_bytes() == issuer_name_hash(hash, &self.issuer).as_slice()
            && id.issuer_key_hash.as_bytes() == issuer_key_hash(hash, &self.issuer).as_slice()
    }

    fn sign(
        &self,
        responses: Vec<SingleResponse>,
        produced_at: i64,
        response_extensions: Option<Vec<Extension>>,
    ) -> Result<Vec<u8>, String> {
        let name = Name::from_der(&self.responder_name_der).map_err(|e| format!("responder name: {e}"))?;
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByName(name),
            produced_at: ocsp_time(produced_at)?,
            responses,
            response_extensions,
        };
        let signed = data.to_der().map_err(|e| format!("cannot encode tbsResponseData: {e}"))?;
        let signature = self.signer.sign(&signed)?;
        let certs = match &self.responder_certificate_der {
            Some(der) => Some(vec![Certificate::from_der(der).map_err(|e| format!("responder certificate: {e}"))?]),
            None => None,
        };
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: self.signer.algorithm.clone(),
            signature: BitString::from_bytes(&signature).map_err(|e| e.to_string())?,
            certs,
        };
        OcspResponse::successful(basic)
            .and_then(|response| response.to_der())
            .map_err(|e| format!("cannot encode the OCSP response: {e}"))
    }
}

fn single_response(
    cert_id: CertId,
    status: ResponderStatus,
    this_update: i64,
    next_update: Option<i64>,
    sct_list: Option<&[u8]>,
) -> Result<SingleResponse, String> {
    let cert_status = match status {
        ResponderStatus::Good => x509_ocsp::CertStatus::Good(Null),
        ResponderStatus::Unknown => x509_ocsp::CertStatus::Unknown(Null),
        ResponderStatus::Revoked { revoked_at, reason } => x509_ocsp::CertStatus::Revoked(RevokedInfo {
            revocation_time: ocsp_time(revoked_at)?,
            revocation_reason: reason.map(crl_reason),
        }),
    };
    let single_extensions = match sct_list {
        None => None,
        Some(list) => {
            // RFC 6962 3.3: the extension value is an OCTET STRING holding the TLS list,
            // itself inside extnValue's OCTET STRING.
            let inner = OctetString::new(list).and_then(|inner| inner.to_der()).map_err(|e| e.to_string())?;
            Some(vec![Extension {
                extn_id: ID_OCSP_SCT_LIST,
                critical: false,
                extn_value: OctetString::new(inner).map_err(|e| e.to_string())?,
            }])
        }
    };
    Ok(SingleResponse {
        cert_id,
        cert_status,
        this_update: ocsp_time(this_update)?,
        next_update: next_update.map(ocsp_time).transpose()?,
        single_extensions,
    })
}

fn ocsp_time(unix: i64) -> Result<OcspGeneralizedTime, String> {
    let seconds = u64::try_from(unix).map_err(|_| format!("time {unix} is before 1970"))?;
    GeneralizedTime::from_unix_duration(Duration::from_secs(seconds))
        .map(OcspGeneralizedTime)
        .map_err(|e| format!("time {unix} cannot be written as GeneralizedTime: {e}"))
}

fn crl_reason(reason: RevocationReason) -> CrlReason {
    match reason {
        RevocationReason::Unspecified => CrlReason::Unspecified,
        RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
        RevocationReason::CaCompromise => CrlReason::CaCompromise,
        RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
        RevocationReason::Superseded => CrlReason::Superseded,
        RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
        RevocationReason::CertificateHold => CrlReason::CertificateHold,
        RevocationReason::RemoveFromCrl => CrlReason::RemoveFromCRL,
        RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => CrlReason::AaCompromise,
    }
}

/// A ring signing key and the AlgorithmIdentifier its signatures carry.
struct ResponseSigner {
    key: SigningKey,
    algorithm: AlgorithmIdentifierOwned,
}

enum SigningKey {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair, &'static dyn ring::signature::RsaEncoding),
}

impl ResponseSigner {
    fn new(key: &KeyPair) -> Result<ResponseSigner, String> {
        let pkcs8 = key.serialize_der();
        let algorithm = key.algorithm();
        let rejected = |e: ring::error::KeyRejected| format!("ring rejects the key: {e}");
        let rng = SystemRandom::new();
        let (signing_key, oid, null_parameters) = if algorithm == &rcgen::PKCS_ECDSA_P256_SHA256 {
            let pair = EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
                .map_err(rejected)?;
            (SigningKey::Ecdsa(pair), "1.2.840.10045.4.3.2", false)
        } else if algorithm == &rcgen::PKCS_ECDSA_P384_SHA384 {
            let pair = EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING, &pkcs8, &rng)
                .map_err(rejected)?;
            (SigningKey::Ecdsa(pair), "1.2.840.10045.4.3.3", false)
        } else if algorithm == &rcgen::PKCS_ED25519 {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(rejected)?;
            (SigningKey::Ed25519(pair), "1.3.101.112", false)
        } else if algorithm == &rcgen::PKCS_RSA_SHA256 {
            let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(rejected)?;
            (SigningKey::Rsa(pair, &ring::signature::RSA_PKCS1_SHA256), "1.2.840.113549.1.1.11", true)
        } else if algorithm == &rcgen::PKCS_RSA_SHA384 {
            let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(rejected)?;
            (SigningKey::Rsa(pair, &ring::signature::RSA_PKCS1_SHA384), "1.2.840.113549.1.1.12", true)
        } else if algorithm == &rcgen::PKCS_RSA_SHA512 {
            let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(rejected)?;
            (SigningKey::Rsa(pair, &ring::signature::RSA_PKCS1_SHA512), "1.2.840.113549.1.1.13", true)
        } else {
            return Err(format!("signing OCSP responses with {algorithm:?} keys is not supported"));
        };
        Ok(ResponseSigner {
            key: signing_key,
            algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new(oid).map_err(|e| e.to_string())?,
                // RFC 4055 writes NULL parameters for PKCS #1 v1.5; RFC 5758 and 8410 forbid them
                // for ECDSA and EdDSA.
                parameters: if null_parameters { Some(Null.into()) } else { None },
            },
        })
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match &self.key {
            SigningKey::Ecdsa(pair) => {
                pair.sign(&rng, message).map(|sig| sig.as_ref().to_vec()).map_err(|_| "ECDSA signing failed".into())
            }
            SigningKey::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            SigningKey::Rsa(pair, encoding) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(*encoding, &rng, message, &mut signature).map_err(|_| "RSA signing failed".to_string())?;
                Ok(signature)
            }
        }
    }
}

/// One revoked certificate for [`build_crl`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// The serial number's INTEGER content (as [`super::certificate_serial`] returns).
    pub serial: Vec<u8>,
    /// revocationDate, seconds since the epoch.
    pub revoked_at: i64,
    /// reasonCode, if stated.
    pub reason: Option<RevocationReason>,
}

/// A DER CRL signed by `issuer_key` in the name of the CA described by `issuer_params`,
/// listing `revoked`, with CRL number `this_update` (so later CRLs number higher).
pub fn build_crl(
    issuer_params: &CertificateParams,
    issuer_key: &KeyPair,
    revoked: &[CrlEntry],
    this_update: i64,
    next_update: i64,
) -> Result<Vec<u8>, String> {
    let offset = |unix: i64| {
        time::OffsetDateTime::from_unix_timestamp(unix).map_err(|e| format!("time {unix} is out of range: {e}"))
    };
    let revoked_certs = revoked
        .iter()
        .map(|entry| {
            Ok(RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(&entry.serial),
                revocation_time: offset(entry.revoked_at)?,
                reason_code: entry.reason.map(rcgen_reason),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let params = CertificateRevocationListParams {
        this_update: offset(this_update)?,
        next_update: offset(next_update)?,
        crl_number: rcgen::SerialNumber::from(u64::try_from(this_update).unwrap_or(0)),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let issuer = Issuer::from_params(issuer_params, issuer_key);
    params.signed_by(&issuer).map(|crl| crl.der().to_vec()).map_err(|e| format!("cannot build the CRL: {e}"))
}

fn rcgen_reason(reason: RevocationReason) -> rcgen::RevocationReason {
    match reason {
        RevocationReason::Unspecified => rcgen::RevocationReason::Unspecified,
        RevocationReason::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise => rcgen::RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
        RevocationReason::Superseded => rcgen::RevocationReason::Superseded,
        RevocationReason::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold => rcgen::RevocationReason::CertificateHold,
        RevocationReason::RemoveFromCrl => rcgen::RevocationReason::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn => rcgen::RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => rcgen::RevocationReason::AaCompromise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::ocsp::tests::{pki, NOW};
    use crate::revocation::ocsp::{build_request, judge_response, CertStatus, OcspResponseStatus};

    #[test]
    fn malformed_requests_get_malformed_request() {
        let pki = pki();
        let responder = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key).expect("responder");
        let lookup = |_: &[u8]| ResponderStatus::Good;
        let malformed = error_response(OcspErrorStatus::MalformedRequest);
        assert_eq!(responder.answer(b"", &lookup, NOW), malformed);
        assert_eq!(responder.answer(b"\x30\x00", &lookup, NOW), malformed);
        let request = build_request(&pki.leaf_der, &pki.ca_der).expect("request");
        for end in 0..request.len() {
            assert_eq!(responder.answer(&request[..end], &lookup, NOW), malformed, "prefix of {end} bytes");
        }
        assert_eq!(responder.answer(&vec![0x30; MAX_REQUEST_BYTES + 1], &lookup, NOW), malformed);
    }

    #[test]
    fn requests_for_another_issuer_are_unauthorized() {
        let pki = pki();
        let stranger = crate::revocation::ocsp::tests::pki();
        let responder = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key).expect("responder");
        let request = build_request(&stranger.leaf_der, &stranger.ca_der).expect("request");
        let answer = responder.answer(&request, &|_| ResponderStatus::Good, NOW);
        assert_eq!(answer, error_response(OcspErrorStatus::Unauthorized));
        let review = judge_response(&answer, &stranger.leaf_der, Some(&stranger.ca_der), NOW as u64);
        assert_eq!(review.response_status, OcspResponseStatus::Unauthorized);
    }

    #[test]
    fn every_rcgen_curve_can_sign() {
        for algorithm in [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ECDSA_P384_SHA384, &rcgen::PKCS_ED25519] {
            let params = crate::revocation::ocsp::tests::ca_params("kensa curve CA");
            let key = KeyPair::generate_for(algorithm).expect("key");
            let ca_der = params.self_signed(&key).expect("CA").der().to_vec();
            let leaf = crate::revocation::ocsp::tests::issue(&params, &key, "leaf.example", &[], 5);
            let response = OcspResponder::new(ca_der.clone(), &key)
                .expect("responder")
                .respond(&leaf, ResponderStatus::Good, NOW - 60, Some(NOW + 60), None)
                .expect("response");
            let review = judge_response(&response, &leaf, Some(&ca_der), NOW as u64);
            assert_eq!(review.cert_status, Some(CertStatus::Good));
            assert!(review.is_trustworthy(), "{algorithm:?}: {:?}", review.problems);
        }
    }

    #[test]
    fn times_before_1970_are_refused() {
        let pki = pki();
        let responder = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key).expect("responder");
        assert!(responder.respond(&pki.leaf_der, ResponderStatus::Good, -1, None, None).is_err());
    }
}
