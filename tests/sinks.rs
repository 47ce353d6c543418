//! Monitoring sinks against loopback receivers: the webhook (delivered, retried, refused,
//! hanging, redirected), the JSON-lines event log (whole lines under concurrent appenders)
//! and the command hook (environment, timeout, failure).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kensa::i18n::{Lang, Text};
use kensa::monitor::event::{Event, EventKind, Severity};
use kensa::monitor::sinks::{
    deliver_all, CommandHook, Delivery, EventLog, HookError, Outcome, RunContext, SinkName, Sinks, Webhook,
    WebhookError,
};
use kensa::testkit::http::{Hostile, HttpServer, Request, Response};
use kensa::testkit::TempDir;

fn event(n: usize, severity: Severity) -> Event {
    Event {
        kind: if n.is_multiple_of(2) {
            EventKind::NewFailure
        } else {
            EventKind::ProtocolEnabled { version: "TLS 1.0".to_string() }
        },
        severity,
        subject: format!("host{n}.example.jp:443"),
        item_id: Some("2-1.iii".to_string()),
        check_id: Some("tls.protocol.legacy".to_string()),
        before: Some("refused".to_string()),
        after: Some("accepted".to_string()),
        message: Text::new(format!("change {n}"), format!("変化 {n}")),
        at: 1_700_000_000,
    }
}

fn ctx() -> RunContext {
    RunContext {
        run_id: Some(42),
        monitor: "clinic-prod".to_string(),
        finished_at: 1_700_000_100,
        exit_code: 1,
        report_hint: Some("/var/lib/kensa/report.html".to_string()),
    }
}

/// Short timings so that every failing case ends in well under a few seconds.
fn webhook(url: String, attempts: u32) -> Webhook {
    Webhook {
        url,
        attempts,
        first_backoff: Duration::from_millis(20),
        timeout: Duration::from_millis(500),
        lang: Lang::En,
        extra_roots: Vec::new(),
    }
}

/// A receiver on `/hook` that records every request and answers with `answer(n)` for the
/// n-th (0-based) one.
fn recorder(answer: impl Fn(usize) -> Response + Send + Sync + 'static) -> (HttpServer, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let count = AtomicUsize::new(0);
    let server = HttpServer::new().handler("/hook", move |request| {
        log.lock().expect("lock").push(request.clone());
        answer(count.fetch_add(1, Ordering::SeqCst))
    });
    (server, seen)
}

#[tokio::test]
async fn webhook_is_delivered_once_with_text_and_events() {
    let (server, seen) = recorder(|_| Response::ok("text/plain", "ok"));
    let server = server.start().await.expect("server");
    let events = vec![event(0, Severity::Critical), event(1, Severity::Warning)];
    let delivery = webhook(server.url("/hook"), 4).send(&ctx(), &events).await.expect("delivered");
    assert!(matches!(delivery, Delivery::Delivered { attempts: 1, status: 200, .. }), "{delivery:?}");

    let requests = seen.lock().expect("lock").clone();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
    let text = body["text"].as_str().expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "kensa monitor “clinic-prod”: 2 changes, run 42, exit code 1");
    assert_eq!(lines[1], "Report: /var/lib/kensa/report.html");
    assert_eq!(lines[2], "🔴 *host0.example.jp:443* [2-1.iii] change 0");
    assert_eq!(lines[3], "🟡 *host1.example.jp:443* [2-1.iii] change 1");
    let kensa = &body["kensa"];
    assert_eq!(kensa["schema"], "kensa.webhook/1");
    assert_eq!(kensa["monitor"], "clinic-prod");
    assert_eq!(kensa["run_id"], 42);
    assert_eq!(kensa["finished_at"], 1_700_000_100u64);
    assert_eq!(kensa["exit_code"], 1);
    assert_eq!(kensa["report"], "/var/lib/kensa/report.html");
    let sent: Vec<Event> = serde_json::from_value(kensa["events"].clone()).expect("events");
    assert_eq!(sent, events);
    assert_eq!(kensa["events"][1]["kind"], "protocol_enabled");
    assert_eq!(kensa["events"][1]["version"], "TLS 1.0");
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let (server, seen) = recorder(|n| if n < 2 { Response::status(500) } else { Response::status(204) });
    let server = server.start().await.expect("server");
    let delivery = webhook(server.url("/hook"), 4).send(&ctx(), &[event(0, Severity::Critical)]).await;
    assert!(matches!(delivery, Ok(Delivery::Delivered { attempts: 3, status: 204, .. })), "{delivery:?}");
    assert_eq!(seen.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_long_one_gives_up() {
    let (server, seen) = recorder(|n| {
        if n == 0 {
            Response { headers: vec![("retry-after".into(), "1".into())], ..Response::status(429) }
        } else {
            Response::status(200)
        }
    });
    let server = server.start().await.expect("server");
    let start = Instant::now();
    let delivery = webhook(server.url("/hook"), 3).send(&ctx(), &[event(0, Severity::Info)]).await;
    assert!(matches!(delivery, Ok(Delivery::Delivered { attempts: 2, .. })), "{delivery:?}");
    // The 20 ms backoff would have been quicker: the receiver's second was waited for.
    assert!(start.elapsed() >= Duration::from_millis(950), "{:?}", start.elapsed());
    assert_eq!(seen.lock().expect("lock").len(), 2);

    let (server, seen) =
        recorder(|_| Response { headers: vec![("retry-after".into(), "3600".into())], ..Response::status(503) });
    let server = server.start().await.expect("server");
    let error = webhook(server.url("/hook"), 4).send(&ctx(), &[event(0, Severity::Info)]).await.expect_err("gave up");
    assert_eq!(error, WebhookError::RetryAfterTooLong { seconds: 3600, attempts: 1 });
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn a_client_error_gives_up_at_once() {
    let (server, seen) = recorder(|_| Response { status: 400, ..Response::ok("text/plain", "invalid_payload") });
    let server = server.start().await.expect("server");
    let error = webhook(server.url("/hook"), 4).send(&ctx(), &[event(0, Severity::Critical)]).await.expect_err("400");
    assert_eq!(error, WebhookError::Rejected { status: 400, body: "invalid_payload".to_string(), attempts: 1 });
    assert_eq!(error.attempts(), 1);
    assert!(error.to_string().contains("HTTP 400 (invalid_payload)"), "{error}");
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn a_hanging_receiver_fails_in_bounded_time_and_the_log_keeps_the_events() {
    let server = HttpServer::new().hostile("/hook", Hostile::Tarpit).start().await.expect("server");
    let dir = TempDir::new("sinks-tarpit").expect("tempdir");
    let log_path = dir.path().join("events.jsonl");
    let hook = webhook(server.url("/hook"), 2);
    let bound = hook.timeout * 2 + hook.first_backoff;
    let sinks = Sinks { event_log: Some(EventLog::open(&log_path).expect("log")), webhook: Some(hook), hook: None };
    let events = vec![event(0, Severity::Critical), event(1, Severity::Warning)];

    let start = Instant::now();
    let outcomes = deliver_all(&sinks, &ctx(), &events).await;
    let elapsed = start.elapsed();
    assert!(elapsed < bound + Duration::from_millis(500), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(1000), "both attempts ran into their timeout: {elapsed:?}");
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[0].sink, SinkName::EventLog);
    assert!(!outcomes[0].failed(), "{}", outcomes[0]);
    assert_eq!(outcomes[1].sink, SinkName::Webhook);
    let Outcome::Failed(reason) = &outcomes[1].outcome else { panic!("{:?}", outcomes[1]) };
    assert!(reason.contains("after 2 attempt(s)") && reason.contains("no answer within 500 ms"), "{reason}");
    assert!(!reason.contains("/hook"), "the URL path stays out of messages: {reason}");
    assert_eq!(server.connections(), 2);

    let logged = std::fs::read_to_string(&log_path).expect("log");
    assert_eq!(logged.lines().count(), 2);
    let first: serde_json::Value = serde_json::from_str(logged.lines().next().expect("line")).expect("JSON");
    assert_eq!(first["schema"], "kensa.event/1");
    assert_eq!(first["run_id"], 42);
    assert_eq!(first["monitor"], "clinic-prod");
    assert_eq!(first["kind"], "new_failure");
    assert_eq!(first["subject"], "host0.example.jp:443");

    // What the lead does with the outcomes: the lost notification is on record too.
    let log = sinks.event_log.as_ref().expect("log");
    log.append_failures(&ctx(), &outcomes).expect("append failures");
    let logged = std::fs::read_to_string(&log_path).expect("log");
    assert_eq!(logged.lines().count(), 3, "only the failure is added:\n{logged}");
    let failure: serde_json::Value = serde_json::from_str(logged.lines().last().expect("line")).expect("JSON");
    assert_eq!(failure["schema"], "kensa.delivery/1");
    assert_eq!(failure["sink"], "webhook");
    assert_eq!(failure["result"], "failed");
    assert_eq!(failure["run_id"], 42);
    assert!(failure["detail"].as_str().expect("detail").contains("no answer within"), "{failure}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_fails() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let error = webhook(format!("http://127.0.0.1:{port}/hook"), 3)
        .send(&ctx(), &[event(0, Severity::Critical)])
        .await
        .expect_err("refused");
    let WebhookError::Exhausted { attempts, last, .. } = &error else { panic!("{error:?}") };
    assert_eq!(*attempts, 3);
    assert!(last.contains("connection failed"), "{last}");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let elsewhere = Arc::new(AtomicUsize::new(0));
    let counter = elsewhere.clone();
    let server = HttpServer::new()
        .route("/hook", Response::redirect(307, "/elsewhere"))
        .handler("/elsewhere", move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Response::status(200)
        })
        .start()
        .await
        .expect("server");
    let error = webhook(server.url("/hook"), 4).send(&ctx(), &[event(0, Severity::Critical)]).await.expect_err("3xx");
    assert_eq!(error, WebhookError::Redirected { status: 307, location: Some("/elsewhere".to_string()), attempts: 1 });
    assert_eq!(elsewhere.load(Ordering::SeqCst), 0);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn no_events_no_request_no_line() {
    let (server, seen) = recorder(|_| Response::status(200));
    let server = server.start().await.expect("server");
    let hook = webhook(server.url("/hook"), 4);
    assert_eq!(hook.send(&ctx(), &[]).await, Ok(Delivery::NothingToSend));

    let dir = TempDir::new("sinks-empty").expect("tempdir");
    let log_path = dir.path().join("events.jsonl");
    let sinks = Sinks {
        event_log: Some(EventLog::open(&log_path).expect("log")),
        webhook: Some(hook),
        hook: Some(CommandHook::new(format!("touch {}/ran", dir.path().display()), Lang::En)),
    };
    assert!(deliver_all(&sinks, &ctx(), &[]).await.is_empty());
    assert_eq!(seen.lock().expect("lock").len(), 0);
    assert_eq!(server.connections(), 0);
    assert_eq!(std::fs::metadata(&log_path).expect("log").len(), 0);
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn concurrent_appenders_write_whole_lines() {
    let dir = TempDir::new("sinks-concurrent").expect("tempdir");
    let path = dir.path().join("events.jsonl");
    const BATCHES: usize = 100;
    const PER_BATCH: usize = 5;
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each writer opens the file itself, like two kensa processes would.
                let log = EventLog::open(&path).expect("open");
                let mut run = ctx();
                run.monitor = format!("writer{writer}");
                for batch in 0..BATCHES {
                    let events: Vec<Event> = (0..PER_BATCH)
                        .map(|n| {
                            let mut e = event(batch * PER_BATCH + n, Severity::Info);
                            // Long lines: a batch is tens of KiB, far past any pipe-sized buffer.
                            e.message.en = format!("{writer}").repeat(8 * 1024);
                            e
                        })
                        .collect();
                    log.append(&run, &events).expect("append");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer thread");
    }
    let text = std::fs::read_to_string(&path).expect("log");
    assert!(text.ends_with('\n'));
    let mut per_writer = [0usize; 2];
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("every line is whole JSON");
        let monitor = value["monitor"].as_str().expect("monitor");
        let writer = if monitor == "writer0" { 0 } else { 1 };
        assert_eq!(value["message"]["en"].as_str().expect("message"), format!("{writer}").repeat(8 * 1024));
        per_writer[writer] += 1;
    }
    assert_eq!(per_writer, [BATCHES * PER_BATCH; 2]);
}

#[tokio::test]
async fn the_hook_sees_the_event_in_its_environment() {
    let dir = TempDir::new("sinks-hook-env").expect("tempdir");
    let out = dir.path().join("env.txt");
    let hook = CommandHook::new(format!("env | grep '^KENSA_' | sort > '{}'; echo done", out.display()), Lang::Ja);
    let run = hook.run(&ctx(), &event(0, Severity::Critical)).await.expect("hook ran");
    assert_eq!(run.stdout, "done\n");
    let env = std::fs::read_to_string(&out).expect("env file");
    for expected in [
        "KENSA_EVENT_KIND=new_failure",
        "KENSA_EVENT_SEVERITY=critical",
        "KENSA_EVENT_SUBJECT=host0.example.jp:443",
        "KENSA_EVENT_ITEM=2-1.iii",
        "KENSA_EVENT_CHECK=tls.protocol.legacy",
        "KENSA_EVENT_BEFORE=refused",
        "KENSA_EVENT_AFTER=accepted",
        "KENSA_EVENT_MESSAGE=変化 0",
        "KENSA_MONITOR=clinic-prod",
        "KENSA_RUN_ID=42",
        "KENSA_EXIT_CODE=1",
    ] {
        assert!(env.lines().any(|l| l == expected), "{expected} missing from\n{env}");
    }
    let json = env.lines().find_map(|l| l.strip_prefix("KENSA_EVENT_JSON=")).expect("JSON variable");
    let parsed: Event = serde_json::from_str(json).expect("event JSON");
    assert_eq!(parsed, event(0, Severity::Critical));
}

#[tokio::test]
async fn a_slow_hook_is_killed_with_what_it_started() {
    let dir = TempDir::new("sinks-hook-slow").expect("tempdir");
    let late = dir.path().join("late");
    let hook = CommandHook {
        command: format!("echo started; (sleep 1; touch '{}') & sleep 10", late.display()),
        timeout: Duration::from_millis(300),
        lang: Lang::En,
    };
    let start = Instant::now();
    let error = hook.run(&ctx(), &event(0, Severity::Critical)).await.expect_err("timed out");
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    let HookError::TimedOut { stdout, .. } = &error else { panic!("{error:?}") };
    assert_eq!(stdout, "started\n");
    // The background child was in the hook's process group, and died with it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!late.exists(), "a process the hook started outlived its timeout");
}

#[tokio::test]
async fn a_failing_hook_is_reported_and_others_still_run() {
    let hook = CommandHook::new("echo oops >&2; exit 3", Lang::En);
    let error = hook.run(&ctx(), &event(0, Severity::Critical)).await.expect_err("exit 3");
    let HookError::Failed { status, stderr, .. } = &error else { panic!("{error:?}") };
    assert_eq!(status.code(), Some(3));
    assert_eq!(stderr, "oops\n");
    assert!(error.to_string().contains("oops"), "{error}");

    let (server, seen) = recorder(|_| Response::status(200));
    let server = server.start().await.expect("server");
    let sinks = Sinks { event_log: None, webhook: Some(webhook(server.url("/hook"), 1)), hook: Some(hook) };
    let events = vec![event(0, Severity::Critical), event(1, Severity::Info)];
    let outcomes = deliver_all(&sinks, &ctx(), &events).await;
    let sinks_seen: Vec<&SinkName> = outcomes.iter().map(|o| &o.sink).collect();
    assert_eq!(sinks_seen, [&SinkName::Webhook, &SinkName::Hook { event: 0 }, &SinkName::Hook { event: 1 }]);
    assert!(!outcomes[0].failed(), "{}", outcomes[0]);
    assert!(outcomes[1].failed() && outcomes[2].failed());
    assert!(outcomes[1].to_string().starts_with("hook (event 1): failed: hook exit status: 3"), "{}", outcomes[1]);
    assert_eq!(seen.lock().expect("lock").len(), 1);
}
