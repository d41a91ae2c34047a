//! DMARC policy discovery: the DNS Tree Walk of RFC 9989 §4.10 and the choice of the record that
//! applies (§4.10.1, with the Organizational Domain rules of §4.10.2).
//!
//! The walk is planned from the name alone ([`walk_targets`]), so every name it may need is asked
//! at once: the audit pays one round trip for the walk instead of up to eight. [`select`] then
//! reads the answers in walk order and ignores those the walk would never have asked.

use futures::future::join_all;

use super::parse::{Candidate, classify};
use super::record::{Psd, Record};
use crate::dns::{Answer, Dns, Mx, Txt};

/// RFC 9989 §4.10 step 4: a name of more than this many labels is cut to this many after the
/// first query, so that no walk asks more than eight names.
const MAX_WALK_LABELS: usize = 7;

/// The domains whose `_dmarc` names the walk asks, in order: the domain itself, then (§4.10
/// steps 3, 4 and 7) its 7-label suffix if it is longer, then each shorter suffix down to the
/// top-level domain.
///
/// `a.b.c.d.e.f.g.h.i.j.mail.example.com` gives the domain, `g.h.i.j.mail.example.com`,
/// `h.i.j.mail.example.com` ... `example.com`, `com` (the example of §4.10).
pub fn walk_targets(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let mut targets = vec![domain.to_owned()];
    let first = (labels.len().saturating_sub(1)).min(MAX_WALK_LABELS);
    for count in (1..=first).rev() {
        targets.push(labels[labels.len() - count..].join("."));
    }
    targets
}

/// Every answer the walk may need, asked concurrently, and the domain's existence (which decides
/// between `sp` and `np`, RFC 9989 §4.10.1).
pub struct Fetched {
    /// The domains of [`walk_targets`].
    pub targets: Vec<String>,
    /// The TXT answer at `_dmarc.<target>` for each target.
    pub answers: Vec<Answer<Txt>>,
    /// The domain's MX answer: NXDOMAIN here means the domain does not exist (RFC 9989
    /// Appendix A.4, RFC 8020). MX because the MX check asks it too, so it is asked once.
    pub existence: Answer<Mx>,
}

/// Asks every name of the walk and the existence question at once.
pub async fn fetch(dns: &Dns, domain: &str) -> Fetched {
    let targets = walk_targets(domain);
    let names: Vec<String> = targets.iter().map(|t| format!("_dmarc.{t}")).collect();
    let (answers, existence) =
        tokio::join!(join_all(names.iter().map(|n| dns.txt(n))), dns.mx(domain));
    Fetched {
        targets,
        answers,
        existence,
    }
}

/// What one name of the walk gave, as [`select`] needs it.
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'a> {
    /// A DNS failure: what is at the name is unknown.
    Failed,
    /// The DMARC records at the name (zero, one, or several that receivers discard).
    Records(&'a [Record]),
}

/// Why a parent's record applies to the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The parent is the domain's Organizational Domain (§4.10.2).
    OrganizationalDomain,
    /// The parent is its Public Suffix Domain (a record with `psd=y`, §4.10.1).
    PublicSuffixDomain,
}

/// Which record applies to the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The domain's own record (at walk step 0).
    Own,
    /// The record at walk step `step`.
    Inherited { step: usize, via: Via },
    /// No DMARC record at any name the walk reached: DMARC does not apply.
    Missing,
    /// A DNS failure at walk step `step` left the applicable record unknown.
    Failed { step: usize },
}

/// The walk's conclusion and how far it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    pub outcome: Outcome,
    /// How many steps (from step 0) the walk needed; later answers were asked ahead and unused.
    pub reached: usize,
}

/// What a DNS Tree Walk (§4.10 steps 1 to 8) saw before it stopped.
struct Seen<'a> {
    /// The steps with exactly one valid DMARC record, in walk order, and that record. Several
    /// records at a name are all discarded (steps 2 and 7), and so is a record whose tag-list is
    /// invalid (RFC 6376 §3.2): neither counts.
    found: Vec<(usize, &'a Record)>,
    /// How many steps the walk needed.
    reached: usize,
}

/// The one valid DMARC record of a name, if it has exactly one.
fn single<'a>(lookup: &Lookup<'a>) -> Option<&'a Record> {
    match lookup {
        Lookup::Records([record]) if !record.is_discarded() => Some(record),
        _ => None,
    }
}

/// Walks `lookups` from the first: it stops at a record with `psd=n`, or with `psd=y` above the
/// starting name (steps 2 and 7). `Err(step)` when a DNS failure comes first: a record at that
/// name could have stopped the walk or changed its outcome.
fn walk<'a>(lookups: &[Lookup<'a>]) -> Result<Seen<'a>, usize> {
    let mut found = Vec::new();
    let mut reached = 0;
    for (step, lookup) in lookups.iter().enumerate() {
        reached = step + 1;
        if matches!(lookup, Lookup::Failed) {
            return Err(step);
        }
        if let Some(record) = single(lookup) {
            found.push((step, record));
            if record.psd == Psd::No || (record.psd == Psd::Yes && step > 0) {
                break;
            }
        }
    }
    Ok(Seen { found, reached })
}

/// The Organizational Domain the walk determines (§4.10.2), choosing among the names with a
/// valid record from the longest to the shortest: the one with `psd=n`; else, under a `psd=y`
/// record above the starting name, the name one label below it; else the one with the fewest
/// labels. Without any, the starting name itself. The walk stops at the first two, so the
/// choice is always its last record.
fn organizational(targets: &[String], seen: &Seen<'_>) -> String {
    let start = &targets[0];
    match seen.found.last() {
        None => start.clone(),
        Some(&(step, record)) if record.psd == Psd::Yes && step > 0 => {
            suffix(start, label_count(&targets[step]) + 1)
        }
        Some(&(step, _)) => targets[step].clone(),
    }
}

/// The last `labels` labels of `name`.
fn suffix(name: &str, labels: usize) -> String {
    let all: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
    all[all.len().saturating_sub(labels)..].join(".")
}

/// Chooses the record that applies, reading `lookups` (one per [`walk_targets`] entry) in walk
/// order.
///
/// - A single valid DMARC record at the domain itself applies (§4.10.1).
/// - Otherwise the tree walk finds the Organizational Domain ([`organizational`]); its record
///   applies, or if it has none, the Public Suffix Domain's (`psd=y`, §4.10.1).
/// - A DNS failure before the walk stops makes the choice unknown: a record at the name that
///   failed could have changed it (the longest-to-shortest rules of §4.10.2).
pub fn select(targets: &[String], lookups: &[Lookup<'_>]) -> Walk {
    match lookups.first() {
        None => {
            return Walk {
                outcome: Outcome::Missing,
                reached: 0,
            };
        }
        Some(Lookup::Failed) => {
            return Walk {
                outcome: Outcome::Failed { step: 0 },
                reached: 1,
            };
        }
        Some(own) if single(own).is_some() => {
            return Walk {
                outcome: Outcome::Own,
                reached: 1,
            };
        }
        Some(Lookup::Records(_)) => {}
    }
    let seen = match walk(lookups) {
        Ok(seen) => seen,
        Err(step) => {
            return Walk {
                outcome: Outcome::Failed { step },
                reached: step + 1,
            };
        }
    };
    let org = organizational(targets, &seen);
    let outcome = if let Some(&(step, _)) = seen.found.iter().find(|(s, _)| targets[*s] == org) {
        Outcome::Inherited {
            step,
            via: Via::OrganizationalDomain,
        }
    } else if let Some(&(step, record)) = seen.found.last()
        && record.psd == Psd::Yes
    {
        Outcome::Inherited {
            step,
            via: Via::PublicSuffixDomain,
        }
    } else {
        Outcome::Missing
    };
    Walk {
        outcome,
        reached: seen.reached,
    }
}

/// The Organizational Domain of `targets[0]` (§4.10.2), from the answers of its whole walk:
/// `Err(step)` when a DNS failure at that step leaves it unknown.
pub fn organizational_domain(targets: &[String], lookups: &[Lookup<'_>]) -> Result<String, usize> {
    walk(lookups).map(|seen| organizational(targets, &seen))
}

/// A walk that failed: the name asked and the failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkFailure {
    pub name: String,
    pub answer: String,
}

/// The Organizational Domain of `name` by its own DNS Tree Walk (RFC 9989 §4.10.2), every name of
/// the walk asked at once. Names asked before in the run (the audited domain's own walk) are
/// answered by the cache.
pub async fn organizational_domain_of(dns: &Dns, name: &str) -> Result<String, WalkFailure> {
    let targets = walk_targets(name);
    let names: Vec<String> = targets.iter().map(|t| format!("_dmarc.{t}")).collect();
    let answers = join_all(names.iter().map(|n| dns.txt(n))).await;
    let records: Vec<Vec<Record>> = answers
        .iter()
        .map(|answer| {
            answer
                .records()
                .iter()
                .filter_map(|txt| match classify(&txt.joined()) {
                    Candidate::Dmarc(record) => Some(record),
                    _ => None,
                })
                // Two are as many as any number: all are discarded (§4.10 step 7).
                .take(2)
                .collect()
        })
        .collect();
    let lookups: Vec<Lookup<'_>> = answers
        .iter()
        .zip(&records)
        .map(|(answer, records)| {
            if answer.failure().is_some() {
                Lookup::Failed
            } else {
                Lookup::Records(records)
            }
        })
        .collect();
    organizational_domain(&targets, &lookups).map_err(|step| WalkFailure {
        name: names[step].clone(),
        answer: answers[step].status(),
    })
}

fn label_count(name: &str) -> usize {
    name.split('.').filter(|l| !l.is_empty()).count()
}

/// Whether the domain exists (RFC 9989 Appendix A.4): any answer but NXDOMAIN at the domain, or
/// any name under it, proves it does; NXDOMAIN proves it does not (RFC 8020). `None` when DNS
/// failures leave it open.
pub fn existence(at_domain: &Answer<Mx>, at_dmarc_name: &Answer<Txt>) -> Option<bool> {
    let answered = |nxdomain: bool, failed: bool| !nxdomain && !failed;
    if answered(
        matches!(at_domain, Answer::NxDomain { .. }),
        at_domain.failure().is_some(),
    ) || answered(
        matches!(at_dmarc_name, Answer::NxDomain { .. }),
        at_dmarc_name.failure().is_some(),
    ) {
        Some(true)
    } else if matches!(at_domain, Answer::NxDomain { .. }) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmarc::parse::{Candidate, classify};

    fn rec(text: &str) -> Record {
        match classify(text) {
            Candidate::Dmarc(record) => record,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_names_walk_one_label_at_a_time_down_to_the_tld() {
        assert_eq!(
            walk_targets("a.mail.example.com"),
            [
                "a.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        assert_eq!(walk_targets("example.com"), ["example.com", "com"]);
        assert_eq!(walk_targets("test"), ["test"]);
    }

    /// The examples of RFC 9989 §4.10 and §5.1.8.
    #[test]
    fn long_names_skip_to_seven_labels_and_ask_at_most_eight() {
        let walk = walk_targets("a.b.c.d.e.f.g.h.i.j.mail.example.com");
        assert_eq!(
            walk,
            [
                "a.b.c.d.e.f.g.h.i.j.mail.example.com",
                "g.h.i.j.mail.example.com",
                "h.i.j.mail.example.com",
                "i.j.mail.example.com",
                "j.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        let walk = walk_targets("mail.a.b.c.d.e.f.g.example.com");
        assert_eq!(walk[1], "c.d.e.f.g.example.com");
        assert_eq!(walk.len(), 8);
        // Eight labels: the parent has seven, no skip (§4.10.1 first bullet).
        let eight = walk_targets("a.b.c.d.e.f.example.com");
        assert_eq!(eight[1], "b.c.d.e.f.example.com");
        assert_eq!(eight.len(), 8);
    }

    fn targets(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_domains_own_record_wins_and_the_walk_stops_there() {
        let own = [rec("v=DMARC1; p=reject")];
        let parent = [rec("v=DMARC1; p=none")];
        let t = targets(&["a.example.com", "example.com", "com"]);
        let walk = select(
            &t,
            &[
                Lookup::Records(&own),
                Lookup::Records(&parent),
                Lookup::Failed,
            ],
        );
        assert_eq!(
            walk,
            Walk {
                outcome: Outcome::Own,
                reached: 1
            }
        );
    }

    /// RFC 9989 Appendix B.4.1/B.4.2: the name with the fewest labels is the Organizational Domain.
    #[test]
    fn without_psd_the_highest_record_applies() {
        let mail = [rec("v=DMARC1; p=none")];
        let org = [rec("v=DMARC1; p=reject")];
        let t = targets(&[
            "a.mail.example.com",
            "mail.example.com",
            "example.com",
            "com",
        ]);
        let walk = select(
            &t,
            &[
                Lookup::Records(&[]),
                Lookup::Records(&mail),
                Lookup::Records(&org),
                Lookup::Records(&[]),
            ],
        );
        assert_eq!(
            walk.outcome,
            Outcome::Inherited {
                step: 2,
                via: Via::OrganizationalDomain
            }
        );
        assert_eq!(walk.reached, 4);
    }

    /// §4.10.2 second example: `psd=n` at mail.example.com stops the walk there.
    #[test]
    fn psd_n_stops_the_walk_and_is_the_organizational_domain() {
        let mail = [rec("v=DMARC1; p=quarantine; psd=n")];
        let t = targets(&[
            "a.mail.example.com",
            "mail.example.com",
            "example.com",
            "com",
        ]);
        let walk = select(
            &t,
            &[
                Lookup::Records(&[]),
                Lookup::Records(&mail),
                Lookup::Failed,
                Lookup::Failed,
            ],
        );
        assert_eq!(
            walk,
            Walk {
                outcome: Outcome::Inherited {
                    step: 1,
                    via: Via::OrganizationalDomain
                },
                reached: 2
            }
        );
    }

    /// §4.10.2 last example: only `_dmarc.com` with `psd=y`; example.com (no record) is the
    /// Organizational Domain, so the PSD's policy applies.
    #[test]
    fn a_psd_record_applies_when_the_organizational_domain_has_none() {
        let com = [rec("v=DMARC1; p=reject; psd=y")];
        let t = targets(&[
            "a.mail.example.com",
            "mail.example.com",
            "example.com",
            "com",
        ]);
        let walk = select(
            &t,
            &[
                Lookup::Records(&[]),
                Lookup::Records(&[]),
                Lookup::Records(&[]),
                Lookup::Records(&com),
            ],
        );
        assert_eq!(
            walk.outcome,
            Outcome::Inherited {
                step: 3,
                via: Via::PublicSuffixDomain
            }
        );
        // With a record at example.com, that one applies (§4.10.1 note: PSD policy is not used
        // for Organizational Domains that publish one).
        let org = [rec("v=DMARC1; p=none")];
        let walk = select(
            &t,
            &[
                Lookup::Records(&[]),
                Lookup::Records(&[]),
                Lookup::Records(&org),
                Lookup::Records(&com),
            ],
        );
        assert_eq!(
            walk.outcome,
            Outcome::Inherited {
                step: 2,
                via: Via::OrganizationalDomain
            }
        );
    }

    #[test]
    fn several_records_at_one_name_count_as_none() {
        let two = [rec("v=DMARC1; p=reject"), rec("v=DMARC1; p=none")];
        let t = targets(&["example.com", "com"]);
        let walk = select(&t, &[Lookup::Records(&two), Lookup::Records(&[])]);
        assert_eq!(walk.outcome, Outcome::Missing);
    }

    /// A repeated tag makes the tag-list invalid (RFC 6376 §3.2): the record is passed over as if
    /// the name had none, and the walk goes on.
    #[test]
    fn a_record_with_a_repeated_tag_counts_as_none() {
        let own = [rec("v=DMARC1; p=none; p=none")];
        let org = [rec("v=DMARC1; p=reject")];
        let t = targets(&["a.example.com", "example.com", "com"]);
        let walk = select(
            &t,
            &[
                Lookup::Records(&own),
                Lookup::Records(&org),
                Lookup::Records(&[]),
            ],
        );
        assert_eq!(
            walk.outcome,
            Outcome::Inherited {
                step: 1,
                via: Via::OrganizationalDomain
            }
        );
        let walk = select(
            &t,
            &[
                Lookup::Records(&own),
                Lookup::Records(&[]),
                Lookup::Records(&[]),
            ],
        );
        assert_eq!(walk.outcome, Outcome::Missing);
        let parent_discarded = [rec(
            "v=DMARC1; p=reject; rua=mailto:a@example.com; rua=mailto:b@example.com",
        )];
        let walk = select(
            &t,
            &[
                Lookup::Records(&[]),
                Lookup::Records(&parent_discarded),
                Lookup::Records(&[]),
            ],
        );
        assert_eq!(walk.outcome, Outcome::Missing);
    }

    /// §4.10.2: the Organizational Domain of a name, as report destinations need it.
    #[test]
    fn organizational_domains_come_from_the_tree_walk() {
        let t = targets(&["ops.split.example", "split.example", "example"]);
        let none: [Record; 0] = [];
        let own_n = [rec("v=DMARC1; p=reject; psd=n")];
        let parent = [rec("v=DMARC1; p=reject")];
        let org = |lookups: &[Lookup<'_>]| organizational_domain(&t, lookups);
        // psd=n at the name itself stops the walk there.
        assert_eq!(
            org(&[Lookup::Records(&own_n), Lookup::Failed, Lookup::Failed]),
            Ok("ops.split.example".to_owned())
        );
        // Otherwise the highest name with a record.
        assert_eq!(
            org(&[
                Lookup::Records(&parent),
                Lookup::Records(&parent),
                Lookup::Records(&none)
            ]),
            Ok("split.example".to_owned())
        );
        // No record anywhere: the name itself.
        assert_eq!(
            org(&[
                Lookup::Records(&none),
                Lookup::Records(&none),
                Lookup::Records(&none)
            ]),
            Ok("ops.split.example".to_owned())
        );
        // psd=y above: one label below it, record or not.
        let psd = [rec("v=DMARC1; p=reject; psd=y")];
        assert_eq!(
            org(&[
                Lookup::Records(&none),
                Lookup::Records(&none),
                Lookup::Records(&psd)
            ]),
            Ok("split.example".to_owned())
        );
        // A failure before the walk stops: unknown.
        assert_eq!(
            org(&[
                Lookup::Records(&none),
                Lookup::Failed,
                Lookup::Records(&none)
            ]),
            Err(1)
        );
    }

    #[test]
    fn a_failure_before_the_walk_stops_makes_the_policy_unknown_never_missing() {
        let t = targets(&["a.example.com", "example.com", "com"]);
        let walk = select(
            &t,
            &[Lookup::Failed, Lookup::Records(&[]), Lookup::Records(&[])],
        );
        assert_eq!(walk.outcome, Outcome::Failed { step: 0 });
        let walk = select(
            &t,
            &[Lookup::Records(&[]), Lookup::Failed, Lookup::Records(&[])],
        );
        assert_eq!(walk.outcome, Outcome::Failed { step: 1 });
        let org = [rec("v=DMARC1; p=reject")];
        let walk = select(
            &t,
            &[Lookup::Records(&[]), Lookup::Records(&org), Lookup::Failed],
        );
        assert_eq!(
            walk.outcome,
            Outcome::Failed { step: 2 },
            "a record at com could be the Organizational Domain"
        );
    }

    #[test]
    fn existence_comes_from_nxdomain_only() {
        let mx_records = Answer::Records {
            records: vec![],
            aliases: vec![],
        };
        assert_eq!(
            existence(&Answer::no_data(), &Answer::nx_domain()),
            Some(true)
        );
        assert_eq!(existence(&mx_records, &Answer::nx_domain()), Some(true));
        assert_eq!(
            existence(&Answer::nx_domain(), &Answer::nx_domain()),
            Some(false)
        );
        assert_eq!(
            existence(
                &Answer::Failed(crate::dns::Failure::Timeout),
                &Answer::nx_domain()
            ),
            None
        );
        assert_eq!(
            existence(
                &Answer::Failed(crate::dns::Failure::Timeout),
                &Answer::no_data()
            ),
            Some(true)
        );
    }
}
