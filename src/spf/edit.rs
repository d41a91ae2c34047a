//! Edits of an SPF record's terms: the one builder of the SPF records a fix proposes, for each
//! finding's own fix and for the merged record to publish ([`crate::publish`]).

use super::record::{Mechanism, Modifier, TermKind, parse_lenient};

/// `base` (a record's text; `None` for a name without one) with the terms of `remove` dropped
/// (a mechanism name such as `ptr`, or a whole term), its `all` replaced by `all` (or `all`
/// appended when it has none), and the terms of `add` inserted where they take effect, each
/// once. The version is written `v=spf1`.
pub fn apply(base: Option<&str>, add: &[String], remove: &[String], all: Option<&str>) -> String {
    let mut terms: Vec<String> = base
        .unwrap_or_default()
        .split(' ')
        .filter(|t| !t.is_empty())
        .skip(1)
        .filter(|t| !remove.iter().any(|r| matches_term(t, r)))
        .map(ToOwned::to_owned)
        .collect();
    if let Some(all) = all {
        match terms.iter().position(|t| is_all(t)) {
            Some(at) => {
                all.clone_into(&mut terms[at]);
                // Nothing after the first `all` is evaluated (RFC 7208 §5.1).
                terms.truncate(at + 1);
            }
            None => terms.push(all.to_owned()),
        }
    }
    for term in add {
        if !terms.iter().any(|t| t.eq_ignore_ascii_case(term)) {
            insert(&mut terms, term);
        }
    }
    if terms.is_empty() {
        return "v=spf1".to_owned();
    }
    format!("v=spf1 {}", terms.join(" "))
}

/// `base` (as [`apply`] takes it, with its `all` replaced by `all`) with the terms of `add`
/// first, each once: `ip4:`/`ip6:` terms cost no DNS lookup, and first they match before any
/// lookup can pass the limit of 10 (RFC 7208 §4.6.4).
pub fn apply_first(base: Option<&str>, add: &[String], all: Option<&str>) -> String {
    let record = apply(base, &[], &[], all);
    let mut terms: Vec<&str> = record.split(' ').skip(1).collect();
    let mut new: Vec<&str> = Vec::new();
    for term in add {
        if !terms
            .iter()
            .chain(&new)
            .any(|t| t.eq_ignore_ascii_case(term))
        {
            new.push(term);
        }
    }
    terms.splice(0..0, new);
    if terms.is_empty() {
        return "v=spf1".to_owned();
    }
    format!("v=spf1 {}", terms.join(" "))
}

/// One record from several: every term once, `all` and `redirect` left out and the first
/// record's `all` (or `~all`) put last.
pub fn merge(records: &[String]) -> String {
    let mut terms: Vec<String> = Vec::new();
    let mut all = None;
    for text in records {
        let (record, _) = parse_lenient(text);
        for term in &record.terms {
            match &term.kind {
                TermKind::Directive(d) if d.mechanism == Mechanism::All => {
                    all.get_or_insert_with(|| term.text.clone());
                }
                TermKind::Modifier(Modifier::Redirect { .. }) => {}
                _ => {
                    if !terms.iter().any(|t| t.eq_ignore_ascii_case(&term.text)) {
                        terms.push(term.text.clone());
                    }
                }
            }
        }
    }
    terms.push(all.unwrap_or_else(|| "~all".to_owned()));
    format!("v=spf1 {}", terms.join(" "))
}

/// Inserts `term` where it takes effect: before the first `all` (nothing after it is
/// evaluated, RFC 7208 §5.1), else before `redirect=` (for readability: mechanisms are always
/// evaluated first, §6.1), else at the end.
fn insert(terms: &mut Vec<String>, term: &str) {
    let at = terms
        .iter()
        .position(|t| is_all(t))
        .or_else(|| terms.iter().position(|t| name_of(t) == "redirect"))
        .unwrap_or(terms.len());
    terms.insert(at, term.to_owned());
}

fn is_all(term: &str) -> bool {
    name_of(term) == "all" && !term.contains([':', '/', '='])
}

/// A term's mechanism or modifier name, lowercase, without its qualifier.
fn name_of(term: &str) -> String {
    let body = term.trim_start_matches(['+', '-', '~', '?']);
    body.split([':', '/', '='])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Whether `term` is what `removed` names: the term itself, or any term of that mechanism.
fn matches_term(term: &str, removed: &str) -> bool {
    term.eq_ignore_ascii_case(removed) || name_of(term) == removed.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::{apply, apply_first};

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn addresses_go_first_each_once() {
        let ips = strings(&["ip4:192.0.2.9", "ip6:2001:db8::9", "ip4:192.0.2.9"]);
        assert_eq!(
            apply_first(Some("v=spf1 mx include:_spf.example.com -all"), &ips, None),
            "v=spf1 ip4:192.0.2.9 ip6:2001:db8::9 mx include:_spf.example.com -all"
        );
        assert_eq!(
            apply_first(Some("v=spf1 IP4:192.0.2.9 -all"), &ips[..1], None),
            "v=spf1 IP4:192.0.2.9 -all"
        );
        assert_eq!(
            apply_first(None, &ips[..1], Some("~all")),
            "v=spf1 ip4:192.0.2.9 ~all"
        );
    }

    #[test]
    fn terms_are_added_before_all_and_redirect_removed_by_name_and_all_replaced() {
        let add = |base: &str, term: &str| apply(Some(base), &strings(&[term]), &[], None);
        assert_eq!(
            add("v=spf1 mx -all", "ip4:192.0.2.9"),
            "v=spf1 mx ip4:192.0.2.9 -all"
        );
        assert_eq!(
            add("v=spf1 mx redirect=_spf.example.com", "ip4:192.0.2.9"),
            "v=spf1 mx ip4:192.0.2.9 redirect=_spf.example.com"
        );
        assert_eq!(add("v=spf1", "ip4:192.0.2.9"), "v=spf1 ip4:192.0.2.9");
        assert_eq!(
            add("v=spf1 IP4:192.0.2.9 -all", "ip4:192.0.2.9"),
            "v=spf1 IP4:192.0.2.9 -all"
        );
        assert_eq!(
            apply(
                Some("v=spf1 ptr ip4:192.0.2.0/24 -all"),
                &[],
                &strings(&["ptr"]),
                None
            ),
            "v=spf1 ip4:192.0.2.0/24 -all"
        );
        assert_eq!(
            apply(Some("v=spf1 ip4:192.0.2.0/24 +all"), &[], &[], Some("~all")),
            "v=spf1 ip4:192.0.2.0/24 ~all"
        );
        assert_eq!(
            apply(Some("v=spf1 ip4:192.0.2.0/24"), &[], &[], Some("~all")),
            "v=spf1 ip4:192.0.2.0/24 ~all"
        );
        assert_eq!(
            apply(None, &strings(&["ip4:192.0.2.9"]), &[], Some("~all")),
            "v=spf1 ip4:192.0.2.9 ~all"
        );
    }
}
