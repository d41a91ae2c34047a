//! Just enough of an HTML tokenizer to read a serialized DOM: the elements with their
//! attributes, and the text a reader sees. It reads what Chromium's `--dump-dom` prints (and the
//! report file itself), where text is escaped (`&lt;`) and every real `<` starts markup.

/// One start tag: its name (lowercase) and attributes (names lowercase, values decoded).
#[derive(Debug)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed document.
#[derive(Debug, Default)]
pub struct Dom {
    pub elements: Vec<Element>,
    /// The text of the document body and head (outside `<style>` and `<script>`), decoded.
    pub text: String,
    /// The content of every `<style>` element.
    pub styles: Vec<String>,
    /// The content of `<title>`, decoded.
    pub title: String,
}

impl Dom {
    pub fn parse(html: &str) -> Dom {
        let mut dom = Dom::default();
        let mut rest = html;
        let mut in_title = false;
        while let Some(at) = rest.find('<') {
            let text = decode(&rest[..at]);
            if in_title {
                dom.title.push_str(&text);
            }
            dom.text.push_str(&text);
            rest = &rest[at..];
            if let Some(comment) = rest.strip_prefix("<!--") {
                rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
                continue;
            }
            let after = &rest[1..];
            let starts_tag = after.starts_with(|c: char| c.is_ascii_alphabetic());
            if !starts_tag {
                // An end tag, a doctype, or a stray `<` (kept as text).
                if after.starts_with(['/', '!', '?']) {
                    if after.starts_with("/title") {
                        in_title = false;
                    }
                    rest = after.find('>').map_or("", |end| &after[end + 1..]);
                } else {
                    dom.text.push('<');
                    rest = after;
                }
                continue;
            }
            let (element, after_tag) = start_tag(after);
            rest = after_tag;
            match element.name.as_str() {
                // Raw text elements: their content is not markup.
                "style" | "script" | "textarea" | "xmp" => {
                    let close = format!("</{}", element.name);
                    let end = find_ignore_case(rest, &close).unwrap_or(rest.len());
                    if element.name == "style" {
                        dom.styles.push(rest[..end].to_owned());
                    }
                    rest = &rest[end..];
                }
                "title" => in_title = true,
                _ => {}
            }
            dom.elements.push(element);
        }
        dom.text.push_str(&decode(rest));
        dom
    }

    /// The elements named `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements.iter().filter(move |e| e.name == name)
    }
}

/// Reads a start tag after its `<`; returns the element and the text after its `>`.
fn start_tag(input: &str) -> (Element, &str) {
    let name_end = input
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .unwrap_or(input.len());
    let mut element = Element {
        name: input[..name_end].to_ascii_lowercase(),
        attributes: Vec::new(),
    };
    let mut rest = &input[name_end..];
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return (element, rest);
        }
        if let Some(after) = rest.strip_prefix('>') {
            return (element, after);
        }
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after_eq) = rest.strip_prefix('=') {
            let after_eq = after_eq.trim_start();
            if let Some(quote) = after_eq.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &after_eq[1..];
                let end = body.find(quote).unwrap_or(body.len());
                value = decode(&body[..end]);
                rest = body.get(end + 1..).unwrap_or("");
            } else {
                let end = after_eq
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(after_eq.len());
                value = decode(&after_eq[..end]);
                rest = &after_eq[end..];
            }
        }
        element.attributes.push((name, value));
    }
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

/// Decodes the character references a serializer writes: named `&amp; &lt; &gt; &quot; &apos;
/// &nbsp;` and numeric ones.
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|end| *end <= 10);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        if let Some((c, end)) = decoded {
            out.push(c);
            rest = &rest[end + 1..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn the_tokenizer_tells_markup_from_escaped_text() {
    let dom = Dom::parse(
        "<!DOCTYPE html><html><head><title>a &amp; b</title><style>p{}</style></head>\
         <body><p class=\"x\">&lt;script&gt;alert(1)&lt;/script&gt;</p>\
         <img src=x onerror='alert(1)'><script>document.title='ran'</script></body></html>",
    );
    assert_eq!(dom.title, "a & b");
    assert!(dom.text.contains("<script>alert(1)</script>"));
    assert_eq!(dom.named("script").count(), 1, "{:?}", dom.elements);
    let img = dom.named("img").next().expect("img element");
    assert_eq!(img.attribute("onerror"), Some("alert(1)"));
    assert_eq!(img.attribute("src"), Some("x"));
    assert_eq!(
        dom.named("p").next().and_then(|p| p.attribute("class")),
        Some("x")
    );
    assert_eq!(dom.styles, vec!["p{}".to_owned()]);
    assert!(
        !dom.text.contains("document.title"),
        "script content is not text"
    );
}
