//! The mark certificate of `a=` (a Verified Mark Certificate or a Common Mark Certificate): a PEM
//! chain whose first certificate is the mark's own. What receivers check of it and what can be
//! read without the mark certificate roots (which mailaudit does not ship, so the issuer chain
//! is not verified): its dates (RFC 5280 §4.1.2.5), the domain among its subject alternative
//! names, the logotype extension that carries the logo (RFC 3709, id-pe-logotype
//! 1.3.6.1.5.5.7.1.12) and the BIMI extended key usage (id-kp-BrandIndicatorforMessageIdentification,
//! 1.3.6.1.5.5.7.3.31).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use x509_parser::oid_registry::Oid;
use x509_parser::pem::Pem;
use x509_parser::prelude::X509Certificate;

use crate::smtp::tls::{alternative_names, days_left, rfc3339};

/// A mark certificate is "expiring" this many days before its end: renewing one takes a
/// verification of the mark, not minutes.
pub const EXPIRING_DAYS: i64 = 30;

/// Certificates read from one document at most.
const MAX_CERTIFICATES: usize = 16;

/// id-pe-logotype (RFC 3709 §4.1).
const LOGOTYPE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 12];
/// id-kp-BrandIndicatorforMessageIdentification.
const BIMI_USAGE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 31];

/// What the mark certificate says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MarkCertificate {
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names (DNS names).
    pub names: Vec<String>,
    /// RFC 3339 times.
    pub not_before: String,
    pub not_after: String,
    /// Days until `not_after`, a part-day counted as a day (0 or negative once expired).
    pub days_left: i64,
    /// It carries the logotype extension.
    pub logotype: bool,
    /// Its extended key usage is BIMI's.
    pub bimi_usage: bool,
    /// Certificates in the document, the mark's own first.
    pub chain_length: usize,
}

/// One way the certificate fails receivers: each is a `bimi.certificate-invalid` finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// No PEM certificate in the document.
    NotPem,
    /// The first certificate does not parse.
    Unreadable,
    Expired,
    NotYetValid,
    /// The domain is not among its names.
    WrongName,
    /// No logotype extension: no logo in it.
    NoLogotype,
    /// Its extended key usage is not BIMI's.
    NotBimi,
}

impl Problem {
    /// The problem in words, for `domains`.
    pub fn explain(self, domains: &[&str]) -> String {
        match self {
            Problem::NotPem => {
                "the document is not a PEM certificate chain (-----BEGIN CERTIFICATE-----)"
                    .to_owned()
            }
            Problem::Unreadable => {
                "its first certificate is not a valid X.509 certificate".to_owned()
            }
            Problem::Expired => "the certificate has expired".to_owned(),
            Problem::NotYetValid => "the certificate is not valid yet".to_owned(),
            Problem::WrongName => format!(
                "the certificate is not for {} (not among its subject alternative names)",
                domains.join(" or ")
            ),
            Problem::NoLogotype => {
                "the certificate has no logotype extension (RFC 3709, 1.3.6.1.5.5.7.1.12): it \
                 carries no logo"
                    .to_owned()
            }
            Problem::NotBimi => {
                "the certificate's extended key usage is not BIMI's (1.3.6.1.5.5.7.3.31): it is \
                 not a mark certificate"
                    .to_owned()
            }
        }
    }
}

/// Reads the PEM chain `document` and judges its first certificate for `domains` (the audited
/// domain and the one whose record names it) at `now`.
pub fn check(
    document: &[u8],
    domains: &[&str],
    now: SystemTime,
) -> (Option<MarkCertificate>, Vec<Problem>) {
    let pems: Vec<Pem> = Pem::iter_from_buffer(document)
        .take(MAX_CERTIFICATES)
        .map_while(Result::ok)
        .filter(|pem| pem.label == "CERTIFICATE")
        .collect();
    let Some(first) = pems.first() else {
        return (None, vec![Problem::NotPem]);
    };
    let Ok(leaf) = first.parse_x509() else {
        return (None, vec![Problem::Unreadable]);
    };
    let facts = facts(&leaf, pems.len(), now);
    let mut problems = Vec::new();
    if facts.days_left <= 0 {
        problems.push(Problem::Expired);
    }
    if unix(now) < leaf.validity().not_before.timestamp() {
        problems.push(Problem::NotYetValid);
    }
    if !domains
        .iter()
        .any(|domain| facts.names.iter().any(|name| name == domain))
    {
        problems.push(Problem::WrongName);
    }
    if !facts.logotype {
        problems.push(Problem::NoLogotype);
    }
    if !facts.bimi_usage {
        problems.push(Problem::NotBimi);
    }
    (Some(facts), problems)
}

fn facts(leaf: &X509Certificate<'_>, chain_length: usize, now: SystemTime) -> MarkCertificate {
    let not_after = leaf.validity().not_after.timestamp();
    let logotype = Oid::from(LOGOTYPE).expect("a valid OID");
    let usage = Oid::from(BIMI_USAGE).expect("a valid OID");
    MarkCertificate {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        names: alternative_names(leaf),
        not_before: rfc3339(leaf.validity().not_before.timestamp()),
        not_after: rfc3339(not_after),
        days_left: days_left(not_after, unix(now)),
        logotype: leaf.extensions().iter().any(|e| e.oid == logotype),
        bimi_usage: leaf
            .extended_key_usage()
            .ok()
            .flatten()
            .is_some_and(|eku| eku.value.other.contains(&usage)),
        chain_length,
    }
}

fn unix(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mark certificate for `names`, valid from `from` to `to` days from now, with the
    /// logotype extension and the BIMI key usage when asked.
    fn mark(names: &[&str], from: i64, to: i64, logotype: bool, usage: bool) -> String {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(to);
        if logotype {
            // The content is not read: only the extension's presence is checked.
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    LOGOTYPE,
                    vec![0x30, 0x00],
                ));
        }
        if usage {
            params.extended_key_usages =
                vec![rcgen::ExtendedKeyUsagePurpose::Other(BIMI_USAGE.to_vec())];
        }
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    fn problems(pem: &str, domain: &str) -> Vec<Problem> {
        check(pem.as_bytes(), &[domain], SystemTime::now()).1
    }

    #[test]
    fn a_current_mark_certificate_for_the_domain_passes() {
        let pem = mark(&["example.com"], -10, 300, true, true);
        let (facts, problems) = check(pem.as_bytes(), &["example.com"], SystemTime::now());
        assert!(problems.is_empty(), "{problems:?}");
        let facts = facts.unwrap();
        assert!(facts.logotype && facts.bimi_usage);
        assert_eq!(facts.names, ["example.com"]);
        assert_eq!(facts.chain_length, 1);
        assert!(
            (299..=301).contains(&facts.days_left),
            "{}",
            facts.days_left
        );
    }

    #[test]
    fn each_problem_is_named() {
        assert_eq!(
            problems(&mark(&["example.com"], -400, -1, true, true), "example.com"),
            [Problem::Expired]
        );
        assert_eq!(
            problems(&mark(&["example.com"], 2, 300, true, true), "example.com"),
            [Problem::NotYetValid]
        );
        assert_eq!(
            problems(
                &mark(&["other.example"], -1, 300, true, true),
                "example.com"
            ),
            [Problem::WrongName]
        );
        assert_eq!(
            problems(&mark(&["example.com"], -1, 300, false, true), "example.com"),
            [Problem::NoLogotype]
        );
        assert_eq!(
            problems(&mark(&["example.com"], -1, 300, true, false), "example.com"),
            [Problem::NotBimi]
        );
        assert_eq!(
            problems("not a certificate", "example.com"),
            [Problem::NotPem]
        );
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(problems(broken, "example.com"), [Problem::Unreadable]);
    }
}
