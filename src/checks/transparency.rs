//! Certificate Transparency for 2-1.xii: a publicly trusted certificate that browsers will
//! accept carries signed certificate timestamps (SCTs) from at least two CT logs — embedded
//! in the certificate, sent in the TLS extension, or inside a stapled OCSP response.
//! Log IDs are named from the bundled, dated log list (`probes/ct-log-list.json`).

use serde_json::json;

use super::certificate::each_chain;
use super::chain_review::ChainView;
use super::{CheckContext, CheckResult, CheckStatus};
use crate::ct::{embedded_scts, observe, ocsp_scts, parse_sct_list, summarize, SctSource};
use crate::evidence::EndpointEvidence;
use crate::i18n::Text;

/// Fewer SCTs than this from distinct logs is a warning (Chrome and Apple require two or more).
pub const MIN_DISTINCT_LOGS: usize = 2;

pub(super) fn transparency(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    each_chain(endpoint, context, transparency_chain)
}

fn transparency_chain(view: &ChainView<'_>) -> CheckResult {
    let Some(leaf) = view.leaf() else {
        return CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new("the server certificate cannot be read", "サーバー証明書を解析できない"),
            json!(null),
        );
    };
    let mut observed = Vec::new();
    let mut problems = Vec::new();
    let mut take = |source: SctSource, parsed: Result<Vec<crate::ct::Sct>, String>| match parsed {
        Ok(scts) => observed.extend(observe(source, scts)),
        Err(e) => problems.push(format!("{source:?}: {e}")),
    };
    take(SctSource::Embedded, embedded_scts(&leaf.der.0));
    if let Some(list) = view.chain.sct_list {
        take(SctSource::TlsExtension, parse_sct_list(list));
    }
    if let Some(staple) = view.chain.ocsp_response {
        take(SctSource::Ocsp, ocsp_scts(staple));
    }
    let summary = summarize(&observed);
    let list = crate::ct::log_list();
    let evidence = json!({
        "summary": summary,
        "scts": observed,
        "problems": problems,
        "tls_extension_asked": view.chain.scts_requested,
        "log_list": {"snapshot_date": list.snapshot_date, "version": list.source.version},
    });
    let publicly_trusted = view.trust.trusted_by().iter().any(|s| s.is_public());
    let operators = summary.operators.join(", ");
    let unknown = if summary.unknown_log_ids.is_empty() {
        String::new()
    } else {
        format!("; {} from logs not in the list of {}", summary.unknown_log_ids.len(), list.snapshot_date)
    };
    if !publicly_trusted {
        return CheckResult::new(
            CheckStatus::Info,
            Text::new(
                format!("{} SCT(s); CT is not expected of a chain no public root program trusts", summary.count),
                format!("SCT {}件。公的ルートで信頼されないチェーンにCTは求められない", summary.count),
            ),
            evidence,
        );
    }
    if summary.distinct_logs >= MIN_DISTINCT_LOGS {
        return CheckResult::new(
            CheckStatus::Pass,
            Text::new(
                format!("{} SCTs from {} logs ({operators}){unknown}", summary.count, summary.distinct_logs),
                format!("{}件のSCT（{}ログ、運営者: {operators}）{unknown}", summary.count, summary.distinct_logs),
            ),
            evidence,
        );
    }
    let not_asked = if view.chain.scts_requested {
        ""
    } else {
        " (the TLS extension was not asked for in this capture; run in full mode to see it)"
    };
    CheckResult::new(
        CheckStatus::Warn,
        Text::new(
            format!(
                "only {} SCT(s) from {} log(s){unknown}: browsers require SCTs from at least two logs{not_asked}",
                summary.count, summary.distinct_logs
            ),
            format!(
                "SCTは{}件（{}ログ）のみ{unknown}: ブラウザーは2つ以上のログのSCTを要求する",
                summary.count, summary.distinct_logs
            ),
        ),
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::analyse;
    use crate::checks::chain_review::review_path;
    use crate::evidence::{CertDer, KeyPossession, ServedChain, TlsVersion};
    use crate::trust::{ChainTrust, StoreJudgement, TrustStore, TrustVerdict, MOZILLA_ONLY};

    /// A TLS-encoded SCT list with one SCT per log ID.
    fn sct_list(log_ids: &[[u8; 32]]) -> Vec<u8> {
        let mut body = Vec::new();
        for id in log_ids {
            let mut sct = vec![0u8];
            sct.extend_from_slice(id);
            sct.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
            sct.extend_from_slice(&[0, 0, 4, 3, 0, 2, 0xaa, 0xbb]);
            body.extend_from_slice(&(sct.len() as u16).to_be_bytes());
            body.extend(sct);
        }
        let mut list = (body.len() as u16).to_be_bytes().to_vec();
        list.extend(body);
        list
    }

    fn leaf_with_scts(log_ids: &[[u8; 32]]) -> CertDer {
        let mut params = rcgen::CertificateParams::new(vec!["ct.example".to_string()]).expect("params");
        let list = sct_list(log_ids);
        let octets = crate::certificate::der_tlv(0x04, &list);
        params.custom_extensions =
            vec![rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2], octets)];
        let key = rcgen::KeyPair::generate().expect("key");
        CertDer(params.self_signed(&key).expect("certificate").der().to_vec())
    }

    fn judge(leaf: &CertDer, public: bool) -> CheckResult {
        let certificates = std::slice::from_ref(leaf);
        let chain = ServedChain {
            version: TlsVersion::Tls13,
            variant: None,
            certificates,
            possession: KeyPossession::Proven,
            status_requested: true,
            ocsp_response: None,
            scts_requested: false,
            sct_list: None,
        };
        let analysis = analyse(certificates, &[], &MOZILLA_ONLY);
        let store = StoreJudgement { store: TrustStore::Mozilla, trusted: public, reason: None, detail: None };
        let verdict = if public {
            TrustVerdict::Trusted { store: TrustStore::Mozilla }
        } else {
            TrustVerdict::NotTrusted { reason: crate::trust::TrustFailure::UnknownIssuer, detail: String::new() }
        };
        let reviews = review_path(&analysis.path, 1_800_000_000, Default::default());
        transparency_chain(&ChainView { chain, analysis, trust: ChainTrust { verdict, stores: vec![store] }, reviews })
    }

    fn known_logs(count: usize) -> Vec<[u8; 32]> {
        crate::ct::log_list()
            .logs
            .iter()
            .take(count)
            .map(|log| crate::ct::decode_log_id(&log.log_id).expect("bundled log id"))
            .collect()
    }

    #[test]
    fn two_logs_pass_one_log_warns_private_chains_are_information() {
        let two = judge(&leaf_with_scts(&known_logs(2)), true);
        assert_eq!(two.status, CheckStatus::Pass, "{:?}", two.message);
        let one = judge(&leaf_with_scts(&known_logs(1)), true);
        assert_eq!(one.status, CheckStatus::Warn, "{:?}", one.message);
        assert!(one.message.en.contains("not asked"), "{}", one.message.en);
        let unknown = judge(&leaf_with_scts(&[[7u8; 32], [8u8; 32]]), true);
        assert_eq!(unknown.status, CheckStatus::Pass);
        assert!(unknown.message.en.contains("not in the list"), "{}", unknown.message.en);
        let none = judge(&leaf_with_scts(&[]), true);
        assert_eq!(none.status, CheckStatus::Warn, "an empty embedded list is no SCT: {:?}", none.message);
        let private = judge(&leaf_with_scts(&known_logs(1)), false);
        assert_eq!(private.status, CheckStatus::Info);
    }
}
