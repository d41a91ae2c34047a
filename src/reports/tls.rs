//! TLS-RPT (RFC 8460 §4): per receiving organisation and policy, how many TLS sessions to the
//! domain's MX hosts succeeded and failed, and why they failed (§4.3 result types).

use std::collections::BTreeMap;

use mail_auth::report::tlsrpt::{PolicyType, ResultType, TlsReport};
use serde::Serialize;

/// One organisation's sessions under one policy.
#[derive(Debug, Serialize)]
pub struct TlsRow {
    pub organization: String,
    /// `sts`, `tlsa` or `no-policy-found` (RFC 8460 §4.4).
    pub policy_type: &'static str,
    pub policy_domain: String,
    pub reports: usize,
    pub successful: u64,
    pub failed: u64,
    /// Failed sessions by result type (RFC 8460 §4.3), e.g. `certificate-expired`.
    pub failures: BTreeMap<String, u64>,
}

/// The TLS-RPT reports summed per (organisation, policy type, policy domain).
pub fn summarise(reports: &[TlsReport]) -> Vec<TlsRow> {
    let mut rows: BTreeMap<(String, &'static str, String), TlsRow> = BTreeMap::new();
    for report in reports {
        let organization = report
            .organization_name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| "unnamed".to_owned());
        for policy in &report.policies {
            let policy_type = policy_type_name(policy.policy.policy_type);
            let key = (
                organization.clone(),
                policy_type,
                policy.policy.policy_domain.to_ascii_lowercase(),
            );
            let row = rows.entry(key).or_insert_with(|| TlsRow {
                organization: organization.clone(),
                policy_type,
                policy_domain: policy.policy.policy_domain.to_ascii_lowercase(),
                reports: 0,
                successful: 0,
                failed: 0,
                failures: BTreeMap::new(),
            });
            row.reports += 1;
            row.successful += u64::from(policy.summary.total_success);
            row.failed += u64::from(policy.summary.total_failure);
            for detail in &policy.failure_details {
                *row.failures
                    .entry(result_type_name(detail.result_type).to_owned())
                    .or_default() += u64::from(detail.failed_session_count);
            }
        }
    }
    rows.into_values().collect()
}

fn policy_type_name(policy: PolicyType) -> &'static str {
    match policy {
        PolicyType::Sts => "sts",
        PolicyType::Tlsa => "tlsa",
        PolicyType::NoPolicyFound => "no-policy-found",
        PolicyType::Other => "other",
    }
}

/// The RFC 8460 §4.3 name of a result type.
pub fn result_type_name(result: ResultType) -> &'static str {
    match result {
        ResultType::StartTlsNotSupported => "starttls-not-supported",
        ResultType::CertificateHostMismatch => "certificate-host-mismatch",
        ResultType::CertificateExpired => "certificate-expired",
        ResultType::CertificateNotTrusted => "certificate-not-trusted",
        ResultType::ValidationFailure => "validation-failure",
        ResultType::TlsaInvalid => "tlsa-invalid",
        ResultType::DnssecInvalid => "dnssec-invalid",
        ResultType::DaneRequired => "dane-required",
        ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
        ResultType::StsPolicyInvalid => "sts-policy-invalid",
        ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
        ResultType::Other => "other",
    }
}
