//! The built-in selector list (`selectors.toml`) and the user's `--selector` names.
//!
//! DKIM selectors cannot be enumerated (RFC 6376 §3.1: the signer picks any name and puts it in
//! each signature's `s=`), so an audit without a signed message can only probe the names that
//! providers and signing software commonly use, plus those the user gives.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::dns::{MAX_NAME, QueryName, Syntax};

/// Where a probed selector came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The built-in list.
    BuiltIn,
    /// `--selector`.
    Given,
}

/// One selector to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub selector: String,
    pub source: Source,
    /// The provider that uses this selector, for built-in ones.
    pub provider: Option<String>,
}

#[derive(Default, Deserialize)]
struct File {
    selector: Vec<Entry>,
    /// How to tell that a provider sends a domain's mail.
    #[serde(default)]
    provider: Vec<Provider>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    provider: String,
}

/// A provider's MX hosts and SPF include domains: a domain whose MX or SPF names one of them
/// (or a name below it) has its mail sent by the provider. The PTR names of its sending IPs and
/// its own DKIM `d=` domains recognise its mail in DMARC aggregate reports; `dkim_records` or
/// `dkim_note` say how it signs as the customer's domain instead. The other fields make it a
/// profile of `mailaudit migrate` (one list of provider facts, not two): see selectors.toml.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Provider {
    pub name: String,
    /// The short name `migrate --to`/`--from` take.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub mx: Vec<String>,
    #[serde(default)]
    pub spf: Vec<String>,
    #[serde(default)]
    pub ptr: Vec<String>,
    #[serde(default)]
    pub dkim: Vec<String>,
    #[serde(default)]
    pub dkim_records: Vec<String>,
    #[serde(default)]
    pub dkim_note: Option<String>,
    /// The names the provider's DKIM CNAMEs point below.
    #[serde(default)]
    pub dkim_cname: Vec<String>,
    /// What turns DKIM signing on once the records are published.
    #[serde(default)]
    pub dkim_enable: Option<String>,
    /// The DKIM selectors it signs with (a profile of `--profiles`; the built-in ones are the
    /// `[[selector]]` entries naming the provider).
    #[serde(default)]
    pub selectors: Vec<String>,
    /// The MX records to publish (zone-file lines).
    #[serde(default)]
    pub mx_records: Vec<String>,
    /// The TXT record at the domain that proves it is the customer's.
    #[serde(default)]
    pub verification: Option<String>,
    /// Where mail clients submit: `host:port mode`.
    #[serde(default)]
    pub submission: Vec<String>,
    /// Mail-client set-up records (zone-file lines).
    #[serde(default)]
    pub autodiscover: Vec<String>,
    /// Where an on-premises server relays its outbound mail through the provider (a hybrid
    /// set-up): `host:port mode`, as `submission`.
    #[serde(default)]
    pub smart_host: Option<String>,
    /// What lets the on-premises server relay there (the provider's connector or relay setting).
    #[serde(default)]
    pub relay_setup: Option<String>,
    /// The provider's documentation.
    #[serde(default)]
    pub docs: Vec<String>,
}

/// What names a sending provider in a DMARC aggregate report row (RFC 7489 appendix C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// The PTR name of the source IP.
    Ptr,
    /// The SPF-authenticated domain (the MAIL FROM domain of the provider's bounces).
    Spf,
    /// A DKIM signature's `d=`.
    Dkim,
}

impl Provider {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `include:` to add to the customer's SPF record (RFC 7208 §5.2).
    pub fn spf_include(&self) -> Option<String> {
        self.spf.first().map(|domain| format!("include:{domain}"))
    }

    /// The DNS records (zone-file lines) that make the provider sign with `domain`'s own `d=`,
    /// DKIM-aligned for DMARC (RFC 7489 §3.1.1); `<...>` marks a value of the provider's console.
    pub fn dkim_records(&self, domain: &str) -> Vec<String> {
        self.dkim_records
            .iter()
            .map(|line| fill(line, domain))
            .collect()
    }

    /// How to publish the DKIM key when the provider gives a TXT key instead of CNAMEs.
    pub fn dkim_note(&self, domain: &str) -> Option<String> {
        self.dkim_note.as_deref().map(|note| fill(note, domain))
    }

    /// The DKIM selectors it signs with: its own list, else the built-in `[[selector]]`
    /// entries that name it.
    pub fn signing_selectors(&self) -> Vec<String> {
        if !self.selectors.is_empty() {
            return self.selectors.clone();
        }
        BUILT_IN
            .iter()
            .filter(|entry| entry.provider == self.name)
            .map(|entry| entry.name.clone())
            .collect()
    }
}

/// Fills a record template: `{domain}`, and `{domain_dashed}` (the domain with '-' for '.').
pub fn fill(template: &str, domain: &str) -> String {
    template
        .replace("{domain_dashed}", &domain.replace('.', "-"))
        .replace("{domain}", domain)
}

/// Whether `name` is `hint` or a name below it (DNS names compare case-insensitively).
pub fn is_under(name: &str, hint: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == hint || name.ends_with(&format!(".{hint}"))
}

/// The provider that `name` (a PTR name, an SPF domain or a DKIM `d=`, per `evidence`) belongs
/// to, if the built-in list knows it.
pub fn provider_of(evidence: Evidence, name: &str) -> Option<&'static Provider> {
    FILE.provider.iter().find(|provider| {
        let hints = match evidence {
            Evidence::Ptr => &provider.ptr,
            Evidence::Spf => &provider.spf,
            Evidence::Dkim => &provider.dkim,
        };
        hints.iter().any(|hint| is_under(name, hint))
    })
}

/// The providers of the built-in list.
pub fn providers() -> &'static [Provider] {
    &FILE.provider
}

/// The providers of a file of `[[provider]]` entries (the format of selectors.toml).
///
/// # Errors
/// The text is not TOML of that format.
pub fn parse_providers(text: &str) -> Result<Vec<Provider>, toml::de::Error> {
    #[derive(Deserialize)]
    struct Providers {
        #[serde(default)]
        provider: Vec<Provider>,
    }
    toml::from_str::<Providers>(text).map(|file| file.provider)
}

/// The provider named `name` in the built-in list.
pub fn provider_named(name: &str) -> Option<&'static Provider> {
    FILE.provider.iter().find(|provider| provider.name == name)
}

/// The built-in list, parsed once.
static FILE: LazyLock<File> = LazyLock::new(|| {
    // The file is part of the binary and checked by a unit test; an empty list is the only
    // sane fallback should it ever fail to parse.
    toml::from_str::<File>(include_str!("selectors.toml")).unwrap_or_default()
});
static BUILT_IN: LazyLock<&'static [Entry]> = LazyLock::new(|| FILE.selector.as_slice());

/// The providers whose MX hosts are among `mx_hosts` or whose SPF domains are among
/// `spf_domains` (the domain's MX exchanges, its SPF record's `include:` and `redirect=`
/// domains; each may be a name below the provider's), each once, in the list's order.
pub fn providers_named(mx_hosts: &[String], spf_domains: &[String]) -> Vec<String> {
    let under = is_under;
    FILE.provider
        .iter()
        .filter(|provider| {
            provider
                .mx
                .iter()
                .any(|hint| mx_hosts.iter().any(|host| under(host, hint)))
                || provider
                    .spf
                    .iter()
                    .any(|hint| spf_domains.iter().any(|domain| under(domain, hint)))
        })
        .map(|provider| provider.name.clone())
        .collect()
}

/// Moves the selectors of `providers` to the front, keeping the order otherwise; returns how
/// many there are.
pub fn providers_first(candidates: &mut [Candidate], providers: &[String]) -> usize {
    let of_provider = |c: &Candidate| c.provider.as_ref().is_some_and(|p| providers.contains(p));
    candidates.sort_by_key(|c| !of_provider(c));
    candidates.iter().filter(|c| of_provider(c)).count()
}

/// The selectors to probe: the user's first (in their order), then the built-in ones, each
/// name once. User names are lowercased: DNS names compare case-insensitively.
pub fn candidates(extra: &[String]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for name in extra {
        let selector = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if out.iter().any(|c| c.selector == selector) {
            continue;
        }
        let provider = BUILT_IN
            .iter()
            .find(|e| e.name == selector)
            .map(|e| e.provider.clone());
        out.push(Candidate {
            selector,
            source: Source::Given,
            provider,
        });
    }
    for entry in *BUILT_IN {
        if !out.iter().any(|c| c.selector == entry.name) {
            out.push(Candidate {
                selector: entry.name.clone(),
                source: Source::BuiltIn,
                provider: Some(entry.provider.clone()),
            });
        }
    }
    out
}

/// The longest selector that leaves room in a name (253 bytes, RFC 1035 §2.3.4 less the root's
/// dot) for `._domainkey.` and a one-label domain; whether `<selector>._domainkey.<domain>` fits
/// is checked again per domain.
const MAX_SELECTOR_BYTES: usize = MAX_NAME - "._domainkey.".len() - 1;

/// Whether `selector` can be asked as DNS labels (RFC 6376 §3.1: `selector = sub-domain *( "."
/// sub-domain )`; '_' is tolerated as in practice): each label 1 to 63 bytes of letters, digits,
/// '-' (not first or last) and '_', and the whole short enough to leave room for
/// `._domainkey.<domain>`. A name that fails is reported, not asked; the command line refuses it.
pub fn is_valid_selector(selector: &str) -> bool {
    // No trailing dot: a selector is the start of a name, never an absolute one.
    !selector.ends_with('.')
        && selector.len() <= MAX_SELECTOR_BYTES
        && QueryName::parse(selector, Syntax::Service).is_ok()
}

/// Whether `<selector>._domainkey.<domain>` fits in a DNS name (253 bytes without the root's
/// dot, RFC 1035 §2.3.4): a valid selector that does not fit is reported for that domain, not
/// asked.
pub fn fits_domain(selector: &str, domain: &str) -> bool {
    selector.len() + "._domainkey.".len() + domain.trim_end_matches('.').len() <= MAX_NAME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_list_parses_and_covers_the_common_providers() {
        let names: Vec<_> = BUILT_IN.iter().map(|e| e.name.as_str()).collect();
        for expected in [
            "selector1",
            "selector2",
            "google",
            "k1",
            "k2",
            "k3",
            "s1",
            "s2",
            "pdk1",
            "pdk2",
            "mte1",
            "mte2",
            "mandrill",
            "fm1",
            "fm2",
            "fm3",
            "protonmail",
            "protonmail2",
            "protonmail3",
            "zmail",
            "sig1",
            "default",
            "dkim",
            "mail",
            "smtp",
            "s1024",
            "s2048",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from selectors.toml"
            );
        }
        for entry in *BUILT_IN {
            assert!(is_valid_selector(&entry.name), "{}", entry.name);
            assert!(!entry.provider.is_empty(), "{} has no provider", entry.name);
        }
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "a selector is listed twice");
    }

    #[test]
    fn every_provider_hint_names_a_provider_of_the_list() {
        assert!(FILE.provider.len() >= 10);
        for provider in &FILE.provider {
            // A provider whose selectors cannot be guessed (Postmark's are dated) says how
            // its key is published instead.
            assert!(
                BUILT_IN.iter().any(|e| e.provider == provider.name)
                    || provider.dkim_note.is_some(),
                "{} has hints but no selector",
                provider.name
            );
            assert!(!provider.mx.is_empty() || !provider.spf.is_empty());
        }
    }

    #[test]
    fn report_evidence_names_providers_and_their_fixes() {
        let by = |evidence, name| provider_of(evidence, name).map(Provider::name);
        assert_eq!(
            by(Evidence::Ptr, "mail-o1.outbound.protection.outlook.com."),
            Some("Microsoft 365")
        );
        assert_eq!(by(Evidence::Spf, "em123.sendgrid.net"), Some("SendGrid"));
        assert_eq!(
            by(Evidence::Dkim, "contoso.onmicrosoft.com"),
            Some("Microsoft 365")
        );
        assert_eq!(by(Evidence::Dkim, "notsendgrid.net"), None);
        let microsoft = provider_named("Microsoft 365").unwrap();
        assert_eq!(
            microsoft.spf_include().as_deref(),
            Some("include:spf.protection.outlook.com")
        );
        assert_eq!(
            microsoft.dkim_records("example.co.uk")[0],
            "selector1._domainkey.example.co.uk. CNAME \
             selector1-example-co-uk._domainkey.<tenant>.onmicrosoft.com."
        );
        // Every provider says how it signs as the customer's domain.
        for provider in &FILE.provider {
            assert!(
                !provider.dkim_records.is_empty()
                    || provider.dkim_note.is_some()
                    || provider.name == "SendGrid (legacy)",
                "{}",
                provider.name
            );
        }
    }

    #[test]
    fn mx_hosts_and_spf_includes_name_their_providers() {
        let named = |mx: &[&str], spf: &[&str]| {
            let own = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
            providers_named(&own(mx), &own(spf))
        };
        assert_eq!(
            named(&["example-com.mail.protection.outlook.com"], &[]),
            ["Microsoft 365"]
        );
        assert_eq!(
            named(&["ASPMX.L.GOOGLE.COM."], &["servers.mcsv.net"]),
            ["Google Workspace", "Mailchimp"]
        );
        assert_eq!(
            named(&[], &["sendgrid.net"]),
            ["SendGrid", "SendGrid (legacy)"]
        );
        // A name that only ends like a provider's is not one of its names.
        assert!(named(&["notgoogle.com"], &["evilsendgrid.net"]).is_empty());
        assert!(named(&["mx.example.com"], &["_spf.example.com"]).is_empty());
    }

    #[test]
    fn the_named_providers_selectors_come_first_in_order() {
        let mut list = candidates(&[]);
        let moved = providers_first(&mut list, &["Google Workspace".to_owned()]);
        assert_eq!(moved, 1);
        assert_eq!(list[0].selector, "google");
        // The others keep their order.
        assert_eq!(list[1].selector, "selector1");
        assert_eq!(list[2].selector, "selector2");
        assert_eq!(list.len(), BUILT_IN.len());
        let mut list = candidates(&[]);
        assert_eq!(providers_first(&mut list, &["Mailchimp".to_owned()]), 3);
        let first: Vec<&str> = list[..3].iter().map(|c| c.selector.as_str()).collect();
        assert_eq!(first, ["k1", "k2", "k3"]);
    }

    #[test]
    fn given_selectors_come_first_lowercased_and_once() {
        let list = candidates(&[
            "Custom".to_owned(),
            "google".to_owned(),
            "custom".to_owned(),
        ]);
        assert_eq!(list[0].selector, "custom");
        assert_eq!(list[0].source, Source::Given);
        assert_eq!(list[1].selector, "google");
        assert_eq!(list[1].source, Source::Given);
        assert_eq!(list[1].provider.as_deref(), Some("Google Workspace"));
        assert_eq!(list.iter().filter(|c| c.selector == "google").count(), 1);
        assert_eq!(list.len(), BUILT_IN.len() + 1);
    }

    #[test]
    fn selectors_must_be_dns_labels() {
        assert!(is_valid_selector("s1.eu"));
        assert!(is_valid_selector("selector1-example-com"));
        assert!(is_valid_selector("_domainkey_style.s_1"));
        assert!(!is_valid_selector("bad selector"));
        assert!(!is_valid_selector("sél"));
        assert!(!is_valid_selector("-s1"));
        assert!(!is_valid_selector("s1."));
        assert!(!is_valid_selector(".s1"));
    }

    /// `--selector ''`: no label at all.
    #[test]
    fn an_empty_selector_is_invalid() {
        assert!(!is_valid_selector(""));
        assert!(!is_valid_selector("."));
    }

    /// `--selector a..b`: an empty label between two dots.
    #[test]
    fn a_selector_with_an_empty_label_is_invalid() {
        assert!(!is_valid_selector("a..b"));
        assert!(!is_valid_selector("a.b.."));
    }

    /// A 300-character selector: a label over 63 bytes, or labels that leave no room for
    /// `._domainkey.<domain>` in 253 bytes.
    #[test]
    fn a_selector_too_long_for_dns_is_invalid() {
        assert!(!is_valid_selector(&"s".repeat(300)));
        assert!(!is_valid_selector(&"s".repeat(64)));
        assert!(is_valid_selector(&"s".repeat(63)));
        // Five labels of 59 bytes: each a label, 299 bytes in all.
        let labels = vec!["s".repeat(59); 5].join(".");
        assert_eq!(labels.len(), 299);
        assert!(!is_valid_selector(&labels));
        // The longest that fits: 240 bytes, with "._domainkey." and a one-label domain.
        let longest = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(48)
        );
        assert_eq!(longest.len(), MAX_SELECTOR_BYTES);
        assert!(is_valid_selector(&longest));
        assert_eq!(format!("{longest}._domainkey.x").len(), 253);
        assert!(!is_valid_selector(&format!("{longest}e")));
        // Whether it fits is then a matter of the domain.
        assert!(fits_domain(&longest, "x"));
        assert!(!fits_domain(&longest, "example.com"));
        assert!(fits_domain("selector1", "example.com"));
    }
}
