//! The domains of `audit --file`: each domain once, however it was written (`GOOD.EXAMPLE.` and
//! `good.example` are one name after [`input::normalize_domain`]), and a line that is not a
//! domain named with its line number and skipped, so that one typo in a list of thousands does
//! not stop the run; it still exits 2 at the end. `--strict` stops at the first bad line
//! instead. A line too long or a file that cannot be read ends the list either way: it is not
//! a list of domains.
//!
//! A regular file is checked whole first (its distinct domains counted for the progress bar and
//! the JSON shape; with `--strict`, a bad line stops the run before any query), then read again
//! as the audits consume it: the list itself is never held, only the names already seen.
//! Standard input, which cannot be read twice, is read once as the audits consume it.

use std::collections::HashSet;
use std::path::Path;

use crate::input::{self, InputError};

/// The lines of a list file or of standard input, normalised, read as they are consumed.
type Lines = Box<dyn Iterator<Item = Result<String, InputError>>>;

/// A domain list being read.
pub struct BulkList {
    shown: String,
    lines: Lines,
    strict: bool,
    seen: HashSet<String>,
    /// Lines that were not a domain, named and skipped.
    pub invalid: usize,
    /// Lines that repeated a domain already listed (on the command line or above).
    pub duplicates: usize,
    /// The error that ended the list early: with `--strict`, or a list that cannot be read on.
    pub stopped: Option<InputError>,
}

/// What a first pass over a regular file found.
pub struct Checked {
    /// How many distinct domains it holds that are not among those already listed.
    pub domains: usize,
    /// Its first bad line, when it has one.
    pub first_error: Option<InputError>,
}

impl BulkList {
    /// Opens the list at `path` (`-`: standard input). `listed` are the domains of the command
    /// line, audited first: the list does not repeat them.
    pub fn open(path: &Path, strict: bool, listed: &[String]) -> Result<BulkList, InputError> {
        Ok(BulkList {
            shown: path.display().to_string(),
            lines: Box::new(input::domain_lines(path)?),
            strict,
            seen: listed.iter().cloned().collect(),
            invalid: 0,
            duplicates: 0,
            stopped: None,
        })
    }

    /// Reads a regular file whole without keeping it: counts its distinct domains; with
    /// `strict`, or when the file is not a list of domains, its first bad line is an error.
    pub fn check(path: &Path, strict: bool, listed: &[String]) -> Result<Checked, InputError> {
        let mut seen: HashSet<String> = listed.iter().cloned().collect();
        let mut checked = Checked {
            domains: 0,
            first_error: None,
        };
        for line in input::domain_lines(path)? {
            match line {
                Ok(domain) => {
                    if seen.insert(domain) {
                        checked.domains += 1;
                    }
                }
                Err(error) if strict || error.ends_list() => return Err(error),
                Err(error) => {
                    checked.first_error.get_or_insert(error);
                }
            }
        }
        Ok(checked)
    }

    /// The next domain to audit. A domain already seen is skipped; a bad line is handed to
    /// `note` and skipped, or (strict, or the list cannot be read on) ends the list.
    pub fn next_domain(&mut self, note: &dyn Fn(&str)) -> Option<String> {
        if self.stopped.is_some() {
            return None;
        }
        loop {
            match self.lines.next()? {
                Ok(domain) => {
                    if self.seen.insert(domain.clone()) {
                        return Some(domain);
                    }
                    self.duplicates += 1;
                }
                Err(error) if self.strict || error.ends_list() => {
                    self.stopped = Some(error);
                    return None;
                }
                Err(error) => {
                    note(&format!("{error} (line skipped)"));
                    self.invalid += 1;
                }
            }
        }
    }

    /// Why the run exits 2 at its end, if it must: the list was cut short, or lines were
    /// skipped (each was named when it was met).
    pub fn into_error(self) -> Option<anyhow::Error> {
        if let Some(error) = self.stopped {
            return Some(error.into());
        }
        (self.invalid > 0).then(|| {
            let lines = if self.invalid == 1 { "line" } else { "lines" };
            anyhow::anyhow!(
                "{}: {} {lines} skipped, not a domain (named above); every other domain was \
                 audited",
                self.shown,
                self.invalid
            )
        })
    }

    /// A note on the lines that repeated a domain, if any did.
    pub fn duplicates_note(&self) -> Option<String> {
        (self.duplicates > 0).then(|| {
            let (lines, repeat) = if self.duplicates == 1 {
                ("line", "repeats")
            } else {
                ("lines", "repeat")
            };
            format!(
                "{}: {} {lines} {repeat} a domain listed before: each domain is audited once",
                self.shown, self.duplicates
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn each_domain_once_and_bad_lines_named_and_skipped() {
        let (_dir, path) = list("GOOD.EXAMPLE.\nbad domain\ngood.example\nother.example\n");
        let listed = vec!["other.example".to_owned()];
        let checked = BulkList::check(&path, false, &listed).unwrap();
        assert_eq!(checked.domains, 1);
        assert!(checked.first_error.is_some());
        let mut bulk = BulkList::open(&path, false, &listed).unwrap();
        let notes = std::cell::RefCell::new(Vec::new());
        let note = |line: &str| notes.borrow_mut().push(line.to_owned());
        let domains: Vec<String> = std::iter::from_fn(|| bulk.next_domain(&note)).collect();
        assert_eq!(domains, ["good.example"]);
        assert_eq!(bulk.duplicates, 2);
        assert_eq!(bulk.invalid, 1);
        let notes = notes.into_inner();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("list.txt:2: invalid domain 'bad domain'"),
            "{notes:?}"
        );
        let error = bulk.into_error().unwrap().to_string();
        assert!(error.contains("1 line skipped, not a domain"), "{error}");
    }

    #[test]
    fn strict_stops_at_the_first_bad_line() {
        let (_dir, path) = list("good.example\nbad domain\nother.example\n");
        let error = BulkList::check(&path, true, &[]).err().unwrap().to_string();
        assert!(error.ends_with("list.txt:2: invalid domain 'bad domain': only letters, digits and hyphens are allowed in a host name"), "{error}");
        let mut bulk = BulkList::open(&path, true, &[]).unwrap();
        let domains: Vec<String> = std::iter::from_fn(|| bulk.next_domain(&|_| {})).collect();
        assert_eq!(domains, ["good.example"]);
        assert!(bulk.into_error().is_some());
    }

    #[test]
    fn a_line_that_is_not_utf8_is_skipped_but_a_line_too_long_ends_the_list() {
        let (_dir, path) = list("");
        std::fs::write(&path, b"a.example\nbad\xff.example\nb.example\n").unwrap();
        assert_eq!(BulkList::check(&path, false, &[]).unwrap().domains, 2);
        let mut long = b"a.example\n".to_vec();
        long.extend(std::iter::repeat_n(b'a', 2 * input::MAX_LINE));
        long.extend(b"\nb.example\n");
        std::fs::write(&path, &long).unwrap();
        assert!(BulkList::check(&path, false, &[]).is_err());
    }
}
