//! DKIM (RFC 6376, RFC 8301, RFC 8463): find the domain's public keys and judge them.
//!
//! Without a signed message the selectors in use are unknown, so the built-in selectors and
//! every `--selector` are probed at `<selector>._domainkey.<domain>`, each batch all at once:
//! probing costs a round trip, not one per selector. `_domainkey.<domain>` is asked first, beside
//! the `--selector` names: NXDOMAIN there means no name exists below it (RFC 8020 §2), so the
//! built-in selectors are not asked (but for those of the providers the domain's MX or SPF names,
//! in case a server answered NXDOMAIN for a name that only has names below it). Each key record
//! found is parsed ([`record`]) and its key read: RSA size from the modulus itself (RFC 8301
//! §3.2), Ed25519 recognised (RFC 8463).

pub mod record;
pub mod selectors;

use futures::future::join_all;
use serde::Serialize;

use crate::dns::{Answer, Dns, Failure, MAX_TXT_SHOWN, Txt};
use crate::finding::{Checked, Code, Finding, Verdict};

pub use record::{KeyAlgorithm, KeyEncoding, KeyRecord, PublicKeyInfo, Tag};
pub use selectors::Source;

/// RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits and SHOULD use 2048.
const RSA_MINIMUM_BITS: u32 = 1024;
const RSA_RECOMMENDED_BITS: u32 = 2048;
/// RFC 8301 §3.2: verifiers MUST be able to validate signatures with keys of 1024 to 4096 bits
/// and MAY be able to with larger ones.
const RSA_VERIFIER_MAXIMUM_BITS: u32 = 4096;

/// Key records quoted by the finding that says a selector holds several.
const KEY_RECORD_EXAMPLES: usize = 4;

/// The DKIM area of the report: every selector tried and what it found.
#[derive(Clone, Debug, Serialize)]
pub struct DkimReport {
    pub verdict: Verdict,
    /// The selectors that hold a key record (revoked ones included).
    pub found: Vec<String>,
    /// Every selector tried, in the order tried.
    pub selectors: Vec<SelectorReport>,
    /// The answer at `_domainkey.<domain>`, asked first: `nxdomain` means no selector exists
    /// below it (RFC 8020 §2).
    pub domainkey: String,
    /// `_domainkey.<domain>` is NXDOMAIN and no selector of the domain's providers showed that
    /// wrong, so the built-in selectors were not asked.
    pub builtin_skipped: bool,
}

/// What one selector's name held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectorStatus {
    /// A key record (see `keys`).
    Key,
    /// TXT records, but none is a DKIM key record (no `p=`, no `v=DKIM1`): e.g. a wildcard SPF
    /// record. Not a syntax error: the selector simply has no key.
    NotKeyRecord,
    /// NXDOMAIN or NODATA.
    NoRecord,
    /// The lookup failed: unknown.
    LookupFailed,
    /// The name given cannot be a selector; it was not asked.
    InvalidName,
}

impl DkimReport {
    /// The selectors that hold a key verifiers can use ([`is_usable`]).
    pub fn usable_selectors(&self) -> Vec<&str> {
        self.selectors
            .iter()
            .filter(|s| s.status == SelectorStatus::Key)
            .filter(|s| s.keys.iter().any(is_usable))
            .map(|s| s.selector.as_str())
            .collect()
    }
}

/// Whether a verifier can verify a signature with this key at all:
/// - the record parses: one that does not is ignored (RFC 6376 §6.1.2, "key syntax error");
/// - it is not revoked (empty `p=`, RFC 6376 §3.6.1);
/// - `h=` allows a hash other than sha1: rsa-sha1 MUST NOT be used to verify (RFC 8301 §3.1),
///   as with an `h=` of unknown hashes only;
/// - it is not an RSA key under 1024 bits, whose signatures verifiers MUST NOT consider valid
///   (RFC 8301 §3.2).
pub fn is_usable(key: &KeyRecord) -> bool {
    key.problems.is_empty()
        && !key.sha1_only()
        && key.key.as_ref().is_some_and(|info| {
            info.algorithm != KeyAlgorithm::Rsa || info.bits >= RSA_MINIMUM_BITS
        })
}

/// One selector probed.
#[derive(Clone, Debug, Serialize)]
pub struct SelectorReport {
    pub selector: String,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The name queried.
    pub name: String,
    pub status: SelectorStatus,
    /// The DNS outcome: `records`, `nodata`, `nxdomain`, or the failure.
    pub answer: String,
    /// The CNAME chain from `name` to the record (a selector delegated to a provider), if any.
    pub aliases: Vec<String>,
    /// The TXT records at the name, strings joined (RFC 6376 §3.6.2.2), as fetched: the first
    /// [`MAX_TXT_SHOWN`].
    pub records: Vec<String>,
    /// How many TXT records the name holds.
    pub txt_records: usize,
    /// The key records among them, parsed: the first [`MAX_TXT_SHOWN`].
    pub keys: Vec<KeyRecord>,
    /// How many key records the name holds (more than one is an error however many).
    pub key_records: usize,
}

/// Checks the domain's DKIM keys at the built-in selectors and at `extra_selectors`.
pub async fn check(dns: &Dns, domain: &str, extra_selectors: &[String]) -> Checked<DkimReport> {
    let mut candidates = selectors::candidates(extra_selectors);
    let given = candidates
        .iter()
        .take_while(|c| c.source == Source::Given)
        .count();
    // The names given are asked as given, whatever `_domainkey` says; the MX and SPF records
    // are the MX and SPF areas' own questions (asked once, through the cache).
    let below = format!("_domainkey.{domain}");
    let (mut answers, domainkey, providers) = tokio::join!(
        ask(dns, domain, &candidates[..given]),
        dns.txt(&below),
        sending_providers(dns, domain),
    );
    let hinted = selectors::providers_first(&mut candidates[given..], &providers);
    // RFC 8020 §2: below a name that does not exist, no name exists. The selectors of the
    // providers that send the domain's mail are asked still: a server that wrongly denies a
    // name with names below it (RFC 8020 §1) is found out by a key at one of them.
    let denied = matches!(domainkey, Answer::NxDomain { .. });
    let first = if denied {
        given + hinted
    } else {
        candidates.len()
    };
    answers.extend(ask(dns, domain, &candidates[given..first]).await);
    // A record at any selector asked (given with --selector, or a provider's) shows the
    // NXDOMAIN wrong.
    let lied = answers.iter().flatten().any(|a| !a.records().is_empty());
    if denied && lied {
        answers.extend(ask(dns, domain, &candidates[first..]).await);
    } else {
        candidates.truncate(first);
    }
    let selectors: Vec<SelectorReport> = candidates
        .into_iter()
        .zip(answers)
        .map(|(candidate, answer)| selector_report(candidate, domain, answer.as_ref()))
        .collect();
    evaluate(
        domain,
        selectors,
        &Domainkey {
            answer: domainkey.status(),
            denied: denied && !lied,
        },
    )
}

/// What `_domainkey.<domain>` answered, as the evaluator needs it.
struct Domainkey {
    /// Its DNS outcome: the report's `domainkey`.
    answer: String,
    /// NXDOMAIN, taken at its word (RFC 8020 §2): no record at the providers' selectors showed
    /// it wrong, so the built-in selectors were not asked.
    denied: bool,
}

/// Asks the TXT record of each candidate selector that can be a name, all at once (`None`: not
/// asked).
async fn ask(
    dns: &Dns,
    domain: &str,
    candidates: &[selectors::Candidate],
) -> Vec<Option<Answer<Txt>>> {
    join_all(candidates.iter().map(|candidate| async {
        if selectors::is_valid_selector(&candidate.selector)
            && selectors::fits_domain(&candidate.selector, domain)
        {
            Some(dns.txt(&key_name(&candidate.selector, domain)).await)
        } else {
            None
        }
    }))
    .await
}

/// The providers the domain's MX hosts (RFC 5321 §5.1) and the `include:` and `redirect=`
/// domains of its SPF record (RFC 7208 §5.2, §6.1) name.
async fn sending_providers(dns: &Dns, domain: &str) -> Vec<String> {
    let (mx, apex) = tokio::join!(dns.mx(domain), dns.txt(domain));
    let hosts: Vec<String> = mx.records().iter().map(|m| m.exchange.clone()).collect();
    let spf_domains: Vec<String> = apex
        .records()
        .iter()
        .map(Txt::joined)
        .filter(|text| crate::spf::record::is_spf_record(text))
        .flat_map(|text| crate::spf::record::parse_lenient(&text).0.named_domains())
        .collect();
    selectors::providers_named(&hosts, &spf_domains)
}

fn key_name(selector: &str, domain: &str) -> String {
    format!("{selector}._domainkey.{domain}")
}

/// Reads one selector's answer (`None`: the name was not asked).
fn selector_report(
    candidate: selectors::Candidate,
    domain: &str,
    answer: Option<&Answer<Txt>>,
) -> SelectorReport {
    let name = key_name(&candidate.selector, domain);
    let mut report = SelectorReport {
        selector: candidate.selector,
        source: candidate.source,
        provider: candidate.provider,
        name,
        status: SelectorStatus::InvalidName,
        answer: "not asked".to_owned(),
        aliases: Vec::new(),
        records: Vec::new(),
        txt_records: 0,
        keys: Vec::new(),
        key_records: 0,
    };
    let Some(answer) = answer else {
        return report;
    };
    report.answer = answer.status();
    report.aliases = answer.aliases().to_vec();
    // Every record is read, a bounded number kept: a name of 1,500 records is one selector
    // with 1,500 key records, not 1,500 parsed keys and their findings.
    report.txt_records = answer.records().len();
    for (index, txt) in answer.records().iter().enumerate() {
        let text = txt.joined();
        if record::is_key_record(&text) {
            report.key_records += 1;
            if report.keys.len() < MAX_TXT_SHOWN {
                report.keys.push(record::parse_key_record(&text));
            }
        }
        if index < MAX_TXT_SHOWN {
            report.records.push(text);
        }
    }
    report.status = match answer {
        // A name no query can carry (the domain is so long that `<selector>._domainkey.` takes
        // it past 255 bytes) was never asked: not a DNS failure.
        Answer::Failed(Failure::InvalidName(_)) => SelectorStatus::InvalidName,
        Answer::Failed(_) => SelectorStatus::LookupFailed,
        Answer::NoData { .. } | Answer::NxDomain { .. } => SelectorStatus::NoRecord,
        Answer::Records { .. } if report.keys.is_empty() => SelectorStatus::NotKeyRecord,
        Answer::Records { .. } => SelectorStatus::Key,
    };
    report
}

/// Raises the findings for the selectors probed: pure, so that it is tested without DNS.
fn evaluate(
    domain: &str,
    selectors: Vec<SelectorReport>,
    domainkey: &Domainkey,
) -> Checked<DkimReport> {
    let mut findings = Vec::new();
    for selector in &selectors {
        if selector.key_records > 1 {
            let examples: Vec<&str> = selector
                .keys
                .iter()
                .take(KEY_RECORD_EXAMPLES)
                .map(|key| key.record.as_str())
                .collect();
            findings.push(
                evidence(
                    Finding::new(
                        Code::DkimSyntax,
                        format!(
                            "{} key records at selector {}: RFC 6376 §3.6.2.2 leaves the result \
                             undefined, so verifiers may pick either",
                            selector.key_records, selector.selector
                        ),
                    ),
                    selector,
                )
                .evidence("key_records", selector.key_records)
                .evidence("records", examples)
                .fix(format!(
                    "Keep exactly one key record at {}: remove all but the one your signer uses",
                    selector.name
                )),
            );
        }
        for key in &selector.keys {
            key_findings(selector, key, &mut findings);
        }
    }

    let failed: Vec<&SelectorReport> = selectors
        .iter()
        .filter(|s| s.status == SelectorStatus::LookupFailed)
        .collect();
    let found: Vec<String> = selectors
        .iter()
        .filter(|s| s.status == SelectorStatus::Key)
        .map(|s| s.selector.clone())
        .collect();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|s| s.selector.as_str()).collect();
        let outcomes: Vec<serde_json::Value> = failed
            .iter()
            .map(|s| serde_json::json!({ "selector": s.selector, "name": s.name, "answer": s.answer }))
            .collect();
        let message = if found.is_empty() {
            format!(
                "DKIM lookup failed for {} selector(s) ({}) and no key was found elsewhere: \
                 whether {domain} publishes a DKIM key is unknown",
                failed.len(),
                names.join(", ")
            )
        } else {
            format!(
                "DKIM lookup failed for {} selector(s) ({}): those keys are unknown",
                failed.len(),
                names.join(", ")
            )
        };
        findings.push(
            Finding::new(Code::DkimLookupFailed, message)
                .fix(format!(
                    "Make the authoritative name servers answer TXT queries for {} (and for any \
                     name it is an alias of), then rerun the audit",
                    failed.first().map_or("", |s| s.name.as_str())
                ))
                .evidence("failed", outcomes),
        );
    } else if found.is_empty() {
        findings.push(not_found(domain, &selectors, domainkey.denied));
    }

    let verdict = Verdict::from_findings(&findings, failed.is_empty());
    Checked {
        report: DkimReport {
            verdict,
            found,
            selectors,
            domainkey: domainkey.answer.clone(),
            builtin_skipped: domainkey.denied,
        },
        findings,
    }
}

/// `dkim.not-found`: no key at any selector asked. Below a `_domainkey` that does not exist
/// (`denied`), it says no selector can exist there and none was guessed; else, when a selector
/// is an alias of a name without a key, that DKIM is published but not turned on.
fn not_found(domain: &str, selectors: &[SelectorReport], denied: bool) -> Finding {
    let tried: Vec<&str> = selectors
        .iter()
        .filter(|s| s.status != SelectorStatus::InvalidName)
        .map(|s| s.selector.as_str())
        .collect();
    let other_records: Vec<serde_json::Value> = selectors
        .iter()
        .filter(|s| s.status == SelectorStatus::NotKeyRecord)
        .map(|s| serde_json::json!({ "name": s.name, "records": s.records }))
        .collect();
    let invalid: Vec<&str> = selectors
        .iter()
        .filter(|s| s.status == SelectorStatus::InvalidName)
        .map(|s| s.selector.as_str())
        .collect();
    let dangling: Vec<&SelectorReport> = selectors
        .iter()
        .filter(|s| s.status == SelectorStatus::NoRecord && !s.aliases.is_empty())
        .collect();
    let dangling_target = dangling
        .first()
        .map(|first| (first, first.aliases.last().cloned().unwrap_or_default()));
    let message = match &dangling_target {
        _ if denied => format!(
            "No DKIM key for {domain}: _domainkey.{domain} does not exist (NXDOMAIN), so no \
             selector exists below it (RFC 8020 §2) and none was guessed"
        ),
        Some((first, target)) => format!(
            "{} is an alias (CNAME) of {target}, which holds no key: DKIM is published but not \
             turned on at the provider; no other selector tried for {domain} has a key",
            first.name
        ),
        // The selectors are in the evidence (`tried`): a message of 34 names hides the point.
        None => format!(
            "No DKIM key record at any of the {} selectors tried for {domain} (the list is in the \
             evidence; --selector adds yours)",
            tried.len()
        ),
    };
    let fix = match &dangling_target {
        Some((_, target)) => format!(
            "Turn DKIM signing on for {domain} at the provider the CNAME points to (Microsoft \
             365: Defender portal, Email authentication settings, DKIM, enable for {domain}), so \
             that {target} holds the key; or remove the CNAME if the provider is no longer used"
        ),
        None => format!(
            "Publish the public key of the selector your mail is signed with, e.g. \
             <selector>._domainkey.{domain} TXT \"v=DKIM1; k=rsa; p=<base64 of a 2048-bit public \
             key>\"; if mail is already signed with another selector (the s= of its \
             DKIM-Signature), audit again with --selector <selector>"
        ),
    };
    let mut finding = Finding::new(Code::DkimNotFound, message)
        .fix(fix)
        .evidence("tried", &tried)
        .evidence("query", format!("<selector>._domainkey.{domain} TXT"));
    if !other_records.is_empty() {
        finding = finding.evidence("not_key_records", other_records);
    }
    if !dangling.is_empty() {
        let chains: Vec<&Vec<String>> = dangling.iter().map(|s| &s.aliases).collect();
        finding = finding.evidence("dangling_aliases", chains);
    }
    if !invalid.is_empty() {
        finding = finding.evidence("invalid_selectors", invalid);
    }
    if denied {
        finding = finding.evidence("domainkey", "nxdomain");
    }
    finding
}

/// The name queried, the answer and the aliases of a selector, as evidence.
fn evidence(finding: Finding, selector: &SelectorReport) -> Finding {
    let mut finding = finding
        .evidence("selector", &selector.selector)
        .evidence("name", &selector.name)
        .evidence("answer", &selector.answer);
    if !selector.aliases.is_empty() {
        finding = finding.evidence("aliases", &selector.aliases);
    }
    finding
}

/// `dkim.insecure-key` or `dkim.weak-key` for an RSA key under the RFC 8301 §3.2 sizes,
/// `dkim.oversize-key` for one over the sizes verifiers must handle.
fn rsa_size(sel: &str, name: &str, info: &PublicKeyInfo) -> Option<Finding> {
    if info.algorithm != KeyAlgorithm::Rsa
        || (RSA_RECOMMENDED_BITS..=RSA_VERIFIER_MAXIMUM_BITS).contains(&info.bits)
    {
        return None;
    }
    if info.bits > RSA_VERIFIER_MAXIMUM_BITS {
        return Some(oversize(sel, name, info.bits));
    }
    let finding = if info.bits < RSA_MINIMUM_BITS {
        Finding::new(
            Code::DkimInsecureKey,
            format!(
                "DKIM key at selector {sel} is RSA {} bits: RFC 8301 §3.2 forbids keys under \
                 {RSA_MINIMUM_BITS} bits, receivers reject its signatures and it can be factored",
                info.bits
            ),
        )
    } else {
        Finding::new(
            Code::DkimWeakKey,
            format!(
                "DKIM key at selector {sel} is RSA {} bits: RFC 8301 §3.2 says signers SHOULD use \
                 {RSA_RECOMMENDED_BITS}",
                info.bits
            ),
        )
    };
    Some(finding.evidence("key_bits", info.bits).fix(format!(
        "Generate a {RSA_RECOMMENDED_BITS}-bit RSA key pair and publish {name} TXT \"v=DKIM1; \
         k=rsa; p=<base64 of the new {RSA_RECOMMENDED_BITS}-bit public key>\" (or the same under a \
         new selector), switch the signer to the new key, then retire the old one"
    )))
}

/// `dkim.oversize-key`: RFC 8301 §3.2 requires verifiers to handle RSA keys of 1024 to 4096 bits
/// and only allows larger ones, so a receiver that does not handle this key fails every
/// signature made with it. A warning, not an error: the signer breaks no rule (RFC 8301 sets no
/// maximum), and receivers may verify it; but where they do not, mail that relies on DKIM for
/// DMARC fails there.
fn oversize(sel: &str, name: &str, bits: u32) -> Finding {
    Finding::new(
        Code::DkimOversizeKey,
        format!(
            "DKIM key at selector {sel} is RSA {bits} bits: verifiers need handle only \
             {RSA_MINIMUM_BITS} to {RSA_VERIFIER_MAXIMUM_BITS} bits (RFC 8301 §3.2), so receivers \
             that do not handle larger keys fail its signatures"
        ),
    )
    .evidence("key_bits", bits)
    .fix(format!(
        "Generate a {RSA_RECOMMENDED_BITS}-bit RSA key pair (at most {RSA_VERIFIER_MAXIMUM_BITS} \
         bits) and publish {name} TXT \"v=DKIM1; k=rsa; p=<base64 of the new public key>\" (or the \
         same under a new selector), switch the signer to the new key, then retire the old one"
    ))
}

fn key_findings(selector: &SelectorReport, key: &KeyRecord, findings: &mut Vec<Finding>) {
    let name = &selector.name;
    let sel = &selector.selector;
    let with = |finding: Finding| evidence(finding, selector).evidence("record", &key.record);

    if !key.problems.is_empty() {
        findings.push(
            with(Finding::new(
                Code::DkimSyntax,
                format!(
                    "DKIM key record at selector {sel} does not parse: {}",
                    key.problems[0]
                ),
            ))
            .evidence("problems", &key.problems)
            .fix(format!(
                "Publish the record in the form {name} TXT \"v=DKIM1; k=rsa; p=<base64 of the DER \
                 SubjectPublicKeyInfo>\" (k=ed25519 with the raw 32-byte key for Ed25519), as \
                 your signer's key-generation tool prints it"
            )),
        );
    }
    if key.is_revoked() {
        findings.push(
            with(Finding::new(
                Code::DkimRevoked,
                format!(
                    "DKIM key at selector {sel} is revoked (empty p=): mail signed with it fails"
                ),
            ))
            .fix(format!(
                "Nothing to do if no mail is signed with selector {sel} any more; otherwise \
                 publish the current key: {name} TXT \"v=DKIM1; k=rsa; p=<base64 public key>\""
            )),
        );
    }
    if let Some(info) = &key.key
        && let Some(finding) = rsa_size(sel, name, info)
    {
        findings.push(with(finding));
    }
    if key.is_testing() {
        let flags: Vec<&str> = key
            .flags
            .iter()
            .map(String::as_str)
            .filter(|f| *f != "y")
            .collect();
        let flags = flags.join(":");
        let corrected = if flags.is_empty() {
            key.rewritten(&[("t", None)])
        } else {
            key.rewritten(&[("t", Some(&flags))])
        };
        findings.push(
            with(Finding::new(
                Code::DkimTesting,
                format!(
                    "DKIM key at selector {sel} has t=y: the domain is testing DKIM and \
                     verifiers may treat its signatures as if the mail were unsigned (RFC 6376 §3.6.1)"
                ),
            ))
            .fix(format!("When signing works, publish {name} TXT \"{corrected}\"")),
        );
    }
    if key.sha1_only() {
        let corrected = key.rewritten(&[("h", Some("sha256"))]);
        findings.push(
            with(Finding::new(
                Code::DkimSha1,
                format!(
                    "DKIM key at selector {sel} is unusable: it allows only sha1 (h={}), and RFC \
                     8301 §3.1 forbids verifying with rsa-sha1, so no signature made with it passes",
                    key.hash_algorithms.as_deref().unwrap_or_default().join(":")
                ),
            ))
            .fix(format!(
                "Sign with rsa-sha256 and publish {name} TXT \"{corrected}\" (or drop h=)"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Failure;
    use crate::finding::Severity;

    const RSA1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC5";

    fn txt(text: &str) -> Answer<Txt> {
        Answer::Records {
            records: vec![Txt {
                strings: vec![text.as_bytes().to_vec()],
            }],
            aliases: Vec::new(),
        }
    }

    /// `_domainkey.example.com` exists (NODATA): every selector is asked.
    fn below_exists() -> Domainkey {
        Domainkey {
            answer: "nodata".to_owned(),
            denied: false,
        }
    }

    /// Runs the evaluation over the built-in selectors with the given answers by selector name;
    /// every other selector is NXDOMAIN.
    fn run(answers: &[(&str, Answer<Txt>)], extra: &[&str]) -> Checked<DkimReport> {
        run_below(answers, extra, &below_exists())
    }

    /// [`run`] with what `_domainkey.example.com` answered.
    fn run_below(
        answers: &[(&str, Answer<Txt>)],
        extra: &[&str],
        domainkey: &Domainkey,
    ) -> Checked<DkimReport> {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let selectors = selectors::candidates(&extra)
            .into_iter()
            .map(|candidate| {
                let answer = answers
                    .iter()
                    .find(|(name, _)| *name == candidate.selector)
                    .map_or(Answer::nx_domain(), |(_, answer)| answer.clone());
                let asked = selectors::is_valid_selector(&candidate.selector).then_some(answer);
                selector_report(candidate, "example.com", asked.as_ref())
            })
            .collect();
        evaluate("example.com", selectors, domainkey)
    }

    fn codes(checked: &Checked<DkimReport>) -> Vec<&'static str> {
        checked.findings.iter().map(|f| f.code.as_str()).collect()
    }

    fn key_record(bits_b64: &str) -> String {
        format!("v=DKIM1; k=rsa; p={bits_b64}")
    }

    #[test]
    fn nothing_found_counts_the_selectors_tried_and_lists_them_in_evidence() {
        let checked = run(&[], &[]);
        assert_eq!(codes(&checked), ["dkim.not-found"]);
        let finding = &checked.findings[0];
        let tried = finding.evidence["tried"].as_array().unwrap();
        assert_eq!(tried[..3], ["selector1", "selector2", "google"]);
        assert!(
            finding
                .message
                .contains(&format!("any of the {} selectors tried", tried.len())),
            "{}",
            finding.message
        );
        assert!(
            !finding.message.contains("selector2"),
            "{}",
            finding.message
        );
        assert_eq!(checked.report.verdict, Verdict::Weak);
        assert!(
            checked
                .report
                .selectors
                .iter()
                .all(|s| s.status == SelectorStatus::NoRecord)
        );
    }

    /// RFC 8020 §2: below a `_domainkey` that does not exist no selector can, and the
    /// evaluator says so in the one `dkim.not-found` it raises.
    #[test]
    fn not_found_below_a_denied_domainkey_says_none_was_guessed() {
        let denied = Domainkey {
            answer: "nxdomain".to_owned(),
            denied: true,
        };
        let checked = run_below(&[], &[], &denied);
        assert_eq!(codes(&checked), ["dkim.not-found"]);
        assert_eq!(checked.report.domainkey, "nxdomain");
        let finding = &checked.findings[0];
        assert_eq!(finding.evidence["domainkey"], "nxdomain");
        // The wording is the point: it cites why no selector was guessed.
        assert!(
            finding
                .message
                .contains("_domainkey.example.com does not exist (NXDOMAIN)")
                && finding.message.contains("RFC 8020 §2"),
            "{}",
            finding.message
        );

        let exists = run(&[], &[]);
        assert_eq!(exists.report.domainkey, "nodata");
        assert!(!exists.findings[0].evidence.contains_key("domainkey"));
    }

    #[test]
    fn a_failed_lookup_is_unknown_never_not_found() {
        let checked = run(&[("selector1", Answer::Failed(Failure::Timeout))], &[]);
        assert_eq!(codes(&checked), ["dkim.lookup-failed"]);
        assert_eq!(checked.report.verdict, Verdict::Unknown);
        assert_eq!(
            checked.report.selectors[0].status,
            SelectorStatus::LookupFailed
        );
        assert_eq!(checked.report.selectors[0].answer, "timeout");
    }

    #[test]
    fn a_wildcard_spf_record_is_not_a_key_record_nor_a_syntax_error() {
        let spf = txt("v=spf1 -all");
        let checked = run(&[("selector1", spf.clone()), ("google", spf)], &[]);
        assert_eq!(codes(&checked), ["dkim.not-found"]);
        assert_eq!(
            checked.report.selectors[0].status,
            SelectorStatus::NotKeyRecord
        );
        assert!(checked.findings[0].evidence.contains_key("not_key_records"));
    }

    #[test]
    fn an_undecodable_key_is_a_syntax_error_and_still_counts_as_found() {
        let checked = run(&[("google", txt("v=DKIM1; k=rsa; p=MIIB!!"))], &[]);
        assert_eq!(codes(&checked), ["dkim.syntax"]);
        assert_eq!(checked.report.found, ["google"]);
        assert_eq!(
            checked.findings[0].evidence["name"],
            "google._domainkey.example.com"
        );
    }

    #[test]
    fn two_key_records_at_one_selector_are_a_syntax_error() {
        let answer = Answer::Records {
            records: vec![
                Txt {
                    strings: vec![b"v=DKIM1; p=".to_vec()],
                },
                Txt {
                    strings: vec![b"v=DKIM1; p=".to_vec()],
                },
            ],
            aliases: Vec::new(),
        };
        let checked = run(&[("s1", answer)], &[]);
        assert!(
            codes(&checked).contains(&"dkim.syntax"),
            "{:?}",
            codes(&checked)
        );
    }

    #[test]
    fn revoked_testing_and_sha1_are_raised_with_the_corrected_record() {
        let checked = run(&[("k1", txt("v=DKIM1; p="))], &[]);
        assert_eq!(codes(&checked), ["dkim.revoked"]);
        assert_eq!(checked.findings[0].severity, Severity::Info);

        // A truncated key does not parse, but the flags are still read.
        let checked = run(
            &[("k1", txt(&format!("v=DKIM1; t=y; h=sha1; p={RSA1024}")))],
            &[],
        );
        let found = codes(&checked);
        assert!(
            found.contains(&"dkim.testing") && found.contains(&"dkim.sha1"),
            "{found:?}"
        );
        let testing = checked
            .findings
            .iter()
            .find(|f| f.code == Code::DkimTesting)
            .unwrap();
        assert!(
            testing
                .fix
                .as_deref()
                .unwrap()
                .contains(&format!("\"v=DKIM1; h=sha1; p={RSA1024}\""))
        );
        let sha1 = checked
            .findings
            .iter()
            .find(|f| f.code == Code::DkimSha1)
            .unwrap();
        assert!(sha1.fix.as_deref().unwrap().contains("h=sha256"));
    }

    /// RFC 6376 §6.1.2, RFC 8301 §3.1 and §3.2: what verifiers ignore is not a usable key.
    #[test]
    fn only_keys_verifiers_can_use_are_usable() {
        const ED25519: &str = "PF13kaQYmRQQnTYdCKKRLGLEH6/Y34ILurxzKjcpOA4=";
        const RSA512: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKKUdrWPHMb1Ac2aQK0IDcN0LZKeHLSDx4tTxJhKxd3bHdPsGdmCID6zY+DN+EuKLsx3nreqowAx6OP7h52hgrECAwEAAQ==";
        let usable = |text: &str| is_usable(&record::parse_key_record(text));
        assert!(usable(&format!("v=DKIM1; k=ed25519; p={ED25519}")));
        assert!(usable(&format!(
            "v=DKIM1; k=ed25519; h=sha256; p={ED25519}"
        )));
        assert!(usable(&format!(
            "v=DKIM1; k=ed25519; h=sha1:sha256; p={ED25519}"
        )));
        assert!(!usable(&format!("v=DKIM1; k=ed25519; h=sha1; p={ED25519}")));
        assert!(!usable(&format!("v=DKIM1; k=ed25519; h=md5; p={ED25519}")));
        assert!(!usable(&format!(
            "v=DKIM1; k=ed25519; p={ED25519}; p={ED25519}"
        )));
        assert!(!usable(&format!(
            "v=DKIM1; k=ed25519; s=tlsrpt; p={ED25519}"
        )));
        assert!(!usable("v=DKIM1; k=ed25519; p="));
        assert!(!usable(&format!("v=DKIM1; k=rsa; p={RSA512}")));

        let checked = run(
            &[(
                "k1",
                txt(&format!("v=DKIM1; k=ed25519; h=sha1; p={ED25519}")),
            )],
            &[],
        );
        assert_eq!(codes(&checked), ["dkim.sha1"]);
        assert_eq!(checked.findings[0].severity, Severity::Error);
        assert_eq!(checked.report.found, ["k1"]);
        assert!(checked.report.usable_selectors().is_empty());
    }

    #[test]
    fn an_invalid_given_selector_is_reported_not_asked() {
        let checked = run(&[], &["bad selector"]);
        assert_eq!(
            checked.report.selectors[0].status,
            SelectorStatus::InvalidName
        );
        assert!(
            checked.findings[0]
                .evidence
                .contains_key("invalid_selectors")
        );
    }

    /// RFC 8301 §3.2: verifiers must handle 1024 to 4096 bits; larger keys may not verify.
    #[test]
    fn rsa_keys_over_4096_bits_are_oversize() {
        let info = |bits| PublicKeyInfo {
            algorithm: KeyAlgorithm::Rsa,
            bits,
            encoding: KeyEncoding::Spki,
            exponent: Some(65537),
        };
        let code = |bits| rsa_size("s1", "s1._domainkey.example.com", &info(bits)).map(|f| f.code);
        assert_eq!(code(1023), Some(Code::DkimInsecureKey));
        assert_eq!(code(1024), Some(Code::DkimWeakKey));
        assert_eq!(code(2048), None);
        assert_eq!(code(4096), None);
        assert_eq!(code(4097), Some(Code::DkimOversizeKey));
        let finding = rsa_size("s1", "s1._domainkey.example.com", &info(65_536)).unwrap();
        assert_eq!(finding.severity, Severity::Warning);
        assert_eq!(finding.evidence["key_bits"], 65_536);
        assert!(
            finding.message.contains("RFC 8301 §3.2"),
            "{}",
            finding.message
        );
    }

    /// 1,500 key records at one selector: all counted, 32 kept and parsed, one finding says
    /// how many, and no code has more than ten findings and one that counts the rest.
    #[test]
    fn a_selector_of_thousands_of_records_is_read_within_bounds() {
        let answer = Answer::Records {
            records: (0..1500)
                .map(|n| Txt {
                    strings: vec![format!("v=DKIM1; t=y; n={n}; p=").into_bytes()],
                })
                .collect(),
            aliases: Vec::new(),
        };
        let checked = run(&[("s1", answer)], &[]);
        let s1 = checked
            .report
            .selectors
            .iter()
            .find(|s| s.selector == "s1")
            .unwrap();
        assert_eq!((s1.txt_records, s1.key_records), (1500, 1500));
        assert_eq!(
            (s1.records.len(), s1.keys.len()),
            (MAX_TXT_SHOWN, MAX_TXT_SHOWN)
        );
        let multiple = &checked.findings[0];
        assert!(
            multiple
                .message
                .starts_with("1500 key records at selector s1")
        );
        assert_eq!(multiple.evidence["key_records"], 1500);
        assert_eq!(multiple.evidence["records"].as_array().unwrap().len(), 4);
        // One finding per key parsed; the report lists ten of a code and one for the rest.
        let limited = crate::finding::limit_per_code(checked.findings.clone());
        for code in [Code::DkimRevoked, Code::DkimTesting] {
            let count = |findings: &[Finding]| findings.iter().filter(|f| f.code == code).count();
            assert_eq!(count(&checked.findings), MAX_TXT_SHOWN, "{code}");
            assert_eq!(count(&limited), 11, "{code}");
        }
    }

    #[test]
    fn a_given_selector_is_probed_first() {
        let checked = run(&[("custom", txt(&key_record("")))], &["custom"]);
        assert_eq!(checked.report.selectors[0].source, Source::Given);
        assert_eq!(checked.report.found, ["custom"]);
        assert_eq!(codes(&checked), ["dkim.revoked"]);
    }
}
