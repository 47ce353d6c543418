//! `kensa bench`: how many connections, handshakes, how much time and memory a scan costs,
//! against local servers of known configuration.
//!
//! Two Debian `openssl s_server` instances serve an RSA-2048 certificate for `localhost`:
//! a modern one (TLS 1.2 + 1.3, ECDHE with AEAD only) and a permissive legacy one (TLS 1.0
//! to 1.2, every suite OpenSSL has at security level 0). In front of each runs a
//! [`CountingProxy`], which counts the TCP connections it accepts, so the connection count
//! does not rest on kensa's own counter (the connection gate's, recorded in the evidence):
//! the two must agree.
//!
//! Every run of a [`Scenario`] is a child process (`kensa bench --child SCENARIO`), so its
//! peak memory (VmHWM) is that scan's alone. The child scans through the proxy, prints one
//! JSON line of [`ScanFigures`], and exits; the parent adds the proxy's count, takes the
//! median wall time over the runs, and checks the targets.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::evidence::{AddressFamily, EndpointEvidence, HelloPurpose, ScanMode};
use crate::probe::{scan, ScanRequest, MINIMAL_CONNECTION_BUDGET};
use crate::resolve::{Pin, ResolverSettings};
use crate::target::Target;
use crate::testkit::OpenSslServer;

/// Most connections a full scan of the modern server may open (21 for enumeration and
/// handshakes, 3 for the certificate variants: RSA-only, ECDSA-only, no SNI).
pub const MODERN_FULL_CONNECTIONS: u32 = 25;

/// Longest a full scan of the modern server may take on loopback, in a release build.
pub const MODERN_FULL_WALL_MS: f64 = 150.0;

/// A full scan of the legacy server may open at most this many connections more than the
/// (version, suite) pairs it finds accepted (refusals, groups, preference and fallback
/// hellos, rustls handshakes, and the 3 certificate variant handshakes).
pub const LEGACY_FULL_OVERHEAD: u32 = 18;

/// Deadline for each network operation of a benchmark scan (loopback: generous).
pub const SCAN_TIMEOUT: Duration = Duration::from_secs(5);

/// Deadline for one child run, servers' answers and process start included.
const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// Deadline for `openssl req` and `openssl version`.
const OPENSSL_DEADLINE: Duration = Duration::from_secs(60);

/// Deadline for the proxy's connection to the server, and for one relayed connection.
const PROXY_CONNECT_DEADLINE: Duration = Duration::from_secs(5);
const PROXY_RELAY_DEADLINE: Duration = Duration::from_secs(60);

/// Default number of runs per scenario.
pub const DEFAULT_REPEAT: u32 = 5;

/// `kensa bench` options.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Runs per scenario; the median wall time is reported.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REPEAT)]
    pub repeat: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
    pub format: BenchFormat,
    /// Run only this scenario (repeatable; default: all).
    #[arg(long = "scenario", value_enum, value_name = "NAME")]
    pub scenarios: Vec<Scenario>,
    /// Internal: run one scan of SCENARIO as a child process and print its figures.
    #[arg(long, value_enum, hide = true, requires = "child_port")]
    pub child: Option<Scenario>,
    /// Internal: the port of the proxy the child scans through.
    #[arg(long, hide = true)]
    pub child_port: Option<u16>,
}

/// Output format of `kensa bench`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    /// A table with the target checks.
    Text,
    /// One JSON document (schema `kensa-bench/1`).
    Json,
}

/// Which local server a scenario scans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// TLS 1.2 + 1.3, ECDHE with AES-GCM or ChaCha20-Poly1305 only.
    Modern,
    /// TLS 1.0 to 1.2, every suite OpenSSL has at security level 0.
    Legacy,
}

impl ServerKind {
    /// The `openssl s_server` options that make this server.
    pub fn openssl_args(self) -> &'static [&'static str] {
        match self {
            ServerKind::Modern => {
                &["-min_protocol", "TLSv1.2", "-cipher", "ECDHE+AESGCM:ECDHE+CHACHA20", "-groups", "X25519:P-256:P-384"]
            }
            ServerKind::Legacy => &["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2", "-cipher", "ALL:@SECLEVEL=0"],
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Modern => "modern",
            ServerKind::Legacy => "legacy",
        }
    }
}

/// One benchmark scenario: a server and a scan mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Full scan of the modern server.
    ModernFull,
    /// Full scan of the legacy server.
    LegacyFull,
    /// Minimal scan of the modern server.
    ModernMinimal,
    /// Minimal scan of the legacy server.
    LegacyMinimal,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 4] =
        [Scenario::ModernFull, Scenario::LegacyFull, Scenario::ModernMinimal, Scenario::LegacyMinimal];

    /// The server it scans.
    pub fn server(self) -> ServerKind {
        match self {
            Scenario::ModernFull | Scenario::ModernMinimal => ServerKind::Modern,
            Scenario::LegacyFull | Scenario::LegacyMinimal => ServerKind::Legacy,
        }
    }

    /// The scan mode.
    pub fn mode(self) -> ScanMode {
        match self {
            Scenario::ModernFull | Scenario::LegacyFull => ScanMode::Full,
            Scenario::ModernMinimal | Scenario::LegacyMinimal => ScanMode::Minimal,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ModernFull => "modern-full",
            Scenario::LegacyFull => "legacy-full",
            Scenario::ModernMinimal => "modern-minimal",
            Scenario::LegacyMinimal => "legacy-minimal",
        }
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No `openssl` binary to run the servers with.
    #[error("openssl is not installed: the benchmark needs Debian's `openssl s_server` (apt-get install openssl)")]
    OpenSslMissing,
    /// A server, a certificate or the proxy could not be set up.
    #[error("benchmark setup: {0}")]
    Setup(String),
    /// A scan (or its child process) failed.
    #[error("benchmark run: {0}")]
    Run(String),
}

/// A certificate and its key, as PEM.
#[derive(Clone, Debug)]
pub struct PemIdentity {
    /// The self-signed certificate.
    pub cert_pem: String,
    /// The RSA private key.
    pub key_pem: String,
}

/// Makes a self-signed RSA-2048 certificate for `localhost` with `openssl req` (ring, behind
/// rcgen, cannot generate RSA keys).
pub async fn rsa_identity() -> Result<PemIdentity, BenchError> {
    let made = tokio::task::spawn_blocking(|| {
        OpenSslServer::self_signed("localhost", &["-newkey", "rsa:2048"], &["-sha256", "-days", "2"])
    })
    .await
    .map_err(|e| BenchError::Setup(format!("openssl req: {e}")))?;
    let (cert_pem, key_pem) = made.map_err(BenchError::Setup)?;
    Ok(PemIdentity { cert_pem, key_pem })
}

/// The version line of the local `openssl`.
pub async fn openssl_version() -> Result<String, BenchError> {
    let mut command = tokio::process::Command::new("openssl");
    command.arg("version");
    let output = run_with_deadline(command, OPENSSL_DEADLINE).await?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Runs `command` (stdin closed, output captured), killing it at `deadline`.
async fn run_with_deadline(
    mut command: tokio::process::Command,
    deadline: Duration,
) -> Result<std::process::Output, BenchError> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let program = format!("{:?}", command.as_std().get_program());
    match tokio::time::timeout(deadline, command.output()).await {
        Err(_) => Err(BenchError::Run(format!("{program} did not finish within {} s", deadline.as_secs()))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound && program.contains("openssl") => {
            Err(BenchError::OpenSslMissing)
        }
        Ok(Err(e)) => Err(BenchError::Run(format!("cannot run {program}: {e}"))),
        Ok(Ok(output)) => Ok(output),
    }
}

/// A local server of known configuration with a counting proxy in front; both stop when
/// dropped.
pub struct BenchServer {
    /// Which configuration it serves.
    pub kind: ServerKind,
    /// The proxy to scan through.
    pub proxy: CountingProxy,
    server: OpenSslServer,
}

impl BenchServer {
    /// The address of `openssl s_server` itself (behind the proxy).
    pub fn server_addr(&self) -> SocketAddr {
        self.server.addr
    }
}

/// Starts `openssl s_server` as `kind` serving `identity`, and a [`CountingProxy`] in front.
pub async fn start_server(kind: ServerKind, identity: &PemIdentity) -> Result<BenchServer, BenchError> {
    if !OpenSslServer::available() {
        return Err(BenchError::OpenSslMissing);
    }
    let (cert, key) = (identity.cert_pem.clone(), identity.key_pem.clone());
    // Starting waits for the port to accept (blocking, at most a few seconds).
    let server = tokio::task::spawn_blocking(move || OpenSslServer::start_with_files(&cert, &key, kind.openssl_args()))
        .await
        .map_err(|e| BenchError::Setup(format!("openssl s_server start: {e}")))?
        .map_err(BenchError::Setup)?;
    let proxy = CountingProxy::start(server.addr).await?;
    Ok(BenchServer { kind, proxy, server })
}

/// A TCP proxy on 127.0.0.1 that relays every connection to one upstream address and counts
/// the connections it accepts. Stops (and drops every relayed connection) when dropped.
pub struct CountingProxy {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl CountingProxy {
    /// Listens on an OS-chosen loopback port and relays to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<CountingProxy, BenchError> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| BenchError::Setup(format!("proxy cannot listen: {e}")))?;
        let addr = listener.local_addr().map_err(|e| BenchError::Setup(format!("proxy address: {e}")))?;
        let connections = Arc::new(AtomicU64::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            // Owned here, so aborting this task aborts every relay.
            let mut relays = JoinSet::new();
            loop {
                match listener.accept().await {
                    Ok((client, _)) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        relays.spawn(relay(client, upstream));
                    }
                    // Out of descriptors or similar: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
                while relays.try_join_next().is_some() {}
            }
        });
        Ok(CountingProxy { addr, connections, task })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// The count once it reaches `expected`, or after 500 ms if it does not: the kernel
    /// completes a client's connect before the proxy's accept returns, so the last count
    /// may lag the scan by a moment.
    pub async fn connections_settled(&self, expected: u64) -> u64 {
        let waited = Instant::now();
        while self.connections() < expected && waited.elapsed() < Duration::from_millis(500) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.connections()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Relays one connection both ways until either side closes, under deadlines.
async fn relay(mut client: TcpStream, upstream: SocketAddr) {
    let Ok(Ok(mut server)) = tokio::time::timeout(PROXY_CONNECT_DEADLINE, TcpStream::connect(upstream)).await else {
        return;
    };
    // Hellos are small writes: no Nagle delay on either leg.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::time::timeout(PROXY_RELAY_DEADLINE, tokio::io::copy_bidirectional(&mut client, &mut server)).await;
}

/// Connections spent on one kind of exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spent {
    /// What the connections were for, e.g. `TLS 1.2 suites` or `rustls TLS 1.3`.
    pub what: String,
    /// How many.
    pub connections: u32,
}

/// What one scan of one endpoint cost and found, as the child reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanFigures {
    /// The scan mode.
    pub mode: ScanMode,
    /// Connections counted by kensa's connection gate (`EndpointEvidence::connections`).
    pub gate_connections: u32,
    /// Hand-built hello exchanges plus rustls handshakes (health check and certificate
    /// variants included).
    pub handshakes: u32,
    /// Accepted (version, suite) pairs, over every version.
    pub accepted: u32,
    /// Accepted suites per version, newest first, e.g. `("TLS 1.2", 56)`.
    pub accepted_by_version: Vec<(String, u32)>,
    /// Where the connections went.
    pub breakdown: Vec<Spent>,
    /// Wall time of the scan, in milliseconds.
    pub wall_ms: f64,
    /// Peak resident memory of the process (VmHWM), in KiB, when known.
    pub peak_rss_kib: Option<u64>,
}

/// Hand-built hello exchanges plus rustls attempts (health check and certificate variants
/// included).
pub fn handshakes(endpoint: &EndpointEvidence) -> u32 {
    let hellos: usize = endpoint.hand_built.iter().map(|a| a.exchanges.len()).sum();
    let rustls =
        endpoint.modern.len() + usize::from(endpoint.health_check.is_some()) + endpoint.certificate_variants.len();
    u32::try_from(hellos + rustls).unwrap_or(u32::MAX)
}

/// Where an endpoint's connections went, in probe order.
pub fn breakdown(endpoint: &EndpointEvidence) -> Vec<Spent> {
    let mut spent: Vec<Spent> = Vec::new();
    let mut add = |what: String| match spent.iter_mut().find(|s| s.what == what) {
        Some(entry) => entry.connections += 1,
        None => spent.push(Spent { what, connections: 1 }),
    };
    for attempt in endpoint.modern.iter() {
        add(format!("rustls {}", attempt.version.name()));
    }
    let mut hand_built: Vec<_> = endpoint.hand_built.iter().collect();
    hand_built.sort_by_key(|a| std::cmp::Reverse(a.version));
    for attempt in hand_built {
        for exchange in &attempt.exchanges {
            let purpose = match exchange.purpose {
                HelloPurpose::Suites => "suites",
                HelloPurpose::Groups => "groups",
                HelloPurpose::Preference => "preference",
                HelloPurpose::Fallback => "fallback SCSV",
            };
            if attempt.version == crate::evidence::TlsVersion::Ssl2 {
                add("SSLv2 hello".to_string());
            } else {
                add(format!("{} {purpose}", attempt.version.name()));
            }
        }
    }
    if endpoint.health_check.is_some() {
        add("health check".to_string());
    }
    for variant in &endpoint.certificate_variants {
        add(format!("certificate variant ({})", variant.request.label_en()));
    }
    spent
}

/// The figures of one scanned endpoint, given the scan's wall time.
pub fn figures(endpoint: &EndpointEvidence, mode: ScanMode, wall: Duration) -> ScanFigures {
    let versions = crate::posture::versions(endpoint);
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    ScanFigures {
        mode,
        gate_connections: endpoint.connections,
        handshakes: handshakes(endpoint),
        accepted: count(versions.iter().map(|v| v.accepted.len()).sum()),
        accepted_by_version: versions.iter().map(|v| (v.version.name().to_string(), count(v.accepted.len()))).collect(),
        breakdown: breakdown(endpoint),
        wall_ms: wall.as_secs_f64() * 1000.0,
        peak_rss_kib: peak_rss_kib(),
    }
}

/// Scans `localhost:port`, pinned to 127.0.0.1 (DNS is never asked), in `mode`, and returns
/// the figures of its one endpoint.
pub async fn scan_once(port: u16, mode: ScanMode) -> Result<ScanFigures, BenchError> {
    let target: Target =
        format!("localhost:{port}").parse().map_err(|e| BenchError::Run(format!("benchmark target: {e}")))?;
    let pin: Pin =
        format!("localhost:{port}:127.0.0.1").parse().map_err(|e| BenchError::Run(format!("benchmark pin: {e}")))?;
    // Pinned, so this resolver is never asked; a loopback one keeps the system's out of it.
    let resolver = ResolverSettings {
        server: Some(SocketAddr::from(([127, 0, 0, 1], 53))),
        timeout: SCAN_TIMEOUT,
        family: AddressFamily::V4,
    };
    let mut request = ScanRequest::new(vec![target], resolver, SCAN_TIMEOUT);
    request.pins = vec![pin];
    request.mode = mode;
    let started = Instant::now();
    let evidence = scan(&request).await;
    let wall = started.elapsed();
    let endpoints: Vec<&EndpointEvidence> = evidence.targets.iter().flat_map(|t| t.endpoints.iter()).collect();
    match endpoints.as_slice() {
        [endpoint] => Ok(figures(endpoint, mode, wall)),
        other => Err(BenchError::Run(format!("expected one endpoint, the scan probed {}", other.len()))),
    }
}

/// The process's peak resident set size (VmHWM) in KiB; `None` where /proc is missing.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One target check: a figure against its limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetCheck {
    /// What is checked, e.g. `connections <= 25`.
    pub what: String,
    /// The measured value.
    pub value: f64,
    /// The limit (inclusive).
    pub limit: f64,
    /// Whether the value is within the limit.
    pub held: bool,
    /// False when the check is shown but does not count (wall time in a debug build).
    pub counts: bool,
}

impl TargetCheck {
    fn at_most(what: String, value: f64, limit: f64, counts: bool) -> TargetCheck {
        TargetCheck { what, value, limit, held: value <= limit, counts }
    }
}

/// Whether this binary was built with optimisations (`--release`).
pub fn release_build() -> bool {
    !cfg!(debug_assertions)
}

/// The target checks of a scenario, given its worst connection count, accepted pairs and
/// median wall time.
pub fn target_checks(scenario: Scenario, connections: u32, accepted: u32, wall_ms_median: f64) -> Vec<TargetCheck> {
    let conns = f64::from(connections);
    match scenario {
        Scenario::ModernFull => vec![
            TargetCheck::at_most(
                format!("connections <= {MODERN_FULL_CONNECTIONS}"),
                conns,
                f64::from(MODERN_FULL_CONNECTIONS),
                true,
            ),
            TargetCheck::at_most(
                format!("median wall time <= {MODERN_FULL_WALL_MS} ms"),
                wall_ms_median,
                MODERN_FULL_WALL_MS,
                release_build(),
            ),
        ],
        Scenario::LegacyFull => {
            let limit = accepted.saturating_add(LEGACY_FULL_OVERHEAD);
            vec![TargetCheck::at_most(
                format!("connections <= accepted {accepted} + {LEGACY_FULL_OVERHEAD} = {limit}"),
                conns,
                f64::from(limit),
                true,
            )]
        }
        Scenario::ModernMinimal | Scenario::LegacyMinimal => vec![TargetCheck::at_most(
            format!("connections per endpoint <= {MINIMAL_CONNECTION_BUDGET}"),
            conns,
            f64::from(MINIMAL_CONNECTION_BUDGET),
            true,
        )],
    }
}

/// One child run as the parent saw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    /// Connections the proxy accepted during the run.
    pub proxy_connections: u64,
    /// What the child reported.
    pub figures: ScanFigures,
}

/// A scenario's runs, aggregated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioResult {
    /// The scenario.
    pub scenario: Scenario,
    /// The server it scanned.
    pub server: ServerKind,
    /// The scan mode.
    pub mode: ScanMode,
    /// Most connections the proxy counted in one run.
    pub connections_proxy: u64,
    /// Most connections the gate counted in one run.
    pub connections_gate: u32,
    /// Whether proxy and gate agreed in every run.
    pub counts_agree: bool,
    /// Whether every run opened the same number of connections.
    pub stable: bool,
    /// Most handshakes in one run.
    pub handshakes: u32,
    /// Accepted (version, suite) pairs (of the first run; a minimal scan does not enumerate,
    /// so there it counts only the suites picked).
    pub accepted: u32,
    /// Accepted suites per version (first run).
    pub accepted_by_version: Vec<(String, u32)>,
    /// Where the connections went (first run).
    pub breakdown: Vec<Spent>,
    /// Median wall time over the runs, in milliseconds.
    pub wall_ms_median: f64,
    /// Shortest wall time, in milliseconds.
    pub wall_ms_min: f64,
    /// Highest peak RSS of a run, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// The target checks.
    pub checks: Vec<TargetCheck>,
    /// Every run.
    pub runs: Vec<Run>,
}

impl ScenarioResult {
    /// Aggregates the runs of `scenario` (at least one).
    pub fn from_runs(scenario: Scenario, runs: Vec<Run>) -> Result<ScenarioResult, BenchError> {
        let first = runs.first().ok_or_else(|| BenchError::Run(format!("{}: no run", scenario.name())))?;
        let connections_proxy = runs.iter().map(|r| r.proxy_connections).max().unwrap_or(0);
        let connections_gate = runs.iter().map(|r| r.figures.gate_connections).max().unwrap_or(0);
        let counts_agree = runs.iter().all(|r| r.proxy_connections == u64::from(r.figures.gate_connections));
        let stable = runs.iter().all(|r| r.figures.gate_connections == first.figures.gate_connections);
        let mut walls: Vec<f64> = runs.iter().map(|r| r.figures.wall_ms).collect();
        walls.sort_by(f64::total_cmp);
        let wall_ms_median = median(&walls);
        let wall_ms_min = walls.first().copied().unwrap_or(0.0);
        let worst = u32::try_from(connections_proxy).unwrap_or(u32::MAX).max(connections_gate);
        let mut checks = target_checks(scenario, worst, first.figures.accepted, wall_ms_median);
        if !counts_agree {
            checks.push(TargetCheck {
                what: "proxy and gate counts agree".to_string(),
                value: f64::from(worst),
                limit: f64::from(connections_gate),
                held: false,
                counts: true,
            });
        }
        Ok(ScenarioResult {
            scenario,
            server: scenario.server(),
            mode: scenario.mode(),
            connections_proxy,
            connections_gate,
            counts_agree,
            stable,
            handshakes: runs.iter().map(|r| r.figures.handshakes).max().unwrap_or(0),
            accepted: first.figures.accepted,
            accepted_by_version: first.figures.accepted_by_version.clone(),
            breakdown: first.figures.breakdown.clone(),
            wall_ms_median,
            wall_ms_min,
            peak_rss_kib: runs.iter().filter_map(|r| r.figures.peak_rss_kib).max(),
            checks,
            runs,
        })
    }

    /// Whether every check that counts held.
    pub fn held(&self) -> bool {
        self.checks.iter().filter(|c| c.counts).all(|c| c.held)
    }
}

/// The median of sorted values (0 for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The whole benchmark's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// `kensa-bench/1`.
    pub schema: &'static str,
    /// The kensa version measured.
    pub kensa_version: &'static str,
    /// `release` or `debug`.
    pub build: &'static str,
    /// The `openssl version` line of the servers.
    pub openssl: String,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// Runs per scenario.
    pub repeat: u32,
    /// Per scenario.
    pub scenarios: Vec<ScenarioResult>,
    /// Whether every target held.
    pub all_held: bool,
}

/// Runs `kensa bench` (or, with `--child`, one child scan) and returns the exit code: 0 when
/// every target held, 1 otherwise. Errors (openssl missing, setup failures) are values.
pub async fn run(args: &BenchArgs) -> Result<i32, BenchError> {
    if let (Some(scenario), Some(port)) = (args.child, args.child_port) {
        return run_child(scenario, port).await;
    }
    if args.repeat == 0 || args.repeat > 100 {
        return Err(BenchError::Setup(format!("--repeat must be between 1 and 100, not {}", args.repeat)));
    }
    if !OpenSslServer::available() {
        return Err(BenchError::OpenSslMissing);
    }
    let mut scenarios: Vec<Scenario> =
        if args.scenarios.is_empty() { Scenario::ALL.to_vec() } else { args.scenarios.clone() };
    scenarios.sort_unstable();
    scenarios.dedup();
    let report = measure(&scenarios, args.repeat, args.format == BenchFormat::Text).await?;
    match args.format {
        BenchFormat::Text => print!("{}", render_text(&report)),
        BenchFormat::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(|e| BenchError::Run(format!("JSON: {e}")))?;
            println!("{json}");
        }
    }
    Ok(if report.all_held { 0 } else { 1 })
}

/// The child: one scan, one JSON line on standard output.
async fn run_child(scenario: Scenario, port: u16) -> Result<i32, BenchError> {
    let figures = scan_once(port, scenario.mode()).await?;
    let line = serde_json::to_string(&figures).map_err(|e| BenchError::Run(format!("JSON: {e}")))?;
    println!("{line}");
    Ok(0)
}

/// Starts the servers the scenarios need and runs each scenario `repeat` times in child
/// processes. With `progress`, one line per run goes to standard error.
pub async fn measure(scenarios: &[Scenario], repeat: u32, progress: bool) -> Result<BenchReport, BenchError> {
    let exe = std::env::current_exe().map_err(|e| BenchError::Setup(format!("cannot find the kensa binary: {e}")))?;
    let openssl = openssl_version().await?;
    let identity = rsa_identity().await?;
    let mut servers: Vec<BenchServer> = Vec::new();
    for kind in [ServerKind::Modern, ServerKind::Legacy] {
        if scenarios.iter().any(|s| s.server() == kind) {
            servers.push(start_server(kind, &identity).await?);
        }
    }
    let mut results = Vec::with_capacity(scenarios.len());
    for scenario in scenarios {
        let server = servers
            .iter()
            .find(|s| s.kind == scenario.server())
            .ok_or_else(|| BenchError::Setup(format!("no {} server", scenario.server().name())))?;
        let mut runs = Vec::with_capacity(usize::try_from(repeat).unwrap_or(1));
        for index in 0..repeat {
            let run = child_run(&exe, *scenario, &server.proxy).await?;
            if progress {
                eprintln!(
                    "kensa bench: {} run {}/{repeat}: {} connections, {:.1} ms",
                    scenario.name(),
                    index + 1,
                    run.proxy_connections,
                    run.figures.wall_ms
                );
            }
            runs.push(run);
        }
        results.push(ScenarioResult::from_runs(*scenario, runs)?);
    }
    Ok(BenchReport {
        schema: "kensa-bench/1",
        kensa_version: env!("CARGO_PKG_VERSION"),
        build: if release_build() { "release" } else { "debug" },
        openssl,
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        repeat,
        all_held: results.iter().all(ScenarioResult::held),
        scenarios: results,
    })
}

/// One run of `scenario` in a child process, scanning through `proxy`.
async fn child_run(exe: &std::path::Path, scenario: Scenario, proxy: &CountingProxy) -> Result<Run, BenchError> {
    let before = proxy.connections();
    let mut command = tokio::process::Command::new(exe);
    command.args(["bench", "--child", scenario.name(), "--child-port"]).arg(proxy.addr().port().to_string());
    let output = run_with_deadline(command, CHILD_DEADLINE).await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(BenchError::Run(format!(
            "{} child exited with {}: {}",
            scenario.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    let figures: ScanFigures = serde_json::from_str(line)
        .map_err(|e| BenchError::Run(format!("{} child printed no figures ({e}): {stdout}", scenario.name())))?;
    let settled = proxy.connections_settled(before + u64::from(figures.gate_connections)).await;
    Ok(Run { proxy_connections: settled - before, figures })
}

/// The report as a table with the target checks.
pub fn render_text(report: &BenchReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "kensa {} bench ({} build, {} CPUs, {}; {} run{} per scenario)\n\n",
        report.kensa_version,
        report.build,
        report.cpus,
        report.openssl,
        report.repeat,
        if report.repeat == 1 { "" } else { "s" }
    ));
    let header = ["scenario", "connections", "handshakes", "accepted", "wall ms median", "wall ms min", "peak RSS"];
    let rows: Vec<[String; 7]> = report
        .scenarios
        .iter()
        .map(|s| {
            let connections = if s.counts_agree {
                s.connections_proxy.to_string()
            } else {
                format!("{} (gate {})", s.connections_proxy, s.connections_gate)
            };
            let accepted = match s.mode {
                ScanMode::Full => s.accepted.to_string(),
                ScanMode::Minimal => "-".to_string(),
            };
            [
                s.scenario.name().to_string(),
                format!("{connections}{}", if s.stable { "" } else { " (varies)" }),
                s.handshakes.to_string(),
                accepted,
                format!("{:.1}", s.wall_ms_median),
                format!("{:.1}", s.wall_ms_min),
                s.peak_rss_kib.map_or_else(|| "n/a".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| if i == 0 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(&header.map(str::to_string)));
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str("\nconnections: counted by the proxy in front of the server; kensa's gate counted the same");
    out.push_str(" unless shown.\naccepted: (version, suite) pairs found (minimal mode does not enumerate).\n");
    out.push_str("\nTargets:\n");
    for s in &report.scenarios {
        for check in &s.checks {
            let mark = if check.held { "✔" } else { "✘" };
            let note = if check.counts { "" } else { "  (not judged: the wall-time target is for a --release build)" };
            out.push_str(&format!(
                "  {mark} {:<15} {}: {}{note}\n",
                s.scenario.name(),
                check.what,
                trim_number(check.value)
            ));
        }
    }
    out.push_str("\nWhere the connections went (first run):\n");
    for s in &report.scenarios {
        let parts: Vec<String> = s.breakdown.iter().map(|b| format!("{} {}", b.what, b.connections)).collect();
        out.push_str(&format!("  {:<15} {}\n", s.scenario.name(), parts.join(", ")));
        if s.mode == ScanMode::Full {
            let versions: Vec<String> = s.accepted_by_version.iter().map(|(v, n)| format!("{v} {n}")).collect();
            out.push_str(&format!("  {:<15} accepted suites: {}\n", "", versions.join(", ")));
        }
    }
    if !release_build() {
        out.push_str(
            "\nThis is a debug build: the wall-time target (150 ms) is meant for `cargo run --release -- bench`.\n",
        );
    }
    out.push_str(&format!("\n{}\n", if report.all_held { "All targets hold." } else { "Some targets do not hold." }));
    out
}

/// A figure without a useless `.0`.
fn trim_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(proxy: u64, gate: u32, wall_ms: f64) -> Run {
        Run {
            proxy_connections: proxy,
            figures: ScanFigures {
                mode: ScanMode::Full,
                gate_connections: gate,
                handshakes: gate,
                accepted: 88,
                accepted_by_version: vec![("TLS 1.2".to_string(), 56)],
                breakdown: Vec::new(),
                wall_ms,
                peak_rss_kib: Some(1000),
            },
        }
    }

    #[test]
    fn aggregates_runs_and_checks_targets() {
        let result = ScenarioResult::from_runs(
            Scenario::LegacyFull,
            vec![run(100, 100, 30.0), run(100, 100, 10.0), run(100, 100, 20.0)],
        )
        .unwrap();
        assert_eq!(result.wall_ms_median, 20.0);
        assert_eq!(result.wall_ms_min, 10.0);
        assert!(result.counts_agree && result.stable && result.held());
        let over = ScenarioResult::from_runs(Scenario::LegacyFull, vec![run(107, 107, 1.0)]).unwrap();
        assert!(!over.held(), "88 + 18 = 106 < 107");
    }

    #[test]
    fn a_disagreeing_count_fails() {
        let result = ScenarioResult::from_runs(Scenario::ModernMinimal, vec![run(7, 6, 1.0)]).unwrap();
        assert!(!result.counts_agree);
        assert!(!result.held());
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(median(&[5.0]), 5.0);
        assert_eq!(median(&[]), 0.0);
    }
}
