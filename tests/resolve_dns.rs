//! Name resolution end to end: every A and AAAA address of a host becomes its own endpoint,
//! `-4`/`-6` filter them, and DNS failures are indeterminate, never compliant. A small DNS
//! responder on 127.0.0.1 (built with hickory-proto, already in kensa's graph) answers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA};
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use kensa::testkit::{spawn_tls_server, spawn_tls_server_on, TestCa, Validity};
use rustls::version::{TLS12, TLS13};
use tokio::net::UdpSocket;

const DUAL: &str = "dual.clinic.example";

/// Answers A/AAAA from `zone`, NXDOMAIN for other names; stays silent if `zone` is `None`.
async fn spawn_dns(zone: Option<HashMap<String, Vec<IpAddr>>>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let addr = socket.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
            let Some(zone) = &zone else { continue };
            let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
            let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
            reply.metadata.message_type = MessageType::Response;
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            for q in &query.queries {
                reply.add_query(q.clone());
                let name = q.name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
                match zone.get(&name) {
                    None => reply.metadata.response_code = ResponseCode::NXDomain,
                    Some(addresses) => {
                        for ip in addresses {
                            let data = match (ip, q.query_type()) {
                                (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                                (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                                _ => continue,
                            };
                            reply.add_answer(Record::from_rdata(q.name().clone(), 60, data));
                        }
                    }
                }
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    (addr, task)
}

async fn kensa(args: &[String]) -> (i32, serde_json::Value, String) {
    let output =
        tokio::process::Command::new(env!("CARGO_BIN_EXE_kensa")).args(args).output().await.expect("run kensa");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.code().unwrap_or(-1), json, stderr)
}

fn endpoints(report: &serde_json::Value) -> Vec<String> {
    report["endpoints"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["endpoint"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn item_status(report: &serde_json::Value, id: &str) -> String {
    report["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .and_then(|i| i["status"].as_str())
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_a_and_aaaa_address_is_an_endpoint() {
    let ca = TestCa::new("kensa dns test CA").expect("ca");
    let both: &[&'static rustls::SupportedProtocolVersion] = &[&TLS13, &TLS12];
    let v4 = spawn_tls_server(ca.issue(&[DUAL], Validity::CURRENT).expect("leaf"), both).await.expect("v4 server");
    let port = v4.addr.port();
    let v6 = match spawn_tls_server_on(
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        ca.issue(&[DUAL], Validity::CURRENT).expect("leaf"),
        both,
    )
    .await
    {
        Ok(server) => server,
        Err(e) => {
            eprintln!("skipping: no IPv6 loopback here ({e})");
            return;
        }
    };
    let zone = HashMap::from([(DUAL.to_string(), vec!["127.0.0.1".parse().expect("ip"), "::1".parse().expect("ip")])]);
    let (dns, _dns_task) = spawn_dns(Some(zone)).await;
    let dir = std::env::temp_dir().join(format!("kensa-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.certificate_pem()).expect("ca pem");
    let base = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["scan".into(), format!("{DUAL}:{port}"), "--resolver".into(), dns.to_string()];
        args.extend([
            "--ca-file".into(),
            ca_file.display().to_string(),
            "--format".into(),
            "json".into(),
            "--timeout".into(),
            "3".into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    let (code, report, stderr) = kensa(&base(&[])).await;
    assert_eq!(code, 0, "{stderr}\n{report}");
    assert_eq!(endpoints(&report), vec![format!("{DUAL} [127.0.0.1]:{port}"), format!("{DUAL} [::1]:{port}")]);
    assert_eq!(report["targets"][0]["resolution"]["source"], "dns");
    assert_eq!(item_status(&report, "2-1.xii"), "compliant");
    assert!(v4.connections() > 0 && v6.connections() > 0, "both addresses were probed");

    let (code, report, _) = kensa(&base(&["-4"])).await;
    assert_eq!((code, endpoints(&report)), (0, vec![format!("{DUAL} [127.0.0.1]:{port}")]));
    let (code, report, _) = kensa(&base(&["-6"])).await;
    assert_eq!((code, endpoints(&report)), (0, vec![format!("{DUAL} [::1]:{port}")]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failures_are_indeterminate() {
    let (dns, _task) = spawn_dns(Some(HashMap::new())).await;
    let args = |name: &str, server: SocketAddr| -> Vec<String> {
        ["scan", name, "--resolver", &server.to_string(), "--format", "json", "--timeout", "0.5"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let (code, report, stderr) = kensa(&args("nx.clinic.example", dns)).await;
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(item_status(&report, "2-1.xii"), "indeterminate");
    assert!(report["targets"][0]["resolution"]["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(endpoints(&report).is_empty());

    // A resolver that never answers: bounded by the deadline, still indeterminate.
    let (silent, _silent_task) = spawn_dns(None).await;
    let started = Instant::now();
    let (code, report, _) = kensa(&args("slow.clinic.example", silent)).await;
    assert_eq!(code, 3);
    assert_eq!(item_status(&report, "2-1.xii"), "indeterminate");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}
