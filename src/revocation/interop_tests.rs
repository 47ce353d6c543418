//! Cross-checks with Debian's `openssl` CLI: it must read what we write, and we must read
//! what it writes. Each test passes silently when `openssl` is not installed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;

use super::crl::{judge_crl, CrlStatus};
use super::ocsp::tests::{issue, pki, Pki, NOW};
use super::ocsp::{build_request, judge_response, CertStatus, OcspSigner};
use super::respond::{build_crl, CrlEntry, OcspResponder, ResponderStatus};
use super::{certificate_serial, RevocationReason, SignatureCheck};
use crate::testkit::{pem_encode, TempDir};

/// Runs `openssl args`, returning (success, stdout + stderr), or `None` when openssl is
/// missing. Killed after 30 seconds.
fn openssl(args: &[&str], dir: &Path) -> Option<(bool, String)> {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let started = Instant::now();
    while child.try_wait().ok()?.is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("openssl {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().ok()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Some((output.status.success(), text))
}

fn openssl_missing() -> bool {
    Command::new("openssl").arg("version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err()
}

fn pem(der: &[u8]) -> String {
    pem_encode(&CertificateDer::from(der.to_vec()))
}

fn write_pki(dir: &TempDir, pki: &Pki) {
    dir.write("ca.pem", pem(&pki.ca_der)).expect("write");
    dir.write("leaf.pem", pem(&pki.leaf_der)).expect("write");
    dir.write("ca.key", pki.ca_key.serialize_pem()).expect("write");
}

#[test]
fn openssl_reads_our_request() {
    if openssl_missing() {
        return;
    }
    let pki = pki();
    let dir = TempDir::new("ocsp-request").expect("temp dir");
    dir.write("req.der", build_request(&pki.leaf_der, &pki.ca_der).expect("request")).expect("write");
    let (ok, text) = openssl(&["ocsp", "-reqin", "req.der", "-req_text"], dir.path()).expect("openssl");
    assert!(ok, "{text}");
    assert!(text.contains("Hash Algorithm: sha1"), "{text}");
    assert!(text.contains("Serial Number: 1234"), "{text}");
    assert!(!text.contains("Nonce"), "{text}");
}

#[test]
fn openssl_verifies_our_responses() {
    if openssl_missing() {
        return;
    }
    let pki = pki();
    let dir = TempDir::new("ocsp-response").expect("temp dir");
    write_pki(&dir, &pki);
    let now = crate::evidence::now_unix() as i64;
    let responder = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key).expect("responder");
    let statuses = [
        (ResponderStatus::Good, "leaf.pem: good"),
        (
            ResponderStatus::Revoked { revoked_at: now - 60, reason: Some(RevocationReason::KeyCompromise) },
            "Reason: keyCompromise",
        ),
        (ResponderStatus::Unknown, "leaf.pem: unknown"),
    ];
    for (status, expected) in statuses {
        let response =
            responder.respond(&pki.leaf_der, status, now - 60, Some(now + 3600), Some(b"\x00\x00")).expect("response");
        dir.write("resp.der", &response).expect("write");
        let (ok, text) =
            openssl(&["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"], dir.path()).expect("openssl");
        assert!(ok, "{text}");
        assert!(text.contains("Response Status: successful (0x0)"), "{text}");
        assert!(text.contains("CT Certificate SCTs") || text.contains("1.3.6.1.4.1.11129.2.4.5"), "{text}");
        let verify = ["ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-cert", "leaf.pem", "-CAfile", "ca.pem"];
        let (ok, text) = openssl(&verify, dir.path()).expect("openssl");
        assert!(ok, "{text}");
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn openssl_verifies_a_delegated_response() {
    if openssl_missing() {
        return;
    }
    let pki = pki();
    let dir = TempDir::new("ocsp-delegated").expect("temp dir");
    write_pki(&dir, &pki);
    let responder_key = rcgen::KeyPair::generate().expect("key");
    let responder_der = {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "kensa OCSP responder");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::OcspSigning];
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(30);
        let issuer = rcgen::Issuer::from_params(&pki.ca_params, &pki.ca_key);
        params.signed_by(&responder_key, &issuer).expect("responder certificate").der().to_vec()
    };
    let now = crate::evidence::now_unix() as i64;
    let response = OcspResponder::delegated(pki.ca_der.clone(), responder_der, &responder_key)
        .expect("responder")
        .respond(&pki.leaf_der, ResponderStatus::Good, now - 60, Some(now + 3600), None)
        .expect("response");
    dir.write("resp.der", &response).expect("write");
    let verify = ["ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-cert", "leaf.pem", "-CAfile", "ca.pem"];
    let (ok, text) = openssl(&verify, dir.path()).expect("openssl");
    assert!(ok && text.contains("Response verify OK") && text.contains("leaf.pem: good"), "{text}");
    let review = judge_response(&response, &pki.leaf_der, Some(&pki.ca_der), now as u64);
    assert!(matches!(review.signer, OcspSigner::Delegate { .. }) && review.is_trustworthy(), "{review:?}");
}

#[test]
fn we_judge_openssl_responses() {
    if openssl_missing() {
        return;
    }
    let pki = pki();
    let revoked_leaf = issue(&pki.ca_params, &pki.ca_key, "revoked.example", &[], 0xabcd);
    let dir = TempDir::new("ocsp-openssl-responder").expect("temp dir");
    write_pki(&dir, &pki);
    // openssl's CA database: V(alid) and R(evoked) entries, serial in hex.
    let index = "V\t351231235959Z\t\t1234\tunknown\t/CN=leaf.example\n\
                 R\t351231235959Z\t240101000000Z,keyCompromise\tABCD\tunknown\t/CN=revoked.example\n";
    dir.write("index.txt", index).expect("write");
    let now = crate::evidence::now_unix();
    for (cert, expected) in [
        (&pki.leaf_der, CertStatus::Good),
        (
            &revoked_leaf,
            CertStatus::Revoked { revoked_at: 1_704_067_200, reason: Some(RevocationReason::KeyCompromise) },
        ),
        (&pki.other_leaf_der, CertStatus::Unknown),
    ] {
        dir.write("req.der", build_request(cert, &pki.ca_der).expect("request")).expect("write");
        let args = [
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "ca.pem",
            "-rsigner",
            "ca.pem",
            "-rkey",
            "ca.key",
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-nmin",
            "60",
        ];
        let (ok, text) = openssl(&args, dir.path()).expect("openssl");
        assert!(ok, "{text}");
        let response = std::fs::read(dir.path().join("resp.der")).expect("response");
        let review = judge_response(&response, cert, Some(&pki.ca_der), now);
        assert_eq!(review.cert_status, Some(expected), "{review:?}");
        assert_eq!(review.signer, OcspSigner::Issuer);
        assert!(review.is_trustworthy(), "{:?}", review.problems);
    }
}

#[test]
fn we_answer_openssl_requests() {
    if openssl_missing() {
        return;
    }
    let pki = pki();
    let dir = TempDir::new("ocsp-openssl-request").expect("temp dir");
    write_pki(&dir, &pki);
    // openssl adds a nonce by default; the answer must echo it for openssl to accept it.
    let args = ["ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-reqout", "req.der"];
    let (ok, text) = openssl(&args, dir.path()).expect("openssl");
    assert!(ok, "{text}");
    let request = std::fs::read(dir.path().join("req.der")).expect("request");
    let responder = OcspResponder::new(pki.ca_der.clone(), &pki.ca_key).expect("responder");
    let now = crate::evidence::now_unix() as i64;
    let response = responder.answer(&request, &|_| ResponderStatus::Good, now);
    dir.write("resp.der", &response).expect("write");
    // With -cert, openssl would make a fresh request (and nonce) instead of using -reqin.
    let verify =
        ["ocsp", "-reqin", "req.der", "-respin", "resp.der", "-CAfile", "ca.pem", "-VAfile", "ca.pem", "-resp_text"];
    let (ok, text) = openssl(&verify, dir.path()).expect("openssl");
    assert!(ok && text.contains("Response verify OK") && text.contains("Cert Status: good"), "{text}");
    assert!(text.contains("OCSP Nonce"), "{text}");
    assert!(!text.contains("WARNING: no nonce"), "{text}");
}

#[test]
fn openssl_verifies_our_crl_and_we_judge_its_crl() {
    if openssl_missing() {
        return;
    }
    let pki = pki();
    let dir = TempDir::new("crl").expect("temp dir");
    write_pki(&dir, &pki);
    let serial = certificate_serial(&pki.leaf_der).expect("serial");
    let entry = CrlEntry { serial, revoked_at: NOW - 60, reason: Some(RevocationReason::CessationOfOperation) };
    dir.write("crl.der", build_crl(&pki.ca_params, &pki.ca_key, &[entry], NOW - 60, NOW + 3600).expect("CRL"))
        .expect("write");
    let args = ["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text"];
    let (ok, text) = openssl(&args, dir.path()).expect("openssl");
    assert!(ok && text.contains("verify OK") && text.contains("Serial Number: 1234"), "{text}");
    assert!(text.contains("Cessation Of Operation"), "{text}");

    // Now the other way: openssl signs a CRL from its CA database.
    let index = "R\t351231235959Z\t240101000000Z,superseded\t1234\tunknown\t/CN=leaf.example\n";
    dir.write("index.txt", index).expect("write");
    dir.write("crlnumber", "01\n").expect("write");
    let config = "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
                  default_md = sha256\ndefault_crl_days = 7\n";
    dir.write("ca.cnf", config).expect("write");
    let args = ["ca", "-config", "ca.cnf", "-gencrl", "-cert", "ca.pem", "-keyfile", "ca.key", "-out", "crl.pem"];
    let (ok, text) = openssl(&args, dir.path()).expect("openssl");
    assert!(ok, "{text}");
    let args = ["crl", "-in", "crl.pem", "-outform", "DER", "-out", "openssl-crl.der"];
    let (ok, text) = openssl(&args, dir.path()).expect("openssl");
    assert!(ok, "{text}");
    let crl = std::fs::read(dir.path().join("openssl-crl.der")).expect("CRL");
    let review = judge_crl(&crl, &pki.leaf_der, Some(&pki.ca_der), crate::evidence::now_unix());
    assert_eq!(
        review.status,
        Some(CrlStatus::Revoked { revoked_at: 1_704_067_200, reason: Some(RevocationReason::Superseded) })
    );
    assert_eq!(review.signature, SignatureCheck::Valid);
    assert!(review.is_trustworthy(), "{:?}", review.problems);
}
