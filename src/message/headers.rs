//! The header fields of a message that the analysis reads, parsed from raw bytes: `Received`
//! (RFC 5321 §4.4), `Received-SPF` (RFC 7208 §9.1), `Return-Path`, `List-Unsubscribe` and
//! `List-Unsubscribe-Post` (RFC 2369, RFC 8058) and Microsoft's spam-verdict fields. Pure
//! parsers over strings; nothing here asks DNS.

use std::net::IpAddr;

use serde::Serialize;

/// One header field: its name as written and its value unfolded (RFC 5322 §2.2.3), invalid
/// UTF-8 replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
}

impl Field {
    /// From a raw name and value (the value may be folded and end with CRLF).
    pub fn from_raw(name: &[u8], value: &[u8]) -> Field {
        Field {
            name: String::from_utf8_lossy(name).trim().to_owned(),
            value: unfold(&String::from_utf8_lossy(value)),
        }
    }

    /// Whether the field has this name (case-insensitive, RFC 5322 §1.2.2).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The value with folding undone and runs of whitespace made one space.
pub fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values of every field called `name`, in message order (top first).
pub fn values<'a>(fields: &'a [Field], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    fields
        .iter()
        .filter(move |f| f.is(name))
        .map(|f| f.value.as_str())
}

/// One `Received` field (RFC 5321 §4.4 `Stamp`): who handed the message over, who took it, and
/// how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// Its position from the top (1: the last hop, added by the final receiver).
    pub index: usize,
    /// The name the client gave in HELO/EHLO (the first word of the `from` clause).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// The client's IP address, from the bracketed literal of the `from` clause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The receiving host (`by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The protocol (`with`): ESMTPS, ESMTPSA, SMTP, LMTP, HTTP ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    /// Whether the hop says it used TLS: `with` ESMTPS/ESMTPSA/UTF8SMTPS (RFC 3848, RFC 6531),
    /// or a TLS version or cipher in the comments, as Postfix and Exchange write them.
    /// `None` when the field says nothing either way (an internal hop without `with`).
    pub tls: Option<bool>,
    /// The field's value, unfolded.
    pub text: String,
}

/// Parses one `Received` value. The syntax is loose in practice (comments anywhere, the date
/// after `;`), so each clause is found by its keyword.
pub fn parse_received(index: usize, value: &str) -> Hop {
    let stamp = value.rsplit_once(';').map_or(value, |(stamp, _)| stamp);
    // Keywords count outside comments only: Postfix writes "(using TLSv1.3 with cipher ...)".
    let bare = super::auth_results::strip_comments(stamp);
    let words: Vec<&str> = bare.split_whitespace().collect();
    let after = |keyword: &str| -> Option<String> {
        words
            .iter()
            .position(|w| w.eq_ignore_ascii_case(keyword))
            .and_then(|at| words.get(at + 1))
            .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_owned())
    };
    let from_clause: &str = lower_find(stamp, "from ").map_or("", |start| {
        let rest = &stamp[start + 5..];
        let end = lower_find(rest, " by ").unwrap_or(rest.len());
        &rest[..end]
    });
    let helo = from_clause
        .split_whitespace()
        .next()
        .filter(|w| !w.starts_with('('))
        .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_owned());
    let ip = bracketed_ip(from_clause).or_else(|| {
        // `from [192.0.2.1]` with no name, or `from host (192.0.2.1)`.
        from_clause
            .split(|c: char| c.is_whitespace() || "()[]".contains(c))
            .find_map(parse_ip)
    });
    let with = after("with");
    let lower = value.to_ascii_lowercase();
    let tls = match with.as_deref().map(str::to_ascii_uppercase) {
        Some(w) if w.ends_with("SMTPS") || w.ends_with("SMTPSA") || w == "HTTPS" => Some(true),
        _ if lower.contains("version=tls") || lower.contains("cipher=") => Some(true),
        Some(w) if w.contains("SMTP") => Some(false),
        _ => None,
    };
    Hop {
        index,
        helo,
        ip,
        by: after("by"),
        with,
        tls,
        text: value.to_owned(),
    }
}

fn lower_find(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

/// The first `[address]` literal (`[IPv6:2001:db8::1]` too, RFC 5321 §4.1.3).
fn bracketed_ip(text: &str) -> Option<IpAddr> {
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let inner = &rest[open + 1..];
        let close = inner.find(']')?;
        if let Some(ip) = parse_ip(&inner[..close]) {
            return Some(ip);
        }
        rest = &inner[close..];
    }
    None
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
        .map_or(text, |_| &text[5..]);
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// Whether an address can only be a hop inside one network (loopback, RFC 1918, link-local,
/// unique-local, shared address space): never the internet client that delivered the message.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
        }
    }
}

/// A `Received-SPF` field (RFC 7208 §9.1): the receiver's result and the identities it names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReceivedSpf {
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
}

/// Parses `Pass (comment) client-ip=192.0.2.1; envelope-from=<a@b>; helo=h;` (§9.1).
pub fn parse_received_spf(value: &str) -> ReceivedSpf {
    let result = value
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut spf = ReceivedSpf {
        result,
        ..ReceivedSpf::default()
    };
    for part in value.split(|c: char| c == ';' || c.is_whitespace()) {
        let Some((key, raw)) = part.split_once('=') else {
            continue;
        };
        let raw = raw.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "client-ip" => spf.client_ip = parse_ip(raw),
            "envelope-from" => spf.envelope_from = Some(strip_angle(raw).to_owned()),
            "helo" => spf.helo = Some(raw.to_owned()),
            _ => {}
        }
    }
    spf
}

/// An address without its angle brackets (`<a@b>` → `a@b`; `<>` → empty).
pub fn strip_angle(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text)
        .trim()
}

/// The URIs of a `List-Unsubscribe` value (RFC 2369 §2: `<uri>, <uri>`).
pub fn list_uris(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>').map(|(uri, _)| uri.trim().to_owned()))
        .collect()
}

/// The addresses of a `From` value: each `local@domain`, display names and comments dropped.
/// Enough for counting and taking the domain (RFC 5322 §3.4); group syntax counts its members.
pub fn addresses(value: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut current = String::new();
    let mut angle: Option<String> = None;
    let mut push = |current: &mut String, angle: &mut Option<String>| {
        let candidate = angle.take().unwrap_or_else(|| current.trim().to_owned());
        let candidate = candidate.trim().to_owned();
        if candidate.contains('@') {
            found.push(candidate);
        }
        current.clear();
    };
    let mut in_angle = false;
    let mut angle_text = String::new();
    for c in value.chars() {
        match c {
            '"' if depth == 0 && !in_angle => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            '<' if !quoted => {
                in_angle = true;
                angle_text.clear();
            }
            '>' if in_angle => {
                in_angle = false;
                angle = Some(angle_text.clone());
            }
            ',' | ';' if !quoted && !in_angle => push(&mut current, &mut angle),
            ':' if !quoted && !in_angle => current.clear(),
            _ if in_angle => angle_text.push(c),
            _ if quoted => {}
            _ => current.push(c),
        }
    }
    push(&mut current, &mut angle);
    found
}

/// The domain of an address, lowercase.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Microsoft's verdict headers decoded: `X-Forefront-Antispam-Report` (`SCL:5;SFV:SPM;...`)
/// and `X-MS-Exchange-Organization-SCL`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpamVerdict {
    /// The header it comes from.
    pub header: String,
    /// Spam confidence level, -1 to 9: 5 and above go to Junk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scl: Option<i8>,
    /// The spam filtering verdict code (`SFV`): NSPM, SPM, SKS, SKA, SKB ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sfv: Option<String>,
    /// What it means, in words.
    pub meaning: String,
}

/// Decodes one of Microsoft's verdict fields; `None` for any other field.
pub fn spam_verdict(field: &Field) -> Option<SpamVerdict> {
    let (scl, sfv) = if field.is("X-Forefront-Antispam-Report") {
        let mut scl = None;
        let mut sfv = None;
        for part in field.value.split(';') {
            match part.split_once(':') {
                Some((key, value)) if key.trim().eq_ignore_ascii_case("SCL") => {
                    scl = value.trim().parse().ok();
                }
                Some((key, value)) if key.trim().eq_ignore_ascii_case("SFV") => {
                    sfv = Some(value.trim().to_ascii_uppercase());
                }
                _ => {}
            }
        }
        (scl, sfv)
    } else if field.is("X-MS-Exchange-Organization-SCL") {
        (field.value.trim().parse().ok(), None)
    } else {
        return None;
    };
    let mut meaning = match scl {
        Some(-1) => "SCL -1: not filtered (a trusted or allowed sender)".to_owned(),
        Some(level @ 0..=4) => format!("SCL {level}: not spam, delivered to the inbox"),
        Some(level @ 5..=6) => format!("SCL {level}: spam, delivered to Junk"),
        Some(level @ 7..) => format!("SCL {level}: high-confidence spam, Junk or quarantine"),
        Some(level) => format!("SCL {level}"),
        None => "no SCL".to_owned(),
    };
    if let Some(code) = &sfv {
        let why = match code.as_str() {
            "NSPM" => "the filter found it not spam",
            "SPM" => "the filter marked it spam",
            "SKN" => "marked not spam before filtering (a mail flow rule)",
            "SKS" => "marked spam before filtering (a mail flow rule)",
            "SKA" => "filtering skipped: the sender is on an allowed list",
            "SKB" => "marked spam: the sender is on a blocked list",
            "SKI" => "filtering skipped: intra-organisation mail",
            "SKQ" => "released from quarantine",
            "BLK" => "filtering skipped: the sender is blocked by a user",
            "SFE" => "filtering skipped: the sender is on a user's safe senders list",
            _ => "an SFV code not documented here",
        };
        meaning = format!("{meaning}; SFV:{code}: {why}");
    }
    Some(SpamVerdict {
        header: field.name.clone(),
        scl,
        sfv,
        meaning,
    })
}

/// Whether a Microsoft verdict sends the message to Junk (SCL 5 and above, or SFV SPM/SKS/SKB).
pub fn is_junk(verdict: &SpamVerdict) -> bool {
    verdict.scl.is_some_and(|scl| scl >= 5)
        || matches!(verdict.sfv.as_deref(), Some("SPM" | "SKS" | "SKB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_from_postfix_with_tls() {
        let hop = parse_received(
            1,
            "from mail.example.com (mail.example.com [192.0.2.10]) (using TLSv1.3 with cipher \
             TLS_AES_256_GCM_SHA384 (256/256 bits)) by mx.receiver.test (Postfix) with ESMTPS id \
             ABC for <u@receiver.test>; Tue, 1 Jul 2025 10:00:00 +0000",
        );
        assert_eq!(hop.helo.as_deref(), Some("mail.example.com"));
        assert_eq!(hop.ip, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(hop.by.as_deref(), Some("mx.receiver.test"));
        assert_eq!(hop.with.as_deref(), Some("ESMTPS"));
        assert_eq!(hop.tls, Some(true));
    }

    #[test]
    fn received_gmail_style_ipv6_and_plain_smtp() {
        let hop = parse_received(
            2,
            "from sender.test (sender.test. [IPv6:2001:db8::5]) by mx.google.com with SMTP id x; \
             Mon, 1 Jan 2024 00:00:00 -0800 (PST)",
        );
        assert_eq!(hop.ip, Some("2001:db8::5".parse().unwrap()));
        assert_eq!(hop.tls, Some(false));
        let internal = parse_received(1, "by 2002:a05:6000::1 with SMTP id y; Mon, 1 Jan 2024");
        assert_eq!(internal.ip, None);
        assert_eq!(internal.helo, None);
    }

    #[test]
    fn received_spf_fields() {
        let spf = parse_received_spf(
            "pass (google.com: domain of a@b.test designates 192.0.2.1 as permitted sender) \
             client-ip=192.0.2.1; envelope-from=<a@b.test>; helo=mail.b.test;",
        );
        assert_eq!(spf.result, "pass");
        assert_eq!(spf.client_ip, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(spf.envelope_from.as_deref(), Some("a@b.test"));
        assert_eq!(spf.helo.as_deref(), Some("mail.b.test"));
    }

    #[test]
    fn from_addresses_are_counted_past_display_names_and_comments() {
        assert_eq!(
            addresses("\"Doe, Jane\" <jane@example.com> (work)"),
            ["jane@example.com"]
        );
        assert_eq!(addresses("a@x.test, B <b@y.test>").len(), 2);
        assert_eq!(addresses("Undisclosed:;"), Vec::<String>::new());
        assert_eq!(
            domain_of("Jane@Example.COM").as_deref(),
            Some("example.com")
        );
    }

    #[test]
    fn list_unsubscribe_uris() {
        assert_eq!(
            list_uris("<mailto:u@x.test?subject=unsub>, <https://x.test/u?id=1>"),
            ["mailto:u@x.test?subject=unsub", "https://x.test/u?id=1"]
        );
    }

    #[test]
    fn microsoft_verdicts() {
        let field = Field {
            name: "X-Forefront-Antispam-Report".into(),
            value: "CIP:192.0.2.1;CTRY:;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;H:x;".into(),
        };
        let verdict = spam_verdict(&field).unwrap();
        assert_eq!(verdict.scl, Some(5));
        assert_eq!(verdict.sfv.as_deref(), Some("SPM"));
        assert!(is_junk(&verdict));
        let scl = Field {
            name: "X-MS-Exchange-Organization-SCL".into(),
            value: "1".into(),
        };
        assert!(!is_junk(&spam_verdict(&scl).unwrap()));
    }
}
