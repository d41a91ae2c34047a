//! SMTP replies and EHLO extensions, parsed from the lines a server sent: pure, so that any
//! byte sequence is tested on strings.
//!
//! RFC 5321 §4.2:
//!
//! ```text
//! Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
//!                  Reply-code [ SP textstring ] CRLF
//! Reply-code     = %x32-35 %x30-35 %x30-39
//! ```
//!
//! RFC 5321 §4.1.1.1 (the EHLO reply): the first line is the server's domain and a greeting,
//! each further line one extension, `ehlo-keyword *( SP ehlo-param )`. RFC 3463 enhanced
//! status codes (`class "." subject "." detail`) open the text of a reply when the server
//! offers ENHANCEDSTATUSCODES (RFC 2034).

use serde::Serialize;

/// One complete reply: its code and the text of each line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx: the command was accepted.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The RFC 3463 enhanced status code opening the first line (`5.7.139`), if any.
    pub fn enhanced_code(&self) -> Option<String> {
        let first = self.lines.first()?;
        let word = first.split_whitespace().next()?;
        let parts: Vec<&str> = word.split('.').collect();
        let valid = parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1].len() <= 3
            && parts[2].len() <= 3
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        valid.then(|| word.to_owned())
    }

    /// The reply as one line for a message: `535 5.7.8 Authentication failed`, at most
    /// [`QUOTED`] characters of it (the reply itself is kept whole as data).
    pub fn summary(&self) -> String {
        let text = self.lines.join(" / ");
        let whole = if text.is_empty() {
            self.code.to_string()
        } else {
            format!("{} {text}", self.code)
        };
        if whole.chars().count() <= QUOTED {
            return whole;
        }
        let cut: String = whole.chars().take(QUOTED).collect();
        format!("{cut}…")
    }
}

/// Characters of a server's text a message quotes: a reply line may be kilobytes.
pub const QUOTED: usize = 200;

/// What is wrong with a line where a reply line was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("the server sent a line that is not an SMTP reply: {0:?}")]
    NotAReply(String),
    #[error("a reply's lines carry different codes ({first} then {then})")]
    MixedCodes { first: u16, then: u16 },
}

/// Parses one reply line: its code, whether more lines follow (`-`), its text.
pub fn parse_line(line: &str) -> Result<(u16, bool, String), ReplyError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let bytes = line.as_bytes();
    let code_ok = bytes.len() >= 3
        && (b'2'..=b'5').contains(&bytes[0])
        && (b'0'..=b'5').contains(&bytes[1])
        && bytes[2].is_ascii_digit();
    if !code_ok {
        return Err(ReplyError::NotAReply(shown(line)));
    }
    let code = line[..3]
        .parse::<u16>()
        .map_err(|_| ReplyError::NotAReply(shown(line)))?;
    let (more, text) = match bytes.get(3) {
        None => (false, ""),
        Some(b'-') => (true, &line[4..]),
        Some(b' ') => (false, &line[4..]),
        // Servers that write no space before the text: read leniently, as clients do.
        Some(_) => (false, &line[3..]),
    };
    Ok((code, more, text.to_owned()))
}

/// A line as it may be shown: control characters escaped, at most [`QUOTED`] characters.
fn shown(line: &str) -> String {
    let escaped: String = line.chars().flat_map(char::escape_default).collect();
    escaped.chars().take(QUOTED).collect()
}

/// Assembles reply lines into one reply; `None` while more lines are due.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyBuilder {
    /// Adds one line; the reply once its last line came.
    pub fn push(&mut self, line: &str) -> Result<Option<Reply>, ReplyError> {
        let (code, more, text) = parse_line(line)?;
        match self.code {
            Some(first) if first != code => {
                return Err(ReplyError::MixedCodes { first, then: code });
            }
            _ => self.code = Some(code),
        }
        self.lines.push(text);
        if more {
            return Ok(None);
        }
        Ok(Some(Reply {
            code,
            lines: std::mem::take(&mut self.lines),
        }))
    }

    /// Lines received so far for the reply being read.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No line yet.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// The extensions an EHLO reply lists (RFC 5321 §4.1.1.1 and the RFCs of each extension).
#[allow(clippy::struct_excessive_bools)] // one flag per extension the RFCs define
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Extensions {
    /// The domain the server names on the first line.
    pub server: String,
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// AUTH and its mechanisms (RFC 4954), upper case.
    pub auth: Vec<String>,
    /// SIZE and its limit in bytes (RFC 1870); `Some(0)` means no fixed limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// 8BITMIME (RFC 6152).
    #[serde(rename = "8bitmime")]
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhancedstatuscodes: bool,
    /// CHUNKING (RFC 3030).
    pub chunking: bool,
    /// REQUIRETLS (RFC 8689).
    pub requiretls: bool,
    /// Every other keyword, as sent (upper case).
    pub other: Vec<String>,
}

/// Extensions listed at most: a hostile server could list thousands.
const MAX_OTHER: usize = 32;

impl Extensions {
    /// Reads a positive EHLO reply.
    pub fn parse(reply: &Reply) -> Extensions {
        let mut extensions = Extensions {
            server: reply
                .lines
                .first()
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_default()
                .to_ascii_lowercase(),
            ..Extensions::default()
        };
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            // `AUTH=LOGIN PLAIN`: what servers wrote before RFC 4954, still sent for old
            // clients beside (or instead of) `AUTH`.
            let (keyword, first_mechanism) = match keyword.split_once('=') {
                Some(("AUTH", mechanism)) => ("AUTH".to_owned(), Some(mechanism.to_owned())),
                _ => (keyword, None),
            };
            match keyword.as_str() {
                "STARTTLS" => extensions.starttls = true,
                "AUTH" => {
                    for mechanism in first_mechanism.iter().map(String::as_str).chain(words) {
                        let mechanism = mechanism.to_ascii_uppercase();
                        if !extensions.auth.contains(&mechanism)
                            && extensions.auth.len() < MAX_OTHER
                        {
                            extensions.auth.push(mechanism);
                        }
                    }
                }
                "SIZE" => {
                    extensions.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                "PIPELINING" => extensions.pipelining = true,
                "8BITMIME" => extensions.eight_bit_mime = true,
                "SMTPUTF8" => extensions.smtputf8 = true,
                "ENHANCEDSTATUSCODES" => extensions.enhancedstatuscodes = true,
                "CHUNKING" => extensions.chunking = true,
                "REQUIRETLS" => extensions.requiretls = true,
                _ => {
                    if extensions.other.len() < MAX_OTHER && !extensions.other.contains(&keyword) {
                        extensions.other.push(keyword);
                    }
                }
            }
        }
        extensions
    }

    /// The keywords offered, in a fixed order, for tables: `STARTTLS, AUTH PLAIN LOGIN, SIZE
    /// 35882577, PIPELINING ...`.
    pub fn keywords(&self) -> Vec<String> {
        let mut words = Vec::new();
        let flags = [
            (self.starttls, "STARTTLS"),
            (self.pipelining, "PIPELINING"),
            (self.eight_bit_mime, "8BITMIME"),
            (self.smtputf8, "SMTPUTF8"),
            (self.enhancedstatuscodes, "ENHANCEDSTATUSCODES"),
            (self.chunking, "CHUNKING"),
            (self.requiretls, "REQUIRETLS"),
        ];
        if self.starttls {
            words.push("STARTTLS".to_owned());
        }
        if !self.auth.is_empty() {
            words.push(format!("AUTH {}", self.auth.join(" ")));
        }
        if let Some(size) = self.size {
            words.push(if size == 0 {
                "SIZE".to_owned()
            } else {
                format!("SIZE {size}")
            });
        }
        words.extend(
            flags
                .iter()
                .skip(1)
                .filter(|(on, _)| *on)
                .map(|(_, word)| (*word).to_owned()),
        );
        words.extend(self.other.iter().cloned());
        words
    }
}

/// The host name a greeting names: the first word of a 220 reply (RFC 5321 §4.3.1), lower case,
/// when it looks like a domain.
pub fn greeting_host(greeting: &Reply) -> Option<String> {
    let word = greeting.lines.first()?.split_whitespace().next()?;
    let word = word.trim_end_matches('.').to_ascii_lowercase();
    let looks_like_a_name = word.contains('.')
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    looks_like_a_name.then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Result<Reply, ReplyError> {
        let mut builder = ReplyBuilder::default();
        for line in lines {
            if let Some(reply) = builder.push(line)? {
                return Ok(reply);
            }
        }
        panic!("unfinished reply")
    }

    #[test]
    fn multi_line_replies_are_assembled() {
        let ehlo = reply(&[
            "250-mail.example.com Hello",
            "250-PIPELINING",
            "250-SIZE 35882577",
            "250-STARTTLS",
            "250-AUTH LOGIN PLAIN XOAUTH2",
            "250-ENHANCEDSTATUSCODES",
            "250-8BITMIME",
            "250-X-ODD",
            "250 SMTPUTF8",
        ])
        .unwrap();
        assert_eq!(ehlo.code, 250);
        let extensions = Extensions::parse(&ehlo);
        assert_eq!(extensions.server, "mail.example.com");
        assert!(extensions.starttls && extensions.pipelining && extensions.smtputf8);
        assert_eq!(extensions.auth, ["LOGIN", "PLAIN", "XOAUTH2"]);
        assert_eq!(extensions.size, Some(35_882_577));
        assert_eq!(extensions.other, ["X-ODD"]);
        assert_eq!(
            extensions.keywords()[..3],
            ["STARTTLS", "AUTH LOGIN PLAIN XOAUTH2", "SIZE 35882577"]
        );
    }

    #[test]
    fn a_summary_quotes_at_most_200_characters() {
        let long = format!("554 5.7.1 {}", "x".repeat(1000));
        let summary = reply(&[&long]).unwrap().summary();
        assert_eq!(summary.chars().count(), QUOTED + 1);
        assert!(summary.starts_with("554 5.7.1 xxx") && summary.ends_with('…'));
        assert_eq!(reply(&["250 OK"]).unwrap().summary(), "250 OK");
    }

    #[test]
    fn the_old_auth_equals_line_lists_mechanisms_too() {
        let ehlo = reply(&[
            "250-mx.example.com",
            "250-AUTH=LOGIN PLAIN",
            "250 AUTH LOGIN",
        ])
        .unwrap();
        assert_eq!(Extensions::parse(&ehlo).auth, ["LOGIN", "PLAIN"]);
    }

    #[test]
    fn what_is_not_a_reply_is_said() {
        assert!(matches!(
            reply(&["HTTP/1.1 400 Bad Request"]),
            Err(ReplyError::NotAReply(_))
        ));
        assert!(matches!(
            reply(&["\u{16}\u{3}\u{1}binary"]),
            Err(ReplyError::NotAReply(_))
        ));
        assert_eq!(
            reply(&["250-a", "550 b"]),
            Err(ReplyError::MixedCodes {
                first: 250,
                then: 550
            })
        );
        assert!(parse_line("699 out of range").is_err());
        assert_eq!(parse_line("220").unwrap(), (220, false, String::new()));
    }

    #[test]
    fn enhanced_codes_and_greeting_hosts_are_read() {
        let rejected =
            reply(&["535 5.7.139 Authentication unsuccessful, basic authentication is disabled."])
                .unwrap();
        assert_eq!(rejected.enhanced_code().as_deref(), Some("5.7.139"));
        assert_eq!(reply(&["250 OK"]).unwrap().enhanced_code(), None);
        let greeting = reply(&["220 MX.Example.com. ESMTP Postfix"]).unwrap();
        assert_eq!(greeting_host(&greeting).as_deref(), Some("mx.example.com"));
        assert_eq!(greeting_host(&reply(&["220 ESMTP ready"]).unwrap()), None);
    }
}
