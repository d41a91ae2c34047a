//! The command line of `cli.md`, as clap types. Parsing only: [`crate::app`] runs it.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::finding::Severity;

/// Email deliverability auditor: checks what a domain publishes in DNS (SPF, DKIM, DMARC, MX)
/// against the RFCs and what mailbox providers require, and says exactly what to fix.
#[derive(Debug, Parser)]
#[command(
    name = "mailaudit",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit status: 0 no finding at or above --fail-on, 1 at least one (an incomplete audit counts as an error), 2 could not run (bad input, a resolver that does not work or stopped answering), 130 stopped by Ctrl-C, 141 the reader of the output went away."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Full audit of one or more domains: SPF, DMARC, DKIM, MX and domain blocklists; with
    /// --ip, the domain's sending IPs too.
    Audit(AuditArgs),
    /// Reputation of sending IPs (IPv4 and IPv6): DNS blocklists, PTR, forward-confirmed
    /// reverse DNS.
    Ip(IpArgs),
    /// Probe a mail server as a mail client or an MTA would: connection, greeting, EHLO
    /// extensions, STARTTLS or implicit TLS and the certificate, AUTH with --user; every failure
    /// explained. No mail is ever sent.
    Smtp(SmtpArgs),
    /// Analyse one received message (an .eml file, or headers and body pasted on standard input
    /// with '-'): each DKIM signature and the ARC chain verified, SPF for the hop that delivered
    /// it, DMARC for its From domain, the receiver's Authentication-Results beside these, and
    /// the sender requirements the message shows met or not.
    Message(MessageArgs),
    /// Audit the domains, sending IPs and CIDR ranges of a monitor.toml, store each run in a
    /// history database, report what changed since the previous run (new listing, delisting,
    /// record added, removed or changed, grade change) and alert: exit status, --webhook,
    /// --metrics (Prometheus textfile).
    Monitor(crate::monitor::args::MonitorArgs),
    /// The stored timeline of a domain or an IP: each monitor run with its grade, score,
    /// listings and what changed.
    History(crate::monitor::args::HistoryArgs),
    /// Read DMARC aggregate reports (XML, .xml.gz, .zip, or the email they came in, one or an
    /// mbox) and TLS-RPT reports (JSON, .json.gz, email): who sends as the domain, what passes,
    /// whether p=reject would stop legitimate mail and what to publish first.
    Reports(ReportsArgs),
    /// Plan and check a move of the domain's mail between providers: which providers it uses
    /// today (with the records that show it), and with --to the ordered steps (verify the
    /// domain, DKIM, SPF include, MX TTL, MX switch, old include, DMARC) as zone-file lines;
    /// with --verify each step done, not done or unknown.
    Migrate(MigrateArgs),
    /// Print a shell completion script (e.g. `mailaudit completions bash > /etc/bash_completion.d/mailaudit`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches, each a flag
pub struct AuditArgs {
    /// Domains to audit (IDN allowed: bücher.example becomes xn--bcher-kva.example).
    #[arg(value_name = "DOMAIN")]
    pub domains: Vec<String>,

    /// Read domains from this file, one a line, '#' comments; '-' is standard input. Each
    /// domain is audited once (`GOOD.EXAMPLE.` and `good.example` are one); a line that is not a
    /// domain is named with its line number and skipped (see --strict).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// A sending IP of the domain (repeatable): SPF evaluation for it, PTR and forward-confirmed
    /// reverse DNS, blocklists.
    #[arg(long = "ip", value_name = "IP")]
    pub ips: Vec<String>,

    /// With --ip: the envelope sender (MAIL FROM) SPF evaluates for each IP, for the macros
    /// %{s}, %{l} and %{o}; an address at the one domain audited (default: postmaster@DOMAIN).
    #[arg(long, value_name = "ADDR", requires = "ips", conflicts_with = "file")]
    pub mail_from: Option<String>,

    /// With --ip: the HELO/EHLO name the IPs send, for the macro %{h}; SPF also checks this
    /// name's own policy for each IP (RFC 7208 §2.3).
    #[arg(long, value_name = "NAME", requires = "ips")]
    pub helo: Option<String>,

    /// A DKIM selector to check in addition to the built-in ones (repeatable).
    #[arg(long = "selector", value_name = "NAME")]
    pub selectors: Vec<String>,

    /// Also connect to each MX host on port 25: STARTTLS, its certificate, the greeting
    /// against the PTR name. Without it an audit asks DNS only and opens no connection.
    #[arg(long)]
    pub smtp: bool,

    /// Trust the CA certificates of this PEM file beside the web PKI roots (a private CA): for
    /// the MTA-STS policy host and the BIMI fetches (HTTPS) and, with --smtp, the MX hosts.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// The BIMI selector to check (the one a message's BIMI-Selector header names).
    #[arg(long, value_name = "NAME", default_value = crate::bimi::DEFAULT_SELECTOR)]
    pub bimi_selector: String,

    /// Also fetch the BIMI logo and mark certificate over HTTPS (hosts resolved through
    /// --resolver, no redirect followed, the logo capped at 32 KB): the SVG Tiny PS profile, the
    /// certificate's dates, names and logotype. Without it nothing is fetched.
    #[arg(long)]
    pub fetch_bimi: bool,

    /// With --file: stop at the first line that is not a domain (exit status 2). Without it,
    /// such a line is named (file and line number), skipped, and the run exits 2 at the end.
    #[arg(long, requires = "file")]
    pub strict: bool,

    /// Show every mailbox-provider requirement in full (by default one line per provider).
    #[arg(long, short)]
    pub verbose: bool,

    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub catalog: CatalogArgs,
}

#[derive(Debug, Args)]
pub struct IpArgs {
    /// Sending IPs to check (IPv4 or IPv6).
    #[arg(value_name = "IP", required_unless_present_any = ["check_lists", "list_catalog"])]
    pub ips: Vec<String>,

    /// Also evaluate this domain's SPF policy for each IP (RFC 7208 §4), with
    /// postmaster@DOMAIN as the sender unless --mail-from is given.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,

    /// The envelope sender (MAIL FROM): SPF evaluates the policy of its domain for each IP,
    /// with it for the macros %{s}, %{l} and %{o} (RFC 7208 §2.4, §7.2). With --domain, an
    /// address at that domain.
    #[arg(long, value_name = "ADDR")]
    pub mail_from: Option<String>,

    /// The HELO/EHLO name the IPs send: SPF checks this name's own policy for each IP (RFC 7208
    /// §2.3), and the MAIL FROM check expands %{h} to it.
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,

    /// RFC 5782 health check of every configured blocklist instead: which lists work, which
    /// refuse this resolver, which list everything. Exit status 1 when one does not work.
    #[arg(long, conflicts_with_all = ["ips", "domain", "mail_from", "helo"])]
    pub check_lists: bool,

    /// Print the built-in blocklist catalog as TOML and exit: a start for a catalog of your
    /// own (`mailaudit ip --list-catalog > lists.toml`, edit, then `--dnsbl lists.toml`).
    /// Asks nothing.
    #[arg(long, conflicts_with_all = ["ips", "domain", "mail_from", "helo", "check_lists"])]
    pub list_catalog: bool,

    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub catalog: CatalogArgs,
}

#[derive(Debug, Args)]
pub struct SmtpArgs {
    /// The server: a host name (its A and AAAA records are asked through --resolver, every
    /// address tried) or an IP address.
    #[arg(value_name = "HOST")]
    pub host: String,

    /// The port: 587 (submission, the default), 465 (submission over implicit TLS), 25 (MX).
    #[arg(long, value_name = "N", default_value_t = 587, conflicts_with = "all_ports",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// How TLS starts (default: implicit on 465, starttls otherwise).
    #[arg(long, value_enum, conflicts_with = "all_ports")]
    pub tls: Option<crate::smtp::TlsMode>,

    /// Try AUTH as this user. The password is read from the environment variable
    /// `MAILAUDIT_SMTP_PASSWORD`, never from the command line, and never shown.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Trust the CA certificates of this PEM file beside the web PKI roots.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Try ports 25, 465, 587 and 2525 and show which work.
    #[arg(long)]
    pub all_ports: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The message: an RFC 5322 file (`.eml`, Gmail's "Show original" saved as text), or '-'
    /// for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The receiver's own MTAs wrote the first N Received fields from the top: the client the
    /// N-th one names delivered the message and is the one SPF checks. Default: the client of
    /// the receiver's Received-SPF field, else the first Received field whose client is not an
    /// internal address.
    #[arg(long, value_name = "N", conflicts_with = "ip",
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub hops: Option<u16>,

    /// The IP address that delivered the message, instead of reading it from the headers.
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,

    /// The envelope sender (MAIL FROM) SPF checks, instead of the Return-Path field ('<>' for
    /// a bounce).
    #[arg(long, value_name = "ADDR")]
    pub mail_from: Option<String>,

    /// The HELO/EHLO name of the delivering client, instead of the Received field's.
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReportsArgs {
    /// Report files, folders (read with their subfolders) or '-' for standard input. A file
    /// that holds no report is named and skipped; the run then exits 2 at the end.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportsFormat::Table)]
    pub format: ReportsFormat,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Name each source IP by its PTR record, asked of this DNS server (ADDR[:PORT],
    /// repeatable): known providers are then recognised by name too. Without it nothing is
    /// asked.
    #[arg(long = "resolver", value_name = "ADDR[:PORT]")]
    pub resolvers: Vec<String>,

    /// With --resolver: the longest one query waits for an answer, in seconds (0.05 to 60).
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// Also store the DMARC aggregate reports in this monitoring database (the `--db` of
    /// `monitor`), each once: `monitor` then reports a source newly failing DMARC as a change.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The domain whose mail moves.
    #[arg(value_name = "DOMAIN")]
    pub domain: String,

    /// The provider the mail moves to, by its profile id: microsoft365, google-workspace, zoho,
    /// fastmail, proton, icloud, amazon-ses, sendgrid, mailgun, postmark, mailchimp, mandrill,
    /// brevo, mailjet, zendesk (and those of --profiles).
    #[arg(long, value_name = "PROVIDER")]
    pub to: Option<String>,

    /// The provider the mail leaves (default: the one the domain's MX, else its SPF, names).
    #[arg(long, value_name = "PROVIDER", requires = "to")]
    pub from: Option<String>,

    /// The tenant name at the new provider (Microsoft 365: NAME of NAME.onmicrosoft.com), filled
    /// into its DKIM records.
    #[arg(long, value_name = "NAME", requires = "to")]
    pub tenant: Option<String>,

    /// Check each step against DNS: done, not done, or unknown (DNS did not answer). Exit
    /// status 1 while a step without which delivery breaks is not done or unknown.
    #[arg(long, requires = "to")]
    pub verify: bool,

    /// An on-premises server (name or address) that stays and relays its outbound mail
    /// through the new provider: its public address is kept in SPF (checked with SPF's own
    /// evaluation), and the relay through the provider's smart host is a step of the plan.
    #[arg(long, value_name = "HOST", requires = "to")]
    pub hybrid: Option<String>,

    /// With --hybrid --verify: connect to the new provider's smart host on port 25 with
    /// STARTTLS, as the on-premises server would (run it there: the route from this machine is
    /// what is checked). Without it no connection is opened.
    #[arg(long, requires_all = ["hybrid", "verify"])]
    pub smtp: bool,

    /// With --smtp: trust the CA certificates of this PEM file beside the web PKI roots.
    #[arg(long, value_name = "PATH", requires = "smtp")]
    pub ca_file: Option<PathBuf>,

    /// A TOML file of provider profiles (`[[provider]]` entries, README "Provider profiles")
    /// added to the built-in ones; one with a built-in id replaces it.
    #[arg(long, value_name = "PATH")]
    pub profiles: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = MigrateFormat::Table)]
    pub format: MigrateFormat,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub dns: DnsArgs,
}

/// How `migrate` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MigrateFormat {
    /// Text for a terminal.
    Table,
    /// One JSON object: the providers found and each step as data.
    Json,
    /// A checklist (`- [ ]`) to paste into a change ticket.
    Markdown,
    /// One self-contained page to print or attach to a change ticket; without --output, a new
    /// dated file under reports/ whose path is printed.
    Html,
}

/// How `reports` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportsFormat {
    /// The verdict and tables for a terminal.
    Table,
    /// One JSON object.
    Json,
    /// One line per record of each DMARC report, for spreadsheets.
    Csv,
    /// A self-contained page with a chart of volume and pass rate per day (to --output, or a
    /// new dated file under reports/).
    Html,
}

/// The options of the commands that audit and report (`audit`, `ip`, `smtp`): how the report
/// is written and how DNS is asked.
#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub report: ReportArgs,

    #[command(flatten)]
    pub dns: DnsArgs,
}

/// How an audit's report is written (`audit`, `ip`, `smtp`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Report")]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub fail_on: FailOnArgs,
}

/// `--output`, for every command that writes a report.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write the report to this file instead of standard output ('-' is standard output).
    #[arg(long = "output", value_name = "PATH")]
    pub path: Option<PathBuf>,
}

impl OutputArgs {
    /// The file to write, or `None` for standard output (no `--output`, or `--output -`).
    pub fn file(&self) -> Option<&Path> {
        self.path.as_deref().filter(|path| *path != Path::new("-"))
    }
}

/// `--fail-on`, for every command whose exit status says what was found.
#[derive(Debug, Args)]
pub struct FailOnArgs {
    /// Exit 1 when a finding is at least this severe. An incomplete audit (something could not
    /// be determined) counts as an error.
    #[arg(long = "fail-on", value_enum, value_name = "SEVERITY", default_value_t = FailOn::Error)]
    pub level: FailOn,
}

/// How DNS is asked: every command that asks it (`audit`, `ip`, `smtp`, `monitor`).
#[derive(Debug, Args)]
#[command(next_help_heading = "DNS")]
pub struct DnsArgs {
    /// DNS server to ask, ADDR[:PORT] (repeatable; default: the system's resolver). Each is
    /// checked first: one that does not answer stops the run (exit status 2).
    #[arg(long = "resolver", value_name = "ADDR[:PORT]")]
    pub resolvers: Vec<String>,

    /// The longest one query waits for an answer, in seconds (0.05 to 60). It is sent again
    /// after a time-out derived from the round trips observed, and given up after seven of
    /// them (at least 2 s) when that is sooner.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// The most queries in flight at once across the whole run. Below it the number adapts: it
    /// starts at 32, grows while answers come back fast and shrinks when they slow down or get
    /// lost, so the default (1024) rarely needs changing; lower it to spare a small resolver.
    #[arg(long, value_name = "N", default_value_t = crate::dns::DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,

    /// At most this many queries a second, for resolvers that throttle (default: no cap).
    #[arg(long, value_name = "QPS",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: Option<u32>,
}

/// The blocklists asked: every command that asks them (`audit`, `ip`, `monitor`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Blocklists")]
pub struct CatalogArgs {
    /// A TOML file of DNS blocklists replacing the built-in catalog (`mailaudit ip
    /// --list-catalog` prints the built-in one, to start from).
    #[arg(long, value_name = "PATH")]
    pub dnsbl: Option<PathBuf>,
}

/// How the report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a terminal (colour only on a terminal; `NO_COLOR` is honoured).
    Table,
    /// One JSON object for one target, an array for several.
    Json,
    /// One JSON object a line, each written as soon as its target is done.
    Jsonl,
    /// One self-contained HTML page (under reports/, dated, unless --output is given).
    Html,
    /// Markdown tables, to paste into tickets and pull requests.
    Markdown,
}

/// How the monitor's run and the history are written: tables or JSON (no page of their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    /// Tables for a terminal (colour only on a terminal; `NO_COLOR` is honoured).
    Table,
    /// One JSON object, pretty-printed.
    Json,
    /// One JSON object on one line.
    Jsonl,
}

/// The `--fail-on` threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
    Critical,
    Never,
}

impl FailOn {
    /// The least severity that fails the run, or `None` for `never`.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Error => Some(Severity::Error),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }
}

/// The shortest and longest `--timeout`: below 50 ms no resolver across a network answers;
/// above a minute a run only waits longer for an answer that is not coming.
const TIMEOUT_RANGE: std::ops::RangeInclusive<f64> = 0.05..=60.0;

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if TIMEOUT_RANGE.contains(&secs) => Ok(secs),
        _ => Err(format!(
            "'{text}' is not a number of seconds from {} to {}",
            TIMEOUT_RANGE.start(),
            TIMEOUT_RANGE.end()
        )),
    }
}
