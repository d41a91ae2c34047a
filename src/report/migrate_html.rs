//! `migrate --format html`: the providers a domain uses and the plan of its move as one
//! self-contained page an admin can print or attach to a change ticket: with `--verify` how far
//! the move is first, then each step with its status, its zone-file lines and what DNS showed.
//!
//! As the domain report ([`super::html`]): rendered by an askama template
//! (`templates/migrate.html`) that HTML-escapes every value (record values and MX names come
//! from DNS, written by strangers), with the same head and Content-Security-Policy
//! (`templates/head.html`): no script, nothing loaded. The only links are the provider's
//! documentation addresses that [`web_url`] accepts (`http://` or `https://`).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use askama::Template;

use super::html::{Timestamp, shown, word, write_dated_file};
use super::link::web_url;
use crate::migrate::{Detected, MigrateReport, Plan, Status, Step, StepId};

/// Writes the page; `generated` is the time printed on it.
///
/// # Errors
/// Rendering or writing fails.
pub fn write(out: &mut dyn Write, report: &MigrateReport, generated: SystemTime) -> io::Result<()> {
    let html = Page::new(report, generated)
        .render()
        .map_err(io::Error::other)?;
    out.write_all(html.as_bytes())
}

/// Writes the page to a new dated file under `reports/` (`<domain>-migrate-<time>.html`) and
/// returns its path, as the domain report does without `--output`.
///
/// # Errors
/// The directory or the file cannot be created or written.
pub fn write_dated(report: &MigrateReport, now: SystemTime) -> io::Result<PathBuf> {
    write_dated_file(&format!("{}-migrate", report.domain), now, |out| {
        write(out, report, now)
    })
}

fn all_shown(items: &[String]) -> Vec<String> {
    items.iter().map(|item| shown(item)).collect()
}

#[derive(Template)]
#[template(path = "migrate.html")]
struct Page {
    title: String,
    generated: String,
    version: &'static str,
    /// Inbound, then outbound.
    directions: [DirectionView; 2],
    plan: Option<PlanView>,
}

impl Page {
    fn new(report: &MigrateReport, generated: SystemTime) -> Page {
        let domain = shown(&report.domain);
        let detected = &report.detected;
        let plan = report.plan.as_ref().map(PlanView::new);
        Page {
            title: match &plan {
                Some(plan) => format!(
                    "Moving {domain} {}to {}",
                    plan.from
                        .as_ref()
                        .map_or(String::new(), |from| format!("from {from} ")),
                    plan.to
                ),
                None => format!("Mail providers of {domain}"),
            },
            generated: Timestamp::from(generated).to_string(),
            version: env!("CARGO_PKG_VERSION"),
            directions: [
                DirectionView {
                    label: "Inbound (MX)",
                    providers: detected.inbound.iter().map(DetectedView::new).collect(),
                    unknown: all_shown(&detected.unknown_mx),
                    unknown_note: "no profile knows this MX host: an own server, or a provider without a profile",
                },
                DirectionView {
                    label: "Outbound (SPF, DKIM)",
                    providers: detected.outbound.iter().map(DetectedView::new).collect(),
                    unknown: detected
                        .unknown_includes
                        .iter()
                        .map(|include| shown(&format!("include:{include}")))
                        .collect(),
                    unknown_note: "no profile knows this SPF include",
                },
            ],
            plan,
        }
    }
}

/// The providers of one direction of mail, and the hosts or includes no profile knows.
struct DirectionView {
    label: &'static str,
    providers: Vec<DetectedView>,
    unknown: Vec<String>,
    unknown_note: &'static str,
}

/// A provider in use and the records that show it.
struct DetectedView {
    provider: String,
    id: Option<String>,
    evidence: Vec<String>,
}

impl DetectedView {
    fn new(detected: &Detected) -> DetectedView {
        DetectedView {
            provider: shown(&detected.provider),
            id: detected.id.as_deref().map(shown),
            evidence: all_shown(&detected.evidence),
        }
    }
}

struct PlanView {
    from: Option<String>,
    /// The profile ids, as `--from` and `--to` take them.
    from_id: Option<String>,
    to: String,
    to_id: Option<String>,
    tenant: Option<String>,
    /// With `--verify`.
    progress: Option<Progress>,
    spf_lookups_now: usize,
    spf_now_over: bool,
    steps: Vec<StepView>,
    submission: Vec<String>,
    autodiscover: Vec<String>,
    docs: Vec<DocView>,
}

impl PlanView {
    fn new(plan: &Plan) -> PlanView {
        let steps: Vec<StepView> = plan
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| StepView::new(index + 1, step, plan.next_step))
            .collect();
        PlanView {
            from: plan.from.as_deref().map(shown),
            from_id: plan.from_id.as_deref().map(shown),
            to: shown(&plan.to),
            to_id: plan.to_id.as_deref().map(shown),
            tenant: plan.tenant.as_deref().map(shown),
            progress: plan
                .verified
                .then(|| Progress::of(&steps, plan.delivery_at_risk())),
            spf_lookups_now: plan.spf_lookups_now,
            spf_now_over: plan.spf_lookups_now > crate::spf::LOOKUP_LIMIT,
            steps,
            submission: all_shown(&plan.submission),
            autodiscover: all_shown(&plan.autodiscover),
            docs: plan.docs.iter().map(|doc| DocView::new(doc)).collect(),
        }
    }
}

/// How far a verified move is: the line at the top of the page.
struct Progress {
    done: usize,
    total: usize,
    not_done: usize,
    unknown: usize,
    /// The first step not done: its anchor and title.
    next: Option<(String, String)>,
    at_risk: bool,
    /// The delivery-breaking steps not done or unknown, by title.
    risky: Vec<String>,
    /// `3 of 8 steps done; next: …`.
    headline: String,
}

impl Progress {
    fn of(steps: &[StepView], at_risk: bool) -> Progress {
        let count = |class: &str| {
            steps
                .iter()
                .filter(|s| s.status.as_ref().is_some_and(|v| v.class == class))
                .count()
        };
        let (done, not_done, unknown) = (count("done"), count("not-done"), count("unknown"));
        let total = steps.len();
        let next = steps
            .iter()
            .find(|s| s.is_next)
            .map(|s| (s.anchor.clone(), s.title.clone()));
        let mut headline = format!(
            "{done} of {total} step{} done",
            if total == 1 { "" } else { "s" }
        );
        if let Some((_, title)) = &next {
            headline.push_str("; next: ");
            headline.push_str(title);
        }
        if unknown > 0 {
            let _ = write!(
                headline,
                "; {unknown} unknown (not seen: a lookup failed or the step was not checked; check {} by hand)",
                if unknown == 1 { "it" } else { "them" }
            );
        }
        Progress {
            done,
            total,
            not_done,
            unknown,
            next,
            at_risk,
            risky: steps
                .iter()
                .filter(|s| {
                    s.breaks_delivery && s.status.as_ref().is_some_and(|v| v.class != "done")
                })
                .map(|s| s.title.clone())
                .collect(),
            headline,
        }
    }
}

/// A step's status badge: its CSS class (the JSON's word) and the word shown.
struct StatusView {
    class: String,
    word: &'static str,
}

impl StatusView {
    fn of(status: Status) -> StatusView {
        StatusView {
            class: word(&status),
            word: match status {
                Status::Done => "done",
                Status::NotDone => "not done",
                Status::Unknown => "unknown",
            },
        }
    }
}

/// One step, every field of [`Step`] shown. Its anchor is the JSON's id of the step, so a new
/// [`StepId`] needs no change here or in the template.
struct StepView {
    number: usize,
    anchor: String,
    id: String,
    title: String,
    detail: String,
    status: Option<StatusView>,
    is_next: bool,
    breaks_delivery: bool,
    action: Option<String>,
    remove: Vec<String>,
    add: Vec<String>,
    spf_lookups_after: Option<usize>,
    spf_over: bool,
    spf_to_drop: Vec<String>,
    half_done: Option<String>,
    evidence: Vec<String>,
}

impl StepView {
    fn new(number: usize, step: &Step, next: Option<StepId>) -> StepView {
        let id = word(&step.id);
        StepView {
            number,
            anchor: format!("step-{id}"),
            id,
            title: shown(&step.title),
            detail: shown(&step.detail),
            status: step.status.map(StatusView::of),
            is_next: next == Some(step.id),
            breaks_delivery: step.breaks_delivery,
            action: step.action.as_deref().map(shown),
            remove: all_shown(&step.remove),
            add: all_shown(&step.add),
            spf_lookups_after: step.spf_lookups_after,
            spf_over: step
                .spf_lookups_after
                .is_some_and(|n| n > crate::spf::LOOKUP_LIMIT),
            spf_to_drop: all_shown(&step.spf_to_drop),
            half_done: step.half_done.as_deref().map(shown),
            evidence: all_shown(&step.evidence),
        }
    }
}

/// A documentation address: a link only when it is a web address ([`web_url`]); a profile
/// file's `javascript:` stays text.
struct DocView {
    text: String,
    href: Option<String>,
}

impl DocView {
    fn new(doc: &str) -> DocView {
        DocView {
            text: shown(doc),
            href: web_url(doc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(number: usize, title: &str, status: Option<Status>, breaks: bool) -> StepView {
        StepView {
            number,
            anchor: format!("step-{number}"),
            id: format!("{number}"),
            title: title.to_owned(),
            detail: String::new(),
            status: status.map(StatusView::of),
            is_next: false,
            breaks_delivery: breaks,
            action: None,
            remove: Vec::new(),
            add: Vec::new(),
            spf_lookups_after: None,
            spf_over: false,
            spf_to_drop: Vec::new(),
            half_done: None,
            evidence: Vec::new(),
        }
    }

    #[test]
    fn progress_counts_each_status_and_names_the_next_step_and_the_risk() {
        let mut steps = vec![
            step(1, "Verify", Some(Status::Done), false),
            step(2, "Publish DKIM", Some(Status::NotDone), false),
            step(3, "Lower TTL", Some(Status::Unknown), false),
            step(4, "Switch MX", Some(Status::NotDone), true),
            step(5, "Add include", Some(Status::Done), true),
        ];
        steps[1].is_next = true;
        let progress = Progress::of(&steps, true);
        assert_eq!(
            (
                progress.done,
                progress.not_done,
                progress.unknown,
                progress.total
            ),
            (2, 2, 1, 5)
        );
        assert_eq!(
            progress.headline,
            "2 of 5 steps done; next: Publish DKIM; 1 unknown (not seen: a lookup failed or the step was not checked; check it by hand)"
        );
        assert_eq!(
            progress.next,
            Some(("step-2".to_owned(), "Publish DKIM".to_owned()))
        );
        assert!(progress.at_risk);
        assert_eq!(progress.risky, ["Switch MX"]);
    }

    #[test]
    fn a_finished_move_has_no_next_step_and_no_risk() {
        let steps = vec![
            step(1, "Switch MX", Some(Status::Done), true),
            step(2, "Tighten DMARC", Some(Status::Done), false),
        ];
        let progress = Progress::of(&steps, false);
        assert_eq!(progress.headline, "2 of 2 steps done");
        assert!(progress.next.is_none());
        assert!(progress.risky.is_empty());
    }

    #[test]
    fn status_badges_use_the_json_words_as_classes() {
        assert_eq!(StatusView::of(Status::NotDone).class, "not-done");
        assert_eq!(StatusView::of(Status::NotDone).word, "not done");
        assert_eq!(StatusView::of(Status::Unknown).class, "unknown");
    }

    #[test]
    fn only_web_addresses_of_the_docs_become_links() {
        assert_eq!(
            DocView::new("https://learn.microsoft.com/x")
                .href
                .as_deref(),
            Some("https://learn.microsoft.com/x")
        );
        let hostile = DocView::new("javascript:alert(1)");
        assert_eq!(hostile.href, None);
        assert_eq!(hostile.text, "javascript:alert(1)");
    }
}
