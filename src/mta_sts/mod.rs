//! MTA-STS (RFC 8461): whether senders that honour it find a policy, what it tells them, and
//! whether the domain's MX hosts pass it.
//!
//! - [`record`]: the `_mta-sts` TXT record (§3.1), and the tag list TLS-RPT shares.
//! - [`policy`]: the policy file (§3.2) and the MX patterns (§4.1).
//!
//! [`check`] asks the TXT record and, only when there is one valid record, fetches the policy
//! from `https://mta-sts.<domain>/.well-known/mta-sts.txt` ([`crate::https`]): the record and
//! the policy host's addresses, then the fetch, concurrently with the other areas. The MX hosts
//! are matched against the policy once the MX answer is in ([`judge_mx`]), which asks nothing.

pub mod policy;
pub mod record;

use std::net::IpAddr;

use serde::Serialize;

use crate::dns::Dns;
use crate::finding::{Checked, Code, Finding, Severity, Verdict};
use crate::https::{self, FetchError, HttpsOptions, Response};
use crate::mx::MxReport;
use crate::smtp::{Outcome, PortProbe};

pub use policy::{Mode, Policy};
pub use record::{Selected, StsRecord, TxtAnswer};

/// The largest policy body read: senders stop there (postfix-mta-sts-resolver's limit), so a
/// longer policy is not fetched whole.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Where the policy is (§3.3).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// The MTA-STS area of the report.
#[derive(Clone, Debug, Serialize)]
pub struct MtaStsReport {
    pub verdict: Verdict,
    /// The TXT answer at `_mta-sts.<domain>`.
    pub dns: TxtAnswer,
    /// The one `v=STSv1` record senders use, as fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Its policy id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The policy fetch; absent when there is no valid record (senders do not fetch then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyFetch>,
}

/// How a policy fetch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchOutcome {
    /// Fetched and valid.
    Valid,
    /// Fetched, but not a valid policy (or not `text/plain`).
    Invalid,
    /// The policy host's address lookups failed: unknown.
    LookupFailed,
    /// The policy host has no address.
    NoAddress,
    /// A redirect, not followed (§3.3).
    Redirect,
    /// Another status than 200.
    HttpStatus,
    /// The certificate is not valid for the policy host, or not trusted.
    Certificate,
    /// No connection, or a TLS or HTTP failure.
    Failed,
    /// No complete answer in time.
    Timeout,
    /// The body passed [`MAX_POLICY_BYTES`]: reading stopped there.
    TooLarge,
}

/// The policy fetch: where, what came back, and what it says.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyFetch {
    pub url: String,
    pub outcome: FetchOutcome,
    /// The DNS outcome of the policy host's A and AAAA questions.
    pub a: String,
    pub aaaa: String,
    pub addresses: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// A redirect's target, not followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What went wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The body as fetched (at most [`MAX_POLICY_BYTES`]), when it is text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The policy, when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parsed: Option<Policy>,
    /// Each MX host and the pattern it matches (none: a mismatch), once the MX set is known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mx: Vec<MxMatch>,
}

/// One MX host against the policy's patterns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MxMatch {
    pub host: String,
    /// The pattern it matches; `None`: it matches none.
    pub pattern: Option<String>,
}

/// Checks `_mta-sts.<domain>` and, when it holds one valid record, fetches the policy.
pub async fn check(dns: &Dns, domain: &str, https: &HttpsOptions) -> Checked<MtaStsReport> {
    let name = format!("_mta-sts.{domain}");
    let answer = dns.txt(&name).await;
    let (shown, selected) = record::select(&name, &answer, record::VERSION);
    let mut report = MtaStsReport {
        verdict: Verdict::Unknown,
        dns: shown,
        record: None,
        id: None,
        policy: None,
    };
    let mut findings = Vec::new();
    match selected {
        Selected::Failed => findings.push(
            Finding::new(
                Code::MtastsLookupFailed,
                format!(
                    "the MTA-STS record at {name} could not be looked up ({}): whether the \
                     domain has a policy is unknown",
                    report.dns.answer
                ),
            )
            .evidence("name", &name)
            .evidence("answer", &report.dns.answer),
        ),
        Selected::Nothing => findings.push(missing(domain, &name)),
        Selected::Discarded(texts) => findings.push(
            Finding::new(
                Code::MtastsInvalid,
                format!(
                    "no TXT record at {name} begins with v=STSv1; (case matters): senders \
                     discard them and find no MTA-STS policy (RFC 8461 §3.1)"
                ),
            )
            .fix(publish_hint(domain))
            .evidence("name", &name)
            .evidence("records", texts),
        ),
        Selected::Several(texts) => findings.push(
            Finding::new(
                Code::MtastsInvalid,
                format!(
                    "{} records at {name} begin with v=STSv1: with more than one, senders \
                     assume the domain has no MTA-STS policy (RFC 8461 §3.1)",
                    texts.len()
                ),
            )
            .fix("keep one v=STSv1 record and remove the others")
            .evidence("name", &name)
            .evidence("records", texts),
        ),
        Selected::One(text) => {
            report.record = Some(text.clone());
            match record::parse(&text) {
                Err(why) => findings.push(
                    Finding::new(
                        Code::MtastsInvalid,
                        format!(
                            "the MTA-STS record at {name} does not parse: {why}; senders \
                             assume the domain has no policy (RFC 8461 §3.1)"
                        ),
                    )
                    .fix(publish_hint(domain))
                    .evidence("name", &name)
                    .evidence("record", &text),
                ),
                Ok(parsed) => {
                    report.id = Some(parsed.id);
                    let (fetch, fetch_findings) = fetch_policy(dns, domain, https).await;
                    report.policy = Some(fetch);
                    findings.extend(fetch_findings);
                }
            }
        }
    }
    report.verdict = verdict(&findings);
    Checked { report, findings }
}

/// The verdict of the area's findings: unknown when a lookup failed.
fn verdict(findings: &[Finding]) -> Verdict {
    let answered = !findings.iter().any(|f| f.code == Code::MtastsLookupFailed);
    Verdict::from_findings(findings, answered)
}

fn missing(domain: &str, name: &str) -> Finding {
    Finding::new(
        Code::MtastsMissing,
        format!(
            "no MTA-STS record at {name}: senders deliver over TLS only when it works, and an \
             attacker on the path can remove STARTTLS unnoticed"
        ),
    )
    .fix(publish_hint(domain))
    .evidence("name", name)
}

fn publish_hint(domain: &str) -> String {
    format!(
        "publish _mta-sts.{domain} TXT \"v=STSv1; id=20250101T000000\" and serve the policy \
         (version: STSv1, mode: testing then enforce, one mx: line per MX host, max_age: \
         604800) as text/plain at https://mta-sts.{domain}{POLICY_PATH}"
    )
}

/// Fetches and parses the policy of `domain`.
async fn fetch_policy(
    dns: &Dns,
    domain: &str,
    options: &HttpsOptions,
) -> (PolicyFetch, Vec<Finding>) {
    let host = format!("mta-sts.{domain}");
    let url = format!("https://{host}{POLICY_PATH}");
    let fetched = https::get(dns, options, &url, MAX_POLICY_BYTES).await;
    let mut fetch = PolicyFetch {
        url,
        outcome: FetchOutcome::Failed,
        a: fetched.a,
        aaaa: fetched.aaaa,
        addresses: fetched.addresses,
        status: None,
        content_type: None,
        location: None,
        error: None,
        text: None,
        parsed: None,
        mx: Vec::new(),
    };
    let judged = match fetched.result {
        Ok(response) => read_policy(&mut fetch, domain, &host, response),
        Err(failed) => {
            let (outcome, finding) = fetch_failure(&fetch, &host, failed.error);
            fetch.outcome = outcome;
            Err(finding)
        }
    };
    match judged {
        Ok(findings) => (fetch, findings),
        Err(finding) => {
            fetch.error = Some(finding.message.clone());
            (fetch, vec![finding])
        }
    }
}

/// `mtasts.policy-unreachable`: the policy at `url` could not be had, and why.
fn unreachable(url: &str, host: &str, why: &str) -> Finding {
    Finding::new(
        Code::MtastsPolicyUnreachable,
        format!(
            "the MTA-STS policy cannot be fetched from {url}: {why}; senders find no policy and \
             deliver without it"
        ),
    )
    .fix(format!(
        "serve the policy at {url} with status 200, as text/plain, over HTTPS with a \
         certificate valid for {host} from a public CA, without redirects"
    ))
    .evidence("url", url)
}

/// `mtasts.invalid`: the policy fetched from `url` is not one senders use, and why.
fn invalid_policy(url: &str, why: &str) -> Finding {
    Finding::new(
        Code::MtastsInvalid,
        format!("the MTA-STS policy at {url} {why}; senders find no policy and deliver without it"),
    )
    .fix(format!(
        "serve at {url}, as text/plain, lines of \"name: value\": version: STSv1, mode: enforce \
         (or testing), one mx: line per MX host, max_age: 604800"
    ))
    .evidence("url", url)
}

/// A fetch that got no response: its outcome and finding (the policy host's failed address
/// lookup is unknown, not unreachable).
fn fetch_failure(fetch: &PolicyFetch, host: &str, error: FetchError) -> (FetchOutcome, Finding) {
    let url = fetch.url.as_str();
    match error {
        FetchError::LookupFailed => (
            FetchOutcome::LookupFailed,
            Finding::new(
                Code::MtastsLookupFailed,
                format!(
                    "the address of the MTA-STS policy host {host} could not be looked up (A: \
                     {}, AAAA: {}): whether its policy can be fetched is unknown",
                    fetch.a, fetch.aaaa
                ),
            )
            .evidence("name", host),
        ),
        FetchError::NoAddress => (
            FetchOutcome::NoAddress,
            unreachable(
                url,
                host,
                &format!(
                    "{host} has no address (A: {}, AAAA: {})",
                    fetch.a, fetch.aaaa
                ),
            ),
        ),
        FetchError::Certificate(why) => (
            FetchOutcome::Certificate,
            unreachable(
                url,
                host,
                &format!(
                    "its certificate is refused ({why}); it must be valid for {host} (RFC 8461 \
                     §3.3)"
                ),
            ),
        ),
        FetchError::Failed(why) => (FetchOutcome::Failed, unreachable(url, host, &why)),
        FetchError::NotHttps => (
            FetchOutcome::Failed,
            unreachable(url, host, &format!("{host} is not a host name")),
        ),
        FetchError::TimedOut(after) => (
            FetchOutcome::Timeout,
            unreachable(
                url,
                host,
                &format!(
                    "no complete answer within {} s (time-out)",
                    after.as_secs_f64()
                ),
            ),
        ),
        FetchError::TooLarge { cap, .. } => (
            FetchOutcome::TooLarge,
            unreachable(
                url,
                host,
                &format!(
                    "the body is larger than {} KiB, so it was cut off there, as senders cut it \
                     off (a policy is a few lines)",
                    cap / 1024
                ),
            ),
        ),
    }
}

/// A response: a redirect or another status than 200 is unreachable, a body that is not a
/// `text/plain` policy is invalid; a valid policy in mode testing is `mtasts.testing`.
fn read_policy(
    fetch: &mut PolicyFetch,
    domain: &str,
    host: &str,
    response: Response,
) -> Result<Vec<Finding>, Finding> {
    let url = fetch.url.clone();
    let Response { head, body } = response;
    fetch.status = Some(head.status);
    fetch.content_type.clone_from(&head.content_type);
    if (300..400).contains(&head.status) {
        let target = head.location.clone().unwrap_or_default();
        fetch.outcome = FetchOutcome::Redirect;
        fetch.location = head.location;
        let why = format!(
            "it answers {} with a redirect to {}, which senders must not follow (RFC 8461 §3.3)",
            head.status,
            record::shown(&target)
        );
        return Err(unreachable(&url, host, &why)
            .evidence("status", head.status)
            .evidence("location", &target));
    }
    if head.status != 200 {
        fetch.outcome = FetchOutcome::HttpStatus;
        let why = format!(
            "it answers HTTP {}; only 200 gives a policy (RFC 8461 §3.3)",
            head.status
        );
        return Err(unreachable(&url, host, &why).evidence("status", head.status));
    }
    fetch.outcome = FetchOutcome::Invalid;
    let text = String::from_utf8(body).ok();
    fetch.text.clone_from(&text);
    if !is_text_plain(head.content_type.as_deref()) {
        let served = head
            .content_type
            .as_deref()
            .map_or_else(|| "no media type".to_owned(), record::shown);
        let why = format!(
            "is served as {served}, not text/plain (senders check the media type, RFC 8461 §3.2)"
        );
        return Err(invalid_policy(&url, &why).evidence("content_type", &head.content_type));
    }
    let Some(text) = text else {
        return Err(invalid_policy(&url, "is not UTF-8 text"));
    };
    let parsed = policy::parse(&text).map_err(|problems| {
        invalid_policy(&url, &format!("does not parse: {}", problems.join("; ")))
            .evidence("problems", &problems)
    })?;
    fetch.outcome = FetchOutcome::Valid;
    let mut findings = Vec::new();
    if parsed.mode == Mode::Testing {
        findings.push(
            Finding::new(
                Code::MtastsTesting,
                "MTA-STS policy in mode: testing: senders report TLS failures (TLS-RPT) but \
                 still deliver without TLS, so an attacker can still strip it",
            )
            .fix(format!(
                "once TLS-RPT reports show no failures, set mode: enforce at {url} and change \
                 the id of _mta-sts.{domain}"
            ))
            .evidence("url", &url),
        );
    }
    fetch.parsed = Some(parsed);
    Ok(findings)
}

/// `text/plain`, with or without parameters (`; charset=utf-8`), in any case.
fn is_text_plain(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/plain"))
    })
}

/// Matches every MX host against the fetched policy (§4.1) and, in mode enforce, judges the
/// MX hosts `--smtp` probed as a sender honouring the policy would (§4.2: STARTTLS with a
/// certificate valid for the MX host name and trusted): pure, once the MX set and the probes
/// are in. Asks nothing.
pub fn judge_mx(checked: &mut Checked<MtaStsReport>, mx: &MxReport, probes: &[&PortProbe]) {
    let Some(fetch) = checked.report.policy.as_mut() else {
        return;
    };
    let Some(parsed) = fetch.parsed.as_ref() else {
        return;
    };
    if parsed.mode == Mode::None {
        return;
    }
    let mode = parsed.mode;
    let patterns = parsed.mx.clone();
    for host in &mx.hosts {
        let pattern = policy::matching_pattern(&host.exchange, &patterns).map(str::to_owned);
        if pattern.is_none() {
            checked.findings.push(
                Finding::new(
                    Code::MtastsMxMismatch,
                    format!(
                        "the MX host {} matches none of the MTA-STS policy's mx patterns ({}): \
                         senders {} (RFC 8461 §4.1)",
                        host.exchange,
                        patterns.join(", "),
                        if mode == Mode::Enforce {
                            "honouring the policy will not deliver to it"
                        } else {
                            "report each delivery to it as a failure"
                        }
                    ),
                )
                .fix(format!(
                    "add \"mx: {}\" to the policy at {} and change the policy id",
                    host.exchange, fetch.url
                ))
                .evidence("host", &host.exchange)
                .evidence("patterns", &patterns),
            );
        }
        fetch.mx.push(MxMatch {
            host: host.exchange.clone(),
            pattern,
        });
    }
    if mode == Mode::Enforce {
        judge_probes(checked, probes);
    }
    checked.report.verdict = verdict(&checked.findings);
}

/// `mtasts.mx-tls-failed` for each MX host probed whose TLS fails as MTA-STS judges it:
/// error, critical when no probed MX host passes (mail from senders honouring the policy cannot
/// be delivered at all).
fn judge_probes(checked: &mut Checked<MtaStsReport>, probes: &[&PortProbe]) {
    let judged: Vec<(&PortProbe, Judgment)> = probes
        .iter()
        .filter_map(|&probe| tls_judgment(probe).map(|judgment| (probe, judgment)))
        .collect();
    let all_fail = !judged.is_empty()
        && judged
            .iter()
            .all(|(_, judgment)| matches!(judgment, Judgment::Fails(_)));
    let severity = if all_fail {
        Severity::Critical
    } else {
        Severity::Error
    };
    for (probe, judgment) in judged {
        let Judgment::Fails(failure) = judgment else {
            continue;
        };
        checked.findings.push(
            Finding::new(
                Code::MtastsMxTlsFailed,
                format!(
                    "the MTA-STS policy is in mode enforce, and the MX host {} fails TLS as \
                     senders honouring it require ({failure}): they will not deliver to it \
                     (RFC 8461 §4.2, §5){}",
                    probe.host,
                    if all_fail {
                        "; no MX host passes, so their mail is not delivered at all"
                    } else {
                        ""
                    }
                ),
            )
            .severity(severity)
            .fix(format!(
                "give {} STARTTLS with a certificate valid for {} from a public CA, or set \
                 mode: testing until it has one",
                probe.host, probe.host
            ))
            .evidence("host", &probe.host)
            .evidence("problem", &failure),
        );
    }
}

/// How an MX host fares under an enforced policy.
enum Judgment {
    Passes,
    /// Why it fails.
    Fails(String),
}

/// How the MX host `probe` fares under an enforced policy (the worst of its addresses); `None`
/// when the probe could not tell (no session reached TLS or its refusal).
fn tls_judgment(probe: &PortProbe) -> Option<Judgment> {
    let mut judged = None;
    for session in &probe.sessions {
        let certificate = session.tls.as_ref().and_then(|t| t.certificate.as_ref());
        let judgment = if let Some(certificate) = certificate {
            if certificate.problems.is_empty() {
                Judgment::Passes
            } else {
                let problems: Vec<&str> = certificate.problems.iter().map(|p| p.as_str()).collect();
                Judgment::Fails(format!("certificate: {}", problems.join(", ")))
            }
        } else if session.outcome == Outcome::TlsFailed || session.tls_outdated {
            Judgment::Fails("the TLS handshake fails".to_owned())
        } else if session.ehlo.as_ref().is_some_and(|ehlo| !ehlo.starttls) {
            Judgment::Fails("STARTTLS is not offered".to_owned())
        } else {
            continue;
        };
        if matches!(judgment, Judgment::Fails(_)) || judged.is_none() {
            judged = Some(judgment);
        }
    }
    judged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_type_is_text_plain_with_any_parameters() {
        assert!(is_text_plain(Some("text/plain")));
        assert!(is_text_plain(Some("Text/Plain; charset=utf-8")));
        assert!(!is_text_plain(Some("text/html")));
        assert!(!is_text_plain(Some("text/plainx")));
        assert!(!is_text_plain(None));
    }
}
