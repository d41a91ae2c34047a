//! `migrate`'s report as text for a terminal, and as a Markdown checklist (`- [ ]`) to paste
//! into a change ticket. JSON is the report serialised as it is.

use std::io::{self, Write};

use super::plan::{Plan, Status, Step};
use super::{Detected, MigrateReport};

/// The report for a terminal: the providers in use, then the plan (the next step first).
///
/// # Errors
/// Writing fails.
pub fn write_table(out: &mut dyn Write, report: &MigrateReport) -> io::Result<()> {
    writeln!(out, "{}: providers in use", report.domain)?;
    write_detected(out, "inbound (MX)", &report.detected.inbound)?;
    write_detected(out, "outbound", &report.detected.outbound)?;
    for host in &report.detected.unknown_mx {
        writeln!(out, "  inbound: {host} (no profile knows this MX host)")?;
    }
    for include in &report.detected.unknown_includes {
        writeln!(out, "  outbound: include:{include} (no profile knows it)")?;
    }
    let Some(plan) = &report.plan else {
        writeln!(out)?;
        return writeln!(
            out,
            "Plan a move: mailaudit migrate {} --to PROVIDER [--verify] (providers: mailaudit migrate --help)",
            report.domain
        );
    };
    writeln!(out)?;
    writeln!(out, "{}", heading(report, plan))?;
    if let Some(next) = plan.steps.iter().find(|s| Some(s.id) == plan.next_step) {
        writeln!(out, "Next: {}", next.title)?;
    }
    writeln!(out, "SPF lookups now: {}", plan.spf_lookups_now)?;
    for (n, step) in plan.steps.iter().enumerate() {
        writeln!(out)?;
        let mark = match step.status {
            Some(Status::Done) => "[done]     ",
            Some(Status::NotDone) => "[not done] ",
            Some(Status::Unknown) => "[unknown]  ",
            None => "",
        };
        let risk = if step.breaks_delivery {
            " (delivery breaks without it)"
        } else {
            ""
        };
        writeln!(out, "{}. {mark}{}{risk}", n + 1, step.title)?;
        writeln!(out, "   {}", step.detail)?;
        write_step_body(out, step, "   ")?;
    }
    write_footer(out, plan, "")
}

fn heading(report: &MigrateReport, plan: &Plan) -> String {
    format!(
        "Moving {} {}to {}",
        report.domain,
        plan.from
            .as_ref()
            .map_or(String::new(), |from| format!("from {from} ")),
        plan.to
    )
}

fn write_detected(out: &mut dyn Write, what: &str, list: &[Detected]) -> io::Result<()> {
    if list.is_empty() {
        writeln!(out, "  {what}: no known provider")?;
    }
    for detected in list {
        writeln!(out, "  {what}: {}", detected.provider)?;
        for evidence in &detected.evidence {
            writeln!(out, "    {evidence}")?;
        }
    }
    Ok(())
}

fn write_step_body(out: &mut dyn Write, step: &Step, indent: &str) -> io::Result<()> {
    if let Some(action) = &step.action {
        writeln!(out, "{indent}At the provider: {action}")?;
    }
    for line in &step.remove {
        writeln!(out, "{indent}remove: {line}")?;
    }
    for line in &step.add {
        writeln!(out, "{indent}add:    {line}")?;
    }
    if let Some(n) = step.spf_lookups_after {
        writeln!(out, "{indent}SPF lookups after this step: {n} of 10")?;
    }
    for drop in &step.spf_to_drop {
        writeln!(out, "{indent}SPF: {drop}")?;
    }
    if let Some(half) = &step.half_done {
        writeln!(out, "{indent}{half}")?;
    }
    for evidence in &step.evidence {
        writeln!(out, "{indent}seen: {evidence}")?;
    }
    Ok(())
}

fn write_footer(out: &mut dyn Write, plan: &Plan, bullet: &str) -> io::Result<()> {
    if !plan.submission.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{bullet}Mail clients and devices submit to: {}",
            plan.submission.join(", ")
        )?;
    }
    for line in &plan.autodiscover {
        writeln!(out, "{bullet}Client set-up record: {line}")?;
    }
    for link in &plan.docs {
        writeln!(out, "{bullet}Documentation: {link}")?;
    }
    Ok(())
}

/// The report as a Markdown change ticket: each step a checklist item (ticked when verified
/// done), its records in a code block.
///
/// # Errors
/// Writing fails.
pub fn write_markdown(out: &mut dyn Write, report: &MigrateReport) -> io::Result<()> {
    writeln!(out, "# Mail providers of {}", report.domain)?;
    writeln!(out)?;
    for (what, list) in [
        ("Inbound (MX)", &report.detected.inbound),
        ("Outbound", &report.detected.outbound),
    ] {
        for detected in list {
            writeln!(
                out,
                "- **{what}: {}** ({})",
                detected.provider,
                detected.evidence.join("; ")
            )?;
        }
    }
    let Some(plan) = &report.plan else {
        return Ok(());
    };
    writeln!(out)?;
    writeln!(out, "## {}", heading(report, plan))?;
    writeln!(out)?;
    if let Some(next) = plan.steps.iter().find(|s| Some(s.id) == plan.next_step) {
        writeln!(out, "**Next step:** {}", next.title)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "Take the steps in order; each record line is ready to paste into the zone. SPF lookups today: {} of 10.",
        plan.spf_lookups_now
    )?;
    writeln!(out)?;
    for step in &plan.steps {
        let tick = if step.status == Some(Status::Done) {
            "x"
        } else {
            " "
        };
        let risk = if step.breaks_delivery {
            " — delivery breaks without it"
        } else {
            ""
        };
        let status = match step.status {
            Some(Status::NotDone) => " *(not done)*",
            Some(Status::Unknown) => " *(unknown: see below)*",
            _ => "",
        };
        writeln!(out, "- [{tick}] **{}**{risk}{status}", step.title)?;
        writeln!(out, "  {}", step.detail)?;
        if let Some(action) = &step.action {
            writeln!(out, "  At the provider: {action}")?;
        }
        if !step.add.is_empty() || !step.remove.is_empty() {
            writeln!(out, "  ```")?;
            for line in &step.remove {
                writeln!(out, "  ; remove: {line}")?;
            }
            for line in &step.add {
                writeln!(out, "  {line}")?;
            }
            writeln!(out, "  ```")?;
        }
        if let Some(n) = step.spf_lookups_after {
            writeln!(out, "  SPF lookups after this step: {n} of 10.")?;
        }
        for drop in &step.spf_to_drop {
            writeln!(out, "  - SPF: {drop}")?;
        }
        if let Some(half) = &step.half_done {
            writeln!(out, "  **{half}**")?;
        }
        for evidence in &step.evidence {
            writeln!(out, "  - seen: {evidence}")?;
        }
    }
    write_footer(out, plan, "- ")
}
