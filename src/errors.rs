//! Errors and URLs as one line of a report, a log or an alert: an error's chain of causes
//! joined (reqwest's own message omits the cause), and every URL cut to its scheme, host and
//! port, since URLs may carry credentials (a webhook's `user:password@`, a token in its path).
//! Used by the HTTPS fetches ([`crate::https`]) and the monitor's webhook alike.

use std::fmt::Write as _;

/// A URL as messages print it: scheme, host and port only, e.g. `https://hooks.example/…`.
/// A webhook URL often carries its credential (`user:password@`, a token in the path or the
/// query), and messages end up in logs.
pub fn redact_url(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}/…", url.scheme()),
        None => format!("{}://{host}/…", url.scheme()),
    }
}

/// [`redact_url`] of a URL not yet parsed; a text that is not a URL is not repeated.
pub fn redact(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| "(not a URL)".to_owned(), |url| redact_url(&url))
}

/// An error and its causes on one line (reqwest's own message omits the cause). The URL must
/// have been taken out of a reqwest error first ([`reqwest::Error::without_url`]).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    // Causes from deeper layers may still quote a URL: keep only its scheme, host and port.
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            let bare = word.trim_matches(|c: char| "()<>\"',;:".contains(c));
            if bare.contains("://")
                && let Ok(url) = reqwest::Url::parse(bare)
            {
                word.replace(bare, &redact_url(&url))
            } else {
                word.to_owned()
            }
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_keep_only_scheme_host_and_port() {
        assert_eq!(
            redact("https://user:secret@hooks.example/T000/B000/XXXX?token=t#f"),
            "https://hooks.example/…"
        );
        assert_eq!(
            redact("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(redact("http://[::1]:9/x"), "http://[::1]:9/…");
        assert_eq!(
            redact("https://hooks.example:443/x"),
            "https://hooks.example/…"
        );
        assert_eq!(redact("not a url with secret"), "(not a URL)");
    }

    #[derive(Debug)]
    struct Quoting(&'static str);

    impl std::fmt::Display for Quoting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Quoting {}

    #[test]
    fn error_chains_are_one_line_with_urls_redacted() {
        let text = error_chain(&Quoting(
            "error for url (http://u:p4ss@hooks.example/secret?k=v):\nbroken",
        ));
        assert_eq!(text, "error for url (http://hooks.example/…): broken");
    }
}
