//! SMTP TLS Reporting (RFC 8460): whether senders find where to report the TLS failures they
//! meet delivering to the domain (MTA-STS and DANE failures among them). One TXT question.

pub mod record;

use serde::Serialize;

use crate::dns::Dns;
use crate::finding::{Checked, Code, Finding, Verdict};
use crate::mta_sts::record::{Selected, TxtAnswer, select};

pub use record::{Destination, TlsRptRecord};

/// The TLS-RPT area of the report.
#[derive(Clone, Debug, Serialize)]
pub struct TlsRptReport {
    pub verdict: Verdict,
    /// The TXT answer at `_smtp._tls.<domain>`.
    pub dns: TxtAnswer,
    /// The one `v=TLSRPTv1` record senders use, as fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Where reports go, when the record is valid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rua: Vec<Destination>,
}

/// Checks `_smtp._tls.<domain>`.
pub async fn check(dns: &Dns, domain: &str) -> Checked<TlsRptReport> {
    let name = format!("_smtp._tls.{domain}");
    let answer = dns.txt(&name).await;
    let (shown, selected) = select(&name, &answer, record::VERSION);
    let mut report = TlsRptReport {
        verdict: Verdict::Unknown,
        dns: shown,
        record: None,
        rua: Vec::new(),
    };
    let fix = format!(
        "publish _smtp._tls.{domain} TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\" (mailto: or \
         https: URIs, several separated by commas)"
    );
    let invalid = |why: String| {
        Finding::new(
            Code::TlsrptInvalid,
            format!("{why}: senders send no TLS report (RFC 8460 §3)"),
        )
        .fix(fix.clone())
        .evidence("name", &name)
    };
    let finding = match selected {
        Selected::Failed => Some(
            Finding::new(
                Code::TlsrptLookupFailed,
                format!(
                    "the TLS-RPT record at {name} could not be looked up ({}): whether TLS \
                     failures are reported is unknown",
                    report.dns.answer
                ),
            )
            .evidence("name", &name)
            .evidence("answer", &report.dns.answer),
        ),
        Selected::Nothing => Some(
            Finding::new(
                Code::TlsrptMissing,
                format!(
                    "no TLS-RPT record at {name}: senders cannot report the TLS failures they \
                     meet delivering to the domain (MTA-STS, STARTTLS, certificates)"
                ),
            )
            .fix(fix.clone())
            .evidence("name", &name),
        ),
        Selected::Discarded(texts) => Some(
            invalid(format!(
                "no TXT record at {name} begins with v=TLSRPTv1; (case matters), so senders \
                 discard them"
            ))
            .evidence("records", texts),
        ),
        Selected::Several(texts) => Some(
            invalid(format!(
                "{} records at {name} begin with v=TLSRPTv1: with more than one, senders use \
                 none",
                texts.len()
            ))
            .evidence("records", texts),
        ),
        Selected::One(text) => {
            report.record = Some(text.clone());
            match record::parse(&text) {
                Ok(parsed) => {
                    report.rua = parsed.rua;
                    None
                }
                Err(why) => Some(
                    invalid(format!(
                        "the TLS-RPT record at {name} does not parse: {why}"
                    ))
                    .evidence("record", &text),
                ),
            }
        }
    };
    let findings: Vec<Finding> = finding.into_iter().collect();
    let answered = !findings.iter().any(|f| f.code == Code::TlsrptLookupFailed);
    report.verdict = Verdict::from_findings(&findings, answered);
    Checked { report, findings }
}
