//! Headless Chromium, run the way a user opens the report: a `file://` page, the DOM dumped
//! after load (after any script or `onerror` handler would have run), and a screenshot.
//!
//! Every request is caught: Chromium is pointed at a proxy that is a listener of this test on
//! 127.0.0.1 (loopback URLs included, `<-loopback>`) and answers 403 to everything, and no host
//! name resolves except the proxy's address, so no packet leaves the machine and any fetch shows
//! up here. Chromium itself asks a few Google services at start whatever its flags (component
//! updates, network time, sign-in); those requests, by exact host, are [`BROWSER_OWN_HOSTS`] and
//! are not the page's. The tests also check the DOM for anything that could load, so a page
//! cannot hide a fetch behind one of those hosts.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Where Debian's `chromium` package installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Hosts Chromium 156 contacts on its own at start in headless mode, even with
/// `--disable-background-networking` and `--disable-component-update`.
const BROWSER_OWN_HOSTS: &[&str] = &[
    "accounts.google.com",
    "clients2.google.com",
    "redirector.gvt1.com",
    "update.googleapis.com",
];

/// How long one browser run may take before the test gives up.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// What the browser made of a page.
pub struct Rendered {
    /// The DOM after load, as `--dump-dom` serializes it.
    pub dom: String,
    /// The first line of every request the page sent (through the trap proxy), the browser's
    /// own requests left out.
    pub requests: Vec<String>,
}

/// The browser binary, or a failure that says how to install it: the test never passes
/// without a browser.
pub fn chromium() -> &'static Path {
    let path = Path::new(CHROMIUM);
    assert!(
        path.exists(),
        "{CHROMIUM} is missing: the HTML report must be checked in a real browser. \
         Run .ci/run (it installs it), or: apt-get install --no-install-recommends chromium"
    );
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

/// Runs the browser on `page` with `action` flags; returns its standard output.
fn run(trap: &Trap, profile: &Path, action: &[String], page: &Path) -> Vec<u8> {
    let page = page.canonicalize().expect("page path");
    let mut child = Command::new(chromium())
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
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
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
        "chromium failed ({status}) on {}:\n{stderr}",
        page.display()
    );
    stdout
}

/// A proxy that answers nothing: it records the first line of each request and closes.
struct Trap {
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the trap proxy");
        let address = listener.local_addr().expect("trap address").to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        // Lives until the test process ends; it only ever accepts loopback connections.
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buffer = [0u8; 2048];
                let read = stream.read(&mut buffer).unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..read]);
                let first = request.lines().next().unwrap_or("(no request line)");
                seen.lock().expect("trap log").push(first.to_owned());
                let _ = stream.write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Trap { address, log }
    }

    /// The requests seen so far that are not the browser's own, after a moment for
    /// connections still being accepted.
    fn requests(&self) -> Vec<String> {
        thread::sleep(Duration::from_millis(100));
        self.log
            .lock()
            .expect("trap log")
            .iter()
            .filter(|line| !request_host(line).is_some_and(|h| BROWSER_OWN_HOSTS.contains(&h)))
            .cloned()
            .collect()
    }
}

/// The host a proxy request line is for: `CONNECT host:443 HTTP/1.1` or
/// `GET http://host/path HTTP/1.1`.
fn request_host(line: &str) -> Option<&str> {
    let target = line.split(' ').nth(1)?;
    let authority = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("ws://"))
        .map_or(target, |rest| rest.split('/').next().unwrap_or(rest));
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    )
}

#[test]
fn request_lines_name_their_host() {
    assert_eq!(
        request_host("CONNECT update.googleapis.com:443 HTTP/1.1"),
        Some("update.googleapis.com")
    );
    assert_eq!(
        request_host("GET http://fetch.invalid/pixel.png HTTP/1.1"),
        Some("fetch.invalid")
    );
    assert_eq!(
        request_host("GET http://clients2.google.com:80/time HTTP/1.1"),
        Some("clients2.google.com")
    );
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
