//! The findings an SPF tree gives: a pure function of the walked tree and the TXT answer at the
//! domain, so that every rule is tested without DNS.

use serde_json::json;

use super::edit;
use super::record::{Qualifier, Record, SyntaxError};
use super::tree::{
    LOOKUP_LIMIT, MX_LIMIT, Node, NodeStatus, Resolution, TermTrace, VOID_LIMIT, Via, Visit,
    txt_reply_size,
};
use crate::dns::{Answer, Txt};
use crate::finding::{Code, Finding};
use crate::publish::{Change, Edit, Kind};

/// A record longer than this risks not fitting a UDP reply beside other TXT records (§3.4).
pub const RECORD_SIZE_LIMIT: usize = 450;
/// The classic DNS UDP payload (RFC 1035 §4.2.1); larger replies need EDNS or TCP (§3.4).
pub const UDP_REPLY_LIMIT: usize = 512;
/// From this many DNS-querying terms on, one more provider include breaks the limit.
pub const NEAR_LIMIT: usize = 8;

/// Every finding of the SPF area for `domain`, given its walked tree and its TXT answer.
pub fn findings(domain: &str, root: &Node, txt: &Answer<Txt>) -> Vec<Finding> {
    let mut out = Vec::new();
    match root.status {
        NodeStatus::Failed => {
            out.push(lookup_failed_txt(root, &[domain]));
            return out;
        }
        NodeStatus::Missing => {
            out.push(missing(domain, root, txt));
            return out;
        }
        NodeStatus::MultipleRecords => {
            out.push(multiple(root, &[domain]));
            return out;
        }
        _ => {}
    }
    for visit in root.nodes() {
        node_findings(&visit, &mut out);
    }
    effective_all(domain, root, &mut out);
    lookup_limit(domain, root, &mut out);
    void_limit(domain, root, &mut out);
    too_long(domain, root, txt, &mut out);
    out
}

fn chain_text(chain: &[&str]) -> String {
    chain.join(" → ")
}

/// The parent's domain, for a node reached by include or redirect.
fn parent<'c>(chain: &[&'c str]) -> &'c str {
    chain.len().checked_sub(2).map_or("", |i| chain[i])
}

fn node_findings(visit: &Visit<'_>, out: &mut Vec<Finding>) {
    let (chain, node) = (visit.chain.as_slice(), visit.node);
    if let Some(parent) = visit.parent {
        match node.status {
            NodeStatus::Missing => out.push(include_missing(chain, node).with_holder(parent)),
            NodeStatus::MultipleRecords => out.push(multiple(node, chain)),
            NodeStatus::Failed => out.push(lookup_failed_txt(node, chain).with_holder(parent)),
            NodeStatus::Loop => out.push(looped(chain, node).with_holder(parent)),
            _ => {}
        }
    }
    if node.status == NodeStatus::SyntaxError {
        out.push(syntax(chain, node));
    }
    for trace in &node.terms {
        if trace.failed {
            out.push(lookup_failed_term(chain, node, trace).with_holder(node));
        }
        if trace.mx_count.is_some_and(|n| n > MX_LIMIT) {
            out.push(mx_limit(chain, node, trace).with_holder(node));
        }
        if trace.qualifier == Qualifier::Pass
            && trace.mechanism == "include"
            && let Some(child) = node.child_of(trace)
            && let Some(all) = passing_all(child)
        {
            out.push(include_passes_all(chain, node, trace, &all).with_holder(node));
        }
    }
    let ptrs: Vec<&TermTrace> = node.terms.iter().filter(|t| t.mechanism == "ptr").collect();
    if !ptrs.is_empty() {
        out.push(ptr(chain, node, &ptrs));
    }
}

fn missing(domain: &str, root: &Node, txt: &Answer<Txt>) -> Finding {
    let others: Vec<String> = txt.records().iter().map(Txt::joined).collect();
    let message = match txt {
        Answer::NxDomain { .. } => {
            format!("{domain} does not exist (NXDOMAIN), so it has no SPF record")
        }
        _ if others.is_empty() => format!("No SPF record at {domain}: it has no TXT records"),
        _ => format!(
            "No SPF record at {domain}: none of its {} TXT record(s) starts with v=spf1",
            others.len()
        ),
    };
    Finding::new(Code::SpfMissing, message)
        .fix(format!(
            "Publish one TXT record at {domain} listing every server and provider that sends its \
             mail, e.g. \"v=spf1 mx include:<your provider's SPF domain> ~all\"; if {domain} \
             sends no mail, publish \"v=spf1 -all\""
        ))
        .evidence("name", domain)
        .evidence("type", "TXT")
        .evidence("answer", root.dns.as_deref().unwrap_or_default())
        .evidence("txt", others)
}

fn multiple(node: &Node, chain: &[&str]) -> Finding {
    let domain = &node.domain;
    let merged = edit::merge(&node.records);
    let (message, fix) = if node.via == Via::Root {
        (
            format!(
                "{domain} has {} SPF records: receivers return permerror and SPF fails (§4.5)",
                node.records.len()
            ),
            format!(
                "Replace them with one TXT record at {domain} holding every mechanism once: \
                 \"{merged}\""
            ),
        )
    } else {
        (
            format!(
                "{domain}, included by {}, has {} SPF records: the include gives permerror (§4.5)",
                parent(chain),
                node.records.len()
            ),
            format!(
                "Ask the owner of {domain} to publish one record (e.g. \"{merged}\"), or remove \
                 `{}` from the record at {}",
                node.term.as_deref().unwrap_or_default(),
                parent(chain)
            ),
        )
    };
    let finding = Finding::new(Code::SpfMultipleRecords, message).fix(fix);
    let finding = if node.via == Via::Root {
        finding.change(Change::new(
            domain,
            Kind::Spf,
            node.records.first().map(String::as_str),
            Edit::whole(merged),
        ))
    } else {
        finding
    };
    finding
        .evidence("name", domain)
        .evidence("records", &node.records)
        .evidence("chain", chain)
}

fn syntax(chain: &[&str], node: &Node) -> Finding {
    let domain = &node.domain;
    let first = &node.diagnostics[0];
    let more = match node.diagnostics.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    let record = node.record.as_deref().unwrap_or_default();
    let correction = corrected(node.parsed.as_ref(), &node.diagnostics);
    let change = (node.via == Via::Root).then(|| {
        Change::new(
            domain,
            Kind::Spf,
            node.record.as_deref(),
            Edit::whole(correction.clone()),
        )
    });
    let (message, fix) = if node.via == Via::Root {
        (
            format!("The SPF record of {domain} does not parse: {first}{more}"),
            format!(
                "Publish this corrected record at {domain}: \"{correction}\" ({})",
                removed_note(&node.diagnostics)
            ),
        )
    } else {
        (
            format!(
                "The SPF record of {domain}, reached from {}, does not parse: {first}{more}; the \
                 whole check gives permerror",
                parent(chain)
            ),
            format!(
                "Ask the owner of {domain} to correct {}, or remove `{}` from the record at {}",
                node.diagnostics
                    .iter()
                    .map(|e| format!("`{}`", e.term))
                    .collect::<Vec<_>>()
                    .join(", "),
                node.term.as_deref().unwrap_or_default(),
                parent(chain)
            ),
        )
    };
    let finding = Finding::new(Code::SpfSyntax, message)
        .fix(fix)
        .evidence("name", domain)
        .evidence("record", record)
        .evidence("errors", &node.diagnostics)
        .evidence("chain", chain);
    match change {
        Some(change) => finding.change(change),
        None => finding,
    }
}

/// The record with each bad term replaced by its obvious correction, or dropped.
fn corrected(parsed: Option<&Record>, errors: &[SyntaxError]) -> String {
    let mut terms: Vec<(usize, &str)> = parsed
        .map(|r| {
            r.terms
                .iter()
                .map(|t| (t.offset, t.text.as_str()))
                .collect()
        })
        .unwrap_or_default();
    terms.extend(
        errors
            .iter()
            .filter_map(|e| e.suggestion.as_deref().map(|s| (e.offset, s))),
    );
    terms.sort_by_key(|&(offset, _)| offset);
    let mut text = "v=spf1".to_owned();
    for (_, term) in terms {
        text.push(' ');
        text.push_str(term);
    }
    text
}

fn removed_note(errors: &[SyntaxError]) -> String {
    let removed: Vec<String> = errors
        .iter()
        .filter(|e| e.suggestion.is_none())
        .map(|e| format!("`{}`", e.term))
        .collect();
    if removed.is_empty() {
        "each bad term replaced by its correction".to_owned()
    } else {
        format!(
            "{} removed: add back what it meant in a valid form",
            removed.join(", ")
        )
    }
}

fn include_missing(chain: &[&str], node: &Node) -> Finding {
    let term = node.term.as_deref().unwrap_or_default();
    let answer = node.dns.as_deref().unwrap_or_default();
    let why = match answer {
        "nxdomain" => "the name does not exist".to_owned(),
        "nodata" => "the name has no TXT records".to_owned(),
        "invalid-name" => "it is not a valid DNS name".to_owned(),
        _ => "none of its TXT records starts with v=spf1".to_owned(),
    };
    Finding::new(
        Code::SpfIncludeMissing,
        format!(
            "`{term}` in the SPF record of {} points to {}, which has no SPF record ({why}): \
             receivers return permerror",
            parent(chain),
            node.domain
        ),
    )
    .fix(format!(
        "Remove `{term}` from the record at {}, or replace it with the SPF domain your provider \
         documents today",
        parent(chain)
    ))
    .evidence("name", &node.domain)
    .evidence("type", "TXT")
    .evidence("answer", answer)
    .evidence("term", term)
    .evidence("chain", chain)
}

fn lookup_failed_txt(node: &Node, chain: &[&str]) -> Finding {
    let answer = node.dns.as_deref().unwrap_or_default();
    let message = if node.via == Via::Root {
        format!(
            "The TXT lookup for {} failed ({answer}): the SPF result is unknown (temperror)",
            node.domain
        )
    } else {
        format!(
            "The TXT lookup for {} (from `{}` in {}) failed ({answer}): receivers get temperror \
             and may defer or reject mail",
            node.domain,
            node.term.as_deref().unwrap_or_default(),
            parent(chain)
        )
    };
    Finding::new(Code::SpfLookupFailed, message)
        .fix(format!(
            "Make the name servers of {} answer TXT queries (every NS listed for the zone must \
             respond; check DNSSEC if the zone is signed), then audit again",
            node.domain
        ))
        .evidence("name", &node.domain)
        .evidence("type", "TXT")
        .evidence("answer", answer)
        .evidence("chain", chain)
}

fn lookup_failed_term(chain: &[&str], node: &Node, trace: &TermTrace) -> Finding {
    let target = trace.target.as_deref().unwrap_or_default();
    let kind = match trace.mechanism {
        "mx" => "MX (or MX host address)",
        "exists" => "A",
        _ => "A/AAAA",
    };
    let failed_hosts: Vec<&str> = trace
        .mx_hosts
        .iter()
        .filter(|h| !matches!(h.dns.as_str(), "records" | "nodata" | "nxdomain"))
        .map(|h| h.exchange.as_str())
        .collect();
    Finding::new(
        Code::SpfLookupFailed,
        format!(
            "The {kind} lookup for {target} (`{}` in the SPF record of {}) failed ({}): receivers \
             get temperror",
            trace.term,
            node.domain,
            trace.dns.as_deref().unwrap_or_default()
        ),
    )
    .fix(format!(
        "Make the name servers of {target} answer, or replace `{}` with ip4:/ip6: ranges",
        trace.term
    ))
    .evidence("name", target)
    .evidence("term", &trace.term)
    .evidence("answer", trace.dns.as_deref().unwrap_or_default())
    .evidence("failed_hosts", failed_hosts)
    .evidence("chain", chain)
}

fn looped(chain: &[&str], node: &Node) -> Finding {
    let term = node.term.as_deref().unwrap_or_default();
    Finding::new(
        Code::SpfLoop,
        format!(
            "`{term}` in the SPF record of {} leads back to {}, already on the chain {}: \
             check_host never ends and receivers return permerror",
            parent(chain),
            node.domain,
            chain_text(chain)
        ),
    )
    .fix(format!(
        "Remove `{term}` from the record at {}",
        parent(chain)
    ))
    .evidence("name", &node.domain)
    .evidence("term", term)
    .evidence("chain", chain)
}

fn mx_limit(chain: &[&str], node: &Node, trace: &TermTrace) -> Finding {
    let target = trace.target.as_deref().unwrap_or_default();
    let count = trace.mx_count.unwrap_or_default();
    let ranges: Vec<String> = trace
        .mx_hosts
        .iter()
        .flat_map(|h| &h.addresses)
        .map(|ip| match ip {
            std::net::IpAddr::V4(v4) => format!("ip4:{v4}"),
            std::net::IpAddr::V6(v6) => format!("ip6:{v6}"),
        })
        .collect();
    Finding::new(
        Code::SpfMxLimit,
        format!(
            "`{}` in the SPF record of {} names {target}, which has {count} MX records: \
             check_host evaluates at most {MX_LIMIT} and returns permerror (§4.6.4)",
            trace.term, node.domain
        ),
    )
    .fix(format!(
        "Replace `{}` with the sending addresses of the mail servers as ip4:/ip6: terms{}",
        trace.term,
        if ranges.is_empty() {
            String::new()
        } else {
            format!(
                " (those of the first {MX_LIMIT} hosts: {})",
                ranges.join(" ")
            )
        }
    ))
    .evidence("name", target)
    .evidence("term", &trace.term)
    .evidence("mx_count", count)
    .evidence("mx_hosts", &trace.mx_hosts)
    .evidence("chain", chain)
}

fn ptr(chain: &[&str], node: &Node, ptrs: &[&TermTrace]) -> Finding {
    let terms: Vec<&str> = ptrs.iter().map(|t| t.term.as_str()).collect();
    // Not a record to publish: what `ptr` covered must be added by hand (ip4:/ip6:), or mail
    // from those servers fails.
    let fix = if node.via == Via::Root {
        let record = edit::apply(node.record.as_deref(), &[], &["ptr".to_owned()], None);
        format!(
            "Replace `{}` with ip4:/ip6: terms for the servers it was meant to cover, i.e. \
             publish \"{record}\" plus those terms",
            terms.join(" ")
        )
    } else {
        format!(
            "Ask the owner of {} to drop `{}` in favour of ip4:/ip6: terms",
            node.domain,
            terms.join(" ")
        )
    };
    Finding::new(
        Code::SpfPtr,
        format!(
            "The SPF record of {} uses `{}`: slow, unreliable, and receivers may skip it (§5.5: \
             SHOULD NOT be used)",
            node.domain,
            terms.join(" ")
        ),
    )
    .fix(fix)
    .evidence("name", &node.domain)
    .evidence("record", node.record.as_deref().unwrap_or_default())
    .evidence("terms", terms)
    .evidence("chain", chain)
}

/// The `all` term that makes a node pass every sender: `+all`/`all` in its record, or in the
/// record it redirects to when it has no `all`. Returns (domain, term).
fn passing_all(node: &Node) -> Option<(String, String)> {
    let (_, end) = effective_end(node);
    match end {
        End::All(owner, term, Qualifier::Pass) => Some((owner.domain.clone(), term)),
        _ => None,
    }
}

enum End<'n> {
    /// The `all` that ends evaluation: the node that holds it, its text, its qualifier.
    All(&'n Node, String, Qualifier),
    /// No `all` and no usable redirect: the default result, neutral (§4.7).
    NoAll(&'n Node),
    /// The redirect chain ends in a missing, failed or looping record, reported elsewhere.
    Broken,
}

/// Follows redirects from `node` (only taken when a record has no `all`) to the `all` that
/// decides the result for a sender no mechanism matched. Returns the redirect chain too.
fn effective_end(node: &Node) -> (Vec<&str>, End<'_>) {
    let mut chain = vec![node.domain.as_str()];
    let mut current = node;
    loop {
        // A record that does not parse gives permerror before any `all` is reached.
        if current.status != NodeStatus::Ok {
            return (chain, End::Broken);
        }
        let Some(parsed) = &current.parsed else {
            return (chain, End::Broken);
        };
        if let Some((term, qualifier)) = parsed.all() {
            return (chain, End::All(current, term.text.clone(), qualifier));
        }
        let redirect = current
            .terms
            .iter()
            .find(|t| t.mechanism == "redirect" && t.resolution == Resolution::Child);
        match redirect.and_then(|t| current.child_of(t)) {
            Some(next) => {
                chain.push(&next.domain);
                current = next;
            }
            None if parsed.redirect().is_some() => return (chain, End::Broken),
            None => return (chain, End::NoAll(current)),
        }
    }
}

fn include_passes_all(
    chain: &[&str],
    node: &Node,
    trace: &TermTrace,
    (owner, all): &(String, String),
) -> Finding {
    Finding::new(
        Code::SpfPassAll,
        format!(
            "`{}` in the SPF record of {} includes a record that ends in `{all}` (at {owner}): any \
             server on the internet passes SPF through it",
            trace.term, node.domain
        ),
    )
    .fix(format!(
        "Remove `{}` from the record at {}, or have the owner of {owner} replace `{all}` with \
         `~all`",
        trace.term, node.domain
    ))
    .evidence("name", &node.domain)
    .evidence("term", &trace.term)
    .evidence("included", owner)
    .evidence("all", all)
    .evidence("chain", chain)
}

/// pass-all, neutral-all and no-all, judged on the `all` that ends evaluation for `domain`.
fn effective_all(domain: &str, root: &Node, out: &mut Vec<Finding>) {
    let (chain, end) = effective_end(root);
    let via = if chain.len() > 1 {
        format!(" (reached by redirect: {})", chain_text(&chain))
    } else {
        String::new()
    };
    let (owner, code, message, all_term) = match end {
        End::All(owner, term, Qualifier::Pass) => (
            owner,
            Code::SpfPassAll,
            format!(
                "The SPF record of {} ends in `{term}`{via}: any server on the internet passes \
                 SPF for {domain}",
                owner.domain
            ),
            Some(term),
        ),
        End::All(owner, term, Qualifier::Neutral) => (
            owner,
            Code::SpfNeutralAll,
            format!(
                "The SPF record of {} ends in `{term}`{via}: mail from any other server gets \
                 neutral, which receivers treat as no SPF at all",
                owner.domain
            ),
            Some(term),
        ),
        End::NoAll(owner) => (
            owner,
            Code::SpfNoAll,
            format!(
                "The SPF record of {} has no `all` and no `redirect=`{via}: mail from any other \
                 server gets the default result, neutral (§4.7)",
                owner.domain
            ),
            None,
        ),
        End::All(..) | End::Broken => return,
    };
    let record = owner.record.as_deref().unwrap_or_default();
    let change = Change::new(
        &owner.domain,
        Kind::Spf,
        owner.record.as_deref(),
        Edit {
            all: Some("~all".to_owned()),
            ..Edit::default()
        },
    );
    let mut finding = Finding::new(code, message)
        .fix(format!(
            "Publish at {}: \"{}\" (and `-all` once every sender is listed)",
            owner.domain,
            change.record()
        ))
        .evidence("name", &owner.domain)
        .evidence("record", record);
    if let Some(term) = all_term {
        finding = finding.evidence("all", term);
    }
    finding = finding.evidence("chain", &chain);
    // A record reached by redirect is another domain's: not one this domain publishes.
    if chain.len() == 1 {
        finding = finding.change(change);
    }
    out.push(finding);
}

/// The limit of [`LOOKUP_LIMIT`] DNS-querying terms over the whole tree (§4.6.4).
fn lookup_limit(domain: &str, root: &Node, out: &mut Vec<Finding>) {
    let total = root.subtree_lookups;
    let costs: Vec<serde_json::Value> = root
        .terms
        .iter()
        .filter(|t| t.lookups > 0)
        .map(|t| {
            let cost = t.lookups + root.child_of(t).map_or(0, |c| c.subtree_lookups);
            json!({"term": t.term, "lookups": cost})
        })
        .collect();
    let mut costly: Vec<(&str, usize)> = root
        .terms
        .iter()
        .filter(|t| t.lookups > 0)
        .map(|t| {
            (
                t.term.as_str(),
                t.lookups + root.child_of(t).map_or(0, |c| c.subtree_lookups),
            )
        })
        .collect();
    costly.sort_by_key(|&(_, cost)| std::cmp::Reverse(cost));
    let costly_text = costly
        .iter()
        .take(4)
        .map(|(term, n)| format!("`{term}` costs {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if total > LOOKUP_LIMIT {
        out.push(
            Finding::new(
                Code::SpfLookupLimit,
                format!(
                    "The SPF record of {domain} needs {total} DNS lookups, over the limit of \
                     {LOOKUP_LIMIT}: receivers return permerror and SPF fails (§4.6.4)"
                ),
            )
            .fix(format!(
                "Cut it to {LOOKUP_LIMIT} or fewer: replace `a`/`mx` with ip4:/ip6: ranges of \
                 your own servers, drop includes of providers you no longer use, remove `ptr` \
                 ({costly_text})"
            ))
            .evidence("name", domain)
            .evidence("record", root.record.as_deref().unwrap_or_default())
            .evidence("lookups", total)
            .evidence("limit", LOOKUP_LIMIT)
            .evidence("costs", costs),
        );
    } else if total >= NEAR_LIMIT {
        out.push(
            Finding::new(
                Code::SpfLookupNearLimit,
                format!(
                    "The SPF record of {domain} needs {total} of the {LOOKUP_LIMIT} DNS lookups \
                     allowed: one more provider include can break SPF (§4.6.4)"
                ),
            )
            .fix(format!(
                "Make room before adding a sender: replace `a`/`mx` with ip4:/ip6: ranges and \
                 drop includes no longer used ({costly_text})"
            ))
            .evidence("name", domain)
            .evidence("record", root.record.as_deref().unwrap_or_default())
            .evidence("lookups", total)
            .evidence("limit", LOOKUP_LIMIT)
            .evidence("costs", costs),
        );
    }
}

/// More than [`VOID_LIMIT`] void lookups over the whole tree (§4.6.4).
fn void_limit(domain: &str, root: &Node, out: &mut Vec<Finding>) {
    let voids = root.total_void_lookups();
    if voids > VOID_LIMIT {
        let mut terms = Vec::new();
        for Visit { chain, node, .. } in root.nodes() {
            for trace in node.terms.iter().filter(|t| t.void) {
                terms.push(json!({"record_of": node.domain, "term": trace.term,
                    "name": trace.target, "answer": trace.dns, "chain": chain}));
            }
            if node.via != Via::Root
                && node.void_lookups > node.terms.iter().filter(|t| t.void).count()
            {
                terms.push(json!({"record_of": parent(&chain), "term": node.term,
                    "name": node.domain, "answer": node.dns, "chain": chain}));
            }
        }
        let list = terms
            .iter()
            .filter_map(|t| t["term"].as_str().map(|s| format!("`{s}`")))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            Finding::new(
                Code::SpfVoidLookupLimit,
                format!(
                    "The SPF record of {domain} makes {voids} lookups of names that do not exist \
                     or have no records, over the limit of {VOID_LIMIT}: receivers return \
                     permerror (§4.6.4)"
                ),
            )
            .fix(format!("Remove the terms whose names are gone: {list}"))
            .evidence("name", domain)
            .evidence("void_lookups", voids)
            .evidence("limit", VOID_LIMIT)
            .evidence("void_terms", terms),
        );
    }
}

/// §3.4: a record over 450 bytes, or a TXT reply over 512 bytes, may not fit UDP.
fn too_long(domain: &str, root: &Node, txt: &Answer<Txt>, out: &mut Vec<Finding>) {
    let Some(record) = &root.record else { return };
    let bytes = txt
        .records()
        .iter()
        .map(Txt::joined_bytes)
        .find(|b| String::from_utf8_lossy(b) == record.as_str())
        .map_or(record.len(), |b| b.len());
    let reply = txt_reply_size(domain, txt.records());
    if bytes <= RECORD_SIZE_LIMIT && reply <= UDP_REPLY_LIMIT {
        return;
    }
    let why = if bytes > RECORD_SIZE_LIMIT {
        format!("the record is {bytes} bytes, over {RECORD_SIZE_LIMIT}")
    } else {
        format!(
            "with the other TXT records at {domain}, the reply is {reply} bytes, over the \
             {UDP_REPLY_LIMIT} of a plain UDP reply"
        )
    };
    out.push(
        Finding::new(
            Code::SpfTooLong,
            format!(
                "The SPF record of {domain} is too long: {why}; receivers without EDNS or TCP may \
             not get it (§3.4)"
            ),
        )
        .fix(format!(
            "Shorten it: merge ip4:/ip6: addresses into CIDR ranges, or move ranges into a record \
         at a subdomain (e.g. _spf1.{domain}) and reference it with include:_spf1.{domain}"
        ))
        .evidence("name", domain)
        .evidence("record", record)
        .evidence("record_bytes", bytes)
        .evidence("reply_bytes", reply),
    );
}

/// Evidence naming the record that holds the term a finding is about.
trait WithHolder {
    fn with_holder(self, holder: &Node) -> Self;
}

impl WithHolder for Finding {
    fn with_holder(self, holder: &Node) -> Finding {
        self.evidence("record_of", &holder.domain)
            .evidence("record", holder.record.as_deref().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spf::record::parse_lenient;

    #[test]
    fn multiple_records_merge_into_one_with_each_term_once_and_all_last() {
        let merged = edit::merge(&[
            "v=spf1 ip4:192.0.2.0/24 -all".to_owned(),
            "v=spf1 include:_spf.example.net IP4:192.0.2.0/24 ~all redirect=x.example".to_owned(),
        ]);
        assert_eq!(
            merged,
            "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all"
        );
        assert_eq!(edit::merge(&["v=spf1 mx".to_owned()]), "v=spf1 mx ~all");
    }

    #[test]
    fn the_corrected_record_applies_suggestions_and_drops_what_has_none() {
        let text = "v=spf1 ip4:192.0.2.300 redirect:_spf.example.com mx -all.";
        let (record, errors) = parse_lenient(text);
        assert_eq!(
            corrected(Some(&record), &errors),
            "v=spf1 redirect=_spf.example.com mx -all"
        );
        assert!(removed_note(&errors).contains("`ip4:192.0.2.300` removed"));
    }
}
