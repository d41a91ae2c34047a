//! `mailaudit monitor` and `mailaudit history` end to end: the built binary, a history database
//! in a temporary directory, two in-process DNS servers standing for the world at two runs
//! (fixtures/monitor/zones-run1/ and zones-run2/: between them the SPF record of monitor.test
//! changed and 192.0.2.10 got listed on "Monitor RBL"), and a webhook receiver on loopback.

#[path = "../support/mod.rs"]
mod support;

mod bimi;
mod migrate;
mod mta_sts;
mod reports;
mod safety;
mod smtp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use support::dns_server::{self, TestDns};

// --- The JSON of a run and of the history, written here from the contract, not from the
// program's types. ---

#[derive(Debug, Deserialize)]
struct RunReport {
    schema_version: u32,
    kind: String,
    run: RunOut,
    worse: bool,
    changes: Vec<ChangeOut>,
    targets: Vec<TargetOut>,
}

#[derive(Debug, Deserialize)]
struct RunOut {
    id: i64,
    started_at: String,
    finished_at: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct ChangeOut {
    target: String,
    #[serde(rename = "type")]
    kind: String,
    worse: bool,
    message: String,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    old: Option<serde_json::Value>,
    #[serde(default)]
    new: Option<serde_json::Value>,
    /// The migration step of a `migration-step-*` change.
    #[serde(default)]
    step: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TargetOut {
    target: String,
    kind: String,
    grade: String,
    baseline: bool,
    incomplete: bool,
    listed_on: Vec<ListingOut>,
}

#[derive(Debug, Deserialize)]
struct ListingOut {
    list: String,
    subject: String,
}

#[derive(Debug, Deserialize)]
struct History {
    kind: String,
    target: String,
    runs: Vec<HistoryRun>,
}

#[derive(Debug, Deserialize)]
struct HistoryRun {
    run: i64,
    grade: String,
    baseline: bool,
    listed_on: Vec<ListingOut>,
    changes: Vec<ChangeOut>,
}

// --- The world at each run. ---

fn fixture(name: &str) -> String {
    format!("{}/fixtures/monitor/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn world(run: u8) -> &'static TestDns {
    static RUN1: OnceLock<TestDns> = OnceLock::new();
    static RUN2: OnceLock<TestDns> = OnceLock::new();
    let start = |dir: &str| serve_zones(Path::new(&fixture(dir)));
    match run {
        1 => RUN1.get_or_init(|| start("zones-run1")),
        _ => RUN2.get_or_init(|| start("zones-run2")),
    }
}

/// `mailaudit ARGS... --resolver <world> --dnsbl fixtures/monitor/dnsbl.toml --timeout 1`, with
/// no HTTP proxy from the environment (the webhook receiver is on loopback).
fn command(world: &TestDns, args: &[&str]) -> Command {
    command_asking(&world.resolver_arg(), args)
}

/// [`command`] with any resolver address (always one of the test's own, on loopback).
/// `history` asks nothing and takes no DNS option: it gets none.
fn command_asking(resolver: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailaudit"));
    command.args(args);
    if args.first() != Some(&"history") {
        if !args.contains(&"--dnsbl") {
            command.args(["--dnsbl", &fixture("dnsbl.toml")]);
        }
        command.args(["--resolver", resolver, "--timeout", "1"]);
    }
    command.env("NO_COLOR", "1");
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(proxy);
    }
    command
}

/// A DNS server of its own on loopback serving the zone files in `dir`: the world at one run.
fn serve_zones(dir: &Path) -> TestDns {
    dns_server::start_with_zones("127.0.0.1:0".parse().expect("loopback"), dir)
}

/// Writes `text` as `monitor.toml` in `dir`; its path.
fn config_file(dir: &Path, text: &str) -> PathBuf {
    let config = dir.join("monitor.toml");
    std::fs::write(&config, text).expect("write the config");
    config
}

/// One `monitor --once --format json` run of fixtures/monitor/monitor.toml in `world`.
fn monitor(world: &TestDns, db: &Path, extra: &[&str]) -> (Output, RunReport) {
    monitor_config(world, Path::new(&fixture("monitor.toml")), db, extra)
}

/// One `monitor --once --format json` run of `config` in `world`, with `extra` arguments; the
/// output and its JSON.
fn monitor_config(
    world: &TestDns,
    config: &Path,
    db: &Path,
    extra: &[&str],
) -> (Output, RunReport) {
    let mut args = support::monitor_once_json(config, db);
    args.extend_from_slice(extra);
    let output = command(world, &args).output().expect("run mailaudit");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "monitor run: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report)
}

fn history(db: &Path, target: &str) -> History {
    let output = command(
        world(1),
        &[
            "history",
            target,
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .output()
    .expect("run mailaudit history");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("history JSON")
}

/// The value of one sample of a Prometheus textfile, by its exact name and labels.
fn gauge(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().expect("a number"))
    })
}

const LISTED_10: &str = r#"mailaudit_ip_listed{ip="192.0.2.10",list="Monitor RBL"}"#;

// --- A webhook receiver on loopback. ---

/// A tiny HTTP server: answers each request with the next status of `statuses` (the last one
/// repeated), with the `headers` given, and keeps every request line and every POST body.
struct Receiver {
    url: String,
    port: u16,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start(statuses: &[u16]) -> Receiver {
        Receiver::start_with(statuses, &[])
    }

    /// A receiver whose every answer carries `headers` (`Name: value`), e.g. a `Location`.
    fn start_with(statuses: &[u16], headers: &[String]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook receiver");
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/hook");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (kept, lines) = (Arc::clone(&bodies), Arc::clone(&requests));
        let statuses = statuses.to_vec();
        let extra: String = headers.iter().flat_map(|h| [h.as_str(), "\r\n"]).collect();
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut length = 0usize;
                let mut request_line = String::new();
                reader.read_line(&mut request_line).expect("request line");
                lines
                    .lock()
                    .unwrap()
                    .push(request_line.trim_end().to_owned());
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("header line");
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().expect("Content-Length");
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                if request_line.starts_with("POST ") {
                    kept.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).expect("the webhook body is JSON"));
                }
                let status = statuses[index.min(statuses.len() - 1)];
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver {
            url,
            port,
            bodies,
            requests,
        }
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Every request line received (`POST /hook HTTP/1.1`), in order.
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("history.sqlite3");
    (dir, db)
}

fn has_listing(changes: &[ChangeOut], target: &str, list: &str) -> bool {
    changes.iter().any(|c| {
        c.kind == "listed" && c.target == target && c.list.as_deref() == Some(list) && c.worse
    })
}

fn spf_change(changes: &[ChangeOut]) -> Option<&ChangeOut> {
    changes
        .iter()
        .find(|c| c.kind == "record-changed" && c.record.as_deref() == Some("spf"))
}

// --- The tests. ---

#[test]
fn a_second_run_reports_the_new_listing_and_the_changed_spf_record_and_alerts() {
    let (dir, db) = temp();
    let metrics = dir.path().join("mailaudit.prom");
    let receiver = Receiver::start(&[200]);
    let alerts = [
        "--webhook",
        &receiver.url,
        "--metrics",
        metrics.to_str().unwrap(),
    ];

    // Run 1: the baseline. A monitor deployed on a listed address alerts at once: 192.0.2.21
    // is already listed, so the first run reports it, posts it and exits 1.
    let (output, first) = monitor(world(1), &db, &alerts);
    assert_eq!(output.status.code(), Some(1), "{first:?}");
    assert_eq!(
        (first.schema_version, first.kind.as_str()),
        (1, "monitor-run")
    );
    assert_eq!(first.changes.len(), 1, "{:?}", first.changes);
    assert!(has_listing(&first.changes, "192.0.2.21", "Monitor RBL"));
    assert!(first.worse);
    assert!(first.targets.iter().all(|t| t.baseline));
    let targets: Vec<&str> = first.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(
        targets,
        ["monitor.test", "192.0.2.10", "192.0.2.20", "192.0.2.21"],
        "the domain, the IP and the /31 range's two addresses"
    );
    let bodies = receiver.bodies();
    assert_eq!(
        bodies.len(),
        1,
        "the existing listing is posted: {bodies:?}"
    );
    assert!(
        bodies[0]["text"]
            .as_str()
            .unwrap()
            .contains("192.0.2.21 is listed on Monitor RBL (first run of this target)"),
        "{bodies:?}"
    );
    let before = std::fs::read_to_string(&metrics).expect("metrics written at run 1");
    assert_eq!(gauge(&before, LISTED_10), Some(0.0), "{before}");
    assert_eq!(
        gauge(
            &before,
            r#"mailaudit_ip_listed{ip="192.0.2.21",list="Monitor RBL"}"#
        ),
        Some(1.0)
    );

    // Run 2: 192.0.2.10 listed and the SPF record changed.
    let (output, second) = monitor(world(2), &db, &alerts);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a new listing makes things worse: {second:?}"
    );
    assert!(second.worse);
    assert!(second.run.id > first.run.id);
    assert!(!second.run.started_at.is_empty() && second.run.finished_at.ends_with('Z'));
    assert!(
        has_listing(&second.changes, "192.0.2.10", "Monitor RBL"),
        "{:?}",
        second.changes
    );
    let spf = spf_change(&second.changes).expect("the SPF change");
    assert_eq!(spf.target, "monitor.test");
    assert_eq!(spf.old.as_ref().unwrap(), "v=spf1 ip4:192.0.2.10 -all");
    assert_eq!(
        spf.new.as_ref().unwrap(),
        "v=spf1 ip4:192.0.2.10 ip4:192.0.2.11 -all"
    );
    assert!(!spf.worse, "a changed record alone is not worse");
    assert!(
        !second.changes.iter().any(|c| c.target == "192.0.2.21"),
        "an unchanged listing is no change: {:?}",
        second.changes
    );
    let listed = second
        .targets
        .iter()
        .find(|t| t.target == "192.0.2.10")
        .unwrap();
    assert_eq!(listed.kind, "ip");
    assert!(!listed.baseline);
    assert_eq!(listed.listed_on[0].list, "Monitor RBL");
    assert_eq!(listed.listed_on[0].subject, "192.0.2.10");

    assert_webhook_names_both_changes(&receiver, second.run.id);
    assert_metrics_show_the_listing(&std::fs::read_to_string(&metrics).unwrap(), &second);
    assert!(!metrics.with_extension("prom.tmp").exists());
    assert_history_shows_both_runs(&db, &second, &listed.grade);
}

fn assert_webhook_names_both_changes(receiver: &Receiver, run: i64) {
    // The webhook got one POST for this run (after the first run's) naming both changes.
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let requests = receiver.requests();
    assert!(
        requests.iter().all(|r| r.starts_with("POST /hook ")),
        "{requests:?}"
    );
    let body = &bodies[1];
    let sent: Vec<ChangeOut> =
        serde_json::from_value(body["changes"].clone()).expect("changes in the body");
    assert!(has_listing(&sent, "192.0.2.10", "Monitor RBL"), "{sent:?}");
    assert!(spf_change(&sent).is_some(), "{sent:?}");
    assert_eq!(body["kind"], "monitor-changes");
    assert_eq!(body["worse"], true);
    assert_eq!(body["run"]["id"], run);
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("192.0.2.10 is newly listed on Monitor RBL"),
        "{text}"
    );
}

fn assert_metrics_show_the_listing(after: &str, second: &RunReport) {
    // The metrics file was replaced: the gauge is now 1.
    assert_eq!(gauge(after, LISTED_10), Some(1.0), "{after}");
    assert_eq!(
        gauge(after, r#"mailaudit_ip_listings{ip="192.0.2.10"}"#),
        Some(1.0)
    );
    let grade = &second.targets[0].grade;
    assert_eq!(
        gauge(
            after,
            &format!(r#"mailaudit_domain_grade_info{{domain="monitor.test",grade="{grade}"}}"#)
        ),
        Some(1.0),
        "{after}"
    );
    assert!(gauge(after, r#"mailaudit_domain_score{domain="monitor.test"}"#).is_some());
    assert_eq!(
        gauge(after, r#"mailaudit_incomplete{target="monitor.test"}"#),
        Some(0.0),
        "{after}"
    );
    assert!(after.contains("# TYPE mailaudit_ip_listed gauge"));
}

fn assert_history_shows_both_runs(db: &Path, second: &RunReport, ip_grade: &str) {
    // The history shows both runs, with the changes at the second.
    let domain = history(db, "monitor.test");
    assert_eq!(
        (domain.kind.as_str(), domain.target.as_str()),
        ("history", "monitor.test")
    );
    assert_eq!(domain.runs.len(), 2);
    assert!(domain.runs[0].baseline);
    assert_eq!(domain.runs[1].run, second.run.id);
    assert!(spf_change(&domain.runs[1].changes).is_some());
    let ip = history(db, "192.0.2.10");
    assert!(ip.runs[0].listed_on.is_empty());
    assert_eq!(ip.runs[1].listed_on[0].list, "Monitor RBL");
    assert!(has_listing(
        &ip.runs[1].changes,
        "192.0.2.10",
        "Monitor RBL"
    ));
    assert_eq!(ip.runs[1].grade, ip_grade);

    // The table says the same to a person.
    let table = command(
        world(1),
        &["history", "monitor.test", "--db", db.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("monitor.test: 2 runs"), "{table}");
    assert!(table.contains("baseline"), "{table}");
    assert!(table.contains("SPF record changed"), "{table}");

    // And the full report of a run is kept.
    let run = second.run.id.to_string();
    let stored = command(
        world(1),
        &[
            "history",
            "192.0.2.10",
            "--db",
            db.to_str().unwrap(),
            "--run",
            &run,
        ],
    )
    .output()
    .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&stored.stdout).expect("report");
    assert_eq!(report["target"], "192.0.2.10");
    assert_eq!(report["ip"]["listed_on"][0], "Monitor RBL");
}

#[test]
fn a_webhook_answering_503_is_retried() {
    let (_dir, db) = temp();
    monitor(world(1), &db, &[]);
    let receiver = Receiver::start(&[503, 200]);
    let (output, second) = monitor(world(2), &db, &["--webhook", &receiver.url]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let bodies = receiver.bodies();
    assert_eq!(
        bodies.len(),
        2,
        "one retry after the 503: {bodies:?} {stderr}"
    );
    assert_eq!(bodies[0], bodies[1], "the same body is sent again");
    assert!(
        !stderr.contains("webhook"),
        "delivered at the retry: {stderr}"
    );
    assert!(second.worse);
}

#[test]
fn an_unreachable_webhook_is_reported_and_the_run_is_still_stored() {
    let (_dir, db) = temp();
    monitor(world(1), &db, &[]);
    // A port that was just free: connections are refused.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let (output, second) = monitor(world(2), &db, &["--webhook", &closed]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("webhook not delivered") && stderr.contains("after 4 attempts"),
        "{stderr}"
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "the exit status still alerts"
    );
    let runs = history(&db, "192.0.2.10").runs;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].run, second.run.id);
}

#[test]
fn a_run_that_could_not_see_between_two_healthy_runs_reports_no_change() {
    let (dir, db) = temp();
    let metrics = dir.path().join("mailaudit.prom");
    let metrics_arg = ["--metrics", metrics.to_str().unwrap()];
    // A world of this test's own, that it can degrade between runs.
    let world = dns_server::start_with_zones(
        "127.0.0.1:0".parse().expect("loopback"),
        Path::new(&fixture("zones-run1")),
    );
    let (output, first) = monitor(&world, &db, &metrics_arg);
    assert_eq!(output.status.code(), Some(1), "the listed address alerts");

    // Every record question fails, every list fails its health check; the resolver and the
    // zones still answer their SOA, so the run is made, incomplete.
    world.degrade();
    let (output, failed) = monitor(&world, &db, &metrics_arg);
    assert_eq!(output.status.code(), Some(0), "{failed:?}");
    assert!(failed.changes.is_empty(), "{:?}", failed.changes);
    assert!(failed.targets.iter().all(|t| t.incomplete), "{failed:?}");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(
        gauge(&text, r#"mailaudit_incomplete{target="monitor.test"}"#),
        Some(1.0)
    );
    assert_eq!(
        gauge(
            &text,
            r#"mailaudit_ip_listed{ip="192.0.2.21",list="Monitor RBL"}"#
        ),
        None,
        "a list that could not answer is neither listed nor not: {text}"
    );

    // Healthy again: compared with what the first run knew, nothing changed.
    world.recover();
    let (output, healthy) = monitor(&world, &db, &metrics_arg);
    assert_eq!(output.status.code(), Some(0), "{healthy:?}");
    assert!(healthy.changes.is_empty(), "{:?}", healthy.changes);
    assert!(healthy.targets.iter().all(|t| !t.incomplete));
    let runs = history(&db, "192.0.2.21").runs;
    assert_eq!(runs.len(), 3);
    assert!(
        runs[1].listed_on.is_empty(),
        "the failed run saw no listing"
    );
    assert_eq!(runs[2].listed_on[0].list, "Monitor RBL");
    assert!(runs[1].changes.is_empty() && runs[2].changes.is_empty());
    assert!(first.run.id < healthy.run.id);
}

#[test]
fn a_resolver_that_dies_mid_run_stores_what_was_finished_and_exits_2() {
    let (dir, db) = temp();
    let world = serve_zones(Path::new(&fixture("zones-run1")));
    // monitor.test answers at once; the domains under dead.test keep the run going.
    let slow: Vec<String> = (0..8).map(|i| format!("\"d{i}.dead.test\"")).collect();
    let config = config_file(
        dir.path(),
        &format!("domains = [\"monitor.test\", {}]\n", slow.join(", ")),
    );
    let child = command(&world, &support::monitor_once_json(&config, &db))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while world.queries_for("d7.dead.test").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    world.go_silent();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&world.resolver_arg()), "{stderr}");
    assert!(stderr.contains("stopped answering"), "{stderr}");
    let run: RunReport = serde_json::from_slice(&output.stdout).expect("the run's report");
    assert!(!run.targets.is_empty() && run.targets.len() < 9, "{run:?}");
    assert_eq!(run.targets[0].target, "monitor.test");
    assert!(run.targets.iter().skip(1).all(|t| t.incomplete), "{run:?}");
    // What finished is stored.
    assert_eq!(history(&db, "monitor.test").runs.len(), 1);
}

#[test]
fn a_resolver_that_does_not_answer_stops_the_monitor_before_anything_is_stored() {
    let (_dir, db) = temp();
    let (_, first) = monitor(world(1), &db, &[]);
    // A socket of this test that reads nothing: every question times out.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = silent.local_addr().unwrap().to_string();
    let config = fixture("monitor.toml");
    let output = command_asking(&resolver, &support::monitor_once(Path::new(&config), &db))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&resolver), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty(), "nothing judged, nothing printed");
    // No run was stored: the history still ends with the first run.
    let runs = history(&db, "monitor.test").runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run, first.run.id);
}

#[test]
fn two_monitors_at_once_on_one_database_both_store_their_runs() {
    let (_dir, db) = temp();
    let config = fixture("monitor.toml");
    let spawn = || {
        command(
            world(1),
            &support::monitor_once_json(Path::new(&config), &db),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a monitor")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    // The first to store is the first run and reports the address already listed (exit 1);
    // the other compares with it and finds nothing new (exit 0).
    let mut statuses = [a.status.code(), b.status.code()];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [Some(0), Some(1)],
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let runs = history(&db, "monitor.test").runs;
    assert_eq!(runs.len(), 2, "both runs stored");
    assert_ne!(runs[0].run, runs[1].run);
    assert!(runs[0].baseline && runs[1].changes.is_empty());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_monitor_killed_mid_run_leaves_the_history_intact() {
    let (_dir, db) = temp();
    let (_, first) = monitor(world(1), &db, &[]);
    let dead = fixture("dead.toml");
    let mut child = command(world(1), &support::monitor_once(Path::new(&dead), &db))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "still waiting for DNS");
    child.kill().unwrap();
    child.wait().unwrap();

    let runs = history(&db, "monitor.test").runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run, first.run.id);
    let (output, next) = monitor(world(1), &db, &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(next.changes.is_empty(), "{:?}", next.changes);
}

#[test]
fn an_interval_monitor_stops_cleanly_on_sigterm_after_storing_its_run() {
    let (_dir, db) = temp();
    let config = fixture("monitor.toml");
    let mut child = command(
        world(1),
        &[
            "monitor",
            "--config",
            &config,
            "--interval",
            "1h",
            "--db",
            db.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the first run's line");
    let run: RunReport = serde_json::from_str(&line).expect("a run per line");
    assert_eq!(run.kind, "monitor-run");
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The last run's status: its first run reported the address already listed.
    assert_eq!(status.code(), Some(1), "a clean stop, not death by signal");
    assert_eq!(history(&db, "monitor.test").runs.len(), 1);
}

#[test]
fn a_bad_config_exits_2_naming_the_file_and_the_problem() {
    let (_dir, db) = temp();
    for (file, problem) in [
        ("too-wide.toml", "the widest range monitored is /16"),
        ("typo.toml", "unknown field `domain`"),
        ("missing.toml", "cannot read"),
    ] {
        let path = fixture(file);
        let output = command(world(1), &support::monitor_once(Path::new(&path), &db))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{file}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(&path) && stderr.contains(problem),
            "{stderr}"
        );
    }
    assert!(!db.exists(), "nothing is created before the config is good");
}

#[test]
fn history_of_an_unknown_target_or_database_exits_2() {
    let (_dir, db) = temp();
    let missing = command(
        world(1),
        &["history", "monitor.test", "--db", db.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no monitoring history"));
    monitor(world(1), &db, &[]);
    let unknown = command(
        world(1),
        &["history", "other.test", "--db", db.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no stored run of 'other.test'"));
}
