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
    /// Why the score is what it is: deductions and the top fixes.
    pub scoring: serde_json::Value,
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

/// The report of one sending IP (`mailaudit ip`).
#[derive(Debug, Deserialize)]
pub struct IpTargetReport {
    pub schema_version: u32,
    pub target: String,
    pub kind: String,
    pub score: u8,
    pub grade: String,
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
