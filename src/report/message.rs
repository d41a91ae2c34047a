//! `mailaudit message` as text: the terminal view (`--format table`) and Markdown, from the one
//! [`MessageReport`] model that JSON serialises. Sections in the order a reader asks: the
//! verdict, then DMARC and what decided it, DKIM, ARC, SPF, the receiver's view, the hops, the
//! requirements and the findings. Each section is data (a [`Section`] of [`Row`]s) written by
//! one [`Writer::section`], so the table and Markdown shapes live in one place.

use std::io::{self, Write};

use crate::dmarc::record::Alignment;
use crate::message::MessageReport;
use crate::message::verify::AuthResult;
use crate::report::visible::visible;

/// The longest text shown from one value: a header can be megabytes long.
const MAX_CHARS: usize = 2000;

/// Writes the report; `markdown` chooses Markdown headings and escapes.
pub fn write_message(
    out: &mut dyn Write,
    report: &MessageReport,
    markdown: bool,
) -> io::Result<()> {
    let mut w = Writer { out, markdown };
    w.title(&format!("Message {}", report.source))?;
    for section in [
        summary(report),
        dmarc(report),
        dkim(report),
        arc(report),
        spf(report),
        comparison(report),
        hops(report),
        spam_verdicts(report),
        requirements(report),
        findings(report),
        score(report),
    ] {
        w.section(&section)?;
    }
    Ok(())
}

/// One section: a heading over its rows.
struct Section<'a> {
    /// `None`: the rows go on under the section above.
    heading: Option<&'static str>,
    /// What a section without rows shows.
    empty: Empty,
    rows: Vec<Row<'a>>,
}

/// What a section without rows shows.
enum Empty {
    /// Nothing, not even its heading.
    Omit,
    /// Its heading alone.
    Heading,
    /// Its heading and this line.
    Say(&'static str),
}

/// One row of a section.
enum Row<'a> {
    /// `key value`, aligned in the table, bold key in Markdown.
    Item(&'a str, String),
    /// A list entry and the indented lines that explain it.
    Bullet(String, Vec<String>),
    /// Plain text.
    Line(String),
}

impl Row<'_> {
    /// A list entry with nothing under it.
    fn bullet(text: String) -> Self {
        Row::Bullet(text, Vec::new())
    }
}

/// The rows that are there: `None` for a row the report does not have.
fn rows<'a>(rows: impl IntoIterator<Item = Option<Row<'a>>>) -> Vec<Row<'a>> {
    rows.into_iter().flatten().collect()
}

/// A section under `heading` that is always shown.
fn titled<'a>(heading: &'static str, rows: Vec<Row<'a>>) -> Section<'a> {
    Section {
        heading: Some(heading),
        empty: Empty::Heading,
        rows,
    }
}

/// Rows with no heading of their own, after what is above them.
fn untitled(rows: Vec<Row<'_>>) -> Section<'_> {
    Section {
        heading: None,
        empty: Empty::Omit,
        rows,
    }
}

fn summary(report: &MessageReport) -> Section<'_> {
    let s = &report.summary;
    untitled(rows([
        Some(Row::Line(format!(
            "Score {} (grade {}){}",
            report.score.score,
            report.score.grade,
            if report.incomplete {
                "; incomplete: a DNS failure left something unknown"
            } else {
                ""
            }
        ))),
        Some(Row::Item("From", s.from.join(", "))),
        s.subject.clone().map(|v| Row::Item("Subject", v)),
        s.date.clone().map(|v| Row::Item("Date", v)),
        s.line_ends_converted.then(|| {
            Row::Line("(the file had bare LF line ends: read as CRLF, as on the wire)".to_owned())
        }),
    ]))
}

fn dmarc(report: &MessageReport) -> Section<'_> {
    let d = &report.dmarc;
    let aligned = |yes: bool| if yes { "aligned" } else { "not aligned" };
    titled(
        "DMARC",
        rows([
            Some(Row::Item(
                "Result",
                format!(
                    "{} for {}; disposition: {}",
                    d.result.as_str(),
                    d.from_domain.as_deref().unwrap_or("(no From domain)"),
                    d.disposition.as_str()
                ),
            )),
            Some(Row::Item("Why", d.why.clone())),
            d.found_at.as_ref().map(|found| {
                Row::Item(
                    "Policy",
                    format!("{found}: {}", d.record.as_deref().unwrap_or_default()),
                )
            }),
            Some(Row::Item(
                "Alignment",
                format!(
                    "SPF {} ({}), DKIM {} ({})",
                    aligned(d.spf_aligned),
                    d.aspf.map_or("relaxed", mode),
                    aligned(d.dkim_aligned),
                    d.adkim.map_or("relaxed", mode)
                ),
            )),
        ]),
    )
}

fn dkim(report: &MessageReport) -> Section<'_> {
    let signatures = report.dkim.iter().map(|sig| {
        let text = format!(
            "d={} s={}: {}{} — {} {}, c={}{}{}",
            sig.domain,
            sig.selector,
            sig.result.as_str(),
            if sig.aligned {
                " (aligned)"
            } else {
                " (not aligned)"
            },
            sig.algorithm,
            sig.key_bits
                .map_or_else(|| "key size unknown".to_owned(), |b| format!("{b}-bit key")),
            sig.canonicalization,
            sig.body_length
                .map(|l| format!(", l={l} (body can be appended to)"))
                .unwrap_or_default(),
            if sig.expired { ", expired (x=)" } else { "" },
        );
        let from = format!(
            "From {}{}",
            if sig.from_signed {
                "signed"
            } else {
                "NOT signed"
            },
            if sig.from_oversigned {
                " and oversigned"
            } else {
                ", not oversigned"
            }
        );
        let notes = [
            sig.reason
                .as_ref()
                .map(|reason| format!("reason: {reason}")),
            sig.result_ignoring_expiry
                .map(|before| format!("before it expired: {}", before.as_str())),
            Some(from),
            (!sig.unsigned_headers.is_empty())
                .then(|| format!("unsigned: {}", sig.unsigned_headers.join(", "))),
        ];
        Row::Bullet(text, notes.into_iter().flatten().collect())
    });
    let malformed = report
        .dkim_malformed
        .iter()
        .map(|bad| Row::bullet(format!("unreadable signature: {}", bad.reason)));
    Section {
        heading: Some("DKIM"),
        empty: Empty::Say("No DKIM-Signature."),
        rows: signatures.chain(malformed).collect(),
    }
}

fn arc(report: &MessageReport) -> Section<'_> {
    let arc = &report.arc;
    let rows = if arc.result == AuthResult::None && arc.instances.is_empty() {
        Vec::new()
    } else {
        let chain = Row::Item(
            "Chain",
            format!(
                "{}{}",
                arc.result.as_str(),
                arc.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        );
        std::iter::once(chain)
            .chain(arc.instances.iter().map(|i| {
                Row::bullet(format!(
                    "i={} d={} s={} cv={}",
                    i.instance, i.domain, i.selector, i.cv
                ))
            }))
            .collect()
    };
    Section {
        heading: Some("ARC"),
        empty: Empty::Say("No ARC chain."),
        rows,
    }
}

fn spf(report: &MessageReport) -> Section<'_> {
    let spf = &report.spf;
    let result = match spf.result {
        Some(result) => format!(
            "{} for {} at {}",
            result.as_str(),
            spf.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            spf.domain.as_deref().unwrap_or_default()
        ),
        None => "not evaluated".to_owned(),
    };
    titled(
        "SPF",
        rows([
            Some(Row::Item("Result", result)),
            Some(Row::Item("Hop", spf.source.clone())),
            spf.mail_from.as_ref().map(|mail_from| {
                Row::Item(
                    "MAIL FROM",
                    if mail_from.is_empty() {
                        "<> (a bounce)".to_owned()
                    } else {
                        mail_from.clone()
                    },
                )
            }),
            spf.matched.clone().map(|m| Row::Item("Matched", m)),
            spf.reason.clone().map(|r| Row::Item("Reason", r)),
        ]),
    )
}

fn comparison(report: &MessageReport) -> Section<'_> {
    Section {
        heading: Some("The receiver's results beside mailaudit's"),
        empty: Empty::Omit,
        rows: report
            .comparison
            .iter()
            .map(|c| {
                Row::Bullet(
                    format!(
                        "{}: {} says {}, mailaudit says {}{}",
                        c.method,
                        c.receiver,
                        c.receiver_result,
                        c.mailaudit_result,
                        if c.agree { "" } else { " — differ" }
                    ),
                    c.explanation.iter().cloned().collect(),
                )
            })
            .collect(),
    }
}

fn hops(report: &MessageReport) -> Section<'_> {
    Section {
        heading: Some("Hops (top: the last)"),
        empty: Empty::Omit,
        rows: report
            .hops
            .iter()
            .map(|hop| {
                Row::bullet(format!(
                    "{}. from {} [{}] by {} with {} — TLS: {}",
                    hop.index,
                    hop.helo.as_deref().unwrap_or("?"),
                    hop.ip.map_or_else(|| "?".to_owned(), |ip| ip.to_string()),
                    hop.by.as_deref().unwrap_or("?"),
                    hop.with.as_deref().unwrap_or("?"),
                    match hop.tls {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "not shown",
                    }
                ))
            })
            .collect(),
    }
}

/// Microsoft's verdict fields, under the hops (or what is above when there are none).
fn spam_verdicts(report: &MessageReport) -> Section<'_> {
    untitled(
        report
            .spam_verdicts
            .iter()
            .map(|v| Row::Item(&v.header, v.meaning.clone()))
            .collect(),
    )
}

fn requirements(report: &MessageReport) -> Section<'_> {
    titled(
        "Sender requirements",
        report
            .requirements
            .iter()
            .map(|r| {
                Row::bullet(format!(
                    "{} ({}): {} — {}{}",
                    r.provider,
                    r.audience,
                    r.requirement,
                    r.status.as_str(),
                    if r.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.detail)
                    }
                ))
            })
            .collect(),
    )
}

fn findings(report: &MessageReport) -> Section<'_> {
    Section {
        heading: Some("Findings"),
        empty: Empty::Say("None."),
        rows: report
            .findings
            .iter()
            .map(|f| {
                Row::Bullet(
                    format!("{} {}: {}", f.severity, f.code, f.message),
                    f.fix.iter().map(|fix| format!("fix: {fix}")).collect(),
                )
            })
            .collect(),
    }
}

fn score(report: &MessageReport) -> Section<'_> {
    untitled(vec![
        Row::Line(String::new()),
        Row::Line(format!("Score: {}", report.score.explanation)),
    ])
}

fn mode(alignment: Alignment) -> &'static str {
    match alignment {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    }
}

struct Writer<'a> {
    out: &'a mut dyn Write,
    markdown: bool,
}

impl Writer<'_> {
    /// The one place a section's shape is written: heading, then its rows or what stands for
    /// none.
    fn section(&mut self, section: &Section<'_>) -> io::Result<()> {
        let none = section.rows.is_empty();
        if none && matches!(section.empty, Empty::Omit) {
            return Ok(());
        }
        if let Some(heading) = section.heading {
            self.heading(heading)?;
        }
        if let (true, Empty::Say(text)) = (none, &section.empty) {
            self.line(text)?;
        }
        for row in &section.rows {
            match row {
                Row::Item(key, value) => self.item(key, value)?,
                Row::Line(text) => self.line(text)?,
                Row::Bullet(text, notes) => {
                    self.bullet(text)?;
                    for note in notes {
                        self.sub(note)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Text from the message is shown without control characters (a header can hold escape
    /// sequences), and in Markdown without markup.
    fn text(&self, text: &str) -> String {
        let text = visible(text, MAX_CHARS, false, "");
        if self.markdown {
            text.replace('|', "\\|")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        } else {
            text
        }
    }

    fn title(&mut self, text: &str) -> io::Result<()> {
        let text = self.text(text);
        if self.markdown {
            writeln!(self.out, "# {text}\n")
        } else {
            writeln!(
                self.out,
                "{text}\n{}",
                "=".repeat(text.chars().count().min(100))
            )
        }
    }

    fn heading(&mut self, text: &str) -> io::Result<()> {
        if self.markdown {
            writeln!(self.out, "\n## {text}\n")
        } else {
            writeln!(self.out, "\n{text}\n{}", "-".repeat(text.chars().count()))
        }
    }

    fn line(&mut self, text: &str) -> io::Result<()> {
        let text = self.text(text);
        writeln!(self.out, "{text}")
    }

    fn item(&mut self, key: &str, value: &str) -> io::Result<()> {
        let value = self.text(value);
        if self.markdown {
            writeln!(self.out, "- **{key}**: {value}")
        } else {
            writeln!(self.out, "{key:<10} {value}")
        }
    }

    fn bullet(&mut self, text: &str) -> io::Result<()> {
        let text = self.text(text);
        writeln!(self.out, "- {text}")
    }

    fn sub(&mut self, text: &str) -> io::Result<()> {
        let text = self.text(text);
        writeln!(self.out, "    {text}")
    }
}
