//! OCSP (RFC 6960): requests to send, and what a response says about one certificate.
//!
//! [`judge_response`] recognises the whole response first (outer envelope, BasicOCSPResponse,
//! the raw bytes that were signed, embedded certificates) and only then compares it with the
//! certificate, checks the signer and the validity window. Anything odd becomes a sentence in
//! [`OcspReview::problems`].

use der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Header, Reader, SliceReader, Tag, TagNumber};
use serde::Serialize;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{BasicOcspResponse, CertId, OcspRequest, Request, ResponderId, SingleResponse, TbsRequest};

use super::{
    certificate_facts, certificate_signed_by, issuer_key_hash, issuer_name_hash, judge_freshness, minimal_integer,
    serial_text, time_text, unix_to_i64, verify_signed_data, CertIdHash, CertificateFacts, Freshness, RevocationReason,
    SignatureFailure,
};
use crate::evidence::UnixSeconds;

/// Larger than any OCSP response needs to be (they are a few kilobytes, a few more with a
/// delegated responder's certificate); anything bigger is refused unread.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// How many certificates embedded in a response are tried as the signer.
pub const MAX_EMBEDDED_CERTIFICATES: usize = 8;

/// id-pkix-ocsp-basic: the only response type RFC 6960 defines.
pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");

/// id-pkix-ocsp-nonce.
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// The RFC 6962 SingleResponse extension carrying a SignedCertificateTimestampList.
pub const ID_OCSP_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.5");

/// Extensions a response may mark critical without us giving up on it.
const UNDERSTOOD_EXTENSIONS: [ObjectIdentifier; 2] = [ID_PKIX_OCSP_NONCE, ID_OCSP_SCT_LIST];

/// OCSPResponseStatus, plus the case where the bytes were not an OCSP response at all.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OcspResponseStatus {
    /// A signed response follows.
    Successful,
    /// The responder could not read the request.
    MalformedRequest,
    /// The responder failed internally.
    InternalError,
    /// The responder is busy; ask again.
    TryLater,
    /// The responder wants signed requests.
    SigRequired,
    /// The responder does not serve this issuer (or this client).
    Unauthorized,
    /// The bytes could not be recognised as an OCSPResponse.
    Unparseable,
}

impl OcspResponseStatus {
    /// The RFC 6960 name (`tryLater`, ...).
    pub fn rfc_name(self) -> &'static str {
        match self {
            OcspResponseStatus::Successful => "successful",
            OcspResponseStatus::MalformedRequest => "malformedRequest",
            OcspResponseStatus::InternalError => "internalError",
            OcspResponseStatus::TryLater => "tryLater",
            OcspResponseStatus::SigRequired => "sigRequired",
            OcspResponseStatus::Unauthorized => "unauthorized",
            OcspResponseStatus::Unparseable => "(unparseable)",
        }
    }

    fn from_wire(status: x509_ocsp::OcspResponseStatus) -> OcspResponseStatus {
        match status {
            x509_ocsp::OcspResponseStatus::Successful => OcspResponseStatus::Successful,
            x509_ocsp::OcspResponseStatus::MalformedRequest => OcspResponseStatus::MalformedRequest,
            x509_ocsp::OcspResponseStatus::InternalError => OcspResponseStatus::InternalError,
            x509_ocsp::OcspResponseStatus::TryLater => OcspResponseStatus::TryLater,
            x509_ocsp::OcspResponseStatus::SigRequired => OcspResponseStatus::SigRequired,
            x509_ocsp::OcspResponseStatus::Unauthorized => OcspResponseStatus::Unauthorized,
        }
    }
}

/// What the responder says about the certificate.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CertStatus {
    /// Not revoked (RFC 6960 also lets it mean "not known to be revoked").
    Good,
    /// Revoked.
    Revoked {
        /// revocationTime, seconds since the epoch.
        revoked_at: i64,
        /// revocationReason, when given and defined.
        reason: Option<RevocationReason>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// Who signed the response, and whether they may.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "signer", rename_all = "snake_case")]
pub enum OcspSigner {
    /// The issuing CA's own key.
    Issuer,
    /// A responder certificate carried in the response (RFC 6960 4.2.2.2); authorised only
    /// when every flag holds.
    Delegate {
        /// The responder certificate's subject.
        subject: String,
        /// Whether it has the id-kp-OCSPSigning extended key usage.
        ocsp_signing_eku: bool,
        /// Whether the certificate's issuer signed it.
        issued_by_issuer: bool,
        /// Whether it was within its validity period at the time of judging.
        within_validity: bool,
    },
    /// The signature does not verify with any key that could have made it.
    Invalid {
        /// Why, in English.
        reason: String,
    },
    /// Not checked (issuer unknown, algorithm unsupported).
    NotChecked {
        /// Why, in English.
        reason: String,
    },
}

impl OcspSigner {
    /// Whether the signature verified and the signer may speak for the issuer.
    pub fn is_authorized(&self) -> bool {
        match self {
            OcspSigner::Issuer => true,
            OcspSigner::Delegate { ocsp_signing_eku, issued_by_issuer, within_validity, .. } => {
                *ocsp_signing_eku && *issued_by_issuer && *within_validity
            }
            OcspSigner::Invalid { .. } | OcspSigner::NotChecked { .. } => false,
        }
    }
}

/// The judgement of one OCSP response about one certificate.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OcspReview {
    /// The responder's overall answer, or `unparseable`.
    pub response_status: OcspResponseStatus,
    /// The status in the SingleResponse whose CertID matches the certificate; `None` when
    /// none does (or nothing could be read).
    pub cert_status: Option<CertStatus>,
    /// producedAt, seconds since the epoch.
    pub produced_at: Option<i64>,
    /// thisUpdate of the matching SingleResponse.
    pub this_update: Option<i64>,
    /// nextUpdate of the matching SingleResponse.
    pub next_update: Option<i64>,
    /// Whether the matching status is current at the time of judging.
    pub freshness: Freshness,
    /// Who signed the response, and whether they may.
    pub signer: OcspSigner,
    /// The matching SingleResponse's SCT list extension content (a TLS-encoded
    /// SignedCertificateTimestampList), for the Certificate Transparency checks.
    pub sct_list: Option<Vec<u8>>,
    /// English sentences on everything that is wrong or unusual.
    pub problems: Vec<String>,
}

impl OcspReview {
    /// A review that has learnt nothing yet.
    fn empty(response_status: OcspResponseStatus) -> OcspReview {
        OcspReview {
            response_status,
            cert_status: None,
            produced_at: None,
            this_update: None,
            next_update: None,
            freshness: Freshness::Unknown,
            signer: OcspSigner::NotChecked { reason: "the response could not be read".to_string() },
            sct_list: None,
            problems: Vec::new(),
        }
    }

    fn unparsed(problem: String) -> OcspReview {
        let mut review = OcspReview::empty(OcspResponseStatus::Unparseable);
        review.problems.push(problem);
        review
    }

    /// Whether the review can be relied on: a successful, current response from an
    /// authorised signer that states the certificate's status.
    pub fn is_trustworthy(&self) -> bool {
        self.response_status == OcspResponseStatus::Successful
            && self.cert_status.is_some()
            && self.freshness == Freshness::Fresh
            && self.signer.is_authorized()
    }
}

/// A DER OCSPRequest for `cert_der` issued by `issuer_der`: one CertID hashed with SHA-1
/// (the one algorithm every responder supports), no nonce (responders serving cached
/// answers ignore or reject it), no signature.
pub fn build_request(cert_der: &[u8], issuer_der: &[u8]) -> Result<Vec<u8>, String> {
    let cert = certificate_facts(cert_der).map_err(|e| format!("certificate: {e}"))?;
    let issuer = certificate_facts(issuer_der).map_err(|e| format!("issuer certificate: {e}"))?;
    if cert.issuer_name_der != issuer.subject_name_der {
        return Err(format!(
            "{} is not the issuer of the certificate (its subject differs from the certificate's issuer name)",
            issuer.subject
        ));
    }
    let request = OcspRequest {
        tbs_request: TbsRequest {
            request_list: vec![Request {
                req_cert: cert_id(CertIdHash::Sha1, &cert.serial, &issuer)?,
                single_request_extensions: None,
            }],
            ..TbsRequest::default()
        },
        optional_signature: None,
    };
    request.to_der().map_err(|e| format!("cannot encode the OCSP request: {e}"))
}

/// The CertID of serial `serial` (minimal INTEGER content) under `issuer`.
pub(crate) fn cert_id(hash: CertIdHash, serial: &[u8], issuer: &CertificateFacts) -> Result<CertId, String> {
    let hash_algorithm = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new(hash.oid()).map_err(|e| e.to_string())?,
        // Explicit NULL parameters, as OpenSSL and most responders write and expect them.
        parameters: Some(der::asn1::Null.into()),
    };
    let octets = |bytes: Vec<u8>| OctetString::new(bytes).map_err(|e| e.to_string());
    Ok(CertId {
        hash_algorithm,
        issuer_name_hash: octets(issuer_name_hash(hash, issuer))?,
        issuer_key_hash: octets(issuer_key_hash(hash, issuer))?,
        serial_number: serial_number(serial)?,
    })
}

/// A SerialNumber holding exactly `content` (two's complement, as in the certificate).
pub(crate) fn serial_number(content: &[u8]) -> Result<SerialNumber, String> {
    let integer = AnyRef::new(Tag::Integer, content).and_then(|any| any.to_der()).map_err(|e| e.to_string())?;
    SerialNumber::from_der(&integer).map_err(|e| format!("serial number {} is not usable: {e}", serial_text(content)))
}

/// Parses and judges an OCSP response about `cert_der`, issued by `issuer_der` when known,
/// at time `at`.
pub fn judge_response(response_der: &[u8], cert_der: &[u8], issuer_der: Option<&[u8]>, at: UnixSeconds) -> OcspReview {
    if response_der.len() > MAX_RESPONSE_BYTES {
        return OcspReview::unparsed(format!(
            "the response is {} bytes, more than the {MAX_RESPONSE_BYTES} any OCSP response needs",
            response_der.len()
        ));
    }
    let parsed = match ParsedResponse::parse(response_der) {
        Ok(parsed) => parsed,
        Err(e) => return OcspReview::unparsed(format!("the response is not a well-formed OCSP response: {e}")),
    };
    let mut review = OcspReview::empty(parsed.status);
    review.problems.extend(parsed.notes);
    let Some(basic) = parsed.basic else {
        review.signer = OcspSigner::NotChecked { reason: "an unsuccessful response carries no signature".to_string() };
        review
            .problems
            .push(format!("the responder answered {} instead of a certificate status", parsed.status.rfc_name()));
        return review;
    };

    let cert = certificate_facts(cert_der).map_err(|e| format!("the certificate being checked: {e}"));
    let issuer = issuer_der.map(|der| certificate_facts(der).map_err(|e| format!("the issuer certificate: {e}")));
    let data = &basic.decoded.tbs_response_data;
    review.produced_at = Some(generalized_to_unix(&data.produced_at));

    if let (Ok(cert), Some(Ok(issuer))) = (&cert, &issuer) {
        if cert.issuer_name_der != issuer.subject_name_der {
            review
                .problems
                .push(format!("the issuer certificate given ({}) is not the certificate's issuer", issuer.subject));
        }
    }
    review.problems.extend(critical_extension_notes(data.response_extensions.as_deref(), "the response"));

    match &cert {
        Err(e) => review.problems.push(format!("cannot match the response to the certificate: {e}")),
        Ok(cert) => {
            let issuer = issuer.as_ref().and_then(|issuer| issuer.as_ref().ok());
            if let Some(single) = matching_single_response(&data.responses, cert, issuer, &mut review.problems) {
                review.cert_status = Some(cert_status(single, &mut review.problems));
                review.this_update = Some(generalized_to_unix(&single.this_update));
                review.next_update = single.next_update.as_ref().map(generalized_to_unix);
                review.sct_list = sct_list(single, &mut review.problems);
                review.problems.extend(critical_extension_notes(single.single_extensions.as_deref(), "the status"));
            }
        }
    }

    review.freshness = judge_freshness(review.this_update, review.next_update, at);
    if let (Some(this_update), Some(next_update)) = (review.this_update, review.next_update) {
        if next_update < this_update {
            review.problems.push(format!(
                "nextUpdate ({}) is before thisUpdate ({})",
                time_text(next_update),
                time_text(this_update)
            ));
        }
    }
    match review.freshness {
        Freshness::Stale => review.problems.push(match review.next_update {
            Some(next_update) => format!("the status is stale: nextUpdate was {}", time_text(next_update)),
            None => format!(
                "the status is stale: it has no nextUpdate and thisUpdate ({}) is more than a week old",
                review.this_update.map(time_text).unwrap_or_default()
            ),
        }),
        Freshness::NotYetValid => review.problems.push(format!(
            "the status is not yet valid: thisUpdate is {}",
            review.this_update.map(time_text).unwrap_or_default()
        )),
        Freshness::Fresh | Freshness::Unknown => {}
    }

    review.signer = match &issuer {
        None => OcspSigner::NotChecked {
            reason: "the issuer certificate is not known, so the signature cannot be checked".to_string(),
        },
        Some(Err(e)) => OcspSigner::NotChecked { reason: format!("cannot check the signature: {e}") },
        Some(Ok(issuer)) => judge_signer(&basic, issuer, unix_to_i64(at), &mut review.problems),
    };
    if let OcspSigner::Invalid { reason } | OcspSigner::NotChecked { reason } = &review.signer {
        if issuer.is_some() {
            review.problems.push(format!("the response's signature is not acceptable: {reason}"));
        }
    }
    review
}

/// A response recognised in full, before anything is judged.
struct ParsedResponse {
    status: OcspResponseStatus,
    /// Present exactly when the status is successful.
    basic: Option<ParsedBasic>,
    /// Oddities met while parsing that do not prevent reading.
    notes: Vec<String>,
}

/// A BasicOCSPResponse with the exact bytes its signature covers.
struct ParsedBasic {
    decoded: BasicOcspResponse,
    /// The DER of tbsResponseData as received.
    signed_der: Vec<u8>,
    /// The embedded certificates as received.
    certificates_der: Vec<Vec<u8>>,
}

impl ParsedResponse {
    fn parse(response_der: &[u8]) -> Result<ParsedResponse, String> {
        let outer = x509_ocsp::OcspResponse::from_der(response_der).map_err(|e| e.to_string())?;
        let status = OcspResponseStatus::from_wire(outer.response_status);
        let mut notes = Vec::new();
        if status != OcspResponseStatus::Successful {
            if outer.response_bytes.is_some() {
                notes.push(format!("the {} response carries response bytes, which are ignored", status.rfc_name()));
            }
            return Ok(ParsedResponse { status, basic: None, notes });
        }
        let bytes = outer.response_bytes.ok_or("a successful response carries no responseBytes")?;
        if bytes.response_type != ID_PKIX_OCSP_BASIC {
            return Err(format!("the response type is {}, not id-pkix-ocsp-basic", bytes.response_type));
        }
        let inner = bytes.response.as_bytes();
        let decoded = BasicOcspResponse::from_der(inner).map_err(|e| format!("BasicOCSPResponse: {e}"))?;
        let (signed_der, certificates_der) =
            split_basic_response(inner).map_err(|e| format!("BasicOCSPResponse: {e}"))?;
        Ok(ParsedResponse { status, basic: Some(ParsedBasic { decoded, signed_der, certificates_der }), notes })
    }
}

/// The raw tbsResponseData and embedded certificates of a BasicOCSPResponse: signatures
/// cover the bytes as sent, which re-encoding a decoded value need not reproduce.
fn split_basic_response(der_bytes: &[u8]) -> der::Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut reader = SliceReader::new(der_bytes)?;
    let parts = reader.sequence(|body| {
        let signed = body.tlv_bytes()?.to_vec();
        let _signature_algorithm = body.tlv_bytes()?;
        let _signature = body.tlv_bytes()?;
        let mut certificates = Vec::new();
        if !body.is_finished() {
            let wrapper = Header::decode(body)?;
            wrapper.tag.assert_eq(Tag::ContextSpecific { constructed: true, number: TagNumber::N0 })?;
            body.read_nested(wrapper.length, |explicit| {
                explicit.sequence(|list| {
                    // Each TLV consumes at least two bytes, so this ends with the input.
                    while !list.is_finished() {
                        certificates.push(list.tlv_bytes()?.to_vec());
                    }
                    Ok(())
                })
            })?;
        }
        Ok((signed, certificates))
    })?;
    reader.finish(parts)
}

fn generalized_to_unix(time: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    i64::try_from(time.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// The SingleResponse about `cert`, noting near misses.
fn matching_single_response<'r>(
    responses: &'r [SingleResponse],
    cert: &CertificateFacts,
    issuer: Option<&CertificateFacts>,
    problems: &mut Vec<String>,
) -> Option<&'r SingleResponse> {
    let mut unsupported_hashes = Vec::new();
    for single in responses {
        let id = &single.cert_id;
        let Some(hash) = CertIdHash::from_oid(&id.hash_algorithm.oid.to_string()) else {
            unsupported_hashes.push(id.hash_algorithm.oid.to_string());
            continue;
        };
        if minimal_integer(id.serial_number.as_bytes()) != cert.serial.as_slice() {
            continue;
        }
        let name_matches = id.issuer_name_hash.as_bytes() == hash.digest(&cert.issuer_name_der).as_slice();
        let key_matches =
            issuer.is_none_or(|issuer| id.issuer_key_hash.as_bytes() == issuer_key_hash(hash, issuer).as_slice());
        if name_matches && key_matches {
            return Some(single);
        }
        problems.push(format!(
            "a status for serial {} names another issuer (its issuer {} hash differs)",
            serial_text(&cert.serial),
            if name_matches { "key" } else { "name" }
        ));
    }
    if !unsupported_hashes.is_empty() {
        problems.push(format!(
            "CertIDs hashed with unsupported algorithms were skipped: {}",
            unsupported_hashes.join(", ")
        ));
    }
    let listed: Vec<String> = responses
        .iter()
        .take(5)
        .map(|single| serial_text(minimal_integer(single.cert_id.serial_number.as_bytes())))
        .collect();
    problems.push(format!(
        "no status in the response is about this certificate (serial {}); the response covers {}{}",
        serial_text(&cert.serial),
        if listed.is_empty() { "no certificate".to_string() } else { format!("serial {}", listed.join(", ")) },
        if responses.len() > listed.len() { ", ..." } else { "" }
    ));
    None
}

fn cert_status(single: &SingleResponse, problems: &mut Vec<String>) -> CertStatus {
    match &single.cert_status {
        x509_ocsp::CertStatus::Good(_) => CertStatus::Good,
        x509_ocsp::CertStatus::Unknown(_) => CertStatus::Unknown,
        x509_ocsp::CertStatus::Revoked(info) => {
            let reason = info.revocation_reason.and_then(|reason| {
                let code = reason as u32;
                let known = RevocationReason::from_code(code);
                if known.is_none() {
                    problems.push(format!("the revocation reason code {code} is not defined"));
                }
                known
            });
            CertStatus::Revoked { revoked_at: generalized_to_unix(&info.revocation_time), reason }
        }
    }
}

/// The SCT list carried in `single`, unwrapped from its OCTET STRING.
fn sct_list(single: &SingleResponse, problems: &mut Vec<String>) -> Option<Vec<u8>> {
    let extension = single.single_extensions.as_deref()?.iter().find(|ext| ext.extn_id == ID_OCSP_SCT_LIST)?;
    match OctetString::from_der(extension.extn_value.as_bytes()) {
        Ok(list) => Some(list.as_bytes().to_vec()),
        Err(e) => {
            problems.push(format!("the SCT list extension is not an OCTET STRING: {e}"));
            None
        }
    }
}

fn critical_extension_notes(extensions: Option<&[Extension]>, place: &str) -> Vec<String> {
    extensions
        .unwrap_or_default()
        .iter()
        .filter(|ext| ext.critical && !UNDERSTOOD_EXTENSIONS.contains(&ext.extn_id))
        .map(|ext| format!("{place} carries a critical extension {} that is not understood", ext.extn_id))
        .collect()
}

/// Finds who signed the response: the issuer itself, or a certificate the response carries.
fn judge_signer(basic: &ParsedBasic, issuer: &CertificateFacts, at: i64, problems: &mut Vec<String>) -> OcspSigner {
    let algorithm_der = match basic.decoded.signature_algorithm.to_der() {
        Ok(der) => der,
        Err(e) => return OcspSigner::Invalid { reason: format!("the signature algorithm cannot be encoded: {e}") },
    };
    let Some(signature) = basic.decoded.signature.as_bytes() else {
        return OcspSigner::Invalid { reason: "the signature is not a whole number of bytes".to_string() };
    };
    let verify = |public_key_info_der: &[u8]| {
        verify_signed_data(public_key_info_der, &algorithm_der, signature, &basic.signed_der)
    };
    let responder_id = &basic.decoded.tbs_response_data.responder_id;

    match verify(&issuer.public_key_info_der) {
        Ok(()) => {
            note_responder_id(responder_id, issuer, problems);
            return OcspSigner::Issuer;
        }
        Err(SignatureFailure::Unsupported(reason)) => return OcspSigner::NotChecked { reason },
        Err(SignatureFailure::Malformed(reason)) => return OcspSigner::Invalid { reason },
        Err(SignatureFailure::Mismatch) => {}
    }

    let carried = basic.certificates_der.len();
    if carried > MAX_EMBEDDED_CERTIFICATES {
        problems.push(format!(
            "the response carries {carried} certificates; only the first {MAX_EMBEDDED_CERTIFICATES} were tried"
        ));
    }
    for candidate_der in basic.certificates_der.iter().take(MAX_EMBEDDED_CERTIFICATES) {
        let candidate = match certificate_facts(candidate_der) {
            Ok(candidate) => candidate,
            Err(e) => {
                problems.push(format!("a certificate carried in the response cannot be read: {e}"));
                continue;
            }
        };
        if verify(&candidate.public_key_info_der).is_err() {
            continue;
        }
        note_responder_id(responder_id, &candidate, problems);
        let issued_by_issuer = candidate.issuer_name_der == issuer.subject_name_der
            && certificate_signed_by(candidate_der, issuer).is_ok();
        let within_validity = candidate.not_before <= at && at <= candidate.not_after;
        if !candidate.ocsp_signing_eku {
            problems.push(format!(
                "the delegated responder {} lacks the OCSPSigning extended key usage (RFC 6960 4.2.2.2)",
                candidate.subject
            ));
        }
        if !issued_by_issuer {
            problems.push(format!(
                "the delegated responder {} was not issued by the certificate's issuer {}",
                candidate.subject, issuer.subject
            ));
        }
        if !within_validity {
            problems.push(format!(
                "the delegated responder {} is outside its validity period ({} to {})",
                candidate.subject,
                time_text(candidate.not_before),
                time_text(candidate.not_after)
            ));
        }
        return OcspSigner::Delegate {
            subject: candidate.subject,
            ocsp_signing_eku: candidate.ocsp_signing_eku,
            issued_by_issuer,
            within_validity,
        };
    }
    OcspSigner::Invalid {
        reason: if carried == 0 {
            "the signature does not verify with the issuer's key, and the response carries no responder certificate"
                .to_string()
        } else {
            format!(
                "the signature verifies neither with the issuer's key nor with any of the {carried} certificates the \
                 response carries"
            )
        },
    }
}

fn note_responder_id(responder_id: &ResponderId, signer: &CertificateFacts, problems: &mut Vec<String>) {
    let names_signer = match responder_id {
        ResponderId::ByName(name) => name.to_der().is_ok_and(|der| der == signer.subject_name_der),
        ResponderId::ByKey(key_hash) => key_hash.as_bytes() == CertIdHash::Sha1.digest(&signer.public_key_bits),
    };
    if !names_signer {
        problems.push(format!("the ResponderID does not name the signer ({})", signer.subject));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::revocation::respond::{error_response, OcspErrorStatus, OcspResponder, ResponderStatus};
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    /// A CA, and certificates it issued, made fresh for a test.
    pub(crate) struct Pki {
        pub ca_params: CertificateParams,
        pub ca_key: KeyPair,
        pub ca_der: Vec<u8>,
        pub leaf_der: Vec<u8>,
        pub other_leaf_der: Vec<u8>,
    }

    pub(crate) const NOW: i64 = 1_750_000_000;

    fn dated(params: &mut CertificateParams, from: i64, until: i64) {
        params.not_before = time::OffsetDateTime::from_unix_timestamp(from).expect("valid time");
        params.not_after = time::OffsetDateTime::from_unix_timestamp(until).expect("valid time");
    }

    pub(crate) fn ca_params(name: &str) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        dated(&mut params, NOW - 86_400 * 365, NOW + 86_400 * 3650);
        params
    }

    pub(crate) fn pki() -> Pki {
        let ca_params = ca_params("kensa revocation test CA");
        let ca_key = KeyPair::generate().expect("key");
        let ca_der = ca_params.self_signed(&ca_key).expect("CA").der().to_vec();
        let leaf_der = issue(&ca_params, &ca_key, "leaf.example", &[ExtendedKeyUsagePurpose::ServerAuth], 0x1234);
        let other_leaf_der = issue(&ca_params, &ca_key, "other.example", &[ExtendedKeyUsagePurpose::ServerAuth], 0x99);
        Pki { ca_params, ca_key, ca_der, leaf_der, other_leaf_der }
    }

    pub(crate) fn issue(
        ca_params: &CertificateParams,
        ca_key: &KeyPair,
        name: &str,
        usages: &[ExtendedKeyUsagePurpose],
        serial: u64,
    ) -> Vec<u8> {
        issue_with_key(ca_params, ca_key, name, usages, serial, &KeyPair::generate().expect("key"))
    }

    fn issue_with_key(
        ca_params: &CertificateParams,
        ca_key: &KeyPair,
        name: &str,
        usages: &[ExtendedKeyUsagePurpose],
        serial: u64,
        key: &KeyPair,
    ) -> Vec<u8> {
        let mut params = CertificateParams::new(vec![name.to_string()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = usages.to_vec();
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        dated(&mut params, NOW - 86_400 * 30, NOW + 86_400 * 60);
        let issuer = Issuer::from_params(ca_params, ca_key);
        params.signed_by(key, &issuer).expect("leaf").der().to_vec()
    }

    fn at(offset: i64) -> UnixSeconds {
        (NOW + offset) as UnixSeconds
    }

    fn respond(pki: &Pki, status: ResponderStatus) -> Vec<u8> {
        OcspResponder::new(pki.ca_der.clone(), &pki.ca_key)
            .expect("responder")
            .respond(&pki.leaf_der, status, NOW - 3600, Some(NOW + 86_400 * 3), None)
            .expect("response")
    }

    #[test]
    fn good_response_round_trips() {
        let pki = pki();
        let review = judge_response(&respond(&pki, ResponderStatus::Good), &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.response_status, OcspResponseStatus::Successful);
        assert_eq!(review.cert_status, Some(CertStatus::Good));
        assert_eq!(review.produced_at, Some(NOW - 3600));
        assert_eq!(review.this_update, Some(NOW - 3600));
        assert_eq!(review.next_update, Some(NOW + 86_400 * 3));
        assert_eq!(review.freshness, Freshness::Fresh);
        assert_eq!(review.signer, OcspSigner::Issuer);
        assert_eq!(review.sct_list, None);
        assert!(review.problems.is_empty(), "{:?}", review.problems);
        assert!(review.is_trustworthy());
    }

    #[test]
    fn revoked_response_round_trips_with_reason() {
        let pki = pki();
        let status =
            ResponderStatus::Revoked { revoked_at: NOW - 86_400, reason: Some(RevocationReason::KeyCompromise) };
        let review = judge_response(&respond(&pki, status), &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(
            review.cert_status,
            Some(CertStatus::Revoked { revoked_at: NOW - 86_400, reason: Some(RevocationReason::KeyCompromise) })
        );
        assert!(review.is_trustworthy(), "{:?}", review.problems);

        let status = ResponderStatus::Revoked { revoked_at: NOW - 10, reason: None };
        let review = judge_response(&respond(&pki, status), &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.cert_status, Some(CertStatus::Revoked { revoked_at: NOW - 10, reason: None }));
    }

    #[test]
    fn unknown_response_round_trips() {
        let pki = pki();
        let review = judge_response(&respond(&pki, ResponderStatus::Unknown), &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.cert_status, Some(CertStatus::Unknown));
        assert!(review.is_trustworthy());
    }

    #[test]
    fn without_issuer_the_signature_is_not_checked() {
        let pki = pki();
        let review = judge_response(&respond(&pki, ResponderStatus::Good), &pki.leaf_der, None, at(0));
        assert_eq!(review.cert_status, Some(CertStatus::Good));
        assert!(matches!(review.signer, OcspSigner::NotChecked { .. }));
        assert!(!review.is_trustworthy());
    }

    #[test]
    fn stale_and_not_yet_valid() {
        let pki = pki();
        let response = respond(&pki, ResponderStatus::Good);
        let stale = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(86_400 * 4));
        assert_eq!(stale.freshness, Freshness::Stale);
        assert!(stale.problems.iter().any(|p| p.contains("stale")), "{:?}", stale.problems);
        assert!(!stale.is_trustworthy());

        let early = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(-7200));
        assert_eq!(early.freshness, Freshness::NotYetValid);
        assert!(!early.is_trustworthy());

        let responder = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key).expect("responder");
        let open_ended =
            responder.respond(&pki.leaf_der, ResponderStatus::Good, NOW - 86_400 * 8, None, None).expect("response");
        let review = judge_response(&open_ended, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.next_update, None);
        assert_eq!(review.freshness, Freshness::Stale);
    }

    #[test]
    fn wrong_key_makes_the_signer_invalid() {
        let pki = pki();
        let impostor = KeyPair::generate().expect("key");
        let response = OcspResponder::new(pki.ca_der.clone(), &impostor)
            .expect("responder")
            .respond(&pki.leaf_der, ResponderStatus::Good, NOW - 60, Some(NOW + 3600), None)
            .expect("response");
        let review = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.cert_status, Some(CertStatus::Good), "the content is still readable");
        assert!(matches!(review.signer, OcspSigner::Invalid { .. }), "{:?}", review.signer);
        assert!(!review.is_trustworthy());
        assert!(review.problems.iter().any(|p| p.contains("signature")));
    }

    #[test]
    fn tampered_response_fails_the_signature() {
        let pki = pki();
        let mut response = respond(&pki, ResponderStatus::Good);
        // The last bytes are the signature; flipping one inside it breaks ECDSA verification.
        let index = response.len() - 5;
        response[index] ^= 0x01;
        let review = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert!(matches!(review.signer, OcspSigner::Invalid { .. }), "{:?}", review);
    }

    fn delegated_review(pki: &Pki, usages: &[ExtendedKeyUsagePurpose], signed_by_ca: bool) -> OcspReview {
        let responder_key = KeyPair::generate().expect("key");
        let responder_der = if signed_by_ca {
            issue_with_key(&pki.ca_params, &pki.ca_key, "ocsp.example", usages, 0x77, &responder_key)
        } else {
            let stranger_params = ca_params("kensa revocation test CA");
            let stranger_key = KeyPair::generate().expect("key");
            issue_with_key(&stranger_params, &stranger_key, "ocsp.example", usages, 0x77, &responder_key)
        };
        let response = OcspResponder::delegated(pki.ca_der.clone(), responder_der, &responder_key)
            .expect("responder")
            .respond(&pki.leaf_der, ResponderStatus::Good, NOW - 60, Some(NOW + 3600), None)
            .expect("response");
        judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(0))
    }

    #[test]
    fn delegated_responder_with_ocsp_signing() {
        let pki = pki();
        let review = delegated_review(&pki, &[ExtendedKeyUsagePurpose::OcspSigning], true);
        assert_eq!(
            review.signer,
            OcspSigner::Delegate {
                subject: "CN=ocsp.example".to_string(),
                ocsp_signing_eku: true,
                issued_by_issuer: true,
                within_validity: true
            }
        );
        assert!(review.problems.is_empty(), "{:?}", review.problems);
        assert!(review.is_trustworthy());
    }

    #[test]
    fn delegated_responder_without_ocsp_signing_is_not_authorized() {
        let pki = pki();
        let review = delegated_review(&pki, &[ExtendedKeyUsagePurpose::ServerAuth], true);
        assert!(
            matches!(review.signer, OcspSigner::Delegate { ocsp_signing_eku: false, issued_by_issuer: true, .. }),
            "{:?}",
            review.signer
        );
        assert!(review.problems.iter().any(|p| p.contains("OCSPSigning")));
        assert!(!review.is_trustworthy());
    }

    #[test]
    fn delegated_responder_from_another_ca_is_not_authorized() {
        let pki = pki();
        let review = delegated_review(&pki, &[ExtendedKeyUsagePurpose::OcspSigning], false);
        assert!(
            matches!(review.signer, OcspSigner::Delegate { ocsp_signing_eku: true, issued_by_issuer: false, .. }),
            "{:?}",
            review.signer
        );
        assert!(!review.is_trustworthy());
    }

    #[test]
    fn response_about_another_serial_has_no_status() {
        let pki = pki();
        let response = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key)
            .expect("responder")
            .respond(&pki.other_leaf_der, ResponderStatus::Good, NOW - 60, Some(NOW + 3600), None)
            .expect("response");
        let review = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.cert_status, None);
        assert_eq!(review.freshness, Freshness::Unknown);
        assert_eq!(review.signer, OcspSigner::Issuer);
        assert!(review.problems.iter().any(|p| p.contains("12:34") && p.contains("99")), "{:?}", review.problems);
        assert!(!review.is_trustworthy());
    }

    #[test]
    fn response_from_another_issuer_does_not_match() {
        let pki = pki();
        let stranger = self::pki();
        let response = OcspResponder::new(stranger.ca_der.clone(), &stranger.ca_key)
            .expect("responder")
            .respond(&stranger.leaf_der, ResponderStatus::Good, NOW - 60, Some(NOW + 3600), None)
            .expect("response");
        // Same serial (0x1234) and the same CA name, but a different CA key.
        let review = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.cert_status, None);
        assert!(review.problems.iter().any(|p| p.contains("issuer key hash")), "{:?}", review.problems);
    }

    #[test]
    fn error_responses_are_reported() {
        let pki = pki();
        for (status, expected) in [
            (OcspErrorStatus::TryLater, OcspResponseStatus::TryLater),
            (OcspErrorStatus::Unauthorized, OcspResponseStatus::Unauthorized),
            (OcspErrorStatus::MalformedRequest, OcspResponseStatus::MalformedRequest),
            (OcspErrorStatus::InternalError, OcspResponseStatus::InternalError),
            (OcspErrorStatus::SigRequired, OcspResponseStatus::SigRequired),
        ] {
            let review = judge_response(&error_response(status), &pki.leaf_der, Some(&pki.ca_der), at(0));
            assert_eq!(review.response_status, expected);
            assert_eq!(review.cert_status, None);
            assert!(review.problems.iter().any(|p| p.contains(expected.rfc_name())), "{:?}", review.problems);
            assert!(!review.is_trustworthy());
        }
    }

    #[test]
    fn sct_list_round_trips() {
        let pki = pki();
        let sct_list = b"\x00\x05\x00\x03abc".to_vec();
        let response = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key)
            .expect("responder")
            .respond(&pki.leaf_der, ResponderStatus::Good, NOW - 60, Some(NOW + 3600), Some(&sct_list))
            .expect("response");
        let review = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(0));
        assert_eq!(review.sct_list, Some(sct_list));
        assert!(review.is_trustworthy(), "{:?}", review.problems);
    }

    #[test]
    fn request_is_answered() {
        let pki = pki();
        let request = build_request(&pki.leaf_der, &pki.ca_der).expect("request");
        let responder = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key).expect("responder");
        let leaf_serial = crate::revocation::certificate_serial(&pki.leaf_der).expect("serial");
        let lookup = |serial: &[u8]| {
            if serial == leaf_serial.as_slice() {
                ResponderStatus::Revoked { revoked_at: NOW - 5, reason: None }
            } else {
                ResponderStatus::Unknown
            }
        };
        let response = responder.answer(&request, &lookup, NOW);
        let review = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), at(10));
        assert_eq!(review.cert_status, Some(CertStatus::Revoked { revoked_at: NOW - 5, reason: None }));
        assert!(review.is_trustworthy(), "{:?}", review.problems);

        let other_request = build_request(&pki.other_leaf_der, &pki.ca_der).expect("request");
        let response = responder.answer(&other_request, &lookup, NOW);
        let review = judge_response(&response, &pki.other_leaf_der, Some(&pki.ca_der), at(10));
        assert_eq!(review.cert_status, Some(CertStatus::Unknown));
    }

    #[test]
    fn build_request_refuses_a_wrong_issuer() {
        let pki = pki();
        assert!(build_request(&pki.leaf_der, &pki.leaf_der).is_err());
        assert!(build_request(b"garbage", &pki.ca_der).is_err());
    }

    #[test]
    fn every_prefix_and_garbage_is_survived() {
        let pki = pki();
        let response = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key)
            .expect("responder")
            .respond(&pki.leaf_der, ResponderStatus::Good, NOW - 60, Some(NOW + 3600), Some(b"\x00\x00"))
            .expect("response");
        for end in 0..response.len() {
            let review = judge_response(&response[..end], &pki.leaf_der, Some(&pki.ca_der), at(0));
            assert_eq!(review.response_status, OcspResponseStatus::Unparseable, "prefix of {end} bytes");
            assert!(!review.problems.is_empty());
            assert!(!review.is_trustworthy());
        }
        let mut trailing = response.clone();
        trailing.push(0);
        assert_eq!(
            judge_response(&trailing, &pki.leaf_der, Some(&pki.ca_der), at(0)).response_status,
            OcspResponseStatus::Unparseable
        );

        // A small deterministic generator: the point is variety, not randomness quality.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..2000 {
            let len = (next() % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 && !bytes.is_empty() {
                // Start like a SEQUENCE so the parsers get past the first byte.
                bytes[0] = 0x30;
            }
            let review = judge_response(&bytes, &pki.leaf_der, Some(&pki.ca_der), at(0));
            assert!(!review.is_trustworthy());
        }
        // Flipping bytes of a valid response must never panic either.
        for index in 0..response.len() {
            let mut mutated = response.clone();
            mutated[index] ^= (next() as u8) | 1;
            let review = judge_response(&mutated, &pki.leaf_der, Some(&pki.ca_der), at(0));
            if review.is_trustworthy() {
                assert_eq!(review.cert_status, Some(CertStatus::Good), "byte {index}");
            }
        }
        let huge = vec![0x30; MAX_RESPONSE_BYTES + 1];
        assert_eq!(judge_response(&huge, &pki.leaf_der, None, at(0)).response_status, OcspResponseStatus::Unparseable);
        // Garbage certificates are problems, not panics.
        let review = judge_response(&response, b"not a cert", Some(b"nor this"), at(0));
        assert_eq!(review.cert_status, None);
        assert!(matches!(review.signer, OcspSigner::NotChecked { .. }));
    }

    #[test]
    fn review_serializes_in_snake_case() {
        let pki = pki();
        let review = judge_response(&respond(&pki, ResponderStatus::Good), &pki.leaf_der, Some(&pki.ca_der), at(0));
        let json = serde_json::to_value(&review).expect("json");
        assert_eq!(json["response_status"], "successful");
        assert_eq!(json["cert_status"]["status"], "good");
        assert_eq!(json["signer"]["signer"], "issuer");
        assert_eq!(json["freshness"], "fresh");
    }
}
