//! The score and grade of a target, computed from its findings in this one place.
//!
//! The model (also explained in the README):
//! - every finding costs whole points by severity and by its area's weight: SPF, DMARC, DKIM,
//!   DNS, sending IPs and domain blocklists cost critical 35, error 15, warning 5; MX, SMTP and
//!   DANE 26, 11, 4; MTA-STS, TLS-RPT, BIMI and DNSSEC 18, 8, 3; info costs nothing;
//! - a finding that says "could not be determined" ([`Code::means_unknown`]: a lookup that
//!   failed, a list that could not answer) costs nothing: the score is of what was seen;
//! - one area costs at most 40 points, so that one broken record cannot hide every other area;
//! - the score is 100 less the area costs, at least 0, then capped: any critical finding caps
//!   it at 65 (grade D); a listing on a major blocklist (`ip.listed` or `domain.listed` at
//!   critical) at 40 (grade F): mail from a listed IP or domain is rejected whatever else is
//!   right; an incomplete audit at 89 (grade B): A says everything was checked and found right;
//! - grades: A from 90, B from 80, C from 70, D from 60, F below.
//!
//! Every cost is positive and the caps are minimums, so the score is monotone: fixing a finding
//! never lowers it. A complete audit with no finding above info scores 100.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::finding::{Code, Finding, Severity};

/// The most one area can cost.
const AREA_CAP: u32 = 40;
/// The best score a target with a critical finding can get.
const CRITICAL_CAP: u8 = 65;
/// The best score a target listed on a major blocklist can get.
const LISTED_CAP: u8 = 40;
/// The best score an incomplete audit can get.
const INCOMPLETE_CAP: u8 = 89;
/// The best score a mail server none of whose addresses answered can get.
const UNREACHABLE_CAP: u8 = 40;
/// How many fixes "Fix first" names.
const TOP_FIXES: usize = 3;

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
    /// The area it counts in (`spf`, `ip` ...).
    pub area: String,
    pub points: u32,
}

/// What one area cost: its findings' points, and what counted after the per-area cap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AreaCost {
    pub area: String,
    /// The sum of its findings' points.
    pub points: u32,
    /// What was taken off the score: `points`, at most 40.
    pub counted: u32,
}

/// Why the score may be held below what the deductions leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapReason {
    /// A critical finding: mail is rejected or the domain is spoofable now.
    Critical,
    /// A listing on a major blocklist.
    MajorListing,
    /// Something could not be checked.
    Incomplete,
    /// A mail server probed (`mailaudit smtp`) answered at none of its addresses and ports.
    Unreachable,
}

impl CapReason {
    /// The words shown beside the cap.
    pub fn describe(self) -> &'static str {
        match self {
            CapReason::Critical => "a critical finding",
            CapReason::MajorListing => "listed on a major blocklist",
            CapReason::Incomplete => "the audit is incomplete",
            CapReason::Unreachable => "no address of the server answered",
        }
    }
}

/// A cap whose condition holds for the target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cap {
    pub reason: CapReason,
    /// The best score it allows.
    pub max: u8,
    /// It lowered the score (the deductions alone left more than `max`).
    pub lowered: bool,
}

/// A fix, how much it matters, and the score it would reach: the findings of one code, fixed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopFix {
    pub code: String,
    /// The severity of what it fixes: fixes are ranked by it first.
    pub severity: Severity,
    /// Points the score would gain (0 when another finding of the area or a cap still holds it).
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
    /// Each finding's cost, most costly first.
    pub deductions: Vec<Deduction>,
    /// Each area that cost points, most costly first.
    pub areas: Vec<AreaCost>,
    /// The caps whose condition holds, loosest first.
    pub caps: Vec<Cap>,
    /// The arithmetic from 100 to the score, in one line:
    /// `100 − 40 SPF (50, at most 40) − 15 DMARC = 45; at most 40 (listed on a major blocklist) → 40`.
    pub explanation: String,
    /// The (at most three) fixes that matter most: most severe first, then the costliest.
    pub top_fixes: Vec<TopFix>,
}

/// What holds for a target besides its findings, for the caps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Something could not be checked.
    pub incomplete: bool,
    /// A mail server probed answered nowhere: nothing can be sent through it.
    pub unreachable: bool,
}

/// Scores a target from its findings and the conditions that cap it.
pub fn score(findings: &[Finding], conditions: Conditions) -> Score {
    let tally = Tally::of(findings, conditions);
    let mut deductions: Vec<Deduction> = findings
        .iter()
        .filter_map(|f| {
            let points = cost(f);
            (points > 0).then(|| Deduction {
                code: f.code.as_str().to_owned(),
                severity: f.severity,
                area: f.code.area().to_owned(),
                points,
            })
        })
        .collect();
    deductions.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.code.cmp(&b.code)));
    Score {
        score: tally.score,
        grade: Grade::from_score(tally.score),
        capped_by_critical: tally.caps.iter().any(|c| c.reason == CapReason::Critical),
        explanation: tally.explanation(),
        deductions,
        areas: tally.areas,
        caps: tally.caps,
        top_fixes: top_fixes(findings, conditions, tally.score),
    }
}

/// The arithmetic of a score.
struct Tally {
    areas: Vec<AreaCost>,
    /// 100 less the counted area costs, at least 0.
    deducted: u8,
    caps: Vec<Cap>,
    score: u8,
}

impl Tally {
    fn of(findings: &[Finding], conditions: Conditions) -> Tally {
        let mut per_area: BTreeMap<&'static str, u32> = BTreeMap::new();
        for finding in findings {
            let points = cost(finding);
            if points > 0 {
                *per_area.entry(finding.code.area()).or_default() += points;
            }
        }
        let mut areas: Vec<AreaCost> = per_area
            .into_iter()
            .map(|(area, points)| AreaCost {
                area: area.to_owned(),
                points,
                counted: points.min(AREA_CAP),
            })
            .collect();
        areas.sort_by(|a, b| b.counted.cmp(&a.counted).then_with(|| a.area.cmp(&b.area)));
        let total: u32 = areas.iter().map(|a| a.counted).sum();
        let deducted = u8::try_from(100u32.saturating_sub(total)).unwrap_or(0);

        let caps_holding = [
            (conditions.incomplete, CapReason::Incomplete, INCOMPLETE_CAP),
            (
                findings.iter().any(|f| f.severity == Severity::Critical),
                CapReason::Critical,
                CRITICAL_CAP,
            ),
            (
                findings.iter().any(is_major_listing),
                CapReason::MajorListing,
                LISTED_CAP,
            ),
            (
                conditions.unreachable,
                CapReason::Unreachable,
                UNREACHABLE_CAP,
            ),
        ];
        let mut score = deducted;
        let mut caps = Vec::new();
        for (holds, reason, max) in caps_holding {
            if holds {
                caps.push(Cap {
                    reason,
                    max,
                    lowered: score > max,
                });
                score = score.min(max);
            }
        }
        Tally {
            areas,
            deducted,
            caps,
            score,
        }
    }

    /// `100 − 40 SPF (50, at most 40) − 15 DMARC = 45; at most 40 (listed on a major
    /// blocklist) → 40`: every number a report shows, adding up to the score.
    fn explanation(&self) -> String {
        let mut text = "100".to_owned();
        for area in &self.areas {
            let _ = write!(text, " − {} {}", area.counted, area_label(&area.area));
            if area.counted < area.points {
                let _ = write!(text, " ({}, at most {AREA_CAP})", area.points);
            }
        }
        let total: u32 = self.areas.iter().map(|a| a.counted).sum();
        if total > 100 {
            text.push_str(" (at least 0)");
        }
        let _ = write!(text, " = {}", self.deducted);
        for cap in self.caps.iter().filter(|c| c.lowered) {
            let _ = write!(
                text,
                "; at most {} ({}) → {}",
                cap.max,
                cap.reason.describe(),
                cap.max
            );
        }
        text
    }
}

/// The fixes that matter most for delivery: the most severe first (what receivers reject mail
/// for before what is only weaker than best practice), then the costliest, then the biggest
/// score gain. What could not be determined is not a fix, and an info finding needs none.
fn top_fixes(findings: &[Finding], conditions: Conditions, score: u8) -> Vec<TopFix> {
    let mut codes: Vec<Code> = findings
        .iter()
        .filter(|f| cost(f) > 0)
        .map(|f| f.code)
        .collect();
    codes.sort();
    codes.dedup();
    let mut fixes: Vec<(TopFix, u32)> = codes
        .into_iter()
        .map(|code| {
            let of_code = || findings.iter().filter(move |f| f.code == code);
            let rest: Vec<Finding> = findings
                .iter()
                .filter(|f| f.code != code)
                .cloned()
                .collect();
            let gain = Tally::of(&rest, conditions).score.saturating_sub(score);
            let severity = of_code()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Info);
            let fix = of_code()
                .find_map(|f| f.fix.clone())
                .or_else(|| of_code().next().map(|f| f.message.clone()))
                .unwrap_or_default();
            let points: u32 = of_code().map(cost).sum();
            let top = TopFix {
                code: code.as_str().to_owned(),
                severity,
                gain,
                fix,
            };
            (top, points)
        })
        .collect();
    fixes.sort_by(|(a, a_points), (b, b_points)| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b_points.cmp(a_points))
            .then_with(|| b.gain.cmp(&a.gain))
            .then_with(|| a.code.cmp(&b.code))
    });
    fixes.truncate(TOP_FIXES);
    fixes.into_iter().map(|(fix, _)| fix).collect()
}

/// A listing on a major blocklist: the lists most receivers reject on.
fn is_major_listing(finding: &Finding) -> bool {
    matches!(finding.code, Code::IpListed | Code::DomainListed)
        && finding.severity == Severity::Critical
}

/// An area's name as the explanation shows it.
pub fn area_label(area: &str) -> &str {
    match area {
        "spf" => "SPF",
        "dmarc" => "DMARC",
        "dkim" => "DKIM",
        "mx" => "MX",
        "ip" => "sending IPs",
        "domain" => "domain blocklists",
        "dns" => "DNS",
        "smtp" => "SMTP",
        "mtasts" => "MTA-STS",
        "tlsrpt" => "TLS-RPT",
        "bimi" => "BIMI",
        "dnssec" => "DNSSEC",
        "dane" => "DANE",
        "message" => "message",
        other => other,
    }
}

/// The whole points a finding costs: by severity, weighed by its area.
fn cost(finding: &Finding) -> u32 {
    if finding.code.means_unknown() {
        return 0;
    }
    let [critical, error, warning] = match finding.code.area() {
        // DANE is whether mail reaches the MX hosts, as MX and SMTP are.
        "mx" | "smtp" | "dane" => [26, 11, 4],
        "mtasts" | "tlsrpt" | "bimi" | "dnssec" => [18, 8, 3],
        _ => [35, 15, 5],
    };
    match finding.severity {
        Severity::Critical => critical,
        Severity::Error => error,
        Severity::Warning => warning,
        Severity::Info => 0,
    }
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
    fn no_finding_above_info_scores_100() {
        let s = score(
            &findings(&[Code::DmarcInherited, Code::MxNull, Code::DkimRevoked]),
            Conditions::default(),
        );
        assert_eq!(s.score, 100, "{s:?}");
        assert_eq!(s.grade, Grade::A);
        assert_eq!(s.explanation, "100 = 100");
    }

    #[test]
    fn a_critical_finding_caps_the_grade_at_d() {
        let s = score(&findings(&[Code::SpfPassAll]), Conditions::default());
        assert_eq!(s.score, 65, "{s:?}");
        assert_eq!(s.grade, Grade::D);
        assert!(s.capped_by_critical);
        assert_eq!(s.explanation, "100 − 35 SPF = 65");
        assert_eq!(
            s.caps,
            vec![Cap {
                reason: CapReason::Critical,
                max: 65,
                lowered: false
            }]
        );
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
            Code::IpListed,
            Code::SpfLookupFailed,
        ]);
        for incomplete in [false, true] {
            let conditions = Conditions {
                incomplete,
                ..Conditions::default()
            };
            let full = score(&all, conditions).score;
            for i in 0..all.len() {
                let mut rest = all.clone();
                rest.remove(i);
                assert!(
                    score(&rest, conditions).score >= full,
                    "removing {} lowered the score",
                    all[i].code
                );
            }
        }
    }

    #[test]
    fn what_could_not_be_determined_costs_nothing_but_the_grade_a() {
        let failed = findings(&[
            Code::SpfLookupFailed,
            Code::DkimLookupFailed,
            Code::IpDnsblRefused,
        ]);
        let s = score(
            &failed,
            Conditions {
                incomplete: true,
                ..Conditions::default()
            },
        );
        assert!(s.deductions.is_empty(), "{s:?}");
        assert_eq!(s.score, 89);
        assert_eq!(s.grade, Grade::B);
        assert_eq!(
            s.explanation,
            "100 = 100; at most 89 (the audit is incomplete) → 89"
        );
        assert!(s.top_fixes.is_empty(), "unknown is not a fix: {s:?}");
    }

    #[test]
    fn fixes_are_ranked_by_severity_before_score_gain() {
        // The PTR error gains nothing while the listing holds the IP area at 40, yet it is
        // what receivers reject mail for: it comes before the DKIM warning.
        let mut all = findings(&[Code::IpNoPtr, Code::DkimWeakKey]);
        for list in ["one", "two", "three"] {
            all.push(Finding::new(Code::IpListed, list).severity(Severity::Error));
        }
        let s = score(&all, Conditions::default());
        let codes: Vec<&str> = s.top_fixes.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["ip.listed", "ip.no-ptr", "dkim.weak-key"], "{s:?}");
        assert_eq!(s.top_fixes[1].gain, 0);
        assert_eq!(s.top_fixes[2].gain, 5);
        assert_eq!(
            s.top_fixes[0].fix, "one",
            "a finding without a fix offers its message"
        );
    }

    #[test]
    fn a_major_listing_dominates_the_score() {
        let mut findings = findings(&[Code::IpListed]);
        let s = score(&findings, Conditions::default());
        assert_eq!(s.grade, Grade::F);
        assert_eq!(
            s.explanation,
            "100 − 35 sending IPs = 65; at most 40 (listed on a major blocklist) → 40"
        );
        findings[0].severity = Severity::Error;
        assert!(
            score(&findings, Conditions::default()).score > 40,
            "a minor list does not cap"
        );
    }

    #[test]
    fn one_area_cannot_cost_more_than_its_cap_and_the_explanation_shows_it() {
        let mut many = findings(&[
            Code::SpfSyntax,
            Code::SpfLoop,
            Code::SpfLookupLimit,
            Code::SpfMxLimit,
            Code::MxCname,
        ]);
        many.push(Finding::new(Code::MxMissing, "w"));
        let s = score(&many, Conditions::default());
        assert_eq!(s.score, 45);
        assert_eq!(s.explanation, "100 − 40 SPF (60, at most 40) − 15 MX = 45");
        let counted: u32 = s.areas.iter().map(|a| a.counted).sum();
        assert_eq!(100 - counted, u32::from(s.score));
    }
}
