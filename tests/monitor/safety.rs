//! Issue 9, "Nothing lost, nothing overwritten, nothing unbounded", for `monitor` and
//! `history`: outputs never over inputs, metrics only over a regular file, a bounded config,
//! no webhook redirect followed and no URL secret printed, a history that never writes, and a
//! second stop signal that stops at once.

use std::net::TcpStream;
use std::process::Child;
use std::sync::mpsc;

use super::*;

/// `mailaudit ARGS...` asking the first world, run to the end, but killed (and the test
/// failed) after `limit`.
fn run_within(args: &[&str], limit: Duration) -> Output {
    let child = command(world(1), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mailaudit");
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    if let Ok(output) = done_rx.recv_timeout(limit) {
        output.expect("wait for mailaudit")
    } else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("mailaudit {args:?} still running after {limit:?}: killed");
    }
}

/// A child process killed when the test ends, whatever happened.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
    }

    /// The exit status, or `None` when still running after `limit`.
    fn exit_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_one_line(stderr: &str) {
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A copy of a fixture in `dir`, for tests that must be able to see it overwritten.
fn copy_fixture(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(fixture(name), &path).expect("copy a fixture");
    path
}

// --- 1. An output is never an input, nor another output. ---

#[test]
fn an_output_over_the_database_the_config_or_the_catalog_is_refused_before_anything_runs() {
    let (dir, db) = temp();
    monitor(world(1), &db, &[]);
    let config = copy_fixture(dir.path(), "monitor.toml");
    let dnsbl = copy_fixture(dir.path(), "dnsbl.toml");
    let new_db = dir.path().join("new.sqlite3");
    let new_file = dir.path().join("new.out");
    let dotted_db = dir.path().join(".").join("history.sqlite3");
    let monitor_with = |db: &Path, extra: &[&str]| {
        let mut args = vec!["monitor", "--config", s(&config), "--once", "--db", s(db)];
        args.extend_from_slice(extra);
        args.iter()
            .map(ToString::to_string)
            .collect::<Vec<String>>()
    };
    let cases: Vec<(Vec<String>, [&str; 2], &Path)> = vec![
        (
            monitor_with(&db, &["--output", s(&db)]),
            ["--db", "--output"],
            &db,
        ),
        (
            monitor_with(&db, &["--output", s(&dotted_db)]),
            ["--db", "--output"],
            &db,
        ),
        (
            monitor_with(&db, &["--metrics", s(&db)]),
            ["--db", "--metrics"],
            &db,
        ),
        (
            monitor_with(&new_db, &["--output", s(&config)]),
            ["--config", "--output"],
            &config,
        ),
        (
            monitor_with(&new_db, &["--metrics", s(&config)]),
            ["--config", "--metrics"],
            &config,
        ),
        (
            monitor_with(&new_db, &["--dnsbl", s(&dnsbl), "--output", s(&dnsbl)]),
            ["--dnsbl", "--output"],
            &dnsbl,
        ),
        (
            monitor_with(
                &new_db,
                &["--output", s(&new_file), "--metrics", s(&new_file)],
            ),
            ["--output", "--metrics"],
            &new_file,
        ),
        (
            [
                "history",
                "monitor.test",
                "--db",
                s(&db),
                "--output",
                s(&db),
            ]
            .map(String::from)
            .to_vec(),
            ["--db", "--output"],
            &db,
        ),
    ];
    for (args, options, kept) in cases {
        let before = std::fs::read(kept).ok();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run_within(&args, Duration::from_secs(20));
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_one_line(&stderr);
        for option in options {
            assert!(stderr.contains(option), "{args:?}: {stderr}");
        }
        assert!(
            stderr.contains(s(kept)) || stderr.contains(s(&dotted_db)),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read(kept).ok(),
            before,
            "{args:?} changed {kept:?}"
        );
        assert!(!new_db.exists(), "{args:?}: nothing is created");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(history(&db, "monitor.test").runs.len(), 1);
}

// --- 2. Metrics replace only a regular file, never through a link. ---

#[cfg(unix)]
#[test]
fn a_metrics_path_that_is_not_a_regular_file_is_refused_at_start() {
    use std::os::unix::fs::FileTypeExt;

    let (dir, db) = temp();
    let config = fixture("monitor.toml");
    let target = dir.path().join("target.txt");
    std::fs::write(&target, "keep").unwrap();
    let link = dir.path().join("link.prom");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let directory = dir.path().join("directory.prom");
    std::fs::create_dir(&directory).unwrap();
    let fifo = dir.path().join("fifo.prom");
    let have_fifo = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut paths = vec![&link, &directory];
    if have_fifo {
        paths.push(&fifo);
    } else {
        eprintln!("mkfifo is not available: the FIFO case is skipped");
    }
    for path in paths {
        let output = run_within(
            &[
                "monitor",
                "--config",
                &config,
                "--once",
                "--db",
                s(&db),
                "--metrics",
                s(path),
            ],
            Duration::from_secs(20),
        );
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{path:?}: {stderr}");
        assert_one_line(&stderr);
        assert!(
            stderr.contains(s(path)) && stderr.contains("not a regular file"),
            "{stderr}"
        );
        assert!(!db.exists(), "refused before the run: {path:?}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(directory.is_dir());
    if have_fifo {
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
    }
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_the_old_temporary_name_is_never_followed() {
    let (dir, db) = temp();
    let metrics = dir.path().join("mailaudit.prom");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep").unwrap();
    let planted = dir.path().join("mailaudit.prom.tmp");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let (output, _) = monitor(world(1), &db, &["--metrics", s(&metrics)]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(
        std::fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(
        gauge(
            &text,
            r#"mailaudit_ip_listed{ip="192.0.2.21",list="Monitor RBL"}"#
        ),
        Some(1.0),
        "{text}"
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".mailaudit-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

// --- 3. A config is bounded in total, not only per range. ---

#[test]
fn a_config_over_the_target_limit_is_refused_naming_the_count() {
    let (_dir, db) = temp();
    let path = fixture("too-many.toml");
    let output = run_within(
        &["monitor", "--config", &path, "--once", "--db", s(&db)],
        Duration::from_secs(20),
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_one_line(&stderr);
    assert!(
        stderr.contains(&path) && stderr.contains("16777217") && stderr.contains("65536"),
        "{stderr}"
    );
    assert!(!db.exists(), "nothing is created");
}

// --- 4. Webhook: no redirect followed, no secret printed. ---

/// What the webhook URLs of these tests hide: none may be printed.
const SECRETS: [&str; 8] = [
    "alice",
    "pa55word",
    "t0ken",
    "k3y",
    "hunter2",
    "s3cret",
    "elsewhere",
    "frag",
];

#[test]
fn webhook_redirects_are_not_followed_and_urls_are_redacted() {
    let config = fixture("monitor.toml");
    for status in [307, 308, 302, 301] {
        let (_dir, db) = temp();
        let elsewhere = Receiver::start(&[200]);
        let location = format!(
            "Location: http://bob:hunter2@127.0.0.1:{}/elsewhere?token=s3cret",
            elsewhere.port
        );
        let redirecting = Receiver::start_with(&[status], &[location]);
        let url = format!(
            "http://alice:pa55word@127.0.0.1:{}/hook/t0ken?key=k3y#frag",
            redirecting.port
        );
        // The first run alerts (192.0.2.21 is listed): one webhook POST.
        let output = run_within(
            &[
                "monitor",
                "--config",
                &config,
                "--once",
                "--db",
                s(&db),
                "--webhook",
                &url,
            ],
            Duration::from_secs(30),
        );
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(1), "{status}: {stderr}");
        assert_eq!(
            redirecting.requests().len(),
            1,
            "{status}: a redirect is a failure, not retried"
        );
        assert!(
            elsewhere.requests().is_empty(),
            "{status}: followed to {:?}",
            elsewhere.requests()
        );
        assert_one_line(&stderr);
        assert!(
            stderr.contains("webhook not delivered") && stderr.contains(&status.to_string()),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("http://127.0.0.1:{}/…", redirecting.port))
                && stderr.contains(&format!("http://127.0.0.1:{}/…", elsewhere.port)),
            "the webhook and where it pointed, redacted: {stderr}"
        );
        for secret in SECRETS {
            assert!(!stderr.contains(secret), "{secret} printed: {stderr}");
        }
        assert_eq!(
            history(&db, "monitor.test").runs.len(),
            1,
            "the run is stored"
        );
    }
}

#[test]
fn webhook_errors_never_print_the_urls_credential() {
    let config = fixture("monitor.toml");
    // Unreachable: the error names the webhook, redacted.
    let (_dir, db) = temp();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://alice:pa55word@127.0.0.1:{port}/hook/t0ken?key=k3y#frag");
    let output = run_within(
        &[
            "monitor",
            "--config",
            &config,
            "--once",
            "--db",
            s(&db),
            "--webhook",
            &url,
        ],
        Duration::from_secs(30),
    );
    let stderr = stderr_of(&output);
    assert!(stderr.contains("webhook not delivered"), "{stderr}");
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}/…")),
        "{stderr}"
    );
    for secret in SECRETS {
        assert!(!stderr.contains(secret), "{secret} printed: {stderr}");
    }

    // A bad scheme is refused at start without printing the URL's secrets.
    let output = run_within(
        &[
            "monitor",
            "--config",
            &config,
            "--once",
            "--db",
            s(&db),
            "--webhook",
            "ftp://alice:pa55word@127.0.0.1/t0ken",
        ],
        Duration::from_secs(20),
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("http or https"), "{stderr}");
    for secret in SECRETS {
        assert!(!stderr.contains(secret), "{secret} printed: {stderr}");
    }
}

// --- 5. `history` reads, and never writes. ---

/// `mailaudit history TARGET --db DB ARGS...`.
fn history_of(db: &Path, target: &str, extra: &[&str]) -> Output {
    let mut args = vec!["history", target, "--db", s(db)];
    args.extend_from_slice(extra);
    run_within(&args, Duration::from_secs(20))
}

#[test]
fn history_leaves_every_database_byte_for_byte_unchanged() {
    let (dir, db) = temp();
    let (_, first) = monitor(world(1), &db, &[]);
    let run = first.run.id.to_string();

    // A real history: read, never written.
    let before = std::fs::read(&db).unwrap();
    for extra in [&["--format", "json"][..], &[], &["--run", &run]] {
        let output = history_of(&db, "monitor.test", extra);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    }
    assert!(
        std::fs::read(&db).unwrap() == before,
        "history wrote the database"
    );

    // Not a history: an empty file, another program's SQLite file, a text file.
    let empty = dir.path().join("empty.sqlite3");
    std::fs::write(&empty, "").unwrap();
    let foreign = dir.path().join("foreign.sqlite3");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('mine');")
            .unwrap();
    }
    let text = dir.path().join("text.sqlite3");
    std::fs::write(&text, "domains = [\"monitor.test\"]\n").unwrap();
    for path in [&empty, &foreign, &text] {
        let before = std::fs::read(path).unwrap();
        let output = history_of(path, "monitor.test", &[]);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{path:?}: {stderr}");
        assert_one_line(&stderr);
        assert!(
            stderr.contains(s(path)) && stderr.contains("is not a mailaudit history"),
            "{stderr}"
        );
        assert!(
            std::fs::read(path).unwrap() == before,
            "{path:?} was written"
        );
    }

    // A history a newer mailaudit wrote.
    let newer = dir.path().join("newer.sqlite3");
    std::fs::copy(&db, &newer).unwrap();
    {
        let conn = rusqlite::Connection::open(&newer).unwrap();
        conn.execute("INSERT INTO schema_version VALUES (99, 0)", [])
            .unwrap();
    }
    let before = std::fs::read(&newer).unwrap();
    let output = history_of(&newer, "monitor.test", &[]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_one_line(&stderr);
    assert!(
        stderr.contains(s(&newer)) && stderr.contains("written by a newer mailaudit"),
        "{stderr}"
    );
    assert!(
        std::fs::read(&newer).unwrap() == before,
        "the newer history was written"
    );
}

#[test]
fn a_monitor_on_another_programs_database_says_so_in_one_line() {
    let (dir, _) = temp();
    let foreign = dir.path().join("foreign.sqlite3");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE runs (name TEXT); INSERT INTO runs VALUES ('mine');")
            .unwrap();
    }
    let before = std::fs::read(&foreign).unwrap();
    let config = fixture("monitor.toml");
    let output = run_within(
        &[
            "monitor",
            "--config",
            &config,
            "--once",
            "--db",
            s(&foreign),
        ],
        Duration::from_secs(20),
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_one_line(&stderr);
    assert!(!stderr.contains("CREATE TABLE"), "{stderr}");
    assert!(
        stderr.contains(s(&foreign)) && stderr.contains("is not a mailaudit history"),
        "{stderr}"
    );
    assert!(
        std::fs::read(&foreign).unwrap() == before,
        "the foreign file was written"
    );
}

// --- 6. A second stop signal stops at once. ---

/// A webhook that accepts connections and never answers.
struct Silent {
    url: String,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let connections = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                kept.lock().unwrap().push(stream);
            }
        });
        Silent { url, connections }
    }

    fn connections(&self) -> usize {
        self.connections.lock().unwrap().len()
    }
}

#[cfg(unix)]
#[test]
fn a_second_sigterm_stops_an_interval_monitor_at_once_with_130() {
    // In the webhook's retries, after the run was stored.
    let (_dir, db) = temp();
    let webhook = Silent::start();
    let config = fixture("monitor.toml");
    let mut child = Running(
        command(
            world(1),
            &[
                "monitor",
                "--config",
                &config,
                "--interval",
                "1h",
                "--db",
                s(&db),
                "--format",
                "jsonl",
                "--webhook",
                &webhook.url,
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the first run's line");
    let deadline = Instant::now() + Duration::from_secs(10);
    while webhook.connections() == 0 {
        assert!(Instant::now() < deadline, "the webhook was never posted");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.signal("TERM");
    assert!(
        child.exit_within(Duration::from_millis(500)).is_none(),
        "the first signal lets the run finish"
    );
    child.signal("TERM");
    let status = child
        .exit_within(Duration::from_secs(5))
        .expect("stopped at once by the second signal");
    assert_eq!(status.code(), Some(130));
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_one_line(&stderr);
    assert!(stderr.contains("second"), "{stderr}");
    assert_eq!(
        history(&db, "monitor.test").runs.len(),
        1,
        "the run was stored"
    );
}

#[cfg(unix)]
#[test]
fn a_second_sigterm_during_the_audits_stores_nothing() {
    let (_dir, db) = temp();
    let dead = fixture("dead.toml");
    let mut child = Running(
        command(
            world(1),
            &[
                "monitor",
                "--config",
                &dead,
                "--interval",
                "1h",
                "--db",
                s(&db),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(700));
    assert!(child.0.try_wait().unwrap().is_none(), "still auditing");
    child.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the first signal lets the run finish"
    );
    child.signal("TERM");
    let status = child
        .exit_within(Duration::from_secs(5))
        .expect("stopped at once by the second signal");
    assert_eq!(status.code(), Some(130));
    let output = history_of(&db, "monitor.dead.test", &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("no stored run"),
        "{}",
        stderr_of(&output)
    );
}

/// A history readable but in a directory the user may not write (so `SQLite` cannot create the
/// WAL index beside it) is read all the same: as root, the reader is `nobody`.
#[cfg(unix)]
#[test]
fn a_user_who_may_only_read_the_history_reads_it() {
    use std::os::unix::fs::PermissionsExt;

    let (dir, db) = temp();
    monitor(world(1), &db, &[]);
    let before = std::fs::read(&db).unwrap();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let set_mode = |mode: u32| {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let args = [
        "history",
        "monitor.test",
        "--db",
        s(&db),
        "--format",
        "json",
    ];
    let output = if root {
        // Root may write anywhere: read as nobody, who may not write the directory.
        set_mode(0o755);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Ok(output) = Command::new("runuser")
            .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_mailaudit")])
            .args(args)
            .output()
        else {
            eprintln!("runuser is not available: skipped");
            return;
        };
        if output.status.code() == Some(1) && output.stdout.is_empty() {
            eprintln!(
                "runuser cannot switch to nobody: skipped ({})",
                stderr_of(&output)
            );
            return;
        }
        output
    } else {
        set_mode(0o555);
        let output = command(world(1), &args).output().unwrap();
        set_mode(0o700);
        output
    };
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let history: History = serde_json::from_slice(&output.stdout).expect("history JSON");
    assert_eq!(history.runs.len(), 1);
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the history was written"
    );
}
