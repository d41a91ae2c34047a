//! mailaudit: an email deliverability auditor.
//!
//! Three layers, data flowing one way: [`dns`] asks; the area modules ([`spf`], [`dmarc`],
//! [`dkim`], [`mx`], [`ip`], [`dnsbl`]) evaluate and raise [`finding::Finding`]s, scored by
//! [`score`]; [`report`] renders. [`cli`] and [`app`] are the command line around them.

/// Writes one line to standard error, as `eprintln!` does, but a standard error that is gone
/// (a closed pipe: `mailaudit ... 2>&1 | head -1`) is no reason to stop: `eprintln!` panics
/// there, and the run would end with a panic's status instead of its own.
#[macro_export]
macro_rules! warn_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod app;
pub mod audit;
pub mod bimi;
pub mod bulk_list;
pub mod cli;
pub mod completeness;
pub mod dane;
pub mod delivery;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod dnsbl;
pub mod dnssec;
pub mod errors;
pub mod files;
pub mod finding;
pub mod https;
pub mod input;
pub mod ip;
pub mod message;
pub mod migrate;
pub mod monitor;
pub mod mta_sts;
pub mod mx;
pub mod nameservers;
pub mod progress;
pub mod publish;
pub mod report;
pub mod reports;
pub mod requirements;
pub mod score;
pub mod smtp;
pub mod spf;
pub mod tlsrpt;
pub mod typo;
