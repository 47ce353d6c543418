//! Cipher-suite and key-exchange checks for 2-1.xii: what the endpoint accepts, version by
//! version, from full enumeration.
//!
//! A weak suite seen accepted is a finding whatever the mode. "None accepted" needs every
//! offered suite of every accepted version to have been accepted or refused; otherwise the
//! check is indeterminate (enumeration incomplete) or, in minimal mode, not run.

use serde_json::json;

use super::{protocol_support, CheckContext, CheckResult, CheckStatus, Support};
use crate::evidence::{EndpointEvidence, ScanMode, TlsVersion};
use crate::i18n::Text;
use crate::posture::{versions, VersionPosture};
use crate::suite_class::{classify, SuiteClass};

/// The weakness a check looks for, and how bad finding it is.
struct Weakness {
    what_en: &'static str,
    what_ja: &'static str,
    found: CheckStatus,
    why_en: &'static str,
    why_ja: &'static str,
    test: fn(&SuiteClass) -> bool,
}

/// Whether every suite of every accepted version was tested, or why not. A version whose
/// support is unknown may hide weak suites, so it leaves the answer open too.
fn completeness(endpoint: &EndpointEvidence, postures: &[VersionPosture]) -> Result<(), Text> {
    let mut accepted: Vec<TlsVersion> = Vec::new();
    for version in [TlsVersion::Ssl3, TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12, TlsVersion::Tls13] {
        match protocol_support(endpoint, version) {
            Support::Accepted => accepted.push(version),
            Support::Refused(_) => {}
            Support::Unknown(why) => {
                return Err(Text::new(
                    format!("{} support is unknown ({why})", version.name()),
                    format!("{}への対応が不明（{why}）", version.name()),
                ))
            }
        }
    }
    if accepted.is_empty() {
        return Err(Text::new(
            "no protocol version was accepted, so there are no suites to judge",
            "受け付けるプロトコルがなく、暗号スイートを判定できない",
        ));
    }
    for version in accepted {
        match postures.iter().find(|p| p.version == version) {
            None => {
                return Err(Text::new(
                    format!("{} is accepted but its suites were not enumerated", version.name()),
                    format!("{}を受け付けるが暗号スイートを列挙できなかった", version.name()),
                ))
            }
            Some(p) if !p.complete() => {
                return Err(Text::new(
                    format!("enumeration of {} stopped with {} suites untested", version.name(), p.untested),
                    format!("{}の列挙が途中で止まった（未確認{}件）", version.name(), p.untested),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn judge(endpoint: &EndpointEvidence, context: &CheckContext<'_>, weakness: &Weakness) -> CheckResult {
    let postures = versions(endpoint);
    let found: Vec<(TlsVersion, SuiteClass)> = postures
        .iter()
        .flat_map(|p| p.accepted.iter().map(move |s| (p.version, classify(*s))))
        .filter(|(_, class)| (weakness.test)(class))
        .collect();
    let evidence = json!({
        "mode": context.mode,
        "found": found.iter().map(|(v, c)| json!({"version": v, "suite": c.name, "id": format!("0x{:04X}", c.id)})).collect::<Vec<_>>(),
        "accepted": postures.iter().map(|p| json!({"version": p.version, "suites": p.accepted.len(), "untested": p.untested})).collect::<Vec<_>>(),
    });
    if !found.is_empty() {
        let list = found.iter().map(|(v, c)| format!("{} {}", v.name(), c.name)).collect::<Vec<_>>().join(", ");
        return CheckResult::new(
            weakness.found,
            Text::new(
                format!("{} accepted ({}): {list}", weakness.what_en, weakness.why_en),
                format!("{}を受け付ける（{}）: {list}", weakness.what_ja, weakness.why_ja),
            ),
            evidence,
        );
    }
    if context.mode == ScanMode::Minimal {
        return CheckResult::new(
            CheckStatus::NotRun,
            Text::new(
                format!("not run: minimal mode does not enumerate suites (none of the {} seen)", weakness.what_en),
                format!("未実施: minimalモードでは暗号スイートを列挙しない（{}は観測されず）", weakness.what_ja),
            ),
            evidence,
        );
    }
    match completeness(endpoint, &postures) {
        Ok(()) => CheckResult::new(
            CheckStatus::Pass,
            Text::new(format!("no {} accepted", weakness.what_en), format!("{}を受け付けない", weakness.what_ja)),
            evidence,
        ),
        Err(why) => CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new(
                format!("cannot tell whether {} are accepted: {}", weakness.what_en, why.en),
                format!("{}の受け付けを判定できない: {}", weakness.what_ja, why.ja),
            ),
            evidence,
        ),
    }
}

macro_rules! weakness_check {
    ($name:ident, $what_en:literal, $what_ja:literal, $found:expr, $why_en:literal, $why_ja:literal, $test:expr) => {
        pub(super) fn $name(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
            judge(
                endpoint,
                context,
                &Weakness {
                    what_en: $what_en,
                    what_ja: $what_ja,
                    found: $found,
                    why_en: $why_en,
                    why_ja: $why_ja,
                    test: $test,
                },
            )
        }
    };
}

weakness_check!(
    no_null,
    "NULL-encryption suites",
    "暗号化なし（NULL）のスイート",
    CheckStatus::Fail,
    "traffic would be sent in clear text",
    "通信が平文で送られる",
    |c| c.null_cipher
);
weakness_check!(
    no_anonymous,
    "anonymous suites",
    "認証なし（anonymous）のスイート",
    CheckStatus::Fail,
    "the server is not authenticated, so anyone on the path can impersonate it",
    "サーバーが認証されず、経路上の第三者がなりすませる",
    |c| c.anonymous
);
weakness_check!(
    no_export,
    "EXPORT suites",
    "輸出グレード（EXPORT）のスイート",
    CheckStatus::Fail,
    "40/56-bit cryptography, broken by FREAK and Logjam",
    "40/56ビット暗号で、FREAK・Logjamにより破られている",
    |c| c.export
);
weakness_check!(
    no_rc4,
    "RC4 suites",
    "RC4のスイート",
    CheckStatus::Fail,
    "RC4 is prohibited by RFC 7465",
    "RC4はRFC 7465で禁止されている",
    |c| c.rc4
);
weakness_check!(
    no_weak_cipher,
    "single-DES, RC2 or IDEA suites",
    "DES・RC2・IDEAのスイート",
    CheckStatus::Fail,
    "56-bit or 64-bit-block ciphers long broken or deprecated",
    "鍵長56ビットまたは64ビットブロックの古い暗号",
    |c| c.weak_cipher
);
weakness_check!(
    no_3des,
    "3DES suites",
    "3DESのスイート",
    CheckStatus::Warn,
    "64-bit blocks, open to SWEET32",
    "64ビットブロックでSWEET32攻撃の対象",
    |c| c.triple_des
);
weakness_check!(
    no_static_rsa,
    "static-RSA key-exchange suites",
    "RSA鍵交換（静的RSA）のスイート",
    CheckStatus::Warn,
    "no forward secrecy: a stolen key decrypts recorded traffic",
    "前方秘匿性がなく、鍵が漏れると過去の通信も復号される",
    |c| c.static_rsa
);
weakness_check!(
    no_cbc,
    "CBC-mode suites",
    "CBCモードのスイート",
    CheckStatus::Warn,
    "MAC-then-encrypt, the source of padding-oracle attacks; AEAD suites are preferred",
    "パディングオラクル攻撃の原因となる方式で、AEADスイートが望ましい",
    |c| c.cbc
);
weakness_check!(
    forward_secrecy,
    "suites without forward secrecy",
    "前方秘匿性のないスイート",
    CheckStatus::Warn,
    "a stolen server key decrypts recorded traffic",
    "サーバー鍵が漏れると過去の通信も復号される",
    |c| c.known && !c.forward_secrecy
);
weakness_check!(
    aead_only,
    "suites without AEAD encryption",
    "AEADでない暗号のスイート",
    CheckStatus::Warn,
    "IPA 高セキュリティ型 asks for AEAD ciphers only",
    "IPA高セキュリティ型はAEAD暗号のみを求める",
    |c| c.known && !c.aead
);

/// Thresholds for DHE primes: below the first fails, below the second warns.
pub const DHE_FAIL_BELOW_BITS: u32 = 1024;
/// See [`DHE_FAIL_BELOW_BITS`].
pub const DHE_WARN_BELOW_BITS: u32 = 2048;

/// DHE group size from the ServerKeyExchange: fail below 1024 bits (Logjam), warn below 2048.
pub(super) fn dhe_strength(endpoint: &EndpointEvidence, context: &CheckContext<'_>) -> CheckResult {
    let postures = versions(endpoint);
    let dhe_suites: Vec<(TlsVersion, u16)> = postures
        .iter()
        .flat_map(|p| p.accepted.iter().map(move |s| (p.version, *s)))
        .filter(|(_, s)| classify(*s).ephemeral_dh)
        .collect();
    let sizes: Vec<(TlsVersion, u16, u32)> =
        postures.iter().flat_map(|p| p.dh_bits.iter().map(move |(s, bits)| (p.version, *s, *bits))).collect();
    let evidence = json!({
        "dhe_suites_accepted": dhe_suites.len(),
        "primes": sizes.iter().map(|(v, s, bits)| json!({"version": v, "suite": classify(*s).name, "bits": bits})).collect::<Vec<_>>(),
    });
    // Every accepted DHE suite needs its prime measured before "strong enough" can be said;
    // a prime too small is a failure whatever is missing.
    let unmeasured = dhe_suites.iter().filter(|(v, s)| !sizes.iter().any(|(sv, ss, _)| sv == v && ss == s)).count();
    let smallest = sizes.iter().map(|(_, _, bits)| *bits).min();
    if unmeasured > 0 && smallest.is_none_or(|bits| bits >= DHE_FAIL_BELOW_BITS) {
        return CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new(
                format!("{unmeasured} accepted DHE suite(s) without a captured prime size"),
                format!("受け付けるDHEスイートのうち{unmeasured}件で素数の長さを取得できなかった"),
            ),
            evidence,
        );
    }
    if let Some(smallest) = smallest {
        let (status, en, ja) = if smallest < DHE_FAIL_BELOW_BITS {
            (
                CheckStatus::Fail,
                "breakable (Logjam); at least 2048 bits are needed",
                "解読可能（Logjam）。2048ビット以上が必要",
            )
        } else if smallest < DHE_WARN_BELOW_BITS {
            (CheckStatus::Warn, "below the 2048 bits recommended today", "現在推奨される2048ビット未満")
        } else {
            (CheckStatus::Pass, "strong enough", "十分な強度")
        };
        return CheckResult::new(
            status,
            Text::new(
                format!("smallest DHE prime: {smallest} bits, {en}"),
                format!("DHEの素数は最小{smallest}ビットで、{ja}"),
            ),
            evidence,
        );
    }
    if context.mode == ScanMode::Minimal {
        return CheckResult::new(
            CheckStatus::NotRun,
            Text::new(
                "not run: minimal mode does not enumerate suites",
                "未実施: minimalモードでは暗号スイートを列挙しない",
            ),
            evidence,
        );
    }
    match completeness(endpoint, &postures) {
        Ok(()) => CheckResult::new(
            CheckStatus::Pass,
            Text::new("no DHE suite accepted", "DHEスイートを受け付けない"),
            evidence,
        ),
        Err(why) => CheckResult::new(
            CheckStatus::Indeterminate,
            Text::new(format!("cannot judge DHE: {}", why.en), format!("DHEを判定できない: {}", why.ja)),
            evidence,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{HandBuiltAttempt, HelloDetails, HelloExchange, HelloPurpose, HelloReply, Outcome};

    /// An endpoint that accepted exactly `picks` (suite, DHE bits) at TLS 1.2 and refused the
    /// rest, so its enumeration is complete; every other version refused.
    fn endpoint(picks: &[(u16, Option<u32>)]) -> EndpointEvidence {
        let mut exchanges: Vec<HelloExchange> = picks
            .iter()
            .map(|(suite, dh_bits)| {
                let details = HelloDetails { dh_bits: *dh_bits, ..HelloDetails::default() };
                let reply = HelloReply::ServerHello { version: 0x0303, cipher_suite: *suite, chain: vec![], details };
                let mut e = HelloExchange::new(HelloPurpose::Suites, reply);
                e.offered_suites = vec![*suite];
                e
            })
            .collect();
        let mut refusal = HelloExchange::new(HelloPurpose::Suites, HelloReply::Alert { level: 2, description: 40 });
        refusal.offered_suites = crate::posture::suite_candidates(TlsVersion::Tls12);
        exchanges.push(refusal);
        let refused = |version| HandBuiltAttempt {
            version,
            outcome: Outcome::Alert { description: 70, name: "protocol_version".into() },
            exchanges: vec![],
        };
        EndpointEvidence {
            modern: vec![],
            hand_built: vec![
                refused(TlsVersion::Ssl2),
                refused(TlsVersion::Ssl3),
                refused(TlsVersion::Tls10),
                refused(TlsVersion::Tls11),
                HandBuiltAttempt { version: TlsVersion::Tls12, outcome: Outcome::Accepted, exchanges },
                refused(TlsVersion::Tls13),
            ],
            health_check: None,
            connections: 0,
            ..EndpointEvidence::new("127.0.0.1:443".parse().expect("address"), None, 0)
        }
    }

    fn status(
        check: fn(&EndpointEvidence, &CheckContext<'_>) -> CheckResult,
        e: &EndpointEvidence,
        mode: ScanMode,
    ) -> CheckStatus {
        check(e, &CheckContext { mode, ..CheckContext::default() }).status
    }

    const DHE_RSA_AES128_GCM: u16 = 0x009e;
    const DHE_RSA_AES256_GCM: u16 = 0x009f;
    const ECDHE_RSA_AES128_GCM: u16 = 0xc02f;
    const RSA_AES128_CBC: u16 = 0x002f;

    #[test]
    fn dhe_sizes() {
        let full = ScanMode::Full;
        assert_eq!(status(dhe_strength, &endpoint(&[(DHE_RSA_AES128_GCM, Some(2048))]), full), CheckStatus::Pass);
        assert_eq!(status(dhe_strength, &endpoint(&[(DHE_RSA_AES128_GCM, Some(1024))]), full), CheckStatus::Warn);
        assert_eq!(status(dhe_strength, &endpoint(&[(DHE_RSA_AES128_GCM, Some(768))]), full), CheckStatus::Fail);
        assert_eq!(status(dhe_strength, &endpoint(&[(ECDHE_RSA_AES128_GCM, None)]), full), CheckStatus::Pass);
        // A DHE suite whose prime was not captured leaves the answer open, unless another
        // prime is already too small.
        let unmeasured = endpoint(&[(DHE_RSA_AES128_GCM, Some(2048)), (DHE_RSA_AES256_GCM, None)]);
        assert_eq!(status(dhe_strength, &unmeasured, full), CheckStatus::Indeterminate);
        let small = endpoint(&[(DHE_RSA_AES128_GCM, Some(512)), (DHE_RSA_AES256_GCM, None)]);
        assert_eq!(status(dhe_strength, &small, full), CheckStatus::Fail);
    }

    #[test]
    fn weak_suites_need_a_complete_enumeration_to_pass() {
        let clean = endpoint(&[(ECDHE_RSA_AES128_GCM, None)]);
        let cbc = endpoint(&[(ECDHE_RSA_AES128_GCM, None), (RSA_AES128_CBC, None)]);
        assert_eq!(status(no_cbc, &clean, ScanMode::Full), CheckStatus::Pass);
        assert_eq!(status(no_cbc, &cbc, ScanMode::Full), CheckStatus::Warn);
        assert_eq!(status(no_static_rsa, &cbc, ScanMode::Full), CheckStatus::Warn);
        assert_eq!(status(forward_secrecy, &cbc, ScanMode::Full), CheckStatus::Warn);
        assert_eq!(status(aead_only, &clean, ScanMode::Full), CheckStatus::Pass);
        // Seen in minimal mode, a weakness is still reported; unseen, the check did not run.
        assert_eq!(status(no_cbc, &cbc, ScanMode::Minimal), CheckStatus::Warn);
        assert_eq!(status(no_cbc, &clean, ScanMode::Minimal), CheckStatus::NotRun);
        // Without the refusal that closes the enumeration, "none accepted" is not known.
        let mut open = clean.clone();
        if let Some(tls12) = open.hand_built.iter_mut().find(|a| a.version == TlsVersion::Tls12) {
            tls12.exchanges.pop();
        }
        assert_eq!(status(no_cbc, &open, ScanMode::Full), CheckStatus::Indeterminate);
        assert_eq!(status(no_rc4, &open, ScanMode::Full), CheckStatus::Indeterminate);
        // A version that never answered may hide weak suites: no pass either.
        let mut silent = clean.clone();
        if let Some(tls10) = silent.hand_built.iter_mut().find(|a| a.version == TlsVersion::Tls10) {
            tls10.outcome = Outcome::Timeout;
        }
        assert_eq!(status(no_rc4, &silent, ScanMode::Full), CheckStatus::Indeterminate);
        assert_eq!(status(dhe_strength, &silent, ScanMode::Full), CheckStatus::Indeterminate);
    }
}
