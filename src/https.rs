//! One bounded HTTPS GET, the one every fetch of the audit makes: an MTA-STS policy as a sending
//! MTA fetches it (RFC 8461 §3.3), a BIMI logo and mark certificate as a receiver does. The
//! host's addresses are asked through the run's [`Dns`] (`--resolver`, never the system's
//! resolver: reqwest is handed the addresses and given a resolver that resolves nothing, so no
//! getaddrinfo happens), the certificate verified against the web PKI roots plus `--ca-file`
//! and the host name (RFC 6125), no redirect followed, no proxy, no cache, the body read up to
//! the caller's cap, the whole exchange within a time-out. What the answer means is the
//! caller's to judge.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::dns::Dns;
use crate::errors::error_chain;
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

/// The status line and headers the server sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// The `Content-Type` header as sent.
    pub content_type: Option<String>,
    /// The `Location` header of a redirect, as sent (never followed).
    pub location: Option<String>,
}

/// What the server answered (the body read only for a 200).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

/// Why no whole response could be had, and what the server had sent by then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    pub error: FetchError,
    /// The head, when it came before the failure (a body cut off, broken or too slow).
    pub head: Option<Head>,
}

/// Why no response could be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The URL is not `https:` with a host name.
    NotHttps,
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
    /// The body passed the cap: reading stopped there. `declared`: the `Content-Length` that
    /// announced it (nothing read then); `read`: the bytes read before the cut.
    TooLarge {
        cap: usize,
        declared: Option<u64>,
        read: usize,
    },
}

/// A fetch: the addresses asked, and what came of it.
#[derive(Clone, Debug)]
pub struct Fetch {
    /// The host asked: the URL's, without a final dot (empty when the URL is not `https:`).
    pub host: String,
    /// The DNS outcome of the A and AAAA questions for the host.
    pub a: String,
    pub aaaa: String,
    /// The addresses connected to (at most [`MAX_ADDRESSES`]).
    pub addresses: Vec<IpAddr>,
    pub result: Result<Response, Failed>,
}

impl Fetch {
    /// The head the server sent, whether or not the body then came whole.
    pub fn head(&self) -> Option<&Head> {
        match &self.result {
            Ok(response) => Some(&response.head),
            Err(failed) => failed.head.as_ref(),
        }
    }
}

/// `GET url` (`https:`, a host name, port 443 unless it names one): the host resolved through
/// `dns`, the body of a 200 read up to `cap` bytes.
pub async fn get(dns: &Dns, options: &HttpsOptions, url: &str, cap: usize) -> Fetch {
    let url = match reqwest::Url::parse(url) {
        Ok(url) if url.scheme() == "https" && url.domain().is_some() => url,
        _ => {
            return Fetch {
                host: String::new(),
                a: String::new(),
                aaaa: String::new(),
                addresses: Vec::new(),
                result: Err(Failed {
                    error: FetchError::NotHttps,
                    head: None,
                }),
            };
        }
    };
    // The name without its final dot: as asked in DNS, handed to reqwest with the addresses,
    // and matched against the certificate.
    let host = url
        .domain()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_owned();
    let (a, aaaa) = dns.addresses(&host).await;
    let mut addresses: Vec<IpAddr> = a
        .records()
        .iter()
        .copied()
        .map(IpAddr::from)
        .chain(aaaa.records().iter().copied().map(IpAddr::from))
        .collect();
    addresses.truncate(MAX_ADDRESSES);
    let result = if addresses.is_empty() {
        let error = if a.failure().is_some() || aaaa.failure().is_some() {
            FetchError::LookupFailed
        } else {
            FetchError::NoAddress
        };
        Err(Failed { error, head: None })
    } else {
        let total = options.total();
        let mut seen = None;
        let exchanged = exchange(options, url, &host, &addresses, cap, &mut seen);
        let outcome = tokio::time::timeout(total, exchanged).await;
        match outcome {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(Failed { error, head: seen }),
            Err(_) => Err(Failed {
                error: FetchError::TimedOut(total),
                head: seen,
            }),
        }
    };
    Fetch {
        host,
        a: a.status(),
        aaaa: aaaa.status(),
        addresses,
        result,
    }
}

/// The request and the response, the head also kept in `seen` as soon as it comes (for a
/// failure after it), the body (of a 200 only) read chunk by chunk so that no more than `cap`
/// bytes (and one chunk) are ever held.
async fn exchange(
    options: &HttpsOptions,
    mut url: reqwest::Url,
    host: &str,
    addresses: &[IpAddr],
    cap: usize,
    seen: &mut Option<Head>,
) -> Result<Response, FetchError> {
    let port = url.port_or_known_default().unwrap_or(443);
    let sockets: Vec<SocketAddr> = addresses
        .iter()
        .map(|ip| SocketAddr::new(*ip, port))
        .collect();
    url.set_host(Some(host))
        .map_err(|e| FetchError::Failed(e.to_string()))?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured((*options.config).clone())
        .https_only(true)
        .resolve_to_addrs(host, &sockets)
        .dns_resolver(Arc::new(NoResolver))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(options.step)
        .user_agent(concat!("mailaudit/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Failed(in_words(e)))?;
    let mut response = client
        .get(url)
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
    let head = Head {
        status,
        content_type: header(reqwest::header::CONTENT_TYPE),
        location: header(reqwest::header::LOCATION),
    };
    *seen = Some(head.clone());
    let mut body = Vec::new();
    if status != 200 {
        return Ok(Response { head, body });
    }
    let declared = response.content_length();
    if declared.is_some_and(|length| length > cap as u64) {
        return Err(FetchError::TooLarge {
            cap,
            declared,
            read: 0,
        });
    }
    while let Some(chunk) = response.chunk().await.map_err(|e| failure(e, options))? {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge {
                cap,
                declared,
                read: body.len(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { head, body })
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

/// A resolver that resolves nothing: the one host the client may reach was given its addresses,
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
