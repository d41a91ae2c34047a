//! Headless Chromium, run the way a user opens the report: a `file://` page, the DOM dumped
//! after load (after any script or `onerror` handler would have run), and a screenshot.
//!
//! Every request is caught: Chromium is pointed at a proxy that is a listener of this test on
//! 127.0.0.1 (loopback URLs included, `<-loopback>`) and answers 403 to everything, and no host
//! name resolves except the proxy's address, so no packet leaves the machine and any fetch shows
//! up here. The trap records every request, the browser's own included: Chromium asks Google
//! services at start whatever its flags, and which ones changes from release to release (Debian's
//! 156 asks `update.googleapis.com`, its 150 `www.google.com` instead), so no list of them can
//! stay right. Which requests were the page's is decided from what the page holds, in
//! [`crate::traffic`].
//!
//! The browser is Debian's `/usr/bin/chromium` (`scripts/test` installs it), or the binary named
//! by `MAILAUDIT_TEST_CHROMIUM`, so another release can be checked without replacing the
//! system's.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Where Debian's `chromium` package installs the browser (a shell wrapper around
/// `/usr/lib/chromium/chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The environment variable that names another browser binary, e.g. an older release unpacked
/// with `dpkg-deb -x` (its `usr/lib/chromium/chromium` runs without Debian's wrapper: the flags
/// below are all it needs).
pub const CHROMIUM_ENV: &str = "MAILAUDIT_TEST_CHROMIUM";

/// How long one browser run may take before the test gives up.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// What the browser made of a page.
pub struct Rendered {
    /// The DOM after load, as `--dump-dom` serializes it.
    pub dom: String,
    /// The first line of every request that reached the trap proxy while the page was open:
    /// the page's and the browser's own.
    pub requests: Vec<String>,
}

/// The browser binary, or a failure that says how to install it: the test never passes
/// without a browser. Its version is printed once, so a log says which browser was judged.
pub fn chromium() -> PathBuf {
    static VERSION: OnceLock<String> = OnceLock::new();
    let path = std::env::var_os(CHROMIUM_ENV)
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: the HTML report must be checked in a real browser. \
         Run scripts/test as root (it installs it), or: apt-get install --no-install-recommends \
         chromium (or set {CHROMIUM_ENV} to a Chromium binary)",
        path.display()
    );
    VERSION.get_or_init(|| {
        let version = Command::new(&path)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_or_else(
                |e| format!("(--version failed: {e})"),
                |out| String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            );
        eprintln!("browser: {} ({version})", path.display());
        version
    });
    path
}

/// Opens `page` and dumps its DOM after load.
pub fn dump_dom(page: &Path) -> Rendered {
    let trap = Trap::start();
    let profile = tempfile::tempdir().expect("profile directory");
    let stdout = run(&trap, profile.path(), &["--dump-dom".to_owned()], page);
    Rendered {
        dom: String::from_utf8_lossy(&stdout).into_owned(),
        requests: trap.requests(),
    }
}

/// Opens `page` in a 1280×2000 window and saves a screenshot to `png`; returns the requests
/// the page sent.
pub fn screenshot(page: &Path, png: &Path) -> Vec<String> {
    let trap = Trap::start();
    let profile = tempfile::tempdir().expect("profile directory");
    run(
        &trap,
        profile.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
        page,
    );
    trap.requests()
}

/// Prints `page` to `pdf` as the browser's "Save as PDF" does (the page's `@page` size, no
/// header or footer); returns the requests the page sent.
pub fn print_pdf(page: &Path, pdf: &Path) -> Vec<String> {
    let trap = Trap::start();
    let profile = tempfile::tempdir().expect("profile directory");
    run(
        &trap,
        profile.path(),
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".to_owned(),
        ],
        page,
    );
    trap.requests()
}

/// The number of pages of `pdf` and the size of its first page in points, read by poppler's
/// `pdfinfo` (`scripts/test` installs poppler-utils).
pub fn pdf_pages(pdf: &Path) -> (usize, String) {
    let output = Command::new("pdfinfo")
        .arg(pdf)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run pdfinfo ({e}): the printed report is measured with it. Run \
                 scripts/test as root (it installs it), or: apt-get install \
                 --no-install-recommends poppler-utils"
            )
        });
    assert!(
        output.status.success(),
        "pdfinfo failed on {}",
        pdf.display()
    );
    let info = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or_else(
                || panic!("no {name} in pdfinfo's output: {info}"),
                |rest| rest.trim_start_matches(':').trim().to_owned(),
            )
    };
    let pages = field("Pages").parse().expect("a page count");
    (pages, field("Page size"))
}

/// Runs the browser on `page` with `action` flags; returns its standard output.
fn run(trap: &Trap, profile: &Path, action: &[String], page: &Path) -> Vec<u8> {
    let page = page.canonicalize().expect("page path");
    let browser = chromium();
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-bypass-list=<-loopback>",
        ])
        .arg(format!("--proxy-server=http://{}", trap.address))
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(action)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {RUN_LIMIT:?} on {}",
                page.display()
            );
        }
        thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().expect("stdout reader").expect("read stdout");
    let stderr = err.join().expect("stderr reader");
    assert!(
        status.success(),
        "{} failed ({status}) on {}:\n{stderr}",
        browser.display(),
        page.display()
    );
    stdout
}

/// A proxy that answers nothing: it records the first line of each request and closes.
/// Each connection gets its own thread, so a connection that never sends a request (Chromium
/// opens spare ones) cannot hold up the requests behind it until the browser has exited.
struct Trap {
    address: String,
    log: Arc<Mutex<Vec<String>>>,
    /// Connections accepted and not yet logged.
    open: Arc<AtomicUsize>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the trap proxy");
        let address = listener.local_addr().expect("trap address").to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let (seen, pending) = (Arc::clone(&log), Arc::clone(&open));
        // Lives until the test process ends; it only ever accepts loopback connections.
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                pending.fetch_add(1, Ordering::SeqCst);
                let (seen, pending) = (Arc::clone(&seen), Arc::clone(&pending));
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut buffer = [0u8; 2048];
                    let read = stream.read(&mut buffer).unwrap_or(0);
                    let request = String::from_utf8_lossy(&buffer[..read]);
                    let first = request.lines().next().unwrap_or("(no request line)");
                    seen.lock().expect("trap log").push(first.to_owned());
                    pending.fetch_sub(1, Ordering::SeqCst);
                    let _ = stream.write_all(
                        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                });
            }
        });
        Trap { address, log, open }
    }

    /// Every request seen, once the browser has exited: after a moment for connections still
    /// in the listen queue, and once every accepted connection has sent its request line (or
    /// closed, or timed out).
    fn requests(&self) -> Vec<String> {
        thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        while self.open.load(Ordering::SeqCst) > 0 && started.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(20));
        }
        self.log.lock().expect("trap log").clone()
    }
}

/// The width and height of a PNG, from its IHDR chunk.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let signature = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || !bytes.starts_with(signature) || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((width, height))
}

/// A fresh directory for one test's files.
pub fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Writes `html` to `dir/name` and returns its path.
pub fn write_page(dir: &Path, name: &str, html: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, html).expect("write page");
    path
}
