//! The command lines of `mailaudit monitor` and `mailaudit history` (cli.md), as clap types.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::{CatalogArgs, DnsArgs, FailOnArgs, OutputArgs, RunFormat};

/// The longest `--interval`: a week. A longer pause is a cron job's work.
const MAX_INTERVAL: Duration = Duration::from_hours(7 * 24);

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 nothing got worse since the previous run, 1 something \
                        did (a new listing, a lower grade, a new finding at or above --fail-on, \
                        an SMTP port that stopped answering, a certificate expiring within 14 \
                        days or invalid), 2 could not run. The first run of a target stores its \
                        baseline."
)]
pub struct MonitorArgs {
    /// The monitor.toml to read: `domains`, `ips`, `ranges` (CIDR), `smtp` (HOST:PORT),
    /// optional `selectors`, `ca_file`, `webhook`, `metrics`.
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,

    /// Run once and exit (for cron and systemd timers). This is the default.
    #[arg(long, conflicts_with = "interval")]
    pub once: bool,

    /// Repeat every DURATION (`30s`, `15m`, `1h`, `1d`) until interrupted (Ctrl-C or SIGTERM:
    /// the current run is finished and stored first; a second one stops at once, exit 130).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<Duration>,

    /// The history database (default: `history.sqlite3` in the user's data directory, e.g.
    /// ~/.local/share/mailaudit/).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// POST the changes of a run as JSON to this URL (only runs with changes; retried on
    /// connection errors and 5xx; redirects are not followed). Overrides `webhook` in the config.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,

    /// Write a Prometheus textfile here after each run (the textfile collector of `node_exporter`),
    /// replacing only a regular file. Overrides `metrics` in the config.
    #[arg(long, value_name = "PATH")]
    pub metrics: Option<PathBuf>,

    #[command(flatten)]
    pub report: RunReportArgs,

    #[command(flatten)]
    pub dns: DnsArgs,

    #[command(flatten)]
    pub catalog: CatalogArgs,
}

/// How a monitor run is written: a table or JSON, and which findings fail it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Report")]
pub struct RunReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Table)]
    pub format: RunFormat,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub fail_on: FailOnArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The domain, IP address or SMTP server (HOST:PORT) whose stored runs to show.
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// The history database written by `mailaudit monitor` (default: its default).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Print the full JSON report of TARGET stored at this run (a run id of the timeline)
    /// instead of the timeline.
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,

    #[command(flatten)]
    pub report: HistoryReportArgs,
}

/// How the history is written: a table or JSON.
#[derive(Debug, Args)]
#[command(next_help_heading = "Report")]
pub struct HistoryReportArgs {
    /// Output format (`--run` always prints JSON).
    #[arg(long, value_enum, default_value_t = RunFormat::Table)]
    pub format: RunFormat,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Parses `30s`, `15m`, `1h`, `1d` (a whole number and one unit), between one second and a week.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "'{text}' is not a duration: write a whole number and a unit, e.g. 30s, 15m, 1h, 1d"
        )
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    let secs = number.checked_mul(unit_secs).ok_or_else(invalid)?;
    let interval = Duration::from_secs(secs);
    if interval.is_zero() || interval > MAX_INTERVAL {
        return Err(format!("'{text}': the interval must be between 1s and 7d"));
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_in_each_unit() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("15m"), Ok(Duration::from_mins(15)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_hours(1)));
        assert_eq!(parse_interval("1d"), Ok(Duration::from_hours(24)));
    }

    #[test]
    fn bad_intervals_say_how_to_write_one() {
        for bad in [
            "",
            "h",
            "10",
            "1.5h",
            "1 h",
            "-1h",
            "1w",
            "1hé",
            "99999999999999999999s",
        ] {
            let error = parse_interval(bad).expect_err(bad);
            assert!(error.contains("e.g. 30s"), "{bad}: {error}");
        }
        assert!(
            parse_interval("0s")
                .unwrap_err()
                .contains("between 1s and 7d")
        );
        assert!(
            parse_interval("8d")
                .unwrap_err()
                .contains("between 1s and 7d")
        );
    }
}
