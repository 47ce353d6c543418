//! `kensa monitor` end to end: loopback servers whose configuration the test changes between
//! runs; each change must produce exactly the expected events, once, through the event log,
//! the webhook and the metrics — and a network blip none.

#[macro_use]
mod common;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::{kensa, Run};
use kensa::testkit::http::{HttpServer, Response, RunningHttpServer};
use kensa::testkit::{spawn_tls_server_on, Identity, OpenSslServer, RunningServer, TempDir, TestCa, Validity};
use rustls::version::{TLS12, TLS13};
use serde_json::Value;

/// TLS 1.0 needs SHA-1 handshake signatures, which OpenSSL 3 allows only at security level
/// 0; one CBC suite (all TLS 1.0 has) and one AEAD suite, for an ECDSA certificate.
const TLS10_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0";

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("pick a free port").port()
}

/// A monitored service of two endpoints and everything around it.
struct Lab {
    dir: TempDir,
    /// The app's certificates from each CA, and the legacy endpoint's: issued once, so that
    /// restarting a server with the same one is no change.
    app_ca1: Identity,
    app_ca2: Identity,
    legacy_identity: Identity,
    app_port: u16,
    legacy_port: u16,
    manifest: PathBuf,
    ca_files: Vec<PathBuf>,
    webhook: RunningHttpServer,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Lab {
    async fn new(test: &str) -> Lab {
        let dir = TempDir::new(test).unwrap();
        let (ca1, ca2) = (TestCa::new("kensa monitor CA one").unwrap(), TestCa::new("kensa monitor CA two").unwrap());
        let ca_files = vec![
            dir.write("ca1.pem", ca1.certificate_pem()).unwrap(),
            dir.write("ca2.pem", ca2.certificate_pem()).unwrap(),
        ];
        let (app_port, legacy_port) = (free_port(), free_port());
        let manifest = dir
            .write(
                "kensa.toml",
                format!(
                    "[service]\nname = \"監視テスト\"\nvendor = \"テスト\"\naffects_clinic_systems = false\n\n\
                     [[endpoints]]\nrole = \"api\"\nurl = \"https://app.clinic.test:{app_port}/\"\npatient_facing = false\n\n\
                     [[endpoints]]\nrole = \"api\"\nurl = \"https://legacy.clinic.test:{legacy_port}/\"\npatient_facing = false\n"
                ),
            )
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let webhook = HttpServer::new()
            .handler("/hook", move |request| {
                if let Ok(body) = serde_json::from_slice::<Value>(&request.body) {
                    sink.lock().unwrap().push(body);
                }
                Response::status(204)
            })
            .start()
            .await
            .unwrap();
        let app_ca1 = ca1.issue(&["app.clinic.test"], Validity::CURRENT).unwrap();
        let app_ca2 = ca2.issue(&["app.clinic.test"], Validity::CURRENT).unwrap();
        let legacy_identity = ca1.issue(&["legacy.clinic.test"], Validity::CURRENT).unwrap();
        Lab { dir, app_ca1, app_ca2, legacy_identity, app_port, legacy_port, manifest, ca_files, webhook, received }
    }

    /// Starts the app server on its port; a server just dropped releases the port only once
    /// its task has wound down, so binding is retried for a moment.
    async fn app(&self, identity: &Identity) -> RunningServer {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.app_port));
        let mut last = String::new();
        for _ in 0..40 {
            match spawn_tls_server_on(addr, identity.clone(), &[&TLS13, &TLS12]).await {
                Ok(server) => return server,
                Err(e) => last = e,
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("start the app server on {addr}: {last}");
    }

    fn legacy(&self, versions: &[&str]) -> OpenSslServer {
        OpenSslServer::start_on(self.legacy_port, &self.legacy_identity, versions)
            .expect("start openssl s_server on its port")
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("history.sqlite")
    }

    fn event_log(&self) -> PathBuf {
        self.dir.path().join("events.jsonl")
    }

    /// One monitoring run; returns it and the events it logged.
    async fn run(&self) -> (Run, Vec<Value>) {
        let before = self.logged().len();
        let mut args = args![
            "monitor",
            "--manifest",
            &self.manifest,
            "--db",
            self.db(),
            "--no-domain",
            "--mode",
            "minimal",
            "--timeout",
            "2",
            "--retry-delay",
            "0.2",
            "--event-log",
            self.event_log(),
            "--webhook",
            self.webhook.url("/hook"),
            "--metrics-file",
            self.dir.path().join("kensa.prom"),
            "--lang",
            "en",
            "--resolve",
            format!("app.clinic.test:{}:127.0.0.1", self.app_port),
            "--resolve",
            format!("legacy.clinic.test:{}:127.0.0.1", self.legacy_port),
        ];
        for ca in &self.ca_files {
            args.extend(args!["--ca-file", ca]);
        }
        let run = kensa(args).await;
        assert!(!run.stderr.contains("could not be stored"), "{}", run.stderr);
        let events = self.logged().split_off(before);
        (run, events)
    }

    fn logged(&self) -> Vec<Value> {
        std::fs::read_to_string(self.event_log())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every event-log line is JSON"))
            .collect()
    }

    fn metrics(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kensa.prom")).unwrap_or_default()
    }
}

fn kinds(events: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = events
        .iter()
        .map(|e| format!("{}:{}", e["kind"].as_str().unwrap_or("?"), e["check_id"].as_str().unwrap_or("")))
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_is_reported_once_and_a_blip_is_not() {
    if !OpenSslServer::available() {
        panic!("openssl is needed (installed by .ci/run)");
    }
    let lab = Lab::new("monitor-changes").await;
    let mut app = Some(lab.app(&lab.app_ca1).await);
    let mut legacy = lab.legacy(&["-tls1_2"]);

    // 1: the first run states what is wrong already; nothing here is.
    let (first, events) = lab.run().await;
    assert!(
        events.iter().all(|e| e["severity"] != "critical"),
        "a compliant service raises nothing critical: {events:#?}\n{}",
        first.stderr
    );
    assert!(lab.metrics().contains("kensa_last_run_timestamp_seconds"), "{}", lab.metrics());

    // 2: nothing changed, nothing is said.
    let (quiet, events) = lab.run().await;
    assert_eq!((quiet.code, events.len()), (0, 0), "{events:#?}\n{}", quiet.stdout);
    assert!(quiet.stdout.contains("no change"), "{}", quiet.stdout);

    // 3: TLS 1.0 comes back on the legacy endpoint.
    drop(legacy);
    legacy =
        lab.legacy(&["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2", "-no_tls1_1", "-cipher", TLS10_CIPHERS]);
    let (enabled, events) = lab.run().await;
    assert_eq!(enabled.code, 1, "{}", enabled.stdout);
    // TLS 1.0 brings its CBC suites with it: the version alert, its failed check, and the
    // suite warning — once each.
    assert_eq!(
        kinds(&events),
        ["new_failure:tls.no-tls10", "new_warning:suites.no-cbc", "protocol_enabled:"],
        "{:#?}",
        kinds(&events)
    );
    assert!(events.iter().all(|e| e["subject"].as_str().unwrap().starts_with("legacy.clinic.test")));
    let enabled_line = lab
        .metrics()
        .lines()
        .find(|l| l.starts_with("kensa_tls_version_accepted") && l.contains("legacy.clinic.test") && l.contains("1.0"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(enabled_line.ends_with(" 1"), "TLS 1.0 accepted in the metrics: {enabled_line:?}\n{}", lab.metrics());

    // 4: still the same: said once only.
    let (_, events) = lab.run().await;
    assert!(events.is_empty(), "{events:#?}");

    // 5: the app's certificate is replaced by one from another CA.
    drop(app.take());
    app = Some(lab.app(&lab.app_ca2).await);
    let (_, events) = lab.run().await;
    assert_eq!(kinds(&events), ["certificate_replaced:"], "{events:#?}");

    // 6: the app goes silent once: retried, and not yet an alert.
    drop(app.take());
    let (blip, events) = lab.run().await;
    assert!(events.is_empty(), "one silent run is not an outage: {events:#?}");
    assert_eq!(blip.code, 0, "{}", blip.stdout);

    // 7: silent on a second run: one alert.
    let (down, events) = lab.run().await;
    assert_eq!(kinds(&events), ["unreachable:"], "{events:#?}");
    assert_eq!(down.code, 1);

    // 8: still down: no repeat.
    let (_, events) = lab.run().await;
    assert!(events.is_empty(), "{events:#?}");

    // 9: back with the same certificate as before the outage: recovered, nothing else.
    app = Some(lab.app(&lab.app_ca2).await);
    let (_, events) = lab.run().await;
    assert_eq!(kinds(&events), ["recovered:"], "{events:#?}");

    // The webhook got one POST per run that had events, each with a Slack `text`.
    let received = lab.received.lock().unwrap().clone();
    let runs_with_events: std::collections::BTreeSet<i64> =
        lab.logged().iter().filter_map(|e| e["run_id"].as_i64()).collect();
    assert_eq!(received.len(), runs_with_events.len(), "{received:#?}");
    assert!(received.iter().all(|b| b["text"].as_str().is_some_and(|t| !t.is_empty())));

    // The history lists every run, and any run renders again.
    let history = kensa(args!["history", "--db", lab.db(), "--json"]).await;
    let runs: Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(9), "{}", history.stdout);
    let shown = kensa(args!["show", "3", "--db", lab.db(), "--format", "json"]).await.json();
    assert_eq!(
        shown["items"].as_array().unwrap().iter().find(|i| i["id"] == "2-1.xii").unwrap()["status"],
        "non_compliant"
    );
    drop((app, legacy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_monitor_on_the_same_database_is_refused_and_kill_9_loses_nothing() {
    let lab = Lab::new("monitor-lock").await;
    let _app = lab.app(&lab.app_ca1).await;
    // The legacy endpoint is down all along; it does not matter here.
    let (first, _) = lab.run().await;
    assert!(first.code == 0 || first.code == 1, "{}", first.stderr);

    // A long-running monitor holds the database …
    let mut service = tokio::process::Command::new(env!("CARGO_BIN_EXE_kensa"))
        .args(["monitor", "--manifest"])
        .arg(&lab.manifest)
        .arg("--db")
        .arg(lab.db())
        .args(["--no-domain", "--mode", "minimal", "--timeout", "2", "--every", "10m", "--retry-delay", "0"])
        .arg("--resolve")
        .arg(format!("app.clinic.test:{}:127.0.0.1", lab.app_port))
        .arg("--ca-file")
        .arg(&lab.ca_files[0])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // … so a second one says so and stops.
    let second = kensa(args!["monitor", "--manifest", &lab.manifest, "--db", lab.db(), "--no-domain"]).await;
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(second.stderr.contains("lock"), "{}", second.stderr);

    // kill -9 mid-run: the runs stored before are intact and the lock is gone with it.
    service.start_kill().unwrap();
    service.wait().await.unwrap();
    let history = kensa(args!["history", "--db", lab.db(), "--json"]).await;
    assert_eq!(history.code, 0, "{}", history.stderr);
    let runs: Value = serde_json::from_str(&history.stdout).unwrap();
    assert!(runs.as_array().is_some_and(|r| !r.is_empty()));
    let (after, _) = lab.run().await;
    assert!(after.code == 0 || after.code == 1, "the lock died with the process: {}", after.stderr);
}
