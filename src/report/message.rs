//! `mailaudit message` as text: the terminal view (`--format table`) and Markdown, from the one
//! [`MessageReport`] model that JSON serialises. Sections in the order a reader asks: the
//! verdict, then DMARC and what decided it, DKIM, ARC, SPF, the receiver's view, the hops, the
//! requirements and the findings.

use std::io::{self, Write};

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
    head(&mut w, report)?;
    dmarc_dkim(&mut w, report)?;
    arc_spf(&mut w, report)?;
    rest(&mut w, report)
}

fn head(w: &mut Writer<'_>, report: &MessageReport) -> io::Result<()> {
    let s = &report.summary;
    w.title(&format!("Message {}", report.source))?;
    w.line(&format!(
        "Score {} (grade {}){}",
        report.score.score,
        report.score.grade,
        if report.incomplete {
            "; incomplete: a DNS failure left something unknown"
        } else {
            ""
        }
    ))?;
    w.item("From", &s.from.join(", "))?;
    if let Some(subject) = &s.subject {
        w.item("Subject", subject)?;
    }
    if let Some(date) = &s.date {
        w.item("Date", date)?;
    }
    if s.line_ends_converted {
        w.line("(the file had bare LF line ends: read as CRLF, as on the wire)")?;
    }
    Ok(())
}

fn dmarc_dkim(w: &mut Writer<'_>, report: &MessageReport) -> io::Result<()> {
    let d = &report.dmarc;
    w.heading("DMARC")?;
    w.item(
        "Result",
        &format!(
            "{} for {}; disposition: {}",
            d.result.as_str(),
            d.from_domain.as_deref().unwrap_or("(no From domain)"),
            d.disposition.as_str()
        ),
    )?;
    w.item("Why", &d.why)?;
    if let Some(found) = &d.found_at {
        w.item(
            "Policy",
            &format!("{found}: {}", d.record.as_deref().unwrap_or_default()),
        )?;
    }
    w.item(
        "Alignment",
        &format!(
            "SPF {} ({}), DKIM {} ({})",
            if d.spf_aligned {
                "aligned"
            } else {
                "not aligned"
            },
            d.aspf.map_or("relaxed", mode),
            if d.dkim_aligned {
                "aligned"
            } else {
                "not aligned"
            },
            d.adkim.map_or("relaxed", mode)
        ),
    )?;

    w.heading("DKIM")?;
    if report.dkim.is_empty() && report.dkim_malformed.is_empty() {
        w.line("No DKIM-Signature.")?;
    }
    for sig in &report.dkim {
        w.bullet(&format!(
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
        ))?;
        if let Some(reason) = &sig.reason {
            w.sub(&format!("reason: {reason}"))?;
        }
        if let Some(before) = sig.result_ignoring_expiry {
            w.sub(&format!("before it expired: {}", before.as_str()))?;
        }
        w.sub(&format!(
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
        ))?;
        if !sig.unsigned_headers.is_empty() {
            w.sub(&format!("unsigned: {}", sig.unsigned_headers.join(", ")))?;
        }
    }
    for bad in &report.dkim_malformed {
        w.bullet(&format!("unreadable signature: {}", bad.reason))?;
    }
    Ok(())
}

fn arc_spf(w: &mut Writer<'_>, report: &MessageReport) -> io::Result<()> {
    w.heading("ARC")?;
    if report.arc.result == AuthResult::None && report.arc.instances.is_empty() {
        w.line("No ARC chain.")?;
    } else {
        w.item(
            "Chain",
            &format!(
                "{}{}",
                report.arc.result.as_str(),
                report
                    .arc
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        )?;
        for i in &report.arc.instances {
            w.bullet(&format!(
                "i={} d={} s={} cv={}",
                i.instance, i.domain, i.selector, i.cv
            ))?;
        }
    }

    let spf = &report.spf;
    w.heading("SPF")?;
    w.item(
        "Result",
        &match spf.result {
            Some(result) => format!(
                "{} for {} at {}",
                result.as_str(),
                spf.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                spf.domain.as_deref().unwrap_or_default()
            ),
            None => "not evaluated".to_owned(),
        },
    )?;
    w.item("Hop", &spf.source)?;
    if let Some(mail_from) = &spf.mail_from {
        w.item(
            "MAIL FROM",
            if mail_from.is_empty() {
                "<> (a bounce)"
            } else {
                mail_from
            },
        )?;
    }
    if let Some(matched) = &spf.matched {
        w.item("Matched", matched)?;
    }
    if let Some(reason) = &spf.reason {
        w.item("Reason", reason)?;
    }
    Ok(())
}

fn rest(w: &mut Writer<'_>, report: &MessageReport) -> io::Result<()> {
    if !report.comparison.is_empty() {
        w.heading("The receiver's results beside mailaudit's")?;
        for c in &report.comparison {
            w.bullet(&format!(
                "{}: {} says {}, mailaudit says {}{}",
                c.method,
                c.receiver,
                c.receiver_result,
                c.mailaudit_result,
                if c.agree { "" } else { " — differ" }
            ))?;
            if let Some(why) = &c.explanation {
                w.sub(why)?;
            }
        }
    }

    if !report.hops.is_empty() {
        w.heading("Hops (top: the last)")?;
        for hop in &report.hops {
            w.bullet(&format!(
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
            ))?;
        }
    }
    for verdict in &report.spam_verdicts {
        w.item(&verdict.header, &verdict.meaning)?;
    }

    w.heading("Sender requirements")?;
    for r in &report.requirements {
        w.bullet(&format!(
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
        ))?;
    }

    w.heading("Findings")?;
    if report.findings.is_empty() {
        w.line("None.")?;
    }
    for f in &report.findings {
        w.bullet(&format!("{} {}: {}", f.severity, f.code, f.message))?;
        if let Some(fix) = &f.fix {
            w.sub(&format!("fix: {fix}"))?;
        }
    }
    w.line("")?;
    w.line(&format!("Score: {}", report.score.explanation))
}

fn mode(alignment: crate::dmarc::record::Alignment) -> &'static str {
    match alignment {
        crate::dmarc::record::Alignment::Relaxed => "relaxed",
        crate::dmarc::record::Alignment::Strict => "strict",
    }
}

struct Writer<'a> {
    out: &'a mut dyn Write,
    markdown: bool,
}

impl Writer<'_> {
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
