//! TLSA records (RFC 6698 §2) as DANE for SMTP uses them (RFC 7672 §3.1).
//!
//! RFC 6698 §2.1 (wire) and §2.2 (presentation):
//!
//! ```text
//! _25._tcp.mx.example.com. IN TLSA ( 3 1 1 <certificate association data, hex> )
//!   certificate usage  1 octet  0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE   (§2.1.1)
//!   selector           1 octet  0 full certificate, 1 SubjectPublicKeyInfo    (§2.1.2)
//!   matching type      1 octet  0 exact, 1 SHA-256, 2 SHA-512                 (§2.1.3)
//!   data               hex, white space allowed                               (§2.2)
//! ```
//!
//! For SMTP only DANE-TA(2) and DANE-EE(3) are meaningful: RFC 7672 §3.1.3 says clients treat
//! PKIX-TA(0) and PKIX-EE(1) records as unusable (a sending MTA has no common set of CAs).

use aws_lc_rs::digest;

use crate::dns::Tlsa;
use crate::smtp::Presented;

/// One TLSA record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaRecord {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

/// Why the presentation form of a TLSA record does not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsaParseError {
    #[error("a TLSA record has four fields: usage, selector, matching type and data")]
    Fields,
    #[error("the {0} is not a number from 0 to 255")]
    Number(&'static str),
    #[error("the certificate association data is not hexadecimal")]
    Hex,
}

impl TlsaRecord {
    /// The fields of a TLSA record as the DNS layer read them.
    pub fn from_dns(tlsa: &Tlsa) -> TlsaRecord {
        TlsaRecord {
            usage: tlsa.usage,
            selector: tlsa.selector,
            matching: tlsa.matching,
            data: tlsa.data.clone(),
        }
    }

    /// Parses the presentation form: `3 1 1 0123ab...` (the data may be split by white space).
    pub fn parse(text: &str) -> Result<TlsaRecord, TlsaParseError> {
        let mut fields = text.split_whitespace();
        let mut number = |name| {
            fields
                .next()
                .ok_or(TlsaParseError::Fields)?
                .parse::<u8>()
                .map_err(|_| TlsaParseError::Number(name))
        };
        let usage = number("certificate usage")?;
        let selector = number("selector")?;
        let matching = number("matching type")?;
        let hex: String = fields.collect();
        if hex.is_empty() {
            return Err(TlsaParseError::Fields);
        }
        Ok(TlsaRecord {
            usage,
            selector,
            matching,
            data: from_hex(&hex).ok_or(TlsaParseError::Hex)?,
        })
    }

    /// The presentation form, data in lowercase hex.
    pub fn to_text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            to_hex(&self.data)
        )
    }

    /// Why DANE for SMTP cannot use this record; `None` when it can.
    pub fn unusable(&self) -> Option<String> {
        let usage = match self.usage {
            0 => Some("usage 0 (PKIX-TA)"),
            1 => Some("usage 1 (PKIX-EE)"),
            2 | 3 => None,
            _ => {
                return Some(format!(
                    "certificate usage {} is not defined (RFC 6698 §2.1.1: 0 to 3)",
                    self.usage
                ));
            }
        };
        if let Some(usage) = usage {
            return Some(format!(
                "{usage} is not for SMTP: RFC 7672 §3.1.3 has sending servers treat it as \
                 unusable; publish usage 3 (DANE-EE) or 2 (DANE-TA)"
            ));
        }
        if self.selector > 1 {
            return Some(format!(
                "selector {} is not defined (RFC 6698 §2.1.2: 0 full certificate, 1 \
                 SubjectPublicKeyInfo)",
                self.selector
            ));
        }
        let expected = match self.matching {
            0 => None,
            1 => Some(("SHA-256", 32)),
            2 => Some(("SHA-512", 64)),
            other => {
                return Some(format!(
                    "matching type {other} is not defined (RFC 6698 §2.1.3: 0 exact, 1 \
                     SHA-256, 2 SHA-512)"
                ));
            }
        };
        match expected {
            Some((name, length)) if self.data.len() != length => Some(format!(
                "a {name} digest is {length} bytes, this data is {}",
                self.data.len()
            )),
            None if self.data.is_empty() => {
                Some("an exact match (matching type 0) with no data".to_owned())
            }
            _ => None,
        }
    }

    /// Whether `certificate` is the one this record names (its selected part, digested by its
    /// matching type, equals the data: RFC 6698 §2.1.2, §2.1.3).
    pub fn matches(&self, certificate: &Presented) -> bool {
        let selected: &[u8] = match self.selector {
            0 => &certificate.certificate,
            1 => &certificate.spki,
            _ => return false,
        };
        if selected.is_empty() {
            return false;
        }
        match self.matching {
            0 => selected == self.data.as_slice(),
            1 => digest::digest(&digest::SHA256, selected).as_ref() == self.data.as_slice(),
            2 => digest::digest(&digest::SHA512, selected).as_ref() == self.data.as_slice(),
            _ => false,
        }
    }

    /// Whether the chain a server presented (the leaf first) satisfies this record: DANE-EE(3)
    /// names the leaf itself (RFC 7672 §3.1.1), DANE-TA(2) a certificate of the chain the
    /// server sends (§3.1.2). Only the match is checked: a DANE-TA chain's signatures and the
    /// host name (§3.2.2) are not.
    pub fn matches_chain(&self, chain: &[Presented]) -> bool {
        match self.usage {
            3 => chain.first().is_some_and(|leaf| self.matches(leaf)),
            2 => chain.iter().any(|certificate| self.matches(certificate)),
            _ => false,
        }
    }
}

/// Bytes as lowercase hex, as TLSA data is shown.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presented(certificate: &[u8], spki: &[u8]) -> Presented {
        Presented {
            certificate: certificate.to_vec(),
            spki: spki.to_vec(),
        }
    }

    #[test]
    fn the_presentation_form_parses_and_prints_back() {
        let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let record = TlsaRecord::parse(&format!("3 1 1 {} {}", &sha256[..10], &sha256[10..]))
            .expect("parses");
        assert_eq!((record.usage, record.selector, record.matching), (3, 1, 1));
        assert_eq!(record.data.len(), 32);
        assert_eq!(record.to_text(), format!("3 1 1 {sha256}"));
        assert_eq!(record.unusable(), None);
        assert_eq!(TlsaRecord::parse("3 1 1"), Err(TlsaParseError::Fields));
        assert_eq!(TlsaRecord::parse("3 1"), Err(TlsaParseError::Fields));
        assert_eq!(
            TlsaRecord::parse("3 one 1 00"),
            Err(TlsaParseError::Number("selector"))
        );
        assert_eq!(TlsaRecord::parse("3 1 1 0g"), Err(TlsaParseError::Hex));
        assert_eq!(TlsaRecord::parse("3 1 1 abc"), Err(TlsaParseError::Hex));
        assert_eq!(
            TlsaRecord::parse("256 1 1 00"),
            Err(TlsaParseError::Number("certificate usage"))
        );
    }

    #[test]
    fn only_dane_usages_with_known_fields_and_lengths_are_usable() {
        let digest = "ab".repeat(32);
        let reason = |text: &str| TlsaRecord::parse(text).unwrap().unusable();
        assert!(
            reason(&format!("0 0 1 {digest}"))
                .unwrap()
                .contains("PKIX-TA")
        );
        assert!(
            reason(&format!("1 1 1 {digest}"))
                .unwrap()
                .contains("§3.1.3")
        );
        assert!(
            reason(&format!("4 1 1 {digest}"))
                .unwrap()
                .contains("usage 4")
        );
        assert!(
            reason(&format!("3 2 1 {digest}"))
                .unwrap()
                .contains("selector 2")
        );
        assert!(
            reason(&format!("3 1 3 {digest}"))
                .unwrap()
                .contains("matching type 3")
        );
        assert_eq!(
            reason("3 1 1 abcd").unwrap(),
            "a SHA-256 digest is 32 bytes, this data is 2"
        );
        assert!(
            reason(&format!("2 0 2 {digest}"))
                .unwrap()
                .contains("SHA-512")
        );
        assert_eq!(reason(&format!("2 0 2 {digest}{digest}")), None);
        assert_eq!(reason("3 0 0 3082"), None);
    }

    #[test]
    fn records_match_the_selected_part_by_its_digest() {
        let leaf = presented(b"leaf certificate", b"leaf key");
        let issuer = presented(b"issuer certificate", b"issuer key");
        let sha256 = |bytes: &[u8]| to_hex(digest::digest(&digest::SHA256, bytes).as_ref());
        let sha512 = |bytes: &[u8]| to_hex(digest::digest(&digest::SHA512, bytes).as_ref());
        let record = |text: String| TlsaRecord::parse(&text).unwrap();

        let ee_spki = record(format!("3 1 1 {}", sha256(b"leaf key")));
        assert!(ee_spki.matches_chain(&[leaf.clone(), issuer.clone()]));
        let ee_cert = record(format!("3 0 2 {}", sha512(b"leaf certificate")));
        assert!(ee_cert.matches_chain(std::slice::from_ref(&leaf)));
        let ee_exact = record(format!("3 0 0 {}", to_hex(b"leaf certificate")));
        assert!(ee_exact.matches_chain(std::slice::from_ref(&leaf)));
        // DANE-EE names the leaf only; DANE-TA any certificate the server sent.
        let issuer_key = record(format!("3 1 1 {}", sha256(b"issuer key")));
        assert!(!issuer_key.matches_chain(&[leaf.clone(), issuer.clone()]));
        let ta = record(format!("2 1 1 {}", sha256(b"issuer key")));
        assert!(ta.matches_chain(&[leaf.clone(), issuer.clone()]));
        assert!(!ta.matches_chain(std::slice::from_ref(&leaf)));
        // PKIX usages are never matched for SMTP.
        let pkix = record(format!("1 1 1 {}", sha256(b"leaf key")));
        assert!(!pkix.matches_chain(&[leaf]));
    }
}
