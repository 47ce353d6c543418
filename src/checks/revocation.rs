//! Revocation checks for 2-1.xii: a revoked certificate is no longer "issued by a
//! trustworthy institution". Sources, judged from the recorded bytes: the OCSP response the
//! server stapled, and with `--revocation` the responder's answer or the CRL.

use serde_json::json;

use super::certificate::each_chain;
use super::chain_review::ChainView;
use super::{CheckContext, CheckResult, CheckStatus};
use crate::chain::PathCertificate;
use crate::evidence::{EndpointEvidence, FetchOutcome, FetchPurpose, UnixSeconds};
use crate::i18n::Text;
use crate::revocation::crl::{judge_crl, CrlStatus};
use crate::revocation::ocsp::{judge_response, CertStatus, OcspReview};
use crate::revocation::Freshness;

/// One source's answer about one certificate.
struct Answer {
    status: CheckStatus,
    message: Text,
    evidence: serde_json::Value,
}

fn answer(status: CheckStatus, en: String, ja: String, evidence: serde_json::Value) -> Answer {
    Answer { status, message: Text::new(en, ja), evidence }
}

/// What a stapled response says; a staple that browsers would reject is a failure of its own.
fn judge_staple(review: &OcspReview) -> Answer {
    let evidence = json!({"source": "stapled_ocsp", "review": review});
    let problems = review.problems.join("; ");
    if !review.signer.is_authorized() {
        return answer(
            CheckStatus::Fail,
            format!("the stapled OCSP response is not signed by the issuer or its responder ({problems})"),
            format!("ステープルされたOCSP応答が発行者またはその応答者によって署名されていない（{problems}）"),
            evidence,
        );
    }
    match (&review.cert_status, review.freshness) {
        (Some(CertStatus::Revoked { revoked_at, reason }), _) => revoked(*revoked_at, reason_name(reason), evidence),
        (_, Freshness::Stale) | (_, Freshness::NotYetValid) => answer(
            CheckStatus::Fail,
            "the stapled OCSP response is outside its validity window; browsers reject it".into(),
            "ステープルされたOCSP応答が有効期間外で、ブラウザーに拒否される".into(),
            evidence,
        ),
        (Some(CertStatus::Good), _) if review.is_trustworthy() => answer(
            CheckStatus::Pass,
            "stapled OCSP response: good".into(),
            "ステープルされたOCSP応答: 失効していない（good）".into(),
            evidence,
        ),
        (Some(CertStatus::Unknown), _) => answer(
            CheckStatus::Warn,
            "the stapled OCSP response says the certificate is unknown to the responder".into(),
            "ステープルされたOCSP応答で証明書が不明（unknown）とされている".into(),
            evidence,
        ),
        _ => answer(
            CheckStatus::Warn,
            format!("the stapled OCSP response gives no usable status ({problems})"),
            format!("ステープルされたOCSP応答から有効な状態が得られない（{problems}）"),
            evidence,
        ),
    }
}

fn reason_name(reason: &Option<crate::revocation::RevocationReason>) -> String {
    reason.map(|r| r.rfc_name().to_string()).unwrap_or_else(|| "no reason given".to_string())
}

fn revoked(at: i64, reason: String, evidence: serde_json::Value) -> Answer {
    let when = crate::certificate::format_time(at);
    answer(
        CheckStatus::Fail,
        format!("REVOKED on {when} ({reason})"),
        format!("失効している（{when}、理由: {reason}）"),
        evidence,
    )
}

/// What the queried responder or CRL said, from the recorded fetches for `cert`.
fn judge_queries(endpoint: &EndpointEvidence, cert: &PathCertificate, issuer: &PathCertificate) -> Vec<Answer> {
    let at: UnixSeconds = endpoint.probed_at;
    endpoint
        .fetches
        .iter()
        .filter(|f| f.purpose != FetchPurpose::CaIssuers && f.certificate_sha256 == cert.facts.sha256_fingerprint)
        .map(|fetch| {
            let source = match fetch.purpose {
                FetchPurpose::Ocsp => "OCSP",
                _ => "CRL",
            };
            let body = match &fetch.outcome {
                FetchOutcome::Response { status: 200, body, .. } => body,
                FetchOutcome::Response { status, .. } => {
                    return answer(
                        CheckStatus::Indeterminate,
                        format!("{source} {} answered HTTP {status}", fetch.url),
                        format!("{source} {} がHTTP {status}を返した", fetch.url),
                        json!({"url": fetch.url, "http_status": status}),
                    );
                }
                FetchOutcome::Failed { reason } => {
                    return answer(
                        CheckStatus::Indeterminate,
                        format!("{source} {} unreachable: {reason}", fetch.url),
                        format!("{source} {} に到達できない: {reason}", fetch.url),
                        json!({"url": fetch.url, "failed": reason}),
                    );
                }
            };
            if fetch.purpose == FetchPurpose::Ocsp {
                let review = judge_response(&body.0, &cert.der.0, Some(&issuer.der.0), at);
                let evidence = json!({"source": "ocsp", "url": fetch.url, "review": review});
                match (&review.cert_status, review.is_trustworthy()) {
                    (Some(CertStatus::Revoked { revoked_at, reason }), _) if review.signer.is_authorized() => {
                        revoked(*revoked_at, reason_name(reason), evidence)
                    }
                    (Some(CertStatus::Good), true) => answer(
                        CheckStatus::Pass,
                        format!("OCSP {}: good", fetch.url),
                        format!("OCSP {}: 失効していない（good）", fetch.url),
                        evidence,
                    ),
                    (Some(CertStatus::Unknown), true) => answer(
                        CheckStatus::Warn,
                        format!("OCSP {}: the responder does not know the certificate", fetch.url),
                        format!("OCSP {}: 応答者が証明書を把握していない（unknown）", fetch.url),
                        evidence,
                    ),
                    _ => answer(
                        CheckStatus::Indeterminate,
                        format!("OCSP {}: no trustworthy answer ({})", fetch.url, review.problems.join("; ")),
                        format!("OCSP {}: 信頼できる応答がない（{}）", fetch.url, review.problems.join("; ")),
                        evidence,
                    ),
                }
            } else {
                let review = judge_crl(&body.0, &cert.der.0, Some(&issuer.der.0), at);
                let evidence = json!({"source": "crl", "url": fetch.url, "review": review});
                match (&review.status, review.is_trustworthy()) {
                    (Some(CrlStatus::Revoked { revoked_at, reason }), true) => {
                        revoked(*revoked_at, reason_name(reason), evidence)
                    }
                    (Some(CrlStatus::NotListed), true) => answer(
                        CheckStatus::Pass,
                        format!("CRL {}: not listed", fetch.url),
                        format!("CRL {}: 失効リストに記載なし", fetch.url),
                        evidence,
                    ),
                    _ => answer(
                        CheckStatus::Indeterminate,
                        format!("CRL {}: no trustworthy answer ({})", fetch.url, review.problems.join("; ")),
                        format!("CRL {}: 信頼できる応答がない（{}）", fetch.url, review.problems.join("; ")),
                        evidence,
                    ),
                }
            }
        })
        .collect()
}

/// Combines a certificate's answers: a trustworthy "revoked" or "good" decides; an
/// unreachable source leaves it open only when nothing else answered.
fn combine(mut answers: Vec<Answer>) -> Option<Answer> {
    let decisive = |a: &Answer| matches!(a.status, CheckStatus::Fail | CheckStatus::Pass | CheckStatus::Warn);
    answers.sort_by_key(|a| std::cmp::Reverse((decisive(a), a.status)));
    answers.into_iter().next()
}

/// Why the leaf has no answer: not asked, nothing to ask, or its issuer missing.
fn unanswered_leaf(leaf: &PathCertificate, context: &CheckContext<'_>) -> Answer {
    let no_pointer = leaf.facts.ocsp_responders.is_empty() && leaf.facts.crl_urls.is_empty();
    match (context.revocation, no_pointer) {
        (true, true) => answer(
            CheckStatus::Info,
            "the certificate names no OCSP responder or CRL: revocation cannot be checked (usual for private CAs)"
                .into(),
            "証明書にOCSP応答者もCRLもなく失効を確認できない（私的CAでは一般的）".into(),
            json!(null),
        ),
        (true, false) => answer(
            CheckStatus::Indeterminate,
            "revocation could not be asked: the issuer certificate is not on the path".into(),
            "発行者の証明書がパス上にないため失効を問い合わせられない".into(),
            json!(null),
        ),
        (false, _) => answer(
            CheckStatus::NotRun,
            "no OCSP response stapled; responders not asked (use --revocation)".into(),
            "OCSP応答のステープルなし。失効の問い合わせは未実施（--revocationで実施）".into(),
            json!(null),
        ),
    }
}

pub(super) fn revocation(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, |view| revocation_chain(endpoint, view, context))
}

fn revocation_chain(endpoint: &EndpointEvidence, view: &ChainView<'_>, context: &CheckContext<'_>) -> CheckResult {
    let path = &view.analysis.path;
    let Some(leaf) = path.first() else {
        return CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new("the server certificate cannot be read", "サーバー証明書を解析できない"),
            json!(null),
        );
    };
    let mut per_certificate = Vec::new();
    for (index, pair) in path.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let mut answers = judge_queries(endpoint, cert, issuer);
        if index == 0 {
            if let Some(staple) = view.chain.ocsp_response {
                answers.push(judge_staple(&judge_response(
                    staple,
                    &cert.der.0,
                    Some(&issuer.der.0),
                    endpoint.probed_at,
                )));
            }
        }
        if let Some(answer) = combine(answers) {
            per_certificate.push((index, cert.facts.subject.clone(), answer));
        }
    }
    // A leaf nobody answered about is never covered by its issuers' answers: why it was
    // not checked is a result of its own.
    if !per_certificate.iter().any(|(index, _, _)| *index == 0) {
        per_certificate.insert(0, (0, leaf.facts.subject.clone(), unanswered_leaf(leaf, context)));
    }
    let evidence = json!(per_certificate
        .iter()
        .map(|(index, subject, a)| json!({"index": index, "subject": subject, "status": a.status, "evidence": a.evidence}))
        .collect::<Vec<_>>());
    let worst = per_certificate.iter().map(|(_, _, a)| a.status).max().unwrap_or(CheckStatus::Indeterminate);
    let listed: Vec<&(usize, String, Answer)> = per_certificate.iter().filter(|(_, _, a)| a.status == worst).collect();
    let en: Vec<String> = listed.iter().map(|(i, s, a)| format!("#{i} {s}: {}", a.message.en)).collect();
    let ja: Vec<String> = listed.iter().map(|(i, s, a)| format!("#{i} {s}: {}", a.message.ja)).collect();
    CheckResult::new(worst, Text::new(en.join("; "), ja.join("、")), evidence)
}

pub(super) fn must_staple(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, |view| {
        let Some(leaf) = view.leaf() else {
            return CheckResult::new(
                CheckStatus::Indeterminate,
                Text::new("the server certificate cannot be read", "サーバー証明書を解析できない"),
                json!(null),
            );
        };
        let evidence = json!({
            "must_staple": leaf.facts.must_staple,
            "status_requested": view.chain.status_requested,
            "stapled": view.chain.ocsp_response.is_some(),
        });
        match (leaf.facts.must_staple, view.chain.ocsp_response.is_some(), view.chain.status_requested) {
            (false, _, _) => CheckResult::new(
                CheckStatus::Pass,
                Text::new("the certificate does not require stapling", "証明書はOCSPステープリングを必須としていない"),
                evidence,
            ),
            (true, true, _) => CheckResult::new(
                CheckStatus::Pass,
                Text::new(
                    "must-staple certificate, and the server staples",
                    "must-staple証明書で、サーバーがステープルしている",
                ),
                evidence,
            ),
            (true, false, true) => CheckResult::new(
                CheckStatus::Fail,
                Text::new(
                    "the certificate requires OCSP stapling (must-staple) but the server sent no OCSP response: \
                     browsers that honour must-staple refuse the connection",
                    "証明書はOCSPステープリング必須（must-staple）だが、サーバーがOCSP応答を送らない: \
                     must-stapleを守るブラウザーは接続を拒否する",
                ),
                evidence,
            ),
            (true, false, false) => CheckResult::new(
                CheckStatus::Indeterminate,
                Text::new(
                    "must-staple certificate seen only in a handshake that did not ask for stapling",
                    "must-staple証明書だが、ステープリングを要求しないハンドシェイクでのみ取得した",
                ),
                evidence,
            ),
        }
    })
}
