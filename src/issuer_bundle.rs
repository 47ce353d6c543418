//! Issuer certificates out of an AIA caIssuers response.
//!
//! RFC 5280 §4.2.2.1 says such a URL serves either one DER certificate
//! (`application/pkix-cert`) or a "certs-only" CMS SignedData bundle
//! (`application/pkcs7-mime`, `.p7c`). In the wild servers also hand out PEM, PEM-armoured
//! PKCS#7, BER with indefinite lengths, and content types that do not match any of it; so
//! the format is decided by the bytes, and the content type only helps to explain a failure.
//!
//! Pure and bounded: the bytes come from whoever runs the URL a certificate names, so the
//! size, the number of certificates and the ASN.1 nesting are capped, and anything
//! malformed is an `Err` with a readable reason.

use std::borrow::Cow;

use asn1_rs::{Any, Class, FromBer, Oid, Tag};
use base64::Engine;

use crate::evidence::CertDer;

/// Most certificates accepted from one response; real bundles hold one to a few.
pub const MAX_CERTIFICATES: usize = 16;

/// Largest response parsed, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 4 << 20;

/// Most PEM blocks looked at in one response.
const MAX_PEM_BLOCKS: usize = 32;

/// Most entries looked at in a PKCS#7 `certificates` set (attribute certificates included).
const MAX_PKCS7_ENTRIES: usize = 64;

/// DER content octets of the signedData content type, 1.2.840.113549.1.7.2.
const SIGNED_DATA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// The certificates in an AIA caIssuers response body: one DER certificate, PEM with one
/// or more `CERTIFICATE` (or `PKCS7`) blocks, or a DER/BER PKCS#7 certs-only bundle.
/// `content_type` is what the server claimed; it is only used in error messages.
pub fn certificates_from_aia(body: &[u8], content_type: Option<&str>) -> Result<Vec<CertDer>, String> {
    let served_as = || content_type.map(|ct| format!(" (served as {ct})")).unwrap_or_default();
    if body.is_empty() {
        return Err(format!("empty body{}", served_as()));
    }
    if body.len() > MAX_BUNDLE_BYTES {
        return Err(format!("body of {} bytes is larger than {MAX_BUNDLE_BYTES} bytes{}", body.len(), served_as()));
    }
    let found = if body[0] == 0x30 {
        certificates_from_der(body)
    } else if contains(body, b"-----BEGIN ") {
        certificates_from_pem(body)
    } else {
        Err("neither DER (a SEQUENCE) nor PEM".to_string())
    };
    match found {
        Ok(certificates) if certificates.is_empty() => Err(format!("no certificate in the body{}", served_as())),
        Ok(certificates) => Ok(certificates),
        Err(reason) => Err(format!("{reason}{}", served_as())),
    }
}

/// A DER certificate or a PKCS#7 ContentInfo, told apart by the first element of the
/// outer SEQUENCE: a certificate starts with its TBSCertificate SEQUENCE, a ContentInfo
/// with its content type OID.
fn certificates_from_der(der: &[u8]) -> Result<Vec<CertDer>, String> {
    let outer = single_element(der, "the body")?;
    expect(&outer, Class::Universal, Tag::Sequence, "the outer element")?;
    let (_, first) = Any::from_ber(outer.data).map_err(asn1("the first element of the outer SEQUENCE"))?;
    match (first.class(), first.tag()) {
        (Class::Universal, Tag::Sequence) => Ok(vec![certificate(der, "the DER body")?]),
        (Class::Universal, Tag::Oid) => certificates_from_content_info(outer.data),
        _ => Err("a DER structure that is neither a certificate nor PKCS#7".to_string()),
    }
}

/// ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
/// SignedData ::= SEQUENCE { version INTEGER, digestAlgorithms SET, encapContentInfo
///     SEQUENCE, certificates [0] IMPLICIT SET OF CertificateChoices OPTIONAL,
///     crls [1] IMPLICIT OPTIONAL, signerInfos SET }
fn certificates_from_content_info(content_info: &[u8]) -> Result<Vec<CertDer>, String> {
    let (rest, content_type) = Any::from_ber(content_info).map_err(asn1("the PKCS#7 content type"))?;
    if content_type.data != SIGNED_DATA_OID {
        let oid = Oid::new(Cow::Borrowed(content_type.data)).to_id_string();
        return Err(format!("PKCS#7 content type {oid} is not signedData"));
    }
    let explicit = single_element(rest, "the PKCS#7 content")?;
    expect(&explicit, Class::ContextSpecific, Tag(0), "the PKCS#7 content")?;
    let signed_data = single_element(explicit.data, "the PKCS#7 SignedData")?;
    expect(&signed_data, Class::Universal, Tag::Sequence, "the PKCS#7 SignedData")?;

    let mut fields = signed_data.data;
    for (tag, what) in [
        (Tag::Integer, "the SignedData version"),
        (Tag::Set, "the SignedData digest algorithms"),
        (Tag::Sequence, "the SignedData encapsulated content"),
    ] {
        let (rest, field) = Any::from_ber(fields).map_err(asn1(what))?;
        expect(&field, Class::Universal, tag, what)?;
        fields = rest;
    }
    let mut certificates_set = None;
    let mut signer_infos = false;
    while !fields.is_empty() {
        let (rest, field) = Any::from_ber(fields).map_err(asn1("a SignedData field"))?;
        fields = rest;
        match (field.class(), field.tag(), signer_infos) {
            (Class::ContextSpecific, Tag(0), false) if certificates_set.is_none() => certificates_set = Some(field),
            (Class::ContextSpecific, Tag(1), false) => {} // CRLs: not what caIssuers is for
            (Class::Universal, Tag::Set, false) => signer_infos = true,
            _ => return Err("the PKCS#7 SignedData has unexpected fields".to_string()),
        }
    }
    if !signer_infos {
        return Err("the PKCS#7 SignedData has no signerInfos".to_string());
    }
    let Some(set) = certificates_set else {
        return Err("the PKCS#7 bundle holds no certificates".to_string());
    };
    if !set.header.is_constructed() {
        return Err("the PKCS#7 certificates field is not a SET".to_string());
    }

    let mut certificates = Vec::new();
    let mut entries = set.data;
    let mut index = 0;
    while !entries.is_empty() {
        index += 1;
        if index > MAX_PKCS7_ENTRIES {
            return Err(format!("the PKCS#7 bundle has more than {MAX_PKCS7_ENTRIES} entries"));
        }
        let (rest, entry) = Any::from_ber(entries).map_err(asn1("a PKCS#7 certificate entry"))?;
        let raw = &entries[..entries.len() - rest.len()];
        entries = rest;
        // Other CertificateChoices (attribute certificates, [0]…[3]) are not issuers.
        if (entry.class(), entry.tag()) == (Class::Universal, Tag::Sequence) {
            if certificates.len() == MAX_CERTIFICATES {
                return Err(format!("the PKCS#7 bundle holds more than {MAX_CERTIFICATES} certificates"));
            }
            certificates.push(certificate(raw, &format!("PKCS#7 entry {index}"))?);
        }
    }
    Ok(certificates)
}

/// Every `CERTIFICATE` and `PKCS7` block, in order; other blocks are ignored.
fn certificates_from_pem(text: &[u8]) -> Result<Vec<CertDer>, String> {
    let text = String::from_utf8_lossy(text);
    let mut certificates = Vec::new();
    let mut blocks = 0usize;
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        match open.as_mut() {
            None => {
                if let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) {
                    blocks += 1;
                    if blocks > MAX_PEM_BLOCKS {
                        return Err(format!("more than {MAX_PEM_BLOCKS} PEM blocks"));
                    }
                    open = Some((label.to_string(), String::new()));
                }
            }
            Some((label, base64)) => {
                if let Some(end) = line.strip_prefix("-----END ").and_then(|l| l.strip_suffix("-----")) {
                    if end != label {
                        return Err(format!("PEM block BEGIN {label} ends with END {end}"));
                    }
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(base64.as_bytes())
                        .map_err(|e| format!("PEM block {label} is not valid base64: {e}"))?;
                    let found = match label.as_str() {
                        "CERTIFICATE" | "X509 CERTIFICATE" | "X.509 CERTIFICATE" => {
                            vec![certificate(&der, &format!("PEM block {}", blocks))?]
                        }
                        "PKCS7" | "PKCS #7 SIGNED DATA" | "CMS" => {
                            let outer = single_element(&der, "PEM PKCS7 block")?;
                            expect(&outer, Class::Universal, Tag::Sequence, "the PEM PKCS7 block")?;
                            certificates_from_content_info(outer.data)?
                        }
                        _ => Vec::new(),
                    };
                    if certificates.len() + found.len() > MAX_CERTIFICATES {
                        return Err(format!("more than {MAX_CERTIFICATES} certificates"));
                    }
                    certificates.extend(found);
                    open = None;
                } else if !line.contains(':') {
                    // Lines with a colon are RFC 1421 headers, not base64.
                    base64.push_str(line);
                }
            }
        }
    }
    if let Some((label, _)) = open {
        return Err(format!("PEM block {label} has no END line"));
    }
    if certificates.is_empty() {
        return Err("PEM without a CERTIFICATE or PKCS7 block".to_string());
    }
    Ok(certificates)
}

/// `der` as one certificate that x509-parser accepts, with nothing after it.
fn certificate(der: &[u8], what: &str) -> Result<CertDer, String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], _)) => Ok(CertDer(der.to_vec())),
        Ok((rest, _)) => Err(format!("{what}: {} bytes after the certificate", rest.len())),
        Err(e) => Err(format!("{what} is not a certificate: {e}")),
    }
}

/// The one BER element that makes up `input`.
fn single_element<'a>(input: &'a [u8], what: &str) -> Result<Any<'a>, String> {
    let (rest, element) = Any::from_ber(input).map_err(asn1(what))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after {what}", rest.len()));
    }
    Ok(element)
}

fn expect(element: &Any<'_>, class: Class, tag: Tag, what: &str) -> Result<(), String> {
    if element.class() != class || element.tag() != tag || !(element.header.is_constructed() || tag == Tag::Integer) {
        return Err(format!("{what} is not the expected ASN.1 element (found {} {})", element.class(), element.tag()));
    }
    Ok(())
}

fn asn1(what: &str) -> impl Fn(asn1_rs::Err<asn1_rs::Error>) -> String + '_ {
    move |e| match e {
        asn1_rs::Err::Incomplete(_) => format!("{what} is truncated"),
        asn1_rs::Err::Error(e) | asn1_rs::Err::Failure(e) => format!("{what} is malformed: {e}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{pem_encode, TestCa, Validity};

    /// A leaf and its CA, as DER, made with rcgen.
    fn chain() -> Vec<Vec<u8>> {
        let ca = TestCa::new("kensa issuer bundle CA").unwrap();
        let identity = ca.issue(&["issuer-bundle.test"], Validity::CURRENT).unwrap();
        identity.chain.iter().map(|c| c.to_vec()).collect()
    }

    fn pem(der: &[u8]) -> String {
        pem_encode(&rustls::pki_types::CertificateDer::from(der.to_vec()))
    }

    fn der_len(length: usize) -> Vec<u8> {
        match length {
            0..=0x7f => vec![length as u8],
            0x80..=0xff => vec![0x81, length as u8],
            _ => vec![0x82, (length >> 8) as u8, length as u8],
        }
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend(der_len(content.len()));
        out.extend_from_slice(content);
        out
    }

    /// BER with an indefinite length: tag, 0x80, content, end-of-contents.
    fn indefinite(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        out.extend_from_slice(content);
        out.extend_from_slice(&[0, 0]);
        out
    }

    /// A certs-only ContentInfo, as `openssl crl2pkcs7 -nocrl` makes it, built by hand so the
    /// tests need no openssl; `wrap` encodes the constructed elements (DER or BER).
    fn certs_only(certificates: &[Vec<u8>], wrap: fn(u8, &[u8]) -> Vec<u8>) -> Vec<u8> {
        let data_oid = tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]);
        let mut signed = tlv(0x02, &[1]);
        signed.extend(wrap(0x31, &[]));
        signed.extend(wrap(0x30, &data_oid));
        signed.extend(wrap(0xa0, &certificates.concat()));
        signed.extend(wrap(0x31, &[]));
        let mut content_info = tlv(0x06, SIGNED_DATA_OID);
        content_info.extend(wrap(0xa0, &wrap(0x30, &signed)));
        wrap(0x30, &content_info)
    }

    fn pem_block(label: &str, der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    fn ders(found: Vec<CertDer>) -> Vec<Vec<u8>> {
        found.into_iter().map(|c| c.0).collect()
    }

    #[test]
    fn a_single_der_certificate() {
        let chain = chain();
        let found = certificates_from_aia(&chain[1], Some("application/pkix-cert")).unwrap();
        assert_eq!(ders(found), vec![chain[1].clone()]);
    }

    #[test]
    fn pem_with_one_and_two_certificates() {
        let chain = chain();
        assert_eq!(ders(certificates_from_aia(pem(&chain[1]).as_bytes(), None).unwrap()), vec![chain[1].clone()]);
        // Explanatory text, CRLF line ends and a key block around the certificates.
        let text = format!(
            "subject=CN = leaf\r\n{}\r\n{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            pem(&chain[0]).replace('\n', "\r\n"),
            pem(&chain[1])
        );
        assert_eq!(ders(certificates_from_aia(text.as_bytes(), Some("text/plain")).unwrap()), chain);
    }

    #[test]
    fn pkcs7_der_ber_and_pem() {
        let chain = chain();
        let der = certs_only(&chain, tlv);
        assert_eq!(ders(certificates_from_aia(&der, Some("application/pkcs7-mime")).unwrap()), chain);
        let ber = certs_only(&chain, indefinite);
        assert_eq!(ders(certificates_from_aia(&ber, None).unwrap()), chain);
        let armoured = pem_block("PKCS7", &der);
        assert_eq!(ders(certificates_from_aia(armoured.as_bytes(), None).unwrap()), chain);
    }

    #[test]
    fn content_type_does_not_decide() {
        let chain = chain();
        let der = certs_only(&chain, tlv);
        assert_eq!(ders(certificates_from_aia(&der, Some("application/pkix-cert")).unwrap()), chain);
        let cert = certificates_from_aia(&chain[0], Some("application/pkcs7-mime")).unwrap();
        assert_eq!(ders(cert), vec![chain[0].clone()]);
    }

    #[test]
    fn pkcs7_made_by_openssl() {
        if !crate::testkit::OpenSslServer::available() {
            eprintln!("skipped: no openssl binary to make PKCS#7 bundles with");
            return;
        }
        let chain = chain();
        let dir = crate::testkit::TempDir::new("aia-p7").unwrap();
        let pem_chain: String = chain.iter().map(|c| pem(c)).collect();
        let certfile = dir.write("chain.pem", pem_chain).unwrap();
        for form in ["DER", "PEM"] {
            let out = dir.path().join(format!("bundle.{form}"));
            let status = std::process::Command::new("openssl")
                .args(["crl2pkcs7", "-nocrl", "-outform", form, "-certfile"])
                .arg(&certfile)
                .arg("-out")
                .arg(&out)
                .stdin(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "openssl crl2pkcs7 -outform {form}");
            let body = std::fs::read(&out).unwrap();
            assert_eq!(ders(certificates_from_aia(&body, None).unwrap()), chain, "{form}");
        }
    }

    #[test]
    fn committed_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/aia");
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let expected = ders(certificates_from_aia(&read("chain.pem"), None).unwrap());
        assert_eq!(expected.len(), 2);
        assert_eq!(ders(certificates_from_aia(&read("chain.p7c"), None).unwrap()), expected);
        assert_eq!(ders(certificates_from_aia(&read("chain.p7b"), None).unwrap()), expected);
        assert_eq!(ders(certificates_from_aia(&read("ca.cer"), None).unwrap()), vec![expected[1].clone()]);
    }

    #[test]
    fn garbage_is_an_error() {
        let chain = chain();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        };
        let random: Vec<u8> = (0..4096).map(|_| noise()).collect();
        let mut sequence_of_noise = vec![0x30, 0x82, 0x0f, 0xfc];
        sequence_of_noise.extend(&random[..4092]);
        let nested = [0x30, 0x80].repeat(10_000);
        let mut trailing = chain[0].clone();
        trailing.push(0);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("random", random),
            ("sequence of noise", sequence_of_noise),
            ("deep BER nesting", nested),
            ("html", b"<html><body>Not Found</body></html>".to_vec()),
            ("bad base64", b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".to_vec()),
            ("no end", b"-----BEGIN CERTIFICATE-----\nMIIB\n".to_vec()),
            ("mismatched end", b"-----BEGIN CERTIFICATE-----\nMA==\n-----END PKCS7-----\n".to_vec()),
            ("only a key", b"-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n".to_vec()),
            ("trailing byte", trailing),
            ("not signedData", enveloped(certs_only(&chain, tlv))),
            ("pkcs7 without certificates", certs_only(&[], tlv)),
            ("huge", vec![0x30; MAX_BUNDLE_BYTES + 1]),
        ];
        for (name, body) in cases {
            let reason = certificates_from_aia(&body, Some("text/html")).expect_err(name);
            assert!(reason.ends_with("(served as text/html)"), "{name}: {reason}");
        }
    }

    /// The content type turned from signedData (…7.2) into envelopedData (…7.3).
    fn enveloped(mut content_info: Vec<u8>) -> Vec<u8> {
        let at = content_info.windows(SIGNED_DATA_OID.len()).position(|w| w == SIGNED_DATA_OID).unwrap();
        content_info[at + SIGNED_DATA_OID.len() - 1] = 3;
        content_info
    }

    #[test]
    fn too_many_certificates() {
        let chain = chain();
        let many: Vec<Vec<u8>> = std::iter::repeat_n(chain[1].clone(), MAX_CERTIFICATES + 1).collect();
        let reason = certificates_from_aia(&certs_only(&many, tlv), None).unwrap_err();
        assert!(reason.contains("more than 16 certificates"), "{reason}");
        let text: String = many.iter().map(|c| pem(c)).collect();
        let reason = certificates_from_aia(text.as_bytes(), None).unwrap_err();
        assert!(reason.contains("more than 16 certificates"), "{reason}");
        let exactly: Vec<Vec<u8>> = many[..MAX_CERTIFICATES].to_vec();
        assert_eq!(certificates_from_aia(&certs_only(&exactly, tlv), None).unwrap().len(), MAX_CERTIFICATES);
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        let chain = chain();
        for input in [certs_only(&chain, tlv), certs_only(&chain, indefinite)] {
            for at in 0..input.len() {
                for value in [0x00, 0x80, 0xff, input[at] ^ 0x01] {
                    let mut corrupted = input.clone();
                    corrupted[at] = value;
                    if let Ok(found) = certificates_from_aia(&corrupted, None) {
                        assert!(found.iter().all(|c| x509_parser::parse_x509_certificate(&c.0).is_ok()));
                    }
                }
            }
        }
    }

    #[test]
    fn every_prefix_is_handled() {
        let chain = chain();
        let der_inputs = [chain[0].clone(), certs_only(&chain, tlv), certs_only(&chain, indefinite)];
        for input in &der_inputs {
            for end in 0..input.len() {
                assert!(certificates_from_aia(&input[..end], None).is_err(), "DER prefix of {end} bytes");
            }
        }
        let two: String = chain.iter().map(|c| pem(c)).collect();
        let text_inputs = [two, pem_block("PKCS7", &certs_only(&chain, tlv))];
        for input in &text_inputs {
            for end in 0..input.len() {
                // A prefix may end just after a complete block; whatever comes out must parse.
                if let Ok(found) = certificates_from_aia(&input.as_bytes()[..end], None) {
                    assert!(found.iter().all(|c| x509_parser::parse_x509_certificate(&c.0).is_ok()));
                    assert!(found.len() < chain.len() || end >= input.len() - 1, "prefix {end}");
                }
            }
        }
    }
}
