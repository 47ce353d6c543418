//! Certificate Transparency: signed certificate timestamps (SCTs) and the logs that issued
//! them.
//!
//! A server proves its certificate was logged by presenting SCTs in one of three places:
//! embedded in the certificate (X.509 extension 1.3.6.1.4.1.11129.2.4.2), in the TLS
//! signed_certificate_timestamp extension of the ServerHello, or in a stapled OCSP response.
//! All three carry the same TLS-encoded SignedCertificateTimestampList (RFC 6962 §3.3), which
//! [`parse_sct_list`] reads; [`embedded_scts`] and [`ocsp_scts`] only find where the list is.
//!
//! Which log an SCT names is looked up in a bundled, dated snapshot of Google's CT log list
//! (`probes/ct-log-list.json`): the snapshot, not the network, so that a verdict can be
//! re-judged offline and says which list it used. Signatures are not verified here: that
//! needs the signed certificate entry, and a log list with keys.
//!
//! Everything here is a pure function of bytes; nothing panics on hostile input.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::evidence::Bytes;
use crate::wire::codec::Reader;

const LOG_LIST_TEXT: &str = include_str!("../probes/ct-log-list.json");

/// The OID of the X.509 extension that embeds an SCT list: 1.3.6.1.4.1.11129.2.4.2.
pub const OID_EMBEDDED_SCT_LIST: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];

/// The OID of the OCSP single-response extension that carries an SCT list:
/// 1.3.6.1.4.1.11129.2.4.5 (RFC 6962 §3.3).
pub const OID_OCSP_SCT_LIST: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.5");

/// The only SCT version RFC 6962 defines (`v1`, encoded as 0).
pub const SCT_VERSION_V1: u8 = 0;

/// A serialised SCT is at least version, log id, timestamp and two empty length-prefixed
/// vectors plus the two algorithm bytes.
const MIN_SCT_LEN: usize = 1 + 32 + 8 + 2 + 2 + 2;

/// One signed certificate timestamp (RFC 6962 §3.2), as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sct {
    /// `sct_version`; only v1 (0) is accepted by [`parse_sct_list`].
    pub version: u8,
    /// SHA-256 of the log's public key, serialised as base64 like the CT log lists write it.
    #[serde(with = "log_id_base64")]
    pub log_id: [u8; 32],
    /// When the log promised to include the certificate, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// `extensions`: opaque, empty for every log kensa knows of.
    #[serde(default, skip_serializing_if = "is_empty_bytes")]
    pub extensions: Bytes,
    /// The `digitally-signed` algorithm pair.
    pub signature_algorithm: SignatureAlgorithm,
    /// The signature bytes, kept so that a later pass can verify them.
    pub signature: Bytes,
}

fn is_empty_bytes(b: &Bytes) -> bool {
    b.0.is_empty()
}

/// The `SignatureAndHashAlgorithm` of an SCT (RFC 5246 §7.4.1.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureAlgorithm {
    /// HashAlgorithm: 4 = sha256, the only one RFC 6962 allows.
    pub hash: u8,
    /// SignatureAlgorithm: 1 = rsa, 3 = ecdsa.
    pub signature: u8,
}

impl SignatureAlgorithm {
    /// A name such as `ecdsa-sha256`, with numbers for values outside the TLS 1.2 registry.
    pub fn name(self) -> String {
        let hash = match self.hash {
            1 => "md5".to_string(),
            2 => "sha1".to_string(),
            3 => "sha224".to_string(),
            4 => "sha256".to_string(),
            5 => "sha384".to_string(),
            6 => "sha512".to_string(),
            other => format!("hash{other}"),
        };
        let signature = match self.signature {
            1 => "rsa".to_string(),
            2 => "dsa".to_string(),
            3 => "ecdsa".to_string(),
            other => format!("sig{other}"),
        };
        format!("{signature}-{hash}")
    }
}

impl Sct {
    /// The log id as base64, the form the CT log lists use.
    pub fn log_id_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.log_id)
    }
}

mod log_id_base64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(id))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        super::decode_log_id(&text).map_err(serde::de::Error::custom)
    }
}

/// Decodes a base64 log id, which must be exactly 32 bytes.
pub fn decode_log_id(text: &str) -> Result<[u8; 32], String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| format!("log id {text:?} is not base64: {e}"))?;
    <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| format!("log id {text:?} is {} bytes, not 32", raw.len()))
}

/// Reads a TLS-encoded SignedCertificateTimestampList (RFC 6962 §3.3): a u16-length list of
/// u16-length serialised SCTs.
///
/// Strict: the list and every SCT must fill their lengths exactly, neither may be empty,
/// nothing may follow the list, and every SCT must be v1. The input is bounded by its own
/// 16-bit length, so at most 64 KiB is ever read.
pub fn parse_sct_list(bytes: &[u8]) -> Result<Vec<Sct>, String> {
    let mut r = Reader::new(bytes);
    let list = r.vec_u16().ok_or_else(|| format!("SCT list of {} bytes is shorter than its length", bytes.len()))?;
    if !r.is_empty() {
        return Err(format!("{} bytes after the SCT list", bytes.len() - 2 - list.len()));
    }
    if list.is_empty() {
        return Err("empty SCT list".to_string());
    }
    let mut entries = Reader::new(list);
    let mut scts = Vec::new();
    while !entries.is_empty() {
        let index = scts.len();
        let serialized = entries.vec_u16().ok_or_else(|| format!("SCT {index} is cut short"))?;
        scts.push(parse_sct(serialized).map_err(|e| format!("SCT {index}: {e}"))?);
    }
    Ok(scts)
}

/// Reads one serialised SCT, which must be consumed exactly.
fn parse_sct(bytes: &[u8]) -> Result<Sct, String> {
    if bytes.is_empty() {
        return Err("empty".to_string());
    }
    let mut r = Reader::new(bytes);
    let version = r.u8().ok_or("no version")?;
    if version != SCT_VERSION_V1 {
        return Err(format!("unknown version {version}"));
    }
    if bytes.len() < MIN_SCT_LEN {
        return Err(format!("{} bytes, shorter than any v1 SCT", bytes.len()));
    }
    let log_id = r.take(32).and_then(|id| <[u8; 32]>::try_from(id).ok()).ok_or("no log id")?;
    let timestamp_ms =
        r.take(8).and_then(|t| <[u8; 8]>::try_from(t).ok()).map(u64::from_be_bytes).ok_or("no timestamp")?;
    let extensions = r.vec_u16().ok_or("extensions longer than the SCT")?;
    let (hash, signature) = (r.u8().ok_or("no hash algorithm")?, r.u8().ok_or("no signature algorithm")?);
    let sig = r.vec_u16().ok_or("signature longer than the SCT")?;
    if !r.is_empty() {
        return Err("trailing bytes after the signature".to_string());
    }
    Ok(Sct {
        version,
        log_id,
        timestamp_ms,
        extensions: Bytes(extensions.to_vec()),
        signature_algorithm: SignatureAlgorithm { hash, signature },
        signature: Bytes(sig.to_vec()),
    })
}

/// The SCTs embedded in a certificate's 1.3.6.1.4.1.11129.2.4.2 extension; none if the
/// extension is absent.
///
/// The extension's value is a DER OCTET STRING wrapping the same TLS-encoded list the TLS
/// extension carries, so it goes through [`parse_sct_list`] too: one reader for all sources.
pub fn embedded_scts(cert_der: &[u8]) -> Result<Vec<Sct>, String> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|e| format!("certificate does not parse: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the certificate", rest.len()));
    }
    let extension = cert
        .get_extension_unique(&x509_parser::oid_registry::OID_CT_LIST_SCT)
        .map_err(|e| format!("SCT extension: {e}"))?;
    match extension {
        None => Ok(Vec::new()),
        Some(ext) => parse_sct_list(der_octet_string(ext.value)?),
    }
}

/// The SCTs in the single responses of a DER OCSPResponse (a stapled or fetched one); none if
/// the response is not successful or carries no SCT extension.
///
/// Each extension value is the DER OCTET STRING wrapping a TLS-encoded list, as in a
/// certificate, and goes through [`parse_sct_list`]. The response's signature is not checked.
pub fn ocsp_scts(response_der: &[u8]) -> Result<Vec<Sct>, String> {
    use der::oid::AssociatedOid;
    use der::Decode;
    let response =
        x509_ocsp::OcspResponse::from_der(response_der).map_err(|e| format!("OCSP response does not parse: {e}"))?;
    let Some(bytes) = response.response_bytes else {
        return Ok(Vec::new());
    };
    if bytes.response_type != x509_ocsp::BasicOcspResponse::OID {
        return Err(format!("OCSP response of type {}, not id-pkix-ocsp-basic", bytes.response_type));
    }
    let basic = x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| format!("basic OCSP response does not parse: {e}"))?;
    let mut scts = Vec::new();
    for (index, single) in basic.tbs_response_data.responses.iter().enumerate() {
        for ext in single.single_extensions.iter().flatten().filter(|e| e.extn_id == OID_OCSP_SCT_LIST) {
            let list = der_octet_string(ext.extn_value.as_bytes())?;
            scts.extend(parse_sct_list(list).map_err(|e| format!("OCSP single response {index}: {e}"))?);
        }
    }
    Ok(scts)
}

/// The contents of a DER OCTET STRING that fills `der` exactly.
fn der_octet_string(der: &[u8]) -> Result<&[u8], String> {
    use der::Decode;
    der::asn1::OctetStringRef::from_der(der)
        .map(|s| s.as_bytes())
        .map_err(|e| format!("SCT list extension is not one DER OCTET STRING: {e}"))
}

/// Where an SCT was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SctSource {
    /// In the certificate itself (issued from a logged precertificate).
    Embedded,
    /// In the ServerHello's signed_certificate_timestamp extension.
    TlsExtension,
    /// In a stapled OCSP response's 1.3.6.1.4.1.11129.2.4.5 extension.
    Ocsp,
}

/// An SCT, where it was found, and the log it names if the bundled list knows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservedSct {
    /// Where the SCT was found.
    pub source: SctSource,
    /// The SCT as parsed.
    pub sct: Sct,
    /// `None` when the log id is not in the bundled list: a log kensa's snapshot predates or
    /// never listed, or a made-up id.
    pub log: Option<&'static KnownLog>,
}

impl ObservedSct {
    /// `sct` from `source`, with its log looked up in the bundled list.
    pub fn new(source: SctSource, sct: Sct) -> ObservedSct {
        let log = find_log(&sct.log_id);
        ObservedSct { source, sct, log }
    }
}

/// Every SCT of `scts` as observed from `source`.
pub fn observe(source: SctSource, scts: Vec<Sct>) -> Vec<ObservedSct> {
    scts.into_iter().map(|sct| ObservedSct::new(source, sct)).collect()
}

/// What a set of observed SCTs amounts to, for the checks: how many, from how many logs and
/// operators, and which log ids the bundled list does not know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CtSummary {
    /// SCTs observed, duplicates included (the same SCT may come embedded and stapled).
    pub count: usize,
    /// Distinct log ids, known or not.
    pub distinct_logs: usize,
    /// Distinct operators of the known logs.
    pub distinct_operators: usize,
    /// Those operators, sorted.
    pub operators: Vec<String>,
    /// Descriptions of the distinct known logs, sorted.
    pub known_logs: Vec<String>,
    /// Distinct log ids not in the bundled list, base64, sorted.
    pub unknown_log_ids: Vec<String>,
    /// Where SCTs were found, each source once.
    pub sources: Vec<SctSource>,
}

/// Summarises `observed` (see [`CtSummary`]).
pub fn summarize(observed: &[ObservedSct]) -> CtSummary {
    let ids: BTreeSet<[u8; 32]> = observed.iter().map(|o| o.sct.log_id).collect();
    let known: Vec<&KnownLog> = observed.iter().filter_map(|o| o.log).collect();
    let operators: BTreeSet<String> = known.iter().map(|l| l.operator.clone()).collect();
    let known_logs: BTreeSet<String> = known.iter().map(|l| l.description.clone()).collect();
    let unknown: BTreeSet<String> =
        observed.iter().filter(|o| o.log.is_none()).map(|o| o.sct.log_id_base64()).collect();
    let sources: BTreeSet<SctSource> = observed.iter().map(|o| o.source).collect();
    CtSummary {
        count: observed.len(),
        distinct_logs: ids.len(),
        distinct_operators: operators.len(),
        operators: operators.into_iter().collect(),
        known_logs: known_logs.into_iter().collect(),
        unknown_log_ids: unknown.into_iter().collect(),
        sources: sources.into_iter().collect(),
    }
}

/// The bundled CT log list: which snapshot it is, where it came from, and the logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogList {
    /// Format tag of the bundled file.
    pub schema: String,
    /// The date of the newest list the snapshot was taken from (YYYY-MM-DD).
    pub snapshot_date: String,
    /// The list the snapshot follows.
    pub source: LogListSource,
    /// Older lists that contributed logs the newest no longer lists.
    #[serde(default)]
    pub earlier_sources: Vec<LogListSource>,
    /// How the list was reduced and checked.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The logs: the newest list's first, then those taken from earlier lists.
    pub logs: Vec<KnownLog>,
}

/// One published version of a log list, and the public copy it was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogListSource {
    /// Where the list is published.
    pub url: String,
    /// The list's own `version`.
    pub version: String,
    /// The list's own `log_list_timestamp`.
    pub log_list_timestamp: String,
    /// The copy kensa's snapshot was made from (there is no network at build time).
    pub copied_from: RepositoryFile,
}

/// A file at a commit of a public Git repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryFile {
    /// `owner/name` on GitHub.
    pub repo: String,
    /// The file's path in the repository.
    pub path: String,
    /// The full commit hash the file was read at.
    pub commit: String,
}

/// A CT log as the log list describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownLog {
    /// SHA-256 of the log's public key, base64.
    pub log_id: String,
    /// The list's name for the log, such as `Google 'Argon2026h2' log`.
    pub description: String,
    /// The operator's name as the list gives it.
    pub operator: String,
    /// The protocol the log speaks.
    pub api: LogApi,
    /// The RFC 6962 URL, or the submission URL of a static-ct-api log.
    #[serde(default)]
    pub url: Option<String>,
    /// The state in the list the log was taken from (see `listed_in`).
    pub state: LogState,
    /// When the log entered that state (RFC 3339).
    pub state_since: String,
    /// The certificates the log accepts, by notAfter.
    #[serde(default)]
    pub temporal_interval: Option<TemporalInterval>,
    /// The version of the list this entry comes from: the snapshot's own, or an earlier one
    /// for a log the newest list has dropped.
    pub listed_in: String,
}

impl KnownLog {
    /// Whether the newest list of the snapshot still lists the log.
    pub fn in_current_list(&self) -> bool {
        self.listed_in == log_list().source.version
    }

    /// Whether Chrome's policy counted SCTs from this log when the list was taken: usable,
    /// qualified, and read-only logs count; retired logs only for SCTs issued before
    /// retirement, which this does not decide.
    pub fn counts_for_policy(&self) -> bool {
        matches!(self.state, LogState::Usable | LogState::Qualified | LogState::Readonly)
    }
}

/// The protocol a log speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogApi {
    /// The RFC 6962 API.
    Rfc6962,
    /// The static-ct-api (tiled logs).
    StaticCt,
}

/// A log's state in the log list (v3 schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogState {
    /// Applied for inclusion, not yet trusted.
    Pending,
    /// Accepted, within its trial period before becoming usable.
    Qualified,
    /// Fully trusted.
    Usable,
    /// Trusted, but no longer accepting submissions.
    Readonly,
    /// No longer trusted for SCTs issued after the state's timestamp.
    Retired,
    /// Never trusted.
    Rejected,
}

/// The notAfter range of certificates a sharded log accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalInterval {
    /// RFC 3339.
    pub start_inclusive: String,
    /// RFC 3339.
    pub end_exclusive: String,
}

/// The parsed list and an index from log id to entry.
struct Bundled {
    list: LogList,
    by_id: HashMap<[u8; 32], usize>,
}

fn bundled() -> &'static Bundled {
    static BUNDLED: OnceLock<Bundled> = OnceLock::new();
    BUNDLED.get_or_init(|| {
        // The embedded file is checked by a unit test; an empty list is the safe fallback, and
        // reads as "every log unknown", never as a pass.
        let list = parse_log_list(LOG_LIST_TEXT).unwrap_or_else(|e| LogList {
            schema: String::new(),
            snapshot_date: String::new(),
            source: LogListSource {
                url: String::new(),
                version: String::new(),
                log_list_timestamp: String::new(),
                copied_from: RepositoryFile { repo: String::new(), path: String::new(), commit: String::new() },
            },
            earlier_sources: Vec::new(),
            notes: vec![format!("bundled log list unreadable: {e}")],
            logs: Vec::new(),
        });
        let by_id = list
            .logs
            .iter()
            .enumerate()
            .filter_map(|(i, log)| decode_log_id(&log.log_id).ok().map(|id| (id, i)))
            .collect();
        Bundled { list, by_id }
    })
}

/// Parses a log list in kensa's reduced format, insisting that every log id is 32 bytes of
/// base64 and appears once.
pub fn parse_log_list(text: &str) -> Result<LogList, String> {
    let list: LogList = serde_json::from_str(text).map_err(|e| format!("log list: {e}"))?;
    let mut seen = BTreeSet::new();
    for log in &list.logs {
        let id = decode_log_id(&log.log_id)?;
        if !seen.insert(id) {
            return Err(format!("log id {} listed twice", log.log_id));
        }
    }
    Ok(list)
}

/// The bundled log-list snapshot (`probes/ct-log-list.json`).
pub fn log_list() -> &'static LogList {
    &bundled().list
}

/// The bundled list's entry for `log_id`, if it has one.
pub fn find_log(log_id: &[u8; 32]) -> Option<&'static KnownLog> {
    let b = bundled();
    b.by_id.get(log_id).and_then(|&i| b.list.logs.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A serialised v1 SCT with the given parts.
    fn sct_bytes(log_id: [u8; 32], timestamp_ms: u64, extensions: &[u8], signature: &[u8]) -> Vec<u8> {
        let mut b = vec![SCT_VERSION_V1];
        b.extend_from_slice(&log_id);
        b.extend_from_slice(&timestamp_ms.to_be_bytes());
        b.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        b.extend_from_slice(extensions);
        b.extend_from_slice(&[4, 3]); // sha256, ecdsa
        b.extend_from_slice(&(signature.len() as u16).to_be_bytes());
        b.extend_from_slice(signature);
        b
    }

    fn list_bytes(scts: &[Vec<u8>]) -> Vec<u8> {
        let mut inner = Vec::new();
        for s in scts {
            inner.extend_from_slice(&(s.len() as u16).to_be_bytes());
            inner.extend_from_slice(s);
        }
        let mut b = (inner.len() as u16).to_be_bytes().to_vec();
        b.extend(inner);
        b
    }

    fn der_octet_string_of(content: &[u8]) -> Vec<u8> {
        let mut b = vec![0x04];
        match content.len() {
            n @ 0..=0x7f => b.push(n as u8),
            n @ 0x80..=0xff => b.extend_from_slice(&[0x81, n as u8]),
            n => b.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
        }
        b.extend_from_slice(content);
        b
    }

    /// Google 'Argon2026h2' log, as the bundled list gives it.
    const ARGON_2026H2: &str = "1219ENGn9XfCx+lf1wC/+YLJM1pl4dCzAXMXwMjFaXc=";

    fn sample_list() -> (Vec<u8>, [u8; 32], [u8; 32]) {
        let known = decode_log_id(ARGON_2026H2).unwrap();
        let unknown = [0x5a; 32];
        let list = list_bytes(&[
            sct_bytes(known, 1_790_000_000_123, &[], &[0x30, 0x44, 1, 2, 3]),
            sct_bytes(unknown, 1_790_000_000_456, &[9, 9], &[0x30, 0x45, 4, 5, 6, 7]),
        ]);
        (list, known, unknown)
    }

    #[test]
    fn a_hand_built_list_round_trips() {
        let (list, known, unknown) = sample_list();
        let scts = parse_sct_list(&list).unwrap();
        assert_eq!(scts.len(), 2);
        assert_eq!(scts[0].log_id, known);
        assert_eq!(scts[0].timestamp_ms, 1_790_000_000_123);
        assert_eq!(scts[0].signature_algorithm, SignatureAlgorithm { hash: 4, signature: 3 });
        assert_eq!(scts[0].signature_algorithm.name(), "ecdsa-sha256");
        assert_eq!(scts[0].signature.0, [0x30, 0x44, 1, 2, 3]);
        assert!(scts[0].extensions.0.is_empty());
        assert_eq!(scts[1].log_id, unknown);
        assert_eq!(scts[1].extensions.0, [9, 9]);
        // Serialised, the log id reads as the log lists write it, and comes back intact.
        let json = serde_json::to_value(&scts[0]).unwrap();
        assert_eq!(json["log_id"], ARGON_2026H2);
        let back: Sct = serde_json::from_value(json).unwrap();
        assert_eq!(back, scts[0]);
    }

    #[test]
    fn every_prefix_is_an_error_and_no_mutation_panics() {
        let (list, ..) = sample_list();
        for cut in 0..list.len() {
            assert!(parse_sct_list(&list[..cut]).is_err(), "prefix of {cut} bytes accepted");
        }
        let mut longer = list.clone();
        longer.push(0);
        assert!(parse_sct_list(&longer).unwrap_err().contains("after the SCT list"));
        // A length nudged either way anywhere, and every single byte flipped, never panics.
        for at in 0..list.len() {
            for delta in [1u8, 0x80, 0xff] {
                let mut bad = list.clone();
                bad[at] = bad[at].wrapping_add(delta);
                let _ = parse_sct_list(&bad);
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for n in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let garbage: Vec<u8> = (0..n % 300).map(|i| (state >> (i % 56)) as u8).collect();
            let _ = parse_sct_list(&garbage);
        }
    }

    #[test]
    fn strictness() {
        assert!(parse_sct_list(&[0, 0]).unwrap_err().contains("empty SCT list"));
        assert!(parse_sct_list(&[0, 2, 0, 0]).unwrap_err().contains("empty"));
        let known = decode_log_id(ARGON_2026H2).unwrap();
        let mut v2 = sct_bytes(known, 1, &[], &[1]);
        v2[0] = 1;
        assert!(parse_sct_list(&list_bytes(&[v2])).unwrap_err().contains("unknown version 1"));
        // Bytes after the signature, inside the SCT's own length.
        let mut trailing = sct_bytes(known, 1, &[], &[1]);
        trailing.push(7);
        assert!(parse_sct_list(&list_bytes(&[trailing])).unwrap_err().contains("trailing"));
        // A signature length that overruns the SCT.
        let mut overrun = sct_bytes(known, 1, &[], &[1]);
        let at = overrun.len() - 2;
        overrun[at] = 9;
        assert!(parse_sct_list(&list_bytes(&[overrun])).is_err());
        assert!(parse_sct_list(&[]).is_err());
    }

    fn certificate_with_extension(content: Option<Vec<u8>>) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["sct.example".to_string()]).unwrap();
        if let Some(content) = content {
            params.custom_extensions.push(rcgen::CustomExtension::from_oid_content(OID_EMBEDDED_SCT_LIST, content));
        }
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn embedded_scts_come_out_of_the_certificate() {
        let (list, known, unknown) = sample_list();
        let cert = certificate_with_extension(Some(der_octet_string_of(&list)));
        let scts = embedded_scts(&cert).unwrap();
        assert_eq!(scts.iter().map(|s| s.log_id).collect::<Vec<_>>(), vec![known, unknown]);
        assert_eq!(scts, parse_sct_list(&list).unwrap());
        // No extension: no SCTs, not an error.
        assert_eq!(embedded_scts(&certificate_with_extension(None)).unwrap(), Vec::new());
        // The list not wrapped in an OCTET STRING, or broken inside it, is an error.
        assert!(embedded_scts(&certificate_with_extension(Some(list.clone()))).is_err());
        let broken = der_octet_string_of(&list[..list.len() - 1]);
        assert!(embedded_scts(&certificate_with_extension(Some(broken))).is_err());
        assert!(embedded_scts(b"not a certificate").is_err());
        let mut trailing = cert.clone();
        trailing.push(0);
        assert!(embedded_scts(&trailing).is_err());
    }

    /// A DER TLV with a short or long length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut b = vec![tag];
        match content.len() {
            n @ 0..=0x7f => b.push(n as u8),
            n @ 0x80..=0xff => b.extend_from_slice(&[0x81, n as u8]),
            n => b.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
        }
        b.extend_from_slice(content);
        b
    }

    /// A successful basic OCSPResponse (RFC 6960 §4.2.1) with one single response, whose
    /// extensions are `single_extensions` (DER Extension encodings). Unsigned: a zero-length
    /// signature, which parsing does not look at.
    fn ocsp_response(single_extensions: &[Vec<u8>]) -> Vec<u8> {
        let sha1 = tlv(0x30, &[tlv(0x06, &[0x2b, 0x0e, 0x03, 0x02, 0x1a]), vec![0x05, 0x00]].concat());
        let cert_id = tlv(0x30, &[sha1, tlv(0x04, &[1; 20]), tlv(0x04, &[2; 20]), tlv(0x02, &[0x1f, 0x2e])].concat());
        let time = tlv(0x18, b"20261123000000Z");
        let mut single = [cert_id, vec![0x80, 0x00], time.clone()].concat(); // certStatus good
        if !single_extensions.is_empty() {
            single.extend(tlv(0xa1, &tlv(0x30, &single_extensions.concat())));
        }
        let responder = tlv(0xa2, &tlv(0x04, &[3; 20])); // byKey
        let data = tlv(0x30, &[responder, time, tlv(0x30, &tlv(0x30, &single))].concat());
        let ecdsa_sha256 = tlv(0x30, &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
        let basic = tlv(0x30, &[data, ecdsa_sha256, tlv(0x03, &[0])].concat());
        let basic_oid = tlv(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]);
        let bytes = tlv(0xa0, &tlv(0x30, &[basic_oid, tlv(0x04, &basic)].concat()));
        tlv(0x30, &[tlv(0x0a, &[0]), bytes].concat())
    }

    fn extension(oid: &[u8], value: &[u8]) -> Vec<u8> {
        tlv(0x30, &[tlv(0x06, oid), tlv(0x04, value)].concat())
    }

    const OCSP_SCT_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x05];

    #[test]
    fn ocsp_scts_come_out_of_the_single_response() {
        let (list, known, unknown) = sample_list();
        let nonce = extension(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02], &tlv(0x04, &[7; 16]));
        let with = ocsp_response(&[nonce.clone(), extension(OCSP_SCT_OID, &der_octet_string_of(&list))]);
        let scts = ocsp_scts(&with).unwrap();
        assert_eq!(scts.iter().map(|s| s.log_id).collect::<Vec<_>>(), vec![known, unknown]);
        assert_eq!(ocsp_scts(&ocsp_response(&[nonce])).unwrap(), Vec::new());
        assert_eq!(ocsp_scts(&ocsp_response(&[])).unwrap(), Vec::new());
        // An unsuccessful response (tryLater) has no response bytes, so no SCTs.
        assert_eq!(ocsp_scts(&tlv(0x30, &tlv(0x0a, &[3]))).unwrap(), Vec::new());
        // A list not wrapped in its OCTET STRING, or broken, is an error; so is every cut.
        assert!(ocsp_scts(&ocsp_response(&[extension(OCSP_SCT_OID, &list)])).is_err());
        let broken = der_octet_string_of(&list[..list.len() - 1]);
        assert!(ocsp_scts(&ocsp_response(&[extension(OCSP_SCT_OID, &broken)])).is_err());
        for cut in 0..with.len() {
            assert!(ocsp_scts(&with[..cut]).is_err(), "prefix of {cut} bytes accepted");
        }
        for at in 0..with.len() {
            let mut bad = with.clone();
            bad[at] ^= 0x41;
            let _ = ocsp_scts(&bad);
        }
        assert_eq!(OID_OCSP_SCT_LIST.as_bytes(), OCSP_SCT_OID);
    }

    #[test]
    fn the_bundled_log_list_parses_and_is_dated() {
        let list = parse_log_list(LOG_LIST_TEXT).unwrap();
        assert_eq!(list.schema, "kensa.ct-log-list/1");
        assert_eq!(list.snapshot_date.len(), 10);
        assert!(list.source.log_list_timestamp.starts_with(&list.snapshot_date));
        assert_eq!(list.source.copied_from.commit.len(), 40);
        assert!(list.logs.len() >= 40, "{} logs", list.logs.len());
        let operators: BTreeSet<&str> = list.logs.iter().map(|l| l.operator.as_str()).collect();
        assert!(operators.len() >= 5, "{operators:?}");
        let versions: BTreeSet<&str> = std::iter::once(list.source.version.as_str())
            .chain(list.earlier_sources.iter().map(|s| s.version.as_str()))
            .collect();
        for log in &list.logs {
            assert!(versions.contains(log.listed_in.as_str()), "{}: listed in {}", log.description, log.listed_in);
            assert!(log.url.as_deref().is_some_and(|u| u.starts_with("https://")), "{}", log.description);
        }
        assert_eq!(log_list(), &list);
        // A duplicate id or a short one is refused.
        let twice = LOG_LIST_TEXT.replace(ARGON_2026H2, "EvFONL1TckyEBhnDjz96E/jntWKHiJxtMAWE6+WGJjo=");
        assert!(parse_log_list(&twice).unwrap_err().contains("twice"));
        assert!(parse_log_list(&LOG_LIST_TEXT.replace(ARGON_2026H2, "AAAA")).is_err());
    }

    #[test]
    fn known_log_ids_are_found() {
        let argon = find_log(&decode_log_id(ARGON_2026H2).unwrap()).expect("Argon2026h2");
        assert_eq!(argon.description, "Google 'Argon2026h2' log");
        assert_eq!(argon.operator, "Google");
        assert_eq!(argon.state, LogState::Usable);
        assert!(argon.in_current_list() && argon.counts_for_policy());
        // A log the newest list dropped still has a name, from the earlier list.
        let nimbus2025 = find_log(&decode_log_id("zPsPaoVxCWX+lZtTzumyfCLphVwNl422qX5UwP5MDbA=").unwrap());
        assert_eq!(nimbus2025.map(|l| (l.operator.as_str(), l.in_current_list())), Some(("Cloudflare", false)));
        assert!(find_log(&[0x5a; 32]).is_none());
    }

    #[test]
    fn summary_counts_logs_operators_and_unknowns() {
        let (list, _, unknown) = sample_list();
        let scts = parse_sct_list(&list).unwrap();
        let sectigo = decode_log_id("yKPEf8ezrbk1awE/anoSbeM6TkOlxkb5l605dZkdz5o=").unwrap();
        let mut observed = observe(SctSource::Embedded, scts.clone());
        observed.extend(observe(SctSource::TlsExtension, scts));
        let mut third = observed[0].sct.clone();
        third.log_id = sectigo;
        observed.push(ObservedSct::new(SctSource::Ocsp, third));
        let summary = summarize(&observed);
        assert_eq!(summary.count, 5);
        assert_eq!(summary.distinct_logs, 3);
        assert_eq!(summary.distinct_operators, 2);
        assert_eq!(summary.operators, vec!["Google".to_string(), "Sectigo".to_string()]);
        assert_eq!(
            summary.known_logs,
            vec!["Google 'Argon2026h2' log".to_string(), "Sectigo 'Tiger2026h2'".to_string()]
        );
        use base64::Engine;
        assert_eq!(summary.unknown_log_ids, vec![base64::engine::general_purpose::STANDARD.encode(unknown)]);
        assert_eq!(summary.sources, vec![SctSource::Embedded, SctSource::TlsExtension, SctSource::Ocsp]);
        assert_eq!(summarize(&[]), CtSummary::default());
        let json = serde_json::to_value(&observed[0]).unwrap();
        assert_eq!(json["source"], "embedded");
        assert_eq!(json["log"]["operator"], "Google");
    }
}
