//! Turning what the user typed into names the audit can ask about.
//!
//! A domain is normalised the way a mail system compares it: IDNA A-labels (UTS #46,
//! RFC 5891), lowercase, no trailing dot. Anything that is not a host name of the DNS
//! (RFC 1035 §2.3.1 with RFC 1123 §2.1 digits, RFC 1035 §2.3.4 lengths) is refused with a
//! message that names it, before a single query is sent.

use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// Input the program cannot run with: every variant names the offending input.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("invalid domain '{input}': {reason}")]
    Domain { input: String, reason: String },
    #[error(
        "invalid resolver address '{input}': expected IP or IP:PORT (e.g. 127.0.0.1:5353 or [::1]:53)"
    )]
    Resolver { input: String },
    #[error("cannot read '{path}': {reason}")]
    File { path: String, reason: String },
    #[error("no domain given: name one or more domains, or use --file")]
    NoDomain,
    #[error("{path}:{line}: {source}")]
    InFile {
        path: String,
        line: usize,
        source: Box<InputError>,
    },
    #[error("invalid IP address '{input}': expected IPv4 (192.0.2.1) or IPv6 (2001:db8::1)")]
    Ip { input: String },
}

/// Normalises one domain name; see the module documentation.
pub fn normalize_domain(input: &str) -> Result<String, InputError> {
    let fail = |reason: &str| InputError::Domain {
        input: printable(input),
        reason: reason.to_owned(),
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(fail("empty"));
    }
    if trimmed.parse::<IpAddr>().is_ok() {
        return Err(fail("this is an IP address, not a domain"));
    }
    let without_dot = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if without_dot.is_empty() || without_dot.ends_with('.') {
        return Err(fail("empty label"));
    }
    let ascii = idna::domain_to_ascii(without_dot)
        .map_err(|_| fail("not a valid internationalised domain name (IDNA)"))?;
    let ascii = ascii.to_ascii_lowercase();
    if ascii.len() > 253 {
        return Err(fail("longer than 253 characters"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(fail("not a fully qualified domain (one label only)"));
    }
    for label in &labels {
        if label.is_empty() {
            return Err(fail("empty label"));
        }
        if label.len() > 63 {
            return Err(fail("a label is longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(fail(
                "only letters, digits and hyphens are allowed in a host name",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(fail("a label starts or ends with a hyphen"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(fail("the top-level label is all digits"));
    }
    Ok(ascii)
}

/// Parses an IPv4 or IPv6 address as the user typed it.
pub fn parse_ip(input: &str) -> Result<IpAddr, InputError> {
    input.trim().parse::<IpAddr>().map_err(|_| InputError::Ip {
        input: printable(input),
    })
}

/// Parses `--resolver ADDR[:PORT]`; the port defaults to 53.
pub fn parse_resolver(input: &str) -> Result<SocketAddr, InputError> {
    if let Ok(addr) = input.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = input.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| InputError::Resolver {
            input: printable(input),
        })
}

/// Checks every domain of the file at `path` without keeping them (a bulk list may be long);
/// returns how many there are.
pub fn count_domain_lines(path: &Path) -> Result<usize, InputError> {
    let mut count = 0;
    for domain in domain_lines(path)? {
        domain?;
        count += 1;
    }
    Ok(count)
}

/// The domains of the file at `path` (`-` is standard input; `#` starts a comment), normalised,
/// read as they are consumed; a line that is not a domain is an error naming the file and line.
pub fn domain_lines(
    path: &Path,
) -> Result<impl Iterator<Item = Result<String, InputError>>, InputError> {
    let shown = path.display().to_string();
    let file_error = {
        let shown = shown.clone();
        move |reason: String| InputError::File {
            path: shown.clone(),
            reason,
        }
    };
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
        Box::new(std::io::BufReader::new(file))
    };
    Ok(reader.lines().enumerate().filter_map(move |(index, line)| {
        let line = match line {
            Ok(line) => line,
            Err(e) => return Some(Err(file_error(e.to_string()))),
        };
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            return None;
        }
        Some(normalize_domain(content).map_err(|e| InputError::InFile {
            path: shown.clone(),
            line: index + 1,
            source: Box::new(e),
        }))
    }))
}

/// The input as it may be shown in a one-line message: control characters escaped, cut short.
fn printable(input: &str) -> String {
    let escaped: String = input.chars().flat_map(char::escape_default).collect();
    if escaped.chars().count() > 80 {
        let cut: String = escaped.chars().take(77).collect();
        format!("{cut}...")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_and_lose_the_trailing_dot() {
        assert_eq!(normalize_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            normalize_domain("  mail.example.org ").unwrap(),
            "mail.example.org"
        );
    }

    #[test]
    fn idn_domains_become_a_labels() {
        assert_eq!(normalize_domain("bücher.com").unwrap(), "xn--bcher-kva.com");
        assert_eq!(normalize_domain("BÜCHER.com").unwrap(), "xn--bcher-kva.com");
    }

    #[test]
    fn invalid_domains_are_refused_naming_the_input() {
        for bad in [
            "",
            ".",
            "a..b",
            "-a.com",
            "a-.com",
            "exa mple.com",
            "under_score.com",
            "localhost",
            "192.0.2.1",
            "::1",
            "a.123",
            "<script>.com",
        ] {
            let err = normalize_domain(bad).expect_err(bad).to_string();
            assert!(err.starts_with("invalid domain '"), "{err}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(normalize_domain(&long_label).is_err());
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        assert!(normalize_domain(&long_name).is_err());
    }

    #[test]
    fn control_characters_are_escaped_in_messages() {
        let err = normalize_domain("bad\u{1b}[31m.com")
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\u{1b}'), "{err}");
    }

    #[test]
    fn ip_addresses_of_both_families_parse_and_others_are_named() {
        assert_eq!(parse_ip("192.0.2.1").unwrap().to_string(), "192.0.2.1");
        assert_eq!(parse_ip("2001:DB8::1").unwrap().to_string(), "2001:db8::1");
        for bad in ["192.0.2.256", "192.0.2", "example.com", "", "2001:db8:::1"] {
            let err = parse_ip(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn domain_files_skip_comments_and_name_the_bad_line() {
        let dir = std::env::temp_dir().join(format!("mailaudit-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.txt");
        std::fs::write(&good, "# list\nExample.com  # main\n\nbücher.example\n").unwrap();
        let domains: Vec<String> = domain_lines(&good)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(domains, ["example.com", "xn--bcher-kva.example"]);
        assert_eq!(count_domain_lines(&good).unwrap(), 2);
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, "example.com\nnot a domain\n").unwrap();
        let err = count_domain_lines(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.txt:2: invalid domain 'not a domain'"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolver_addresses_take_an_optional_port() {
        assert_eq!(
            parse_resolver("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_resolver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            parse_resolver("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert!(parse_resolver("dns.example").is_err());
        assert!(parse_resolver("127.0.0.1:99999").is_err());
    }
}
