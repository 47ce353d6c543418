//! Checks: pure functions of one endpoint's evidence. No I/O, no clock: certificates are
//! judged at the time recorded in the evidence, so a check run today on last year's
//! evidence gives last year's answer.
//!
//! Each check has a stable ID that profiles refer to (`probes/*.toml`). Adding a check
//! means adding a [`CheckDef`] to [`REGISTRY`] and naming it in a profile.

mod certificate;
pub mod chain_review;
mod protocol;
mod revocation;
mod suites;
mod transparency;

pub use suites::{DHE_FAIL_BELOW_BITS, DHE_WARN_BELOW_BITS};

pub use protocol::{support as protocol_support, Support};

use serde::{Deserialize, Serialize};

use crate::evidence::{EndpointEvidence, ScanMode};
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
}

impl Default for CheckContext<'_> {
    fn default() -> Self {
        CheckContext {
            stores: &MOZILLA_ONLY,
            mode: ScanMode::default(),
            fetch: false,
            revocation: false,
            expiry: ExpiryThresholds::default(),
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

/// A registered check.
pub struct CheckDef {
    pub id: &'static str,
    pub title_en: &'static str,
    pub title_ja: &'static str,
    pub run: fn(&EndpointEvidence, &CheckContext<'_>) -> CheckResult,
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
        run: protocol::no_sslv2,
    },
    CheckDef {
        id: "tls.no-sslv3",
        title_en: "SSLv3 refused",
        title_ja: "SSLv3を受け付けない",
        run: protocol::no_sslv3,
    },
    CheckDef {
        id: "tls.no-tls10",
        title_en: "TLS 1.0 refused",
        title_ja: "TLS 1.0を受け付けない",
        run: protocol::no_tls10,
    },
    CheckDef {
        id: "tls.no-tls11",
        title_en: "TLS 1.1 refused",
        title_ja: "TLS 1.1を受け付けない",
        run: protocol::no_tls11,
    },
    CheckDef {
        id: "tls.tls12-or-13",
        title_en: "TLS 1.2 or TLS 1.3 accepted",
        title_ja: "TLS 1.2またはTLS 1.3で接続できる",
        run: protocol::tls12_or_13,
    },
    CheckDef {
        id: "tls.tls13",
        title_en: "TLS 1.3 offered (advisory)",
        title_ja: "TLS 1.3に対応（参考）",
        run: protocol::tls13,
    },
    CheckDef {
        id: "suites.no-null",
        title_en: "No NULL-encryption suites",
        title_ja: "暗号化なし（NULL）のスイートを受け付けない",
        run: suites::no_null,
    },
    CheckDef {
        id: "suites.no-anonymous",
        title_en: "No anonymous suites",
        title_ja: "認証なし（anonymous）のスイートを受け付けない",
        run: suites::no_anonymous,
    },
    CheckDef {
        id: "suites.no-export",
        title_en: "No EXPORT suites",
        title_ja: "輸出グレード（EXPORT）のスイートを受け付けない",
        run: suites::no_export,
    },
    CheckDef {
        id: "suites.no-rc4",
        title_en: "No RC4 suites",
        title_ja: "RC4のスイートを受け付けない",
        run: suites::no_rc4,
    },
    CheckDef {
        id: "suites.no-weak-cipher",
        title_en: "No single-DES, RC2 or IDEA suites",
        title_ja: "DES・RC2・IDEAのスイートを受け付けない",
        run: suites::no_weak_cipher,
    },
    CheckDef {
        id: "kex.dhe-strength",
        title_en: "DHE primes of 2048 bits or more",
        title_ja: "DHEの素数が2048ビット以上",
        run: suites::dhe_strength,
    },
    CheckDef {
        id: "suites.no-3des",
        title_en: "No 3DES suites",
        title_ja: "3DESのスイートを受け付けない",
        run: suites::no_3des,
    },
    CheckDef {
        id: "suites.no-static-rsa",
        title_en: "No static-RSA key exchange",
        title_ja: "静的RSA鍵交換のスイートを受け付けない",
        run: suites::no_static_rsa,
    },
    CheckDef {
        id: "suites.no-cbc",
        title_en: "No CBC-mode suites",
        title_ja: "CBCモードのスイートを受け付けない",
        run: suites::no_cbc,
    },
    CheckDef {
        id: "suites.forward-secrecy",
        title_en: "Forward secrecy with every suite",
        title_ja: "すべてのスイートで前方秘匿性がある",
        run: suites::forward_secrecy,
    },
    CheckDef {
        id: "suites.aead-only",
        title_en: "AEAD encryption with every suite",
        title_ja: "すべてのスイートがAEAD暗号",
        run: suites::aead_only,
    },
    CheckDef {
        id: "cert.trusted",
        title_en: "Certificate chain trusted",
        title_ja: "証明書チェーンが信頼できる",
        run: certificate::trusted,
    },
    CheckDef {
        id: "cert.chain-complete",
        title_en: "Chain complete as served",
        title_ja: "提示された証明書チェーンが完全",
        run: certificate::chain_complete,
    },
    CheckDef {
        id: "cert.chain-order",
        title_en: "Chain in order, without duplicates or extras",
        title_ja: "証明書チェーンの順序が正しく、重複や余分がない",
        run: certificate::chain_order,
    },
    CheckDef {
        id: "cert.hostname",
        title_en: "Certificate matches the host name",
        title_ja: "証明書がホスト名と一致",
        run: certificate::hostname,
    },
    CheckDef {
        id: "cert.validity",
        title_en: "Every certificate in the path valid, and not about to expire",
        title_ja: "パス内の証明書が有効期間内で、期限が迫っていない",
        run: certificate::validity,
    },
    CheckDef {
        id: "cert.lifetime",
        title_en: "Certificate lifetime at most 398 days",
        title_ja: "証明書の有効期間が398日以内",
        run: certificate::lifetime,
    },
    CheckDef {
        id: "cert.key-strength",
        title_en: "Keys strong enough in the whole path (RSA ≥ 2048, EC ≥ 256)",
        title_ja: "パス内の鍵長が十分（RSA 2048以上、EC 256以上）",
        run: certificate::key_strength,
    },
    CheckDef {
        id: "cert.signature-hash",
        title_en: "No SHA-1 or MD5 signature in the path",
        title_ja: "証明書パスにSHA-1・MD5署名がない",
        run: certificate::signature_hash,
    },
    CheckDef {
        id: "cert.usage",
        title_en: "Certificate usage fits (basicConstraints, keyUsage, serverAuth)",
        title_ja: "証明書の用途が適切（basicConstraints・keyUsage・serverAuth）",
        run: certificate::usage,
    },
    CheckDef {
        id: "cert.transparency",
        title_en: "Certificate Transparency: SCTs from at least two logs",
        title_ja: "証明書の透明性（CT）: 2つ以上のログのSCT",
        run: transparency::transparency,
    },
    CheckDef {
        id: "cert.revocation",
        title_en: "Certificates not revoked (stapled OCSP, or OCSP/CRL with --revocation)",
        title_ja: "証明書が失効していない（OCSPステープル、または--revocationでOCSP・CRL）",
        run: revocation::revocation,
    },
    CheckDef {
        id: "cert.must-staple",
        title_en: "Must-staple certificates are served with a stapled OCSP response",
        title_ja: "must-staple証明書にOCSP応答がステープルされている",
        run: revocation::must_staple,
    },
    CheckDef {
        id: "cert.validation-type",
        title_en: "Validation level (DV / OV / EV)",
        title_ja: "認証レベル（DV・OV・EV）",
        run: certificate::validation_type,
    },
];

/// The check with this ID.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    REGISTRY.iter().find(|c| c.id == id)
}

/// Runs one check on one endpoint.
pub fn run(def: &CheckDef, endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    (def.run)(endpoint, context)
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
