//! One HTTPS GET of what a BIMI record points at, as a receiver's fetcher makes it: the host's
//! addresses asked through the project's DNS client (never the system resolver), the server's
//! certificate verified (web PKI roots and `--ca-file`), no redirect followed, the body cut off
//! past a size cap, the whole exchange within a time-out.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::dns::Dns;
use crate::monitor::alert::error_chain;
use crate::smtp::Trust;

/// What a fetch may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of body read at most; a longer body is cut off and the fetch fails.
    pub max_bytes: usize,
    /// For connecting, and for the whole exchange.
    pub timeout: Duration,
}

/// A `200 OK` and its body.
#[derive(Clone, Debug)]
pub struct Response {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

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

/// GETs `url` (an `https:` URL whose host is a domain name) within `limits`.
pub async fn get(
    dns: &Dns,
    trust: &Trust,
    url: &str,
    limits: Limits,
) -> (Exchange, Result<Response, Failure>) {
    let mut exchange = Exchange::default();
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "https" && parsed.domain().is_some() => parsed,
        _ => {
            let reason = format!("{url} is not an https: URL with a host name");
            return (exchange, Err(Failure::Connection(reason)));
        }
    };
    let host = parsed
        .domain()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match addresses(dns, &host).await {
        Ok(found) => exchange.addresses = found,
        Err(failure) => return (exchange, Err(failure)),
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let targets: Vec<SocketAddr> = exchange
        .addresses
        .iter()
        .map(|&ip| SocketAddr::new(ip, port))
        .collect();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(trust.verifying_config())
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(limits.timeout)
        .timeout(limits.timeout)
        .resolve_to_addrs(&host, &targets)
        .dns_resolver(Arc::new(NoResolver))
        .user_agent(concat!("mailaudit/", env!("CARGO_PKG_VERSION")))
        .build();
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            let reason = format!(
                "cannot set up the HTTPS client: {}",
                error_chain(&e.without_url())
            );
            return (exchange, Err(Failure::Connection(reason)));
        }
    };
    let outcome = read(&client, parsed, limits, &mut exchange).await;
    (exchange, outcome)
}

/// The request and the body, cut off past the cap.
async fn read(
    client: &reqwest::Client,
    url: reqwest::Url,
    limits: Limits,
    exchange: &mut Exchange,
) -> Result<Response, Failure> {
    let connection = |e: reqwest::Error| {
        let reason = if e.is_timeout() {
            format!("no answer within {} s", limits.timeout.as_secs_f64())
        } else {
            error_chain(&e.without_url())
        };
        Failure::Connection(reason)
    };
    let mut response = client.get(url).send().await.map_err(connection)?;
    let status = response.status();
    exchange.status = Some(status.as_u16());
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    exchange.content_type.clone_from(&content_type);
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "nowhere (no Location header)".to_owned(), str::to_owned);
        return Err(Failure::Redirect {
            status: status.as_u16(),
            location,
        });
    }
    if status != reqwest::StatusCode::OK {
        return Err(Failure::Status(status.as_u16()));
    }
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limits.max_bytes as u64) {
        return Err(Failure::TooLarge {
            limit: limits.max_bytes,
            declared,
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(connection)? {
        if body.len() + chunk.len() > limits.max_bytes {
            exchange.bytes = Some(body.len());
            return Err(Failure::TooLarge {
                limit: limits.max_bytes,
                declared,
            });
        }
        body.extend_from_slice(&chunk);
    }
    exchange.bytes = Some(body.len());
    Ok(Response { content_type, body })
}

/// The host's addresses through the project's DNS client: a failure of both lookups, or of one
/// while the other has none, leaves them unknown.
async fn addresses(dns: &Dns, host: &str) -> Result<Vec<IpAddr>, Failure> {
    let (v4, v6) = dns.addresses(host).await;
    let found: Vec<IpAddr> = v4
        .records()
        .iter()
        .map(|&a| IpAddr::from(a))
        .chain(v6.records().iter().map(|&a| IpAddr::from(a)))
        .collect();
    if found.is_empty() {
        if v4.failure().is_some() || v6.failure().is_some() {
            return Err(Failure::LookupFailed {
                host: host.to_owned(),
                answer: format!("A: {}, AAAA: {}", v4.status(), v6.status()),
            });
        }
        return Err(Failure::NoAddress {
            host: host.to_owned(),
        });
    }
    Ok(found)
}

/// A resolver that resolves nothing: every host the client may reach was given its addresses,
/// so no name ever goes to the system resolver.
struct NoResolver;

impl reqwest::dns::Resolve for NoResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            Err(format!("{host} was not resolved through mailaudit's DNS client").into())
        })
    }
}
