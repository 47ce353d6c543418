//! The service manifest (`kensa.toml`): what a vendor's system consists of — its name, its
//! endpoints by role, its domains, its declarations file — so that one `kensa scan
//! --manifest kensa.toml` covers all of it and the report can say what could not be reached.
//!
//! The loader is strict: unknown keys, unknown roles, duplicate endpoints and malformed URLs
//! are errors naming the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::evidence::{CoverageGap, EndpointRole, ScanEvidence, ServiceInfo};
use crate::target::{Host, Target};

/// The profile a manifest selects when the system can affect clinics' medical-information
/// systems.
pub const STRICT_PROFILE: &str = "mhlw-online-2023-high";

/// A loaded, validated manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The file, as given.
    pub source: String,
    /// SHA-256 of its text.
    pub sha256: String,
    pub service: ServiceSection,
    pub endpoints: Vec<ManifestEndpoint>,
}

/// `[service]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSection {
    pub name: String,
    pub vendor: String,
    pub affects_clinic_systems: bool,
    /// Registrable domains the vendor operates, surveyed beside the endpoints' host names.
    pub domains: Vec<String>,
    /// The declarations file, resolved against the manifest's directory.
    pub declarations: Option<PathBuf>,
}

/// One `[[endpoints]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestEndpoint {
    pub role: EndpointRole,
    /// The target, parsed; its `role` is set.
    pub target: Target,
    /// Whether patients' browsers or apps reach it (else: used by clinics or internally).
    pub patient_facing: bool,
    /// The plain-HTTP port of the host, when it is not 80.
    pub http_port: Option<u16>,
    /// The manifest line it was written on.
    pub line: usize,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct ManifestError {
    pub file: String,
    /// 1-based; 0 when the file could not be read at all.
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    service: Spanned<RawService>,
    #[serde(default)]
    endpoints: Vec<Spanned<RawEndpoint>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    vendor: String,
    affects_clinic_systems: bool,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    declarations: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    role: Spanned<String>,
    url: Spanned<String>,
    patient_facing: bool,
    #[serde(default)]
    http_port: Option<Spanned<i64>>,
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let file = path.display().to_string();
        let text = crate::input::read_text_limited(path, crate::input::PROFILE_LIMIT)
            .map_err(|message| ManifestError { file: file.clone(), line: 0, message })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Manifest::parse(&text, &file, base)
    }

    /// Parses manifest `text`, named `file` in errors; relative paths in it are taken from
    /// `base` (the manifest's directory).
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Manifest, ManifestError> {
        let at = |offset: usize, message: String| ManifestError {
            file: file.to_string(),
            line: crate::input::line_of(text, offset),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            at(offset, e.message().trim().to_string())
        })?;
        let service_at = raw.service.span().start;
        let service = raw.service.into_inner();
        for (value, what) in [(&service.name, "name"), (&service.vendor, "vendor")] {
            if value.trim().is_empty() {
                return Err(at(service_at, format!("[service] {what} is empty")));
            }
        }
        let mut domains = Vec::new();
        for domain in &service.domains {
            let name = domain.get_ref().trim().trim_end_matches('.').to_ascii_lowercase();
            match format!("{name}:443").parse::<Target>() {
                Ok(Target { host: Host::Name(name), .. }) if !domains.contains(&name) => domains.push(name),
                Ok(Target { host: Host::Name(_), .. }) => {
                    return Err(at(domain.span().start, format!("domain {name:?} is listed twice")))
                }
                _ => return Err(at(domain.span().start, format!("{:?} is not a domain name", domain.get_ref()))),
            }
        }
        if raw.endpoints.is_empty() {
            return Err(at(text.len(), "no [[endpoints]]: list at least one endpoint to scan".to_string()));
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut endpoints = Vec::new();
        for entry in raw.endpoints {
            let line = crate::input::line_of(text, entry.span().start);
            let entry = entry.into_inner();
            let role = parse_role(entry.role.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = EndpointRole::ALL.iter().map(|r| r.key()).collect();
                at(
                    entry.role.span().start,
                    format!("unknown role {:?}; roles are {}", entry.role.get_ref(), known.join(", ")),
                )
            })?;
            let url_at = entry.url.span().start;
            let mut target: Target = entry.url.get_ref().parse().map_err(|e| at(url_at, format!("{e}")))?;
            if target.scheme == crate::target::Scheme::Bare && role != EndpointRole::Turn {
                return Err(at(
                    url_at,
                    format!(
                        "{:?}: write the endpoint as a URL (https://… or wss://…); only turn endpoints are host:port",
                        entry.url.get_ref()
                    ),
                ));
            }
            target.role = Some(role);
            let key = format!("{}|{}|{}", target.host, target.port, target.path);
            if let Some(first) = seen.insert(key, line) {
                return Err(at(
                    url_at,
                    format!("duplicate endpoint {:?} (already listed on line {first})", entry.url.get_ref()),
                ));
            }
            let http_port = match entry.http_port {
                Some(port) => match u16::try_from(*port.get_ref()) {
                    Ok(p) if p > 0 => Some(p),
                    _ => {
                        return Err(at(
                            port.span().start,
                            format!("http_port {} is not a port (1-65535)", port.get_ref()),
                        ))
                    }
                },
                None => None,
            };
            endpoints.push(ManifestEndpoint { role, target, patient_facing: entry.patient_facing, http_port, line });
        }
        Ok(Manifest {
            source: file.to_string(),
            sha256: crate::certificate::sha256_hex(text.as_bytes()),
            service: ServiceSection {
                name: service.name.trim().to_string(),
                vendor: service.vendor.trim().to_string(),
                affects_clinic_systems: service.affects_clinic_systems,
                domains,
                declarations: service.declarations.filter(|d| !d.trim().is_empty()).map(|d| base.join(d.trim())),
            },
            endpoints,
        })
    }

    /// The profile the manifest calls for: the stricter one when the system can affect
    /// clinics' medical-information systems.
    pub fn profile_name(&self) -> &'static str {
        if self.service.affects_clinic_systems {
            STRICT_PROFILE
        } else {
            "mhlw-online-2023"
        }
    }

    /// The targets to scan, in manifest order.
    pub fn targets(&self) -> Vec<Target> {
        self.endpoints.iter().map(|e| e.target.clone()).collect()
    }

    /// Host names of the patient-facing endpoints.
    pub fn patient_facing_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> =
            self.endpoints.iter().filter(|e| e.patient_facing).map(|e| e.target.host.to_string()).collect();
        hosts.dedup();
        hosts
    }

    /// The service as recorded with the scan's evidence (coverage gaps are filled in after
    /// the scan, see [`coverage_gaps`]).
    pub fn service_info(&self) -> ServiceInfo {
        ServiceInfo {
            name: self.service.name.clone(),
            vendor: self.service.vendor.clone(),
            manifest: self.source.clone(),
            manifest_sha256: self.sha256.clone(),
            affects_clinic_systems: self.service.affects_clinic_systems,
            domains: self.service.domains.clone(),
            coverage_gaps: Vec::new(),
        }
    }

    /// A commented template for `kensa init`.
    pub fn template() -> &'static str {
        TEMPLATE
    }
}

fn parse_role(text: &str) -> Option<EndpointRole> {
    EndpointRole::ALL.into_iter().find(|r| r.key() == text.trim())
}

/// The endpoints of a manifest scan that kensa could not probe: targets that resolved to no
/// address, and addresses that gave no TLS answer at all.
pub fn coverage_gaps(evidence: &ScanEvidence) -> Vec<CoverageGap> {
    let mut gaps = Vec::new();
    for target in &evidence.targets {
        let Some(role) = target.role else { continue };
        if target.endpoints.is_empty() {
            let reason = target.resolution.error.clone().unwrap_or_else(|| "no address to probe".to_string());
            gaps.push(CoverageGap { endpoint: target.input.clone(), role, reason });
            continue;
        }
        for endpoint in &target.endpoints {
            if endpoint.answered_tls() {
                continue;
            }
            let answered: Vec<_> = endpoint
                .modern
                .iter()
                .map(|a| &a.outcome)
                .chain(endpoint.hand_built.iter().map(|a| &a.outcome))
                .collect();
            let reason = match answered.iter().find(|o| !matches!(o, crate::evidence::Outcome::Skipped { .. })) {
                Some(crate::evidence::Outcome::ConnectFailed { reason }) => format!("could not connect: {reason}"),
                Some(crate::evidence::Outcome::Timeout) => "no answer before the deadline".to_string(),
                Some(other) => format!("no TLS answer ({other:?})"),
                None => "not probed".to_string(),
            };
            gaps.push(CoverageGap { endpoint: endpoint.label(), role, reason });
        }
    }
    gaps
}

const TEMPLATE: &str = r#"# kensa サービスマニフェスト (service manifest)
#
# オンライン診療システムを構成するエンドポイントを列挙します。
# `kensa scan --manifest kensa.toml` で全エンドポイントを検査し、到達できなかったものは
# 報告書に「検査範囲の欠落」(coverage gaps) として記載されます。
# List the endpoints your online-consultation system consists of; `kensa scan --manifest
# kensa.toml` scans all of them and reports the ones it could not reach as coverage gaps.

[service]
# サービス名と事業者名 (service and vendor names, shown on the report)
name = "○○オンライン診療"
vendor = "株式会社○○"
# 医療機関の医療情報システムに影響を与えうるシステムか。true なら厳格なプロファイル
# (mhlw-online-2023-high) で判定します。
# Whether the system can affect clinics' medical-information systems (true selects the
# stricter profile mhlw-online-2023-high).
affects_clinic_systems = false
# 事業者が運用する登録ドメイン。エンドポイントのホスト名に加えて、登録情報・DNS を調査します (2-1.xv)。
# Registrable domains you operate, surveyed besides the endpoints' host names (item 2-1.xv).
domains = ["clinic-online.example.jp"]
# 申告ファイル (`kensa declare init` で作成)。マニフェストからの相対パス。
# The declarations file (`kensa declare init` writes one), relative to this manifest.
# declarations = "declarations.toml"

# エンドポイント (endpoints)。role は次のいずれか / role is one of:
#   patient-web    患者向けWebアプリ / patient web app
#   clinician-web  医師向けWebアプリ / clinician web app
#   api            API
#   websocket      WebSocketシグナリング (wss://…) / WebSocket signalling
#   turn           TURN over TLS (host:port)
#   auth           認証・IdP / authentication, identity provider
#   static         静的配信・CDN / static assets, CDN
# patient_facing: 患者の端末から接続されるなら true、医療機関内・内部用なら false。
#   true of an endpoint patients' devices reach; false for clinic-side or internal ones.
# http_port: 平文HTTPのポートが80以外の場合のみ (only when plain HTTP is not on port 80).

[[endpoints]]
role = "patient-web"
url = "https://app.clinic-online.example.jp/"
patient_facing = true

[[endpoints]]
role = "clinician-web"
url = "https://doctor.clinic-online.example.jp/login"
patient_facing = false

[[endpoints]]
role = "api"
url = "https://api.clinic-online.example.jp/"
patient_facing = true

[[endpoints]]
role = "websocket"
url = "wss://signal.clinic-online.example.jp/ws"
patient_facing = true

[[endpoints]]
role = "turn"
url = "turn.clinic-online.example.jp:443"
patient_facing = true

[[endpoints]]
role = "auth"
url = "https://id.clinic-online.example.jp/"
patient_facing = true
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, "kensa.toml", Path::new("/etc/kensa"))
    }

    const MINIMAL: &str = "[service]\nname = \"S\"\nvendor = \"V\"\naffects_clinic_systems = false\n\n[[endpoints]]\nrole = \"api\"\nurl = \"https://api.example.jp/\"\npatient_facing = true\n";

    #[test]
    fn the_template_is_a_valid_manifest() {
        let manifest = parse(Manifest::template()).unwrap();
        assert_eq!(manifest.endpoints.len(), 6);
        assert_eq!(manifest.profile_name(), "mhlw-online-2023");
        assert_eq!(manifest.service.domains, ["clinic-online.example.jp"]);
        let turn = &manifest.endpoints[4];
        assert_eq!((turn.role, turn.target.port), (EndpointRole::Turn, 443));
        assert_eq!(manifest.endpoints[1].target.path, "/login");
        assert!(manifest.targets().iter().all(|t| t.role.is_some()));
        assert!(!manifest.patient_facing_hosts().contains(&"doctor.clinic-online.example.jp".to_string()));
    }

    #[test]
    fn strict_profile_and_declarations_path() {
        let text = MINIMAL
            .replace("affects_clinic_systems = false", "affects_clinic_systems = true\ndeclarations = \"d.toml\"");
        let manifest = parse(&text).unwrap();
        assert_eq!(manifest.profile_name(), STRICT_PROFILE);
        assert_eq!(manifest.service.declarations, Some(PathBuf::from("/etc/kensa/d.toml")));
    }

    #[test]
    fn errors_name_the_line() {
        let twice = format!(
            "{MINIMAL}\n[[endpoints]]\nrole = \"api\"\nurl = \"https://API.example.jp:443/\"\npatient_facing = false\n"
        );
        let cases = [
            (MINIMAL.replace("\"api\"", "\"database\""), 7, "unknown role \"database\""),
            (twice, 13, "duplicate endpoint"),
            (MINIMAL.replace("https://api.example.jp/", "http://api.example.jp/"), 8, "only https://"),
            (MINIMAL.replace("https://api.example.jp/", "api.example.jp"), 8, "write the endpoint as a URL"),
            (MINIMAL.replace("patient_facing = true", "patient_facing = true\nhttp_port = 70000"), 10, "not a port"),
            (MINIMAL.replace("patient_facing = true\n", ""), 6, "patient_facing"),
            (MINIMAL.replace("vendor = \"V\"", "vendor = \"V\"\ncolour = 1"), 4, "unknown field"),
            (MINIMAL.replace("name = \"S\"", "name = S"), 2, ""),
            (MINIMAL.replace("name = \"S\"", "name = \" \""), 1, "name is empty"),
            (MINIMAL.split("[[endpoints]]").next().unwrap().to_string(), 6, "no [[endpoints]]"),
            (
                MINIMAL
                    .replace("affects_clinic_systems = false", "affects_clinic_systems = false\ndomains = [\"a b\"]"),
                5,
                "not a domain name",
            ),
        ];
        for (text, line, fragment) in cases {
            let error = parse(&text).unwrap_err();
            assert_eq!(error.line, line, "{error}\n{text}");
            assert!(error.message.contains(fragment), "{error}");
            assert!(error.to_string().starts_with(&format!("kensa.toml:{line}: ")));
        }
    }
}
