//! DNSSEC and DANE against a validating resolver: Debian's unbound in front of zones signed at
//! test time (tests/support/dnssec.rs).

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod layer;
mod shown;
