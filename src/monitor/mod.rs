//! `mailaudit monitor` and `mailaudit history`: audit the configured domains, sending IPs and
//! mail servers (SMTP) on a schedule, keep every run in a history database (`SQLite`), report
//! what changed since the previous run, and alert through the exit status, a webhook and a
//! Prometheus textfile.
//!
//! A run, in order: audit every target (a fresh DNS client and blocklist health check per run,
//! so nothing is answered from an earlier run's cache; no health check when only mail servers
//! are watched); store the run and compute the changes in one transaction ([`store`]); print;
//! write the metrics; POST the changes. The run is stored before any alert is sent, so a
//! failing webhook or metrics path never loses it.
//!
//! Before anything is queried, created or written: the config is read and bounded
//! ([`config::MAX_TARGETS`]), its `ca_file` read, no output is an input or another output, the
//! metrics path is a regular file or nothing yet. `history` opens the database read-only
//! ([`Store::open_read_only`]). Every error is one line.

pub mod alert;
pub mod args;
pub mod config;
pub mod diff;
pub mod output;
pub mod store;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use futures::{FutureExt, StreamExt};

use self::args::{HistoryArgs, MonitorArgs, RunReportArgs};
use self::config::{Config, SmtpTarget};
use self::output::{HistoryReport, RunOut, RunReport, TargetSummary};
use self::store::Store;
use crate::app::{DnsSetup, LazyFile};
use crate::audit::{self, AuditOptions, Blocklists};
use crate::bimi;
use crate::cli::{OutputArgs, RunFormat};
use crate::dns::Dns;
use crate::dnsbl::Catalog;
use crate::files::{self, Named};
use crate::https::HttpsOptions;
use crate::input;
use crate::report::TargetReport;
use crate::smtp;

/// Exit status 1: something got worse since the previous run.
const EXIT_WORSE: u8 = 1;
/// Exit status 2: the run could not be made or stored.
const EXIT_FAILED: u8 = 2;
/// Exit status 130: stopped at once by a second Ctrl-C or SIGTERM.
const EXIT_INTERRUPTED: u8 = 130;

/// The database file in the data directory.
const DB_FILE: &str = "history.sqlite3";

/// `mailaudit monitor`: one run, or one every `--interval` until interrupted. An `Err` means
/// the monitor could not start (exit status 2); its message is one line.
pub fn run(args: &MonitorArgs) -> anyhow::Result<ExitCode> {
    run_monitor(args).map_err(|e| one_line(&e))
}

/// `mailaudit history TARGET`: the stored runs of a domain or an IP, or one run's full report
/// with `--run`. The database is only read.
pub fn history(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    show_history(args).map_err(|e| one_line(&e))
}

fn run_monitor(args: &MonitorArgs) -> anyhow::Result<ExitCode> {
    // Everything is checked before anything is queried, created or written.
    let db = db_path(args.db.as_deref())?;
    let cli_metrics = args.metrics.as_deref().map(|path| ("--metrics", path));
    check_paths(args, &db, cli_metrics, None)?;
    if let Some(url) = &args.webhook {
        config::check_webhook(url).map_err(|e| anyhow::anyhow!("--webhook: {e}"))?;
    }
    let config = Config::load(&args.config)?;
    // A `migrate` naming no provider stops the monitor before anything is asked.
    let profiles = crate::migrate::Profiles::load(None)?;
    for (domain, migration) in &config.migrations {
        for id in std::iter::once(&migration.to).chain(&migration.from) {
            profiles.find(id).map_err(|e| {
                anyhow::anyhow!("{}: {domain}: migrate: {e}", args.config.display())
            })?;
        }
    }
    let webhook = args.webhook.clone().or_else(|| config.webhook.clone());
    let metrics = args.metrics.clone().or_else(|| config.metrics.clone());
    if config.ca_file.is_some() || (args.metrics.is_none() && config.metrics.is_some()) {
        let metrics = metrics.as_deref().map(|path| {
            let option = if args.metrics.is_some() {
                "--metrics"
            } else {
                "`metrics` of the config"
            };
            (option, path)
        });
        check_paths(args, &db, metrics, config.ca_file.as_deref())?;
    }
    if let Some(path) = &metrics {
        alert::check_metrics_path(path).map_err(|e| anyhow::anyhow!("metrics file: {e}"))?;
    }
    // Read now: a CA file that cannot be used stops the monitor before anything is asked.
    let trust = smtp::Trust::new(config.ca_file.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: ca_file: {e}", args.config.display()))?;
    let https = HttpsOptions::new(&trust, Duration::from_secs_f64(args.dns.timeout));
    let monitor = Monitor {
        config_path: args.config.display().to_string(),
        dns: DnsSetup::from_args(&args.dns, args.catalog.dnsbl.as_deref())?,
        options: AuditOptions {
            selectors: config.selectors.clone(),
            https: https.clone(),
            bimi: bimi::BimiOptions {
                fetch: config.fetch_bimi.then_some(https),
                ..bimi::BimiOptions::default()
            },
            ..AuditOptions::default()
        },
        // As `mailaudit smtp` probes, without AUTH: the monitor holds no password.
        probe: smtp::ProbeOptions {
            trust,
            credentials: None,
            step: Duration::from_secs_f64(args.dns.timeout),
        },
        config,
        profiles,
        webhook,
        metrics,
        retry: alert::Retry::default(),
        report: &args.report,
        concurrency: args.dns.concurrency,
        stored: std::cell::Cell::new(None),
    };
    let mut out = Out::open(&args.report.output)?;
    let mut store = Store::open(&db)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match args.interval {
            None => Ok(monitor.run_once(&mut store, &mut out).await?.exit_code()),
            Some(interval) => Ok(monitor.repeat(interval, &mut store, &mut out).await),
        }
    })
}

fn show_history(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let target = normalize_target(&args.target)?;
    let db = db_path(args.db.as_deref())?;
    let mut named = vec![Named::input("--db", &db)];
    if let Some(output) = args.report.output.file() {
        named.push(Named::output("--output", output));
    }
    files::check_distinct(&named)?;
    let store = Store::open_read_only(&db)?;
    let mut out = Out::open(&args.report.output)?;
    if let Some(run) = args.run {
        let report = store.report(&target, run)?.with_context(|| {
            format!(
                "run {run} of '{target}' is not in '{}': `mailaudit history {target}` lists the runs",
                db.display()
            )
        })?;
        // Stored compact; shown as the audit's own JSON report.
        let value: serde_json::Value =
            serde_json::from_str(&report).context("the stored report is not JSON")?;
        serde_json::to_writer_pretty(&mut out.writer, &value)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out.writer))
            .and_then(|()| out.writer.flush())
            .or_else(ignore_broken_pipe)
            .context(out.describe())?;
        return Ok(ExitCode::SUCCESS);
    }
    let entries = store.timeline(&target)?;
    if entries.is_empty() {
        anyhow::bail!(
            "no stored run of '{target}' in '{}' (is it in the monitor's config?)",
            db.display()
        );
    }
    let report = HistoryReport::new(&target, db.display().to_string(), &entries);
    match args.report.format {
        RunFormat::Json | RunFormat::Jsonl => {
            let pretty = args.report.format == RunFormat::Json;
            let result = if pretty {
                serde_json::to_writer_pretty(&mut out.writer, &report)
            } else {
                serde_json::to_writer(&mut out.writer, &report)
            };
            result
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out.writer))
                .and_then(|()| out.writer.flush())
        }
        RunFormat::Table => output::write_history_table(&mut out.writer, &report, out.color),
    }
    .or_else(ignore_broken_pipe)
    .context(out.describe())?;
    Ok(ExitCode::SUCCESS)
}

/// A domain as the audit normalises it, an IP as reports spell it, or an SMTP server as the
/// monitor names it (`HOST:PORT`, `[IPv6]:PORT`).
fn normalize_target(raw: &str) -> anyhow::Result<String> {
    if let Ok(ip) = raw.trim().parse::<IpAddr>() {
        return Ok(ip.to_canonical().to_string());
    }
    if raw.contains(':') {
        return SmtpTarget::parse(raw)
            .map(|target| target.to_string())
            .map_err(|e| anyhow::anyhow!("'{}' as HOST:PORT: {e}", raw.trim()));
    }
    Ok(input::normalize_domain(raw)?)
}

/// Refuses an output (`--output`, the metrics file) that is the same file as an input
/// (`--config`, `--db`, `--dnsbl`, the config's `ca_file`) or as the other output. The history
/// database is read and written: no output may be it.
fn check_paths(
    args: &MonitorArgs,
    db: &Path,
    metrics: Option<(&'static str, &Path)>,
    ca_file: Option<&Path>,
) -> anyhow::Result<()> {
    let mut named = vec![
        Named::input("--config", &args.config),
        Named::input("--db", db),
    ];
    if let Some(path) = ca_file {
        named.push(Named::input("`ca_file` of the config", path));
    }
    if let Some(dnsbl) = &args.catalog.dnsbl {
        named.push(Named::input("--dnsbl", dnsbl));
    }
    if let Some(output) = args.report.output.file() {
        named.push(Named::output("--output", output));
    }
    if let Some((option, path)) = metrics {
        named.push(Named::output(option, path));
    }
    files::check_distinct(&named)?;
    Ok(())
}

/// An error as one line, as every error of the monitor is: its causes joined by ": ", the SQL
/// text `SQLite` quotes with a failed statement left out, line breaks folded.
fn one_line(error: &anyhow::Error) -> anyhow::Error {
    let parts: Vec<String> = error
        .chain()
        .map(|cause| match cause.downcast_ref::<rusqlite::Error>() {
            Some(rusqlite::Error::SqlInputError { msg, .. }) => msg.clone(),
            _ => cause.to_string(),
        })
        .collect();
    let text = parts.join(": ");
    if text.contains(['\n', '\r']) {
        anyhow::anyhow!(text.split_whitespace().collect::<Vec<_>>().join(" "))
    } else {
        anyhow::anyhow!(text)
    }
}

/// `--db`, or `history.sqlite3` in the user's data directory.
fn db_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    dirs::data_dir()
        .map(|dir| dir.join("mailaudit").join(DB_FILE))
        .context(
            "no data directory is known for this user (set HOME or XDG_DATA_HOME, or give --db)",
        )
}

/// Everything a run needs besides the store and the output.
struct Monitor<'a> {
    config_path: String,
    config: Config,
    /// The provider profiles the config's `migrate` entries name.
    profiles: crate::migrate::Profiles,
    dns: DnsSetup,
    options: AuditOptions,
    /// How the `smtp` targets are probed.
    probe: smtp::ProbeOptions,
    webhook: Option<String>,
    metrics: Option<PathBuf>,
    retry: alert::Retry,
    report: &'a RunReportArgs,
    /// `--concurrency`: how many targets are audited side by side.
    concurrency: u32,
    /// The id of the run under way once it is stored (for the message of a second signal).
    stored: std::cell::Cell<Option<i64>>,
}

/// How a run ended.
struct Outcome {
    worse: bool,
    /// The resolver stopped answering during the run: what was audited is stored, the rest
    /// was not audited, and the run exits 2.
    resolver_stopped: bool,
}

impl Outcome {
    fn exit_code(&self) -> ExitCode {
        if self.resolver_stopped {
            ExitCode::from(EXIT_FAILED)
        } else if self.worse {
            ExitCode::from(EXIT_WORSE)
        } else {
            ExitCode::SUCCESS
        }
    }
}

impl Monitor<'_> {
    /// Runs every `interval` (measured from the start of each run) until Ctrl-C or SIGTERM.
    /// The first signal lets the current run finish (stored, printed, alerted); a second one
    /// stops at once with exit status 130: a run not yet stored is not (its transaction never
    /// began or is never committed), and the webhook's retries are abandoned. A run that fails
    /// is reported on standard error and the next one is tried. The exit status is the last
    /// run's.
    async fn repeat(&self, interval: Duration, store: &mut Store, out: &mut Out) -> ExitCode {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(0u32);
        tokio::spawn(count_stop_signals(stop_tx));
        loop {
            let started = tokio::time::Instant::now();
            self.stored.set(None);
            let status = tokio::select! {
                result = self.run_once(store, out) => match result {
                    Ok(outcome) => outcome.exit_code(),
                    Err(error) => {
                        crate::warn_line!("mailaudit: the run failed: {}", one_line(&error));
                        ExitCode::from(EXIT_FAILED)
                    }
                },
                _ = stop_rx.wait_for(|&signals| signals >= 2) => {
                    if let Some(run) = self.stored.get() {
                        crate::warn_line!(
                            "mailaudit: stopped by a second signal; run {run} is stored, its \
                             alerts were not all sent"
                        );
                    } else {
                        crate::warn_line!(
                            "mailaudit: stopped by a second signal; the run under way was not \
                             stored"
                        );
                    }
                    return ExitCode::from(EXIT_INTERRUPTED);
                }
            };
            if *stop_rx.borrow() > 0 {
                return status;
            }
            tokio::select! {
                () = tokio::time::sleep_until(started + interval) => {}
                _ = stop_rx.changed() => return status,
            }
        }
    }

    /// One run: audit, store, print, alert.
    async fn run_once(&self, store: &mut Store, out: &mut Out) -> anyhow::Result<Outcome> {
        let started = SystemTime::now();
        let (dns, blocklists) = if self.config.domains.is_empty() && self.config.ips.is_empty() {
            // Mail servers only: no blocklist is asked, so none is health-checked.
            let blocklists = Blocklists {
                catalog: Catalog::builtin(),
                health: Vec::new(),
            };
            (self.dns.client().await?, blocklists)
        } else {
            self.dns.start().await?
        };
        let reports = self.audit_all(&dns, &blocklists).await;
        let finished = SystemTime::now();
        let fail_on = self.report.fail_on.level.threshold();
        let saved = tokio::task::block_in_place(|| {
            store.save_run(&self.config_path, started, finished, &reports, fail_on)
        })?;
        self.stored.set(Some(saved.run.id));

        let summaries: Vec<TargetSummary> = reports
            .iter()
            .zip(&saved.snapshots)
            .map(|(report, snapshot)| {
                let baseline = saved.baselines.contains(&report.target);
                TargetSummary::of(report, snapshot, baseline, &saved.changes)
            })
            .collect();
        let worse = saved.changes.iter().any(|c| c.worse);
        let run_report = RunReport {
            schema_version: crate::report::SCHEMA_VERSION,
            kind: "monitor-run",
            run: RunOut::new(
                &saved.run,
                &self.config_path,
                store.path().display().to_string(),
            ),
            worse,
            changes: &saved.changes,
            targets: summaries,
        };
        match self.report.format {
            RunFormat::Json => output::write_run_json(&mut out.writer, &run_report, true),
            RunFormat::Jsonl => output::write_run_json(&mut out.writer, &run_report, false),
            RunFormat::Table => output::write_run_table(&mut out.writer, &run_report, out.color),
        }
        .or_else(ignore_broken_pipe)
        .context(out.describe())?;

        // The run is stored: from here on, a failure is reported and the run still counts.
        if let Some(path) = &self.metrics {
            let written = tokio::task::block_in_place(|| {
                alert::write_metrics(path, &saved.run, &reports, &saved.snapshots, &saved.changes)
            });
            if let Err(error) = written {
                crate::warn_line!(
                    "mailaudit: cannot write the metrics file '{}': {error}",
                    path.display()
                );
            }
        }
        if let Some(url) = &self.webhook
            && !saved.changes.is_empty()
        {
            let body = alert::WebhookBody::new(&saved.run, &saved.changes);
            if let Err(error) = alert::post_webhook(url, &body, self.retry).await {
                crate::warn_line!(
                    "mailaudit: webhook not delivered (run {} is stored): {error}",
                    saved.run.id
                );
            }
        }
        let resolver_stopped = reports.iter().any(|r| r.resolver_stopped);
        if resolver_stopped {
            let incomplete: Vec<&str> = reports
                .iter()
                .filter(|r| r.incomplete)
                .map(|r| r.target.as_str())
                .collect();
            let total = self.config.target_count();
            let servers: Vec<String> = dns.servers().iter().map(ToString::to_string).collect();
            crate::warn_line!(
                "mailaudit: the resolver ({}) stopped answering: run {} stored {} of {total} \
                 targets; incomplete, their unknown parts compared with nothing: {}{}",
                servers.join(", "),
                saved.run.id,
                reports.len(),
                incomplete.join(", "),
                if reports.len() < total {
                    "; the others were not audited"
                } else {
                    ""
                }
            );
        }
        Ok(Outcome {
            worse,
            resolver_stopped,
        })
    }

    /// Audits every domain, then every IP, then probes every SMTP server, a few targets at a
    /// time (the DNS layer bounds the queries in flight; each probe is one session an address
    /// of its host), in the config's order. When the resolver stops answering, the run stops
    /// after the audits under way: the rest would only be unknown.
    async fn audit_all(&self, dns: &Dns, blocklists: &Blocklists) -> Vec<TargetReport> {
        let parallel = usize::try_from(self.concurrency)
            .unwrap_or(1)
            .div_ceil(16)
            .max(1);
        let domains = self
            .config
            .domains
            .iter()
            .map(|domain| self.audit_domain(dns, domain, blocklists).boxed_local());
        let ips = self.config.ips.iter().map(|&ip| {
            audit::audit_ip(dns, ip, None, &self.options.sender, blocklists).boxed_local()
        });
        let servers = self
            .config
            .smtp
            .iter()
            .map(|server| self.probe_smtp(dns, server).boxed_local());
        let mut audits =
            futures::stream::iter(domains.chain(ips).chain(servers)).buffered(parallel);
        let mut reports = Vec::new();
        while let Some(report) = audits.next().await {
            let stopped = report.resolver_stopped;
            reports.push(report);
            if stopped {
                break;
            }
        }
        reports
    }

    /// Audits one domain and, when the config watches its migration, verifies each step with
    /// `mailaudit migrate`'s own reading of DNS ([`crate::migrate::run`]).
    async fn audit_domain(&self, dns: &Dns, domain: &str, blocklists: &Blocklists) -> TargetReport {
        let mut report = audit::audit_domain(dns, domain, &self.options, blocklists).await;
        if let Some(migration) = self.config.migrations.get(domain)
            && !report.resolver_stopped
        {
            let request = crate::migrate::Request {
                to: Some(migration.to.clone()),
                from: migration.from.clone(),
                tenant: migration.tenant.clone(),
                verify: true,
                hybrid: migration.hybrid.clone(),
                smtp: None,
            };
            // The profiles were checked at start: an error here cannot happen.
            report.migration = crate::migrate::run(dns, domain, &self.profiles, &request)
                .await
                .ok()
                .and_then(|migrated| migrated.plan);
        }
        report
    }

    /// Probes one SMTP server on its port, its TLS mode the port's default, as `mailaudit smtp`
    /// does ([`audit::audit_smtp`]); the report is named `HOST:PORT`.
    async fn probe_smtp(&self, dns: &Dns, server: &SmtpTarget) -> TargetReport {
        let ports = [(
            server.port,
            smtp::TlsMode::default_for(server.port),
            self.probe.clone(),
        )];
        audit::audit_smtp(dns, &server.to_string(), &server.host, &ports).await
    }
}

/// Counts the stop signals received: Ctrl-C (SIGINT) and SIGTERM (what systemd and `kill`
/// send), each one sent on `count` as the number so far. The listeners are installed once
/// and kept, so that no signal between two is missed.
async fn count_stop_signals(count: tokio::sync::watch::Sender<u32>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            crate::warn_line!("mailaudit: cannot listen for Ctrl-C and SIGTERM");
            return;
        };
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            count.send_modify(|n| *n += 1);
        }
    }
    #[cfg(not(unix))]
    {
        while tokio::signal::ctrl_c().await.is_ok() {
            count.send_modify(|n| *n += 1);
        }
    }
}

/// Where the output goes, and whether it may be coloured.
struct Out {
    writer: Box<dyn Write>,
    path: Option<PathBuf>,
    color: bool,
}

impl Out {
    fn open(output: &OutputArgs) -> anyhow::Result<Out> {
        if let Some(path) = output.file() {
            return Ok(Out {
                writer: Box::new(BufWriter::new(LazyFile::new(path)?)),
                path: Some(path.to_owned()),
                color: false,
            });
        }
        let stdout = io::stdout();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ok(Out {
            color: stdout.is_terminal() && !no_color,
            writer: Box::new(BufWriter::new(stdout)),
            path: None,
        })
    }

    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("cannot write '{}'", path.display()),
            None => "cannot write to standard output".to_owned(),
        }
    }
}

/// A reader that stopped reading (`| head`) is not a failure of the run.
fn ignore_broken_pipe(error: io::Error) -> io::Result<()> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_targets_are_normalised_like_the_monitor_stores_them() {
        assert_eq!(normalize_target("Example.COM.").unwrap(), "example.com");
        assert_eq!(normalize_target("::ffff:192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!(normalize_target("2001:DB8::1").unwrap(), "2001:db8::1");
        assert!(normalize_target("not a target").is_err());
        // SMTP servers, as the monitor names them.
        assert_eq!(
            normalize_target("Mail.Example.COM:587").unwrap(),
            "mail.example.com:587"
        );
        assert_eq!(
            normalize_target("[2001:DB8::25]:25").unwrap(),
            "[2001:db8::25]:25"
        );
        assert_eq!(
            normalize_target("127.0.0.1:2525").unwrap(),
            "127.0.0.1:2525"
        );
        let error = normalize_target("mail.example.com:0")
            .unwrap_err()
            .to_string();
        assert!(error.contains("HOST:PORT"), "{error}");
    }

    #[test]
    fn errors_are_one_line_without_the_sql_sqlite_quotes() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE runs (x)").unwrap();
        let error = conn
            .execute_batch("CREATE TABLE runs (\n  id INTEGER\n);")
            .unwrap_err();
        let error = one_line(&anyhow::Error::new(error).context("cannot open 'h.db'")).to_string();
        assert!(
            error.starts_with("cannot open 'h.db': table runs already exists"),
            "{error}"
        );
        assert!(
            !error.contains('\n') && !error.contains("CREATE"),
            "{error}"
        );
        let error = one_line(&anyhow::anyhow!("two\nlines")).to_string();
        assert_eq!(error, "two lines");
    }
}
