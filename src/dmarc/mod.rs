//! DMARC: which policy protects the domain, where it was found, and what is wrong with it.
//!
//! RFC 9989 (`DMARCbis`) governs discovery and the record; RFC 7489's `pct`, `ri` and `rf` are
//! still parsed because the receivers that implement RFC 7489 still apply them.
//!
//! 1. [`discovery`] asks `_dmarc.<domain>` and every name of the DNS Tree Walk at once (one round
//!    trip) and picks the record that applies (RFC 9989 §4.10).
//! 2. [`parse`] reads that record strictly, tag by tag.
//! 3. [`evaluate`] derives the policy that applies to the domain and the findings.
//! 4. The report destinations outside the policy domain's Organizational Domain (each found by
//!    its own tree walk, RFC 9989 §4.10.2) are checked for their authorisation records
//!    (RFC 7489 §7.1), all at once (a second round trip).

pub mod discovery;
pub mod parse;
pub mod record;

use std::collections::BTreeSet;

use futures::future::join_all;
use serde::Serialize;

use crate::dns::{Answer, Dns, Failure, MAX_TXT_SHOWN, Txt};
use crate::finding::{Checked, Code, Finding, Verdict};
use crate::publish::{Change, Edit, Kind};
use discovery::{Lookup, Outcome, Via, WalkFailure};
use parse::{Candidate, classify, quote};
use record::{Alignment, Diagnostic, Level, Policy, Record, ReportUri, Tag, TagStatus};

/// Report destinations of each of `rua` and `ruf` whose authorisation is checked. RFC 7489 §6.2:
/// receivers "MUST support the ability to send to at least two" and may stop there; a few more
/// are checked, the rest counted (`dmarc.too-many-destinations`), so that a record of thousands
/// of URIs costs a few questions, not thousands.
pub const CHECKED_DESTINATIONS: usize = 4;

/// Records quoted by `dmarc.multiple-records`.
const RECORD_EXAMPLES: usize = 4;

/// Bytes of each record the walk's log (`queries[].records`) shows: the record that applies is
/// whole, once, in `record` (a record can be 64 KB).
const LOGGED_RECORD_BYTES: usize = 1024;

/// The DMARC area of an audit: the records as fetched and everything derived from them.
#[derive(Clone, Debug, Serialize)]
pub struct DmarcReport {
    pub verdict: Verdict,
    /// The domain audited.
    pub domain: String,
    /// The name whose record applies (`_dmarc.<domain or parent>`), if one does.
    pub found_at: Option<String>,
    /// Whether that record is a parent's, found by the tree walk.
    pub inherited: bool,
    /// The applicable record's text as fetched (character-strings joined).
    pub record: Option<String>,
    /// Every name asked, in walk order, with its answer.
    pub queries: Vec<Query>,
    /// The applicable record's tags: each as written and as understood.
    pub tags: Vec<Tag>,
    /// What the parser said about the applicable record (errors and notes).
    pub notes: Vec<Diagnostic>,
    /// The policy receivers apply to the domain.
    pub effective_policy: Option<EffectivePolicy>,
    /// The first [`CHECKED_DESTINATIONS`] `rua` and `ruf` destinations and whether they may
    /// receive the reports.
    pub report_destinations: Vec<Destination>,
    /// How many valid destinations each tag lists.
    pub destinations_listed: DestinationsListed,
    /// The domain's Organizational Domain and what its own record requests, from the walk's
    /// answers (no query more); `None` when a DNS failure on the walk leaves it unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_domain: Option<OrganizationalDomain>,
}

/// The audited domain's Organizational Domain (RFC 9989 §4.10.2) and the policy its own record
/// requests: BIMI's DMARC prerequisite judges it beside the policy that applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrganizationalDomain {
    pub domain: String,
    /// The tags of its one valid DMARC record; `None` when it has none.
    pub policy: Option<RecordPolicy>,
}

/// The policy tags of one record as receivers understand them (`None`: absent or invalid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RecordPolicy {
    pub p: Option<Policy>,
    pub sp: Option<Policy>,
    /// RFC 7489 `pct`.
    pub pct: Option<u8>,
    /// `t=y`.
    pub testing: bool,
}

impl RecordPolicy {
    fn of(record: &Record) -> RecordPolicy {
        RecordPolicy {
            p: record.p,
            sp: record.sp,
            pct: record.pct,
            testing: record.testing,
        }
    }
}

/// How many valid destinations `rua` and `ruf` list, checked or not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DestinationsListed {
    pub rua: usize,
    pub ruf: usize,
}

impl DestinationsListed {
    fn of(record: &Record) -> DestinationsListed {
        DestinationsListed {
            rua: record.rua_listed,
            ruf: record.ruf_listed,
        }
    }
}

/// One name of the tree walk.
#[derive(Clone, Debug, Serialize)]
pub struct Query {
    pub name: String,
    /// `records`, `nodata`, `nxdomain`, or the failure (`timeout`, `SERVFAIL` ...).
    pub status: String,
    /// The CNAME chain followed, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The TXT records at the name, joined: the first [`MAX_TXT_SHOWN`].
    pub records: Vec<String>,
    /// How many TXT records the name holds.
    pub txt_records: usize,
    /// How many of them start with `v=DMARC1`.
    pub dmarc_records: usize,
    /// Whether the walk needed this answer (later names are asked ahead, in parallel).
    pub needed: bool,
}

/// The policy that applies to the audited domain and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EffectivePolicy {
    /// The policy the record requests for the domain; `None`: receivers apply no DMARC.
    pub requested: Option<Policy>,
    /// The tag it comes from: `p` for the domain's own record, `sp` or `np` for a parent's.
    pub tag: Option<String>,
    /// How it was chosen, in words.
    pub why: String,
    /// `t=y`: RFC 9989 receivers apply one level weaker.
    pub testing: bool,
    /// What RFC 9989 receivers apply after `t`.
    pub applied: Option<Policy>,
    /// RFC 7489 `pct`, applied by legacy receivers.
    pub legacy_pct: Option<u8>,
    pub adkim: Alignment,
    pub aspf: Alignment,
    /// Whether the domain exists (decides `sp` against `np`); `None` when DNS did not tell.
    pub domain_exists: Option<bool>,
}

/// Whether a report destination may receive the domain's reports (RFC 7489 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Authorization {
    /// In the same organisational domain: no authorisation needed.
    SameOrganization,
    /// The destination publishes a `v=DMARC1` record at `<domain>._report._dmarc.<host>`.
    Authorized,
    /// It does not: receivers will not send reports there.
    Unauthorized,
    /// A DNS failure: unknown.
    Unknown,
    /// Not a `mailto:` URI: nothing to check.
    NotChecked,
}

/// One `rua` or `ruf` destination.
#[derive(Clone, Debug, Serialize)]
pub struct Destination {
    /// `rua` or `ruf`.
    pub tag: String,
    #[serde(flatten)]
    pub uri: ReportUri,
    /// The destination host's Organizational Domain, found by its DNS Tree Walk (RFC 9989
    /// §4.10.2); absent for the policy domain itself (no walk needed) or when the walk failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_domain: Option<String>,
    /// The name whose DNS failure left an Organizational Domain unknown (the destination's or
    /// the policy domain's), with the failure: whether an authorisation is needed is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_domain_unknown: Option<String>,
    pub authorization: Authorization,
    /// The authorisation name asked, for destinations in another organisational domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The TXT records at the authorisation name: the first [`MAX_TXT_SHOWN`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// How many TXT records the authorisation name holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txt_records: Option<usize>,
}

/// What the walk found at one name.
struct Step {
    name: String,
    /// The answer's status and aliases (its records are read into the fields below).
    answer: Answer<Txt>,
    /// The first [`MAX_TXT_SHOWN`] records, joined.
    texts: Vec<String>,
    /// How many TXT records the name holds.
    txt_records: usize,
    /// The first [`RECORD_EXAMPLES`] records starting with `v=DMARC1`, parsed, with their text
    /// (one is what applies; more are discarded however many, so a few are enough to say so).
    dmarc: Vec<Record>,
    dmarc_texts: Vec<String>,
    /// How many records start with `v=DMARC1`.
    dmarc_records: usize,
    /// The records meant as DMARC that receivers ignore, with why.
    ignored: Vec<(String, Diagnostic)>,
}

impl Step {
    /// Reads every record of `answer` (so that a DMARC record among thousands is found and
    /// counted) but keeps a bounded part of them.
    fn new(target: &str, answer: Answer<Txt>) -> Step {
        let mut step = Step {
            name: format!("_dmarc.{target}"),
            answer: Answer::no_data(),
            texts: Vec::new(),
            txt_records: answer.records().len(),
            dmarc: Vec::new(),
            dmarc_texts: Vec::new(),
            dmarc_records: 0,
            ignored: Vec::new(),
        };
        for (index, txt) in answer.records().iter().enumerate() {
            let text = txt.joined();
            match classify(&text) {
                Candidate::Dmarc(record) => {
                    step.dmarc_records += 1;
                    if step.dmarc.len() < RECORD_EXAMPLES {
                        step.dmarc.push(record);
                        step.dmarc_texts.push(text.clone());
                    }
                }
                Candidate::Ignored(why) => step.ignored.push((text.clone(), why)),
                Candidate::Other => {}
            }
            if index < MAX_TXT_SHOWN {
                step.texts.push(logged(text));
            }
        }
        step.answer = match answer {
            Answer::Records { aliases, .. } => Answer::Records {
                records: Vec::new(),
                aliases,
            },
            other => other,
        };
        step
    }
}

/// `text` as the walk's log shows it: at most [`LOGGED_RECORD_BYTES`] bytes, and how long it was.
pub(crate) fn logged(text: String) -> String {
    if text.len() <= LOGGED_RECORD_BYTES {
        return text;
    }
    let mut end = LOGGED_RECORD_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// Checks the DMARC policy of `domain` (a normalised lowercase A-label, no trailing dot).
pub async fn check(dns: &Dns, domain: &str) -> Checked<DmarcReport> {
    let fetched = discovery::fetch(dns, domain).await;
    let exists = discovery::existence(&fetched.existence, &fetched.answers[0]);
    let steps: Vec<Step> = fetched
        .targets
        .iter()
        .zip(fetched.answers)
        .map(|(target, answer)| Step::new(target, answer))
        .collect();
    let lookups: Vec<Lookup<'_>> = steps
        .iter()
        .map(|s| {
            if s.answer.failure().is_some() {
                Lookup::Failed
            } else {
                Lookup::Records(&s.dmarc)
            }
        })
        .collect();
    let walk = discovery::select(&fetched.targets, &lookups);
    let organizational_domain = organizational(&fetched.targets, &lookups, &steps);

    let applicable = match walk.outcome {
        Outcome::Own => Some((0, None)),
        Outcome::Inherited { step, via } => Some((step, Some(via))),
        Outcome::Missing | Outcome::Failed { .. } => None,
    };
    let mut findings = walk_findings(domain, &steps, walk, applicable.map(|(a, _)| a));
    let mut report = DmarcReport {
        verdict: Verdict::Unknown,
        domain: domain.to_owned(),
        found_at: None,
        inherited: false,
        record: None,
        queries: steps
            .iter()
            .enumerate()
            .map(|(index, step)| Query {
                name: step.name.clone(),
                status: step.answer.status(),
                aliases: step.answer.aliases().to_vec(),
                records: step.texts.clone(),
                txt_records: step.txt_records,
                dmarc_records: step.dmarc_records,
                needed: index < walk.reached,
            })
            .collect(),
        tags: Vec::new(),
        notes: Vec::new(),
        effective_policy: None,
        report_destinations: Vec::new(),
        destinations_listed: DestinationsListed::default(),
        organizational_domain,
    };
    match walk.outcome {
        Outcome::Failed { step } => findings.push(walk_failed(domain, &steps, step)),
        Outcome::Missing => {
            let own = &steps[0];
            let discarded = !own.ignored.is_empty()
                || own.dmarc_records > 1
                || own.dmarc.first().is_some_and(Record::is_discarded);
            if !discarded {
                findings.push(missing(domain, &steps[..walk.reached]));
            }
        }
        Outcome::Own | Outcome::Inherited { .. } => {}
    }
    if let Some((index, via)) = applicable {
        let step = &steps[index];
        let (record, text) = (&step.dmarc[0], &step.dmarc_texts[0]);
        let policy_domain = &fetched.targets[index];
        let found = Found {
            domain,
            name: &step.name,
            policy_domain,
            record,
            text,
            via,
            exists,
        };
        let (policy, evaluated) = evaluate(&found);
        findings.extend(evaluated);
        let (destinations, about_destinations) = destinations(dns, &found).await;
        findings.extend(about_destinations);
        report.found_at = Some(step.name.clone());
        report.inherited = via.is_some();
        report.record = Some(text.clone());
        report.tags.clone_from(&record.tags);
        report.notes.clone_from(&record.diagnostics);
        report.effective_policy = Some(policy);
        report.report_destinations = destinations;
        report.destinations_listed = DestinationsListed::of(record);
    }
    report.verdict = verdict(&findings);
    Checked { report, findings }
}

/// The domain's Organizational Domain from the walk's answers (RFC 9989 §4.10.2), and the policy
/// of its one valid record; `None` when a DNS failure leaves it unknown.
fn organizational(
    targets: &[String],
    lookups: &[Lookup<'_>],
    steps: &[Step],
) -> Option<OrganizationalDomain> {
    let domain = discovery::organizational_domain(targets, lookups).ok()?;
    let policy = targets
        .iter()
        .position(|target| *target == domain)
        .and_then(|index| match steps[index].dmarc.as_slice() {
            [record] if steps[index].dmarc_records == 1 && !record.is_discarded() => {
                Some(RecordPolicy::of(record))
            }
            _ => None,
        });
    Some(OrganizationalDomain { domain, policy })
}

/// The findings about the names the walk needed: records receivers ignore (at the domain and at
/// the `applicable` step), several records at one name, a record discarded for a repeated tag.
fn walk_findings(
    domain: &str,
    steps: &[Step],
    walk: discovery::Walk,
    applicable: Option<usize>,
) -> Vec<Finding> {
    let instead = match (walk.outcome, applicable) {
        (Outcome::Own | Outcome::Inherited { .. }, Some(a)) => format!(
            "the walk went on, and the record at {} applies",
            steps[a].name
        ),
        (Outcome::Failed { .. }, _) => format!("which policy applies to {domain} is unknown"),
        _ => format!("no DMARC policy applies to {domain}"),
    };
    let mut findings = Vec::new();
    for (index, step) in steps.iter().enumerate().take(walk.reached) {
        if index == 0 || applicable == Some(index) {
            findings.extend(ignored_findings(step));
        }
        if step.dmarc_records > 1 {
            findings.push(multiple_records(step));
        }
        findings.extend(discarded(step, &instead));
    }
    findings
}

/// The verdict: unknown when a DNS failure left something unchecked, unless what was checked
/// already fails.
fn verdict(findings: &[Finding]) -> Verdict {
    let (failed, rest): (Vec<Finding>, Vec<Finding>) = findings
        .iter()
        .cloned()
        .partition(|f| f.code == Code::DmarcLookupFailed);
    let known = Verdict::from_findings(&rest, true);
    if failed.is_empty() || known == Verdict::Fail {
        known
    } else {
        Verdict::Unknown
    }
}

/// The record that applies and where it was found.
struct Found<'a> {
    /// The audited domain.
    domain: &'a str,
    /// Where the record was found (`_dmarc.<policy_domain>`).
    name: &'a str,
    /// The domain the record was published for.
    policy_domain: &'a str,
    record: &'a Record,
    /// The record's text as fetched: what a record to publish replaces.
    text: &'a str,
    /// `None`: the domain's own record; else how a parent's record came to apply.
    via: Option<Via>,
    exists: Option<bool>,
}

impl Found<'_> {
    /// Evidence every finding about the record carries: where it is, not the record itself,
    /// which the report's `dmarc.record` holds once (a record can be 64 KB).
    fn finding(&self, code: Code, message: impl Into<String>) -> Finding {
        Finding::new(code, message)
            .evidence("name", self.name)
            .evidence("answer", "records")
            .evidence("domain", self.domain)
    }

    /// `<name> TXT "<record>"`: a line to publish.
    fn publish(&self, text: &str) -> String {
        format!("{} TXT \"{text}\"", self.name)
    }

    /// The default aggregate-report address, in the record's own domain.
    fn default_rua(&self) -> String {
        format!("mailto:dmarc-reports@{}", self.policy_domain)
    }

    /// The change to this record that sets and removes these tags: the record to publish merges
    /// it with the other findings' changes; the finding's own fix shows it alone.
    fn change(&self, set: &[(&str, &str)], remove: &[&str]) -> Change {
        Change::new(
            self.name,
            Kind::Dmarc,
            Some(self.text),
            Edit::tags(set, remove),
        )
    }

    /// The record without what receivers discard; a `rua` whose every URI was broken becomes the
    /// default address rather than disappearing.
    fn correction(&self) -> Change {
        let rua = self.default_rua();
        let set: &[(&str, &str)] = if self.record.rua.is_empty() && self.record.has("rua") {
            &[("rua", &rua)]
        } else {
            &[]
        };
        self.change(set, &[])
    }

    fn corrected(&self) -> String {
        rewrite_edit(self.record, &self.correction().edit)
    }
}

/// The policy that applies to the domain and the findings about the applicable record.
fn evaluate(found: &Found<'_>) -> (EffectivePolicy, Vec<Finding>) {
    let mut findings = syntax_findings(found);
    let policy = effective_policy(found);
    if let Some(requested) = policy.requested {
        let tag = policy.tag.as_deref().unwrap_or("p");
        findings.extend(
            [
                policy_none(found, &policy, requested, tag),
                testing(found, requested),
                pct_partial(found, requested),
                no_rua(found),
                sp_weaker(found),
                inherited(found, requested, tag),
            ]
            .into_iter()
            .flatten(),
        );
    }
    (policy, findings)
}

/// `dmarc.syntax` for each parser error (the parser keeps a bounded number, and
/// [`crate::finding::limit_per_code`] lists ten) and for a missing `p`.
fn syntax_findings(found: &Found<'_>) -> Vec<Finding> {
    let record = found.record;
    let name = found.name;
    let corrected = found.publish(&found.corrected());
    let mut findings: Vec<Finding> = record
        .errors()
        .map(|diagnostic| syntax_finding(found, diagnostic, &corrected).change(found.correction()))
        .collect();
    findings.extend(
        record
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Warning)
            .map(|diagnostic| unknown_tag(found, diagnostic)),
    );
    if !record.has("p") {
        let consequence = if record.rua.is_empty() {
            "with no valid rua either, receivers apply no DMARC at all (RFC 9989 §4.10.1, \
             RFC 7489 §6.6.3)"
        } else {
            "because its rua is valid, receivers act as if it said p=none (RFC 9989 §4.10.1: \
             MUST; RFC 7489 §6.6.3: SHOULD), so spoofed mail is delivered"
        };
        findings.push(
            found
                .finding(
                    Code::DmarcSyntax,
                    format!(
                        "{name} has no p= tag, which RFC 7489 §6.3 requires of a policy record: \
                         {consequence}"
                    ),
                )
                .evidence("tag", "p")
                .fix(format!(
                    "Add p= right after v=: {}",
                    found.publish(&rewrite(record, &[("p", "quarantine")], &[]))
                ))
                .change(found.change(&[("p", "quarantine")], &[])),
        );
    }
    findings
}

/// `dmarc.unknown-tag`: a tag no RFC defines, which receivers ignore (RFC 9989 §4.7); the fix
/// renames it when it is a typo of one known tag, else removes it.
fn unknown_tag(found: &Found<'_>, diagnostic: &Diagnostic) -> Finding {
    let key = diagnostic.tag.as_deref().unwrap_or_default();
    let value = diagnostic.value.as_deref().unwrap_or_default();
    let meant = parse::likely_meant(key);
    let without = found.publish(&rewrite(found.record, &[], &[key]));
    let (fix, change) = match meant.as_slice() {
        [tag] if !found.record.has(tag) => (
            format!(
                "If {key}= was meant as {tag}=, publish {}; otherwise remove it: {without}",
                found.publish(&rewrite(found.record, &[(tag, value)], &[key]))
            ),
            found.change(&[(tag, value)], &[key]),
        ),
        _ => (
            format!("Remove it, or write the tag it was meant as: {without}"),
            found.change(&[], &[key]),
        ),
    };
    found
        .finding(
            Code::DmarcUnknownTag,
            format!("{}: {}", found.name, diagnostic.message),
        )
        .evidence("tag", key)
        .evidence("value", value)
        .evidence("likely_meant", meant)
        .fix(fix)
        .change(change)
}

/// `dmarc.policy-none`: the policy that applies to the domain is `none`.
fn policy_none(
    found: &Found<'_>,
    policy: &EffectivePolicy,
    requested: Policy,
    tag: &str,
) -> Option<Finding> {
    if requested != Policy::None {
        return None;
    }
    let record = found.record;
    let set_tag = if record.p.is_none() { "p" } else { tag };
    let own_record = if found.via.is_some() {
        format!(
            " (or publish {}'s own record: _dmarc.{} TXT \"v=DMARC1; p=quarantine; rua={}\")",
            found.domain,
            found.domain,
            rua_text(record).unwrap_or_else(|| found.default_rua())
        )
    } else {
        String::new()
    };
    Some(
        found
            .finding(
                Code::DmarcPolicyNone,
                format!(
                    "the DMARC policy for {} is none ({}): monitoring only, spoofed mail is delivered",
                    found.domain, policy.why
                ),
            )
            .evidence("tag", tag)
            .fix(format!(
                "Once the aggregate reports show your legitimate mail passes, publish {} (then \
                 {set_tag}=reject){own_record}",
                found.publish(&rewrite(record, &[(set_tag, "quarantine")], &[]))
            ))
            .change(staged(
                found.change(&[(set_tag, "quarantine")], &[]),
                found.domain,
                set_tag,
            )),
    )
}

/// The staged path from `none` to `reject`: what to check in the aggregate reports before
/// `quarantine`, then before `reject`, so that no legitimate sender is cut off on the way.
fn staged(change: Change, domain: &str, tag: &str) -> Change {
    change
        .watch(format!(
            "Before {tag}=quarantine: read the aggregate reports (rua) for two to four weeks and \
             check that every service sending as {domain} passes SPF or DKIM aligned with it; \
             mail that fails will go to spam"
        ))
        .watch(format!(
            "Then {tag}=reject: once the reports under quarantine show only mail you do not send \
             failing"
        ))
}

/// `dmarc.testing`: `t=y` makes RFC 9989 receivers apply one level weaker.
fn testing(found: &Found<'_>, requested: Policy) -> Option<Finding> {
    if !found.record.testing || requested == Policy::None {
        return None;
    }
    Some(
        found
            .finding(
                Code::DmarcTesting,
                format!(
                    "t=y at {}: receivers apply {} instead of {requested} (testing mode, RFC 9989 §4.7)",
                    found.name,
                    requested.one_level_weaker()
                ),
            )
            .evidence("tag", "t")
            .fix(format!(
                "Remove t=y when testing is over: {}",
                found.publish(&rewrite(found.record, &[], &["t"]))
            ))
            .change(found.change(&[], &["t"])),
    )
}

/// `dmarc.pct-partial`: RFC 7489 receivers apply the policy to `pct`% of failing mail only.
fn pct_partial(found: &Found<'_>, requested: Policy) -> Option<Finding> {
    let pct = found
        .record
        .pct
        .filter(|pct| *pct < 100 && requested != Policy::None)?;
    Some(
        found
            .finding(
                Code::DmarcPctPartial,
                format!(
                    "pct={pct} at {}: RFC 7489 receivers apply {requested} to only {pct}% of \
                     failing mail (pct was removed in RFC 9989)",
                    found.name
                ),
            )
            .evidence("tag", "pct")
            .fix(format!(
                "Remove pct= so that all failing mail gets the policy: {}",
                found.publish(&rewrite(found.record, &[], &["pct"]))
            ))
            .change(found.change(&[], &["pct"])),
    )
}

/// `dmarc.no-rua`: no `mailto:` aggregate-report destination.
fn no_rua(found: &Found<'_>) -> Option<Finding> {
    let record = found.record;
    if record.rua.iter().any(|uri| uri.scheme == "mailto") {
        return None;
    }
    let name = found.name;
    let what = if record.rua.is_empty() {
        format!("no aggregate-report destination (rua) at {name}")
    } else {
        format!("rua at {name} has no mailto: destination, the only scheme receivers must support")
    };
    Some(
        found
            .finding(
                Code::DmarcNoRua,
                format!("{what}: nobody learns who sends mail as {}", found.domain),
            )
            .evidence("tag", "rua")
            .fix(format!(
                "Add a mailbox that collects the reports: {}",
                found.publish(&rewrite(record, &[("rua", &found.default_rua())], &[]))
            ))
            .change(found.change(&[("rua", &found.default_rua())], &[])),
    )
}

/// `dmarc.sp-weaker`: `sp` or `np` weaker than `p`.
fn sp_weaker(found: &Found<'_>) -> Option<Finding> {
    let record = found.record;
    let p = record.p.filter(|_| policy_tags_valid(record))?;
    let weaker: Vec<(&str, Policy)> = [("sp", record.sp), ("np", record.np)]
        .into_iter()
        .filter_map(|(tag, value)| value.filter(|v| *v < p).map(|v| (tag, v)))
        .collect();
    if weaker.is_empty() {
        return None;
    }
    let listed: Vec<String> = weaker.iter().map(|(t, v)| format!("{t}={v}")).collect();
    let tags: Vec<&str> = weaker.iter().map(|(t, _)| *t).collect();
    let which = if tags == ["np"] {
        "made-up (non-existent)"
    } else {
        "the"
    };
    Some(
        found
            .finding(
                Code::DmarcSpWeaker,
                format!(
                    "{} at {} is weaker than p={p}: spoofers can use {which} subdomains of {} instead",
                    listed.join(" and "),
                    found.name,
                    found.policy_domain
                ),
            )
            .evidence("tags", &listed)
            .fix(format!(
                "Remove {} so that subdomains get p={p}: {}",
                tags.join(" and "),
                found.publish(&rewrite(record, &[], &tags))
            ))
            .change(found.change(&[], &tags)),
    )
}

/// `dmarc.inherited`: the policy is a parent's, found by the tree walk.
fn inherited(found: &Found<'_>, requested: Policy, tag: &str) -> Option<Finding> {
    let parent = match found.via? {
        Via::OrganizationalDomain => "its organisational domain",
        Via::PublicSuffixDomain => "its public suffix domain (psd=y)",
    };
    let domain = found.domain;
    Some(
        found
            .finding(
                Code::DmarcInherited,
                format!(
                    "no valid DMARC record at _dmarc.{domain}: the policy comes from {}, {parent}, \
                     whose {tag}={requested} applies",
                    found.name
                ),
            )
            .evidence("tag", tag)
            .evidence("domain_exists", found.exists)
            .fix(format!(
                "Nothing to do if {tag}={requested} suits {domain}; to give it its own policy, \
                 publish _dmarc.{domain} TXT \"v=DMARC1; p=reject; rua={}\"",
                rua_text(found.record).unwrap_or_else(|| found.default_rua())
            )),
    )
}

/// Whether `p` is present and valid and `sp`/`np` are absent or valid: otherwise RFC 9989
/// §4.10.1 replaces the record's policy.
fn policy_tags_valid(record: &Record) -> bool {
    record.p.is_some() && !record.invalid("sp") && !record.invalid("np")
}

/// RFC 9989 §4.10.1: the domain's own record gives `p`; a parent's gives `sp` if the domain
/// exists and `np` if not, each falling back as §4.7 says (`np` to `sp` to `p`). A record without
/// a valid `p`, or with an invalid `sp` or `np`, counts as `p=none` when it has a valid `rua`, and
/// as no DMARC at all otherwise (RFC 9989 §4.10.1 MUST; RFC 7489 §6.6.3 step 6 SHOULD, though its
/// §6.3 required `p`: see the syntax finding).
fn effective_policy(found: &Found<'_>) -> EffectivePolicy {
    let record = found.record;
    let (requested, tag, why) = if !policy_tags_valid(record) {
        let broken = ["p", "sp", "np"]
            .into_iter()
            .filter(|t| record.invalid(t) || (*t == "p" && record.p.is_none()))
            .map(|t| {
                if record.invalid(t) {
                    format!("invalid {t}")
                } else {
                    format!("no {t}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        if record.rua.is_empty() {
            (
                None,
                None,
                format!(
                    "{broken} and no valid rua at {}: receivers apply no DMARC (RFC 9989 §4.10.1)",
                    found.name
                ),
            )
        } else {
            (
                Some(Policy::None),
                Some("p".to_owned()),
                format!(
                    "{broken} at {}, read as p=none because rua is valid (RFC 9989 §4.10.1, \
                     RFC 7489 §6.6.3)",
                    found.name
                ),
            )
        }
    } else if found.via.is_none() {
        (
            record.p,
            Some("p".to_owned()),
            format!("p at {}", found.name),
        )
    } else {
        let (tag, value) = match (found.exists, record.np, record.sp, record.p) {
            (Some(false), Some(np), _, _) => ("np", np),
            (_, _, Some(sp), _) => ("sp", sp),
            (_, _, _, p) => ("p", p.unwrap_or(Policy::None)),
        };
        let existence = match found.exists {
            Some(false) => format!("{} does not exist (NXDOMAIN)", found.domain),
            Some(true) => format!("{} exists", found.domain),
            None => format!(
                "whether {} exists is unknown (DNS failure), sp assumed",
                found.domain
            ),
        };
        (
            Some(value),
            Some(tag.to_owned()),
            format!("{tag} at {}, inherited; {existence}", found.name),
        )
    };
    EffectivePolicy {
        requested,
        tag,
        why,
        testing: record.testing,
        applied: requested.map(|p| {
            if record.testing {
                p.one_level_weaker()
            } else {
                p
            }
        }),
        legacy_pct: record.pct,
        adkim: record.adkim,
        aspf: record.aspf,
        domain_exists: found.exists,
    }
}

/// A `dmarc.syntax` finding for one parser error, with the record to publish instead
/// (`corrected`, computed once for all of them).
fn syntax_finding(found: &Found<'_>, diagnostic: &Diagnostic, corrected: &str) -> Finding {
    let record = found.record;
    let mut message = format!("{}: {}", found.name, diagnostic.message);
    if diagnostic
        .tag
        .as_deref()
        .is_some_and(|t| matches!(t, "p" | "sp" | "np") && record.invalid(t))
    {
        message.push_str(if record.rua.is_empty() {
            "; with no valid rua either, receivers apply no DMARC at all (RFC 9989 §4.10.1)"
        } else {
            "; so receivers act as if the record said p=none (RFC 9989 §4.10.1)"
        });
    }
    let mut finding = found.finding(Code::DmarcSyntax, message);
    if let Some(tag) = &diagnostic.tag {
        finding = finding.evidence("tag", tag);
    }
    if let Some(value) = &diagnostic.value {
        finding = finding.evidence("value", value);
    }
    finding.fix(format!("Publish the record corrected: {corrected}"))
}

/// `dmarc.syntax` for each record at the step that is meant as DMARC but ignored by receivers.
fn ignored_findings(step: &Step) -> Vec<Finding> {
    step.ignored
        .iter()
        .map(|(text, why)| {
            Finding::new(Code::DmarcSyntax, format!("{}: {}", step.name, why.message))
                .evidence("name", &step.name)
                .evidence("record", text)
                .evidence("answer", step.answer.status())
                .fix(format!(
                    "Replace it with: {} TXT \"{}\"",
                    step.name,
                    repair(text)
                ))
                .change(Change::new(
                    &step.name,
                    Kind::Dmarc,
                    Some(text),
                    Edit::whole(repair(text)),
                ))
        })
        .collect()
}

/// The record rebuilt with `v=DMARC1` first and the stray version removed.
fn repair(text: &str) -> String {
    let trim = |c: char| c == ' ' || c == '\t' || c == '"' || c == '\'';
    let parts: Vec<&str> = text
        .split(';')
        .map(|part| part.trim_matches(trim))
        .filter(|part| !part.is_empty())
        .filter(|part| {
            !part
                .split_once('=')
                .is_some_and(|(name, _)| name.trim_matches(trim).eq_ignore_ascii_case("v"))
        })
        .collect();
    match classify(&format!("v=DMARC1; {}", parts.join("; "))) {
        Candidate::Dmarc(record) => rewrite(&record, &[], &[]),
        _ => "v=DMARC1; p=quarantine".to_owned(),
    }
}

/// `dmarc.syntax` for the one DMARC record at a name when a tag is repeated in it: the tag-list is
/// invalid (RFC 6376 §3.2, the syntax RFC 9989 §4.7 and RFC 7489 §6.3 adopt), so receivers
/// discard it as if the name had none, and the tree walk goes on (RFC 9989 §4.10).
fn discarded(step: &Step, instead: &str) -> Option<Finding> {
    let record = step
        .dmarc
        .first()
        .filter(|r| step.dmarc_records == 1 && r.is_discarded())?;
    let repeated = record.repeated_tags();
    let fixed = rewrite(record, &[], &[]);
    Some(
        Finding::new(
            Code::DmarcSyntax,
            format!(
                "{}: {} appear{} more than once, and a tag-list with a repeated tag is invalid \
                 (RFC 6376 §3.2, whose syntax RFC 9989 §4.7 and RFC 7489 §6.3 adopt): receivers \
                 discard the record as if there were none, so {instead}",
                step.name,
                repeated.join(" and "),
                if repeated.len() == 1 { "s" } else { "" }
            ),
        )
        .evidence("name", &step.name)
        .evidence("answer", step.answer.status())
        .evidence("repeated_tags", &repeated)
        .evidence("record", logged(step.dmarc_texts[0].clone()))
        .fix(format!(
            "Publish each tag once (the first value of each is kept here: check it is the one you \
             meant): {} TXT \"{fixed}\"",
            step.name
        ))
        .change(Change::new(
            &step.name,
            Kind::Dmarc,
            Some(&step.dmarc_texts[0]),
            Edit::whole(fixed),
        )),
    )
}

fn multiple_records(step: &Step) -> Finding {
    let merged = step
        .dmarc
        .first()
        .map(|r| rewrite(r, &[], &[]))
        .unwrap_or_default();
    Finding::new(
        Code::DmarcMultipleRecords,
        format!(
            "{} DMARC records at {}: receivers discard them all (RFC 9989 §4.10), so none of them applies",
            step.dmarc_records,
            step.name
        ),
    )
    .evidence("name", &step.name)
    .evidence("dmarc_records", step.dmarc_records)
    .evidence("records", &step.dmarc_texts)
    .evidence("answer", step.answer.status())
    .fix(format!("Delete all but one, for example keep: {} TXT \"{merged}\"", step.name))
    .change(Change::new(
        &step.name,
        Kind::Dmarc,
        step.dmarc_texts.first().map(String::as_str),
        Edit::whole(merged),
    ))
}

fn missing(domain: &str, asked: &[Step]) -> Finding {
    let names: Vec<&str> = asked.iter().map(|s| s.name.as_str()).collect();
    let answers: Vec<String> = asked
        .iter()
        .map(|s| format!("{}: {}", s.name, s.answer.status()))
        .collect();
    Finding::new(
        Code::DmarcMissing,
        format!(
            "no DMARC record at _dmarc.{domain} nor at any parent (asked {}): receivers apply no DMARC, so anyone can send as {domain}",
            names.join(", ")
        ),
    )
    .evidence("name", format!("_dmarc.{domain}"))
    .evidence("answer", asked.first().map(|s| s.answer.status()))
    .evidence("walk", answers)
    .fix(format!(
        "Publish _dmarc.{domain} TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}\" \
         (start with p=none if you must first read the reports, then move to p=reject)"
    ))
    .change(staged(
        Change::new(
            &format!("_dmarc.{domain}"),
            Kind::Dmarc,
            None,
            Edit::whole(format!(
                "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}"
            )),
        ),
        domain,
        "p",
    ))
}

fn walk_failed(domain: &str, steps: &[Step], index: usize) -> Finding {
    let step = &steps[index];
    let failure = step.answer.status();
    let message = if index == 0 {
        format!(
            "DNS failure ({failure}) asking {}: the DMARC policy of {domain} is unknown",
            step.name
        )
    } else {
        format!(
            "DNS failure ({failure}) asking {} during the DMARC tree walk: which policy applies to {domain} is unknown",
            step.name
        )
    };
    let fix = if index == 0 {
        format!(
            "Make the name servers of {domain} answer TXT queries for {} (check the delegation, the \
             servers and DNSSEC), then audit again",
            step.name
        )
    } else {
        format!(
            "Fix DNS for {}, or publish a record at _dmarc.{domain} so that no tree walk is needed: \
             _dmarc.{domain} TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}\"",
            step.name
        )
    };
    Finding::new(Code::DmarcLookupFailed, message)
        .evidence("name", &step.name)
        .evidence("answer", failure)
        .evidence("aliases", step.answer.aliases())
        .fix(fix)
}

/// The `rua` value of the record's valid URIs, if any.
fn rua_text(record: &Record) -> Option<String> {
    (!record.rua.is_empty()).then(|| {
        record
            .rua
            .iter()
            .map(|u| u.uri.as_str())
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The record as a correct text: `v=DMARC1` and `p` first, `set` tags given these values (added
/// at the end if absent), `drop` tags left out, and what receivers discard (invalid values that
/// cannot be guessed, repeated tags, URIs that do not parse, obsolete size suffixes) removed.
/// `base` (a DMARC record's text, or `None` for a name without one) with the tags of `set` set
/// and those of `remove` removed, rebuilt by [`rewrite`]: the one builder of DMARC records, for
/// each finding's fix and for the merged record to publish ([`crate::publish`]).
pub fn apply(base: Option<&str>, set: &[(String, String)], remove: &[String]) -> String {
    let text = base.unwrap_or("v=DMARC1");
    let record = match classify(text) {
        Candidate::Dmarc(record) => record,
        _ => match classify(&repair(text)) {
            Candidate::Dmarc(record) => record,
            _ => return repair(text),
        },
    };
    let edit = Edit {
        set: set.to_vec(),
        remove: remove.to_vec(),
        ..Edit::default()
    };
    rewrite_edit(&record, &edit)
}

/// [`rewrite`] with the tags of an [`Edit`].
fn rewrite_edit(record: &Record, edit: &Edit) -> String {
    let set: Vec<(&str, &str)> = edit
        .set
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let remove: Vec<&str> = edit.remove.iter().map(String::as_str).collect();
    rewrite(record, &set, &remove)
}

fn rewrite(record: &Record, set: &[(&str, &str)], drop: &[&str]) -> String {
    let value_of = |key: &str| {
        set.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    };
    let p = value_of("p")
        .or_else(|| record.p.map(|p| p.as_str().to_owned()))
        .or_else(|| {
            record
                .tags
                .iter()
                .find(|t| t.key() == "p")
                .and_then(|t| guess("p", &t.value))
        })
        .unwrap_or_else(|| "quarantine".to_owned());
    let mut parts = vec!["v=DMARC1".to_owned(), format!("p={p}")];
    let mut written: BTreeSet<String> = ["v".to_owned(), "p".to_owned()].into();
    for tag in &record.tags {
        let key = tag.key();
        if written.contains(&key)
            || drop.contains(&key.as_str())
            || tag.status == TagStatus::Duplicate
        {
            continue;
        }
        let value = if let Some(value) = value_of(&key) {
            value
        } else if key == "rua" || key == "ruf" {
            let uris = if key == "rua" {
                &record.rua
            } else {
                &record.ruf
            };
            if uris.is_empty() {
                continue;
            }
            uris.iter()
                .map(|u| u.uri.as_str())
                .collect::<Vec<_>>()
                .join(",")
        } else if tag.status == TagStatus::Invalid {
            match guess(&key, &tag.value) {
                Some(value) => value,
                None => continue,
            }
        } else {
            tag.value.clone()
        };
        parts.push(format!("{key}={value}"));
        written.insert(key);
    }
    for (key, value) in set {
        if !written.contains(*key) && !drop.contains(key) {
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join("; ")
}

/// The keyword an invalid value most likely meant (`p=rejected` → `reject`), for the fix.
fn guess(key: &str, value: &str) -> Option<String> {
    let first = value.chars().next()?.to_ascii_lowercase();
    let choices: &[&str] = match key {
        "p" | "sp" | "np" => &["none", "quarantine", "reject"],
        "adkim" | "aspf" => &["r", "s"],
        "t" => &["y", "n"],
        "psd" => &["y", "n", "u"],
        _ => return None,
    };
    choices
        .iter()
        .find(|c| c.starts_with(first))
        .map(|c| (*c).to_owned())
}

/// The report destinations checked and the findings about them: each one's authorisation, and
/// those not checked.
async fn destinations(dns: &Dns, found: &Found<'_>) -> (Vec<Destination>, Vec<Finding>) {
    let destinations = check_destinations(dns, found.policy_domain, found.record).await;
    let mut findings = destination_findings(found, &destinations);
    findings.extend(too_many_destinations(found));
    (destinations, findings)
}

/// The first [`CHECKED_DESTINATIONS`] `rua` and `ruf` destinations with their authorisation.
///
/// A destination needs an authorisation record when its host's Organizational Domain differs
/// from the policy domain's (RFC 7489 §7.1), both found by the DNS Tree Walk that finds DMARC
/// policies (RFC 9989 §4.10.2), not by a public suffix list. The walks and the authorisation
/// names are asked all at once (one round trip; the names of the audited domain's own walk come
/// from the cache).
async fn check_destinations(dns: &Dns, policy_domain: &str, record: &Record) -> Vec<Destination> {
    let listed: Vec<(&str, &ReportUri)> = record
        .rua
        .iter()
        .take(CHECKED_DESTINATIONS)
        .map(|u| ("rua", u))
        .chain(
            record
                .ruf
                .iter()
                .take(CHECKED_DESTINATIONS)
                .map(|u| ("ruf", u)),
        )
        .collect();
    let mut hosts: Vec<&str> = listed
        .iter()
        .filter_map(|(_, uri)| external(uri, policy_domain))
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let own = async {
        if hosts.is_empty() {
            None
        } else {
            Some(discovery::organizational_domain_of(dns, policy_domain).await)
        }
    };
    let walks = join_all(
        hosts
            .iter()
            .map(|host| discovery::organizational_domain_of(dns, host)),
    );
    let answers = join_all(listed.iter().map(|(_, uri)| async move {
        match external(uri, policy_domain) {
            Some(host) => Some(dns.txt(&authorization_name(policy_domain, host)).await),
            None => None,
        }
    }));
    let (own, walks, answers) = tokio::join!(own, walks, answers);
    listed
        .into_iter()
        .zip(answers)
        .map(|((tag, uri), answer)| {
            let destination = Destination {
                tag: tag.to_owned(),
                uri: uri.clone(),
                organizational_domain: None,
                organizational_domain_unknown: None,
                authorization: if uri.host.is_some() {
                    Authorization::SameOrganization
                } else {
                    Authorization::NotChecked
                },
                query: None,
                status: None,
                records: Vec::new(),
                txt_records: None,
            };
            match (external(uri, policy_domain), own.as_ref(), answer) {
                (Some(host), Some(own), Some(answer)) => {
                    let walk = hosts
                        .iter()
                        .position(|h| *h == host)
                        .map(|index| &walks[index]);
                    match walk {
                        Some(walk) => decide(destination, policy_domain, own, walk, &answer),
                        None => destination,
                    }
                }
                _ => destination,
            }
        })
        .collect()
}

/// The destination's host when it is not the policy domain itself (which is in its own
/// organisation without a walk); `None` for a URI without a host.
fn external<'a>(uri: &'a ReportUri, policy_domain: &str) -> Option<&'a str> {
    uri.host.as_deref().filter(|host| *host != policy_domain)
}

/// `<policy domain>._report._dmarc.<destination host>`: where the destination authorises the
/// reports (RFC 7489 §7.1).
fn authorization_name(policy_domain: &str, host: &str) -> String {
    format!("{policy_domain}._report._dmarc.{host}")
}

/// Whether a destination in another host than the policy domain may receive its reports, from
/// the two Organizational Domains and the authorisation answer: the same organisation needs no
/// authorisation; another needs it; when a walk failed, only an authorisation record decides,
/// and without one the answer is unknown.
fn decide(
    mut destination: Destination,
    policy_domain: &str,
    own: &Result<String, WalkFailure>,
    walk: &Result<String, WalkFailure>,
    answer: &Answer<Txt>,
) -> Destination {
    let host = destination.uri.host.clone().unwrap_or_default();
    destination.organizational_domain = walk.as_ref().ok().cloned();
    if let (Ok(own), Ok(theirs)) = (own, walk)
        && own == theirs
    {
        destination.authorization = Authorization::SameOrganization;
        destination.query = None;
        return destination;
    }
    destination.query = Some(authorization_name(policy_domain, &host));
    let mut destination = authorize(destination, answer);
    let failed = own.as_ref().err().or(walk.as_ref().err());
    if let Some(failure) = failed
        && destination.authorization != Authorization::Authorized
    {
        destination.authorization = Authorization::Unknown;
        destination.organizational_domain_unknown =
            Some(format!("{} ({})", failure.name, failure.answer));
    }
    destination
}

/// RFC 7489 §7.1 steps 4 to 7: authorised when at least one TXT record at the name starts with
/// `v=DMARC1`; not when none does; unknown on a DNS failure.
fn authorize(mut destination: Destination, answer: &Answer<Txt>) -> Destination {
    let texts: Vec<String> = answer.records().iter().map(Txt::joined).collect();
    let authorizes = texts
        .iter()
        .any(|t| matches!(classify(t), Candidate::Dmarc(_)));
    destination.txt_records = Some(texts.len());
    destination.records = texts.into_iter().take(MAX_TXT_SHOWN).collect();
    destination.status = Some(answer.status());
    destination.authorization = match answer {
        // A name longer than DNS allows can hold no record: no receiver can authorise it.
        Answer::Failed(Failure::InvalidName(_)) => Authorization::Unauthorized,
        Answer::Failed(_) => Authorization::Unknown,
        _ if authorizes => Authorization::Authorized,
        _ => Authorization::Unauthorized,
    };
    destination
}

/// `dmarc.too-many-destinations`: `rua` or `ruf` lists more destinations than were checked.
/// RFC 7489 §6.2: receivers may send reports to only the first two of each, so the others may
/// get nothing, and their authorisation was not asked.
fn too_many_destinations(found: &Found<'_>) -> Option<Finding> {
    let record = found.record;
    let (rua, ruf) = (record.rua_listed, record.ruf_listed);
    let not_checked =
        rua.saturating_sub(CHECKED_DESTINATIONS) + ruf.saturating_sub(CHECKED_DESTINATIONS);
    if not_checked == 0 {
        return None;
    }
    let listed: Vec<String> = [("rua", rua), ("ruf", ruf)]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(tag, count)| format!("{count} {tag}"))
        .collect();
    let first_two = |uris: &[ReportUri]| {
        uris.iter()
            .take(2)
            .map(|u| u.uri.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (aggregate, failure) = (first_two(&record.rua), first_two(&record.ruf));
    let mut set: Vec<(&str, &str)> = Vec::new();
    if !aggregate.is_empty() {
        set.push(("rua", &aggregate));
    }
    if !failure.is_empty() {
        set.push(("ruf", &failure));
    }
    Some(
        found
            .finding(
                Code::DmarcTooManyDestinations,
                format!(
                    "{} lists {} report destinations: receivers need send reports to only the \
                     first two of each tag (RFC 7489 §6.2), so the others may get none; the \
                     first {CHECKED_DESTINATIONS} of each were checked, the other {not_checked} \
                     were not",
                    found.name,
                    listed.join(" and ")
                ),
            )
            .evidence("rua_listed", rua)
            .evidence("ruf_listed", ruf)
            .evidence("checked_per_tag", CHECKED_DESTINATIONS)
            .evidence("not_checked", not_checked)
            .fix(format!(
                "List at most two destinations in each of rua and ruf, those that must get the \
                 reports: {}",
                found.publish(&rewrite(record, &set, &[]))
            )),
    )
}

fn destination_findings(found: &Found<'_>, destinations: &[Destination]) -> Vec<Finding> {
    destinations
        .iter()
        .filter_map(|d| {
            let query = d.query.as_deref()?;
            let host = d.uri.host.as_deref()?;
            let address = d.uri.address.as_deref().unwrap_or(&d.uri.uri);
            let status = d.status.clone().unwrap_or_default();
            let base = |code: Code, message: String| {
                found
                    .finding(code, message)
                    .evidence("destination", address)
                    .evidence("tag", &d.tag)
                    .evidence("authorization_name", query)
                    .evidence("authorization_answer", &status)
                    .evidence("authorization_records", &d.records)
            };
            match d.authorization {
                Authorization::Unauthorized => {
                    let seen = if d.records.is_empty() {
                        format!("no TXT record at {query} ({status})")
                    } else {
                        format!("no record starting with v=DMARC1 at {query}")
                    };
                    let org = d
                        .organizational_domain
                        .as_deref()
                        .map(|org| format!(" ({org}, by the DNS tree walk of RFC 9989 §4.10.2)"))
                        .unwrap_or_default();
                    Some(
                        base(
                            Code::DmarcRuaUnauthorized,
                            format!(
                                "{} destination {} is in another organisational domain{org} that does not \
                                 authorise reports for {}: {seen}, so receivers send no reports there \
                                 (RFC 7489 §7.1)",
                                d.tag,
                                quote(address),
                                found.policy_domain
                            ),
                        )
                        .evidence("organizational_domain", &d.organizational_domain)
                        .fix(format!(
                            "Have the operator of {host} publish {query} TXT \"v=DMARC1;\" — or send the \
                             reports to an address in {}",
                            found.policy_domain
                        )),
                    )
                }
                Authorization::Unknown => Some(match &d.organizational_domain_unknown {
                    Some(walk) => base(
                        Code::DmarcLookupFailed,
                        format!(
                            "DNS failure asking {walk} during the tree walk that finds organisational \
                             domains (RFC 9989 §4.10.2), and no authorisation at {query} ({status}): \
                             whether {host} may receive {} reports for {} is unknown",
                            d.tag, found.policy_domain
                        ),
                    )
                    .evidence("organizational_domain_unknown", walk)
                    .fix(format!(
                        "Check that the name servers answering for {walk} respond, then audit again"
                    )),
                    None => base(
                        Code::DmarcLookupFailed,
                        format!(
                            "DNS failure ({status}) asking {query}: whether {host} accepts {} reports for {} is unknown",
                            d.tag, found.policy_domain
                        ),
                    )
                    .fix(format!("Check that the name servers of {host} answer, then audit again")),
                }),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;

    fn rec(text: &str) -> Record {
        match classify(text) {
            Candidate::Dmarc(record) => record,
            other => panic!("{other:?}"),
        }
    }

    /// Evaluates `text` as the record of `example.com` (own) or of its parent (inherited by
    /// `mail.example.com`).
    fn eval(text: &str, via: Option<Via>, exists: Option<bool>) -> (EffectivePolicy, Vec<Finding>) {
        let record = rec(text);
        let (domain, name, policy_domain) = match via {
            None => ("example.com", "_dmarc.example.com", "example.com"),
            Some(_) => ("mail.example.com", "_dmarc.example.com", "example.com"),
        };
        let found = Found {
            domain,
            name,
            policy_domain,
            record: &record,
            text,
            via,
            exists,
        };
        evaluate(&found)
    }

    fn codes(findings: &[Finding]) -> Vec<Code> {
        findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_good_record_raises_nothing() {
        let (policy, findings) = eval(
            "v=DMARC1; p=reject; rua=mailto:dmarc@example.com",
            None,
            Some(true),
        );
        assert_eq!(codes(&findings), vec![]);
        assert_eq!(policy.requested, Some(Policy::Reject));
        assert_eq!(policy.applied, Some(Policy::Reject));
        assert_eq!(policy.tag.as_deref(), Some("p"));
    }

    #[test]
    fn each_weakness_has_its_code_and_a_fix_with_the_corrected_record() {
        let cases: [(&str, Code, &str); 5] = [
            (
                "v=DMARC1; p=none; rua=mailto:d@example.com",
                Code::DmarcPolicyNone,
                "p=quarantine; rua=mailto:d@example.com",
            ),
            (
                "v=DMARC1; p=reject; t=y; rua=mailto:d@example.com",
                Code::DmarcTesting,
                "\"v=DMARC1; p=reject; rua=mailto:d@example.com\"",
            ),
            (
                "v=DMARC1; p=quarantine; pct=25; rua=mailto:d@example.com",
                Code::DmarcPctPartial,
                "\"v=DMARC1; p=quarantine; rua=mailto:d@example.com\"",
            ),
            (
                "v=DMARC1; p=reject",
                Code::DmarcNoRua,
                "\"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com\"",
            ),
            (
                "v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com",
                Code::DmarcSpWeaker,
                "\"v=DMARC1; p=reject; rua=mailto:d@example.com\"",
            ),
        ];
        for (text, code, fix) in cases {
            let (_, findings) = eval(text, None, Some(true));
            let finding = findings
                .iter()
                .find(|f| f.code == code)
                .unwrap_or_else(|| panic!("{text}: {findings:?}"));
            assert!(
                finding.fix.as_deref().is_some_and(|f| f.contains(fix)),
                "{text}: {:?}",
                finding.fix
            );
            assert_eq!(finding.evidence["name"], "_dmarc.example.com");
            // The record is the report's, once: never repeated in each finding.
            assert!(!finding.evidence.contains_key("record"), "{text}");
        }
    }

    #[test]
    fn np_weaker_than_p_is_flagged_too() {
        let (_, findings) = eval(
            "v=DMARC1; p=reject; np=quarantine; rua=mailto:d@example.com",
            None,
            Some(true),
        );
        let weaker = findings
            .iter()
            .find(|f| f.code == Code::DmarcSpWeaker)
            .expect("np weaker");
        assert!(
            weaker.message.contains("np=quarantine"),
            "{}",
            weaker.message
        );
        let (_, findings) = eval(
            "v=DMARC1; p=quarantine; sp=reject; rua=mailto:d@example.com",
            None,
            Some(true),
        );
        assert!(
            !codes(&findings).contains(&Code::DmarcSpWeaker),
            "stronger sp is fine"
        );
    }

    #[test]
    fn testing_and_pct_do_not_matter_under_p_none() {
        let (_, findings) = eval(
            "v=DMARC1; p=none; t=y; pct=0; rua=mailto:d@example.com",
            None,
            Some(true),
        );
        assert_eq!(codes(&findings), vec![Code::DmarcPolicyNone]);
    }

    #[test]
    fn t_y_applies_one_level_weaker() {
        let (policy, _) = eval(
            "v=DMARC1; p=reject; t=y; rua=mailto:d@example.com",
            None,
            Some(true),
        );
        assert_eq!(
            (policy.requested, policy.applied),
            (Some(Policy::Reject), Some(Policy::Quarantine))
        );
    }

    /// RFC 9989 §4.10.1: sp for an existing subdomain, np for a non-existent one, falling back
    /// np → sp → p.
    #[test]
    fn an_inherited_record_gives_sp_or_np() {
        let text = "v=DMARC1; p=reject; sp=quarantine; np=none; rua=mailto:d@example.com";
        let (policy, findings) = eval(text, Some(Via::OrganizationalDomain), Some(true));
        assert_eq!(
            (policy.requested, policy.tag.as_deref()),
            (Some(Policy::Quarantine), Some("sp"))
        );
        assert!(codes(&findings).contains(&Code::DmarcInherited));
        let (policy, _) = eval(text, Some(Via::OrganizationalDomain), Some(false));
        assert_eq!(
            (policy.requested, policy.tag.as_deref()),
            (Some(Policy::None), Some("np"))
        );
        let (policy, _) = eval(
            "v=DMARC1; p=reject; sp=quarantine",
            Some(Via::OrganizationalDomain),
            Some(false),
        );
        assert_eq!(
            (policy.requested, policy.tag.as_deref()),
            (Some(Policy::Quarantine), Some("sp"))
        );
        let (policy, _) = eval(
            "v=DMARC1; p=reject",
            Some(Via::OrganizationalDomain),
            Some(false),
        );
        assert_eq!(
            (policy.requested, policy.tag.as_deref()),
            (Some(Policy::Reject), Some("p"))
        );
        let inherited = eval(text, Some(Via::OrganizationalDomain), Some(true)).1;
        let inherited = inherited
            .iter()
            .find(|f| f.code == Code::DmarcInherited)
            .unwrap();
        assert_eq!(inherited.severity, Severity::Info);
        assert!(
            inherited.message.contains("sp=quarantine"),
            "{}",
            inherited.message
        );
    }

    /// mail-auth `dmarc_policy_discovery` (Apache-2.0 OR MIT): a missing p with a valid rua is
    /// p=none (RFC 9989 §4.10.1); without rua, no DMARC at all.
    #[test]
    fn a_record_without_a_valid_p_is_none_or_nothing() {
        let (policy, findings) = eval("v=DMARC1; rua=mailto:d@example.com", None, Some(true));
        assert_eq!(policy.requested, Some(Policy::None));
        assert!(codes(&findings).contains(&Code::DmarcSyntax));
        assert!(codes(&findings).contains(&Code::DmarcPolicyNone));
        let syntax = findings
            .iter()
            .find(|f| f.code == Code::DmarcSyntax)
            .unwrap();
        assert!(
            syntax
                .fix
                .as_deref()
                .unwrap()
                .contains("\"v=DMARC1; p=quarantine; rua=mailto:d@example.com\"")
        );

        let (policy, findings) = eval("v=DMARC1; adkim=s", None, Some(true));
        assert_eq!(policy.requested, None);
        assert!(policy.why.contains("no DMARC"), "{}", policy.why);
        assert_eq!(codes(&findings), vec![Code::DmarcSyntax]);

        // An invalid sp spoils the whole policy.
        let (policy, findings) = eval(
            "v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com",
            None,
            Some(true),
        );
        assert_eq!(policy.requested, Some(Policy::None));
        let syntax = findings
            .iter()
            .find(|f| f.code == Code::DmarcSyntax)
            .unwrap();
        assert!(
            syntax.message.contains("act as if the record said p=none"),
            "{}",
            syntax.message
        );
    }

    #[test]
    fn the_fix_guesses_the_meant_keyword_and_drops_what_receivers_discard() {
        let r = rec(
            "v=DMARC1; p=rejected; adkim=S; rua=mailto:a@example.com, b@example.com; foo=bar; p=none",
        );
        assert_eq!(
            rewrite(&r, &[], &[]),
            "v=DMARC1; p=reject; adkim=S; rua=mailto:a@example.com; foo=bar"
        );
        let r =
            rec("v=DMARC1; sp=none; fo=1; ruf=mailto:f@example.com; rua=mailto:a@example.com!10m");
        assert_eq!(
            rewrite(&r, &[("sp", "quarantine")], &["fo"]),
            "v=DMARC1; p=quarantine; sp=quarantine; ruf=mailto:f@example.com; rua=mailto:a@example.com"
        );
        assert_eq!(
            repair("p=reject; v=DMARC1; rua=mailto:a@example.com"),
            "v=DMARC1; p=reject; rua=mailto:a@example.com"
        );
        assert_eq!(repair("\"v=DMARC1; p=none\""), "v=DMARC1; p=none");
    }

    fn destination(tag: &str, uri: &str, query: &str) -> Destination {
        Destination {
            tag: tag.to_owned(),
            uri: parse::parse_uri(uri).unwrap(),
            organizational_domain: Some("example.net".to_owned()),
            organizational_domain_unknown: None,
            authorization: Authorization::Unknown,
            query: Some(query.to_owned()),
            status: None,
            records: Vec::new(),
            txt_records: None,
        }
    }

    fn txt(text: &str) -> Txt {
        Txt {
            strings: vec![text.as_bytes().to_vec()],
        }
    }

    /// RFC 7489 §7.1: at least one record starting with v=DMARC1 authorises; none does not; a
    /// DNS failure is unknown, never unauthorised.
    #[test]
    fn destinations_are_authorised_only_by_a_dmarc_record() {
        let q = "example.com._report._dmarc.example.net";
        let d = || destination("rua", "mailto:r@example.net", q);
        let records = |texts: &[&str]| Answer::Records {
            records: texts.iter().map(|t| txt(t)).collect(),
            aliases: vec![],
        };
        assert_eq!(
            authorize(d(), &records(&["v=DMARC1;"])).authorization,
            Authorization::Authorized
        );
        assert_eq!(
            authorize(
                d(),
                &records(&["other", "v=DMARC1; rua=mailto:x@example.net"])
            )
            .authorization,
            Authorization::Authorized
        );
        assert_eq!(
            authorize(d(), &records(&["v=spf1 -all"])).authorization,
            Authorization::Unauthorized
        );
        assert_eq!(
            authorize(d(), &Answer::nx_domain()).authorization,
            Authorization::Unauthorized
        );
        assert_eq!(
            authorize(d(), &Answer::no_data()).authorization,
            Authorization::Unauthorized
        );
        assert_eq!(
            authorize(d(), &Answer::Failed(Failure::Timeout)).authorization,
            Authorization::Unknown
        );

        let record = rec("v=DMARC1; p=reject; rua=mailto:r@example.net");
        let found = Found {
            domain: "example.com",
            name: "_dmarc.example.com",
            policy_domain: "example.com",
            record: &record,
            text: "",
            via: None,
            exists: Some(true),
        };
        let unauthorized = authorize(d(), &Answer::nx_domain());
        let findings = destination_findings(&found, &[unauthorized]);
        assert_eq!(codes(&findings), vec![Code::DmarcRuaUnauthorized]);
        assert!(
            findings[0]
                .fix
                .as_deref()
                .unwrap()
                .contains(&format!("{q} TXT \"v=DMARC1;\""))
        );
        let unknown = authorize(d(), &Answer::Failed(Failure::ServFail));
        assert_eq!(
            codes(&destination_findings(&found, &[unknown])),
            vec![Code::DmarcLookupFailed]
        );
    }

    /// RFC 9989 §4.10.2 and RFC 7489 §7.1: the Organizational Domains found by the tree walk
    /// decide whether an authorisation is needed; when a walk failed, only an authorisation
    /// record decides.
    #[test]
    fn organizational_domains_from_the_tree_walk_decide_the_authorisation() {
        let d = || Destination {
            organizational_domain: None,
            ..destination("rua", "mailto:r@ops.example.com", "")
        };
        let org = |name: &str| -> Result<String, WalkFailure> { Ok(name.to_owned()) };
        let failed = || -> Result<String, WalkFailure> {
            Err(WalkFailure {
                name: "_dmarc.example.com".to_owned(),
                answer: "timeout".to_owned(),
            })
        };
        let authorizing = Answer::Records {
            records: vec![txt("v=DMARC1;")],
            aliases: vec![],
        };
        let same = decide(
            d(),
            "example.com",
            &org("example.com"),
            &org("example.com"),
            &Answer::nx_domain(),
        );
        assert_eq!(same.authorization, Authorization::SameOrganization);
        assert_eq!(same.query, None);

        let other = decide(
            d(),
            "example.com",
            &org("example.com"),
            &org("ops.example.com"),
            &Answer::nx_domain(),
        );
        assert_eq!(other.authorization, Authorization::Unauthorized);
        assert_eq!(
            other.query.as_deref(),
            Some("example.com._report._dmarc.ops.example.com")
        );
        assert_eq!(
            other.organizational_domain.as_deref(),
            Some("ops.example.com")
        );

        let unknown = decide(
            d(),
            "example.com",
            &failed(),
            &org("ops.example.com"),
            &Answer::nx_domain(),
        );
        assert_eq!(unknown.authorization, Authorization::Unknown);
        assert_eq!(
            unknown.organizational_domain_unknown.as_deref(),
            Some("_dmarc.example.com (timeout)")
        );
        let authorized = decide(
            d(),
            "example.com",
            &org("example.com"),
            &failed(),
            &authorizing,
        );
        assert_eq!(authorized.authorization, Authorization::Authorized);
        assert_eq!(authorized.organizational_domain_unknown, None);
    }

    /// RFC 7489 §6.2: the first four of each tag are checked; the rest are one finding.
    #[test]
    fn a_record_of_many_destinations_says_how_many_were_not_checked() {
        let rua: Vec<String> = (1..=40)
            .map(|n| format!("mailto:r@h{n}.example.net"))
            .collect();
        let text = format!(
            "v=DMARC1; p=reject; rua={}; ruf=mailto:f@example.com",
            rua.join(",")
        );
        let record = rec(&text);
        assert_eq!(record.rua.len(), record::MAX_URIS_KEPT);
        assert_eq!((record.rua_listed, record.ruf_listed), (40, 1));
        let found = Found {
            domain: "example.com",
            name: "_dmarc.example.com",
            policy_domain: "example.com",
            record: &record,
            text: "",
            via: None,
            exists: Some(true),
        };
        let finding = too_many_destinations(&found).expect("36 not checked");
        assert_eq!(finding.code, Code::DmarcTooManyDestinations);
        assert_eq!(finding.evidence["not_checked"], 36);
        assert!(
            finding.fix.as_deref().unwrap().contains(
                "\"v=DMARC1; p=reject; rua=mailto:r@h1.example.net,mailto:r@h2.example.net; \
                 ruf=mailto:f@example.com\""
            ),
            "{:?}",
            finding.fix
        );
        let four = rec(
            "v=DMARC1; p=reject; rua=mailto:a@a.net,mailto:b@b.net,mailto:c@c.net,mailto:d@d.net",
        );
        let found = Found {
            record: &four,
            ..found
        };
        assert!(too_many_destinations(&found).is_none());
    }

    #[test]
    fn the_walk_log_shows_a_kilobyte_of_a_huge_record() {
        let huge = format!("v=DMARC1; p=reject; rua={}", "x".repeat(5000));
        let shown = logged(huge.clone());
        assert!(shown.starts_with(&huge[..LOGGED_RECORD_BYTES]));
        assert!(shown.ends_with("… (5024 bytes in all)"), "{shown}");
        assert_eq!(logged("v=DMARC1; p=none".to_owned()), "v=DMARC1; p=none");
    }

    #[test]
    fn the_verdict_is_unknown_only_when_nothing_certain_fails() {
        let f = |code| Finding::new(code, "x");
        assert_eq!(verdict(&[]), Verdict::Ok);
        assert_eq!(verdict(&[f(Code::DmarcInherited)]), Verdict::Ok);
        assert_eq!(verdict(&[f(Code::DmarcNoRua)]), Verdict::Weak);
        assert_eq!(verdict(&[f(Code::DmarcLookupFailed)]), Verdict::Unknown);
        assert_eq!(
            verdict(&[f(Code::DmarcLookupFailed), f(Code::DmarcNoRua)]),
            Verdict::Unknown
        );
        assert_eq!(
            verdict(&[f(Code::DmarcLookupFailed), f(Code::DmarcSyntax)]),
            Verdict::Fail
        );
    }
}
