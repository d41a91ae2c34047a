//! DNSSEC (RFC 4033, 4034, 4035): is the domain's zone signed, and does it validate?
//!
//! Two round trips, shorter than the MX chain beside them: the domain's DNSKEY records (RFC
//! 4034 §2) asked with EDNS's DO bit set (RFC 3225 §3), whose AD bit says whether the resolver
//! validated them, or the proof that there are none (RFC 4035 §3.2.3), and whose answer says
//! which zone the domain is in (the domain when it has keys, else the negative answer's SOA,
//! RFC 2308 §3); then, when that got an answer, the DS records of that zone, which its parent
//! publishes to vouch for its key (RFC 4034 §5). Once a run, whether the resolver validates at
//! all ([`Dns::resolver_validation`]). A zone whose servers do not answer costs one question.
//! Then:
//!
//! - AD set: the zone is signed and validates;
//! - SERVFAIL, and an answer once the CD bit asks the resolver not to validate (RFC 4035
//!   §3.2.2): the zone is *bogus*: validating resolvers (and so the receivers that use them)
//!   cannot resolve the domain at all (`dnssec.bogus`, critical);
//! - AD clear from a resolver that validates: the zone is not signed (`dnssec.unsigned`, info);
//! - AD clear from a resolver that does not validate: no DS at the parent is still unsigned (a
//!   fact of the parent zone), but a DS means signed and *not validated here*: unknown, never
//!   "unsigned", and the report says which resolver did not validate.

use serde::Serialize;

use crate::dns::{Answer, Dns, Failure, ResolverValidation, Validated};
use crate::finding::{Checked, Code, Finding, Verdict};

/// What DNSSEC says of the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnssecStatus {
    /// Signed, and a validating resolver validated it.
    Signed,
    /// Not signed: no DS at the parent, or a validating resolver treats it as unsigned.
    Unsigned,
    /// A DS at the parent, but validation fails: validating resolvers answer SERVFAIL.
    Bogus,
    /// Could not be determined: a lookup failed, or a DS exists and the resolver does not
    /// validate.
    Unknown,
}

impl DnssecStatus {
    /// The word used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            DnssecStatus::Signed => "signed",
            DnssecStatus::Unsigned => "unsigned",
            DnssecStatus::Bogus => "bogus",
            DnssecStatus::Unknown => "unknown",
        }
    }
}

/// The DNSSEC area of the report.
#[derive(Clone, Debug, Serialize)]
pub struct DnssecReport {
    pub verdict: Verdict,
    pub status: DnssecStatus,
    /// The name asked.
    pub name: String,
    /// The DNS outcome of its DNSKEY question (asked with DO set): `records`, `nodata`,
    /// `nxdomain`, or the failure.
    pub dnskey: String,
    /// The zone the domain is in (its apex), when an answer said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The DS answer at the zone: `records`, `nodata`, `nxdomain`, the failure, or
    /// `not-asked` when the DNSKEY question got no answer.
    pub ds: String,
    /// The AD bit of the domain's DNSKEY answer, asked with DO set.
    pub authenticated: bool,
    /// The resolver asked with DO set (`ADDR:PORT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Whether that resolver validates DNSSEC (`null`: it did not say).
    pub resolver_validates: Option<bool>,
    /// What was concluded and why, in one line.
    pub detail: String,
}

/// Checks `domain`'s zone.
pub async fn check(dns: &Dns, domain: &str) -> Checked<DnssecReport> {
    let (keys, validation) = tokio::join!(
        dns.dnskey_validated(domain, false),
        dns.resolver_validation()
    );
    let zone = match &keys.answer {
        Answer::Records { .. } => Some(domain.to_owned()),
        _ => keys.zone.clone().filter(|zone| zone != "."),
    };
    // SERVFAIL with validation, an answer without (RFC 4035 §3.2.2): bogus.
    let servfail = keys.answer.failure() == Some(&Failure::ServFail);
    let asked = servfail || keys.answer.failure().is_none();
    let (ds, unchecked) = tokio::join!(
        async {
            match (&zone, asked) {
                (_, false) => None,
                (Some(zone), true) => Some(dns.ds(zone).await),
                (None, true) => Some(dns.ds(domain).await),
            }
        },
        async {
            if servfail {
                Some(dns.dnskey_validated(domain, true).await)
            } else {
                None
            }
        }
    );
    let facts = Facts {
        domain,
        zone: zone.as_deref(),
        keys: &keys,
        unchecked: unchecked.as_ref(),
        ds: ds.as_ref(),
        validation: &validation,
    };
    let (status, detail) = facts.conclude();
    let finding = facts.finding(status, &detail);
    let report = DnssecReport {
        verdict: match status {
            DnssecStatus::Signed | DnssecStatus::Unsigned => Verdict::Ok,
            DnssecStatus::Bogus => Verdict::Fail,
            DnssecStatus::Unknown => Verdict::Unknown,
        },
        status,
        name: domain.to_owned(),
        dnskey: keys.answer.status(),
        zone,
        ds: ds.map_or_else(|| "not-asked".to_owned(), |ds| ds.status()),
        authenticated: keys.authentic,
        resolver: keys
            .server
            .or(validation.server)
            .map(|server| server.to_string()),
        resolver_validates: validation.validates,
        detail,
    };
    Checked {
        report,
        findings: finding.into_iter().collect(),
    }
}

/// What the answers said, for the conclusion.
struct Facts<'a> {
    domain: &'a str,
    zone: Option<&'a str>,
    /// The domain's DNSKEY, asked with DO set.
    keys: &'a Validated<()>,
    /// The same with CD set, asked when the first got SERVFAIL.
    unchecked: Option<&'a Validated<()>>,
    /// DS at the zone, asked when the first got an answer or SERVFAIL.
    ds: Option<&'a Answer<()>>,
    validation: &'a ResolverValidation,
}

impl Facts<'_> {
    fn resolver(&self) -> String {
        self.keys.server.or(self.validation.server).map_or_else(
            || "the resolver".to_owned(),
            |s| format!("the resolver {s}"),
        )
    }

    fn zone(&self) -> &str {
        self.zone.unwrap_or(self.domain)
    }

    /// The status, and why, in one line.
    fn conclude(&self) -> (DnssecStatus, String) {
        let resolver = self.resolver();
        let zone = self.zone();
        let ds_status = self
            .ds
            .map_or_else(|| "not asked".to_owned(), Answer::status);
        if let Answer::Failed(failure) = &self.keys.answer {
            let answered_unchecked = self.unchecked.is_some_and(|u| u.answer.failure().is_none());
            if answered_unchecked {
                return (
                    DnssecStatus::Bogus,
                    format!(
                        "bogus: {resolver} validates DNSSEC and answers SERVFAIL for {}, yet \
                         answers when asked not to validate (CD): the signatures of {zone} do \
                         not validate against the DS at its parent (DS: {ds_status})",
                        self.domain,
                    ),
                );
            }
            return (
                DnssecStatus::Unknown,
                format!(
                    "unknown: the DNSKEY lookup of {} with DNSSEC records failed ({})",
                    self.domain,
                    failure.label()
                ),
            );
        }
        if self.keys.authentic {
            return (
                DnssecStatus::Signed,
                format!(
                    "signed and validated by {resolver} (AD bit set): {zone} has a DS at its \
                     parent (DS: {ds_status})"
                ),
            );
        }
        let has_ds = match self.ds.unwrap_or(&Answer::Failed(Failure::Timeout)) {
            Answer::Records { records, .. } => !records.is_empty(),
            Answer::NoData { .. } | Answer::NxDomain { .. } => false,
            Answer::Failed(failure) => {
                return (
                    DnssecStatus::Unknown,
                    format!(
                        "unknown: the DS lookup of {zone} failed ({})",
                        failure.label()
                    ),
                );
            }
        };
        match (self.validation.validates, has_ds) {
            (Some(true), false) => (
                DnssecStatus::Unsigned,
                format!("unsigned: {zone} has no DS record at its parent"),
            ),
            (Some(true), true) => (
                DnssecStatus::Unsigned,
                format!(
                    "unsigned for validating resolvers: {zone} has a DS at its parent, yet \
                     {resolver}, which validates, treats it as unsigned (a DS or DNSKEY \
                     algorithm it does not support, RFC 4035 §5.2)"
                ),
            ),
            (_, false) => (
                DnssecStatus::Unsigned,
                format!(
                    "unsigned: {zone} has no DS record at its parent ({resolver} does not \
                     validate DNSSEC)"
                ),
            ),
            (_, true) => (
                DnssecStatus::Unknown,
                format!(
                    "unknown: {zone} has a DS at its parent (it is signed) but {resolver} does \
                     not validate DNSSEC, so whether it validates cannot be said; ask a \
                     validating resolver (--resolver)"
                ),
            ),
        }
    }

    /// The finding the status calls for.
    fn finding(&self, status: DnssecStatus, detail: &str) -> Option<Finding> {
        let zone = self.zone();
        let finding = match status {
            DnssecStatus::Signed => return None,
            // A resolver that does not validate is no failure of the domain: said in the
            // report's unknown parts, not as a finding.
            DnssecStatus::Unknown
                if self.keys.answer.failure().is_none()
                    && self.ds.is_some_and(|ds| ds.failure().is_none()) =>
            {
                return None;
            }
            DnssecStatus::Unknown => Finding::new(
                Code::DnssecLookupFailed,
                format!("DNSSEC status of {} {detail}", self.domain),
            )
            .fix(format!(
                "Check that the name servers of {zone} answer, then audit again"
            )),
            DnssecStatus::Unsigned => Finding::new(
                Code::DnssecUnsigned,
                format!(
                    "{} is not DNSSEC-signed: its answers can be forged on the way to \
                     receivers, and DANE cannot be used for its MX hosts",
                    self.domain
                ),
            )
            .fix(format!(
                "Sign the zone {zone} at its DNS provider and publish its DS record at the \
                 registrar (RFC 4035 §2)"
            )),
            DnssecStatus::Bogus => Finding::new(
                Code::DnssecBogus,
                format!(
                    "{} does not validate (DNSSEC-bogus): validating resolvers answer SERVFAIL \
                     for every name in it, so receivers that validate cannot read its SPF, \
                     DMARC or MX and defer or reject its mail",
                    self.domain
                ),
            )
            .fix(format!(
                "Make the DS record of {zone} at its parent match a DNSKEY the zone publishes, \
                 and re-sign the zone if its signatures expired; or remove the DS to make the \
                 zone unsigned"
            )),
        };
        Some(
            finding
                .evidence("name", self.domain)
                .evidence("zone", zone)
                .evidence(
                    "ds",
                    self.ds
                        .map_or_else(|| "not asked".to_owned(), Answer::status),
                )
                .evidence("answer", self.keys.answer.status())
                .evidence("detail", detail),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn server() -> SocketAddr {
        "192.0.2.53:53".parse().unwrap()
    }

    fn keys(answer: Answer<()>, authentic: bool) -> Validated<()> {
        Validated {
            answer,
            authentic,
            server: Some(server()),
            zone: None,
        }
    }

    fn records() -> Answer<()> {
        Answer::Records {
            records: vec![()],
            aliases: Vec::new(),
        }
    }

    fn ds() -> Answer<()> {
        Answer::Records {
            records: vec![()],
            aliases: Vec::new(),
        }
    }

    fn conclude(
        keys: &Validated<()>,
        unchecked: Option<&Validated<()>>,
        ds: &Answer<()>,
        validates: Option<bool>,
    ) -> (DnssecStatus, String) {
        let validation = ResolverValidation {
            server: Some(server()),
            validates,
        };
        Facts {
            domain: "example.test",
            zone: Some("example.test"),
            keys,
            unchecked,
            ds: Some(ds),
            validation: &validation,
        }
        .conclude()
    }

    #[test]
    fn a_resolver_that_does_not_validate_leaves_a_signed_zone_unknown_not_unsigned() {
        let (status, detail) = conclude(&keys(records(), false), None, &ds(), Some(false));
        assert_eq!(status, DnssecStatus::Unknown);
        assert!(
            detail.contains("192.0.2.53:53 does not validate"),
            "{detail}"
        );
        let (status, _) = conclude(
            &keys(records(), false),
            None,
            &Answer::no_data(),
            Some(false),
        );
        assert_eq!(
            status,
            DnssecStatus::Unsigned,
            "no DS is unsigned whoever asks"
        );
    }

    #[test]
    fn servfail_answered_with_cd_is_bogus_and_unanswered_is_unknown() {
        let failed = keys(Answer::Failed(Failure::ServFail), false);
        let answered = keys(records(), false);
        let (status, _) = conclude(&failed, Some(&answered), &ds(), Some(true));
        assert_eq!(status, DnssecStatus::Bogus);
        let still_failed = keys(Answer::Failed(Failure::ServFail), false);
        let (status, _) = conclude(&failed, Some(&still_failed), &ds(), Some(true));
        assert_eq!(status, DnssecStatus::Unknown);
    }

    #[test]
    fn the_ad_bit_says_signed_and_its_absence_from_a_validator_unsigned() {
        let (status, detail) = conclude(&keys(records(), true), None, &ds(), Some(true));
        assert_eq!(status, DnssecStatus::Signed);
        assert!(
            detail.contains("validated by the resolver 192.0.2.53:53"),
            "{detail}"
        );
        let (status, _) = conclude(
            &keys(records(), false),
            None,
            &Answer::no_data(),
            Some(true),
        );
        assert_eq!(status, DnssecStatus::Unsigned);
        let failed_ds = Answer::Failed(Failure::Timeout);
        let (status, _) = conclude(&keys(records(), false), None, &failed_ds, Some(true));
        assert_eq!(status, DnssecStatus::Unknown);
    }
}
