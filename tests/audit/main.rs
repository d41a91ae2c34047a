//! End-to-end tests: the built binary, pointed at the in-process DNS server, its JSON read into
//! typed structs. One module per area; one fixture domain per finding code.

#[path = "../support/mod.rs"]
mod support;

mod bimi;
mod bounds;
mod bulk;
mod dkim;
mod dmarc;
mod faults;
mod files;
mod fixes;
mod help;
mod mta_sts;
mod mx;
mod output;
mod reputation;
mod requirements;
mod spf;
mod verdicts;
