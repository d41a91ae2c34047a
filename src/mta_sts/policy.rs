//! The MTA-STS policy file (RFC 8461 §3.2), parsed strictly, and the MX host patterns of §4.1.
//!
//! ```text
//! sts-policy-record        = sts-policy-field *WSP
//!                            *(sts-policy-term-sep sts-policy-field *WSP)
//!                            [sts-policy-term-sep]
//! sts-policy-field         = sts-policy-version /      ; required once
//!                            sts-policy-mode    /      ; required once
//!                            sts-policy-max-age /      ; required once
//!                            sts-policy-mx /           ; required at least once, except
//!                                                      ;   when mode is "none"
//!                            sts-policy-extension      ; other fields
//! sts-policy-field-delim   = ":" *WSP
//! sts-policy-version       = %s"version" sts-policy-field-delim %s"STSv1"
//! sts-policy-mode          = %s"mode" sts-policy-field-delim
//!                            (%s"testing" / %s"enforce" / %s"none")
//! sts-policy-mx            = %s"mx" sts-policy-field-delim ["*."] Domain
//! sts-policy-max-age       = %s"max_age" sts-policy-field-delim 1*10(DIGIT)
//!                            ; at most 31557600
//! sts-policy-extension     = sts-policy-ext-name sts-policy-field-delim sts-policy-ext-value
//! sts-policy-ext-name      = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! sts-policy-term-sep      = CRLF / LF
//! sts-policy-ext-value     = sts-policy-vchar *(SP / sts-policy-vchar)
//! sts-policy-vchar         = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
//! ```
//!
//! Unknown fields are ignored by senders (§3.2), so they are kept as extensions, not errors.

use serde::Serialize;

use super::record::{is_ext_name, shown};

/// The largest `max_age`: one year, in seconds (§3.2).
pub const MAX_AGE_LIMIT: u32 = 31_557_600;

/// What senders do with mail to an MX host that fails the policy (§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Do not deliver to an MX host that fails MX matching or certificate validation.
    Enforce,
    /// Deliver anyway, and report the failure (TLS-RPT).
    Testing,
    /// No policy: the domain withdraws MTA-STS.
    None,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A valid policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub version: String,
    pub mode: Mode,
    /// The `mx` patterns, as written (lowercase).
    pub mx: Vec<String>,
    /// Seconds senders may cache the policy.
    pub max_age: u32,
    /// Fields this version does not define (`name: value`), which senders ignore.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

/// Parses a policy body; every problem found is listed.
pub fn parse(text: &str) -> Result<Policy, Vec<String>> {
    // Lines end with LF or CRLF; one line end after the last field is allowed, and so are
    // further empty lines at the end (no sender refuses them).
    let body = text.trim_end_matches(['\r', '\n']);
    if body.is_empty() {
        return Err(vec!["the policy is empty".to_owned()]);
    }
    let mut fields = Fields::default();
    for (index, raw) in body.split('\n').enumerate() {
        fields.line(index + 1, raw.strip_suffix('\r').unwrap_or(raw));
    }
    fields.finish()
}

/// The fields read so far, and every problem met.
#[derive(Default)]
struct Fields {
    problems: Vec<String>,
    version: Option<String>,
    mode: Option<Mode>,
    max_age: Option<u32>,
    mx: Vec<String>,
    extensions: Vec<String>,
}

impl Fields {
    /// Reads line `number` (its line end removed).
    fn line(&mut self, number: usize, line: &str) {
        if line.contains('\r') {
            self.problems
                .push(format!("line {number}: a CR that does not end the line"));
            return;
        }
        if line.is_empty() {
            self.problems.push(format!(
                "line {number} is empty: fields are separated by one line end (CRLF or LF)"
            ));
            return;
        }
        let Some((name, value)) = line.split_once(':') else {
            self.problems.push(format!(
                "line {number} (\"{}\") is not a \"name: value\" field",
                shown(line)
            ));
            return;
        };
        // `":" *WSP` before the value, `*WSP` after the field.
        let value = value.trim_matches([' ', '\t']);
        let repeated = match name {
            "version" => self.version.is_some(),
            "mode" => self.mode.is_some(),
            "max_age" => self.max_age.is_some(),
            _ => false,
        };
        if repeated {
            self.problems
                .push(format!("line {number}: {name} appears twice"));
            return;
        }
        let problem = match name {
            "version" => {
                self.version = Some(value.to_owned());
                (value != "STSv1").then(|| format!("version is \"{}\", not STSv1", shown(value)))
            }
            "mode" => match value {
                "enforce" | "testing" | "none" => {
                    self.mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        _ => Mode::None,
                    });
                    None
                }
                other => Some(format!(
                    "mode \"{}\" is not enforce, testing or none (lowercase)",
                    shown(other)
                )),
            },
            "max_age" => parse_max_age(value)
                .map(|seconds| self.max_age = Some(seconds))
                .err(),
            "mx" => mx_pattern(value).map(|pattern| self.mx.push(pattern)).err(),
            other if !is_ext_name(other) => {
                Some(format!("\"{}\" is not a field name", shown(other)))
            }
            other if value.is_empty() || value.chars().any(char::is_control) => Some(format!(
                "the value of {other} is empty or holds control characters"
            )),
            other => {
                self.extensions.push(format!("{other}: {value}"));
                None
            }
        };
        if let Some(problem) = problem {
            self.problems.push(format!("line {number}: {problem}"));
        }
    }

    /// The policy, or every problem: the required fields checked.
    fn finish(mut self) -> Result<Policy, Vec<String>> {
        let said = |problems: &[String], name: &str| problems.iter().any(|p| p.contains(name));
        for (name, present) in [
            ("version", self.version.is_some()),
            ("mode", self.mode.is_some()),
            ("max_age", self.max_age.is_some()),
        ] {
            if !present && !said(&self.problems, name) {
                let hint = self.case_hint(name);
                self.problems.push(format!("no {name} field{hint}"));
            }
        }
        if let Some(mode @ (Mode::Enforce | Mode::Testing)) = self.mode
            && self.mx.is_empty()
            && !said(&self.problems, "mx")
        {
            let hint = self.case_hint("mx");
            self.problems.push(format!(
                "no mx field: mode {} needs at least one{hint}",
                mode.as_str()
            ));
        }
        match (self.version, self.mode, self.max_age) {
            (Some(version), Some(mode), Some(max_age)) if self.problems.is_empty() => Ok(Policy {
                version,
                mode,
                mx: self.mx,
                max_age,
                extensions: self.extensions,
            }),
            _ => Err(self.problems),
        }
    }

    /// Names are case-sensitive: an extension spelt like `name` in another case is named.
    fn case_hint(&self, name: &str) -> String {
        self.extensions
            .iter()
            .filter_map(|e| e.split(':').next())
            .find(|n| n.eq_ignore_ascii_case(name))
            .map(|n| format!(" (\"{n}\" is another field: names are case-sensitive)"))
            .unwrap_or_default()
    }
}

/// `1*10(DIGIT)`, at most [`MAX_AGE_LIMIT`].
fn parse_max_age(value: &str) -> Result<u32, String> {
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "max_age \"{}\" is not 1 to 10 digits",
            shown(value)
        ));
    }
    match value.parse::<u64>() {
        Ok(seconds) if seconds <= u64::from(MAX_AGE_LIMIT) => {
            Ok(u32::try_from(seconds).unwrap_or(MAX_AGE_LIMIT))
        }
        _ => Err(format!(
            "max_age {value} is over {MAX_AGE_LIMIT} seconds (one year, the most RFC 8461 §3.2 \
             allows)"
        )),
    }
}

/// `["*."] Domain` (RFC 5321 §4.1.2: letters, digits and hyphens, not at a label's ends),
/// lowercase.
fn mx_pattern(value: &str) -> Result<String, String> {
    let domain = value.strip_prefix("*.").unwrap_or(value);
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if domain.is_empty() || domain.len() > 253 || !domain.split('.').all(valid_label) {
        let hint = if value.contains('*') {
            ": a wildcard is only \"*.\" before a whole domain (§3.2)"
        } else if value.ends_with('.') {
            ": without the trailing dot"
        } else {
            ""
        };
        return Err(format!(
            "mx \"{}\" is not a host name or \"*.\" and a domain{hint}",
            shown(value)
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// The first of `patterns` that `host` matches (§4.1): the host itself, or `*.` followed by
/// what follows the host's first label ("`*.example.com` matches `mail.example.com` but not
/// `example.com` nor `foo.bar.example.com`"). Case does not matter; a trailing dot is ignored.
pub fn matching_pattern<'a>(host: &str, patterns: &'a [String]) -> Option<&'a str> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    patterns
        .iter()
        .find(|pattern| match pattern.strip_prefix("*.") {
            Some(parent) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == parent),
            None => **pattern == host,
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_with_crlf_or_lf_is_read() {
        let policy =
            parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n")
                .unwrap();
        assert_eq!(policy.mode, Mode::Enforce);
        assert_eq!(policy.mx, vec!["mail.example.com"]);
        assert_eq!(policy.max_age, 86400);
        let policy = parse("version: STSv1\nmode:testing\nmx: *.Example.com \nmx: b.example.net\nmax_age: 0\nfoo: bar baz").unwrap();
        assert_eq!(policy.mode, Mode::Testing);
        assert_eq!(policy.mx, vec!["*.example.com", "b.example.net"]);
        assert_eq!(policy.extensions, vec!["foo: bar baz"]);
        let none = parse("version: STSv1\nmode: none\nmax_age: 86400").unwrap();
        assert!(none.mx.is_empty());
    }

    #[test]
    fn every_problem_is_named() {
        for (text, why) in [
            ("", "empty"),
            ("garbage", "not a \"name: value\""),
            (
                "version: STSv1\nmode: enforce\nmax_age: 86400",
                "no mx field",
            ),
            ("version: STSv1\nmx: a.example\nmax_age: 86400", "no mode"),
            (
                "version: STSv1\nmode: doubt\nmx: a.example\nmax_age: 86400",
                "not enforce",
            ),
            (
                "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 86400",
                "not enforce",
            ),
            (
                "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 86400",
                "not STSv1",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601",
                "over 31557600",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1",
                "1 to 10 digits",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1.5",
                "1 to 10 digits",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901",
                "1 to 10 digits",
            ),
            (
                "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1",
                "twice",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: mx*.example.com\nmax_age: 1",
                "wildcard",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: *.*.example.com\nmax_age: 1",
                "wildcard",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example.\nmax_age: 1",
                "trailing dot",
            ),
            (
                "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1",
                "empty",
            ),
            (
                "Version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1",
                "case-sensitive",
            ),
            (
                "version: STSv1\nmode: enforce\r\rmx: a.example\nmax_age: 1",
                "CR",
            ),
        ] {
            let problems = parse(text).unwrap_err();
            assert!(
                problems.iter().any(|p| p.contains(why)),
                "{text:?}: {problems:?}"
            );
        }
    }

    #[test]
    fn wildcards_match_one_label() {
        let patterns = vec!["*.example.com".to_owned(), "mx.example.net".to_owned()];
        assert_eq!(
            matching_pattern("mail.example.com", &patterns),
            Some("*.example.com")
        );
        assert_eq!(
            matching_pattern("MX.Example.NET.", &patterns),
            Some("mx.example.net")
        );
        assert_eq!(matching_pattern("example.com", &patterns), None);
        assert_eq!(matching_pattern("a.b.example.com", &patterns), None);
        assert_eq!(matching_pattern("mail.other.com", &patterns), None);
        assert_eq!(matching_pattern("mx.example.net.evil", &patterns), None);
    }
}
