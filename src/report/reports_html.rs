//! `reports --format html`: one self-contained page for a person deciding on `p=reject`: the
//! readiness verdict with its fixes first, then a chart of the volume and DMARC pass rate per
//! day, the sender inventory and TLS-RPT.
//!
//! As the domain report ([`super::html`]): rendered by an askama template
//! (`templates/reports.html`) that HTML-escapes every value (reporter names, PTR names and
//! domains are written by strangers), with the same strict Content-Security-Policy
//! (`templates/csp.html`). The chart is inline SVG drawn from numbers computed here ([`Chart`]):
//! no script, nothing loaded.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use askama::Template;

use super::html::{Timestamp, write_dated_file};
use super::visible::visible;
use crate::reports::Summary;
use crate::reports::inventory::{Counts, GroupRow};
use crate::reports::readiness::{Readiness, Verdict};

/// Longest text from a report shown in one place; the JSON has it all.
const MAX_TEXT_CHARS: usize = 512;
/// The most source IPs listed; the JSON and the CSV have them all.
const MAX_SOURCES: usize = 100;
/// The most forged sources listed under a verdict.
const MAX_FORGED: usize = 20;

/// Writes the page; `generated` is the time printed on it.
pub fn write(out: &mut dyn Write, summary: &Summary, generated: SystemTime) -> io::Result<()> {
    let html = Page::new(summary, generated)
        .render()
        .map_err(io::Error::other)?;
    out.write_all(html.as_bytes())
}

/// Writes the page to a new dated file under `reports/` and returns its path, as the domain
/// report does without `--output`.
pub fn write_dated(summary: &Summary, now: SystemTime) -> io::Result<PathBuf> {
    write_dated_file("dmarc-reports", now, |out| write(out, summary, now))
}

/// Text from a report made visible (control and bidi characters escaped, length capped);
/// escaping for HTML is the template's.
fn shown(text: &str) -> String {
    visible(text, MAX_TEXT_CHARS, false, "; see --format json")
}

fn joined(items: &[String]) -> String {
    shown(&items.join(", "))
}

#[derive(Template)]
#[template(path = "reports.html")]
struct Page {
    generated: String,
    version: &'static str,
    headline: String,
    verdicts: Vec<VerdictView>,
    chart: Option<Chart>,
    services: Vec<GroupView>,
    sources: Vec<SourceView>,
    more_sources: usize,
    reporters: Vec<GroupView>,
    days: Vec<GroupView>,
    tls: Vec<TlsView>,
    duplicates: usize,
    skipped: Vec<(String, String)>,
}

impl Page {
    fn new(summary: &Summary, generated: SystemTime) -> Page {
        let dmarc = &summary.dmarc;
        Page {
            generated: Timestamp::from(generated).to_string(),
            version: env!("CARGO_PKG_VERSION"),
            headline: format!(
                "{} files: {} DMARC aggregate reports on {} messages ({}% passed DMARC), {} TLS-RPT rows.",
                summary.files,
                dmarc.reports,
                dmarc.totals.messages,
                dmarc.totals.pass_rate(),
                summary.tls.len()
            ),
            verdicts: {
                // The domains with legitimate mail to fix first.
                let mut verdicts: Vec<&Readiness> = summary.readiness.iter().collect();
                verdicts.sort_by_key(|r| match r.verdict {
                    Verdict::NotReady => 0,
                    Verdict::ReadyForgeryOnly => 1,
                    Verdict::Ready => 2,
                });
                verdicts.into_iter().map(VerdictView::of).collect()
            },
            chart: Chart::of(&dmarc.days),
            services: dmarc.services.iter().map(GroupView::of).collect(),
            sources: dmarc
                .sources
                .iter()
                .take(MAX_SOURCES)
                .map(|row| SourceView {
                    ip: row.ip.to_string(),
                    ptr: shown(row.ptr.as_deref().unwrap_or("")),
                    service: shown(&row.service.name),
                    domains: joined(&row.domains),
                    counts: CountsView::of(&row.counts),
                    reporters: joined(&row.reporters),
                    days: joined(&row.days),
                })
                .collect(),
            more_sources: dmarc.sources.len().saturating_sub(MAX_SOURCES),
            reporters: dmarc.reporters.iter().map(GroupView::of).collect(),
            days: dmarc.days.iter().map(GroupView::of).collect(),
            tls: summary
                .tls
                .iter()
                .map(|row| TlsView {
                    organization: shown(&row.organization),
                    policy_type: row.policy_type,
                    policy_domain: shown(&row.policy_domain),
                    successful: row.successful,
                    failed: row.failed,
                    failures: shown(
                        &row.failures
                            .iter()
                            .map(|(kind, n)| format!("{kind}: {n}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                })
                .collect(),
            duplicates: summary.duplicates.len(),
            skipped: summary
                .skipped
                .iter()
                .map(|s| (shown(&s.file), shown(&s.error)))
                .collect(),
        }
    }
}

/// One domain's verdict.
struct VerdictView {
    domain: String,
    policy: &'static str,
    /// The CSS class: `ok`, `weak` or `fail`.
    class: &'static str,
    word: &'static str,
    summary: String,
    legitimate: Vec<LegitimateView>,
    forged_sources: usize,
    forged_messages: u64,
    forged: Vec<(String, String, u64)>,
}

impl VerdictView {
    fn of(readiness: &Readiness) -> VerdictView {
        let (class, word) = match readiness.verdict {
            Verdict::Ready => ("ok", "ready for p=reject"),
            Verdict::ReadyForgeryOnly => ("weak", "ready: only forged mail fails"),
            Verdict::NotReady => ("fail", "not ready for p=reject"),
        };
        VerdictView {
            domain: shown(&readiness.domain),
            policy: readiness.policy,
            class,
            word,
            summary: shown(&readiness.summary),
            legitimate: readiness
                .legitimate
                .iter()
                .map(|source| LegitimateView {
                    service: shown(&source.service),
                    why: shown(&source.why),
                    ips: shown(
                        &source
                            .ips
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    messages: source.messages,
                    failing: source.failing,
                    fixes: fix_views(&source.fixes),
                })
                .collect(),
            forged_sources: readiness.forged.len(),
            forged_messages: readiness.forged.iter().map(|f| f.failing).sum(),
            forged: readiness
                .forged
                .iter()
                .take(MAX_FORGED)
                .map(|f| (f.ip.to_string(), shown(&f.service), f.failing))
                .collect(),
        }
    }
}

struct LegitimateView {
    service: String,
    why: String,
    ips: String,
    messages: u64,
    failing: u64,
    fixes: Vec<FixView>,
}

/// One fix: its sentence, and the zone-file lines it asks to publish (the fix lines of
/// [`crate::reports::readiness`] indented under their sentence).
struct FixView {
    text: String,
    records: Vec<String>,
}

fn fix_views(fixes: &[String]) -> Vec<FixView> {
    let mut views: Vec<FixView> = Vec::new();
    for line in fixes {
        match (line.strip_prefix("  "), views.last_mut()) {
            (Some(record), Some(last)) => last.records.push(shown(record)),
            _ => views.push(FixView {
                text: shown(line.trim()),
                records: Vec::new(),
            }),
        }
    }
    views
}

struct CountsView {
    messages: u64,
    dmarc_pass: u64,
    pass_rate: f64,
    dmarc_fail: u64,
    spf_aligned: u64,
    dkim_aligned: u64,
    quarantined: u64,
    rejected: u64,
}

impl CountsView {
    fn of(counts: &Counts) -> CountsView {
        CountsView {
            messages: counts.messages,
            dmarc_pass: counts.dmarc_pass,
            pass_rate: counts.pass_rate(),
            dmarc_fail: counts.dmarc_fail,
            spf_aligned: counts.spf_aligned,
            dkim_aligned: counts.dkim_aligned,
            quarantined: counts.quarantined,
            rejected: counts.rejected,
        }
    }
}

struct GroupView {
    name: String,
    reports: usize,
    counts: CountsView,
}

impl GroupView {
    fn of(row: &GroupRow) -> GroupView {
        GroupView {
            name: shown(&row.name),
            reports: row.reports,
            counts: CountsView::of(&row.counts),
        }
    }
}

struct SourceView {
    ip: String,
    ptr: String,
    service: String,
    domains: String,
    counts: CountsView,
    reporters: String,
    days: String,
}

struct TlsView {
    organization: String,
    policy_type: &'static str,
    policy_domain: String,
    successful: u64,
    failed: u64,
    failures: String,
}

/// The chart's drawing area, in SVG user units (the `viewBox`; the page scales it).
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 704.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 214.0;
/// The most day labels under the chart; the others are in the table of days.
const MAX_LABELS: usize = 8;

/// Messages (bars, left axis) and the share passing DMARC (a line with a dot a day, right
/// axis) per day of the reports, oldest first: one slot per day that has reports. Every
/// coordinate is a number formatted here, never text from a report.
struct Chart {
    view_box: String,
    bars: Vec<Bar>,
    /// The `points` of the pass-rate line.
    line: String,
    dots: Vec<(String, String)>,
    /// Horizontal grid lines with their left (messages) and right (percent) labels.
    grid: Vec<GridLine>,
    labels: Vec<(String, String)>,
    left: String,
    right: String,
    bottom: String,
    label_y: String,
    left_label_x: String,
    right_label_x: String,
    days: usize,
}

struct Bar {
    x: String,
    y: String,
    width: String,
    height: String,
}

struct GridLine {
    y: String,
    label_y: String,
    messages: u64,
    percent: u8,
}

fn n(value: f64) -> String {
    format!("{value:.1}")
}

impl Chart {
    /// The chart of `days`, or none when no day has a message.
    #[allow(clippy::cast_precision_loss)] // counts and day numbers far below 2^52
    fn of(days: &[GroupRow]) -> Option<Chart> {
        let max = days.iter().map(|d| d.counts.messages).max()?;
        if max == 0 {
            return None;
        }
        let slot = (RIGHT - LEFT) / days.len() as f64;
        let bar_width = (slot * 0.7).max(1.0);
        let height = BOTTOM - TOP;
        let mut bars = Vec::new();
        let mut points = Vec::new();
        let mut dots = Vec::new();
        let mut labels = Vec::new();
        let every = days.len().div_ceil(MAX_LABELS);
        for (i, day) in days.iter().enumerate() {
            let centre = LEFT + slot * (i as f64 + 0.5);
            let bar = day.counts.messages as f64 / max as f64 * height;
            bars.push(Bar {
                x: n(centre - bar_width / 2.0),
                y: n(BOTTOM - bar),
                width: n(bar_width),
                height: n(bar),
            });
            // A day with no messages has no pass rate: no dot, and the line skips it.
            if day.counts.messages > 0 {
                let y = BOTTOM - day.counts.pass_rate() / 100.0 * height;
                points.push(format!("{},{}", n(centre), n(y)));
                dots.push((n(centre), n(y)));
            }
            if i % every == 0 {
                labels.push((n(centre), shown(&day.name)));
            }
        }
        let grid = [0u8, 50, 100]
            .into_iter()
            .map(|percent| {
                let y = BOTTOM - f64::from(percent) / 100.0 * height;
                GridLine {
                    y: n(y),
                    label_y: n(y + 4.0),
                    messages: max * u64::from(percent) / 100,
                    percent,
                }
            })
            .collect();
        Some(Chart {
            view_box: format!("0 0 {WIDTH} {HEIGHT}"),
            bars,
            line: points.join(" "),
            dots,
            grid,
            labels,
            left: n(LEFT),
            right: n(RIGHT),
            bottom: n(BOTTOM),
            label_y: n(BOTTOM + 18.0),
            left_label_x: n(LEFT - 6.0),
            right_label_x: n(RIGHT + 6.0),
            days: days.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(name: &str, messages: u64, dmarc_pass: u64) -> GroupRow {
        GroupRow {
            name: name.to_owned(),
            reports: 1,
            counts: Counts {
                messages,
                dmarc_pass,
                dmarc_fail: messages - dmarc_pass,
                ..Counts::default()
            },
        }
    }

    #[test]
    fn the_chart_scales_bars_to_the_busiest_day_and_the_line_to_the_pass_rate() {
        let chart =
            Chart::of(&[day("2024-06-01", 100, 100), day("2024-06-02", 50, 25)]).expect("a chart");
        // The busiest day fills the height; half as many messages, half the bar.
        assert_eq!(chart.bars[0].height, n(BOTTOM - TOP));
        assert_eq!(chart.bars[1].height, n((BOTTOM - TOP) / 2.0));
        // 100 % at the top, 50 % half-way.
        assert_eq!(chart.dots[0].1, n(TOP));
        assert_eq!(chart.dots[1].1, n(BOTTOM - (BOTTOM - TOP) / 2.0));
        assert_eq!(chart.line.split(' ').count(), 2);
        assert_eq!(chart.grid[2].messages, 100);
    }

    #[test]
    fn a_day_without_messages_has_a_slot_but_no_pass_rate() {
        let chart = Chart::of(&[day("2024-06-01", 10, 5), day("2024-06-02", 0, 0)]).unwrap();
        assert_eq!(chart.bars.len(), 2);
        assert_eq!(chart.dots.len(), 1);
        assert!(Chart::of(&[day("2024-06-01", 0, 0)]).is_none());
        assert!(Chart::of(&[]).is_none());
    }

    #[test]
    fn fix_lines_are_grouped_under_their_sentence() {
        let fixes = fix_views(&[
            "DKIM: have X sign as example.com, publishing:".to_owned(),
            "  s1._domainkey.example.com. CNAME s1.x.net.".to_owned(),
            "  s2._domainkey.example.com. CNAME s2.x.net.".to_owned(),
            "SPF: add include:x.net".to_owned(),
        ]);
        assert_eq!(fixes.len(), 2);
        assert_eq!(fixes[0].records.len(), 2);
        assert!(fixes[1].records.is_empty());
    }
}
