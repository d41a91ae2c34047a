//! One bounded HTTPS GET, as a sending MTA makes it for an MTA-STS policy (RFC 8461 §3.3): the
//! host's addresses asked through the run's [`Dns`] (`--resolver`, never the system's resolver:
//! reqwest is handed the addresses, so no getaddrinfo happens), the certificate verified against
//! the web PKI roots plus `--ca-file` and the host name (RFC 6125), no redirect followed, no
//! proxy, no cache, the body read up to a cap, the whole exchange within a time-out.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::dns::Dns;
use crate::monitor::alert::error_chain;
use crate::smtp::Trust;
use crate::smtp::tls::trust_words;

/// Steps of a fetch (connect, TLS handshake, request, body): the whole fetch gets this many
/// `--timeout`s, as an SMTP session gets its steps.
const FETCH_STEPS: u32 = 4;

/// Addresses of the host tried at most: a hostile zone could list hundreds.
const MAX_ADDRESSES: usize = 8;

/// How the fetches of a run are made: whom they trust, and how long one step may take.
#[derive(Clone, Debug)]
pub struct HttpsOptions {
    config: Arc<rustls::ClientConfig>,
    /// One step's time-out (`--timeout`).
    pub step: Duration,
}

impl HttpsOptions {
    /// Fetches that trust `trust` (the web PKI roots and `--ca-file`), each step within `step`.
    pub fn new(trust: &Trust, step: Duration) -> HttpsOptions {
        HttpsOptions {
            config: Arc::new(trust.verifying_config()),
            step,
        }
    }

    /// The most a whole fetch may take.
    pub fn total(&self) -> Duration {
        self.step * FETCH_STEPS
    }
}

impl Default for HttpsOptions {
    /// The web PKI roots alone, 5 s a step (the default `--timeout`).
    fn default() -> Self {
        let trust = Trust::new(None).expect("the web PKI roots need no file");
        HttpsOptions::new(&trust, Duration::from_secs(5))
    }
}

/// What the server answered (the body read only for a 200).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `Content-Type` header as sent.
    pub content_type: Option<String>,
    /// The `Location` header of a redirect, as sent (never followed).
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// Why no response could be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The host's address lookups failed: whether it exists is unknown.
    LookupFailed,
    /// The host has no A or AAAA record.
    NoAddress,
    /// No connection, or a TLS or HTTP failure: the reason in words.
    Failed(String),
    /// The certificate was refused: why, in the words of [`trust_words`].
    Certificate(String),
    /// No complete response within [`HttpsOptions::total`].
    TimedOut(Duration),
    /// The body passed the cap: reading stopped there.
    TooLarge { cap: usize },
}

/// A fetch: the addresses asked, and what came of it.
#[derive(Clone, Debug)]
pub struct Fetch {
    /// The DNS outcome of the A and AAAA questions for the host.
    pub a: String,
    pub aaaa: String,
    /// The addresses connected to (at most [`MAX_ADDRESSES`]).
    pub addresses: Vec<IpAddr>,
    pub result: Result<Response, FetchError>,
}

/// `GET https://{host}{path}`: the host resolved through `dns`, port 443, the body of a 200 read
/// up to `cap` bytes.
pub async fn get(dns: &Dns, options: &HttpsOptions, host: &str, path: &str, cap: usize) -> Fetch {
    let (a, aaaa) = dns.addresses(host).await;
    let mut addresses: Vec<IpAddr> = a
        .records()
        .iter()
        .copied()
        .map(IpAddr::from)
        .chain(aaaa.records().iter().copied().map(IpAddr::from))
        .collect();
    addresses.truncate(MAX_ADDRESSES);
    let result = if addresses.is_empty() {
        if a.failure().is_some() || aaaa.failure().is_some() {
            Err(FetchError::LookupFailed)
        } else {
            Err(FetchError::NoAddress)
        }
    } else {
        let total = options.total();
        match tokio::time::timeout(total, exchange(options, host, path, &addresses, cap)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::TimedOut(total)),
        }
    };
    Fetch {
        a: a.status(),
        aaaa: aaaa.status(),
        addresses,
        result,
    }
}

/// The request and the response, the body read chunk by chunk so that no more than `cap`
/// bytes (and one chunk) are ever held.
async fn exchange(
    options: &HttpsOptions,
    host: &str,
    path: &str,
    addresses: &[IpAddr],
    cap: usize,
) -> Result<Response, FetchError> {
    let sockets: Vec<SocketAddr> = addresses
        .iter()
        .map(|ip| SocketAddr::new(*ip, 443))
        .collect();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured((*options.config).clone())
        .resolve_to_addrs(host, &sockets)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(options.step)
        .user_agent(concat!("mailaudit/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Failed(in_words(e)))?;
    let url = format!("https://{host}{path}");
    let mut response = client
        .get(&url)
        .header(reqwest::header::CACHE_CONTROL, "no-cache")
        .send()
        .await
        .map_err(|e| failure(e, options))?;
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let status = response.status().as_u16();
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let location = header(reqwest::header::LOCATION);
    let mut body = Vec::new();
    if status == 200 {
        if response
            .content_length()
            .is_some_and(|length| length > cap as u64)
        {
            return Err(FetchError::TooLarge { cap });
        }
        while let Some(chunk) = response.chunk().await.map_err(|e| failure(e, options))? {
            if body.len() + chunk.len() > cap {
                return Err(FetchError::TooLarge { cap });
            }
            body.extend_from_slice(&chunk);
        }
    }
    Ok(Response {
        status,
        content_type,
        location,
        body,
    })
}

/// A reqwest error as a [`FetchError`]: a refused certificate, a time-out, or the failure in
/// words.
fn failure(error: reqwest::Error, options: &HttpsOptions) -> FetchError {
    if let Some(tls) = source_of::<rustls::Error>(&error) {
        return match tls {
            rustls::Error::InvalidCertificate(_) => FetchError::Certificate(trust_words(tls)),
            other => FetchError::Failed(format!("the TLS handshake failed: {other}")),
        };
    }
    if error.is_timeout() {
        return FetchError::TimedOut(if error.is_connect() {
            options.step
        } else {
            options.total()
        });
    }
    FetchError::Failed(in_words(error))
}

/// The first error of type `E` in `error`'s chain of causes (an `io::Error`'s own inner error
/// included, which its `source` skips).
fn source_of<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(found) = source_of::<E>(inner)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// An error and its causes on one line, without the URL (the report says it once).
fn in_words(error: reqwest::Error) -> String {
    error_chain(&error.without_url())
}
