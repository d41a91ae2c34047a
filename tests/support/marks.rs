//! The mark certificates (BIMI's VMC or CMC) a test CA issues, for the HTTPS test server
//! ([`super::https_server`]) to serve.

use std::fmt::Write as _;

use base64::Engine;

use super::smtp_server::{Ca, Leaf};

/// id-pe-logotype and id-kp-BrandIndicatorforMessageIdentification.
const LOGOTYPE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 12];
const BIMI_USAGE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 31];

/// A mark certificate `ca` issues for `names`, valid from `from` to `to` days from now, with the
/// logotype extension (and the BIMI key usage) when `logotype`; the PEM chain, mark first.
pub fn mark(ca: &Ca, names: &[&str], from: i64, to: i64, logotype: bool) -> String {
    let identity = ca.issue_with(&Leaf::valid_for(names).between(from, to), |params| {
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::Other(BIMI_USAGE.to_vec())];
        if logotype {
            // The logo is a data: URI in a LogotypeExtn; its presence is what is checked.
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    LOGOTYPE,
                    vec![0x30, 0x00],
                ));
        }
    });
    let identity = identity.with_chain(ca);
    let mut pem = String::new();
    for der in &identity.chain {
        let base64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = base64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let _ = write!(
            pem,
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        );
    }
    pem
}
