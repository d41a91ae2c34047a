//! The receiver's `Authentication-Results` (RFC 8601) beside mailaudit's results, with why they
//! may differ: the receiver checked the message as it arrived, mailaudit checks it as saved and
//! with today's DNS.

use serde::Serialize;

use super::alignment::DmarcCheck;
use super::auth_results::AuthResults;
use super::sender::SpfCheck;
use super::verify::{AuthResult, Verified};

/// One method, both verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// `dkim`, `spf`, `dmarc`, `arc`.
    pub method: String,
    /// Who the receiver is (its authserv-id).
    pub receiver: String,
    pub receiver_result: String,
    pub mailaudit_result: String,
    pub agree: bool,
    /// Why they differ, when they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// The best DKIM result of a set, as one word: pass if any passed.
fn dkim_word(verified: &Verified) -> &'static str {
    let results: Vec<AuthResult> = verified.signatures.iter().map(|s| s.result).collect();
    [
        AuthResult::Pass,
        AuthResult::Fail,
        AuthResult::Neutral,
        AuthResult::TempError,
        AuthResult::PermError,
    ]
    .into_iter()
    .find(|r| results.contains(r))
    .map_or(
        if verified.malformed.is_empty() {
            "none"
        } else {
            "permerror"
        },
        AuthResult::as_str,
    )
}

/// The receiver's result for a method: `pass` if any of its entries passed, else its first.
fn receiver_word(results: &AuthResults, method: &str) -> Option<String> {
    let entries: Vec<&str> = results
        .results
        .iter()
        .filter(|r| r.method == method)
        .map(|r| r.result.as_str())
        .collect();
    if entries.contains(&"pass") {
        Some("pass".to_owned())
    } else {
        entries.first().map(|r| (*r).to_owned())
    }
}

/// RFC 8601 §2.7 spells some results differently from mailaudit (`hardfail`, `temperror`).
fn same(receiver: &str, ours: &str) -> bool {
    let norm = |r: &str| match r {
        "hardfail" | "policy" => "fail".to_owned(),
        other => other.replace(' ', ""),
    };
    norm(receiver) == norm(ours)
}

/// Compares the topmost `Authentication-Results` (the last receiver's) with mailaudit's.
pub fn compare(
    receiver: Option<&AuthResults>,
    verified: &Verified,
    spf: &SpfCheck,
    dmarc: &DmarcCheck,
) -> Vec<Comparison> {
    let Some(receiver) = receiver else {
        return Vec::new();
    };
    let ours: [(&str, String); 4] = [
        ("dkim", dkim_word(verified).to_owned()),
        (
            "spf",
            spf.result
                .map_or_else(|| "not evaluated".to_owned(), |r| r.as_str().to_owned()),
        ),
        ("dmarc", dmarc.result.as_str().to_owned()),
        ("arc", verified.arc.result.as_str().to_owned()),
    ];
    ours.into_iter()
        .filter_map(|(method, ours)| {
            let theirs = receiver_word(receiver, method)?;
            let agree = same(&theirs, &ours);
            let explanation = (!agree).then(|| explain(method, &theirs, &ours, verified, spf));
            Some(Comparison {
                method: method.to_owned(),
                receiver: receiver.authserv_id.clone(),
                receiver_result: theirs,
                mailaudit_result: ours,
                agree,
                explanation,
            })
        })
        .collect()
}

fn explain(method: &str, theirs: &str, ours: &str, verified: &Verified, spf: &SpfCheck) -> String {
    let reasons: Vec<&str> = verified
        .signatures
        .iter()
        .filter_map(|s| s.reason.as_deref())
        .collect();
    match method {
        "dkim" if theirs == "pass" && reasons.iter().any(|r| r.contains("body hash")) => {
            "the receiver verified the body as it arrived; it has changed since (a mailing-list \
             footer, a security gateway rewriting links, a mail client re-encoding it when \
             saved): the signature no longer covers what is in this file"
                .to_owned()
        }
        "dkim" if theirs == "pass" && verified.signatures.iter().any(|s| s.expired) => {
            "the signature's x= expiry has passed since the receiver verified it".to_owned()
        }
        "dkim" if theirs == "pass" && ours == "permerror" => {
            "the key is no longer published (rotated or removed since the message arrived)"
                .to_owned()
        }
        "dkim" if ours == "temperror" => {
            "mailaudit could not fetch a key (a DNS failure): its result is unknown".to_owned()
        }
        "dkim" if theirs != "pass" && ours == "pass" => {
            "the receiver could not verify a signature that verifies now: a DNS failure at \
             receipt, a key published after the message was sent, or a receiver that changed the \
             message before checking it"
                .to_owned()
        }
        "spf" => format!(
            "mailaudit evaluated {} (from {}); the receiver may have evaluated another hop, or \
             the SPF record has changed since the message arrived",
            spf.ip
                .map_or_else(|| "no client".to_owned(), |ip| ip.to_string()),
            spf.source
        ),
        "dmarc" => "DMARC follows from SPF and DKIM: see why those differ".to_owned(),
        "arc" => "the ARC chain was sealed over the message as it was then; a change since (or \
                  a seal added by the receiver itself) changes the result"
            .to_owned(),
        _ => {
            "the receiver checked the message as it arrived, with the DNS of that moment".to_owned()
        }
    }
}
