//! The ordered steps of a move between providers, each as the zone-file lines to add and
//! remove, and, with `--verify`, whether DNS shows it done.
//!
//! The order avoids a gap: the new provider is verified and may sign (DKIM, RFC 6376) and send
//! (SPF, RFC 7208) before mail is routed to it (MX, RFC 5321 §5.1); the old provider's include
//! stays until it no longer sends; DMARC (RFC 7489 §6.3 `p`) is tightened last, once the new
//! provider's mail is seen passing.

use std::fmt::Write as _;

use serde::Serialize;

use super::State;
use super::detect::Detection;
use super::hybrid::Hybrid;
use super::profile::{Profiles, verification_prefix};
use crate::dkim::SelectorStatus;
use crate::dkim::selectors::{Provider, fill, is_under};
use crate::dmarc::record::Policy;
use crate::finding::Verdict;
use crate::publish::RecordToPublish;
use crate::spf::LOOKUP_LIMIT;

/// The TTL a day ahead of the MX switch: resolvers then pick up the switch within 5 minutes.
const LOW_TTL: u32 = 300;

/// The steps, in the order they are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    VerifyDomain,
    PublishDkim,
    /// `--hybrid`: the on-premises server's address in the SPF record.
    KeepHybridInSpf,
    AddSpfInclude,
    /// `--hybrid`: the on-premises server relays through the new provider's smart host.
    HybridRoute,
    LowerMxTtl,
    SwitchMx,
    KeepOldInclude,
    RemoveOldInclude,
    TightenDmarc,
}

/// What DNS shows of a step (`--verify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Done,
    NotDone,
    /// DNS did not answer, or the step cannot be seen in DNS: never taken for not done.
    Unknown,
}

/// One step of the plan.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub id: StepId,
    pub title: String,
    /// Why now, and what to check before it.
    pub detail: String,
    /// Zone-file lines to publish.
    pub add: Vec<String>,
    /// Zone-file lines to delete (the records they replace).
    pub remove: Vec<String>,
    /// What to do at the provider rather than in DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The SPF record's DNS lookups once this step is taken (RFC 7208 §4.6.4: at most 10);
    /// `None` when a record it includes could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_lookups_after: Option<usize>,
    /// When `spf_lookups_after` passes 10: the terms to drop or replace, costliest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spf_to_drop: Vec<String>,
    /// Mail is lost or fails authentication while this step is not done.
    pub breaks_delivery: bool,
    /// With `--verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// With `--verify`: what DNS showed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// A step left half done, named, with its fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub half_done: Option<String>,
}

/// The plan of a move.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub to: String,
    pub to_id: Option<String>,
    pub from: Option<String>,
    pub from_id: Option<String>,
    pub tenant: Option<String>,
    pub verified: bool,
    /// The SPF record's DNS lookups today.
    pub spf_lookups_now: usize,
    /// With `--verify`: the first step not done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<StepId>,
    pub steps: Vec<Step>,
    /// Where mail clients and devices submit mail at the new provider.
    pub submission: Vec<String>,
    /// Mail-client set-up records of the new provider.
    pub autodiscover: Vec<String>,
    pub docs: Vec<String>,
    /// With `--hybrid`: the on-premises server as DNS (and `--smtp`) showed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hybrid: Option<Hybrid>,
}

impl Plan {
    /// A delivery-breaking step is not done, or cannot be told done.
    pub fn delivery_at_risk(&self) -> bool {
        self.verified
            && self.steps.iter().any(|s| {
                s.breaks_delivery && matches!(s.status, Some(Status::NotDone | Status::Unknown))
            })
    }
}

/// The providers of a move and what the walk of the new include cost.
pub struct Target<'a> {
    pub to: &'a Provider,
    pub from: Option<&'a Provider>,
    pub tenant: Option<&'a str>,
    /// What `include:` of the new provider adds to the SPF lookups, when it is not there yet.
    pub include_cost: Option<usize>,
    /// `--hybrid`: the on-premises server that stays.
    pub hybrid: Option<&'a Hybrid>,
}

/// The provider being left when `--from` is not given: the one the domain's MX names, else the
/// first that sends for it, other than the new one.
pub fn likely_from<'p>(
    detected: &Detection,
    to: &Provider,
    profiles: &'p Profiles,
) -> Option<&'p Provider> {
    detected
        .inbound
        .iter()
        .chain(&detected.outbound)
        .find(|d| d.provider != to.name)
        .and_then(|d| profiles.all().iter().find(|p| p.name == d.provider))
}

/// A TXT record as a zone-file line, split into character-strings as publish does.
fn txt_line(name: &str, value: &str) -> String {
    RecordToPublish {
        name: name.to_owned(),
        record_type: "TXT".to_owned(),
        value: value.to_owned(),
        replaces: None,
        fixes: Vec::new(),
        steps: Vec::new(),
    }
    .zone_line()
}

/// A profile's `name. TYPE data` template as a zone-file line with a TTL and class.
fn record_line(template: &str, domain: &str, tenant: Option<&str>) -> String {
    let mut line = fill(template, domain);
    if let Some(tenant) = tenant {
        line = line.replace("<tenant>", tenant);
    }
    match line.split_once(' ') {
        Some((name, rest)) if !rest.contains(" IN ") => format!("{name} 3600 IN {rest}"),
        _ => line,
    }
}

/// A step without records or status yet.
pub(super) fn step(id: StepId, title: String, detail: String, breaks_delivery: bool) -> Step {
    Step {
        id,
        title,
        detail,
        add: Vec::new(),
        remove: Vec::new(),
        action: None,
        spf_lookups_after: None,
        spf_to_drop: Vec::new(),
        breaks_delivery,
        status: None,
        evidence: Vec::new(),
        half_done: None,
    }
}

/// The plan of moving `state`'s domain to `target.to`; with `verify`, each step's status.
pub fn plan(state: &State, target: &Target<'_>, verify: bool) -> Plan {
    let to = target.to;
    let from = target.from.filter(|f| f.name != to.name);
    let found_tenant = target
        .tenant
        .map(ToOwned::to_owned)
        .or_else(|| tenant_in_dns(state, to));
    let tenant = found_tenant.as_deref();
    let mut steps = Vec::new();
    steps.extend(verify_domain(state, to));
    steps.push(publish_dkim(state, to, tenant));
    let spf = SpfSteps::new(state, target, from);
    steps.extend(target.hybrid.map(|hybrid| spf.hybrid_step(hybrid, to)));
    steps.extend(spf.add_include(state));
    steps.extend(target.hybrid.and_then(|hybrid| hybrid.route_step(to)));
    steps.extend(mx_steps(state, to, from));
    steps.extend(spf.old_include_steps(state, from));
    steps.push(tighten_dmarc(state, to));
    if !verify {
        for step in &mut steps {
            step.status = None;
            step.evidence.clear();
            step.half_done = None;
        }
    }
    let next_step = steps
        .iter()
        .find(|s| s.status == Some(Status::NotDone))
        .map(|s| s.id);
    let domain = &state.domain;
    Plan {
        to: to.name.clone(),
        to_id: to.id.clone(),
        from: from.map(|f| f.name.clone()),
        from_id: from.and_then(|f| f.id.clone()),
        tenant: found_tenant,
        verified: verify,
        spf_lookups_now: state.spf.total_lookups,
        next_step,
        steps,
        submission: to.submission.clone(),
        autodiscover: to
            .autodiscover
            .iter()
            .map(|line| record_line(line, domain, None))
            .collect(),
        docs: to.docs.clone(),
        hybrid: target.hybrid.cloned(),
    }
}

/// The `<tenant>` of the provider's DKIM CNAMEs as the domain already publishes them (a move
/// half done): what `--tenant` would have said.
fn tenant_in_dns(state: &State, to: &Provider) -> Option<String> {
    to.dkim_records.iter().find_map(|template| {
        let line = fill(template, &state.domain);
        let (name, target) = line.split_once(" CNAME ")?;
        let (before, after) = target.trim_end_matches('.').split_once("<tenant>")?;
        let published = state
            .dkim
            .selectors
            .iter()
            .find(|s| s.name == name.trim_end_matches('.'))?
            .aliases
            .last()?;
        let tenant = published.strip_prefix(before)?.strip_suffix(after)?;
        (!tenant.is_empty() && !tenant.contains('.')).then(|| tenant.to_owned())
    })
}

fn verify_domain(state: &State, to: &Provider) -> Option<Step> {
    let template = to.verification.as_deref()?;
    let domain = &state.domain;
    let mut s = step(
        StepId::VerifyDomain,
        format!("Verify {domain} at {}", to.name),
        format!(
            "{} asks for this TXT record before it accepts mail for {domain}; the value comes from its console.",
            to.name
        ),
        false,
    );
    s.add.push(txt_line(domain, &fill(template, domain)));
    let prefix = verification_prefix(template);
    if state.apex.failure().is_some() {
        s.status = Some(Status::Unknown);
        s.evidence
            .push(format!("TXT {domain}: {}", state.apex.status()));
    } else if let Some(found) = state
        .apex
        .records()
        .iter()
        .map(crate::dns::Txt::joined)
        .find(|text| text.starts_with(prefix))
    {
        s.status = Some(Status::Done);
        s.evidence.push(format!("TXT {domain} \"{found}\""));
    } else {
        s.status = Some(Status::NotDone);
        s.evidence.push(format!(
            "no TXT record at {domain} starts with \"{prefix}\""
        ));
    }
    Some(s)
}

fn publish_dkim(state: &State, to: &Provider, tenant: Option<&str>) -> Step {
    let domain = &state.domain;
    let templates = to.dkim_records(domain);
    let mut s = step(
        StepId::PublishDkim,
        format!("Publish {}'s DKIM keys for {domain}", to.name),
        "Before any mail goes out through the new provider, so that it is signed as the domain (DMARC alignment, RFC 7489 §3.1.1) from the first message.".to_owned(),
        false,
    );
    let by_cname = !templates.is_empty();
    let selectors = if by_cname {
        s.add = to
            .dkim_records
            .iter()
            .map(|t| record_line(t, domain, tenant))
            .collect();
        s.action = to.dkim_enable.as_ref().map(|a| fill(a, domain));
        super::record_selectors(to, domain)
    } else {
        let selectors = to.signing_selectors();
        if let Some(first) = selectors.first() {
            s.add.push(txt_line(
                &format!("{first}._domainkey.{domain}"),
                "v=DKIM1; k=rsa; p=<public key from the console>",
            ));
        }
        s.action = to.dkim_note(domain);
        selectors
    };
    // A provider with several CNAME target forms (Microsoft 365: <tenant>.onmicrosoft.com, and
    // below dkim.mail.microsoft for newer tenants) shows the one of the account in its console.
    let other_forms: Vec<&str> = to
        .dkim_cname
        .iter()
        .map(String::as_str)
        .filter(|base| by_cname && !to.dkim_records.iter().any(|t| t.contains(base)))
        .collect();
    if !other_forms.is_empty() {
        let _ = write!(
            s.detail,
            " Newer accounts may be shown targets below {} instead: publish the values the provider's console shows.",
            other_forms.join(" or ")
        );
    }
    if by_cname && s.add.iter().any(|l| l.contains("<tenant>")) {
        s.detail
            .push_str(" Give --tenant NAME to fill in <tenant> (NAME.onmicrosoft.com).");
    }
    let (status, evidence, half) = dkim_status(state, to, &selectors, by_cname);
    s.status = Some(status);
    s.evidence = evidence;
    s.half_done = half;
    s
}

/// Whether the provider's keys are published: every CNAME-published selector (a provider such
/// as Microsoft 365 rotates between them), or one TXT-published selector.
fn dkim_status(
    state: &State,
    to: &Provider,
    selectors: &[String],
    every: bool,
) -> (Status, Vec<String>, Option<String>) {
    let domain = &state.domain;
    if selectors.is_empty() {
        return (
            Status::Unknown,
            vec![
                "the selectors are named by the provider's console: give them with --selector"
                    .to_owned(),
            ],
            None,
        );
    }
    let mut evidence = Vec::new();
    let (mut ok, mut unknown, mut dangling) = (0, 0, Vec::new());
    for selector in selectors {
        let Some(report) = state
            .dkim
            .selectors
            .iter()
            .find(|r| &r.selector == selector)
        else {
            unknown += 1;
            continue;
        };
        let target = report.aliases.last().filter(|t| **t != report.name);
        match (report.status, target) {
            (SelectorStatus::Key, _) if report.keys.iter().any(crate::dkim::is_usable) => {
                ok += 1;
                evidence.push(format!("{}: key published", report.name));
            }
            (SelectorStatus::LookupFailed, _) => {
                unknown += 1;
                evidence.push(format!("{}: {}", report.name, report.answer));
            }
            (_, Some(target)) => {
                evidence.push(format!(
                    "{} CNAME {target}: {} (no key there)",
                    report.name, report.answer
                ));
                dangling.push(report.name.clone());
            }
            _ => evidence.push(format!("{}: {}", report.name, report.answer)),
        }
    }
    let half = (!dangling.is_empty()).then(|| {
        format!(
            "half done: {} published but the key{} they point to do not exist, so {} does not sign as {domain} yet. Fix: {}",
            dangling.join(" and "),
            if dangling.len() > 1 { "s" } else { "" },
            to.name,
            to.dkim_enable
                .as_deref()
                .map_or_else(|| "publish the keys the provider's console shows".to_owned(), |a| fill(a, domain))
        )
    });
    let done = if every { ok == selectors.len() } else { ok > 0 };
    let status = if done {
        Status::Done
    } else if unknown > 0 {
        Status::Unknown
    } else {
        Status::NotDone
    };
    (status, evidence, half)
}

/// The SPF record through the move: today's, with the on-premises server's address
/// (`--hybrid`), with the new include, without the old one.
struct SpfSteps {
    domain: String,
    current: Option<String>,
    /// The record once the on-premises server's address is in it (today's without `--hybrid`).
    base: Option<String>,
    /// The records published today (several when SPF fails with permerror, RFC 7208 §4.5).
    published: Vec<String>,
    new_include: Option<String>,
    has_new: bool,
    /// The record with the new include, and its lookups.
    with_new: String,
    after_add: Option<usize>,
    /// The old provider's include, and what it costs today (0 when it is not there).
    old_include: Option<(String, usize)>,
    drop_candidates: Vec<(String, usize)>,
}

impl SpfSteps {
    fn new(state: &State, target: &Target<'_>, from: Option<&Provider>) -> SpfSteps {
        let includes = state.spf_includes();
        let under = |p: &Provider, i: &str| p.spf.iter().any(|h| is_under(i, h));
        let has_new = includes.iter().any(|i| under(target.to, i));
        let new_include = target.to.spf.first().cloned();
        let current = state.spf_record();
        let hybrid_terms = target.hybrid.map(Hybrid::terms_to_add).unwrap_or_default();
        let base = if hybrid_terms.is_empty() {
            current.clone()
        } else {
            Some(crate::spf::edit::apply_first(
                current.as_deref(),
                &hybrid_terms,
                current.is_none().then_some("~all"),
            ))
        };
        let with_new = match (&new_include, has_new) {
            (Some(include), false) => crate::spf::edit::apply(
                base.as_deref(),
                &[format!("include:{include}")],
                &[],
                base.is_none().then_some("~all"),
            ),
            _ => base.clone().unwrap_or_default(),
        };
        let now = state.spf.total_lookups;
        // Several records are not walked (permerror): the merged one's lookups are not known.
        let after_add = if state.spf.records.len() > 1 {
            None
        } else if has_new || new_include.is_none() {
            Some(now)
        } else {
            target.include_cost.map(|cost| now + cost)
        };
        // Each term of the record and what it costs (RFC 7208 §4.6.4).
        let tree = &state.spf.tree;
        let costs: Vec<(String, usize)> = tree
            .terms
            .iter()
            .map(|t| {
                let below = tree.child_of(t).map_or(0, |c| c.subtree_lookups);
                (t.term.clone(), t.lookups + below)
            })
            .collect();
        let old_include = from.and_then(|f| {
            let present = includes.iter().find(|i| under(f, i)).map(|i| {
                let cost = costs
                    .iter()
                    .find(|(term, _)| term.eq_ignore_ascii_case(&format!("include:{i}")))
                    .map_or(1, |(_, c)| *c);
                (i.clone(), cost)
            });
            present.or_else(|| f.spf.first().map(|i| (i.clone(), 0)))
        });
        let mut drop_candidates: Vec<(String, usize)> = costs
            .into_iter()
            .filter(|(term, cost)| {
                *cost > 0
                    && !new_include
                        .as_ref()
                        .is_some_and(|i| term.eq_ignore_ascii_case(&format!("include:{i}")))
            })
            .collect();
        drop_candidates.sort_by_key(|(_, cost)| std::cmp::Reverse(*cost));
        SpfSteps {
            domain: state.domain.clone(),
            current,
            base,
            published: state.spf.records.clone(),
            new_include,
            has_new,
            with_new,
            after_add,
            old_include,
            drop_candidates,
        }
    }

    /// What to drop when `lookups` passes 10: the old include (once it may go), `ptr`, `a` and
    /// `mx` (replaceable by the addresses they give), other includes, costliest first.
    fn to_drop(&self, lookups: Option<usize>, old_may_go: bool) -> Vec<String> {
        let Some(lookups) = lookups.filter(|n| *n > LOOKUP_LIMIT) else {
            return Vec::new();
        };
        let mut out = vec![format!(
            "{lookups} lookups is over the limit of {LOOKUP_LIMIT} (RFC 7208 §4.6.4: receivers return permerror and the mail fails SPF): drop at least {}",
            lookups - LOOKUP_LIMIT
        )];
        let old = self
            .old_include
            .as_ref()
            .map(|(i, _)| format!("include:{i}"));
        for (term, cost) in &self.drop_candidates {
            let name = term.trim_start_matches(['+', '-', '~', '?']);
            let why = if old.as_deref() == Some(name) {
                if old_may_go {
                    "the old provider's include: remove it now that it no longer sends"
                } else {
                    "the old provider's include: it can go only once the old provider no longer sends (after the MX switch)"
                }
            } else if name.starts_with("ptr") {
                "drop it: ptr SHOULD NOT be used (RFC 7208 §5.5)"
            } else if ["a", "mx"].iter().any(|m| {
                name == *m
                    || name.starts_with(&format!("{m}:"))
                    || name.starts_with(&format!("{m}/"))
            }) {
                "replace it with the ip4:/ip6: terms of the addresses it gives"
            } else {
                "drop it if that service no longer sends for the domain, or move its mail to a subdomain with its own SPF record"
            };
            out.push(format!(
                "{term} ({cost} lookup{}): {why}",
                if *cost == 1 { "" } else { "s" }
            ));
        }
        out
    }

    fn add_include(&self, state: &State) -> Option<Step> {
        let include = self.new_include.as_ref()?;
        let domain = &self.domain;
        let mut s = step(
            StepId::AddSpfInclude,
            format!("Add include:{include} to {domain}'s SPF record"),
            "Before the new provider sends any mail for the domain; the old provider's include stays.".to_owned(),
            true,
        );
        let several = self.published.len() > 1;
        if !self.has_new || several {
            s.add.push(txt_line(domain, &self.with_new));
            s.remove = if self.base == self.current {
                self.published_lines()
            } else {
                self.base.iter().map(|r| txt_line(domain, r)).collect()
            };
        }
        s.spf_lookups_after = self.after_add;
        s.spf_to_drop = self.to_drop(self.after_add, false);
        if self.published.len() > 1 {
            s.evidence.push(
                "the lookups of the one record are counted once it is published (mailaudit audit)"
                    .to_owned(),
            );
        } else if s.spf_lookups_after.is_none() {
            s.evidence.push(format!(
                "the SPF record at {include} could not be read: its lookups are unknown"
            ));
        }
        if state.spf_unknown() {
            s.status = Some(Status::Unknown);
            s.evidence.push(format!("TXT {domain}: {}", state.spf.dns));
        } else if several {
            s.status = Some(Status::NotDone);
            s.evidence.push(format!(
                "{} SPF records are published at {domain}: receivers return permerror and SPF fails (RFC 7208 §4.5); the one record above takes their place",
                self.published.len()
            ));
        } else if self.has_new && state.spf.total_lookups > LOOKUP_LIMIT {
            s.status = Some(Status::NotDone);
            s.evidence.push(format!(
                "include:{include} is published but the record needs {} lookups: SPF fails (permerror)",
                state.spf.total_lookups
            ));
            s.spf_to_drop = self.to_drop(Some(state.spf.total_lookups), false);
        } else if self.has_new {
            s.status = Some(Status::Done);
            s.evidence.push(format!(
                "SPF {}",
                self.current.as_deref().unwrap_or_default()
            ));
        } else {
            s.status = Some(Status::NotDone);
            s.evidence.push(match &self.current {
                Some(record) => format!("SPF {record}"),
                None => format!("no SPF record at {domain}"),
            });
        }
        Some(s)
    }

    /// `--hybrid`: the step that keeps the on-premises server's address in the record, with
    /// the record before and after it when an address is to be added.
    fn hybrid_step(&self, hybrid: &Hybrid, to: &Provider) -> Step {
        let mut s = hybrid.spf_step(&self.domain, to);
        if self.base != self.current {
            s.add
                .extend(self.base.iter().map(|r| txt_line(&self.domain, r)));
            s.remove = self.published_lines();
        }
        s
    }

    /// The records published today as zone lines: what the first step that edits SPF replaces.
    fn published_lines(&self) -> Vec<String> {
        self.published
            .iter()
            .map(|r| txt_line(&self.domain, r))
            .collect()
    }

    fn old_include_steps(&self, state: &State, from: Option<&Provider>) -> Vec<Step> {
        let (Some(from), Some((old, cost))) = (from, &self.old_include) else {
            return Vec::new();
        };
        let domain = &self.domain;
        let present = *cost > 0;
        let switched = mx_switched(state, from).is_some_and(|left| left);
        let mut keep = step(
            StepId::KeepOldInclude,
            format!("Keep include:{old} until {} stops sending", from.name),
            format!(
                "Every mailbox moved, and the devices, applications and services that send through {} (scanners, web forms, relays) re-pointed to the new provider's submission host; removing the include sooner makes their mail fail SPF.",
                from.name
            ),
            true,
        );
        keep.spf_lookups_after = self.after_add;
        keep.spf_to_drop = self.to_drop(self.after_add, false);
        let mut remove = step(
            StepId::RemoveOldInclude,
            format!("Remove include:{old} from {domain}'s SPF record"),
            format!(
                "Once DMARC aggregate reports (mailaudit reports) show no more mail from {} for a week.",
                from.name
            ),
            false,
        );
        let without =
            crate::spf::edit::apply(Some(&self.with_new), &[], &[format!("include:{old}")], None);
        if present {
            remove.add.push(txt_line(domain, &without));
            remove.remove.push(txt_line(domain, &self.with_new));
        }
        remove.spf_lookups_after = self.after_add.map(|n| n.saturating_sub(*cost));
        remove.spf_to_drop = self.to_drop(remove.spf_lookups_after, true);
        if state.spf_unknown() {
            for s in [&mut keep, &mut remove] {
                s.status = Some(Status::Unknown);
                s.evidence.push(format!("TXT {domain}: {}", state.spf.dns));
            }
        } else if present {
            keep.status = Some(Status::Done);
            keep.evidence.push(format!("include:{old} is published"));
            remove.status = Some(Status::NotDone);
            remove
                .evidence
                .push(format!("include:{old} is still published"));
        } else {
            remove.status = Some(Status::Done);
            remove.evidence.push(format!("no include:{old}"));
            if switched {
                keep.status = Some(Status::Done);
                keep.evidence
                    .push(format!("include:{old} removed after the MX switch"));
            } else {
                keep.status = Some(Status::NotDone);
                keep.evidence.push(format!(
                    "include:{old} is gone while {} still receives (and likely sends) the domain's mail: that mail now fails SPF. Put the include back.",
                    from.name
                ));
                keep.add.push(txt_line(
                    domain,
                    &crate::spf::edit::apply(
                        Some(&self.with_new),
                        &[format!("include:{old}")],
                        &[],
                        None,
                    ),
                ));
            }
        }
        vec![keep, remove]
    }
}

/// Whether the domain's MX hosts have all left `from` (`None`: the MX answer is unknown).
fn mx_switched(state: &State, from: &Provider) -> Option<bool> {
    if mx_unknown(state) {
        return None;
    }
    Some(
        !state
            .mx
            .hosts
            .iter()
            .any(|h| from.mx.iter().any(|hint| is_under(&h.exchange, hint))),
    )
}

fn mx_unknown(state: &State) -> bool {
    !matches!(state.mx.answer.as_str(), "records" | "nodata" | "nxdomain")
}

fn mx_steps(state: &State, to: &Provider, from: Option<&Provider>) -> Vec<Step> {
    if to.mx_records.is_empty() {
        return Vec::new();
    }
    let domain = &state.domain;
    let current: Vec<String> = state
        .mx
        .records
        .iter()
        .map(|mx| format!("{domain}. 3600 IN MX {} {}.", mx.preference, mx.exchange))
        .collect();
    let on_new = !state.mx.hosts.is_empty()
        && state
            .mx
            .hosts
            .iter()
            .all(|h| to.mx.iter().any(|hint| is_under(&h.exchange, hint)));
    let mut lower = step(
        StepId::LowerMxTtl,
        format!("Lower the MX records' TTL to {LOW_TTL} seconds a day before the switch"),
        "At least the old TTL ahead (a day is safe): resolvers then pick up the switch within 5 minutes, and it can be undone as fast.".to_owned(),
        false,
    );
    lower.add = state
        .mx
        .records
        .iter()
        .map(|mx| {
            format!(
                "{domain}. {LOW_TTL} IN MX {} {}.",
                mx.preference, mx.exchange
            )
        })
        .collect();
    lower.remove.clone_from(&current);
    let mut switch = step(
        StepId::SwitchMx,
        format!("Switch MX to {}", to.name),
        format!(
            "Once every mailbox exists at {}: mail then goes there.{}",
            to.name,
            from.map_or(String::new(), |f| format!(
                " Keep {}'s mailboxes until the old TTL has passed.",
                f.name
            ))
        ),
        true,
    );
    switch.add = to
        .mx_records
        .iter()
        .map(|t| record_line(t, domain, None))
        .collect();
    switch.remove = current;
    // A record both to remove and to add stays as it is.
    let unchanged: Vec<String> = switch
        .add
        .iter()
        .filter(|line| switch.remove.contains(line))
        .cloned()
        .collect();
    switch.add.retain(|line| !unchanged.contains(line));
    switch.remove.retain(|line| !unchanged.contains(line));
    let hosts: Vec<&str> = state.mx.hosts.iter().map(|h| h.exchange.as_str()).collect();
    if mx_unknown(state) {
        for s in [&mut lower, &mut switch] {
            s.status = Some(Status::Unknown);
            s.evidence.push(format!("MX {domain}: {}", state.mx.answer));
        }
    } else if on_new {
        // Nothing left to publish for either step.
        lower.add.clear();
        lower.remove.clear();
        lower.status = Some(Status::Done);
        lower.evidence.push("MX already switched".to_owned());
        switch.status = Some(Status::Done);
        switch.evidence.push(format!("MX {}", hosts.join(", ")));
    } else {
        lower.status = Some(Status::Unknown);
        lower.evidence.push(
            "not visible through a resolver (it shows its cache's remaining time): check at the DNS host"
                .to_owned(),
        );
        switch.status = Some(Status::NotDone);
        switch.evidence.push(if hosts.is_empty() {
            format!("no MX host at {domain}")
        } else {
            format!("MX {}", hosts.join(", "))
        });
    }
    vec![lower, switch]
}

fn tighten_dmarc(state: &State, to: &Provider) -> Step {
    let domain = &state.domain;
    let dmarc = &state.dmarc;
    let requested = dmarc.effective_policy.as_ref().and_then(|p| p.requested);
    let own = dmarc.record.as_deref().filter(|_| !dmarc.inherited);
    // The next tightening: none to quarantine, quarantine to reject, then nothing.
    let next = match requested {
        Some(Policy::Reject) => None,
        Some(Policy::Quarantine) => Some("reject"),
        _ => Some("quarantine"),
    };
    let mut s = step(
        StepId::TightenDmarc,
        "Tighten DMARC to p=quarantine, later p=reject".to_owned(),
        format!(
            "Last: once DMARC aggregate reports (mailaudit reports) show {}'s mail passing and no legitimate source failing.",
            to.name
        ),
        false,
    );
    if next == Some("reject") {
        s.detail.push_str(
            " p=quarantine is published, which the move asks; p=reject is the last tightening (the record below).",
        );
    }
    let name = format!("_dmarc.{domain}");
    if let Some(policy) = next {
        s.add.push(txt_line(
            &name,
            &crate::dmarc::apply(own, &[("p".to_owned(), policy.to_owned())], &[]),
        ));
        s.remove.extend(own.map(|r| txt_line(&name, r)));
    }
    if dmarc.verdict == Verdict::Unknown && requested.is_none() {
        s.status = Some(Status::Unknown);
        s.evidence
            .push(format!("DMARC of {domain} could not be read"));
    } else if matches!(requested, Some(Policy::Quarantine | Policy::Reject)) {
        s.status = Some(Status::Done);
        s.evidence.push(format!(
            "DMARC {}",
            dmarc.record.as_deref().unwrap_or_default()
        ));
    } else {
        s.status = Some(Status::NotDone);
        s.evidence.push(match &dmarc.record {
            Some(record) => format!("DMARC {record}"),
            None => format!("no DMARC record for {domain}"),
        });
    }
    s
}
