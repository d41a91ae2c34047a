//! The DKIM key record (RFC 6376 §3.6.1) and the public key in it: pure functions on strings.
//!
//! mail-auth 0.13 also parses key records, but leniently: it skips what it does not understand,
//! reports only "Parse error" and never reads the key itself. An auditor must say which tag is
//! wrong and why, tell a record that is broken from a TXT record that is simply something else,
//! and read the key's type and modulus size, so this parser is strict and returns diagnostics
//! beside everything it could read.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use x509_parser::oid_registry::{OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::{PublicKey, RSAPublicKey};
use x509_parser::x509::SubjectPublicKeyInfo;

/// One `tag=value` pair of a tag-list, as written (RFC 6376 §3.2):
///
/// ```text
/// tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
/// tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
/// tag-name  =  ALPHA *ALNUMPUNC
/// tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
///                   ; Prohibits WSP and FWS at beginning and end
/// tval      =  1*VALCHAR
/// VALCHAR   =  %x21-3A / %x3C-7E
///                   ; EXCLAMATION to TILDE except SEMICOLON
/// ALNUMPUNC =  ALPHA / DIGIT / "_"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub name: String,
    pub value: String,
}

/// FWS and WSP as they can appear in a TXT record (RFC 5322 §3.2.2, RFC 5234 B.1).
fn is_fws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_valchar(c: char) -> bool {
    matches!(c, '\x21'..='\x3a' | '\x3c'..='\x7e')
}

/// `tag-name = ALPHA *ALNUMPUNC` (RFC 6376 §3.2): also DMARC's, whose records use this tag-list
/// syntax (RFC 9989 §4.7, RFC 7489 §6.3).
pub fn is_tag_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits a tag-list into its tags, with a diagnostic for every departure from the grammar.
///
/// Tag names are case-sensitive (§3.2). A tag that occurs twice makes the whole list invalid
/// (§3.2); the first occurrence is kept so that the rest can still be shown.
pub fn parse_tag_list(text: &str) -> (Vec<Tag>, Vec<String>) {
    let mut tags: Vec<Tag> = Vec::new();
    let mut problems = Vec::new();
    let segments: Vec<&str> = text.split(';').collect();
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        let spec = segment.trim_matches(is_fws);
        if spec.is_empty() {
            // `[ ";" ]` allows one trailing separator; an empty record has no tags at all.
            if index != last && !(index == 0 && last == 0) {
                problems.push(format!(
                    "empty tag between two ';' (tag {}): the tag-list grammar allows only one \
                     trailing ';' (RFC 6376 §3.2)",
                    index + 1
                ));
            }
            continue;
        }
        let Some((name, value)) = spec.split_once('=') else {
            problems.push(format!(
                "{} is not a tag=value pair (RFC 6376 §3.2)",
                quoted(spec)
            ));
            continue;
        };
        let name = name.trim_matches(is_fws);
        let value = value.trim_matches(is_fws);
        if !is_tag_name(name) {
            problems.push(format!(
                "{} is not a valid tag name (a letter, then letters, digits or '_'; RFC 6376 §3.2)",
                quoted(name)
            ));
            continue;
        }
        if let Some(bad) = value.chars().find(|&c| !is_valchar(c) && !is_fws(c)) {
            problems.push(format!(
                "{name}= holds the character {bad:?}, which a tag value may not contain \
                 (printable ASCII except ';', RFC 6376 §3.2)"
            ));
        }
        if tags.iter().any(|tag| tag.name == name) {
            problems.push(format!(
                "{name}= appears more than once, which makes the whole record invalid \
                 (RFC 6376 §3.2)"
            ));
            continue;
        }
        tags.push(Tag {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    (tags, problems)
}

/// At most 60 characters of `text`, quoted, cut at a character boundary.
fn quoted(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut:?}...")
    }
}

/// Whether a TXT record found at a selector name is meant as a DKIM key record at all.
///
/// A wildcard or a stray record (an SPF record, a site verification token) at
/// `<selector>._domainkey` is "not a key record", not a broken one: only a record with a `p=`
/// tag or a `v=DKIM…` version is judged against the key-record grammar.
pub fn is_key_record(text: &str) -> bool {
    text.split(';').any(|segment| {
        segment.split_once('=').is_some_and(|(name, value)| {
            let name = name.trim_matches(is_fws);
            let value = value.trim_matches(is_fws);
            name == "p"
                || (name == "v"
                    && value
                        .get(..4)
                        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("dkim")))
        })
    })
}

/// The algorithm of a public key read from `p=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    Rsa,
    Ed25519,
}

/// How the key bytes in `p=` were encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyEncoding {
    /// A DER `SubjectPublicKeyInfo`, as RFC 6376 §3.6.1 specifies for RSA.
    Spki,
    /// A bare PKCS#1 `RSAPublicKey` (RFC 8017 A.1.1): not what RFC 6376 specifies, but some
    /// publishers do it and common verifiers accept it.
    Pkcs1,
    /// The raw 32 bytes of an Ed25519 key, as RFC 8463 §4.2 specifies.
    Raw,
}

/// What the key in `p=` is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicKeyInfo {
    pub algorithm: KeyAlgorithm,
    /// RSA: the modulus length in bits; Ed25519: 256.
    pub bits: u32,
    pub encoding: KeyEncoding,
    /// The RSA public exponent, when it fits in 64 bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponent: Option<u64>,
}

/// A DKIM key record (RFC 6376 §3.6.1), with every tag it had and what was read from them:
///
/// ```text
/// key-v-tag    = %x76 [FWS] "=" [FWS] %x44.4B.49.4D.31          ; "DKIM1", first if present
/// key-h-tag    = %x68 [FWS] "=" [FWS] key-h-tag-alg 0*( [FWS] ":" [FWS] key-h-tag-alg )
/// key-k-tag    = %x6b [FWS] "=" [FWS] key-k-tag-type             ; "rsa" (default), "ed25519"
/// key-n-tag    = %x6e [FWS] "=" [FWS] qp-section
/// key-p-tag    = %x70 [FWS] "=" [ [FWS] base64string ]           ; empty: revoked
/// key-s-tag    = %x73 [FWS] "=" [FWS] key-s-tag-type 0*( [FWS] ":" [FWS] key-s-tag-type )
/// key-t-tag    = %x74 [FWS] "=" [FWS] key-t-tag-flag 0*( [FWS] ":" [FWS] key-t-tag-flag )
/// base64string = ALPHADIGITPS *([FWS] ALPHADIGITPS) [ [FWS] "=" [ [FWS] "=" ] ]
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// The record as fetched (its strings joined).
    pub record: String,
    /// Every tag as written, in order (unknown tags included: verifiers ignore them, §3.6.1).
    pub tags: Vec<Tag>,
    /// `v=`, if present.
    pub version: Option<String>,
    /// `k=`, lowercase; `rsa` when absent.
    pub key_type: String,
    /// `h=`, lowercase; `None` when absent (every algorithm allowed).
    pub hash_algorithms: Option<Vec<String>>,
    /// `s=`, lowercase; `["*"]` when absent.
    pub service_types: Vec<String>,
    /// `t=`, lowercase.
    pub flags: Vec<String>,
    /// `n=`, if present.
    pub notes: Option<String>,
    /// `p=` with its whitespace removed; empty means revoked.
    pub public_key: Option<String>,
    /// What the key turned out to be, if it could be read.
    pub key: Option<PublicKeyInfo>,
    /// Why the record or its key does not parse; empty when it does.
    pub problems: Vec<String>,
    /// Facts about the record that are not errors.
    pub remarks: Vec<String>,
}

impl KeyRecord {
    /// `p=` is present and empty: the key was revoked (§3.6.1).
    pub fn is_revoked(&self) -> bool {
        self.public_key.as_deref() == Some("")
    }

    /// `t=y`: the domain is testing DKIM and verifiers must not treat failures differently
    /// from unsigned mail (§3.6.1).
    pub fn is_testing(&self) -> bool {
        self.flags.iter().any(|flag| flag == "y")
    }

    /// `h=` lists sha1 and no other algorithm a verifier knows: RFC 8301 §3.1 forbids
    /// verifying rsa-sha1, so such a key verifies nothing at a current receiver.
    pub fn sha1_only(&self) -> bool {
        self.hash_algorithms.as_ref().is_some_and(|hashes| {
            hashes.iter().any(|h| h == "sha1") && !hashes.iter().any(|h| h == "sha256")
        })
    }

    /// The record as tag=value pairs in their order, with `changes` applied: each
    /// `(name, Some(value))` replaces a tag's value and `(name, None)` removes the tag.
    pub fn rewritten(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut parts = Vec::new();
        for tag in &self.tags {
            match changes.iter().find(|(name, _)| *name == tag.name) {
                Some((_, None)) => {}
                Some((_, Some(value))) => parts.push(format!("{}={value}", tag.name)),
                None => parts.push(format!("{}={}", tag.name, tag.value)),
            }
        }
        parts.join("; ")
    }
}

/// Splits a colon-separated tag value (`h=`, `s=`, `t=`) into lowercase items; FWS may
/// surround each colon.
fn colon_list(value: &str) -> Vec<String> {
    value
        .split(':')
        .map(|item| item.trim_matches(is_fws).to_ascii_lowercase())
        .collect()
}

/// Base64 as RFC 6376 §2.4 uses it: the standard alphabet; padding is accepted but not
/// required, since verifiers in the field decode both.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes `p=` (whitespace already removed), naming the first character that is not base64.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let body = text.trim_end_matches('=');
    if let Some((offset, bad)) = body
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
    {
        return Err(format!(
            "p= is not base64: {bad:?} at offset {offset} is not a base64 character \
             (RFC 6376 §3.6.1)"
        ));
    }
    BASE64
        .decode(text)
        .map_err(|error| format!("p= is not valid base64: {error} (RFC 6376 §3.6.1)"))
}

/// Decodes and reads a non-empty `p=` of the given algorithm (`None`: an unknown `k=`, already
/// reported, so only the base64 is checked).
fn read_key(
    p: &str,
    algorithm: Option<KeyAlgorithm>,
    problems: &mut Vec<String>,
    remarks: &mut Vec<String>,
) -> Option<PublicKeyInfo> {
    let bytes = decode_base64(p)
        .map_err(|reason| problems.push(reason))
        .ok()?;
    let decoded = match algorithm? {
        KeyAlgorithm::Rsa => decode_rsa_key(&bytes),
        KeyAlgorithm::Ed25519 => decode_ed25519_key(&bytes),
    };
    let info = decoded.map_err(|reason| problems.push(reason)).ok()?;
    if info.algorithm == KeyAlgorithm::Ed25519 {
        remarks.push(
            "Ed25519 key: receivers that do not implement RFC 8463 ignore its signatures, so sign \
             with an RSA key too (RFC 8463 §6)"
                .to_owned(),
        );
    }
    if info.encoding == KeyEncoding::Pkcs1 {
        remarks.push(
            "p= holds a bare PKCS#1 RSAPublicKey, not the SubjectPublicKeyInfo RFC 6376 §3.6.1 \
             specifies; common verifiers accept it"
                .to_owned(),
        );
    }
    Some(info)
}

/// Parses a key record (the TXT record's strings already joined, §3.6.2.2).
pub fn parse_key_record(text: &str) -> KeyRecord {
    let (tags, mut problems) = parse_tag_list(text);
    let mut remarks = Vec::new();
    let find = |name: &str| tags.iter().position(|tag| tag.name == name);

    let version = find("v").map(|index| {
        let value = &tags[index].value;
        if index != 0 {
            problems.push(
                "v= is not the first tag: when present it must come first (RFC 6376 §3.6.1)"
                    .to_owned(),
            );
        }
        if value != "DKIM1" {
            problems.push(format!(
                "v={} is not a DKIM key record version: it must be exactly \"DKIM1\" \
                 (RFC 6376 §3.6.1)",
                quoted(value)
            ));
        }
        value.clone()
    });

    let key_type =
        find("k").map_or_else(|| "rsa".to_owned(), |i| tags[i].value.to_ascii_lowercase());
    let algorithm = match key_type.as_str() {
        "rsa" => Some(KeyAlgorithm::Rsa),
        "ed25519" => Some(KeyAlgorithm::Ed25519),
        other => {
            problems.push(format!(
                "k={} is not a key type verifiers know, so they ignore the key \
                 (RFC 6376 §3.6.1): use k=rsa, or k=ed25519 (RFC 8463)",
                quoted(other)
            ));
            None
        }
    };

    let hash_algorithms = find("h").map(|i| colon_list(&tags[i].value));
    if let Some(hashes) = &hash_algorithms
        && !hashes.iter().any(|h| h == "sha1" || h == "sha256")
    {
        problems.push(format!(
            "h={} names no hash algorithm verifiers know (sha256), so no signature can \
             verify with this key (RFC 6376 §3.6.1)",
            quoted(&tags[find("h").unwrap_or_default()].value)
        ));
    }

    let service_types =
        find("s").map_or_else(|| vec!["*".to_owned()], |i| colon_list(&tags[i].value));
    if !service_types.iter().any(|s| s == "*" || s == "email") {
        problems.push(format!(
            "s={} does not include \"email\" or \"*\", so verifiers do not use this key for mail \
             (RFC 6376 §3.6.1)",
            quoted(&service_types.join(":"))
        ));
    }

    let flags = find("t")
        .map(|i| colon_list(&tags[i].value))
        .unwrap_or_default();
    let notes = find("n").map(|i| tags[i].value.clone());

    let public_key = find("p").map(|i| {
        tags[i]
            .value
            .chars()
            .filter(|&c| !is_fws(c))
            .collect::<String>()
    });
    let key = match (&public_key, algorithm) {
        (None, _) => {
            problems.push("no p= tag: the public key is required (RFC 6376 §3.6.1)".to_owned());
            None
        }
        (Some(p), _) if p.is_empty() => None,
        (Some(p), algorithm) => read_key(p, algorithm, &mut problems, &mut remarks),
    };

    KeyRecord {
        record: text.to_owned(),
        tags,
        version,
        key_type,
        hash_algorithms,
        service_types,
        flags,
        notes,
        public_key,
        key,
        problems,
        remarks,
    }
}

/// Reads an RSA public key: a DER `SubjectPublicKeyInfo` (RFC 6376 §3.6.1), or a bare PKCS#1
/// `RSAPublicKey`, which some publishers use.
pub fn decode_rsa_key(der: &[u8]) -> Result<PublicKeyInfo, String> {
    if let Ok((rest, spki)) = SubjectPublicKeyInfo::from_der(der) {
        if !rest.is_empty() {
            return Err(format!(
                "p= has {} bytes after the end of its SubjectPublicKeyInfo (RFC 6376 §3.6.1)",
                rest.len()
            ));
        }
        let oid = &spki.algorithm.algorithm;
        if *oid == OID_SIG_ED25519 {
            return Err(
                "p= holds an Ed25519 key but k= says rsa: publish it with k=ed25519 and the \
                 raw 32-byte key (RFC 8463 §4.2)"
                    .to_owned(),
            );
        }
        if *oid != OID_PKCS1_RSAENCRYPTION {
            return Err(format!(
                "p= holds a public key of algorithm {oid}, not RSA (RFC 6376 §3.6.1)"
            ));
        }
        return match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => rsa_info(&rsa, KeyEncoding::Spki),
            _ => Err("p= names RSA but its key is not an RSAPublicKey (RFC 8017 A.1.1)".to_owned()),
        };
    }
    match RSAPublicKey::from_der(der) {
        Ok(([], rsa)) => rsa_info(&rsa, KeyEncoding::Pkcs1),
        _ => Err(
            "p= is not a public key: its bytes are neither a DER SubjectPublicKeyInfo \
             (RFC 6376 §3.6.1) nor an RSAPublicKey"
                .to_owned(),
        ),
    }
}

fn rsa_info(rsa: &RSAPublicKey<'_>, encoding: KeyEncoding) -> Result<PublicKeyInfo, String> {
    let bits = modulus_bits(rsa.modulus);
    if bits == 0 {
        return Err("p= holds an RSA key whose modulus is zero".to_owned());
    }
    Ok(PublicKeyInfo {
        algorithm: KeyAlgorithm::Rsa,
        bits,
        encoding,
        exponent: rsa.try_exponent().ok(),
    })
}

/// The bit length of a big-endian unsigned integer (leading zero bytes, such as DER's sign
/// byte, do not count).
pub fn modulus_bits(modulus: &[u8]) -> u32 {
    let significant = modulus
        .iter()
        .position(|&byte| byte != 0)
        .map_or(&[][..], |first| &modulus[first..]);
    match significant.first() {
        None => 0,
        Some(&top) => {
            let rest = u32::try_from(significant.len() - 1).unwrap_or(u32::MAX / 16);
            rest.saturating_mul(8)
                .saturating_add(8 - top.leading_zeros())
        }
    }
}

/// Reads an Ed25519 key: exactly 32 raw bytes (RFC 8463 §4.2).
pub fn decode_ed25519_key(bytes: &[u8]) -> Result<PublicKeyInfo, String> {
    if bytes.len() == 32 {
        return Ok(PublicKeyInfo {
            algorithm: KeyAlgorithm::Ed25519,
            bits: 256,
            encoding: KeyEncoding::Raw,
            exponent: None,
        });
    }
    if let Ok((rest, spki)) = SubjectPublicKeyInfo::from_der(bytes)
        && rest.is_empty()
        && spki.algorithm.algorithm == OID_SIG_ED25519
        && spki.subject_public_key.data.len() == 32
    {
        return Err(format!(
            "p= holds the Ed25519 key wrapped in a SubjectPublicKeyInfo; RFC 8463 §4.2 wants the \
             raw 32-byte key: p={}",
            base64::engine::general_purpose::STANDARD.encode(&spki.subject_public_key.data)
        ));
    }
    Err(format!(
        "p= holds {} bytes, but an Ed25519 key is exactly 32 bytes (RFC 8463 §4.2)",
        bytes.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real keys, made once with openssl (the same ones as fixtures/zones/dkim.test.zone).
    const RSA512: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKKUdrWPHMb1Ac2aQK0IDcN0LZKeHLSDx4tTxJhKxd3bHdPsGdmCID6zY+DN+EuKLsx3nreqowAx6OP7h52hgrECAwEAAQ==";
    const RSA1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC+rqSVtE9uQW8QyE4g5GBS1f4+vl4gDR6BQlMKxfuMMYxVgGgQIZHxs7v8Jn9+w8eb/+yNRWF9LJ2LnRpu9UdwBEusAEhArPXudu6i4DihIs3nRHLByFqr2SJ9heulY70AYMwRc2u8O5UtINP3ir2AI0AYse3WmMBSi/99Wej7TwIDAQAB";
    const RSA2048: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAteen8TCcVjbIarjQMF6FZzRbwQWV8uKKv2o2ywtAfQQgYeZCj7ebcQIKwfwrCTYuQTQlHFLLQjKTYLzfMmjOFTetm7Z+c6ygm7mjttlgDVqoWo4rJy8PompHtR/KyROqgHCJZdq3PJHk7R+cR6oVRRAN6gwVA5xJhmSAZP3IO953+juVRpXqwT/mNG33u/s8OKlYdjsTkzgB+OyvINV1mcBCf4+DSU/Omh+nk0ktJVHTiEIBAIYgqqdlZoSdAd2QGhsHP2V9fiTHu9SZo5yFtEEYqEu5tB2RUq2WfwHgfof6eGSr/9f+wnf4Cn8bWHqNBYG8Ul0Lr0pxUXEyjJPplwIDAQAB";
    const RSA2048_PKCS1: &str = "MIIBCgKCAQEAteen8TCcVjbIarjQMF6FZzRbwQWV8uKKv2o2ywtAfQQgYeZCj7ebcQIKwfwrCTYuQTQlHFLLQjKTYLzfMmjOFTetm7Z+c6ygm7mjttlgDVqoWo4rJy8PompHtR/KyROqgHCJZdq3PJHk7R+cR6oVRRAN6gwVA5xJhmSAZP3IO953+juVRpXqwT/mNG33u/s8OKlYdjsTkzgB+OyvINV1mcBCf4+DSU/Omh+nk0ktJVHTiEIBAIYgqqdlZoSdAd2QGhsHP2V9fiTHu9SZo5yFtEEYqEu5tB2RUq2WfwHgfof6eGSr/9f+wnf4Cn8bWHqNBYG8Ul0Lr0pxUXEyjJPplwIDAQAB";
    const ED25519_RAW: &str = "PF13kaQYmRQQnTYdCKKRLGLEH6/Y34ILurxzKjcpOA4=";
    const ED25519_SPKI: &str = "MCowBQYDK2VwAyEAPF13kaQYmRQQnTYdCKKRLGLEH6/Y34ILurxzKjcpOA4=";

    fn key(record: &str) -> PublicKeyInfo {
        let parsed = parse_key_record(record);
        assert!(
            parsed.problems.is_empty(),
            "{record}: {:?}",
            parsed.problems
        );
        parsed.key.expect("a key")
    }

    fn problems(record: &str) -> Vec<String> {
        parse_key_record(record).problems
    }

    #[test]
    fn rsa_key_sizes_are_read_from_the_modulus() {
        assert_eq!(key(&format!("v=DKIM1; k=rsa; p={RSA512}")).bits, 512);
        assert_eq!(key(&format!("v=DKIM1; k=rsa; p={RSA1024}")).bits, 1024);
        let info = key(&format!("v=DKIM1; k=rsa; p={RSA2048}"));
        assert_eq!(info.bits, 2048);
        assert_eq!(info.encoding, KeyEncoding::Spki);
        assert_eq!(info.exponent, Some(65537));
    }

    #[test]
    fn k_defaults_to_rsa_and_v_is_optional() {
        let record = parse_key_record(&format!("p={RSA2048}"));
        assert!(record.problems.is_empty(), "{:?}", record.problems);
        assert_eq!(record.key_type, "rsa");
        assert_eq!(record.key.map(|k| k.bits), Some(2048));
    }

    #[test]
    fn a_bare_pkcs1_key_is_accepted_and_remarked() {
        let record = parse_key_record(&format!("v=DKIM1; p={RSA2048_PKCS1}"));
        assert!(record.problems.is_empty(), "{:?}", record.problems);
        let info = record.key.expect("key");
        assert_eq!((info.bits, info.encoding), (2048, KeyEncoding::Pkcs1));
        assert_eq!(record.remarks.len(), 1);
    }

    #[test]
    fn whitespace_around_tags_and_inside_the_key_is_folding_whitespace() {
        let (first, second) = RSA2048.split_at(100);
        let record = parse_key_record(&format!(
            " v = DKIM1 ;\tk=rsa;\r\n p = {first} \r\n {second} ; "
        ));
        assert!(record.problems.is_empty(), "{:?}", record.problems);
        assert_eq!(record.public_key.as_deref(), Some(RSA2048));
        assert_eq!(record.key.map(|k| k.bits), Some(2048));
    }

    #[test]
    fn ed25519_is_the_raw_32_byte_key() {
        let record = parse_key_record(&format!("v=DKIM1; k=ed25519; p={ED25519_RAW}"));
        assert!(record.problems.is_empty(), "{:?}", record.problems);
        assert_eq!(record.remarks.len(), 1, "the advice to sign with RSA too");
        let info = record.key.expect("key");
        assert_eq!(info.algorithm, KeyAlgorithm::Ed25519);
        assert_eq!(info.encoding, KeyEncoding::Raw);
    }

    #[test]
    fn an_spki_wrapped_ed25519_key_is_a_syntax_error_naming_the_raw_key() {
        let found = problems(&format!("v=DKIM1; k=ed25519; p={ED25519_SPKI}"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains(&format!("p={ED25519_RAW}")), "{found:?}");
    }

    #[test]
    fn an_ed25519_key_of_the_wrong_length_is_a_syntax_error() {
        let found = problems("v=DKIM1; k=ed25519; p=AAAA");
        assert!(found[0].contains("3 bytes"), "{found:?}");
    }

    #[test]
    fn an_ed25519_key_under_k_rsa_is_a_syntax_error() {
        let found = problems(&format!("v=DKIM1; k=rsa; p={ED25519_SPKI}"));
        assert!(found[0].contains("k=ed25519"), "{found:?}");
    }

    #[test]
    fn bad_base64_is_a_syntax_error() {
        let found = problems("v=DKIM1; k=rsa; p=MIIB!!notbase64");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("base64"), "{found:?}");
    }

    #[test]
    fn base64_that_is_not_a_key_is_a_syntax_error() {
        let found = problems("v=DKIM1; k=rsa; p=aGVsbG8gd29ybGQ=");
        assert!(found[0].contains("not a public key"), "{found:?}");
    }

    #[test]
    fn a_truncated_key_is_a_syntax_error() {
        let found = problems(&format!("v=DKIM1; p={}", &RSA2048[..200]));
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn an_unknown_key_type_is_a_syntax_error() {
        let record = parse_key_record(&format!("v=DKIM1; k=dsa; p={RSA2048}"));
        assert_eq!(record.problems.len(), 1, "{:?}", record.problems);
        assert!(
            record.problems[0].contains("k=\"dsa\""),
            "{:?}",
            record.problems
        );
        assert!(record.key.is_none());
    }

    #[test]
    fn v_must_be_first_and_exactly_dkim1() {
        assert!(problems(&format!("k=rsa; v=DKIM1; p={RSA2048}"))[0].contains("first"));
        assert!(problems(&format!("v=DKIM2; p={RSA2048}"))[0].contains("DKIM1"));
        assert!(problems(&format!("v=dkim1; p={RSA2048}"))[0].contains("DKIM1"));
    }

    #[test]
    fn duplicate_tags_invalidate_the_record() {
        let found = problems(&format!("v=DKIM1; p={RSA2048}; p={RSA1024}"));
        assert!(found[0].contains("more than once"), "{found:?}");
    }

    #[test]
    fn missing_p_is_a_syntax_error() {
        assert!(problems("v=DKIM1; k=rsa")[0].contains("no p="));
    }

    #[test]
    fn empty_p_is_revoked_not_broken() {
        let record = parse_key_record("v=DKIM1; p=");
        assert!(record.problems.is_empty(), "{:?}", record.problems);
        assert!(record.is_revoked());
        assert!(record.key.is_none());
    }

    #[test]
    fn flags_and_hashes_are_read() {
        let record = parse_key_record(&format!("v=DKIM1; h=sha1; t=y:s; p={RSA2048}"));
        assert!(record.is_testing());
        assert!(record.sha1_only());
        let both = parse_key_record(&format!("v=DKIM1; h=sha1 : sha256; t=s; p={RSA2048}"));
        assert!(!both.is_testing());
        assert!(!both.sha1_only());
        assert!(!parse_key_record(&format!("p={RSA2048}")).sha1_only());
    }

    #[test]
    fn an_unknown_hash_only_or_a_foreign_service_is_a_syntax_error() {
        assert!(problems(&format!("v=DKIM1; h=md5; p={RSA2048}"))[0].contains("h="));
        assert!(problems(&format!("v=DKIM1; s=tlsrpt; p={RSA2048}"))[0].contains("s="));
        assert!(problems(&format!("v=DKIM1; s=email:tlsrpt; p={RSA2048}")).is_empty());
    }

    #[test]
    fn unknown_tags_are_kept_and_ignored() {
        let record = parse_key_record(&format!("v=DKIM1; x_custom=1; p={RSA2048}"));
        assert!(record.problems.is_empty(), "{:?}", record.problems);
        assert_eq!(
            record.tags[1],
            Tag {
                name: "x_custom".into(),
                value: "1".into()
            }
        );
    }

    #[test]
    fn grammar_departures_are_reported_one_by_one() {
        let (tags, found) = parse_tag_list("v=DKIM1;; 1x=2; junk; p=ab\u{e9}");
        assert_eq!(found.len(), 4, "{found:?}");
        assert_eq!(tags.len(), 2);
    }

    #[test]
    fn rewritten_changes_only_the_named_tags() {
        let record = parse_key_record("v=DKIM1; t=y; h=sha1; p=");
        assert_eq!(
            record.rewritten(&[("t", None), ("h", Some("sha256"))]),
            "v=DKIM1; h=sha256; p="
        );
    }

    #[test]
    fn other_txt_records_are_not_key_records() {
        assert!(!is_key_record("v=spf1 include:_spf.example.com -all"));
        assert!(!is_key_record("google-site-verification=abc"));
        assert!(!is_key_record("<html><body>é</body></html>"));
        assert!(!is_key_record(""));
        assert!(is_key_record("v=DKIM1; k=rsa"));
        assert!(is_key_record("k=rsa; p="));
        assert!(is_key_record("v=DKIM2"));
    }

    #[test]
    fn hostile_input_never_panics() {
        let hostile = [
            "\u{fffd}\u{fffd}=\u{fffd}; p=\u{fffd}",
            "p=é;v=é;k=é;h=é;s=é;t=é",
            "=;=;=",
            ";;;;",
            "v",
        ];
        for text in hostile {
            let _ = parse_key_record(text);
            let _ = is_key_record(text);
        }
        let long = "p=".to_owned() + &"é".repeat(5000);
        assert!(!parse_key_record(&long).problems.is_empty());
    }

    #[test]
    fn modulus_bits_ignore_leading_zero_bytes() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0xff]), 9);
        assert_eq!(modulus_bits(&[0x00, 0x00]), 0);
        assert_eq!(modulus_bits(&[]), 0);
    }
}
