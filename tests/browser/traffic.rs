//! Which of the browser's requests were the page's. The trap proxy sees every request the
//! browser sends, and the browser sends some of its own whatever its flags (component updates,
//! network time, sign-in, a search engine's home), to hosts that change between releases. So a
//! request is judged by what the *page* could have asked for, never by a list of the browser's
//! hosts:
//!
//! - a host under a name reserved for testing (RFC 2606, RFC 6761: `.test`, `.invalid`,
//!   `.example`, `.localhost`). The fixtures live under `.test` and the canaries of
//!   `fixtures/zones/hostile.test.zone` (`canary-*.invalid`, fetched only by a page that runs
//!   its records as script or markup) under `.invalid`; a browser has no business there;
//! - any host, IP address or URL found in the page: in its text, attribute values or styles.
//!   Whatever the page could make the browser fetch, it has to spell in the page.
//!
//! A request for one of them fails the test. Every other request is printed as the browser's
//! own traffic, not judged, so a log still shows it.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::dom::Dom;

/// The top-level names no browser service uses: reserved for testing and documentation.
const RESERVED_TLDS: &[&str] = &["test", "invalid", "example", "localhost"];

/// The schemes of URLs looked for in a page.
const URL_SCHEMES: &[&str] = &["http://", "https://", "ws://", "wss://", "ftp://"];

/// The hosts a page could make the browser ask for.
#[derive(Debug, Default)]
pub struct Watched {
    hosts: BTreeSet<String>,
}

impl Watched {
    /// The hosts, IP addresses and URLs' hosts of `html`: its text, attribute values and styles.
    pub fn from_page(html: &str) -> Watched {
        let dom = Dom::parse(html);
        let mut hosts = hosts_in(&dom.text);
        for element in &dom.elements {
            for (_, value) in &element.attributes {
                hosts.extend(hosts_in(value));
            }
        }
        for style in &dom.styles {
            hosts.extend(hosts_in(style));
        }
        Watched { hosts }
    }

    /// Whether a request for `host` could be the page's.
    pub fn watches(&self, host: &str) -> bool {
        is_reserved(host) || self.hosts.contains(host)
    }

    /// The requests among `requests` that the page could have sent. The others are printed,
    /// labelled with `what` (the page and the browser run), and not judged.
    pub fn judge(&self, requests: &[String], what: &str) -> Vec<String> {
        let mut judged = Vec::new();
        for line in requests {
            match request_host(line) {
                Some(host) if self.watches(&host) => judged.push(line.clone()),
                _ => eprintln!("{what}: browser's own traffic, not judged: {line}"),
            }
        }
        judged
    }
}

/// Whether `host` is under a name reserved for testing.
pub fn is_reserved(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    RESERVED_TLDS.iter().any(|tld| {
        host == *tld
            || host
                .strip_suffix(tld)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// The host a proxy request line is for, lowercase, without port or IPv6 brackets:
/// `CONNECT host:443 HTTP/1.1` or `GET http://host/path HTTP/1.1`.
pub fn request_host(line: &str) -> Option<String> {
    let mut parts = line.split(' ');
    let (_method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/") || parts.next().is_some() {
        return None;
    }
    let authority = URL_SCHEMES
        .iter()
        .find_map(|scheme| strip_prefix_ignore_case(target, scheme))
        .map_or(target, |rest| {
            rest.split(['/', '?', '#']).next().unwrap_or(rest)
        });
    host_of_authority(authority)
}

/// The host of `user@host:port`, `[v6]:port` or `host`, lowercase.
fn host_of_authority(authority: &str) -> Option<String> {
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &text[prefix.len()..])
}

/// Every host that `text` names: the host of each URL, every word that reads as a domain name
/// (two labels or more, the last one starting with a letter), every IPv4 and IPv6 address.
/// It finds more than a page could fetch (`dkim.syntax`, `x.png`): a request for those is not
/// the browser's either.
pub fn hosts_in(text: &str) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    let lower = text.to_ascii_lowercase();
    for scheme in URL_SCHEMES {
        for (at, _) in lower.match_indices(scheme) {
            let rest = &text[at + scheme.len()..];
            let end = rest
                .find(|c: char| {
                    c.is_whitespace() || "/?#\"'<>()\\`,;".contains(c) || c.is_control()
                })
                .unwrap_or(rest.len());
            hosts.extend(host_of_authority(&rest[..end]));
        }
    }
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        let word = word.trim_matches('.');
        if is_domain_name(word) || word.parse::<Ipv4Addr>().is_ok() {
            hosts.insert(word.to_ascii_lowercase());
        }
    }
    for word in text.split(|c: char| !(c.is_ascii_hexdigit() || matches!(c, ':' | '.'))) {
        if let Ok(v6) = word.trim_matches('.').parse::<Ipv6Addr>() {
            hosts.insert(v6.to_string());
        }
    }
    hosts
}

/// Two labels or more, none empty, the last one at least two characters starting with a letter
/// (so `1.5rem` and `3.2` are not names, `mx.hostile.test` and `x.png` are).
fn is_domain_name(word: &str) -> bool {
    let labels: Vec<&str> = word.split('.').collect();
    let last = labels.last().copied().unwrap_or("");
    labels.len() >= 2
        && labels.iter().all(|label| !label.is_empty())
        && last.len() >= 2
        && last.starts_with(|c: char| c.is_ascii_alphabetic())
}

#[test]
fn request_lines_name_their_host() {
    let host = |line| request_host(line);
    assert_eq!(
        host("CONNECT update.googleapis.com:443 HTTP/1.1").as_deref(),
        Some("update.googleapis.com")
    );
    assert_eq!(
        host("GET http://canary-img.invalid/x.png HTTP/1.1").as_deref(),
        Some("canary-img.invalid")
    );
    assert_eq!(
        host("GET HTTP://WWW.Google.COM:80/time HTTP/1.1").as_deref(),
        Some("www.google.com")
    );
    assert_eq!(
        host("CONNECT [2001:db8::25]:443 HTTP/1.1").as_deref(),
        Some("2001:db8::25")
    );
    assert_eq!(
        host("GET ws://192.0.2.25:8080/socket HTTP/1.1").as_deref(),
        Some("192.0.2.25")
    );
    assert_eq!(host("(no request line)"), None);
}

#[test]
fn a_page_names_the_hosts_it_could_fetch() {
    let hosts = hosts_in(
        "v=DKIM1; p=<img src=http://canary-img.invalid/x.png> rua=mailto:a@Mx.Hostile.TEST. \
         url(https://user@cdn.example.net:8443/a.css) 10 mx1.good.test → 192.0.2.25, \
         2001:db8::25; http://intranet/ 1.5rem 3.2 0.1.0 e.g. spf.include-missing",
    );
    for expected in [
        "canary-img.invalid",
        "x.png",
        "mx.hostile.test",
        "cdn.example.net",
        "mx1.good.test",
        "192.0.2.25",
        "2001:db8::25",
        "intranet",
        "spf.include-missing",
    ] {
        assert!(hosts.contains(expected), "{expected} not in {hosts:?}");
    }
    for not_a_host in ["1.5rem", "3.2", "0.1.0", "e.g", "g"] {
        assert!(!hosts.contains(not_a_host), "{not_a_host} in {hosts:?}");
    }
}

#[test]
fn only_requests_the_page_could_have_sent_are_judged() {
    let watched = Watched::from_page(
        "<html><body><p>10 mx.good.test</p><a href=\"#x\" title=\"see 198.51.100.7\">x</a>\
         <style>p { background: url(http://styled.example.org/bg.png) }</style></body></html>",
    );
    let requests: Vec<String> = [
        "CONNECT www.google.com:443 HTTP/1.1",
        "CONNECT accounts.google.com:443 HTTP/1.1",
        "GET http://mx.good.test/ HTTP/1.1",
        "GET http://198.51.100.7/ HTTP/1.1",
        "GET http://styled.example.org/bg.png HTTP/1.1",
        "GET http://canary-fetch.invalid/ HTTP/1.1",
        "CONNECT anything.test:443 HTTP/1.1",
    ]
    .map(str::to_owned)
    .to_vec();
    assert_eq!(watched.judge(&requests, "unit test"), requests[2..]);
    assert!(is_reserved("canary-img.invalid") && is_reserved("localhost"));
    assert!(!is_reserved("notatest") && !is_reserved("invalid.com"));
}
