//! mailaudit: an email deliverability auditor.
//!
//! Three layers, data flowing one way: [`dns`] asks, the area modules ([`spf`], [`dmarc`],
//! [`dkim`], [`mx`]) evaluate and raise [`finding::Finding`]s, and [`report`] renders.

pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod finding;
pub mod mx;
pub mod spf;
pub mod input;
pub mod score;
