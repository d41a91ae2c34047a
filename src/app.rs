//! Runs a parsed command line: reads and checks the input, runs the audits, hands the reports
//! to the chosen reporter, and says which exit status the run earned (cli.md).

use std::fs::File;
use std::future::Future;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;

use crate::audit::{self, AuditOptions, Blocklists};
use crate::cli::{AuditArgs, Cli, Command, CommonArgs, FailOn, Format, IpArgs};
use crate::dns::{Dns, DnsConfig};
use crate::dnsbl::{self, Catalog};
use crate::finding::Severity;
use crate::input::{self, InputError};
use crate::report::{TargetReport, json, markdown, table};

/// Exit status 1: the audit ran and found something at or above `--fail-on`.
const EXIT_FINDINGS: u8 = 1;

/// Runs the command; an `Err` means it could not run (exit status 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Audit(args) => run_audit(&args),
        Command::Ip(args) => run_ip(&args),
        Command::Monitor(args) => crate::monitor::run(&args),
        Command::History(args) => crate::monitor::history(&args),
    }
}

fn run_audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let mut raw_domains = args.domains.clone();
    if let Some(path) = &args.file {
        raw_domains.extend(input::read_domain_lines(path)?);
    }
    if raw_domains.is_empty() {
        return Err(InputError::NoDomain.into());
    }
    let domains = raw_domains
        .iter()
        .map(|d| input::normalize_domain(d))
        .collect::<Result<Vec<_>, _>>()?;
    let options = AuditOptions {
        selectors: args.selectors.clone(),
        ips: parse_ips(&args.ips)?,
    };
    let context = RunContext::prepare(&args.common)?;
    runtime()?.block_on(async {
        let (dns, blocklists, mut output) = context.start().await?;
        let audits = domains
            .iter()
            .map(|domain| audit::audit_domain(&dns, domain, &options, &blocklists));
        emit(audits, &args.common, &mut output).await
    })
}

fn run_ip(args: &IpArgs) -> anyhow::Result<ExitCode> {
    let ips = parse_ips(&args.ips)?;
    let context = RunContext::prepare(&args.common)?;
    runtime()?.block_on(async {
        let (dns, blocklists, mut output) = context.start().await?;
        if args.check_lists {
            if args.common.format == Format::Html {
                anyhow::bail!("ip --check-lists has no HTML report: use --format table or json");
            }
            return write_health(&blocklists, &args.common, &mut output);
        }
        let audits = ips
            .iter()
            .map(|&address| audit::audit_ip(&dns, address, &blocklists));
        emit(audits, &args.common, &mut output).await
    })
}

/// `ip --check-lists`: the health of every list; exit status 1 when one does not work.
fn write_health(
    blocklists: &Blocklists,
    common: &CommonArgs,
    output: &mut Output,
) -> anyhow::Result<ExitCode> {
    match common.format {
        Format::Json | Format::Jsonl => json::write_health(&mut output.writer, &blocklists.health),
        Format::Table | Format::Markdown => {
            table::write_health(&mut output.writer, &blocklists.health, output.color)
        }
        // Refused before the run (see `run_ip`).
        Format::Html => Err(io::Error::other("ip --check-lists has no HTML report")),
    }
    .and_then(|()| output.writer.flush())
    .or_else(ignore_broken_pipe)
    .context(output.describe())?;
    let all_work = blocklists.health.iter().all(dnsbl::ListHealth::works);
    Ok(if all_work {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn parse_ips(raw: &[String]) -> Result<Vec<std::net::IpAddr>, InputError> {
    raw.iter().map(|ip| input::parse_ip(ip)).collect()
}

/// What every command needs before it can ask anything: checked arguments, the blocklist
/// catalog, the output opened.
struct RunContext {
    dns_config: DnsConfig,
    catalog: Catalog,
    output: Output,
}

impl RunContext {
    fn prepare(common: &CommonArgs) -> anyhow::Result<RunContext> {
        let servers = common
            .resolvers
            .iter()
            .map(|r| input::parse_resolver(r))
            .collect::<Result<Vec<_>, _>>()?;
        let dns_config = DnsConfig {
            servers,
            timeout: Duration::from_secs_f64(common.timeout),
            concurrency: usize::try_from(common.concurrency).unwrap_or(usize::MAX),
        };
        let catalog = match &common.dnsbl {
            Some(path) => Catalog::from_file(path)?,
            None => Catalog::builtin(),
        };
        Ok(RunContext {
            dns_config,
            catalog,
            output: Output::open(common)?,
        })
    }

    /// Starts the DNS client and checks the blocklists once (RFC 5782 §5).
    async fn start(self) -> anyhow::Result<(Dns, Blocklists, Output)> {
        let dns = Dns::new(&self.dns_config)?;
        let blocklists = Blocklists::checked(&dns, self.catalog).await;
        Ok((dns, blocklists, self.output))
    }
}

/// Runs the audits side by side and writes their reports in the chosen format; returns the
/// exit status they earned.
async fn emit<I, Fut>(
    audits: I,
    common: &CommonArgs,
    output: &mut Output,
) -> anyhow::Result<ExitCode>
where
    I: Iterator<Item = Fut>,
    Fut: Future<Output = TargetReport>,
{
    // Targets run side by side; the DNS layer bounds the queries in flight.
    let parallel = usize::try_from(common.concurrency)
        .unwrap_or(1)
        .div_ceil(16)
        .max(1);
    let audits = futures::stream::iter(audits);
    let mut worst: Option<Severity> = None;
    if common.format == Format::Jsonl {
        let mut stream = audits.buffer_unordered(parallel);
        while let Some(report) = stream.next().await {
            worst = worst.max(report.worst());
            json::write_jsonl_line(&mut output.writer, &report)
                .or_else(ignore_broken_pipe)
                .context(output.describe())?;
        }
    } else {
        let reports: Vec<TargetReport> = audits.buffered(parallel).collect().await;
        worst = reports.iter().filter_map(TargetReport::worst).max();
        match common.format {
            Format::Json => json::write_json(&mut output.writer, &reports),
            Format::Markdown => markdown::write_markdown(&mut output.writer, &reports),
            Format::Html => write_html(&reports, output),
            _ => table::write_tables(&mut output.writer, &reports, output.color),
        }
        .and_then(|()| output.writer.flush())
        .or_else(ignore_broken_pipe)
        .context(output.describe())?;
    }
    Ok(exit_status(worst, common.fail_on))
}

/// `--format html`: to `--output`, or to a new dated file under `reports/` whose path is printed
/// on standard output.
fn write_html(reports: &[TargetReport], output: &mut Output) -> io::Result<()> {
    let now = std::time::SystemTime::now();
    if !output.dated_html {
        return crate::report::html::write_html(&mut output.writer, reports, now);
    }
    output.path = Some(crate::report::html::REPORTS_DIR.to_owned());
    let path = crate::report::html::write_dated(reports, now)?;
    println!("report written to {}", path.display());
    Ok(())
}

/// A reader that stopped reading (`| head`) is not an error of the audit.
fn ignore_broken_pipe(error: io::Error) -> io::Result<()> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(error)
    }
}

fn exit_status(worst: Option<Severity>, fail_on: FailOn) -> ExitCode {
    let failed = fail_on
        .threshold()
        .is_some_and(|threshold| worst.is_some_and(|w| w >= threshold));
    if failed {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Where the report goes, and whether it may be coloured.
pub(crate) struct Output {
    writer: Box<dyn Write>,
    path: Option<String>,
    color: bool,
    /// `--format html` without `--output`: the page goes to a dated file under `reports/`.
    dated_html: bool,
}

impl Output {
    fn open(common: &CommonArgs) -> anyhow::Result<Output> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if let Some(path) = &common.output {
            let file =
                File::create(path).with_context(|| format!("cannot write '{}'", path.display()))?;
            return Ok(Output {
                writer: Box::new(BufWriter::new(file)),
                path: Some(path.display().to_string()),
                color: false,
                dated_html: false,
            });
        }
        let stdout = io::stdout();
        let color = stdout.is_terminal() && !no_color;
        Ok(Output {
            writer: Box::new(BufWriter::new(stdout.lock())),
            path: None,
            color,
            dated_html: common.format == Format::Html,
        })
    }

    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("cannot write '{path}'"),
            None => "cannot write to standard output".to_owned(),
        }
    }
}
