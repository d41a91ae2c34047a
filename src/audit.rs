//! The audit of one domain: every area checked concurrently over one DNS client, the findings
//! merged and scored. The round trips an audit takes are those of its longest dependency chain.

use crate::dns::Dns;
use crate::finding::Finding;
use crate::report::{DomainAreas, TargetKind, TargetReport};
use crate::{dkim, dmarc, mx, spf};

/// What an audit checks besides the defaults.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// DKIM selectors to probe beside the built-in list.
    pub selectors: Vec<String>,
}

/// Audits one normalised domain.
pub async fn audit_domain(dns: &Dns, domain: &str, options: &AuditOptions) -> TargetReport {
    let (spf, dmarc, dkim, mx) = tokio::join!(
        spf::check(dns, domain),
        dmarc::check(dns, domain),
        dkim::check(dns, domain, &options.selectors),
        mx::check(dns, domain),
    );
    let mut findings: Vec<Finding> = Vec::new();
    findings.extend(spf.findings);
    findings.extend(dmarc.findings);
    findings.extend(dkim.findings);
    findings.extend(mx.findings);
    let areas = DomainAreas {
        spf: spf.report,
        dmarc: dmarc.report,
        dkim: dkim.report,
        mx: mx.report,
    };
    TargetReport::new(domain, TargetKind::Domain, findings, areas)
}
