//! Turning what the user typed into names the audit can ask about.
//!
//! A domain is normalised the way a mail system compares it: IDNA A-labels (UTS #46,
//! RFC 5891), lowercase, no trailing dot. Anything that is not a host name of the DNS
//! (RFC 1035 §2.3.1 with RFC 1123 §2.1 digits, RFC 1035 §2.3.4 lengths) is refused with a
//! message that names it, before a single query is sent.

use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::dns::QueryName;

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
    /// A line of a list file. The line's error is part of this message, not a source of it,
    /// so that it is printed once.
    #[error("{path}:{line}: {error}")]
    InFile {
        path: String,
        line: usize,
        error: Box<InputError>,
    },
    #[error("invalid IP address '{input}': expected IPv4 (192.0.2.1) or IPv6 (2001:db8::1)")]
    Ip { input: String },
    #[error(
        "invalid DKIM selector '{input}': expected DNS labels (letters, digits, '-' and '_'; each label 1-63 characters)"
    )]
    Selector { input: String },
    #[error("invalid --mail-from address '{input}': {reason}")]
    MailFrom { input: String, reason: String },
    #[error(
        "--mail-from '{address}' is not an address at {domain}: SPF checks the domain of the MAIL FROM address (RFC 7208 §2.4)"
    )]
    MailFromDomain { address: String, domain: String },
    #[error(
        "--mail-from '{address}' names one domain's sender: audit that one domain with it, not several"
    )]
    MailFromSeveral { address: String },
    #[error("invalid --helo name '{input}': {reason}")]
    Helo { input: String, reason: String },
    #[error("a line longer than {MAX_LINE} bytes: not a list of domains")]
    LineTooLong,
    #[error("not UTF-8 text")]
    NotUtf8,
}

impl InputError {
    /// Whether a list cannot be read past this error (the file cannot be read, or it is not a
    /// list of domains): the run stops even without `--strict`. Any other bad line is skipped.
    pub fn ends_list(&self) -> bool {
        match self {
            InputError::File { .. } | InputError::LineTooLong => true,
            InputError::InFile { error, .. } => error.ends_list(),
            _ => false,
        }
    }
}

/// The longest line a domain list may have: a domain (at most 253 bytes) and a comment.
pub const MAX_LINE: usize = 4096;

/// Normalises one domain name; see the module documentation.
pub fn normalize_domain(input: &str) -> Result<String, InputError> {
    QueryName::host(input)
        .map(|name| name.as_str().to_owned())
        .map_err(|reason| InputError::Domain {
            input: printable(input),
            reason: reason.to_string(),
        })
}

/// A server given as a host name or an address: the address in its canonical form (an
/// IPv4-mapped IPv6 address as IPv4), else the name normalised as a domain.
pub fn normalize_host(input: &str) -> Result<String, InputError> {
    match input.trim().parse::<IpAddr>() {
        Ok(ip) => Ok(ip.to_canonical().to_string()),
        Err(_) => normalize_domain(input),
    }
}

/// Parses an IPv4 or IPv6 address as the user typed it.
pub fn parse_ip(input: &str) -> Result<IpAddr, InputError> {
    input.trim().parse::<IpAddr>().map_err(|_| InputError::Ip {
        input: printable(input),
    })
}

/// Parses `--resolver ADDR[:PORT]`; the port defaults to 53 and must be 1-65535.
pub fn parse_resolver(input: &str) -> Result<SocketAddr, InputError> {
    let bare = input.trim_start_matches('[').trim_end_matches(']');
    let addr = input
        .parse::<SocketAddr>()
        .ok()
        .or_else(|| {
            bare.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .filter(|addr| addr.port() != 0);
    addr.ok_or_else(|| InputError::Resolver {
        input: printable(input),
    })
}

/// The longest local-part of an address (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL_PART: usize = 64;

/// A `--mail-from` address: `local-part@domain`, angle brackets allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFrom {
    /// The address as SPF's `<sender>` uses it (§4.1), its domain normalised.
    pub address: String,
    /// Its domain: the MAIL FROM identity SPF checks (RFC 7208 §2.4).
    pub domain: String,
}

/// Parses `--mail-from ADDR`: a local-part of visible ASCII (RFC 5321 §4.1.2: an SPF macro
/// expands it, `%{l}`), `@`, and a domain normalised as [`normalize_domain`] does. The null
/// sender `<>` is refused: SPF then checks the HELO name (RFC 7208 §2.4), which `--helo` gives.
pub fn parse_mail_from(input: &str) -> Result<MailFrom, InputError> {
    let fail = |reason: &str| InputError::MailFrom {
        input: printable(input),
        reason: reason.to_owned(),
    };
    let trimmed = input.trim();
    let bare = trimmed
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(trimmed);
    if bare.is_empty() {
        return Err(fail(
            "the null sender has no domain: SPF then checks the HELO name (RFC 7208 §2.4), \
             give it with --helo alone",
        ));
    }
    let Some((local, domain)) = bare.rsplit_once('@') else {
        return Err(fail("expected local-part@domain"));
    };
    if local.is_empty() {
        return Err(fail("the local-part before '@' is empty"));
    }
    if local.len() > MAX_LOCAL_PART {
        return Err(fail("the local-part is longer than 64 characters"));
    }
    if !local.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(fail(
            "the local-part holds a space, a control character or a non-ASCII character",
        ));
    }
    let domain = normalize_domain(domain).map_err(|e| match e {
        InputError::Domain { reason, .. } => fail(&format!("its domain: {reason}")),
        other => other,
    })?;
    Ok(MailFrom {
        address: format!("{local}@{domain}"),
        domain,
    })
}

/// Parses `--helo NAME`: a host name, normalised as [`normalize_domain`] does. SPF checks the
/// HELO identity only when it is a fully qualified domain name (RFC 7208 §2.3), so an address
/// literal is refused.
pub fn parse_helo(input: &str) -> Result<String, InputError> {
    normalize_domain(input).map_err(|e| match e {
        InputError::Domain { reason, .. } => InputError::Helo {
            input: printable(input),
            reason,
        },
        other => other,
    })
}

/// Checks a `--selector` as the DNS labels it is asked as (RFC 6376 §3.1).
pub fn parse_selector(input: &str) -> Result<String, InputError> {
    let selector = input.trim().to_ascii_lowercase();
    if crate::dkim::selectors::is_valid_selector(&selector) {
        Ok(selector)
    } else {
        Err(InputError::Selector {
            input: printable(input),
        })
    }
}

/// Whether `path` must be read once, as it comes: standard input (`-`), a pipe, a FIFO, a
/// device. Only a regular file can be read twice (checked whole, then streamed).
pub fn is_stream(path: &Path) -> bool {
    path == Path::new("-") || std::fs::metadata(path).is_ok_and(|meta| !meta.is_file())
}

/// The domains of the file at `path` (`-` is standard input; `#` starts a comment), normalised,
/// read as they are consumed; a line that is not a domain is an error naming the file and line.
pub fn domain_lines(
    path: &Path,
) -> Result<impl Iterator<Item = Result<String, InputError>> + use<>, InputError> {
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
    let mut lines = BoundedLines {
        reader,
        failed: false,
    };
    let mut number = 0;
    Ok(
        std::iter::from_fn(move || lines.next_line()).filter_map(move |line| {
            number += 1;
            let in_file = |source: InputError| InputError::InFile {
                path: shown.clone(),
                line: number,
                error: Box::new(source),
            };
            let line = match line {
                Ok(line) => line,
                Err(LineError::Io(e)) => return Some(Err(file_error(e.to_string()))),
                Err(LineError::Input(e)) => return Some(Err(in_file(e))),
            };
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                return None;
            }
            Some(normalize_domain(content).map_err(in_file))
        }),
    )
}

/// Why a line could not be read.
enum LineError {
    Io(std::io::Error),
    Input(InputError),
}

/// The lines of a reader, each refused as soon as it passes [`MAX_LINE`] bytes (never read
/// whole) or if it is not UTF-8; after a read error or a line too long (not a list of domains),
/// no more lines.
struct BoundedLines {
    reader: Box<dyn BufRead>,
    failed: bool,
}

impl BoundedLines {
    fn next_line(&mut self) -> Option<Result<String, LineError>> {
        if self.failed {
            return None;
        }
        let line = self.read_line();
        self.failed = matches!(
            line,
            Some(Err(
                LineError::Io(_) | LineError::Input(InputError::LineTooLong)
            ))
        );
        line
    }

    fn read_line(&mut self) -> Option<Result<String, LineError>> {
        let mut line: Vec<u8> = Vec::new();
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(LineError::Io(e))),
            };
            if available.is_empty() {
                if line.is_empty() {
                    return None;
                }
                break;
            }
            let (taken, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(end) => (end + 1, true),
                None => (available.len(), false),
            };
            line.extend_from_slice(&available[..taken]);
            self.reader.consume(taken);
            if line.len() > MAX_LINE + 2 {
                return Some(Err(LineError::Input(InputError::LineTooLong)));
            }
            if ended {
                break;
            }
        }
        while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            line.pop();
        }
        if line.len() > MAX_LINE {
            return Some(Err(LineError::Input(InputError::LineTooLong)));
        }
        Some(String::from_utf8(line).map_err(|_| LineError::Input(InputError::NotUtf8)))
    }
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

    fn first_error(path: &Path) -> String {
        domain_lines(path)
            .unwrap()
            .find_map(Result::err)
            .expect("a bad line")
            .to_string()
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
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, "example.com\nnot a domain\n").unwrap();
        let err = first_error(&bad);
        assert!(
            err.contains("bad.txt:2: invalid domain 'not a domain'"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_line_that_is_not_utf8_or_too_long_is_named_and_only_a_long_one_ends_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("binary.txt");
        std::fs::write(&binary, b"example.com\nbad\xff.com\nexample.org\n").unwrap();
        let err = first_error(&binary);
        assert!(err.ends_with("binary.txt:2: not UTF-8 text"), "{err}");
        assert_eq!(
            domain_lines(&binary).unwrap().count(),
            3,
            "the line after it is read"
        );
        let long = dir.path().join("long.txt");
        let mut text = b"example.com\n".to_vec();
        text.extend(std::iter::repeat_n(b'a', 10 * MAX_LINE));
        std::fs::write(&long, &text).unwrap();
        let lines: Vec<_> = domain_lines(&long).unwrap().collect();
        assert_eq!(lines.len(), 2, "one domain, one error, then nothing");
        let err = lines[1].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("long.txt:2: a line longer than 4096 bytes"),
            "{err}"
        );
        // Windows line ends and a last line without one are fine.
        let crlf = dir.path().join("crlf.txt");
        std::fs::write(&crlf, b"example.com\r\nexample.org").unwrap();
        assert_eq!(domain_lines(&crlf).unwrap().count(), 2);
    }

    #[test]
    fn mail_from_addresses_keep_the_local_part_and_normalise_the_domain() {
        let parsed = parse_mail_from("<Bounce+X=y@Mail.Example.COM.>").unwrap();
        assert_eq!(parsed.address, "Bounce+X=y@mail.example.com");
        assert_eq!(parsed.domain, "mail.example.com");
        assert_eq!(
            parse_mail_from("jo@bücher.example").unwrap().address,
            "jo@xn--bcher-kva.example"
        );
        for bad in [
            "",
            "<>",
            "example.com",
            "@example.com",
            "a b@example.com",
            "jo@localhost",
            "jo@192.0.2.1",
            "jo@exa mple.com",
        ] {
            let err = parse_mail_from(bad).expect_err(bad).to_string();
            assert!(
                err.starts_with(&format!("invalid --mail-from address '{bad}': ")),
                "{err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(parse_mail_from(&long).is_err());
    }

    #[test]
    fn helo_names_are_host_names() {
        assert_eq!(parse_helo("Mail.Example.com.").unwrap(), "mail.example.com");
        for bad in [
            "",
            "[192.0.2.1]",
            "192.0.2.1",
            "localhost",
            "mail_1.example.com",
        ] {
            let err = parse_helo(bad).expect_err(bad).to_string();
            assert!(
                err.starts_with(&format!("invalid --helo name '{bad}': ")),
                "{err}"
            );
        }
    }

    #[test]
    fn resolver_ports_are_1_to_65535() {
        assert!(parse_resolver("127.0.0.1:0").is_err());
        assert!(parse_resolver("[::1]:0").is_err());
        assert_eq!(parse_resolver("127.0.0.1:65535").unwrap().port(), 65535);
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
