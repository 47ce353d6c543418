//! Reading a bundle back: hashes, derived views, and the verdicts judged again offline.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::{
    check_path, derive_raw, hash_file, sha256_hex, walk, AssessmentRecord, BundleError, FileKind, Manifest, TreeEntry,
    ASSESSMENT_FILE, BUNDLE_SCHEMA, DECLARATIONS_FILE, EVIDENCE_FILE, FILE_LIMIT, MANIFEST_FILE, MANIFEST_LIMIT,
    PROFILE_BASE_FILE, PROFILE_FILE, RAW_DIR,
};
use crate::checks::CheckStatus;
use crate::declaration::Declarations;
use crate::evidence::{ScanEvidence, EVIDENCE_SCHEMA};
use crate::i18n::{Lang, Text};
use crate::input::PROFILE_LIMIT;
use crate::profile::Profile;
use crate::verdict::{Assessment, Basis, ItemStatus};

/// The outcome of [`verify`]: every file's state, every discrepancy, and what was compared.
#[derive(Clone, Debug)]
pub struct Verification {
    pub dir: PathBuf,
    /// SHA-256 of `manifest.json` as read: compare it with the digest a report names.
    pub manifest_sha256: String,
    /// The manifest as read.
    pub manifest: Manifest,
    /// The kensa doing the verification.
    pub running_version: String,
    /// One entry per manifest file, then one per unlisted file found.
    pub files: Vec<FileCheck>,
    /// What makes the bundle fail verification.
    pub problems: Vec<Discrepancy>,
    /// What is worth knowing but does not fail it (another kensa version, and what that
    /// version may legitimately change: derived views and wording).
    pub warnings: Vec<Discrepancy>,
    /// Item verdicts judged again and compared.
    pub items_compared: usize,
    /// Findings judged again and compared.
    pub findings_compared: usize,
}

/// One file's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheck {
    pub path: String,
    /// The manifest's kind; `None` for a file the manifest does not list.
    pub kind: Option<FileKind>,
    pub status: FileStatus,
}

/// Whether a file is as the manifest says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Size and SHA-256 as listed.
    Intact,
    /// Different bytes.
    Changed { actual_sha256: String, actual_bytes: u64 },
    /// Listed, not there.
    Missing,
    /// There, not listed.
    Unlisted,
    /// A symbolic link, device, FIFO or directory where a file belongs: never followed or read.
    NotRegular,
    /// Could not be read (permissions, over the size cap).
    Unreadable { reason: String },
}

/// One thing that differs from what the bundle claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discrepancy {
    /// A file's bytes are not those the manifest lists.
    Changed { path: String, expected_sha256: String, actual_sha256: String, expected_bytes: u64, actual_bytes: u64 },
    /// A listed file is missing.
    Missing { path: String },
    /// A file the manifest does not list.
    Unlisted { path: String },
    /// A symbolic link or special file inside the bundle.
    NotRegular { path: String },
    /// A file could not be read.
    Unreadable { path: String, reason: String },
    /// A `raw/` file differs from what `evidence.json` gives.
    DerivedDiffers { path: String },
    /// `evidence.json` gives a `raw/` file the bundle does not have.
    DerivedAbsent { path: String },
    /// The bundle lists a `raw/` file `evidence.json` does not give.
    NotDerived { path: String },
    /// `evidence.json` is not kensa evidence.
    EvidenceUnreadable { reason: String },
    /// The manifest's date is not the evidence's.
    CreatedAt { manifest: u64, evidence: u64 },
    /// `profile.toml` does not load.
    ProfileUnreadable { reason: String },
    /// `profile.toml` loads to another profile than the manifest names.
    ProfileChanged { recorded: String, recomputed: String },
    /// `profile-base.toml` is not the base this kensa embeds.
    ProfileBaseDiffers { base: String },
    /// `declarations.toml` does not load.
    DeclarationsUnreadable { reason: String },
    /// `declarations.toml` is not the file the manifest names.
    DeclarationsChanged { recorded: String, recomputed: String },
    /// `assessment.json` is not a kensa assessment record.
    AssessmentUnreadable { reason: String },
    /// `assessment.json` names another profile than the manifest.
    AssessmentProfile { recorded: String, manifest: String },
    /// An item's status differs.
    ItemStatus { item: String, recorded: ItemStatus, recomputed: ItemStatus },
    /// What decided an item differs.
    ItemBasis { item: String, recorded: Basis, recomputed: Basis },
    /// Judging again gives an item `assessment.json` lacks.
    ItemAbsent { item: String },
    /// `assessment.json` has an item judging again does not give.
    ItemUnexpected { item: String },
    /// A finding's status differs.
    FindingStatus { item: String, check: String, subject: String, recorded: CheckStatus, recomputed: CheckStatus },
    /// Judging again gives a finding `assessment.json` lacks.
    FindingAbsent { item: String, check: String, subject: String },
    /// `assessment.json` has a finding judging again does not give.
    FindingUnexpected { item: String, check: String, subject: String },
    /// The exit code differs.
    ExitCode { recorded: i32, recomputed: i32 },
    /// A reason, message, declaration state or raise differs while statuses agree.
    Wording { what: String },
    /// The bundle was written by another kensa version.
    Version { bundle: String, running: String },
}

impl Discrepancy {
    /// The discrepancy in both languages.
    pub fn text(&self) -> Text {
        use Discrepancy as D;
        match self {
            D::Changed { path, expected_sha256, actual_sha256, expected_bytes, actual_bytes } => Text::new(
                format!(
                    "{path}: changed (SHA-256 {actual_sha256}, {actual_bytes} bytes; manifest: {expected_sha256}, {expected_bytes} bytes)"
                ),
                format!(
                    "{path}: 改変あり（SHA-256 {actual_sha256}、{actual_bytes}バイト。マニフェストでは {expected_sha256}、{expected_bytes}バイト）"
                ),
            ),
            D::Missing { path } => Text::new(format!("{path}: missing"), format!("{path}: ファイルがない")),
            D::Unlisted { path } => Text::new(
                format!("{path}: not listed in the manifest"),
                format!("{path}: マニフェストにないファイル"),
            ),
            D::NotRegular { path } => Text::new(
                format!("{path}: not a regular file (link or special file; not followed)"),
                format!("{path}: 通常のファイルではない（リンク等。参照しない）"),
            ),
            D::Unreadable { path, reason } => {
                Text::new(format!("{path}: cannot be read: {reason}"), format!("{path}: 読めない: {reason}"))
            }
            D::DerivedDiffers { path } => Text::new(
                format!("{path}: differs from what evidence.json gives"),
                format!("{path}: evidence.json から導いた内容と異なる"),
            ),
            D::DerivedAbsent { path } => Text::new(
                format!("{path}: evidence.json gives this file, the bundle lacks it"),
                format!("{path}: evidence.json から導かれるファイルがバンドルにない"),
            ),
            D::NotDerived { path } => Text::new(
                format!("{path}: evidence.json does not give this file"),
                format!("{path}: evidence.json からは導かれないファイル"),
            ),
            D::EvidenceUnreadable { reason } => Text::new(
                format!("{EVIDENCE_FILE}: not kensa evidence: {reason}"),
                format!("{EVIDENCE_FILE}: kensa のエビデンスとして読めない: {reason}"),
            ),
            D::CreatedAt { manifest, evidence } => Text::new(
                format!("manifest date {manifest} is not the evidence's finished_at {evidence}"),
                format!("マニフェストの日時 {manifest} がエビデンスの finished_at {evidence} と異なる"),
            ),
            D::ProfileUnreadable { reason } => Text::new(
                format!("{PROFILE_FILE}: does not load: {reason}"),
                format!("{PROFILE_FILE}: 読み込めない: {reason}"),
            ),
            D::ProfileChanged { recorded, recomputed } => Text::new(
                format!("{PROFILE_FILE}: profile SHA-256 is {recomputed}, the manifest says {recorded}"),
                format!("{PROFILE_FILE}: プロファイルの SHA-256 が {recomputed}（マニフェストでは {recorded}）"),
            ),
            D::ProfileBaseDiffers { base } => Text::new(
                format!("{PROFILE_BASE_FILE}: not the embedded profile {base} of this kensa"),
                format!("{PROFILE_BASE_FILE}: この kensa の組み込みプロファイル {base} と異なる"),
            ),
            D::DeclarationsUnreadable { reason } => Text::new(
                format!("{DECLARATIONS_FILE}: does not load: {reason}"),
                format!("{DECLARATIONS_FILE}: 読み込めない: {reason}"),
            ),
            D::DeclarationsChanged { recorded, recomputed } => Text::new(
                format!("{DECLARATIONS_FILE}: SHA-256 is {recomputed}, the manifest says {recorded}"),
                format!("{DECLARATIONS_FILE}: SHA-256 が {recomputed}（マニフェストでは {recorded}）"),
            ),
            D::AssessmentUnreadable { reason } => Text::new(
                format!("{ASSESSMENT_FILE}: not a kensa assessment: {reason}"),
                format!("{ASSESSMENT_FILE}: kensa の判定結果として読めない: {reason}"),
            ),
            D::AssessmentProfile { recorded, manifest } => Text::new(
                format!("{ASSESSMENT_FILE}: judged with profile {recorded}, the manifest names {manifest}"),
                format!("{ASSESSMENT_FILE}: プロファイル {recorded} で判定（マニフェストでは {manifest}）"),
            ),
            D::ItemStatus { item, recorded, recomputed } => Text::new(
                format!("item {item}: recorded {}, judged again {}", recorded.label_en(), recomputed.label_en()),
                format!("項目 {item}: 記録は{}、再判定は{}", recorded.label_ja(), recomputed.label_ja()),
            ),
            D::ItemBasis { item, recorded, recomputed } => Text::new(
                format!("item {item}: recorded basis {recorded:?}, judged again {recomputed:?}"),
                format!("項目 {item}: 判定根拠が記録 {recorded:?}、再判定 {recomputed:?}"),
            ),
            D::ItemAbsent { item } => Text::new(
                format!("item {item}: judged again, but not in {ASSESSMENT_FILE}"),
                format!("項目 {item}: 再判定にあるが {ASSESSMENT_FILE} にない"),
            ),
            D::ItemUnexpected { item } => Text::new(
                format!("item {item}: in {ASSESSMENT_FILE}, but not judged again"),
                format!("項目 {item}: {ASSESSMENT_FILE} にあるが再判定にない"),
            ),
            D::FindingStatus { item, check, subject, recorded, recomputed } => Text::new(
                format!(
                    "{item} {check} on {subject}: recorded {}, judged again {}",
                    recorded.as_str(),
                    recomputed.as_str()
                ),
                format!("{item} {check}（{subject}）: 記録は{}、再判定は{}", recorded.as_str(), recomputed.as_str()),
            ),
            D::FindingAbsent { item, check, subject } => Text::new(
                format!("{item} {check} on {subject}: judged again, but not in {ASSESSMENT_FILE}"),
                format!("{item} {check}（{subject}）: 再判定にあるが {ASSESSMENT_FILE} にない"),
            ),
            D::FindingUnexpected { item, check, subject } => Text::new(
                format!("{item} {check} on {subject}: in {ASSESSMENT_FILE}, but not judged again"),
                format!("{item} {check}（{subject}）: {ASSESSMENT_FILE} にあるが再判定にない"),
            ),
            D::ExitCode { recorded, recomputed } => Text::new(
                format!("exit code: recorded {recorded}, judged again {recomputed}"),
                format!("終了コード: 記録は{recorded}、再判定は{recomputed}"),
            ),
            D::Wording { what } => Text::new(
                format!("{what}: the wording differs from {ASSESSMENT_FILE}"),
                format!("{what}: 文言が {ASSESSMENT_FILE} と異なる"),
            ),
            D::Version { bundle, running } => Text::new(
                format!("written by kensa {bundle}, verified with kensa {running}"),
                format!("kensa {bundle} で作成、kensa {running} で検証"),
            ),
        }
    }
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text().en)
    }
}

impl Verification {
    /// Whether the bundle is confirmed: every hash, every derived view and every verdict.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The outcome as report lines in `lang`: a summary, then each problem and warning.
    pub fn lines(&self, lang: Lang) -> Vec<String> {
        let intact = self.files.iter().filter(|f| f.status == FileStatus::Intact).count();
        let listed = self.files.iter().filter(|f| f.kind.is_some()).count();
        let mut lines = vec![match lang {
            Lang::En => format!("bundle {} (manifest SHA-256 {})", self.dir.display(), self.manifest_sha256),
            Lang::Ja => format!("バンドル {}（マニフェスト SHA-256 {}）", self.dir.display(), self.manifest_sha256),
        }];
        lines.push(match lang {
            Lang::En => format!(
                "{intact}/{listed} files intact; {} items and {} findings judged again",
                self.items_compared, self.findings_compared
            ),
            Lang::Ja => format!(
                "{listed}ファイル中{intact}ファイル改変なし。{}項目・{}件の所見を再判定",
                self.items_compared, self.findings_compared
            ),
        });
        lines.extend(self.problems.iter().map(|p| match lang {
            Lang::En => format!("FAIL {}", p.text().en),
            Lang::Ja => format!("不一致 {}", p.text().ja),
        }));
        lines.extend(self.warnings.iter().map(|w| match lang {
            Lang::En => format!("note {}", w.text().en),
            Lang::Ja => format!("注記 {}", w.text().ja),
        }));
        lines.push(match (lang, self.ok()) {
            (Lang::En, true) => "verified: same files, same verdicts".to_string(),
            (Lang::En, false) => format!("NOT verified: {} problem(s)", self.problems.len()),
            (Lang::Ja, true) => "検証済み: ファイル・判定とも一致".to_string(),
            (Lang::Ja, false) => format!("検証失敗: 不一致{}件", self.problems.len()),
        });
        lines
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.lines(Lang::En) {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Reads the bundle at `dir` and checks it offline; see the module documentation for the
/// steps. Errors are kept for a bundle that cannot be read at all (no or broken manifest, an
/// unsafe path in it); everything else is a [`Discrepancy`] in the result.
pub fn verify(dir: &Path) -> Result<Verification, BundleError> {
    let metadata = std::fs::metadata(dir).map_err(|e| BundleError::io(dir, e))?;
    if !metadata.is_dir() {
        return Err(BundleError::NotADirectory(dir.to_path_buf()));
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest_bytes = read_manifest(&manifest_path)?;
    let manifest = parse_manifest(&manifest_path, &manifest_bytes)?;
    let running_version = env!("CARGO_PKG_VERSION").to_string();
    let same_version = manifest.kensa_version == running_version;
    let mut v = Verification {
        dir: dir.to_path_buf(),
        manifest_sha256: sha256_hex(&manifest_bytes),
        manifest,
        running_version,
        files: Vec::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
        items_compared: 0,
        findings_compared: 0,
    };
    if !same_version {
        v.warnings.push(Discrepancy::Version {
            bundle: v.manifest.kensa_version.clone(),
            running: v.running_version.clone(),
        });
    }

    let tree = walk(dir)?;
    let contents = check_files(dir, &tree, &mut v);
    let evidence = contents.get(EVIDENCE_FILE).and_then(|bytes| match read_evidence(bytes) {
        Ok(evidence) => Some(evidence),
        Err(reason) => {
            v.problems.push(Discrepancy::EvidenceUnreadable { reason });
            None
        }
    });
    let Some(evidence) = evidence else { return Ok(v) };
    if v.manifest.created_at != evidence.finished_at {
        v.problems.push(Discrepancy::CreatedAt { manifest: v.manifest.created_at, evidence: evidence.finished_at });
    }
    compare_derived(&evidence, &mut v, same_version);
    rejudge(&evidence, &contents, &mut v, same_version);
    Ok(v)
}

fn read_manifest(path: &Path) -> Result<Vec<u8>, BundleError> {
    let invalid = |reason: String| BundleError::InvalidManifest { path: path.to_path_buf(), reason };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BundleError::NoManifest(path.parent().unwrap_or(path).to_path_buf()))
        }
        Err(e) => return Err(BundleError::io(path, e)),
        Ok(m) if !m.is_file() => return Err(invalid("not a regular file".to_string())),
        Ok(_) => {}
    }
    crate::input::read_limited(path, MANIFEST_LIMIT).map_err(invalid)
}

/// The manifest, strictly: known schema, known fields, safe and unique paths, the fixed
/// files present with their kinds, derived files under `raw/`.
fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest, BundleError> {
    let invalid = |reason: String| BundleError::InvalidManifest { path: path.to_path_buf(), reason };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(BUNDLE_SCHEMA) => {}
        Some(other) => {
            return Err(BundleError::UnsupportedSchema { path: path.to_path_buf(), found: other.to_string() })
        }
        None => return Err(invalid("no schema: not a kensa bundle manifest".to_string())),
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for file in &manifest.files {
        check_path(&file.path).map_err(|reason| BundleError::UnsafePath { path: file.path.clone(), reason })?;
        if !seen.insert(file.path.as_str()) {
            return Err(invalid(format!("{} is listed twice", file.path)));
        }
        if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(invalid(format!("{}: {:?} is not a SHA-256", file.path, file.sha256)));
        }
        let fixed = match file.kind {
            FileKind::Evidence => Some(EVIDENCE_FILE),
            FileKind::Assessment => Some(ASSESSMENT_FILE),
            FileKind::Profile => Some(PROFILE_FILE),
            FileKind::ProfileBase => Some(PROFILE_BASE_FILE),
            FileKind::Declarations => Some(DECLARATIONS_FILE),
            _ => None,
        };
        let placed = match fixed {
            Some(name) => file.path == name,
            None => file.path.starts_with(&format!("{RAW_DIR}/")),
        };
        if !placed {
            return Err(invalid(format!("{} cannot be of kind {}", file.path, file.kind)));
        }
    }
    for required in [EVIDENCE_FILE, ASSESSMENT_FILE, PROFILE_FILE] {
        if !seen.contains(required) {
            return Err(invalid(format!("{required} is not listed")));
        }
    }
    if manifest.profile.file != PROFILE_FILE {
        return Err(invalid(format!("the profile must be {PROFILE_FILE}")));
    }
    if let Some(declarations) = &manifest.declarations {
        if declarations.file != DECLARATIONS_FILE || !seen.contains(DECLARATIONS_FILE) {
            return Err(invalid(format!("declarations must be listed as {DECLARATIONS_FILE}")));
        }
    } else if seen.contains(DECLARATIONS_FILE) {
        return Err(invalid(format!("{DECLARATIONS_FILE} is listed without a declarations entry")));
    }
    Ok(manifest)
}

/// Checks every listed file against the manifest and finds unlisted ones. Returns the
/// contents of the files judging needs (read once, so what is hashed is what is judged).
fn check_files(dir: &Path, tree: &BTreeMap<String, TreeEntry>, v: &mut Verification) -> HashMap<String, Vec<u8>> {
    let mut contents = HashMap::new();
    let mut files = Vec::new();
    for listed in &v.manifest.files {
        let path = &listed.path;
        let status = match tree.get(path) {
            None => FileStatus::Missing,
            Some(TreeEntry::Dir | TreeEntry::Other) => FileStatus::NotRegular,
            Some(TreeEntry::File) => {
                let on_disk = dir.join(path);
                // Texts that are parsed are read whole, once, so what is hashed is what is judged.
                let limit = match listed.kind {
                    FileKind::Profile | FileKind::ProfileBase | FileKind::Declarations => PROFILE_LIMIT,
                    _ => FILE_LIMIT,
                };
                let hashed = if listed.kind.is_derived() {
                    hash_file(&on_disk, limit)
                } else {
                    crate::input::read_limited(&on_disk, limit).map(|bytes| {
                        let digest = (sha256_hex(&bytes), bytes.len() as u64);
                        contents.insert(path.clone(), bytes);
                        digest
                    })
                };
                match hashed {
                    Ok((sha256, bytes)) if sha256 == listed.sha256 && bytes == listed.bytes => FileStatus::Intact,
                    Ok((actual_sha256, actual_bytes)) => FileStatus::Changed { actual_sha256, actual_bytes },
                    Err(reason) => FileStatus::Unreadable { reason },
                }
            }
        };
        match &status {
            FileStatus::Intact | FileStatus::Unlisted => {}
            FileStatus::Changed { actual_sha256, actual_bytes } => v.problems.push(Discrepancy::Changed {
                path: path.clone(),
                expected_sha256: listed.sha256.clone(),
                actual_sha256: actual_sha256.clone(),
                expected_bytes: listed.bytes,
                actual_bytes: *actual_bytes,
            }),
            FileStatus::Missing => v.problems.push(Discrepancy::Missing { path: path.clone() }),
            FileStatus::NotRegular => v.problems.push(Discrepancy::NotRegular { path: path.clone() }),
            FileStatus::Unreadable { reason } => {
                v.problems.push(Discrepancy::Unreadable { path: path.clone(), reason: reason.clone() })
            }
        }
        files.push(FileCheck { path: path.clone(), kind: Some(listed.kind), status });
    }
    let listed: BTreeSet<&str> = v.manifest.files.iter().map(|f| f.path.as_str()).collect();
    for (path, entry) in tree {
        if path == MANIFEST_FILE || listed.contains(path.as_str()) || *entry == TreeEntry::Dir {
            continue;
        }
        v.problems.push(match entry {
            TreeEntry::File => Discrepancy::Unlisted { path: path.clone() },
            _ => Discrepancy::NotRegular { path: path.clone() },
        });
        files.push(FileCheck { path: path.clone(), kind: None, status: FileStatus::Unlisted });
    }
    v.files = files;
    contents
}

fn read_evidence(bytes: &[u8]) -> Result<ScanEvidence, String> {
    let evidence: ScanEvidence = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if evidence.schema != EVIDENCE_SCHEMA {
        return Err(format!("evidence schema {:?} is not supported (expected {EVIDENCE_SCHEMA:?})", evidence.schema));
    }
    Ok(evidence)
}

/// Derives `raw/` from the evidence and compares it with the manifest (whose hashes the
/// files on disk were already checked against).
fn compare_derived(evidence: &ScanEvidence, v: &mut Verification, same_version: bool) {
    let derived = derive_raw(evidence);
    let listed: BTreeMap<&str, &super::ManifestFile> =
        v.manifest.files.iter().filter(|f| f.kind.is_derived()).map(|f| (f.path.as_str(), f)).collect();
    let mut found = Vec::new();
    for file in &derived {
        match listed.get(file.path.as_str()) {
            None => found.push(Discrepancy::DerivedAbsent { path: file.path.clone() }),
            Some(entry) => {
                let same = entry.kind == file.kind
                    && entry.bytes == file.content.len() as u64
                    && entry.sha256 == sha256_hex(&file.content);
                if !same {
                    found.push(Discrepancy::DerivedDiffers { path: file.path.clone() });
                }
            }
        }
    }
    let derived_paths: BTreeSet<&str> = derived.iter().map(|f| f.path.as_str()).collect();
    for path in listed.keys().filter(|p| !derived_paths.contains(*p)) {
        found.push(Discrepancy::NotDerived { path: path.to_string() });
    }
    // Another kensa may lay the views out differently; the hashes above still hold them.
    if same_version {
        v.problems.extend(found);
    } else {
        v.warnings.extend(found);
    }
}

/// Loads the profile and declarations from the bundle, judges the evidence again, and
/// compares with `assessment.json`.
fn rejudge(evidence: &ScanEvidence, contents: &HashMap<String, Vec<u8>>, v: &mut Verification, same_version: bool) {
    let text = |name: &str| contents.get(name).map(|bytes| String::from_utf8_lossy(bytes).into_owned());
    let Some(profile_text) = text(PROFILE_FILE) else { return };
    let profile = match Profile::parse(&profile_text, &v.manifest.profile.source) {
        Ok(profile) => profile,
        Err(e) => {
            v.problems.push(Discrepancy::ProfileUnreadable { reason: e.to_string() });
            return;
        }
    };
    if profile.sha256 != v.manifest.profile.sha256 {
        v.problems.push(Discrepancy::ProfileChanged {
            recorded: v.manifest.profile.sha256.clone(),
            recomputed: profile.sha256.clone(),
        });
    }
    if let Some(base) = &profile.meta.extends {
        let embedded = Profile::embedded_text(base).map(str::as_bytes);
        if contents.get(PROFILE_BASE_FILE).map(Vec::as_slice) != embedded {
            v.problems.push(Discrepancy::ProfileBaseDiffers { base: base.clone() });
        }
    }
    let declarations = match (&v.manifest.declarations, text(DECLARATIONS_FILE)) {
        (Some(recorded), Some(declarations_text)) => {
            match Declarations::parse(&declarations_text, &recorded.source, &profile) {
                Ok(parsed) => {
                    if parsed.sha256 != recorded.sha256 {
                        v.problems.push(Discrepancy::DeclarationsChanged {
                            recorded: recorded.sha256.clone(),
                            recomputed: parsed.sha256.clone(),
                        });
                    }
                    Some(parsed)
                }
                Err(e) => {
                    v.problems.push(Discrepancy::DeclarationsUnreadable { reason: e.to_string() });
                    return;
                }
            }
        }
        // Listed but unreadable: already a problem of the file itself.
        (Some(_), None) => return,
        (None, _) => None,
    };
    let mut assessment = Assessment::evaluate_with(&profile, evidence, v.manifest.judging);
    if let Some(declarations) = &declarations {
        assessment.apply_declarations(&profile, declarations);
    }
    let recomputed = AssessmentRecord::of(&profile, &assessment);
    let Some(bytes) = contents.get(ASSESSMENT_FILE) else { return };
    let recorded: AssessmentRecord = match serde_json::from_slice(bytes) {
        Ok(record) => record,
        Err(e) => {
            v.problems.push(Discrepancy::AssessmentUnreadable { reason: e.to_string() });
            return;
        }
    };
    if recorded.profile_sha256 != v.manifest.profile.sha256 {
        v.problems.push(Discrepancy::AssessmentProfile {
            recorded: format!("{} ({})", recorded.profile_id, recorded.profile_sha256),
            manifest: format!("{} ({})", v.manifest.profile.id, v.manifest.profile.sha256),
        });
    }
    v.items_compared = recomputed.items.len();
    v.findings_compared = recomputed.findings.len();
    let (problems, wording) = compare_assessments(&recorded, &recomputed);
    v.problems.extend(problems);
    if same_version {
        v.problems.extend(wording);
    } else {
        v.warnings.extend(wording);
    }
}

/// Differences between the recorded and the recomputed verdicts: (status differences,
/// wording differences).
pub(super) fn compare_assessments(
    recorded: &AssessmentRecord,
    recomputed: &AssessmentRecord,
) -> (Vec<Discrepancy>, Vec<Discrepancy>) {
    let mut problems = Vec::new();
    let mut wording = Vec::new();
    let recorded_items: BTreeMap<&str, _> = recorded.items.iter().map(|i| (i.item_id.as_str(), i)).collect();
    let recomputed_items: BTreeMap<&str, _> = recomputed.items.iter().map(|i| (i.item_id.as_str(), i)).collect();
    for (id, again) in &recomputed_items {
        let Some(was) = recorded_items.get(id) else {
            problems.push(Discrepancy::ItemAbsent { item: id.to_string() });
            continue;
        };
        if was.status != again.status {
            problems.push(Discrepancy::ItemStatus {
                item: id.to_string(),
                recorded: was.status,
                recomputed: again.status,
            });
        }
        if was.basis != again.basis {
            problems.push(Discrepancy::ItemBasis {
                item: id.to_string(),
                recorded: was.basis,
                recomputed: again.basis,
            });
        }
        if was.reason != again.reason || was.declared != again.declared {
            wording.push(Discrepancy::Wording { what: format!("item {id}") });
        }
    }
    for id in recorded_items.keys().filter(|id| !recomputed_items.contains_key(*id)) {
        problems.push(Discrepancy::ItemUnexpected { item: id.to_string() });
    }

    // A check may judge one subject more than once; number repeats so each is compared.
    let keyed = |record: &AssessmentRecord| {
        let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
        let mut map = BTreeMap::new();
        for f in &record.findings {
            let key = (f.item_id.clone(), f.check_id.clone(), f.endpoint.clone());
            let n = seen.entry(key.clone()).or_insert(0);
            map.insert((key, *n), f.clone());
            *n += 1;
        }
        map
    };
    let was = keyed(recorded);
    let again = keyed(recomputed);
    for (key, finding) in &again {
        let ((item, check, subject), _) = key.clone();
        match was.get(key) {
            None => problems.push(Discrepancy::FindingAbsent { item, check, subject }),
            Some(old) if old.status != finding.status => problems.push(Discrepancy::FindingStatus {
                item,
                check,
                subject,
                recorded: old.status,
                recomputed: finding.status,
            }),
            Some(old) if old.message != finding.message || old.raised_from != finding.raised_from => {
                wording.push(Discrepancy::Wording { what: format!("{item} {check} on {subject}") })
            }
            Some(_) => {}
        }
    }
    for ((item, check, subject), _) in was.keys().filter(|k| !again.contains_key(*k)).cloned() {
        problems.push(Discrepancy::FindingUnexpected { item, check, subject });
    }
    if recorded.exit_code != recomputed.exit_code {
        problems.push(Discrepancy::ExitCode { recorded: recorded.exit_code, recomputed: recomputed.exit_code });
    }
    (problems, wording)
}
