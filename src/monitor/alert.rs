//! Alerts beside the exit status: a webhook (a JSON POST of a run's changes) and a Prometheus
//! textfile for the textfile collector of Prometheus' `node_exporter`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::diff::{Change, ListingState, PortHealth, Snapshot};
use super::store::RunInfo;
use crate::errors::{error_chain, redact, redact_url};
use crate::report::{Areas, SCHEMA_VERSION, TargetKind, TargetReport};
use crate::smtp::{Outcome, PortProbe};

/// Attempts and pauses of a webhook POST.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The pause before the first retry; doubled before each next one.
    pub first_delay: Duration,
    /// Per-attempt limit, connection and response included.
    pub timeout: Duration,
}

impl Default for Retry {
    /// Three retries, 0.5 s, 1 s and 2 s apart, 10 s per attempt.
    fn default() -> Self {
        Retry {
            retries: 3,
            first_delay: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The webhook's JSON body.
#[derive(Debug, Serialize)]
pub struct WebhookBody<'a> {
    pub schema_version: u32,
    /// Always `monitor-changes`.
    pub kind: &'static str,
    /// The changes in a few lines, for chat webhooks that show a `text` field (Slack,
    /// Mattermost, Rocket.Chat).
    pub text: String,
    pub run: &'a RunInfo,
    /// At least one change made things worse (the run exits with status 1).
    pub worse: bool,
    pub changes: &'a [Change],
}

impl<'a> WebhookBody<'a> {
    pub fn new(run: &'a RunInfo, changes: &'a [Change]) -> Self {
        // A chat message, not a report: the JSON has every change.
        const SHOWN: usize = 20;
        let worse = changes.iter().any(|c| c.worse);
        let mut text = format!(
            "mailaudit: {} change{} at run {}{}",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" },
            run.id,
            if worse { " (worse)" } else { "" }
        );
        for change in changes.iter().take(SHOWN) {
            let mark = if change.worse { "worse" } else { "changed" };
            let _ = write!(text, "\n- [{mark}] {}: {}", change.target, change.message);
        }
        if changes.len() > SHOWN {
            let _ = write!(text, "\n- … and {} more", changes.len() - SHOWN);
        }
        WebhookBody {
            schema_version: SCHEMA_VERSION,
            kind: "monitor-changes",
            text,
            run,
            worse,
            changes,
        }
    }
}

/// POSTs `body` as JSON to `url`, retrying connection errors, timeouts, 429 and 5xx answers.
/// Redirects are not followed (a 307 or 308 would post the changes to another host, a 302
/// would turn into a GET counted as delivered): a 3xx is a failure naming where it pointed.
/// Returns what went wrong at the last attempt; every URL in it is redacted.
pub async fn post_webhook(url: &str, body: &WebhookBody<'_>, retry: Retry) -> Result<(), String> {
    let shown = redact(url);
    let client = reqwest::Client::builder()
        .timeout(retry.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mailaudit/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            format!(
                "cannot set up the HTTP client: {}",
                error_chain(&e.without_url())
            )
        })?;
    let mut delay = retry.first_delay;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = match client.post(url).json(body).send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                if status.is_redirection() {
                    return Err(format!(
                        "the webhook {shown} answered {status}, a redirect to {}: redirects are \
                         not followed, give the webhook's final URL",
                        location(&response)
                    ));
                }
                let retryable =
                    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                let error = format!("the webhook {shown} answered {status}");
                if !retryable {
                    return Err(error);
                }
                error
            }
            Err(e) => format!(
                "cannot reach the webhook {shown}: {}",
                error_chain(&e.without_url())
            ),
        };
        if attempt > retry.retries {
            return Err(format!("{outcome} (after {attempt} attempts)"));
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
}

/// Where a redirect pointed, redacted (a relative `Location` resolved against the request).
fn location(response: &reqwest::Response) -> String {
    let Some(value) = response.headers().get(reqwest::header::LOCATION) else {
        return "nowhere (no Location header)".to_owned();
    };
    value
        .to_str()
        .ok()
        .and_then(|text| response.url().join(text).ok())
        .map_or_else(
            || "(an unreadable Location)".to_owned(),
            |url| redact_url(&url),
        )
}

/// Checks, before a run, that the metrics textfile can be written at `path`: its directory
/// exists, and `path` is a regular file or nothing yet (never a link, a pipe, a device or a
/// directory, which [`write_metrics`] refuses to replace).
pub fn check_metrics_path(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(format!(
                "'{}' exists and is not a regular file (a link, a pipe, a device or a \
                 directory): refusing to replace it",
                path.display()
            ));
        }
        Ok(_) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(format!("'{}': {error}", path.display())),
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "cannot write '{}': the directory '{}' does not exist",
            path.display(),
            dir.display()
        ))
    }
}

/// Writes the metrics of a run to `path` atomically ([`crate::files::replace_regular`]): to a
/// new temporary file of random name in the same directory (the textfile collector reads only
/// `*.prom`), then renamed over `path`, so that a scrape never sees half a file and nothing
/// planted at a predictable name is followed. A `path` that is not a regular file is refused.
pub fn write_metrics(
    path: &Path,
    run: &RunInfo,
    reports: &[TargetReport],
    snapshots: &[Snapshot],
    changes: &[Change],
) -> std::io::Result<()> {
    let text = metrics_text(run, reports, snapshots, changes);
    crate::files::replace_regular(path, text.as_bytes())
}

/// The Prometheus text exposition format (version 0.0.4): each family's HELP and TYPE, then
/// its samples, families never interleaved.
pub fn metrics_text(
    run: &RunInfo,
    reports: &[TargetReport],
    snapshots: &[Snapshot],
    changes: &[Change],
) -> String {
    let mut out = String::new();
    let pairs: Vec<(&TargetReport, &Snapshot)> = reports.iter().zip(snapshots).collect();
    let of_kind = |kind: TargetKind| -> Vec<(&TargetReport, &Snapshot)> {
        pairs
            .iter()
            .copied()
            .filter(|(r, _)| r.kind == kind)
            .collect()
    };
    domain_metrics(&mut out, &of_kind(TargetKind::Domain));
    ip_metrics(&mut out, &of_kind(TargetKind::Ip));
    smtp_metrics(&mut out, &of_kind(TargetKind::Smtp));
    run_metrics(&mut out, run, reports, changes);
    out
}

fn domain_metrics(out: &mut String, domains: &[(&TargetReport, &Snapshot)]) {
    family(
        out,
        "mailaudit_domain_score",
        "The domain's audit score (0-100) at the last run.",
    );
    for (report, _) in domains {
        sample(
            out,
            "mailaudit_domain_score",
            &[("domain", &report.target)],
            f64::from(report.score),
        );
    }
    family(
        out,
        "mailaudit_domain_grade_info",
        "The domain's grade (A-F) at the last run, in the grade label; the value is always 1.",
    );
    for (report, _) in domains {
        sample(
            out,
            "mailaudit_domain_grade_info",
            &[
                ("domain", &report.target),
                ("grade", &report.grade.to_string()),
            ],
            1.0,
        );
    }
    family(
        out,
        "mailaudit_domain_listed",
        "1 when the domain blocklist lists the subject (the domain or an MX host's domain), 0 \
         when it does not; absent when the list could not answer.",
    );
    for (report, snapshot) in domains {
        for listing in &snapshot.listings {
            if let Some(value) = listing_value(listing.state) {
                sample(
                    out,
                    "mailaudit_domain_listed",
                    &[
                        ("domain", &report.target),
                        ("subject", &listing.subject),
                        ("list", &listing.list),
                    ],
                    value,
                );
            }
        }
    }
}

fn ip_metrics(out: &mut String, ips: &[(&TargetReport, &Snapshot)]) {
    family(
        out,
        "mailaudit_ip_score",
        "The sending IP's reputation score (0-100) at the last run.",
    );
    for (report, _) in ips {
        sample(
            out,
            "mailaudit_ip_score",
            &[("ip", &report.target)],
            f64::from(report.score),
        );
    }
    family(
        out,
        "mailaudit_ip_listed",
        "1 when the blocklist lists the IP, 0 when it does not; absent when the list could not \
         answer.",
    );
    for (report, snapshot) in ips {
        for listing in &snapshot.listings {
            if let Some(value) = listing_value(listing.state) {
                sample(
                    out,
                    "mailaudit_ip_listed",
                    &[("ip", &report.target), ("list", &listing.list)],
                    value,
                );
            }
        }
    }
    family(
        out,
        "mailaudit_ip_listings",
        "How many blocklists list the IP.",
    );
    for (report, snapshot) in ips {
        sample(
            out,
            "mailaudit_ip_listings",
            &[("ip", &report.target)],
            count(snapshot.listed().count()),
        );
    }
}

fn smtp_metrics(out: &mut String, servers: &[(&TargetReport, &Snapshot)]) {
    let probes: Vec<&PortProbe> = servers
        .iter()
        .filter_map(|(report, _)| match &report.areas {
            Areas::Smtp(areas) => Some(&areas.smtp.probes),
            _ => None,
        })
        .flatten()
        .collect();
    family(
        out,
        "mailaudit_smtp_up",
        "1 when a session with the SMTP server's port ran to QUIT (greeting, EHLO, TLS as the \
         port's default) at one of its addresses at least, 0 when none did; absent when the \
         host's addresses could not be looked up.",
    );
    for probe in &probes {
        if let Some(health) = PortHealth::of(probe) {
            sample(
                out,
                "mailaudit_smtp_up",
                &[("host", &probe.host), ("port", &probe.port.to_string())],
                if health == PortHealth::Answers {
                    1.0
                } else {
                    0.0
                },
            );
        }
    }
    family(
        out,
        "mailaudit_smtp_certificate_expiry_seconds",
        "When the certificate the SMTP server's port presented stops being valid (its not \
         after), in Unix time; the earliest of its addresses'. Absent when no certificate was \
         seen.",
    );
    for probe in &probes {
        if let Some(not_after) = certificate_expiry(probe) {
            sample(
                out,
                "mailaudit_smtp_certificate_expiry_seconds",
                &[("host", &probe.host), ("port", &probe.port.to_string())],
                unix_seconds(not_after),
            );
        }
    }
}

/// The earliest end of validity (Unix time) of the certificates the probe's sessions that ran
/// to QUIT were shown.
fn certificate_expiry(probe: &PortProbe) -> Option<i64> {
    probe
        .sessions
        .iter()
        .filter(|session| session.outcome == Outcome::Completed)
        .filter_map(|session| session.tls.as_ref()?.certificate.as_ref())
        .filter_map(|certificate| parse_rfc3339_utc(&certificate.not_after))
        .min()
}

/// A UTC time as the probe writes a certificate's dates (`2027-01-01T00:00:00Z`, RFC 3339 to
/// the second), or a bare Unix time (what it writes for a date RFC 3339 cannot hold), as Unix
/// time.
fn parse_rfc3339_utc(text: &str) -> Option<i64> {
    if let Ok(unix) = text.parse::<i64>() {
        return Some(unix);
    }
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 20
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T' || b == b't',
            13 | 16 => b == b':',
            19 => b == b'Z' || b == b'z',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u16>().ok();
    let date = time::Date::from_calendar_date(
        i32::from(number(0..4)?),
        time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?,
        u8::try_from(number(8..10)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(number(11..13)?).ok()?,
        u8::try_from(number(14..16)?).ok()?,
        u8::try_from(number(17..19)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

fn run_metrics(out: &mut String, run: &RunInfo, reports: &[TargetReport], changes: &[Change]) {
    family(
        out,
        "mailaudit_incomplete",
        "1 when the target's audit at the last run could not determine something (a lookup \
         failed, a list could not answer: see the report's unknown), 0 when it saw everything.",
    );
    for report in reports {
        sample(
            out,
            "mailaudit_incomplete",
            &[("target", &report.target)],
            if report.incomplete { 1.0 } else { 0.0 },
        );
    }
    family(
        out,
        "mailaudit_findings",
        "Findings of the target at the last run, by severity.",
    );
    for report in reports {
        for severity in ["critical", "error", "warning", "info"] {
            let findings = report
                .findings
                .iter()
                .filter(|f| f.severity.as_str() == severity)
                .count();
            sample(
                out,
                "mailaudit_findings",
                &[("target", &report.target), ("severity", severity)],
                count(findings),
            );
        }
    }
    family(
        out,
        "mailaudit_last_run_changes",
        "Changes found by the last run since the previous one; worse=\"true\" counts those \
         that made things worse.",
    );
    let worse = changes.iter().filter(|c| c.worse).count();
    sample(
        out,
        "mailaudit_last_run_changes",
        &[("worse", "false")],
        count(changes.len() - worse),
    );
    sample(
        out,
        "mailaudit_last_run_changes",
        &[("worse", "true")],
        count(worse),
    );
    family(
        out,
        "mailaudit_last_run_timestamp_seconds",
        "When the last run finished, in Unix time.",
    );
    sample(
        out,
        "mailaudit_last_run_timestamp_seconds",
        &[],
        seconds(run.finished_ms),
    );
    family(
        out,
        "mailaudit_last_run_duration_seconds",
        "How long the last run took.",
    );
    sample(
        out,
        "mailaudit_last_run_duration_seconds",
        &[],
        seconds((run.finished_ms - run.started_ms).max(0)),
    );
}

/// A count as a sample value (exact below 2^53, far beyond any count here).
#[allow(clippy::cast_precision_loss)]
fn count(n: usize) -> f64 {
    n as f64
}

/// Milliseconds as seconds.
#[allow(clippy::cast_precision_loss)]
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A Unix time in seconds as a sample value (exact below 2^53 seconds).
#[allow(clippy::cast_precision_loss)]
fn unix_seconds(unix: i64) -> f64 {
    unix as f64
}

fn listing_value(state: ListingState) -> Option<f64> {
    match state {
        ListingState::Listed => Some(1.0),
        ListingState::NotListed => Some(0.0),
        ListingState::Unknown => None,
    }
}

fn family(out: &mut String, name: &str, help: &str) {
    // HELP text escapes backslash and newline only.
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, text)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(text));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the exposition format spells it: backslash, double quote and line feed
/// escaped. List names come from a user's catalog file and may hold any of them.
pub fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::diff::What;

    #[test]
    fn a_metrics_path_is_checked_before_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        assert!(check_metrics_path(&path).is_ok(), "a new file");
        std::fs::write(&path, "old").unwrap();
        assert!(check_metrics_path(&path).is_ok(), "a regular file");
        let error = check_metrics_path(dir.path()).unwrap_err();
        assert!(error.contains("not a regular file"), "{error}");
        let error = check_metrics_path(&dir.path().join("missing").join("m.prom")).unwrap_err();
        assert!(error.contains("does not exist"), "{error}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.prom");
            std::os::unix::fs::symlink(&path, &link).unwrap();
            assert!(check_metrics_path(&link).is_err());
            // Nor may the run replace it.
            let run = RunInfo {
                id: 1,
                started_ms: 0,
                finished_ms: 0,
            };
            assert!(write_metrics(&link, &run, &[], &[], &[]).is_err());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        }
    }

    #[test]
    fn certificate_dates_are_read_as_unix_time() {
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_utc("2027-01-01T00:00:00Z"),
            Some(1_798_761_600)
        );
        assert_eq!(
            parse_rfc3339_utc("2024-02-29T23:59:59Z"),
            Some(1_709_251_199)
        );
        assert_eq!(parse_rfc3339_utc("-62135596800"), Some(-62_135_596_800));
        for bad in [
            "",
            "2027-01-01",
            "2027-01-01T00:00:00+01:00",
            "2027-02-30T00:00:00Z",
            "2027-13-01T00:00:00Z",
            "2027-01-01T24:00:00Z",
            "2027-01-01T00:00:00.5Z",
            "２027-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_utc(bad), None, "{bad}");
        }
        // As samples: whole seconds, no exponent.
        let mut out = String::new();
        sample(&mut out, "m", &[], unix_seconds(1_798_761_600));
        assert_eq!(out, "m 1798761600\n");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("two\nlines"), "two\\nlines");
        assert_eq!(escape_label("bücher"), "bücher");
    }

    #[test]
    fn samples_follow_the_exposition_format() {
        let mut out = String::new();
        family(&mut out, "m", "help");
        sample(
            &mut out,
            "m",
            &[("ip", "192.0.2.1"), ("list", "A \"B\"")],
            1.0,
        );
        sample(&mut out, "m", &[], 0.5);
        assert_eq!(
            out,
            "# HELP m help\n# TYPE m gauge\nm{ip=\"192.0.2.1\",list=\"A \\\"B\\\"\"} 1\nm 0.5\n"
        );
    }

    #[test]
    fn the_webhook_text_names_each_change() {
        let run = RunInfo {
            id: 7,
            started_ms: 0,
            finished_ms: 0,
        };
        let changes = vec![Change {
            target: "192.0.2.1".to_owned(),
            what: What::Listed {
                list: "RBL".to_owned(),
                subject: "192.0.2.1".to_owned(),
            },
            worse: true,
            message: "192.0.2.1 is newly listed on RBL".to_owned(),
        }];
        let body = WebhookBody::new(&run, &changes);
        assert!(body.worse);
        assert_eq!(
            body.text,
            "mailaudit: 1 change at run 7 (worse)\n- [worse] 192.0.2.1: 192.0.2.1 is newly listed on RBL"
        );
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["changes"][0]["type"], "listed");
        assert_eq!(json["run"]["id"], 7);
    }
}
