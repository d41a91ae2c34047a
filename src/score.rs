//! The score and grade of a target, computed from its findings in this one place.
//!
//! The model (also explained in the README):
//! - every finding costs points by severity: critical 35, error 15, warning 5, info 0;
//! - the cost is multiplied by its area's weight: SPF, DMARC, DKIM, sending IPs and domain
//!   blocklists 1.0; MX and SMTP 0.75; MTA-STS, TLS-RPT, BIMI and DNSSEC 0.5;
//! - one area costs at most 40 points, so that one broken record cannot hide every other area;
//! - the score is 100 less the costs, at least 0; any critical finding caps it at 65 (grade D),
//!   and a listing on a major blocklist (`ip.listed` or `domain.listed` at critical) caps it at
//!   40 (grade F): mail from a listed IP or domain is rejected whatever else is right;
//! - grades: A from 90, B from 80, C from 70, D from 60, F below.
//!
//! Every cost is positive and the caps are minimums, so the score is monotone: fixing a finding
//! never lowers it. A target with no finding above info scores 100.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::finding::{Code, Finding, Severity};

/// The most one area can cost.
const AREA_CAP: f64 = 40.0;
/// The best score a target with a critical finding can get.
const CRITICAL_CAP: u8 = 65;
/// The best score a target listed on a major blocklist can get.
const LISTED_CAP: u8 = 40;

/// A-F, from the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    D,
    F,
}

impl Grade {
    fn from_score(score: u8) -> Grade {
        match score {
            90.. => Grade::A,
            80..=89 => Grade::B,
            70..=79 => Grade::C,
            60..=69 => Grade::D,
            _ => Grade::F,
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// What one finding cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deduction {
    pub code: String,
    pub severity: Severity,
    pub points: f64,
}

/// A fix and the score it would reach: the findings of one code, all fixed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopFix {
    pub code: String,
    /// Points the score would gain.
    pub gain: u8,
    /// What to publish or change (the finding's fix).
    pub fix: String,
}

/// The score of one target, with the reasons for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub score: u8,
    pub grade: Grade,
    /// Whether a critical finding capped the score.
    pub capped_by_critical: bool,
    /// Each finding's cost before the per-area cap, most costly first.
    pub deductions: Vec<Deduction>,
    /// The (at most three) fixes that would raise the score most.
    pub top_fixes: Vec<TopFix>,
}

/// Scores a target from its findings.
pub fn score(findings: &[Finding]) -> Score {
    let value = score_value(findings);
    let mut deductions: Vec<Deduction> = findings
        .iter()
        .map(|f| Deduction {
            code: f.code.as_str().to_owned(),
            severity: f.severity,
            points: cost(f),
        })
        .filter(|d| d.points > 0.0)
        .collect();
    deductions.sort_by(|a, b| {
        b.points
            .total_cmp(&a.points)
            .then_with(|| a.code.cmp(&b.code))
    });

    let mut top_fixes: Vec<TopFix> = Vec::new();
    let mut codes: Vec<_> = findings.iter().map(|f| f.code).collect();
    codes.sort();
    codes.dedup();
    for code in codes {
        let rest: Vec<Finding> = findings
            .iter()
            .filter(|f| f.code != code)
            .cloned()
            .collect();
        let gain = score_value(&rest).saturating_sub(value);
        let fix = findings
            .iter()
            .find(|f| f.code == code)
            .and_then(|f| f.fix.clone().or_else(|| Some(f.message.clone())))
            .unwrap_or_default();
        if gain > 0 {
            top_fixes.push(TopFix {
                code: code.as_str().to_owned(),
                gain,
                fix,
            });
        }
    }
    top_fixes.sort_by(|a, b| b.gain.cmp(&a.gain).then_with(|| a.code.cmp(&b.code)));
    top_fixes.truncate(3);

    Score {
        score: value,
        grade: Grade::from_score(value),
        capped_by_critical: findings.iter().any(|f| f.severity == Severity::Critical),
        deductions,
        top_fixes,
    }
}

fn score_value(findings: &[Finding]) -> u8 {
    let mut per_area: BTreeMap<&str, f64> = BTreeMap::new();
    for finding in findings {
        *per_area.entry(area(finding)).or_default() += cost(finding);
    }
    let total: f64 = per_area.values().map(|points| points.min(AREA_CAP)).sum();
    // Clamped to 0..=100 before the cast, so nothing is truncated or lost.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut value = (100.0 - total).round().clamp(0.0, 100.0) as u8;
    if findings.iter().any(|f| f.severity == Severity::Critical) {
        value = value.min(CRITICAL_CAP);
    }
    if findings.iter().any(is_major_listing) {
        value = value.min(LISTED_CAP);
    }
    value
}

/// A listing on a major blocklist: the lists most receivers reject on.
fn is_major_listing(finding: &Finding) -> bool {
    matches!(finding.code, Code::IpListed | Code::DomainListed)
        && finding.severity == Severity::Critical
}

/// The area of a finding: its code up to the first dot (`spf`, `dmarc`, `ip` ...).
fn area(finding: &Finding) -> &'static str {
    let name = finding.code.as_str();
    name.split('.').next().unwrap_or(name)
}

fn cost(finding: &Finding) -> f64 {
    let points = match finding.severity {
        Severity::Critical => 35.0,
        Severity::Error => 15.0,
        Severity::Warning => 5.0,
        Severity::Info => 0.0,
    };
    let weight = match area(finding) {
        "mx" | "smtp" => 0.75,
        "mtasts" | "tlsrpt" | "bimi" | "dnssec" => 0.5,
        _ => 1.0,
    };
    points * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(codes: &[Code]) -> Vec<Finding> {
        codes
            .iter()
            .map(|&c| Finding::new(c, "test").fix(format!("fix {c}")))
            .collect()
    }

    #[test]
    fn no_finding_above_info_scores_at_least_90() {
        let s = score(&findings(&[
            Code::DmarcInherited,
            Code::MxNull,
            Code::DkimRevoked,
        ]));
        assert!(s.score >= 90, "{s:?}");
        assert_eq!(s.grade, Grade::A);
    }

    #[test]
    fn a_critical_finding_caps_the_grade_at_d() {
        let s = score(&findings(&[Code::SpfPassAll]));
        assert!(s.score <= 69, "{s:?}");
        assert!(s.grade >= Grade::D, "{s:?}");
        assert!(s.capped_by_critical);
    }

    #[test]
    fn fixing_any_finding_never_lowers_the_score() {
        let all = findings(&[
            Code::SpfPassAll,
            Code::SpfPtr,
            Code::SpfLookupLimit,
            Code::DmarcPolicyNone,
            Code::DmarcNoRua,
            Code::DkimWeakKey,
            Code::DkimInsecureKey,
            Code::MxCname,
            Code::MxMissing,
            Code::DmarcInherited,
            Code::SpfSyntax,
            Code::SpfNoAll,
        ]);
        let full = score(&all).score;
        for i in 0..all.len() {
            let mut rest = all.clone();
            rest.remove(i);
            assert!(
                score(&rest).score >= full,
                "removing {} lowered the score",
                all[i].code
            );
        }
    }

    #[test]
    fn top_fixes_name_the_findings_that_cost_most() {
        let s = score(&findings(&[
            Code::SpfMissing,
            Code::DmarcPolicyNone,
            Code::DkimInsecureKey,
        ]));
        assert_eq!(s.top_fixes[0].code, "dkim.insecure-key");
        assert_eq!(s.top_fixes[0].fix, "fix dkim.insecure-key");
        assert!(s.top_fixes.len() <= 3);
    }

    #[test]
    fn a_major_listing_dominates_the_score() {
        let mut findings = findings(&[Code::IpListed]);
        assert_eq!(score(&findings).grade, Grade::F);
        findings[0].severity = Severity::Error;
        assert!(score(&findings).score > 40, "a minor list does not cap");
    }

    #[test]
    fn one_area_cannot_cost_more_than_its_cap() {
        let many = findings(&[
            Code::SpfSyntax,
            Code::SpfLoop,
            Code::SpfLookupLimit,
            Code::SpfMxLimit,
        ]);
        assert_eq!(score(&many).score, 60);
    }
}
