//! Reading report files: DMARC aggregate reports (RFC 7489 appendix C, RFC 9990; `.xml`,
//! `.xml.gz`, `.zip`, or attached to an email) and TLS-RPT reports (RFC 8460 §4: JSON, `.json.gz`,
//! or attached to an email), parsed with mail-auth. A file is recognised by its content, not its
//! name. Every read is capped, compressed or not: a zip bomb is refused by the size its archive
//! declares and again by the bytes it actually inflates to; XML entities are never expanded
//! (quick-xml reports them as references, which mail-auth ignores).

use std::fs;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use mail_auth::report::tlsrpt::TlsReport;
use mail_auth::report::{DmarcResult, Report};

/// The largest file read, as stored (a report of a big receiver is a few megabytes).
pub const MAX_FILE: u64 = 32 * 1024 * 1024;
/// The largest report once decompressed, and the most one archive may inflate to in all.
pub const MAX_REPORT: usize = 32 * 1024 * 1024;
/// The most files one zip archive may hold (a report archive holds one).
const MAX_ZIP_ENTRIES: usize = 64;
/// How deep folders are walked.
const MAX_DEPTH: usize = 16;
/// How deep compression may nest (a `.zip` holding a `.gz`, no more).
const MAX_NESTING: usize = 2;

/// One report read from a file.
#[derive(Debug)]
pub enum Parsed {
    Dmarc(Box<Report>),
    Tls(Box<TlsReport>),
}

/// Why a file was skipped: each message is shown after the file's name.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    #[error("larger than the limit of {} MB ({what})", .limit / (1024 * 1024))]
    TooLarge { limit: u64, what: &'static str },
    #[error("not a valid zip archive: {0}")]
    Zip(String),
    #[error("not a valid gzip file: {0}")]
    Gzip(String),
    #[error("a zip archive of more than {MAX_ZIP_ENTRIES} files: not a report archive")]
    TooManyEntries,
    #[error("compressed more than {MAX_NESTING} times over: not a report")]
    TooNested,
    #[error("an empty file")]
    Empty,
    #[error("not a valid DMARC aggregate report: {0}")]
    Dmarc(String),
    #[error("not a valid TLS-RPT report: {0}")]
    Tls(String),
    #[error("an email message without a DMARC aggregate or TLS-RPT report attached")]
    NoReport,
    #[error("neither a report (XML, JSON, gzip, zip) nor an email message with one")]
    Unknown,
}

/// Where reports are read from: a file or standard input (`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    /// How the file is named in messages and in the output.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "-".to_owned(),
            Source::File(path) => path.display().to_string(),
        }
    }
}

/// Extensions of the files a walked folder skips: the pages, tables and checklists mailaudit
/// itself writes (`reports --format html` writes under `reports/`), never a report. A file
/// named on the command line is read whatever its name.
const OUTPUT_EXTENSIONS: [&str; 5] = ["html", "htm", "csv", "md", "pdf"];

/// The files named on the command line, folders walked (sorted, hidden names, links to folders
/// and [`OUTPUT_EXTENSIONS`] skipped) to at most [`MAX_DEPTH`] levels. A path that does not exist is an error of
/// its own, returned in order with the files.
pub fn sources(paths: &[PathBuf]) -> Vec<(Source, Option<ReadError>)> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push((Source::Stdin, None));
        } else {
            walk(path, 0, &mut out);
        }
    }
    out
}

fn walk(path: &Path, depth: usize, out: &mut Vec<(Source, Option<ReadError>)>) {
    let is_dir = fs::metadata(path).is_ok_and(|meta| meta.is_dir());
    if !is_dir {
        // A missing file's error comes when it is read, with its name.
        out.push((Source::File(path.to_owned()), None));
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) => {
            out.push((Source::File(path.to_owned()), Some(error.into())));
            return;
        }
    };
    let mut children: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter(|entry| {
            !Path::new(&entry.file_name())
                .extension()
                .is_some_and(|ext| {
                    OUTPUT_EXTENSIONS
                        .iter()
                        .any(|out| ext.eq_ignore_ascii_case(out))
                })
        })
        .filter_map(|entry| {
            let kind = entry.file_type().ok()?;
            // A link to a folder is not followed (no cycles); a link to a file is read.
            let is_dir = kind.is_dir();
            (is_dir || !kind.is_symlink() || entry.path().is_file()).then(|| (entry.path(), is_dir))
        })
        .collect();
    children.sort();
    for (child, is_dir) in children {
        if is_dir {
            walk(&child, depth + 1, out);
        } else {
            out.push((Source::File(child), None));
        }
    }
}

/// Reads and parses every report of `source`.
pub fn read(source: &Source) -> Result<Vec<Parsed>, ReadError> {
    let bytes = match source {
        Source::Stdin => capped(io::stdin().lock(), MAX_FILE, "the input")?,
        Source::File(path) => {
            let file = fs::File::open(path)?;
            if file.metadata()?.len() > MAX_FILE {
                return Err(ReadError::TooLarge {
                    limit: MAX_FILE,
                    what: "the file",
                });
            }
            capped(file, MAX_FILE, "the file")?
        }
    };
    parse(&bytes, 0)
}

/// Reads at most `limit` bytes; more is an error, so memory stays bounded whatever a
/// decompressor or a pipe produces.
fn capped(reader: impl Read, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit, what });
    }
    Ok(bytes)
}

/// Parses the bytes of a file or of a decompressed member, by what they start with.
pub fn parse(bytes: &[u8], nesting: usize) -> Result<Vec<Parsed>, ReadError> {
    let text = trim_start(bytes);
    if text.is_empty() {
        return Err(ReadError::Empty);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) || bytes.starts_with(b"PK\x03\x04") {
        if nesting >= MAX_NESTING {
            return Err(ReadError::TooNested);
        }
        return if bytes[0] == 0x1f {
            gunzip(bytes, nesting)
        } else {
            unzip(bytes, nesting)
        };
    }
    match text[0] {
        b'<' => dmarc_xml(text).map(|report| vec![report]),
        b'{' => tls_json(text).map(|report| vec![report]),
        _ if text.starts_with(b"From ") => mbox(text),
        _ if looks_like_message(text) => message(text),
        _ => Err(ReadError::Unknown),
    }
}

/// Without a byte-order mark or leading white space.
fn trim_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// An RFC 5322 message starts with a header field: a name of printable characters and a colon
/// (RFC 5322 §2.2).
fn looks_like_message(text: &[u8]) -> bool {
    let name_end = text.iter().position(|&b| b == b':').unwrap_or(0);
    name_end > 0 && text[..name_end].iter().all(|&b| b.is_ascii_graphic())
}

fn gunzip(bytes: &[u8], nesting: usize) -> Result<Vec<Parsed>, ReadError> {
    // Several gzip members one after the other are one stream (RFC 1952 §2.2).
    let inflated = match capped(
        flate2::read::MultiGzDecoder::new(bytes),
        MAX_REPORT as u64,
        "decompressed",
    ) {
        Err(ReadError::Io(error)) => return Err(ReadError::Gzip(error.to_string())),
        other => other?,
    };
    parse(&inflated, nesting + 1)
}

fn unzip(bytes: &[u8], nesting: usize) -> Result<Vec<Parsed>, ReadError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ReadError::Zip(e.to_string()))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ReadError::TooManyEntries);
    }
    let mut left = MAX_REPORT as u64;
    let mut reports = Vec::new();
    for index in 0..archive.len() {
        let member = archive
            .by_index(index)
            .map_err(|e| ReadError::Zip(e.to_string()))?;
        if member.is_dir() {
            continue;
        }
        // The declared size first (a bomb says what it will become), then the real bytes.
        if member.size() > left {
            return Err(ReadError::TooLarge {
                limit: MAX_REPORT as u64,
                what: "declared by the zip archive",
            });
        }
        let inflated = match capped(member, left, "decompressed") {
            Err(ReadError::Io(error)) => return Err(ReadError::Zip(error.to_string())),
            Err(ReadError::TooLarge { .. }) => {
                return Err(ReadError::TooLarge {
                    limit: MAX_REPORT as u64,
                    what: "decompressed",
                });
            }
            other => other?,
        };
        left -= inflated.len() as u64;
        reports.extend(parse(&inflated, nesting + 1)?);
    }
    if reports.is_empty() {
        return Err(ReadError::Zip("no file in the archive".to_owned()));
    }
    Ok(reports)
}

fn dmarc_xml(text: &[u8]) -> Result<Parsed, ReadError> {
    // Bytes that are not UTF-8 (a reporter's mangled header_from) become U+FFFD rather than
    // losing the report: the counts are still right, and the bad text shows as such.
    let text = String::from_utf8_lossy(text);
    let report = match Report::parse_xml(text.as_bytes()) {
        Ok(report) => report,
        // Some reporters wrap <feedback> in another element (an xs:schema): read the feedback
        // element itself, as receivers of reports do.
        Err(error) => feedback_element(&text)
            .and_then(|inner| Report::parse_xml(inner.as_bytes()).ok())
            .ok_or(ReadError::Dmarc(error))?,
    };
    validate(&report).map_err(ReadError::Dmarc)?;
    Ok(Parsed::Dmarc(Box::new(report)))
}

/// The `<feedback>` element of a document whose root is another element.
fn feedback_element(text: &str) -> Option<&str> {
    let start = text
        .find("<feedback>")
        .or_else(|| text.find("<feedback "))?;
    let end = text.rfind("</feedback>")? + "</feedback>".len();
    (start > 0 && end > start).then(|| &text[start..end])
}

/// What RFC 7489 appendix C requires beyond what mail-auth checks: a report ID and the policy
/// domain, and each row's DMARC results as `pass` or `fail` (`DMARCResultType`; mail-auth reads
/// anything else, such as `Pass`, as unspecified).
fn validate(report: &Report) -> Result<(), String> {
    if report.report_metadata.report_id.trim().is_empty() {
        return Err("report_metadata has no report_id".to_owned());
    }
    if report.policy_published.domain.trim().is_empty() {
        return Err("policy_published has no domain".to_owned());
    }
    for (index, record) in report.record.iter().enumerate() {
        let evaluated = &record.row.policy_evaluated;
        for (name, result) in [("dkim", evaluated.dkim), ("spf", evaluated.spf)] {
            if result == DmarcResult::Unspecified {
                return Err(format!(
                    "record {}: policy_evaluated/{name} is not 'pass' or 'fail'",
                    index + 1
                ));
            }
        }
    }
    Ok(())
}

/// A TLS-RPT report (RFC 8460 §4.4). RFC 8460's own example (appendix B) writes `mx-host` as
/// one string where §4.4 has a list; both are read.
fn tls_json(text: &[u8]) -> Result<Parsed, ReadError> {
    let invalid = |error: serde_json::Error| ReadError::Tls(error.to_string());
    let mut value: serde_json::Value = serde_json::from_slice(text).map_err(invalid)?;
    if let Some(policies) = value
        .get_mut("policies")
        .and_then(serde_json::Value::as_array_mut)
    {
        for policy in policies {
            if let Some(mx) = policy.pointer_mut("/policy/mx-host")
                && mx.is_string()
            {
                *mx = serde_json::Value::Array(vec![mx.take()]);
            }
        }
    }
    let text = serde_json::to_vec(&value).map_err(invalid)?;
    let report = TlsReport::parse_json(&text).map_err(|e| ReadError::Tls(mail_auth_error(&e)))?;
    Ok(Parsed::Tls(Box::new(report)))
}

/// An email message with a report attached: a DMARC aggregate report, else a TLS-RPT report
/// (mail-auth looks for each by the attachment's type and name: a `.gz` may hold either).
fn message(text: &[u8]) -> Result<Vec<Parsed>, ReadError> {
    use mail_auth::report::Error;
    let dmarc_error = match Report::parse_rfc5322(text, MAX_REPORT) {
        Ok(report) => {
            validate(&report).map_err(ReadError::Dmarc)?;
            return Ok(vec![Parsed::Dmarc(Box::new(report))]);
        }
        Err(error) => error,
    };
    match TlsReport::parse_rfc5322(text, MAX_REPORT) {
        Ok(report) => Ok(vec![Parsed::Tls(Box::new(report))]),
        Err(Error::NoReportsFound) if dmarc_error != Error::NoReportsFound => {
            Err(from_mail_auth(&dmarc_error, ReadError::Dmarc))
        }
        Err(error) => Err(from_mail_auth(&error, ReadError::Tls)),
    }
}

fn from_mail_auth(error: &mail_auth::report::Error, invalid: fn(String) -> ReadError) -> ReadError {
    use mail_auth::report::Error;
    match error {
        Error::ReportTooLarge => ReadError::TooLarge {
            limit: MAX_REPORT as u64,
            what: "decompressed",
        },
        Error::NoReportsFound => ReadError::NoReport,
        other => invalid(mail_auth_error(other)),
    }
}

fn mail_auth_error(error: &mail_auth::report::Error) -> String {
    use mail_auth::report::Error;
    match error {
        Error::MailParseError => "not a parsable email message".to_owned(),
        Error::ReportParseError(reason) => reason.clone(),
        Error::UncompressError(reason) => format!("cannot decompress the attachment: {reason}"),
        Error::ReportTooLarge => "the attachment is too large".to_owned(),
        Error::NoReportsFound => "no report found".to_owned(),
    }
}

/// An mbox (RFC 4155): messages each opened by a `From ` line. Messages without a report (a
/// reply, a bounce) are passed over; a mailbox with none at all is an error.
fn mbox(text: &[u8]) -> Result<Vec<Parsed>, ReadError> {
    let mut reports = Vec::new();
    let mut first_error = None;
    for part in split_mbox(text) {
        match message(part) {
            Ok(found) => reports.extend(found),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if reports.is_empty() {
        return Err(first_error.unwrap_or(ReadError::NoReport));
    }
    Ok(reports)
}

/// The messages of an mbox, each without its `From ` separator line.
fn split_mbox(text: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = vec![0];
    starts.extend(
        text.windows(6)
            .enumerate()
            .filter(|(_, window)| *window == b"\nFrom ")
            .map(|(at, _)| at + 1),
    );
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            let part = &text[start..end];
            part.iter()
                .position(|&b| b == b'\n')
                .map_or(&part[part.len()..], |nl| &part[nl + 1..])
        })
        .filter(|body| !trim_start(body).is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_walk_skips_the_pages_mailaudit_writes_but_a_named_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let pages = dir.path().join("reports");
        fs::create_dir(&pages).unwrap();
        for name in [
            "dmarc-reports-20261201.html",
            "out.CSV",
            "ticket.md",
            "a.xml",
        ] {
            fs::write(pages.join(name), "x").unwrap();
        }
        let found: Vec<String> = sources(&[dir.path().to_owned()])
            .iter()
            .map(|(source, _)| source.name())
            .collect();
        assert_eq!(found, [pages.join("a.xml").display().to_string()]);
        let page = pages.join("ticket.md");
        assert_eq!(sources(std::slice::from_ref(&page)).len(), 1);
    }

    #[test]
    fn a_file_is_recognised_by_its_content() {
        assert!(matches!(parse(b"", 0), Err(ReadError::Empty)));
        assert!(matches!(parse(b"hello world", 0), Err(ReadError::Unknown)));
        assert!(matches!(parse(b"{}", 0), Err(ReadError::Tls(_))));
        assert!(matches!(parse(b"<html/>", 0), Err(ReadError::Dmarc(_))));
    }

    #[test]
    fn an_mbox_is_split_into_its_messages() {
        let mbox = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\nbody\nFrom b@c Tue\nSubject: two\n\nx\n";
        let parts = split_mbox(mbox);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].starts_with(b"Subject: one"));
        assert!(parts[1].starts_with(b"Subject: two"));
    }

    #[test]
    fn an_uppercase_result_is_not_a_valid_dmarc_result() {
        let xml = b"<feedback><report_metadata><org_name>o</org_name><report_id>1</report_id>\
            </report_metadata><policy_published><domain>example.com</domain></policy_published>\
            <record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated>\
            <disposition>none</disposition><dkim>Pass</dkim><spf>pass</spf></policy_evaluated>\
            </row><identifiers><header_from>example.com</header_from></identifiers></record></feedback>";
        let error = parse(xml, 0).unwrap_err().to_string();
        assert!(error.contains("policy_evaluated/dkim"), "{error}");
    }
}
