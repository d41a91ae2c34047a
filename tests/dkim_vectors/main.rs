//! The DKIM key-record parser (`src/dkim/record.rs`) and the rule for which keys verifiers can
//! use (`dkim::is_usable`) against every public key-record vector the project has
//! (`fixtures/dkim-vectors/`, see its `SOURCE.md`): go-msgauth's and mail-auth's parser tests and
//! dkimpy's key files. Each case's judgment is written here; the cases where the project judges
//! differently from the implementation the vector comes from are in [`DIFFERENT`] with the
//! reason, and the test checks that they are still judged differently, so the list stays true.

use std::fmt::Write as _;
use std::path::Path;

use mailaudit::dkim::record::parse_key_record;
use mailaudit::dkim::{KeyAlgorithm, KeyEncoding, KeyRecord, is_usable};

const VECTORS: &str = include_str!("../../fixtures/dkim-vectors/dkim_key_record_vectors.json");

/// What the project makes of a key record.
#[derive(Debug)]
enum Judged {
    /// It parses and verifiers can use the key: its algorithm, size and encoding.
    Usable(KeyAlgorithm, u32, KeyEncoding),
    /// Empty `p=`: revoked (RFC 6376 §3.6.1), no problem.
    Revoked,
    /// Verifiers cannot use it; the text names why (a problem of the record, or the key size).
    Unusable(&'static str),
}

use Judged::{Revoked, Unusable, Usable};
use KeyAlgorithm::{Ed25519, Rsa};
use KeyEncoding::{Pkcs1, Raw, Spki};

/// Every case of the vector file and the project's judgment of it.
const EXPECTED: &[(&str, Judged)] = &[
    ("gm-rsa-spki-1024", Usable(Rsa, 1024, Spki)),
    // RFC 6376 specifies a SubjectPublicKeyInfo; a bare RSAPublicKey is read (with a remark),
    // as go-msgauth and most verifiers do.
    ("gm-rsa-pkcs1-raw", Usable(Rsa, 1024, Pkcs1)),
    ("gm-ed25519", Usable(Ed25519, 256, Raw)),
    ("ma-rsa-spki-flags0", Usable(Rsa, 1024, Spki)),
    ("ma-no-v-tag", Usable(Rsa, 1024, Spki)),
    ("ma-revoked-1", Revoked),
    ("ma-revoked-2", Revoked),
    ("ma-revoked-3", Revoked),
    // g= is RFC 4871's, gone from RFC 6376: an unknown tag, ignored (§3.6.1).
    ("dkimpy-test.txt", Usable(Rsa, 1024, Spki)),
    ("dkimpy-test2.txt", Usable(Rsa, 1024, Spki)),
    ("dkimpy-badversion.txt", Unusable("DKIM1")),
    ("dkimpy-badk.txt", Unusable("k=")),
    ("dkimpy-test_bad.txt", Unusable("p=")),
    // dkimpy reads the record and refuses the key for mail; here s= without email is a
    // problem of the record: the same outcome, no mail verifies with it (RFC 6376 §3.6.1).
    ("dkimpy-test_tlsrpt.txt", Unusable("s=")),
    ("dkimpy-ed25519test.dns", Usable(Ed25519, 256, Raw)),
    ("dkimpy-eximtest.dns", Usable(Ed25519, 256, Raw)),
    // RFC 8301 §3.2: verifiers MUST NOT consider signatures with RSA keys under 1024 bits valid.
    ("dkimpy-rsa512", Unusable("512 bits")),
];

/// Cases the project judges differently from the implementation the vector comes from, why,
/// and what it makes of them instead.
const DIFFERENT: &[(&str, &str, Judged)] = &[(
    "ma-rsa-2048-tags",
    "mail-auth accepts it, reading `h= sha1:sha 256:other` as sha1 and sha256. Here the empty \
     tag of `;;` breaks the tag-list grammar (RFC 6376 §3.2: one trailing ';' only), so \
     verifiers that follow it ignore the record (§6.1.2); and `sha 256` is not sha256 (FWS is \
     allowed around the colons of key-h-tag, not inside an algorithm name, §3.6.1), so h= would \
     allow only sha1, which RFC 8301 §3.1 forbids verifying",
    Unusable("empty tag"),
)];

fn cases() -> Vec<serde_json::Value> {
    let vectors: serde_json::Value = serde_json::from_str(VECTORS).expect("the vectors are JSON");
    vectors["cases"].as_array().expect("a cases list").clone()
}

/// Why verifiers cannot use the key, in words to search: its problems, or its size.
fn why_unusable(record: &KeyRecord) -> String {
    let mut why = record.problems.join("; ");
    if let Some(key) = &record.key {
        let _ = write!(why, "; {} bits", key.bits);
    }
    why
}

/// `None` when `record` is judged as `expected`, else what was found.
fn mismatch(record: &KeyRecord, expected: &Judged) -> Option<String> {
    let found = format!(
        "usable {}, revoked {}, key {:?}, problems {:?}",
        is_usable(record),
        record.is_revoked(),
        record.key,
        record.problems
    );
    let holds = match expected {
        Usable(algorithm, bits, encoding) => {
            is_usable(record)
                && record.problems.is_empty()
                && record.key.as_ref().is_some_and(|key| {
                    key.algorithm == *algorithm && key.bits == *bits && key.encoding == *encoding
                })
        }
        Revoked => record.is_revoked() && record.problems.is_empty() && !is_usable(record),
        Unusable(needle) => !is_usable(record) && why_unusable(record).contains(needle),
    };
    (!holds).then_some(found)
}

#[test]
fn every_vector_is_judged_as_the_project_says() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().expect("an id");
        let text = case["record"].as_str().expect("a record");
        let expected = EXPECTED
            .iter()
            .map(|(name, judged)| (*name, judged))
            .chain(DIFFERENT.iter().map(|(name, _, judged)| (*name, judged)))
            .find(|(name, _)| *name == id)
            .map(|(_, judged)| judged);
        let Some(expected) = expected else {
            failures.push(format!("{id}: no judgment written for this case"));
            continue;
        };
        if let Some(found) = mismatch(&parse_key_record(text), expected) {
            failures.push(format!("{id}: expected {expected:?}, found {found}"));
        }
    }
    for name in EXPECTED
        .iter()
        .map(|(name, _)| name)
        .chain(DIFFERENT.iter().map(|(name, _, _)| name))
    {
        if !cases.iter().any(|c| c["id"] == *name) {
            failures.push(format!("{name}: not a case of the vector file"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(cases.len(), EXPECTED.len() + DIFFERENT.len());
}

/// Each of dkimpy's key files is a case of the vector file, byte for byte, so judging the cases
/// judges the files.
#[test]
fn every_dkimpy_key_file_is_a_judged_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dkim-vectors/dkimpy");
    let cases = cases();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("the dkimpy fixtures") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "LICENSE" {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).expect("a key file");
        let id = format!("dkimpy-{name}");
        let case = cases
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{name}: no case {id} in the vector file"));
        assert_eq!(case["record"], text.trim_end_matches('\n'), "{name}");
    }
    assert_eq!(files, 8);
}
