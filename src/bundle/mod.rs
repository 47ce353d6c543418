//! Evidence bundles: a directory holding everything a verdict rests on, in files an auditor
//! can open with ordinary tools, and a manifest that fixes each file's SHA-256.
//!
//! [`write`] builds a bundle from a scan's evidence, the profile text it was judged with, the
//! vendor's declarations and the judging options; [`verify`] reads one back, offline, and
//! confirms that nothing changed and that the same kensa reaches the same verdicts.
//!
//! # Layout
//!
//! ```text
//! manifest.json            schema "kensa.bundle/1", kensa version, created_at (the scan's
//!                          finished_at, so the same input always gives the same bundle),
//!                          profile {id, source, sha256, file}, declarations {source, sha256,
//!                          file}, judging options, files [{path, sha256, bytes, kind}]
//! evidence.json            the ScanEvidence: the source of truth
//! assessment.json          item verdicts and every finding's status, as judged
//! profile.toml             the exact profile text
//! profile-base.toml        the embedded profile it `extends`, if it extends one
//! declarations.toml        the exact declarations text, if any were given
//! raw/trust/               extra-roots.pem, system-roots.pem (the trust anchors of the run)
//! raw/endpoints/NN-LABEL/  handshakes/NNN-VERSION-PURPOSE.txt (sent and received bytes, hex)
//!                          chains/NN-VERSION[-VARIANT].pem (+ .ocsp.der, a stapled response)
//!                          fetches/NNN-PURPOSE.txt, .body, -request.der (AIA, OCSP, CRL)
//! raw/domains/survey.json  survey settings, skipped hosts, hosts outside every domain
//! raw/domains/NN-DOMAIN/   registration.json, rdap-N.json and whois-N.txt (the registries'
//!                          own words), dns.json (delegation, DNSSEC, CNAME chains, CAA)
//! ```
//!
//! Everything under `raw/` is a function of `evidence.json` (see [`derive_raw`]): it is there
//! so an auditor can run `openssl x509` on a chain or read a WHOIS answer without kensa, and
//! `verify` derives it again and compares, so an edited raw file is caught even when its hash
//! in the manifest was edited too. The manifest's own SHA-256 ([`BundleSummary::manifest_sha256`])
//! is the bundle's digest: a report names it, and any change to any file changes it.
//!
//! # Verification
//!
//! [`verify`] (1) reads `manifest.json` (size-capped, unknown fields refused, every path
//! checked to stay inside the bundle), (2) checks that every listed file exists with its size
//! and SHA-256 and that no unlisted file is present, (3) derives `raw/` from `evidence.json`
//! and compares, (4) re-loads the profile (its SHA-256 must be the manifest's) and the
//! declarations, judges the evidence again and compares every item's and every finding's
//! status with `assessment.json`, and (5) warns, without failing, when it runs under another
//! kensa version than the one that wrote the bundle — derived views and wording may then
//! differ legitimately, so those differences become warnings while verdicts must still agree.
//!
//! A bundle is hostile input: symbolic links are never followed, a path with `..` or a leading
//! `/` is an error, every read is size-capped, and nothing outside the directory is read.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checks::CheckStatus;
use crate::declaration::{Declarations, DeclaredState};
use crate::evidence::{ScanEvidence, UnixSeconds};
use crate::i18n::Text;
use crate::profile::Profile;
use crate::verdict::{Assessment, Basis, ItemStatus, JudgingOptions};

mod export;
mod verify;

pub use export::{derive_raw, write};
pub use verify::{verify, Discrepancy, FileCheck, FileStatus, Verification};

/// Version tag of the bundle format. Bump on any incompatible change.
pub const BUNDLE_SCHEMA: &str = "kensa.bundle/1";

/// The manifest's file name, at the top of the bundle.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The evidence, the bundle's source of truth.
pub const EVIDENCE_FILE: &str = "evidence.json";
/// The verdicts as judged when the bundle was written.
pub const ASSESSMENT_FILE: &str = "assessment.json";
/// The profile text.
pub const PROFILE_FILE: &str = "profile.toml";
/// The embedded base of a profile with `extends`.
pub const PROFILE_BASE_FILE: &str = "profile-base.toml";
/// The declarations text.
pub const DECLARATIONS_FILE: &str = "declarations.toml";
/// The directory of derived views.
pub const RAW_DIR: &str = "raw";

/// Largest manifest accepted (a scan of many endpoints lists a few thousand files).
pub const MANIFEST_LIMIT: u64 = 16 << 20;
/// Largest single file accepted in a bundle.
pub const FILE_LIMIT: u64 = crate::input::EVIDENCE_LIMIT;
/// Longest path component written or accepted.
pub const COMPONENT_LIMIT: usize = 80;
/// Deepest path written or accepted (`raw/endpoints/NN-LABEL/handshakes/FILE` is 5).
pub const DEPTH_LIMIT: usize = 8;
/// Most directory entries `verify` walks before giving up on a bundle.
pub const ENTRY_LIMIT: usize = 200_000;

/// What a bundle needs to be written.
#[derive(Clone, Copy, Debug)]
pub struct BundleInput<'a> {
    pub evidence: &'a ScanEvidence,
    /// The profile the evidence was judged with.
    pub profile: &'a Profile,
    /// Its exact text ([`Profile::resolve_with_text`]); it must parse to `profile`'s SHA-256.
    pub profile_text: &'a str,
    /// The declarations merged into the verdicts, if any.
    pub declarations: Option<BundleDeclarations<'a>>,
    /// The judging options of the assessment.
    pub options: JudgingOptions,
    /// The verdicts as reported (declarations already applied).
    pub assessment: &'a Assessment,
}

/// Declarations as given and as parsed.
#[derive(Clone, Copy, Debug)]
pub struct BundleDeclarations<'a> {
    /// The exact file text; its SHA-256 must be `parsed.sha256`.
    pub text: &'a str,
    pub parsed: &'a Declarations,
}

/// What [`write`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleSummary {
    /// The bundle directory.
    pub dir: PathBuf,
    /// SHA-256 (hex) of `manifest.json`: the digest that names the whole bundle.
    pub manifest_sha256: String,
    /// Files listed in the manifest (the manifest itself not counted).
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Why a bundle could not be written or read at all. Problems found inside a readable
/// bundle are not errors: [`verify`] lists them in its [`Verification`].
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bundle path exists and is not a directory (or is a symbolic link).
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// The target directory holds files and is not a previous kensa bundle.
    #[error("{dir} is not empty and holds no kensa bundle ({entry} is there); choose an empty or new directory")]
    NotABundle { dir: PathBuf, entry: String },
    /// The directory holds more entries than any bundle kensa writes.
    #[error("{dir} holds more than {ENTRY_LIMIT} entries: not a kensa bundle")]
    TooManyEntries { dir: PathBuf },
    /// A previous bundle would be replaced, but it holds a file its manifest does not list.
    #[error("{dir} holds a previous bundle and {entry}, which is not part of it; kensa will not delete it")]
    ForeignFile { dir: PathBuf, entry: String },
    /// `manifest.json` is missing.
    #[error("{0}: no manifest.json: not a kensa evidence bundle")]
    NoManifest(PathBuf),
    /// `manifest.json` is not a readable kensa manifest.
    #[error("{path}: invalid manifest: {reason}")]
    InvalidManifest { path: PathBuf, reason: String },
    /// The manifest's schema is not one this kensa reads.
    #[error("{path}: bundle schema {found:?} is not supported (expected {BUNDLE_SCHEMA:?})")]
    UnsupportedSchema { path: PathBuf, found: String },
    /// A path in the manifest would leave the bundle, or is not one kensa writes.
    #[error("unsafe path {path:?} in the manifest: {reason}")]
    UnsafePath { path: String, reason: String },
    /// The input to [`write`] does not hang together (e.g. profile text of another profile).
    #[error("cannot write the bundle: {0}")]
    Inconsistent(String),
}

impl BundleError {
    fn io(path: &Path, source: std::io::Error) -> BundleError {
        BundleError::Io { path: path.to_path_buf(), source }
    }
}

/// What a file of the bundle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// `evidence.json`.
    Evidence,
    /// `assessment.json`.
    Assessment,
    /// `profile.toml`.
    Profile,
    /// `profile-base.toml`.
    ProfileBase,
    /// `declarations.toml`.
    Declarations,
    /// Trust anchors of the run, PEM.
    TrustRoots,
    /// One hand-built hello and its reply, hex.
    Handshake,
    /// A served certificate chain, PEM.
    Chain,
    /// A stapled OCSP response, DER.
    OcspStaple,
    /// What an outbound fetch was and how it ended.
    Fetch,
    /// The body a fetch received.
    FetchBody,
    /// The body a fetch sent (an OCSP request).
    FetchRequest,
    /// HTTP response heads of an endpoint.
    HttpHead,
    /// The domain survey's settings and the hosts no domain covers.
    Survey,
    /// A domain's registration lookups (what was asked, when, how it ended).
    Registration,
    /// An RDAP answer as received.
    Rdap,
    /// A WHOIS answer as received.
    Whois,
    /// A domain's DNS answers.
    Dns,
}

impl FileKind {
    /// Whether files of this kind are derived from `evidence.json` (and live under `raw/`).
    pub fn is_derived(self) -> bool {
        !matches!(
            self,
            FileKind::Evidence
                | FileKind::Assessment
                | FileKind::Profile
                | FileKind::ProfileBase
                | FileKind::Declarations
        )
    }
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`BUNDLE_SCHEMA`].
    pub schema: String,
    /// The kensa that wrote the bundle.
    pub kensa_version: String,
    /// The scan's `finished_at`: a bundle is dated by its evidence, not by when it was written.
    pub created_at: UnixSeconds,
    pub profile: ManifestProfile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declarations: Option<ManifestDeclarations>,
    /// The options the verdicts were judged with.
    pub judging: JudgingOptions,
    /// Every file but the manifest, sorted by path.
    pub files: Vec<ManifestFile>,
}

/// The profile a bundle was judged with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestProfile {
    pub id: String,
    /// Where it was loaded from when the bundle was written (a path, or the embedded name).
    pub source: String,
    /// [`Profile::sha256`].
    pub sha256: String,
    /// The bundle file with its text.
    pub file: String,
}

/// The declarations a bundle's verdicts include.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestDeclarations {
    /// The file as given when the bundle was written.
    pub source: String,
    /// [`Declarations::sha256`].
    pub sha256: String,
    /// The bundle file with its text.
    pub file: String,
}

/// One file of the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Relative, `/`-separated.
    pub path: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    pub bytes: u64,
    pub kind: FileKind,
}

/// `assessment.json`: what was judged, reduced to what verification compares (no check
/// evidence: that is a function of `evidence.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentRecord {
    pub profile_id: String,
    pub profile_sha256: String,
    pub exit_code: i32,
    pub items: Vec<ItemRecord>,
    pub findings: Vec<FindingRecord>,
}

/// One item's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRecord {
    pub item_id: String,
    pub status: ItemStatus,
    pub basis: Basis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<DeclaredState>,
    pub reason: Text,
}

/// One check's result on one subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRecord {
    pub item_id: String,
    pub check_id: String,
    pub endpoint: String,
    pub status: CheckStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised_from: Option<CheckStatus>,
    pub message: Text,
}

impl AssessmentRecord {
    /// The record of `assessment`, judged with `profile`.
    pub fn of(profile: &Profile, assessment: &Assessment) -> AssessmentRecord {
        AssessmentRecord {
            profile_id: profile.meta.id.clone(),
            profile_sha256: profile.sha256.clone(),
            exit_code: assessment.exit_code(),
            items: assessment
                .items
                .iter()
                .map(|v| ItemRecord {
                    item_id: v.item_id.clone(),
                    status: v.status,
                    basis: v.basis,
                    declared: v.declaration.as_ref().map(|d| d.state),
                    reason: v.reason.clone(),
                })
                .collect(),
            findings: assessment
                .findings
                .iter()
                .map(|f| FindingRecord {
                    item_id: f.item_id.clone(),
                    check_id: f.check_id.clone(),
                    endpoint: f.endpoint.clone(),
                    status: f.status,
                    raised_from: f.raised_from,
                    message: f.message.clone(),
                })
                .collect(),
        }
    }
}

/// A file of the bundle before it is written, or as [`derive_raw`] derives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleFile {
    /// Relative, `/`-separated, every component passed through [`sanitise_component`].
    pub path: String,
    pub kind: FileKind,
    pub content: Vec<u8>,
}

/// `text` as one safe path component: ASCII letters, digits, `.`, `-` and `_` only (anything
/// else becomes `_`, one for a run), no leading `.` or `_` (so never `.` or `..`, never
/// hidden), at most
/// [`COMPONENT_LIMIT`] bytes, never empty.
///
/// ```
/// use kensa::bundle::sanitise_component;
/// assert_eq!(sanitise_component("../etc/passwd"), "etc_passwd");
/// assert_eq!(sanitise_component("example.jp [192.0.2.1]:443"), "example.jp_192.0.2.1_443");
/// assert_eq!(sanitise_component(""), "_");
/// ```
pub fn sanitise_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(COMPONENT_LIMIT));
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' };
        // Runs of replaced characters say nothing; one underscore is enough.
        if c == '_' && out.ends_with('_') {
            continue;
        }
        if out.len() >= COMPONENT_LIMIT {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim_start_matches(['.', '_']).trim_end_matches('_');
    if trimmed.is_empty() {
        "_".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Checks that `path` (from a manifest) is one kensa could have written: relative,
/// `/`-separated, at most [`DEPTH_LIMIT`] components, each a fixed point of
/// [`sanitise_component`]. That rules out `..`, absolute paths, backslashes, empty and
/// hidden components, and anything but ASCII.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".to_string());
    }
    if path.starts_with('/') {
        return Err("absolute path".to_string());
    }
    let components: Vec<&str> = path.split('/').collect();
    if components.len() > DEPTH_LIMIT {
        return Err(format!("deeper than {DEPTH_LIMIT} components"));
    }
    for component in components {
        if component == ".." || component == "." {
            return Err("leaves the bundle (`..` or `.`)".to_string());
        }
        if component.is_empty() {
            return Err("empty component".to_string());
        }
        if sanitise_component(component) != component {
            return Err(format!("component {component:?} is not one kensa writes"));
        }
    }
    if path == MANIFEST_FILE {
        return Err("the manifest cannot list itself".to_string());
    }
    Ok(())
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// SHA-256 and size of the regular file at `path`, read in pieces so a large raw file is
/// never held whole; files over `limit` bytes are refused.
fn hash_file(path: &Path, limit: u64) -> Result<(String, u64), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = file.take(limit + 1);
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 64 << 10];
    let mut total: u64 = 0;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(format!("larger than {} MiB", limit >> 20));
        }
        context.update(&buffer[..n]);
    }
    Ok((hex::encode(context.finish()), total))
}

/// `bytes` as lowercase hex, 32 bytes a line.
fn hex_lines(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + bytes.len() / 16 + 1);
    for chunk in bytes.chunks(32) {
        out.push_str(&hex::encode(chunk));
        out.push('\n');
    }
    out
}

/// DER certificates as PEM, 64 characters a line (what `openssl x509` reads).
fn pem_certificates<'a>(certificates: impl IntoIterator<Item = &'a [u8]>) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in certificates {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(der);
        for line in encoded.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitised_components_stay_inside_the_bundle() {
        for hostile in ["..", ".", "../..", "/etc/passwd", "a/b", "a\\b", "\u{0}", "é.jp", ".hidden", "", "___"] {
            let safe = sanitise_component(hostile);
            assert!(check_path(&safe).is_ok(), "{hostile:?} → {safe:?}");
            assert!(!safe.contains('/') && !safe.contains('\\') && safe != ".." && !safe.starts_with('.'));
            assert!(safe.is_ascii() && !safe.is_empty());
        }
        let long = "x".repeat(1000);
        assert_eq!(sanitise_component(&long).len(), COMPONENT_LIMIT);
        assert_eq!(sanitise_component("[2001:db8::1]:443"), "2001_db8_1_443");
        assert_eq!(sanitise_component("TLSv1.2"), "TLSv1.2");
    }

    #[test]
    fn manifest_paths_that_leave_the_bundle_are_refused() {
        for bad in ["../x", "/abs", "raw/../../x", "raw//x", "raw/./x", "a\\b", "raw/.hidden", "manifest.json", ""] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
        let deep = ["a"; DEPTH_LIMIT + 1].join("/");
        assert!(check_path(&deep).is_err());
        assert!(check_path("raw/endpoints/01-example.jp_192.0.2.1_443/handshakes/001-tls1.2-suites.txt").is_ok());
    }

    #[test]
    fn hex_and_pem_are_line_wrapped() {
        assert_eq!(hex_lines(&[0xab; 33]), format!("{}\nab\n", "ab".repeat(32)));
        let pem = pem_certificates([&[1u8; 100][..]]);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n") && pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
    }
}

/// What the walk found at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TreeEntry {
    File,
    Dir,
    Other,
}

/// Every entry under `dir`, by relative `/` path, without following links.
pub(super) fn walk(dir: &Path) -> Result<std::collections::BTreeMap<String, TreeEntry>, BundleError> {
    let mut found = std::collections::BTreeMap::new();
    let mut pending = vec![(dir.to_path_buf(), String::new(), 0usize)];
    while let Some((path, prefix, depth)) = pending.pop() {
        let reader = std::fs::read_dir(&path).map_err(|e| BundleError::io(&path, e))?;
        for entry in reader {
            let entry = entry.map_err(|e| BundleError::io(&path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let kind = match entry.file_type() {
                Ok(t) if t.is_file() => TreeEntry::File,
                Ok(t) if t.is_dir() => TreeEntry::Dir,
                _ => TreeEntry::Other,
            };
            if kind == TreeEntry::Dir {
                if depth + 1 >= DEPTH_LIMIT {
                    // Nothing kensa writes is this deep; what is there is unlisted.
                    found.insert(relative, TreeEntry::Other);
                    continue;
                }
                pending.push((entry.path(), relative.clone(), depth + 1));
            }
            found.insert(relative, kind);
            if found.len() > ENTRY_LIMIT {
                return Err(BundleError::TooManyEntries { dir: dir.to_path_buf() });
            }
        }
    }
    Ok(found)
}
