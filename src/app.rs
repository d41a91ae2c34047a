//! Runs a parsed command line: reads and checks the input, runs the audits, hands the reports
//! to the chosen reporter, and says which exit status the run earned (cli.md).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;

use crate::audit::{self, AuditOptions};
use crate::cli::{AuditArgs, Cli, Command, CommonArgs, FailOn, Format};
use crate::dns::{Dns, DnsConfig};
use crate::input::{self, InputError};
use crate::report::{TargetReport, json, table};

/// Exit status 1: the audit ran and found something at or above `--fail-on`.
const EXIT_FINDINGS: u8 = 1;

/// Runs the command; an `Err` means it could not run (exit status 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Audit(args) => run_audit(&args),
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
    let dns_config = dns_config(&args.common, args.concurrency)?;
    let options = AuditOptions {
        selectors: args.selectors.clone(),
    };
    let mut output = Output::open(&args.common)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let reports = runtime.block_on(async {
        let dns = Dns::new(&dns_config)?;
        let audits = futures::stream::iter(domains.iter())
            .map(|domain| audit::audit_domain(&dns, domain, &options));
        // Domains run side by side; the DNS layer bounds the queries in flight.
        let parallel = usize::try_from(args.concurrency)
            .unwrap_or(1)
            .div_ceil(16)
            .max(1);
        let mut reports = Vec::new();
        if args.common.format == Format::Jsonl {
            let mut stream = audits.buffer_unordered(parallel);
            while let Some(report) = stream.next().await {
                json::write_jsonl_line(&mut output.writer, &report).context(output.describe())?;
                reports.push(Summary::of(&report));
            }
            return Ok::<_, anyhow::Error>((reports, Vec::new()));
        }
        let full: Vec<TargetReport> = audits.buffered(parallel).collect().await;
        reports.extend(full.iter().map(Summary::of));
        Ok((reports, full))
    })?;
    let (summaries, full) = reports;
    match args.common.format {
        Format::Json => json::write_json(&mut output.writer, &full),
        Format::Table => table::write_tables(&mut output.writer, &full, output.color),
        Format::Jsonl => Ok(()),
    }
    .and_then(|()| output.writer.flush())
    .context(output.describe())?;
    Ok(exit_status(&summaries, args.common.fail_on))
}

/// What the exit status needs of a report, so that streamed reports need not be kept.
struct Summary {
    worst: Option<crate::finding::Severity>,
}

impl Summary {
    fn of(report: &TargetReport) -> Summary {
        Summary {
            worst: report.worst(),
        }
    }
}

fn exit_status(summaries: &[Summary], fail_on: FailOn) -> ExitCode {
    let failed = fail_on.threshold().is_some_and(|threshold| {
        summaries
            .iter()
            .any(|s| s.worst.is_some_and(|w| w >= threshold))
    });
    if failed {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

fn dns_config(common: &CommonArgs, concurrency: u32) -> Result<DnsConfig, InputError> {
    let servers = common
        .resolvers
        .iter()
        .map(|r| input::parse_resolver(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DnsConfig {
        servers,
        timeout: Duration::from_secs_f64(common.timeout),
        concurrency: usize::try_from(concurrency).unwrap_or(usize::MAX),
    })
}

/// Where the report goes, and whether it may be coloured.
struct Output {
    writer: Box<dyn Write>,
    path: Option<String>,
    color: bool,
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
            });
        }
        let stdout = io::stdout();
        let color = stdout.is_terminal() && !no_color;
        Ok(Output {
            writer: Box::new(BufWriter::new(stdout.lock())),
            path: None,
            color,
        })
    }

    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("cannot write '{path}'"),
            None => "cannot write to standard output".to_owned(),
        }
    }
}
