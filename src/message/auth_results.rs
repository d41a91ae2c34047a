//! `Authentication-Results` fields (RFC 8601 §2.2): the receiver's own verdicts, to set beside
//! mailaudit's.
//!
//! ```text
//! authres-header = "Authentication-Results:" [CFWS] authserv-id
//!                  [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS] CRLF
//! resinfo        = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//! methodspec     = [CFWS] method [CFWS] "=" [CFWS] result
//! propspec       = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

/// One method's result in a receiver's field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MethodResult {
    /// `dkim`, `spf`, `dmarc`, `arc` ... lowercase.
    pub method: String,
    /// `pass`, `fail`, `none` ... lowercase.
    pub result: String,
    /// `reason=`, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The properties: `header.d`, `header.from`, `smtp.mailfrom` ... (keys lowercase).
    pub properties: BTreeMap<String, String>,
}

/// One `Authentication-Results` field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthResults {
    /// Who evaluated (the receiver's host name).
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// Parses one field value; `None` when it has no authserv-id.
pub fn parse(value: &str) -> Option<AuthResults> {
    let text = strip_comments(value);
    let parts = split_unquoted(&text, ';');
    let mut parts = parts.iter().map(String::as_str);
    let authserv_id = parts
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    let results = parts.filter_map(parse_resinfo).collect();
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// `method=result [reason=...] ptype.prop=value ...`; `None` for `none` and empty parts.
fn parse_resinfo(part: &str) -> Option<MethodResult> {
    let mut words = tokens(part).into_iter();
    let (method, result) = words
        .next()?
        .split_once('=')
        .map(|(m, r)| (m.trim().to_ascii_lowercase(), r.trim().to_ascii_lowercase()))?;
    // `dkim/1=pass`: a method version (§2.2).
    let method = method
        .split_once('/')
        .map_or(method.clone(), |(m, _)| m.to_owned());
    let mut reason = None;
    let mut properties = BTreeMap::new();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim().trim_matches('"').to_owned();
        if key == "reason" {
            reason = Some(value);
        } else if key.contains('.') {
            properties.insert(key, value);
        }
    }
    Some(MethodResult {
        method,
        result,
        reason,
        properties,
    })
}

/// The words of a resinfo, a quoted string (a reason) kept whole.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    // `dkim = pass`: CFWS around "=" joins the words again.
    let mut joined: Vec<String> = Vec::new();
    for word in out {
        match joined.last_mut() {
            Some(last) if last.ends_with('=') || word.starts_with('=') => last.push_str(&word),
            _ => joined.push(word),
        }
    }
    joined
}

/// `text` split at `separator` outside quoted strings.
fn split_unquoted(text: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == separator && !quoted {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// The text without RFC 5322 comments (nested parentheses), quoted strings left alone.
pub(crate) fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_field() {
        let parsed = parse(
            "mx.google.com; dkim=pass header.i=@example.com header.s=s1 header.b=AbC; \
             spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted \
             sender) smtp.mailfrom=a@example.com; dmarc=pass (p=REJECT sp=REJECT dis=NONE) \
             header.from=example.com",
        )
        .unwrap();
        assert_eq!(parsed.authserv_id, "mx.google.com");
        let methods: Vec<(&str, &str)> = parsed
            .results
            .iter()
            .map(|r| (r.method.as_str(), r.result.as_str()))
            .collect();
        assert_eq!(
            methods,
            [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
        );
        assert_eq!(parsed.results[0].properties["header.i"], "@example.com");
        assert_eq!(parsed.results[2].properties["header.from"], "example.com");
    }

    #[test]
    fn version_reason_and_none() {
        let parsed =
            parse("example.org 1; dkim = fail reason=\"bad; signature\" header.d=x.test; arc=none")
                .unwrap();
        assert_eq!(parsed.authserv_id, "example.org");
        assert_eq!(parsed.results[0].result, "fail");
        assert_eq!(parsed.results[0].properties["header.d"], "x.test");
        let none = parse("example.org; none").unwrap();
        assert!(none.results.is_empty() || none.results[0].method == "none");
    }
}
