//! The BIMI logo's SVG profile, SVG Tiny Portable/Secure (the BIMI group's SVG Tiny PS, a subset
//! of SVG Tiny 1.2): the root `<svg>` with `version="1.2"` and `baseProfile="tiny-ps"`, a
//! `<title>`, no scripts, no animation, nothing fetched from elsewhere, and a square picture.
//!
//! The document is read by a streaming XML parser (quick-xml) over bytes already capped by the
//! fetch, so hostile input is bounded: no tree is built, nesting is limited, and entities are
//! never expanded (a DTD that declares any is refused: it is how "billion laughs" starts).

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use serde::Serialize;

/// The SVG namespace the root element must be in.
const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

/// Elements that animate (SVG Tiny 1.2 §16): not in the profile.
const ANIMATION: [&str; 6] = [
    "animate",
    "animateColor",
    "animateMotion",
    "animateTransform",
    "set",
    "discard",
];

/// Deepest nesting read; deeper is refused rather than followed.
const MAX_DEPTH: usize = 64;

/// Problems listed at most; the rest are counted.
const MAX_PROBLEMS: usize = 10;

/// What the logo's root element says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SvgFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_profile: Option<String>,
    /// The text of the root's `<title>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_box: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<String>,
    /// Whether the picture is square, from `viewBox` (else `width` and `height`); `None` when
    /// neither says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub square: Option<bool>,
}

/// The facts of `document` and each way it falls outside SVG Tiny PS (none: it conforms).
pub fn check(document: &[u8]) -> (SvgFacts, Vec<String>) {
    let mut checker = Checker::default();
    match std::str::from_utf8(document) {
        Ok(text) => checker.read(text),
        Err(e) => checker.problem(format!("it is not UTF-8 text ({e})")),
    }
    checker.finish()
}

#[derive(Default)]
struct Checker {
    facts: SvgFacts,
    problems: Vec<String>,
    more: usize,
    root_seen: bool,
    /// The local names of the open elements, the root first.
    open: Vec<String>,
    /// The document could not be read to its end: what it lacks is not judged.
    unread: bool,
    /// Where the root's first `<title>` is.
    title: Title,
    /// Its text.
    title_text: String,
}

/// The root's first `<title>`, as the document is read.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Title {
    #[default]
    NotSeen,
    Open,
    Closed,
}

impl Checker {
    fn problem(&mut self, problem: String) {
        if self.problems.len() < MAX_PROBLEMS {
            if !self.problems.contains(&problem) {
                self.problems.push(problem);
            }
        } else {
            self.more += 1;
        }
    }

    fn read(&mut self, text: &str) {
        let mut reader = NsReader::from_str(text);
        loop {
            let event = match reader.read_resolved_event() {
                Ok((namespace, event)) => {
                    let in_svg =
                        matches!(namespace, ResolveResult::Bound(ns) if ns.0 == SVG_NAMESPACE);
                    (in_svg, event)
                }
                Err(e) => {
                    let at = reader.error_position();
                    self.problem(format!("it is not well-formed XML (at byte {at}: {e})"));
                    self.unread = true;
                    return;
                }
            };
            match event {
                (in_svg, Event::Start(element)) => {
                    if self.open.len() == MAX_DEPTH {
                        self.problem(format!(
                            "elements are nested more than {MAX_DEPTH} deep: not read further"
                        ));
                        self.unread = true;
                        return;
                    }
                    let local = self.element(&reader, &element, in_svg);
                    self.open.push(local);
                }
                (in_svg, Event::Empty(element)) => {
                    self.element(&reader, &element, in_svg);
                }
                (_, Event::End(_)) => {
                    if self.open.len() == 2 && self.title == Title::Open {
                        self.title = Title::Closed;
                    }
                    self.open.pop();
                }
                (_, Event::Text(text)) => self.text(text.as_ref()),
                (_, Event::CData(text)) => self.text(text.as_ref()),
                (_, Event::GeneralRef(reference)) => {
                    let name: String = reference.as_ref().to_owned();
                    let resolved = match name.as_str() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "apos" => Some('\''),
                        "quot" => Some('"'),
                        _ => reference.resolve_char_ref().ok().flatten(),
                    };
                    match resolved {
                        Some(c) => self.text(&c.to_string()),
                        None => self.problem(format!(
                            "it refers to the entity &{name};, which is not expanded"
                        )),
                    }
                }
                (_, Event::DocType(doctype)) if doctype.as_ref().contains('[') => {
                    self.problem(
                        "its DOCTYPE declares an internal subset (entities): refused without \
                         expanding it"
                            .to_owned(),
                    );
                    self.unread = true;
                    return;
                }
                (_, Event::Eof) => break,
                _ => {}
            }
        }
        if !self.root_seen {
            self.problem("it has no root element".to_owned());
        }
    }

    /// Text inside the open elements: the root's title is kept, a stylesheet is checked.
    fn text(&mut self, text: &str) {
        match self.open.as_slice() {
            [_, _] if self.title == Title::Open => self.title_text.push_str(text),
            [.., style] if style == "style" => self.stylesheet("style", text),
            _ => {}
        }
    }

    /// One element opening (its local name returned), under the elements open now.
    fn element(
        &mut self,
        reader: &NsReader<&[u8]>,
        element: &BytesStart<'_>,
        in_svg: bool,
    ) -> String {
        let local: String = element.local_name().as_ref().to_owned();
        if !self.root_seen {
            self.root_seen = true;
            self.root(element, &local, in_svg);
        } else if self.open.len() == 1 && local == "title" && self.title == Title::NotSeen {
            self.title = Title::Open;
        }
        if local == "script" {
            self.problem("it contains a <script> element: scripts are not allowed".to_owned());
        }
        if ANIMATION.contains(&local.as_str()) {
            self.problem(format!(
                "it contains an <{local}> element: animation is not allowed"
            ));
        }
        for attribute in element.attributes().flatten() {
            self.attribute(reader, &local, &attribute);
        }
        local
    }

    fn root(&mut self, element: &BytesStart<'_>, local: &str, in_svg: bool) {
        if local != "svg" {
            self.problem(format!("the root element is <{local}>, not <svg>"));
        } else if !in_svg {
            self.problem(format!(
                "the root <svg> is not in the SVG namespace (xmlns=\"{SVG_NAMESPACE}\")"
            ));
        }
        for attribute in element.attributes().flatten() {
            let value = attribute_value(&attribute);
            match attribute.key.as_ref() {
                "version" => self.facts.version = Some(value),
                "baseProfile" => self.facts.base_profile = Some(value),
                "viewBox" => self.facts.view_box = Some(value),
                "width" => self.facts.width = Some(value),
                "height" => self.facts.height = Some(value),
                _ => {}
            }
        }
    }

    fn attribute(&mut self, reader: &NsReader<&[u8]>, element: &str, attribute: &Attribute<'_>) {
        let (_, name) = reader.resolver().resolve_attribute(attribute.key);
        let name: String = name.as_ref().to_owned();
        let value = attribute_value(attribute);
        if name == "href" && !internal(&value) {
            self.problem(format!(
                "<{element}> refers to {}: external references are not allowed",
                shown(&value)
            ));
        }
        if name.len() > 2 && name[..2].eq_ignore_ascii_case("on") {
            self.problem(format!(
                "<{element}> has the event attribute {name}=: scripts are not allowed"
            ));
        }
        if name == "style" {
            self.stylesheet(element, &value);
        }
    }

    /// CSS that loads something: `@import` or `url(...)` that is not a fragment.
    fn stylesheet(&mut self, element: &str, css: &str) {
        let lower = css.to_ascii_lowercase();
        let loads = lower.contains("@import")
            || lower.split("url(").skip(1).any(|rest| {
                let target = rest.trim_start_matches([' ', '"', '\'']);
                !target.starts_with('#')
            });
        if loads {
            self.problem(format!(
                "<{element}> has a style that loads from elsewhere (url() or @import): external \
                 references are not allowed"
            ));
        }
    }

    fn finish(mut self) -> (SvgFacts, Vec<String>) {
        if self.root_seen && !self.unread {
            self.conformance();
        }
        if self.more > 0 {
            let more = self.more;
            self.problems.push(format!("and {more} more"));
        }
        (self.facts, self.problems)
    }

    /// The root's required attributes, the title and the shape.
    fn conformance(&mut self) {
        if self.facts.version.as_deref() != Some("1.2") {
            let found = self.facts.version.clone();
            self.problem(format!(
                "the root <svg> has {}, and SVG Tiny PS requires version=\"1.2\"",
                said("version", found.as_deref())
            ));
        }
        if self.facts.base_profile.as_deref() != Some("tiny-ps") {
            let found = self.facts.base_profile.clone();
            self.problem(format!(
                "the root <svg> has {}, and BIMI requires baseProfile=\"tiny-ps\"",
                said("baseProfile", found.as_deref())
            ));
        }
        let title = std::mem::take(&mut self.title_text).trim().to_owned();
        if self.title != Title::NotSeen && !title.is_empty() {
            self.facts.title = Some(title);
        } else {
            {
                self.problem(
                    "the root <svg> has no <title> (the brand's name, shown to those who cannot \
                     see the logo): SVG Tiny PS requires one"
                        .to_owned(),
                );
            }
        }
        self.facts.square = square(&self.facts);
        match self.facts.square {
            Some(true) => {}
            Some(false) => {
                let shape = self.facts.view_box.as_ref().map_or_else(
                    || {
                        format!(
                            "width=\"{}\" height=\"{}\"",
                            self.facts.width.as_deref().unwrap_or_default(),
                            self.facts.height.as_deref().unwrap_or_default()
                        )
                    },
                    |view_box| format!("viewBox=\"{view_box}\""),
                );
                self.problem(format!(
                    "it is not square ({shape}): mailbox providers show the logo in a square or \
                     a circle, and require a 1:1 aspect ratio"
                ));
            }
            None => self.problem(
                "the root <svg> has no viewBox (nor width and height): whether the logo is square \
                 cannot be told"
                    .to_owned(),
            ),
        }
    }
}

/// `version="1.1"`, or "no version attribute".
fn said(name: &str, value: Option<&str>) -> String {
    match value {
        Some(value) => format!("{name}={}", shown(value)),
        None => format!("no {name} attribute"),
    }
}

/// An attribute's value with its character references resolved (entities are not expanded: an
/// unknown one leaves the value as written).
fn attribute_value(attribute: &Attribute<'_>) -> String {
    attribute
        .normalized_value(XmlVersion::Implicit1_0)
        .map_or_else(|_| attribute.value.as_ref().to_owned(), Cow::into_owned)
}

/// A reference inside the document (`#id`) or inline data (`data:`): nothing fetched.
fn internal(href: &str) -> bool {
    let href = href.trim();
    href.is_empty()
        || href.starts_with('#')
        || href
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("data:"))
}

/// At most 100 characters of `text`.
fn shown(text: &str) -> String {
    if text.chars().count() <= 100 {
        format!("\"{text}\"")
    } else {
        format!("\"{}…\"", text.chars().take(100).collect::<String>())
    }
}

/// Whether the picture is square: `viewBox`'s width and height, else `width` and `height` when
/// both are plain numbers or carry the same unit.
fn square(facts: &SvgFacts) -> Option<bool> {
    if let Some(view_box) = &facts.view_box {
        let numbers: Vec<f64> = view_box
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        return match numbers.as_slice() {
            [_, _, width, height] => Some((width - height).abs() < f64::EPSILON),
            _ => None,
        };
    }
    let split = |length: &str| {
        let length = length.trim();
        let unit_at = length
            .find(|c: char| c.is_ascii_alphabetic() || c == '%')
            .unwrap_or(length.len());
        let (number, unit) = length.split_at(unit_at);
        number
            .trim()
            .parse::<f64>()
            .ok()
            .map(|n| (n, unit.to_owned()))
    };
    let (width, width_unit) = split(facts.width.as_deref()?)?;
    let (height, height_unit) = split(facts.height.as_deref()?)?;
    (width_unit == height_unit).then(|| (width - height).abs() < f64::EPSILON)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">
  <title>Example &amp; Co</title>
  <circle cx="50" cy="50" r="40" fill="#c00"/>
  <use xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="#c"/>
</svg>"##;

    fn problems(document: &str) -> Vec<String> {
        check(document.as_bytes()).1
    }

    #[test]
    fn a_tiny_ps_logo_conforms() {
        let (facts, problems) = check(GOOD.as_bytes());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(facts.title.as_deref(), Some("Example & Co"));
        assert_eq!(facts.base_profile.as_deref(), Some("tiny-ps"));
        assert_eq!(facts.square, Some(true));
    }

    #[test]
    fn profile_title_and_shape_are_required() {
        let found = problems(
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="200" height="100"><g/></svg>"#,
        );
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].contains("version=\"1.1\""), "{found:?}");
        assert!(found[1].contains("no baseProfile attribute"));
        assert!(found[2].contains("no <title>"));
        assert!(found[3].contains("not square (width=\"200\" height=\"100\")"));
        // A title deeper than the root's children is not the document's title.
        let nested = GOOD.replace("<title>Example &amp; Co</title>", "<g><title>x</title></g>");
        assert!(problems(&nested).iter().any(|p| p.contains("no <title>")));
        let no_box = GOOD.replace(" viewBox=\"0 0 100 100\"", "");
        assert!(problems(&no_box)[0].contains("no viewBox"));
    }

    #[test]
    fn scripts_animation_and_external_references_are_refused() {
        let hostile = GOOD.replace(
            "<circle",
            r#"<script>alert(1)</script><animate attributeName="r"/><image href="https://tracker.example/p.png"/><rect onclick="x()" style="fill:url(http://a.example/f)"/><circle"#,
        );
        let found = problems(&hostile);
        assert!(found.iter().any(|p| p.contains("<script>")), "{found:?}");
        assert!(found.iter().any(|p| p.contains("<animate>")));
        assert!(
            found
                .iter()
                .any(|p| p.contains("<image> refers to \"https://tracker.example/p.png\""))
        );
        assert!(found.iter().any(|p| p.contains("onclick=")));
        assert!(found.iter().any(|p| p.contains("loads from elsewhere")));
        // xlink:href to another file is external too; data: and #fragments are not.
        let linked = GOOD.replace("xlink:href=\"#c\"", "xlink:href=\"other.svg#c\"");
        assert!(problems(&linked)[0].contains("\"other.svg#c\""));
        let inline = GOOD.replace(
            "xlink:href=\"#c\"",
            "xlink:href=\"data:image/png;base64,AA==\"",
        );
        assert!(problems(&inline).is_empty());
    }

    #[test]
    fn hostile_xml_is_bounded_and_never_expanded() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg"><title>&b;</title></svg>"#;
        assert!(problems(laughs)[0].contains("internal subset"));
        let deep = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\">{}",
            "<g>".repeat(100)
        );
        assert!(
            problems(&deep)
                .iter()
                .any(|p| p.contains("nested more than 64"))
        );
        let broken = problems("<svg xmlns=\"http://www.w3.org/2000/svg\"><g></svg>");
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].contains("not well-formed"), "{broken:?}");
        assert!(problems("<svg><title>x</title></svg>")[0].contains("not in the SVG namespace"));
        assert!(check(b"\xff\xfe<svg/>").1[0].contains("not UTF-8"));
        assert!(
            problems("<html xmlns=\"http://www.w3.org/1999/xhtml\"/>")[0]
                .contains("root element is <html>, not <svg>")
        );
        let undefined = GOOD.replace("&amp;", "&custom;");
        assert!(problems(&undefined).iter().any(|p| p.contains("&custom;")));
    }
}
