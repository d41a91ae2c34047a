//! `mailaudit reports PATH...`: DMARC aggregate reports (RFC 7489 §7.2 and appendix C) and
//! TLS-RPT reports (RFC 8460) turned into what an administrator decides with: who sends as the
//! domain ([`inventory`]), whether `p=reject` would stop legitimate mail and what to publish
//! first ([`readiness`]), and how other servers' TLS to the domain's MX fares ([`tls`]).
//!
//! [`read`] reads and parses the files (mail-auth); the rest works on the parsed reports and
//! returns data ([`Summary`]) that the reporters of [`crate::report::reports`] render.

pub mod inventory;
pub mod read;
pub mod readiness;
pub mod tls;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use serde::Serialize;

use read::{Parsed, Source};

/// Everything `reports` found in its files.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// How many files were read.
    pub files: usize,
    /// Files that held no usable report, each with why.
    pub skipped: Vec<Skipped>,
    /// Reports seen before (same reporter and report ID), counted once.
    pub duplicates: Vec<Duplicate>,
    pub dmarc: inventory::Inventory,
    pub readiness: Vec<readiness::Readiness>,
    pub tls: Vec<tls::TlsRow>,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub file: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct Duplicate {
    pub file: String,
    pub reporter: String,
    pub report_id: String,
}

/// The reports read, each once, with the files they came from.
#[derive(Default)]
pub struct Collection {
    pub files: usize,
    pub skipped: Vec<Skipped>,
    pub duplicates: Vec<Duplicate>,
    pub dmarc: Vec<mail_auth::report::Report>,
    pub tls: Vec<mail_auth::report::tlsrpt::TlsReport>,
    seen: HashSet<(String, String, bool)>,
}

impl Collection {
    /// Reads every source; a file that fails is recorded with its error and the rest go on.
    /// `note` hears each skipped file as it is met.
    pub fn read(sources: Vec<(Source, Option<read::ReadError>)>, note: &dyn Fn(&Skipped)) -> Self {
        let mut collection = Collection::default();
        for (source, error) in sources {
            collection.files += 1;
            let result = match error {
                Some(error) => Err(error),
                None => read::read(&source),
            };
            match result {
                Ok(reports) => {
                    for report in reports {
                        collection.add(&source, report);
                    }
                }
                Err(error) => {
                    let skipped = Skipped {
                        file: source.name(),
                        error: error.to_string(),
                    };
                    note(&skipped);
                    collection.skipped.push(skipped);
                }
            }
        }
        collection
    }

    /// Adds a report unless one from the same reporter with the same ID was added (RFC 7489
    /// appendix C: `report_id` is unique per reporter; RFC 8460 §4.4 likewise).
    pub fn add(&mut self, source: &Source, report: Parsed) {
        let (reporter, id, is_dmarc) = match &report {
            Parsed::Dmarc(r) => (
                reporter_of(&r.report_metadata),
                r.report_metadata.report_id.clone(),
                true,
            ),
            Parsed::Tls(r) => (
                r.organization_name.clone().unwrap_or_default(),
                r.report_id.clone(),
                false,
            ),
        };
        if !self.seen.insert((reporter.clone(), id.clone(), is_dmarc)) {
            self.duplicates.push(Duplicate {
                file: source.name(),
                reporter,
                report_id: id,
            });
            return;
        }
        match report {
            Parsed::Dmarc(r) => self.dmarc.push(*r),
            Parsed::Tls(r) => self.tls.push(*r),
        }
    }

    /// The distinct source IPs of the DMARC reports, for PTR look-ups.
    pub fn source_ips(&self) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self
            .dmarc
            .iter()
            .flat_map(|r| r.record.iter().filter_map(|rec| rec.row.source_ip))
            .collect();
        ips.sort_unstable();
        ips.dedup();
        ips
    }

    /// The inventory, the readiness verdicts and the TLS summary; `ptr` names source IPs
    /// (empty without `--resolver`).
    pub fn summarise(self, ptr: &BTreeMap<IpAddr, String>) -> Summary {
        let dmarc = inventory::Inventory::build(&self.dmarc, ptr);
        let readiness = readiness::assess(&self.dmarc, &dmarc);
        Summary {
            files: self.files,
            skipped: self.skipped,
            duplicates: self.duplicates,
            dmarc,
            readiness,
            tls: tls::summarise(&self.tls),
        }
    }
}

/// The source IPs of `report` whose mail failed DMARC (neither SPF nor DKIM passed aligned,
/// RFC 7489 §4.2, as `policy_evaluated` says), with their failing message counts.
pub fn failing_sources(report: &mail_auth::report::Report) -> BTreeMap<IpAddr, u64> {
    let mut failing = BTreeMap::new();
    for record in &report.record {
        let Some(ip) = record.row.source_ip else {
            continue;
        };
        let mut counts = inventory::Counts::default();
        counts.add(record);
        if counts.dmarc_fail > 0 {
            *failing.entry(ip).or_default() += counts.dmarc_fail;
        }
    }
    failing
}

/// The reporter of a DMARC report: its organisation, or its address when the name is empty.
pub fn reporter_of(meta: &mail_auth::report::ReportMetadata) -> String {
    let name = meta.org_name.trim();
    if name.is_empty() {
        meta.email.trim().to_owned()
    } else {
        name.to_owned()
    }
}
