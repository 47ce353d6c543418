//! The benchmark's connection budgets, as a test: the same two `openssl s_server` instances
//! as `kensa bench` (see `kensa::bench`), scanned in process through the counting proxy, in
//! full and minimal mode. Connections only: nothing here is timed (wall time and memory are
//! the benchmark's business, `cargo run --release -- bench`).

use kensa::bench::{
    rsa_identity, scan_once, start_server, BenchServer, ScanFigures, ServerKind, LEGACY_FULL_OVERHEAD,
    MODERN_FULL_CONNECTIONS,
};
use kensa::evidence::ScanMode;
use kensa::probe::MINIMAL_CONNECTION_BUDGET;
use kensa::testkit::OpenSslServer;

/// Scans `server` once in `mode` and checks that the proxy counted what the gate counted.
async fn scan_counted(server: &BenchServer, mode: ScanMode) -> ScanFigures {
    let before = server.proxy.connections();
    let figures = scan_once(server.proxy.addr().port(), mode).await.expect("scan through the proxy");
    let counted = server.proxy.connections_settled(before + u64::from(figures.gate_connections)).await - before;
    assert_eq!(
        counted,
        u64::from(figures.gate_connections),
        "the proxy and kensa's gate disagree on {mode:?} connections: {figures:#?}"
    );
    assert_eq!(figures.handshakes, figures.gate_connections, "one hello or handshake per connection: {figures:#?}");
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_stay_within_their_connection_budgets() {
    if !OpenSslServer::available() {
        eprintln!("note: openssl is missing; skipping the benchmark budget test");
        return;
    }
    let identity = rsa_identity().await.expect("RSA certificate from openssl req");
    let modern = start_server(ServerKind::Modern, &identity).await.expect("modern s_server");
    let legacy = start_server(ServerKind::Legacy, &identity).await.expect("legacy s_server");

    let modern_full = scan_counted(&modern, ScanMode::Full).await;
    assert!(
        modern_full.gate_connections <= MODERN_FULL_CONNECTIONS,
        "modern full scan: {} connections, budget {MODERN_FULL_CONNECTIONS}: {:#?}",
        modern_full.gate_connections,
        modern_full.breakdown
    );
    // TLS 1.3 and TLS 1.2 with three suites each, nothing older.
    let by_version =
        |f: &ScanFigures| f.accepted_by_version.iter().map(|(v, n)| format!("{v} {n}")).collect::<Vec<_>>();
    assert_eq!(by_version(&modern_full), ["TLS 1.3 3", "TLS 1.2 3"], "{modern_full:#?}");

    let legacy_full = scan_counted(&legacy, ScanMode::Full).await;
    assert!(legacy_full.accepted >= 40, "the legacy server accepts 40 suites or more: {legacy_full:#?}");
    let budget = legacy_full.accepted + LEGACY_FULL_OVERHEAD;
    assert!(
        legacy_full.gate_connections <= budget,
        "legacy full scan: {} connections for {} accepted suites, budget {budget}: {:#?}",
        legacy_full.gate_connections,
        legacy_full.accepted,
        legacy_full.breakdown
    );
    assert!(by_version(&legacy_full).iter().all(|v| !v.starts_with("TLS 1.3") && !v.starts_with("SSL")));
    assert_eq!(legacy_full.accepted_by_version.len(), 3, "TLS 1.0, 1.1 and 1.2: {legacy_full:#?}");

    for (name, server) in [("modern", &modern), ("legacy", &legacy)] {
        let minimal = scan_counted(server, ScanMode::Minimal).await;
        assert!(
            minimal.gate_connections <= MINIMAL_CONNECTION_BUDGET,
            "{name} minimal scan: {} connections, budget {MINIMAL_CONNECTION_BUDGET}: {:#?}",
            minimal.gate_connections,
            minimal.breakdown
        );
    }
}
