//! Nothing lost, nothing overwritten: an output is never written over an input, a new report
//! never opens what is already at its name, a list on a pipe is read as it comes, a reader that
//! goes away ends the run, and nonsense at the edge is refused with exit status 2.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{self, Report};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("same.txt");
    std::fs::write(&list, "good.test\nm365.test\n").unwrap();
    let list_arg = list.to_str().unwrap();
    let output = support::run(&["audit", "--file", list_arg, "--output", list_arg]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("--file") && message.contains("--output"),
        "{message}"
    );
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "good.test\nm365.test\n"
    );

    // The catalog too, spelled another way.
    let catalog = dir.path().join("lists.toml");
    std::fs::copy(support::working_catalog(), &catalog).unwrap();
    let before = std::fs::read(&catalog).unwrap();
    let other_spelling = dir.path().join(".").join("lists.toml");
    let output = support::run(&[
        "ip",
        "192.0.2.10",
        "--dnsbl",
        catalog.to_str().unwrap(),
        "--output",
        other_spelling.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(std::fs::read(&catalog).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn an_output_path_that_is_a_planted_link_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let report = dir.path().join("report.json");
    std::os::unix::fs::symlink(&victim, &report).unwrap();
    let output = support::run(&[
        "audit",
        "good.test",
        "--format",
        "json",
        "--output",
        report.to_str().unwrap(),
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("symbolic link"), "{message}");
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

/// The dated report's name for a run started at `unix` seconds: `good.test-YYYYMMDD-HHMMSS`.
fn dated_name(unix: u64) -> String {
    let days = unix / 86_400;
    let seconds = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "good.test-{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(unix)]
#[test]
fn a_dated_html_report_never_opens_what_is_at_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    // A symlink planted at every name the next few seconds could give.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for second in now..now + 20 {
        let name = reports.join(format!("{}.html", dated_name(second)));
        std::os::unix::fs::symlink(&victim, name).unwrap();
    }
    let run = || {
        let output = support::command(&["audit", "good.test", "--format", "html"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let said = String::from_utf8(output.stdout).unwrap();
        let path = said
            .trim()
            .strip_prefix("report written to ")
            .unwrap_or_else(|| panic!("{said}"))
            .to_owned();
        dir.path().join(path)
    };
    let first = run();
    let second = run();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_ne!(first, second, "two runs, two reports");
    for path in [&first, &second] {
        let meta = std::fs::symlink_metadata(path).unwrap();
        assert!(meta.file_type().is_file(), "{}", path.display());
        assert!(std::fs::read_to_string(path).unwrap().contains("good.test"));
    }
}

#[test]
fn an_html_report_that_cannot_be_written_names_where() {
    let dir = tempfile::tempdir().unwrap();
    // `reports` is a file: the directory cannot be made.
    std::fs::write(dir.path().join("reports"), "").unwrap();
    let output = support::command(&["audit", "good.test", "--format", "html"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("'reports/'"), "{message}");
    assert!(!message.contains("standard output"), "{message}");
}

#[cfg(unix)]
#[test]
fn a_list_on_a_fifo_is_read_as_it_comes() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("domains.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, "good.test\nm365.test\n").unwrap())
    };
    let output = support::run(&[
        "audit",
        "--file",
        fifo.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    writer.join().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let reports: Vec<Report> = serde_json::from_slice(&output.stdout).unwrap();
    let targets: Vec<&str> = reports.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["good.test", "m365.test"]);
}

#[cfg(unix)]
#[test]
fn dev_stdin_is_read_like_standard_input() {
    let output = support::run_with_stdin(
        &[
            "audit",
            "--file",
            "/dev/stdin",
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
        "good.test\nm365.test\n",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let reports: Vec<Report> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reports.len(), 2);
}

#[test]
fn a_reader_that_goes_away_ends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // One quick domain, then many whose servers never answer: a run that went on would take
    // minutes, and the next report (the next write) is many seconds away: the run ends when the
    // reader goes, not at that write.
    let mut domains = vec!["good.test".to_owned()];
    domains.extend((0..200).map(|i| format!("d{i}.dead.test")));
    let list = domains.join("\n");
    let path = dir.path().join("big.txt");
    std::fs::write(&path, list).unwrap();
    let mut child = support::command(&[
        "audit",
        "--file",
        path.to_str().unwrap(),
        "--format",
        "jsonl",
        "--fail-on",
        "never",
        "--concurrency",
        "8",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let first: Report = serde_json::from_str(&line).expect("a whole line");
    assert_eq!(first.target, "good.test");
    drop(stdout); // `| head -1`
    let closed = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            closed.elapsed() < Duration::from_secs(5),
            "still auditing after its reader went away"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(141),
        "128 + SIGPIPE, as shells report it"
    );
}

/// A standard error nobody reads any more (`2>&1 | head -1` gone) does not turn the run's own
/// exit status into a panic's (101).
#[test]
fn a_closed_standard_error_keeps_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-report.xml");
    std::fs::write(&bad, "hello").unwrap();
    for args in [
        vec!["audit", "bad domain"],
        vec!["reports", bad.to_str().unwrap()],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_mailaudit"))
            .args(&args)
            .stderr(writer)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn nonsense_at_the_edge_is_refused_before_anything_runs() {
    let long = "s".repeat(300);
    for (args, names) in [
        (
            vec!["audit", "good.test", "--resolver", "127.0.0.1:0"],
            "127.0.0.1:0",
        ),
        (vec!["audit", "good.test", "--timeout", "1e-9"], "1e-9"),
        (vec!["audit", "good.test", "--timeout", "3600"], "3600"),
        (vec!["audit", "good.test", "--selector", "a..b"], "a..b"),
        (vec!["audit", "good.test", "--selector", ""], "''"),
        (vec!["audit", "good.test", "--selector", &long], "sss"),
    ] {
        // Straight to the binary (the shared helper adds its own --resolver and --timeout),
        // with a silent resolver of this test where the case names none: should the input be
        // taken after all, nothing leaves the machine.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let silent = silent.local_addr().unwrap().to_string();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mailaudit"));
        command
            .args(&args)
            .args(["--dnsbl", &support::working_catalog()]);
        if !args.contains(&"--resolver") {
            command.args(["--resolver", &silent]);
        }
        if !args.contains(&"--timeout") {
            command.args(["--timeout", "0.1"]);
        }
        let output = command.output().unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(message.contains(names), "{args:?}: {message}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

/// A config, a catalog, profiles or a CA file that never ends (a device, a FIFO) is refused
/// at a size limit counted while reading, never read until memory runs out.
#[test]
fn an_endless_input_file_is_refused_at_its_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let db = db.to_str().unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = silent.local_addr().unwrap().to_string();
    for args in [
        vec!["audit", "good.test", "--dnsbl", "/dev/zero"],
        vec!["migrate", "good.test", "--profiles", "/dev/zero"],
        vec!["smtp", "127.0.0.1", "--ca-file", "/dev/zero"],
        vec!["monitor", "--config", "/dev/zero", "--once", "--db", db],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_mailaudit"))
            .args(&args)
            .args(["--resolver", &silent, "--timeout", "0.1"])
            .output()
            .unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(
            message.contains("/dev/zero") && message.contains("larger than the 1048576-byte limit"),
            "{args:?}: {message}"
        );
        assert_eq!(message.trim_end().lines().count(), 1, "{args:?}: {message}");
    }
}

#[test]
fn a_list_line_that_is_not_text_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binary.txt");
    std::fs::write(&path, b"good.test\nbad\xff.test\n").unwrap();
    let output = support::run(&["audit", "--file", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("binary.txt:2: not UTF-8 text"),
        "{message}"
    );
    assert!(Path::new(&path).exists());
}
