//! Which parts of a text the HTML report makes links: web addresses (`http://`, `https://`) and
//! RFC references (`RFC 7489 §6.3`). Text in the report comes from DNS, written by strangers, so
//! a link is made only of an address that starts with one of those two schemes and holds no
//! character that could end an attribute or hide a second scheme: `javascript:`, `data:` or
//! `mailto:` text stays text. The link opens nothing by itself; the page's policy is unchanged.

/// A piece of text, and where it links to when it is a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub href: Option<String>,
}

impl Segment {
    fn text(text: &str) -> Segment {
        Segment {
            text: text.to_owned(),
            href: None,
        }
    }
}

/// `url` when it is a web address a link may point to: `http://` or `https://` (any case), a
/// host, and no whitespace, control character, quote, angle bracket or backslash.
pub fn web_url(url: &str) -> Option<String> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let host_present = rest
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|authority| !authority.is_empty());
    let clean = !url.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
    });
    (host_present && clean).then(|| url.to_owned())
}

/// The address of an RFC's text at the RFC Editor, at `section` when one is given.
fn rfc_url(number: &str, section: Option<&str>) -> String {
    match section {
        Some(section) => format!("https://www.rfc-editor.org/rfc/rfc{number}#section-{section}"),
        None => format!("https://www.rfc-editor.org/rfc/rfc{number}"),
    }
}

/// `text` cut into plain pieces and links: every web address ([`web_url`]) and every
/// `RFC NNNN` (with its ` §N.N` when it follows) becomes a link; the pieces joined give `text`
/// back unchanged.
pub fn linked(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut plain_start = 0;
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let found = web_link(rest).or_else(|| rfc_link(rest, text[..at].chars().next_back()));
        if let Some((len, href)) = found {
            if plain_start < at {
                segments.push(Segment::text(&text[plain_start..at]));
            }
            segments.push(Segment {
                text: rest[..len].to_owned(),
                href: Some(href),
            });
            at += len;
            plain_start = at;
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    if plain_start < text.len() {
        segments.push(Segment::text(&text[plain_start..]));
    }
    segments
}

/// A web address at the start of `rest`: its length and the address. It ends at whitespace or
/// a character no address holds unescaped; a final `.`, `,`, `;`, `:` or `)` is the sentence's.
fn web_link(rest: &str) -> Option<(usize, String)> {
    let head = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
    if !(head.starts_with("http://") || head.starts_with("https://")) {
        return None;
    }
    let end = rest
        .find(|c: char| {
            c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
        })
        .unwrap_or(rest.len());
    let url = rest[..end].trim_end_matches(['.', ',', ';', ':', ')']);
    web_url(url).map(|href| (url.len(), href))
}

/// `RFC NNNN` or `RFC NNNN §N.N` at the start of `rest` (not inside a word): its length and the
/// RFC Editor's address of it.
fn rfc_link(rest: &str, before: Option<char>) -> Option<(usize, String)> {
    if before.is_some_and(char::is_alphanumeric) {
        return None;
    }
    let number_part = rest.strip_prefix("RFC ")?;
    let digits = number_part
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(number_part.len());
    if !(1..=5).contains(&digits) {
        return None;
    }
    let number = &number_part[..digits];
    let mut len = 4 + digits;
    let mut section = None;
    if let Some(after) = number_part[digits..].strip_prefix(" §") {
        let section_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(after.len());
        let found = after[..section_len].trim_end_matches('.');
        if found.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            section = Some(found);
            len += " §".len() + found.len();
        }
    }
    Some((len, rfc_url(number, section)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(text: &str) -> Vec<(String, String)> {
        linked(text)
            .into_iter()
            .filter_map(|s| s.href.map(|h| (s.text, h)))
            .collect()
    }

    #[test]
    fn web_addresses_and_rfc_references_become_links_and_the_text_is_kept() {
        let text =
            "see https://rbl.example/remove?ip=192.0.2.1. It breaks RFC 7489 §6.3, and RFC 8020.";
        let joined: String = linked(text).into_iter().map(|s| s.text).collect();
        assert_eq!(joined, text);
        assert_eq!(
            links(text),
            [
                (
                    "https://rbl.example/remove?ip=192.0.2.1".to_owned(),
                    "https://rbl.example/remove?ip=192.0.2.1".to_owned()
                ),
                (
                    "RFC 7489 §6.3".to_owned(),
                    "https://www.rfc-editor.org/rfc/rfc7489#section-6.3".to_owned()
                ),
                (
                    "RFC 8020".to_owned(),
                    "https://www.rfc-editor.org/rfc/rfc8020".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn no_other_scheme_becomes_a_link() {
        for hostile in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "mailto:a@example.com",
            "vbscript:msgbox",
            "http:/no-host",
            "https://",
            "xhttps://example.com",
        ] {
            assert_eq!(web_url(hostile), None, "{hostile}");
            let linked_here = links(hostile);
            assert!(
                linked_here.iter().all(|(_, href)| href.starts_with("http")),
                "{hostile}: {linked_here:?}"
            );
        }
        // A quote ends the address: what follows cannot become an attribute.
        assert_eq!(
            links("https://a.example/x\"onclick=alert(1)"),
            [(
                "https://a.example/x".to_owned(),
                "https://a.example/x".to_owned()
            )]
        );
        assert_eq!(web_url("https://a.example/x y"), None);
        assert_eq!(links("XRFC 1234"), []);
    }
}
