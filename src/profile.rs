//! Guideline profiles: the items of a guideline revision and the checks that feed each,
//! kept as data in `probes/*.toml` so that a compliance reader can review the mapping
//! without reading Rust. The default profile is embedded in the binary.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::checks;

/// The embedded default profile: the 2023 revision of the online-medical-care guideline.
pub const DEFAULT_PROFILE_NAME: &str = "probes/mhlw-online-2023.toml";
const DEFAULT_PROFILE_TEXT: &str = include_str!("../probes/mhlw-online-2023.toml");

/// A loaded, validated profile.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    pub meta: ProfileMeta,
    pub sections: Vec<Section>,
    pub items: Vec<Item>,
    /// Where it was loaded from (a path, or the embedded name).
    pub source: String,
    /// SHA-256 of the profile text, so a report names exactly what it was judged against.
    pub sha256: String,
}

/// `[profile]`: which guideline and revision the file describes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMeta {
    pub id: String,
    pub title_ja: String,
    pub title_en: String,
    pub guideline: String,
    pub revision: String,
    pub data_version: u32,
}

/// `[[sections]]`: a heading that items belong to.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title_ja: String,
    pub title_en: String,
}

/// 遵守 (must) or 推奨 (should).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum Obligation {
    #[serde(rename = "遵守")]
    Required,
    #[serde(rename = "推奨")]
    Recommended,
}

impl Obligation {
    /// The guideline's own word.
    pub fn label_ja(self) -> &'static str {
        match self {
            Obligation::Required => "遵守",
            Obligation::Recommended => "推奨",
        }
    }

    /// English equivalent.
    pub fn label_en(self) -> &'static str {
        match self {
            Obligation::Required => "required",
            Obligation::Recommended => "recommended",
        }
    }
}

/// What kind of evidence can show an item.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceKind {
    /// Provable from the network: kensa's checks decide.
    Probe,
    /// A network signal supports the item but cannot prove it.
    Signal,
    /// Only a declaration by the vendor or clinic can show it.
    Declared,
    /// Clinic or patient behaviour, outside a vendor scan.
    Outside,
}

/// Whether the number of an item appears in a source or was inferred from bullet order.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Numbering {
    Confirmed,
    Inferred,
}

/// One item of the guideline.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub id: String,
    pub section: String,
    pub numbering: Numbering,
    pub quote_ja: String,
    pub gloss_en: String,
    pub obligation: Obligation,
    pub starred: bool,
    pub evidence: EvidenceKind,
    pub how_ja: String,
    pub how_en: String,
    pub checks: Vec<String>,
    pub remediation_ja: Option<String>,
    pub remediation_en: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    profile: ProfileMeta,
    sections: Vec<Section>,
    items: Vec<ItemFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemFile {
    id: Spanned<String>,
    section: Spanned<String>,
    numbering: Numbering,
    quote_ja: String,
    gloss_en: String,
    obligation: Obligation,
    starred: bool,
    evidence: Spanned<EvidenceKind>,
    how_ja: String,
    how_en: String,
    checks: Vec<Spanned<String>>,
    remediation_ja: Option<String>,
    remediation_en: Option<String>,
}

/// A profile that could not be loaded, with the place of the problem.
#[derive(Debug, PartialEq, Eq)]
pub struct ProfileError {
    pub file: String,
    /// 1-based line and column, when the problem has a place.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{}:{}: {}", self.file, line, column, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ProfileError {}

impl Profile {
    /// The embedded default profile.
    pub fn embedded() -> Profile {
        match Profile::parse(DEFAULT_PROFILE_TEXT, DEFAULT_PROFILE_NAME) {
            Ok(profile) => profile,
            // The embedded file is validated by a unit test; a broken build must not ship.
            Err(e) => panic!("embedded profile is invalid: {e}"),
        }
    }

    /// Loads a profile from a file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let name = path.display().to_string();
        let text = crate::input::read_text_limited(path, crate::input::PROFILE_LIMIT).map_err(|e| ProfileError {
            file: name.clone(),
            position: None,
            message: format!("cannot read profile: {e}"),
        })?;
        Profile::parse(&text, &name)
    }

    /// Parses and validates profile text; `name` is used in error messages.
    pub fn parse(text: &str, name: &str) -> Result<Profile, ProfileError> {
        let error = |span: Option<std::ops::Range<usize>>, message: String| ProfileError {
            file: name.to_string(),
            position: span.map(|s| line_column(text, s.start)),
            message,
        };
        let file: ProfileFile = toml::from_str(text).map_err(|e| error(e.span(), e.message().trim().to_string()))?;

        let mut section_ids = HashSet::new();
        for section in &file.sections {
            if !section_ids.insert(section.id.as_str()) {
                return Err(error(None, format!("section {:?} is defined twice", section.id)));
            }
        }
        let mut item_ids = HashSet::new();
        let mut items = Vec::with_capacity(file.items.len());
        for item in file.items {
            if !item_ids.insert(item.id.get_ref().clone()) {
                return Err(error(Some(item.id.span()), format!("item {:?} is defined twice", item.id.get_ref())));
            }
            if !section_ids.contains(item.section.get_ref().as_str()) {
                return Err(error(
                    Some(item.section.span()),
                    format!("item {:?} names unknown section {:?}", item.id.get_ref(), item.section.get_ref()),
                ));
            }
            let kind = *item.evidence.get_ref();
            match (kind, item.checks.is_empty()) {
                (EvidenceKind::Probe, true) => {
                    return Err(error(
                        Some(item.evidence.span()),
                        format!("item {:?} is of kind \"probe\" but names no checks", item.id.get_ref()),
                    ))
                }
                (EvidenceKind::Declared | EvidenceKind::Outside, false) => {
                    return Err(error(
                        Some(item.evidence.span()),
                        format!("item {:?} cannot be of kind {kind:?} and name checks", item.id.get_ref()),
                    ))
                }
                _ => {}
            }
            let mut checks = Vec::with_capacity(item.checks.len());
            for check in &item.checks {
                if checks::find(check.get_ref()).is_none() {
                    let known: Vec<&str> = checks::REGISTRY.iter().map(|c| c.id).collect();
                    return Err(error(
                        Some(check.span()),
                        format!("unknown check {:?} (known checks: {})", check.get_ref(), known.join(", ")),
                    ));
                }
                checks.push(check.get_ref().clone());
            }
            items.push(Item {
                id: item.id.into_inner(),
                section: item.section.into_inner(),
                numbering: item.numbering,
                quote_ja: item.quote_ja,
                gloss_en: item.gloss_en,
                obligation: item.obligation,
                starred: item.starred,
                evidence: kind,
                how_ja: item.how_ja,
                how_en: item.how_en,
                checks,
                remediation_ja: item.remediation_ja,
                remediation_en: item.remediation_en,
            });
        }
        if items.is_empty() {
            return Err(error(None, "the profile lists no items".to_string()));
        }
        Ok(Profile {
            meta: file.profile,
            sections: file.sections,
            items,
            source: name.to_string(),
            sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes())),
        })
    }

    /// The item with this ID.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_profile_is_complete() {
        let profile = Profile::embedded();
        assert_eq!(profile.items.len(), 44);
        for section in ["1-1", "1-2", "2", "2-1", "2-2", "3-2"] {
            assert!(profile.items.iter().any(|i| i.section == section), "section {section} has items");
        }
        let xii = profile.item("2-1.xii").expect("2-1.xii");
        assert_eq!(xii.evidence, EvidenceKind::Probe);
        assert!(xii.starred);
        assert_eq!(xii.obligation, Obligation::Required);
        assert!(xii.checks.contains(&"cert.trusted".to_string()));
        assert!(xii.remediation_ja.is_some());
        let starred = profile.items.iter().filter(|i| i.starred).count();
        assert_eq!(starred, 12);
        assert!(!profile.item("2-1.xv").expect("2-1.xv").starred);
    }

    fn minimal(item_extra: &str) -> String {
        format!(
            "[profile]\nid = \"t\"\ntitle_ja = \"t\"\ntitle_en = \"t\"\nguideline = \"g\"\nrevision = \"r\"\ndata_version = 1\n\n\
             [[sections]]\nid = \"2-1\"\ntitle_ja = \"s\"\ntitle_en = \"s\"\n\n\
             [[items]]\nid = \"2-1.xii\"\nsection = \"2-1\"\nnumbering = \"inferred\"\nquote_ja = \"q\"\ngloss_en = \"g\"\n\
             obligation = \"遵守\"\nstarred = true\nevidence = \"probe\"\nhow_ja = \"h\"\nhow_en = \"h\"\n{item_extra}"
        )
    }

    #[test]
    fn unknown_check_is_reported_with_its_line() {
        let text = minimal("checks = [\"tls.no-sslv2\",\n  \"tls.no-such-check\"]\n");
        let err = Profile::parse(&text, "p.toml").unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(text.lines().position(|l| l.contains("no-such")).unwrap() + 1));
        assert!(err.to_string().starts_with("p.toml:"));
        assert!(err.message.contains("unknown check \"tls.no-such-check\""), "{err}");
    }

    #[test]
    fn malformed_profiles_are_errors_with_places() {
        let cases = [
            (minimal("checks = [\"tls.no-sslv2\"]\nobligation2 = 1\n"), "unknown field"),
            (minimal("checks = [\"tls.no-sslv2\"\n"), ""),
            (minimal("checks = []\n"), "names no checks"),
            (minimal("checks = [\"tls.no-sslv2\"]\n").replace("\"遵守\"", "\"must\""), ""),
            (
                minimal("checks = [\"tls.no-sslv2\"]\n")
                    .replace("section = \"2-1\"\nnumbering", "section = \"9\"\nnumbering"),
                "unknown section",
            ),
        ];
        for (text, needle) in cases {
            let err = Profile::parse(&text, "p.toml").unwrap_err();
            assert!(err.position.is_some(), "{err}");
            assert!(err.message.contains(needle), "{err}");
        }
        assert!(Profile::parse(&minimal("checks = [\"tls.no-sslv2\"]\n"), "p.toml").is_ok());
    }
}
