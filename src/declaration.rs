//! Declarations: what the vendor states for items no network test can prove.
//!
//! A declarations file (TOML, written by `kensa declare init`) holds, per item, 実施 /
//! 未実施 / 対象外, a reference to the document that shows it, who declared it and when.
//! [`crate::verdict::Assessment::apply_declarations`] merges it with what was measured:
//! an item stays 申告待ち until declared, and a declaration never overrides a probe's 不適合.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::profile::{EvidenceKind, Profile};

/// What the declarer says of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeclaredState {
    /// 実施: the measure is in place.
    Implemented,
    /// 未実施: it is not.
    NotImplemented,
    /// 対象外: the item does not apply to this service.
    NotApplicable,
}

impl DeclaredState {
    /// The word the template uses.
    pub fn label_ja(self) -> &'static str {
        match self {
            DeclaredState::Implemented => "実施",
            DeclaredState::NotImplemented => "未実施",
            DeclaredState::NotApplicable => "対象外",
        }
    }

    /// English equivalent.
    pub fn label_en(self) -> &'static str {
        match self {
            DeclaredState::Implemented => "implemented",
            DeclaredState::NotImplemented => "not implemented",
            DeclaredState::NotApplicable => "not applicable",
        }
    }

    /// Reads the Japanese word or its English equivalent.
    fn parse(text: &str) -> Option<DeclaredState> {
        match text.trim() {
            "実施" | "implemented" => Some(DeclaredState::Implemented),
            "未実施" | "not-implemented" | "not implemented" => Some(DeclaredState::NotImplemented),
            "対象外" | "not-applicable" | "not applicable" => Some(DeclaredState::NotApplicable),
            _ => None,
        }
    }
}

/// One item's declaration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub item: String,
    pub state: DeclaredState,
    /// The document that shows it: title, URL or file, and section.
    pub reference: String,
    /// Who declared it (name, role, organisation).
    pub declared_by: String,
    /// When (YYYY-MM-DD).
    pub declared_on: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A loaded declarations file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declarations {
    /// The file, as given.
    pub source: String,
    /// SHA-256 of its text.
    pub sha256: String,
    /// Declared items, in file order. Entries left blank in the template are not here.
    pub entries: Vec<Declaration>,
}

/// Why a declarations file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct DeclarationError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    declaration: Vec<Spanned<RawDeclaration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclaration {
    item: Spanned<String>,
    status: Option<Spanned<String>>,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    declared_by: String,
    #[serde(default)]
    declared_on: Option<Spanned<toml::value::Datetime>>,
    #[serde(default)]
    note: String,
    // The template repeats the guideline's words for the declarer; they are not read back.
    #[serde(default, rename = "guideline")]
    _guideline: Option<String>,
    #[serde(default, rename = "obligation")]
    _obligation: Option<String>,
}

impl Declarations {
    /// Reads and validates a declarations file against `profile`.
    pub fn load(path: &Path, profile: &Profile) -> Result<Declarations, DeclarationError> {
        let source = path.display().to_string();
        let text = crate::input::read_text_limited(path, crate::input::PROFILE_LIMIT)
            .map_err(|e| DeclarationError { file: source.clone(), line: 0, message: e.to_string() })?;
        Declarations::parse(&text, &source, profile)
    }

    /// Parses declarations `text` (named `source` in errors) against `profile`.
    pub fn parse(text: &str, source: &str, profile: &Profile) -> Result<Declarations, DeclarationError> {
        let at = |offset: usize, message: String| DeclarationError {
            file: source.to_string(),
            line: crate::input::line_of(text, offset),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            at(offset, e.message().to_string())
        })?;
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut entries = Vec::new();
        for entry in raw.declaration {
            let start = entry.span().start;
            let entry = entry.into_inner();
            let item_id = entry.item.get_ref().trim().to_string();
            let item_at = entry.item.span().start;
            if profile.item(&item_id).is_none() {
                return Err(at(item_at, format!("unknown item {item_id:?} (not in profile {})", profile.meta.id)));
            };
            if let Some(first) = seen.insert(item_id.clone(), crate::input::line_of(text, start)) {
                return Err(at(item_at, format!("item {item_id} is declared twice (first on line {first})")));
            }
            let Some(status) = entry.status.filter(|s| !s.get_ref().trim().is_empty()) else {
                // A template entry not filled in yet: the item stays 申告待ち.
                continue;
            };
            let status_text = status.get_ref().trim();
            let state = DeclaredState::parse(status_text).ok_or_else(|| {
                at(status.span().start, format!("status {status_text:?} of {item_id}: write 実施, 未実施 or 対象外"))
            })?;
            let reference = entry.reference.trim().to_string();
            if reference.is_empty() && state != DeclaredState::NotImplemented {
                return Err(at(
                    item_at,
                    format!(
                        "{item_id} is declared {} without a reference (document title, URL or file, and section)",
                        state.label_ja()
                    ),
                ));
            }
            let declared_by = entry.declared_by.trim().to_string();
            if declared_by.is_empty() {
                return Err(at(item_at, format!("{item_id}: declared_by is empty (who declares it?)")));
            }
            let declared_on = match entry.declared_on {
                Some(date) => {
                    let value = date.get_ref();
                    match (value.date, value.time) {
                        (Some(day), None) => day.to_string(),
                        _ => {
                            return Err(at(
                                date.span().start,
                                format!("{item_id}: declared_on must be a date like 2026-11-20"),
                            ))
                        }
                    }
                }
                None => return Err(at(item_at, format!("{item_id}: declared_on is missing (a date like 2026-11-20)"))),
            };
            let note = entry.note.trim();
            entries.push(Declaration {
                item: item_id,
                state,
                reference,
                declared_by,
                declared_on,
                note: (!note.is_empty()).then(|| note.to_string()),
            });
        }
        Ok(Declarations {
            source: source.to_string(),
            sha256: crate::certificate::sha256_hex(text.as_bytes()),
            entries,
        })
    }

    /// The declaration of `item`, if any.
    pub fn get(&self, item: &str) -> Option<&Declaration> {
        self.entries.iter().find(|d| d.item == item)
    }

    /// A Japanese template listing every item a declaration can settle (declared and signal
    /// items; clinic-side items last), each with its guideline text.
    pub fn template(profile: &Profile) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "# kensa 申告ファイル — {}\n\
             # プロファイル: {} ({})\n\
             #\n\
             # ネットワーク検査では確認できない項目について、事業者が実施状況を申告します。\n\
             # 各 [[declaration]] の status に次のいずれかを書いてください（空欄のままの項目は「申告待ち」のまま残ります）。\n\
             #   実施   … 対策を実施している（reference に根拠文書を必ず記載）\n\
             #   未実施 … 実施していない（報告書では「不適合」になります）\n\
             #   対象外 … このサービスには当てはまらない（reference または note に理由を記載）\n\
             # reference: 根拠となる文書名・URL・ファイル名と章節（例: 「情報セキュリティ基本方針 第4章 4.2」）\n\
             # declared_by: 申告者（氏名・役職・組織）   declared_on: 申告日（例: 2026-11-20、引用符なし）\n\
             # 申告はネットワーク検査の「不適合」を覆しません。guideline と obligation は参考の転記で、読み込み時には使いません。\n\
             # kensa scan --declarations このファイル で検査結果と統合されます。\n",
            profile.meta.title_ja, profile.meta.id, profile.meta.revision
        ));
        let mut items: Vec<&crate::profile::Item> = profile
            .items
            .iter()
            .filter(|i| matches!(i.evidence, EvidenceKind::Declared | EvidenceKind::Signal))
            .collect();
        items.extend(profile.items.iter().filter(|i| i.evidence == EvidenceKind::Outside));
        for item in items {
            let kind = match item.evidence {
                EvidenceKind::Signal => "ネットワーク上の兆候は kensa が収集（申告も必要）",
                EvidenceKind::Outside => "医療機関・患者側の運用（事業者の検査では対象外。必要に応じて記載）",
                _ => "申告でのみ確認できる項目",
            };
            out.push_str(&format!(
                "\n# {} {}{} — {}\n[[declaration]]\nitem = \"{}\"\nguideline = {}\nobligation = \"{}\"\nstatus = \"\"\nreference = \"\"\ndeclared_by = \"\"\n# declared_on = 2026-11-20\nnote = \"\"\n",
                item.id,
                item.obligation.label_ja(),
                if item.starred { "（＊）" } else { "" },
                kind,
                item.id,
                toml_string(&item.quote_ja),
                item.obligation.label_ja(),
            ));
        }
        out
    }
}

/// A TOML basic string holding `text`.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::embedded()
    }

    const ONE: &str = "[[declaration]]\nitem = \"2-1.v\"\nstatus = \"実施\"\nreference = \"基本方針 第3章\"\ndeclared_by = \"山田\"\ndeclared_on = 2026-11-20\n";

    #[test]
    fn reads_a_filled_entry() {
        let d = Declarations::parse(ONE, "d.toml", &profile()).unwrap();
        assert_eq!(d.entries.len(), 1);
        let entry = &d.entries[0];
        assert_eq!((entry.item.as_str(), entry.state), ("2-1.v", DeclaredState::Implemented));
        assert_eq!(entry.declared_on, "2026-11-20");
        assert_eq!(d.sha256.len(), 64);
    }

    #[test]
    fn the_template_loads_and_declares_nothing() {
        let template = Declarations::template(&profile());
        let d = Declarations::parse(&template, "t.toml", &profile()).unwrap();
        assert!(d.entries.is_empty());
        assert!(template.contains("item = \"2-1.v\""), "{template}");
        assert!(template.contains("（＊）"));
        assert!(!template.contains("item = \"2-1.xii\""), "probe items are not declared");
    }

    #[test]
    fn a_filled_template_reads_back() {
        let template = Declarations::template(&profile());
        let (before, after) = template.split_at(template.find("item = \"2-1.v\"").unwrap());
        let filled = format!(
            "{before}{}",
            after.replacen(
                "status = \"\"\nreference = \"\"\ndeclared_by = \"\"\n# declared_on = 2026-11-20\n",
                "status = \"対象外\"\nreference = \"理由書 1章\"\ndeclared_by = \"佐藤\"\ndeclared_on = 2026-01-02\n",
                1
            )
        );
        let d = Declarations::parse(&filled, "t.toml", &profile()).unwrap();
        assert_eq!(d.entries.len(), 1, "{filled}");
        assert_eq!((d.entries[0].item.as_str(), d.entries[0].state), ("2-1.v", DeclaredState::NotApplicable));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (ONE.replace("2-1.v", "9-9.z"), 2, "unknown item"),
            (ONE.replace("実施", "done"), 3, "write 実施"),
            (format!("{ONE}\n{ONE}"), 9, "declared twice"),
            (ONE.replace("基本方針 第3章", ""), 2, "without a reference"),
            (ONE.replace("declared_on = 2026-11-20\n", ""), 2, "declared_on is missing"),
            (ONE.replace("2026-11-20", "2026-11-20T10:00:00"), 6, "must be a date"),
            (ONE.replace("note", "x").replace("declared_by", "signed_by"), 5, "unknown field"),
            ("[[declaration]\n".to_string(), 1, ""),
        ];
        for (text, line, fragment) in cases {
            let error = Declarations::parse(&text, "d.toml", &profile()).unwrap_err();
            assert_eq!(error.line, line, "{error}");
            assert!(error.message.contains(fragment), "{error}");
        }
    }
}
