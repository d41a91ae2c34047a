//! Files mailaudit writes: never over an input, never through a link someone planted, never
//! over something that is not a regular file.
//!
//! - [`check_distinct`]: an output the same file as an input (`--file`, `--config`, `--db`,
//!   `--dnsbl`) or as another output is refused before anything runs.
//! - [`create_unique`]: a new file (a dated HTML report) is created with `O_CREAT|O_EXCL`, so an
//!   existing file or a planted symlink at the name is never opened; a taken name gets a counter.
//! - [`read_small`]: a small input (a config, a catalog, profiles, a PEM file) is read up to a
//!   limit counted while reading, so a device or a FIFO that never ends is refused, not read
//!   until memory runs out.
//! - [`replace_regular`]: a file rewritten whole (the metrics textfile) is written to a new
//!   temporary file of its own directory (random name, `O_EXCL`) and renamed over the target, so
//!   a reader never sees half a file and a link planted at a predictable temporary name is never
//!   followed; a target that exists and is not a regular file (a symlink, a FIFO, a device) is
//!   refused rather than replaced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The most a small input file (a config, a blocklist catalog, provider profiles, a PEM file)
/// may hold.
pub const SMALL_INPUT_LIMIT: u64 = 1024 * 1024;

/// Reads the input file `path` whole, refusing it once it holds more than `limit` bytes: the
/// limit is counted while reading, not taken from its declared size, which a device
/// (`/dev/zero`) or a FIFO does not have.
///
/// # Errors
/// The file cannot be opened or read, or holds more than `limit` bytes.
pub fn read_small(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than the {limit}-byte limit"),
        ));
    }
    Ok(bytes)
}

/// A path the user named, and the option that named it (`--output`, `--file` ...).
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    pub option: &'static str,
    pub path: &'a Path,
    /// Whether mailaudit writes it.
    pub output: bool,
}

impl<'a> Named<'a> {
    pub fn input(option: &'static str, path: &'a Path) -> Named<'a> {
        Named {
            option,
            path,
            output: false,
        }
    }

    pub fn output(option: &'static str, path: &'a Path) -> Named<'a> {
        Named {
            option,
            path,
            output: true,
        }
    }
}

/// Two named paths are one file, and at least one of them is written.
#[derive(Debug, thiserror::Error)]
#[error(
    "{first} '{first_path}' and {second} '{second_path}' are the same file: refusing to write over it"
)]
pub struct SameFile {
    first: &'static str,
    first_path: String,
    second: &'static str,
    second_path: String,
}

/// Refuses any output that is the same file as another named path (an input or an output).
/// Standard input and output (`-`) are not files.
pub fn check_distinct(named: &[Named<'_>]) -> Result<(), SameFile> {
    for (i, first) in named.iter().enumerate() {
        for second in &named[i + 1..] {
            if (first.output || second.output)
                && first.path.as_os_str() != "-"
                && second.path.as_os_str() != "-"
                && same_file(first.path, second.path)
            {
                return Err(SameFile {
                    first: first.option,
                    first_path: first.path.display().to_string(),
                    second: second.option,
                    second_path: second.path.display().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Whether `a` and `b` name one file: the same device and inode when both exist (hard links,
/// symlinks and `..` included), else the same place once their directories are resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (fs::metadata(a), fs::metadata(b)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `path` with its directory resolved (symlinks, `.`, `..`), whether or not it exists.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(full) = fs::canonicalize(path) {
        return Some(full);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(dir).ok()?.join(name))
}

/// Creates a new file at `dir/<stem>.<extension>`, or `<stem>-2.<extension>` and on when the
/// name is taken (by a file of an earlier run, or by anything planted there): never opens what
/// exists. Returns the file and its path.
pub fn create_unique(dir: &Path, stem: &str, extension: &str) -> io::Result<(File, PathBuf)> {
    for n in 1..=1000u32 {
        let name = if n == 1 {
            format!("{stem}.{extension}")
        } else {
            format!("{stem}-{n}.{extension}")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{}: a thousand files named {stem}-N.{extension} exist already",
            dir.display()
        ),
    ))
}

/// Replaces the regular file at `path` (or creates it) with `contents`, atomically: written to a
/// new temporary file beside it, synced, then renamed over it. A `path` that exists and is not a
/// regular file is refused.
pub fn replace_regular(path: &Path, contents: &[u8]) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} exists and is not a regular file (a link, a pipe, a device or a \
                     directory): refusing to replace it",
                    path.display()
                ),
            ));
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".mailaudit-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temporary.write_all(contents)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_input_is_read_up_to_its_limit_and_refused_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        fs::write(&path, "12345").unwrap();
        assert_eq!(read_small(&path, 5).unwrap(), b"12345");
        let error = read_small(&path, 4).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(error.to_string(), "larger than the 4-byte limit");
        assert!(read_small(Path::new("/dev/zero"), 1024).is_err());
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_however_it_is_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list.txt");
        fs::write(&list, "example.com\n").unwrap();
        let dotted = dir.path().join(".").join("list.txt");
        let error = check_distinct(&[
            Named::input("--file", &list),
            Named::output("--output", &dotted),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("--file"), "{error}");
        assert!(error.to_string().contains("--output"), "{error}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.txt");
            std::os::unix::fs::symlink(&list, &link).unwrap();
            assert!(
                check_distinct(&[
                    Named::input("--file", &list),
                    Named::output("--output", &link)
                ])
                .is_err()
            );
        }
        // A new output beside the input, two inputs, standard output: fine.
        let other = dir.path().join("report.json");
        assert!(
            check_distinct(&[
                Named::input("--file", &list),
                Named::output("--output", &other)
            ])
            .is_ok()
        );
        assert!(
            check_distinct(&[
                Named::input("--file", &list),
                Named::input("--dnsbl", &list)
            ])
            .is_ok()
        );
        assert!(
            check_distinct(&[
                Named::input("--file", Path::new("-")),
                Named::output("--output", Path::new("-"))
            ])
            .is_ok()
        );
        // Two outputs not yet created, one name.
        let new = dir.path().join("new.prom");
        assert!(
            check_distinct(&[
                Named::output("--metrics", &new),
                Named::output("--output", &new)
            ])
            .is_err()
        );
    }

    #[test]
    fn unique_files_never_open_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let (_, first) = create_unique(dir.path(), "r", "html").unwrap();
        let (_, second) = create_unique(dir.path(), "r", "html").unwrap();
        assert_eq!(first, dir.path().join("r.html"));
        assert_eq!(second, dir.path().join("r-2.html"));
        #[cfg(unix)]
        {
            let target = dir.path().join("target");
            fs::write(&target, "keep").unwrap();
            std::os::unix::fs::symlink(&target, dir.path().join("s.html")).unwrap();
            let (mut file, path) = create_unique(dir.path(), "s", "html").unwrap();
            file.write_all(b"report").unwrap();
            assert_eq!(path, dir.path().join("s-2.html"));
            assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        }
    }

    #[test]
    fn only_regular_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        replace_regular(&path, b"one").unwrap();
        replace_regular(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        #[cfg(unix)]
        {
            let target = dir.path().join("target");
            fs::write(&target, "keep").unwrap();
            let link = dir.path().join("link.prom");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert!(replace_regular(&link, b"x").is_err());
            assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
            assert!(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
        }
        assert!(replace_regular(dir.path(), b"x").is_err(), "a directory");
        // No temporary file is left behind.
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
