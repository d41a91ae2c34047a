//! `mailaudit message`: the authentication of one received message (RFC 5322), as a receiver
//! saw it and as mailaudit evaluates it now.
//!
//! DKIM and ARC are verified with mail-auth ([`verify`]), SPF with the project's own
//! `check_host()` for the hop that delivered the message ([`sender`]), DMARC from the project's
//! own policy discovery with RFC 7489 §3.1 alignment ([`alignment`]); the receiver's
//! `Authentication-Results` (RFC 8601) are set beside them ([`compare`]) and the sender
//! requirements that need a message are judged ([`checks`]). Results are data; the only errors
//! are "could not run" ([`MessageError`]).

pub mod alignment;
pub mod auth_results;
pub mod checks;
pub mod compare;
pub mod headers;
pub mod sender;
pub mod verify;

use std::io::Read;
use std::path::Path;

use mail_auth::AuthenticatedMessage;
use serde::Serialize;

use crate::dns::Dns;
use crate::finding::{Finding, Severity};
use crate::requirements::Requirement;
use crate::score::{self, Score};

use headers::{Field, Hop, SpamVerdict};

/// The largest message read: bigger than any provider accepts (Gmail 25 MB, Outlook 150 MB
/// of MIME is rare); beyond it the file is refused, not read into memory.
pub const MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;

/// The most header fields analysed: real messages have tens to a few hundred; more is hostile or
/// broken, and each field costs DKIM and ARC work.
pub const MAX_HEADER_FIELDS: usize = 1000;

/// Why a message could not be analysed at all.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("cannot read '{path}': {reason}")]
    Read { path: String, reason: String },
    #[error("'{path}' is larger than {} MB: not analysed", MAX_MESSAGE_BYTES / (1024 * 1024))]
    TooLarge { path: String },
    #[error(
        "'{path}' is not an RFC 5322 message: no header fields (From:, Received: ...) at its start"
    )]
    NotAMessage { path: String },
    #[error(
        "'{path}' has {count} header fields, more than {MAX_HEADER_FIELDS}: not analysed (a real message has at most a few hundred)"
    )]
    TooManyHeaders { path: String, count: usize },
}

/// Which hop to trust for SPF, and the clock.
#[derive(Clone, Debug, Default)]
pub struct MessageOptions {
    /// `--hops N`: the N-th `Received` field from the top was written by the receiver's border
    /// MTA; the client it names delivered the message.
    pub hops: Option<usize>,
    /// `--ip`: the delivering client, instead of reading it from the headers.
    pub ip: Option<std::net::IpAddr>,
    /// `--mail-from`: the envelope sender (empty: a bounce).
    pub mail_from: Option<String>,
    /// `--helo`.
    pub helo: Option<String>,
}

/// The headline facts of the message.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Every address of the From fields.
    pub from: Vec<String>,
    /// The RFC5322.From domain DMARC evaluates (of the first address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_domain: Option<String>,
    pub from_fields: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_path: Option<String>,
    pub header_fields: usize,
    pub body_bytes: usize,
    /// The file had bare LF line ends, turned into CRLF as on the wire (RFC 5322 §2.1).
    pub line_ends_converted: bool,
}

/// The analysis of one message: what `mailaudit message` reports.
#[derive(Clone, Debug, Serialize)]
pub struct MessageReport {
    /// The file analysed (`-`: standard input).
    pub source: String,
    pub summary: Summary,
    pub dkim: Vec<verify::DkimSignature>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dkim_malformed: Vec<verify::MalformedSignature>,
    pub arc: verify::ArcReport,
    pub spf: sender::SpfCheck,
    pub dmarc: alignment::DmarcCheck,
    /// Every `Authentication-Results` field, top (the last receiver) first.
    pub receiver_results: Vec<auth_results::AuthResults>,
    /// The receiver's verdicts beside mailaudit's.
    pub comparison: Vec<compare::Comparison>,
    /// The `Received` fields, top first.
    pub hops: Vec<Hop>,
    pub unsubscribe: checks::Unsubscribe,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spam_verdicts: Vec<SpamVerdict>,
    pub requirements: Vec<Requirement>,
    pub findings: Vec<Finding>,
    pub score: Score,
    /// Something could not be determined (a DNS failure): results say "unknown" there.
    pub incomplete: bool,
}

impl MessageReport {
    /// The most severe finding that counts for `--fail-on` (an incomplete analysis counts as an
    /// error, as an incomplete audit does).
    pub fn fail_level(&self) -> Option<Severity> {
        let worst = self.findings.iter().map(|f| f.severity).max();
        if self.incomplete {
            worst.max(Some(Severity::Error))
        } else {
            worst
        }
    }
}

/// Reads a message file (`-`: standard input), at most [`MAX_MESSAGE_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>, MessageError> {
    let shown = path.display().to_string();
    let error = |e: std::io::Error| MessageError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let reader: Box<dyn Read> = if crate::input::is_stream(path) {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(error)?)
    };
    let mut raw = Vec::new();
    reader
        .take(MAX_MESSAGE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(error)?;
    if raw.len() as u64 > MAX_MESSAGE_BYTES {
        return Err(MessageError::TooLarge { path: shown });
    }
    Ok(raw)
}

/// The message as on the wire: a file saved with bare LF line ends (most `.eml` exports, pasted
/// headers) gets CRLF, which DKIM's canonicalization assumes (RFC 6376 §3.4). Whether it was
/// converted is the second value.
pub fn wire_form(raw: Vec<u8>) -> (Vec<u8>, bool) {
    if raw.contains(&b'\r') || !raw.contains(&b'\n') {
        return (raw, false);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    for byte in raw {
        if byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
    (out, true)
}

/// Analyses a message read from `source` (its name, for messages). `raw` is the wire form.
pub async fn analyse(
    dns: &Dns,
    source: &str,
    raw: &[u8],
    line_ends_converted: bool,
    options: &MessageOptions,
) -> Result<MessageReport, MessageError> {
    let message = parse(source, raw)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let fields: Vec<Field> = message
        .headers
        .iter()
        .map(|(name, value)| Field::from_raw(name, value))
        .collect();
    let summary = summarise(
        &fields,
        message.raw_message.len(),
        message.body_offset,
        line_ends_converted,
    );
    let hops: Vec<Hop> = headers::values(&fields, "received")
        .enumerate()
        .map(|(i, value)| headers::parse_received(i + 1, value))
        .collect();
    let (mut verified, mut spf) = tokio::join!(
        verify::verify(dns, &message, &fields, now),
        sender::check(dns, &fields, &hops, options)
    );
    let dmarc = alignment::evaluate(
        dns,
        summary.from_domain.as_deref(),
        &spf,
        &mut verified.signatures,
    )
    .await;
    spf.aligned = dmarc.spf_aligned;
    let receiver_results: Vec<auth_results::AuthResults> =
        headers::values(&fields, "authentication-results")
            .filter_map(auth_results::parse)
            .collect();
    let comparison = compare::compare(receiver_results.first(), &verified, &spf, &dmarc);
    let unsubscribe = checks::unsubscribe(&fields, &verified.signatures);
    let spam_verdicts: Vec<SpamVerdict> = fields.iter().filter_map(headers::spam_verdict).collect();
    let facts = checks::Facts {
        summary: &summary,
        signatures: &verified.signatures,
        malformed: &verified.malformed,
        arc: &verified.arc,
        spf: &spf,
        dmarc: &dmarc,
        hops: &hops,
        unsubscribe: &unsubscribe,
        spam_verdicts: &spam_verdicts,
        comparison: &comparison,
    };
    let findings = crate::finding::limit_per_code(checks::findings(&facts));
    let requirements = checks::requirements(&facts);
    let incomplete = findings.iter().any(|f| f.code.means_unknown());
    let score = score::score(
        &findings,
        score::Conditions {
            incomplete,
            unreachable: false,
        },
    );
    Ok(MessageReport {
        source: source.to_owned(),
        summary,
        dkim: verified.signatures,
        dkim_malformed: verified.malformed,
        arc: verified.arc,
        spf,
        dmarc,
        receiver_results,
        comparison,
        hops,
        unsubscribe,
        spam_verdicts,
        requirements,
        findings,
        score,
        incomplete,
    })
}

/// Checks that `raw` is a message that can be analysed, before anything is asked.
pub fn check(source: &str, raw: &[u8]) -> Result<(), MessageError> {
    parse(source, raw).map(|_| ())
}

/// Parses the header section with mail-auth (no MIME parsing: the body is hashed as bytes, so
/// deep MIME nesting costs nothing), within [`MAX_HEADER_FIELDS`].
fn parse<'x>(source: &str, raw: &'x [u8]) -> Result<AuthenticatedMessage<'x>, MessageError> {
    let not_a_message = || MessageError::NotAMessage {
        path: source.to_owned(),
    };
    // Strict parsing would drop a signature with l= before verifying it; it is verified here and
    // its l= reported as a warning instead.
    let message =
        AuthenticatedMessage::parse_with_opts(raw, None, false).ok_or_else(not_a_message)?;
    if message.headers.len() > MAX_HEADER_FIELDS {
        return Err(MessageError::TooManyHeaders {
            path: source.to_owned(),
            count: message.headers.len(),
        });
    }
    // A file of text that is not a message: no field name mail knows.
    let known = [
        "from",
        "received",
        "to",
        "subject",
        "date",
        "message-id",
        "dkim-signature",
        "return-path",
    ];
    if !message.headers.iter().any(|(name, _)| {
        let name = String::from_utf8_lossy(name);
        known.iter().any(|k| name.trim().eq_ignore_ascii_case(k))
    }) {
        return Err(not_a_message());
    }
    Ok(message)
}

fn summarise(fields: &[Field], total: usize, body_offset: u32, converted: bool) -> Summary {
    let from: Vec<String> = headers::values(fields, "from")
        .flat_map(headers::addresses)
        .collect();
    let first = |name: &str| headers::values(fields, name).next().map(str::to_owned);
    Summary {
        from_domain: from.first().and_then(|a| headers::domain_of(a)),
        from,
        from_fields: fields.iter().filter(|f| f.is("from")).count(),
        subject: first("subject"),
        message_id: first("message-id"),
        date: first("date"),
        return_path: first("return-path").map(|r| headers::strip_angle(&r).to_owned()),
        header_fields: fields.len(),
        body_bytes: total.saturating_sub(body_offset as usize),
        line_ends_converted: converted,
    }
}
