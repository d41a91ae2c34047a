//! BIMI (Brand Indicators for Message Identification, draft-brand-indicators-for-message-identification,
//! an Internet-Draft: its sections are cited by title): the Assertion Record at
//! `<selector>._bimi.<domain>`, whether DMARC is enforced enough for receivers to show the logo,
//! and with `--fetch-bimi` the logo (SVG Tiny PS) and the mark certificate themselves.
//!
//! 1. [`discover`] asks the selector's name at the domain and, when a usable record is there,
//!    fetches what it points at, all while the DMARC check runs.
//! 2. [`check`] falls back to the Organizational Domain the DMARC walk found when the domain has
//!    no record ("Assertion Record Discovery"), judges the DMARC prerequisite from the DMARC
//!    report ([`prerequisite`]), and raises the findings.
//!
//! Without `--fetch-bimi` nothing is fetched, and the report says "not fetched", never "ok".

pub mod certificate;
pub mod fetch;
pub mod prerequisite;
pub mod record;
pub mod svg;

use std::time::SystemTime;

use serde::Serialize;

use crate::dmarc::DmarcReport;
use crate::dns::{Answer, Dns, MAX_TXT_SHOWN, Txt};
use crate::finding::{Checked, Code, Finding, Verdict};
use crate::https::HttpsOptions;
use certificate::MarkCertificate;
use fetch::Exchange;
use prerequisite::{Enforcement, Prerequisite};
use record::{Candidate, Record};
use svg::SvgFacts;

/// The selector receivers use when a message names none.
pub const DEFAULT_SELECTOR: &str = "default";

/// The largest logo read: the BIMI group's SVG guidance caps the file at 32 KB.
pub const MAX_LOGO_BYTES: usize = 32 * 1024;

/// The largest certificate document read: a chain of a few certificates, the mark's own
/// carrying the logo (itself at most 32 KB).
pub const MAX_CERTIFICATE_BYTES: usize = 128 * 1024;

/// Bytes of each TXT record the report's `queries` show (the record that applies is whole in
/// `record`).
const LOGGED_RECORD_BYTES: usize = 1024;

/// What the BIMI check asks and fetches.
#[derive(Clone, Debug)]
pub struct BimiOptions {
    /// `--bimi-selector`: the selector asked (`default` unless given).
    pub selector: String,
    /// `--fetch-bimi`: fetch the logo and the certificate, trusting `--ca-file` too, within
    /// `--timeout` a step.
    pub fetch: Option<HttpsOptions>,
}

impl Default for BimiOptions {
    fn default() -> Self {
        BimiOptions {
            selector: DEFAULT_SELECTOR.to_owned(),
            fetch: None,
        }
    }
}

/// The BIMI area of an audit.
#[derive(Clone, Debug, Serialize)]
pub struct BimiReport {
    pub verdict: Verdict,
    pub selector: String,
    /// Every name asked: the selector's at the domain, then at its Organizational Domain when
    /// the domain has no record.
    pub queries: Vec<Query>,
    /// The name whose record applies, if one does.
    pub found_at: Option<String>,
    /// That record as fetched (character-strings joined).
    pub record: Option<String>,
    /// Its tags as written.
    pub tags: Vec<record::Tag>,
    /// What the parser said about it.
    pub notes: Vec<record::Diagnostic>,
    /// `l=` and `a=` empty: the domain declines to show a logo.
    pub declined: bool,
    /// Whether DMARC is enforced as BIMI requires (for a usable record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc: Option<Prerequisite>,
    /// The logo of `l=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo: Option<LogoCheck>,
    /// The mark certificate of `a=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateCheck>,
}

/// One name asked.
#[derive(Clone, Debug, Serialize)]
pub struct Query {
    pub name: String,
    /// `records`, `nodata`, `nxdomain`, or the failure.
    pub status: String,
    /// The first [`MAX_TXT_SHOWN`] TXT records, joined (each at most [`LOGGED_RECORD_BYTES`]).
    pub records: Vec<String>,
    pub txt_records: usize,
    /// How many start with `v=BIMI1`.
    pub bimi_records: usize,
}

/// What came of fetching a URL of the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchStatus {
    /// `--fetch-bimi` was not given: nothing is known of it.
    NotFetched,
    /// Fetched, and receivers accept it.
    Valid,
    /// Fetched, and receivers refuse it.
    Invalid,
    /// It could not be fetched.
    Unreachable,
    /// A DNS failure: unknown.
    Unknown,
}

impl FetchStatus {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchStatus::NotFetched => "not fetched",
            FetchStatus::Valid => "valid",
            FetchStatus::Invalid => "invalid",
            FetchStatus::Unreachable => "unreachable",
            FetchStatus::Unknown => "unknown",
        }
    }
}

/// The logo: where, what came of fetching it, what it is.
#[derive(Clone, Debug, Serialize)]
pub struct LogoCheck {
    pub url: String,
    pub status: FetchStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Exchange>,
    /// Why it could not be fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svg: Option<SvgFacts>,
    /// Each way it falls outside SVG Tiny PS.
    pub problems: Vec<String>,
}

/// The mark certificate: where, what came of fetching it, what it says.
#[derive(Clone, Debug, Serialize)]
pub struct CertificateCheck {
    pub url: String,
    pub status: FetchStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Exchange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<MarkCertificate>,
    pub problems: Vec<certificate::Problem>,
    /// It ends within [`certificate::EXPIRING_DAYS`] days.
    pub expiring: bool,
}

/// What the selector's name at one domain holds.
#[derive(Clone, Debug)]
struct Lookup {
    domain: String,
    name: String,
    answer: Answer<Txt>,
    /// Every TXT record, joined.
    texts: Vec<String>,
}

impl Lookup {
    fn failed(&self) -> bool {
        self.answer.failure().is_some()
    }

    /// The records that start with `v=BIMI1`, with their text.
    fn records(&self) -> Vec<(&str, Record)> {
        self.texts
            .iter()
            .filter_map(|text| match record::classify(text) {
                Candidate::Bimi(record) => Some((text.as_str(), record)),
                _ => None,
            })
            .collect()
    }

    /// The records meant as BIMI that receivers discard, with why.
    fn ignored(&self) -> Vec<(&str, String)> {
        self.texts
            .iter()
            .filter_map(|text| match record::classify(text) {
                Candidate::Ignored(why) => Some((text.as_str(), why)),
                _ => None,
            })
            .collect()
    }

    /// The one usable record: it starts with `v=BIMI1`, parses, and does not decline.
    fn usable(&self) -> Option<Record> {
        match self.records().as_slice() {
            [(_, record)] if record.is_valid() && !record.is_declination() => Some(record.clone()),
            _ => None,
        }
    }

    fn query(&self) -> Query {
        Query {
            name: self.name.clone(),
            status: self.answer.status(),
            records: self
                .texts
                .iter()
                .take(MAX_TXT_SHOWN)
                .map(|text| logged(text))
                .collect(),
            txt_records: self.texts.len(),
            bimi_records: self.records().len(),
        }
    }
}

/// `text` cut to [`LOGGED_RECORD_BYTES`], saying how long it was.
fn logged(text: &str) -> String {
    if text.len() <= LOGGED_RECORD_BYTES {
        return text.to_owned();
    }
    let mut end = LOGGED_RECORD_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

async fn lookup(dns: &Dns, selector: &str, domain: &str) -> Lookup {
    let name = format!("{selector}._bimi.{domain}");
    let answer = dns.txt(&name).await;
    let texts = answer.records().iter().map(Txt::joined).collect();
    Lookup {
        domain: domain.to_owned(),
        name,
        answer,
        texts,
    }
}

/// The record at the domain, and (with `--fetch-bimi`) its logo and certificate fetched.
#[derive(Clone, Debug)]
pub struct Discovered {
    own: Lookup,
    fetched: Option<(Option<LogoCheck>, Option<CertificateCheck>)>,
}

/// Asks the selector's name at `domain` and fetches what a usable record there points at: run
/// beside the DMARC check, so that the fetches cost no round trip after it.
pub async fn discover(dns: &Dns, domain: &str, options: &BimiOptions) -> Discovered {
    let own = lookup(dns, &options.selector, domain).await;
    let fetched = match own.usable() {
        // Boxed: an HTTPS exchange is a large future, and the audit holds this one beside the
        // others.
        Some(record) => Some(Box::pin(fetch_all(dns, &record, &[domain], options)).await),
        None => None,
    };
    Discovered { own, fetched }
}

/// The logo and the certificate of `record`, fetched at once (or "not fetched").
async fn fetch_all(
    dns: &Dns,
    record: &Record,
    domains: &[&str],
    options: &BimiOptions,
) -> (Option<LogoCheck>, Option<CertificateCheck>) {
    let logo = async {
        match &record.logo {
            Some(url) => Some(fetch_logo(dns, url, options.fetch.as_ref()).await),
            None => None,
        }
    };
    let certificate = async {
        match &record.authority {
            Some(url) => Some(fetch_certificate(dns, url, domains, options.fetch.as_ref()).await),
            None => None,
        }
    };
    tokio::join!(logo, certificate)
}

async fn fetch_logo(dns: &Dns, url: &str, options: Option<&HttpsOptions>) -> LogoCheck {
    let mut check = LogoCheck {
        url: url.to_owned(),
        status: FetchStatus::NotFetched,
        http: None,
        error: None,
        svg: None,
        problems: Vec::new(),
    };
    let Some(options) = options else {
        return check;
    };
    let (exchange, outcome) = fetch::get(dns, options, url, MAX_LOGO_BYTES).await;
    check.http = Some(exchange);
    match outcome {
        Ok(body) => {
            let (facts, problems) = svg::check(&body);
            check.status = if problems.is_empty() {
                FetchStatus::Valid
            } else {
                FetchStatus::Invalid
            };
            check.svg = Some(facts);
            check.problems = problems;
        }
        // An oversized logo was fetched: it is the logo that fails.
        Err(failure @ fetch::Failure::TooLarge { .. }) => {
            check.status = FetchStatus::Invalid;
            check.problems = vec![failure.to_string()];
        }
        Err(failure) => {
            check.status = if failure.is_unknown() {
                FetchStatus::Unknown
            } else {
                FetchStatus::Unreachable
            };
            check.error = Some(failure.to_string());
        }
    }
    check
}

async fn fetch_certificate(
    dns: &Dns,
    url: &str,
    domains: &[&str],
    options: Option<&HttpsOptions>,
) -> CertificateCheck {
    let mut check = CertificateCheck {
        url: url.to_owned(),
        status: FetchStatus::NotFetched,
        http: None,
        error: None,
        certificate: None,
        problems: Vec::new(),
        expiring: false,
    };
    let Some(options) = options else {
        return check;
    };
    let (exchange, outcome) = fetch::get(dns, options, url, MAX_CERTIFICATE_BYTES).await;
    check.http = Some(exchange);
    match outcome {
        Ok(body) => {
            let (facts, problems) = certificate::check(&body, domains, SystemTime::now());
            check.status = if problems.is_empty() {
                FetchStatus::Valid
            } else {
                FetchStatus::Invalid
            };
            check.expiring = facts
                .as_ref()
                .is_some_and(|f| f.days_left > 0 && f.days_left <= certificate::EXPIRING_DAYS);
            check.certificate = facts;
            check.problems = problems;
        }
        Err(failure) => {
            check.status = if failure.is_unknown() {
                FetchStatus::Unknown
            } else {
                FetchStatus::Unreachable
            };
            check.error = Some(failure.to_string());
        }
    }
    check
}

/// Completes the BIMI check of `domain` from what [`discover`] found and the domain's DMARC
/// report: the Organizational Domain's record when the domain has none, the DMARC prerequisite,
/// the findings.
pub async fn check(
    dns: &Dns,
    domain: &str,
    discovered: Discovered,
    dmarc: &DmarcReport,
    options: &BimiOptions,
) -> Checked<BimiReport> {
    let Discovered { own, fetched } = discovered;
    let mut report = BimiReport {
        verdict: Verdict::Unknown,
        selector: options.selector.clone(),
        queries: vec![own.query()],
        found_at: None,
        record: None,
        tags: Vec::new(),
        notes: Vec::new(),
        declined: false,
        dmarc: None,
        logo: None,
        certificate: None,
    };
    let mut findings: Vec<Finding> = own
        .ignored()
        .iter()
        .map(|(text, why)| ignored(&own, text, why))
        .collect();
    let mut asked = vec![own.name.clone()];
    let applicable = if own.failed() {
        findings.push(lookup_failed(domain, &own));
        None
    } else if !own.records().is_empty() {
        Some((own, fetched))
    } else {
        match dmarc
            .organizational_domain
            .as_ref()
            .map(|org| org.domain.as_str())
        {
            Some(org) if org != domain => {
                let parent = lookup(dns, &options.selector, org).await;
                report.queries.push(parent.query());
                asked.push(parent.name.clone());
                findings.extend(
                    parent
                        .ignored()
                        .iter()
                        .map(|(text, why)| ignored(&parent, text, why)),
                );
                if parent.failed() {
                    findings.push(lookup_failed(domain, &parent));
                    None
                } else if parent.records().is_empty() {
                    None
                } else {
                    let fetched = match parent.usable() {
                        Some(record) => {
                            Some(fetch_all(dns, &record, &[domain, org], options).await)
                        }
                        None => None,
                    };
                    Some((parent, fetched))
                }
            }
            Some(_) => None,
            None => {
                findings.push(organizational_unknown(domain, &own));
                None
            }
        }
    };
    match applicable {
        Some((lookup, fetched)) => {
            findings.extend(applicable_record(
                domain,
                &lookup,
                fetched,
                dmarc,
                &mut report,
            ));
        }
        None if findings.is_empty() => findings.push(missing(domain, &options.selector, &asked)),
        None => {}
    }
    report.verdict = verdict(&findings);
    Checked { report, findings }
}

/// The findings about the record that applies, and the report's record fields.
fn applicable_record(
    domain: &str,
    lookup: &Lookup,
    fetched: Option<(Option<LogoCheck>, Option<CertificateCheck>)>,
    dmarc: &DmarcReport,
    report: &mut BimiReport,
) -> Vec<Finding> {
    let records = lookup.records();
    report.found_at = Some(lookup.name.clone());
    let [(text, record)] = records.as_slice() else {
        return vec![multiple_records(lookup, &records)];
    };
    report.record = Some((*text).to_owned());
    report.tags.clone_from(&record.tags);
    report.notes.clone_from(&record.diagnostics);
    let mut findings: Vec<Finding> = record
        .errors()
        .map(|diagnostic| {
            Finding::new(
                Code::BimiInvalid,
                format!(
                    "{}: {}; receivers ignore the record, so no logo is shown",
                    lookup.name, diagnostic.message
                ),
            )
            .evidence("name", &lookup.name)
            .evidence("record", logged(text))
            .evidence("tag", &diagnostic.tag)
            .fix(format!(
                "Publish the record corrected: {} TXT \"{}\"",
                lookup.name,
                corrected(record, &lookup.domain)
            ))
        })
        .collect();
    if !findings.is_empty() {
        return findings;
    }
    if record.is_declination() {
        report.declined = true;
        return findings;
    }
    let prerequisite = prerequisite::judge(domain, dmarc);
    if prerequisite.status == Enforcement::NotEnforced {
        findings.push(not_enforced(domain, lookup, &prerequisite));
    }
    report.dmarc = Some(prerequisite);
    if record.authority.is_none() {
        findings.push(no_certificate(lookup));
    }
    let (logo, certificate) = fetched.unwrap_or((None, None));
    if let Some(logo) = &logo {
        findings.extend(logo_findings(lookup, logo));
    }
    if let Some(certificate) = &certificate {
        let mut domains = vec![domain];
        if lookup.domain != domain {
            domains.push(&lookup.domain);
        }
        findings.extend(certificate_findings(lookup, certificate, &domains));
    }
    report.logo = logo;
    report.certificate = certificate;
    findings
}

/// The verdict: unknown when a DNS failure left something unchecked, unless what was checked
/// already fails.
fn verdict(findings: &[Finding]) -> Verdict {
    let (failed, rest): (Vec<Finding>, Vec<Finding>) = findings
        .iter()
        .cloned()
        .partition(|f| f.code == Code::BimiLookupFailed);
    let known = Verdict::from_findings(&rest, true);
    if failed.is_empty() || known == Verdict::Fail {
        known
    } else {
        Verdict::Unknown
    }
}

/// The record as it should read: `v=BIMI1` first, the valid `l=` (or a placeholder URL on the
/// domain) and `a=`.
fn corrected(record: &Record, domain: &str) -> String {
    let logo = record
        .logo
        .clone()
        .unwrap_or_else(|| format!("https://{domain}/bimi/logo.svg"));
    let authority = record.authority.clone().unwrap_or_default();
    format!("v=BIMI1; l={logo}; a={authority}")
}

fn ignored(lookup: &Lookup, text: &str, why: &str) -> Finding {
    let fixed = match record::classify(&format!("v=BIMI1; {}", without_version(text))) {
        Candidate::Bimi(record) => corrected(&record, &lookup.domain),
        _ => corrected(
            &Record {
                tags: Vec::new(),
                logo: None,
                authority: None,
                diagnostics: Vec::new(),
            },
            &lookup.domain,
        ),
    };
    Finding::new(
        Code::BimiInvalid,
        format!("{}: {why}, so no logo is shown", lookup.name),
    )
    .evidence("name", &lookup.name)
    .evidence("record", logged(text))
    .fix(format!("Replace it with: {} TXT \"{fixed}\"", lookup.name))
}

/// The tags of `text` but its version tags.
fn without_version(text: &str) -> String {
    text.split(';')
        .map(str::trim)
        .filter(|part| {
            !part.is_empty()
                && !part
                    .split_once('=')
                    .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("v"))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn multiple_records(lookup: &Lookup, records: &[(&str, Record)]) -> Finding {
    let texts: Vec<String> = records
        .iter()
        .take(4)
        .map(|(text, _)| logged(text))
        .collect();
    Finding::new(
        Code::BimiInvalid,
        format!(
            "{} BIMI records at {}: receivers use none of them (\"Assertion Record Discovery\"), \
             so no logo is shown",
            records.len(),
            lookup.name
        ),
    )
    .evidence("name", &lookup.name)
    .evidence("records", texts)
    .fix(format!(
        "Delete all but one, for example keep: {} TXT \"{}\"",
        lookup.name, records[0].0
    ))
}

fn lookup_failed(domain: &str, lookup: &Lookup) -> Finding {
    let failure = lookup.answer.status();
    Finding::new(
        Code::BimiLookupFailed,
        format!(
            "DNS failure ({failure}) asking {}: whether a BIMI record applies to {domain} is \
             unknown",
            lookup.name
        ),
    )
    .evidence("name", &lookup.name)
    .evidence("answer", failure)
    .fix(format!(
        "Make the name servers of {} answer TXT queries for {}, then audit again",
        lookup.domain, lookup.name
    ))
}

/// The domain has no record, and which Organizational Domain's would apply is unknown.
fn organizational_unknown(domain: &str, own: &Lookup) -> Finding {
    Finding::new(
        Code::BimiLookupFailed,
        format!(
            "no BIMI record at {}, and a DNS failure on the DMARC tree walk leaves {domain}'s \
             organisational domain unknown, so whether its record applies is unknown",
            own.name
        ),
    )
    .evidence("name", &own.name)
    .evidence("answer", own.answer.status())
    .fix("Fix the DNS failure the dmarc.lookup-failed finding names, then audit again")
}

fn missing(domain: &str, selector: &str, asked: &[String]) -> Finding {
    Finding::new(
        Code::BimiMissing,
        format!(
            "no BIMI record (asked {}): mailbox providers that support BIMI show no logo for {domain}",
            asked.join(", ")
        ),
    )
    .evidence("name", &asked[0])
    .evidence("asked", asked)
    .fix(format!(
        "To show your logo: enforce DMARC (p=quarantine or p=reject), then publish {selector}._bimi.{domain} \
         TXT \"v=BIMI1; l=https://{domain}/bimi/logo.svg; a=https://{domain}/bimi/vmc.pem\" (the \
         logo as SVG Tiny PS; a= the mark certificate, which Gmail and Apple Mail require)"
    ))
}

fn not_enforced(domain: &str, lookup: &Lookup, prerequisite: &Prerequisite) -> Finding {
    let organizational = prerequisite
        .organizational_domain
        .as_deref()
        .filter(|org| *org != domain)
        .map(|org| format!(" and at its organisational domain {org}"))
        .unwrap_or_default();
    Finding::new(
        Code::BimiDmarcNotEnforced,
        format!(
            "a BIMI record is published at {}, but DMARC is not enforced as BIMI requires: {}; \
             receivers show no logo",
            lookup.name,
            prerequisite.reasons.join("; ")
        ),
    )
    .evidence("name", &lookup.name)
    .evidence("reasons", &prerequisite.reasons)
    .evidence("organizational_domain", &prerequisite.organizational_domain)
    .fix(format!(
        "Publish p=quarantine (with pct=100, or no pct) or p=reject, and no sp=none, at {domain}{organizational} \
         once the aggregate reports show your mail passes DMARC"
    ))
}

fn no_certificate(lookup: &Lookup) -> Finding {
    Finding::new(
        Code::BimiNoCertificate,
        format!(
            "{} names no mark certificate (a= is empty): Gmail and Apple Mail show BIMI logos \
             only with a Verified Mark Certificate or a Common Mark Certificate",
            lookup.name
        ),
    )
    .evidence("name", &lookup.name)
    .fix("Get a VMC or CMC for the logo from a mark certificate issuer and publish the URL of its PEM chain in a=")
}

fn logo_findings(lookup: &Lookup, logo: &LogoCheck) -> Vec<Finding> {
    let url = &logo.url;
    let fix = format!(
        "Export the logo as SVG Tiny PS (version=\"1.2\" baseProfile=\"tiny-ps\", a <title>, \
         square, no scripts, animation or external references, at most {} KB) and serve it at \
         {url} over HTTPS, answering 200 without a redirect",
        MAX_LOGO_BYTES / 1024
    );
    match logo.status {
        FetchStatus::Invalid => logo
            .problems
            .iter()
            .map(|problem| {
                Finding::new(
                    Code::BimiLogoInvalid,
                    format!("the BIMI logo at {url}: {problem}; receivers show no logo"),
                )
                .evidence("name", &lookup.name)
                .evidence("url", url)
                .evidence("problem", problem)
                .fix(fix.clone())
            })
            .collect(),
        FetchStatus::Unreachable => vec![
            Finding::new(
                Code::BimiLogoUnreachable,
                format!(
                    "the BIMI logo at {url} cannot be fetched: {}; receivers show no logo",
                    logo.error.as_deref().unwrap_or_default()
                ),
            )
            .evidence("name", &lookup.name)
            .evidence("url", url)
            .evidence("http", &logo.http)
            .fix(fix),
        ],
        FetchStatus::Unknown => vec![fetch_unknown(lookup, url, logo.error.as_deref())],
        FetchStatus::Valid | FetchStatus::NotFetched => Vec::new(),
    }
}

fn certificate_findings(
    lookup: &Lookup,
    check: &CertificateCheck,
    domains: &[&str],
) -> Vec<Finding> {
    let url = &check.url;
    let fix = format!(
        "Publish at {url} the PEM chain of a current VMC or CMC issued for {} (the mark \
         certificate first, then its issuers), served over HTTPS with a 200 and no redirect",
        domains[0]
    );
    let mut findings = Vec::new();
    match check.status {
        FetchStatus::Invalid => {
            for problem in &check.problems {
                findings.push(
                    Finding::new(
                        Code::BimiCertificateInvalid,
                        format!(
                            "the BIMI mark certificate at {url}: {}; receivers that require one \
                             show no logo",
                            problem.explain(domains)
                        ),
                    )
                    .evidence("name", &lookup.name)
                    .evidence("url", url)
                    .evidence("problem", problem)
                    .evidence("certificate", &check.certificate)
                    .fix(fix.clone()),
                );
            }
        }
        FetchStatus::Unreachable => findings.push(
            Finding::new(
                Code::BimiCertificateUnreachable,
                format!(
                    "the BIMI mark certificate at {url} cannot be fetched: {}",
                    check.error.as_deref().unwrap_or_default()
                ),
            )
            .evidence("name", &lookup.name)
            .evidence("url", url)
            .evidence("http", &check.http)
            .fix(fix.clone()),
        ),
        FetchStatus::Unknown => findings.push(fetch_unknown(lookup, url, check.error.as_deref())),
        FetchStatus::Valid | FetchStatus::NotFetched => {}
    }
    if check.expiring
        && let Some(certificate) = &check.certificate
    {
        findings.push(
            Finding::new(
                Code::BimiCertificateExpiring,
                format!(
                    "the BIMI mark certificate at {url} expires in {} days ({}): renew it before \
                     then, or receivers stop showing the logo",
                    certificate.days_left, certificate.not_after
                ),
            )
            .evidence("name", &lookup.name)
            .evidence("url", url)
            .evidence("not_after", &certificate.not_after)
            .evidence("days_left", certificate.days_left)
            .fix(format!(
                "Renew the mark certificate now (issuers verify the mark again, which takes time) \
                 and publish the new chain at {url}"
            )),
        );
    }
    findings
}

/// A URL whose host DNS could not say: unknown. Its `name` is the host's, whose name servers
/// failed.
fn fetch_unknown(lookup: &Lookup, url: &str, error: Option<&str>) -> Finding {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.domain().map(str::to_owned))
        .unwrap_or_default();
    Finding::new(
        Code::BimiLookupFailed,
        format!(
            "{url} was not fetched: {}; whether it is right is unknown",
            error.unwrap_or_default()
        ),
    )
    .evidence("name", &host)
    .evidence("record", &lookup.name)
    .evidence("url", url)
    .fix(format!(
        "Make the name servers of {host} answer A and AAAA queries, then audit again"
    ))
}
