//! The command line: parses arguments, runs the library, writes the report, and chooses the
//! exit code. Kept thin; everything it does is a library call.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use std::io::IsTerminal;

use crate::bundle::{BundleDeclarations, BundleInput};
use crate::checks::{DomainExpiryThresholds, ExpiryThresholds};
use crate::declaration::Declarations;
use crate::domain::dns::{DnsSettings, TrustAnchor};
use crate::domain::rdap::load_bootstrap;
use crate::domain::whois::WhoisServer;
use crate::domain::SurveySettings;
use crate::drift::Snapshot;
use crate::evidence::{AddressFamily, CertDer, ScanEvidence, ScanMode};
use crate::i18n::Lang;
use crate::manifest::{coverage_gaps, Manifest};
use crate::probe::fetch::Fetcher;
use crate::probe::gate::Politeness;
use crate::probe::{scan, ScanRequest};
use crate::profile::Profile;
use crate::report::{Format, Report};
use crate::resolve::{parse_resolver, Pin, ResolverSettings};
use crate::target::Target;
use crate::verdict::{Assessment, JudgingOptions};

/// The profile used when neither --profile nor a manifest names one.
const DEFAULT_PROFILE: &str = "mhlw-online-2023";

/// Exit code for usage and input errors.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "kensa",
    version,
    about = "Checks an online-medical-care system's network posture against the MHLW guideline (オンライン診療指針 V.2.(5))",
    after_help = "Exit codes: 0 no item 不適合 or 判定不能 (要確認 warnings are reported but do not fail) · \
                  1 at least one item 不適合 (non-compliant) · 2 usage or input error · \
                  3 nothing non-compliant but something 判定不能 (indeterminate, e.g. unreachable)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan TLS endpoints and report per guideline item.
    Scan(Box<ScanArgs>),
    /// Start local demo endpoints with known postures, scan them, and print the report.
    Demo(DemoArgs),
    /// Re-run every check offline on the evidence inside a JSON report (or a bare evidence file).
    Recheck(RecheckArgs),
    /// Measure connections, handshakes, wall time and peak memory of scans against local
    /// `openssl s_server` instances of known configuration (build with --release for timings).
    Bench(crate::bench::BenchArgs),
    /// Write a commented service manifest template (kensa.toml) to fill in.
    Init(InitArgs),
    /// Re-run every check offline from an evidence bundle and confirm its verdicts and digests.
    Verify(VerifyArgs),
    /// Declarations for items no network test can prove.
    #[command(subcommand)]
    Declare(DeclareCommand),
    /// Scan a manifest, compare with the previous run in the history database, store the
    /// run, and alert on what changed (once, or --every DURATION as a service).
    Monitor(Box<crate::monitor::command::MonitorArgs>),
    /// List the runs in the history database.
    History(crate::monitor::command::HistoryArgs),
    /// Render a stored run again, in any report format.
    Show(crate::monitor::command::ShowArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A directory written by `--evidence DIR`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Language of the verification's lines (default from LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write the template.
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "kensa.toml")]
    pub output: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum DeclareCommand {
    /// Write a Japanese template listing every item a declaration settles, with its
    /// guideline text.
    Init(DeclareInitArgs),
}

#[derive(Args, Debug)]
pub struct DeclareInitArgs {
    /// Where to write the template.
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "declarations.toml")]
    pub output: PathBuf,
    /// The profile whose items are listed (an embedded name or a file).
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// host, host:port, https://host[:port][/path], wss://host[:port]/…, IPv4, or [IPv6]:port
    #[arg(required_unless_present = "manifest", value_name = "TARGET")]
    pub targets: Vec<String>,
    /// A service manifest (kensa.toml, see `kensa init`): scan every endpoint it lists, with
    /// its roles, patient-facing hosts, domains, declarations and profile.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Pin HOST:PORT to ADDR instead of asking DNS (as curl's --resolve); repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Ask this DNS server instead of the system's.
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub resolver: Option<String>,
    /// Deadline in seconds for each network operation (connect, handshake, reply).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Extra trusted roots (PEM), for private CAs and staging; repeatable.
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Probe IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "ipv6_only")]
    pub ipv4_only: bool,
    /// Probe IPv6 addresses only.
    #[arg(short = '6')]
    pub ipv6_only: bool,
    /// full: every version's suites, the server's order, groups and handshake facts;
    /// minimal: one hello per version and the certificate (at most 8 connections per endpoint).
    #[arg(long, value_enum, default_value_t = ScanMode::Full)]
    pub mode: ScanMode,
    /// Most connections open at once to one IP address.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub parallel_per_ip: u32,
    /// Pause in milliseconds between two connections to the same IP address.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub delay: u64,
    /// Most endpoints probed at once.
    #[arg(long, value_name = "N", default_value_t = crate::probe::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Never show a progress bar (it is shown only on a terminal, and never for JSON).
    #[arg(long)]
    pub no_progress: bool,
    /// Trust stores besides Mozilla's bundled roots: `system` adds the operating system's
    /// (recorded with the evidence). Mozilla's alone keeps verdicts the same on every host.
    #[arg(long, value_enum, default_value_t = TrustSelection::Mozilla)]
    pub trust: TrustSelection,
    /// Make no outbound fetch for certificates: no AIA download of a missing intermediate,
    /// no OCSP or CRL query. (The domain survey's RDAP and WHOIS queries are turned off
    /// with --no-domain.)
    #[arg(long, conflicts_with = "revocation")]
    pub no_fetch: bool,
    /// Ask each certificate's OCSP responder (or its CRL when there is no responder) whether
    /// it is revoked. Contacts the CAs' servers.
    #[arg(long)]
    pub revocation: bool,
    /// Skip the HTTP posture probe (plain-HTTP redirect, HSTS, cookies, cleartext WebSocket).
    #[arg(long)]
    pub no_http: bool,
    /// The plain-HTTP port asked on every host for the redirect to HTTPS.
    #[arg(long, value_name = "PORT", default_value_t = 80, value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: u16,
    /// A host whose endpoints serve patients' browsers (`*` for every target); repeatable.
    /// There, a chain trusted only through --ca-file needs review (要確認).
    #[arg(long = "patient-facing", value_name = "HOST")]
    pub patient_facing: Vec<String>,
    /// Skip the domain survey (registration data, delegation, DNSSEC, CAA, dangling
    /// CNAMEs) that item 2-1.xv rests on.
    #[arg(long)]
    pub no_domain: bool,
    /// The IANA RDAP bootstrap (dns.json) to use instead of the bundled snapshot: a file, or
    /// an http(s) URL to fetch it from.
    #[arg(long, value_name = "FILE|URL", conflicts_with = "no_domain")]
    pub rdap_bootstrap: Option<String>,
    /// Ask this RDAP server (base URL, e.g. https://rdap.example/) for every domain.
    #[arg(long, value_name = "BASE", conflicts_with_all = ["no_domain", "rdap_bootstrap"])]
    pub rdap_url: Option<String>,
    /// Ask this WHOIS server (port 43 unless given) where WHOIS is used (.jp, and domains
    /// no RDAP server answers for).
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "no_domain")]
    pub whois_server: Option<String>,
    /// DNSSEC trust anchor: a file of DS or DNSKEY records (zone-file format) instead of the
    /// IANA root keys.
    #[arg(long, value_name = "FILE", conflicts_with = "no_domain")]
    pub dnssec_anchor: Option<PathBuf>,
    /// Port on which authoritative name servers are asked directly (for test labs).
    #[arg(long, value_name = "PORT", default_value_t = 53)]
    pub authoritative_port: u16,
    /// A previous scan (its JSON report, or a bare evidence file): report what changed since
    /// — registrar, registrant, creation date, name servers, DNSSEC, certificate, versions.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Which trust stores judge chains, besides `--ca-file` roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrustSelection {
    /// Mozilla's root program, bundled (deterministic).
    Mozilla,
    /// Mozilla's plus the operating system's store.
    System,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Deadline in seconds for each network operation.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct RecheckArgs {
    /// A JSON report written by `kensa scan --format json`, or a bare evidence file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Report formats, comma-separated; more than one needs --out-dir.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "text")]
    pub format: Vec<Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE", conflicts_with = "out_dir")]
    pub output: Option<PathBuf>,
    /// Write each format to its own file in DIR (kensa-report.html, kensa-junit.xml, …).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// The vendor's declarations for items no network test can prove (see `kensa declare
    /// init`); overrides the manifest's.
    #[arg(long, value_name = "FILE")]
    pub declarations: Option<PathBuf>,
    /// Write an evidence bundle to DIR: the raw material (handshakes, chains, DNS, RDAP,
    /// WHOIS, HTTP heads), the profile, the verdicts and a manifest of SHA-256 digests, for
    /// `kensa verify DIR`.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    /// Report language (default: Japanese if LC_ALL/LC_MESSAGES/LANG start with "ja").
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Guideline profile: an embedded name (mhlw-online-2023, or mhlw-online-2023-high for
    /// systems that can affect clinics' medical-information systems) or a profile file.
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Warn when a certificate in the path expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = ExpiryThresholds::default().warn_days)]
    pub expiry_warn_days: i64,
    /// Fail when a certificate in the path expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = ExpiryThresholds::default().fail_days)]
    pub expiry_fail_days: i64,
    /// Warn when a domain registration expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = DomainExpiryThresholds::default().warn_days)]
    pub domain_expiry_warn_days: i64,
    /// Fail when a domain registration expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = DomainExpiryThresholds::default().fail_days)]
    pub domain_expiry_fail_days: i64,
}

impl OutputArgs {
    /// Checks the output options before anything is scanned.
    pub(crate) fn validate(&self) -> Result<(), InputError> {
        if self.format.len() > 1 && self.out_dir.is_none() {
            return Err(InputError("several --format values need --out-dir".to_string()));
        }
        let mut seen = Vec::new();
        for format in &self.format {
            if seen.contains(format) {
                return Err(InputError(format!("--format {format:?} is given twice")));
            }
            seen.push(*format);
        }
        self.judging().map(|_| ())
    }

    /// Whether a JSON report goes to standard output (where a progress bar would be noise).
    fn json_on_stdout(&self) -> bool {
        self.out_dir.is_none() && self.output.is_none() && self.format.contains(&Format::Json)
    }

    fn judging(&self) -> Result<JudgingOptions, InputError> {
        let (warn_days, fail_days) = (self.expiry_warn_days, self.expiry_fail_days);
        if !(0..=3650).contains(&fail_days) || !(fail_days..=3650).contains(&warn_days) {
            return Err(InputError(format!(
                "--expiry-fail-days ({fail_days}) and --expiry-warn-days ({warn_days}) must satisfy \
                 0 <= fail <= warn <= 3650"
            )));
        }
        let (domain_warn, domain_fail) = (self.domain_expiry_warn_days, self.domain_expiry_fail_days);
        if !(0..=3650).contains(&domain_fail) || !(domain_fail..=3650).contains(&domain_warn) {
            return Err(InputError(format!(
                "--domain-expiry-fail-days ({domain_fail}) and --domain-expiry-warn-days ({domain_warn}) must \
                 satisfy 0 <= fail <= warn <= 3650"
            )));
        }
        Ok(JudgingOptions {
            expiry: ExpiryThresholds { warn_days, fail_days },
            domain_expiry: DomainExpiryThresholds { warn_days: domain_warn, fail_days: domain_fail },
        })
    }
}

/// An error that ends the run with [`EXIT_USAGE`].
#[derive(Debug)]
pub struct InputError(pub String);

impl<T: std::fmt::Display> From<T> for InputError {
    fn from(e: T) -> Self {
        InputError(e.to_string())
    }
}

/// Runs a parsed command line and returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Scan(args) => run_scan(*args).await,
        Command::Demo(args) => run_demo(args).await,
        Command::Recheck(args) => run_recheck(args),
        Command::Bench(args) => run_bench(args).await,
        Command::Init(args) => run_init(&args),
        Command::Verify(args) => run_verify(&args),
        Command::Monitor(args) => crate::monitor::command::run_monitor(*args).await,
        Command::History(args) => crate::monitor::command::run_history(&args),
        Command::Show(args) => crate::monitor::command::run_show(&args),
        Command::Declare(DeclareCommand::Init(args)) => run_declare_init(&args),
    };
    match result {
        Ok(code) => code,
        Err(InputError(message)) => {
            eprintln!("kensa: error: {message}");
            EXIT_USAGE
        }
    }
}

async fn run_scan(args: ScanArgs) -> Result<i32, InputError> {
    let prepared = prepare_scan(&args).await?;
    let show_progress = !args.no_progress && !args.output.json_on_stdout() && std::io::stderr().is_terminal();
    let mut evidence = perform_scan(&prepared, &prepared.request, show_progress).await;
    if let Some((previous, path)) = &prepared.baseline {
        evidence.baseline = Some(Snapshot::of(previous, &path.display().to_string()));
    }
    emit(&prepared.standards, &evidence, &args.output)
}

/// A scan ready to run: what it is judged against, the request, and the manifest and
/// baseline it came with.
pub(crate) struct PreparedScan {
    pub(crate) standards: Standards,
    pub(crate) manifest: Option<Manifest>,
    pub(crate) request: ScanRequest,
    pub(crate) baseline: Option<(ScanEvidence, PathBuf)>,
}

/// Reads and checks every scan option and input file; nothing is sent yet.
pub(crate) async fn prepare_scan(args: &ScanArgs) -> Result<PreparedScan, InputError> {
    args.output.validate()?;
    let manifest =
        args.manifest.as_deref().map(Manifest::load).transpose().map_err(|e| InputError(format!("--manifest: {e}")))?;
    let standards = load_standards(&args.output, manifest.as_ref())?;
    let mut targets = args.targets.iter().map(|t| t.parse::<Target>()).collect::<Result<Vec<_>, _>>()?;
    if let Some(manifest) = &manifest {
        targets.extend(manifest.targets());
    }
    let pins = args.resolve.iter().map(|p| p.parse::<Pin>()).collect::<Result<Vec<_>, _>>()?;
    let server = args.resolver.as_deref().map(parse_resolver).transpose()?;
    let timeout = parse_timeout(args.timeout)?;
    let family = match (args.ipv4_only, args.ipv6_only) {
        (true, _) => AddressFamily::V4,
        (_, true) => AddressFamily::V6,
        _ => AddressFamily::Any,
    };
    let mut extra_roots = Vec::new();
    for path in &args.ca_files {
        extra_roots.extend(read_pem_certificates(path)?);
    }
    let system_roots = match args.trust {
        TrustSelection::Mozilla => Vec::new(),
        TrustSelection::System => load_system_roots()?,
    };
    if args.parallel_per_ip == 0 || args.parallel_per_ip > 64 {
        return Err(InputError(format!("--parallel-per-ip must be between 1 and 64, not {}", args.parallel_per_ip)));
    }
    if args.concurrency == 0 || args.concurrency > 4096 {
        return Err(InputError(format!("--concurrency must be between 1 and 4096, not {}", args.concurrency)));
    }
    if args.delay > 600_000 {
        return Err(InputError(format!("--delay must be at most 600000 ms, not {}", args.delay)));
    }
    let mut request = ScanRequest::new(targets, ResolverSettings { server, timeout, family }, timeout);
    request.pins = pins;
    request.extra_roots = extra_roots;
    request.mode = args.mode;
    request.politeness = Politeness { parallel_per_ip: args.parallel_per_ip, delay: Duration::from_millis(args.delay) };
    request.concurrency = args.concurrency;
    request.system_roots = system_roots;
    request.fetch = !args.no_fetch;
    request.revocation = args.revocation;
    request.http.enabled = !args.no_http;
    request.http.plain_port = args.http_port;
    request.patient_facing = args.patient_facing.clone();
    if let Some(manifest) = &manifest {
        request.patient_facing.extend(manifest.patient_facing_hosts());
        request.survey_names = manifest.service.domains.clone();
        for endpoint in &manifest.endpoints {
            if let Some(port) = endpoint.http_port {
                request.http.plain_ports.insert(endpoint.target.host.to_string(), port);
            }
        }
    }
    let baseline = match &args.baseline {
        Some(path) => Some((load_evidence(path, "--baseline")?, path.clone())),
        None => None,
    };
    if !args.no_domain {
        request.survey = Some(survey_settings(args, &request).await?);
    }
    Ok(PreparedScan { standards, manifest, request, baseline })
}

/// Runs `request` (the prepared one, or part of it) and records the manifest's service and
/// coverage gaps with the evidence.
pub(crate) async fn perform_scan(prepared: &PreparedScan, request: &ScanRequest, show_progress: bool) -> ScanEvidence {
    let mut request = request.clone();
    let bar = show_progress.then(crate::progress::ProgressBar::new);
    request.progress = bar.as_ref().map(|b| b.sink());
    let mut evidence = scan(&request).await;
    if let Some(bar) = bar {
        bar.finish();
    }
    if let Some(manifest) = &prepared.manifest {
        let mut service = manifest.service_info();
        service.coverage_gaps = coverage_gaps(&evidence);
        for gap in &service.coverage_gaps {
            eprintln!("kensa: coverage gap: {} ({}): {}", gap.endpoint, gap.role.key(), gap.reason);
        }
        evidence.service = Some(service);
    }
    evidence
}

/// The domain survey's settings from the command line; bad anchors, bootstraps or servers
/// are usage errors before anything is sent.
async fn survey_settings(args: &ScanArgs, request: &ScanRequest) -> Result<SurveySettings, InputError> {
    let trust_anchor = match &args.dnssec_anchor {
        Some(path) => TrustAnchor::from_file(path).map_err(|e| InputError(format!("--dnssec-anchor: {e}")))?,
        None => TrustAnchor::Root,
    };
    let rdap_bootstrap = match &args.rdap_bootstrap {
        Some(source) => {
            let fetcher = Fetcher::with_extra_roots(&request.extra_roots)
                .map_err(|e| InputError(format!("--rdap-bootstrap: no HTTP client: {e}")))?;
            Some(
                load_bootstrap(source, &fetcher, request.timeout)
                    .await
                    .map_err(|e| InputError(format!("--rdap-bootstrap {source}: {e}")))?,
            )
        }
        None => None,
    };
    let rdap_url = match &args.rdap_url {
        Some(url) => {
            let parsed = reqwest::Url::parse(url).map_err(|e| InputError(format!("--rdap-url {url:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(InputError(format!("--rdap-url {url:?}: only http and https are supported")));
            }
            Some(if url.ends_with('/') { url.clone() } else { format!("{url}/") })
        }
        None => None,
    };
    let whois_server = args
        .whois_server
        .as_deref()
        .map(|s| s.parse::<WhoisServer>().map_err(|e| InputError(format!("--whois-server: {e}"))))
        .transpose()?;
    if args.authoritative_port == 0 {
        return Err(InputError("--authoritative-port must be between 1 and 65535".to_string()));
    }
    Ok(SurveySettings {
        dns: DnsSettings {
            resolver: request.resolver.clone(),
            authoritative_port: args.authoritative_port,
            trust_anchor,
        },
        rdap_bootstrap,
        rdap_url,
        whois_server,
        extra_roots: request.extra_roots.clone(),
        timeout: request.timeout,
    })
}

async fn run_demo(args: DemoArgs) -> Result<i32, InputError> {
    args.output.validate()?;
    let mut standards = load_standards(&args.output, None)?;
    if standards.declarations.is_none() {
        // Without --declarations the demo shows its own example declarations.
        standards.declarations = crate::demo::declarations(&standards.profile)
            .map(|parsed| LoadedDeclarations { parsed, text: crate::demo::DEMO_DECLARATIONS.to_string() });
    }
    let timeout = parse_timeout(args.timeout)?;
    let run = crate::demo::run(timeout).await.map_err(|e| InputError(format!("demo could not start: {e}")))?;
    let lang = args.output.lang.unwrap_or_else(Lang::from_env);
    let assessment = judge(&standards, &run.evidence, &args.output)?;
    let (comparison, all_held) = crate::demo::expectations(&run, &standards.profile, &assessment, lang);
    let appended = publish(&standards, &run.evidence, &assessment, &args.output, Some(&comparison))?;
    if !appended {
        eprint!("{comparison}");
    }
    // The demo succeeds when kensa measured what each endpoint was built to show.
    Ok(if all_held { 0 } else { 1 })
}

async fn run_bench(args: crate::bench::BenchArgs) -> Result<i32, InputError> {
    crate::bench::run(&args).await.map_err(InputError::from)
}

fn run_recheck(args: RecheckArgs) -> Result<i32, InputError> {
    args.output.validate()?;
    let standards = load_standards(&args.output, None)?;
    let evidence = load_evidence(&args.file, "recheck")?;
    emit(&standards, &evidence, &args.output)
}

fn run_verify(args: &VerifyArgs) -> Result<i32, InputError> {
    let verification = crate::bundle::verify(&args.dir).map_err(|e| InputError(format!("verify: {e}")))?;
    for line in verification.lines(args.lang.unwrap_or_else(Lang::from_env)) {
        println!("{line}");
    }
    Ok(if verification.ok() { 0 } else { 1 })
}

fn run_init(args: &InitArgs) -> Result<i32, InputError> {
    write_new_file(&args.output, Manifest::template(), args.force)?;
    eprintln!(
        "kensa: wrote {}; fill in the service and its endpoints, then run: kensa scan --manifest {}",
        args.output.display(),
        args.output.display()
    );
    Ok(0)
}

fn run_declare_init(args: &DeclareInitArgs) -> Result<i32, InputError> {
    let profile = match &args.profile {
        Some(name) => Profile::resolve(name).map_err(|e| InputError(format!("invalid profile: {e}")))?,
        None => Profile::embedded(),
    };
    write_new_file(&args.output, &Declarations::template(&profile), args.force)?;
    eprintln!(
        "kensa: wrote {}; fill in status, reference, declared_by and declared_on per item, then pass it with \
         --declarations (or `declarations = ` in kensa.toml)",
        args.output.display()
    );
    Ok(0)
}

/// Writes a template, refusing to replace a file the user may have filled in.
fn write_new_file(path: &Path, text: &str, force: bool) -> Result<(), InputError> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(InputError(format!("{} already exists (use --force to replace it)", path.display())));
    }
    write_atomically(path, text)
}

/// Reads the evidence inside a JSON report, or a bare evidence file; `what` names the
/// option or command in errors.
fn load_evidence(path: &Path, what: &str) -> Result<ScanEvidence, InputError> {
    let shown = path.display();
    let text = crate::input::read_text_limited(path, crate::input::EVIDENCE_LIMIT)
        .map_err(|e| InputError(format!("{what}: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| InputError(format!("{what}: {shown} is not JSON: {e}")))?;
    let evidence_value = value.get("evidence").cloned().unwrap_or(value);
    let evidence: ScanEvidence = serde_json::from_value(evidence_value)
        .map_err(|e| InputError(format!("{what}: {shown} holds no kensa evidence: {e}")))?;
    if evidence.schema != crate::evidence::EVIDENCE_SCHEMA {
        return Err(InputError(format!(
            "{what}: {shown}: evidence schema {:?} is not supported (expected {:?})",
            evidence.schema,
            crate::evidence::EVIDENCE_SCHEMA
        )));
    }
    Ok(evidence)
}

/// Judges the evidence, writes the evidence bundle and the reports, and returns the exit code.
fn emit(standards: &Standards, evidence: &ScanEvidence, output: &OutputArgs) -> Result<i32, InputError> {
    let assessment = judge(standards, evidence, output)?;
    publish(standards, evidence, &assessment, output, None)?;
    Ok(assessment.exit_code())
}

/// The assessment of `evidence` with the judging options and declarations of the run.
pub(crate) fn judge(
    standards: &Standards,
    evidence: &ScanEvidence,
    output: &OutputArgs,
) -> Result<Assessment, InputError> {
    let mut assessment = Assessment::evaluate_with(&standards.profile, evidence, output.judging()?);
    if let Some(declarations) = &standards.declarations {
        assessment.apply_declarations(&standards.profile, &declarations.parsed);
    }
    Ok(assessment)
}

/// Writes the evidence bundle (`--evidence`), then the reports, which name the bundle's
/// digest. Returns whether the appendix was written (see [`write_reports`]).
pub(crate) fn publish(
    standards: &Standards,
    evidence: &ScanEvidence,
    assessment: &Assessment,
    output: &OutputArgs,
    appendix: Option<&str>,
) -> Result<bool, InputError> {
    let bundle_sha256 = match &output.evidence {
        Some(dir) => {
            let input = BundleInput {
                evidence,
                profile: &standards.profile,
                profile_text: &standards.profile_text,
                declarations: standards
                    .declarations
                    .as_ref()
                    .map(|d| BundleDeclarations { text: &d.text, parsed: &d.parsed }),
                options: assessment.options,
                assessment,
            };
            let summary = crate::bundle::write(dir, &input)
                .map_err(|e| InputError(format!("--evidence {}: {e}", dir.display())))?;
            eprintln!(
                "kensa: wrote the evidence bundle {} ({} files, SHA-256 {}); check it with: kensa verify {}",
                dir.display(),
                summary.files,
                summary.manifest_sha256,
                dir.display()
            );
            Some(summary.manifest_sha256)
        }
        None => None,
    };
    let lang = output.lang.unwrap_or_else(Lang::from_env);
    let report = Report { profile: &standards.profile, evidence, assessment, lang, bundle_sha256 };
    write_reports(&report, output, appendix)
}

/// Renders `report` in every requested format and writes each where `output` says; the
/// appendix goes after the text report. Returns whether the appendix was written.
pub(crate) fn write_reports(
    report: &Report<'_>,
    output: &OutputArgs,
    appendix: Option<&str>,
) -> Result<bool, InputError> {
    let mut appended = false;
    let mut render = |format: Format| {
        let mut text = report.render(format);
        if let (Format::Text, Some(appendix)) = (format, appendix) {
            text.push_str(appendix);
            appended = true;
        }
        text
    };
    match (&output.out_dir, output.format.as_slice()) {
        (Some(dir), formats) => {
            std::fs::create_dir_all(dir).map_err(|e| InputError(format!("cannot create {}: {e}", dir.display())))?;
            for format in formats {
                let path = dir.join(format.file_name());
                write_atomically(&path, &render(*format))?;
                eprintln!("kensa: wrote {}", path.display());
            }
        }
        (None, [format]) => {
            let text = render(*format);
            match &output.output {
                Some(path) => write_atomically(path, &text)?,
                None => print!("{text}"),
            }
        }
        (None, _) => return Err(InputError("several --format values need --out-dir".to_string())),
    }
    Ok(appended)
}

/// Writes via a temporary file and a rename, so an existing report is never left half-written.
fn write_atomically(path: &Path, text: &str) -> Result<(), InputError> {
    let file_name = path.file_name().ok_or_else(|| InputError(format!("{} is not a file path", path.display())))?;
    let temporary = path.with_file_name(format!(".{}.kensa-tmp", file_name.to_string_lossy()));
    std::fs::write(&temporary, text).map_err(|e| InputError(format!("cannot write {}: {e}", path.display())))?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        InputError(format!("cannot write {}: {e}", path.display()))
    })
}

/// What evidence is judged against: the profile and the declarations, each with the exact
/// text it was read from (the evidence bundle keeps both).
pub(crate) struct Standards {
    pub(crate) profile: Profile,
    pub(crate) profile_text: String,
    pub(crate) declarations: Option<LoadedDeclarations>,
}

/// Declarations as read and as parsed.
pub(crate) struct LoadedDeclarations {
    pub(crate) parsed: Declarations,
    pub(crate) text: String,
}

/// The profile named by --profile, else the one the manifest calls for, else the default;
/// and the declarations of --declarations, else the manifest's, checked against it.
fn load_standards(output: &OutputArgs, manifest: Option<&Manifest>) -> Result<Standards, InputError> {
    let chosen = output.profile.as_deref().or(manifest.map(Manifest::profile_name)).unwrap_or(DEFAULT_PROFILE);
    if let (Some(given), Some(manifest)) = (&output.profile, manifest) {
        if given != manifest.profile_name() {
            eprintln!(
                "kensa: note: --profile {given} is used, although the manifest's affects_clinic_systems = {} calls for {}",
                manifest.service.affects_clinic_systems,
                manifest.profile_name()
            );
        }
    }
    let (profile, profile_text) =
        Profile::resolve_with_text(chosen).map_err(|e| InputError(format!("invalid profile: {e}")))?;
    let path = output.declarations.clone().or_else(|| manifest.and_then(|m| m.service.declarations.clone()));
    let declarations = match path {
        Some(path) => {
            let text = crate::input::read_text_limited(&path, crate::input::PROFILE_LIMIT)
                .map_err(|e| InputError(format!("declarations: {e}")))?;
            let parsed = Declarations::parse(&text, &path.display().to_string(), &profile)
                .map_err(|e| InputError(format!("declarations: {e}")))?;
            Some(LoadedDeclarations { parsed, text })
        }
        None => None,
    };
    Ok(Standards { profile, profile_text, declarations })
}

fn parse_timeout(seconds: f64) -> Result<Duration, InputError> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0) {
        return Err(InputError(format!("--timeout must be between 0 and 3600 seconds, not {seconds}")));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The operating system's roots, for `--trust system`.
fn load_system_roots() -> Result<Vec<CertDer>, InputError> {
    let loaded = rustls_native_certs::load_native_certs();
    let roots: Vec<CertDer> = loaded
        .certs
        .iter()
        .filter(|c| webpki::anchor_from_trusted_cert(c).is_ok())
        .map(|c| CertDer(c.to_vec()))
        .collect();
    if roots.is_empty() {
        let why: Vec<String> = loaded.errors.iter().map(|e| e.to_string()).collect();
        return Err(InputError(format!(
            "--trust system: no root could be loaded from the operating system's store ({})",
            if why.is_empty() { "the store is empty".to_string() } else { why.join("; ") }
        )));
    }
    Ok(roots)
}

/// Reads every certificate in a PEM file.
fn read_pem_certificates(path: &Path) -> Result<Vec<CertDer>, InputError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bytes =
        crate::input::read_limited(path, crate::input::PEM_LIMIT).map_err(|e| InputError(format!("--ca-file: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| CertDer(c.to_vec())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InputError(format!("--ca-file {}: not valid PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(InputError(format!("--ca-file {}: no CERTIFICATE block found", path.display())));
    }
    for cert in &certs {
        let der = CertificateDer::from(cert.0.as_slice());
        webpki::anchor_from_trusted_cert(&der).map_err(|e| {
            InputError(format!("--ca-file {}: a certificate cannot be a trust anchor: {e:?}", path.display()))
        })?;
    }
    Ok(certs)
}
