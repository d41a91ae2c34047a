//! What a receiver makes of fetching what a BIMI record points at: the fetch itself is
//! [`crate::https::get`] (as for an MTA-STS policy); here a redirect (not followed), a status
//! other than 200 and a body past its cap are failures, worded for the report, and the exchange
//! is kept as the report shows it.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::dns::Dns;
use crate::https::{self, FetchError, HttpsOptions, Response};

/// What was seen of a fetch, whatever its outcome: for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// The addresses of the host, as the DNS client found them.
    pub addresses: Vec<IpAddr>,
    /// The HTTP status, when the server answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Bytes of body read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
}

/// Why a fetch did not give a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// DNS did not say where the host is: unknown, not the publisher's fault as far as seen.
    LookupFailed { host: String, answer: String },
    /// The host has no address.
    NoAddress { host: String },
    /// Connection, TLS (an untrusted or wrong certificate), time-out, a broken answer.
    Connection(String),
    /// A 3xx: not followed.
    Redirect { status: u16, location: String },
    /// Another status than 200.
    Status(u16),
    /// The body is over the cap (`declared`: what Content-Length announced).
    TooLarge { limit: usize, declared: Option<u64> },
}

impl Failure {
    /// Whether the failure says nothing of the publisher: a DNS failure.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Failure::LookupFailed { .. })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::LookupFailed { host, answer } => {
                write!(f, "the address lookup of {host} failed ({answer})")
            }
            Failure::NoAddress { host } => write!(f, "{host} has no A or AAAA record"),
            Failure::Connection(reason) => f.write_str(reason),
            Failure::Redirect { status, location } => write!(
                f,
                "the server answered {status}, a redirect to {location}, which is not followed: \
                 publish the final URL"
            ),
            Failure::Status(status) => write!(f, "the server answered HTTP {status}, not 200"),
            Failure::TooLarge { limit, declared } => {
                write!(f, "it is larger than {} KB", limit / 1024)?;
                if let Some(declared) = declared {
                    write!(f, " ({declared} bytes announced)")?;
                }
                write!(f, ": cut off, not read further")
            }
        }
    }
}

/// GETs `url` (an `https:` URL whose host is a domain name), the body cut off past `cap` bytes.
pub async fn get(
    dns: &Dns,
    options: &HttpsOptions,
    url: &str,
    cap: usize,
) -> (Exchange, Result<Vec<u8>, Failure>) {
    let fetch = https::get(dns, options, url, cap).await;
    let head = fetch.head();
    let mut exchange = Exchange {
        addresses: fetch.addresses.clone(),
        status: head.map(|head| head.status),
        content_type: head.and_then(|head| head.content_type.clone()),
        bytes: None,
    };
    let outcome = match fetch.result {
        Ok(Response { head, .. }) if (300..400).contains(&head.status) => Err(Failure::Redirect {
            status: head.status,
            location: head
                .location
                .unwrap_or_else(|| "nowhere (no Location header)".to_owned()),
        }),
        Ok(Response { head, .. }) if head.status != 200 => Err(Failure::Status(head.status)),
        Ok(Response { body, .. }) => {
            exchange.bytes = Some(body.len());
            Ok(body)
        }
        Err(failed) => Err(match failed.error {
            FetchError::NotHttps => {
                Failure::Connection(format!("{url} is not an https: URL with a host name"))
            }
            FetchError::LookupFailed => Failure::LookupFailed {
                host: fetch.host,
                answer: format!("A: {}, AAAA: {}", fetch.a, fetch.aaaa),
            },
            FetchError::NoAddress => Failure::NoAddress { host: fetch.host },
            FetchError::Failed(why) => Failure::Connection(why),
            FetchError::Certificate(why) => {
                Failure::Connection(format!("the server's certificate is refused: {why}"))
            }
            FetchError::TimedOut(after) => {
                Failure::Connection(format!("no answer within {} s", after.as_secs_f64()))
            }
            FetchError::TooLarge {
                cap,
                declared,
                read,
            } => {
                // Bytes were read only when no length announced the body too large.
                if declared.is_none() {
                    exchange.bytes = Some(read);
                }
                Failure::TooLarge {
                    limit: cap,
                    declared,
                }
            }
        }),
    };
    (exchange, outcome)
}
