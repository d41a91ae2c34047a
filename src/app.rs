//! Runs a parsed command line: reads and checks the input, runs the audits, hands the reports
//! to the chosen reporter, and says which exit status the run earned (cli.md).

use std::fs::File;
use std::future::Future;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;

use crate::audit::{self, AuditOptions, Blocklists};
use crate::bimi;
use crate::bulk_list::BulkList;
use crate::cli::{
    AuditArgs, CatalogArgs, Cli, Command, CommonArgs, DnsArgs, FailOn, Format, IpArgs, MessageArgs,
    MigrateArgs, MigrateFormat, OutputArgs, ReportArgs, ReportsArgs, ReportsFormat, SmtpArgs,
};
use crate::dns::{Dns, DnsConfig};
use crate::dnsbl::{self, Catalog};
use crate::files::{self, Named};
use crate::finding::Severity;
use crate::https::HttpsOptions;
use crate::input::{self, InputError};
use crate::progress::Progress;
use crate::report::stream::{self, ReportSink};
use crate::report::{TargetReport, json, markdown, table};
use crate::smtp::{self, TlsMode};

/// Exit status 1: the audit ran and found something at or above `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// Exit status after Ctrl-C (128 + SIGINT), as shells report it.
const EXIT_INTERRUPTED: u8 = 130;
/// Exit status when the reader of the output went away (128 + SIGPIPE), as shells report it.
const EXIT_PIPE_CLOSED: u8 = 141;
/// Where `smtp --user` reads the password.
const SMTP_PASSWORD_VARIABLE: &str = "MAILAUDIT_SMTP_PASSWORD";
/// More targets than this (or a `--file`) make a bulk run: the table shows one summary row a
/// target instead of every area.
const BULK_THRESHOLD: usize = 10;

/// Runs the command; an `Err` means it could not run (exit status 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Audit(args) => run_audit(&args),
        Command::Ip(args) => run_ip(&args),
        Command::Monitor(args) => crate::monitor::run(&args),
        Command::History(args) => crate::monitor::history(&args),
        Command::Smtp(args) => run_smtp(&args),
        Command::Message(args) => run_message(&args),
        Command::Reports(args) => run_reports(&args),
        Command::Migrate(args) => run_migrate(&args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "mailaudit", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let inputs: Vec<Named> = [
        args.file
            .as_deref()
            .map(|path| Named::input("--file", path)),
        args.ca_file
            .as_deref()
            .map(|path| Named::input("--ca-file", path)),
    ]
    .into_iter()
    .flatten()
    .collect();
    check_paths(&args.common.report.output, Some(&args.catalog), &inputs)?;
    let progress = Progress::new();
    let note = |line: &str| progress.note(line);
    let AuditTargets {
        listed,
        head,
        list,
        total,
    } = audit_targets(args, &note)?;
    let sender = audit_sender(args, &listed)?;
    let domains = listed.into_iter().chain(head).chain(std::iter::from_fn(|| {
        list.as_ref()
            .and_then(|list| list.borrow_mut().next_domain(&note))
    }));
    // One trust for the run: the MTA-STS policy fetch, with --fetch-bimi the BIMI fetches and,
    // with --smtp, the MX probes.
    let trust = smtp::Trust::new(args.ca_file.as_deref())?;
    let step = Duration::from_secs_f64(args.common.dns.timeout);
    let https = HttpsOptions::new(&trust, step);
    let options = AuditOptions {
        sender,
        selectors: args
            .selectors
            .iter()
            .map(|s| input::parse_selector(s))
            .collect::<Result<_, _>>()?,
        ips: parse_ips(&args.ips)?,
        https: https.clone(),
        smtp: args.smtp.then(|| smtp::ProbeOptions {
            trust: trust.clone(),
            credentials: None,
            step,
        }),
        bimi: bimi::BimiOptions {
            selector: input::parse_selector(&args.bimi_selector)?,
            fetch: args.fetch_bimi.then_some(https),
        },
    };
    let bulk = args.file.is_some() || total.is_none_or(|total| total > BULK_THRESHOLD);
    let context = RunContext::prepare(&args.common, args.catalog.dnsbl.as_deref())?;
    let status = runtime()?.block_on(async {
        let (dns, blocklists, mut output) = context.start().await?;
        output.verbose = args.verbose;
        let shared = Arc::new((dns, blocklists, options));
        let audits = domains.map(|domain| {
            let shared = Arc::clone(&shared);
            let target = domain.clone();
            let audit = on_worker(async move {
                let (dns, blocklists, options) = &*shared;
                audit::audit_domain(dns, &domain, options, blocklists).await
            });
            (target, audit)
        });
        emit(audits, total, bulk, &args.common, &mut output, &progress).await
    })?;
    // The list's own problems come after the report, once each: a bad line was named when it
    // was met; the run then exits 2 (cli.md: an invalid domain).
    let Some(list) = list.map(std::cell::RefCell::into_inner) else {
        return Ok(status);
    };
    if let Some(line) = list.duplicates_note() {
        crate::warn_line!("mailaudit: {line}");
    }
    match list.into_error() {
        Some(error) if !is_stopped(status) => Err(error),
        _ => Ok(status),
    }
}

/// The run was stopped (Ctrl-C, the reader went away): its own status stands.
fn is_stopped(status: ExitCode) -> bool {
    status == ExitCode::from(EXIT_INTERRUPTED) || status == ExitCode::from(EXIT_PIPE_CLOSED)
}

/// The domains of an audit: those of the command line, then those of `--file`.
struct AuditTargets {
    /// The command line's, each once, in the order given.
    listed: Vec<String>,
    /// The first domains of standard input, read ahead.
    head: Vec<String>,
    /// The rest of `--file`, read as the audits consume it.
    list: Option<std::cell::RefCell<BulkList>>,
    /// How many domains in all, when known.
    total: Option<usize>,
}

/// Reads and checks the domains to audit; a bad line of `--file` goes to `note` (or, with
/// `--strict`, is the error). A regular file is checked whole first (see [`bulk_list`]);
/// standard input is read as the audits consume it, its first two domains ahead so that one
/// target is told from several.
///
/// [`bulk_list`]: crate::bulk_list
fn audit_targets(args: &AuditArgs, note: &dyn Fn(&str)) -> anyhow::Result<AuditTargets> {
    let mut listed: Vec<String> = Vec::new();
    for domain in &args.domains {
        let domain = input::normalize_domain(domain)?;
        if !listed.contains(&domain) {
            listed.push(domain);
        }
    }
    let mut head: Vec<String> = Vec::new();
    let mut file_count = Some(0);
    let mut list = None;
    if let Some(path) = &args.file {
        let mut opened = BulkList::open(path, args.strict, &listed)?;
        if input::is_stream(path) {
            head.extend(std::iter::from_fn(|| opened.next_domain(note)).take(2));
            if let Some(error) = opened.stopped.take() {
                return Err(error.into());
            }
            file_count = (head.len() < 2).then_some(head.len());
        } else {
            let checked = BulkList::check(path, args.strict, &listed)?;
            if checked.domains == 0
                && listed.is_empty()
                && let Some(error) = checked.first_error
            {
                return Err(error.into());
            }
            file_count = Some(checked.domains);
        }
        list = Some(opened);
    }
    let total = file_count.map(|count| count + listed.len());
    if total == Some(0) {
        return Err(list
            .and_then(BulkList::into_error)
            .unwrap_or_else(|| InputError::NoDomain.into()));
    }
    Ok(AuditTargets {
        listed,
        head,
        list: list.map(std::cell::RefCell::new),
        total,
    })
}

/// `audit --mail-from/--helo`: checked before anything is asked. A MAIL FROM address names the
/// domain SPF checks (RFC 7208 §2.4), so it must be at the one domain audited.
fn audit_sender(args: &AuditArgs, listed: &[String]) -> Result<audit::Sender, InputError> {
    let helo = args.helo.as_deref().map(input::parse_helo).transpose()?;
    let Some(raw) = &args.mail_from else {
        return Ok(audit::Sender {
            mail_from: None,
            helo,
        });
    };
    let mail_from = input::parse_mail_from(raw)?;
    match listed {
        [domain] if *domain == mail_from.domain => Ok(audit::Sender {
            mail_from: Some(mail_from.address),
            helo,
        }),
        [domain] => Err(InputError::MailFromDomain {
            address: mail_from.address,
            domain: domain.clone(),
        }),
        _ => Err(InputError::MailFromSeveral {
            address: mail_from.address,
        }),
    }
}

/// Runs an audit as a task of its own, so that the audits of a bulk run spread over every core
/// (parsing, scoring and rendering are CPU work); the returned future is its report.
fn on_worker(
    audit: impl Future<Output = TargetReport> + Send + 'static,
) -> impl Future<Output = TargetReport> {
    let task = tokio::spawn(audit);
    async move {
        match task.await {
            Ok(report) => report,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

fn run_ip(args: &IpArgs) -> anyhow::Result<ExitCode> {
    check_paths(&args.common.report.output, Some(&args.catalog), &[])?;
    if args.list_catalog {
        return write_catalog(&args.common.report);
    }
    let ips = parse_ips(&args.ips)?;
    let (domain, sender) = ip_sender(args)?;
    let format = args.common.report.format;
    if args.check_lists && format == Format::Html {
        anyhow::bail!("ip --check-lists has no HTML report: use --format table or json");
    }
    let context = RunContext::prepare(&args.common, args.catalog.dnsbl.as_deref())?;
    let progress = Progress::new();
    runtime()?.block_on(async {
        let (dns, blocklists, mut output) = context.start().await?;
        if args.check_lists {
            return write_health(&blocklists, format, &mut output);
        }
        let shared = Arc::new((dns, blocklists, domain, sender));
        let audits = ips.iter().map(|&address| {
            let shared = Arc::clone(&shared);
            let audit = on_worker(async move {
                let (dns, blocklists, domain, sender) = &*shared;
                audit::audit_ip(dns, address, domain.as_deref(), sender, blocklists).await
            });
            (address.to_string(), audit)
        });
        emit(
            audits,
            Some(ips.len()),
            ips.len() > BULK_THRESHOLD,
            &args.common,
            &mut output,
            &progress,
        )
        .await
    })
}

/// `ip --list-catalog`: the built-in blocklist catalog as its TOML file, comments and all, to
/// start a `--dnsbl` catalog of one's own. Nothing is asked.
fn write_catalog(report: &ReportArgs) -> anyhow::Result<ExitCode> {
    let mut output = Output::open(report)?;
    output
        .writer
        .write_all(dnsbl::catalog::BUILTIN_TOML.as_bytes())
        .and_then(|()| output.writer.flush())
        .or_else(ignore_broken_pipe)
        .context(output.describe())?;
    Ok(ExitCode::SUCCESS)
}

/// `ip --domain/--mail-from/--helo`: the domain whose SPF is evaluated (the `--mail-from`
/// domain, which `--domain` must then be, RFC 7208 §2.4) and who sends.
fn ip_sender(args: &IpArgs) -> Result<(Option<String>, audit::Sender), InputError> {
    let domain = args
        .domain
        .as_deref()
        .map(input::normalize_domain)
        .transpose()?;
    let helo = args.helo.as_deref().map(input::parse_helo).transpose()?;
    let Some(raw) = &args.mail_from else {
        return Ok((
            domain,
            audit::Sender {
                mail_from: None,
                helo,
            },
        ));
    };
    let mail_from = input::parse_mail_from(raw)?;
    if let Some(domain) = domain.filter(|d| *d != mail_from.domain) {
        return Err(InputError::MailFromDomain {
            address: mail_from.address,
            domain,
        });
    }
    Ok((
        Some(mail_from.domain),
        audit::Sender {
            mail_from: Some(mail_from.address),
            helo,
        },
    ))
}

/// `mailaudit smtp HOST`: one port, or every port of [`smtp::ALL_PORTS`], probed at once.
fn run_smtp(args: &SmtpArgs) -> anyhow::Result<ExitCode> {
    let ca_file = args
        .ca_file
        .as_deref()
        .map(|p| Named::input("--ca-file", p));
    check_paths(&args.common.report.output, None, ca_file.as_slice())?;
    let host = input::normalize_host(&args.host)?;
    let credentials = args
        .user
        .as_ref()
        .map(|user| smtp_credentials(user))
        .transpose()?;
    let trust = smtp::Trust::new(args.ca_file.as_deref())?;
    let ports: Vec<(u16, TlsMode)> = if args.all_ports {
        smtp::ALL_PORTS.to_vec()
    } else {
        vec![(
            args.port,
            args.tls.unwrap_or_else(|| TlsMode::default_for(args.port)),
        )]
    };
    let setup = DnsSetup::from_args(&args.common.dns, None)?;
    let mut output = Output::open(&args.common.report)?;
    let options = smtp::ProbeOptions {
        trust,
        credentials,
        step: Duration::from_secs_f64(args.common.dns.timeout),
    };
    let ports: Vec<(u16, TlsMode, smtp::ProbeOptions)> = ports
        .iter()
        .map(|&(port, mode)| {
            // AUTH only where clients submit mail.
            let mut options = options.clone();
            if args.all_ports && smtp::Role::for_port(port) == smtp::Role::Mx {
                options.credentials = None;
            }
            (port, mode, options)
        })
        .collect();
    // An address literal on a submission port asks no DNS at all: a broken resolver must not
    // stop it (port 25 asks the address's PTR).
    let asks_dns = host.parse::<std::net::IpAddr>().is_err()
        || ports
            .iter()
            .any(|(port, ..)| smtp::Role::for_port(*port) == smtp::Role::Mx);
    runtime()?.block_on(async {
        let dns = if asks_dns {
            setup.client().await?
        } else {
            setup.unchecked_client()?
        };
        let audit = audit::audit_smtp(&dns, &host, &host, &ports);
        emit(
            std::iter::once((host.clone(), audit)),
            Some(1),
            false,
            &args.common,
            &mut output,
            &Progress::new(),
        )
        .await
    })
}

/// `mailaudit message FILE|-`: the message is read and checked before any DNS is asked (a bad
/// file exits 2 naming it), then analysed with the keys and policies asked through
/// `--resolver`.
fn run_message(args: &MessageArgs) -> anyhow::Result<ExitCode> {
    let report_args = &args.common.report;
    check_paths(
        &report_args.output,
        None,
        &[Named::input("FILE", &args.file)],
    )?;
    if report_args.format == Format::Html {
        anyhow::bail!("message has no HTML report yet: use --format table, markdown or json");
    }
    let mail_from = match args.mail_from.as_deref().map(str::trim) {
        Some("<>") => Some(String::new()),
        Some(raw) => Some(input::parse_mail_from(raw)?.address),
        None => None,
    };
    let options = crate::message::MessageOptions {
        hops: args.hops.map(usize::from),
        ip: args.ip.as_deref().map(input::parse_ip).transpose()?,
        mail_from,
        helo: args.helo.as_deref().map(input::parse_helo).transpose()?,
    };
    let shown = args.file.display().to_string();
    let raw = crate::message::read(&args.file)?;
    let (raw, converted) = crate::message::wire_form(raw);
    crate::message::check(&shown, &raw)?;
    let setup = DnsSetup::from_args(&args.common.dns, None)?;
    let mut output = Output::open(report_args)?;
    let report = runtime()?.block_on(async {
        let dns = setup.client().await?;
        crate::message::analyse(&dns, &shown, &raw, converted, &options)
            .await
            .map_err(anyhow::Error::from)
    })?;
    let writer = &mut output.writer;
    match report_args.format {
        Format::Json => serde_json::to_writer_pretty(&mut *writer, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(writer)),
        Format::Jsonl => serde_json::to_writer(&mut *writer, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(writer)),
        Format::Markdown => crate::report::message::write_message(writer, &report, true),
        Format::Table | Format::Html => {
            crate::report::message::write_message(writer, &report, false)
        }
    }
    .and_then(|()| output.writer.flush())
    .or_else(ignore_broken_pipe)
    .context(output.describe())?;
    Ok(exit_status(report.fail_level(), report_args.fail_on.level))
}

/// `mailaudit migrate DOMAIN`: the profiles and the domain are checked before any DNS is asked;
/// exit status 1 when `--verify` finds a step without which delivery breaks not done.
fn run_migrate(args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let mut inputs = Vec::new();
    if let Some(path) = &args.profiles {
        inputs.push(Named::input("--profiles", path));
    }
    if let Some(path) = &args.ca_file {
        inputs.push(Named::input("--ca-file", path));
    }
    check_paths(&args.output, None, &inputs)?;
    let profiles = crate::migrate::Profiles::load(args.profiles.as_deref())?;
    for id in args.to.iter().chain(&args.from) {
        profiles.find(id)?;
    }
    if args.smtp
        && let Some(to) = &args.to
        && profiles.find(to)?.smart_host.is_none()
    {
        anyhow::bail!("--smtp: the profile '{to}' names no smart host (smart_host) to probe");
    }
    let domain = input::normalize_domain(&args.domain)?;
    let smtp = if args.smtp {
        Some(smtp::ProbeOptions {
            trust: smtp::Trust::new(args.ca_file.as_deref())?,
            credentials: None,
            step: Duration::from_secs_f64(args.dns.timeout),
        })
    } else {
        None
    };
    let request = crate::migrate::Request {
        to: args.to.clone(),
        from: args.from.clone(),
        tenant: args.tenant.clone(),
        verify: args.verify,
        hybrid: args
            .hybrid
            .as_deref()
            .map(input::normalize_host)
            .transpose()?,
        smtp,
    };
    let setup = DnsSetup::from_args(&args.dns, None)?;
    let report = runtime()?.block_on(async {
        let dns = setup.client().await?;
        crate::migrate::run(&dns, &domain, &profiles, &request)
            .await
            .map_err(anyhow::Error::from)
    })?;
    let mut output = Output::page(args.format == MigrateFormat::Html, &args.output)?;
    let dated_html = output.dated_html;
    let writer = &mut output.writer;
    match args.format {
        MigrateFormat::Html => {
            let now = std::time::SystemTime::now();
            if dated_html {
                crate::report::migrate_html::write_dated(&report, now)
                    .and_then(|path| writeln!(writer, "report written to {}", path.display()))
            } else {
                crate::report::migrate_html::write(writer, &report, now)
            }
        }
        MigrateFormat::Json => serde_json::to_writer_pretty(&mut *writer, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(writer)),
        MigrateFormat::Markdown => crate::migrate::render::write_markdown(writer, &report),
        MigrateFormat::Table => crate::migrate::render::write_table(writer, &report),
    }
    .and_then(|()| output.writer.flush())
    .or_else(ignore_broken_pipe)
    .context(output.describe())?;
    Ok(if report.delivery_at_risk() {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

/// `mailaudit reports PATH...`: every file read (a bad one named on standard error and
/// skipped), source IPs named through `--resolver` when given, the summary written; exit 2 at
/// the end when a file was skipped, as `audit --file` does for a bad line.
fn run_reports(args: &ReportsArgs) -> anyhow::Result<ExitCode> {
    let mut inputs: Vec<Named> = args
        .paths
        .iter()
        .map(|path| Named::input("PATH", path))
        .collect();
    inputs.retain(|named| named.path.is_file());
    if let Some(db) = &args.db {
        inputs.push(Named::output("--db", db));
    }
    check_paths(&args.output, None, &inputs)?;
    let dns = DnsArgs {
        resolvers: args.resolvers.clone(),
        timeout: args.timeout,
        concurrency: crate::dns::DEFAULT_CONCURRENCY,
        rate: None,
    };
    let setup = DnsSetup::from_args(&dns, None)?;
    let mut output = Output::page(args.format == ReportsFormat::Html, &args.output)?;
    let sources = crate::reports::read::sources(&args.paths);
    let collection = crate::reports::Collection::read(sources, &|skipped| {
        crate::warn_line!("mailaudit: {}: {}", skipped.file, skipped.error);
    });
    let ptr = if args.resolvers.is_empty() {
        std::collections::BTreeMap::new()
    } else {
        let ips = collection.source_ips();
        runtime()?.block_on(async {
            let dns = setup.client().await?;
            anyhow::Ok(ptr_names(&dns, ips).await)
        })?
    };
    if let Some(db) = &args.db {
        // Stored before anything is printed: a report that cannot be stored stops the run.
        let mut store = crate::monitor::store::Store::open(db)?;
        let (stored, new) =
            store.save_dmarc_reports(&collection.dmarc, std::time::SystemTime::now())?;
        crate::warn_line!(
            "mailaudit: {stored} of {} DMARC reports stored in '{}' (the others were stored before); {new} sources newly failing DMARC",
            collection.dmarc.len(),
            db.display()
        );
    }
    let skipped = collection.skipped.len();
    let summary = collection.summarise(&ptr);
    let color = output.color;
    match args.format {
        ReportsFormat::Table => {
            crate::report::reports_table::write(&mut output.writer, &summary, color)
        }
        ReportsFormat::Json => serde_json::to_writer_pretty(&mut output.writer, &summary)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(output.writer)),
        ReportsFormat::Csv => crate::report::reports_csv::write(&mut output.writer, &summary),
        ReportsFormat::Html => {
            let now = std::time::SystemTime::now();
            if output.dated_html {
                crate::report::reports_html::write_dated(&summary, now).and_then(|path| {
                    writeln!(output.writer, "report written to {}", path.display())
                })
            } else {
                crate::report::reports_html::write(&mut output.writer, &summary, now)
            }
        }
    }
    .and_then(|()| output.writer.flush())
    .or_else(ignore_broken_pipe)
    .context(output.describe())?;
    if skipped > 0 {
        anyhow::bail!(
            "{skipped} of {} files held no usable report (named above)",
            summary.files
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The most source IPs whose PTR record is asked: a large set of reports names thousands of
/// forgers' addresses, and the providers among them are recognised by SPF and DKIM too.
const MAX_PTR_LOOKUPS: usize = 2000;

/// The first PTR name of each IP (RFC 1035 §3.5), asked side by side; an IP without one, or
/// whose look-up failed, has none.
async fn ptr_names(
    dns: &crate::dns::Dns,
    ips: Vec<std::net::IpAddr>,
) -> std::collections::BTreeMap<std::net::IpAddr, String> {
    futures::stream::iter(ips.into_iter().take(MAX_PTR_LOOKUPS))
        .map(|ip| async move { (ip, dns.ptr(ip).await.records().first().cloned()) })
        .buffer_unordered(64)
        .filter_map(|(ip, name)| async move { name.map(|name| (ip, name)) })
        .collect()
        .await
}

/// `--user` and the password of `MAILAUDIT_SMTP_PASSWORD`: the only place a password is read,
/// never an argument (visible to every user of the machine in the process list).
fn smtp_credentials(user: &str) -> anyhow::Result<smtp::Credentials> {
    let password = match std::env::var(SMTP_PASSWORD_VARIABLE) {
        Ok(password) => password,
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!(
            "--user {user}: the password in {SMTP_PASSWORD_VARIABLE} is not UTF-8 text"
        ),
        Err(std::env::VarError::NotPresent) => String::new(),
    };
    if password.is_empty() {
        anyhow::bail!(
            "--user {user}: set the password in the environment variable {SMTP_PASSWORD_VARIABLE} \
             (it is never taken on the command line)"
        );
    }
    Ok(smtp::Credentials {
        user: user.to_owned(),
        password: smtp::Password::new(password),
    })
}

/// `ip --check-lists`: the health of every list; exit status 1 when one does not work.
fn write_health(
    blocklists: &Blocklists,
    format: Format,
    output: &mut Output,
) -> anyhow::Result<ExitCode> {
    match format {
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

/// Refuses an `--output` that is the same file as an input (`inputs`, `--dnsbl`): a report
/// written over its own list or catalog would destroy it.
pub(crate) fn check_paths(
    output: &OutputArgs,
    catalog: Option<&CatalogArgs>,
    inputs: &[Named<'_>],
) -> anyhow::Result<()> {
    let mut named = inputs.to_vec();
    if let Some(catalog) = catalog.and_then(|c| c.dnsbl.as_deref()) {
        named.push(Named::input("--dnsbl", catalog));
    }
    if let Some(output) = output.file() {
        named.push(Named::output("--output", output));
    }
    files::check_distinct(&named)?;
    Ok(())
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

/// How a run asks DNS, from the common options: the resolver, the limits, the blocklists.
/// Shared by every command that audits (`audit`, `ip`, `monitor`).
pub(crate) struct DnsSetup {
    config: DnsConfig,
    rate: Option<u32>,
    catalog: Catalog,
}

impl DnsSetup {
    /// Checks the options (resolver addresses, the `--dnsbl` catalog) before anything is asked.
    pub(crate) fn from_args(dns: &DnsArgs, dnsbl: Option<&Path>) -> anyhow::Result<DnsSetup> {
        let servers = dns
            .resolvers
            .iter()
            .map(|r| input::parse_resolver(r))
            .collect::<Result<Vec<_>, _>>()?;
        let config = DnsConfig {
            servers,
            timeout: Duration::from_secs_f64(dns.timeout),
            concurrency: usize::try_from(dns.concurrency).unwrap_or(usize::MAX),
        };
        let catalog = match dnsbl {
            Some(path) => Catalog::from_file(path)?,
            None => Catalog::builtin(),
        };
        Ok(DnsSetup {
            config,
            rate: dns.rate,
            catalog,
        })
    }

    /// Starts a DNS client, checks that every resolver answers (a dead one stops the run
    /// before anything is judged or stored), and checks the blocklists once (RFC 5782 §5).
    pub(crate) async fn start(&self) -> anyhow::Result<(Dns, Blocklists)> {
        let dns = self.client().await?;
        let blocklists = Blocklists::checked(&dns, self.catalog.clone()).await;
        Ok((dns, blocklists))
    }

    /// Starts a DNS client and checks that every resolver answers; no blocklist is asked.
    pub(crate) async fn client(&self) -> anyhow::Result<Dns> {
        let dns = self.unchecked_client()?;
        dns.check_resolvers().await?;
        Ok(dns)
    }

    /// A DNS client whose resolvers are not checked: for a run that may ask nothing.
    pub(crate) fn unchecked_client(&self) -> anyhow::Result<Dns> {
        let dns = Dns::new(&self.config)?;
        Ok(match self.rate {
            Some(qps) => dns.with_rate(qps),
            None => dns,
        })
    }
}

/// What `audit` and `ip` need before they can ask anything: checked arguments, the output
/// opened.
struct RunContext {
    setup: DnsSetup,
    output: Output,
}

impl RunContext {
    fn prepare(common: &CommonArgs, dnsbl: Option<&Path>) -> anyhow::Result<RunContext> {
        Ok(RunContext {
            setup: DnsSetup::from_args(&common.dns, dnsbl)?,
            output: Output::open(&common.report)?,
        })
    }

    async fn start(self) -> anyhow::Result<(Dns, Blocklists, Output)> {
        let (dns, blocklists) = self.setup.start().await?;
        Ok((dns, blocklists, self.output))
    }
}

/// Runs the audits (each a target's name and its report to come) side by side and writes each
/// report as it finishes, in the chosen format; returns the exit status they earned. Ctrl-C
/// stops the run and closes what was written so that it stays valid.
async fn emit<I, Fut>(
    audits: I,
    total: Option<usize>,
    bulk: bool,
    common: &CommonArgs,
    output: &mut Output,
    progress: &Progress,
) -> anyhow::Result<ExitCode>
where
    I: Iterator<Item = (String, Fut)>,
    Fut: Future<Output = TargetReport>,
{
    let report_args = &common.report;
    // Targets run side by side; the DNS layer bounds the queries in flight, so a few dozen
    // targets at once keep it busy without holding many unfinished reports.
    let parallel = usize::try_from(common.dns.concurrency)
        .unwrap_or(1)
        .div_ceil(8)
        .max(1);
    let mut sink = sink(report_args.format, total, bulk, output);
    let audits = futures::stream::iter(audits.map(|(target, audit)| {
        let underway = progress.begin(&target);
        async move {
            let report = audit.await;
            drop(underway);
            report
        }
    }));
    // jsonl is written in the order targets finish; the other formats keep the input order.
    let mut reports = if report_args.format == Format::Jsonl {
        audits.buffer_unordered(parallel).boxed_local()
    } else {
        audits.buffered(parallel).boxed_local()
    };
    progress.start(total);
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let mut worst: Option<Severity> = None;
    let mut interrupted = false;
    let mut written = 0usize;
    let mut incomplete: Vec<String> = Vec::new();
    let mut resolver_stopped: Option<String> = None;
    let reader_left = stdout_reader_left(output.path.is_none());
    tokio::pin!(reader_left);
    while resolver_stopped.is_none() {
        let report = tokio::select! {
            report = reports.next() => report,
            _ = &mut interrupt => {
                interrupted = true;
                None
            }
            () = &mut reader_left => {
                progress.finish();
                return Ok(ExitCode::from(EXIT_PIPE_CLOSED));
            }
        };
        let Some(report) = report else { break };
        worst = worst.max(report.fail_level());
        if report.incomplete {
            incomplete.push(report.target.clone());
        }
        if report.resolver_stopped {
            resolver_stopped = Some(report.resolvers.join(", "));
        }
        if let Err(error) = sink.report(&mut output.writer, report) {
            progress.finish();
            return reader_gone(error).context(output.describe());
        }
        written += 1;
        progress.advance();
    }
    progress.finish();
    if let Err(error) = sink
        .finish(&mut output.writer)
        .and_then(|()| output.writer.flush())
    {
        return reader_gone(error).context(output.describe());
    }
    if let Some(servers) = resolver_stopped {
        // What was written is valid and says what it could not see; the rest is not guessed.
        let of_total = total
            .map(|total| format!(" of {total}"))
            .unwrap_or_default();
        anyhow::bail!(
            "the resolver ({servers}) stopped answering: the run stopped after {written}{of_total} \
             targets; incomplete reports: {}",
            incomplete.join(", ")
        );
    }
    if interrupted {
        let of_total = total
            .map(|total| format!(" of {total}"))
            .unwrap_or_default();
        crate::warn_line!(
            "mailaudit: interrupted after {written}{of_total} targets; what was written is complete"
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(exit_status(worst, report_args.fail_on.level))
}

/// `--format html`: to `--output`, or to a new dated file under `reports/` whose path is printed
/// on standard output.
fn write_html(out: &mut dyn Write, reports: &[TargetReport], dated: bool) -> io::Result<()> {
    let now = std::time::SystemTime::now();
    if !dated {
        return crate::report::html::write_html(out, reports, now);
    }
    let path = crate::report::html::write_dated(reports, now)?;
    writeln!(out, "report written to {}", path.display())
}

/// The reader of the output went away (`| head -1`): the run ends at once, as a tool killed by
/// SIGPIPE does (its status, 128 + 13, is what `set -o pipefail` scripts expect); what was
/// written is whole. Any other write error is one.
fn reader_gone(error: io::Error) -> io::Result<ExitCode> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::from(EXIT_PIPE_CLOSED))
    } else {
        Err(error)
    }
}

/// Resolves once standard output is a pipe whose reader went away (`| head -1`: the kernel
/// reports an error on the pipe's write end), so that the run ends then, as it would at its next
/// write, even when that write is minutes away (slow targets); what was written is whole.
/// Never resolves for `--output` (`watch` false) or an output that cannot be watched (a file).
async fn stdout_reader_left(watch: bool) {
    #[cfg(unix)]
    if watch {
        use tokio::io::Interest;
        use tokio::io::unix::AsyncFd;
        // Deprecated because a registered descriptor could be closed and reused while
        // registered; standard output (descriptor 1) stays open for the life of the process, and
        // the registration ends with this future. A file cannot be registered: an error, so
        // nothing is watched.
        #[allow(deprecated)]
        let registered = AsyncFd::with_interest(io::stdout(), Interest::ERROR);
        if let Ok(stdout) = registered
            && stdout.ready(Interest::ERROR).await.is_ok()
        {
            return;
        }
    }
    let _ = watch;
    std::future::pending::<()>().await;
}

/// Where the reports of a run go, in `format`.
fn sink(format: Format, total: Option<usize>, bulk: bool, output: &Output) -> Box<dyn ReportSink> {
    let color = output.color;
    let options = table::Options {
        color,
        verbose: output.verbose,
    };
    match format {
        Format::Jsonl => Box::new(stream::JsonLines),
        Format::Json => Box::new(stream::JsonDocument::new(total)),
        Format::Table if bulk => Box::new(stream::BulkTable::new(color)),
        Format::Table => Box::new(stream::Collected::new(
            move |out: &mut dyn Write, reports: &[TargetReport]| {
                table::write_tables(out, reports, options)
            },
        )),
        Format::Markdown => Box::new(stream::Collected::new(markdown::write_markdown)),
        Format::Html => {
            let dated = output.dated_html;
            Box::new(stream::Collected::new(
                move |out: &mut dyn Write, reports: &[TargetReport]| {
                    write_html(out, reports, dated)
                },
            ))
        }
    }
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

/// The `--output` file, created (or truncated) only when the first byte is written: a run
/// that stops before it has a report (a resolver that does not work) leaves a previous report
/// there as it was. A missing directory is still refused before anything is asked.
pub(crate) struct LazyFile {
    path: PathBuf,
    file: Option<File>,
}

impl LazyFile {
    pub(crate) fn new(path: &Path) -> anyhow::Result<LazyFile> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            anyhow::bail!(
                "cannot write '{}': the directory '{}' does not exist",
                path.display(),
                dir.display()
            );
        }
        Ok(LazyFile {
            path: path.to_owned(),
            file: None,
        })
    }

    /// Opens the file: created, or truncated if it is a regular file; a pipe or a device the
    /// user named is written to as it is. A symbolic link at the path is never followed
    /// (`O_NOFOLLOW`): one planted where a scheduled run writes would turn the report into a
    /// write over its target.
    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.custom_flags(libc::O_NOFOLLOW);
            }
            let file = options.open(&self.path).map_err(|error| {
                let is_link = std::fs::symlink_metadata(&self.path)
                    .is_ok_and(|meta| meta.file_type().is_symlink());
                if is_link {
                    io::Error::other("it is a symbolic link: name the file it points to")
                } else {
                    error
                }
            })?;
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }
}

impl Write for LazyFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.file()?.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Where the report goes, and whether it may be coloured.
pub(crate) struct Output {
    writer: Box<dyn Write>,
    path: Option<String>,
    color: bool,
    /// `--format html` without `--output`: the page goes to a dated file under `reports/`.
    dated_html: bool,
    /// `audit --verbose`: every requirement in full.
    verbose: bool,
}

impl Output {
    fn open(report: &ReportArgs) -> anyhow::Result<Output> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if let Some(path) = report.output.file() {
            return Ok(Output {
                writer: Box::new(BufWriter::new(LazyFile::new(path)?)),
                path: Some(path.display().to_string()),
                color: false,
                dated_html: false,
                verbose: false,
            });
        }
        let stdout = io::stdout();
        let color = stdout.is_terminal() && !no_color;
        Ok(Output {
            writer: Box::new(BufWriter::new(stdout.lock())),
            path: None,
            color,
            dated_html: report.format == Format::Html && report.output.path.is_none(),
            verbose: false,
        })
    }

    /// The output of a command that writes one page (`migrate`, `reports`): an HTML page goes
    /// to a new dated file without `--output`, as the domain report does; any other format to
    /// standard output.
    fn page(html: bool, output: &OutputArgs) -> anyhow::Result<Output> {
        Output::open(&ReportArgs {
            format: if html { Format::Html } else { Format::Table },
            output: OutputArgs {
                path: output.path.clone(),
            },
            fail_on: crate::cli::FailOnArgs {
                level: FailOn::Never,
            },
        })
    }

    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("cannot write '{path}'"),
            None if self.dated_html => format!(
                "cannot write the HTML report under '{}/'",
                crate::report::html::REPORTS_DIR
            ),
            None => "cannot write to standard output".to_owned(),
        }
    }
}
