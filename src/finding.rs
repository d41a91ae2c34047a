//! Findings: the stable codes of `findings.md`, their severities, and the evidence behind them.
//!
//! A finding is data, never an error: an audit that finds nothing but problems still ran.
//! Codes are the public contract (scripts and monitoring key on them), so [`Code`] is the one
//! place that spells them; a code never changes meaning once shipped.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::publish::Change;

/// How bad a finding is, ordered from least to most severe so that `>=` compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A fact worth knowing.
    Info,
    /// Weaker than best practice, risky.
    Warning,
    /// A standard is violated or a receiver will fail the check.
    Error,
    /// Mail is being rejected or is spoofable now.
    Critical,
}

impl Severity {
    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares [`Code`] with each code's public name and default severity, in one table.
macro_rules! codes {
    ($($variant:ident => $name:literal, $severity:ident;)*) => {
        /// A finding code of `findings.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Code {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl Code {
            /// Every code, in the order of `findings.md`.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable public name, e.g. `spf.missing`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity `findings.md` gives the code (a few codes may be raised at
            /// another severity where the table says so, e.g. `ip.listed`).
            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    DnsNameserversFailed => "dns.nameservers-failed", Critical;

    SpfMissing => "spf.missing", Error;
    SpfMultipleRecords => "spf.multiple-records", Error;
    SpfSyntax => "spf.syntax", Error;
    SpfLookupLimit => "spf.lookup-limit", Error;
    SpfLookupNearLimit => "spf.lookup-near-limit", Warning;
    SpfVoidLookupLimit => "spf.void-lookup-limit", Error;
    SpfIncludeMissing => "spf.include-missing", Error;
    SpfLoop => "spf.loop", Error;
    SpfMxLimit => "spf.mx-limit", Error;
    SpfPassAll => "spf.pass-all", Critical;
    SpfNeutralAll => "spf.neutral-all", Warning;
    SpfNoAll => "spf.no-all", Warning;
    SpfPtr => "spf.ptr", Warning;
    SpfTooLong => "spf.too-long", Warning;
    SpfIpNotAuthorized => "spf.ip-not-authorized", Error;
    SpfHeloNotAuthorized => "spf.helo-not-authorized", Warning;
    SpfLookupFailed => "spf.lookup-failed", Error;

    DmarcMissing => "dmarc.missing", Error;
    DmarcMultipleRecords => "dmarc.multiple-records", Error;
    DmarcSyntax => "dmarc.syntax", Error;
    DmarcPolicyNone => "dmarc.policy-none", Warning;
    DmarcTesting => "dmarc.testing", Warning;
    DmarcPctPartial => "dmarc.pct-partial", Warning;
    DmarcNoRua => "dmarc.no-rua", Warning;
    DmarcRuaUnauthorized => "dmarc.rua-unauthorized", Error;
    DmarcSpWeaker => "dmarc.sp-weaker", Warning;
    DmarcInherited => "dmarc.inherited", Info;
    DmarcLookupFailed => "dmarc.lookup-failed", Error;
    DmarcMailRejected => "dmarc.mail-rejected", Critical;
    DmarcTooManyDestinations => "dmarc.too-many-destinations", Warning;
    DmarcUnknownTag => "dmarc.unknown-tag", Warning;

    DkimNotFound => "dkim.not-found", Warning;
    DkimWeakKey => "dkim.weak-key", Warning;
    DkimInsecureKey => "dkim.insecure-key", Critical;
    DkimRevoked => "dkim.revoked", Info;
    DkimTesting => "dkim.testing", Warning;
    DkimSyntax => "dkim.syntax", Error;
    DkimSha1 => "dkim.sha1", Error;
    DkimLookupFailed => "dkim.lookup-failed", Error;
    DkimOversizeKey => "dkim.oversize-key", Warning;

    MxMissing => "mx.missing", Warning;
    MxNull => "mx.null", Info;
    MxNullMixed => "mx.null-mixed", Error;
    MxNullNonzero => "mx.null-nonzero", Error;
    MxCname => "mx.cname", Error;
    MxIpLiteral => "mx.ip-literal", Error;
    MxHostUnresolvable => "mx.host-unresolvable", Error;
    MxPrivateAddress => "mx.private-address", Error;
    MxLookupFailed => "mx.lookup-failed", Error;

    IpListed => "ip.listed", Critical;
    IpDnsblRefused => "ip.dnsbl-refused", Warning;
    IpDnsblUnavailable => "ip.dnsbl-unavailable", Info;
    IpNoPtr => "ip.no-ptr", Error;
    IpFcrdnsMismatch => "ip.fcrdns-mismatch", Error;
    IpGenericPtr => "ip.generic-ptr", Warning;
    DomainListed => "domain.listed", Critical;

    MtastsMissing => "mtasts.missing", Info;
    MtastsInvalid => "mtasts.invalid", Error;
    MtastsPolicyUnreachable => "mtasts.policy-unreachable", Error;
    MtastsMxMismatch => "mtasts.mx-mismatch", Error;
    MtastsTesting => "mtasts.testing", Info;
    MtastsMxTlsFailed => "mtasts.mx-tls-failed", Error;
    MtastsLookupFailed => "mtasts.lookup-failed", Error;
    TlsrptMissing => "tlsrpt.missing", Info;
    TlsrptInvalid => "tlsrpt.invalid", Error;
    TlsrptLookupFailed => "tlsrpt.lookup-failed", Error;
    BimiMissing => "bimi.missing", Info;
    BimiInvalid => "bimi.invalid", Error;
    BimiDmarcNotEnforced => "bimi.dmarc-not-enforced", Warning;
    BimiNoCertificate => "bimi.no-certificate", Info;
    BimiLogoUnreachable => "bimi.logo-unreachable", Error;
    BimiLogoInvalid => "bimi.logo-invalid", Error;
    BimiCertificateUnreachable => "bimi.certificate-unreachable", Error;
    BimiCertificateInvalid => "bimi.certificate-invalid", Error;
    BimiCertificateExpiring => "bimi.certificate-expiring", Warning;
    BimiLookupFailed => "bimi.lookup-failed", Error;
    DnssecUnsigned => "dnssec.unsigned", Info;
    DnssecBogus => "dnssec.bogus", Critical;
    DnssecLookupFailed => "dnssec.lookup-failed", Error;
    DaneInvalid => "dane.invalid", Error;
    DaneUnsigned => "dane.unsigned", Warning;
    DaneMismatch => "dane.mismatch", Critical;
    DaneLookupFailed => "dane.lookup-failed", Error;

    SmtpConnectRefused => "smtp.connect-refused", Error;
    SmtpTimeout => "smtp.timeout", Error;
    SmtpNoStarttls => "smtp.no-starttls", Error;
    SmtpTlsFailed => "smtp.tls-failed", Error;
    SmtpCertInvalid => "smtp.cert-invalid", Error;
    SmtpTlsOutdated => "smtp.tls-outdated", Warning;
    SmtpAuthPlaintext => "smtp.auth-plaintext", Critical;
    SmtpBannerMismatch => "smtp.banner-mismatch", Warning;
    SmtpAuthFailed => "smtp.auth-failed", Error;
    SmtpCertExpiring => "smtp.cert-expiring", Warning;
    SmtpProtocolError => "smtp.protocol-error", Error;
    SmtpNoAddress => "smtp.no-address", Error;

    MessageDkimMissing => "message.dkim-missing", Error;
    MessageDkimFail => "message.dkim-fail", Error;
    MessageDkimMalformed => "message.dkim-malformed", Error;
    MessageDkimLookupFailed => "message.dkim-lookup-failed", Error;
    MessageDkimExpired => "message.dkim-expired", Warning;
    MessageDkimLength => "message.dkim-length", Warning;
    MessageDkimFromNotOversigned => "message.dkim-from-not-oversigned", Info;
    MessageDkimHeadersUnsigned => "message.dkim-headers-unsigned", Warning;
    MessageDkimWeakKey => "message.dkim-weak-key", Warning;
    MessageDkimUnaligned => "message.dkim-unaligned", Warning;
    MessageArcFail => "message.arc-fail", Warning;
    MessageSpfFail => "message.spf-fail", Error;
    MessageSpfNotChecked => "message.spf-not-checked", Info;
    MessageSpfLookupFailed => "message.spf-lookup-failed", Error;
    MessageDmarcFail => "message.dmarc-fail", Error;
    MessageDmarcMissing => "message.dmarc-missing", Warning;
    MessageDmarcLookupFailed => "message.dmarc-lookup-failed", Error;
    MessageResultsDiffer => "message.results-differ", Info;
    MessageNoUnsubscribe => "message.no-unsubscribe", Warning;
    MessageUnsubscribeUnsigned => "message.unsubscribe-unsigned", Warning;
    MessageFromCount => "message.from-count", Error;
    MessageNoMessageId => "message.no-message-id", Warning;
    MessageNoDate => "message.no-date", Error;
    MessageNoTls => "message.no-tls", Warning;
    MessageSpamVerdict => "message.spam-verdict", Warning;
}

impl Code {
    /// Whether the code says "could not be determined" (a DNS failure, a list that could not
    /// answer) rather than a problem of the target: such a finding makes the audit incomplete,
    /// costs no points, and is never a change between monitor runs.
    pub fn means_unknown(self) -> bool {
        matches!(
            self,
            Code::SpfLookupFailed
                | Code::DmarcLookupFailed
                | Code::DkimLookupFailed
                | Code::MxLookupFailed
                | Code::MtastsLookupFailed
                | Code::TlsrptLookupFailed
                | Code::BimiLookupFailed
                | Code::DnssecLookupFailed
                | Code::DaneLookupFailed
                | Code::IpDnsblRefused
                | Code::IpDnsblUnavailable
                | Code::MessageDkimLookupFailed
                | Code::MessageSpfLookupFailed
                | Code::MessageDmarcLookupFailed
        )
    }

    /// The area of the code: its name up to the first dot (`spf`, `dmarc`, `ip` ...).
    pub fn area(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(area, _)| area)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem or fact, with what to do about it and what it was seen in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// One line: what is wrong.
    pub message: String,
    /// What to publish or change instead; `None` for facts that need no action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The record, the name queried, the answer: why the finding was raised.
    #[serde(default)]
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// The change to a record that fixes it, as data: the report merges every finding's change
    /// to one name into one record to publish ([`crate::publish::records`]).
    #[serde(skip)]
    pub change: Option<Box<Change>>,
}

impl Finding {
    /// A finding at the code's default severity, with no fix and no evidence yet.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: code.default_severity(),
            message: message.into(),
            fix: None,
            evidence: BTreeMap::new(),
            change: None,
        }
    }

    /// Sets what to publish or change instead.
    #[must_use]
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Sets the change to a record that fixes it (see [`crate::publish`]).
    #[must_use]
    pub fn change(mut self, change: Change) -> Self {
        self.change = Some(Box::new(change));
        self
    }

    /// Adds one piece of evidence.
    #[must_use]
    pub fn evidence(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.evidence.insert(key.to_owned(), value);
        self
    }

    /// Raises or lowers the severity where `findings.md` allows a code more than one.
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// Findings of one code a report lists; the rest become one finding that counts them and quotes
/// a few ([`limit_per_code`]).
pub const MAX_FINDINGS_PER_CODE: usize = 10;

/// Examples a finding quotes of what it counts.
const EXAMPLES: usize = 3;

/// At most [`MAX_FINDINGS_PER_CODE`] findings of each code, in their order; the rest of a code
/// become one more finding of that code (at the most severe of their severities, with the
/// first one's fix and evidence) that counts them (`more`, `total`) and quotes a few
/// (`examples`): one record of thousands of broken parts gives a few findings, not thousands.
/// Applied once to every report's findings ([`crate::report::TargetReport::new`]).
pub fn limit_per_code(findings: Vec<Finding>) -> Vec<Finding> {
    let mut seen: BTreeMap<Code, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    let mut rest: BTreeMap<Code, Vec<Finding>> = BTreeMap::new();
    for finding in findings {
        let count = seen.entry(finding.code).or_default();
        *count += 1;
        if *count <= MAX_FINDINGS_PER_CODE {
            kept.push(finding);
        } else {
            rest.entry(finding.code).or_default().push(finding);
        }
    }
    // In the order the codes first appeared.
    let mut order: Vec<Code> = Vec::new();
    for finding in &kept {
        if !order.contains(&finding.code) {
            order.push(finding.code);
        }
    }
    for code in order {
        let Some(more) = rest.remove(&code) else {
            continue;
        };
        let severity = more.iter().map(|f| f.severity).max();
        let examples: Vec<String> = more
            .iter()
            .take(EXAMPLES)
            .map(|f| f.message.clone())
            .collect();
        let count = more.len();
        let Some(mut summary) = more.into_iter().next() else {
            continue;
        };
        summary.message = format!(
            "{count} more {code} findings like the {MAX_FINDINGS_PER_CODE} above ({} in all), \
             e.g. {}",
            count + MAX_FINDINGS_PER_CODE,
            summary.message
        );
        summary.severity = severity.unwrap_or(summary.severity);
        summary = summary
            .evidence("more", count)
            .evidence("total", count + MAX_FINDINGS_PER_CODE)
            .evidence("examples", examples);
        kept.push(summary);
    }
    kept
}

/// What an area could conclude: the verdict shown beside its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Published and no finding above info.
    Ok,
    /// Published, with warnings.
    Weak,
    /// Missing or broken.
    Fail,
    /// A DNS failure kept the area from being checked.
    Unknown,
}

impl Verdict {
    /// The verdict an area's findings imply, given whether its lookups all answered.
    pub fn from_findings(findings: &[Finding], lookups_answered: bool) -> Verdict {
        if !lookups_answered {
            return Verdict::Unknown;
        }
        match findings.iter().map(|f| f.severity).max() {
            None | Some(Severity::Info) => Verdict::Ok,
            Some(Severity::Warning) => Verdict::Weak,
            Some(Severity::Error | Severity::Critical) => Verdict::Fail,
        }
    }
}

/// What an area check returns: its own report (records as fetched, what was derived) and the
/// findings it raised. The audit merges the findings into one list.
#[derive(Clone, Debug)]
pub struct Checked<T> {
    pub report: T,
    pub findings: Vec<Finding>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_unique_and_round_trip_through_json() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: Code = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn findings_beyond_ten_of_a_code_become_one_that_counts_them() {
        let findings: Vec<Finding> = (0..25)
            .map(|i| {
                let severity = if i == 20 {
                    Severity::Critical
                } else {
                    Severity::Error
                };
                Finding::new(Code::DmarcSyntax, format!("error {i}"))
                    .evidence("name", "_dmarc.example.com")
                    .severity(severity)
            })
            .chain([Finding::new(Code::DmarcNoRua, "no rua")])
            .collect();
        let limited = limit_per_code(findings);
        assert_eq!(limited.len(), 12);
        assert_eq!(limited[9].message, "error 9");
        assert_eq!(limited[10].code, Code::DmarcNoRua);
        let summary = &limited[11];
        assert_eq!(summary.code, Code::DmarcSyntax);
        assert_eq!(
            summary.severity,
            Severity::Critical,
            "the worst of the rest"
        );
        assert!(
            summary.message.starts_with(
                "15 more dmarc.syntax findings like the 10 above (25 in all), e.g. error 10"
            ),
            "{}",
            summary.message
        );
        assert_eq!(summary.evidence["more"], 15);
        assert_eq!(summary.evidence["total"], 25);
        assert_eq!(
            summary.evidence["examples"],
            serde_json::json!(["error 10", "error 11", "error 12"])
        );
        assert_eq!(summary.evidence["name"], "_dmarc.example.com");
        // Ten or fewer: as they were.
        let few = vec![Finding::new(Code::DmarcNoRua, "a"); 10];
        assert_eq!(limit_per_code(few.clone()), few);
    }

    #[test]
    fn severities_order_from_info_to_critical() {
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Warning < Severity::Error);
        assert!(Severity::Error < Severity::Critical);
    }
}
