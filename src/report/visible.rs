//! Text that came from DNS or a server, made safe to show: every format shows it through
//! [`visible`], so that the terminal, Markdown and HTML escaping cannot drift apart.

use std::fmt::Write as _;

/// `text` with control characters (escape sequences, NUL) and Unicode bidirectional controls
/// shown as `\u{..}` escapes, and cut after `max_chars` characters with its full length said:
/// `… (N characters in all<after_count>)`. Newlines are kept, and tabs when `keep_tabs`.
/// Escaping for the output's own syntax (HTML, Markdown) is the format's job.
pub fn visible(text: &str, max_chars: usize, keep_tabs: bool, after_count: &str) -> String {
    let mut shown = String::with_capacity(text.len().min(max_chars + 64));
    for (index, c) in text.chars().enumerate() {
        if index >= max_chars {
            let total = text.chars().count();
            let _ = write!(shown, "… ({total} characters in all{after_count})");
            break;
        }
        let kept = c == '\n' || (keep_tabs && c == '\t');
        if kept || !(c.is_control() || is_bidi_control(c)) {
            shown.push(c);
        } else {
            shown.extend(c.escape_default());
        }
    }
    shown
}

/// Unicode bidirectional controls, which make text display in another order than it has (the
/// "Trojan Source" trick, CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
