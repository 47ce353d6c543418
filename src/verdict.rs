//! From check results to item statuses: 適合 / 不適合 / 要確認 / 申告待ち / 判定不能 / 対象外.
//!
//! Pure: an [`Assessment`] is a function of a profile and recorded evidence.

use serde::{Deserialize, Serialize};

use crate::checks::{self, CheckContext, CheckDef, CheckRun, CheckStatus, DomainExpiryThresholds, ExpiryThresholds};
use crate::declaration::{Declaration, Declarations, DeclaredState};
use crate::evidence::ScanEvidence;
use crate::i18n::{Lang, Text};
use crate::profile::{EvidenceKind, Item, Profile};
use crate::trust::TrustStores;

/// The status of one guideline item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// 適合: every check passed on every endpoint.
    Compliant,
    /// 不適合: at least one check failed.
    NonCompliant,
    /// 要確認: no failure, but something needs a person's review.
    NeedsReview,
    /// 申告待ち: only a declaration can show this item.
    DeclarationNeeded,
    /// 判定不能: a probe could not run or was incomplete. Never counted as compliant.
    Indeterminate,
    /// 対象外: outside a vendor scan (clinic or patient behaviour).
    NotApplicable,
}

impl ItemStatus {
    /// Every status, in the order reports list them.
    pub const ALL: [ItemStatus; 6] = [
        ItemStatus::Compliant,
        ItemStatus::NonCompliant,
        ItemStatus::NeedsReview,
        ItemStatus::Indeterminate,
        ItemStatus::DeclarationNeeded,
        ItemStatus::NotApplicable,
    ];

    /// The Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            ItemStatus::Compliant => "適合",
            ItemStatus::NonCompliant => "不適合",
            ItemStatus::NeedsReview => "要確認",
            ItemStatus::DeclarationNeeded => "申告待ち",
            ItemStatus::Indeterminate => "判定不能",
            ItemStatus::NotApplicable => "対象外",
        }
    }

    /// The English label.
    pub fn label_en(self) -> &'static str {
        match self {
            ItemStatus::Compliant => "compliant",
            ItemStatus::NonCompliant => "non-compliant",
            ItemStatus::NeedsReview => "needs review",
            ItemStatus::DeclarationNeeded => "declaration needed",
            ItemStatus::Indeterminate => "indeterminate",
            ItemStatus::NotApplicable => "not applicable",
        }
    }

    /// The label in `lang`.
    pub fn label(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.label_en(),
            Lang::Ja => self.label_ja(),
        }
    }
}

/// One check's result on one endpoint, attributed to an item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    pub item_id: String,
    pub check_id: String,
    /// Endpoint label, e.g. `example.jp [192.0.2.1]:443`, or the target for target-level findings.
    pub endpoint: String,
    pub status: CheckStatus,
    /// The check's own status when the profile raised it (see `raise` in `probes/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised_from: Option<CheckStatus>,
    pub message: Text,
    pub evidence: serde_json::Value,
}

/// An item's status and the reason in one line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ItemVerdict {
    pub item_id: String,
    pub status: ItemStatus,
    pub reason: Text,
    /// What decided the status.
    pub basis: Basis,
    /// The vendor's declaration of the item, when one was given (`--declarations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration: Option<Declaration>,
}

/// What decided an item's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// kensa's checks on the evidence.
    Measured,
    /// The vendor's declaration (the checks, if any, found nothing against it).
    Declared,
    /// The profile alone: an item outside a vendor scan, or one waiting for a declaration.
    Profile,
}

/// Findings and item verdicts for a whole scan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Assessment {
    pub findings: Vec<Finding>,
    pub items: Vec<ItemVerdict>,
    /// The judging options the checks ran with.
    pub options: JudgingOptions,
}

/// Options that change how evidence is judged (not what is probed), so stored evidence
/// can be judged again with other thresholds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgingOptions {
    pub expiry: ExpiryThresholds,
    /// When a domain's approaching expiry becomes a warning, then a failure.
    pub domain_expiry: DomainExpiryThresholds,
}

impl JudgingOptions {
    /// The check context for `evidence` with these options and `stores` built from it
    /// (see [`JudgingOptions::stores`]).
    pub fn context<'a>(&self, evidence: &'a ScanEvidence, stores: &'a TrustStores) -> CheckContext<'a> {
        CheckContext {
            stores,
            mode: evidence.settings.mode,
            fetch: evidence.settings.fetch,
            revocation: evidence.settings.revocation,
            expiry: self.expiry,
            domain_expiry: self.domain_expiry,
            survey: evidence.domains.as_ref(),
            baseline: evidence.baseline.as_ref(),
            http: evidence
                .targets
                .iter()
                .flat_map(|t| &t.endpoints)
                .any(|e| e.http.as_ref().is_some_and(|h| h.probed())),
        }
    }

    /// The trust stores recorded in `evidence`.
    pub fn stores(evidence: &ScanEvidence) -> TrustStores {
        TrustStores::new(&evidence.system_roots, &evidence.extra_roots)
    }
}

/// The check ID used for targets that produced no endpoint to probe.
pub const TARGET_RESOLUTION_CHECK: &str = "target.resolution";

impl Assessment {
    /// Runs every check the profile names on every endpoint, then rolls the results up.
    ///
    /// Pure: the same profile and evidence always give the same assessment. With no target
    /// at all, probe items are 判定不能 and the exit code says so:
    ///
    /// ```
    /// use kensa::evidence::{ScanEvidence, ScanMode, ScanSettings, AddressFamily, EVIDENCE_SCHEMA};
    /// use kensa::profile::Profile;
    /// use kensa::verdict::{Assessment, ItemStatus};
    ///
    /// let evidence = ScanEvidence {
    ///     schema: EVIDENCE_SCHEMA.into(),
    ///     kensa_version: "0".into(),
    ///     started_at: 0,
    ///     finished_at: 0,
    ///     settings: ScanSettings {
    ///         timeout_ms: 1,
    ///         address_family: AddressFamily::Any,
    ///         resolver: None,
    ///         pins: vec![],
    ///         mode: ScanMode::Full,
    ///         parallel_per_ip: 1,
    ///         delay_ms: 0,
    ///         fetch: false,
    ///         revocation: false,
    ///     },
    ///     extra_roots: vec![],
    ///     system_roots: vec![],
    ///     targets: vec![],
    ///     domains: None,
    ///     baseline: None,
    ///     service: None,
    /// };
    /// let assessment = Assessment::evaluate(&Profile::embedded(), &evidence);
    /// assert_eq!(assessment.item("2-1.xii").unwrap().status, ItemStatus::Indeterminate);
    /// assert_eq!(assessment.item("2-1.v").unwrap().status, ItemStatus::DeclarationNeeded);
    /// assert_eq!(assessment.exit_code(), 3);
    /// ```
    pub fn evaluate(profile: &Profile, evidence: &ScanEvidence) -> Assessment {
        Assessment::evaluate_with(profile, evidence, JudgingOptions::default())
    }

    /// [`Assessment::evaluate`] with explicit judging options.
    pub fn evaluate_with(profile: &Profile, evidence: &ScanEvidence, options: JudgingOptions) -> Assessment {
        let stores = JudgingOptions::stores(evidence);
        let context = options.context(evidence, &stores);
        let mut findings = Vec::new();
        for item in profile.items.iter().filter(|i| !i.checks.is_empty()) {
            let defs: Vec<(&String, &CheckDef)> =
                item.checks.iter().filter_map(|id| checks::find(id).map(|def| (id, def))).collect();
            // A target that produced no endpoint leaves its endpoint checks unanswered; say
            // so once per item. Domain and host checks still judge it (a name that does not
            // resolve may be exactly the dangling record they look for).
            if defs.iter().any(|(_, def)| matches!(def.run, CheckRun::Endpoint(_)) && def.requires.met(&context)) {
                for target in evidence.targets.iter().filter(|t| t.endpoints.is_empty()) {
                    let why = target.resolution.error.clone().unwrap_or_else(|| "no address to probe".to_string());
                    findings.push(Finding {
                        item_id: item.id.clone(),
                        check_id: TARGET_RESOLUTION_CHECK.to_string(),
                        endpoint: target.input.clone(),
                        status: CheckStatus::Indeterminate,
                        raised_from: None,
                        message: Text::new(
                            format!("{}: nothing probed ({why})", target.input),
                            format!("{}: 検査できなかった（{why}）", target.input),
                        ),
                        evidence: serde_json::to_value(&target.resolution).unwrap_or_default(),
                    });
                }
            }
            for (check_id, def) in defs {
                for (subject, result) in checks::run_on_scan(def, evidence, &context) {
                    let status = item.raised(check_id, result.status);
                    findings.push(Finding {
                        item_id: item.id.clone(),
                        check_id: check_id.clone(),
                        endpoint: subject,
                        status,
                        raised_from: (status != result.status).then_some(result.status),
                        message: result.message,
                        evidence: result.evidence,
                    });
                }
            }
        }
        let items = profile
            .items
            .iter()
            .map(|item| {
                let own: Vec<&Finding> = findings.iter().filter(|f| f.item_id == item.id).collect();
                roll_up(item, &own)
            })
            .collect();
        Assessment { findings, items, options }
    }

    /// Merges the vendor's declarations into the item verdicts.
    ///
    /// The rules: an item waiting for a declaration takes the declared state (実施 → 適合,
    /// 未実施 → 不適合, 対象外 → 対象外). A declaration never overrides a measured 不適合,
    /// never replaces a probe item's measurement, and never clears a signal's 要確認; 未実施
    /// makes any item 不適合. A signal item whose signals could not be gathered (判定不能)
    /// takes the declaration, with the reason saying so.
    pub fn apply_declarations(&mut self, profile: &Profile, declarations: &Declarations) {
        for verdict in &mut self.items {
            let Some(declaration) = declarations.get(&verdict.item_id) else { continue };
            let Some(item) = profile.item(&verdict.item_id) else { continue };
            merge_declaration(verdict, item, declaration);
        }
    }

    /// The verdict for an item.
    pub fn item(&self, id: &str) -> Option<&ItemVerdict> {
        self.items.iter().find(|v| v.item_id == id)
    }

    /// The status an item would have if only `endpoint` had been scanned.
    pub fn item_status_for_endpoint(&self, item_id: &str, endpoint: &str, profile: &Profile) -> Option<ItemStatus> {
        let item = profile.item(item_id)?;
        let own: Vec<&Finding> =
            self.findings.iter().filter(|f| f.item_id == item_id && f.endpoint == endpoint).collect();
        Some(roll_up(item, &own).status)
    }

    /// How many items have each status.
    pub fn counts(&self) -> Vec<(ItemStatus, usize)> {
        ItemStatus::ALL.iter().map(|s| (*s, self.items.iter().filter(|v| v.status == *s).count())).collect()
    }

    /// The documented exit code: 1 if any item is 不適合, else 3 if any is 判定不能, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.items.iter().any(|v| v.status == ItemStatus::NonCompliant) {
            1
        } else if self.items.iter().any(|v| v.status == ItemStatus::Indeterminate) {
            3
        } else {
            0
        }
    }
}

fn merge_declaration(verdict: &mut ItemVerdict, item: &Item, declaration: &Declaration) {
    verdict.declaration = Some(declaration.clone());
    let state = declaration.state;
    let declared = |en: &str, ja: &str| match declaration.reference.as_str() {
        "" => Text::new(format!("declared {}: {en}", state.label_en()), format!("{}と申告: {ja}", state.label_ja())),
        reference => Text::new(
            format!("declared {} ({reference}): {en}", state.label_en()),
            format!("{}と申告（{reference}）: {ja}", state.label_ja()),
        ),
    };
    let settle = |verdict: &mut ItemVerdict, status, reason| {
        verdict.status = status;
        verdict.reason = reason;
        verdict.basis = Basis::Declared;
    };
    match (verdict.status, state) {
        // What was measured to fail stays failed, whatever is declared.
        (ItemStatus::NonCompliant, _) => {}
        (_, DeclaredState::NotImplemented) => {
            settle(verdict, ItemStatus::NonCompliant, declared("the measure is not in place", "対策が実施されていない"))
        }
        (ItemStatus::DeclarationNeeded, DeclaredState::Implemented) => {
            settle(verdict, ItemStatus::Compliant, declared("no check contradicts it", "検査結果に矛盾なし"))
        }
        (ItemStatus::DeclarationNeeded, DeclaredState::NotApplicable) => {
            settle(verdict, ItemStatus::NotApplicable, declared("the item does not apply", "本サービスには該当しない"))
        }
        (ItemStatus::Indeterminate, DeclaredState::Implemented) if item.evidence == EvidenceKind::Signal => settle(
            verdict,
            ItemStatus::Compliant,
            declared("its network signals could not be gathered", "ネットワーク上の兆候は収集できなかった"),
        ),
        // Measured results of probe items, 要確認 signals, and clinic-side items keep their
        // status; the declaration is shown beside them.
        _ => {}
    }
}

fn roll_up(item: &Item, findings: &[&Finding]) -> ItemVerdict {
    let basis = match item.evidence {
        EvidenceKind::Outside | EvidenceKind::Declared => Basis::Profile,
        EvidenceKind::Signal if findings.is_empty() => Basis::Profile,
        _ => Basis::Measured,
    };
    let verdict = |status, reason| ItemVerdict { item_id: item.id.clone(), status, reason, basis, declaration: None };
    match item.evidence {
        EvidenceKind::Outside => {
            return verdict(
                ItemStatus::NotApplicable,
                Text::new(
                    "outside a vendor scan (clinic or patient practice)",
                    "事業者向け検査の対象外（医療機関・患者側の運用）",
                ),
            )
        }
        EvidenceKind::Declared => {
            return verdict(
                ItemStatus::DeclarationNeeded,
                Text::new(
                    "no network test can show this item; a declaration is needed",
                    "ネットワーク検査では確認できないため申告が必要",
                ),
            )
        }
        EvidenceKind::Signal if item.checks.is_empty() => {
            return verdict(
                ItemStatus::DeclarationNeeded,
                Text::new(
                    "this profile collects no signals for this item yet; a declaration is needed",
                    "このプロファイルではこの項目の兆候をまだ収集しないため申告が必要",
                ),
            )
        }
        EvidenceKind::Signal if findings.is_empty() => {
            // The signals were not gathered (no domain survey, no host name among the
            // targets): nothing was measured, so the item stays with its declaration.
            return verdict(
                ItemStatus::DeclarationNeeded,
                Text::new(
                    "no signal was gathered for this item in this scan (e.g. --no-domain, or no host name among the targets); a declaration is needed",
                    "この検査ではこの項目の兆候を収集していない（--no-domain、または対象にホスト名がない等）ため申告が必要",
                ),
            );
        }
        EvidenceKind::Signal | EvidenceKind::Probe => {}
    }
    if findings.is_empty() {
        return verdict(
            ItemStatus::Indeterminate,
            Text::new("no endpoint was probed", "検査できたエンドポイントがない"),
        );
    }
    if findings.iter().all(|f| f.status == CheckStatus::NotRun) {
        return verdict(
            ItemStatus::Indeterminate,
            Text::new(
                "none of this item's checks ran in this scan mode",
                "このスキャンモードでは項目のチェックを実施していない",
            ),
        );
    }
    let not_run = findings.iter().filter(|f| f.status == CheckStatus::NotRun).count();
    let worst = findings.iter().map(|f| f.status).max().unwrap_or(CheckStatus::Indeterminate);
    let first = |status: CheckStatus| {
        let matching: Vec<&&Finding> = findings.iter().filter(|f| f.status == status).collect();
        let more = matching.len().saturating_sub(1);
        let head = matching.first().map(|f| (f.endpoint.as_str(), &f.message));
        match head {
            Some((endpoint, message)) if more > 0 => Text::new(
                format!("{endpoint}: {} (and {more} more)", message.en),
                format!("{endpoint}: {}（他{more}件）", message.ja),
            ),
            Some((endpoint, message)) => {
                Text::new(format!("{endpoint}: {}", message.en), format!("{endpoint}: {}", message.ja))
            }
            None => Text::new("", ""),
        }
    };
    let endpoints = {
        let mut labels: Vec<&str> = findings.iter().map(|f| f.endpoint.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        labels.len()
    };
    match worst {
        CheckStatus::Fail => verdict(ItemStatus::NonCompliant, first(CheckStatus::Fail)),
        CheckStatus::Indeterminate => verdict(ItemStatus::Indeterminate, first(CheckStatus::Indeterminate)),
        CheckStatus::Warn => verdict(ItemStatus::NeedsReview, first(CheckStatus::Warn)),
        CheckStatus::Pass | CheckStatus::NotRun | CheckStatus::Info if item.evidence == EvidenceKind::Signal => {
            verdict(
                ItemStatus::DeclarationNeeded,
                Text::new(
                    "network signals show no problem; the item still needs a declaration",
                    "ネットワーク上の兆候に問題はないが、申告が必要",
                ),
            )
        }
        CheckStatus::Pass | CheckStatus::NotRun | CheckStatus::Info if not_run > 0 => {
            let ran = item.checks.len().saturating_sub(not_run / endpoints.max(1));
            verdict(
                ItemStatus::Compliant,
                Text::new(
                    format!("the {ran} checks run passed on {endpoints} endpoint(s); the others need full mode"),
                    format!("{endpoints}エンドポイントで実施した{ran}チェックに合格（他はfullモードで実施）"),
                ),
            )
        }
        CheckStatus::Pass | CheckStatus::NotRun | CheckStatus::Info => verdict(
            ItemStatus::Compliant,
            Text::new(
                format!("all {} checks passed on {endpoints} endpoint(s)", item.checks.len()),
                format!("{endpoints}エンドポイントで全{}チェックに合格", item.checks.len()),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration(item: &str, state: DeclaredState) -> Declaration {
        Declaration {
            item: item.to_string(),
            state,
            reference: "規程 第1章".to_string(),
            declared_by: "山田".to_string(),
            declared_on: "2026-11-20".to_string(),
            note: None,
        }
    }

    /// Every merge rule: (item, status before, declared state) → status after, and whether
    /// the declaration decided it.
    #[test]
    fn declaration_merge_rules() {
        use DeclaredState::{Implemented, NotImplemented};
        const DECLARED_NA: DeclaredState = DeclaredState::NotApplicable;
        use ItemStatus::*;
        let profile = Profile::embedded();
        // 2-1.v is declared-only, 2-1.vi a signal item, 2-1.xii a probe item, 1-1.iii clinic-side.
        let cases = [
            ("2-1.v", DeclarationNeeded, Implemented, Compliant, Basis::Declared),
            ("2-1.v", DeclarationNeeded, NotImplemented, NonCompliant, Basis::Declared),
            ("2-1.v", DeclarationNeeded, DECLARED_NA, ItemStatus::NotApplicable, Basis::Declared),
            ("2-1.vi", DeclarationNeeded, Implemented, Compliant, Basis::Declared),
            ("2-1.vi", NeedsReview, Implemented, NeedsReview, Basis::Measured),
            ("2-1.vi", NeedsReview, NotImplemented, NonCompliant, Basis::Declared),
            ("2-1.vi", Indeterminate, Implemented, Compliant, Basis::Declared),
            ("2-1.vi", NonCompliant, Implemented, NonCompliant, Basis::Measured),
            ("2-1.xii", NonCompliant, Implemented, NonCompliant, Basis::Measured),
            ("2-1.xii", NonCompliant, DECLARED_NA, NonCompliant, Basis::Measured),
            ("2-1.xii", Indeterminate, Implemented, Indeterminate, Basis::Measured),
            ("2-1.xii", Compliant, DECLARED_NA, Compliant, Basis::Measured),
            ("2-1.xii", Compliant, NotImplemented, NonCompliant, Basis::Declared),
            ("1-1.iii", ItemStatus::NotApplicable, Implemented, ItemStatus::NotApplicable, Basis::Profile),
        ];
        for (item_id, before, state, after, basis) in cases {
            let item = profile.item(item_id).unwrap();
            let start_basis = if before == DeclarationNeeded || item.evidence == EvidenceKind::Outside {
                Basis::Profile
            } else {
                Basis::Measured
            };
            let mut verdict = ItemVerdict {
                item_id: item_id.to_string(),
                status: before,
                reason: Text::new("measured", "測定"),
                basis: start_basis,
                declaration: None,
            };
            merge_declaration(&mut verdict, item, &declaration(item_id, state));
            assert_eq!((verdict.status, verdict.basis), (after, basis), "{item_id} {before:?} + {state:?}");
            assert_eq!(verdict.declaration.as_ref().map(|d| d.state), Some(state));
            if basis == Basis::Declared {
                assert!(verdict.reason.ja.contains("規程 第1章"), "{}", verdict.reason.ja);
            }
        }
    }

    #[test]
    fn apply_declarations_touches_only_declared_items() {
        let profile = Profile::embedded();
        let evidence: ScanEvidence =
            serde_json::from_str(include_str!("../fixtures/evidence/compliant-tls12-tls13.json")).unwrap();
        let mut assessment = Assessment::evaluate(&profile, &evidence);
        let before = assessment.items.clone();
        let text = "[[declaration]]\nitem = \"2-1.v\"\nstatus = \"実施\"\nreference = \"R\"\ndeclared_by = \"D\"\ndeclared_on = 2026-11-20\n";
        let declarations = Declarations::parse(text, "d.toml", &profile).unwrap();
        assessment.apply_declarations(&profile, &declarations);
        for (old, new) in before.iter().zip(&assessment.items) {
            if new.item_id == "2-1.v" {
                assert_eq!((old.status, new.status), (ItemStatus::DeclarationNeeded, ItemStatus::Compliant));
            } else {
                assert_eq!(old.status, new.status, "{}", new.item_id);
                assert!(new.declaration.is_none());
            }
        }
    }
}
