//! Writing a bundle: the files, their derived views, the manifest, and the atomic swap into
//! place.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{
    check_path, hex_lines, pem_certificates, sanitise_component, sha256_hex, AssessmentRecord, BundleError, BundleFile,
    BundleInput, BundleSummary, FileKind, Manifest, ManifestDeclarations, ManifestFile, ManifestProfile,
    ASSESSMENT_FILE, BUNDLE_SCHEMA, DECLARATIONS_FILE, EVIDENCE_FILE, MANIFEST_FILE, MANIFEST_LIMIT, PROFILE_BASE_FILE,
    PROFILE_FILE, RAW_DIR,
};
use crate::evidence::domain::{DomainEvidence, DomainSurvey, LookupAnswer, RegistrationSource};
use crate::evidence::http::HttpOutcome;
use crate::evidence::{EndpointEvidence, Fetch, FetchOutcome, FetchPurpose, ScanEvidence, TlsVersion};
use crate::profile::Profile;
use crate::verdict::Assessment;

/// Files the derived views add, collected under one directory.
struct Out<'a> {
    dir: String,
    files: &'a mut Vec<BundleFile>,
}

impl Out<'_> {
    /// Adds `content` as `name` (components separated by `/`, each sanitised again here so no
    /// view can write outside its directory whatever the evidence holds).
    fn add(&mut self, name: &str, kind: FileKind, content: impl Into<Vec<u8>>) {
        let safe: Vec<String> = name.split('/').map(sanitise_component).collect();
        self.files.push(BundleFile { path: format!("{}/{}", self.dir, safe.join("/")), kind, content: content.into() });
    }
}

/// One derived view of a whole scan.
type ScanView = fn(&ScanEvidence, &mut Out<'_>);
/// One derived view of an endpoint, written into the endpoint's directory.
type EndpointView = fn(&EndpointEvidence, &mut Out<'_>);
/// One derived view of a registrable domain, written into the domain's directory.
type DomainView = fn(&DomainEvidence, &DomainSurvey, &mut Out<'_>);

/// Views of the whole scan, under `raw/`.
const SCAN_VIEWS: &[ScanView] = &[trust_roots, survey];
/// Views of each endpoint, under `raw/endpoints/NN-LABEL/`; a new kind of endpoint evidence
/// gets its view by adding a function here.
const ENDPOINT_VIEWS: &[EndpointView] = &[handshakes, chains, fetches, http_heads];
/// Views of each registrable domain, under `raw/domains/NN-DOMAIN/`.
const DOMAIN_VIEWS: &[DomainView] = &[registration, dns];

/// The `raw/` files of a bundle: views of `evidence` an auditor can read without kensa,
/// sorted by path. A pure function of the evidence, so [`super::verify`] can derive them
/// again and compare.
pub fn derive_raw(evidence: &ScanEvidence) -> Vec<BundleFile> {
    let mut files = Vec::new();
    for view in SCAN_VIEWS {
        view(evidence, &mut Out { dir: RAW_DIR.to_string(), files: &mut files });
    }
    let endpoints = evidence.targets.iter().flat_map(|t| &t.endpoints);
    for (n, endpoint) in endpoints.enumerate() {
        let label = endpoint_dir_name(n + 1, endpoint);
        for view in ENDPOINT_VIEWS {
            view(endpoint, &mut Out { dir: format!("{RAW_DIR}/endpoints/{label}"), files: &mut files });
        }
    }
    if let Some(domains) = &evidence.domains {
        for (n, domain) in domains.domains.iter().enumerate() {
            let name = format!("{:02}-{}", n + 1, sanitise_component(&domain.name));
            for view in DOMAIN_VIEWS {
                view(domain, domains, &mut Out { dir: format!("{RAW_DIR}/domains/{name}"), files: &mut files });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// `NN-host_ip_port`: numbered, because two endpoints may sanitise to the same label.
fn endpoint_dir_name(n: usize, endpoint: &EndpointEvidence) -> String {
    let ip = endpoint.address.ip().to_string();
    let label = match &endpoint.server_name {
        Some(name) => format!("{name}_{ip}_{}", endpoint.address.port()),
        None => format!("{ip}_{}", endpoint.address.port()),
    };
    format!("{n:02}-{}", sanitise_component(&label))
}

/// A version as a file-name word.
fn version_slug(version: TlsVersion) -> &'static str {
    match version {
        TlsVersion::Ssl2 => "ssl2",
        TlsVersion::Ssl3 => "ssl3",
        TlsVersion::Tls10 => "tls1.0",
        TlsVersion::Tls11 => "tls1.1",
        TlsVersion::Tls12 => "tls1.2",
        TlsVersion::Tls13 => "tls1.3",
    }
}

/// A serde enum's spelling (`suites`, `rsa_signatures`, `ca_issuers`).
fn serde_word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Pretty JSON with a final newline; the views are built from plain values, so this cannot
/// fail in practice, and an empty object is a visible rather than a silent fallback.
fn json_text(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

fn trust_roots(evidence: &ScanEvidence, out: &mut Out<'_>) {
    for (name, roots) in [("extra-roots.pem", &evidence.extra_roots), ("system-roots.pem", &evidence.system_roots)] {
        if !roots.is_empty() {
            out.add(&format!("trust/{name}"), FileKind::TrustRoots, pem_certificates(roots.iter().map(|c| &c.0[..])));
        }
    }
}

fn survey(evidence: &ScanEvidence, out: &mut Out<'_>) {
    let Some(survey) = &evidence.domains else { return };
    let covered = |host: &str| survey.domains.iter().any(|d| d.name == host);
    let unassigned: Vec<_> = survey.hosts.iter().filter(|h| !covered(&h.registrable_domain)).collect();
    let value = json!({
        "public_suffix_list": survey.public_suffix_list,
        "trust_anchor": survey.trust_anchor,
        "rdap_servers": survey.rdap_servers,
        "whois_server": survey.whois_server,
        "skipped": survey.skipped,
        "unassigned_hosts": unassigned,
    });
    out.add("domains/survey.json", FileKind::Survey, json_text(&value));
}

fn handshakes(endpoint: &EndpointEvidence, out: &mut Out<'_>) {
    let exchanges = endpoint.hand_built.iter().flat_map(|a| a.exchanges.iter().map(move |e| (a.version, e)));
    for (n, (version, exchange)) in exchanges.enumerate() {
        let purpose = serde_word(&exchange.purpose);
        let hex_list = |values: &[u16]| match values {
            [] => "-".to_string(),
            _ => values.iter().map(|v| format!("0x{v:04x}")).collect::<Vec<_>>().join(" "),
        };
        // The reply without its certificates, which the chains/ view holds as PEM.
        let mut reply = serde_json::to_value(&exchange.reply).unwrap_or_default();
        if let Some(object) = reply.as_object_mut() {
            if let Some(chain) = object.remove("chain") {
                object.insert("chain_certificates".to_string(), json!(chain.as_array().map_or(0, Vec::len)));
            }
        }
        let mut text = String::new();
        text.push_str(&format!("# kensa hand-built hello {} on {}\n", n + 1, endpoint.label()));
        text.push_str(&format!("version: {}\n", version.name()));
        text.push_str(&format!("purpose: {purpose}\n"));
        text.push_str(&format!("offered_suites: {}\n", hex_list(&exchange.offered_suites)));
        text.push_str(&format!("offered_groups: {}\n", hex_list(&exchange.offered_groups)));
        text.push_str(&format!("offered_versions: {}\n", hex_list(&exchange.offered_versions)));
        text.push_str(&format!("offered_extensions: {}\n", hex_list(&exchange.offered_extensions)));
        text.push_str(&format!("fallback_scsv: {}\n", exchange.fallback_scsv));
        text.push_str(&format!("elapsed_ms: {}\n", exchange.elapsed_ms));
        text.push_str(&format!("reply: {}\n", serde_json::to_string(&reply).unwrap_or_default()));
        text.push_str(&format!("\nsent: {} bytes\n", exchange.sent.0.len()));
        text.push_str(&hex_lines(&exchange.sent.0));
        let truncated = if exchange.received_truncated { ", truncated" } else { "" };
        text.push_str(&format!("\nreceived: {} bytes{truncated}\n", exchange.received.0.len()));
        text.push_str(&hex_lines(&exchange.received.0));
        out.add(&format!("handshakes/{:03}-{}-{purpose}.txt", n + 1, version_slug(version)), FileKind::Handshake, text);
    }
}

fn chains(endpoint: &EndpointEvidence, out: &mut Out<'_>) {
    for (n, chain) in endpoint.served_chains().iter().enumerate() {
        let variant = chain.variant.map(|v| format!("-{}", serde_word(&v))).unwrap_or_default();
        let stem = format!("chains/{:02}-{}{variant}", n + 1, version_slug(chain.version));
        out.add(&format!("{stem}.pem"), FileKind::Chain, pem_certificates(chain.certificates.iter().map(|c| &c.0[..])));
        if let Some(ocsp) = chain.ocsp_response {
            out.add(&format!("{stem}.ocsp.der"), FileKind::OcspStaple, ocsp.to_vec());
        }
    }
}

fn fetches(endpoint: &EndpointEvidence, out: &mut Out<'_>) {
    for (n, fetch) in endpoint.fetches.iter().enumerate() {
        let stem = format!("fetches/{:03}-{}", n + 1, serde_word(&fetch.purpose));
        out.add(&format!("{stem}.txt"), FileKind::Fetch, fetch_text(fetch));
        if let Some(request) = &fetch.request {
            out.add(&format!("{stem}-request.der"), FileKind::FetchRequest, request.0.clone());
        }
        if let FetchOutcome::Response { body, .. } = &fetch.outcome {
            let extension = match fetch.purpose {
                FetchPurpose::Ocsp | FetchPurpose::Crl => "der",
                FetchPurpose::Rdap => "json",
                FetchPurpose::CaIssuers => "body",
            };
            out.add(&format!("{stem}.{extension}"), FileKind::FetchBody, body.0.clone());
        }
    }
}

/// Every HTTP exchange of the posture probe: the plain-HTTP hops, the HTTPS entry page and
/// the cleartext WebSocket attempt, each as its URL and the response head as received (or
/// why there was none). Cookie values were redacted when the evidence was recorded.
fn http_heads(endpoint: &EndpointEvidence, out: &mut Out<'_>) {
    let Some(posture) = &endpoint.http else { return };
    let plain = posture.plain.iter().flat_map(|chain| chain.hops.iter()).map(|hop| ("plain", hop));
    let entry = posture.entry.iter().map(|exchange| ("entry", exchange));
    let websocket = posture.cleartext_websocket.iter().map(|exchange| ("websocket", exchange));
    for (n, (kind, exchange)) in plain.chain(entry).chain(websocket).enumerate() {
        let mut text = format!("url: {}\nelapsed_ms: {}\n\n", exchange.url, exchange.elapsed_ms);
        match &exchange.outcome {
            HttpOutcome::Response(head) => text.push_str(&head.head),
            HttpOutcome::Error { error, reason } => {
                text.push_str(&format!("error: {}\nreason: {reason}\n", serde_word(error)))
            }
        }
        out.add(&format!("http/{:02}-{kind}.txt", n + 1), FileKind::HttpHead, text);
    }
}

fn fetch_text(fetch: &Fetch) -> String {
    let mut text = format!(
        "purpose: {}\nurl: {}\ncertificate_sha256: {}\nelapsed_ms: {}\n",
        serde_word(&fetch.purpose),
        fetch.url,
        fetch.certificate_sha256,
        fetch.elapsed_ms
    );
    match &fetch.outcome {
        FetchOutcome::Response { status, content_type, body } => {
            text.push_str(&format!("status: {status}\n"));
            if let Some(content_type) = content_type {
                text.push_str(&format!("content_type: {content_type}\n"));
            }
            text.push_str(&format!("body: {} bytes, sha256 {}\n", body.0.len(), sha256_hex(&body.0)));
        }
        FetchOutcome::Failed { reason } => text.push_str(&format!("failed: {reason}\n")),
    }
    text
}

fn registration(domain: &DomainEvidence, _: &DomainSurvey, out: &mut Out<'_>) {
    let mut lookups = Vec::new();
    for (n, lookup) in domain.registration.lookups.iter().enumerate() {
        let raw = match &lookup.answer {
            LookupAnswer::Found { raw, .. } | LookupAnswer::NotFound { raw } | LookupAnswer::Unparsed { raw, .. } => {
                Some(raw)
            }
            LookupAnswer::Failed { .. } => None,
        };
        let file = raw.map(|raw| {
            let (name, kind) = match lookup.source {
                RegistrationSource::Rdap => (format!("rdap-{}.json", n + 1), FileKind::Rdap),
                RegistrationSource::Whois => (format!("whois-{}.txt", n + 1), FileKind::Whois),
            };
            out.add(&name, kind, raw.as_bytes());
            name
        });
        let mut answer = serde_json::to_value(&lookup.answer).unwrap_or_default();
        if let Some(object) = answer.as_object_mut() {
            object.remove("raw");
        }
        lookups.push(json!({
            "source": lookup.source,
            "server": lookup.server,
            "query": lookup.query,
            "at": lookup.at,
            "elapsed_ms": lookup.elapsed_ms,
            "answer": answer,
            "raw_file": file,
        }));
    }
    let value = json!({
        "domain": domain.name,
        "public_suffix": domain.public_suffix,
        "role": domain.role,
        "hosts": domain.hosts,
        "lookups": lookups,
    });
    out.add("registration.json", FileKind::Registration, json_text(&value));
}

fn dns(domain: &DomainEvidence, survey: &DomainSurvey, out: &mut Out<'_>) {
    let hosts: Vec<_> = survey.hosts.iter().filter(|h| h.registrable_domain == domain.name).collect();
    let value = json!({
        "domain": domain.name,
        "delegation": domain.delegation,
        "dnssec": domain.dnssec,
        "hosts": hosts,
    });
    out.add("dns.json", FileKind::Dns, json_text(&value));
}

/// Every file of the bundle but the manifest, sorted by path, and the manifest describing them.
fn assemble(input: &BundleInput<'_>) -> Result<(Vec<BundleFile>, Manifest), BundleError> {
    let BundleInput { evidence, profile, profile_text, declarations, options, assessment } = *input;
    let reparsed = Profile::parse(profile_text, &profile.source)
        .map_err(|e| BundleError::Inconsistent(format!("the profile text does not load: {e}")))?;
    if reparsed.sha256 != profile.sha256 {
        return Err(BundleError::Inconsistent(format!(
            "the profile text is not that of profile {} (SHA-256 {} ≠ {})",
            profile.meta.id, reparsed.sha256, profile.sha256
        )));
    }
    if options != assessment.options {
        return Err(BundleError::Inconsistent("the judging options are not those of the assessment".to_string()));
    }
    let evidence_json = pretty_json(evidence)?;
    let record = AssessmentRecord::of(profile, assessment);
    // A bundle that would fail `verify` the moment it is written is refused instead: the
    // verdicts must be what the written evidence, profile and declarations give.
    let reread: ScanEvidence = serde_json::from_slice(&evidence_json)
        .map_err(|e| BundleError::Inconsistent(format!("the evidence does not read back: {e}")))?;
    let mut again = Assessment::evaluate_with(&reparsed, &reread, options);
    if let Some(declarations) = declarations {
        again.apply_declarations(&reparsed, declarations.parsed);
    }
    let (statuses, wording) = super::verify::compare_assessments(&record, &AssessmentRecord::of(&reparsed, &again));
    if let Some(first) = statuses.iter().chain(&wording).next() {
        return Err(BundleError::Inconsistent(format!(
            "the assessment is not what the evidence, profile and declarations give ({first}, {} difference(s))",
            statuses.len() + wording.len()
        )));
    }
    let mut files = vec![
        BundleFile { path: EVIDENCE_FILE.to_string(), kind: FileKind::Evidence, content: evidence_json },
        BundleFile { path: ASSESSMENT_FILE.to_string(), kind: FileKind::Assessment, content: pretty_json(&record)? },
        BundleFile {
            path: PROFILE_FILE.to_string(),
            kind: FileKind::Profile,
            content: profile_text.as_bytes().to_vec(),
        },
    ];
    if let Some(base) = &profile.meta.extends {
        // The overlay alone does not say what was judged; the base it extends does.
        let text = Profile::embedded_text(base)
            .ok_or_else(|| BundleError::Inconsistent(format!("profile extends unknown profile {base:?}")))?;
        files.push(BundleFile {
            path: PROFILE_BASE_FILE.to_string(),
            kind: FileKind::ProfileBase,
            content: text.as_bytes().to_vec(),
        });
    }
    let manifest_declarations = match declarations {
        Some(declarations) => {
            if sha256_hex(declarations.text.as_bytes()) != declarations.parsed.sha256 {
                return Err(BundleError::Inconsistent(format!(
                    "the declarations text is not that of {}",
                    declarations.parsed.source
                )));
            }
            files.push(BundleFile {
                path: DECLARATIONS_FILE.to_string(),
                kind: FileKind::Declarations,
                content: declarations.text.as_bytes().to_vec(),
            });
            Some(ManifestDeclarations {
                source: declarations.parsed.source.clone(),
                sha256: declarations.parsed.sha256.clone(),
                file: DECLARATIONS_FILE.to_string(),
            })
        }
        None => None,
    };
    files.extend(derive_raw(evidence));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for pair in files.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(BundleError::Inconsistent(format!("two files would be written as {}", pair[0].path)));
        }
    }
    for file in &files {
        check_path(&file.path).map_err(|reason| BundleError::UnsafePath { path: file.path.clone(), reason })?;
    }
    let manifest = Manifest {
        schema: BUNDLE_SCHEMA.to_string(),
        kensa_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: evidence.finished_at,
        profile: ManifestProfile {
            id: profile.meta.id.clone(),
            source: profile.source.clone(),
            sha256: profile.sha256.clone(),
            file: PROFILE_FILE.to_string(),
        },
        declarations: manifest_declarations,
        judging: options,
        files: files
            .iter()
            .map(|f| ManifestFile {
                path: f.path.clone(),
                sha256: sha256_hex(&f.content),
                bytes: f.content.len() as u64,
                kind: f.kind,
            })
            .collect(),
    };
    Ok((files, manifest))
}

/// Pretty JSON with a final newline.
fn pretty_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, BundleError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| BundleError::Inconsistent(format!("cannot serialise: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes the bundle of `input` to `dir` and returns its digest.
///
/// `dir` may be new, an empty directory, or a previous kensa bundle whose every file its
/// manifest lists; anything else is refused, so a user's files are never deleted. The bundle
/// is built in a temporary sibling directory and renamed into place, so `dir` never holds
/// half a bundle. The same input always gives the same bytes (the bundle is dated by the
/// evidence, not by the clock).
pub fn write(dir: &Path, input: &BundleInput<'_>) -> Result<BundleSummary, BundleError> {
    // The staging directory is a sibling named after the bundle; `.` or `/` has no sibling.
    if dir.file_name().is_none() {
        return Err(BundleError::NotADirectory(dir.to_path_buf()));
    }
    let (files, manifest) = assemble(input)?;
    let manifest_text = pretty_json(&manifest)?;
    if manifest_text.len() as u64 > MANIFEST_LIMIT {
        return Err(BundleError::Inconsistent(format!(
            "the manifest would exceed {} MiB, more than verify accepts",
            MANIFEST_LIMIT >> 20
        )));
    }
    let previous = inspect_target(dir)?;
    let parent = parent_of(dir);
    std::fs::create_dir_all(&parent).map_err(|e| BundleError::io(&parent, e))?;
    let staging = fresh_sibling(dir, "kensa-tmp")?;
    let written = (|| {
        for file in &files {
            let path = staging.join(&file.path);
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder).map_err(|e| BundleError::io(folder, e))?;
            }
            std::fs::write(&path, &file.content).map_err(|e| BundleError::io(&path, e))?;
        }
        let path = staging.join(MANIFEST_FILE);
        std::fs::write(&path, &manifest_text).map_err(|e| BundleError::io(&path, e))?;
        swap_into_place(&staging, dir, previous)
    })();
    if written.is_err() {
        // Only the staging directory kensa created just now is removed.
        let _ = std::fs::remove_dir_all(&staging);
    }
    written?;
    Ok(BundleSummary {
        dir: dir.to_path_buf(),
        manifest_sha256: sha256_hex(&manifest_text),
        files: files.len(),
        bytes: files.iter().map(|f| f.content.len() as u64).sum(),
    })
}

/// What is at the target path now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Previous {
    /// Nothing, or an empty directory: a rename lands the bundle.
    Nothing,
    /// A previous bundle, to be moved aside and then removed.
    Bundle,
}

/// Decides whether `dir` may receive a bundle.
fn inspect_target(dir: &Path) -> Result<Previous, BundleError> {
    let metadata = match std::fs::symlink_metadata(dir) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Previous::Nothing),
        Err(e) => return Err(BundleError::io(dir, e)),
    };
    if !metadata.is_dir() {
        return Err(BundleError::NotADirectory(dir.to_path_buf()));
    }
    let entries: Vec<(String, bool)> =
        super::walk(dir)?.into_iter().map(|(path, entry)| (path, entry == super::TreeEntry::Dir)).collect();
    if entries.is_empty() {
        return Ok(Previous::Nothing);
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = std::fs::symlink_metadata(&manifest_path)
        .ok()
        .filter(|m| m.is_file() && m.len() <= MANIFEST_LIMIT)
        .and_then(|_| std::fs::read(&manifest_path).ok())
        .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok())
        .filter(|m| m.schema.starts_with("kensa.bundle/"));
    let Some(manifest) = manifest else {
        let entry = entries.first().map(|(p, _)| p.clone()).unwrap_or_default();
        return Err(BundleError::NotABundle { dir: dir.to_path_buf(), entry });
    };
    for (path, is_dir) in &entries {
        let listed = path == MANIFEST_FILE
            || manifest.files.iter().any(|f| {
                if *is_dir {
                    f.path.starts_with(&format!("{path}/"))
                } else {
                    &f.path == path
                }
            });
        if !listed {
            return Err(BundleError::ForeignFile { dir: dir.to_path_buf(), entry: path.clone() });
        }
    }
    Ok(Previous::Bundle)
}

/// The directory `dir` lives in (`.` for a bare name).
fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new, empty directory beside `dir` (created here, so it is kensa's own to remove).
fn fresh_sibling(dir: &Path, tag: &str) -> Result<PathBuf, BundleError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bundle".to_string());
    let parent = parent_of(dir);
    for attempt in 0..1000 {
        let candidate = parent.join(format!(".{name}.{tag}-{}-{attempt}", std::process::id()));
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(BundleError::io(&candidate, e)),
        }
    }
    Err(BundleError::io(&parent, std::io::Error::other("no free name for a temporary directory")))
}

/// Renames the finished `staging` directory to `dir`, moving a previous bundle aside first
/// and removing it only once the new one is in place.
fn swap_into_place(staging: &Path, dir: &Path, previous: Previous) -> Result<(), BundleError> {
    match previous {
        // rename(2) replaces an empty directory, and creates a missing one.
        Previous::Nothing => std::fs::rename(staging, dir).map_err(|e| BundleError::io(dir, e)),
        Previous::Bundle => {
            let old = fresh_sibling(dir, "kensa-old")?;
            std::fs::rename(dir, &old).map_err(|e| BundleError::io(dir, e))?;
            if let Err(e) = std::fs::rename(staging, dir) {
                let _ = std::fs::rename(&old, dir);
                return Err(BundleError::io(dir, e));
            }
            std::fs::remove_dir_all(&old).map_err(|e| BundleError::io(&old, e))
        }
    }
}
