//! `reports --format csv`: one line per record of each DMARC aggregate report (RFC 4180), for
//! spreadsheets: the day, the reporter, the source and how its messages fared.

use std::io::{self, Write};

use crate::reports::Summary;

const HEADER: [&str; 15] = [
    "day",
    "reporter",
    "report_id",
    "policy_domain",
    "source_ip",
    "ptr",
    "service",
    "count",
    "header_from",
    "disposition",
    "dmarc",
    "dkim_aligned",
    "spf_aligned",
    "dkim",
    "spf",
];

pub fn write(out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
    line(out, HEADER.iter().map(|s| (*s).to_owned()))?;
    for row in &summary.dmarc.records {
        line(
            out,
            [
                row.day.clone(),
                row.reporter.clone(),
                row.report_id.clone(),
                row.policy_domain.clone(),
                row.source_ip.clone(),
                row.ptr.clone(),
                row.service.clone(),
                row.count.to_string(),
                row.header_from.clone(),
                row.disposition.to_owned(),
                row.dmarc.to_owned(),
                row.dkim_aligned.to_string(),
                row.spf_aligned.to_string(),
                row.dkim.clone(),
                row.spf.clone(),
            ]
            .into_iter(),
        )?;
    }
    Ok(())
}

fn line(out: &mut dyn Write, fields: impl Iterator<Item = String>) -> io::Result<()> {
    let fields: Vec<String> = fields.map(|f| field(&f)).collect();
    write!(out, "{}\r\n", fields.join(","))
}

/// A field quoted when it must be (RFC 4180 §2.6-2.7), and a leading `=`, `+`, `-` or `@`
/// defused so that a spreadsheet does not run a reporter's text as a formula.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("example.com"), "example.com");
    }
}
