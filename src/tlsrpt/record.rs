//! The `_smtp._tls.<domain>` TXT record (RFC 8460 §3), parsed strictly.
//!
//! ```text
//! tlsrpt-record     = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//! field-delim       = *WSP ";" *WSP
//! tlsrpt-field      = tlsrpt-rua /        ; Note that the tlsrpt-rua
//!                     tlsrpt-extension    ; record is required.
//! tlsrpt-version    = %s"v=TLSRPTv1"
//! tlsrpt-rua        = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-uri        = URI
//!                   ; "URI" is imported from [RFC3986];
//!                   ; commas (ASCII 0x2C), exclamation
//!                   ; points (ASCII 0x21), and semicolons
//!                   ; (ASCII 0x3B) MUST be encoded
//! tlsrpt-extension  = tlsrpt-ext-name "=" tlsrpt-ext-value
//! tlsrpt-ext-name   = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! tlsrpt-ext-value  = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```
//!
//! `rua`: "Two URI schemes are supported: mailto and https" (§3); the URI syntax is the one the
//! DMARC parser checks ([`crate::dmarc::parse::parse_uri`]), the `!size` suffix DMARC allows
//! being one more reason a `!` must be encoded here.

use serde::Serialize;

use crate::dmarc::parse::{normalize_host, parse_uri};
use crate::mta_sts::record::{check_ext_value, fields, shown};

/// The version tag of a TLS-RPT record.
pub const VERSION: &str = "v=TLSRPTv1";

/// A valid TLS-RPT record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsRptRecord {
    /// Where reports go, in order.
    pub rua: Vec<Destination>,
    /// Extension fields (`name=value`), which senders ignore.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<(String, String)>,
}

/// One report destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Destination {
    /// Reports mailed to this address.
    Mailto(String),
    /// Reports posted to this URL.
    Https(String),
}

/// Parses a TLS-RPT record.
pub fn parse(text: &str) -> Result<TlsRptRecord, String> {
    let mut rua = None;
    let mut extensions = Vec::new();
    for (name, value) in fields(text, VERSION)? {
        if name == "rua" {
            rua = Some(destinations(&value)?);
        } else {
            check_ext_value(&name, &value)?;
            extensions.push((name, value));
        }
    }
    let rua = rua.ok_or_else(|| {
        "no rua= field: the record must say where reports go (RFC 8460 §3)".to_owned()
    })?;
    Ok(TlsRptRecord { rua, extensions })
}

/// `tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)`, each `mailto:` or `https:`.
fn destinations(value: &str) -> Result<Vec<Destination>, String> {
    value
        .split(',')
        .map(|uri| destination(uri.trim_matches([' ', '\t'])))
        .collect()
}

fn destination(uri: &str) -> Result<Destination, String> {
    if uri.is_empty() {
        return Err("rua= has an empty URI (a ',' with nothing on one side)".to_owned());
    }
    if uri.contains('!') {
        return Err(format!(
            "rua URI \"{}\": a '!' must be encoded as %21 (RFC 8460 §3)",
            shown(uri)
        ));
    }
    let parsed = parse_uri(uri).map_err(|why| format!("rua URI \"{}\": {why}", shown(uri)))?;
    match parsed.scheme.as_str() {
        "mailto" => Ok(Destination::Mailto(
            parsed.address.unwrap_or_else(|| uri.to_owned()),
        )),
        "https" => {
            let url = reqwest::Url::parse(uri)
                .map_err(|e| format!("rua URI \"{}\" is not a URL: {e}", shown(uri)))?;
            let host = url.host_str().unwrap_or_default();
            let named = url
                .domain()
                .map_or(Ok(()), |domain| normalize_host(domain).map(drop));
            if host.is_empty() || named.is_err() || !url.username().is_empty() {
                return Err(format!(
                    "rua URI \"{}\" has no host name reports can be posted to",
                    shown(uri)
                ));
            }
            Ok(Destination::Https(uri.to_owned()))
        }
        other => Err(format!(
            "rua URI \"{}\": {other}: is not a TLS-RPT scheme; reports go only to mailto: or \
             https: (RFC 8460 §3)",
            shown(uri)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_destinations_of_both_schemes_are_read() {
        let record =
            parse("v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.com/v1").unwrap();
        assert_eq!(
            record.rua,
            vec![
                Destination::Mailto("a@example.com".to_owned()),
                Destination::Https("https://r.example.com/v1".to_owned())
            ]
        );
    }

    #[test]
    fn bad_records_say_why() {
        for (text, why) in [
            ("v=TLSRPTv1", "nothing after"),
            ("v=TLSRPTv1; ext=1", "no rua="),
            (
                "v=TLSRPTv1; rua=ftp://example.com/r",
                "not a TLS-RPT scheme",
            ),
            (
                "v=TLSRPTv1; rua=http://example.com/r",
                "not a TLS-RPT scheme",
            ),
            ("v=TLSRPTv1; rua=not_a_valid_uri", "not a URI"),
            ("v=TLSRPTv1; rua=mailto:a@example.com!10m", "%21"),
            (
                "v=TLSRPTv1; rua=mailto:a@b.com; rua=mailto:c@d.com",
                "twice",
            ),
            ("v=TLSRPTv1; rua=mailto:a@b.com,", "empty URI"),
            ("v=TLSRPTv1; rua=https://", "empty host"),
            (
                "v=TLSRPTv1; rua=https://user@r.example.com/",
                "no host name",
            ),
            ("v=TLSRPTv1; rua=https://r_x.example.com/", "no host name"),
            (
                "v=TLSRPTv1; rua=https://example.com/a b",
                "not allowed in a URI",
            ),
            ("v=TLSRPTv1; rua=mailto:nobody", "no @domain"),
            ("v=TLSRPTv1; rua=mailto:a@b.com; x=a b", "not a valid value"),
            ("v=tlsrptv1; rua=mailto:a@b.com", "case matters"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
