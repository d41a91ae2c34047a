//! The order and the counts of a bulk summary, the one place every format that has a summary
//! (table, Markdown, HTML) takes them from: the worst targets first, so that what to fix is on
//! top; then how many targets have each finding code, and each grade.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{SummaryRow, TargetKind};
use crate::finding::{Code, Severity};
use crate::score::Grade;

/// Worst first: grade F before A, then the lower score; equal rows keep their input order
/// (the sorts that use it are stable).
pub fn worst_first(a: &SummaryRow, b: &SummaryRow) -> Ordering {
    b.grade.cmp(&a.grade).then(a.score.cmp(&b.score))
}

/// The indices of `rows`, worst first ([`worst_first`]).
pub fn order(rows: &[SummaryRow]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| worst_first(&rows[a], &rows[b]));
    order
}

/// How many targets have one finding code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeCount {
    pub code: Code,
    /// Its most severe occurrence.
    pub severity: Severity,
    pub targets: usize,
}

/// The counts under a bulk summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    pub targets: usize,
    /// Complete audits by grade, worst first; grades no target has are left out.
    pub grades: Vec<(Grade, usize)>,
    /// Audits where something could not be determined: their grade is of what was seen, so
    /// they are counted apart.
    pub incomplete: usize,
    /// Each code found, most severe first, then the most widespread.
    pub codes: Vec<CodeCount>,
    /// What the targets are, to name them: "domains", "IPs", or "targets".
    pub noun: &'static str,
}

impl Tally {
    /// The counts of `rows`.
    pub fn of(rows: &[SummaryRow]) -> Tally {
        let mut grades: BTreeMap<Grade, usize> = BTreeMap::new();
        let mut codes: BTreeMap<Code, (Severity, usize)> = BTreeMap::new();
        for row in rows {
            if !row.incomplete {
                *grades.entry(row.grade).or_default() += 1;
            }
            for &(code, severity) in &row.codes {
                let entry = codes.entry(code).or_insert((severity, 0));
                entry.0 = entry.0.max(severity);
                entry.1 += 1;
            }
        }
        let mut codes: Vec<CodeCount> = codes
            .into_iter()
            .map(|(code, (severity, targets))| CodeCount {
                code,
                severity,
                targets,
            })
            .collect();
        codes.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.targets.cmp(&a.targets))
                .then(a.code.as_str().cmp(b.code.as_str()))
        });
        let kinds = |kind: TargetKind| rows.iter().all(|r| r.kind == kind);
        let noun = if kinds(TargetKind::Domain) {
            "domains"
        } else if kinds(TargetKind::Ip) {
            "IPs"
        } else {
            "targets"
        };
        Tally {
            targets: rows.len(),
            grades: grades.into_iter().rev().collect(),
            incomplete: rows.iter().filter(|r| r.incomplete).count(),
            codes,
            noun,
        }
    }

    /// "12 targets. Complete audits by grade: F: 3, A: 7. Incomplete (...): 2."
    pub fn grade_line(&self) -> String {
        let grades: Vec<String> = self
            .grades
            .iter()
            .map(|(grade, n)| format!("{grade}: {n}"))
            .collect();
        let mut line = format!("{} targets.", self.targets);
        if !grades.is_empty() {
            let _ = write!(line, " Complete audits by grade: {}.", grades.join(", "));
        }
        if self.incomplete > 0 {
            let _ = write!(
                line,
                " Incomplete (something could not be determined, not graded with them): {}.",
                self.incomplete
            );
        }
        line
    }

    /// "dmarc.missing: 37 domains (error)".
    pub fn code_line(&self, count: &CodeCount) -> String {
        let noun = if count.targets == 1 {
            self.noun.trim_end_matches('s')
        } else {
            self.noun
        };
        format!(
            "{}: {} {noun} ({})",
            count.code, count.targets, count.severity
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: &str, grade: Grade, score: u8, codes: &[(Code, Severity)]) -> SummaryRow {
        SummaryRow {
            target: target.to_owned(),
            kind: TargetKind::Domain,
            grade,
            score,
            incomplete: false,
            worst: codes.first().map(|&(code, severity)| (severity, code)),
            codes: codes.to_vec(),
            queries: 0,
        }
    }

    #[test]
    fn the_worst_grade_comes_first_then_the_lower_score_then_input_order() {
        let rows = [
            row("a1.example", Grade::A, 95, &[]),
            row("f1.example", Grade::F, 50, &[]),
            row("b.example", Grade::B, 85, &[]),
            row("f2.example", Grade::F, 20, &[]),
            row("a2.example", Grade::A, 95, &[]),
        ];
        let ranked: Vec<&str> = order(&rows)
            .into_iter()
            .map(|i| rows[i].target.as_str())
            .collect();
        assert_eq!(
            ranked,
            [
                "f2.example",
                "f1.example",
                "b.example",
                "a1.example",
                "a2.example"
            ]
        );
    }

    #[test]
    fn codes_are_counted_once_a_target_and_incomplete_audits_apart() {
        let missing = (Code::DmarcMissing, Severity::Error);
        let pass_all = (Code::SpfPassAll, Severity::Critical);
        let mut rows = vec![
            row("a.example", Grade::F, 10, &[pass_all, missing]),
            row("b.example", Grade::D, 65, &[missing]),
            row("c.example", Grade::A, 100, &[]),
        ];
        let mut unknown = row("d.example", Grade::B, 85, &[missing]);
        unknown.incomplete = true;
        rows.push(unknown);
        let tally = Tally::of(&rows);
        assert_eq!(
            tally.grades,
            [(Grade::F, 1), (Grade::D, 1), (Grade::A, 1)],
            "the incomplete audit is not among the grades"
        );
        assert_eq!(tally.incomplete, 1);
        let lines: Vec<String> = tally.codes.iter().map(|c| tally.code_line(c)).collect();
        assert_eq!(
            lines,
            [
                "spf.pass-all: 1 domain (critical)",
                "dmarc.missing: 3 domains (error)"
            ]
        );
        let grades = tally.grade_line();
        assert!(
            grades.starts_with("4 targets. Complete audits by grade: F: 1, D: 1, A: 1."),
            "{grades}"
        );
        assert!(grades.contains("): 1."), "{grades}");
    }
}
