//! Checks: pure functions of evidence. No I/O, no clock: certificates and registrations
//! are judged at the time recorded in the evidence, so a check run today on last year's
//! evidence gives last year's answer.
//!
//! A check judges one subject: a probed endpoint, a registrable domain of the domain
//! survey, or a target host name ([`CheckRun`]). Each has a stable ID that profiles refer
//! to (`probes/*.toml`). Adding a check means adding a [`CheckDef`] to [`REGISTRY`] and
//! naming it in a profile.

mod caa;
mod certificate;
pub mod chain_review;
mod domain;
mod drift;
mod http;
mod protocol;
mod revocation;
mod suites;
mod transparency;

pub use caa::{CaaIdentifiers, CaaPermission};
pub use domain::{DomainExpiryThresholds, TakeoverFingerprints};
pub use http::{cookie_flags, parse_hsts, CookieFlags, Hsts, HSTS_MIN_MAX_AGE};

pub use suites::{DHE_FAIL_BELOW_BITS, DHE_WARN_BELOW_BITS};

pub use protocol::{support as protocol_support, Support};

use serde::{Deserialize, Serialize};

use crate::drift::Snapshot;
use crate::evidence::domain::{DomainEvidence, DomainRole, DomainSurvey, HostDnsEvidence};
use crate::evidence::{EndpointEvidence, ScanEvidence, ScanMode};
use crate::i18n::Text;
use crate::trust::{TrustStores, MOZILLA_ONLY};

/// The result of one check on one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    /// Not run by choice: the scan's mode does not gather what the check needs (minimal
    /// mode and suite checks). Says nothing either way; an item whose checks were all not
    /// run is 判定不能.
    #[serde(rename = "not_run")]
    NotRun,
    Info,
    Warn,
    /// The check could not run or its evidence is incomplete. Never counts as a pass.
    Indeterminate,
    Fail,
}

impl CheckStatus {
    /// Lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::NotRun => "not_run",
            CheckStatus::Info => "info",
            CheckStatus::Warn => "warn",
            CheckStatus::Indeterminate => "indeterminate",
            CheckStatus::Fail => "fail",
        }
    }
}

/// What a check concluded and from what.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    pub status: CheckStatus,
    pub message: Text,
    /// The pieces of evidence the verdict rests on.
    pub evidence: serde_json::Value,
}

impl CheckResult {
    pub(crate) fn new(status: CheckStatus, message: Text, evidence: serde_json::Value) -> Self {
        CheckResult { status, message, evidence }
    }
}

/// Run-wide inputs a check may need besides the endpoint's own evidence.
#[derive(Clone, Copy)]
pub struct CheckContext<'a> {
    /// Mozilla's roots, plus the OS store and `--ca-file` roots recorded in the evidence.
    pub stores: &'a TrustStores,
    /// The mode the evidence was gathered in.
    pub mode: ScanMode,
    /// Outbound fetches (AIA) were allowed during the scan.
    pub fetch: bool,
    /// Revocation was queried during the scan (`--revocation`).
    pub revocation: bool,
    /// When a certificate's approaching expiry becomes a warning, then a failure.
    pub expiry: ExpiryThresholds,
    /// When a domain's approaching expiry becomes a warning, then a failure.
    pub domain_expiry: DomainExpiryThresholds,
    /// The domain survey, when it ran.
    pub survey: Option<&'a DomainSurvey>,
    /// What the `--baseline` scan showed, when one was given.
    pub baseline: Option<&'a Snapshot>,
    /// HTTP posture was probed on at least one endpoint (not `--no-http`).
    pub http: bool,
}

impl Default for CheckContext<'_> {
    fn default() -> Self {
        CheckContext {
            stores: &MOZILLA_ONLY,
            mode: ScanMode::default(),
            fetch: false,
            revocation: false,
            expiry: ExpiryThresholds::default(),
            domain_expiry: DomainExpiryThresholds::default(),
            survey: None,
            baseline: None,
            http: false,
        }
    }
}

impl std::fmt::Debug for CheckContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckContext")
            .field("mode", &self.mode)
            .field("fetch", &self.fetch)
            .field("revocation", &self.revocation)
            .field("expiry", &self.expiry)
            .field("domain_expiry", &self.domain_expiry)
            .field("survey", &self.survey.is_some())
            .field("baseline", &self.baseline.is_some())
            .field("http", &self.http)
            .finish()
    }
}

/// Days before a certificate's expiry from which kensa warns, and from which it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryThresholds {
    pub warn_days: i64,
    pub fail_days: i64,
}

impl Default for ExpiryThresholds {
    /// Warn 30 days ahead (two renewal attempts of a 90-day certificate), fail at 7.
    fn default() -> Self {
        ExpiryThresholds { warn_days: 30, fail_days: 7 }
    }
}

/// What a check judges, and the function that judges it.
#[derive(Clone, Copy)]
pub enum CheckRun {
    /// Each probed endpoint.
    Endpoint(fn(&EndpointEvidence, &CheckContext<'_>) -> CheckResult),
    /// Each registrable domain a target host lives under (not those only CNAMEs lead to).
    Domain(fn(&DomainEvidence, &CheckContext<'_>) -> CheckResult),
    /// Each target host name the domain survey looked at.
    Host(fn(&HostDnsEvidence, &CheckContext<'_>) -> CheckResult),
}

/// What must be in the evidence for a check to say anything at all. Without it the check
/// gives no finding (rather than a "not run" per subject): a scan without `--baseline`
/// has no drift to report, and one with `--no-domain` has no domain to judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requires {
    Nothing,
    /// The domain survey ran.
    Survey,
    /// A baseline was given (`--baseline`).
    Baseline,
    /// HTTP posture was probed (not `--no-http`) on some endpoint that serves pages or
    /// WebSocket.
    HttpPosture,
}

impl Requires {
    /// Whether the evidence behind `context` has what the check needs.
    pub fn met(self, context: &CheckContext<'_>) -> bool {
        match self {
            Requires::Nothing => true,
            Requires::Survey => context.survey.is_some(),
            Requires::Baseline => context.baseline.is_some(),
            Requires::HttpPosture => context.http,
        }
    }
}

/// A registered check.
pub struct CheckDef {
    pub id: &'static str,
    pub title_en: &'static str,
    pub title_ja: &'static str,
    pub run: CheckRun,
    pub requires: Requires,
}

impl std::fmt::Debug for CheckDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckDef").field("id", &self.id).finish()
    }
}

/// Every check kensa knows, in report order.
pub static REGISTRY: &[CheckDef] = &[
    CheckDef {
        id: "tls.no-sslv2",
        title_en: "SSLv2 refused",
        title_ja: "SSLv2を受け付けない",
        run: CheckRun::Endpoint(protocol::no_sslv2),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "tls.no-sslv3",
        title_en: "SSLv3 refused",
        title_ja: "SSLv3を受け付けない",
        run: CheckRun::Endpoint(protocol::no_sslv3),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "tls.no-tls10",
        title_en: "TLS 1.0 refused",
        title_ja: "TLS 1.0を受け付けない",
        run: CheckRun::Endpoint(protocol::no_tls10),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "tls.no-tls11",
        title_en: "TLS 1.1 refused",
        title_ja: "TLS 1.1を受け付けない",
        run: CheckRun::Endpoint(protocol::no_tls11),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "tls.tls12-or-13",
        title_en: "TLS 1.2 or TLS 1.3 accepted",
        title_ja: "TLS 1.2またはTLS 1.3で接続できる",
        run: CheckRun::Endpoint(protocol::tls12_or_13),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "tls.tls13",
        title_en: "TLS 1.3 offered (advisory)",
        title_ja: "TLS 1.3に対応（参考）",
        run: CheckRun::Endpoint(protocol::tls13),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-null",
        title_en: "No NULL-encryption suites",
        title_ja: "暗号化なし（NULL）のスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_null),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-anonymous",
        title_en: "No anonymous suites",
        title_ja: "認証なし（anonymous）のスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_anonymous),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-export",
        title_en: "No EXPORT suites",
        title_ja: "輸出グレード（EXPORT）のスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_export),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-rc4",
        title_en: "No RC4 suites",
        title_ja: "RC4のスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_rc4),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-weak-cipher",
        title_en: "No single-DES, RC2 or IDEA suites",
        title_ja: "DES・RC2・IDEAのスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_weak_cipher),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "kex.dhe-strength",
        title_en: "DHE primes of 2048 bits or more",
        title_ja: "DHEの素数が2048ビット以上",
        run: CheckRun::Endpoint(suites::dhe_strength),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-3des",
        title_en: "No 3DES suites",
        title_ja: "3DESのスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_3des),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-static-rsa",
        title_en: "No static-RSA key exchange",
        title_ja: "静的RSA鍵交換のスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_static_rsa),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.no-cbc",
        title_en: "No CBC-mode suites",
        title_ja: "CBCモードのスイートを受け付けない",
        run: CheckRun::Endpoint(suites::no_cbc),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.forward-secrecy",
        title_en: "Forward secrecy with every suite",
        title_ja: "すべてのスイートで前方秘匿性がある",
        run: CheckRun::Endpoint(suites::forward_secrecy),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "suites.aead-only",
        title_en: "AEAD encryption with every suite",
        title_ja: "すべてのスイートがAEAD暗号",
        run: CheckRun::Endpoint(suites::aead_only),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.trusted",
        title_en: "Certificate chain trusted",
        title_ja: "証明書チェーンが信頼できる",
        run: CheckRun::Endpoint(certificate::trusted),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.chain-complete",
        title_en: "Chain complete as served",
        title_ja: "提示された証明書チェーンが完全",
        run: CheckRun::Endpoint(certificate::chain_complete),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.chain-order",
        title_en: "Chain in order, without duplicates or extras",
        title_ja: "証明書チェーンの順序が正しく、重複や余分がない",
        run: CheckRun::Endpoint(certificate::chain_order),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.hostname",
        title_en: "Certificate matches the host name",
        title_ja: "証明書がホスト名と一致",
        run: CheckRun::Endpoint(certificate::hostname),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.validity",
        title_en: "Every certificate in the path valid, and not about to expire",
        title_ja: "パス内の証明書が有効期間内で、期限が迫っていない",
        run: CheckRun::Endpoint(certificate::validity),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.lifetime",
        title_en: "Certificate lifetime at most 398 days",
        title_ja: "証明書の有効期間が398日以内",
        run: CheckRun::Endpoint(certificate::lifetime),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.key-strength",
        title_en: "Keys strong enough in the whole path (RSA ≥ 2048, EC ≥ 256)",
        title_ja: "パス内の鍵長が十分（RSA 2048以上、EC 256以上）",
        run: CheckRun::Endpoint(certificate::key_strength),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.signature-hash",
        title_en: "No SHA-1 or MD5 signature in the path",
        title_ja: "証明書パスにSHA-1・MD5署名がない",
        run: CheckRun::Endpoint(certificate::signature_hash),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.usage",
        title_en: "Certificate usage fits (basicConstraints, keyUsage, serverAuth)",
        title_ja: "証明書の用途が適切（basicConstraints・keyUsage・serverAuth）",
        run: CheckRun::Endpoint(certificate::usage),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.transparency",
        title_en: "Certificate Transparency: SCTs from at least two logs",
        title_ja: "証明書の透明性（CT）: 2つ以上のログのSCT",
        run: CheckRun::Endpoint(transparency::transparency),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.revocation",
        title_en: "Certificates not revoked (stapled OCSP, or OCSP/CRL with --revocation)",
        title_ja: "証明書が失効していない（OCSPステープル、または--revocationでOCSP・CRL）",
        run: CheckRun::Endpoint(revocation::revocation),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.must-staple",
        title_en: "Must-staple certificates are served with a stapled OCSP response",
        title_ja: "must-staple証明書にOCSP応答がステープルされている",
        run: CheckRun::Endpoint(revocation::must_staple),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.validation-type",
        title_en: "Validation level (DV / OV / EV)",
        title_ja: "認証レベル（DV・OV・EV）",
        run: CheckRun::Endpoint(certificate::validation_type),
        requires: Requires::Nothing,
    },
    CheckDef {
        id: "cert.caa",
        title_en: "Served certificate issued by a CA the domain's CAA permits",
        title_ja: "提示された証明書の発行認証局がCAAで許可されている",
        run: CheckRun::Endpoint(caa::served_issuer_permitted),
        requires: Requires::Survey,
    },
    CheckDef {
        id: "http.redirect",
        title_en: "Plain HTTP redirects straight to HTTPS on the same host, or is closed",
        title_ja: "HTTP（暗号化なし）が同じホストのHTTPSへ直接転送される、またはポートが閉じている",
        run: CheckRun::Endpoint(http::redirect),
        requires: Requires::HttpPosture,
    },
    CheckDef {
        id: "http.hsts",
        title_en: "HSTS for at least one year, with includeSubDomains and preload",
        title_ja: "HSTSが1年以上で、includeSubDomainsとpreloadが指定されている",
        run: CheckRun::Endpoint(http::hsts),
        requires: Requires::HttpPosture,
    },
    CheckDef {
        id: "ws.cleartext",
        title_en: "No WebSocket upgrade accepted without encryption",
        title_ja: "暗号化なしのWebSocket接続を受け付けない",
        run: CheckRun::Endpoint(http::websocket_cleartext),
        requires: Requires::HttpPosture,
    },
    CheckDef {
        id: "http.cookies",
        title_en: "Cookies of the entry page are Secure, HttpOnly and SameSite",
        title_ja: "入口ページのCookieにSecure・HttpOnly・SameSiteが付いている",
        run: CheckRun::Endpoint(http::cookies),
        requires: Requires::HttpPosture,
    },
    CheckDef {
        id: "http.cache-control",
        title_en: "Entry page caching (Cache-Control: no-store)",
        title_ja: "入口ページのキャッシュ制御（Cache-Control: no-store）",
        run: CheckRun::Endpoint(http::cache_control),
        requires: Requires::HttpPosture,
    },
    CheckDef {
        id: "domain.expiry",
        title_en: "Domain registration not about to expire (fail ≤ 30 days, warn ≤ 90)",
        title_ja: "ドメインの有効期限が迫っていない（30日以内は不適合、90日以内は要確認）",
        run: CheckRun::Domain(domain::expiry),
        requires: Requires::Survey,
    },
    CheckDef {
        id: "domain.transfer-lock",
        title_en: "Domain locked against transfer",
        title_ja: "ドメインに移転ロックがかかっている",
        run: CheckRun::Domain(domain::transfer_lock),
        requires: Requires::Survey,
    },
    CheckDef {
        id: "domain.ns-consistency",
        title_en: "Delegation consistent: parent and child name servers agree and answer",
        title_ja: "委任が一貫している（親と子のNSが一致し、すべて応答する）",
        run: CheckRun::Domain(domain::ns_consistency),
        requires: Requires::Survey,
    },
    CheckDef {
        id: "domain.dnssec",
        title_en: "DNSSEC: not bogus (unsigned is information)",
        title_ja: "DNSSECの検証が失敗していない（未署名は参考情報）",
        run: CheckRun::Domain(domain::dnssec),
        requires: Requires::Survey,
    },
    CheckDef {
        id: "domain.caa",
        title_en: "CAA records restrict which CAs may issue",
        title_ja: "CAAレコードで発行できる認証局を限定している",
        run: CheckRun::Host(caa::caa_present),
        requires: Requires::Survey,
    },
    CheckDef {
        id: "domain.dangling",
        title_en: "No dangling CNAME (to a missing name, an unregistered domain or a claimable service)",
        title_ja: "ダングリングCNAMEがない（存在しない名前・未登録ドメイン・乗っ取り可能なサービスへのCNAME）",
        run: CheckRun::Host(domain::dangling),
        requires: Requires::Survey,
    },
    CheckDef {
        id: "drift.registrar",
        title_en: "Registrar unchanged since the baseline",
        title_ja: "ベースラインからレジストラが変わっていない",
        run: CheckRun::Domain(drift::registrar),
        requires: Requires::Baseline,
    },
    CheckDef {
        id: "drift.reregistration",
        title_en: "Not re-registered since the baseline (same creation date)",
        title_ja: "ベースラインから再登録されていない（登録日が同じ）",
        run: CheckRun::Domain(drift::reregistration),
        requires: Requires::Baseline,
    },
    CheckDef {
        id: "drift.registrant",
        title_en: "Registrant organisation unchanged since the baseline",
        title_ja: "ベースラインから登録者（組織）が変わっていない",
        run: CheckRun::Domain(drift::registrant),
        requires: Requires::Baseline,
    },
    CheckDef {
        id: "drift.nameservers",
        title_en: "Name servers unchanged since the baseline",
        title_ja: "ベースラインからネームサーバーが変わっていない",
        run: CheckRun::Domain(drift::nameservers),
        requires: Requires::Baseline,
    },
    CheckDef {
        id: "drift.dnssec",
        title_en: "DNSSEC state unchanged since the baseline",
        title_ja: "ベースラインからDNSSECの状態が変わっていない",
        run: CheckRun::Domain(drift::dnssec),
        requires: Requires::Baseline,
    },
    CheckDef {
        id: "drift.certificate",
        title_en: "Certificate issuer unchanged since the baseline (renewals noted)",
        title_ja: "ベースラインから証明書の発行者が変わっていない（更新は記録）",
        run: CheckRun::Endpoint(drift::certificate),
        requires: Requires::Baseline,
    },
    CheckDef {
        id: "drift.protocols",
        title_en: "No legacy protocol version re-enabled since the baseline",
        title_ja: "ベースラインから旧プロトコルが再び有効になっていない",
        run: CheckRun::Endpoint(drift::protocols),
        requires: Requires::Baseline,
    },
];

/// The check with this ID.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    REGISTRY.iter().find(|c| c.id == id)
}

/// Runs an endpoint check on one endpoint. A check of another subject says it was not run.
pub fn run(def: &CheckDef, endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    match def.run {
        CheckRun::Endpoint(check) => check(endpoint, context),
        CheckRun::Domain(_) | CheckRun::Host(_) => CheckResult::new(
            CheckStatus::NotRun,
            Text::new("judged per domain, not per endpoint", "エンドポイントではなくドメインごとに判定"),
            serde_json::Value::Null,
        ),
    }
}

/// One check's result on one subject: the subject's label (endpoint, domain or host) and
/// the result.
pub type SubjectResult = (String, CheckResult);

/// Runs a check on every subject of its kind in `evidence`. Endpoints of targets that
/// produced none are left to the caller, which reports the failed resolution instead.
pub fn run_on_scan(def: &CheckDef, evidence: &ScanEvidence, context: &CheckContext<'_>) -> Vec<SubjectResult> {
    if !def.requires.met(context) {
        return Vec::new();
    }
    match def.run {
        CheckRun::Endpoint(check) => evidence
            .targets
            .iter()
            .flat_map(|t| &t.endpoints)
            .map(|endpoint| (endpoint.label(), check(endpoint, context)))
            .collect(),
        CheckRun::Domain(check) => context
            .survey
            .map(|survey| {
                survey
                    .domains
                    .iter()
                    .filter(|d| d.role == DomainRole::Target)
                    .map(|domain| (domain.name.clone(), check(domain, context)))
                    .collect()
            })
            .unwrap_or_default(),
        CheckRun::Host(check) => context
            .survey
            .map(|survey| survey.hosts.iter().map(|host| (host.host.clone(), check(host, context))).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<&str> = REGISTRY.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len());
    }
}
