//! The JSON report as `cli.md` specifies it, written here independently of the program's own
//! types, so that a change that breaks the contract fails the tests.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingOut {
    pub code: String,
    pub severity: String,
    pub message: String,
    #[serde(default)]
    pub fix: Option<String>,
    pub evidence: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub target: String,
    pub kind: String,
    pub score: u8,
    pub grade: String,
    /// Something could not be determined.
    pub incomplete: bool,
    /// What could not be determined, and why.
    pub unknown: Vec<UnknownOut>,
    /// The DNS servers asked.
    pub resolvers: Vec<String>,
    /// What the audit asked the resolver.
    pub stats: StatsOut,
    /// Why the score is what it is: deductions, caps and the top fixes.
    pub scoring: ScoringOut,
    pub findings: Vec<FindingOut>,
    pub spf: serde_json::Value,
    pub dmarc: serde_json::Value,
    pub dkim: serde_json::Value,
    pub mx: serde_json::Value,
    /// The sending IPs given with `--ip`.
    pub ips: Vec<serde_json::Value>,
    /// The mailbox providers' sender requirements.
    pub requirements: Vec<RequirementOut>,
    /// The domain and its MX hosts' domains on the domain blocklists.
    pub blocklists: Vec<serde_json::Value>,
    /// Whether the domain's zone is DNSSEC-signed and validates.
    #[serde(default)]
    pub dnssec: Option<DnssecOut>,
    /// The MX hosts' TLSA records.
    #[serde(default)]
    pub dane: Option<DaneOut>,
    /// One complete record per DNS name, every fix to it applied (absent when none).
    #[serde(default)]
    pub records_to_publish: Vec<RecordToPublishOut>,
    /// The domain sends and receives no mail: sender advice is left out.
    #[serde(default)]
    pub parked: bool,
}

/// A record to publish.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordToPublishOut {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
    pub replaces: Option<String>,
    pub fixes: Vec<String>,
    #[serde(default)]
    pub steps: Vec<String>,
}

/// The DNSSEC area.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecOut {
    pub verdict: String,
    /// `signed`, `unsigned`, `bogus` or `unknown`.
    pub status: String,
    pub name: String,
    #[serde(default)]
    pub zone: Option<String>,
    pub ds: String,
    pub dnskey: String,
    pub authenticated: bool,
    #[serde(default)]
    pub resolver: Option<String>,
    pub resolver_validates: Option<bool>,
    pub detail: String,
}

/// The DANE area.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaneOut {
    pub verdict: String,
    pub hosts: Vec<DaneHostOut>,
}

/// One MX host's TLSA records.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaneHostOut {
    pub host: String,
    pub name: String,
    pub answer: String,
    pub authenticated: bool,
    /// `none`, `usable`, `unusable`, `unsigned` or `unknown`.
    pub status: String,
    pub records: Vec<TlsaOut>,
    #[serde(default)]
    pub matched: Option<bool>,
    #[serde(default)]
    pub unknown: Option<String>,
}

/// One TLSA record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsaOut {
    pub record: String,
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub usable: bool,
    #[serde(default)]
    pub problem: Option<String>,
}

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementOut {
    pub provider: String,
    pub audience: String,
    pub requirement: String,
    pub status: String,
    pub codes: Vec<String>,
    pub detail: String,
}

/// The questions an audit sent to the resolver (cache hits not counted).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsOut {
    /// Questions sent, each once.
    pub queries: usize,
    /// Questions sent a second time, after a time-out derived from the round trips.
    pub retries: usize,
    /// Questions unanswered in their whole time-out.
    pub timeouts: usize,
    /// Questions of a domain whose name servers had timed out, not sent.
    pub skipped: usize,
}

/// One part of a report that could not be determined.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownOut {
    pub area: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub reason: String,
}

/// The part of `unknown` that says the resolver stopped answering, failing the test without one.
pub fn resolver_part<'a>(target: &str, unknown: &'a [UnknownOut]) -> &'a UnknownOut {
    unknown
        .iter()
        .find(|u| u.area == "resolver")
        .unwrap_or_else(|| panic!("{target}: no resolver part in {unknown:?}"))
}

/// The score's explanation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringOut {
    pub score: u8,
    pub grade: String,
    pub capped_by_critical: bool,
    pub deductions: Vec<DeductionOut>,
    pub areas: Vec<AreaCostOut>,
    pub caps: Vec<CapOut>,
    pub explanation: String,
    pub top_fixes: Vec<TopFixOut>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeductionOut {
    pub code: String,
    pub severity: String,
    pub area: String,
    pub points: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaCostOut {
    pub area: String,
    pub points: u32,
    pub counted: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapOut {
    pub reason: String,
    pub max: u8,
    pub lowered: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopFixOut {
    pub code: String,
    pub severity: String,
    pub gain: u8,
    pub fix: String,
}

impl ScoringOut {
    /// The score the explanation's numbers give: 100 less what each area counted (at least
    /// 0), then every cap that holds. A report is consistent when this is its score.
    pub fn recomputed(&self) -> u8 {
        let counted: u32 = self.areas.iter().map(|a| a.counted).sum();
        let mut score = u8::try_from(100u32.saturating_sub(counted)).unwrap();
        for cap in &self.caps {
            score = score.min(cap.max);
        }
        score
    }
}

/// The report of one sending IP (`mailaudit ip`).
#[derive(Debug, Deserialize)]
pub struct IpTargetReport {
    pub schema_version: u32,
    pub target: String,
    pub kind: String,
    pub score: u8,
    pub grade: String,
    pub incomplete: bool,
    pub unknown: Vec<UnknownOut>,
    pub resolvers: Vec<String>,
    pub stats: StatsOut,
    pub scoring: ScoringOut,
    pub findings: Vec<FindingOut>,
    pub ip: serde_json::Value,
}

impl IpTargetReport {
    /// Whether a finding with this code was raised.
    pub fn has(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

impl Report {
    /// The finding codes, in report order.
    pub fn codes(&self) -> Vec<String> {
        self.findings.iter().map(|f| f.code.clone()).collect()
    }

    /// Whether a finding with this code was raised.
    pub fn has(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// The findings with this code.
    pub fn with_code(&self, code: &str) -> Vec<&FindingOut> {
        self.findings.iter().filter(|f| f.code == code).collect()
    }

    /// The worst severity among the findings, or "none".
    pub fn worst(&self) -> &str {
        const ORDER: [&str; 4] = ["critical", "error", "warning", "info"];
        ORDER
            .iter()
            .find(|s| self.findings.iter().any(|f| f.severity == **s))
            .copied()
            .unwrap_or("none")
    }
}

/// The points a finding costs in the documented model (README, `src/score.rs`): by severity,
/// weighed by its area.
fn documented_cost(area: &str, severity: &str) -> u32 {
    let [critical, error, warning] = match area {
        "mx" | "smtp" => [26, 11, 4],
        "mtasts" | "tlsrpt" | "bimi" | "dnssec" => [18, 8, 3],
        _ => [35, 15, 5],
    };
    match severity {
        "critical" => critical,
        "error" => error,
        "warning" => warning,
        _ => 0,
    }
}

/// The codes that say "could not be determined": they cost nothing.
const UNKNOWN_CODES: [&str; 9] = [
    "spf.lookup-failed",
    "dmarc.lookup-failed",
    "dkim.lookup-failed",
    "mx.lookup-failed",
    "mtasts.lookup-failed",
    "tlsrpt.lookup-failed",
    "bimi.lookup-failed",
    "ip.dnsbl-refused",
    "ip.dnsbl-unavailable",
];

/// The grade of a score: A from 90, B from 80, C from 70, D from 60, F below.
pub fn grade_of(score: u8) -> &'static str {
    match score {
        90.. => "A",
        80..=89 => "B",
        70..=79 => "C",
        60..=69 => "D",
        _ => "F",
    }
}

/// The score explanation of a report adds up: every finding's cost is the documented one,
/// the deductions sum per area to the area's points, each area counts at most 40, the caps
/// that hold are applied (and said to lower the score exactly when they do), the score and
/// grade are the ones the numbers give, and the explanation line shows every number and ends
/// with the score.
pub fn assert_adds_up(
    target: &str,
    score: u8,
    grade: &str,
    scoring: &ScoringOut,
    findings: &[FindingOut],
) {
    assert_eq!(scoring.score, score, "{target}: scoring.score");
    assert_eq!(scoring.grade, grade, "{target}: scoring.grade");
    assert_eq!(scoring.recomputed(), score, "{target}: {scoring:#?}");
    assert_eq!(grade, grade_of(score), "{target}: grade of {score}");
    assert_deductions(target, scoring, findings);
    assert_areas(target, scoring);
    assert_caps_and_explanation(target, score, scoring);
}

/// Each finding that costs is deducted once, at the documented cost; nothing else is.
fn assert_deductions(target: &str, scoring: &ScoringOut, findings: &[FindingOut]) {
    let costly: Vec<&FindingOut> = findings
        .iter()
        .filter(|f| {
            !UNKNOWN_CODES.contains(&f.code.as_str())
                && documented_cost(area_of(&f.code), &f.severity) > 0
        })
        .collect();
    assert_eq!(
        scoring.deductions.len(),
        costly.len(),
        "{target}: one deduction per costly finding: {:#?} for {costly:#?}",
        scoring.deductions
    );
    for deduction in &scoring.deductions {
        assert_eq!(deduction.area, area_of(&deduction.code), "{deduction:?}");
        assert_eq!(
            deduction.points,
            documented_cost(&deduction.area, &deduction.severity),
            "{target}: {deduction:?}"
        );
        let of_code = |code: &str, severity: &str| {
            costly
                .iter()
                .filter(|f| f.code == code && f.severity == severity)
                .count()
        };
        let deducted = scoring
            .deductions
            .iter()
            .filter(|d| d.code == deduction.code && d.severity == deduction.severity)
            .count();
        assert_eq!(
            deducted,
            of_code(&deduction.code, &deduction.severity),
            "{target}: {deduction:?}"
        );
    }
}

/// Per area: the deductions add up to its points; it counts at most 40; every area that cost
/// something is listed once, and the explanation shows what it counted.
fn assert_areas(target: &str, scoring: &ScoringOut) {
    for area in &scoring.areas {
        let sum: u32 = scoring
            .deductions
            .iter()
            .filter(|d| d.area == area.area)
            .map(|d| d.points)
            .sum();
        assert_eq!(area.points, sum, "{target}: area {}", area.area);
        assert_eq!(area.counted, area.points.min(40), "{target}: {area:?}");
        assert!(
            scoring
                .explanation
                .contains(&format!("− {} ", area.counted)),
            "{target}: {} not in {:?}",
            area.counted,
            scoring.explanation
        );
        if area.counted < area.points {
            assert!(
                scoring
                    .explanation
                    .contains(&format!("({}, at most 40)", area.points)),
                "{target}: {:?}",
                scoring.explanation
            );
        }
    }
    for deduction in &scoring.deductions {
        assert_eq!(
            scoring
                .areas
                .iter()
                .filter(|a| a.area == deduction.area)
                .count(),
            1,
            "{target}: area of {deduction:?}"
        );
    }
}

/// The caps are applied in turn, each said to lower the score exactly when it does, and the
/// explanation goes from 100 to the score.
fn assert_caps_and_explanation(target: &str, score: u8, scoring: &ScoringOut) {
    let counted: u32 = scoring.areas.iter().map(|a| a.counted).sum();
    let deducted = u8::try_from(100u32.saturating_sub(counted)).unwrap();
    let mut running = deducted;
    for cap in &scoring.caps {
        assert_eq!(cap.lowered, running > cap.max, "{target}: {cap:?}");
        if cap.lowered {
            assert!(
                scoring
                    .explanation
                    .contains(&format!("at most {} (", cap.max)),
                "{target}: {cap:?} not in {:?}",
                scoring.explanation
            );
        }
        running = running.min(cap.max);
    }
    assert_eq!(
        scoring.capped_by_critical,
        scoring.caps.iter().any(|c| c.reason == "critical"),
        "{target}"
    );

    let explanation = &scoring.explanation;
    assert!(explanation.starts_with("100"), "{target}: {explanation}");
    assert!(
        explanation.contains(&format!("= {deducted}")),
        "{target}: {explanation} does not show {deducted}"
    );
    let last = if scoring.caps.iter().any(|c| c.lowered) {
        format!("→ {score}")
    } else {
        format!("= {score}")
    };
    assert!(
        explanation.ends_with(&last),
        "{target}: {explanation:?} does not end with {last:?}"
    );
}

/// The area of a finding code: its name up to the first dot.
fn area_of(code: &str) -> &str {
    code.split_once('.').map_or(code, |(area, _)| area)
}

/// The report of one mail server (`mailaudit smtp HOST`): the common parts, and `smtp`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpTargetReport {
    pub schema_version: u32,
    pub target: String,
    pub kind: String,
    pub score: u8,
    pub grade: String,
    pub incomplete: bool,
    pub unknown: Vec<UnknownOut>,
    pub resolvers: Vec<String>,
    pub stats: StatsOut,
    pub scoring: ScoringOut,
    pub findings: Vec<FindingOut>,
    pub smtp: SmtpOut,
}

impl SmtpTargetReport {
    /// The finding codes, in report order.
    pub fn codes(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.code.as_str()).collect()
    }

    /// Whether a finding with this code was raised.
    pub fn has(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// The findings with this code.
    pub fn with_code(&self, code: &str) -> Vec<&FindingOut> {
        self.findings.iter().filter(|f| f.code == code).collect()
    }

    /// The only finding with this code, failing the test unless there is exactly one.
    pub fn one(&self, code: &str) -> &FindingOut {
        let found = self.with_code(code);
        assert_eq!(found.len(), 1, "one {code} in {:#?}", self.findings);
        found[0]
    }

    /// The only probe (one port) and its only session (one address).
    pub fn session(&self) -> &SessionOut {
        assert_eq!(self.smtp.probes.len(), 1, "{:#?}", self.smtp);
        let probe = &self.smtp.probes[0];
        assert_eq!(probe.sessions.len(), 1, "{probe:#?}");
        &probe.sessions[0]
    }

    /// The only probe.
    pub fn probe(&self) -> &PortProbeOut {
        assert_eq!(self.smtp.probes.len(), 1, "{:#?}", self.smtp);
        &self.smtp.probes[0]
    }
}

/// `smtp`: the host and each port probed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpOut {
    pub host: String,
    pub probes: Vec<PortProbeOut>,
}

/// How TLS was started on a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsModeOut {
    Starttls,
    Implicit,
    None,
}

/// What the server is to the user: `mx` on port 25, `submission` on every other port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleOut {
    Mx,
    Submission,
}

/// One host and port probed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortProbeOut {
    pub host: String,
    pub port: u16,
    pub tls: TlsModeOut,
    pub role: RoleOut,
    /// `ok`, `weak`, `fail` or `unknown`.
    pub verdict: String,
    /// The A and AAAA answers; absent for an address literal.
    #[serde(default)]
    pub dns: Option<AddressLookupOut>,
    pub dns_ms: f64,
    pub sessions: Vec<SessionOut>,
    /// Port 25: each address's PTR names.
    #[serde(default)]
    pub ptr: Vec<AddressPtrOut>,
    /// Addresses past the probe's limit, not probed.
    #[serde(default)]
    pub addresses_not_probed: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressLookupOut {
    pub a: String,
    pub aaaa: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressPtrOut {
    pub ip: std::net::IpAddr,
    /// `records`, `nxdomain`, `nodata` or the failure.
    pub answer: String,
    pub names: Vec<String>,
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeOut {
    Completed,
    Refused,
    ConnectTimeout,
    Unreachable,
    NoGreeting,
    Rejected,
    ProtocolError,
    Oversized,
    ReplyTimeout,
    TlsFailed,
    Closed,
    ProbeTimeout,
}

/// One session with one address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionOut {
    pub ip: std::net::IpAddr,
    pub outcome: OutcomeOut,
    #[serde(default)]
    pub error: Option<String>,
    pub phases: Vec<PhaseOut>,
    #[serde(default)]
    pub greeting: Option<ReplyOut>,
    #[serde(default)]
    pub greeting_host: Option<String>,
    /// EHLO before TLS.
    #[serde(default)]
    pub ehlo: Option<ExtensionsOut>,
    /// EHLO over TLS.
    #[serde(default)]
    pub ehlo_tls: Option<ExtensionsOut>,
    #[serde(default)]
    pub starttls_reply: Option<ReplyOut>,
    #[serde(default)]
    pub tls: Option<TlsOut>,
    pub tls_outdated: bool,
    /// TLS was expected but the server answered in plain text.
    pub plain_text: bool,
    pub implicit_tls_detected: bool,
    #[serde(default)]
    pub auth: Option<AuthOut>,
}

impl SessionOut {
    /// The names of the phases, in order.
    pub fn phase_names(&self) -> Vec<&str> {
        self.phases.iter().map(|p| p.phase.as_str()).collect()
    }

    /// The certificate's facts, failing the test without one.
    pub fn certificate(&self) -> &CertificateOut {
        self.tls
            .as_ref()
            .and_then(|t| t.certificate.as_ref())
            .unwrap_or_else(|| panic!("no certificate in {self:#?}"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseOut {
    pub phase: String,
    pub ms: f64,
}

/// An SMTP reply: its code and the text of each line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyOut {
    pub code: u16,
    pub lines: Vec<String>,
}

/// The extensions of an EHLO reply.
#[allow(clippy::struct_excessive_bools)] // one flag per extension, as the contract has them
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionsOut {
    pub server: String,
    pub starttls: bool,
    pub auth: Vec<String>,
    #[serde(default)]
    pub size: Option<u64>,
    pub pipelining: bool,
    #[serde(rename = "8bitmime")]
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub enhancedstatuscodes: bool,
    pub chunking: bool,
    pub requiretls: bool,
    pub other: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOut {
    pub version: String,
    pub cipher: String,
    #[serde(default)]
    pub certificate: Option<CertificateOut>,
}

/// A problem of a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateProblemOut {
    Expired,
    NotYetValid,
    WrongName,
    Untrusted,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateOut {
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub key: String,
    pub chain_length: usize,
    pub name_matches: bool,
    pub trusted: bool,
    pub problems: Vec<CertificateProblemOut>,
    #[serde(default)]
    pub trust_error: Option<String>,
}

/// What AUTH said (`--user`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthOut {
    pub user: String,
    #[serde(default)]
    pub mechanism: Option<String>,
    pub accepted: bool,
    #[serde(default)]
    pub reply: Option<ReplyOut>,
    #[serde(default)]
    pub enhanced_code: Option<String>,
    /// Why AUTH was not tried.
    #[serde(default)]
    pub skipped: Option<String>,
}
